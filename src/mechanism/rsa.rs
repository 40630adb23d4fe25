//! The RSA family: key-pair generation, PKCS #1 v1.5, raw (X.509), OAEP and PSS, alone or with
//! a hash, and the recover forms (Current Mechanisms spec §2.1 RSA).

use super::keys::{rsa_private, rsa_public};
use super::shapes::{buffered, sign_op, verify_op, zero_out, SignFn, VerifyFn};
use super::{bad_param, Entry, Family, Hash, Mechanism, ENC, SV, WU};
use crate::error::{fail, Result};
use crate::ffi::mech::Param;
use crate::mechanism::ops::{Accumulate, Check, Cipher};
use crate::object::attr::Attributes;
use cryptoki_sys::*;

pub(super) struct Rsa;

// One range for every RSA mechanism: the sizes at which each function a mechanism lists works
// with a key the token makes (`crate::crypto::rsa` generates 1024..=4096 bits). CK_MECHANISM_INFO
// has one range for all of a mechanism's functions, so the wider range of imported keys
// (512..=8192 bits, for the uses the token's policy allows them) is not reported; a strict
// token's policy raises the minimum (`super::policy::entry`).
const MIN: CK_ULONG = crate::crypto::rsa::MIN_GENERATE_BITS as CK_ULONG;
const MAX: CK_ULONG = crate::crypto::rsa::MAX_GENERATE_BITS as CK_ULONG;

static ENTRIES: &[Entry] = &[
    (CKM_RSA_PKCS_KEY_PAIR_GEN, MIN, MAX, CKF_GENERATE_KEY_PAIR),
    (
        CKM_RSA_PKCS,
        MIN,
        MAX,
        ENC | SV | CKF_SIGN_RECOVER | CKF_VERIFY_RECOVER | WU,
    ),
    (
        CKM_RSA_X_509,
        MIN,
        MAX,
        ENC | SV | CKF_SIGN_RECOVER | CKF_VERIFY_RECOVER,
    ),
    (CKM_RSA_PKCS_OAEP, MIN, MAX, ENC | WU),
    (CKM_RSA_PKCS_PSS, MIN, MAX, SV),
    (CKM_SHA1_RSA_PKCS, MIN, MAX, SV),
    (CKM_SHA224_RSA_PKCS, MIN, MAX, SV),
    (CKM_SHA256_RSA_PKCS, MIN, MAX, SV),
    (CKM_SHA384_RSA_PKCS, MIN, MAX, SV),
    (CKM_SHA512_RSA_PKCS, MIN, MAX, SV),
    (CKM_SHA3_256_RSA_PKCS, MIN, MAX, SV),
    (CKM_SHA3_384_RSA_PKCS, MIN, MAX, SV),
    (CKM_SHA3_512_RSA_PKCS, MIN, MAX, SV),
    (CKM_SHA1_RSA_PKCS_PSS, MIN, MAX, SV),
    (CKM_SHA224_RSA_PKCS_PSS, MIN, MAX, SV),
    (CKM_SHA256_RSA_PKCS_PSS, MIN, MAX, SV),
    (CKM_SHA384_RSA_PKCS_PSS, MIN, MAX, SV),
    // A salt as long as the hash (RFC 8017 §9.1's usual choice) needs 2 * 64 + 2 bytes.
    (CKM_SHA512_RSA_PKCS_PSS, 1040, MAX, SV),
    (CKM_MD5_RSA_PKCS, MIN, MAX, SV),
];

/// The hash of a hash-and-sign RSA mechanism.
fn sign_hash(m: CK_MECHANISM_TYPE) -> Result<Hash> {
    Ok(match m {
        CKM_SHA1_RSA_PKCS | CKM_SHA1_RSA_PKCS_PSS => Hash::Sha1,
        CKM_SHA224_RSA_PKCS | CKM_SHA224_RSA_PKCS_PSS => Hash::Sha224,
        CKM_SHA256_RSA_PKCS | CKM_SHA256_RSA_PKCS_PSS => Hash::Sha256,
        CKM_SHA384_RSA_PKCS | CKM_SHA384_RSA_PKCS_PSS => Hash::Sha384,
        CKM_SHA512_RSA_PKCS | CKM_SHA512_RSA_PKCS_PSS => Hash::Sha512,
        CKM_SHA3_256_RSA_PKCS => Hash::Sha3_256,
        CKM_SHA3_384_RSA_PKCS => Hash::Sha3_384,
        CKM_SHA3_512_RSA_PKCS => Hash::Sha3_512,
        CKM_MD5_RSA_PKCS => Hash::Md5,
        _ => return fail(CKR_MECHANISM_INVALID),
    })
}

fn hash(m: CK_MECHANISM_TYPE) -> Result<Hash> {
    Hash::from_ckm(m).ok_or_else(bad_param)
}

fn mgf(g: CK_RSA_PKCS_MGF_TYPE) -> Result<Hash> {
    Hash::from_mgf(g).ok_or_else(bad_param)
}

fn salt(l: u64) -> Result<usize> {
    usize::try_from(l).map_err(|_| bad_param())
}

impl Family for Rsa {
    fn entries(&self) -> &'static [Entry] {
        ENTRIES
    }

    fn parse(&self, ty: CK_MECHANISM_TYPE, p: &Param) -> Result<Mechanism> {
        use Mechanism as M;
        Ok(match ty {
            CKM_RSA_PKCS_KEY_PAIR_GEN => p.none().map(|_| M::RsaKeyPairGen)?,
            CKM_RSA_PKCS => p.none().map(|_| M::RsaPkcs)?,
            CKM_RSA_X_509 => p.none().map(|_| M::RsaX509)?,
            CKM_RSA_PKCS_OAEP => {
                let o: CK_RSA_PKCS_OAEP_PARAMS = p.get()?;
                let label = match o.source {
                    CKZ_DATA_SPECIFIED => p.blob(o.pSourceData as *const u8, o.ulSourceDataLen)?,
                    0 if o.pSourceData.is_null() && o.ulSourceDataLen == 0 => Vec::new(),
                    _ => return Err(bad_param()),
                };
                M::RsaOaep {
                    hash: hash(o.hashAlg)?,
                    mgf: mgf(o.mgf)?,
                    label,
                }
            }
            CKM_RSA_PKCS_PSS => {
                let s: CK_RSA_PKCS_PSS_PARAMS = p.get()?;
                M::RsaPss {
                    hash: hash(s.hashAlg)?,
                    mgf: mgf(s.mgf)?,
                    salt_len: s.sLen,
                }
            }
            CKM_SHA1_RSA_PKCS_PSS
            | CKM_SHA224_RSA_PKCS_PSS
            | CKM_SHA256_RSA_PKCS_PSS
            | CKM_SHA384_RSA_PKCS_PSS
            | CKM_SHA512_RSA_PKCS_PSS => {
                let s: CK_RSA_PKCS_PSS_PARAMS = p.get()?;
                let h = sign_hash(ty)?;
                if hash(s.hashAlg)? != h {
                    return Err(bad_param());
                }
                M::HashRsaPss {
                    hash: h,
                    mgf: mgf(s.mgf)?,
                    salt_len: s.sLen,
                }
            }
            // The rest of the list: CKM_SHA*_RSA_PKCS.
            _ => {
                p.none()?;
                M::HashRsaPkcs(sign_hash(ty)?)
            }
        })
    }

    fn cipher(
        &self,
        mech: &Mechanism,
        key: &Attributes,
        encrypt: bool,
    ) -> Option<Result<Box<dyn Cipher>>> {
        if !matches!(
            mech,
            Mechanism::RsaPkcs | Mechanism::RsaX509 | Mechanism::RsaOaep { .. }
        ) {
            return None;
        }
        Some(if encrypt {
            encryptor(mech, key)
        } else {
            decryptor(mech, key)
        })
    }

    fn signer(&self, mech: &Mechanism, key: &Attributes) -> Option<Result<Box<dyn Accumulate>>> {
        match mech {
            Mechanism::RsaPkcs
            | Mechanism::RsaX509
            | Mechanism::HashRsaPkcs(_)
            | Mechanism::RsaPss { .. }
            | Mechanism::HashRsaPss { .. } => Some(
                sign_fn(mech, key)
                    .and_then(|sign| Ok(sign_op(input_hash(mech), sign, rsa_public(key)?.size()))),
            ),
            _ => None,
        }
    }

    fn verifier(&self, mech: &Mechanism, key: &Attributes) -> Option<Result<Box<dyn Check>>> {
        match mech {
            Mechanism::RsaPkcs
            | Mechanism::RsaX509
            | Mechanism::HashRsaPkcs(_)
            | Mechanism::RsaPss { .. }
            | Mechanism::HashRsaPss { .. } => {
                Some(verify_fn(mech, key).map(|v| verify_op(input_hash(mech), v)))
            }
            _ => None,
        }
    }
}

/// The hash a hash-and-sign mechanism runs over the input; `None` signs the input itself.
fn input_hash(mech: &Mechanism) -> Option<Hash> {
    match mech {
        Mechanism::HashRsaPkcs(h) => Some(*h),
        Mechanism::HashRsaPss { hash, .. } => Some(*hash),
        _ => None,
    }
}

fn encryptor(mech: &Mechanism, key: &Attributes) -> Result<Box<dyn Cipher>> {
    let pk = rsa_public(key)?;
    let k = pk.size();
    let mech = mech.clone();
    Ok(buffered(
        move |_| k,
        Box::new(move |d| {
            match &mech {
                Mechanism::RsaPkcs => pk.encrypt_pkcs1v15(d),
                Mechanism::RsaX509 => pk.raw_public(d),
                Mechanism::RsaOaep { hash, mgf, label } => {
                    pk.encrypt_oaep(hash.engine(), mgf.engine(), label, d)
                }
                _ => fail(CKR_MECHANISM_INVALID),
            }
            .map(zero_out)
        }),
    ))
}

fn decryptor(mech: &Mechanism, key: &Attributes) -> Result<Box<dyn Cipher>> {
    let sk = rsa_private(key)?;
    let k = rsa_public(key)?.size();
    let mech = mech.clone();
    Ok(buffered(
        move |_| k,
        Box::new(move |d| match &mech {
            Mechanism::RsaPkcs => sk.decrypt_pkcs1v15(d),
            Mechanism::RsaX509 => sk.decrypt_raw(d),
            Mechanism::RsaOaep { hash, mgf, label } => {
                sk.decrypt_oaep(hash.engine(), mgf.engine(), label, d)
            }
            _ => fail(CKR_MECHANISM_INVALID),
        }),
    ))
}

fn sign_fn(mech: &Mechanism, key: &Attributes) -> Result<SignFn> {
    let k = rsa_private(key)?;
    Ok(match mech.clone() {
        Mechanism::RsaPkcs => Box::new(move |d| k.sign_pkcs1v15_raw(d)),
        Mechanism::RsaX509 => Box::new(move |d| k.raw_private(d)),
        Mechanism::HashRsaPkcs(h) => Box::new(move |d| k.sign_pkcs1v15(h.engine(), d)),
        Mechanism::RsaPss {
            hash,
            mgf,
            salt_len,
        }
        | Mechanism::HashRsaPss {
            hash,
            mgf,
            salt_len,
        } => {
            let s = salt(salt_len)?;
            Box::new(move |d| k.sign_pss(hash.engine(), mgf.engine(), s, d))
        }
        _ => return fail(CKR_MECHANISM_INVALID),
    })
}

fn verify_fn(mech: &Mechanism, key: &Attributes) -> Result<VerifyFn> {
    let k = rsa_public(key)?;
    Ok(match mech.clone() {
        Mechanism::RsaPkcs => Box::new(move |d, s| k.verify_pkcs1v15_raw(d, s)),
        Mechanism::RsaX509 => Box::new(move |d, s| k.verify_raw(d, s)),
        Mechanism::HashRsaPkcs(h) => Box::new(move |d, s| k.verify_pkcs1v15(h.engine(), d, s)),
        Mechanism::RsaPss {
            hash,
            mgf,
            salt_len,
        }
        | Mechanism::HashRsaPss {
            hash,
            mgf,
            salt_len,
        } => {
            let sl = salt(salt_len)?;
            Box::new(move |d, s| k.verify_pss(hash.engine(), mgf.engine(), sl, d, s))
        }
        _ => return fail(CKR_MECHANISM_INVALID),
    })
}

/// `C_VerifyRecover` with this public key: the signature in, the signed data out. Only the
/// raw RSA mechanisms can recover data; the rest give `CKR_MECHANISM_INVALID`.
pub fn verify_recoverer(mech: &Mechanism, key: &Attributes) -> Result<Box<dyn Cipher>> {
    let pk = rsa_public(key)?;
    let k = pk.size();
    let raw = match mech {
        Mechanism::RsaX509 => true,
        Mechanism::RsaPkcs => false,
        _ => return fail(CKR_MECHANISM_INVALID),
    };
    // A signature that does not open is CKR_SIGNATURE_INVALID, as for C_Verify.
    Ok(buffered(
        move |_| k,
        Box::new(move |s| {
            if raw {
                pk.recover_raw(s)
            } else {
                pk.recover_pkcs1v15(s)
            }
            .map(zero_out)
        }),
    ))
}

/// `C_SignRecover` with this private key: the raw RSA mechanisms only.
pub fn sign_recoverer(mech: &Mechanism, key: &Attributes) -> Result<Box<dyn Accumulate>> {
    match mech {
        Mechanism::RsaX509 | Mechanism::RsaPkcs => Rsa
            .signer(mech, key)
            .unwrap_or_else(|| fail(CKR_MECHANISM_INVALID)),
        _ => fail(CKR_MECHANISM_INVALID),
    }
}
