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

/// `CKA_CHECK_VALUE` of a secret key of type `kt`, for the types that have one: AES, DES, DES2
/// and DES3, the first 3 bytes of the key's encryption of a zero block (Current Mechanisms
/// v3.0, the AES and Triple-DES secret key objects). `None` for other types, whose check value
/// the caller may give.
pub fn check_value(kt: CK_KEY_TYPE, key: &[u8]) -> Option<Result<Vec<u8>>> {
    Some(match kt {
        CKK_AES => aes::check_value(key).map(|c| c.to_vec()),
        CKK_DES | CKK_DES2 | CKK_DES3 => crate::crypto::des::check_value(key).map(|c| c.to_vec()),
        _ => return None,
    })
}

/// The value of a secret key `mech` generates, `len` bytes: random, and for the DES key
/// generation mechanisms with each byte's parity bit set, as they must (Current Mechanisms,
/// DES2/DES3 key generation).
pub fn generated_secret(mech: &Mechanism, len: usize) -> Result<Zeroizing<Vec<u8>>> {
    let mut v = random_key(len)?;
    if let Mechanism::DesKeyGen(kt) = mech {
        set_key_parity(*kt, &mut v);
    }
    Ok(v)
}

/// Key material made for a key of type `kt` (generated, derived): a DES, DES2 or DES3 key gets
/// odd parity in every byte, as DES keys must have (the attribute table refuses one without);
/// other types are left as they are. NSS's softoken does the same for derived DES keys.
pub fn set_key_parity(kt: CK_KEY_TYPE, value: &mut [u8]) {
    if matches!(kt, CKK_DES | CKK_DES2 | CKK_DES3) {
        crate::crypto::des::set_odd_parity(value);
    }
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
            // The token's policy has judged the size; the engine refuses what it cannot make.
            let bits = usize::try_from(bits).map_err(|_| Error::new(CKR_KEY_SIZE_RANGE))?;
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
