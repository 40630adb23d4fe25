//! Checks of key material a caller imports with `C_CreateObject` (PKCS#11 v3.0 §5.7; the key
//! objects' attributes of the Current Mechanisms spec): the engine must accept the parts as
//! one key before the object is stored.

use super::keys::ed_public;
use super::policy::{Policy, Purpose};
use crate::crypto::ec::{self, EcParams, Edwards};
use crate::crypto::rsa::{RsaPrivate, RsaPublic};
use crate::error::{fail, Error, Result};
use crate::object::attr::Attributes;
use cryptoki_sys::*;

/// Check key material a caller imports with `C_CreateObject`: parts that do not belong together,
/// a point off its curve or a wrong check value are `CKR_ATTRIBUTE_VALUE_INVALID`; a size or
/// curve the token's policy refuses is its error (`super::policy`).
pub fn validate_import(a: &Attributes, policy: Policy) -> Result<()> {
    super::policy::check_key(policy, a, Purpose::Import)?;
    let bad = |_| Error::new(CKR_ATTRIBUTE_VALUE_INVALID);
    let b = |t| a.bytes(t);
    match (a.class(), a.key_type()) {
        (Some(CKO_PRIVATE_KEY), Some(CKK_RSA)) => {
            if let (Some(n), Some(e), Some(d)) = (
                b(CKA_MODULUS),
                b(CKA_PUBLIC_EXPONENT),
                b(CKA_PRIVATE_EXPONENT),
            ) {
                RsaPrivate::from_components(
                    n,
                    e,
                    d,
                    b(CKA_PRIME_1),
                    b(CKA_PRIME_2),
                    b(CKA_EXPONENT_1),
                    b(CKA_EXPONENT_2),
                    b(CKA_COEFFICIENT),
                )
                .map_err(bad)?;
            }
        }
        (Some(CKO_PUBLIC_KEY), Some(CKK_RSA)) => {
            if let (Some(n), Some(e)) = (b(CKA_MODULUS), b(CKA_PUBLIC_EXPONENT)) {
                RsaPublic::new(n, e).map_err(bad)?;
            }
        }
        (Some(class), Some(CKK_EC)) => {
            let params = b(CKA_EC_PARAMS).ok_or(Error::new(CKR_ATTRIBUTE_VALUE_INVALID))?;
            let EcParams::Nist(curve) = EcParams::parse(params).map_err(bad)? else {
                return fail(CKR_ATTRIBUTE_VALUE_INVALID);
            };
            if class == CKO_PUBLIC_KEY {
                ec::validate_point(curve, b(CKA_EC_POINT).unwrap_or(&[])).map_err(bad)?;
            } else if let Some(d) = b(CKA_VALUE) {
                ec::public_from_private(curve, d).map_err(bad)?;
            }
        }
        (Some(class), Some(CKK_EC_EDWARDS)) => {
            let params = b(CKA_EC_PARAMS).ok_or(Error::new(CKR_ATTRIBUTE_VALUE_INVALID))?;
            let curve = EcParams::parse(params)
                .map_err(bad)?
                .edwards()
                .ok_or(Error::new(CKR_ATTRIBUTE_VALUE_INVALID))?;
            if class == CKO_PUBLIC_KEY {
                ed_public(a).map_err(bad)?;
            } else if let Some(d) = b(CKA_VALUE) {
                match curve {
                    Edwards::Ed25519 => ec::ed25519_public_from_private(d),
                    Edwards::Ed448 => ec::ed448_public_from_private(d),
                }
                .map_err(bad)?;
            }
        }
        (Some(class), Some(CKK_EC_MONTGOMERY)) => {
            let params = b(CKA_EC_PARAMS).ok_or(Error::new(CKR_ATTRIBUTE_VALUE_INVALID))?;
            let curve = EcParams::parse(params)
                .map_err(bad)?
                .montgomery()
                .ok_or(Error::new(CKR_ATTRIBUTE_VALUE_INVALID))?;
            if class == CKO_PUBLIC_KEY {
                ec::montgomery_validate_public(curve, b(CKA_EC_POINT).unwrap_or(&[]))
                    .map_err(bad)?;
            } else if let Some(d) = b(CKA_VALUE) {
                ec::montgomery_public_from_private(curve, d).map_err(bad)?;
            }
        }
        (Some(CKO_SECRET_KEY), Some(kt)) => {
            if let (Some(v), Some(cv)) = (b(CKA_VALUE), b(CKA_CHECK_VALUE)) {
                if let Some(mine) = super::generate::check_value(kt, v) {
                    if !cv.is_empty() && mine.map_err(bad)?.as_slice() != cv {
                        return fail(CKR_ATTRIBUTE_VALUE_INVALID);
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
}
