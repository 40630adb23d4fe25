//! Which engine call serves each mechanism: builds the operation objects of [`super::ops`] from a
//! typed mechanism and a key's attributes (Current Mechanisms spec, per mechanism).

use super::ops::{Accumulate, Check, Cipher};
use super::Mechanism;
use crate::error::{fail, Result};
use crate::object::attr::Attributes;
use cryptoki_sys::*;

/// An encryption (`encrypt`) or decryption with this key.
pub fn cipher(mech: &Mechanism, key: &Attributes, encrypt: bool) -> Result<Box<dyn Cipher>> {
    let _ = (mech, key, encrypt);
    fail(CKR_MECHANISM_INVALID)
}

/// A signature or MAC with this key.
pub fn signer(mech: &Mechanism, key: &Attributes) -> Result<Box<dyn Accumulate>> {
    let _ = (mech, key);
    fail(CKR_MECHANISM_INVALID)
}

/// A verification with this key.
pub fn verifier(mech: &Mechanism, key: &Attributes) -> Result<Box<dyn Check>> {
    let _ = (mech, key);
    fail(CKR_MECHANISM_INVALID)
}

/// A digest.
pub fn digester(mech: &Mechanism) -> Result<Box<dyn Accumulate>> {
    let _ = mech;
    fail(CKR_MECHANISM_INVALID)
}

/// Generated material of a key pair: attributes to add to each half.
#[derive(Debug, Default)]
pub struct PairMaterial {
    pub public: Vec<crate::object::attr::Attribute>,
    pub private: Vec<crate::object::attr::Attribute>,
}

/// A fresh random secret of `len` bytes.
pub fn random_key(len: usize) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    let mut v = zeroize::Zeroizing::new(vec![0u8; len]);
    crate::crypto::random_fill(&mut v)?;
    Ok(v)
}

/// `CKA_CHECK_VALUE` of an AES key: the first 3 bytes of the key's encryption of a zero block.
pub fn aes_check_value(key: &[u8]) -> Result<Vec<u8>> {
    let _ = key;
    fail(CKR_MECHANISM_INVALID)
}

/// Key material for a key-pair mechanism, from the public template (modulus bits, exponent,
/// curve parameters).
pub fn generate_pair(mech: &Mechanism, public: &Attributes) -> Result<PairMaterial> {
    let _ = (mech, public);
    fail(CKR_MECHANISM_INVALID)
}

/// The bytes a key is wrapped as: a secret key's value, a private key's PKCS#8 encoding.
pub fn key_bytes_for_wrap(key: &Attributes) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    match key.class() {
        Some(CKO_SECRET_KEY) => key
            .bytes(CKA_VALUE)
            .map(|v| zeroize::Zeroizing::new(v.to_vec()))
            .ok_or(crate::error::Error::new(CKR_KEY_NOT_WRAPPABLE)),
        _ => fail(CKR_KEY_NOT_WRAPPABLE),
    }
}

/// Wrap `bytes` under the wrapping key.
pub fn wrap(mech: &Mechanism, wrapping: &Attributes, bytes: &[u8]) -> Result<Vec<u8>> {
    let _ = (mech, wrapping, bytes);
    fail(CKR_MECHANISM_INVALID)
}

/// Unwrap to the key bytes.
pub fn unwrap(
    mech: &Mechanism,
    unwrapping: &Attributes,
    wrapped: &[u8],
) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    let _ = (mech, unwrapping, wrapped);
    fail(CKR_MECHANISM_INVALID)
}

/// The attributes an unwrapped key gets from its bytes: a secret key's `CKA_VALUE`, a private
/// key's components parsed from PKCS#8.
pub fn key_from_bytes(
    class: CK_OBJECT_CLASS,
    key_type: CK_KEY_TYPE,
    bytes: &[u8],
) -> Result<Vec<crate::object::attr::Attribute>> {
    let _ = key_type;
    match class {
        CKO_SECRET_KEY => Ok(vec![crate::object::attr::Attribute::bytes(
            CKA_VALUE,
            bytes.to_vec(),
        )]),
        _ => fail(CKR_WRAPPED_KEY_INVALID),
    }
}

/// Derive `len` bytes (when the mechanism needs a length) from the base key.
pub fn derive(
    mech: &Mechanism,
    base: &Attributes,
    len: Option<usize>,
) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    let _ = (mech, base, len);
    fail(CKR_MECHANISM_INVALID)
}
