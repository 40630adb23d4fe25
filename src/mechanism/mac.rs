//! The digest and MAC family: SHA-1, SHA-2, SHA-3 and MD5 digests, HMAC and HMAC-general over
//! them, AES-CMAC and CMAC-general, AES-MAC and MAC-general (CBC-MAC), AES-GMAC (and the MAC
//! operation of DES3-CMAC, which the DES family lists), and the generic secret and HMAC keys
//! HMAC takes (Current Mechanisms spec §2.20-2.29 SHA digests and HMACs, §2.14.6 AES CMAC, §2.10
//! AES MACs and GMAC, §2.5 generic secret key generation, the SHA and SHA-3 sections'
//! CKM_SHA*_KEY_GEN; MD5 and MD5-HMAC from the historical mechanisms document).

use super::keys::{aes_key, aes_prepared, gcm_prepared, secret, HMAC_KEYS};
use super::{bad_param, Entry, Family, Hash, Mechanism, SV};
use crate::crypto::aes;
use crate::crypto::digest::{Hasher, Hmac};
use crate::error::{fail, Error, Result};
use crate::ffi::mech::Param;
use crate::mechanism::ops::{Accumulate, Check};
use crate::object::attr::Attributes;
use cryptoki_sys::*;
use zeroize::Zeroizing;

pub(super) struct DigestMac;

static ENTRIES: &[Entry] = &[
    (CKM_AES_CMAC, 16, 32, SV),
    (CKM_AES_CMAC_GENERAL, 16, 32, SV),
    (CKM_SHA_1, 0, 0, CKF_DIGEST),
    (CKM_SHA224, 0, 0, CKF_DIGEST),
    (CKM_SHA256, 0, 0, CKF_DIGEST),
    (CKM_SHA384, 0, 0, CKF_DIGEST),
    (CKM_SHA512, 0, 0, CKF_DIGEST),
    (CKM_SHA3_256, 0, 0, CKF_DIGEST),
    (CKM_SHA3_384, 0, 0, CKF_DIGEST),
    (CKM_SHA3_512, 0, 0, CKF_DIGEST),
    (CKM_SHA_1_HMAC, 1, 512, SV),
    (CKM_SHA224_HMAC, 1, 512, SV),
    (CKM_SHA256_HMAC, 1, 512, SV),
    (CKM_SHA384_HMAC, 1, 512, SV),
    (CKM_SHA512_HMAC, 1, 512, SV),
    (CKM_SHA3_256_HMAC, 1, 512, SV),
    (CKM_SHA3_384_HMAC, 1, 512, SV),
    (CKM_SHA3_512_HMAC, 1, 512, SV),
    (CKM_SHA_1_HMAC_GENERAL, 1, 512, SV),
    (CKM_SHA224_HMAC_GENERAL, 1, 512, SV),
    (CKM_SHA256_HMAC_GENERAL, 1, 512, SV),
    (CKM_SHA384_HMAC_GENERAL, 1, 512, SV),
    (CKM_SHA512_HMAC_GENERAL, 1, 512, SV),
    (CKM_SHA3_256_HMAC_GENERAL, 1, 512, SV),
    (CKM_SHA3_384_HMAC_GENERAL, 1, 512, SV),
    (CKM_SHA3_512_HMAC_GENERAL, 1, 512, SV),
    (CKM_GENERIC_SECRET_KEY_GEN, 1, 512, CKF_GENERATE),
    // issue 12: the AES MACs.
    (CKM_AES_MAC, 16, 32, SV),
    (CKM_AES_MAC_GENERAL, 16, 32, SV),
    (CKM_AES_GMAC, 16, 32, SV),
    (CKM_MD5, 0, 0, CKF_DIGEST),
    (CKM_MD5_HMAC, 1, 512, SV),
    (CKM_MD5_HMAC_GENERAL, 1, 512, SV),
    (CKM_SHA_1_KEY_GEN, 1, 512, CKF_GENERATE),
    (CKM_SHA224_KEY_GEN, 1, 512, CKF_GENERATE),
    (CKM_SHA256_KEY_GEN, 1, 512, CKF_GENERATE),
    (CKM_SHA384_KEY_GEN, 1, 512, CKF_GENERATE),
    (CKM_SHA512_KEY_GEN, 1, 512, CKF_GENERATE),
    (CKM_SHA3_224_KEY_GEN, 1, 512, CKF_GENERATE),
    (CKM_SHA3_256_KEY_GEN, 1, 512, CKF_GENERATE),
    (CKM_SHA3_384_KEY_GEN, 1, 512, CKF_GENERATE),
    (CKM_SHA3_512_KEY_GEN, 1, 512, CKF_GENERATE),
];

/// The HMAC key type a `CKM_SHA*_KEY_GEN` mechanism makes.
fn hmac_key_type(m: CK_MECHANISM_TYPE) -> Option<CK_KEY_TYPE> {
    Some(match m {
        CKM_SHA_1_KEY_GEN => CKK_SHA_1_HMAC,
        CKM_SHA224_KEY_GEN => CKK_SHA224_HMAC,
        CKM_SHA256_KEY_GEN => CKK_SHA256_HMAC,
        CKM_SHA384_KEY_GEN => CKK_SHA384_HMAC,
        CKM_SHA512_KEY_GEN => CKK_SHA512_HMAC,
        CKM_SHA3_224_KEY_GEN => CKK_SHA3_224_HMAC,
        CKM_SHA3_256_KEY_GEN => CKK_SHA3_256_HMAC,
        CKM_SHA3_384_KEY_GEN => CKK_SHA3_384_HMAC,
        CKM_SHA3_512_KEY_GEN => CKK_SHA3_512_HMAC,
        _ => return None,
    })
}

/// The hash of an HMAC mechanism, and whether it is the `_GENERAL` form (a length parameter).
fn hmac_hash(m: CK_MECHANISM_TYPE) -> Option<(Hash, bool)> {
    Some(match m {
        CKM_SHA_1_HMAC => (Hash::Sha1, false),
        CKM_SHA224_HMAC => (Hash::Sha224, false),
        CKM_SHA256_HMAC => (Hash::Sha256, false),
        CKM_SHA384_HMAC => (Hash::Sha384, false),
        CKM_SHA512_HMAC => (Hash::Sha512, false),
        CKM_SHA3_256_HMAC => (Hash::Sha3_256, false),
        CKM_SHA3_384_HMAC => (Hash::Sha3_384, false),
        CKM_SHA3_512_HMAC => (Hash::Sha3_512, false),
        CKM_SHA_1_HMAC_GENERAL => (Hash::Sha1, true),
        CKM_SHA224_HMAC_GENERAL => (Hash::Sha224, true),
        CKM_SHA256_HMAC_GENERAL => (Hash::Sha256, true),
        CKM_SHA384_HMAC_GENERAL => (Hash::Sha384, true),
        CKM_SHA512_HMAC_GENERAL => (Hash::Sha512, true),
        CKM_SHA3_256_HMAC_GENERAL => (Hash::Sha3_256, true),
        CKM_SHA3_384_HMAC_GENERAL => (Hash::Sha3_384, true),
        CKM_SHA3_512_HMAC_GENERAL => (Hash::Sha3_512, true),
        CKM_MD5_HMAC => (Hash::Md5, false),
        CKM_MD5_HMAC_GENERAL => (Hash::Md5, true),
        _ => return None,
    })
}

impl Family for DigestMac {
    fn entries(&self) -> &'static [Entry] {
        ENTRIES
    }

    fn parse(&self, ty: CK_MECHANISM_TYPE, p: &Param) -> Result<Mechanism> {
        use Mechanism as M;
        // MD5 is a digest of its own mechanism only (see `Hash::Md5`).
        if let Some(h) = Hash::from_ckm(ty).or((ty == CKM_MD5).then_some(Hash::Md5)) {
            p.none()?;
            return Ok(M::Digest(h));
        }
        if let Some(kt) = hmac_key_type(ty) {
            p.none()?;
            return Ok(M::HmacKeyGen(kt));
        }
        if let Some((h, general)) = hmac_hash(ty) {
            return Ok(if general {
                M::HmacGeneral(h, p.get::<CK_ULONG>()?)
            } else {
                p.none()?;
                M::Hmac(h)
            });
        }
        Ok(match ty {
            CKM_AES_CMAC => p.none().map(|_| M::AesCmac)?,
            CKM_AES_CMAC_GENERAL => M::AesCmacGeneral {
                len: p.get::<CK_ULONG>()?,
            },
            CKM_GENERIC_SECRET_KEY_GEN => p.none().map(|_| M::GenericSecretKeyGen)?,
            CKM_AES_MAC => p.none().map(|_| M::AesMac)?,
            CKM_AES_MAC_GENERAL => M::AesMacGeneral {
                len: p.get::<CK_ULONG>()?,
            },
            CKM_AES_GMAC => gmac_param(p)?,
            _ => return fail(CKR_MECHANISM_INVALID),
        })
    }

    fn digester(&self, mech: &Mechanism) -> Option<Result<Box<dyn Accumulate>>> {
        match mech {
            Mechanism::Digest(h) => Some(Ok(Box::new(Digest(
                Some(Hasher::new(h.engine())),
                h.output_len(),
            )))),
            _ => None,
        }
    }

    fn signer(&self, mech: &Mechanism, key: &Attributes) -> Option<Result<Box<dyn Accumulate>>> {
        mac(mech, key).map(|r| r.map(|m| Box::new(m) as Box<dyn Accumulate>))
    }

    fn verifier(&self, mech: &Mechanism, key: &Attributes) -> Option<Result<Box<dyn Check>>> {
        mac(mech, key).map(|r| r.map(|m| Box::new(m) as Box<dyn Check>))
    }
}

struct Digest(Option<Hasher>, usize);

impl Accumulate for Digest {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.0
            .as_mut()
            .ok_or(Error::new(CKR_OPERATION_NOT_INITIALIZED))?
            .update(data);
        Ok(())
    }
    fn finish(&mut self) -> Result<Zeroizing<Vec<u8>>> {
        let h = self
            .0
            .take()
            .ok_or(Error::new(CKR_OPERATION_NOT_INITIALIZED))?;
        Ok(Zeroizing::new(h.finalize()))
    }
    fn out_len(&self) -> usize {
        self.1
    }
    fn save(&self) -> Option<Zeroizing<Vec<u8>>> {
        self.0.as_ref().map(Hasher::save_state)
    }
}

/// A digest resumed from [`Accumulate::save`] output.
pub fn restore_digester(saved: &[u8]) -> Result<Box<dyn Accumulate>> {
    let h = Hasher::restore_state(saved)?;
    let len = h.alg().output_len();
    Ok(Box::new(Digest(Some(h), len)))
}

enum MacState {
    Hmac(Hmac),
    Cmac(aes::AesCmac),
    // issue 12: the AES MACs.
    CbcMac(aes::AesCbcMac),
    Gmac(aes::Gmac),
    DesCmac(crate::crypto::des::DesCmac),
}

impl MacState {
    fn update(&mut self, d: &[u8]) {
        match self {
            MacState::Hmac(m) => m.update(d),
            MacState::Cmac(m) => m.update(d),
            MacState::CbcMac(m) => m.update(d),
            MacState::Gmac(m) => m.update(d),
            MacState::DesCmac(m) => m.update(d),
        }
    }
    fn finish(self) -> Result<Zeroizing<Vec<u8>>> {
        Ok(match self {
            MacState::Hmac(m) => m.finalize(),
            MacState::Cmac(m) => Zeroizing::new(m.finalize()),
            MacState::CbcMac(m) => m.finalize(),
            MacState::Gmac(m) => m.finalize()?,
            MacState::DesCmac(m) => Zeroizing::new(m.finalize()),
        })
    }
    fn verify(self, tag: &[u8]) -> Result<()> {
        match self {
            MacState::Hmac(m) => m.verify(tag),
            MacState::Cmac(m) => m.verify(tag),
            MacState::CbcMac(m) => m.verify(tag),
            MacState::Gmac(m) => m.verify(tag),
            MacState::DesCmac(m) => m.verify(tag),
        }
    }
    fn len(&self) -> usize {
        match self {
            MacState::Hmac(m) => m.mac_len(),
            MacState::Cmac(m) => m.mac_len(),
            MacState::CbcMac(m) => m.mac_len(),
            MacState::Gmac(m) => m.mac_len(),
            MacState::DesCmac(m) => m.mac_len(),
        }
    }
}

struct MacOp(Option<MacState>, usize);

impl Accumulate for MacOp {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.0
            .as_mut()
            .ok_or(Error::new(CKR_OPERATION_NOT_INITIALIZED))?
            .update(data);
        Ok(())
    }
    fn finish(&mut self) -> Result<Zeroizing<Vec<u8>>> {
        self.0
            .take()
            .ok_or(Error::new(CKR_OPERATION_NOT_INITIALIZED))?
            .finish()
    }
    fn out_len(&self) -> usize {
        self.1
    }
}

impl Check for MacOp {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        Accumulate::update(self, data)
    }
    fn finish(&mut self, signature: &[u8]) -> Result<()> {
        self.0
            .take()
            .ok_or(Error::new(CKR_OPERATION_NOT_INITIALIZED))?
            .verify(signature)
    }
}

/// A MAC with this key (the same object signs and verifies); `None` for other mechanisms.
fn mac(mech: &Mechanism, key: &Attributes) -> Option<Result<MacOp>> {
    let len = |l: u64| usize::try_from(l).map_err(|_| bad_param());
    let state = || -> Result<MacState> {
        Ok(match mech {
            Mechanism::Hmac(h) => MacState::Hmac(Hmac::new(h.engine(), secret(key, HMAC_KEYS)?)?),
            Mechanism::HmacGeneral(h, l) => MacState::Hmac(Hmac::new_truncated(
                h.engine(),
                secret(key, HMAC_KEYS)?,
                len(*l)?,
            )?),
            Mechanism::AesCmac => MacState::Cmac(aes::AesCmac::new(aes_key(key)?, aes::BLOCK_LEN)?),
            Mechanism::AesCmacGeneral { len: l } => {
                MacState::Cmac(aes::AesCmac::new(aes_key(key)?, len(*l)?)?)
            }
            Mechanism::AesMac => {
                MacState::CbcMac(aes::AesCbcMac::new(aes_prepared(key)?, aes::BLOCK_LEN / 2)?)
            }
            Mechanism::AesMacGeneral { len: l } => {
                MacState::CbcMac(aes::AesCbcMac::new(aes_prepared(key)?, len(*l)?)?)
            }
            Mechanism::AesGmac { iv, tag_bits } => {
                if tag_bits % 8 != 0 {
                    return Err(bad_param());
                }
                MacState::Gmac(aes::Gmac::new(gcm_prepared(key)?, iv, len(tag_bits / 8)?)?)
            }
            Mechanism::Des3Cmac { len: l } => MacState::DesCmac(crate::crypto::des::DesCmac::new(
                secret(key, super::des::key_types(true))?,
                len(*l)?,
            )?),
            _ => return fail(CKR_MECHANISM_INVALID),
        })
    };
    match mech {
        Mechanism::Hmac(_)
        | Mechanism::HmacGeneral(..)
        | Mechanism::AesCmac
        | Mechanism::AesCmacGeneral { .. }
        | Mechanism::Des3Cmac { .. }
        | Mechanism::AesMac
        | Mechanism::AesMacGeneral { .. }
        | Mechanism::AesGmac { .. } => Some(state().map(|s| {
            let n = s.len();
            MacOp(Some(s), n)
        })),
        _ => None,
    }
}

/// `CKM_AES_GMAC`'s parameter: a `CK_GCM_PARAMS` (its IV and tag length; the data to sign is
/// the AAD, so the structure's own AAD must be empty), or, as the v2.40 text has it, the IV
/// alone with a 128-bit tag. A parameter the size of `CK_GCM_PARAMS` is always read as one.
fn gmac_param(p: &Param) -> Result<Mechanism> {
    if let Ok(g) = p.get::<CK_GCM_PARAMS>() {
        if g.ulAADLen != 0 {
            return Err(bad_param());
        }
        return Ok(Mechanism::AesGmac {
            iv: p.blob(g.pIv, g.ulIvLen)?,
            tag_bits: g.ulTagBits,
        });
    }
    let iv = p.bytes()?;
    if iv.is_empty() {
        return Err(bad_param());
    }
    Ok(Mechanism::AesGmac { iv, tag_bits: 128 })
}
