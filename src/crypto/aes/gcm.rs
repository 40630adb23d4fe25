//! AES-GCM (NIST SP 800-38D) for `CKM_AES_GCM` (Current Mechanisms v3.0 §2.13.3): the prepared
//! key [`GcmKey`], set up once per key object and shared through an `Arc`, and the streaming
//! operation [`Gcm`] that borrows it. The default build runs on aws-lc's fused AES-GCM; the
//! RustCrypto build, and the reference the default one is tested against, is built here on the
//! `aes` block cipher and the `ghash` crate.

#[cfg(feature = "aws-lc")]
use super::super::awslc;
use super::{err, to_block, xor_into, AesKey, Block, Direction, BLOCK_LEN};
use crate::error::{Error, Result};
#[cfg(feature = "aws-lc")]
use cryptoki_sys::CKR_KEY_SIZE_RANGE;
use cryptoki_sys::{
    CKR_BUFFER_TOO_SMALL, CKR_ENCRYPTED_DATA_INVALID, CKR_ENCRYPTED_DATA_LEN_RANGE,
    CKR_MECHANISM_PARAM_INVALID, CKR_OPERATION_NOT_INITIALIZED,
};
use ghash::universal_hash::UniversalHash;
use std::sync::Arc;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

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

/// An AES-GCM key prepared once: the key schedule and the GHASH key set up, so that
/// [`Gcm::with_key`] costs no key expansion and no table set-up. `Send + Sync`: one
/// `Arc<GcmKey>` serves every operation on the key, from any thread. Wiped on drop (aws-lc
/// cleanses its context when it frees it; the RustCrypto types zeroize themselves).
pub struct GcmKey {
    engine: KeyEngine,
    len: usize,
}

#[cfg(feature = "aws-lc")]
type KeyEngine = awslc::GcmKey;
#[cfg(not(feature = "aws-lc"))]
type KeyEngine = Arc<RcKey>;

impl std::fmt::Debug for GcmKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GcmKey(AES-{})", self.len * 8)
    }
}

impl GcmKey {
    /// A 16-, 24- or 32-byte key; any other length is `CKR_KEY_SIZE_RANGE`.
    pub fn new(key: &[u8]) -> Result<Self> {
        #[cfg(feature = "aws-lc")]
        let engine = match key.len() {
            16 | 24 | 32 => awslc::GcmKey::new(key)
                .ok_or_else(|| Error::device("aws-lc AES-GCM key set-up failed"))?,
            _ => return err(CKR_KEY_SIZE_RANGE),
        };
        #[cfg(not(feature = "aws-lc"))]
        let engine = Arc::new(RcKey::new(AesKey::new(key)?));
        Ok(GcmKey {
            engine,
            len: key.len(),
        })
    }

    /// Key length in bytes.
    pub fn key_len(&self) -> usize {
        self.len
    }
}

/// The RustCrypto GCM key: the AES schedule and a GHASH state keyed with H = E(K, 0) that has
/// absorbed nothing, cloned by each operation.
#[cfg_attr(feature = "aws-lc", allow(dead_code))]
pub(super) struct RcKey {
    aes: AesKey,
    ghash: ghash::GHash,
}

#[cfg_attr(feature = "aws-lc", allow(dead_code))]
impl RcKey {
    pub(super) fn new(aes: AesKey) -> Self {
        let mut h = [0u8; BLOCK_LEN];
        aes.encrypt_block(&mut h);
        let ghash = ghash::GHash::new(&ghash::Key::from(h));
        h.zeroize();
        RcKey { aes, ghash }
    }
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
    fn new(key: &GcmKey, dir: Direction, iv: &[u8], aad: &[u8]) -> Result<Self> {
        key.engine
            .start(iv, aad, dir == Direction::Encrypt)
            .map(LcGcm)
            .ok_or_else(|| Error::device("aws-lc AES-GCM set-up failed"))
    }

    fn encrypt_into(&mut self, input: &[u8], out: &mut [u8]) -> Result<()> {
        self.0
            .update_into(input, out)
            .ok_or_else(|| Error::device("aws-lc AES-GCM failed"))
    }

    fn tag(&mut self, _text_len: u64) -> Result<Block> {
        self.0
            .tag()
            .ok_or_else(|| Error::device("aws-lc AES-GCM failed"))
    }

    /// The plaintext of `ct` into `out` if `tag` (4..=16 bytes) is right, else
    /// `CKR_ENCRYPTED_DATA_INVALID` with `out` wiped.
    fn decrypt_into(
        &mut self,
        ct: &[u8],
        tag: &[u8],
        _text_len: u64,
        out: &mut [u8],
    ) -> Result<()> {
        let out = out
            .get_mut(..ct.len())
            .ok_or(Error::new(CKR_BUFFER_TOO_SMALL))?;
        let done = self.0.update_into(ct, out);
        if done.is_some() && self.0.check_tag(tag) {
            Ok(())
        } else {
            out.zeroize();
            if done.is_some() {
                err(CKR_ENCRYPTED_DATA_INVALID)
            } else {
                Err(Error::device("aws-lc AES-GCM failed"))
            }
        }
    }
}

/// GCM built here on the `aes` block cipher and the `ghash` crate (the RustCrypto build).
#[cfg_attr(feature = "aws-lc", allow(dead_code))]
#[derive(Clone)]
pub(super) struct RcGcm {
    key: Arc<RcKey>,
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
    pub(super) fn new(key: &Arc<RcKey>, iv: &[u8], aad: &[u8]) -> Result<Self> {
        let mut j0 = [0u8; BLOCK_LEN];
        if iv.len() == 12 {
            j0[..12].copy_from_slice(iv);
            j0[15] = 1;
        } else {
            // J0 = GHASH(IV || 0-pad || [0]64 || [len(IV) in bits]64).
            let mut g = key.ghash.clone();
            g.update_padded(iv);
            let mut lens = [0u8; BLOCK_LEN];
            lens[8..].copy_from_slice(&((iv.len() as u64) * 8).to_be_bytes());
            g.update(&[lens.into()]);
            j0 = g.finalize().into();
        }
        let mut tag_mask = j0;
        key.aes.encrypt_block(&mut tag_mask);
        let mut counter = j0;
        inc32(&mut counter);
        let mut ghash = key.ghash.clone();
        ghash.update_padded(aad);
        Ok(RcGcm {
            key: Arc::clone(key),
            ghash,
            tag_mask,
            counter,
            keystream: [0; BLOCK_LEN],
            used: BLOCK_LEN,
            aad_len: aad.len() as u64,
            partial: Vec::new(),
        })
    }

    /// `out[..input.len()] = input ^ keystream`.
    fn ctr_into(&mut self, input: &[u8], out: &mut [u8]) {
        for (o, i) in out.iter_mut().zip(input) {
            if self.used == BLOCK_LEN {
                self.keystream = self.counter;
                self.key.aes.encrypt_block(&mut self.keystream);
                inc32(&mut self.counter);
                self.used = 0;
            }
            *o = *i ^ self.keystream[self.used];
            self.used += 1;
        }
    }

    fn hash_ciphertext(&mut self, mut ct: &[u8]) {
        if !self.partial.is_empty() {
            let take = (BLOCK_LEN - self.partial.len()).min(ct.len());
            let (head, rest) = ct.split_at(take);
            self.partial.extend_from_slice(head);
            ct = rest;
            if self.partial.len() < BLOCK_LEN {
                return;
            }
            let b = to_block(&self.partial);
            self.ghash.update(&[b.into()]);
            self.partial.clear();
        }
        let (blocks, tail) = ghash::Block::slice_as_chunks(ct);
        self.ghash.update(blocks);
        self.partial.extend_from_slice(tail);
    }

    pub(super) fn encrypt_into(&mut self, input: &[u8], out: &mut [u8]) -> Result<()> {
        let out = out
            .get_mut(..input.len())
            .ok_or(Error::new(CKR_BUFFER_TOO_SMALL))?;
        self.ctr_into(input, out);
        self.hash_ciphertext(out);
        Ok(())
    }

    pub(super) fn tag(&mut self, text_len: u64) -> Result<Block> {
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

    /// GHASH first, so nothing is decrypted unless the tag is right.
    fn decrypt_into(&mut self, ct: &[u8], tag: &[u8], text_len: u64, out: &mut [u8]) -> Result<()> {
        let out = out
            .get_mut(..ct.len())
            .ok_or(Error::new(CKR_BUFFER_TOO_SMALL))?;
        self.hash_ciphertext(ct);
        let t = self.tag(text_len)?;
        if !bool::from(t.get(..tag.len()).unwrap_or(&t).ct_eq(tag)) {
            return err(CKR_ENCRYPTED_DATA_INVALID);
        }
        self.ctr_into(ct, out);
        Ok(())
    }
}

impl Gcm {
    /// `iv`: 1..=64 KiB (12 bytes is the fast path); `tag_len`: 4..=16 bytes. Anything else is
    /// `CKR_MECHANISM_PARAM_INVALID`. Sets the key up for this operation alone: see
    /// [`Gcm::with_key`] to share one prepared key.
    pub fn new(key: &[u8], dir: Direction, iv: &[u8], aad: &[u8], tag_len: usize) -> Result<Self> {
        Gcm::with_key(Arc::new(GcmKey::new(key)?), dir, iv, aad, tag_len)
    }

    /// As [`Gcm::new`], under a prepared key (no key expansion, no GHASH set-up).
    pub fn with_key(
        key: Arc<GcmKey>,
        dir: Direction,
        iv: &[u8],
        aad: &[u8],
        tag_len: usize,
    ) -> Result<Self> {
        if iv.is_empty() || iv.len() > GCM_MAX_IV || !(GCM_MIN_TAG..=BLOCK_LEN).contains(&tag_len) {
            return err(CKR_MECHANISM_PARAM_INVALID);
        }
        #[cfg(feature = "aws-lc")]
        let engine = LcGcm::new(&key, dir, iv, aad)?;
        #[cfg(not(feature = "aws-lc"))]
        let engine = RcGcm::new(&key.engine, iv, aad)?;
        Ok(Gcm {
            engine,
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

    fn live(&self) -> Result<()> {
        if self.done {
            err(CKR_OPERATION_NOT_INITIALIZED)
        } else {
            Ok(())
        }
    }

    pub fn update(&mut self, input: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        // Decryption releases nothing before the tag is checked (whatever bound it announces).
        let n = match self.dir {
            Direction::Encrypt => input.len(),
            Direction::Decrypt => 0,
        };
        let mut out = Zeroizing::new(vec![0u8; n]);
        let n = self.update_into(input, &mut out)?;
        out.truncate(n);
        Ok(out)
    }

    /// [`Gcm::update`] into the caller's buffer, which must hold `update_len(input.len())`
    /// bytes (else `CKR_BUFFER_TOO_SMALL`, and nothing changes); returns the bytes written.
    pub fn update_into(&mut self, input: &[u8], out: &mut [u8]) -> Result<usize> {
        self.live()?;
        match self.dir {
            Direction::Encrypt => {
                if out.len() < input.len() {
                    return err(CKR_BUFFER_TOO_SMALL);
                }
                let before = self.text_len;
                self.add_text_len(input.len())?;
                if let Err(e) = self.engine.encrypt_into(input, out) {
                    self.text_len = before;
                    return Err(e);
                }
                Ok(input.len())
            }
            Direction::Decrypt => {
                if self.held.len() as u64 + input.len() as u64 > GCM_MAX_TEXT + BLOCK_LEN as u64 {
                    return err(CKR_ENCRYPTED_DATA_LEN_RANGE);
                }
                self.held.extend_from_slice(input);
                Ok(0)
            }
        }
    }

    /// Encryption: the tag. Decryption: the plaintext, or `CKR_ENCRYPTED_DATA_INVALID` when the
    /// tag does not match (`CKR_ENCRYPTED_DATA_LEN_RANGE` when the input is shorter than a tag).
    pub fn finish(&mut self) -> Result<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(vec![0u8; self.finish_len()]);
        let n = self.finish_into(&mut out)?;
        out.truncate(n);
        Ok(out)
    }

    /// [`Gcm::finish`] into the caller's buffer, which must hold `finish_len()` bytes (else
    /// `CKR_BUFFER_TOO_SMALL`, and the operation stays as it was); returns the bytes written.
    pub fn finish_into(&mut self, out: &mut [u8]) -> Result<usize> {
        self.live()?;
        if out.len() < self.finish_len() {
            return err(CKR_BUFFER_TOO_SMALL);
        }
        self.done = true;
        match self.dir {
            Direction::Encrypt => {
                let t = self.engine.tag(self.text_len)?;
                let t = t.get(..self.tag_len).unwrap_or(&t);
                out.get_mut(..t.len())
                    .ok_or(Error::new(CKR_BUFFER_TOO_SMALL))?
                    .copy_from_slice(t);
                Ok(t.len())
            }
            Direction::Decrypt => {
                let held = Zeroizing::new(std::mem::take(&mut *self.held));
                self.open_into(&held, out)
            }
        }
    }

    /// Decryption of `ct || tag` into `out`.
    fn open_into(&mut self, input: &[u8], out: &mut [u8]) -> Result<usize> {
        let Some(split) = input.len().checked_sub(self.tag_len) else {
            return err(CKR_ENCRYPTED_DATA_LEN_RANGE);
        };
        let (ct, tag) = input.split_at(split);
        self.add_text_len(ct.len())?;
        self.engine.decrypt_into(ct, tag, self.text_len, out)?;
        Ok(ct.len())
    }

    /// A whole single-part operation from the caller's input to the caller's output, with no
    /// copy in between: encryption writes `ciphertext || tag`, decryption takes
    /// `ciphertext || tag`. `out` must hold `one_shot_len(input.len())` bytes (else
    /// `CKR_BUFFER_TOO_SMALL`, and nothing changes). Ends the operation.
    pub fn one_shot_into(&mut self, input: &[u8], out: &mut [u8]) -> Result<usize> {
        self.live()?;
        if out.len() < self.one_shot_len(input.len()) {
            return err(CKR_BUFFER_TOO_SMALL);
        }
        match self.dir {
            Direction::Encrypt => {
                let n = self.update_into(input, out)?;
                let rest = out.get_mut(n..).ok_or(Error::new(CKR_BUFFER_TOO_SMALL))?;
                Ok(n + self.finish_into(rest)?)
            }
            Direction::Decrypt if self.held.is_empty() => {
                self.done = true;
                self.open_into(input, out)
            }
            Direction::Decrypt => {
                self.update_into(input, &mut [])?;
                self.finish_into(out)
            }
        }
    }

    /// Exact for encryption. Decryption releases nothing before the end, but answers what it
    /// has been fed and this part (an upper bound, as SoftHSMv2 does): a client that sizes its
    /// buffer by the query and passes NULL for a size of 0 (PyKCS11) would otherwise never
    /// feed anything.
    pub fn update_len(&self, input_len: usize) -> usize {
        match self.dir {
            Direction::Encrypt => input_len,
            Direction::Decrypt => self.held.len().saturating_add(input_len),
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
    let mut out = vec![0u8; g.one_shot_len(plaintext.len())];
    let n = g.one_shot_into(plaintext, &mut out)?;
    out.truncate(n);
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
    let mut out = Zeroizing::new(vec![0u8; g.one_shot_len(input.len())]);
    let n = g.one_shot_into(input, &mut out)?;
    out.truncate(n);
    Ok(out)
}
