//! The RustCrypto engine for the NIST curves (`p256`, `p384`, `p521`, `ecdsa`): the
//! `--no-default-features` build's, and the reference the aws-lc build is tested against.

use super::*;


/// A SEC 1 point (compressed or uncompressed) on the curve and not the identity, uncompressed.
#[cfg_attr(feature = "aws-lc", allow(dead_code))]
pub(super) fn rc_decode_point(curve: Curve, p: &[u8]) -> Option<Vec<u8>> {
    with_curve!(curve, C => {
        let pk = PublicKey::<C>::from_sec1_bytes(p).ok()?;
        Some(pk.to_sec1_point(false).as_bytes().to_vec())
    })
}

/// The uncompressed public point of a scalar in 1..n-1.
#[cfg_attr(feature = "aws-lc", allow(dead_code))]
pub(super) fn rc_public(curve: Curve, d: &[u8], rv: CK_RV) -> Result<Vec<u8>> {
    with_curve!(curve, C => {
        let sk = secret::<C>(curve, d, rv)?;
        Ok(sk.public_key().to_sec1_point(false).as_bytes().to_vec())
    })
}

/// ECDSA with the `ecdsa` crate: RFC 6979's nonce, hedged with `extra`.
#[cfg_attr(feature = "aws-lc", allow(dead_code))]
pub(super) fn rc_sign(curve: Curve, d: &[u8], hash: &[u8], extra: &[u8]) -> Result<Vec<u8>> {
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
pub(super) fn rc_verify(curve: Curve, point: &[u8], hash: &[u8], signature: &[u8]) -> Result<()> {
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
pub(super) fn rc_derive(curve: Curve, d: &[u8], peer: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    with_curve!(curve, C => {
        let sk = secret::<C>(curve, d, CKR_KEY_TYPE_INCONSISTENT)?;
        let pk = PublicKey::<C>::from_sec1_bytes(peer).map_err(|_| Error::new(CKR_MECHANISM_PARAM_INVALID))?;
        let shared = elliptic_curve::ecdh::diffie_hellman(sk.to_nonzero_scalar(), pk.as_affine());
        Ok(Zeroizing::new(shared.raw_secret_bytes().to_vec()))
    })
}
