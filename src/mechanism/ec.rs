//! The EC family on the Weierstrass curves (P-192 … P-521, secp256k1, brainpool): key-pair
//! generation, ECDSA alone or with a SHA-1, SHA-2 or SHA-3 hash, and ECDH1 derivation with its
//! X9.63 KDFs (Current Mechanisms spec §2.3 Elliptic Curve). ECDH1 on `CKK_EC_MONTGOMERY` keys is
//! parsed here (one mechanism, one parser) and computed by the Montgomery family.

use super::keys::{ec_private, ec_public, nist};
use super::shapes::{sign_op, verify_op};
use super::{Entry, Family, Hash, Mechanism, SV};
use crate::crypto::digest::HashAlg;
use crate::crypto::kdf;
use crate::error::{fail, Error, Result};
use crate::ffi::mech::Param;
use crate::mechanism::ops::{Accumulate, Check};
use crate::object::attr::Attributes;
use cryptoki_sys::*;
use zeroize::Zeroizing;

pub(super) struct Ec;

const EC_CAPS: CK_FLAGS = CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS | CKF_EC_COMPRESS;

/// Key sizes in bits: the smallest and largest group order of [`Curve::ALL`] (P-192, P-521).
const MIN_BITS: CK_ULONG = 192;
const MAX_BITS: CK_ULONG = 521;

static ENTRIES: &[Entry] = &[
    (
        CKM_EC_KEY_PAIR_GEN,
        MIN_BITS,
        MAX_BITS,
        CKF_GENERATE_KEY_PAIR | EC_CAPS,
    ),
    (CKM_ECDSA, MIN_BITS, MAX_BITS, SV | EC_CAPS),
    (CKM_ECDSA_SHA1, MIN_BITS, MAX_BITS, SV | EC_CAPS),
    (CKM_ECDSA_SHA224, MIN_BITS, MAX_BITS, SV | EC_CAPS),
    (CKM_ECDSA_SHA256, MIN_BITS, MAX_BITS, SV | EC_CAPS),
    (CKM_ECDSA_SHA384, MIN_BITS, MAX_BITS, SV | EC_CAPS),
    (CKM_ECDSA_SHA512, MIN_BITS, MAX_BITS, SV | EC_CAPS),
    (CKM_ECDSA_SHA3_224, MIN_BITS, MAX_BITS, SV | EC_CAPS),
    (CKM_ECDSA_SHA3_256, MIN_BITS, MAX_BITS, SV | EC_CAPS),
    (CKM_ECDSA_SHA3_384, MIN_BITS, MAX_BITS, SV | EC_CAPS),
    (CKM_ECDSA_SHA3_512, MIN_BITS, MAX_BITS, SV | EC_CAPS),
    (CKM_ECDH1_DERIVE, MIN_BITS, MAX_BITS, CKF_DERIVE | EC_CAPS),
    (
        CKM_ECDH1_COFACTOR_DERIVE,
        MIN_BITS,
        MAX_BITS,
        CKF_DERIVE | EC_CAPS,
    ),
];

/// The hash of an ECDSA-with-hash mechanism.
fn sign_hash(m: CK_MECHANISM_TYPE) -> Result<Hash> {
    Ok(match m {
        CKM_ECDSA_SHA1 => Hash::Sha1,
        CKM_ECDSA_SHA224 => Hash::Sha224,
        CKM_ECDSA_SHA256 => Hash::Sha256,
        CKM_ECDSA_SHA384 => Hash::Sha384,
        CKM_ECDSA_SHA512 => Hash::Sha512,
        CKM_ECDSA_SHA3_224 => Hash::Sha3_224,
        CKM_ECDSA_SHA3_256 => Hash::Sha3_256,
        CKM_ECDSA_SHA3_384 => Hash::Sha3_384,
        CKM_ECDSA_SHA3_512 => Hash::Sha3_512,
        _ => return fail(CKR_MECHANISM_INVALID),
    })
}

/// The hash ECDSA runs over the input; `None` signs the input (a hash) itself.
fn input_hash(mech: &Mechanism) -> Option<Hash> {
    match mech {
        Mechanism::EcdsaHash(h) => Some(*h),
        _ => None,
    }
}

impl Family for Ec {
    fn entries(&self) -> &'static [Entry] {
        ENTRIES
    }

    fn parse(&self, ty: CK_MECHANISM_TYPE, p: &Param) -> Result<Mechanism> {
        use Mechanism as M;
        Ok(match ty {
            CKM_EC_KEY_PAIR_GEN => p.none().map(|_| M::EcKeyPairGen)?,
            CKM_ECDSA => p.none().map(|_| M::Ecdsa)?,
            CKM_ECDH1_DERIVE | CKM_ECDH1_COFACTOR_DERIVE => {
                let d: CK_ECDH1_DERIVE_PARAMS = p.get()?;
                M::Ecdh1 {
                    cofactor: ty == CKM_ECDH1_COFACTOR_DERIVE,
                    kdf: d.kdf,
                    shared: p.blob(d.pSharedData, d.ulSharedDataLen)?,
                    public: p.blob(d.pPublicData, d.ulPublicDataLen)?,
                }
            }
            // The rest of the list: CKM_ECDSA_SHA*.
            _ => {
                p.none()?;
                M::EcdsaHash(sign_hash(ty)?)
            }
        })
    }

    fn signer(&self, mech: &Mechanism, key: &Attributes) -> Option<Result<Box<dyn Accumulate>>> {
        if !matches!(mech, Mechanism::Ecdsa | Mechanism::EcdsaHash(_)) {
            return None;
        }
        Some((|| {
            let curve = nist(key, CKO_PRIVATE_KEY)?;
            let k = ec_private(key)?;
            Ok(sign_op(
                input_hash(mech),
                Box::new(move |h| k.sign_prehash(h)),
                curve.signature_len(),
            ))
        })())
    }

    fn verifier(&self, mech: &Mechanism, key: &Attributes) -> Option<Result<Box<dyn Check>>> {
        if !matches!(mech, Mechanism::Ecdsa | Mechanism::EcdsaHash(_)) {
            return None;
        }
        Some(ec_public(key).map(|k| {
            verify_op(
                input_hash(mech),
                Box::new(move |h, s| k.verify_prehash(h, s)),
            )
        }))
    }

    fn derive(
        &self,
        mech: &Mechanism,
        base: &Attributes,
        _salt_key: Option<&Attributes>,
        len: Option<usize>,
    ) -> Option<Result<Zeroizing<Vec<u8>>>> {
        if base.key_type() == Some(CKK_EC_MONTGOMERY) {
            return None;
        }
        match mech {
            Mechanism::Ecdh1 {
                kdf: f,
                shared,
                public,
                ..
            } => Some(ecdh(base, *f, shared, public, len)),
            _ => None,
        }
    }
}

fn ecdh(
    base: &Attributes,
    f: CK_EC_KDF_TYPE,
    shared: &[u8],
    public: &[u8],
    len: Option<usize>,
) -> Result<Zeroizing<Vec<u8>>> {
    let z = ec_private(base)?.derive(public)?;
    kdf_of_shared(z, f, shared, len)
}

/// The key bytes of an ECDH1 derivation from the shared secret `z`: `z` itself (`CKD_NULL`, cut
/// to `len`), the ANSI X9.63 KDF or the SP 800-56C one-step KDF of `z` and the shared data
/// (Current Mechanisms v3.0 §2.3.9, CKD_*_KDF and CKD_*_KDF_SP800).
pub(super) fn kdf_of_shared(
    z: Zeroizing<Vec<u8>>,
    f: CK_EC_KDF_TYPE,
    shared: &[u8],
    len: Option<usize>,
) -> Result<Zeroizing<Vec<u8>>> {
    // (hash, SP 800-56C one-step rather than X9.63)
    let (h, sp800) = match f {
        CKD_NULL => {
            if !shared.is_empty() {
                return fail(CKR_MECHANISM_PARAM_INVALID);
            }
            return super::kdf::cut(z, len);
        }
        CKD_SHA1_KDF => (HashAlg::Sha1, false),
        CKD_SHA224_KDF => (HashAlg::Sha224, false),
        CKD_SHA256_KDF => (HashAlg::Sha256, false),
        CKD_SHA384_KDF => (HashAlg::Sha384, false),
        CKD_SHA512_KDF => (HashAlg::Sha512, false),
        CKD_SHA3_224_KDF => (HashAlg::Sha3_224, false),
        CKD_SHA3_256_KDF => (HashAlg::Sha3_256, false),
        CKD_SHA3_384_KDF => (HashAlg::Sha3_384, false),
        CKD_SHA3_512_KDF => (HashAlg::Sha3_512, false),
        CKD_SHA1_KDF_SP800 => (HashAlg::Sha1, true),
        CKD_SHA224_KDF_SP800 => (HashAlg::Sha224, true),
        CKD_SHA256_KDF_SP800 => (HashAlg::Sha256, true),
        CKD_SHA384_KDF_SP800 => (HashAlg::Sha384, true),
        CKD_SHA512_KDF_SP800 => (HashAlg::Sha512, true),
        CKD_SHA3_224_KDF_SP800 => (HashAlg::Sha3_224, true),
        CKD_SHA3_256_KDF_SP800 => (HashAlg::Sha3_256, true),
        CKD_SHA3_384_KDF_SP800 => (HashAlg::Sha3_384, true),
        CKD_SHA3_512_KDF_SP800 => (HashAlg::Sha3_512, true),
        _ => return fail(CKR_MECHANISM_PARAM_INVALID),
    };
    let l = len.ok_or(Error::new(CKR_TEMPLATE_INCOMPLETE))?;
    if sp800 {
        kdf::sp800_56c_kdf(h, &z, shared, l)
    } else {
        kdf::x963_kdf(h, &z, shared, l)
    }
}
