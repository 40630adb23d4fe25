//! The aws-lc RSA backend (the default build): raw RSA with aws-lc's constant-time, blinded CRT
//! code, keys parsed once into aws-lc's `RSA` object and kept there.

use super::rustcrypto;
use super::{invalid, RsaComponents, MAX_IMPORT_BITS, MIN_BITS};
use crate::crypto::awslc::Rsa;
use crate::error::{Error, Result};
use cryptoki_sys::CKR_ATTRIBUTE_VALUE_INVALID;
use zeroize::Zeroizing;

/// A public key (or the public half of a private one) in aws-lc.
#[derive(Clone)]
pub(crate) struct PublicKey {
    key: Rsa,
}

impl PublicKey {
    /// `n` and `e` without leading zeros; the front has checked e. The modulus must have
    /// 512..=8192 bits; aws-lc checks that it is odd and above e.
    pub(crate) fn new(n: &[u8], e: &[u8]) -> Result<Self> {
        if !(MIN_BITS..=MAX_IMPORT_BITS).contains(&super::bit_len(n)) {
            return Err(Error::new(CKR_ATTRIBUTE_VALUE_INVALID));
        }
        let key = Rsa::new_public(n, e).ok_or(Error::new(CKR_ATTRIBUTE_VALUE_INVALID))?;
        Ok(PublicKey { key })
    }

    /// `x^e mod n` for a `size()`-byte `x` below the modulus; `None` on failure.
    pub(crate) fn raw(&self, x: &[u8]) -> Option<Vec<u8>> {
        self.key.public_raw(x)
    }
}

/// A private key with all CRT values, in aws-lc.
#[derive(Clone)]
pub(crate) struct PrivateKey {
    key: Rsa,
}

impl PrivateKey {
    /// All eight components; aws-lc checks that they belong together.
    pub(crate) fn from_full(c: &RsaComponents) -> Result<Self> {
        let key = Rsa::new_private([
            &c.modulus,
            &c.public_exponent,
            &c.private_exponent,
            &c.prime_1,
            &c.prime_2,
            &c.exponent_1,
            &c.exponent_2,
            &c.coefficient,
        ])
        .ok_or(Error::new(CKR_ATTRIBUTE_VALUE_INVALID))?;
        Ok(PrivateKey { key })
    }

    /// The same key as one the `rsa` crate has checked and completed.
    pub(crate) fn from_rustcrypto(k: &rustcrypto::PrivateKey) -> Result<Self> {
        PrivateKey::from_full(&k.components()).map_err(invalid)
    }

    /// aws-lc generates keys whose size is a multiple of 128 bits with an exponent below 2^32;
    /// other requests go to the `rsa` crate and the result is moved into aws-lc.
    pub(crate) fn generate(bits: usize, e: u64) -> Result<Self> {
        if bits % 128 == 0 && e < 1 << 32 {
            let key = Rsa::generate(bits, e)
                .ok_or_else(|| Error::device("aws-lc RSA key generation failed"))?;
            return Ok(PrivateKey { key });
        }
        PrivateKey::from_rustcrypto(&rustcrypto::PrivateKey::generate(bits, e)?)
    }

    pub(crate) fn public(&self) -> PublicKey {
        PublicKey {
            key: self.key.clone(),
        }
    }

    pub(crate) fn components(&self) -> RsaComponents {
        let [n, e, d, p, q, dp, dq, qi] = self.key.parts();
        RsaComponents {
            modulus: n.to_vec(),
            public_exponent: e.to_vec(),
            private_exponent: d,
            prime_1: p,
            prime_2: q,
            exponent_1: dp,
            exponent_2: dq,
            coefficient: qi,
        }
    }

    /// `x^d mod n` for a `size()`-byte `x` below the modulus.
    pub(crate) fn raw(&self, x: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.key
            .private_raw(x)
            .ok_or_else(|| Error::device("aws-lc RSA private operation failed"))
    }
}
