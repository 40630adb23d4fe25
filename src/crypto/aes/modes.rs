//! The streaming block modes of `CKM_AES_ECB`, `CKM_AES_CBC`, `CKM_AES_CBC_PAD`, `CKM_AES_CTR`
//! and `CKM_AES_CTS` (Current Mechanisms v3.0 §2.10, §2.11, §2.12), and the one-shot helpers of
//! `CKM_AES_ECB_ENCRYPT_DATA` and `CKM_AES_CBC_ENCRYPT_DATA` (§2.17). ECB, CBC and CBC-PAD are
//! written once over any [`BlockKey`], so the DES family (Triple-DES and the historical DES
//! mechanisms) runs on the same code with its 8-byte block; CTR and CTS are AES's alone. A
//! [`BlockStream`] borrows its key through an `Arc`, so a key expanded once serves every
//! operation.

use super::{err, to_block, xor_into, AesKey, Block, Direction, BLOCK_LEN};
use crate::crypto::block::BlockKey;
use crate::error::{Error, Result};
use cryptoki_sys::{
    CKR_BUFFER_TOO_SMALL, CKR_DATA_LEN_RANGE, CKR_ENCRYPTED_DATA_INVALID,
    CKR_ENCRYPTED_DATA_LEN_RANGE, CKR_MECHANISM_INVALID, CKR_MECHANISM_PARAM_INVALID,
    CKR_OPERATION_NOT_INITIALIZED,
};
use std::sync::Arc;
use subtle::{ConstantTimeEq, ConstantTimeGreater};
use zeroize::{Zeroize, Zeroizing};

/// A streaming block mode and its parameters. The IVs are 16 bytes; a cipher with 8-byte
/// blocks uses the first 8 (the DES mechanisms' 8-byte IV, zero-extended).
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
    /// `CKR_DATA_LEN_RANGE`, in both directions. `out` has at least `input.len()` bytes.
    fn apply_into<K: BlockKey>(&mut self, key: &K, input: &[u8], out: &mut [u8]) -> Result<()> {
        // Check before producing anything, so a refused call leaves the operation unchanged.
        if let Some(left) = self.remaining {
            if self.blocks_needed(input.len()) > left {
                return err(CKR_DATA_LEN_RANGE);
            }
        }
        for (o, i) in out.iter_mut().zip(input) {
            if self.used == BLOCK_LEN {
                self.keystream = self.counter;
                key.encrypt(&mut self.keystream)?;
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
            *o = *i ^ self.keystream[self.used];
            self.used += 1;
        }
        Ok(())
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

/// A multi-part encryption or decryption in one of the [`Mode`]s, with AES (the default) or
/// another [`BlockKey`].
///
/// `update` returns what can be released so far; `finish` ends the operation (after it, both
/// return `CKR_OPERATION_NOT_INITIALIZED`). ECB and CBC need a total length that is a multiple
/// of the block; CBC-PAD decryption holds back the last block until `finish` checks the
/// padding; CTS holds back the last two blocks. Lengths are reported as `CKR_DATA_LEN_RANGE`
/// when encrypting and `CKR_ENCRYPTED_DATA_LEN_RANGE` when decrypting.
#[derive(Clone)]
pub struct BlockStream<K: BlockKey = AesKey> {
    key: Arc<K>,
    dir: Direction,
    kind: Kind,
    /// CBC chaining value: the IV, then the last ciphertext block (its first `K::LEN` bytes).
    chain: Block,
    /// Input not yet processed.
    pending: Zeroizing<Vec<u8>>,
    done: bool,
}

/// The AES form, which most of the module names.
pub type AesCipher = BlockStream<AesKey>;

impl<K: BlockKey> std::fmt::Debug for BlockStream<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match self.kind {
            Kind::Ecb => "ECB",
            Kind::Cbc { pad: false } => "CBC",
            Kind::Cbc { pad: true } => "CBC-PAD",
            Kind::Ctr(_) => "CTR",
            Kind::Cts => "CTS",
        };
        write!(f, "BlockStream({}-{mode}, {:?})", K::NAME, self.dir)
    }
}

impl<K: BlockKey> Drop for BlockStream<K> {
    fn drop(&mut self) {
        self.chain.zeroize();
    }
}

impl<K: BlockKey> BlockStream<K> {
    /// Expands the key for this operation alone: see [`BlockStream::with_key`] to share one.
    pub fn new(key: &[u8], mode: Mode, dir: Direction) -> Result<Self> {
        BlockStream::with_key(Arc::new(K::from_bytes(key)?), mode, dir)
    }

    /// As [`BlockStream::new`], under an expanded key shared with other operations. CTR and
    /// CTS are defined here for 16-byte blocks only (`CKR_MECHANISM_INVALID` for others).
    pub fn with_key(key: Arc<K>, mode: Mode, dir: Direction) -> Result<Self> {
        if K::LEN != BLOCK_LEN && matches!(mode, Mode::Ctr { .. } | Mode::Cts { .. }) {
            return err(CKR_MECHANISM_INVALID);
        }
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
        Ok(BlockStream {
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
        let rem = total % K::LEN;
        match (&self.kind, self.dir) {
            (Kind::Cbc { pad: true }, Direction::Decrypt) => {
                if total == 0 || rem != 0 {
                    rem
                } else {
                    K::LEN
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

    /// One block (`K::LEN` bytes) in place, chained in CBC.
    fn crypt_block(&mut self, b: &mut [u8]) -> Result<()> {
        let chain = &mut self.chain[..K::LEN];
        match (&self.kind, self.dir) {
            (Kind::Ecb, dir) => self.key.encrypt_or_decrypt(dir, b)?,
            (_, Direction::Encrypt) => {
                xor_into(b, chain);
                self.key.encrypt(b)?;
                chain.copy_from_slice(b);
            }
            (_, Direction::Decrypt) => {
                let mut c = to_block(b);
                let r = self.key.decrypt(b);
                xor_into(b, chain);
                chain.copy_from_slice(&c[..K::LEN]);
                c.zeroize();
                r?;
            }
        }
        Ok(())
    }

    /// Process input; returns the output released by this call.
    pub fn update(&mut self, input: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(vec![0u8; self.update_len(input.len())]);
        let n = self.update_into(input, &mut out)?;
        out.truncate(n);
        Ok(out)
    }

    /// [`BlockStream::update`] into the caller's buffer, which must hold
    /// `update_len(input.len())` bytes (else `CKR_BUFFER_TOO_SMALL`, and nothing changes);
    /// returns the bytes written. Whole blocks go from `input` to `out` in one bulk call; only
    /// the block that joins held-back bytes to new ones is put together on the stack.
    pub fn update_into(&mut self, input: &[u8], out: &mut [u8]) -> Result<usize> {
        if self.done {
            return err(CKR_OPERATION_NOT_INITIALIZED);
        }
        let dir = self.dir;
        let p = self.pending.len();
        let total = p.checked_add(input.len()).ok_or_else(|| dir.len_error())?;
        let n = self.update_len(input.len());
        let out = out.get_mut(..n).ok_or(Error::new(CKR_BUFFER_TOO_SMALL))?;
        if let Kind::Ctr(ctr) = &mut self.kind {
            ctr.apply_into(&*self.key, input, out)?;
            return Ok(n);
        }
        // The stream is pending || input; its first `n` bytes are released. The blocks that
        // contain held-back bytes are gathered first, the rest come straight from `input`.
        let head_len = n.min(p.div_ceil(K::LEN) * K::LEN);
        let mut head = Zeroizing::new([0u8; 3 * BLOCK_LEN]);
        let from_input = head_len.saturating_sub(p);
        let (Some(h), Some(pend), Some(inp)) = (
            head.get_mut(..head_len),
            self.pending.get(..head_len.min(p)),
            input.get(..from_input),
        ) else {
            return Err(Error::device("block mode: held-back input out of bounds"));
        };
        let (h_pend, h_inp) = h.split_at_mut(pend.len());
        h_pend.copy_from_slice(pend);
        h_inp.copy_from_slice(inp);
        let (out_head, out_body) = out.split_at_mut(head_len);
        self.blocks_into(h, out_head)?;
        let body_end = n.saturating_sub(p).max(from_input);
        let body = input.get(from_input..body_end).unwrap_or(&[]);
        self.blocks_into(body, out_body)?;
        // What stays: pending || input from byte n on.
        let mut keep = Zeroizing::new(Vec::with_capacity(total - n));
        keep.extend_from_slice(self.pending.get(n.min(p)..).unwrap_or(&[]));
        keep.extend_from_slice(input.get(n.saturating_sub(p)..).unwrap_or(&[]));
        self.pending = keep;
        Ok(n)
    }

    /// Whole blocks of `input` into `out` (the same length) in this mode.
    fn blocks_into(&mut self, input: &[u8], out: &mut [u8]) -> Result<()> {
        match self.kind {
            // CBC and the whole blocks before a CTS tail: the chained bulk call.
            Kind::Cbc { .. } | Kind::Cts => {
                self.key
                    .cbc_into(self.dir, &mut self.chain[..K::LEN], input, out)
            }
            _ => self.key.ecb_into(self.dir, input, out),
        }
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
                let pad = (K::LEN - pending.len()) as u8;
                let mut b = Zeroizing::new(vec![pad; K::LEN]);
                b[..pending.len()].copy_from_slice(&pending);
                self.crypt_block(&mut b)?;
                Ok(b)
            }
            (Kind::Cbc { pad: true }, Direction::Decrypt) => {
                if pending.len() != K::LEN {
                    return err(CKR_ENCRYPTED_DATA_LEN_RANGE);
                }
                let mut b = to_block(&pending);
                let r = self.crypt_block(&mut b[..K::LEN]);
                let out = r.and_then(|()| unpad(&b[..K::LEN]));
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
                self.crypt_block(&mut x)?;
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
                self.key.encrypt(&mut x)?;
                let mut y = to_block(last);
                xor_into(&mut y, &x);
                self.key.encrypt(&mut y)?;
                out.extend_from_slice(x.get(..d).unwrap_or(&[]));
                out.extend_from_slice(&y);
                x.zeroize();
                y.zeroize();
            }
            Direction::Decrypt => {
                // D(C(n)) = P(n)||0 ^ C(n-1), so its tail completes the stolen C(n-1).
                let (stolen, cn) = tail.split_at(d);
                let mut x = to_block(cn);
                self.key.decrypt(&mut x)?;
                let mut c1 = x;
                c1[..d].copy_from_slice(stolen);
                let mut pn = x;
                xor_into(&mut pn, stolen);
                let mut p1 = c1;
                self.key.decrypt(&mut p1)?;
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
            (Kind::Cbc { pad: true }, Direction::Encrypt) => {
                (total / K::LEN).saturating_add(1).saturating_mul(K::LEN)
            }
            _ => total,
        }
    }

    /// An upper bound of what `finish` returns.
    pub fn finish_len(&self) -> usize {
        match (&self.kind, self.dir) {
            (Kind::Cbc { pad: true }, Direction::Encrypt) => K::LEN,
            (Kind::Cbc { pad: true }, Direction::Decrypt) => K::LEN - 1,
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
        let mut c = Self::new(key, mode, dir)?;
        let mut out = c.update(input)?;
        out.extend_from_slice(&c.finish()?);
        Ok(out)
    }
}

/// Strip PKCS#7 padding from the last block (8 or 16 bytes), inspecting every byte whatever
/// the pad value.
fn unpad(b: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let len = b.len();
    let Some(&pad) = b.last() else {
        return err(CKR_ENCRYPTED_DATA_INVALID);
    };
    let mut good = !pad.ct_eq(&0) & !pad.ct_gt(&(len as u8));
    for (i, x) in b.iter().enumerate() {
        // Byte i is padding when i >= len - pad, i.e. when len - i <= pad.
        let in_pad = !((len - i) as u8).ct_gt(&pad);
        good &= !in_pad | x.ct_eq(&pad);
    }
    if bool::from(good) {
        Ok(Zeroizing::new(
            b.get(..len - usize::from(pad)).unwrap_or(&[]).to_vec(),
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
