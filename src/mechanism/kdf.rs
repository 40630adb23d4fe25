//! The key-derivation family: HKDF (key generation and derivation), PBKDF2, and AES
//! encryption of data as derivation (Current Mechanisms spec §2.43 HKDF, §2.36 PKCS #5 PBKDF2,
//! §2.14.5 AES key derivation by data encryption). ECDH lives with EC (`super::ec`).

use super::keys::{aes_key, secret};
use super::{bad_param, Entry, Family, Hash, Mechanism, Secret};
use crate::crypto::{aes, kdf};
use crate::error::{fail, Error, Result};
use crate::ffi::mech::Param;
use crate::object::attr::Attributes;
use cryptoki_sys::*;
use zeroize::Zeroizing;

pub(super) struct Kdf;

static ENTRIES: &[Entry] = &[
    (CKM_AES_ECB_ENCRYPT_DATA, 16, 32, CKF_DERIVE),
    (CKM_AES_CBC_ENCRYPT_DATA, 16, 32, CKF_DERIVE),
    (CKM_HKDF_KEY_GEN, 1, 512, CKF_GENERATE),
    (CKM_HKDF_DERIVE, 1, 512, CKF_DERIVE),
    (CKM_PKCS5_PBKD2, 1, 512, CKF_GENERATE),
];

/// The data of AES_ECB/CBC_ENCRYPT_DATA is part of the mechanism's parameter, so a length that
/// is not a whole number of blocks (or none) is `CKR_MECHANISM_PARAM_INVALID` (Current
/// Mechanisms v3.0 §2.15, key derivation by data encryption), not a data length error.
fn whole_blocks(data: Vec<u8>) -> Result<Vec<u8>> {
    if data.is_empty() || data.len() % 16 != 0 {
        return Err(bad_param());
    }
    Ok(data)
}

impl Family for Kdf {
    fn entries(&self) -> &'static [Entry] {
        ENTRIES
    }

    fn parse(&self, ty: CK_MECHANISM_TYPE, p: &Param) -> Result<Mechanism> {
        use Mechanism as M;
        Ok(match ty {
            CKM_AES_ECB_ENCRYPT_DATA => {
                let d: CK_KEY_DERIVATION_STRING_DATA = p.get()?;
                M::AesEcbEncryptData {
                    data: whole_blocks(p.blob(d.pData, d.ulLen)?)?,
                }
            }
            CKM_AES_CBC_ENCRYPT_DATA => {
                let d: CK_AES_CBC_ENCRYPT_DATA_PARAMS = p.get()?;
                M::AesCbcEncryptData {
                    iv: d.iv,
                    data: whole_blocks(p.blob(d.pData, d.length)?)?,
                }
            }
            CKM_HKDF_KEY_GEN => p.none().map(|_| M::HkdfKeyGen)?,
            CKM_HKDF_DERIVE => {
                let h: CK_HKDF_PARAMS = p.get()?;
                M::HkdfDerive {
                    extract: h.bExtract != 0,
                    expand: h.bExpand != 0,
                    prf: Hash::from_ckm(h.prfHashMechanism).ok_or_else(bad_param)?,
                    salt_type: h.ulSaltType,
                    salt: p.blob(h.pSalt, h.ulSaltLen)?,
                    salt_key: h.hSaltKey,
                    info: p.blob(h.pInfo, h.ulInfoLen)?,
                }
            }
            CKM_PKCS5_PBKD2 => {
                let k: CK_PKCS5_PBKD2_PARAMS2 = p.get()?;
                if k.saltSource != CKZ_SALT_SPECIFIED {
                    return Err(bad_param());
                }
                let prf = match k.prf {
                    CKP_PKCS5_PBKD2_HMAC_SHA1 => Hash::Sha1,
                    CKP_PKCS5_PBKD2_HMAC_SHA224 => Hash::Sha224,
                    CKP_PKCS5_PBKD2_HMAC_SHA256 => Hash::Sha256,
                    CKP_PKCS5_PBKD2_HMAC_SHA384 => Hash::Sha384,
                    CKP_PKCS5_PBKD2_HMAC_SHA512 => Hash::Sha512,
                    _ => return Err(bad_param()),
                };
                M::Pbkdf2 {
                    salt: p.blob(k.pSaltSourceData as *const u8, k.ulSaltSourceDataLen)?,
                    iterations: k.iterations,
                    prf,
                    password: Secret(p.blob(k.pPassword, k.ulPasswordLen)?),
                }
            }
            _ => return fail(CKR_MECHANISM_INVALID),
        })
    }

    fn derive(
        &self,
        mech: &Mechanism,
        base: &Attributes,
        salt_key: Option<&Attributes>,
        len: Option<usize>,
    ) -> Option<Result<Zeroizing<Vec<u8>>>> {
        Some(match mech {
            Mechanism::HkdfDerive {
                extract,
                expand,
                prf,
                salt_type,
                salt,
                info,
                ..
            } => hkdf(
                base, salt_key, len, *extract, *expand, *prf, *salt_type, salt, info,
            ),
            // The key is cut from the encrypted data, so data shorter than the key the template
            // asks for is a parameter too short for it.
            Mechanism::AesEcbEncryptData { data } | Mechanism::AesCbcEncryptData { data, .. }
                if len.is_some_and(|l| l > data.len()) =>
            {
                Err(bad_param())
            }
            Mechanism::AesEcbEncryptData { data } => aes_key(base)
                .and_then(|k| aes::ecb_encrypt(k, data))
                .and_then(|v| cut(v, len)),
            Mechanism::AesCbcEncryptData { iv, data } => aes_key(base)
                .and_then(|k| aes::cbc_encrypt(k, iv, data))
                .and_then(|v| cut(v, len)),
            Mechanism::Pbkdf2 {
                salt,
                iterations,
                prf,
                password,
            } => len
                .ok_or(Error::new(CKR_TEMPLATE_INCOMPLETE))
                .and_then(|l| kdf::pbkdf2(prf.engine(), &password.0, salt, *iterations, l)),
            _ => return None,
        })
    }
}

/// The first `len` bytes of a derived value (all of it without a length); asking for more
/// than the mechanism gives is `CKR_TEMPLATE_INCONSISTENT`.
pub(super) fn cut(mut v: Zeroizing<Vec<u8>>, len: Option<usize>) -> Result<Zeroizing<Vec<u8>>> {
    if let Some(l) = len {
        if l > v.len() {
            return fail(CKR_TEMPLATE_INCONSISTENT);
        }
        v.truncate(l);
    }
    Ok(v)
}

#[allow(clippy::too_many_arguments)]
fn hkdf(
    base: &Attributes,
    salt_key: Option<&Attributes>,
    len: Option<usize>,
    extract: bool,
    expand: bool,
    prf: Hash,
    salt_type: CK_ULONG,
    salt: &[u8],
    info: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let ikm = secret(base, &[CKK_GENERIC_SECRET, CKK_HKDF, CKK_AES])?;
    let salt = match salt_type {
        CKF_HKDF_SALT_NULL => None,
        CKF_HKDF_SALT_DATA => Some(salt),
        // The salt is the value of a generic secret or HKDF key; the spec says the salt is
        // ignored without extraction, so no key is needed then.
        CKF_HKDF_SALT_KEY if extract => {
            let k = salt_key.ok_or(Error::new(CKR_MECHANISM_PARAM_INVALID))?;
            Some(secret(k, &[CKK_GENERIC_SECRET, CKK_HKDF])?)
        }
        CKF_HKDF_SALT_KEY => None,
        _ => return fail(CKR_MECHANISM_PARAM_INVALID),
    };
    let l = match (len, expand) {
        (Some(l), _) => l,
        (None, false) => prf.output_len(),
        (None, true) => return fail(CKR_TEMPLATE_INCOMPLETE),
    };
    kdf::hkdf_derive(prf.engine(), extract, expand, salt, ikm, info, l)
}
