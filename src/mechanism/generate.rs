//! Key material for `C_GenerateKey` and `C_GenerateKeyPair` (PKCS#11 v3.0 §5.18; the key
//! generation mechanisms of the Current Mechanisms spec: RSA, EC, Edwards, AES, secrets).

use super::Mechanism;
use crate::crypto::aes;
use crate::crypto::ec::{self, EcParams};
use crate::error::{fail, Error, Result};
use crate::object::attr::Attributes;
use cryptoki_sys::*;
use zeroize::Zeroizing;

/// Generated material of a key pair: attributes to add to each half.
#[derive(Debug, Default)]
pub struct PairMaterial {
    pub public: Vec<crate::object::attr::Attribute>,
    pub private: Vec<crate::object::attr::Attribute>,
}

/// A fresh random secret of `len` bytes.
pub fn random_key(len: usize) -> Result<Zeroizing<Vec<u8>>> {
    let mut v = Zeroizing::new(vec![0u8; len]);
    crate::crypto::random_fill(&mut v)?;
    Ok(v)
}

/// `CKA_CHECK_VALUE` of an AES key: the first 3 bytes of the key's encryption of a zero block.
pub fn aes_check_value(key: &[u8]) -> Result<Vec<u8>> {
    aes::check_value(key).map(|c| c.to_vec())
}

/// Key material for a key-pair mechanism, from the public template (modulus bits, exponent,
/// curve parameters).
pub fn generate_pair(mech: &Mechanism, public: &Attributes) -> Result<PairMaterial> {
    use crate::object::attr::Attribute as A;
    match mech {
        Mechanism::RsaKeyPairGen => {
            let bits = public
                .ulong(CKA_MODULUS_BITS)
                .ok_or(Error::new(CKR_TEMPLATE_INCOMPLETE))?;
            let bits = usize::try_from(bits).map_err(|_| Error::new(CKR_KEY_SIZE_RANGE))?;
            // The catalog promises 2048..=4096; smaller keys are no longer safe to make.
            if !(2048..=4096).contains(&bits) {
                return fail(CKR_KEY_SIZE_RANGE);
            }
            let e = public.bytes(CKA_PUBLIC_EXPONENT).unwrap_or(&[1, 0, 1]);
            let c = crate::crypto::rsa::generate(bits, e)?;
            Ok(PairMaterial {
                public: vec![
                    A::bytes(CKA_MODULUS, c.modulus.clone()),
                    A::bytes(CKA_PUBLIC_EXPONENT, c.public_exponent.clone()),
                ],
                private: rsa_private_attributes(&c),
            })
        }
        Mechanism::EcKeyPairGen
        | Mechanism::EdwardsKeyPairGen
        | Mechanism::MontgomeryKeyPairGen => {
            let params = public
                .bytes(CKA_EC_PARAMS)
                .ok_or(Error::new(CKR_TEMPLATE_INCOMPLETE))?;
            let (d, point) = match (mech, EcParams::parse(params)?) {
                (Mechanism::EcKeyPairGen, EcParams::Nist(c)) => ec::generate(c)?,
                (Mechanism::EdwardsKeyPairGen, EcParams::Ed25519) => ec::ed25519_generate()?,
                (Mechanism::EdwardsKeyPairGen, EcParams::Ed448) => ec::ed448_generate()?,
                (Mechanism::MontgomeryKeyPairGen, p) => match p.montgomery() {
                    Some(c) => ec::montgomery_generate(c)?,
                    None => return fail(CKR_TEMPLATE_INCONSISTENT),
                },
                _ => return fail(CKR_TEMPLATE_INCONSISTENT),
            };
            Ok(PairMaterial {
                public: vec![A::bytes(CKA_EC_POINT, ec::point_to_der(&point))],
                private: vec![A::bytes(CKA_VALUE, d.to_vec())],
            })
        }
        _ => fail(CKR_MECHANISM_INVALID),
    }
}

/// The attributes of an RSA private key object from its components (generated or unwrapped).
pub(super) fn rsa_private_attributes(
    c: &crate::crypto::rsa::RsaComponents,
) -> Vec<crate::object::attr::Attribute> {
    use crate::object::attr::Attribute as A;
    vec![
        A::bytes(CKA_MODULUS, c.modulus.clone()),
        A::bytes(CKA_PUBLIC_EXPONENT, c.public_exponent.clone()),
        A::bytes(CKA_PRIVATE_EXPONENT, c.private_exponent.to_vec()),
        A::bytes(CKA_PRIME_1, c.prime_1.to_vec()),
        A::bytes(CKA_PRIME_2, c.prime_2.to_vec()),
        A::bytes(CKA_EXPONENT_1, c.exponent_1.to_vec()),
        A::bytes(CKA_EXPONENT_2, c.exponent_2.to_vec()),
        A::bytes(CKA_COEFFICIENT, c.coefficient.to_vec()),
    ]
}
