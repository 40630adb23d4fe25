//! X25519 and X448 (RFC 7748): `CKM_EC_MONTGOMERY_KEY_PAIR_GEN` and `CKM_ECDH1_DERIVE` on
//! `CKK_EC_MONTGOMERY` keys (Current Mechanisms v3.0 §2.3.7, §2.3.21). X25519 runs on aws-lc in
//! the default build and on `x25519-dalek` in the RustCrypto one; X448, which aws-lc lacks, on
//! the `x448` crate in both.
//!
//! A private key (`CKA_VALUE`) is RFC 7748's k, little-endian, as given (the function clamps
//! it); a public key is the u-coordinate, little-endian. A shared secret of all zeros (a peer
//! point of small order, RFC 7748 §6) is refused as a bad peer key.

use super::*;

impl Montgomery {
    /// Bytes of a key and of a shared secret (32, 56).
    pub const fn key_len(self) -> usize {
        match self {
            Montgomery::X25519 => 32,
            Montgomery::X448 => 56,
        }
    }

    /// Bits of the curve, what `C_GetMechanismInfo` key sizes count (255, 448).
    pub const fn bits(self) -> usize {
        match self {
            Montgomery::X25519 => 255,
            Montgomery::X448 => 448,
        }
    }
}

/// The raw key of `bytes`: raw, or inside a DER OCTET STRING (as `CKA_EC_POINT` may store it).
fn raw_key(curve: Montgomery, bytes: &[u8]) -> Option<&[u8]> {
    if bytes.len() == curve.key_len() {
        return Some(bytes);
    }
    der_octet_string(bytes).filter(|b| b.len() == curve.key_len())
}

/// X25519 or X448 of scalar `k` and u-coordinate `u` (both already `key_len` bytes); `None` for
/// an all-zero result.
fn x(curve: Montgomery, k: &[u8], u: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let out = match curve {
        Montgomery::X25519 => x25519(k, u)?,
        Montgomery::X448 => {
            let k: [u8; 56] = k.try_into().ok()?;
            let u: [u8; 56] = u.try_into().ok()?;
            let k = Zeroizing::new(k);
            // The crate refuses the low-order u values itself.
            Zeroizing::new(x448::x448(*k, u)?.to_vec())
        }
    };
    if out.iter().all(|b| *b == 0) {
        return None;
    }
    Some(out)
}

#[cfg(feature = "aws-lc")]
fn x25519(k: &[u8], u: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    use aws_lc_rs::agreement::{self, PrivateKey, UnparsedPublicKey};
    // aws-lc's per-thread state must not outlive the module: the set-up pins the library.
    crate::crypto::awslc::setup();
    let sk = PrivateKey::from_private_key(&agreement::X25519, k).ok()?;
    agreement::agree(
        &sk,
        UnparsedPublicKey::new(&agreement::X25519, u),
        (),
        |z| Ok(Zeroizing::new(z.to_vec())),
    )
    .ok()
}

#[cfg(not(feature = "aws-lc"))]
fn x25519(k: &[u8], u: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let k: [u8; 32] = k.try_into().ok()?;
    let k = Zeroizing::new(k);
    let u: [u8; 32] = u.try_into().ok()?;
    Some(Zeroizing::new(x25519_dalek::x25519(*k, u).to_vec()))
}

/// The base point's u-coordinate (9 for X25519, 5 for X448).
fn base(curve: Montgomery) -> Vec<u8> {
    let mut u = vec![0u8; curve.key_len()];
    if let Some(b) = u.first_mut() {
        *b = if curve == Montgomery::X25519 { 9 } else { 5 };
    }
    u
}

/// The public key (u-coordinate) of private key `k` (`key_len` bytes, else
/// `CKR_ATTRIBUTE_VALUE_INVALID`).
pub fn montgomery_public_from_private(curve: Montgomery, k: &[u8]) -> Result<Vec<u8>> {
    if k.len() != curve.key_len() {
        return Err(Error::new(CKR_ATTRIBUTE_VALUE_INVALID));
    }
    x(curve, k, &base(curve))
        .map(|p| p.to_vec())
        .ok_or(Error::new(CKR_ATTRIBUTE_VALUE_INVALID))
}

/// A new key pair: the private key and the public key, `key_len` bytes each.
pub fn montgomery_generate(curve: Montgomery) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>)> {
    let mut k = Zeroizing::new(vec![0u8; curve.key_len()]);
    crate::crypto::random_fill(&mut k)?;
    let public = montgomery_public_from_private(curve, &k)?;
    Ok((k, public))
}

/// Validate a public key for import (raw or DER-wrapped): `key_len` bytes, not of small order
/// (a u whose product with a clamped scalar is zero). Returns the raw bytes, else
/// `CKR_ATTRIBUTE_VALUE_INVALID`.
pub fn montgomery_validate_public(curve: Montgomery, public: &[u8]) -> Result<Vec<u8>> {
    let raw = raw_key(curve, public).ok_or(Error::new(CKR_ATTRIBUTE_VALUE_INVALID))?;
    // Any clamped scalar is a multiple of the cofactor: a zero product means small order.
    let mut probe = base(curve);
    if let Some(b) = probe.first_mut() {
        *b = 8;
    }
    x(curve, &probe, raw).ok_or(Error::new(CKR_ATTRIBUTE_VALUE_INVALID))?;
    Ok(raw.to_vec())
}

/// `CKM_ECDH1_DERIVE` on a Montgomery key: X25519/X448 of private key `k` (`CKA_VALUE`) and
/// the peer's public key (raw or DER-wrapped), `key_len` bytes. A private key of the wrong
/// length is `CKR_KEY_TYPE_INCONSISTENT`; a bad or small-order peer key
/// `CKR_MECHANISM_PARAM_INVALID`.
pub fn montgomery_derive(curve: Montgomery, k: &[u8], peer: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    if k.len() != curve.key_len() {
        return Err(Error::new(CKR_KEY_TYPE_INCONSISTENT));
    }
    let u = raw_key(curve, peer).ok_or(Error::new(CKR_MECHANISM_PARAM_INVALID))?;
    x(curve, k, u).ok_or(Error::new(CKR_MECHANISM_PARAM_INVALID))
}
