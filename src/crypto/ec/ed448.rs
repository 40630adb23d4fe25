//! Ed448 (RFC 8032 §5.2) keys and signatures: `CKM_EC_EDWARDS_KEY_PAIR_GEN` on id-Ed448 /
//! "edwards448" and `CKM_EDDSA` pure, with a context, and Ed448ph (Current Mechanisms v3.0
//! §2.3.12, §2.3.14), on `ed448-goldilocks` in both builds (aws-lc has no Ed448).

use super::*;
use ed448_goldilocks::{SigningKey, VerifyingKey};

/// Bytes of an Ed448 private key (RFC 8032's seed, `CKA_VALUE`) and of a public key.
pub const ED448_KEY_LEN: usize = 57;
pub const ED448_SIGNATURE_LEN: usize = 114;

fn signing_key(private: &[u8], rv: CK_RV) -> Result<SigningKey> {
    SigningKey::try_from(private).map_err(|_| Error::new(rv))
}

/// A new Ed448 key pair: the 57-byte private key and the 57-byte public key.
pub fn ed448_generate() -> Result<(Zeroizing<Vec<u8>>, Vec<u8>)> {
    let mut s = Zeroizing::new(vec![0u8; ED448_KEY_LEN]);
    crate::crypto::random_fill(&mut s)?;
    let public = ed448_public_from_private(&s)?;
    Ok((s, public))
}

/// The public key of a 57-byte private key (else `CKR_ATTRIBUTE_VALUE_INVALID`).
pub fn ed448_public_from_private(private: &[u8]) -> Result<Vec<u8>> {
    Ok(signing_key(private, CKR_ATTRIBUTE_VALUE_INVALID)?
        .verifying_key()
        .to_bytes()
        .to_vec())
}

/// Validate an Ed448 public key (raw 57 bytes or DER-wrapped): a point on the curve, not the
/// identity. Returns the raw bytes, else `CKR_ATTRIBUTE_VALUE_INVALID`.
pub fn ed448_validate_public(public: &[u8]) -> Result<Vec<u8>> {
    let raw = match der_octet_string(public) {
        Some(inner) if inner.len() == ED448_KEY_LEN => inner,
        _ => public,
    };
    let a: &[u8; ED448_KEY_LEN] = raw
        .try_into()
        .map_err(|_| Error::new(CKR_ATTRIBUTE_VALUE_INVALID))?;
    // The unused bits of the encoding must be zero, as in R (see [`Ed448Public::verify`]).
    if a[ED448_KEY_LEN - 1] & 0x7f != 0 {
        return Err(Error::new(CKR_ATTRIBUTE_VALUE_INVALID));
    }
    VerifyingKey::from_bytes(a).map_err(|_| Error::new(CKR_ATTRIBUTE_VALUE_INVALID))?;
    Ok(raw.to_vec())
}

/// Ed448ph's prehash, PH(M) = SHAKE256(M, 64) (RFC 8032 §5.2), handed to the crate.
struct Shake64([u8; 64]);

impl Shake64 {
    fn of(msg: &[u8]) -> Shake64 {
        use ed448_goldilocks::shake::{ExtendableOutput, Update, XofReader};
        let mut h = ed448_goldilocks::shake::Shake256::default();
        h.update(msg);
        let mut out = [0u8; 64];
        h.finalize_xof().read(&mut out);
        Shake64(out)
    }
}

impl ed448_goldilocks::PreHash for Shake64 {
    fn fill_bytes(&mut self, out: &mut [u8]) {
        for (o, b) in out.iter_mut().zip(self.0.iter()) {
            *o = *b;
        }
    }
}

/// A context over 255 bytes is a bad `CK_EDDSA_PARAMS`.
fn context_ok(c: &[u8]) -> Result<()> {
    if c.len() > 255 {
        return Err(Error::new(CKR_MECHANISM_PARAM_INVALID));
    }
    Ok(())
}

/// An Ed448 private key parsed once (the seed expanded with SHAKE256, the public key computed).
/// `Send + Sync`, used through `&self`.
#[derive(Clone)]
pub struct Ed448Private(SigningKey);

impl std::fmt::Debug for Ed448Private {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ed448Private(..)")
    }
}

impl Ed448Private {
    /// The 57-byte private key (`CKA_VALUE`); any other length is `CKR_KEY_TYPE_INCONSISTENT`.
    pub fn new(private: &[u8]) -> Result<Self> {
        signing_key(private, CKR_KEY_TYPE_INCONSISTENT).map(Ed448Private)
    }

    /// The 57-byte public key.
    pub fn public_key(&self) -> Vec<u8> {
        self.0.verifying_key().to_bytes().to_vec()
    }

    /// Ed448 (pure: an empty context), Ed448 with a context, or Ed448ph, of `msg`.
    pub fn sign(&self, variant: EdVariant<'_>, msg: &[u8]) -> Result<Vec<u8>> {
        let sig = match variant {
            EdVariant::Pure => self.0.sign_ctx(&[], msg),
            EdVariant::Context(c) => {
                context_ok(c)?;
                self.0.sign_ctx(c, msg)
            }
            EdVariant::Prehash(c) => {
                context_ok(c)?;
                self.0.sign_prehashed(Some(c), Shake64::of(msg))
            }
        }
        .map_err(|_| Error::new(CKR_MECHANISM_PARAM_INVALID))?;
        Ok(sig.to_bytes().to_vec())
    }
}

/// An Ed448 public key parsed (decompressed and checked) once. `Send + Sync`.
#[derive(Clone)]
pub struct Ed448Public(VerifyingKey);

impl std::fmt::Debug for Ed448Public {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ed448Public(..)")
    }
}

impl Ed448Public {
    /// Raw 57 bytes or DER-wrapped (`CKA_EC_POINT`); not a point on the curve is
    /// `CKR_KEY_TYPE_INCONSISTENT`.
    pub fn new(public: &[u8]) -> Result<Self> {
        let inconsistent = |_| Error::new(CKR_KEY_TYPE_INCONSISTENT);
        let raw = ed448_validate_public(public).map_err(inconsistent)?;
        let a: &[u8; ED448_KEY_LEN] = raw
            .as_slice()
            .try_into()
            .map_err(|_| Error::new(CKR_KEY_TYPE_INCONSISTENT))?;
        VerifyingKey::from_bytes(a)
            .map(Ed448Public)
            .map_err(|_| Error::new(CKR_KEY_TYPE_INCONSISTENT))
    }

    /// Verification of any of the three variants; `CKR_SIGNATURE_LEN_RANGE` unless the
    /// signature has 114 bytes. The crate checks that S is below the group order.
    pub fn verify(&self, variant: EdVariant<'_>, msg: &[u8], signature: &[u8]) -> Result<()> {
        if signature.len() != ED448_SIGNATURE_LEN {
            return Err(Error::new(CKR_SIGNATURE_LEN_RANGE));
        }
        // Bits 448-454 of R's encoding are unused and must be zero (RFC 8032 §5.2.2); the crate
        // ignores them, which would accept altered signatures (Wycheproof Ed448 #63-65).
        if signature
            .get(ED448_KEY_LEN - 1)
            .is_none_or(|b| b & 0x7f != 0)
        {
            return Err(Error::new(CKR_SIGNATURE_INVALID));
        }
        let sig = ed448_goldilocks::Signature::try_from(signature)
            .map_err(|_| Error::new(CKR_SIGNATURE_INVALID))?;
        let r = match variant {
            EdVariant::Pure => self.0.verify_ctx(&sig, &[], msg),
            EdVariant::Context(c) => {
                context_ok(c)?;
                self.0.verify_ctx(&sig, c, msg)
            }
            EdVariant::Prehash(c) => {
                context_ok(c)?;
                self.0.verify_prehashed(&sig, Some(c), Shake64::of(msg))
            }
        };
        r.map_err(|_| Error::new(CKR_SIGNATURE_INVALID))
    }
}

/// Ed448 verification (see [`Ed448Public::verify`]); parses the key on every call.
pub fn ed448_verify(
    public: &[u8],
    variant: EdVariant<'_>,
    msg: &[u8],
    signature: &[u8],
) -> Result<()> {
    if signature.len() != ED448_SIGNATURE_LEN {
        return Err(Error::new(CKR_SIGNATURE_LEN_RANGE));
    }
    Ed448Public::new(public)?.verify(variant, msg, signature)
}
