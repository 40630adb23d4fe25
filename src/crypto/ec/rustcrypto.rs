//! The RustCrypto engine for the NIST curves (`p256`, `p384`, `p521`, `ecdsa`): the
//! `--no-default-features` build's, and the reference the aws-lc build is tested against.
//! Keys are parsed once into the crates' types ([`RcSecret`], [`RcPublic`]), so an operation
//! neither decodes a scalar nor checks a point again.
#![cfg_attr(feature = "aws-lc", allow(dead_code))]

use super::*;

/// A private scalar in 1..n-1 of one curve; `SecretKey` wipes it on drop.
#[derive(Clone)]
pub(super) enum RcSecret {
    P256(SecretKey<p256::NistP256>),
    P384(SecretKey<p384::NistP384>),
    P521(SecretKey<p521::NistP521>),
}

/// A point of one curve, on the curve and not the identity.
#[derive(Clone)]
pub(super) enum RcPublic {
    P256(PublicKey<p256::NistP256>),
    P384(PublicKey<p384::NistP384>),
    P521(PublicKey<p521::NistP521>),
}

/// Runs `$body` with `$k` bound to the key inside `$e` (an `RcSecret` or `RcPublic`) and `$c`
/// to its curve type.
macro_rules! each_key {
    ($e:expr, $ty:ident, $k:ident, $c:ident => $body:expr) => {
        match $e {
            $ty::P256($k) => {
                type $c = p256::NistP256;
                $body
            }
            $ty::P384($k) => {
                type $c = p384::NistP384;
                $body
            }
            $ty::P521($k) => {
                type $c = p521::NistP521;
                $body
            }
        }
    };
}

impl RcSecret {
    /// `d` (leading zeros allowed) outside 1..n-1 is `rv`.
    pub(super) fn new(curve: Curve, d: &[u8], rv: CK_RV) -> Result<Self> {
        Ok(match curve {
            Curve::P256 => RcSecret::P256(secret(curve, d, rv)?),
            Curve::P384 => RcSecret::P384(secret(curve, d, rv)?),
            Curve::P521 => RcSecret::P521(secret(curve, d, rv)?),
        })
    }

    pub(super) fn public(&self) -> RcPublic {
        match self {
            RcSecret::P256(k) => RcPublic::P256(k.public_key()),
            RcSecret::P384(k) => RcPublic::P384(k.public_key()),
            RcSecret::P521(k) => RcPublic::P521(k.public_key()),
        }
    }

    /// ECDSA with the `ecdsa` crate: RFC 6979's nonce, hedged with `extra`.
    pub(super) fn sign(&self, curve: Curve, hash: &[u8], extra: &[u8]) -> Result<Vec<u8>> {
        let z = ecdsa_input(curve, hash)?;
        each_key!(self, RcSecret, sk, C => {
            let (sig, _) = ecdsa::hazmat::sign_prehashed_rfc6979::<C, <C as ecdsa::DigestAlgorithm>::Digest>(
                &sk.to_nonzero_scalar(),
                &z,
                extra,
            );
            Ok(sig.to_bytes().to_vec())
        })
    }

    /// ECDH: the x coordinate of `d * peer`; a peer on another curve is
    /// `CKR_MECHANISM_PARAM_INVALID`.
    pub(super) fn derive(&self, peer: &RcPublic) -> Result<Zeroizing<Vec<u8>>> {
        macro_rules! dh {
            ($s:expr, $p:expr) => {{
                let shared =
                    elliptic_curve::ecdh::diffie_hellman($s.to_nonzero_scalar(), $p.as_affine());
                Ok(Zeroizing::new(shared.raw_secret_bytes().to_vec()))
            }};
        }
        match (self, peer) {
            (RcSecret::P256(s), RcPublic::P256(p)) => dh!(s, p),
            (RcSecret::P384(s), RcPublic::P384(p)) => dh!(s, p),
            (RcSecret::P521(s), RcPublic::P521(p)) => dh!(s, p),
            _ => Err(Error::new(CKR_MECHANISM_PARAM_INVALID)),
        }
    }
}

impl RcPublic {
    /// A SEC 1 point (compressed or uncompressed) on the curve and not the identity.
    pub(super) fn decode(curve: Curve, p: &[u8]) -> Option<Self> {
        Some(match curve {
            Curve::P256 => RcPublic::P256(PublicKey::from_sec1_bytes(p).ok()?),
            Curve::P384 => RcPublic::P384(PublicKey::from_sec1_bytes(p).ok()?),
            Curve::P521 => RcPublic::P521(PublicKey::from_sec1_bytes(p).ok()?),
        })
    }

    /// The uncompressed encoding.
    pub(super) fn point(&self) -> Vec<u8> {
        each_key!(self, RcPublic, pk, _C => pk.to_sec1_point(false).as_bytes().to_vec())
    }

    /// ECDSA verification with the `ecdsa` crate.
    pub(super) fn verify(&self, curve: Curve, hash: &[u8], signature: &[u8]) -> Result<()> {
        let z = ecdsa_input(curve, hash)?;
        each_key!(self, RcPublic, pk, C => {
            let sig = ecdsa::Signature::<C>::from_slice(signature).map_err(|_| Error::new(CKR_SIGNATURE_INVALID))?;
            ecdsa::hazmat::verify_prehashed::<C>(&pk.to_projective(), &z, &sig)
                .map_err(|_| Error::new(CKR_SIGNATURE_INVALID))
        })
    }
}

/// The uncompressed public point of a scalar in 1..n-1.
pub(super) fn rc_public(curve: Curve, d: &[u8], rv: CK_RV) -> Result<Vec<u8>> {
    Ok(RcSecret::new(curve, d, rv)?.public().point())
}

/// ECDSA of a scalar given as bytes (see [`RcSecret::sign`]).
#[cfg(test)]
pub(super) fn rc_sign(curve: Curve, d: &[u8], hash: &[u8], extra: &[u8]) -> Result<Vec<u8>> {
    ecdsa_input(curve, hash)?;
    RcSecret::new(curve, d, CKR_KEY_TYPE_INCONSISTENT)?.sign(curve, hash, extra)
}

/// ECDSA verification; `point` is a valid uncompressed point.
#[cfg(test)]
pub(super) fn rc_verify(curve: Curve, point: &[u8], hash: &[u8], signature: &[u8]) -> Result<()> {
    ecdsa_input(curve, hash)?;
    RcPublic::decode(curve, point)
        .ok_or(Error::new(CKR_KEY_TYPE_INCONSISTENT))?
        .verify(curve, hash, signature)
}

/// ECDH of a scalar given as bytes with a valid uncompressed point.
#[cfg(test)]
pub(super) fn rc_derive(curve: Curve, d: &[u8], peer: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let sk = RcSecret::new(curve, d, CKR_KEY_TYPE_INCONSISTENT)?;
    let pk = RcPublic::decode(curve, peer).ok_or(Error::new(CKR_MECHANISM_PARAM_INVALID))?;
    sk.derive(&pk)
}
