//! The builders' facade: the operation objects of [`super::ops`] for a typed mechanism and a
//! key's attributes, from the family that owns the mechanism (Current Mechanisms spec, per
//! mechanism), and the key-management jobs of their own files re-exported under one path.
//! Mechanism code is the only code that calls the engine (`crate::crypto`).

use super::ops::{Accumulate, Check, Cipher};
use super::{families, Mechanism};
use crate::error::{fail, Result};
use crate::object::attr::Attributes;
use cryptoki_sys::*;
use zeroize::Zeroizing;

pub use super::generate::{
    check_value, generate_pair, generated_secret, random_key, set_key_parity, PairMaterial,
};
pub use super::import::validate_import;
pub use super::keys::aes_key;
pub use super::mac::restore_digester;
pub use super::pubkey::public_of;
pub use super::rsa::{sign_recoverer, verify_recoverer};
pub use super::sp800_108::{derive_keys as sp800_108_derive, Kbkdf};
pub use super::spki::public_key_info;
pub use super::wrap::{key_bytes_for_wrap, key_from_bytes, private_key_type, unwrap, wrap};

/// The first family that builds `mech`, else `CKR_MECHANISM_INVALID`.
fn first<T>(build: impl FnMut(&'static dyn super::Family) -> Option<Result<T>>) -> Result<T> {
    families()
        .find_map(build)
        .unwrap_or_else(|| fail(CKR_MECHANISM_INVALID))
}

/// An encryption (`encrypt`) or decryption with this key.
pub fn cipher(mech: &Mechanism, key: &Attributes, encrypt: bool) -> Result<Box<dyn Cipher>> {
    first(|f| f.cipher(mech, key, encrypt))
}

/// A signature or MAC with this key.
pub fn signer(mech: &Mechanism, key: &Attributes) -> Result<Box<dyn Accumulate>> {
    first(|f| f.signer(mech, key))
}

/// A verification with this key.
pub fn verifier(mech: &Mechanism, key: &Attributes) -> Result<Box<dyn Check>> {
    first(|f| f.verifier(mech, key))
}

/// A digest.
pub fn digester(mech: &Mechanism) -> Result<Box<dyn Accumulate>> {
    first(|f| f.digester(mech))
}

/// Derive `len` bytes (when the mechanism needs a length) from the base key. `salt_key` is the
/// key object named by a mechanism parameter (HKDF's `hSaltKey` with `CKF_HKDF_SALT_KEY`), loaded
/// by the caller with the same checks as the base key.
pub fn derive(
    mech: &Mechanism,
    base: &Attributes,
    salt_key: Option<&Attributes>,
    len: Option<usize>,
) -> Result<Zeroizing<Vec<u8>>> {
    first(|f| f.derive(mech, base, salt_key, len))
}
