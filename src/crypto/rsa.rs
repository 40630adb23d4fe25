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

#[cfg(feature = "aws-lc")]
mod aws;
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

/// Modulus sizes accepted on import (the crate's limits) and on generation.
pub const MIN_BITS: usize = 1024;
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

/// MGF1 (RFC 8017 B.2.1). Its output masks secrets in OAEP, so it is wiped.
fn mgf1(alg: HashAlg, seed: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(len + alg.output_len()));
    let mut counter = 0u32;
    while out.len() < len {
        out.extend_from_slice(&digest_parts(alg, &[seed, &counter.to_be_bytes()]));
        counter = counter.wrapping_add(1);
    }
    out.truncate(len);
    out
}

fn pss_hash(alg: HashAlg, m_hash: &[u8], salt: &[u8]) -> Vec<u8> {
    let mut h = Hasher::new(alg);
    h.update(&[0u8; 8]);
    h.update(m_hash);
    h.update(salt);
    h.finalize()
}

/// EMSA-PKCS1-v1_5 (RFC 8017 §9.2 step 5): `0x00 0x01 FF.. 0x00 || prefix || data`, `k`
/// bytes; `None` when fewer than 8 bytes of padding would fit.
fn pkcs1v15_sign_pad(prefix: &[u8], data: &[u8], k: usize) -> Option<Vec<u8>> {
    let t_len = prefix.len() + data.len();
    let ps = k.checked_sub(t_len + 3).filter(|ps| *ps >= 8)?;
    let mut em = Vec::with_capacity(k);
    em.extend_from_slice(&[0x00, 0x01]);
    em.resize(2 + ps, 0xff);
    em.push(0x00);
    em.extend_from_slice(prefix);
    em.extend_from_slice(data);
    Some(em)
}

impl RsaPublic {
    /// Validates the key: odd modulus of 1024..=8192 bits, odd exponent 3..=2^33-1, e < n.
    /// Anything else is `CKR_ATTRIBUTE_VALUE_INVALID`.
    pub fn new(modulus: &[u8], public_exponent: &[u8]) -> Result<Self> {
        checked_exponent(public_exponent).ok_or(Error::new(CKR_ATTRIBUTE_VALUE_INVALID))?;
        let (n, e) = (trim(modulus), trim(public_exponent));
        Ok(RsaPublic {
            key: backend::PublicKey::new(n, e)?,
            n: n.to_vec(),
            e: e.to_vec(),
        })
    }

    pub fn modulus(&self) -> Vec<u8> {
        self.n.clone()
    }

    pub fn public_exponent(&self) -> Vec<u8> {
        self.e.clone()
    }

    pub fn modulus_bits(&self) -> usize {
        bit_len(&self.n)
    }

    /// Modulus length in bytes: the length of every signature and ciphertext.
    pub fn size(&self) -> usize {
        self.n.len()
    }

    /// `x` (at most `size()` big-endian bytes) as exactly `size()` bytes, checked to be below
    /// the modulus; `codes` say what a bad length or value is.
    fn operand(&self, x: &[u8], codes: Codes) -> Result<Vec<u8>> {
        let k = self.size();
        if x.len() > k {
            return fail(codes.len);
        }
        let x = left_pad(x, k);
        // Both are k-byte big-endian numbers: byte order is numeric order.
        if x.as_slice() >= self.n.as_slice() {
            return fail(codes.value);
        }
        Ok(x)
    }

    /// `x^e mod n` for `x` given as `size()` or fewer big-endian bytes.
    fn public_op(&self, x: &[u8], codes: Codes) -> Result<Vec<u8>> {
        let x = self.operand(x, codes)?;
        self.key.raw(&x).ok_or(Error::new(codes.value))
    }

    /// Raw RSA (`CKM_RSA_X_509` encryption): `size()` bytes out. The input is a big-endian
    /// integer below the modulus (`CKR_DATA_LEN_RANGE` if longer than the modulus,
    /// `CKR_DATA_INVALID` if not below it).
    pub fn raw_public(&self, data: &[u8]) -> Result<Vec<u8>> {
        if data.len() > self.size() {
            return fail(CKR_DATA_LEN_RANGE);
        }
        self.public_op(data, AS_DATA)
    }

    /// `CKM_RSA_X_509` verification recovery: the raw value of a signature (`size()` bytes).
    pub fn recover_raw(&self, signature: &[u8]) -> Result<Vec<u8>> {
        if signature.len() != self.size() {
            return fail(CKR_SIGNATURE_LEN_RANGE);
        }
        self.public_op(signature, AS_SIGNATURE)
    }

    /// `CKM_RSA_X_509` verification: `data` is compared with the recovered value, both as
    /// `size()`-byte big-endian numbers.
    pub fn verify_raw(&self, data: &[u8], signature: &[u8]) -> Result<()> {
        if data.len() > self.size() {
            return fail(CKR_DATA_LEN_RANGE);
        }
        let m = self.recover_raw(signature)?;
        if bool::from(m.ct_eq(&left_pad(data, self.size()))) {
            Ok(())
        } else {
            fail(CKR_SIGNATURE_INVALID)
        }
    }

    /// `CKM_RSA_PKCS` verification of caller data (normally a DigestInfo) of at most
    /// `size() - 11` bytes.
    pub fn verify_pkcs1v15_raw(&self, data: &[u8], signature: &[u8]) -> Result<()> {
        if data.len() + 11 > self.size() {
            return fail(CKR_DATA_LEN_RANGE);
        }
        self.verify_prefixed(&[], data, signature)
    }

    /// PKCS#1 v1.5 verification of a `hash` computed with `alg` (`CKM_SHA*_RSA_PKCS`).
    pub fn verify_pkcs1v15(&self, alg: HashAlg, hash: &[u8], signature: &[u8]) -> Result<()> {
        if hash.len() != alg.output_len() {
            return fail(CKR_DATA_LEN_RANGE);
        }
        self.verify_prefixed(alg.digest_info_prefix(), hash, signature)
    }

    /// RSASSA-PKCS1-v1_5 verification (RFC 8017 §8.2.2): the signature's value must equal the
    /// one encoding of the data, compared whole.
    fn verify_prefixed(&self, prefix: &[u8], data: &[u8], signature: &[u8]) -> Result<()> {
        if signature.len() != self.size() {
            return fail(CKR_SIGNATURE_LEN_RANGE);
        }
        let em = self.public_op(signature, AS_SIGNATURE)?;
        let want = pkcs1v15_sign_pad(prefix, data, self.size());
        match want {
            Some(w) if bool::from(w.ct_eq(&em)) => Ok(()),
            _ => fail(CKR_SIGNATURE_INVALID),
        }
    }

    /// `C_VerifyRecover` for `CKM_RSA_PKCS`: the data inside a type-1 padded block.
    pub fn recover_pkcs1v15(&self, signature: &[u8]) -> Result<Vec<u8>> {
        let em = self.recover_raw(signature)?;
        let bad = || Error::new(CKR_SIGNATURE_INVALID);
        let body = em.strip_prefix(&[0x00, 0x01]).ok_or_else(bad)?;
        let ff = body.iter().take_while(|b| **b == 0xff).count();
        if ff < 8 {
            return Err(bad());
        }
        let rest = body.get(ff..).ok_or_else(bad)?;
        let data = rest.strip_prefix(&[0x00]).ok_or_else(bad)?;
        Ok(data.to_vec())
    }

    /// RSASSA-PSS verification (RFC 8017 §9.1.2) of `hash` (computed with `alg`), with MGF1
    /// over `mgf` and exactly `salt_len` bytes of salt.
    pub fn verify_pss(
        &self,
        alg: HashAlg,
        mgf: HashAlg,
        salt_len: usize,
        hash: &[u8],
        signature: &[u8],
    ) -> Result<()> {
        if hash.len() != alg.output_len() {
            return fail(CKR_DATA_LEN_RANGE);
        }
        if signature.len() != self.size() {
            return fail(CKR_SIGNATURE_LEN_RANGE);
        }
        let em_bits = self.modulus_bits() - 1;
        let em_len = em_bits.div_ceil(8);
        let h_len = alg.output_len();
        let bad = || Error::new(CKR_SIGNATURE_INVALID);
        let m = self.public_op(signature, AS_SIGNATURE)?;
        // The representative has em_len bytes: anything above them must be zero.
        let (high, em) = m.split_at(m.len() - em_len);
        if high.iter().any(|b| *b != 0) || em_len < h_len + salt_len + 2 {
            return Err(bad());
        }
        let (masked_db, rest) = em.split_at(em_len - h_len - 1);
        let (h, trailer) = rest.split_at(h_len);
        let unused_bits = 8 * em_len - em_bits;
        if trailer != [0xbc]
            || masked_db
                .first()
                .is_some_and(|b| unused_bits > 0 && b >> (8 - unused_bits) != 0)
        {
            return Err(bad());
        }
        let mut db = mgf1(mgf, h, masked_db.len());
        for (d, m) in db.iter_mut().zip(masked_db) {
            *d ^= *m;
        }
        if let Some(first) = db.first_mut() {
            *first &= 0xff >> unused_bits;
        }
        let ps_len = em_len - h_len - salt_len - 2;
        let (ps, rest) = db.split_at(ps_len);
        if ps.iter().any(|b| *b != 0) || rest.first() != Some(&0x01) {
            return Err(bad());
        }
        let salt = rest.get(1..).ok_or_else(bad)?;
        if pss_hash(alg, hash, salt) == h {
            Ok(())
        } else {
            Err(bad())
        }
    }

    /// RSAES-PKCS1-v1_5 encryption (RFC 8017 §7.2.1) of at most `size() - 11` bytes.
    pub fn encrypt_pkcs1v15(&self, data: &[u8]) -> Result<Vec<u8>> {
        let k = self.size();
        if data.len() + 11 > k {
            return fail(CKR_DATA_LEN_RANGE);
        }
        // EM = 0x00 || 0x02 || PS || 0x00 || M, PS random non-zero bytes.
        let mut em = Zeroizing::new(vec![0u8; k]);
        let ps_end = k - data.len() - 1;
        if let Some(b) = em.get_mut(1) {
            *b = 0x02;
        }
        let ps = em.get_mut(2..ps_end).unwrap_or_default();
        super::random_fill(ps)?;
        for b in ps.iter_mut() {
            while *b == 0 {
                let mut r = [0u8; 1];
                super::random_fill(&mut r)?;
                *b = r[0];
            }
        }
        if let Some(m) = em.get_mut(ps_end + 1..) {
            m.copy_from_slice(data);
        }
        self.public_op(&em, AS_DATA)
    }

    /// RSAES-OAEP encryption (RFC 8017 §7.1.1) of at most `size() - 2 * hash length - 2`
    /// bytes, `alg` hashing the label and `mgf` driving MGF1.
    pub fn encrypt_oaep(
        &self,
        alg: HashAlg,
        mgf: HashAlg,
        label: &[u8],
        data: &[u8],
    ) -> Result<Vec<u8>> {
        let k = self.size();
        let h_len = alg.output_len();
        if data.len() + 2 * h_len + 2 > k {
            return fail(CKR_DATA_LEN_RANGE);
        }
        // DB = lHash || PS || 0x01 || M, masked; EM = 0x00 || maskedSeed || maskedDB.
        let mut db = Zeroizing::new(digest_parts(alg, &[label]));
        db.resize(k - h_len - 1 - data.len() - 1, 0);
        db.push(0x01);
        db.extend_from_slice(data);
        let mut seed = Zeroizing::new(vec![0u8; h_len]);
        super::random_fill(&mut seed)?;
        let db_mask = mgf1(mgf, &seed, db.len());
        xor_into(&mut db, &db_mask);
        xor_into(&mut seed, &mgf1(mgf, &db, h_len));
        let mut em = Zeroizing::new(Vec::with_capacity(k));
        em.push(0x00);
        em.extend_from_slice(&seed);
        em.extend_from_slice(&db);
        self.public_op(&em, AS_DATA)
    }
}

fn xor_into(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d ^= *s;
    }
}

/// EME-OAEP decoding (RFC 8017 §7.1.2 step 3) in constant time: every byte is examined and every
/// check folded into one flag, so only the final accept/reject is observable. Unlike the `rsa`
/// crate, which ignores it, the leading byte Y must be zero as step 3g says.
fn oaep_decode(em: &[u8], alg: HashAlg, mgf: HashAlg, label: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let h_len = alg.output_len();
    let bad = || Error::new(CKR_ENCRYPTED_DATA_INVALID);
    if em.len() < 2 * h_len + 2 {
        return Err(bad());
    }
    let (y, rest) = em.split_at(1);
    let (masked_seed, masked_db) = rest.split_at(h_len);
    let mut seed = Zeroizing::new(masked_seed.to_vec());
    xor_into(&mut seed, &mgf1(mgf, masked_db, h_len));
    let mut db = Zeroizing::new(masked_db.to_vec());
    xor_into(&mut db, &mgf1(mgf, &seed, masked_db.len()));
    let (l_hash, tail) = db.split_at(h_len);
    let mut good = y.ct_eq(&[0u8]) & l_hash.ct_eq(&digest_parts(alg, &[label]));
    // Find the 0x01 after PS: `looking` stays set until it is seen, and any other non-zero
    // byte before it spoils the padding.
    let mut looking = Choice::from(1u8);
    let mut index = 0u32;
    for (i, b) in tail.iter().enumerate() {
        let is_one = b.ct_eq(&1u8);
        index.conditional_assign(&(i as u32), looking & is_one);
        good &= !(looking & !is_one & !b.ct_eq(&0u8));
        looking &= !is_one;
    }
    good &= !looking;
    if !bool::from(good) {
        return Err(bad());
    }
    let msg = tail.get(index as usize + 1..).ok_or_else(bad)?;
    Ok(Zeroizing::new(msg.to_vec()))
}

/// The implicit-rejection PRF of draft-irtf-cfrg-rsa-guidance §7.1: `length` bytes of
/// HMAC-SHA256(KDK, i || label || bit length), i counting 32-byte blocks.
fn irprf(kdk: &[u8; 32], label: &[u8], length: usize) -> Zeroizing<Vec<u8>> {
    let bits = u16::try_from(length * 8).unwrap_or(u16::MAX).to_be_bytes();
    let mut out = Zeroizing::new(Vec::with_capacity(length + 32));
    let mut i = 0u16;
    while out.len() < length {
        out.extend_from_slice(&super::hmac_sha256(kdk, &[&i.to_be_bytes(), label, &bits]));
        i = i.wrapping_add(1);
    }
    out.truncate(length);
    out
}

/// RSAES-PKCS1-v1_5 decoding with implicit rejection (draft-irtf-cfrg-rsa-guidance §7.2 steps
/// 3-5) of the `k`-byte EM: the message if the padding is right, else a synthetic message
/// derived from the key and the ciphertext, chosen without branching on secret data.
fn pkcs1v15_decode_implicit(
    em: &mut [u8],
    rejection_key: &[u8; 32],
    ciphertext: &[u8],
) -> Zeroizing<Vec<u8>> {
    let k = em.len();
    // Step 3: KDK = HMAC(SHA256(I2OSP(d, k)), C); CL and AM from the PRF.
    let kdk = Zeroizing::new(super::hmac_sha256(rejection_key, &[ciphertext]));
    let cl = irprf(&kdk, b"length", 256);
    let am = irprf(&kdk, b"message", k);
    // AL: the last of the 128 candidate lengths (masked to the bit width of k - 11) that is
    // at most k - 11, or zero.
    let max = u16::try_from(k.saturating_sub(11)).unwrap_or(u16::MAX);
    let mut mask = max;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    let mut al = 0u16;
    for pair in cl.chunks_exact(2) {
        let candidate = u16::from_be_bytes([pair[0], pair[1]]) & mask;
        al.conditional_assign(&candidate, !candidate.ct_gt(&max));
    }
    // Step 4: EM = 0x00 || 0x02 || PS || 0x00 || M, PS at least 8 bytes.
    let mut bad = !em[0].ct_eq(&0) | !em[1].ct_eq(&2);
    let mut looking = Choice::from(1u8);
    let mut separator = 0u32;
    for (i, b) in em.iter().enumerate().skip(2) {
        let zero = b.ct_eq(&0);
        separator.conditional_assign(&(i as u32), looking & zero);
        looking &= !zero;
    }
    bad |= looking | !separator.ct_gt(&9);
    let l = u32::conditional_select(
        &((k as u32).wrapping_sub(separator).wrapping_sub(1)),
        &0,
        looking,
    );
    // Step 5: pick the synthetic message or the real one, reading both whole.
    let length = u32::conditional_select(&l, &u32::from(al), bad);
    for (e, a) in em.iter_mut().zip(am.iter()) {
        e.conditional_assign(a, bad);
    }
    Zeroizing::new(em.get(k - length as usize..).unwrap_or_default().to_vec())
}

impl RsaPrivate {
    /// A private key from its PKCS#11 attributes. `d` is required; without `p` and `q` the
    /// primes are recovered from `n`, `e`, `d` (SP 800-56B C.2). Parts that do not belong
    /// together, and CRT values that differ from the ones the primes imply, are
    /// `CKR_ATTRIBUTE_VALUE_INVALID`.
    #[allow(clippy::too_many_arguments)]
    pub fn from_components(
        modulus: &[u8],
        public_exponent: &[u8],
        private_exponent: &[u8],
        prime_1: Option<&[u8]>,
        prime_2: Option<&[u8]>,
        exponent_1: Option<&[u8]>,
        exponent_2: Option<&[u8]>,
        coefficient: Option<&[u8]>,
    ) -> Result<Self> {
        let public = RsaPublic::new(modulus, public_exponent)?;
        // The crate's prime recovery and CRT set-up underflow on zero or empty values: rule out
        // anything that cannot be a factor or exponent below n before handing them over.
        let n_bits = public.modulus_bits();
        let plausible = |v: &[u8]| (1..=n_bits).contains(&bit_len(v)) && trim(v) != [1];
        if !plausible(private_exponent) || ![prime_1, prime_2].into_iter().flatten().all(plausible)
        {
            return fail(CKR_ATTRIBUTE_VALUE_INVALID);
        }
        let primes = match (prime_1, prime_2) {
            (Some(p), Some(q)) => Some((p, q)),
            (None, None) => None,
            _ => return fail(CKR_ATTRIBUTE_VALUE_INVALID),
        };
        let d = trim(private_exponent);
        // Every part given: aws-lc checks them all itself, the common case (generated keys).
        #[cfg(feature = "aws-lc")]
        if let (Some((p, q)), Some(dp), Some(dq), Some(qi)) =
            (primes, exponent_1, exponent_2, coefficient)
        {
            let z = |v: &[u8]| Zeroizing::new(trim(v).to_vec());
            let key = aws::PrivateKey::from_full(&RsaComponents {
                modulus: public.n.clone(),
                public_exponent: public.e.clone(),
                private_exponent: z(d),
                prime_1: z(p),
                prime_2: z(q),
                exponent_1: z(dp),
                exponent_2: z(dq),
                coefficient: z(qi),
            })?;
            return Ok(RsaPrivate::assemble(key, public, d));
        }
        let rc = rustcrypto::PrivateKey::from_parts(&public.n, &public.e, d, primes)?;
        let c = rc.components();
        let given = [
            (exponent_1, &c.exponent_1),
            (exponent_2, &c.exponent_2),
            (coefficient, &c.coefficient),
        ];
        for (given, mine) in given {
            if let Some(g) = given {
                let g = trim(g);
                if g.len() != mine.len() || !bool::from(g.ct_eq(mine.as_slice())) {
                    return fail(CKR_ATTRIBUTE_VALUE_INVALID);
                }
            }
        }
        #[cfg(feature = "aws-lc")]
        let key = aws::PrivateKey::from_full(&c)?;
        #[cfg(not(feature = "aws-lc"))]
        let key = rc;
        Ok(RsaPrivate::assemble(key, public, d))
    }

    fn assemble(key: backend::PrivateKey, public: RsaPublic, d: &[u8]) -> RsaPrivate {
        let d = Zeroizing::new(left_pad(trim(d), public.size()));
        let rejection_key = Zeroizing::new(super::sha256(&[&d]));
        let public = RsaPublic {
            key: key.public(),
            ..public
        };
        RsaPrivate {
            key,
            public,
            rejection_key,
        }
    }

    /// A new key of `bits` (1024..=4096, else `CKR_KEY_SIZE_RANGE`) with public exponent `e`
    /// (odd, 3..=2^33-1, else `CKR_ATTRIBUTE_VALUE_INVALID`).
    pub fn generate(bits: usize, public_exponent: &[u8]) -> Result<Self> {
        if !(MIN_BITS..=MAX_GENERATE_BITS).contains(&bits) {
            return fail(CKR_KEY_SIZE_RANGE);
        }
        let e = checked_exponent(public_exponent).ok_or(Error::new(CKR_ATTRIBUTE_VALUE_INVALID))?;
        let key = backend::PrivateKey::generate(bits, e)?;
        let c = key.components();
        let public = RsaPublic::new(&c.modulus, &c.public_exponent)?;
        Ok(RsaPrivate::assemble(key, public, &c.private_exponent))
    }

    pub fn public(&self) -> RsaPublic {
        self.public.clone()
    }

    pub fn components(&self) -> RsaComponents {
        self.key.components()
    }

    fn size(&self) -> usize {
        self.public.size()
    }

    /// `x^d mod n`, blinded, with the backend's CRT fault check.
    fn private_op(&self, x: &[u8], codes: Codes) -> Result<Zeroizing<Vec<u8>>> {
        let x = Zeroizing::new(self.public.operand(x, codes)?);
        self.key.raw(&x)
    }

    /// Raw RSA signature (`CKM_RSA_X_509` signing): input a big-endian integer below the
    /// modulus (`CKR_DATA_LEN_RANGE` / `CKR_DATA_INVALID`), output `size()` bytes.
    pub fn raw_private(&self, data: &[u8]) -> Result<Vec<u8>> {
        if data.len() > self.size() {
            return fail(CKR_DATA_LEN_RANGE);
        }
        Ok(self.private_op(data, AS_DATA)?.to_vec())
    }

    /// Raw RSA decryption (`CKM_RSA_X_509`): `size()` bytes of ciphertext
    /// (`CKR_ENCRYPTED_DATA_LEN_RANGE` otherwise), `size()` bytes out.
    pub fn decrypt_raw(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if ciphertext.len() != self.size() {
            return fail(CKR_ENCRYPTED_DATA_LEN_RANGE);
        }
        self.private_op(ciphertext, AS_CIPHERTEXT)
    }

    /// `CKM_RSA_PKCS` signature over caller data (normally a DigestInfo) of at most
    /// `size() - 11` bytes.
    pub fn sign_pkcs1v15_raw(&self, data: &[u8]) -> Result<Vec<u8>> {
        if data.len() + 11 > self.size() {
            return fail(CKR_DATA_LEN_RANGE);
        }
        self.sign_prefixed(&[], data)
    }

    /// PKCS#1 v1.5 signature of a `hash` computed with `alg`.
    pub fn sign_pkcs1v15(&self, alg: HashAlg, hash: &[u8]) -> Result<Vec<u8>> {
        if hash.len() != alg.output_len() {
            return fail(CKR_DATA_LEN_RANGE);
        }
        if alg.digest_info_prefix().len() + hash.len() + 11 > self.size() {
            return fail(CKR_KEY_SIZE_RANGE);
        }
        self.sign_prefixed(alg.digest_info_prefix(), hash)
    }

    /// RSASSA-PKCS1-v1_5 signature (RFC 8017 §8.2.1) of the DigestInfo `prefix || data`.
    fn sign_prefixed(&self, prefix: &[u8], data: &[u8]) -> Result<Vec<u8>> {
        let em =
            pkcs1v15_sign_pad(prefix, data, self.size()).ok_or(Error::new(CKR_DATA_LEN_RANGE))?;
        Ok(self.private_op(&em, AS_DATA)?.to_vec())
    }

    /// RSASSA-PSS signature (RFC 8017 §9.1.1) of `hash` (computed with `alg`) with MGF1 over
    /// `mgf` and a random salt of `salt_len` bytes (0 up to what the modulus leaves room for,
    /// else `CKR_MECHANISM_PARAM_INVALID`).
    pub fn sign_pss(
        &self,
        alg: HashAlg,
        mgf: HashAlg,
        salt_len: usize,
        hash: &[u8],
    ) -> Result<Vec<u8>> {
        if hash.len() != alg.output_len() {
            return fail(CKR_DATA_LEN_RANGE);
        }
        let mut salt = vec![0u8; salt_len];
        super::random_fill(&mut salt)?;
        self.sign_pss_with_salt(alg, mgf, &salt, hash)
    }

    fn sign_pss_with_salt(
        &self,
        alg: HashAlg,
        mgf: HashAlg,
        salt: &[u8],
        hash: &[u8],
    ) -> Result<Vec<u8>> {
        let em_bits = self.public.modulus_bits() - 1;
        let em_len = em_bits.div_ceil(8);
        let h_len = alg.output_len();
        if em_len < h_len + salt.len() + 2 {
            return fail(CKR_MECHANISM_PARAM_INVALID);
        }
        let h = pss_hash(alg, hash, salt);
        let db_len = em_len - h_len - 1;
        let mut em = mgf1(mgf, &h, db_len);
        // DB = PS || 0x01 || salt, masked in place.
        let ps_len = db_len - salt.len() - 1;
        if let Some(b) = em.get_mut(ps_len) {
            *b ^= 0x01;
        }
        for (d, s) in em.iter_mut().skip(ps_len + 1).zip(salt) {
            *d ^= *s;
        }
        if let Some(first) = em.first_mut() {
            *first &= 0xff >> (8 * em_len - em_bits);
        }
        em.extend_from_slice(&h);
        em.push(0xbc);
        Ok(self.private_op(&em, AS_DATA)?.to_vec())
    }

    /// RSAES-PKCS1-v1_5 decryption with implicit rejection (draft-irtf-cfrg-rsa-guidance §7.2):
    /// a ciphertext whose padding is wrong decrypts to a deterministic pseudo-random message
    /// instead of failing, so neither the return code nor the timing tells an attacker whether
    /// the padding was valid (Bleichenbacher, Marvin). Only a length other than `size()` is an
    /// error (`CKR_ENCRYPTED_DATA_LEN_RANGE`); a value not below the modulus is
    /// `CKR_ENCRYPTED_DATA_INVALID`.
    pub fn decrypt_pkcs1v15(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if ciphertext.len() != self.size() || self.size() < 11 {
            return fail(CKR_ENCRYPTED_DATA_LEN_RANGE);
        }
        let mut em = self.private_op(ciphertext, AS_CIPHERTEXT)?;
        Ok(pkcs1v15_decode_implicit(
            &mut em,
            &self.rejection_key,
            ciphertext,
        ))
    }

    /// RSAES-OAEP decryption; every failure after the length check is the single code
    /// `CKR_ENCRYPTED_DATA_INVALID`.
    pub fn decrypt_oaep(
        &self,
        alg: HashAlg,
        mgf: HashAlg,
        label: &[u8],
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        if ciphertext.len() != self.size() {
            return fail(CKR_ENCRYPTED_DATA_LEN_RANGE);
        }
        let em = self.private_op(ciphertext, AS_CIPHERTEXT)?;
        oaep_decode(&em, alg, mgf, label)
    }
}

/// Generate a key pair and return its components (see [`RsaPrivate::generate`]).
pub fn generate(bits: usize, public_exponent: &[u8]) -> Result<RsaComponents> {
    Ok(RsaPrivate::generate(bits, public_exponent)?.components())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::crypto::digest::{digest, hex};
    use rand::rngs::SysRng;
    use rsa::Pkcs1v15Sign;
    use std::sync::OnceLock;

    // Known answers from an independent implementation (OpenSSL through Python `cryptography`),
    // so that the `--no-default-features` build, whose backend is the `rsa` crate the other
    // tests compare with, is checked against something else too;
    // src/crypto/tests/kat_vectors.py writes them.
    mod kat {
        include!("tests/rsa_kat.rs");
    }

    /// The known-answer key (tests/common/keys.rs), imported with all eight components.
    fn kat_key() -> &'static RsaPrivate {
        static K: OnceLock<RsaPrivate> = OnceLock::new();
        K.get_or_init(|| {
            RsaPrivate::from_components(
                &hex(kat::RSA_N),
                &hex(kat::RSA_E),
                &hex(kat::RSA_D),
                Some(&hex(kat::RSA_P)),
                Some(&hex(kat::RSA_Q)),
                Some(&hex(kat::RSA_DP)),
                Some(&hex(kat::RSA_DQ)),
                Some(&hex(kat::RSA_QINV)),
            )
            .unwrap()
        })
    }

    /// The same key from n, e, d and the primes only: the CRT values are computed by the
    /// `rsa` crate, the other import path.
    fn kat_key_without_crt() -> RsaPrivate {
        RsaPrivate::from_components(
            &hex(kat::RSA_N),
            &hex(kat::RSA_E),
            &hex(kat::RSA_D),
            Some(&hex(kat::RSA_P)),
            Some(&hex(kat::RSA_Q)),
            None,
            None,
            None,
        )
        .unwrap()
    }

    /// The same private key in the `rsa` crate: the reference both backends are checked
    /// against (in the default build, aws-lc against RustCrypto).
    fn crate_private(k: &RsaPrivate) -> rsa::PrivateKey {
        let c = k.components();
        rustcrypto::PrivateKey::from_parts(
            &c.modulus,
            &c.public_exponent,
            &c.private_exponent,
            Some((&c.prime_1, &c.prime_2)),
        )
        .unwrap()
        .inner()
        .clone()
    }

    fn crate_public(p: &RsaPublic) -> rsa::PublicKey {
        rustcrypto::PublicKey::new(&p.n, &p.e)
            .unwrap()
            .inner()
            .clone()
    }

    const E65537: [u8; 3] = [1, 0, 1];

    /// One 2048-bit key for the whole module: generation is slow in unoptimized builds.
    fn key() -> &'static RsaPrivate {
        static K: OnceLock<RsaPrivate> = OnceLock::new();
        K.get_or_init(|| RsaPrivate::generate(2048, &E65537).unwrap())
    }

    /// An odd modulus length (2049 bits... rounded) exercises emLen = k - 1 in PSS: built from a
    /// fixed 1025-bit key so the test stays fast.
    fn from_c(c: &RsaComponents) -> Result<RsaPrivate> {
        RsaPrivate::from_components(
            &c.modulus,
            &c.public_exponent,
            &c.private_exponent,
            Some(&c.prime_1),
            Some(&c.prime_2),
            Some(&c.exponent_1),
            Some(&c.exponent_2),
            Some(&c.coefficient),
        )
    }

    #[test]
    fn generated_key_has_consistent_components_and_reimports() {
        let k = key();
        let c = k.components();
        assert_eq!(bit_len(&c.modulus), 2048);
        assert_eq!(c.public_exponent, E65537);
        assert_eq!(k.public().size(), 256);
        assert_eq!(k.public().modulus(), c.modulus);
        let again = from_c(&c).unwrap();
        assert_eq!(again.components().private_exponent, c.private_exponent);
        // n, e, d alone: the primes are recovered.
        let bare = RsaPrivate::from_components(
            &c.modulus,
            &c.public_exponent,
            &c.private_exponent,
            None,
            None,
            None,
            None,
            None,
        )
        .unwrap();
        let bc = bare.components();
        let mut mine = [bc.prime_1.to_vec(), bc.prime_2.to_vec()];
        let mut theirs = [c.prime_1.to_vec(), c.prime_2.to_vec()];
        mine.sort();
        theirs.sort();
        assert_eq!(mine, theirs);
        // Leading zeros in the attribute values are accepted.
        let mut padded_n = vec![0, 0];
        padded_n.extend_from_slice(&c.modulus);
        assert!(RsaPublic::new(&padded_n, &[0, 1, 0, 1]).is_ok());
    }

    #[test]
    fn mismatched_components_are_rejected() {
        let c = key().components();
        let bump = |v: &[u8]| {
            let mut v = v.to_vec();
            let last = v.len() - 1;
            v[last] ^= 2;
            v
        };
        let other = RsaPrivate::generate(1024, &E65537).unwrap().components();
        let cases: Vec<(&str, Result<RsaPrivate>)> = vec![
            (
                "d",
                RsaPrivate::from_components(
                    &c.modulus,
                    &c.public_exponent,
                    &bump(&c.private_exponent),
                    Some(&c.prime_1),
                    Some(&c.prime_2),
                    None,
                    None,
                    None,
                ),
            ),
            (
                "p",
                RsaPrivate::from_components(
                    &c.modulus,
                    &c.public_exponent,
                    &c.private_exponent,
                    Some(&bump(&c.prime_1)),
                    Some(&c.prime_2),
                    None,
                    None,
                    None,
                ),
            ),
            (
                "q from another key",
                RsaPrivate::from_components(
                    &c.modulus,
                    &c.public_exponent,
                    &c.private_exponent,
                    Some(&c.prime_1),
                    Some(&other.prime_2),
                    None,
                    None,
                    None,
                ),
            ),
            (
                "e",
                RsaPrivate::from_components(
                    &c.modulus,
                    &[3],
                    &c.private_exponent,
                    Some(&c.prime_1),
                    Some(&c.prime_2),
                    None,
                    None,
                    None,
                ),
            ),
            (
                "dp",
                RsaPrivate::from_components(
                    &c.modulus,
                    &c.public_exponent,
                    &c.private_exponent,
                    Some(&c.prime_1),
                    Some(&c.prime_2),
                    Some(&bump(&c.exponent_1)),
                    None,
                    None,
                ),
            ),
            (
                "dq",
                RsaPrivate::from_components(
                    &c.modulus,
                    &c.public_exponent,
                    &c.private_exponent,
                    Some(&c.prime_1),
                    Some(&c.prime_2),
                    None,
                    Some(&bump(&c.exponent_2)),
                    None,
                ),
            ),
            (
                "qinv",
                RsaPrivate::from_components(
                    &c.modulus,
                    &c.public_exponent,
                    &c.private_exponent,
                    Some(&c.prime_1),
                    Some(&c.prime_2),
                    None,
                    None,
                    Some(&bump(&c.coefficient)),
                ),
            ),
            (
                "only p",
                RsaPrivate::from_components(
                    &c.modulus,
                    &c.public_exponent,
                    &c.private_exponent,
                    Some(&c.prime_1),
                    None,
                    None,
                    None,
                    None,
                ),
            ),
            (
                "wrong d, no primes",
                RsaPrivate::from_components(
                    &c.modulus,
                    &c.public_exponent,
                    &bump(&c.private_exponent),
                    None,
                    None,
                    None,
                    None,
                    None,
                ),
            ),
        ];
        for (what, r) in cases {
            assert_eq!(r.unwrap_err().rv(), CKR_ATTRIBUTE_VALUE_INVALID, "{what}");
        }
        let mut even = c.modulus.clone();
        *even.last_mut().unwrap() ^= 1;
        for (n, e) in [
            (even, E65537.to_vec()),
            (c.modulus.clone(), vec![1, 0, 0]), // even exponent
            (c.modulus.clone(), vec![1]),
            (c.modulus.clone(), vec![]),
            (c.modulus[..100].to_vec(), E65537.to_vec()), // 800 bits
            (c.modulus.clone(), vec![0x02, 0, 0, 0, 1]),  // above 2^33 - 1
        ] {
            assert_eq!(
                RsaPublic::new(&n, &e).unwrap_err().rv(),
                CKR_ATTRIBUTE_VALUE_INVALID,
                "{e:?}"
            );
        }
        assert_eq!(
            RsaPrivate::generate(512, &E65537).unwrap_err().rv(),
            CKR_KEY_SIZE_RANGE
        );
        assert_eq!(
            RsaPrivate::generate(8192, &E65537).unwrap_err().rv(),
            CKR_KEY_SIZE_RANGE
        );
        assert_eq!(
            RsaPrivate::generate(2048, &[1, 0, 0]).unwrap_err().rv(),
            CKR_ATTRIBUTE_VALUE_INVALID
        );
    }

    #[test]
    fn pkcs1v15_signatures_with_every_hash() {
        let k = key();
        let p = k.public();
        for alg in HashAlg::ALL {
            let h = digest(alg, b"message");
            let sig = k.sign_pkcs1v15(alg, &h).unwrap();
            assert_eq!(sig.len(), 256);
            p.verify_pkcs1v15(alg, &h, &sig).unwrap();
            // CKM_RSA_PKCS over the DigestInfo gives the same signature.
            let mut di = alg.digest_info_prefix().to_vec();
            di.extend_from_slice(&h);
            assert_eq!(k.sign_pkcs1v15_raw(&di).unwrap(), sig);
            p.verify_pkcs1v15_raw(&di, &sig).unwrap();
            assert_eq!(p.recover_pkcs1v15(&sig).unwrap(), di);
            let mut bad = sig.clone();
            bad[100] ^= 1;
            assert_eq!(
                p.verify_pkcs1v15(alg, &h, &bad).unwrap_err().rv(),
                CKR_SIGNATURE_INVALID
            );
            assert_eq!(
                p.verify_pkcs1v15(alg, &h, &sig[1..]).unwrap_err().rv(),
                CKR_SIGNATURE_LEN_RANGE
            );
            let other = digest(alg, b"messagf");
            assert_eq!(
                p.verify_pkcs1v15(alg, &other, &sig).unwrap_err().rv(),
                CKR_SIGNATURE_INVALID
            );
            assert_eq!(
                k.sign_pkcs1v15(alg, &h[1..]).unwrap_err().rv(),
                CKR_DATA_LEN_RANGE
            );
        }
        // Known answers: OpenSSL's signatures of the known-answer key, made and checked here
        // on both import paths.
        let msg = hex(kat::RSA_MSG);
        for k in [kat_key(), &kat_key_without_crt()] {
            for (alg, want) in [
                (HashAlg::Sha256, kat::RSA_PKCS1_SHA256_SIG),
                (HashAlg::Sha384, kat::RSA_PKCS1_SHA384_SIG),
            ] {
                let h = digest(alg, &msg);
                assert_eq!(k.sign_pkcs1v15(alg, &h).unwrap(), hex(want), "{alg:?}");
                k.public().verify_pkcs1v15(alg, &h, &hex(want)).unwrap();
            }
        }
        // The crate's own SHA-256 signer agrees with the prefix table.
        let h = digest(HashAlg::Sha256, b"abc");
        let theirs = crate_private(k)
            .sign_with_rng(&mut SysRng, Pkcs1v15Sign::new::<sha2::Sha256>(), &h)
            .unwrap();
        assert_eq!(k.sign_pkcs1v15(HashAlg::Sha256, &h).unwrap(), theirs);
        assert_eq!(
            k.sign_pkcs1v15_raw(&[0; 246]).unwrap_err().rv(),
            CKR_DATA_LEN_RANGE
        );
        assert!(k.sign_pkcs1v15_raw(&[0; 245]).is_ok());
        assert!(p
            .recover_pkcs1v15(&k.raw_private(&[5; 200]).unwrap())
            .is_err());
    }

    #[test]
    fn pss_any_salt_and_mgf_and_agreement_with_the_crate() {
        let k = key();
        let p = k.public();
        let h = digest(HashAlg::Sha256, b"pss");
        // 0, the hash length and the largest salt the 2048-bit modulus allows.
        for salt in [0usize, 32, 256 - 32 - 2] {
            let sig = k
                .sign_pss(HashAlg::Sha256, HashAlg::Sha256, salt, &h)
                .unwrap();
            p.verify_pss(HashAlg::Sha256, HashAlg::Sha256, salt, &h, &sig)
                .unwrap();
            let scheme = rsa::Pss::<sha2::Sha256> {
                blinded: true,
                digest: Default::default(),
                salt_len: Some(salt),
            };
            crate_public(&p).verify(scheme, &h, &sig).unwrap();
            if salt > 0 {
                assert!(p
                    .verify_pss(HashAlg::Sha256, HashAlg::Sha256, salt - 1, &h, &sig)
                    .is_err());
            }
        }
        assert_eq!(
            k.sign_pss(HashAlg::Sha256, HashAlg::Sha256, 256 - 32 - 1, &h)
                .unwrap_err()
                .rv(),
            CKR_MECHANISM_PARAM_INVALID
        );
        // Known answers: OpenSSL's signatures (random salts) verify, and fixed salts give
        // exactly the signatures RFC 8017 computed independently gives.
        let kk = kat_key();
        let kp = kk.public();
        let msg = hex(kat::RSA_MSG);
        for (alg, mgf, salt_len, sig) in [
            (
                HashAlg::Sha256,
                HashAlg::Sha256,
                32,
                kat::RSA_PSS_SHA256_MGF1_SHA256_SALT32_SIG,
            ),
            (
                HashAlg::Sha384,
                HashAlg::Sha1,
                48,
                kat::RSA_PSS_SHA384_MGF1_SHA1_SALT48_SIG,
            ),
        ] {
            let h = digest(alg, &msg);
            kp.verify_pss(alg, mgf, salt_len, &h, &hex(sig)).unwrap();
            assert_eq!(
                kp.verify_pss(alg, mgf, salt_len + 1, &h, &hex(sig))
                    .unwrap_err()
                    .rv(),
                CKR_SIGNATURE_INVALID
            );
        }
        for (alg, mgf, salt, want) in [
            (
                HashAlg::Sha256,
                HashAlg::Sha256,
                kat::RSA_PSS_SALT32,
                kat::RSA_PSS_SHA256_MGF1_SHA256_FIXED_SALT32_SIG,
            ),
            (
                HashAlg::Sha512,
                HashAlg::Sha1,
                kat::RSA_PSS_SALT20,
                kat::RSA_PSS_SHA512_MGF1_SHA1_FIXED_SALT20_SIG,
            ),
        ] {
            let h = digest(alg, &msg);
            let sig = kk.sign_pss_with_salt(alg, mgf, &hex(salt), &h).unwrap();
            assert_eq!(sig, hex(want), "{alg:?} with MGF1-{mgf:?}");
            kp.verify_pss(alg, mgf, hex(salt).len(), &h, &sig).unwrap();
        }
        // The crate signs, we verify.
        let theirs = crate_private(k)
            .sign_with_rng(&mut SysRng, rsa::Pss::<sha2::Sha256>::new_with_salt(20), &h)
            .unwrap();
        p.verify_pss(HashAlg::Sha256, HashAlg::Sha256, 20, &h, &theirs)
            .unwrap();
        // A different MGF hash, and SHA-3.
        for (alg, mgf) in [
            (HashAlg::Sha384, HashAlg::Sha1),
            (HashAlg::Sha3_256, HashAlg::Sha3_512),
            (HashAlg::Sha512, HashAlg::Sha512),
        ] {
            let h = digest(alg, b"x");
            let sig = k.sign_pss(alg, mgf, alg.output_len(), &h).unwrap();
            p.verify_pss(alg, mgf, alg.output_len(), &h, &sig).unwrap();
            assert_eq!(
                p.verify_pss(alg, HashAlg::Sha224, alg.output_len(), &h, &sig)
                    .unwrap_err()
                    .rv(),
                CKR_SIGNATURE_INVALID
            );
            let mut bad = sig.clone();
            bad[0] ^= 0x40;
            assert!(p.verify_pss(alg, mgf, alg.output_len(), &h, &bad).is_err());
        }
        assert_eq!(
            p.verify_pss(HashAlg::Sha256, HashAlg::Sha256, 32, &h, &[0; 255])
                .unwrap_err()
                .rv(),
            CKR_SIGNATURE_LEN_RANGE
        );
    }

    #[test]
    fn pss_with_a_modulus_of_odd_byte_boundary() {
        // 1025 bits: emBits = 1024, so EM is one byte shorter than the modulus.
        let k = RsaPrivate::generate(1025, &E65537).unwrap();
        let p = k.public();
        assert_eq!(p.modulus_bits(), 1025);
        let h = digest(HashAlg::Sha1, b"odd");
        for salt in [0usize, 20, 128 - 20 - 2] {
            let sig = k.sign_pss(HashAlg::Sha1, HashAlg::Sha1, salt, &h).unwrap();
            p.verify_pss(HashAlg::Sha1, HashAlg::Sha1, salt, &h, &sig)
                .unwrap();
            let scheme = rsa::Pss::<sha1::Sha1> {
                blinded: true,
                digest: Default::default(),
                salt_len: Some(salt),
            };
            crate_public(&p).verify(scheme, &h, &sig).unwrap();
        }
    }

    #[test]
    fn pkcs1v15_encryption_and_implicit_rejection() {
        let k = key();
        let p = k.public();
        let ct = p.encrypt_pkcs1v15(b"key material").unwrap();
        assert_eq!(*k.decrypt_pkcs1v15(&ct).unwrap(), b"key material");
        assert_eq!(
            p.encrypt_pkcs1v15(&[1; 246]).unwrap_err().rv(),
            CKR_DATA_LEN_RANGE
        );
        assert!(p.encrypt_pkcs1v15(&[1; 245]).is_ok());
        // A ciphertext whose plaintext is not type-2 padded yields a stable decoy, not an error.
        let not_padded = p.raw_public(&[0x42; 255]).unwrap();
        let d1 = k.decrypt_pkcs1v15(&not_padded).unwrap();
        let d2 = k.decrypt_pkcs1v15(&not_padded).unwrap();
        assert_eq!(d1, d2);
        assert_ne!(*d1, vec![0x42; 255]);
        assert_eq!(
            k.decrypt_pkcs1v15(&ct[1..]).unwrap_err().rv(),
            CKR_ENCRYPTED_DATA_LEN_RANGE
        );
        assert_eq!(
            k.decrypt_pkcs1v15(&[0xff; 256]).unwrap_err().rv(),
            CKR_ENCRYPTED_DATA_INVALID
        );
    }

    #[test]
    fn pkcs1v15_decryption_agrees_with_the_crate_decoys_included() {
        let k = key();
        let p = k.public();
        let theirs = crate_private(k);
        let crate_ct = crate_public(&p)
            .encrypt(&mut SysRng, rsa::Pkcs1v15Encrypt, b"theirs")
            .unwrap();
        let mut cases = vec![
            p.encrypt_pkcs1v15(b"ours").unwrap(),
            crate_ct,
            p.raw_public(&[0x42; 255]).unwrap(),
        ];
        // Type-2 blocks with a short PS, no separator, and an empty message.
        let mut short_ps = vec![0u8, 2, 1, 1, 1, 0];
        short_ps.resize(256, 7);
        let no_separator = [&[0u8, 2][..], &[9; 254]].concat();
        let empty = [&[0u8, 2][..], &[9; 253], &[0]].concat();
        for em in [short_ps, no_separator, empty] {
            cases.push(p.raw_public(&em).unwrap());
        }
        for i in 0..8u8 {
            let mut c = vec![0u8; 256];
            crate::crypto::random_fill(&mut c[1..]).unwrap();
            c[1] = i;
            cases.push(c);
        }
        for c in &cases {
            assert_eq!(
                *k.decrypt_pkcs1v15(c).unwrap(),
                theirs
                    .decrypt_blinded(&mut SysRng, rsa::Pkcs1v15Encrypt, c)
                    .unwrap()
            );
        }
        assert_eq!(*k.decrypt_pkcs1v15(&cases[0]).unwrap(), b"ours");
        assert_eq!(*k.decrypt_pkcs1v15(&cases[1]).unwrap(), b"theirs");
        // Known answers: OpenSSL's ciphertext decrypts, and malformed blocks decrypt to the
        // synthetic messages OpenSSL's implicit rejection gives (the same draft's algorithm).
        let kk = kat_key();
        for (ct, want) in [
            (kat::RSA_PKCS1_CT, kat::RSA_PKCS1_PLAIN),
            (kat::RSA_DECOY_SHORT_PS_CT, kat::RSA_DECOY_SHORT_PS_PLAIN),
            (
                kat::RSA_DECOY_NO_SEPARATOR_CT,
                kat::RSA_DECOY_NO_SEPARATOR_PLAIN,
            ),
            (kat::RSA_DECOY_EMPTY_CT, kat::RSA_DECOY_EMPTY_PLAIN),
            (
                kat::RSA_DECOY_NOT_PADDED_CT,
                kat::RSA_DECOY_NOT_PADDED_PLAIN,
            ),
        ] {
            assert_eq!(*kk.decrypt_pkcs1v15(&hex(ct)).unwrap(), hex(want), "{want}");
        }
    }

    #[test]
    fn raw_operations_agree_with_the_rustcrypto_backend() {
        let k = key();
        let c = k.components();
        let rc = rustcrypto::PrivateKey::from_parts(
            &c.modulus,
            &c.public_exponent,
            &c.private_exponent,
            Some((&c.prime_1, &c.prime_2)),
        )
        .unwrap();
        for i in 0..4u8 {
            let mut x = vec![0u8; 256];
            crate::crypto::random_fill(&mut x[1..]).unwrap();
            x[1] = i;
            let s = k.raw_private(&x).unwrap();
            assert_eq!(*rc.raw(&x).unwrap(), s);
            assert_eq!(rc.public().raw(&s).unwrap(), x);
            assert_eq!(k.public().raw_public(&s).unwrap(), x);
        }
        // Known answers (Python's pow), through the backend and through the `rsa` crate.
        let kk = kat_key();
        let (x, xd, xe) = (
            hex(kat::RSA_RAW_IN),
            hex(kat::RSA_RAW_PRIVATE),
            hex(kat::RSA_RAW_PUBLIC),
        );
        assert_eq!(kk.raw_private(&x).unwrap(), xd);
        assert_eq!(kk.public().raw_public(&x).unwrap(), xe);
        assert_eq!(*kk.decrypt_raw(&xe).unwrap(), x);
        assert_eq!(kk.public().recover_raw(&xd).unwrap(), x);
        let rc = rustcrypto::PrivateKey::from_parts(
            &hex(kat::RSA_N),
            &hex(kat::RSA_E),
            &hex(kat::RSA_D),
            Some((&hex(kat::RSA_P), &hex(kat::RSA_Q))),
        )
        .unwrap();
        assert_eq!(*rc.raw(&x).unwrap(), xd);
        assert_eq!(rc.public().raw(&x).unwrap(), xe);
    }

    #[test]
    fn oaep_with_labels_and_hash_pairs() {
        let k = key();
        let p = k.public();
        for (alg, mgf) in [
            (HashAlg::Sha1, HashAlg::Sha1),
            (HashAlg::Sha256, HashAlg::Sha256),
            (HashAlg::Sha256, HashAlg::Sha1),
            (HashAlg::Sha512, HashAlg::Sha384),
            (HashAlg::Sha3_256, HashAlg::Sha3_256),
        ] {
            let ct = p.encrypt_oaep(alg, mgf, b"label", b"secret").unwrap();
            assert_eq!(*k.decrypt_oaep(alg, mgf, b"label", &ct).unwrap(), b"secret");
            assert_eq!(
                k.decrypt_oaep(alg, mgf, b"other", &ct).unwrap_err().rv(),
                CKR_ENCRYPTED_DATA_INVALID
            );
            assert_eq!(
                k.decrypt_oaep(alg, HashAlg::Sha224, b"label", &ct)
                    .unwrap_err()
                    .rv(),
                CKR_ENCRYPTED_DATA_INVALID
            );
            let mut bad = ct.clone();
            bad[7] ^= 1;
            assert_eq!(
                k.decrypt_oaep(alg, mgf, b"label", &bad).unwrap_err().rv(),
                CKR_ENCRYPTED_DATA_INVALID
            );
            let max = 256 - 2 * alg.output_len() - 2;
            assert!(p.encrypt_oaep(alg, mgf, b"", &vec![7; max]).is_ok());
            assert_eq!(
                p.encrypt_oaep(alg, mgf, b"", &vec![7; max + 1])
                    .unwrap_err()
                    .rv(),
                CKR_DATA_LEN_RANGE
            );
        }
        // The crate's SHA-256 OAEP decrypts ours (and an empty label equals no label).
        let ct = p
            .encrypt_oaep(HashAlg::Sha256, HashAlg::Sha256, b"", b"hi")
            .unwrap();
        assert_eq!(
            crate_private(k)
                .decrypt_blinded(&mut SysRng, rsa::Oaep::<sha2::Sha256>::new(), &ct)
                .unwrap(),
            b"hi"
        );
    }

    #[test]
    fn oaep_agrees_with_the_crate_and_checks_the_leading_byte() {
        let k = key();
        let p = k.public();
        let scheme =
            rsa::Oaep::<sha2::Sha256, sha1::Sha1>::new_with_mgf_hash_and_label(&b"lbl"[..]);
        let theirs = crate_public(&p)
            .encrypt(&mut SysRng, scheme, b"from the crate")
            .unwrap();
        assert_eq!(
            *k.decrypt_oaep(HashAlg::Sha256, HashAlg::Sha1, b"lbl", &theirs)
                .unwrap(),
            b"from the crate"
        );
        let ours = p
            .encrypt_oaep(HashAlg::Sha256, HashAlg::Sha1, b"lbl", b"x")
            .unwrap();
        let mut em = k.decrypt_raw(&ours).unwrap();
        assert_eq!(em[0], 0);
        assert_eq!(
            *oaep_decode(&em, HashAlg::Sha256, HashAlg::Sha1, b"lbl").unwrap(),
            b"x"
        );
        em[0] = 1;
        assert_eq!(
            oaep_decode(&em, HashAlg::Sha256, HashAlg::Sha1, b"lbl")
                .unwrap_err()
                .rv(),
            CKR_ENCRYPTED_DATA_INVALID
        );
        // Known answers: OpenSSL's ciphertexts decrypt.
        let kk = kat_key();
        for (alg, mgf, label, ct) in [
            (
                HashAlg::Sha256,
                HashAlg::Sha1,
                &b"lbl"[..],
                kat::RSA_OAEP_SHA256_MGF1_SHA1_LABEL_LBL_CT,
            ),
            (
                HashAlg::Sha1,
                HashAlg::Sha1,
                &b""[..],
                kat::RSA_OAEP_SHA1_CT,
            ),
        ] {
            assert_eq!(
                *kk.decrypt_oaep(alg, mgf, label, &hex(ct)).unwrap(),
                hex(kat::RSA_OAEP_PLAIN)
            );
            assert_eq!(
                kk.decrypt_oaep(alg, mgf, b"other", &hex(ct))
                    .unwrap_err()
                    .rv(),
                CKR_ENCRYPTED_DATA_INVALID
            );
        }
        // Empty messages and the empty label work.
        let ct = p
            .encrypt_oaep(HashAlg::Sha1, HashAlg::Sha1, b"", b"")
            .unwrap();
        assert!(k
            .decrypt_oaep(HashAlg::Sha1, HashAlg::Sha1, b"", &ct)
            .unwrap()
            .is_empty());
    }

    /// Every malformed component is `CKR_ATTRIBUTE_VALUE_INVALID` (`RsaPublic::new` and
    /// `RsaPrivate::from_components` report nothing else), never a panic nor a key.
    #[test]
    fn garbage_components_are_errors_not_panics() {
        let c = key().components();
        let invalid = |what: &str, r: Result<RsaPrivate>| match r {
            Err(e) => assert_eq!(e.rv(), CKR_ATTRIBUTE_VALUE_INVALID, "{what}"),
            Ok(_) => panic!("{what}: accepted as a private key"),
        };
        let samples: [&[u8]; 6] = [&[], &[0], &[0, 0, 0], &[1], &[0xff; 600], &[3]];
        for n in samples.iter().chain([&c.modulus[..]].iter()) {
            for e in samples.iter().chain([&E65537[..]].iter()) {
                // A public key needs no more than an odd n of 1024..=8192 bits and an odd e of
                // 3..=2^33-1 below it: 2^4800-1 qualifies, the other samples do not.
                let public_ok = (*n == c.modulus.as_slice() || *n == [0xff; 600].as_slice())
                    && (*e == [3].as_slice() || *e == E65537.as_slice());
                match RsaPublic::new(n, e) {
                    Ok(_) => assert!(public_ok, "public n {n:02x?} e {e:02x?} accepted"),
                    Err(err) => {
                        assert!(!public_ok, "public n {n:02x?} e {e:02x?} refused");
                        assert_eq!(err.rv(), CKR_ATTRIBUTE_VALUE_INVALID, "public {e:02x?}");
                    }
                }
                for d in samples {
                    let what = format!("n {} bytes, e {e:02x?}, d {d:02x?}", n.len());
                    invalid(
                        &what,
                        RsaPrivate::from_components(n, e, d, None, None, None, None, None),
                    );
                    invalid(
                        &format!("{what}, all parts d"),
                        RsaPrivate::from_components(
                            n,
                            e,
                            d,
                            Some(d),
                            Some(d),
                            Some(d),
                            Some(d),
                            Some(d),
                        ),
                    );
                }
            }
        }
        invalid(
            "empty primes",
            RsaPrivate::from_components(
                &c.modulus,
                &E65537,
                &c.private_exponent,
                Some(&[]),
                Some(&[]),
                None,
                None,
                None,
            ),
        );
        invalid(
            "primes n and 1",
            RsaPrivate::from_components(
                &c.modulus,
                &E65537,
                &c.private_exponent,
                Some(&c.modulus),
                Some(&[1]),
                None,
                None,
                None,
            ),
        );
        // Random values of the right sizes with the real modulus.
        for i in 0..40usize {
            let mut d = vec![0u8; 1 + i * 6];
            let mut pq = vec![0u8; 1 + i * 3];
            crate::crypto::random_fill(&mut d).unwrap();
            crate::crypto::random_fill(&mut pq).unwrap();
            invalid(
                &format!("random d of {} bytes", d.len()),
                RsaPrivate::from_components(&c.modulus, &E65537, &d, None, None, None, None, None),
            );
            invalid(
                &format!("random d and p of {} bytes", pq.len()),
                RsaPrivate::from_components(
                    &c.modulus,
                    &E65537,
                    &d,
                    Some(&pq),
                    Some(&c.prime_2),
                    None,
                    None,
                    None,
                ),
            );
            invalid(
                &format!("random q of {} bytes", pq.len()),
                RsaPrivate::from_components(
                    &c.modulus,
                    &E65537,
                    &c.private_exponent,
                    Some(&c.prime_1),
                    Some(&pq),
                    None,
                    None,
                    None,
                ),
            );
        }
    }

    #[test]
    fn raw_rsa_round_trips_and_checks_ranges() {
        let k = key();
        let p = k.public();
        let x = hex("0102030405");
        let c = p.raw_public(&x).unwrap();
        assert_eq!(c.len(), 256);
        let m = k.decrypt_raw(&c).unwrap();
        assert_eq!(m.len(), 256);
        assert_eq!(&m[251..], x.as_slice());
        assert!(m[..251].iter().all(|b| *b == 0));
        let s = k.raw_private(&x).unwrap();
        p.verify_raw(&x, &s).unwrap();
        assert_eq!(p.recover_raw(&s).unwrap(), left_pad(&x, 256));
        assert_eq!(
            p.verify_raw(&hex("0102030406"), &s).unwrap_err().rv(),
            CKR_SIGNATURE_INVALID
        );
        let n = p.modulus();
        assert_eq!(p.raw_public(&n).unwrap_err().rv(), CKR_DATA_INVALID);
        assert_eq!(
            p.raw_public(&[1; 257]).unwrap_err().rv(),
            CKR_DATA_LEN_RANGE
        );
        assert_eq!(k.raw_private(&n).unwrap_err().rv(), CKR_DATA_INVALID);
        assert_eq!(
            k.decrypt_raw(&n).unwrap_err().rv(),
            CKR_ENCRYPTED_DATA_INVALID
        );
        assert_eq!(
            k.decrypt_raw(&[1; 255]).unwrap_err().rv(),
            CKR_ENCRYPTED_DATA_LEN_RANGE
        );
        assert_eq!(p.recover_raw(&n).unwrap_err().rv(), CKR_SIGNATURE_INVALID);
        assert_eq!(
            p.recover_raw(&[1; 10]).unwrap_err().rv(),
            CKR_SIGNATURE_LEN_RANGE
        );
    }
}
