//! RSA keys and operations: generation, import with consistency checks, PKCS#1 v1.5 and PSS
//! signatures, PKCS#1 v1.5 and OAEP encryption, raw RSA and PKCS#1 v1.5 signature recovery.
//! Serves `CKM_RSA_PKCS_KEY_PAIR_GEN`, `CKM_RSA_PKCS`, `CKM_RSA_X_509`, `CKM_RSA_PKCS_OAEP`,
//! `CKM_RSA_PKCS_PSS`, `CKM_SHA*_RSA_PKCS`, `CKM_SHA3_*_RSA_PKCS` and `CKM_SHA*_RSA_PKCS_PSS`
//! (Current Mechanisms v3.0 §2.1).
//!
//! Two backends compute raw RSA (`x^e mod n` and the private `x^d mod n`): aws-lc in the
//! default build (`rsa/aws.rs`: constant-time CRT with blinding and a check of every result), the
//! `rsa` crate with `--no-default-features` (`rsa/rustcrypto.rs`: constant-time arithmetic, blinding
//! from the operating system's generator, CRT fault check). A key is parsed once, into the
//! backend's own form, when the [`RsaPrivate`] or [`RsaPublic`] is made. Everything else is
//! here and shared by both: EMSA-PKCS1-v1_5, EMSA-PSS, EME-OAEP and EME-PKCS1-v1_5 encoding,
//! the range checks and the return codes. PKCS#11 lets the MGF1 hash differ from the message
//! hash, which fixed-scheme APIs cannot express, and one code path then serves all nine
//! hashes. OAEP decoding is constant-time and checks the leading byte that RFC 8017 requires
//! to be zero (Wycheproof "First byte is 1"); PKCS#1 v1.5 decryption uses implicit rejection
//! (draft-irtf-cfrg-rsa-guidance §7), with the same synthetic messages as the `rsa` crate.
//!
//! Files: this one the key types, limits and shared helpers; `padding.rs` the RFC 8017
//! encodings; `public.rs` and `private.rs` the operations of each key; `aws.rs` and
//! `rustcrypto.rs` the two backends. [`RsaPrivate`] and [`RsaPublic`] are `Send + Sync` and
//! used through `&self`, so one `Arc` of a key serves every operation at once.

#[cfg(feature = "aws-lc")]
mod aws;
mod padding;
mod private;
mod public;
#[cfg_attr(feature = "aws-lc", allow(dead_code))]
mod rustcrypto;

#[cfg(feature = "aws-lc")]
use aws as backend;
#[cfg(not(feature = "aws-lc"))]
use rustcrypto as backend;

use super::digest::{digest_parts, HashAlg, Hasher};
use crate::error::{Error, Result};
use cryptoki_sys::{
    CKR_ATTRIBUTE_VALUE_INVALID, CKR_DATA_INVALID, CKR_DATA_LEN_RANGE, CKR_ENCRYPTED_DATA_INVALID,
    CKR_ENCRYPTED_DATA_LEN_RANGE, CKR_KEY_SIZE_RANGE, CKR_MECHANISM_PARAM_INVALID,
    CKR_SIGNATURE_INVALID, CKR_SIGNATURE_LEN_RANGE, CK_RV,
};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq, ConstantTimeGreater};
use zeroize::Zeroizing;

/// Modulus sizes the engines accept on import and on generation. Which of them a token
/// allows for what is the token's policy (`mechanism::policy`): 512-bit keys only for
/// public-key use, on `compat` tokens.
pub const MIN_BITS: usize = 512;
/// The `rsa` crate generates nothing smaller.
pub const MIN_GENERATE_BITS: usize = 1024;
pub const MAX_IMPORT_BITS: usize = 8192;
pub const MAX_GENERATE_BITS: usize = 4096;
/// Larger public exponents are refused (slow-verification denial of service).
pub const MAX_PUBLIC_EXPONENT: u64 = (1 << 33) - 1;

fn fail<T>(rv: CK_RV) -> Result<T> {
    Err(Error::new(rv))
}

fn invalid<E>(_: E) -> Error {
    Error::new(CKR_ATTRIBUTE_VALUE_INVALID)
}

/// Big-endian bytes without leading zeros (PKCS#11 "Big integer" attributes).
fn trim(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    b.get(start..).unwrap_or(&[])
}

/// `bytes` as exactly `len` bytes: left-padded with zeros, or with surplus leading bytes dropped
/// (callers only drop zeros: values are reduced below the modulus first).
fn left_pad(bytes: &[u8], len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    let n = bytes.len().min(len);
    let (src, dst) = (&bytes[bytes.len() - n..], &mut out[len - n..]);
    dst.copy_from_slice(src);
    out
}

/// The components of a private key as big-endian bytes without leading zeros.
pub struct RsaComponents {
    pub modulus: Vec<u8>,
    pub public_exponent: Vec<u8>,
    pub private_exponent: Zeroizing<Vec<u8>>,
    pub prime_1: Zeroizing<Vec<u8>>,
    pub prime_2: Zeroizing<Vec<u8>>,
    pub exponent_1: Zeroizing<Vec<u8>>,
    pub exponent_2: Zeroizing<Vec<u8>>,
    pub coefficient: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for RsaComponents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RsaComponents({} bits, ..)", bit_len(&self.modulus))
    }
}

fn bit_len(be: &[u8]) -> usize {
    let t = trim(be);
    match t.first() {
        Some(b) => t.len() * 8 - b.leading_zeros() as usize,
        None => 0,
    }
}

/// The public exponent as a number if it is one PKCS#11 keys may use: odd, 3..=2^33-1.
fn checked_exponent(e: &[u8]) -> Option<u64> {
    let t = trim(e);
    if t.is_empty() || t.len() > 8 {
        return None;
    }
    let v = t.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    (v >= 3 && v % 2 == 1 && v <= MAX_PUBLIC_EXPONENT).then_some(v)
}

/// An RSA public key, parsed once into the backend's form.
#[derive(Clone)]
pub struct RsaPublic {
    key: backend::PublicKey,
    /// The modulus without leading zeros: `size()` bytes.
    n: Vec<u8>,
    e: Vec<u8>,
}

impl std::fmt::Debug for RsaPublic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RsaPublic({} bits)", self.modulus_bits())
    }
}

/// An RSA private key, parsed once into the backend's form (which wipes it on drop), with its
/// public half and the implicit-rejection key derived from d.
#[derive(Clone)]
pub struct RsaPrivate {
    key: backend::PrivateKey,
    public: RsaPublic,
    /// SHA-256(I2OSP(d, k)), the HMAC key of PKCS#1 v1.5 implicit rejection.
    rejection_key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for RsaPrivate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RsaPrivate({} bits)", self.public.modulus_bits())
    }
}

/// Which return codes a raw RSA operation reports for a bad length and an out-of-range value.
#[derive(Clone, Copy)]
struct Codes {
    len: CK_RV,
    value: CK_RV,
}

const AS_DATA: Codes = Codes {
    len: CKR_DATA_LEN_RANGE,
    value: CKR_DATA_INVALID,
};
const AS_CIPHERTEXT: Codes = Codes {
    len: CKR_ENCRYPTED_DATA_LEN_RANGE,
    value: CKR_ENCRYPTED_DATA_INVALID,
};
const AS_SIGNATURE: Codes = Codes {
    len: CKR_SIGNATURE_LEN_RANGE,
    value: CKR_SIGNATURE_INVALID,
};

/// Generate a key pair and return its components (see [`RsaPrivate::generate`]).
pub fn generate(bits: usize, public_exponent: &[u8]) -> Result<RsaComponents> {
    Ok(RsaPrivate::generate(bits, public_exponent)?.components())
}

#[cfg(test)]
mod tests;
