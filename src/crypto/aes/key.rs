//! The expanded AES key (FIPS 197) every mode here runs on: set up once per key object and then
//! shared, through an `Arc`, by every operation that uses it, from any thread (all use is
//! through `&self`).

#[cfg(feature = "aws-lc")]
use super::super::awslc;
#[cfg(not(feature = "aws-lc"))]
use super::{err, to_block, xor_into, BLOCK_LEN};
use super::{Block, Direction};
use crate::error::{Error, Result};
#[cfg(not(feature = "aws-lc"))]
use aes::cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use cryptoki_sys::CKR_KEY_SIZE_RANGE;
#[cfg(not(feature = "aws-lc"))]
use zeroize::Zeroize;

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
/// crate, or by the aws-lc backend's wrapper). `Send + Sync`: one `Arc<AesKey>` serves every
/// operation on the key at once.
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

    /// Decrypt the whole blocks of `data` in place, several at a time (the crate pipelines
    /// them through the AES instructions).
    #[cfg(not(feature = "aws-lc"))]
    pub(super) fn decrypt_blocks(&self, data: &mut [u8]) {
        let (blocks, _) = aes::Block::slice_as_chunks_mut(data);
        match &self.s {
            Schedule::A128(c) => c.decrypt_blocks(blocks),
            Schedule::A192(c) => c.decrypt_blocks(blocks),
            Schedule::A256(c) => c.decrypt_blocks(blocks),
        }
    }

    /// Encrypt the whole blocks of `data` in place, several at a time.
    #[cfg(not(feature = "aws-lc"))]
    pub(super) fn encrypt_blocks(&self, data: &mut [u8]) {
        let (blocks, _) = aes::Block::slice_as_chunks_mut(data);
        match &self.s {
            Schedule::A128(c) => c.encrypt_blocks(blocks),
            Schedule::A192(c) => c.encrypt_blocks(blocks),
            Schedule::A256(c) => c.encrypt_blocks(blocks),
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

    /// CBC over the whole blocks of `input` into `out` (at least as long), chaining from
    /// `chain` and leaving the last ciphertext block in it. One pass from the caller's input
    /// to the caller's output: no copy in between.
    pub(super) fn cbc_into(&self, dir: Direction, chain: &mut Block, input: &[u8], out: &mut [u8]) {
        #[cfg(feature = "aws-lc")]
        match dir {
            Direction::Encrypt => self.s.enc.cbc_into(true, chain, input, out),
            Direction::Decrypt => self.s.dec.cbc_into(false, chain, input, out),
        }
        #[cfg(not(feature = "aws-lc"))]
        {
            let n = (input.len() - input.len() % BLOCK_LEN).min(out.len() - out.len() % BLOCK_LEN);
            let (Some(input), Some(out)) = (input.get(..n), out.get_mut(..n)) else {
                return;
            };
            match dir {
                Direction::Encrypt => {
                    for (i, o) in input
                        .chunks_exact(BLOCK_LEN)
                        .zip(out.chunks_exact_mut(BLOCK_LEN))
                    {
                        let mut b = to_block(i);
                        xor_into(&mut b, chain);
                        self.encrypt_block(&mut b);
                        *chain = b;
                        o.copy_from_slice(&b);
                    }
                }
                Direction::Decrypt => {
                    // CBC decryption is parallel: decrypt every block at once, then XOR each
                    // with the ciphertext block before it.
                    out.copy_from_slice(input);
                    self.decrypt_blocks(out);
                    let mut prev = *chain;
                    for (i, o) in input
                        .chunks_exact(BLOCK_LEN)
                        .zip(out.chunks_exact_mut(BLOCK_LEN))
                    {
                        xor_into(o, &prev);
                        prev = to_block(i);
                    }
                    *chain = prev;
                    prev.zeroize();
                }
            }
        }
    }
}

/// The AES block behind the generic modes: the calls forward to the schedule's own, which the
/// modes also use directly where only AES applies (CTR, CTS).
impl crate::crypto::block::BlockKey for AesKey {
    const LEN: usize = super::BLOCK_LEN;
    const NAME: &'static str = "AES";

    fn from_bytes(key: &[u8]) -> Result<Self> {
        AesKey::new(key)
    }

    fn encrypt(&self, b: &mut [u8]) -> Result<()> {
        self.encrypt_block(whole(b)?);
        Ok(())
    }

    fn decrypt(&self, b: &mut [u8]) -> Result<()> {
        self.decrypt_block(whole(b)?);
        Ok(())
    }

    fn ecb_into(&self, dir: Direction, input: &[u8], out: &mut [u8]) -> Result<()> {
        // The RustCrypto cipher pipelines independent blocks; aws-lc's block call is one at a
        // time either way.
        #[cfg(not(feature = "aws-lc"))]
        {
            let n = input.len().min(out.len());
            let n = n - n % super::BLOCK_LEN;
            let (Some(input), Some(out)) = (input.get(..n), out.get_mut(..n)) else {
                return Ok(());
            };
            out.copy_from_slice(input);
            match dir {
                Direction::Encrypt => self.encrypt_blocks(out),
                Direction::Decrypt => self.decrypt_blocks(out),
            }
        }
        #[cfg(feature = "aws-lc")]
        for (i, o) in input
            .chunks_exact(super::BLOCK_LEN)
            .zip(out.chunks_exact_mut(super::BLOCK_LEN))
        {
            o.copy_from_slice(i);
            crate::crypto::block::BlockKey::encrypt_or_decrypt(self, dir, o)?;
        }
        Ok(())
    }

    fn cbc_into(
        &self,
        dir: Direction,
        chain: &mut [u8],
        input: &[u8],
        out: &mut [u8],
    ) -> Result<()> {
        AesKey::cbc_into(self, dir, whole(chain)?, input, out);
        Ok(())
    }
}

/// A block argument of the block trait as the 16-byte array the schedule takes.
fn whole(b: &mut [u8]) -> Result<&mut Block> {
    <&mut Block>::try_from(b).map_err(|_| Error::device("AES: a block of another length"))
}
