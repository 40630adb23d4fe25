//! The engine form of a key object, checked against what a mechanism needs (class, key type,
//! curve) and prepared once per attribute set: parsed RSA and EC keys live in the set's
//! prepared-key slot ([`Attributes::prepared`]) and are shared, through `Arc`, by every
//! operation on the object (PKCS#11 v3.0 §4.8-4.9, key objects; the key types of the Current
//! Mechanisms spec).
//!
//! A new prepared form (an AES key schedule, GCM tables) is one function here that calls
//! `key.prepared(...)` with the engine's constructor.

use crate::crypto::ec::{self, Curve, EcParams, EcPrivate, EcPublic, Edwards, Montgomery};
use crate::crypto::rsa::{RsaPrivate, RsaPublic};
use crate::error::{fail, Error, Result};
use crate::object::attr::Attributes;
use cryptoki_sys::*;
use std::sync::Arc;

pub(super) fn inconsistent<T>() -> Result<T> {
    fail(CKR_KEY_TYPE_INCONSISTENT)
}

fn need(key: &Attributes, ty: CK_ATTRIBUTE_TYPE) -> Result<&[u8]> {
    key.bytes(ty).ok_or(Error::new(CKR_KEY_TYPE_INCONSISTENT))
}

/// The value of a secret key of one of `types`.
pub(super) fn secret<'a>(key: &'a Attributes, types: &[CK_KEY_TYPE]) -> Result<&'a [u8]> {
    if key.class() != Some(CKO_SECRET_KEY) || !key.key_type().is_some_and(|t| types.contains(&t)) {
        return inconsistent();
    }
    need(key, CKA_VALUE)
}

pub fn aes_key(key: &Attributes) -> Result<&[u8]> {
    secret(key, &[CKK_AES])
}

/// The expanded AES key schedule of an AES key object, prepared once per object.
pub(super) fn aes_prepared(key: &Attributes) -> Result<Arc<crate::crypto::aes::AesKey>> {
    aes_key(key)?;
    key.prepared(|key| crate::crypto::aes::AesKey::new(aes_key(key)?))
}

/// The AES-GCM form of an AES key object (schedule and GHASH tables), prepared once per object.
pub(super) fn gcm_prepared(key: &Attributes) -> Result<Arc<crate::crypto::aes::GcmKey>> {
    aes_key(key)?;
    key.prepared(|key| crate::crypto::aes::GcmKey::new(aes_key(key)?))
}

/// Secret keys HMAC accepts: generic secrets and the HMAC key types.
pub(super) const HMAC_KEYS: &[CK_KEY_TYPE] = &[
    CKK_GENERIC_SECRET,
    CKK_SHA_1_HMAC,
    CKK_SHA224_HMAC,
    CKK_SHA256_HMAC,
    CKK_SHA384_HMAC,
    CKK_SHA512_HMAC,
    CKK_SHA3_256_HMAC,
    CKK_SHA3_384_HMAC,
    CKK_SHA3_512_HMAC,
    CKK_MD5_HMAC,
    CKK_SHA3_224_HMAC,
];

/// The engine's RSA private key for these attributes, parsed once per object.
pub(super) fn rsa_private(key: &Attributes) -> Result<Arc<RsaPrivate>> {
    if key.class() != Some(CKO_PRIVATE_KEY) || key.key_type() != Some(CKK_RSA) {
        return inconsistent();
    }
    key.prepared(|key| {
        let b = |t| key.bytes(t);
        // A private key imported without its public exponent could still use the CRT parts;
        // the engine requires e, so such keys are refused here.
        RsaPrivate::from_components(
            need(key, CKA_MODULUS)?,
            need(key, CKA_PUBLIC_EXPONENT)?,
            need(key, CKA_PRIVATE_EXPONENT)?,
            b(CKA_PRIME_1),
            b(CKA_PRIME_2),
            b(CKA_EXPONENT_1),
            b(CKA_EXPONENT_2),
            b(CKA_COEFFICIENT),
        )
    })
}

/// The engine's RSA public key (of a public or private key object), parsed once per object.
pub(super) fn rsa_public(key: &Attributes) -> Result<Arc<RsaPublic>> {
    if !matches!(key.class(), Some(CKO_PUBLIC_KEY | CKO_PRIVATE_KEY))
        || key.key_type() != Some(CKK_RSA)
    {
        return inconsistent();
    }
    key.prepared(|key| RsaPublic::new(need(key, CKA_MODULUS)?, need(key, CKA_PUBLIC_EXPONENT)?))
}

fn ec_params(key: &Attributes) -> Result<EcParams> {
    EcParams::parse(need(key, CKA_EC_PARAMS)?).map_err(|_| Error::new(CKR_KEY_TYPE_INCONSISTENT))
}

/// The raw point of an EC public key (`CKA_EC_POINT` is a DER OCTET STRING; raw is accepted).
fn ec_point(curve: Curve, key: &Attributes) -> Result<Vec<u8>> {
    ec::validate_point(curve, need(key, CKA_EC_POINT)?)
        .map_err(|_| Error::new(CKR_KEY_TYPE_INCONSISTENT))
}

/// The engine's EC private key, parsed once per object.
pub(super) fn ec_private(key: &Attributes) -> Result<Arc<EcPrivate>> {
    let curve = nist(key, CKO_PRIVATE_KEY)?;
    key.prepared(|key| {
        EcPrivate::new(curve, need(key, CKA_VALUE)?)
            .map_err(|_| Error::new(CKR_KEY_TYPE_INCONSISTENT))
    })
}

/// The engine's EC public key, parsed and checked once per object.
pub(super) fn ec_public(key: &Attributes) -> Result<Arc<EcPublic>> {
    let curve = nist(key, CKO_PUBLIC_KEY)?;
    key.prepared(|key| {
        let point = ec_point(curve, key)?;
        EcPublic::new(curve, &point).map_err(|_| Error::new(CKR_KEY_TYPE_INCONSISTENT))
    })
}

/// A Weierstrass-curve EC key of `class`: its curve.
pub(super) fn nist(key: &Attributes, class: CK_OBJECT_CLASS) -> Result<Curve> {
    if key.class() != Some(class) || key.key_type() != Some(CKK_EC) {
        return inconsistent();
    }
    match ec_params(key)? {
        EcParams::Nist(c) => Ok(c),
        _ => inconsistent(),
    }
}

/// An Edwards-curve key of `class`: its curve.
pub(super) fn edwards(key: &Attributes, class: CK_OBJECT_CLASS) -> Result<Edwards> {
    if key.class() != Some(class) || key.key_type() != Some(CKK_EC_EDWARDS) {
        return inconsistent();
    }
    ec_params(key)?
        .edwards()
        .ok_or(Error::new(CKR_KEY_TYPE_INCONSISTENT))
}

/// A Montgomery-curve key of `class`: its curve.
pub(super) fn montgomery(key: &Attributes, class: CK_OBJECT_CLASS) -> Result<Montgomery> {
    if key.class() != Some(class) || key.key_type() != Some(CKK_EC_MONTGOMERY) {
        return inconsistent();
    }
    ec_params(key)?
        .montgomery()
        .ok_or(Error::new(CKR_KEY_TYPE_INCONSISTENT))
}

/// The raw bytes of an Edwards public key (of the curve its `CKA_EC_PARAMS` names), checked.
/// Stored as a DER OCTET STRING; raw bytes are accepted too.
pub(super) fn ed_public(key: &Attributes) -> Result<Vec<u8>> {
    let p = need(key, CKA_EC_POINT)?;
    let curve = ec_params(key)?
        .edwards()
        .ok_or(Error::new(CKR_KEY_TYPE_INCONSISTENT))?;
    match curve {
        Edwards::Ed25519 => ec::ed25519_validate_public(p),
        Edwards::Ed448 => ec::ed448_validate_public(p),
    }
    .map_err(|_| Error::new(CKR_KEY_TYPE_INCONSISTENT))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::attr::{AttrValue, Attribute};

    fn ec_key(d: &[u8]) -> Attributes {
        [
            Attribute::ulong(CKA_CLASS, CKO_PRIVATE_KEY),
            Attribute::ulong(CKA_KEY_TYPE, CKK_EC),
            Attribute::bytes(CKA_EC_PARAMS, Curve::P256.oid_der()),
            Attribute::bytes(CKA_VALUE, d),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn an_objects_engine_key_is_prepared_once_and_follows_changes() -> Result<()> {
        let (d, _) = ec::generate(Curve::P256)?;
        let (d2, _) = ec::generate(Curve::P256)?;
        let mut a = ec_key(&d);
        let first = ec_private(&a)?;
        let op_copy = a.clone();
        assert!(Arc::ptr_eq(&first, &ec_private(&op_copy)?), "parsed again");
        // Another object of the same type is another key.
        let b = ec_key(&d2);
        assert!(!Arc::ptr_eq(&first, &ec_private(&b)?));
        assert_ne!(first.public_point()?, ec_private(&b)?.public_point()?);
        // A change gives a fresh key; the operation's copy keeps the one it started with.
        a.set(CKA_VALUE, AttrValue::Bytes(d2.to_vec()));
        let changed = ec_private(&a)?;
        assert!(!Arc::ptr_eq(&first, &changed));
        assert_eq!(changed.public_point()?, ec_private(&b)?.public_point()?);
        assert!(Arc::ptr_eq(&first, &ec_private(&op_copy)?));
        // A check that fails is not cached as a success.
        a.set(CKA_CLASS, AttrValue::Ulong(CKO_PUBLIC_KEY));
        assert_eq!(
            ec_private(&a).map(|_| ()).map_err(|e| e.rv()),
            Err(CKR_KEY_TYPE_INCONSISTENT)
        );
        Ok(())
    }
}
