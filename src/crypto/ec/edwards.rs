//! Ed25519 (RFC 8032) keys and pure signatures: `CKM_EC_EDWARDS_KEY_PAIR_GEN` and `CKM_EDDSA`
//! without parameters (Current Mechanisms v3.0 §2.3.12, §2.3.14), on `ed25519-dalek`.

use super::*;

// ---------------------------------------------------------------------------------------------
// Ed25519 (RFC 8032)

pub const ED25519_KEY_LEN: usize = 32;
pub const ED25519_SIGNATURE_LEN: usize = 64;

pub(super) fn seed(bytes: &[u8], rv: CK_RV) -> Result<ed25519_dalek::SigningKey> {
    let s: &[u8; ED25519_KEY_LEN] = bytes.try_into().map_err(|_| Error::new(rv))?;
    Ok(ed25519_dalek::SigningKey::from_bytes(s))
}

/// A new Ed25519 key pair: the 32-byte private key (RFC 8032's seed, `CKA_VALUE`) and the
/// 32-byte public key.
pub fn ed25519_generate() -> Result<(Zeroizing<Vec<u8>>, Vec<u8>)> {
    let mut s = Zeroizing::new([0u8; ED25519_KEY_LEN]);
    crate::crypto::random_fill(s.as_mut())?;
    let public = ed25519_public_from_private(s.as_ref())?;
    Ok((Zeroizing::new(s.to_vec()), public))
}

/// The public key of a 32-byte private key (else `CKR_ATTRIBUTE_VALUE_INVALID`).
pub fn ed25519_public_from_private(private: &[u8]) -> Result<Vec<u8>> {
    Ok(seed(private, CKR_ATTRIBUTE_VALUE_INVALID)?
        .verifying_key()
        .to_bytes()
        .to_vec())
}

/// Validate an Ed25519 public key (raw 32 bytes or DER-wrapped): a point on the curve.
pub fn ed25519_validate_public(public: &[u8]) -> Result<Vec<u8>> {
    let raw = match der_octet_string(public) {
        Some(inner) if inner.len() == ED25519_KEY_LEN => inner,
        _ => public,
    };
    let a: &[u8; ED25519_KEY_LEN] = raw
        .try_into()
        .map_err(|_| Error::new(CKR_ATTRIBUTE_VALUE_INVALID))?;
    ed25519_dalek::VerifyingKey::from_bytes(a)
        .map_err(|_| Error::new(CKR_ATTRIBUTE_VALUE_INVALID))?;
    Ok(raw.to_vec())
}

/// An Ed25519 private key parsed once: the seed expanded (SHA-512) and the public key computed
/// at construction, so a signature costs only the signing itself. `Send + Sync`, used through
/// `&self`; `ed25519-dalek` wipes it on drop.
#[derive(Clone)]
pub struct Ed25519Private(ed25519_dalek::SigningKey);

impl std::fmt::Debug for Ed25519Private {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ed25519Private(..)")
    }
}

impl Ed25519Private {
    /// The 32-byte private key (`CKA_VALUE`); any other length is `CKR_KEY_TYPE_INCONSISTENT`
    /// (a stored key found bad at use).
    pub fn new(private: &[u8]) -> Result<Self> {
        seed(private, CKR_KEY_TYPE_INCONSISTENT).map(Ed25519Private)
    }

    /// The 32-byte public key.
    pub fn public_key(&self) -> Vec<u8> {
        self.0.verifying_key().to_bytes().to_vec()
    }

    /// Pure Ed25519 signature (`CKM_EDDSA` without parameters).
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>> {
        use ed25519_dalek::Signer;
        let sig = self
            .0
            .try_sign(msg)
            .map_err(|_| Error::new(CKR_DEVICE_ERROR))?;
        Ok(sig.to_bytes().to_vec())
    }
}

/// An Ed25519 public key parsed (decompressed and checked) once. `Send + Sync`.
#[derive(Clone)]
pub struct Ed25519Public(ed25519_dalek::VerifyingKey);

impl std::fmt::Debug for Ed25519Public {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ed25519Public(..)")
    }
}

impl Ed25519Public {
    /// Raw 32 bytes or DER-wrapped (`CKA_EC_POINT`); not a point on the curve is
    /// `CKR_KEY_TYPE_INCONSISTENT` (a stored key found bad at use).
    pub fn new(public: &[u8]) -> Result<Self> {
        let raw =
            ed25519_validate_public(public).map_err(|_| Error::new(CKR_KEY_TYPE_INCONSISTENT))?;
        let a: &[u8; ED25519_KEY_LEN] = raw
            .as_slice()
            .try_into()
            .map_err(|_| Error::new(CKR_KEY_TYPE_INCONSISTENT))?;
        ed25519_dalek::VerifyingKey::from_bytes(a)
            .map(Ed25519Public)
            .map_err(|_| Error::new(CKR_KEY_TYPE_INCONSISTENT))
    }

    /// Pure Ed25519 verification with the strict checks of RFC 8032 §5.1.7 (canonical S, no
    /// small-order keys); `CKR_SIGNATURE_LEN_RANGE` unless the signature has 64 bytes.
    pub fn verify(&self, msg: &[u8], signature: &[u8]) -> Result<()> {
        let sig: &[u8; ED25519_SIGNATURE_LEN] = signature
            .try_into()
            .map_err(|_| Error::new(CKR_SIGNATURE_LEN_RANGE))?;
        self.0
            .verify_strict(msg, &ed25519_dalek::Signature::from_bytes(sig))
            .map_err(|_| Error::new(CKR_SIGNATURE_INVALID))
    }
}

/// Pure Ed25519 signature (`CKM_EDDSA` without parameters); parses the key on every call (see
/// [`Ed25519Private`] to parse once).
pub fn ed25519_sign(private: &[u8], msg: &[u8]) -> Result<Vec<u8>> {
    Ed25519Private::new(private)?.sign(msg)
}

/// Pure Ed25519 verification (see [`Ed25519Public::verify`]); parses the key on every call.
pub fn ed25519_verify(public: &[u8], msg: &[u8], signature: &[u8]) -> Result<()> {
    if signature.len() != ED25519_SIGNATURE_LEN {
        return Err(Error::new(CKR_SIGNATURE_LEN_RANGE));
    }
    Ed25519Public::new(public)?.verify(msg, signature)
}
