//! The SP 800-108 key-based KDFs (Current Mechanisms v3.0 §2.42: CKM_SP800_108_COUNTER_KDF,
//! CKM_SP800_108_FEEDBACK_KDF, CKM_SP800_108_DOUBLE_PIPELINE_KDF): their parameters
//! (CK_SP800_108_KDF_PARAMS, CK_SP800_108_FEEDBACK_KDF_PARAMS, the CK_PRF_DATA_PARAM list and
//! the CK_DERIVED_KEY array of additional keys) read into typed values, and the run over a
//! base key. `module::keys` makes the key objects; the engine is `crate::crypto::kbkdf`.

use super::keys::{aes_key, secret, HMAC_KEYS};
use super::{bad_param, Entry, Family, Mechanism};
use crate::crypto::digest::HashAlg;
use crate::crypto::kbkdf::{self, Field, IntFormat, Mode, Prf};
use crate::error::{fail, Result};
use crate::ffi::mech::Param;
use crate::object::attr::{Attribute, Attributes};
use cryptoki_sys::*;
use zeroize::Zeroizing;

pub(super) struct Sp800108;

static ENTRIES: &[Entry] = &[
    (CKM_SP800_108_COUNTER_KDF, 1, 512, CKF_DERIVE),
    (CKM_SP800_108_FEEDBACK_KDF, 1, 512, CKF_DERIVE),
    (CKM_SP800_108_DOUBLE_PIPELINE_KDF, 1, 512, CKF_DERIVE),
];

/// More additional keys or data parameters than any protocol uses only cost memory and time;
/// the counts are checked before the arrays are read.
const MAX_ADDITIONAL_KEYS: CK_ULONG = 64;
const MAX_DATA_PARAMS: CK_ULONG = 256;

/// A parsed SP 800-108 parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kbkdf {
    pub mode: Mode,
    pub prf: Prf,
    pub fields: Vec<Field>,
    /// Feedback mode's IV (K(0)); empty otherwise.
    pub iv: Vec<u8>,
    /// The templates of the additional derived keys, in the caller's order.
    pub additional: Vec<Vec<Attribute>>,
}

fn prf_of(m: CK_MECHANISM_TYPE) -> Result<Prf> {
    Ok(match m {
        CKM_AES_CMAC => Prf::Cmac,
        CKM_SHA_1_HMAC => Prf::Hmac(HashAlg::Sha1),
        CKM_SHA224_HMAC => Prf::Hmac(HashAlg::Sha224),
        CKM_SHA256_HMAC => Prf::Hmac(HashAlg::Sha256),
        CKM_SHA384_HMAC => Prf::Hmac(HashAlg::Sha384),
        CKM_SHA512_HMAC => Prf::Hmac(HashAlg::Sha512),
        CKM_SHA3_224_HMAC => Prf::Hmac(HashAlg::Sha3_224),
        CKM_SHA3_256_HMAC => Prf::Hmac(HashAlg::Sha3_256),
        CKM_SHA3_384_HMAC => Prf::Hmac(HashAlg::Sha3_384),
        CKM_SHA3_512_HMAC => Prf::Hmac(HashAlg::Sha3_512),
        _ => return Err(bad_param()),
    })
}

fn endian(b: CK_BBOOL) -> Result<bool> {
    match b {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(bad_param()),
    }
}

fn width(bits: CK_ULONG) -> Result<u32> {
    u32::try_from(bits).map_err(|_| bad_param())
}

fn field(p: &Param, d: &CK_PRF_DATA_PARAM) -> Result<Field> {
    let counter = |p: &Param| -> Result<IntFormat> {
        let f: CK_SP800_108_COUNTER_FORMAT = p.nested(d.pValue, d.ulValueLen)?;
        Ok(IntFormat {
            little_endian: endian(f.bLittleEndian)?,
            bits: width(f.ulWidthInBits)?,
        })
    };
    Ok(match d.type_ {
        CK_SP800_108_ITERATION_VARIABLE if d.pValue.is_null() && d.ulValueLen == 0 => {
            Field::Iteration(None)
        }
        CK_SP800_108_ITERATION_VARIABLE => Field::Iteration(Some(counter(p)?)),
        CK_SP800_108_COUNTER => Field::Counter(counter(p)?),
        CK_SP800_108_DKM_LENGTH => {
            let f: CK_SP800_108_DKM_LENGTH_FORMAT = p.nested(d.pValue, d.ulValueLen)?;
            let sum_of_segments = match f.dkmLengthMethod {
                CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS => false,
                CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS => true,
                _ => return Err(bad_param()),
            };
            Field::DkmLength {
                format: IntFormat {
                    little_endian: endian(f.bLittleEndian)?,
                    bits: width(f.ulWidthInBits)?,
                },
                sum_of_segments,
            }
        }
        CK_SP800_108_BYTE_ARRAY => Field::Bytes(p.blob(d.pValue as *const u8, d.ulValueLen)?),
        _ => return Err(bad_param()),
    })
}

/// The typed parameter of an SP 800-108 mechanism.
fn parse_kbkdf(ty: CK_MECHANISM_TYPE, p: &Param) -> Result<Kbkdf> {
    let (mode, prf_type, n, data, n_keys, keys, iv) = match ty {
        CKM_SP800_108_FEEDBACK_KDF => {
            let k: CK_SP800_108_FEEDBACK_KDF_PARAMS = p.get()?;
            let iv = p.blob(k.pIV, k.ulIVLen)?;
            (
                Mode::Feedback,
                k.prfType,
                k.ulNumberOfDataParams,
                k.pDataParams,
                k.ulAdditionalDerivedKeys,
                k.pAdditionalDerivedKeys,
                iv,
            )
        }
        _ => {
            let k: CK_SP800_108_KDF_PARAMS = p.get()?;
            let mode = if ty == CKM_SP800_108_COUNTER_KDF {
                Mode::Counter
            } else {
                Mode::DoublePipeline
            };
            (
                mode,
                k.prfType,
                k.ulNumberOfDataParams,
                k.pDataParams,
                k.ulAdditionalDerivedKeys,
                k.pAdditionalDerivedKeys,
                Vec::new(),
            )
        }
    };
    let prf = prf_of(prf_type)?;
    if n == 0 || n > MAX_DATA_PARAMS || n_keys > MAX_ADDITIONAL_KEYS {
        return Err(bad_param());
    }
    let fields = p
        .items(data as *const CK_PRF_DATA_PARAM, n)?
        .iter()
        .map(|d| field(p, d))
        .collect::<Result<Vec<_>>>()?;
    if !kbkdf::fields_valid(mode, &fields) {
        return Err(bad_param());
    }
    let derived = p.items(keys as *const CK_DERIVED_KEY, n_keys)?;
    if derived.iter().any(|k| k.phKey.is_null()) {
        return Err(bad_param());
    }
    let additional = derived
        .iter()
        .map(|k| p.template(k.pTemplate, k.ulAttributeCount))
        .collect::<Result<Vec<_>>>()?;
    Ok(Kbkdf {
        mode,
        prf,
        fields,
        iv,
        additional,
    })
}

impl Family for Sp800108 {
    fn entries(&self) -> &'static [Entry] {
        ENTRIES
    }

    fn parse(&self, ty: CK_MECHANISM_TYPE, p: &Param) -> Result<Mechanism> {
        match ty {
            CKM_SP800_108_COUNTER_KDF
            | CKM_SP800_108_FEEDBACK_KDF
            | CKM_SP800_108_DOUBLE_PIPELINE_KDF => {
                Ok(Mechanism::Sp800108(Box::new(parse_kbkdf(ty, p)?)))
            }
            _ => fail(CKR_MECHANISM_INVALID),
        }
    }
}

/// Run the KDF over the base key for keys of `lens` bytes (the main key first, then each
/// additional key). The PRF's key is the base key: an AES key for CMAC, a generic secret or
/// HMAC key for HMAC (CKR_KEY_TYPE_INCONSISTENT otherwise).
pub fn derive_keys(
    k: &Kbkdf,
    base: &Attributes,
    lens: &[usize],
) -> Result<Vec<Zeroizing<Vec<u8>>>> {
    let key = match k.prf {
        Prf::Cmac => aes_key(base)?,
        Prf::Hmac(_) => secret(base, HMAC_KEYS)?,
    };
    kbkdf::derive(k.prf, k.mode, key, &k.fields, &k.iv, lens)
}
