//! The AES stream modes of `CKM_AES_OFB`, `CKM_AES_CFB8`, `CKM_AES_CFB64` and `CKM_AES_CFB128`
//! (Current Mechanisms v3.0 §2.10, NIST SP 800-38A §6.3-6.4): any length, byte by byte across
//! parts, so every `update` releases exactly its input's length.
//!
//! One implementation over the [`AesKey`] block function serves both builds: aws-lc has no
//! CFB64, and a mode that is one block call per segment gains nothing from an engine context.

use super::{err, AesKey, Block, Direction, BLOCK_LEN};
use crate::error::Result;
use cryptoki_sys::{CKR_BUFFER_TOO_SMALL, CKR_OPERATION_NOT_INITIALIZED};
use std::sync::Arc;
use zeroize::{Zeroize, Zeroizing};

/// Which stream mode: OFB, or CFB with a segment of 1, 8 or 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback {
    Ofb,
    Cfb8,
    Cfb64,
    Cfb128,
}

impl Feedback {
    fn segment(self) -> usize {
        match self {
            Feedback::Cfb8 => 1,
            Feedback::Cfb64 => 8,
            Feedback::Ofb | Feedback::Cfb128 => BLOCK_LEN,
        }
    }
}

/// A multi-part OFB or CFB encryption or decryption.
pub struct StreamMode {
    key: Arc<AesKey>,
    mode: Feedback,
    dir: Direction,
    /// OFB: the last output block. CFB: the input block (shift register) of the next segment.
    reg: Block,
    /// The keystream of the current segment.
    ks: Block,
    /// CFB: the ciphertext bytes of the current segment, shifted into `reg` when it is full.
    seg: Block,
    /// Bytes of the current segment used; a full segment means the next byte starts a new one.
    used: usize,
    done: bool,
}

impl std::fmt::Debug for StreamMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StreamMode({:?}, {:?})", self.mode, self.dir)
    }
}

impl Drop for StreamMode {
    fn drop(&mut self) {
        self.reg.zeroize();
        self.ks.zeroize();
        self.seg.zeroize();
    }
}

impl StreamMode {
    pub fn new(key: Arc<AesKey>, mode: Feedback, dir: Direction, iv: Block) -> Self {
        StreamMode {
            key,
            mode,
            dir,
            reg: iv,
            ks: [0; BLOCK_LEN],
            seg: [0; BLOCK_LEN],
            used: mode.segment(),
            done: false,
        }
    }

    /// `input` into `out` (at least as long); returns the bytes written.
    pub fn update_into(&mut self, input: &[u8], out: &mut [u8]) -> Result<usize> {
        if self.done {
            return err(CKR_OPERATION_NOT_INITIALIZED);
        }
        let out = out
            .get_mut(..input.len())
            .ok_or(crate::error::Error::new(CKR_BUFFER_TOO_SMALL))?;
        let s = self.mode.segment();
        for (o, i) in out.iter_mut().zip(input) {
            if self.used == s {
                self.ks = self.reg;
                self.key.encrypt_block(&mut self.ks);
                if self.mode == Feedback::Ofb {
                    self.reg = self.ks;
                }
                self.used = 0;
            }
            *o = *i ^ self.ks[self.used];
            if self.mode != Feedback::Ofb {
                // The register takes the ciphertext, whichever way the data goes.
                self.seg[self.used] = match self.dir {
                    Direction::Encrypt => *o,
                    Direction::Decrypt => *i,
                };
            }
            self.used += 1;
            if self.mode != Feedback::Ofb && self.used == s {
                self.reg.copy_within(s.., 0);
                self.reg[BLOCK_LEN - s..].copy_from_slice(&self.seg[..s]);
            }
        }
        Ok(input.len())
    }

    pub fn update(&mut self, input: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(vec![0u8; input.len()]);
        self.update_into(input, &mut out)?;
        Ok(out)
    }

    /// Exact: a stream mode releases what it is given.
    pub fn update_len(&self, input_len: usize) -> usize {
        input_len
    }

    pub fn finish_len(&self) -> usize {
        0
    }

    pub fn one_shot_len(&self, input_len: usize) -> usize {
        input_len
    }

    /// A stream mode has nothing held back: the end only closes the operation.
    pub fn finish(&mut self) -> Result<Zeroizing<Vec<u8>>> {
        if self.done {
            return err(CKR_OPERATION_NOT_INITIALIZED);
        }
        self.done = true;
        Ok(Zeroizing::new(Vec::new()))
    }
}

/// One-shot OFB/CFB (tests and helpers).
pub fn stream_crypt(
    key: &[u8],
    mode: Feedback,
    dir: Direction,
    iv: &Block,
    data: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    StreamMode::new(Arc::new(AesKey::new(key)?), mode, dir, *iv).update(data)
}
