//! Parsing a caller's `CK_MECHANISM` into a typed [`Mechanism`]: the parameter must be the
//! structure the mechanism defines, of exactly its size (Current Mechanisms spec §2, each
//! mechanism's parameter).

use super::args;
use crate::error::{fail, Error, Result};
use crate::mechanism::{Hash, Mechanism, Secret};
use cryptoki_sys::*;
use std::mem::size_of;

fn bad() -> Error {
    Error::new(CKR_MECHANISM_PARAM_INVALID)
}

/// The parameter as a `T`.
///
/// # Safety
/// `m.pParameter` is NULL or valid for `m.ulParameterLen` bytes.
unsafe fn param<T: Copy>(m: &CK_MECHANISM) -> Result<T> {
    if m.pParameter.is_null() || m.ulParameterLen as usize != size_of::<T>() {
        return Err(bad());
    }
    // SAFETY: non-NULL and exactly size_of::<T>() readable bytes; read_unaligned because the
    // caller's buffer need not be aligned for T, and T is plain old data.
    Ok(unsafe { std::ptr::read_unaligned(m.pParameter as *const T) })
}

/// Bytes a parameter structure points to; a bad pointer/length pair is a bad parameter.
///
/// # Safety
/// `p` is NULL or valid for `len` bytes.
unsafe fn blob(p: *const u8, len: CK_ULONG) -> Result<Vec<u8>> {
    // SAFETY: forwarded caller guarantee.
    unsafe { args::bytes(p, len) }
        .map(<[u8]>::to_vec)
        .map_err(|_| bad())
}

fn no_param(m: &CK_MECHANISM) -> Result<()> {
    if m.pParameter.is_null() && m.ulParameterLen == 0 {
        Ok(())
    } else {
        Err(bad())
    }
}

/// The raw parameter bytes (for mechanisms whose parameter is a plain byte string).
///
/// # Safety
/// As for [`param`].
unsafe fn raw(m: &CK_MECHANISM) -> Result<Vec<u8>> {
    // SAFETY: forwarded caller guarantee.
    unsafe { blob(m.pParameter as *const u8, m.ulParameterLen) }
}

/// # Safety
/// As for [`param`].
unsafe fn iv16(m: &CK_MECHANISM) -> Result<[u8; 16]> {
    // SAFETY: forwarded caller guarantee.
    let v = unsafe { raw(m) }?;
    v.as_slice().try_into().map_err(|_| bad())
}

fn hash(m: CK_MECHANISM_TYPE) -> Result<Hash> {
    Hash::from_ckm(m).ok_or_else(bad)
}

fn mgf(g: CK_RSA_PKCS_MGF_TYPE) -> Result<Hash> {
    Hash::from_mgf(g).ok_or_else(bad)
}

/// Parse a caller's mechanism. Unknown types give `CKR_MECHANISM_INVALID`, wrong parameters
/// `CKR_MECHANISM_PARAM_INVALID`.
///
/// # Safety
/// `p` is NULL or a valid `CK_MECHANISM` whose parameter pointers are valid for their lengths.
pub unsafe fn mechanism(p: *const CK_MECHANISM) -> Result<Mechanism> {
    // SAFETY: caller guarantee.
    let m = unsafe { p.as_ref() }.ok_or(Error::new(CKR_ARGUMENTS_BAD))?;
    use Mechanism as M;
    let mech =
        // SAFETY: every `param`, `raw`, `iv16` and `blob` call below reads `m` and the pointers
        // in its parameter structure, which the caller guarantees valid for their lengths.
        unsafe {
        match m.mechanism {
            CKM_AES_KEY_GEN => no_param(m).map(|_| M::AesKeyGen)?,
            CKM_AES_ECB => no_param(m).map(|_| M::AesEcb)?,
            CKM_AES_CBC => M::AesCbc { iv: iv16(m)? },
            CKM_AES_CBC_PAD => M::AesCbcPad { iv: iv16(m)? },
            CKM_AES_CTS => M::AesCts { iv: iv16(m)? },
            CKM_AES_CTR => {
                let p: CK_AES_CTR_PARAMS = param(m)?;
                M::AesCtr {
                    counter_bits: p.ulCounterBits as u64,
                    block: p.cb,
                }
            }
            CKM_AES_GCM => {
                let p: CK_GCM_PARAMS = param(m)?;
                M::AesGcm {
                    iv: blob(p.pIv, p.ulIvLen)?,
                    aad: blob(p.pAAD, p.ulAADLen)?,
                    tag_bits: p.ulTagBits as u64,
                }
            }
            CKM_AES_CCM => {
                let p: CK_CCM_PARAMS = param(m)?;
                M::AesCcm {
                    data_len: p.ulDataLen as u64,
                    nonce: blob(p.pNonce, p.ulNonceLen)?,
                    aad: blob(p.pAAD, p.ulAADLen)?,
                    mac_len: p.ulMACLen as u64,
                }
            }
            CKM_AES_KEY_WRAP | CKM_AES_KEY_WRAP_KWP => {
                let iv = if m.pParameter.is_null() {
                    None
                } else {
                    Some(raw(m)?)
                };
                if m.mechanism == CKM_AES_KEY_WRAP {
                    M::AesKeyWrap { iv }
                } else {
                    M::AesKeyWrapKwp { iv }
                }
            }
            CKM_AES_CMAC => no_param(m).map(|_| M::AesCmac)?,
            CKM_AES_CMAC_GENERAL => M::AesCmacGeneral {
                len: param::<CK_ULONG>(m)? as u64,
            },
            CKM_AES_ECB_ENCRYPT_DATA => {
                let p: CK_KEY_DERIVATION_STRING_DATA = param(m)?;
                M::AesEcbEncryptData {
                    data: blob(p.pData, p.ulLen)?,
                }
            }
            CKM_AES_CBC_ENCRYPT_DATA => {
                let p: CK_AES_CBC_ENCRYPT_DATA_PARAMS = param(m)?;
                M::AesCbcEncryptData {
                    iv: p.iv,
                    data: blob(p.pData, p.length)?,
                }
            }
            CKM_RSA_PKCS_KEY_PAIR_GEN => no_param(m).map(|_| M::RsaKeyPairGen)?,
            CKM_RSA_PKCS => no_param(m).map(|_| M::RsaPkcs)?,
            CKM_RSA_X_509 => no_param(m).map(|_| M::RsaX509)?,
            CKM_RSA_PKCS_OAEP => {
                let p: CK_RSA_PKCS_OAEP_PARAMS = param(m)?;
                let label = match p.source {
                    CKZ_DATA_SPECIFIED => blob(p.pSourceData as *const u8, p.ulSourceDataLen)?,
                    0 if p.pSourceData.is_null() && p.ulSourceDataLen == 0 => Vec::new(),
                    _ => return Err(bad()),
                };
                M::RsaOaep {
                    hash: hash(p.hashAlg)?,
                    mgf: mgf(p.mgf)?,
                    label,
                }
            }
            CKM_RSA_PKCS_PSS => {
                let p: CK_RSA_PKCS_PSS_PARAMS = param(m)?;
                M::RsaPss {
                    hash: hash(p.hashAlg)?,
                    mgf: mgf(p.mgf)?,
                    salt_len: p.sLen as u64,
                }
            }
            CKM_SHA1_RSA_PKCS
            | CKM_SHA224_RSA_PKCS
            | CKM_SHA256_RSA_PKCS
            | CKM_SHA384_RSA_PKCS
            | CKM_SHA512_RSA_PKCS
            | CKM_SHA3_256_RSA_PKCS
            | CKM_SHA3_384_RSA_PKCS
            | CKM_SHA3_512_RSA_PKCS => {
                no_param(m)?;
                M::HashRsaPkcs(sign_hash(m.mechanism)?)
            }
            CKM_SHA1_RSA_PKCS_PSS
            | CKM_SHA224_RSA_PKCS_PSS
            | CKM_SHA256_RSA_PKCS_PSS
            | CKM_SHA384_RSA_PKCS_PSS
            | CKM_SHA512_RSA_PKCS_PSS => {
                let p: CK_RSA_PKCS_PSS_PARAMS = param(m)?;
                let h = sign_hash(m.mechanism)?;
                if hash(p.hashAlg)? != h {
                    return Err(bad());
                }
                M::HashRsaPss {
                    hash: h,
                    mgf: mgf(p.mgf)?,
                    salt_len: p.sLen as u64,
                }
            }
            CKM_EC_KEY_PAIR_GEN => no_param(m).map(|_| M::EcKeyPairGen)?,
            CKM_ECDSA => no_param(m).map(|_| M::Ecdsa)?,
            CKM_ECDSA_SHA1 | CKM_ECDSA_SHA224 | CKM_ECDSA_SHA256 | CKM_ECDSA_SHA384
            | CKM_ECDSA_SHA512 => {
                no_param(m)?;
                M::EcdsaHash(sign_hash(m.mechanism)?)
            }
            CKM_ECDH1_DERIVE | CKM_ECDH1_COFACTOR_DERIVE => {
                let p: CK_ECDH1_DERIVE_PARAMS = param(m)?;
                M::Ecdh1 {
                    cofactor: m.mechanism == CKM_ECDH1_COFACTOR_DERIVE,
                    kdf: p.kdf,
                    shared: blob(p.pSharedData, p.ulSharedDataLen)?,
                    public: blob(p.pPublicData, p.ulPublicDataLen)?,
                }
            }
            CKM_EC_EDWARDS_KEY_PAIR_GEN => no_param(m).map(|_| M::EdwardsKeyPairGen)?,
            CKM_EDDSA => {
                // Pure Ed25519 only: no parameter, or one asking for neither prehash nor context.
                if !m.pParameter.is_null() {
                    let p: CK_EDDSA_PARAMS = param(m)?;
                    if p.phFlag != 0 || p.ulContextDataLen != 0 {
                        return Err(bad());
                    }
                }
                M::EdDsa
            }
            CKM_SHA_1 | CKM_SHA224 | CKM_SHA256 | CKM_SHA384 | CKM_SHA512 | CKM_SHA3_256
            | CKM_SHA3_384 | CKM_SHA3_512 => {
                no_param(m)?;
                M::Digest(hash(m.mechanism)?)
            }
            CKM_SHA_1_HMAC | CKM_SHA224_HMAC | CKM_SHA256_HMAC | CKM_SHA384_HMAC
            | CKM_SHA512_HMAC | CKM_SHA3_256_HMAC | CKM_SHA3_384_HMAC | CKM_SHA3_512_HMAC => {
                no_param(m)?;
                M::Hmac(hmac_hash(m.mechanism)?)
            }
            CKM_SHA_1_HMAC_GENERAL
            | CKM_SHA224_HMAC_GENERAL
            | CKM_SHA256_HMAC_GENERAL
            | CKM_SHA384_HMAC_GENERAL
            | CKM_SHA512_HMAC_GENERAL
            | CKM_SHA3_256_HMAC_GENERAL
            | CKM_SHA3_384_HMAC_GENERAL
            | CKM_SHA3_512_HMAC_GENERAL => {
                let len = param::<CK_ULONG>(m)? as u64;
                M::HmacGeneral(hmac_hash(m.mechanism)?, len)
            }
            CKM_GENERIC_SECRET_KEY_GEN => no_param(m).map(|_| M::GenericSecretKeyGen)?,
            CKM_HKDF_KEY_GEN => no_param(m).map(|_| M::HkdfKeyGen)?,
            CKM_HKDF_DERIVE => {
                let p: CK_HKDF_PARAMS = param(m)?;
                M::HkdfDerive {
                    extract: p.bExtract != 0,
                    expand: p.bExpand != 0,
                    prf: hash(p.prfHashMechanism)?,
                    salt_type: p.ulSaltType,
                    salt: blob(p.pSalt, p.ulSaltLen)?,
                    salt_key: p.hSaltKey,
                    info: blob(p.pInfo, p.ulInfoLen)?,
                }
            }
            CKM_PKCS5_PBKD2 => {
                let p: CK_PKCS5_PBKD2_PARAMS2 = param(m)?;
                if p.saltSource != CKZ_SALT_SPECIFIED {
                    return Err(bad());
                }
                let prf = match p.prf {
                    CKP_PKCS5_PBKD2_HMAC_SHA1 => Hash::Sha1,
                    CKP_PKCS5_PBKD2_HMAC_SHA224 => Hash::Sha224,
                    CKP_PKCS5_PBKD2_HMAC_SHA256 => Hash::Sha256,
                    CKP_PKCS5_PBKD2_HMAC_SHA384 => Hash::Sha384,
                    CKP_PKCS5_PBKD2_HMAC_SHA512 => Hash::Sha512,
                    _ => return Err(bad()),
                };
                M::Pbkdf2 {
                    salt: blob(p.pSaltSourceData as *const u8, p.ulSaltSourceDataLen)?,
                    iterations: p.iterations as u64,
                    prf,
                    password: Secret(blob(p.pPassword, p.ulPasswordLen)?),
                }
            }
            _ => return fail(CKR_MECHANISM_INVALID),
        }
    };
    Ok(mech)
}

/// The hash of a hash-and-sign mechanism.
fn sign_hash(m: CK_MECHANISM_TYPE) -> Result<Hash> {
    Ok(match m {
        CKM_SHA1_RSA_PKCS | CKM_SHA1_RSA_PKCS_PSS | CKM_ECDSA_SHA1 => Hash::Sha1,
        CKM_SHA224_RSA_PKCS | CKM_SHA224_RSA_PKCS_PSS | CKM_ECDSA_SHA224 => Hash::Sha224,
        CKM_SHA256_RSA_PKCS | CKM_SHA256_RSA_PKCS_PSS | CKM_ECDSA_SHA256 => Hash::Sha256,
        CKM_SHA384_RSA_PKCS | CKM_SHA384_RSA_PKCS_PSS | CKM_ECDSA_SHA384 => Hash::Sha384,
        CKM_SHA512_RSA_PKCS | CKM_SHA512_RSA_PKCS_PSS | CKM_ECDSA_SHA512 => Hash::Sha512,
        CKM_SHA3_256_RSA_PKCS => Hash::Sha3_256,
        CKM_SHA3_384_RSA_PKCS => Hash::Sha3_384,
        CKM_SHA3_512_RSA_PKCS => Hash::Sha3_512,
        _ => return fail(CKR_MECHANISM_INVALID),
    })
}

fn hmac_hash(m: CK_MECHANISM_TYPE) -> Result<Hash> {
    Ok(match m {
        CKM_SHA_1_HMAC | CKM_SHA_1_HMAC_GENERAL => Hash::Sha1,
        CKM_SHA224_HMAC | CKM_SHA224_HMAC_GENERAL => Hash::Sha224,
        CKM_SHA256_HMAC | CKM_SHA256_HMAC_GENERAL => Hash::Sha256,
        CKM_SHA384_HMAC | CKM_SHA384_HMAC_GENERAL => Hash::Sha384,
        CKM_SHA512_HMAC | CKM_SHA512_HMAC_GENERAL => Hash::Sha512,
        CKM_SHA3_256_HMAC | CKM_SHA3_256_HMAC_GENERAL => Hash::Sha3_256,
        CKM_SHA3_384_HMAC | CKM_SHA3_384_HMAC_GENERAL => Hash::Sha3_384,
        CKM_SHA3_512_HMAC | CKM_SHA3_512_HMAC_GENERAL => Hash::Sha3_512,
        _ => return fail(CKR_MECHANISM_INVALID),
    })
}
