//! `CKA_PUBLIC_KEY_INFO`, the DER SubjectPublicKeyInfo of a key's public part (PKCS#11 v3.0
//! §4.8 common key attributes; RFC 5280, RFC 8017 A.1, RFC 5480, RFC 8410).

use super::keys::ed_public;
use crate::crypto::ec::{self, EcParams, Edwards, Montgomery};
use crate::object::attr::Attributes;
use cryptoki_sys::*;

fn der(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = body.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let len = n.to_be_bytes();
        let skip = len.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (len.len() - skip) as u8);
        out.extend_from_slice(&len[skip..]);
    }
    out.extend_from_slice(body);
    out
}

fn der_uint(be: &[u8]) -> Vec<u8> {
    let t: Vec<u8> = be.iter().copied().skip_while(|b| *b == 0).collect();
    let mut body = Vec::with_capacity(t.len() + 1);
    if t.first().is_none_or(|b| b & 0x80 != 0) {
        body.push(0);
    }
    body.extend_from_slice(&t);
    der(0x02, &body)
}

/// `CKA_PUBLIC_KEY_INFO`: the DER SubjectPublicKeyInfo of a key's public part (RFC 5280, RFC 8017
/// A.1, RFC 5480, RFC 8410), or `None` when the attributes do not hold it.
pub fn public_key_info(a: &Attributes) -> Option<Vec<u8>> {
    let bits = |k: &[u8]| {
        let mut b = vec![0u8];
        b.extend_from_slice(k);
        der(0x03, &b)
    };
    let (alg, key) = match a.key_type()? {
        CKK_RSA => {
            let mut k = der_uint(a.bytes(CKA_MODULUS)?);
            k.extend(der_uint(a.bytes(CKA_PUBLIC_EXPONENT)?));
            let alg = der(
                0x30,
                &[&[
                    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
                ][..]]
                .concat(),
            );
            (alg, der(0x30, &k))
        }
        CKK_EC => {
            let params = a.bytes(CKA_EC_PARAMS)?;
            let EcParams::Nist(curve) = EcParams::parse(params).ok()? else {
                return None;
            };
            let point = match a.bytes(CKA_EC_POINT) {
                Some(p) => ec::validate_point(curve, p).ok()?,
                None => ec::public_from_private(curve, a.bytes(CKA_VALUE)?).ok()?,
            };
            let mut alg = vec![0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
            alg.extend_from_slice(params);
            (der(0x30, &alg), point)
        }
        CKK_EC_EDWARDS => {
            let curve = EcParams::parse(a.bytes(CKA_EC_PARAMS)?).ok()?.edwards()?;
            let point = match a.bytes(CKA_EC_POINT) {
                Some(_) => ed_public(a).ok()?,
                None => match curve {
                    Edwards::Ed25519 => ec::ed25519_public_from_private(a.bytes(CKA_VALUE)?),
                    Edwards::Ed448 => ec::ed448_public_from_private(a.bytes(CKA_VALUE)?),
                }
                .ok()?,
            };
            let oid = match curve {
                Edwards::Ed25519 => ec::ED25519_OID_DER,
                Edwards::Ed448 => ec::ED448_OID_DER,
            };
            (der(0x30, oid), point)
        }
        CKK_EC_MONTGOMERY => {
            let curve = EcParams::parse(a.bytes(CKA_EC_PARAMS)?)
                .ok()?
                .montgomery()?;
            let point = match a.bytes(CKA_EC_POINT) {
                Some(p) => ec::montgomery_validate_public(curve, p).ok()?,
                None => ec::montgomery_public_from_private(curve, a.bytes(CKA_VALUE)?).ok()?,
            };
            let oid = match curve {
                Montgomery::X25519 => ec::X25519_OID_DER,
                Montgomery::X448 => ec::X448_OID_DER,
            };
            (der(0x30, oid), point)
        }
        _ => return None,
    };
    let mut body = alg;
    body.extend(bits(&key));
    Some(der(0x30, &body))
}
