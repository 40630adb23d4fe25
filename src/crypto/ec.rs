//! Elliptic curves: P-256, P-384 and P-521 key generation, point validation, ECDSA over a hash
//! of any length and ECDH; Ed25519 keys and signatures; the `CKA_EC_PARAMS` and `CKA_EC_POINT`
//! encodings. Serves `CKM_EC_KEY_PAIR_GEN`, `CKM_ECDSA`, `CKM_ECDSA_SHA*`, `CKM_ECDH1_DERIVE`,
//! `CKM_ECDH1_COFACTOR_DERIVE`, `CKM_EC_EDWARDS_KEY_PAIR_GEN` and `CKM_EDDSA` (Current Mechanisms
//! v3.0 §2.3 Elliptic Curve).
//!
//! Signatures are PKCS#11's raw `r || s`, each half `field_len()` bytes. Key material errors:
//! importing (`public_from_private`, `validate_point`) reports `CKR_ATTRIBUTE_VALUE_INVALID`;
//! a stored key that turns out bad at use reports `CKR_KEY_TYPE_INCONSISTENT`; a bad peer point
//! in ECDH (a mechanism parameter) reports `CKR_MECHANISM_PARAM_INVALID`.

#[cfg(feature = "aws-lc")]
use super::awslc;
use crate::error::{Error, Result};
use cryptoki_sys::{
    CKR_ATTRIBUTE_VALUE_INVALID, CKR_CURVE_NOT_SUPPORTED, CKR_DATA_LEN_RANGE, CKR_DEVICE_ERROR,
    CKR_KEY_TYPE_INCONSISTENT, CKR_MECHANISM_PARAM_INVALID, CKR_SIGNATURE_INVALID,
    CKR_SIGNATURE_LEN_RANGE, CKR_WRAPPED_KEY_INVALID, CK_RV,
};
use elliptic_curve::sec1::ToSec1Point;
use elliptic_curve::{PublicKey, SecretKey};
use zeroize::Zeroizing;

/// A NIST prime curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Curve {
    P256,
    P384,
    P521,
}

const P256_OID: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const P384_OID: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
const P521_OID: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];
/// id-Ed25519, 1.3.101.112 (RFC 8410).
pub const ED25519_OID_DER: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
/// `PrintableString "edwards25519"`, the curve-name form PKCS#11 v3.0 §2.3.3 also allows.
pub const ED25519_NAME_DER: &[u8] = b"\x13\x0cedwards25519";

impl Curve {
    pub const ALL: [Curve; 3] = [Curve::P256, Curve::P384, Curve::P521];

    /// `CKA_EC_PARAMS` holding a named-curve OID; other curves are `CKR_CURVE_NOT_SUPPORTED`.
    pub fn from_oid_der(params: &[u8]) -> Result<Curve> {
        Curve::ALL
            .into_iter()
            .find(|c| c.oid_der() == params)
            .ok_or(Error::new(CKR_CURVE_NOT_SUPPORTED))
    }

    /// The DER of the curve's OID, as `CKA_EC_PARAMS` stores it.
    pub const fn oid_der(self) -> &'static [u8] {
        match self {
            Curve::P256 => P256_OID,
            Curve::P384 => P384_OID,
            Curve::P521 => P521_OID,
        }
    }

    /// Bytes of a field element or scalar (32, 48, 66).
    pub const fn field_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    /// Bits of the group order, what `C_GetMechanismInfo` key sizes count (256, 384, 521).
    pub const fn order_bits(self) -> usize {
        match self {
            Curve::P256 => 256,
            Curve::P384 => 384,
            Curve::P521 => 521,
        }
    }

    /// Length of an uncompressed point.
    pub const fn point_len(self) -> usize {
        1 + 2 * self.field_len()
    }

    /// Length of an ECDSA signature (`r || s`).
    pub const fn signature_len(self) -> usize {
        2 * self.field_len()
    }
}

/// What a `CKA_EC_PARAMS` value names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EcParams {
    Nist(Curve),
    Ed25519,
}

impl EcParams {
    /// Parse `CKA_EC_PARAMS`: a named-curve OID, or for Ed25519 either its OID or the
    /// `edwards25519` curve name. Anything else is `CKR_CURVE_NOT_SUPPORTED`.
    pub fn parse(params: &[u8]) -> Result<EcParams> {
        if params == ED25519_OID_DER || params == ED25519_NAME_DER {
            return Ok(EcParams::Ed25519);
        }
        Curve::from_oid_der(params).map(EcParams::Nist)
    }
}

/// `CKA_EC_POINT` as PKCS#11 v3.0 stores it: a DER OCTET STRING holding the point.
pub fn point_to_der(point: &[u8]) -> Vec<u8> {
    let mut out = vec![0x04];
    let n = point.len();
    if n < 0x80 {
        out.push(n as u8);
    } else if n <= 0xff {
        out.extend_from_slice(&[0x81, n as u8]);
    } else {
        out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(point);
    out
}

/// The content of a DER OCTET STRING that spans all of `der`, if it is one.
fn der_octet_string(der: &[u8]) -> Option<&[u8]> {
    let (&tag, rest) = der.split_first()?;
    if tag != 0x04 {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, body) = match first {
        n if n < 0x80 => (usize::from(n), rest),
        0x81 => {
            let (&n, body) = rest.split_first()?;
            (usize::from(n), body)
        }
        0x82 => {
            let (hi, body) = rest.split_first_chunk::<2>()?;
            (usize::from(u16::from_be_bytes(*hi)), body)
        }
        _ => return None,
    };
    (body.len() == len).then_some(body)
}

/// Runs `$body` with `$c` bound to the curve type of `$curve`.
macro_rules! with_curve {
    ($curve:expr, $c:ident => $body:expr) => {
        match $curve {
            Curve::P256 => {
                type $c = p256::NistP256;
                $body
            }
            Curve::P384 => {
                type $c = p384::NistP384;
                $body
            }
            Curve::P521 => {
                type $c = p521::NistP521;
                $body
            }
        }
    };
}

/// A scalar as exactly `field_len` bytes: shorter values are left-padded, longer ones may only
/// carry leading zeros.
fn scalar_bytes(curve: Curve, d: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let start = d.iter().position(|b| *b != 0).unwrap_or(d.len());
    let t = d.get(start..)?;
    let n = curve.field_len();
    if t.len() > n {
        return None;
    }
    let mut out = Zeroizing::new(vec![0u8; n]);
    out.get_mut(n - t.len()..)?.copy_from_slice(t);
    Some(out)
}

fn secret<C>(curve: Curve, d: &[u8], rv: CK_RV) -> Result<SecretKey<C>>
where
    C: elliptic_curve::CurveArithmetic,
{
    let b = scalar_bytes(curve, d).ok_or(Error::new(rv))?;
    SecretKey::<C>::from_slice(&b).map_err(|_| Error::new(rv))
}

/// The one SEC 1 encoding of a point in `point`: the point itself, or a DER OCTET STRING
/// holding it. A raw point can look like an OCTET STRING header by accident, so the wrapped
/// reading only wins when its content is itself a valid point.
fn parse_wrapped<T>(point: &[u8], decode: impl Fn(&[u8]) -> Option<T>) -> Option<T> {
    der_octet_string(point)
        .and_then(&decode)
        .or_else(|| decode(point))
}

// ---------------------------------------------------------------------------------------------
// The RustCrypto implementation: the engine of the `--no-default-features` build, and the
// reference the aws-lc build is tested against.

/// A SEC 1 point (compressed or uncompressed) on the curve and not the identity, uncompressed.
#[cfg_attr(feature = "aws-lc", allow(dead_code))]
fn rc_decode_point(curve: Curve, p: &[u8]) -> Option<Vec<u8>> {
    with_curve!(curve, C => {
        let pk = PublicKey::<C>::from_sec1_bytes(p).ok()?;
        Some(pk.to_sec1_point(false).as_bytes().to_vec())
    })
}

/// The uncompressed public point of a scalar in 1..n-1.
#[cfg_attr(feature = "aws-lc", allow(dead_code))]
fn rc_public(curve: Curve, d: &[u8], rv: CK_RV) -> Result<Vec<u8>> {
    with_curve!(curve, C => {
        let sk = secret::<C>(curve, d, rv)?;
        Ok(sk.public_key().to_sec1_point(false).as_bytes().to_vec())
    })
}

/// ECDSA with the `ecdsa` crate: RFC 6979's nonce, hedged with `extra`.
#[cfg_attr(feature = "aws-lc", allow(dead_code))]
fn rc_sign(curve: Curve, d: &[u8], hash: &[u8], extra: &[u8]) -> Result<Vec<u8>> {
    let z = ecdsa_input(curve, hash)?;
    with_curve!(curve, C => {
        let sk = secret::<C>(curve, d, CKR_KEY_TYPE_INCONSISTENT)?;
        let (sig, _) = ecdsa::hazmat::sign_prehashed_rfc6979::<C, <C as ecdsa::DigestAlgorithm>::Digest>(
            &sk.to_nonzero_scalar(),
            &z,
            extra,
        );
        Ok(sig.to_bytes().to_vec())
    })
}

/// ECDSA verification with the `ecdsa` crate; `point` is a valid uncompressed point.
#[cfg_attr(feature = "aws-lc", allow(dead_code))]
fn rc_verify(curve: Curve, point: &[u8], hash: &[u8], signature: &[u8]) -> Result<()> {
    let z = ecdsa_input(curve, hash)?;
    with_curve!(curve, C => {
        let pk = PublicKey::<C>::from_sec1_bytes(point).map_err(|_| Error::new(CKR_KEY_TYPE_INCONSISTENT))?;
        let sig = ecdsa::Signature::<C>::from_slice(signature).map_err(|_| Error::new(CKR_SIGNATURE_INVALID))?;
        ecdsa::hazmat::verify_prehashed::<C>(&pk.to_projective(), &z, &sig)
            .map_err(|_| Error::new(CKR_SIGNATURE_INVALID))
    })
}

/// ECDH with the `elliptic-curve` crate; `peer` is a valid uncompressed point.
#[cfg_attr(feature = "aws-lc", allow(dead_code))]
fn rc_derive(curve: Curve, d: &[u8], peer: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    with_curve!(curve, C => {
        let sk = secret::<C>(curve, d, CKR_KEY_TYPE_INCONSISTENT)?;
        let pk = PublicKey::<C>::from_sec1_bytes(peer).map_err(|_| Error::new(CKR_MECHANISM_PARAM_INVALID))?;
        let shared = elliptic_curve::ecdh::diffie_hellman(sk.to_nonzero_scalar(), pk.as_affine());
        Ok(Zeroizing::new(shared.raw_secret_bytes().to_vec()))
    })
}

// ---------------------------------------------------------------------------------------------
// The aws-lc implementation (the default build).

#[cfg(feature = "aws-lc")]
impl Curve {
    fn nid(self) -> std::ffi::c_int {
        match self {
            Curve::P256 => awslc::NID_P256,
            Curve::P384 => awslc::NID_P384,
            Curve::P521 => awslc::NID_P521,
        }
    }
}

/// A public key from a SEC 1 point in one of the two forms PKCS#11 uses (uncompressed, or
/// compressed); aws-lc checks that it is on the curve.
#[cfg(feature = "aws-lc")]
fn lc_public(curve: Curve, p: &[u8]) -> Option<awslc::EcKey> {
    let form_ok = match p.first() {
        Some(4) => p.len() == curve.point_len(),
        Some(2 | 3) => p.len() == 1 + curve.field_len(),
        _ => false,
    };
    if !form_ok {
        return None;
    }
    awslc::EcKey::from_public(curve.nid(), p)
}

// ---------------------------------------------------------------------------------------------
// Parsed keys

/// A NIST-curve public key, parsed and checked once (on the curve, not the identity); keep it
/// to verify many signatures without parsing the point again.
#[derive(Clone)]
pub struct EcPublic {
    curve: Curve,
    /// Uncompressed.
    point: Vec<u8>,
    #[cfg(feature = "aws-lc")]
    key: awslc::EcKey,
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

    fn parse(curve: Curve, point: &[u8], rv: CK_RV) -> Result<Self> {
        #[cfg(feature = "aws-lc")]
        {
            let key = parse_wrapped(point, |p| lc_public(curve, p)).ok_or(Error::new(rv))?;
            let point = key.public_point().ok_or(Error::new(rv))?;
            Ok(EcPublic { curve, point, key })
        }
        #[cfg(not(feature = "aws-lc"))]
        {
            let point =
                parse_wrapped(point, |p| rc_decode_point(curve, p)).ok_or(Error::new(rv))?;
            Ok(EcPublic { curve, point })
        }
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
        #[cfg(feature = "aws-lc")]
        {
            let (r, s) = signature.split_at(self.curve.field_len());
            if self.key.verify_digest(hash, r, s) {
                Ok(())
            } else {
                Err(Error::new(CKR_SIGNATURE_INVALID))
            }
        }
        #[cfg(not(feature = "aws-lc"))]
        rc_verify(self.curve, &self.point, hash, signature)
    }
}

/// A NIST-curve private key, parsed and checked once (a scalar in 1..n-1); keep it to sign
/// or derive many times without parsing the scalar again. The backend wipes it on drop.
#[derive(Clone)]
pub struct EcPrivate {
    curve: Curve,
    #[cfg(not(feature = "aws-lc"))]
    d: Zeroizing<Vec<u8>>,
    #[cfg(feature = "aws-lc")]
    key: awslc::EcKey,
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

    fn parse(curve: Curve, d: &[u8], rv: CK_RV) -> Result<Self> {
        let d = scalar_bytes(curve, d).ok_or(Error::new(rv))?;
        #[cfg(feature = "aws-lc")]
        {
            let key = awslc::EcKey::from_private(curve.nid(), &d).ok_or(Error::new(rv))?;
            Ok(EcPrivate { curve, key })
        }
        #[cfg(not(feature = "aws-lc"))]
        {
            with_curve!(curve, C => secret::<C>(curve, &d, rv).map(|_| ()))?;
            Ok(EcPrivate { curve, d })
        }
    }

    pub fn curve(&self) -> Curve {
        self.curve
    }

    /// The uncompressed public point.
    pub fn public_point(&self) -> Result<Vec<u8>> {
        #[cfg(feature = "aws-lc")]
        return self
            .key
            .public_point()
            .ok_or_else(|| Error::device("EC public point unavailable"));
        #[cfg(not(feature = "aws-lc"))]
        rc_public(self.curve, &self.d, CKR_KEY_TYPE_INCONSISTENT)
    }

    /// ECDSA signature of a caller-computed hash of any length (`CKM_ECDSA`), as `r || s`.
    /// aws-lc draws the nonce at random, hedged with a hash of the key and the digest; the
    /// RustCrypto build uses RFC 6979's nonce, hedged with fresh randomness.
    pub fn sign_prehash(&self, hash: &[u8]) -> Result<Vec<u8>> {
        if hash.is_empty() {
            return Err(Error::new(CKR_DATA_LEN_RANGE));
        }
        #[cfg(feature = "aws-lc")]
        return self
            .key
            .sign_digest(hash, self.curve.field_len())
            .ok_or_else(|| Error::device("ECDSA signature failed"));
        #[cfg(not(feature = "aws-lc"))]
        {
            let mut extra = [0u8; 32];
            super::random_fill(&mut extra)?;
            rc_sign(self.curve, &self.d, hash, &extra)
        }
    }

    /// ECDH (`CKM_ECDH1_DERIVE`; the NIST curves have cofactor 1, so
    /// `CKM_ECDH1_COFACTOR_DERIVE` is the same computation): the x coordinate of
    /// `d * peer`, `field_len()` bytes. A bad peer point is `CKR_MECHANISM_PARAM_INVALID`.
    pub fn derive(&self, peer_point: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let peer = EcPublic::parse(self.curve, peer_point, CKR_MECHANISM_PARAM_INVALID)?;
        self.derive_with(&peer)
    }

    fn derive_with(&self, peer: &EcPublic) -> Result<Zeroizing<Vec<u8>>> {
        #[cfg(feature = "aws-lc")]
        return self
            .key
            .ecdh(&peer.key, self.curve.field_len())
            .ok_or_else(|| Error::device("ECDH failed"));
        #[cfg(not(feature = "aws-lc"))]
        rc_derive(self.curve, &self.d, &peer.point)
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
    {
        let k = awslc::EcKey::generate(curve.nid())
            .ok_or_else(|| Error::device("EC key generation failed"))?;
        let d = k.private_bytes(curve.field_len());
        let p = k.public_point();
        d.zip(p)
            .ok_or_else(|| Error::device("EC key generation failed"))
    }
    #[cfg(not(feature = "aws-lc"))]
    {
        let n = curve.field_len();
        // P-521 scalars have 521 bits: masking the top byte makes almost every draw valid.
        let top_mask: u8 = if curve == Curve::P521 { 0x01 } else { 0xff };
        for _ in 0..64 {
            let mut d = Zeroizing::new(vec![0u8; n]);
            super::random_fill(&mut d)?;
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

/// What the `ecdsa` crate is given for `hash`: a hash no longer than the order as it is, a
/// longer one cut to the order's bit length first. The crate would cut a long hash itself, but
/// (a) for P-521 it keeps the low 521 bits of the first 66 bytes where FIPS 186-4 §6.4 and
/// SEC 1 §4.1.3 take the high ones, and (b) its RFC 6979 nonce would then be derived from the
/// uncut hash, unlike RFC 6979 §2.3.4's bits2octets; cutting here fixes both. (aws-lc cuts
/// the hash the FIPS way itself.)
fn ecdsa_input(curve: Curve, hash: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>> {
    if hash.is_empty() {
        return Err(Error::new(CKR_DATA_LEN_RANGE));
    }
    if hash.len() * 8 > curve.order_bits() {
        Ok(std::borrow::Cow::Owned(
            hash_to_field(curve, hash)?.to_vec(),
        ))
    } else {
        Ok(std::borrow::Cow::Borrowed(hash))
    }
}

/// The hash reduced to the bit length of the group order (FIPS 186-4 §6.4): the leftmost
/// `order_bits` bits of a longer hash, a shorter hash as it is; as a `field_len`-byte number.
fn hash_to_field(curve: Curve, hash: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    if hash.is_empty() {
        return Err(Error::new(CKR_DATA_LEN_RANGE));
    }
    let n = curve.field_len();
    let bits = curve.order_bits();
    let mut out = Zeroizing::new(vec![0u8; n]);
    if hash.len() * 8 <= bits {
        out.get_mut(n - hash.len()..)
            .ok_or(Error::new(CKR_DATA_LEN_RANGE))?
            .copy_from_slice(hash);
        return Ok(out);
    }
    let take = hash.get(..n).ok_or(Error::new(CKR_DATA_LEN_RANGE))?;
    let shift = 8 * n - bits;
    let mut carry = 0u8;
    for (o, b) in out.iter_mut().zip(take) {
        *o = if shift == 0 { *b } else { (b >> shift) | carry };
        carry = if shift == 0 { 0 } else { b << (8 - shift) };
    }
    Ok(out)
}

/// ECDSA signature of a caller-computed hash of any length (`CKM_ECDSA`), as `r || s`; parses
/// `d` on every call (see [`EcPrivate`] to parse once).
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

// ---------------------------------------------------------------------------------------------
// Ed25519 (RFC 8032)

pub const ED25519_KEY_LEN: usize = 32;
pub const ED25519_SIGNATURE_LEN: usize = 64;

fn seed(bytes: &[u8], rv: CK_RV) -> Result<ed25519_dalek::SigningKey> {
    let s: &[u8; ED25519_KEY_LEN] = bytes.try_into().map_err(|_| Error::new(rv))?;
    Ok(ed25519_dalek::SigningKey::from_bytes(s))
}

/// A new Ed25519 key pair: the 32-byte private key (RFC 8032's seed, `CKA_VALUE`) and the
/// 32-byte public key.
pub fn ed25519_generate() -> Result<(Zeroizing<Vec<u8>>, Vec<u8>)> {
    let mut s = Zeroizing::new([0u8; ED25519_KEY_LEN]);
    super::random_fill(s.as_mut())?;
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

/// Pure Ed25519 signature (`CKM_EDDSA` without parameters).
pub fn ed25519_sign(private: &[u8], msg: &[u8]) -> Result<Vec<u8>> {
    use ed25519_dalek::Signer;
    let sk = seed(private, CKR_KEY_TYPE_INCONSISTENT)?;
    let sig = sk.try_sign(msg).map_err(|_| Error::new(CKR_DEVICE_ERROR))?;
    Ok(sig.to_bytes().to_vec())
}

/// Pure Ed25519 verification with the strict checks of RFC 8032 §5.1.7 (canonical S, no
/// small-order keys).
pub fn ed25519_verify(public: &[u8], msg: &[u8], signature: &[u8]) -> Result<()> {
    let sig: &[u8; ED25519_SIGNATURE_LEN] = signature
        .try_into()
        .map_err(|_| Error::new(CKR_SIGNATURE_LEN_RANGE))?;
    let raw = ed25519_validate_public(public).map_err(|_| Error::new(CKR_KEY_TYPE_INCONSISTENT))?;
    let a: &[u8; ED25519_KEY_LEN] = raw
        .as_slice()
        .try_into()
        .map_err(|_| Error::new(CKR_KEY_TYPE_INCONSISTENT))?;
    let vk = ed25519_dalek::VerifyingKey::from_bytes(a)
        .map_err(|_| Error::new(CKR_KEY_TYPE_INCONSISTENT))?;
    vk.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(sig))
        .map_err(|_| Error::new(CKR_SIGNATURE_INVALID))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::crypto::digest::{digest, hex, HashAlg};

    // Known answers from an independent implementation (OpenSSL through Python `cryptography`),
    // so that the `--no-default-features` build, whose engine is the RustCrypto code the other
    // tests compare with, is checked against something else too;
    // src/crypto/tests/kat_vectors.py writes them.
    mod kat {
        include!("tests/ec_kat.rs");
    }

    /// Per curve: the scalar, its point, the peer's scalar and point, the ECDH secret, and
    /// OpenSSL's signatures of `kat::EC_MSG` with SHA-1, SHA-256 and SHA-512.
    struct Kat {
        curve: Curve,
        d: &'static str,
        point: &'static str,
        peer_d: &'static str,
        peer_point: &'static str,
        shared: &'static str,
        sigs: [(HashAlg, &'static str); 3],
    }

    const KATS: [Kat; 3] = [
        Kat {
            curve: Curve::P256,
            d: kat::EC_P256_D,
            point: kat::EC_P256_POINT,
            peer_d: kat::EC_P256_PEER_D,
            peer_point: kat::EC_P256_PEER_POINT,
            shared: kat::EC_P256_SHARED,
            sigs: [
                (HashAlg::Sha1, kat::EC_P256_SHA1_SIG),
                (HashAlg::Sha256, kat::EC_P256_SHA256_SIG),
                (HashAlg::Sha512, kat::EC_P256_SHA512_SIG),
            ],
        },
        Kat {
            curve: Curve::P384,
            d: kat::EC_P384_D,
            point: kat::EC_P384_POINT,
            peer_d: kat::EC_P384_PEER_D,
            peer_point: kat::EC_P384_PEER_POINT,
            shared: kat::EC_P384_SHARED,
            sigs: [
                (HashAlg::Sha1, kat::EC_P384_SHA1_SIG),
                (HashAlg::Sha256, kat::EC_P384_SHA256_SIG),
                (HashAlg::Sha512, kat::EC_P384_SHA512_SIG),
            ],
        },
        Kat {
            curve: Curve::P521,
            d: kat::EC_P521_D,
            point: kat::EC_P521_POINT,
            peer_d: kat::EC_P521_PEER_D,
            peer_point: kat::EC_P521_PEER_POINT,
            shared: kat::EC_P521_SHARED,
            sigs: [
                (HashAlg::Sha1, kat::EC_P521_SHA1_SIG),
                (HashAlg::Sha256, kat::EC_P521_SHA256_SIG),
                (HashAlg::Sha512, kat::EC_P521_SHA512_SIG),
            ],
        },
    ];

    #[test]
    fn params_and_point_encodings() {
        assert_eq!(
            Curve::from_oid_der(&hex("06082a8648ce3d030107")).unwrap(),
            Curve::P256
        );
        assert_eq!(
            Curve::from_oid_der(&hex("06052b81040022")).unwrap(),
            Curve::P384
        );
        assert_eq!(
            Curve::from_oid_der(&hex("06052b81040023")).unwrap(),
            Curve::P521
        );
        // secp256k1 is not offered.
        assert_eq!(
            Curve::from_oid_der(&hex("06052b8104000a"))
                .unwrap_err()
                .rv(),
            CKR_CURVE_NOT_SUPPORTED
        );
        assert_eq!(
            EcParams::parse(&hex("06032b6570")).unwrap(),
            EcParams::Ed25519
        );
        assert_eq!(
            EcParams::parse(&hex("130c656477617264733235353139")).unwrap(),
            EcParams::Ed25519
        );
        assert_eq!(
            EcParams::parse(P384_OID).unwrap(),
            EcParams::Nist(Curve::P384)
        );
        assert!(EcParams::parse(&[]).is_err());
        for c in Curve::ALL {
            let (_, p) = generate(c).unwrap();
            let der = point_to_der(&p);
            assert_eq!(der_octet_string(&der), Some(p.as_slice()));
            assert_eq!(validate_point(c, &der).unwrap(), p);
            assert_eq!(validate_point(c, &p).unwrap(), p);
        }
        assert_eq!(point_to_der(&[7; 133])[..3], [0x04, 0x81, 0x85]);
        assert_eq!(der_octet_string(&[0x04, 0x02, 1]), None);
    }

    #[test]
    fn points_off_the_curve_or_malformed_are_rejected() {
        for c in Curve::ALL {
            let (d, p) = generate(c).unwrap();
            assert_eq!(public_from_private(c, &d).unwrap(), p);
            let mut off = p.clone();
            let last = off.len() - 1;
            off[last] ^= 1;
            assert_eq!(
                validate_point(c, &off).unwrap_err().rv(),
                CKR_ATTRIBUTE_VALUE_INVALID
            );
            assert_eq!(
                validate_point(c, &p[..p.len() - 1]).unwrap_err().rv(),
                CKR_ATTRIBUTE_VALUE_INVALID
            );
            assert_eq!(
                validate_point(c, &[0x00]).unwrap_err().rv(),
                CKR_ATTRIBUTE_VALUE_INVALID
            );
            assert!(validate_point(c, &[]).is_err());
            // A point of another curve.
            let other = if c == Curve::P256 {
                Curve::P384
            } else {
                Curve::P256
            };
            assert!(validate_point(other, &p).is_err());
            // Compressed input is accepted and normalized.
            let mut comp = vec![2 + (p[p.len() - 1] & 1)];
            comp.extend_from_slice(&p[1..1 + c.field_len()]);
            assert_eq!(validate_point(c, &comp).unwrap(), p);
            // Scalars: zero, the order and beyond are invalid.
            assert!(public_from_private(c, &vec![0; c.field_len()]).is_err());
            assert!(public_from_private(c, &vec![0xff; c.field_len()]).is_err());
            assert!(public_from_private(c, &vec![1; c.field_len() + 1]).is_err());
            let mut padded = vec![0, 0];
            padded.extend_from_slice(&d);
            assert_eq!(public_from_private(c, &padded).unwrap(), p);
        }
    }

    // RFC 6979 A.2.5: P-256, SHA-256, message "sample".
    #[test]
    fn rfc6979_p256_sha256_sample() {
        let d = hex("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721");
        let ux = hex("60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6");
        let uy = hex("7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299");
        let mut point = vec![4];
        point.extend_from_slice(&ux);
        point.extend_from_slice(&uy);
        assert_eq!(public_from_private(Curve::P256, &d).unwrap(), point);
        let h = digest(HashAlg::Sha256, b"sample");
        let want = hex(
            "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716\
             f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8",
        );
        verify_prehash(Curve::P256, &point, &h, &want).unwrap();
        // Without the extra randomness, the nonce is exactly RFC 6979's.
        assert_eq!(rc_sign(Curve::P256, &d, &h, &[]).unwrap(), want);
        let mut bad = want.clone();
        bad[40] ^= 1;
        assert_eq!(
            verify_prehash(Curve::P256, &point, &h, &bad)
                .unwrap_err()
                .rv(),
            CKR_SIGNATURE_INVALID
        );
        assert_eq!(
            verify_prehash(Curve::P256, &point, &h, &want[1..])
                .unwrap_err()
                .rv(),
            CKR_SIGNATURE_LEN_RANGE
        );
        let other = digest(HashAlg::Sha256, b"samplf");
        assert_eq!(
            verify_prehash(Curve::P256, &point, &other, &want)
                .unwrap_err()
                .rv(),
            CKR_SIGNATURE_INVALID
        );
        // Hedged signatures differ each time and all verify.
        let s1 = sign_prehash(Curve::P256, &d, &h).unwrap();
        let s2 = sign_prehash(Curve::P256, &d, &h).unwrap();
        assert_ne!(s1, s2);
        verify_prehash(Curve::P256, &point, &h, &s1).unwrap();
        verify_prehash(Curve::P256, &point, &h, &s2).unwrap();
    }

    // RFC 6979 A.2.5 with SHA-512: a hash longer than the order is cut to its leftmost 256 bits;
    // A.2.7 (P-521) with SHA-1 and SHA-512: shorter than 521 bits. Verifying these checks how the
    // hash becomes a number. The crate derives nonces with the curve's own hash (SHA-256 for
    // P-256, SHA-512 for P-521), while RFC 6979 uses the message's, so byte-equal signing is
    // only expected where the two coincide.
    #[test]
    fn rfc6979_truncation_cases() {
        let d = hex("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721");
        let point = public_from_private(Curve::P256, &d).unwrap();
        let h = digest(HashAlg::Sha512, b"sample");
        let rfc = hex(
            "8496a60b5e9b47c825488827e0495b0e3fa109ec4568fd3f8d1097678eb97f00\
             2362ab1adbe2b8adf9cb9edab740ea6049c028114f2460f96554f61fae3302fe",
        );
        verify_prehash(Curve::P256, &point, &h, &rfc).unwrap();
        // Cutting the hash to 32 bytes first is the same signature input.
        verify_prehash(Curve::P256, &point, &h[..32], &rfc).unwrap();
        assert!(verify_prehash(Curve::P256, &point, &h[32..], &rfc).is_err());
        let d521 = hex(
            "00fad06daa62ba3b25d2fb40133da757205de67f5bb0018fee8c86e1b68c7e75\
             caa896eb32f1f47c70855836a6d16fcc1466f6d8fbec67db89ec0c08b0e996b83538",
        );
        let pt = public_from_private(Curve::P521, &d521).unwrap();
        assert_eq!(
            pt[1..67].to_vec(),
            hex(
                "01894550d0785932e00eaa23b694f213f8c3121f86dc97a04e5a7167db4e5bcd3\
                 71123d46e45db6b5d5370a7f20fb633155d38ffa16d2bd761dcac474b9a2f5023a4"
            )
        );
        let h1 = digest(HashAlg::Sha1, b"sample");
        let s1 = hex(
            "00343b6ec45728975ea5cba6659bbb6062a5ff89eea58be3c80b619f322c87910fe092f7d45bb0f8eee01ed3f20babec079d202ae677b243ab40b5431d497c55d75d\
             00e7b0e675a9b24413d448b8cc119d2bf7b2d2df032741c096634d6d65d0dbe3d5694625fb9e8104d3b842c1b0e2d0b98bea19341e8676aef66ae4eba3d5475d5d16",
        );
        verify_prehash(Curve::P521, &pt, &h1, &s1).unwrap();
        let h512 = digest(HashAlg::Sha512, b"sample");
        let s512 = hex(
            "00c328fafcbd79dd77850370c46325d987cb525569fb63c5d3bc53950e6d4c5f174e25a1ee9017b5d450606add152b534931d7d4e8455cc91f9b15bf05ec36e377fa\
             00617cce7cf5064806c467f678d3b4080d6f1cc50af26ca209417308281b68af282623eaa63e5b5c0723d8b8c37ff0777b1a20f8ccb1dccc43997f1ee0e44da4a67a",
        );
        verify_prehash(Curve::P521, &pt, &h512, &s512).unwrap();
        assert_eq!(rc_sign(Curve::P521, &d521, &h512, &[]).unwrap(), s512);
        let mine = rc_sign(Curve::P521, &d521, &h1, &[]).unwrap();
        verify_prehash(Curve::P521, &pt, &h1, &mine).unwrap();
    }

    #[test]
    fn hash_to_field_follows_fips_186() {
        // Shorter than the order: left-padded.
        assert_eq!(*hash_to_field(Curve::P256, &[1, 2]).unwrap(), {
            let mut v = vec![0; 30];
            v.extend_from_slice(&[1, 2]);
            v
        });
        // P-521 with 66 bytes of 0xff: the leftmost 521 bits are all ones.
        let z = hash_to_field(Curve::P521, &[0xff; 66]).unwrap();
        assert_eq!(z[0], 0x01);
        assert!(z[1..].iter().all(|b| *b == 0xff));
        // 0x80 followed by zeros shifts down by 7 bits.
        let mut h = vec![0u8; 70];
        h[0] = 0x80;
        let z = hash_to_field(Curve::P521, &h).unwrap();
        assert_eq!(z[0], 0x01);
        assert!(z[1..].iter().all(|b| *b == 0));
        assert_eq!(
            hash_to_field(Curve::P256, &[]).unwrap_err().rv(),
            CKR_DATA_LEN_RANGE
        );
        assert_eq!(
            ecdsa_input(Curve::P256, &[]).unwrap_err().rv(),
            CKR_DATA_LEN_RANGE
        );
        // Only hashes longer than the order are rewritten.
        assert_eq!(
            &*ecdsa_input(Curve::P521, &[0xab; 65]).unwrap(),
            &[0xab; 65][..]
        );
        assert_eq!(
            &*ecdsa_input(Curve::P256, &[0xab; 20]).unwrap(),
            &[0xab; 20][..]
        );
        assert_eq!(
            &*ecdsa_input(Curve::P256, &[0xab; 64]).unwrap(),
            &[0xab; 32][..]
        );
        assert_eq!(ecdsa_input(Curve::P521, &[0xff; 66]).unwrap()[0], 0x01);
    }

    #[test]
    fn sign_and_verify_every_curve_and_hash_length() {
        for c in Curve::ALL {
            let (d, p) = generate(c).unwrap();
            for len in [1usize, 20, 28, 32, 48, 64, 66, 100] {
                let h: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
                let sig = sign_prehash(c, &d, &h).unwrap();
                assert_eq!(sig.len(), c.signature_len());
                verify_prehash(c, &p, &h, &sig).unwrap();
                verify_prehash(c, &point_to_der(&p), &h, &sig).unwrap();
                let mut other = h.clone();
                other[0] ^= 0x80;
                assert!(verify_prehash(c, &p, &other, &sig).is_err(), "{c:?} {len}");
            }
            assert_eq!(
                verify_prehash(c, &p, b"h", &vec![0; c.signature_len()])
                    .unwrap_err()
                    .rv(),
                CKR_SIGNATURE_INVALID
            );
            assert_eq!(
                sign_prehash(c, &vec![0; c.field_len()], b"h")
                    .unwrap_err()
                    .rv(),
                CKR_KEY_TYPE_INCONSISTENT
            );
        }
    }

    /// The engine (aws-lc in the default build) and the RustCrypto code agree: each verifies
    /// the other's signatures, and ECDH and public points are equal.
    #[test]
    fn backend_agrees_with_rustcrypto() {
        for c in Curve::ALL {
            let (d, p) = generate(c).unwrap();
            assert_eq!(rc_public(c, &d, CKR_ATTRIBUTE_VALUE_INVALID).unwrap(), p);
            let sk = EcPrivate::new(c, &d).unwrap();
            let pk = EcPublic::new(c, &p).unwrap();
            assert_eq!(sk.public_point().unwrap(), p);
            for len in [20usize, 32, 48, 64, 66, 80] {
                let h: Vec<u8> = (0..len).map(|i| (i * 13 + 1) as u8).collect();
                let ours = sk.sign_prehash(&h).unwrap();
                rc_verify(c, &p, &h, &ours).unwrap();
                let theirs = rc_sign(c, &d, &h, b"extra").unwrap();
                pk.verify_prehash(&h, &theirs).unwrap();
                let mut bad = theirs.clone();
                bad[3] ^= 1;
                assert_eq!(
                    pk.verify_prehash(&h, &bad).unwrap_err().rv(),
                    CKR_SIGNATURE_INVALID
                );
            }
            let (d2, p2) = generate(c).unwrap();
            assert_eq!(*sk.derive(&p2).unwrap(), *rc_derive(c, &d, &p2).unwrap());
            assert_eq!(*sk.derive(&p2).unwrap(), *derive(c, &d2, &p).unwrap());
        }
        // Known answers, through the engine and through the RustCrypto code: OpenSSL's points,
        // signatures (hashes shorter and longer than the order) and ECDH secrets.
        let msg = hex(kat::EC_MSG);
        for k in &KATS {
            let c = k.curve;
            let (d, p, pd, pp) = (hex(k.d), hex(k.point), hex(k.peer_d), hex(k.peer_point));
            assert_eq!(public_from_private(c, &d).unwrap(), p, "{c:?}");
            assert_eq!(public_from_private(c, &pd).unwrap(), pp, "{c:?}");
            assert_eq!(rc_public(c, &d, CKR_ATTRIBUTE_VALUE_INVALID).unwrap(), p);
            assert_eq!(EcPrivate::new(c, &d).unwrap().public_point().unwrap(), p);
            let pk = EcPublic::new(c, &p).unwrap();
            for (alg, sig) in k.sigs {
                let (h, sig) = (digest(alg, &msg), hex(sig));
                pk.verify_prehash(&h, &sig).unwrap();
                verify_prehash(c, &point_to_der(&p), &h, &sig).unwrap();
                rc_verify(c, &p, &h, &sig).unwrap();
                let mut bad = sig.clone();
                bad[c.field_len() + 1] ^= 1;
                assert_eq!(
                    pk.verify_prehash(&h, &bad).unwrap_err().rv(),
                    CKR_SIGNATURE_INVALID,
                    "{c:?} {alg:?}"
                );
                assert_eq!(
                    rc_verify(c, &p, &h, &bad).unwrap_err().rv(),
                    CKR_SIGNATURE_INVALID
                );
                assert_eq!(
                    pk.verify_prehash(&digest(alg, b"other"), &sig)
                        .unwrap_err()
                        .rv(),
                    CKR_SIGNATURE_INVALID
                );
            }
            let shared = hex(k.shared);
            assert_eq!(*derive(c, &d, &pp).unwrap(), shared, "{c:?}");
            assert_eq!(*derive(c, &pd, &p).unwrap(), shared, "{c:?}");
            assert_eq!(*EcPrivate::new(c, &d).unwrap().derive(&pp).unwrap(), shared);
            assert_eq!(*rc_derive(c, &d, &pp).unwrap(), shared);
        }
    }

    #[test]
    fn ecdh_two_parties_agree() {
        for c in Curve::ALL {
            let (da, pa) = generate(c).unwrap();
            let (db, pb) = generate(c).unwrap();
            let ab = derive(c, &da, &pb).unwrap();
            let ba = derive(c, &db, &pa).unwrap();
            assert_eq!(ab, ba);
            assert_eq!(ab.len(), c.field_len());
            // Compressed and DER-wrapped peers are the same point.
            let mut comp = vec![2 + (pb[pb.len() - 1] & 1)];
            comp.extend_from_slice(&pb[1..1 + c.field_len()]);
            assert_eq!(derive(c, &da, &comp).unwrap(), ab);
            assert_eq!(derive(c, &da, &point_to_der(&pb)).unwrap(), ab);
            let mut off = pb.clone();
            off[5] ^= 1;
            assert_eq!(
                derive(c, &da, &off).unwrap_err().rv(),
                CKR_MECHANISM_PARAM_INVALID
            );
        }
        // The shared x of d=1 and any point P is P's x coordinate.
        let (_, p) = generate(Curve::P256).unwrap();
        assert_eq!(*derive(Curve::P256, &[1], &p).unwrap(), p[1..33].to_vec());
    }

    /// Each malformed input gets the code its function documents, and the few samples that
    /// are valid scalars give keys.
    #[test]
    fn garbage_inputs_are_errors_not_panics() {
        let samples: [&[u8]; 8] = [
            &[],
            &[0],
            &[4],
            &[2, 1],
            &[4; 65],
            &[4; 67],
            &[0xff; 200],
            &[0x04, 0x82, 0xff, 0xff],
        ];
        let code = |r: Result<()>| r.err().map(|e| e.rv());
        for c in Curve::ALL {
            for x in samples {
                // Scalars in 1..n-1 after the leading zeros: 4, 0x0201, 0x0482ffff, and 65
                // bytes of 4 (520 bits) on P-521 only.
                let scalar = x == [4]
                    || x == [2, 1]
                    || x == [0x04, 0x82, 0xff, 0xff]
                    || (c == Curve::P521 && x == [4; 65]);
                let what = format!("{c:?} {} bytes {:02x?}", x.len(), &x[..x.len().min(4)]);
                assert_eq!(
                    validate_point(c, x).unwrap_err().rv(),
                    CKR_ATTRIBUTE_VALUE_INVALID,
                    "{what}"
                );
                let public = public_from_private(c, x);
                if scalar {
                    let p = public.unwrap();
                    assert_eq!(validate_point(c, &p).unwrap(), p, "{what}");
                } else {
                    assert_eq!(
                        public.unwrap_err().rv(),
                        CKR_ATTRIBUTE_VALUE_INVALID,
                        "{what}"
                    );
                }
                // An empty hash is refused before the key is read; a bad key is a stored key
                // found bad at use.
                let sign = sign_prehash(c, x, x).map(|_| ());
                let want_sign = if x.is_empty() {
                    Some(CKR_DATA_LEN_RANGE)
                } else if scalar {
                    None
                } else {
                    Some(CKR_KEY_TYPE_INCONSISTENT)
                };
                assert_eq!(code(sign), want_sign, "sign {what}");
                // No sample is a signature's length.
                assert_eq!(
                    code(verify_prehash(c, x, x, x)),
                    Some(CKR_SIGNATURE_LEN_RANGE),
                    "verify {what}"
                );
                // No sample is a point, so the peer is refused first.
                assert_eq!(
                    code(derive(c, x, x).map(|_| ())),
                    Some(CKR_MECHANISM_PARAM_INVALID),
                    "derive {what}"
                );
                let field = hash_to_field(c, x).map(|z| z.len());
                if x.is_empty() {
                    assert_eq!(field.unwrap_err().rv(), CKR_DATA_LEN_RANGE);
                } else {
                    assert_eq!(field.unwrap(), c.field_len(), "{what}");
                }
            }
        }
        for x in samples {
            assert_eq!(
                EcParams::parse(x).unwrap_err().rv(),
                CKR_CURVE_NOT_SUPPORTED,
                "{x:02x?}"
            );
            assert_eq!(der_octet_string(x), None, "{x:02x?}");
            assert_eq!(
                ed25519_sign(x, x).unwrap_err().rv(),
                CKR_KEY_TYPE_INCONSISTENT
            );
            assert_eq!(
                ed25519_verify(x, x, x).unwrap_err().rv(),
                CKR_SIGNATURE_LEN_RANGE
            );
            assert_eq!(
                ed25519_validate_public(x).unwrap_err().rv(),
                CKR_ATTRIBUTE_VALUE_INVALID
            );
        }
    }

    // RFC 8032 §7.1 TEST 1 and TEST 2.
    #[test]
    fn rfc8032_ed25519() {
        let cases = [
            (
                "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
                "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
                "",
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
            ),
            (
                "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
                "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
                "72",
                "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
            ),
        ];
        for (sk, pk, msg, sig) in cases {
            let (sk, pk, msg, sig) = (hex(sk), hex(pk), hex(msg), hex(sig));
            assert_eq!(ed25519_public_from_private(&sk).unwrap(), pk);
            assert_eq!(ed25519_sign(&sk, &msg).unwrap(), sig);
            ed25519_verify(&pk, &msg, &sig).unwrap();
            ed25519_verify(&point_to_der(&pk), &msg, &sig).unwrap();
            let mut bad = sig.clone();
            bad[10] ^= 1;
            assert_eq!(
                ed25519_verify(&pk, &msg, &bad).unwrap_err().rv(),
                CKR_SIGNATURE_INVALID
            );
            assert_eq!(
                ed25519_verify(&pk, b"other", &sig).unwrap_err().rv(),
                CKR_SIGNATURE_INVALID
            );
            assert_eq!(
                ed25519_verify(&pk, &msg, &sig[..63]).unwrap_err().rv(),
                CKR_SIGNATURE_LEN_RANGE
            );
        }
        let (sk, pk) = ed25519_generate().unwrap();
        assert_eq!(sk.len(), 32);
        let sig = ed25519_sign(&sk, b"m").unwrap();
        ed25519_verify(&pk, b"m", &sig).unwrap();
        assert_eq!(
            ed25519_public_from_private(&sk[..31]).unwrap_err().rv(),
            CKR_ATTRIBUTE_VALUE_INVALID
        );
        assert_eq!(
            ed25519_validate_public(&[0; 31]).unwrap_err().rv(),
            CKR_ATTRIBUTE_VALUE_INVALID
        );
        assert_eq!(ed25519_validate_public(&pk).unwrap(), pk);
    }
}
