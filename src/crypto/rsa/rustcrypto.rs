//! The RustCrypto RSA backend: raw RSA over the `rsa` crate (constant-time big integers,
//! blinding from the operating system's generator, a CRT fault check on every private
//! operation). It is the engine of the `--no-default-features` build; the aws-lc build uses it
//! only to recover primes from (n, e, d), to fill in missing CRT values, and to generate keys
//! whose size or exponent aws-lc's generator does not take.

use super::{bit_len, invalid, trim, RsaComponents, MAX_IMPORT_BITS, MIN_BITS};
use crate::error::{Error, Result};
use rand::rngs::SysRng;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::BoxedUint;
use zeroize::{Zeroize, Zeroizing};

fn uint(bytes: &[u8]) -> BoxedUint {
    BoxedUint::from_be_slice_vartime(trim(bytes))
}

fn uint_bytes(x: &BoxedUint) -> Zeroizing<Vec<u8>> {
    let mut b = x.to_be_bytes();
    let out = Zeroizing::new(trim(&b).to_vec());
    b.zeroize();
    out
}

/// A public key of the `rsa` crate.
#[derive(Clone)]
pub(crate) struct PublicKey {
    key: rsa::PublicKey,
}

impl PublicKey {
    /// The crate checks the modulus (odd, 512..=8192 bits) and that e is below it.
    pub(crate) fn new(n: &[u8], e: &[u8]) -> Result<Self> {
        let key =
            rsa::PublicKey::new_with_size_limits(uint(n), uint(e), MIN_BITS..=MAX_IMPORT_BITS)
                .map_err(invalid)?;
        Ok(PublicKey { key })
    }

    /// `x^e mod n` for a `size()`-byte `x` below the modulus; `None` on failure.
    pub(crate) fn raw(&self, x: &[u8]) -> Option<Vec<u8>> {
        let m = BoxedUint::from_be_slice(x, self.key.n_bits_precision()).ok()?;
        let c = rsa::hazmat::rsa_encrypt(&self.key, &m).ok()?;
        Some(super::left_pad(&c.to_be_bytes(), self.key.size()))
    }

    #[cfg(test)]
    pub(crate) fn inner(&self) -> &rsa::PublicKey {
        &self.key
    }
}

/// A private key of the `rsa` crate, which wipes it on drop.
#[derive(Clone)]
pub(crate) struct PrivateKey {
    key: rsa::PrivateKey,
}

impl PrivateKey {
    /// A key from n, e, d and optionally the primes (recovered from n, e, d when absent); the
    /// crate checks that the parts belong together and computes the CRT values.
    pub(crate) fn from_parts(
        n: &[u8],
        e: &[u8],
        d: &[u8],
        primes: Option<(&[u8], &[u8])>,
    ) -> Result<Self> {
        let primes = primes.map_or_else(Vec::new, |(p, q)| vec![uint(p), uint(q)]);
        let key =
            rsa::PrivateKey::from_components(uint(n), uint(e), uint(d), primes).map_err(invalid)?;
        Ok(PrivateKey { key })
    }

    pub(crate) fn generate(bits: usize, e: u64) -> Result<Self> {
        let key = rsa::PrivateKey::new_with_exp(&mut SysRng, bits, BoxedUint::from(e))
            .map_err(|e| Error::device(format_args!("RSA key generation failed: {e}")))?;
        Ok(PrivateKey { key })
    }

    pub(crate) fn public(&self) -> PublicKey {
        PublicKey {
            key: self.key.to_public_key(),
        }
    }

    pub(crate) fn components(&self) -> RsaComponents {
        let prime = |i: usize| {
            self.key
                .primes()
                .get(i)
                .map(|p| uint_bytes(p.as_ref()))
                .unwrap_or_default()
        };
        let opt = |x: Option<&BoxedUint>| x.map(uint_bytes).unwrap_or_default();
        let coefficient = self
            .key
            .qinv()
            .map(|q| uint_bytes(&q.retrieve()))
            .unwrap_or_default();
        RsaComponents {
            modulus: trim(&self.key.n().to_be_bytes()).to_vec(),
            public_exponent: trim(&self.key.e().to_be_bytes()).to_vec(),
            private_exponent: uint_bytes(self.key.d()),
            prime_1: prime(0),
            prime_2: prime(1),
            exponent_1: opt(self.key.dp()),
            exponent_2: opt(self.key.dq()),
            coefficient,
        }
    }

    /// `x^d mod n`, blinded, with the crate's CRT fault check, for a `size()`-byte `x` below
    /// the modulus.
    pub(crate) fn raw(&self, x: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let c = BoxedUint::from_be_slice(x, self.key.n_bits_precision())
            .map_err(|_| Error::device("RSA input wider than the modulus"))?;
        let mut m = rsa::hazmat::rsa_decrypt_and_check(&self.key, Some(&mut SysRng), &c)
            .map_err(|e| Error::device(format_args!("RSA private operation failed: {e}")))?;
        let mut b = m.to_be_bytes();
        let out = Zeroizing::new(super::left_pad(&b, self.key.size()));
        b.zeroize();
        m.zeroize();
        Ok(out)
    }

    #[cfg(test)]
    pub(crate) fn inner(&self) -> &rsa::PrivateKey {
        &self.key
    }
}

/// Debug output never shows key material.
impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PrivateKey({} bits)",
            bit_len(&self.key.n().to_be_bytes())
        )
    }
}
