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
