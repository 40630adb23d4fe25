//! The RustCrypto engine for the Weierstrass curves (`p192`, `p224`, `p256`, `p384`, `p521`,
//! `k256`, `bp256`, `bp384`, `ecdsa`): the `--no-default-features` build's, the default build's
//! for the curves aws-lc lacks (P-192, brainpool), and the reference the aws-lc build is tested
//! against.
//! Keys are parsed once into the crates' types ([`RcSecret`], [`RcPublic`]), so an operation
//! neither decodes a scalar nor checks a point again.
#![cfg_attr(feature = "aws-lc", allow(dead_code))]

use super::*;

/// The hash of RFC 6979's HMAC-DRBG for a curve. The `ecdsa` crate names one per curve where the
/// curve crate defines it; P-192 and brainpool do not, so this table does for all: the SHA-2 of
/// the curve's size (any hash works for the nonce, which is hedged with fresh randomness too).
pub(super) trait NonceDigest {
    type D: sha2::digest::Digest + sha2::digest::block_api::BlockSizeUser;
}

macro_rules! nonce_digest {
    ($($c:ty => $d:ty),* $(,)?) => {
        $(impl NonceDigest for $c {
            type D = $d;
        })*
    };
}

nonce_digest!(
    p256::NistP256 => sha2::Sha256,
    p384::NistP384 => sha2::Sha384,
    p521::NistP521 => sha2::Sha512,
    p192::NistP192 => sha2::Sha256,
    p224::NistP224 => sha2::Sha224,
    k256::Secp256k1 => sha2::Sha256,
    bp256::BrainpoolP256r1 => sha2::Sha256,
    bp384::BrainpoolP384r1 => sha2::Sha384,
);

/// A private scalar in 1..n-1 of one curve; `SecretKey` wipes it on drop.
#[derive(Clone)]
pub(super) enum RcSecret {
    P256(SecretKey<p256::NistP256>),
    P384(SecretKey<p384::NistP384>),
    P521(SecretKey<p521::NistP521>),
    P192(SecretKey<p192::NistP192>),
    P224(SecretKey<p224::NistP224>),
    K256(SecretKey<k256::Secp256k1>),
    Bp256(SecretKey<bp256::BrainpoolP256r1>),
    Bp384(SecretKey<bp384::BrainpoolP384r1>),
}

/// A point of one curve, on the curve and not the identity.
#[derive(Clone)]
pub(super) enum RcPublic {
    P256(PublicKey<p256::NistP256>),
    P384(PublicKey<p384::NistP384>),
    P521(PublicKey<p521::NistP521>),
    P192(PublicKey<p192::NistP192>),
    P224(PublicKey<p224::NistP224>),
    K256(PublicKey<k256::Secp256k1>),
    Bp256(PublicKey<bp256::BrainpoolP256r1>),
    Bp384(PublicKey<bp384::BrainpoolP384r1>),
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
            $ty::P192($k) => {
                type $c = p192::NistP192;
                $body
            }
            $ty::P224($k) => {
                type $c = p224::NistP224;
                $body
            }
            $ty::K256($k) => {
                type $c = k256::Secp256k1;
                $body
            }
            $ty::Bp256($k) => {
                type $c = bp256::BrainpoolP256r1;
                $body
            }
            $ty::Bp384($k) => {
                type $c = bp384::BrainpoolP384r1;
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
            Curve::P192 => RcSecret::P192(secret(curve, d, rv)?),
            Curve::P224 => RcSecret::P224(secret(curve, d, rv)?),
            Curve::Secp256k1 => RcSecret::K256(secret(curve, d, rv)?),
            Curve::BrainpoolP256r1 => RcSecret::Bp256(secret(curve, d, rv)?),
            Curve::BrainpoolP384r1 => RcSecret::Bp384(secret(curve, d, rv)?),
        })
    }

    pub(super) fn public(&self) -> RcPublic {
        match self {
            RcSecret::P256(k) => RcPublic::P256(k.public_key()),
            RcSecret::P384(k) => RcPublic::P384(k.public_key()),
            RcSecret::P521(k) => RcPublic::P521(k.public_key()),
            RcSecret::P192(k) => RcPublic::P192(k.public_key()),
            RcSecret::P224(k) => RcPublic::P224(k.public_key()),
            RcSecret::K256(k) => RcPublic::K256(k.public_key()),
            RcSecret::Bp256(k) => RcPublic::Bp256(k.public_key()),
            RcSecret::Bp384(k) => RcPublic::Bp384(k.public_key()),
        }
    }

    /// ECDSA with the `ecdsa` crate: RFC 6979's nonce, hedged with `extra`.
    pub(super) fn sign(&self, curve: Curve, hash: &[u8], extra: &[u8]) -> Result<Vec<u8>> {
        let z = ecdsa_input(curve, hash)?;
        each_key!(self, RcSecret, sk, C => {
            let (sig, _) = ecdsa::hazmat::sign_prehashed_rfc6979::<C, <C as NonceDigest>::D>(
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
            (RcSecret::P192(s), RcPublic::P192(p)) => dh!(s, p),
            (RcSecret::P224(s), RcPublic::P224(p)) => dh!(s, p),
            (RcSecret::K256(s), RcPublic::K256(p)) => dh!(s, p),
            (RcSecret::Bp256(s), RcPublic::Bp256(p)) => dh!(s, p),
            (RcSecret::Bp384(s), RcPublic::Bp384(p)) => dh!(s, p),
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
            Curve::P192 => RcPublic::P192(PublicKey::from_sec1_bytes(p).ok()?),
            Curve::P224 => RcPublic::P224(PublicKey::from_sec1_bytes(p).ok()?),
            Curve::Secp256k1 => RcPublic::K256(PublicKey::from_sec1_bytes(p).ok()?),
            Curve::BrainpoolP256r1 => RcPublic::Bp256(PublicKey::from_sec1_bytes(p).ok()?),
            Curve::BrainpoolP384r1 => RcPublic::Bp384(PublicKey::from_sec1_bytes(p).ok()?),
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
            // k256 accepts only low-S signatures (Bitcoin's rule); ECDSA itself, aws-lc and
            // every other signer accept both halves, so a high S is brought low first.
            let sig = if <C as ecdsa::EcdsaCurve>::NORMALIZE_S { sig.normalize_s() } else { sig };
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
