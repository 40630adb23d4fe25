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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    const KEY: &str = "2b7e151628aed2a6abf7158809cf4f3c";
    const PLAIN: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51";

    #[test]
    fn sp800_38a_first_blocks() {
        let iv: Block = core::array::from_fn(|i| i as u8);
        let p = h(PLAIN);
        for (mode, want) in [
            (
                Feedback::Ofb,
                "3b3fd92eb72dad20333449f8e83cfb4a7789508d16918f03f53c52dac54ed825",
            ),
            (
                Feedback::Cfb128,
                "3b3fd92eb72dad20333449f8e83cfb4ac8a64537a0b3a93fcde3cdad9f1ce58b",
            ),
            (Feedback::Cfb8, "3b79424c9c0dd436bace9e0ed4586a4f32b9"),
        ] {
            let want = h(want);
            let n = want.len();
            let c = stream_crypt(&h(KEY), mode, Direction::Encrypt, &iv, &p[..n]).unwrap();
            assert_eq!(&c[..], &want[..], "{mode:?}");
            let back = stream_crypt(&h(KEY), mode, Direction::Decrypt, &iv, &c).unwrap();
            assert_eq!(&back[..], &p[..n], "{mode:?} decrypted");
        }
    }

    #[test]
    fn byte_by_byte_equals_one_call() {
        let key = Arc::new(AesKey::new(&[7; 32]).unwrap());
        let data: Vec<u8> = (0..77u8).collect();
        for mode in [
            Feedback::Ofb,
            Feedback::Cfb8,
            Feedback::Cfb64,
            Feedback::Cfb128,
        ] {
            for dir in [Direction::Encrypt, Direction::Decrypt] {
                let whole = StreamMode::new(key.clone(), mode, dir, [3; 16])
                    .update(&data)
                    .unwrap();
                let mut s = StreamMode::new(key.clone(), mode, dir, [3; 16]);
                let mut parts = Vec::new();
                for b in &data {
                    parts.extend_from_slice(&s.update(std::slice::from_ref(b)).unwrap());
                }
                assert!(s.finish().unwrap().is_empty());
                assert_eq!(parts, whole.to_vec(), "{mode:?} {dir:?}");
                assert!(s.update(&[0]).is_err(), "finished");
            }
        }
    }
}
