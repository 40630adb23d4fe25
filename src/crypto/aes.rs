//! AES and its modes: ECB, CBC, CBC with PKCS#7 padding, CTR with a PKCS#11 counter width,
//! CBC ciphertext stealing (CS1), GCM, CCM, key wrap (RFC 3394, RFC 5649) and CMAC.
//! Serves `CKM_AES_ECB`, `CKM_AES_CBC`, `CKM_AES_CBC_PAD`, `CKM_AES_CTR`, `CKM_AES_CTS`,
//! `CKM_AES_GCM`, `CKM_AES_CCM`, `CKM_AES_KEY_WRAP`, `CKM_AES_KEY_WRAP_KWP`, `CKM_AES_CMAC`,
//! `CKM_AES_CMAC_GENERAL`, `CKM_AES_ECB_ENCRYPT_DATA` and `CKM_AES_CBC_ENCRYPT_DATA`
//! (Current Mechanisms v3.0 §2.10 AES, §2.11 AES with Counter, §2.12 AES CBC with Cipher Text
//! Stealing, §2.13 Additional AES Mechanisms, §2.14 AES CMAC, §2.16 AES Key Wrap, §2.17 Key
//! derivation by data encryption).
//!
//! GCM, CCM, CTR and CTS are built here on the `aes` block cipher (GHASH from `ghash`): PKCS#11
//! lets the caller choose GCM IVs of any length (1-256 bytes here) and tags of 4-16 bytes, CCM
//! nonce and tag sizes per call, and the CTR counter width, which the mode crates only offer as
//! compile-time types. CTS is the CS1 variant (see [`Mode::Cts`]).

#[cfg(feature = "aws-lc")]
use super::awslc;
use crate::error::{Error, Result};
use aes::cipher::KeyInit;
#[cfg(not(feature = "aws-lc"))]
use aes::cipher::{BlockCipherDecrypt, BlockCipherEncrypt};
use cryptoki_sys::{
    CKR_DATA_LEN_RANGE, CKR_ENCRYPTED_DATA_INVALID, CKR_ENCRYPTED_DATA_LEN_RANGE,
    CKR_KEY_SIZE_RANGE, CKR_MECHANISM_PARAM_INVALID, CKR_OPERATION_NOT_INITIALIZED,
    CKR_SIGNATURE_INVALID, CKR_SIGNATURE_LEN_RANGE, CKR_WRAPPED_KEY_INVALID,
    CKR_WRAPPED_KEY_LEN_RANGE,
};
use ghash::universal_hash::UniversalHash;
use subtle::{ConstantTimeEq, ConstantTimeGreater};
use zeroize::{Zeroize, Zeroizing};

pub const BLOCK_LEN: usize = 16;
pub type Block = [u8; BLOCK_LEN];

fn err<T>(rv: cryptoki_sys::CK_RV) -> Result<T> {
    Err(Error::new(rv))
}

/// The first 16 bytes of `s`, zero-padded: total on any input, so no slice can panic.
fn to_block(s: &[u8]) -> Block {
    let mut b = [0u8; BLOCK_LEN];
    for (d, x) in b.iter_mut().zip(s) {
        *d = *x;
    }
    b
}

fn xor_into(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d ^= *s;
    }
}

#[cfg(not(feature = "aws-lc"))]
#[derive(Clone)]
enum Schedule {
    A128(aes::Aes128),
    A192(aes::Aes192),
    A256(aes::Aes256),
}

/// aws-lc's schedules for both directions (AES instructions where the processor has them).
#[cfg(feature = "aws-lc")]
#[derive(Clone)]
struct Schedule {
    enc: awslc::AesSchedule,
    dec: awslc::AesSchedule,
}

/// An expanded AES key (128, 192 or 256 bits); the schedule is wiped on drop (by the `aes`
/// crate, or by the aws-lc backend's wrapper).
#[derive(Clone)]
pub struct AesKey {
    s: Schedule,
    len: usize,
}

impl std::fmt::Debug for AesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AesKey(AES-{})", self.len * 8)
    }
}

impl AesKey {
    /// A 16-, 24- or 32-byte key; any other length is `CKR_KEY_SIZE_RANGE`.
    #[cfg(not(feature = "aws-lc"))]
    pub fn new(key: &[u8]) -> Result<Self> {
        let bad = |_| Error::new(CKR_KEY_SIZE_RANGE);
        let s = match key.len() {
            16 => Schedule::A128(aes::Aes128::new_from_slice(key).map_err(bad)?),
            24 => Schedule::A192(aes::Aes192::new_from_slice(key).map_err(bad)?),
            32 => Schedule::A256(aes::Aes256::new_from_slice(key).map_err(bad)?),
            _ => return err(CKR_KEY_SIZE_RANGE),
        };
        Ok(AesKey { s, len: key.len() })
    }

    /// A 16-, 24- or 32-byte key; any other length is `CKR_KEY_SIZE_RANGE`.
    #[cfg(feature = "aws-lc")]
    pub fn new(key: &[u8]) -> Result<Self> {
        let bad = || Error::new(CKR_KEY_SIZE_RANGE);
        let s = Schedule {
            enc: awslc::AesSchedule::new(key, true).ok_or_else(bad)?,
            dec: awslc::AesSchedule::new(key, false).ok_or_else(bad)?,
        };
        Ok(AesKey { s, len: key.len() })
    }

    /// Key length in bytes.
    pub fn key_len(&self) -> usize {
        self.len
    }

    #[cfg(not(feature = "aws-lc"))]
    pub fn encrypt_block(&self, b: &mut Block) {
        match &self.s {
            Schedule::A128(c) => c.encrypt_block(b.into()),
            Schedule::A192(c) => c.encrypt_block(b.into()),
            Schedule::A256(c) => c.encrypt_block(b.into()),
        }
    }

    #[cfg(not(feature = "aws-lc"))]
    pub fn decrypt_block(&self, b: &mut Block) {
        match &self.s {
            Schedule::A128(c) => c.decrypt_block(b.into()),
            Schedule::A192(c) => c.decrypt_block(b.into()),
            Schedule::A256(c) => c.decrypt_block(b.into()),
        }
    }

    #[cfg(feature = "aws-lc")]
    pub fn encrypt_block(&self, b: &mut Block) {
        self.s.enc.block(true, b)
    }

    #[cfg(feature = "aws-lc")]
    pub fn decrypt_block(&self, b: &mut Block) {
        self.s.dec.block(false, b)
    }

    /// CBC over the whole blocks of `data`, in place, chaining from `chain` and leaving the
    /// last ciphertext block in it.
    fn cbc(&self, dir: Direction, chain: &mut Block, data: &mut [u8]) {
        #[cfg(feature = "aws-lc")]
        match dir {
            Direction::Encrypt => self.s.enc.cbc(true, chain, data),
            Direction::Decrypt => self.s.dec.cbc(false, chain, data),
        }
        #[cfg(not(feature = "aws-lc"))]
        for chunk in data.chunks_exact_mut(BLOCK_LEN) {
            let mut b = to_block(chunk);
            match dir {
                Direction::Encrypt => {
                    xor_into(&mut b, chain);
                    self.encrypt_block(&mut b);
                    *chain = b;
                }
                Direction::Decrypt => {
                    let c = b;
                    self.decrypt_block(&mut b);
                    xor_into(&mut b, chain);
                    *chain = c;
                }
            }
            chunk.copy_from_slice(&b);
            b.zeroize();
        }
    }
}

/// `CKA_CHECK_VALUE` of an AES key: the first three bytes of the encryption of a zero block.
pub fn check_value(key: &[u8]) -> Result<[u8; 3]> {
    let k = AesKey::new(key)?;
    let mut b = [0u8; BLOCK_LEN];
    k.encrypt_block(&mut b);
    Ok([b[0], b[1], b[2]])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Encrypt,
    Decrypt,
}

impl Direction {
    /// The length error PKCS#11 reports for this direction.
    fn len_error(self) -> Error {
        Error::new(match self {
            Direction::Encrypt => CKR_DATA_LEN_RANGE,
            Direction::Decrypt => CKR_ENCRYPTED_DATA_LEN_RANGE,
        })
    }
}

/// A streaming block mode and its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Ecb,
    Cbc {
        iv: Block,
    },
    /// CBC with PKCS#7 padding (`CKM_AES_CBC_PAD`).
    CbcPad {
        iv: Block,
    },
    /// `CK_AES_CTR_PARAMS`: the low `counter_bits` bits (1..=128) of `block` count blocks and
    /// may not overflow (`CKR_DATA_LEN_RANGE`).
    Ctr {
        counter_bits: u64,
        block: Block,
    },
    /// CBC with ciphertext stealing, variant CS1 of the SP 800-38A addendum, as NSS softoken,
    /// OpenSSL (default) and Java SunPKCS11 (default) do for `CKM_AES_CTS`: the partial block
    /// `C(n-1)*` before the last full one; whole blocks are plain CBC.
    Cts {
        iv: Block,
    },
}

#[derive(Clone)]
struct CtrState {
    counter: Block,
    mask: u128,
    /// Blocks left before the counter bits would overflow, which PKCS#11 forbids (the counter
    /// may not wrap into the nonce or back to zero); `None` for a 128-bit counter starting at
    /// zero, whose 2^128 blocks cannot be counted in a `u128` or used up.
    remaining: Option<u128>,
    keystream: Block,
    used: usize,
}

impl CtrState {
    fn new(counter_bits: u64, block: Block) -> Result<Self> {
        if !(1..=128).contains(&counter_bits) {
            return err(CKR_MECHANISM_PARAM_INVALID);
        }
        let start = u128::from_be_bytes(block);
        let (mask, remaining) = if counter_bits == 128 {
            (u128::MAX, (start != 0).then(|| start.wrapping_neg()))
        } else {
            let n = 1u128 << counter_bits;
            (n - 1, Some(n - (start & (n - 1))))
        };
        Ok(CtrState {
            counter: block,
            mask,
            remaining,
            keystream: [0; BLOCK_LEN],
            used: BLOCK_LEN,
        })
    }

    fn blocks_needed(&self, len: usize) -> u128 {
        let avail = BLOCK_LEN - self.used;
        if len <= avail {
            0
        } else {
            (len - avail).div_ceil(BLOCK_LEN) as u128
        }
    }

    /// Current Mechanisms v3.0 §2.11.3: a request that would overflow the counter bits is
    /// `CKR_DATA_LEN_RANGE`, in both directions.
    fn apply(&mut self, key: &AesKey, input: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        // Check before producing anything, so a refused call leaves the operation unchanged.
        if let Some(left) = self.remaining {
            if self.blocks_needed(input.len()) > left {
                return err(CKR_DATA_LEN_RANGE);
            }
        }
        let mut out = Zeroizing::new(input.to_vec());
        for byte in out.iter_mut() {
            if self.used == BLOCK_LEN {
                self.keystream = self.counter;
                key.encrypt_block(&mut self.keystream);
                // The last permitted block may carry the counter bits round to zero; the
                // length check above keeps that value from ever being used.
                let c = u128::from_be_bytes(self.counter);
                let next = (c & !self.mask) | (c.wrapping_add(1) & self.mask);
                self.counter = next.to_be_bytes();
                if let Some(left) = self.remaining.as_mut() {
                    *left = left.saturating_sub(1);
                }
                self.used = 0;
            }
            *byte ^= self.keystream[self.used];
            self.used += 1;
        }
        Ok(out)
    }
}

impl Drop for CtrState {
    fn drop(&mut self) {
        self.keystream.zeroize();
    }
}

#[derive(Clone)]
enum Kind {
    Ecb,
    Cbc { pad: bool },
    Ctr(CtrState),
    Cts,
}

/// A multi-part AES encryption or decryption in one of the [`Mode`]s.
///
/// `update` returns what can be released so far; `finish` ends the operation (after it, both
/// return `CKR_OPERATION_NOT_INITIALIZED`). ECB and CBC need a total length that is a multiple
/// of 16; CBC-PAD decryption holds back the last block until `finish` checks the padding; CTS
/// holds back the last two blocks. Lengths are reported as `CKR_DATA_LEN_RANGE` when
/// encrypting and `CKR_ENCRYPTED_DATA_LEN_RANGE` when decrypting.
#[derive(Clone)]
pub struct AesCipher {
    key: AesKey,
    dir: Direction,
    kind: Kind,
    /// CBC chaining value: the IV, then the last ciphertext block.
    chain: Block,
    /// Input not yet processed.
    pending: Zeroizing<Vec<u8>>,
    done: bool,
}

impl std::fmt::Debug for AesCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match self.kind {
            Kind::Ecb => "ECB",
            Kind::Cbc { pad: false } => "CBC",
            Kind::Cbc { pad: true } => "CBC-PAD",
            Kind::Ctr(_) => "CTR",
            Kind::Cts => "CTS",
        };
        write!(f, "AesCipher({mode}, {:?})", self.dir)
    }
}

impl Drop for AesCipher {
    fn drop(&mut self) {
        self.chain.zeroize();
    }
}

impl AesCipher {
    pub fn new(key: &[u8], mode: Mode, dir: Direction) -> Result<Self> {
        let key = AesKey::new(key)?;
        let (kind, chain) = match mode {
            Mode::Ecb => (Kind::Ecb, [0; BLOCK_LEN]),
            Mode::Cbc { iv } => (Kind::Cbc { pad: false }, iv),
            Mode::CbcPad { iv } => (Kind::Cbc { pad: true }, iv),
            Mode::Ctr {
                counter_bits,
                block,
            } => (
                Kind::Ctr(CtrState::new(counter_bits, block)?),
                [0; BLOCK_LEN],
            ),
            Mode::Cts { iv } => (Kind::Cts, iv),
        };
        Ok(AesCipher {
            key,
            dir,
            kind,
            chain,
            pending: Zeroizing::new(Vec::new()),
            done: false,
        })
    }

    /// Bytes of a `total`-byte pending input that must wait for more input or for `finish`.
    fn holdback(&self, total: usize) -> usize {
        let rem = total % BLOCK_LEN;
        match (&self.kind, self.dir) {
            (Kind::Cbc { pad: true }, Direction::Decrypt) => {
                if total == 0 || rem != 0 {
                    rem
                } else {
                    BLOCK_LEN
                }
            }
            (Kind::Cts, _) => {
                if total <= 2 * BLOCK_LEN {
                    total
                } else if rem == 0 {
                    2 * BLOCK_LEN
                } else {
                    BLOCK_LEN + rem
                }
            }
            _ => rem,
        }
    }

    fn crypt_block(&mut self, b: &mut Block) {
        match (&self.kind, self.dir) {
            (Kind::Ecb, Direction::Encrypt) => self.key.encrypt_block(b),
            (Kind::Ecb, Direction::Decrypt) => self.key.decrypt_block(b),
            (_, Direction::Encrypt) => {
                xor_into(b, &self.chain);
                self.key.encrypt_block(b);
                self.chain = *b;
            }
            (_, Direction::Decrypt) => {
                let c = *b;
                self.key.decrypt_block(b);
                xor_into(b, &self.chain);
                self.chain = c;
            }
        }
    }

    /// Process input; returns the output released by this call.
    pub fn update(&mut self, input: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if self.done {
            return err(CKR_OPERATION_NOT_INITIALIZED);
        }
        let dir = self.dir;
        if let Kind::Ctr(ctr) = &mut self.kind {
            return ctr.apply(&self.key, input);
        }
        let total = self
            .pending
            .len()
            .checked_add(input.len())
            .ok_or_else(|| dir.len_error())?;
        let keep = self.holdback(total);
        let mut data = Zeroizing::new(Vec::with_capacity(total));
        data.extend_from_slice(&self.pending);
        data.extend_from_slice(input);
        self.pending = Zeroizing::new(data.split_off(total - keep));
        match self.kind {
            // CBC and the whole blocks before a CTS tail: the chained bulk call.
            Kind::Cbc { .. } | Kind::Cts => self.key.cbc(dir, &mut self.chain, &mut data),
            _ => {
                for chunk in data.chunks_exact_mut(BLOCK_LEN) {
                    let mut b = to_block(chunk);
                    self.crypt_block(&mut b);
                    chunk.copy_from_slice(&b);
                    b.zeroize();
                }
            }
        }
        Ok(data)
    }

    /// End the operation and return the last output.
    pub fn finish(&mut self) -> Result<Zeroizing<Vec<u8>>> {
        if self.done {
            return err(CKR_OPERATION_NOT_INITIALIZED);
        }
        self.done = true;
        let pending = std::mem::take(&mut *self.pending);
        let pending = Zeroizing::new(pending);
        match (&self.kind, self.dir) {
            (Kind::Ctr(_), _) => Ok(Zeroizing::new(Vec::new())),
            (Kind::Ecb | Kind::Cbc { pad: false }, dir) => {
                if pending.is_empty() {
                    Ok(Zeroizing::new(Vec::new()))
                } else {
                    Err(dir.len_error())
                }
            }
            (Kind::Cbc { pad: true }, Direction::Encrypt) => {
                let pad = (BLOCK_LEN - pending.len()) as u8;
                let mut b = [pad; BLOCK_LEN];
                b[..pending.len()].copy_from_slice(&pending);
                self.crypt_block(&mut b);
                Ok(Zeroizing::new(b.to_vec()))
            }
            (Kind::Cbc { pad: true }, Direction::Decrypt) => {
                if pending.len() != BLOCK_LEN {
                    return err(CKR_ENCRYPTED_DATA_LEN_RANGE);
                }
                let mut b = to_block(&pending);
                self.crypt_block(&mut b);
                let out = unpad(&b);
                b.zeroize();
                out
            }
            (Kind::Cts, dir) => self.cts_finish(dir, &pending),
        }
    }

    /// The last one or two blocks of a CTS message, in CS1 order: `C(n-1)*` (the stolen,
    /// partial block) comes before `C(n)`; a message of whole blocks is plain CBC.
    fn cts_finish(&mut self, dir: Direction, tail: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if tail.len() < BLOCK_LEN || tail.len() > 2 * BLOCK_LEN {
            return Err(dir.len_error());
        }
        let d = tail.len() - BLOCK_LEN;
        if d == 0 || d == BLOCK_LEN {
            // Whole blocks: CS1 is CBC.
            let mut out = Zeroizing::new(Vec::with_capacity(tail.len()));
            for chunk in tail.chunks(BLOCK_LEN) {
                let mut x = to_block(chunk);
                self.crypt_block(&mut x);
                out.extend_from_slice(&x);
                x.zeroize();
            }
            return Ok(out);
        }
        let mut out = Zeroizing::new(Vec::with_capacity(tail.len()));
        match dir {
            Direction::Encrypt => {
                // C(n-1) = E(P(n-1) ^ prev); C(n) = E(P(n)||0 ^ C(n-1)); emit C(n-1)[..d] || C(n).
                let (first, last) = tail.split_at(BLOCK_LEN);
                let mut x = to_block(first);
                xor_into(&mut x, &self.chain);
                self.key.encrypt_block(&mut x);
                let mut y = to_block(last);
                xor_into(&mut y, &x);
                self.key.encrypt_block(&mut y);
                out.extend_from_slice(x.get(..d).unwrap_or(&[]));
                out.extend_from_slice(&y);
                x.zeroize();
                y.zeroize();
            }
            Direction::Decrypt => {
                // D(C(n)) = P(n)||0 ^ C(n-1), so its tail completes the stolen C(n-1).
                let (stolen, cn) = tail.split_at(d);
                let mut x = to_block(cn);
                self.key.decrypt_block(&mut x);
                let mut c1 = x;
                c1[..d].copy_from_slice(stolen);
                let mut pn = x;
                xor_into(&mut pn, stolen);
                let mut p1 = c1;
                self.key.decrypt_block(&mut p1);
                xor_into(&mut p1, &self.chain);
                out.extend_from_slice(&p1);
                out.extend_from_slice(pn.get(..d).unwrap_or(&[]));
                x.zeroize();
                p1.zeroize();
                pn.zeroize();
            }
        }
        Ok(out)
    }

    /// Exactly what `update` would return for `input_len` more bytes (for size queries).
    pub fn update_len(&self, input_len: usize) -> usize {
        if let Kind::Ctr(_) = self.kind {
            return input_len;
        }
        let total = self.pending.len().saturating_add(input_len);
        total - self.holdback(total)
    }

    /// What a single-part call with `input_len` more bytes returns: exact but for CBC-PAD
    /// decryption (an upper bound: the padding is not known yet).
    pub fn one_shot_len(&self, input_len: usize) -> usize {
        let total = self.pending.len().saturating_add(input_len);
        match (&self.kind, self.dir) {
            (Kind::Cbc { pad: true }, Direction::Encrypt) => (total / BLOCK_LEN)
                .saturating_add(1)
                .saturating_mul(BLOCK_LEN),
            _ => total,
        }
    }

    /// An upper bound of what `finish` returns.
    pub fn finish_len(&self) -> usize {
        match (&self.kind, self.dir) {
            (Kind::Cbc { pad: true }, Direction::Encrypt) => BLOCK_LEN,
            (Kind::Cbc { pad: true }, Direction::Decrypt) => BLOCK_LEN - 1,
            (Kind::Cts, _) => self.pending.len(),
            _ => 0,
        }
    }

    /// Whole input in, whole output out.
    pub fn one_shot(
        key: &[u8],
        mode: Mode,
        dir: Direction,
        input: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let mut c = AesCipher::new(key, mode, dir)?;
        let mut out = c.update(input)?;
        out.extend_from_slice(&c.finish()?);
        Ok(out)
    }
}

/// Strip PKCS#7 padding from the last block, inspecting every byte whatever the pad value.
fn unpad(b: &Block) -> Result<Zeroizing<Vec<u8>>> {
    let pad = b[BLOCK_LEN - 1];
    let mut good = !pad.ct_eq(&0) & !pad.ct_gt(&(BLOCK_LEN as u8));
    for (i, x) in b.iter().enumerate() {
        // Byte i is padding when i >= 16 - pad, i.e. when 16 - i <= pad.
        let in_pad = !((BLOCK_LEN - i) as u8).ct_gt(&pad);
        good &= !in_pad | x.ct_eq(&pad);
    }
    if bool::from(good) {
        Ok(Zeroizing::new(
            b.get(..BLOCK_LEN - usize::from(pad))
                .unwrap_or(&[])
                .to_vec(),
        ))
    } else {
        err(CKR_ENCRYPTED_DATA_INVALID)
    }
}

/// ECB encryption of whole blocks (`CKM_AES_ECB_ENCRYPT_DATA`, check values).
pub fn ecb_encrypt(key: &[u8], data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    AesCipher::one_shot(key, Mode::Ecb, Direction::Encrypt, data)
}

/// CBC encryption of whole blocks (`CKM_AES_CBC_ENCRYPT_DATA`).
pub fn cbc_encrypt(key: &[u8], iv: &Block, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    AesCipher::one_shot(key, Mode::Cbc { iv: *iv }, Direction::Encrypt, data)
}

/// One-shot CBC-CS1 (`CKM_AES_CTS`); the input must be at least one block.
pub fn cts_encrypt(key: &[u8], iv: &Block, data: &[u8]) -> Result<Vec<u8>> {
    Ok(AesCipher::one_shot(key, Mode::Cts { iv: *iv }, Direction::Encrypt, data)?.to_vec())
}

pub fn cts_decrypt(key: &[u8], iv: &Block, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    AesCipher::one_shot(key, Mode::Cts { iv: *iv }, Direction::Decrypt, data)
}

// ---------------------------------------------------------------------------------------------
// GCM (NIST SP 800-38D)

pub const GCM_MIN_TAG: usize = 4;
/// PKCS#11 allows IVs up to 2^32-1 bytes; 64 KiB bounds the work a caller can ask for while
/// covering every IV length in use (Wycheproof tests up to 2 KiB).
pub const GCM_MAX_IV: usize = 1 << 16;
/// SP 800-38D: at most 2^39 - 256 bits of plaintext per invocation.
const GCM_MAX_TEXT: u64 = (1 << 36) - 32;

fn inc32(b: &mut Block) {
    let mut low = [0u8; 4];
    low.copy_from_slice(&b[12..]);
    let n = u32::from_be_bytes(low).wrapping_add(1);
    b[12..].copy_from_slice(&n.to_be_bytes());
}

/// A streaming AES-GCM operation. Encryption releases ciphertext as it goes and the tag at
/// `finish`; decryption releases nothing until `finish` has checked the tag.
pub struct Gcm {
    engine: GcmEngine,
    dir: Direction,
    tag_len: usize,
    text_len: u64,
    /// Decryption: all input so far (ciphertext and tag).
    held: Zeroizing<Vec<u8>>,
    done: bool,
}

#[cfg(feature = "aws-lc")]
type GcmEngine = LcGcm;
#[cfg(not(feature = "aws-lc"))]
type GcmEngine = RcGcm;

impl std::fmt::Debug for Gcm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Gcm({:?}, tag {})", self.dir, self.tag_len)
    }
}

/// GCM on aws-lc's fused AES-GCM code (the default build).
#[cfg(feature = "aws-lc")]
struct LcGcm(awslc::GcmCtx);

#[cfg(feature = "aws-lc")]
impl LcGcm {
    fn new(_key: &AesKey, raw_key: &[u8], dir: Direction, iv: &[u8], aad: &[u8]) -> Result<Self> {
        awslc::GcmCtx::new(raw_key, iv, aad, dir == Direction::Encrypt)
            .map(LcGcm)
            .ok_or_else(|| Error::device("aws-lc AES-GCM set-up failed"))
    }

    fn encrypt(&mut self, data: &mut [u8]) -> Result<()> {
        self.0
            .update(data)
            .ok_or_else(|| Error::device("aws-lc AES-GCM failed"))
    }

    fn tag(&mut self, _text_len: u64) -> Result<Block> {
        self.0
            .tag()
            .ok_or_else(|| Error::device("aws-lc AES-GCM failed"))
    }

    /// The plaintext of `ct` if `tag` (4..=16 bytes) is right, else `CKR_ENCRYPTED_DATA_INVALID`.
    fn decrypt(&mut self, ct: &[u8], tag: &[u8], _text_len: u64) -> Result<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(ct.to_vec());
        self.0
            .update(&mut out)
            .ok_or_else(|| Error::device("aws-lc AES-GCM failed"))?;
        if self.0.check_tag(tag) {
            Ok(out)
        } else {
            err(CKR_ENCRYPTED_DATA_INVALID)
        }
    }
}

/// GCM built here on the `aes` block cipher and the `ghash` crate (the RustCrypto build).
#[cfg_attr(feature = "aws-lc", allow(dead_code))]
#[derive(Clone)]
struct RcGcm {
    key: AesKey,
    ghash: ghash::GHash,
    /// E(K, J0), which masks the tag.
    tag_mask: Block,
    counter: Block,
    keystream: Block,
    used: usize,
    aad_len: u64,
    /// Ciphertext not yet a whole GHASH block.
    partial: Vec<u8>,
}

impl Drop for RcGcm {
    fn drop(&mut self) {
        self.tag_mask.zeroize();
        self.keystream.zeroize();
        self.counter.zeroize();
    }
}

#[cfg_attr(feature = "aws-lc", allow(dead_code))]
impl RcGcm {
    fn new(key: &AesKey, _raw_key: &[u8], _dir: Direction, iv: &[u8], aad: &[u8]) -> Result<Self> {
        let key = key.clone();
        let mut h = [0u8; BLOCK_LEN];
        key.encrypt_block(&mut h);
        let ghash_key = ghash::Key::from(h);
        h.zeroize();
        let mut j0 = [0u8; BLOCK_LEN];
        if iv.len() == 12 {
            j0[..12].copy_from_slice(iv);
            j0[15] = 1;
        } else {
            // J0 = GHASH(IV || 0-pad || [0]64 || [len(IV) in bits]64).
            let mut g = ghash::GHash::new(&ghash_key);
            g.update_padded(iv);
            let mut lens = [0u8; BLOCK_LEN];
            lens[8..].copy_from_slice(&((iv.len() as u64) * 8).to_be_bytes());
            g.update(&[lens.into()]);
            j0 = g.finalize().into();
        }
        let mut tag_mask = j0;
        key.encrypt_block(&mut tag_mask);
        let mut counter = j0;
        inc32(&mut counter);
        let mut ghash = ghash::GHash::new(&ghash_key);
        ghash.update_padded(aad);
        Ok(RcGcm {
            key,
            ghash,
            tag_mask,
            counter,
            keystream: [0; BLOCK_LEN],
            used: BLOCK_LEN,
            aad_len: aad.len() as u64,
            partial: Vec::new(),
        })
    }

    fn ctr(&mut self, data: &mut [u8]) {
        for byte in data.iter_mut() {
            if self.used == BLOCK_LEN {
                self.keystream = self.counter;
                self.key.encrypt_block(&mut self.keystream);
                inc32(&mut self.counter);
                self.used = 0;
            }
            *byte ^= self.keystream[self.used];
            self.used += 1;
        }
    }

    fn hash_ciphertext(&mut self, ct: &[u8]) {
        self.partial.extend_from_slice(ct);
        let whole = self.partial.len() - self.partial.len() % BLOCK_LEN;
        let blocks: Vec<ghash::Block> = self.partial[..whole]
            .chunks_exact(BLOCK_LEN)
            .map(|c| to_block(c).into())
            .collect();
        self.ghash.update(&blocks);
        self.partial.drain(..whole);
    }

    fn encrypt(&mut self, data: &mut [u8]) -> Result<()> {
        self.ctr(data);
        self.hash_ciphertext(data);
        Ok(())
    }

    fn tag(&mut self, text_len: u64) -> Result<Block> {
        let tail = std::mem::take(&mut self.partial);
        self.ghash.update_padded(&tail);
        let mut lens = [0u8; BLOCK_LEN];
        lens[..8].copy_from_slice(&(self.aad_len * 8).to_be_bytes());
        lens[8..].copy_from_slice(&(text_len * 8).to_be_bytes());
        self.ghash.update(&[lens.into()]);
        let mut t: Block = self.ghash.clone().finalize().into();
        xor_into(&mut t, &self.tag_mask);
        Ok(t)
    }

    fn decrypt(&mut self, ct: &[u8], tag: &[u8], text_len: u64) -> Result<Zeroizing<Vec<u8>>> {
        self.hash_ciphertext(ct);
        let t = self.tag(text_len)?;
        if !bool::from(t.get(..tag.len()).unwrap_or(&t).ct_eq(tag)) {
            return err(CKR_ENCRYPTED_DATA_INVALID);
        }
        let mut out = Zeroizing::new(ct.to_vec());
        self.ctr(&mut out);
        Ok(out)
    }
}

impl Gcm {
    /// `iv`: 1..=64 KiB (12 bytes is the fast path); `tag_len`: 4..=16 bytes. Anything else is
    /// `CKR_MECHANISM_PARAM_INVALID`.
    pub fn new(key: &[u8], dir: Direction, iv: &[u8], aad: &[u8], tag_len: usize) -> Result<Self> {
        let k = AesKey::new(key)?;
        if iv.is_empty() || iv.len() > GCM_MAX_IV || !(GCM_MIN_TAG..=BLOCK_LEN).contains(&tag_len) {
            return err(CKR_MECHANISM_PARAM_INVALID);
        }
        Ok(Gcm {
            engine: GcmEngine::new(&k, key, dir, iv, aad)?,
            dir,
            tag_len,
            text_len: 0,
            held: Zeroizing::new(Vec::new()),
            done: false,
        })
    }

    pub fn tag_len(&self) -> usize {
        self.tag_len
    }

    fn add_text_len(&mut self, n: usize) -> Result<()> {
        let total = self
            .text_len
            .checked_add(n as u64)
            .filter(|t| *t <= GCM_MAX_TEXT);
        self.text_len = total.ok_or_else(|| self.dir.len_error())?;
        Ok(())
    }

    pub fn update(&mut self, input: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if self.done {
            return err(CKR_OPERATION_NOT_INITIALIZED);
        }
        match self.dir {
            Direction::Encrypt => {
                self.add_text_len(input.len())?;
                let mut out = Zeroizing::new(input.to_vec());
                self.engine.encrypt(&mut out)?;
                Ok(out)
            }
            Direction::Decrypt => {
                self.held.extend_from_slice(input);
                if self.held.len() as u64 > GCM_MAX_TEXT + BLOCK_LEN as u64 {
                    return err(CKR_ENCRYPTED_DATA_LEN_RANGE);
                }
                Ok(Zeroizing::new(Vec::new()))
            }
        }
    }

    /// Encryption: the tag. Decryption: the plaintext, or `CKR_ENCRYPTED_DATA_INVALID` when the
    /// tag does not match (`CKR_ENCRYPTED_DATA_LEN_RANGE` when the input is shorter than a tag).
    pub fn finish(&mut self) -> Result<Zeroizing<Vec<u8>>> {
        if self.done {
            return err(CKR_OPERATION_NOT_INITIALIZED);
        }
        self.done = true;
        match self.dir {
            Direction::Encrypt => {
                let t = self.engine.tag(self.text_len)?;
                Ok(Zeroizing::new(t.get(..self.tag_len).unwrap_or(&t).to_vec()))
            }
            Direction::Decrypt => {
                let held = std::mem::take(&mut *self.held);
                let held = Zeroizing::new(held);
                let Some(split) = held.len().checked_sub(self.tag_len) else {
                    return err(CKR_ENCRYPTED_DATA_LEN_RANGE);
                };
                let (ct, tag) = held.split_at(split);
                self.add_text_len(ct.len())?;
                self.engine.decrypt(ct, tag, self.text_len)
            }
        }
    }

    pub fn update_len(&self, input_len: usize) -> usize {
        match self.dir {
            Direction::Encrypt => input_len,
            Direction::Decrypt => 0,
        }
    }

    /// What a single-part call with `input_len` more bytes returns (exact).
    pub fn one_shot_len(&self, input_len: usize) -> usize {
        match self.dir {
            Direction::Encrypt => input_len.saturating_add(self.tag_len),
            Direction::Decrypt => self
                .held
                .len()
                .saturating_add(input_len)
                .saturating_sub(self.tag_len),
        }
    }

    /// Exact for encryption (the tag); an upper bound for decryption.
    pub fn finish_len(&self) -> usize {
        match self.dir {
            Direction::Encrypt => self.tag_len,
            Direction::Decrypt => self.held.len().saturating_sub(self.tag_len),
        }
    }
}

/// One-shot AES-GCM: `ciphertext || tag`.
pub fn gcm_encrypt(
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    tag_len: usize,
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    let mut g = Gcm::new(key, Direction::Encrypt, iv, aad, tag_len)?;
    g.add_text_len(plaintext.len())?;
    let mut out = Vec::with_capacity(plaintext.len() + tag_len);
    out.extend_from_slice(plaintext);
    g.engine.encrypt(&mut out)?;
    out.extend_from_slice(&g.finish()?);
    Ok(out)
}

/// One-shot AES-GCM decryption of `ciphertext || tag`.
pub fn gcm_decrypt(
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    tag_len: usize,
    input: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let mut g = Gcm::new(key, Direction::Decrypt, iv, aad, tag_len)?;
    g.update(input)?;
    g.finish()
}

// ---------------------------------------------------------------------------------------------
// CCM (NIST SP 800-38C, RFC 3610)

struct CcmParams {
    key: AesKey,
    nonce: Vec<u8>,
    q: usize,
    tag_len: usize,
}

impl CcmParams {
    fn new(
        key: &[u8],
        nonce: &[u8],
        tag_len: usize,
        text_len: usize,
        dir: Direction,
    ) -> Result<Self> {
        let key = AesKey::new(key)?;
        if !(7..=13).contains(&nonce.len()) || !(4..=16).contains(&tag_len) || tag_len % 2 != 0 {
            return err(CKR_MECHANISM_PARAM_INVALID);
        }
        let q = 15 - nonce.len();
        // The length field is q bytes wide.
        if q < 8 && (text_len as u128) >> (8 * q) != 0 {
            return Err(dir.len_error());
        }
        Ok(CcmParams {
            key,
            nonce: nonce.to_vec(),
            q,
            tag_len,
        })
    }

    fn counter_block(&self, i: u64) -> Block {
        let mut b = [0u8; BLOCK_LEN];
        b[0] = (self.q - 1) as u8;
        b[1..1 + self.nonce.len()].copy_from_slice(&self.nonce);
        let n = i.to_be_bytes();
        for (d, s) in b[16 - self.q.min(8)..]
            .iter_mut()
            .zip(&n[8 - self.q.min(8)..])
        {
            *d = *s;
        }
        b
    }

    /// The CBC-MAC T over B0, the encoded AAD and the payload.
    fn mac(&self, aad: &[u8], text: &[u8]) -> Block {
        let mut b0 = [0u8; BLOCK_LEN];
        b0[0] = (u8::from(!aad.is_empty()) << 6)
            | ((((self.tag_len - 2) / 2) as u8) << 3)
            | (self.q - 1) as u8;
        b0[1..1 + self.nonce.len()].copy_from_slice(&self.nonce);
        let len = (text.len() as u64).to_be_bytes();
        for (d, s) in b0[16 - self.q.min(8)..]
            .iter_mut()
            .zip(&len[8 - self.q.min(8)..])
        {
            *d = *s;
        }
        let mut y = b0;
        self.key.encrypt_block(&mut y);
        let mut absorb = |data: &[u8]| {
            for chunk in data.chunks(BLOCK_LEN) {
                xor_into(&mut y, chunk);
                self.key.encrypt_block(&mut y);
            }
        };
        if !aad.is_empty() {
            let a = aad.len() as u64;
            let mut enc = if a < (1 << 16) - (1 << 8) {
                (a as u16).to_be_bytes().to_vec()
            } else if a <= u64::from(u32::MAX) {
                let mut v = vec![0xff, 0xfe];
                v.extend_from_slice(&(a as u32).to_be_bytes());
                v
            } else {
                let mut v = vec![0xff, 0xff];
                v.extend_from_slice(&a.to_be_bytes());
                v
            };
            enc.extend_from_slice(aad);
            absorb(&enc);
        }
        absorb(text);
        y
    }

    fn ctr(&self, data: &mut [u8]) {
        for (i, chunk) in data.chunks_mut(BLOCK_LEN).enumerate() {
            let mut s = self.counter_block(i as u64 + 1);
            self.key.encrypt_block(&mut s);
            xor_into(chunk, &s);
            s.zeroize();
        }
    }

    fn tag(&self, aad: &[u8], plaintext: &[u8]) -> Block {
        let mut t = self.mac(aad, plaintext);
        let mut s0 = self.counter_block(0);
        self.key.encrypt_block(&mut s0);
        xor_into(&mut t, &s0);
        t
    }
}

/// AES-CCM: nonce 7..=13 bytes, tag 4..=16 bytes and even; returns `ciphertext || tag`.
pub fn ccm_encrypt(
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    tag_len: usize,
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    let p = CcmParams::new(key, nonce, tag_len, plaintext.len(), Direction::Encrypt)?;
    let t = p.tag(aad, plaintext);
    let mut out = plaintext.to_vec();
    p.ctr(&mut out);
    out.extend_from_slice(t.get(..tag_len).unwrap_or(&t));
    Ok(out)
}

/// AES-CCM decryption of `ciphertext || tag`.
pub fn ccm_decrypt(
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    tag_len: usize,
    input: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let Some(split) = input.len().checked_sub(tag_len) else {
        // Parameters first, so a bad tag length is reported as such.
        CcmParams::new(key, nonce, tag_len, 0, Direction::Decrypt)?;
        return err(CKR_ENCRYPTED_DATA_LEN_RANGE);
    };
    let (ct, tag) = input.split_at(split);
    let p = CcmParams::new(key, nonce, tag_len, ct.len(), Direction::Decrypt)?;
    let mut out = Zeroizing::new(ct.to_vec());
    p.ctr(&mut out);
    let t = p.tag(aad, &out);
    if bool::from(t.get(..tag_len).unwrap_or(&t).ct_eq(tag)) {
        Ok(out)
    } else {
        err(CKR_ENCRYPTED_DATA_INVALID)
    }
}

// ---------------------------------------------------------------------------------------------
// Key wrap (RFC 3394 / SP 800-38F KW, RFC 5649 / KWP)

/// RFC 3394 §2.2.3.1 default IV; the only one `aes-kw` implements.
pub const KW_DEFAULT_IV: [u8; 8] = [0xa6; 8];
/// RFC 5649 §3 alternative IV prefix; the only one `aes-kw` implements.
pub const KWP_DEFAULT_IV: [u8; 4] = [0xa6, 0x59, 0x59, 0xa6];

fn check_iv(iv: Option<&[u8]>, default: &[u8]) -> Result<()> {
    match iv {
        Some(v) if v != default => err(CKR_MECHANISM_PARAM_INVALID),
        _ => Ok(()),
    }
}

macro_rules! with_kw {
    ($key:expr, $ty128:ty, $ty192:ty, $ty256:ty, $k:ident => $body:expr) => {{
        let key: &[u8] = $key;
        let bad = |_| Error::new(CKR_KEY_SIZE_RANGE);
        match key.len() {
            16 => {
                let $k = <$ty128>::new_from_slice(key).map_err(bad)?;
                $body
            }
            24 => {
                let $k = <$ty192>::new_from_slice(key).map_err(bad)?;
                $body
            }
            32 => {
                let $k = <$ty256>::new_from_slice(key).map_err(bad)?;
                $body
            }
            _ => return err(CKR_KEY_SIZE_RANGE),
        }
    }};
}

/// RFC 3394 wrap: `data` a multiple of 8 bytes, at least 16 (else `CKR_DATA_LEN_RANGE`).
/// `iv` may only be the default (else `CKR_MECHANISM_PARAM_INVALID`).
pub fn kw_wrap(key: &[u8], iv: Option<&[u8]>, data: &[u8]) -> Result<Vec<u8>> {
    check_iv(iv, &KW_DEFAULT_IV)?;
    if data.len() < 16 || data.len() % 8 != 0 {
        return err(CKR_DATA_LEN_RANGE);
    }
    let mut out = vec![0u8; data.len() + 8];
    with_kw!(key, aes_kw::KwAes128, aes_kw::KwAes192, aes_kw::KwAes256, k => {
        k.wrap_key(data, &mut out).map_err(|_| Error::new(CKR_DATA_LEN_RANGE))?;
    });
    Ok(out)
}

/// RFC 3394 unwrap: `CKR_WRAPPED_KEY_LEN_RANGE` for a bad length, `CKR_WRAPPED_KEY_INVALID`
/// when the integrity check fails.
pub fn kw_unwrap(key: &[u8], iv: Option<&[u8]>, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    check_iv(iv, &KW_DEFAULT_IV)?;
    if wrapped.len() < 24 || wrapped.len() % 8 != 0 {
        return err(CKR_WRAPPED_KEY_LEN_RANGE);
    }
    let mut out = Zeroizing::new(vec![0u8; wrapped.len() - 8]);
    with_kw!(key, aes_kw::KwAes128, aes_kw::KwAes192, aes_kw::KwAes256, k => {
        k.unwrap_key(wrapped, &mut out).map_err(|_| Error::new(CKR_WRAPPED_KEY_INVALID))?;
    });
    Ok(out)
}

/// Largest input of RFC 5649: the length field is 32 bits.
const KWP_MAX: usize = u32::MAX as usize;

/// RFC 5649 wrap of 1..=2^32-1 bytes.
pub fn kwp_wrap(key: &[u8], iv: Option<&[u8]>, data: &[u8]) -> Result<Vec<u8>> {
    check_iv(iv, &KWP_DEFAULT_IV)?;
    if data.is_empty() || data.len() > KWP_MAX {
        return err(CKR_DATA_LEN_RANGE);
    }
    let mut out = vec![0u8; data.len().div_ceil(8) * 8 + 8];
    let n = with_kw!(key, aes_kw::KwpAes128, aes_kw::KwpAes192, aes_kw::KwpAes256, k => {
        k.wrap_key(data, &mut out).map_err(|_| Error::new(CKR_DATA_LEN_RANGE))?.len()
    });
    out.truncate(n);
    Ok(out)
}

/// RFC 5649 unwrap; errors as [`kw_unwrap`].
pub fn kwp_unwrap(key: &[u8], iv: Option<&[u8]>, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    check_iv(iv, &KWP_DEFAULT_IV)?;
    if wrapped.len() < 16 || wrapped.len() % 8 != 0 || wrapped.len() > KWP_MAX {
        return err(CKR_WRAPPED_KEY_LEN_RANGE);
    }
    let mut out = Zeroizing::new(vec![0u8; wrapped.len() - 8]);
    let n = with_kw!(key, aes_kw::KwpAes128, aes_kw::KwpAes192, aes_kw::KwpAes256, k => {
        k.unwrap_key(wrapped, &mut out).map_err(|_| Error::new(CKR_WRAPPED_KEY_INVALID))?.len()
    });
    out.truncate(n);
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// CMAC (NIST SP 800-38B, RFC 4493)

#[derive(Clone)]
enum CmacState {
    A128(cmac::Cmac<aes::Aes128>),
    A192(cmac::Cmac<aes::Aes192>),
    A256(cmac::Cmac<aes::Aes256>),
}

/// Streaming AES-CMAC whose output is the first `mac_len` (1..=16) bytes: 16 for
/// `CKM_AES_CMAC`, the parameter for `CKM_AES_CMAC_GENERAL`.
#[derive(Clone)]
pub struct AesCmac {
    state: CmacState,
    mac_len: usize,
}

impl std::fmt::Debug for AesCmac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AesCmac({})", self.mac_len)
    }
}

impl AesCmac {
    pub fn new(key: &[u8], mac_len: usize) -> Result<Self> {
        use cmac::KeyInit as _;
        if !(1..=BLOCK_LEN).contains(&mac_len) {
            return err(CKR_MECHANISM_PARAM_INVALID);
        }
        let bad = |_| Error::new(CKR_KEY_SIZE_RANGE);
        let state = match key.len() {
            16 => CmacState::A128(cmac::Cmac::new_from_slice(key).map_err(bad)?),
            24 => CmacState::A192(cmac::Cmac::new_from_slice(key).map_err(bad)?),
            32 => CmacState::A256(cmac::Cmac::new_from_slice(key).map_err(bad)?),
            _ => return err(CKR_KEY_SIZE_RANGE),
        };
        Ok(AesCmac { state, mac_len })
    }

    pub fn mac_len(&self) -> usize {
        self.mac_len
    }

    pub fn update(&mut self, data: &[u8]) {
        use cmac::Mac as _;
        match &mut self.state {
            CmacState::A128(m) => m.update(data),
            CmacState::A192(m) => m.update(data),
            CmacState::A256(m) => m.update(data),
        }
    }

    pub fn finalize(self) -> Vec<u8> {
        use cmac::Mac as _;
        let full: Block = match self.state {
            CmacState::A128(m) => m.finalize().into_bytes().into(),
            CmacState::A192(m) => m.finalize().into_bytes().into(),
            CmacState::A256(m) => m.finalize().into_bytes().into(),
        };
        full.get(..self.mac_len).unwrap_or(&full).to_vec()
    }

    /// Constant-time check: `CKR_SIGNATURE_LEN_RANGE` for a tag that is not `mac_len` bytes,
    /// `CKR_SIGNATURE_INVALID` for a wrong one.
    pub fn verify(self, tag: &[u8]) -> Result<()> {
        if tag.len() != self.mac_len {
            return err(CKR_SIGNATURE_LEN_RANGE);
        }
        if bool::from(self.finalize().ct_eq(tag)) {
            Ok(())
        } else {
            err(CKR_SIGNATURE_INVALID)
        }
    }
}

/// One-shot full-length AES-CMAC.
pub fn cmac(key: &[u8], data: &[u8]) -> Result<Vec<u8>> {
    let mut m = AesCmac::new(key, BLOCK_LEN)?;
    m.update(data);
    Ok(m.finalize())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::crypto::digest::hex;

    fn blk(s: &str) -> Block {
        to_block(&hex(s))
    }

    const K128: &str = "2b7e151628aed2a6abf7158809cf4f3c";
    const K192: &str = "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b";
    const K256: &str = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4";
    const SP800_38A_PT: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51\
                                30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";

    fn check_mode(key: &str, mode: Mode, pt: &str, ct: &str) {
        let (key, pt, ct) = (hex(key), hex(pt), hex(ct));
        assert_eq!(
            *AesCipher::one_shot(&key, mode, Direction::Encrypt, &pt).unwrap(),
            ct,
            "{mode:?}"
        );
        assert_eq!(
            *AesCipher::one_shot(&key, mode, Direction::Decrypt, &ct).unwrap(),
            pt,
            "{mode:?}"
        );
        // Every split point of a multi-part operation gives the same result.
        for (dir, input, want) in [
            (Direction::Encrypt, &pt, &ct),
            (Direction::Decrypt, &ct, &pt),
        ] {
            for cut in [1, 7, 15, 16, 17, 31, 33, 48] {
                let cut = cut.min(input.len());
                let mut c = AesCipher::new(&key, mode, dir).unwrap();
                let n1 = c.update_len(cut);
                let mut out = c.update(&input[..cut]).unwrap().to_vec();
                assert_eq!(out.len(), n1);
                let n2 = c.update_len(input.len() - cut);
                let more = c.update(&input[cut..]).unwrap();
                assert_eq!(more.len(), n2);
                out.extend_from_slice(&more);
                let fl = c.finish_len();
                let fin = c.finish().unwrap();
                assert!(fin.len() <= fl);
                out.extend_from_slice(&fin);
                assert_eq!(&out, want, "{mode:?} {dir:?} cut {cut}");
                assert_eq!(
                    c.update(b"x").unwrap_err().rv(),
                    CKR_OPERATION_NOT_INITIALIZED
                );
            }
        }
    }

    // NIST SP 800-38A F.1 (ECB), F.2 (CBC), F.5 (CTR).
    #[test]
    fn sp800_38a_ecb_cbc_ctr() {
        check_mode(
            K128,
            Mode::Ecb,
            SP800_38A_PT,
            "3ad77bb40d7a3660a89ecaf32466ef97f5d3d58503b9699de785895a96fdbaaf\
             43b1cd7f598ece23881b00e3ed0306887b0c785e27e8ad3f8223207104725dd4",
        );
        check_mode(
            K192,
            Mode::Ecb,
            SP800_38A_PT,
            "bd334f1d6e45f25ff712a214571fa5cc974104846d0ad3ad7734ecb3ecee4eef\
             ef7afd2270e2e60adce0ba2face6444e9a4b41ba738d6c72fb16691603c18e0e",
        );
        check_mode(
            K256,
            Mode::Ecb,
            SP800_38A_PT,
            "f3eed1bdb5d2a03c064b5a7e3db181f8591ccb10d410ed26dc5ba74a31362870\
             b6ed21b99ca6f4f9f153e7b1beafed1d23304b7a39f9f3ff067d8d8f9e24ecc7",
        );
        let iv = blk("000102030405060708090a0b0c0d0e0f");
        check_mode(
            K128,
            Mode::Cbc { iv },
            SP800_38A_PT,
            "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2\
             73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7",
        );
        check_mode(
            K256,
            Mode::Cbc { iv },
            SP800_38A_PT,
            "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d\
             39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b",
        );
        let ctr = blk("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
        check_mode(
            K128,
            Mode::Ctr {
                counter_bits: 128,
                block: ctr,
            },
            SP800_38A_PT,
            "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff\
             5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee",
        );
        check_mode(
            K256,
            Mode::Ctr {
                counter_bits: 128,
                block: ctr,
            },
            SP800_38A_PT,
            "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5\
             2b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6",
        );
        // CTR needs no whole blocks.
        check_mode(
            K128,
            Mode::Ctr {
                counter_bits: 128,
                block: ctr,
            },
            "6bc1bee22e409f96e9",
            "874d6191b620e3261b",
        );
    }

    #[test]
    fn ecb_and_cbc_refuse_partial_blocks() {
        let key = hex(K128);
        let iv = [0u8; 16];
        for mode in [Mode::Ecb, Mode::Cbc { iv }] {
            assert_eq!(
                AesCipher::one_shot(&key, mode, Direction::Encrypt, &[0; 17])
                    .unwrap_err()
                    .rv(),
                CKR_DATA_LEN_RANGE
            );
            assert_eq!(
                AesCipher::one_shot(&key, mode, Direction::Decrypt, &[0; 15])
                    .unwrap_err()
                    .rv(),
                CKR_ENCRYPTED_DATA_LEN_RANGE
            );
            assert!(AesCipher::one_shot(&key, mode, Direction::Encrypt, &[])
                .unwrap()
                .is_empty());
        }
        assert_eq!(AesKey::new(&[0; 17]).unwrap_err().rv(), CKR_KEY_SIZE_RANGE);
        assert_eq!(
            AesCipher::new(&[0; 8], Mode::Ecb, Direction::Encrypt)
                .unwrap_err()
                .rv(),
            CKR_KEY_SIZE_RANGE
        );
    }

    #[test]
    fn cbc_pad_round_trips_every_length_and_rejects_bad_padding() {
        let key = hex(K128);
        let iv = blk("000102030405060708090a0b0c0d0e0f");
        let mode = Mode::CbcPad { iv };
        for n in 0..50usize {
            let pt: Vec<u8> = (0..n as u8).collect();
            let ct = AesCipher::one_shot(&key, mode, Direction::Encrypt, &pt).unwrap();
            assert_eq!(ct.len(), (n / 16 + 1) * 16);
            // Without the pad block it is plain CBC.
            let plain = AesCipher::one_shot(
                &key,
                Mode::Cbc { iv },
                Direction::Encrypt,
                &pt[..n / 16 * 16],
            )
            .unwrap();
            assert_eq!(&ct[..n / 16 * 16], plain.as_slice());
            assert_eq!(
                *AesCipher::one_shot(&key, mode, Direction::Decrypt, &ct).unwrap(),
                pt
            );
        }
        // SP 800-38A CBC vector plus one full pad block.
        let ct = AesCipher::one_shot(&key, mode, Direction::Encrypt, &hex(SP800_38A_PT)).unwrap();
        assert_eq!(hex("3ff1caa1681fac09120eca307586e1a7"), &ct[48..64]);
        // Decrypted blocks that end in bad padding: a zero pad, a pad over 16, inconsistent bytes.
        for last in [
            "000102030405060708090a0b0c0d0e00",
            "00000000000000000000000000000011",
            "000000000000000000000000000303ff",
            "00000000000000000000000000020303",
        ] {
            // Encrypting the block with ECB under a zero IV gives a CBC ciphertext that decrypts to it.
            let c = AesCipher::one_shot(&key, Mode::Ecb, Direction::Encrypt, &hex(last)).unwrap();
            let r = AesCipher::one_shot(&key, Mode::CbcPad { iv: [0; 16] }, Direction::Decrypt, &c);
            assert_eq!(r.unwrap_err().rv(), CKR_ENCRYPTED_DATA_INVALID, "{last}");
        }
        let good = AesCipher::one_shot(
            &key,
            Mode::Ecb,
            Direction::Encrypt,
            &hex("00000000000000000000000000030303"),
        )
        .unwrap();
        let r = AesCipher::one_shot(
            &key,
            Mode::CbcPad { iv: [0; 16] },
            Direction::Decrypt,
            &good,
        )
        .unwrap();
        assert_eq!(*r, vec![0u8; 13]);
        for n in [0usize, 15, 17] {
            let r = AesCipher::one_shot(&key, mode, Direction::Decrypt, &vec![0; n]);
            assert_eq!(r.unwrap_err().rv(), CKR_ENCRYPTED_DATA_LEN_RANGE, "{n}");
        }
        // The last block is held back until the final call.
        let mut d = AesCipher::new(&key, mode, Direction::Decrypt).unwrap();
        assert_eq!(d.update_len(32), 16);
        assert_eq!(d.update(&ct[..32]).unwrap().len(), 16);
        assert_eq!(d.finish_len(), 15);
    }

    #[test]
    fn ctr_counter_bits_count_only_the_low_bits_and_never_overflow() {
        let key = hex(K128);
        let ctr = |bits: u64, block: Block| Mode::Ctr {
            counter_bits: bits,
            block,
        };
        // A 16-bit counter at 0x00ff carries into its own upper byte, not into the nonce.
        let mut start = blk("0102030405060708090a0b0c0d0e00ff");
        let ks = AesCipher::one_shot(&key, ctr(16, start), Direction::Encrypt, &[0u8; 32]).unwrap();
        let mut want = AesCipher::one_shot(&key, Mode::Ecb, Direction::Encrypt, &start)
            .unwrap()
            .to_vec();
        start[14] = 0x01;
        start[15] = 0x00;
        want.extend_from_slice(
            &AesCipher::one_shot(&key, Mode::Ecb, Direction::Encrypt, &start).unwrap(),
        );
        assert_eq!(*ks, want);
        // §2.11.3's example: 2 counter bits starting at 1 allow exactly 3 blocks, counted across
        // calls; the refused call changes nothing and says CKR_DATA_LEN_RANGE in both directions.
        let one = blk("00000000000000000000000000000001");
        assert_eq!(
            AesCipher::one_shot(&key, ctr(2, one), Direction::Encrypt, &[0; 48])
                .unwrap()
                .len(),
            48
        );
        assert_eq!(
            AesCipher::one_shot(&key, ctr(2, one), Direction::Encrypt, &[0; 49])
                .unwrap_err()
                .rv(),
            CKR_DATA_LEN_RANGE
        );
        let mut c = AesCipher::new(&key, ctr(2, one), Direction::Decrypt).unwrap();
        assert_eq!(c.update(&[0; 40]).unwrap().len(), 40);
        assert_eq!(c.update(&[0; 9]).unwrap_err().rv(), CKR_DATA_LEN_RANGE);
        assert_eq!(c.update(&[0; 8]).unwrap().len(), 8);
        assert_eq!(c.update(&[0; 1]).unwrap_err().rv(), CKR_DATA_LEN_RANGE);
        // Only the counter bits of the start value count: 0xfe in an 8-bit field leaves 2 blocks.
        let fe = blk("ffffffffffffffffffffffffffffff fe");
        assert!(AesCipher::one_shot(&key, ctr(8, fe), Direction::Encrypt, &[0; 32]).is_ok());
        assert!(AesCipher::one_shot(&key, ctr(8, fe), Direction::Encrypt, &[0; 33]).is_err());
        // A full 128-bit counter stops at the top too.
        let top = blk("fffffffffffffffffffffffffffffffe");
        assert!(AesCipher::one_shot(&key, ctr(128, top), Direction::Encrypt, &[0; 32]).is_ok());
        assert!(AesCipher::one_shot(&key, ctr(128, top), Direction::Encrypt, &[0; 33]).is_err());
        assert!(
            AesCipher::one_shot(&key, ctr(128, [0; 16]), Direction::Encrypt, &[0; 1000]).is_ok()
        );
        for bits in [0, 129] {
            let r = AesCipher::new(&key, ctr(bits, [0; 16]), Direction::Encrypt);
            assert_eq!(r.unwrap_err().rv(), CKR_MECHANISM_PARAM_INVALID);
        }
    }

    /// CS3 (RFC 3962) ciphertext to CS1: the last `d` bytes (d = len mod 16, or 16) move in
    /// front of the full block before them.
    fn cs3_to_cs1(ct: &[u8]) -> Vec<u8> {
        let d = match ct.len() % 16 {
            0 => 16,
            d => d,
        };
        let n = ct.len();
        let mut out = ct[..n - d - 16].to_vec();
        out.extend_from_slice(&ct[n - d..]);
        out.extend_from_slice(&ct[n - d - 16..n - d]);
        out
    }

    // RFC 3962 appendix B (AES-128 CTS, zero IV), given in CS3 order and checked in CS1.
    #[test]
    fn rfc3962_cts() {
        let key = hex("636869636b656e207465726979616b69");
        let iv = [0u8; 16];
        let vectors = [
            ("4920776f756c64206c696b652074686520", "c6353568f2bf8cb4d8a580362da7ff7f97"),
            (
                "4920776f756c64206c696b65207468652047656e6572616c20476175277320",
                "fc00783e0efdb2c1d445d4c8eff7ed2297687268d6ecccc0c07b25e25ecfe5",
            ),
            (
                "4920776f756c64206c696b65207468652047656e6572616c2047617527732043",
                "39312523a78662d5be7fcbcc98ebf5a897687268d6ecccc0c07b25e25ecfe584",
            ),
            (
                "4920776f756c64206c696b65207468652047656e6572616c20476175277320436869636b656e2c20706c656173652c",
                "97687268d6ecccc0c07b25e25ecfe584b3fffd940c16a18c1b5549d2f838029e39312523a78662d5be7fcbcc98ebf5",
            ),
            (
                "4920776f756c64206c696b65207468652047656e6572616c20476175277320436869636b656e2c20706c656173652c20",
                "97687268d6ecccc0c07b25e25ecfe5849dad8bbb96c4cdc03bc103e1a194bbd839312523a78662d5be7fcbcc98ebf5a8",
            ),
            (
                "4920776f756c64206c696b65207468652047656e6572616c20476175277320436869636b656e2c20706c656173652c20\
                 616e6420776f6e746f6e20736f75702e",
                "97687268d6ecccc0c07b25e25ecfe58439312523a78662d5be7fcbcc98ebf5a84807efe836ee89a526730dbc2f7bc840\
                 9dad8bbb96c4cdc03bc103e1a194bbd8",
            ),
        ];
        for (pt, ct3) in vectors {
            let ct = cs3_to_cs1(&hex(ct3));
            assert_eq!(cts_encrypt(&key, &iv, &hex(pt)).unwrap(), ct);
            assert_eq!(*cts_decrypt(&key, &iv, &ct).unwrap(), hex(pt));
            check_mode(
                "636869636b656e207465726979616b69",
                Mode::Cts { iv },
                pt,
                &ct.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            );
            // Whole blocks: CS1 is CBC.
            if pt.len() % 32 == 0 {
                let cbc = AesCipher::one_shot(&key, Mode::Cbc { iv }, Direction::Encrypt, &hex(pt));
                assert_eq!(*cbc.unwrap(), ct);
            }
        }
        // One block is plain CBC; less is refused.
        let one = cts_encrypt(&key, &iv, &[7; 16]).unwrap();
        assert_eq!(
            *AesCipher::one_shot(&key, Mode::Cbc { iv }, Direction::Encrypt, &[7; 16]).unwrap(),
            one
        );
        assert_eq!(
            cts_encrypt(&key, &iv, &[7; 15]).unwrap_err().rv(),
            CKR_DATA_LEN_RANGE
        );
        assert_eq!(
            cts_decrypt(&key, &iv, &[7; 15]).unwrap_err().rv(),
            CKR_ENCRYPTED_DATA_LEN_RANGE
        );
        // Longer messages round-trip at every length.
        for n in 16..100usize {
            let pt: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let ct = cts_encrypt(&key, &iv, &pt).unwrap();
            assert_eq!(ct.len(), n);
            assert_eq!(*cts_decrypt(&key, &iv, &ct).unwrap(), pt);
        }
    }

    // The GCM specification's test cases (McGrew-Viega, revised 2005): 2-4 use 96-bit IVs,
    // 5 a 64-bit IV and 6 a 480-bit IV; 16 and 18 repeat 4 and 6 with AES-256.
    #[test]
    fn gcm_spec_test_cases() {
        let k = "feffe9928665731c6d6a8f9467308308";
        let k256 = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
        let p = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
                 1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
        let p64 = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
                   1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
        let a = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
        let iv6 = "9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728\
                   c3c0c95156809539fcf0e2429a6b525416aedbf5a0de6a57a637b39b";
        let cases: [(&str, &str, &str, &str, &str, &str); 7] = [
            (
                "00000000000000000000000000000000",
                "000000000000000000000000",
                "",
                "",
                "",
                "58e2fccefa7e3061367f1d57a4e7455a",
            ),
            (
                "00000000000000000000000000000000",
                "000000000000000000000000",
                "00000000000000000000000000000000",
                "",
                "0388dace60b6a392f328c2b971b2fe78",
                "ab6e47d42cec13bdf53a67b21257bddf",
            ),
            (
                k,
                "cafebabefacedbaddecaf888",
                p64,
                "",
                "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e\
                 21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
                "4d5c2af327cd64a62cf35abd2ba6fab4",
            ),
            (
                k,
                "cafebabefacedbaddecaf888",
                p,
                a,
                "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e\
                 21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
                "5bc94fbc3221a5db94fae95ae7121a47",
            ),
            (
                k,
                "cafebabefacedbad",
                p,
                a,
                "61353b4c2806934a777ff51fa22a4755699b2a714fcdc6f83766e5f97b6c7423\
                 73806900e49f24b22b097544d4896b424989b5e1ebac0f07c23f4598",
                "3612d2e79e3b0785561be14aaca2fccb",
            ),
            (
                k,
                iv6,
                p,
                a,
                "8ce24998625615b603a033aca13fb894be9112a5c3a211a8ba262a3cca7e2ca7\
                 01e4a9a4fba43c90ccdcb281d48c7c6fd62875d2aca417034c34aee5",
                "619cc5aefffe0bfa462af43c1699d050",
            ),
            (
                k256,
                iv6,
                p,
                a,
                "5a8def2f0c9e53f1f75d7853659e2a20eeb2b22aafde6419a058ab4f6f746bf4\
                 0fc0c3b780f244452da3ebf1c5d82cdea2418997200ef82e44ae7e3f",
                "a44a8266ee1c8eb0c8b5d4cf5ae9f19a",
            ),
        ];
        for (key, iv, pt, aad, ct, tag) in cases {
            let (key, iv, pt, aad) = (hex(key), hex(iv), hex(pt), hex(aad));
            let mut want = hex(ct);
            want.extend_from_slice(&hex(tag));
            assert_eq!(
                gcm_encrypt(&key, &iv, &aad, 16, &pt).unwrap(),
                want,
                "iv {}",
                iv.len()
            );
            assert_eq!(*gcm_decrypt(&key, &iv, &aad, 16, &want).unwrap(), pt);
            // Truncated tags are prefixes of the full tag.
            let short = gcm_encrypt(&key, &iv, &aad, 12, &pt).unwrap();
            assert_eq!(short, want[..want.len() - 4]);
            assert_eq!(*gcm_decrypt(&key, &iv, &aad, 12, &short).unwrap(), pt);
            // Multi-part in odd pieces.
            for cut in [1usize, 13, 17, 40] {
                let cut = cut.min(pt.len());
                let mut g = Gcm::new(&key, Direction::Encrypt, &iv, &aad, 16).unwrap();
                let mut out = g.update(&pt[..cut]).unwrap().to_vec();
                out.extend_from_slice(&g.update(&pt[cut..]).unwrap());
                assert_eq!(g.finish_len(), 16);
                out.extend_from_slice(&g.finish().unwrap());
                assert_eq!(out, want);
                let mut d = Gcm::new(&key, Direction::Decrypt, &iv, &aad, 16).unwrap();
                assert!(d.update(&want[..cut]).unwrap().is_empty());
                assert!(d.update(&want[cut..]).unwrap().is_empty());
                assert_eq!(*d.finish().unwrap(), pt);
            }
        }
    }

    #[test]
    fn gcm_agrees_with_the_aes_gcm_crate_and_rejects_tampering() {
        use aes_gcm::aead::{Aead, Payload};
        use aes_gcm::KeyInit as _;
        let key = [0x42u8; 32];
        let iv = [7u8; 12];
        let c = aes_gcm::Aes256Gcm::new(&key.into());
        for n in [0usize, 1, 15, 16, 17, 100] {
            let pt: Vec<u8> = (0..n).map(|i| (i * 3) as u8).collect();
            let theirs = c
                .encrypt(
                    &iv.into(),
                    Payload {
                        msg: &pt,
                        aad: b"hdr",
                    },
                )
                .unwrap();
            assert_eq!(gcm_encrypt(&key, &iv, b"hdr", 16, &pt).unwrap(), theirs);
        }
        let ct = gcm_encrypt(&key, &iv, b"hdr", 16, b"secret").unwrap();
        let mut bad = ct.clone();
        bad[0] ^= 1;
        assert_eq!(
            gcm_decrypt(&key, &iv, b"hdr", 16, &bad).unwrap_err().rv(),
            CKR_ENCRYPTED_DATA_INVALID
        );
        let mut bad_tag = ct.clone();
        *bad_tag.last_mut().unwrap() ^= 0x80;
        assert_eq!(
            gcm_decrypt(&key, &iv, b"hdr", 16, &bad_tag)
                .unwrap_err()
                .rv(),
            CKR_ENCRYPTED_DATA_INVALID
        );
        assert_eq!(
            gcm_decrypt(&key, &iv, b"hdX", 16, &ct).unwrap_err().rv(),
            CKR_ENCRYPTED_DATA_INVALID
        );
        assert_eq!(
            gcm_decrypt(&key, &[8; 12], b"hdr", 16, &ct)
                .unwrap_err()
                .rv(),
            CKR_ENCRYPTED_DATA_INVALID
        );
        assert_eq!(
            gcm_decrypt(&key, &iv, b"hdr", 16, &ct[..15])
                .unwrap_err()
                .rv(),
            CKR_ENCRYPTED_DATA_LEN_RANGE
        );
        for (iv_len, tag) in [(0usize, 16usize), (GCM_MAX_IV + 1, 16), (12, 3), (12, 17)] {
            let r = gcm_encrypt(&key, &vec![1; iv_len], b"", tag, b"x");
            assert_eq!(
                r.unwrap_err().rv(),
                CKR_MECHANISM_PARAM_INVALID,
                "{iv_len} {tag}"
            );
        }
        assert!(gcm_encrypt(&key, &[1; 256], b"", 4, b"x").is_ok());
    }

    // NIST SP 800-38C appendix C, examples 1-3 (example 4 has a 64 KiB header).
    #[test]
    fn sp800_38c_ccm() {
        let key = hex("404142434445464748494a4b4c4d4e4f");
        let cases = [
            (
                "10111213141516",
                "0001020304050607",
                "20212223",
                4,
                "7162015b4dac255d",
            ),
            (
                "1011121314151617",
                "000102030405060708090a0b0c0d0e0f",
                "202122232425262728292a2b2c2d2e2f",
                6,
                "d2a1f0e051ea5f62081a7792073d593d1fc64fbfaccd",
            ),
            (
                "101112131415161718191a1b",
                "000102030405060708090a0b0c0d0e0f10111213",
                "202122232425262728292a2b2c2d2e2f3031323334353637",
                8,
                "e3b201a9f5b71a7a9b1ceaeccd97e70b6176aad9a4428aa5484392fbc1b09951",
            ),
        ];
        for (n, a, p, t, c) in cases {
            let (n, a, p, c) = (hex(n), hex(a), hex(p), hex(c));
            assert_eq!(ccm_encrypt(&key, &n, &a, t, &p).unwrap(), c);
            assert_eq!(*ccm_decrypt(&key, &n, &a, t, &c).unwrap(), p);
            let mut bad = c.clone();
            bad[1] ^= 4;
            assert_eq!(
                ccm_decrypt(&key, &n, &a, t, &bad).unwrap_err().rv(),
                CKR_ENCRYPTED_DATA_INVALID
            );
        }
    }

    // RFC 3610 packet vector #1 (13-byte nonce, 8-byte header, 8-byte tag).
    #[test]
    fn rfc3610_packet_vector_1_and_parameter_checks() {
        let key = hex("c0c1c2c3c4c5c6c7c8c9cacbcccdcecf");
        let nonce = hex("00000003020100a0a1a2a3a4a5");
        let msg = hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e");
        let (aad, pt) = msg.split_at(8);
        let out = ccm_encrypt(&key, &nonce, aad, 8, pt).unwrap();
        assert_eq!(
            out,
            hex("588c979a61c663d2f066d0c2c0f989806d5f6b61dac38417e8d12cfdf926e0")
        );
        for (nl, tl) in [(6usize, 8usize), (14, 8), (13, 3), (13, 5), (13, 18)] {
            let r = ccm_encrypt(&key, &vec![0; nl], b"", tl, b"x");
            assert_eq!(
                r.unwrap_err().rv(),
                CKR_MECHANISM_PARAM_INVALID,
                "{nl} {tl}"
            );
        }
        assert_eq!(
            ccm_decrypt(&key, &nonce, b"", 8, &[0; 7]).unwrap_err().rv(),
            CKR_ENCRYPTED_DATA_LEN_RANGE
        );
        // A 13-byte nonce leaves a 2-byte length field: 65536 bytes do not fit.
        assert_eq!(
            ccm_encrypt(&key, &nonce, b"", 8, &vec![0; 65536])
                .unwrap_err()
                .rv(),
            CKR_DATA_LEN_RANGE
        );
        assert!(ccm_encrypt(&key, &nonce, b"", 8, &vec![0; 65535]).is_ok());
        // Long headers use the 0xfffe form.
        let big = vec![9u8; 70000];
        let ct = ccm_encrypt(&key, &[1; 7], &big, 16, b"data").unwrap();
        assert_eq!(*ccm_decrypt(&key, &[1; 7], &big, 16, &ct).unwrap(), b"data");
    }

    // RFC 3394 §4.1, 4.2, 4.3 and 4.6; RFC 5649 §6.
    #[test]
    fn rfc3394_and_rfc5649_key_wrap() {
        let kek128 = hex("000102030405060708090a0b0c0d0e0f");
        let kek192 = hex("000102030405060708090a0b0c0d0e0f1011121314151617");
        let kek256 = hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
        let data128 = hex("00112233445566778899aabbccddeeff");
        let cases = [
            (
                &kek128,
                &data128,
                "1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5",
            ),
            (
                &kek192,
                &data128,
                "96778b25ae6ca435f92b5b97c050aed2468ab8a17ad84e5d",
            ),
            (
                &kek256,
                &data128,
                "64e8c3f9ce0f5ba263e9777905818a2a93c8191e7d6e8ae7",
            ),
        ];
        for (kek, data, want) in cases {
            let w = kw_wrap(kek, None, data).unwrap();
            assert_eq!(w, hex(want));
            assert_eq!(*kw_unwrap(kek, Some(&KW_DEFAULT_IV), &w).unwrap(), **data);
        }
        let data256 = hex("00112233445566778899aabbccddeeff000102030405060708090a0b0c0d0e0f");
        let w = kw_wrap(&kek256, None, &data256).unwrap();
        assert_eq!(
            w,
            hex("28c9f404c4b810f4cbccb35cfb87f8263f5786e2d80ed326cbc7f0e71a99f43bfb988b9b7a02dd21")
        );
        let mut bad = w.clone();
        bad[5] ^= 1;
        assert_eq!(
            kw_unwrap(&kek256, None, &bad).unwrap_err().rv(),
            CKR_WRAPPED_KEY_INVALID
        );
        assert_eq!(
            kw_unwrap(&kek256, None, &w[..16]).unwrap_err().rv(),
            CKR_WRAPPED_KEY_LEN_RANGE
        );
        assert_eq!(
            kw_unwrap(&kek256, None, &w[..39]).unwrap_err().rv(),
            CKR_WRAPPED_KEY_LEN_RANGE
        );
        assert_eq!(
            kw_wrap(&kek256, None, &data256[..12]).unwrap_err().rv(),
            CKR_DATA_LEN_RANGE
        );
        assert_eq!(
            kw_wrap(&kek256, None, &data256[..8]).unwrap_err().rv(),
            CKR_DATA_LEN_RANGE
        );
        assert_eq!(
            kw_wrap(&kek256, Some(&[1; 8]), &data256).unwrap_err().rv(),
            CKR_MECHANISM_PARAM_INVALID
        );
        assert_eq!(
            kw_wrap(&[0; 20], None, &data256).unwrap_err().rv(),
            CKR_KEY_SIZE_RANGE
        );

        let kek = hex("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8");
        let k20 = hex("c37b7e6492584340bed12207808941155068f738");
        let w20 = kwp_wrap(&kek, None, &k20).unwrap();
        assert_eq!(
            w20,
            hex("138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a")
        );
        assert_eq!(*kwp_unwrap(&kek, Some(&KWP_DEFAULT_IV), &w20).unwrap(), k20);
        let w7 = kwp_wrap(&kek, None, &hex("466f7250617369")).unwrap();
        assert_eq!(w7, hex("afbeb0f07dfbf5419200f2ccb50bb24f"));
        assert_eq!(*kwp_unwrap(&kek, None, &w7).unwrap(), hex("466f7250617369"));
        let mut bad = w20.clone();
        bad[31] ^= 1;
        assert_eq!(
            kwp_unwrap(&kek, None, &bad).unwrap_err().rv(),
            CKR_WRAPPED_KEY_INVALID
        );
        let mut bad7 = w7.clone();
        bad7[0] ^= 1;
        assert_eq!(
            kwp_unwrap(&kek, None, &bad7).unwrap_err().rv(),
            CKR_WRAPPED_KEY_INVALID
        );
        assert_eq!(
            kwp_unwrap(&kek, None, &w7[..8]).unwrap_err().rv(),
            CKR_WRAPPED_KEY_LEN_RANGE
        );
        assert_eq!(
            kwp_wrap(&kek, None, &[]).unwrap_err().rv(),
            CKR_DATA_LEN_RANGE
        );
        for n in 1..40usize {
            let d = vec![n as u8; n];
            assert_eq!(
                *kwp_unwrap(&kek, None, &kwp_wrap(&kek, None, &d).unwrap()).unwrap(),
                d
            );
        }
    }

    // RFC 4493 §4 examples (AES-128), plus NIST SP 800-38B D.2/D.3 first examples.
    #[test]
    fn rfc4493_cmac() {
        let key = hex(K128);
        let msg = hex(SP800_38A_PT);
        let cases = [
            (0usize, "bb1d6929e95937287fa37d129b756746"),
            (16, "070a16b46b4d4144f79bdd9dd04a287c"),
            (40, "dfa66747de9ae63030ca32611497c827"),
            (64, "51f0bebf7e3b9d92fc49741779363cfe"),
        ];
        for (n, want) in cases {
            assert_eq!(cmac(&key, &msg[..n]).unwrap(), hex(want), "{n}");
            let mut m = AesCmac::new(&key, 16).unwrap();
            m.update(&msg[..n / 3]);
            m.update(&msg[n / 3..n]);
            assert!(m.clone().verify(&hex(want)).is_ok());
            let mut wrong = hex(want);
            wrong[0] ^= 1;
            assert_eq!(m.verify(&wrong).unwrap_err().rv(), CKR_SIGNATURE_INVALID);
        }
        assert_eq!(
            cmac(&hex(K192), &[]).unwrap(),
            hex("d17ddf46adaacde531cac483de7a9367")
        );
        assert_eq!(
            cmac(&hex(K256), &[]).unwrap(),
            hex("028962f61b7bf89efc6b551f4667d983")
        );
        let mut g = AesCmac::new(&key, 4).unwrap();
        g.update(&msg[..16]);
        assert_eq!(g.clone().finalize(), hex("070a16b4"));
        assert!(g.clone().verify(&hex("070a16b4")).is_ok());
        assert_eq!(
            g.verify(&hex("070a16b46b")).unwrap_err().rv(),
            CKR_SIGNATURE_LEN_RANGE
        );
        assert_eq!(
            AesCmac::new(&key, 0).unwrap_err().rv(),
            CKR_MECHANISM_PARAM_INVALID
        );
        assert_eq!(
            AesCmac::new(&key, 17).unwrap_err().rv(),
            CKR_MECHANISM_PARAM_INVALID
        );
    }

    #[test]
    fn derive_helpers_and_check_value() {
        let key = hex(K128);
        let pt = hex(SP800_38A_PT);
        assert_eq!(
            *ecb_encrypt(&key, &pt[..16]).unwrap(),
            hex("3ad77bb40d7a3660a89ecaf32466ef97")
        );
        let iv = blk("000102030405060708090a0b0c0d0e0f");
        assert_eq!(
            *cbc_encrypt(&key, &iv, &pt[..16]).unwrap(),
            hex("7649abac8119b246cee98e9b12e9197d")
        );
        assert_eq!(
            ecb_encrypt(&key, &pt[..15]).unwrap_err().rv(),
            CKR_DATA_LEN_RANGE
        );
        // FIPS 197 appendix C.1: the zero block under key 000102..0f is 66e94bd4... for a zero key;
        // for the check value only the first three bytes matter.
        assert_eq!(check_value(&[0; 16]).unwrap(), [0x66, 0xe9, 0x4b]);
    }

    /// aws-lc's GCM (the default build's engine) and the one built here on `aes` and `ghash`
    /// give the same ciphertexts and tags for IVs, AADs, tags and messages of many lengths,
    /// fed in pieces; each opens what the other sealed.
    #[test]
    fn gcm_engines_agree() {
        let rc = |key: &[u8], iv: &[u8], aad: &[u8], pt: &[u8]| {
            let k = AesKey::new(key).unwrap();
            let mut g = RcGcm::new(&k, key, Direction::Encrypt, iv, aad).unwrap();
            let mut out = pt.to_vec();
            g.encrypt(&mut out).unwrap();
            out.extend_from_slice(&g.tag(pt.len() as u64).unwrap());
            out
        };
        for (i, (klen, ivlen, aadlen, ptlen)) in [
            (16, 12, 0, 0),
            (24, 1, 3, 17),
            (32, 12, 20, 64),
            (32, 13, 0, 4096 + 5),
            (16, 60, 100, 31),
            (32, 300, 1, 1000),
        ]
        .into_iter()
        .enumerate()
        {
            let fill = |n: usize, salt: usize| -> Vec<u8> {
                (0..n).map(|j| (j * 7 + salt * 13 + i) as u8).collect()
            };
            let (key, iv, aad, pt) = (
                fill(klen, 1),
                fill(ivlen, 2),
                fill(aadlen, 3),
                fill(ptlen, 4),
            );
            let want = rc(&key, &iv, &aad, &pt);
            for tag in [16usize, 12, 4] {
                let mut g = Gcm::new(&key, Direction::Encrypt, &iv, &aad, tag).unwrap();
                let mut got = Vec::new();
                for part in pt.chunks(7 + i) {
                    got.extend_from_slice(&g.update(part).unwrap());
                }
                got.extend_from_slice(&g.finish().unwrap());
                assert_eq!(got, want[..ptlen + tag], "case {i}, tag {tag}");
                let opened = gcm_decrypt(&key, &iv, &aad, tag, &want[..ptlen + tag]).unwrap();
                assert_eq!(*opened, pt);
                let mut bad = want[..ptlen + tag].to_vec();
                bad[ptlen] ^= 1;
                assert_eq!(
                    gcm_decrypt(&key, &iv, &aad, tag, &bad).unwrap_err().rv(),
                    CKR_ENCRYPTED_DATA_INVALID
                );
            }
        }
    }
}
