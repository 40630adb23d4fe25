//! Weierstrass-curve keys parsed once ([`EcPrivate`], [`EcPublic`]), with ECDSA over a hash of
//! any length (`CKM_ECDSA`, `CKM_ECDSA_SHA*`), ECDH (`CKM_ECDH1_DERIVE`), key generation
//! (`CKM_EC_KEY_PAIR_GEN`) and the PKCS#8 form of a private key (Current Mechanisms v3.0 §2.3).
//! Each key runs on aws-lc when the build has it and aws-lc has the curve, else on the
//! RustCrypto crate ([`Curve::in_awslc`]).

use super::rustcrypto::*;
use super::*;

// ---------------------------------------------------------------------------------------------
// The aws-lc implementation (the default build).

/// aws-lc's NID of a curve it has; `None` sends the curve to the RustCrypto engine.
#[cfg(feature = "aws-lc")]
fn lc_nid(curve: Curve) -> Option<std::ffi::c_int> {
    Some(match curve {
        Curve::P256 => awslc::NID_P256,
        Curve::P384 => awslc::NID_P384,
        Curve::P521 => awslc::NID_P521,
        Curve::P224 => aws_lc_sys::NID_secp224r1,
        Curve::Secp256k1 => aws_lc_sys::NID_secp256k1,
        Curve::P192 | Curve::BrainpoolP256r1 | Curve::BrainpoolP384r1 => return None,
    })
}

/// A public key from a SEC 1 point in one of the two forms PKCS#11 uses (uncompressed, or
/// compressed); aws-lc checks that it is on the curve.
#[cfg(feature = "aws-lc")]
pub(super) fn lc_public(curve: Curve, nid: std::ffi::c_int, p: &[u8]) -> Option<awslc::EcKey> {
    let form_ok = match p.first() {
        Some(4) => p.len() == curve.point_len(),
        Some(2 | 3) => p.len() == 1 + curve.field_len(),
        _ => false,
    };
    if !form_ok {
        return None;
    }
    awslc::EcKey::from_public(nid, p)
}

/// The engine holding a public key.
#[derive(Clone)]
enum PublicEngine {
    #[cfg(feature = "aws-lc")]
    Lc(awslc::EcKey),
    Rc(RcPublic),
}

/// The engine holding a private key; both wipe it on drop.
#[derive(Clone)]
enum SecretEngine {
    #[cfg(feature = "aws-lc")]
    Lc(awslc::EcKey),
    Rc(RcSecret),
}

// ---------------------------------------------------------------------------------------------
// Parsed keys

/// A Weierstrass-curve public key, parsed and checked once (on the curve, not the identity);
/// keep it to verify many signatures without parsing the point again.
#[derive(Clone)]
pub struct EcPublic {
    curve: Curve,
    /// Uncompressed.
    point: Vec<u8>,
    key: PublicEngine,
}

impl std::fmt::Debug for EcPublic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EcPublic({:?})", self.curve)
    }
}

impl EcPublic {
    /// `point`: compressed or uncompressed SEC 1, raw or inside a DER OCTET STRING (as
    /// `CKA_EC_POINT`). A point that is not on the curve is `CKR_KEY_TYPE_INCONSISTENT` (a
    /// stored key found bad at use).
    pub fn new(curve: Curve, point: &[u8]) -> Result<Self> {
        EcPublic::parse(curve, point, CKR_KEY_TYPE_INCONSISTENT)
    }

    pub(super) fn parse(curve: Curve, point: &[u8], rv: CK_RV) -> Result<Self> {
        #[cfg(feature = "aws-lc")]
        if let Some(nid) = lc_nid(curve) {
            let key = parse_wrapped(point, |p| lc_public(curve, nid, p)).ok_or(Error::new(rv))?;
            let point = key.public_point().ok_or(Error::new(rv))?;
            return Ok(EcPublic {
                curve,
                point,
                key: PublicEngine::Lc(key),
            });
        }
        let key = parse_wrapped(point, |p| RcPublic::decode(curve, p)).ok_or(Error::new(rv))?;
        Ok(EcPublic {
            curve,
            point: key.point(),
            key: PublicEngine::Rc(key),
        })
    }

    pub fn curve(&self) -> Curve {
        self.curve
    }

    /// The uncompressed point.
    pub fn point(&self) -> &[u8] {
        &self.point
    }

    /// ECDSA verification of `signature` (`r || s`) over a hash of any length.
    /// `CKR_SIGNATURE_LEN_RANGE` for a signature that is not `signature_len()` bytes.
    pub fn verify_prehash(&self, hash: &[u8], signature: &[u8]) -> Result<()> {
        if signature.len() != self.curve.signature_len() {
            return Err(Error::new(CKR_SIGNATURE_LEN_RANGE));
        }
        if hash.is_empty() {
            return Err(Error::new(CKR_DATA_LEN_RANGE));
        }
        match &self.key {
            #[cfg(feature = "aws-lc")]
            PublicEngine::Lc(key) => {
                let (r, s) = signature.split_at(self.curve.field_len());
                if key.verify_digest(hash, r, s) {
                    Ok(())
                } else {
                    Err(Error::new(CKR_SIGNATURE_INVALID))
                }
            }
            PublicEngine::Rc(key) => key.verify(self.curve, hash, signature),
        }
    }
}

/// A Weierstrass-curve private key, parsed and checked once (a scalar in 1..n-1); keep it to
/// sign or derive many times without parsing the scalar again. The engine wipes it on drop.
#[derive(Clone)]
pub struct EcPrivate {
    curve: Curve,
    key: SecretEngine,
}

impl std::fmt::Debug for EcPrivate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EcPrivate({:?})", self.curve)
    }
}

impl EcPrivate {
    /// The private scalar `d` (`CKA_VALUE`: big-endian, leading zeros allowed); outside
    /// 1..n-1 it is `CKR_KEY_TYPE_INCONSISTENT` (a stored key found bad at use).
    pub fn new(curve: Curve, d: &[u8]) -> Result<Self> {
        EcPrivate::parse(curve, d, CKR_KEY_TYPE_INCONSISTENT)
    }

    pub(super) fn parse(curve: Curve, d: &[u8], rv: CK_RV) -> Result<Self> {
        let d = scalar_bytes(curve, d).ok_or(Error::new(rv))?;
        #[cfg(feature = "aws-lc")]
        if let Some(nid) = lc_nid(curve) {
            let key = awslc::EcKey::from_private(nid, &d).ok_or(Error::new(rv))?;
            return Ok(EcPrivate {
                curve,
                key: SecretEngine::Lc(key),
            });
        }
        let key = RcSecret::new(curve, &d, rv)?;
        Ok(EcPrivate {
            curve,
            key: SecretEngine::Rc(key),
        })
    }

    pub fn curve(&self) -> Curve {
        self.curve
    }

    /// The uncompressed public point.
    pub fn public_point(&self) -> Result<Vec<u8>> {
        match &self.key {
            #[cfg(feature = "aws-lc")]
            SecretEngine::Lc(key) => key
                .public_point()
                .ok_or_else(|| Error::device("EC public point unavailable")),
            SecretEngine::Rc(key) => Ok(key.public().point()),
        }
    }

    /// ECDSA signature of a caller-computed hash of any length (`CKM_ECDSA`), as `r || s`.
    /// aws-lc draws the nonce at random, hedged with a hash of the key and the digest; the
    /// RustCrypto engine uses RFC 6979's nonce, hedged with fresh randomness.
    pub fn sign_prehash(&self, hash: &[u8]) -> Result<Vec<u8>> {
        if hash.is_empty() {
            return Err(Error::new(CKR_DATA_LEN_RANGE));
        }
        match &self.key {
            #[cfg(feature = "aws-lc")]
            SecretEngine::Lc(key) => key
                .sign_digest(hash, self.curve.field_len())
                .ok_or_else(|| Error::device("ECDSA signature failed")),
            SecretEngine::Rc(key) => {
                let mut extra = [0u8; 32];
                crate::crypto::random_fill(&mut extra)?;
                key.sign(self.curve, hash, &extra)
            }
        }
    }

    /// ECDH (`CKM_ECDH1_DERIVE`; every curve here has cofactor 1, so
    /// `CKM_ECDH1_COFACTOR_DERIVE` is the same computation): the x coordinate of
    /// `d * peer`, `field_len()` bytes. A bad peer point is `CKR_MECHANISM_PARAM_INVALID`.
    pub fn derive(&self, peer_point: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let peer = EcPublic::parse(self.curve, peer_point, CKR_MECHANISM_PARAM_INVALID)?;
        self.derive_with(&peer)
    }

    pub(super) fn derive_with(&self, peer: &EcPublic) -> Result<Zeroizing<Vec<u8>>> {
        match (&self.key, &peer.key) {
            #[cfg(feature = "aws-lc")]
            (SecretEngine::Lc(key), PublicEngine::Lc(p)) => key
                .ecdh(p, self.curve.field_len())
                .ok_or_else(|| Error::device("ECDH failed")),
            (SecretEngine::Rc(key), PublicEngine::Rc(p)) => key.derive(p),
            // Both come from the curve's one engine; a mix means a peer of another curve.
            #[allow(unreachable_patterns)]
            _ => Err(Error::new(CKR_MECHANISM_PARAM_INVALID)),
        }
    }
}

/// Validate a public point for import (`CKA_EC_POINT`, raw or DER-wrapped, compressed or not):
/// the uncompressed encoding, or `CKR_ATTRIBUTE_VALUE_INVALID`.
pub fn validate_point(curve: Curve, point: &[u8]) -> Result<Vec<u8>> {
    EcPublic::parse(curve, point, CKR_ATTRIBUTE_VALUE_INVALID).map(|k| k.point)
}

/// The public point of private scalar `d` (1..n-1, else `CKR_ATTRIBUTE_VALUE_INVALID`).
pub fn public_from_private(curve: Curve, d: &[u8]) -> Result<Vec<u8>> {
    let k = EcPrivate::parse(curve, d, CKR_ATTRIBUTE_VALUE_INVALID)?;
    k.public_point()
}

/// A new key pair: the private scalar (`field_len()` bytes) and the uncompressed point.
pub fn generate(curve: Curve) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>)> {
    #[cfg(feature = "aws-lc")]
    if let Some(nid) = lc_nid(curve) {
        let k =
            awslc::EcKey::generate(nid).ok_or_else(|| Error::device("EC key generation failed"))?;
        let d = k.private_bytes(curve.field_len());
        let p = k.public_point();
        return d
            .zip(p)
            .ok_or_else(|| Error::device("EC key generation failed"));
    }
    {
        let n = curve.field_len();
        // P-521 scalars have 521 bits: masking the top byte makes almost every draw valid.
        let top_mask: u8 = if curve == Curve::P521 { 0x01 } else { 0xff };
        for _ in 0..64 {
            let mut d = Zeroizing::new(vec![0u8; n]);
            crate::crypto::random_fill(&mut d)?;
            if let Some(b) = d.first_mut() {
                *b &= top_mask;
            }
            if let Ok(point) = rc_public(curve, &d, CKR_ATTRIBUTE_VALUE_INVALID) {
                return Ok((d, point));
            }
        }
        Err(Error::device("EC key generation drew 64 invalid scalars"))
    }
}

pub fn sign_prehash(curve: Curve, d: &[u8], hash: &[u8]) -> Result<Vec<u8>> {
    ecdsa_input(curve, hash)?;
    EcPrivate::new(curve, d)?.sign_prehash(hash)
}

/// ECDSA verification of `signature` (`r || s`) over a hash of any length; parses the point on
/// every call (see [`EcPublic`] to parse once). `CKR_SIGNATURE_LEN_RANGE` for a signature that
/// is not `signature_len()` bytes.
pub fn verify_prehash(curve: Curve, point: &[u8], hash: &[u8], signature: &[u8]) -> Result<()> {
    if signature.len() != curve.signature_len() {
        return Err(Error::new(CKR_SIGNATURE_LEN_RANGE));
    }
    ecdsa_input(curve, hash)?;
    EcPublic::new(curve, point)?.verify_prehash(hash, signature)
}

/// ECDH (see [`EcPrivate::derive`]); parses `d` on every call.
pub fn derive(curve: Curve, d: &[u8], peer_point: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let peer = EcPublic::parse(curve, peer_point, CKR_MECHANISM_PARAM_INVALID)?;
    EcPrivate::new(curve, d)?.derive_with(&peer)
}

/// The PKCS#8 `PrivateKeyInfo` of private scalar `d` (`CKR_KEY_TYPE_INCONSISTENT` when it is not
/// one): id-ecPublicKey with the namedCurve OID, and inside it the SEC 1 `ECPrivateKey`
/// (RFC 5915, version 1) with the scalar and the uncompressed public key. The curve is named in
/// the AlgorithmIdentifier only, as OpenSSL writes PKCS#8.
pub fn private_to_pkcs8(curve: Curve, d: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    use elliptic_curve::pkcs8::EncodePrivateKey;
    with_curve!(curve, C => {
        let sk = secret::<C>(curve, d, CKR_KEY_TYPE_INCONSISTENT)?;
        let doc = sk
            .to_pkcs8_der()
            .map_err(|e| Error::device(format_args!("PKCS#8 encoding failed: {e}")))?;
        Ok(doc.to_bytes())
    })
}

/// The private scalar (`field_len()` bytes) of a PKCS#8 `PrivateKeyInfo` for `curve`: the
/// algorithm and curve must match, the scalar must be in 1..n-1, and an included public key
/// (or curve in the `ECPrivateKey`) must be this key's. Anything else is
/// `CKR_WRAPPED_KEY_INVALID`.
pub fn private_from_pkcs8(curve: Curve, der: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    use elliptic_curve::pkcs8::DecodePrivateKey;
    with_curve!(curve, C => {
        let sk = SecretKey::<C>::from_pkcs8_der(der)
            .map_err(|_| Error::new(CKR_WRAPPED_KEY_INVALID))?;
        let mut b = sk.to_bytes();
        let out = Zeroizing::new(b.to_vec());
        zeroize::Zeroize::zeroize(b.as_mut_slice());
        Ok(out)
    })
}
