//! The block cipher the streaming modes run on: AES's 16-byte block and DES's 8-byte one
//! behind one interface, so ECB, CBC and CBC with PKCS#7 padding (Current Mechanisms v3.0
//! §2.10 AES; the Triple-DES section and the historical DES mechanisms) are written once
//! ([`crate::crypto::aes::BlockStream`]).

use super::aes::Direction;
use crate::error::Result;

/// An expanded key of a block cipher, shared through an `Arc` by every operation on its key
/// object (all use is through `&self`). Block arguments are `LEN` bytes; the bulk calls take
/// whole blocks, as many as both buffers hold. A call fails only when the engine does
/// (`CKR_DEVICE_ERROR`), and then writes nothing that counts.
pub trait BlockKey: Sized + Send + Sync + 'static {
    /// Block length in bytes: 16 or 8.
    const LEN: usize;
    /// The cipher's name, for `Debug` output.
    const NAME: &'static str;

    /// The key of these bytes; a length the cipher does not take is `CKR_KEY_SIZE_RANGE`.
    fn from_bytes(key: &[u8]) -> Result<Self>;

    /// Encrypt one block in place.
    fn encrypt(&self, b: &mut [u8]) -> Result<()>;

    /// Decrypt one block in place.
    fn decrypt(&self, b: &mut [u8]) -> Result<()>;

    /// One block in place, in direction `dir`.
    fn encrypt_or_decrypt(&self, dir: Direction, b: &mut [u8]) -> Result<()> {
        match dir {
            Direction::Encrypt => self.encrypt(b),
            Direction::Decrypt => self.decrypt(b),
        }
    }

    /// ECB over the whole blocks of `input` into `out`.
    fn ecb_into(&self, dir: Direction, input: &[u8], out: &mut [u8]) -> Result<()> {
        for (i, o) in input
            .chunks_exact(Self::LEN)
            .zip(out.chunks_exact_mut(Self::LEN))
        {
            o.copy_from_slice(i);
            self.encrypt_or_decrypt(dir, o)?;
        }
        Ok(())
    }

    /// CBC over the whole blocks of `input` into `out`, chaining from `chain` (`LEN` bytes) and
    /// leaving the last ciphertext block in it.
    fn cbc_into(
        &self,
        dir: Direction,
        chain: &mut [u8],
        input: &[u8],
        out: &mut [u8],
    ) -> Result<()> {
        for (i, o) in input
            .chunks_exact(Self::LEN)
            .zip(out.chunks_exact_mut(Self::LEN))
        {
            match dir {
                Direction::Encrypt => {
                    for ((d, x), c) in o.iter_mut().zip(i).zip(chain.iter()) {
                        *d = *x ^ *c;
                    }
                    self.encrypt(o)?;
                    chain.copy_from_slice(o);
                }
                Direction::Decrypt => {
                    o.copy_from_slice(i);
                    self.decrypt(o)?;
                    for (d, c) in o.iter_mut().zip(chain.iter()) {
                        *d ^= *c;
                    }
                    chain.copy_from_slice(i);
                }
            }
        }
        Ok(())
    }
}
