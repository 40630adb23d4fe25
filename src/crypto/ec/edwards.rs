//! Ed25519 (RFC 8032) keys and signatures: `CKM_EC_EDWARDS_KEY_PAIR_GEN` and `CKM_EDDSA` pure,
//! Ed25519ctx and Ed25519ph (Current Mechanisms v3.0 §2.3.12, §2.3.14 with `CK_EDDSA_PARAMS`),
//! on `ed25519-dalek` in both builds (the pure form was there first; one crate keeps the three
//! variants' key handling the same). Ed25519ctx, which `ed25519-dalek` lacks, is RFC 8032
//! §5.1.6-7 written over its expanded key and `curve25519-dalek`'s group operations.

use super::*;

/// Which EdDSA `CKM_EDDSA` computes (RFC 8032 §5.1 and §5.2), from its `CK_EDDSA_PARAMS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdVariant<'a> {
    /// No parameter: Ed25519, or Ed448 with an empty context.
    Pure,
    /// `phFlag` false with a context: Ed25519ctx, or Ed448 with this context.
    Context(&'a [u8]),
    /// `phFlag` true: Ed25519ph (SHA-512 of the message) or Ed448ph (SHAKE256, 64 bytes),
    /// with this (possibly empty) context.
    Prehash(&'a [u8]),
}

/// RFC 8032's `dom2(phflag, context)` of Ed25519ctx and Ed25519ph.
fn dom2(prehash: bool, context: &[u8]) -> Result<Vec<u8>> {
    let n = u8::try_from(context.len()).map_err(|_| Error::new(CKR_MECHANISM_PARAM_INVALID))?;
    let mut d = b"SigEd25519 no Ed25519 collisions".to_vec();
    d.extend_from_slice(&[u8::from(prehash), n]);
    d.extend_from_slice(context);
    Ok(d)
}

fn sha512_wide(parts: &[&[u8]]) -> curve25519_dalek::Scalar {
    use sha2::Digest;
    let mut h = sha2::Sha512::new();
    for p in parts {
        h.update(p);
    }
    let mut wide = [0u8; 64];
    wide.copy_from_slice(&h.finalize());
    let s = curve25519_dalek::Scalar::from_bytes_mod_order_wide(&wide);
    zeroize::Zeroize::zeroize(&mut wide);
    s
}

/// Ed25519ctx signature (RFC 8032 §5.1.6 with `dom2(0, context)`).
fn ctx_sign(key: &ed25519_dalek::SigningKey, context: &[u8], msg: &[u8]) -> Result<Vec<u8>> {
    use curve25519_dalek::EdwardsPoint;
    let dom = dom2(false, context)?;
    let esk = ed25519_dalek::hazmat::ExpandedSecretKey::from(key.as_bytes());
    let mut r = sha512_wide(&[&dom, &esk.hash_prefix, msg]);
    let big_r = EdwardsPoint::mul_base(&r).compress();
    let a = key.verifying_key();
    let k = sha512_wide(&[&dom, big_r.as_bytes(), a.as_bytes(), msg]);
    let s = k * esk.scalar + r;
    zeroize::Zeroize::zeroize(&mut r);
    let mut out = big_r.as_bytes().to_vec();
    out.extend_from_slice(s.as_bytes());
    Ok(out)
}

/// Ed25519ctx verification (RFC 8032 §5.1.7 with `dom2(0, context)`), as strict as
/// `verify_strict`: a canonical S, and neither the key nor R of small order.
fn ctx_verify(
    key: &ed25519_dalek::VerifyingKey,
    context: &[u8],
    msg: &[u8],
    sig: &[u8; ED25519_SIGNATURE_LEN],
) -> Result<()> {
    use curve25519_dalek::edwards::CompressedEdwardsY;
    use curve25519_dalek::{EdwardsPoint, Scalar};
    let invalid = || Error::new(CKR_SIGNATURE_INVALID);
    let dom = dom2(false, context)?;
    let (r_bytes, s_bytes) = sig.split_at(32);
    let r_bytes: [u8; 32] = r_bytes.try_into().map_err(|_| invalid())?;
    let s_bytes: [u8; 32] = s_bytes.try_into().map_err(|_| invalid())?;
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes)).ok_or_else(invalid)?;
    let big_r = CompressedEdwardsY(r_bytes)
        .decompress()
        .ok_or_else(invalid)?;
    let a = key.to_edwards();
    if a.is_small_order() || big_r.is_small_order() {
        return Err(invalid());
    }
    let k = sha512_wide(&[&dom, &r_bytes, key.as_bytes(), msg]);
    let check = EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &-a, &s).compress();
    if check.as_bytes() == &r_bytes {
        Ok(())
    } else {
        Err(invalid())
    }
}

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

    /// Ed25519, Ed25519ctx or Ed25519ph of `msg`. A context over 255 bytes is
    /// `CKR_MECHANISM_PARAM_INVALID`.
    pub fn sign_variant(&self, variant: EdVariant<'_>, msg: &[u8]) -> Result<Vec<u8>> {
        match variant {
            EdVariant::Pure => self.sign(msg),
            EdVariant::Context(c) => ctx_sign(&self.0, c, msg),
            EdVariant::Prehash(c) => {
                dom2(true, c)?;
                use sha2::Digest;
                let sig = self
                    .0
                    .sign_prehashed(sha2::Sha512::new().chain_update(msg), Some(c))
                    .map_err(|_| Error::new(CKR_MECHANISM_PARAM_INVALID))?;
                Ok(sig.to_bytes().to_vec())
            }
        }
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

    /// Verification of Ed25519, Ed25519ctx or Ed25519ph, with the strict checks of
    /// [`Ed25519Public::verify`].
    pub fn verify_variant(
        &self,
        variant: EdVariant<'_>,
        msg: &[u8],
        signature: &[u8],
    ) -> Result<()> {
        let sig: &[u8; ED25519_SIGNATURE_LEN] = signature
            .try_into()
            .map_err(|_| Error::new(CKR_SIGNATURE_LEN_RANGE))?;
        match variant {
            EdVariant::Pure => self.verify(msg, signature),
            EdVariant::Context(c) => ctx_verify(&self.0, c, msg, sig),
            EdVariant::Prehash(c) => {
                dom2(true, c)?;
                use sha2::Digest;
                self.0
                    .verify_prehashed_strict(
                        sha2::Sha512::new().chain_update(msg),
                        Some(c),
                        &ed25519_dalek::Signature::from_bytes(sig),
                    )
                    .map_err(|_| Error::new(CKR_SIGNATURE_INVALID))
            }
        }
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
