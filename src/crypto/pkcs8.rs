//! PKCS#8 `PrivateKeyInfo` (RFC 5208, RFC 5958): the form `C_WrapKey` gives a private key before
//! encrypting it, and `C_UnwrapKey` expects after decrypting (Current Mechanisms v3.0 §2.14,
//! AES key wrap of private keys). RSA keys carry the PKCS#1 `RSAPrivateKey` (RFC 8017 A.1.2),
//! NIST-curve keys the SEC 1 `ECPrivateKey` (RFC 5915, see [`super::ec::private_to_pkcs8`]) and
//! Ed25519, Ed448, X25519 and X448 keys the RFC 8410 `CurvePrivateKey`.
//!
//! Everything read here comes from a decrypted blob: malformed DER, an unknown algorithm, and
//! key material that does not hold together are all `CKR_WRAPPED_KEY_INVALID`.

use super::ec::{self, Curve, EcParams};
use super::rsa::RsaPrivate;
use crate::error::{Error, Result};
use cryptoki_sys::CKR_WRAPPED_KEY_INVALID;
use rsa::pkcs1;
use rsa::pkcs8::der::asn1::{AnyRef, Null, ObjectIdentifier, OctetStringRef};
use rsa::pkcs8::der::{Decode, Encode};
use rsa::pkcs8::{AlgorithmIdentifierRef, PrivateKeyInfoRef, SecretDocument};
use zeroize::Zeroizing;

/// id-ecPublicKey (RFC 5480 §2.1.1).
const EC_PUBLIC_KEY_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// id-Ed25519 (RFC 8410 §3).
const ED25519_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
/// id-X25519, id-X448, id-Ed448 (RFC 8410 §3).
const X25519_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.110");
const X448_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.111");
const ED448_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.113");

/// The RFC 8410 algorithm of Ed448, X25519 and X448 keys (Ed25519 keeps its own path).
fn rfc8410_oid(params: EcParams) -> Option<ObjectIdentifier> {
    Some(match params {
        EcParams::Ed448 => ED448_OID,
        EcParams::X25519 => X25519_OID,
        EcParams::X448 => X448_OID,
        _ => return None,
    })
}

/// The public key of an RFC 8410 private key of `params` (so its length and form are checked).
fn rfc8410_public(params: EcParams, private: &[u8]) -> Result<Vec<u8>> {
    match (params.edwards(), params.montgomery()) {
        (Some(ec::Edwards::Ed448), _) => ec::ed448_public_from_private(private),
        (_, Some(m)) => ec::montgomery_public_from_private(m, private),
        _ => Err(invalid(())),
    }
}

fn invalid<E>(_: E) -> Error {
    Error::new(CKR_WRAPPED_KEY_INVALID)
}

fn encoding_failed<E: std::fmt::Display>(e: E) -> Error {
    Error::device(format_args!("PKCS#8 encoding failed: {e}"))
}

/// The key algorithm a `PrivateKeyInfo` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Rsa,
    Ec(Curve),
    Ed25519,
    /// Ed448, X25519 or X448 (RFC 8410).
    Rfc8410(EcParams),
}

/// A private key read from a `PrivateKeyInfo`, checked: RSA parts that belong together, an EC
/// scalar in 1..n-1 (and matching the public key when one is included), a 32-byte Ed25519 key.
pub enum PrivateKey {
    Rsa(Box<RsaPrivate>),
    /// The scalar as `field_len()` bytes.
    Ec {
        curve: Curve,
        d: Zeroizing<Vec<u8>>,
    },
    /// RFC 8032's 32-byte private key (`CKA_VALUE`).
    Ed25519(Zeroizing<Vec<u8>>),
    /// An Ed448 (57 bytes), X25519 (32) or X448 (56) private key (`CKA_VALUE`).
    Rfc8410 {
        params: EcParams,
        private: Zeroizing<Vec<u8>>,
    },
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PrivateKey::Rsa(k) => write!(f, "PrivateKey::Rsa({k:?})"),
            PrivateKey::Ec { curve, .. } => write!(f, "PrivateKey::Ec({curve:?}, ..)"),
            PrivateKey::Ed25519(_) => f.write_str("PrivateKey::Ed25519(..)"),
            PrivateKey::Rfc8410 { params, .. } => write!(f, "PrivateKey::Rfc8410({params:?}, ..)"),
        }
    }
}

fn algorithm_of(info: &PrivateKeyInfoRef<'_>) -> Result<Algorithm> {
    let alg = &info.algorithm;
    if alg.oid == pkcs1::ALGORITHM_OID {
        // RFC 8017 A.1: the parameters are NULL; some encoders leave them out.
        match alg.parameters {
            None => Ok(Algorithm::Rsa),
            Some(p) if p == AnyRef::from(Null) => Ok(Algorithm::Rsa),
            Some(_) => Err(invalid(())),
        }
    } else if alg.oid == EC_PUBLIC_KEY_OID {
        // Only a namedCurve (RFC 5480 §2.1.1): explicit parameters are not supported.
        let oid = alg.parameters_oid().map_err(invalid)?;
        let der = oid.to_der().map_err(invalid)?;
        Curve::from_oid_der(&der)
            .map(Algorithm::Ec)
            .map_err(invalid)
    } else if alg.oid == ED25519_OID && alg.parameters.is_none() {
        Ok(Algorithm::Ed25519)
    } else if alg.parameters.is_none() && alg.oid == ED448_OID {
        Ok(Algorithm::Rfc8410(EcParams::Ed448))
    } else if alg.parameters.is_none() && alg.oid == X25519_OID {
        Ok(Algorithm::Rfc8410(EcParams::X25519))
    } else if alg.parameters.is_none() && alg.oid == X448_OID {
        Ok(Algorithm::Rfc8410(EcParams::X448))
    } else {
        Err(invalid(()))
    }
}

/// The algorithm of a DER `PrivateKeyInfo`, without checking the key itself.
pub fn algorithm(der: &[u8]) -> Result<Algorithm> {
    algorithm_of(&PrivateKeyInfoRef::from_der(der).map_err(invalid)?)
}

/// Read and check a DER `PrivateKeyInfo` (version 1 or 2; attributes are ignored).
pub fn decode(der: &[u8]) -> Result<PrivateKey> {
    let info = PrivateKeyInfoRef::from_der(der).map_err(invalid)?;
    match algorithm_of(&info)? {
        Algorithm::Rsa => {
            rsa_from_pkcs1(info.private_key.as_bytes()).map(|k| PrivateKey::Rsa(Box::new(k)))
        }
        Algorithm::Ec(curve) => {
            let d = ec::private_from_pkcs8(curve, der)?;
            // A v2 OneAsymmetricKey may carry the public key: it must be this key's.
            if let Some(pk) = info.public_key {
                let given = pk
                    .as_bytes()
                    .and_then(|p| ec::validate_point(curve, p).ok());
                if given != Some(ec::public_from_private(curve, &d).map_err(invalid)?) {
                    return Err(invalid(()));
                }
            }
            Ok(PrivateKey::Ec { curve, d })
        }
        Algorithm::Ed25519 => {
            // CurvePrivateKey ::= OCTET STRING, inside the privateKey OCTET STRING.
            let inner =
                <&OctetStringRef>::from_der(info.private_key.as_bytes()).map_err(invalid)?;
            let private = inner.as_bytes();
            let public = ec::ed25519_public_from_private(private).map_err(invalid)?;
            // A v2 OneAsymmetricKey may carry the public key: it must be this key's.
            if let Some(pk) = info.public_key {
                if pk.as_bytes() != Some(public.as_slice()) {
                    return Err(invalid(()));
                }
            }
            Ok(PrivateKey::Ed25519(Zeroizing::new(private.to_vec())))
        }
        Algorithm::Rfc8410(params) => {
            let inner =
                <&OctetStringRef>::from_der(info.private_key.as_bytes()).map_err(invalid)?;
            let private = inner.as_bytes();
            let public = rfc8410_public(params, private).map_err(invalid)?;
            if let Some(pk) = info.public_key {
                if pk.as_bytes() != Some(public.as_slice()) {
                    return Err(invalid(()));
                }
            }
            Ok(PrivateKey::Rfc8410 {
                params,
                private: Zeroizing::new(private.to_vec()),
            })
        }
    }
}

/// A two-prime PKCS#1 `RSAPrivateKey`, with every check of [`RsaPrivate::from_components`]
/// (n = pq, d inverts e, the CRT values are the ones the primes imply).
fn rsa_from_pkcs1(der: &[u8]) -> Result<RsaPrivate> {
    let k = pkcs1::RsaPrivateKeyRef::from_der(der).map_err(invalid)?;
    if k.other_prime_infos.is_some() {
        return Err(invalid(()));
    }
    RsaPrivate::from_components(
        k.modulus.as_bytes(),
        k.public_exponent.as_bytes(),
        k.private_exponent.as_bytes(),
        Some(k.prime1.as_bytes()),
        Some(k.prime2.as_bytes()),
        Some(k.exponent1.as_bytes()),
        Some(k.exponent2.as_bytes()),
        Some(k.coefficient.as_bytes()),
    )
    .map_err(invalid)
}

fn uint(b: &[u8]) -> Result<pkcs1::UintRef<'_>> {
    pkcs1::UintRef::new(b).map_err(encoding_failed)
}

/// The `PrivateKeyInfo` (version 1) of an RSA key: rsaEncryption with NULL parameters and the
/// two-prime `RSAPrivateKey` with all eight components.
pub fn encode_rsa(key: &RsaPrivate) -> Result<Zeroizing<Vec<u8>>> {
    let c = key.components();
    let parts: [&[u8]; 8] = [
        &c.modulus,
        &c.public_exponent,
        &c.private_exponent,
        &c.prime_1,
        &c.prime_2,
        &c.exponent_1,
        &c.exponent_2,
        &c.coefficient,
    ];
    if parts.iter().any(|p| p.is_empty()) {
        return Err(Error::device("RSA key without its CRT components"));
    }
    let inner = pkcs1::RsaPrivateKey {
        modulus: uint(&c.modulus)?,
        public_exponent: uint(&c.public_exponent)?,
        private_exponent: uint(&c.private_exponent)?,
        prime1: uint(&c.prime_1)?,
        prime2: uint(&c.prime_2)?,
        exponent1: uint(&c.exponent_1)?,
        exponent2: uint(&c.exponent_2)?,
        coefficient: uint(&c.coefficient)?,
        other_prime_infos: None,
    };
    let inner = SecretDocument::encode_msg(&inner).map_err(encoding_failed)?;
    let info = PrivateKeyInfoRef::new(
        pkcs1::ALGORITHM_ID,
        OctetStringRef::new(inner.as_bytes()).map_err(encoding_failed)?,
    );
    Ok(SecretDocument::encode_msg(&info)
        .map_err(encoding_failed)?
        .to_bytes())
}

/// The `PrivateKeyInfo` (version 1, no public key, as OpenSSL writes it) of an Ed25519 key:
/// id-Ed25519 without parameters and the 32-byte private key as a `CurvePrivateKey`.
pub fn encode_ed25519(private: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    if private.len() != ec::ED25519_KEY_LEN {
        return Err(Error::new(cryptoki_sys::CKR_KEY_TYPE_INCONSISTENT));
    }
    let inner = Zeroizing::new(
        OctetStringRef::new(private)
            .and_then(|o| o.to_der())
            .map_err(encoding_failed)?,
    );
    let info = PrivateKeyInfoRef::new(
        AlgorithmIdentifierRef {
            oid: ED25519_OID,
            parameters: None,
        },
        OctetStringRef::new(&inner).map_err(encoding_failed)?,
    );
    Ok(SecretDocument::encode_msg(&info)
        .map_err(encoding_failed)?
        .to_bytes())
}

/// The `PrivateKeyInfo` (version 1, no public key) of an Ed448, X25519 or X448 key: the RFC 8410
/// algorithm without parameters and the private key as a `CurvePrivateKey`. A key of the wrong
/// length is `CKR_KEY_TYPE_INCONSISTENT`.
pub fn encode_rfc8410(params: EcParams, private: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let inconsistent = || Error::new(cryptoki_sys::CKR_KEY_TYPE_INCONSISTENT);
    let oid = rfc8410_oid(params).ok_or_else(inconsistent)?;
    rfc8410_public(params, private).map_err(|_| inconsistent())?;
    let inner = Zeroizing::new(
        OctetStringRef::new(private)
            .and_then(|o| o.to_der())
            .map_err(encoding_failed)?,
    );
    let info = PrivateKeyInfoRef::new(
        AlgorithmIdentifierRef {
            oid,
            parameters: None,
        },
        OctetStringRef::new(&inner).map_err(encoding_failed)?,
    );
    Ok(SecretDocument::encode_msg(&info)
        .map_err(encoding_failed)?
        .to_bytes())
}

/// The `PrivateKeyInfo` of a NIST-curve key with scalar `d`.
pub fn encode_ec(curve: Curve, d: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    ec::private_to_pkcs8(curve, d)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::crypto::digest::hex;

    /// RFC 8410 §10.3: the example Ed25519 private key.
    const RFC8410_ED25519: &str = "302e020100300506032b657004220420\
        d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842";

    #[test]
    fn ed25519_matches_rfc8410() {
        let der = hex(RFC8410_ED25519);
        let PrivateKey::Ed25519(k) = decode(&der).unwrap() else {
            panic!("not Ed25519");
        };
        assert_eq!(
            k.as_slice(),
            hex("d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842")
        );
        assert_eq!(encode_ed25519(&k).unwrap().as_slice(), der.as_slice());
        assert_eq!(algorithm(&der).unwrap(), Algorithm::Ed25519);
    }

    #[test]
    fn ec_and_rsa_round_trip() {
        for curve in Curve::ALL {
            let (d, _) = ec::generate(curve).unwrap();
            let der = encode_ec(curve, &d).unwrap();
            assert_eq!(algorithm(&der).unwrap(), Algorithm::Ec(curve));
            match decode(&der).unwrap() {
                PrivateKey::Ec { curve: c, d: d2 } => {
                    assert_eq!(c, curve);
                    assert_eq!(d2.as_slice(), d.as_slice());
                }
                other => panic!("{other:?}"),
            }
        }
        let k = RsaPrivate::generate(1024, &[1, 0, 1]).unwrap();
        let der = encode_rsa(&k).unwrap();
        assert_eq!(algorithm(&der).unwrap(), Algorithm::Rsa);
        let PrivateKey::Rsa(k2) = decode(&der).unwrap() else {
            panic!("not RSA");
        };
        assert_eq!(k2.public().modulus(), k.public().modulus());
        assert_eq!(
            k2.components().private_exponent.as_slice(),
            k.components().private_exponent.as_slice()
        );
    }

    #[test]
    fn v2_public_key_must_be_the_keys() {
        use rsa::pkcs8::der::asn1::BitStringRef;
        let (d, point) = ec::generate(Curve::P256).unwrap();
        let (_, other) = ec::generate(Curve::P256).unwrap();
        let v1 = encode_ec(Curve::P256, &d).unwrap();
        for (pk, ok) in [(&point, true), (&other, false)] {
            let mut info = PrivateKeyInfoRef::from_der(&v1).unwrap();
            info.public_key = Some(BitStringRef::from_bytes(pk).unwrap());
            let v2 = info.to_der().unwrap();
            assert_eq!(v2[3..6], [0x02, 0x01, 0x01], "version 2");
            assert_eq!(decode(&v2).is_ok(), ok);
        }
    }

    #[test]
    fn garbage_and_damage_are_wrapped_key_invalid() {
        let rv = |r: Result<PrivateKey>| r.err().map(|e| e.rv());
        let w = Some(CKR_WRAPPED_KEY_INVALID);
        assert_eq!(rv(decode(b"")), w);
        assert_eq!(rv(decode(&[0x30, 0x03, 0x02, 0x01, 0x00])), w);
        let mut der = hex(RFC8410_ED25519);
        der.push(0);
        assert_eq!(rv(decode(&der)), w, "trailing data");
        // An Ed25519 key of 31 bytes.
        let short = hex("302d020100300506032b65700421041f\
             d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f447558");
        assert_eq!(rv(decode(&short)), w);
        // A P-256 scalar of zero.
        let (d, _) = ec::generate(Curve::P256).unwrap();
        let good = encode_ec(Curve::P256, &d).unwrap();
        let zero = good
            .windows(d.len())
            .position(|x| x == d.as_slice())
            .map(|at| {
                let mut v = good.to_vec();
                v[at..at + d.len()].fill(0);
                v
            })
            .unwrap();
        assert_eq!(rv(decode(&zero)), w);
        // An RSA key whose private exponent is changed.
        let k = RsaPrivate::generate(1024, &[1, 0, 1]).unwrap();
        let good = encode_rsa(&k).unwrap();
        let d = k.components().private_exponent.to_vec();
        let at = good
            .windows(d.len())
            .position(|x| x == d.as_slice())
            .unwrap();
        let mut bad = good.to_vec();
        bad[at + d.len() - 1] ^= 2;
        assert_eq!(rv(decode(&bad)), w);
    }
}
