//! Elliptic curves: key generation, point validation, ECDSA over a hash of any length and ECDH
//! on the Weierstrass curves (P-192, P-224, P-256, P-384, P-521, secp256k1, brainpoolP256r1,
//! brainpoolP384r1); Ed25519 and Ed448 keys and signatures (pure, with context, prehashed);
//! X25519 and X448; the `CKA_EC_PARAMS` and `CKA_EC_POINT` encodings. Serves
//! `CKM_EC_KEY_PAIR_GEN`, `CKM_ECDSA`, `CKM_ECDSA_SHA*`, `CKM_ECDH1_DERIVE`,
//! `CKM_ECDH1_COFACTOR_DERIVE`, `CKM_EC_EDWARDS_KEY_PAIR_GEN`, `CKM_EDDSA` and
//! `CKM_EC_MONTGOMERY_KEY_PAIR_GEN` (Current Mechanisms v3.0 §2.3 Elliptic Curve).
//!
//! Signatures are PKCS#11's raw `r || s`, each half `field_len()` bytes. Key material errors:
//! importing (`public_from_private`, `validate_point`) reports `CKR_ATTRIBUTE_VALUE_INVALID`;
//! a stored key that turns out bad at use reports `CKR_KEY_TYPE_INCONSISTENT`; a bad peer point
//! in ECDH (a mechanism parameter) reports `CKR_MECHANISM_PARAM_INVALID`.
//!
//! Files: this one the curves, the `CKA_EC_PARAMS`/`CKA_EC_POINT` encodings and the helpers
//! both backends share; `nist.rs` the parsed Weierstrass-curve keys ([`EcPrivate`],
//! [`EcPublic`]) with ECDSA and ECDH on the build's backend; `rustcrypto.rs` the RustCrypto
//! engine (the `--no-default-features` build's, the default build's for the curves aws-lc lacks,
//! and the reference the aws-lc one is tested against); `edwards.rs` Ed25519, `ed448.rs` Ed448,
//! `montgomery.rs` X25519 and X448. Parsed keys are `Send + Sync` and used through `&self`:
//! one `Arc` of a key serves every operation at once.

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

/// A short-Weierstrass curve of `CKK_EC` keys. aws-lc has P-224, P-256, P-384, P-521 and
/// secp256k1 ([`Curve::in_awslc`]); P-192 and the brainpool curves run on their RustCrypto
/// crates in both builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Curve {
    P256,
    P384,
    P521,
    /// prime192v1 (X9.62), secp192r1.
    P192,
    /// secp224r1 (SEC 2).
    P224,
    /// secp256k1 (SEC 2), the Koblitz curve of Bitcoin and of AWS KMS `ECC_SECG_P256K1`.
    Secp256k1,
    /// brainpoolP256r1 (RFC 5639).
    BrainpoolP256r1,
    /// brainpoolP384r1 (RFC 5639).
    BrainpoolP384r1,
}

const P256_OID: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const P384_OID: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
const P521_OID: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];
/// prime192v1, 1.2.840.10045.3.1.1.
const P192_OID: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x01];
/// secp224r1, 1.3.132.0.33.
const P224_OID: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x21];
/// secp256k1, 1.3.132.0.10.
const SECP256K1_OID: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];
/// brainpoolP256r1, 1.3.36.3.3.2.8.1.1.7.
const BP256_OID: &[u8] = &[
    0x06, 0x09, 0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x07,
];
/// brainpoolP384r1, 1.3.36.3.3.2.8.1.1.11.
const BP384_OID: &[u8] = &[
    0x06, 0x09, 0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0b,
];
/// id-Ed25519, 1.3.101.112 (RFC 8410).
pub const ED25519_OID_DER: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
/// `PrintableString "edwards25519"`, the curve-name form PKCS#11 v3.0 §2.3.3 also allows.
pub const ED25519_NAME_DER: &[u8] = b"\x13\x0cedwards25519";
/// id-Ed448, 1.3.101.113 (RFC 8410).
pub const ED448_OID_DER: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x71];
/// `PrintableString "edwards448"`.
pub const ED448_NAME_DER: &[u8] = b"\x13\x0aedwards448";
/// id-X25519, 1.3.101.110 (RFC 8410).
pub const X25519_OID_DER: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x6e];
/// `PrintableString "curve25519"`.
pub const X25519_NAME_DER: &[u8] = b"\x13\x0acurve25519";
/// id-X448, 1.3.101.111 (RFC 8410).
pub const X448_OID_DER: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x6f];
/// `PrintableString "curve448"`.
pub const X448_NAME_DER: &[u8] = b"\x13\x08curve448";

impl Curve {
    pub const ALL: [Curve; 8] = [
        Curve::P256,
        Curve::P384,
        Curve::P521,
        Curve::P192,
        Curve::P224,
        Curve::Secp256k1,
        Curve::BrainpoolP256r1,
        Curve::BrainpoolP384r1,
    ];

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
            Curve::P192 => P192_OID,
            Curve::P224 => P224_OID,
            Curve::Secp256k1 => SECP256K1_OID,
            Curve::BrainpoolP256r1 => BP256_OID,
            Curve::BrainpoolP384r1 => BP384_OID,
        }
    }

    /// Bytes of a field element or scalar (24 … 66).
    pub const fn field_len(self) -> usize {
        match self {
            Curve::P192 => 24,
            Curve::P224 => 28,
            Curve::P256 | Curve::Secp256k1 | Curve::BrainpoolP256r1 => 32,
            Curve::P384 | Curve::BrainpoolP384r1 => 48,
            Curve::P521 => 66,
        }
    }

    /// Bits of the group order, what `C_GetMechanismInfo` key sizes count (192 … 521).
    pub const fn order_bits(self) -> usize {
        match self {
            Curve::P192 => 192,
            Curve::P224 => 224,
            Curve::P256 | Curve::Secp256k1 | Curve::BrainpoolP256r1 => 256,
            Curve::P384 | Curve::BrainpoolP384r1 => 384,
            Curve::P521 => 521,
        }
    }

    /// Whether the default build's aws-lc has the curve (else the RustCrypto crate serves it).
    pub const fn in_awslc(self) -> bool {
        !matches!(
            self,
            Curve::P192 | Curve::BrainpoolP256r1 | Curve::BrainpoolP384r1
        )
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

/// An Edwards curve of `CKK_EC_EDWARDS` keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Edwards {
    Ed25519,
    Ed448,
}

/// A Montgomery curve of `CKK_EC_MONTGOMERY` keys (RFC 7748).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Montgomery {
    X25519,
    X448,
}

/// What a `CKA_EC_PARAMS` value names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EcParams {
    /// A short-Weierstrass curve (the name predates the non-NIST ones).
    Nist(Curve),
    Ed25519,
    Ed448,
    X25519,
    X448,
}

impl EcParams {
    /// Parse `CKA_EC_PARAMS`: a named-curve OID, or for the Edwards and Montgomery curves either
    /// their RFC 8410 OID or the curve name (PKCS#11 v3.0 §2.3.3 `curveName`). Anything else is
    /// `CKR_CURVE_NOT_SUPPORTED`.
    pub fn parse(params: &[u8]) -> Result<EcParams> {
        Ok(match params {
            ED25519_OID_DER | ED25519_NAME_DER => EcParams::Ed25519,
            ED448_OID_DER | ED448_NAME_DER => EcParams::Ed448,
            X25519_OID_DER | X25519_NAME_DER => EcParams::X25519,
            X448_OID_DER | X448_NAME_DER => EcParams::X448,
            _ => return Curve::from_oid_der(params).map(EcParams::Nist),
        })
    }

    /// The DER OID of these parameters, as `CKA_EC_PARAMS` stores it for a key the module makes.
    pub const fn oid_der(self) -> &'static [u8] {
        match self {
            EcParams::Nist(c) => c.oid_der(),
            EcParams::Ed25519 => ED25519_OID_DER,
            EcParams::Ed448 => ED448_OID_DER,
            EcParams::X25519 => X25519_OID_DER,
            EcParams::X448 => X448_OID_DER,
        }
    }

    /// The Edwards curve these parameters name, if they name one.
    pub fn edwards(self) -> Option<Edwards> {
        match self {
            EcParams::Ed25519 => Some(Edwards::Ed25519),
            EcParams::Ed448 => Some(Edwards::Ed448),
            _ => None,
        }
    }

    /// The Montgomery curve these parameters name, if they name one.
    pub fn montgomery(self) -> Option<Montgomery> {
        match self {
            EcParams::X25519 => Some(Montgomery::X25519),
            EcParams::X448 => Some(Montgomery::X448),
            _ => None,
        }
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
            Curve::P192 => {
                type $c = p192::NistP192;
                $body
            }
            Curve::P224 => {
                type $c = p224::NistP224;
                $body
            }
            Curve::Secp256k1 => {
                type $c = k256::Secp256k1;
                $body
            }
            Curve::BrainpoolP256r1 => {
                type $c = bp256::BrainpoolP256r1;
                $body
            }
            Curve::BrainpoolP384r1 => {
                type $c = bp384::BrainpoolP384r1;
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
// After `with_curve!`, which they use.
mod ed448;
mod edwards;
mod montgomery;
mod nist;
mod rustcrypto;

pub use ed448::*;
pub use edwards::*;
pub use montgomery::*;
pub use nist::*;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_rfc;
