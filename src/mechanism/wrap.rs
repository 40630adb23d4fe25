//! The key-wrapping family, AES key wrap with and without padding (Current Mechanisms spec
//! §2.14.3 AES Key Wrap, RFC 3394 and RFC 5649), and what `C_WrapKey`/`C_UnwrapKey` do with any
//! wrapping mechanism: the bytes a key is wrapped as and the attributes unwrapped bytes make
//! (PKCS#11 v3.0 §5.18, the PKCS#8 encoding of private keys). `CKM_RSA_AES_KEY_WRAP` (§2.1.21)
//! is in `wrap/rsa_aes.rs`.

use super::keys::{aes_key, edwards, montgomery, nist, rsa_private};
use super::shapes::{buffered, zero_out};
use super::{Entry, Family, Mechanism, ENC, WU};
use crate::crypto::{aes, ec};
use crate::error::{fail, Error, Result};
use crate::ffi::mech::Param;
use crate::mechanism::ops::Cipher;
use crate::object::attr::Attributes;
use cryptoki_sys::*;
use zeroize::Zeroizing;

mod rsa_aes;

pub(super) struct KeyWrap;

static ENTRIES: &[Entry] = &[
    (CKM_AES_KEY_WRAP, 16, 32, ENC | WU),
    (CKM_AES_KEY_WRAP_KWP, 16, 32, ENC | WU),
    // issue 12: wrap and unwrap only (the RSA key's modulus bits, as for CKM_RSA_PKCS_OAEP).
    (CKM_RSA_AES_KEY_WRAP, 1024, 4096, WU),
];

impl Family for KeyWrap {
    fn entries(&self) -> &'static [Entry] {
        ENTRIES
    }

    fn parse(&self, ty: CK_MECHANISM_TYPE, p: &Param) -> Result<Mechanism> {
        if ty == CKM_RSA_AES_KEY_WRAP {
            return rsa_aes::parse(p);
        }
        // The IV is optional: NULL takes the standard one.
        let iv = if p.is_null() { None } else { Some(p.bytes()?) };
        Ok(match ty {
            CKM_AES_KEY_WRAP => Mechanism::AesKeyWrap { iv },
            CKM_AES_KEY_WRAP_KWP => Mechanism::AesKeyWrapKwp { iv },
            _ => return fail(CKR_MECHANISM_INVALID),
        })
    }

    fn cipher(
        &self,
        mech: &Mechanism,
        key: &Attributes,
        encrypt: bool,
    ) -> Option<Result<Box<dyn Cipher>>> {
        let (kwp, iv) = match mech {
            Mechanism::AesKeyWrap { iv } => (false, iv),
            Mechanism::AesKeyWrapKwp { iv } => (true, iv),
            _ => return None,
        };
        if let Err(e) = aes_key(key) {
            return Some(Err(e));
        }
        // The operation keeps the attribute set (shared, not copied), not a copy of the key.
        let key = key.clone();
        let iv = iv.clone();
        Some(Ok(buffered(
            move |n| if encrypt { n.div_ceil(8) * 8 + 8 } else { n },
            Box::new(move |d| {
                let k = aes_key(&key)?;
                match (kwp, encrypt) {
                    (false, true) => aes::kw_wrap(k, iv.as_deref(), d).map(zero_out),
                    (false, false) => aes::kw_unwrap(k, iv.as_deref(), d),
                    (true, true) => aes::kwp_wrap(k, iv.as_deref(), d).map(zero_out),
                    (true, false) => aes::kwp_unwrap(k, iv.as_deref(), d),
                }
            }),
        )))
    }
}

/// The bytes a key is wrapped as: a secret key's value, a private key's PKCS#8 `PrivateKeyInfo`
/// (RSA, Weierstrass-curve EC, Ed25519, Ed448, X25519, X448). Other keys, and stored material that does not make a key, are
/// `CKR_KEY_NOT_WRAPPABLE`.
pub fn key_bytes_for_wrap(key: &Attributes) -> Result<Zeroizing<Vec<u8>>> {
    use crate::crypto::pkcs8;
    let not_wrappable = |e: Error| {
        if e.rv() == CKR_KEY_TYPE_INCONSISTENT {
            Error::new(CKR_KEY_NOT_WRAPPABLE)
        } else {
            e
        }
    };
    let value = || {
        key.bytes(CKA_VALUE)
            .ok_or(Error::new(CKR_KEY_NOT_WRAPPABLE))
    };
    match (key.class(), key.key_type()) {
        (Some(CKO_SECRET_KEY), _) => value().map(|v| Zeroizing::new(v.to_vec())),
        (Some(CKO_PRIVATE_KEY), Some(CKK_RSA)) => {
            pkcs8::encode_rsa(&*rsa_private(key).map_err(not_wrappable)?).map_err(not_wrappable)
        }
        (Some(CKO_PRIVATE_KEY), Some(CKK_EC)) => {
            let curve = nist(key, CKO_PRIVATE_KEY).map_err(not_wrappable)?;
            pkcs8::encode_ec(curve, value()?).map_err(not_wrappable)
        }
        (Some(CKO_PRIVATE_KEY), Some(CKK_EC_EDWARDS)) => {
            match edwards(key, CKO_PRIVATE_KEY).map_err(not_wrappable)? {
                ec::Edwards::Ed25519 => pkcs8::encode_ed25519(value()?),
                ec::Edwards::Ed448 => pkcs8::encode_rfc8410(ec::EcParams::Ed448, value()?),
            }
            .map_err(not_wrappable)
        }
        (Some(CKO_PRIVATE_KEY), Some(CKK_EC_MONTGOMERY)) => {
            let params = match montgomery(key, CKO_PRIVATE_KEY).map_err(not_wrappable)? {
                ec::Montgomery::X25519 => ec::EcParams::X25519,
                ec::Montgomery::X448 => ec::EcParams::X448,
            };
            pkcs8::encode_rfc8410(params, value()?).map_err(not_wrappable)
        }
        _ => fail(CKR_KEY_NOT_WRAPPABLE),
    }
}

/// Wrap `bytes` under the wrapping key.
pub fn wrap(mech: &Mechanism, wrapping: &Attributes, bytes: &[u8]) -> Result<Vec<u8>> {
    let wrong_key = |e: Error| {
        if e.rv() == CKR_KEY_TYPE_INCONSISTENT {
            Error::new(CKR_WRAPPING_KEY_TYPE_INCONSISTENT)
        } else {
            e
        }
    };
    if let Mechanism::RsaAesKeyWrap { .. } = mech {
        return rsa_aes::wrap(mech, wrapping, bytes).map_err(wrong_key);
    }
    let mut c = super::build::cipher(mech, wrapping, true).map_err(wrong_key)?;
    // A key the mechanism cannot take as it is (CKM_AES_KEY_WRAP, which does not pad, of a
    // length that is not a multiple of 8 such as most PKCS#8 encodings; a block mode without
    // padding; a key too long for RSA-OAEP) is the key's size, as C_WrapKey reports it.
    let size = |e: Error| {
        if e.rv() == CKR_DATA_LEN_RANGE {
            Error::new(CKR_KEY_SIZE_RANGE)
        } else {
            e
        }
    };
    let mut out = c.update(bytes).map_err(size)?;
    out.extend_from_slice(&c.finish().map_err(size)?);
    Ok(out.to_vec())
}

/// Unwrap to the key bytes.
pub fn unwrap(
    mech: &Mechanism,
    unwrapping: &Attributes,
    wrapped: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let wrong_key = |e: Error| {
        if e.rv() == CKR_KEY_TYPE_INCONSISTENT {
            Error::new(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT)
        } else {
            e
        }
    };
    // Whatever fails in the unwrapping itself (tag, padding, length) is a bad wrapped key.
    let bad = |e: Error| match e.rv() {
        CKR_ENCRYPTED_DATA_INVALID | CKR_ENCRYPTED_DATA_LEN_RANGE => {
            Error::new(CKR_WRAPPED_KEY_INVALID)
        }
        _ => e,
    };
    if let Mechanism::RsaAesKeyWrap { .. } = mech {
        return rsa_aes::unwrap(mech, unwrapping, wrapped)
            .map_err(wrong_key)
            .map_err(bad);
    }
    let mut c = super::build::cipher(mech, unwrapping, false).map_err(wrong_key)?;
    let mut out = c.update(wrapped).map_err(bad)?;
    out.extend_from_slice(&c.finish().map_err(bad)?);
    Ok(out)
}

/// The key type named by the PKCS#8 `PrivateKeyInfo` an unwrapped private key arrived as, for a
/// template that leaves `CKA_KEY_TYPE` out. Garbage is `CKR_WRAPPED_KEY_INVALID`.
pub fn private_key_type(bytes: &[u8]) -> Result<CK_KEY_TYPE> {
    use crate::crypto::pkcs8::{self, Algorithm};
    Ok(match pkcs8::algorithm(bytes)? {
        Algorithm::Rsa => CKK_RSA,
        Algorithm::Ec(_) => CKK_EC,
        Algorithm::Ed25519 | Algorithm::Rfc8410(ec::EcParams::Ed448) => CKK_EC_EDWARDS,
        Algorithm::Rfc8410(_) => CKK_EC_MONTGOMERY,
    })
}

/// The attributes an unwrapped key gets from its bytes: a secret key's `CKA_VALUE`, a private
/// key's components parsed from PKCS#8 (RSA: modulus, exponents, primes and CRT values; EC,
/// Edwards and Montgomery: `CKA_EC_PARAMS` and `CKA_VALUE`). A `PrivateKeyInfo` that does not parse or whose
/// key does not hold together is `CKR_WRAPPED_KEY_INVALID`; one of another algorithm than
/// `key_type` is `CKR_TEMPLATE_INCONSISTENT`.
pub fn key_from_bytes(
    class: CK_OBJECT_CLASS,
    key_type: CK_KEY_TYPE,
    bytes: &[u8],
) -> Result<Vec<crate::object::attr::Attribute>> {
    use crate::crypto::pkcs8::{self, Algorithm, PrivateKey};
    use crate::object::attr::Attribute as A;
    match class {
        CKO_SECRET_KEY => Ok(vec![A::bytes(CKA_VALUE, bytes.to_vec())]),
        CKO_PRIVATE_KEY => {
            let matches = matches!(
                (key_type, pkcs8::algorithm(bytes)?),
                (CKK_RSA, Algorithm::Rsa)
                    | (CKK_EC, Algorithm::Ec(_))
                    | (CKK_EC_EDWARDS, Algorithm::Ed25519)
                    | (CKK_EC_EDWARDS, Algorithm::Rfc8410(ec::EcParams::Ed448))
                    | (
                        CKK_EC_MONTGOMERY,
                        Algorithm::Rfc8410(ec::EcParams::X25519 | ec::EcParams::X448)
                    )
            );
            if !matches {
                return fail(CKR_TEMPLATE_INCONSISTENT);
            }
            Ok(match pkcs8::decode(bytes)? {
                PrivateKey::Rsa(k) => super::generate::rsa_private_attributes(&k.components()),
                PrivateKey::Ec { curve, d } => vec![
                    A::bytes(CKA_EC_PARAMS, curve.oid_der().to_vec()),
                    A::bytes(CKA_VALUE, d.to_vec()),
                ],
                PrivateKey::Ed25519(d) => vec![
                    A::bytes(CKA_EC_PARAMS, ec::ED25519_OID_DER.to_vec()),
                    A::bytes(CKA_VALUE, d.to_vec()),
                ],
                PrivateKey::Rfc8410 { params, private } => vec![
                    A::bytes(CKA_EC_PARAMS, params.oid_der().to_vec()),
                    A::bytes(CKA_VALUE, private.to_vec()),
                ],
            })
        }
        _ => fail(CKR_TEMPLATE_INCONSISTENT),
    }
}
