//! AES-XTS with ciphertext stealing (`CKM_AES_XTS`, Current Mechanisms v3.0 §2.10; IEEE
//! 1619-2007 §5, NIST SP 800-38E): a `CKK_AES_XTS` key of 32 or 64 bytes is the data key K1
//! followed by the tweak key K2; the mechanism parameter is the 16-byte tweak value, which K2
//! encrypts into the first block's tweak. Data of 16 bytes or more; a partial last block
//! steals from the one before it.
//!
//! Multi-part: whole blocks are released as they arrive, but the last full block and any
//! partial bytes after it are held back, since stealing changes the last two blocks; `finish`
//! does those. A data unit is at most 2^20 blocks (16 MiB, IEEE 1619 §5.1): more is
//! `CKR_DATA_LEN_RANGE`. One implementation over [`AesKey`] for both builds (the tweak update is a
//! shift and an XOR per block, the rest is the block function).

use super::{err, to_block, xor_into, AesKey, Block, Direction, BLOCK_LEN};
use crate::error::{Error, Result};
use cryptoki_sys::{
    CKR_BUFFER_TOO_SMALL, CKR_KEY_FUNCTION_NOT_PERMITTED, CKR_KEY_SIZE_RANGE,
    CKR_OPERATION_NOT_INITIALIZED,
};
use std::sync::Arc;
use zeroize::{Zeroize, Zeroizing};

/// The two halves of an XTS key, expanded once per key object.
pub struct XtsKey {
    data: AesKey,
    tweak: AesKey,
}

impl std::fmt::Debug for XtsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "XtsKey(AES-{}-XTS)", self.data.key_len() * 8)
    }
}

impl XtsKey {
    /// 32 bytes (AES-128-XTS) or 64 bytes (AES-256-XTS); else `CKR_KEY_SIZE_RANGE`. Equal
    /// halves make the tweak the data key's own output (FIPS 140-3 IG C.I forbids K1 = K2, and
    /// OpenSSL 3 refuses them): `CKR_KEY_FUNCTION_NOT_PERMITTED`.
    pub fn new(key: &[u8]) -> Result<Self> {
        if key.len() != 32 && key.len() != 64 {
            return err(CKR_KEY_SIZE_RANGE);
        }
        let (k1, k2) = key.split_at(key.len() / 2);
        if bool::from(subtle::ConstantTimeEq::ct_eq(k1, k2)) {
            return err(CKR_KEY_FUNCTION_NOT_PERMITTED);
        }
        Ok(XtsKey {
            data: AesKey::new(k1)?,
            tweak: AesKey::new(k2)?,
        })
    }
}

/// Multiply the tweak by α in GF(2^128) (IEEE 1619 §5.2: little-endian bytes, x^128 + x^7 +
/// x^2 + x + 1).
fn next_tweak(t: &mut Block) {
    let mut carry = 0u8;
    for b in t.iter_mut() {
        let c = *b >> 7;
        *b = (*b << 1) | carry;
        carry = c;
    }
    t[0] ^= 0x87 & 0u8.wrapping_sub(carry);
}

/// A multi-part XTS encryption or decryption of one data unit.
pub struct Xts {
    key: Arc<XtsKey>,
    dir: Direction,
    /// The tweak of the next block to be processed.
    t: Block,
    pending: Zeroizing<Vec<u8>>,
    /// Bytes taken so far, for the data-unit limit.
    total: u64,
    done: bool,
}

/// IEEE 1619-2007 §5.1 and SP 800-38E §5: a data unit of at most 2^20 blocks.
const MAX_UNIT: u64 = (1 << 20) * BLOCK_LEN as u64;

impl std::fmt::Debug for Xts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Xts({:?})", self.dir)
    }
}

impl Drop for Xts {
    fn drop(&mut self) {
        self.t.zeroize();
    }
}

impl Xts {
    pub fn new(key: Arc<XtsKey>, dir: Direction, tweak: Block) -> Self {
        let mut t = tweak;
        key.tweak.encrypt_block(&mut t);
        Xts {
            key,
            dir,
            t,
            pending: Zeroizing::new(Vec::new()),
            total: 0,
            done: false,
        }
    }

    /// One block with tweak `t`, in place.
    fn block(&self, b: &mut Block, t: &Block) {
        xor_into(b, t);
        match self.dir {
            Direction::Encrypt => self.key.data.encrypt_block(b),
            Direction::Decrypt => self.key.data.decrypt_block(b),
        }
        xor_into(b, t);
    }

    /// Bytes of a `total`-byte pending input held back for the stealing at the end: the last
    /// full block and the partial bytes after it.
    fn holdback(total: usize) -> usize {
        let rem = total % BLOCK_LEN;
        (BLOCK_LEN + rem).min(total)
    }

    pub fn update_len(&self, input_len: usize) -> usize {
        let total = self.pending.len().saturating_add(input_len);
        total - Xts::holdback(total)
    }

    /// A single-part call's output: as long as its input.
    pub fn one_shot_len(&self, input_len: usize) -> usize {
        self.pending.len().saturating_add(input_len)
    }

    /// What is left for `finish`: at most 31 bytes.
    pub fn finish_len(&self) -> usize {
        self.pending.len()
    }

    pub fn update(&mut self, input: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if self.done {
            return err(CKR_OPERATION_NOT_INITIALIZED);
        }
        // Over the limit is the caller's data length; the call changes nothing.
        let total = self
            .total
            .checked_add(input.len() as u64)
            .filter(|t| *t <= MAX_UNIT)
            .ok_or_else(|| self.dir.len_error())?;
        self.total = total;
        let n = self.update_len(input.len());
        let mut stream = Zeroizing::new(Vec::with_capacity(self.pending.len() + input.len()));
        stream.extend_from_slice(&self.pending);
        stream.extend_from_slice(input);
        let mut out = Zeroizing::new(Vec::with_capacity(n));
        let (now, later) = stream.split_at(n);
        for chunk in now.chunks_exact(BLOCK_LEN) {
            let mut b = to_block(chunk);
            let t = self.t;
            self.block(&mut b, &t);
            next_tweak(&mut self.t);
            out.extend_from_slice(&b);
            b.zeroize();
        }
        self.pending = Zeroizing::new(later.to_vec());
        Ok(out)
    }

    /// The last full block and the partial one after it; less than a block in all is
    /// `CKR_DATA_LEN_RANGE` (`CKR_ENCRYPTED_DATA_LEN_RANGE` when decrypting).
    pub fn finish(&mut self) -> Result<Zeroizing<Vec<u8>>> {
        if self.done {
            return err(CKR_OPERATION_NOT_INITIALIZED);
        }
        self.done = true;
        let tail = Zeroizing::new(std::mem::take(&mut *self.pending));
        if tail.len() < BLOCK_LEN || tail.len() >= 2 * BLOCK_LEN {
            return Err(self.dir.len_error());
        }
        let (full, part) = tail.split_at(BLOCK_LEN);
        let mut out = Zeroizing::new(Vec::with_capacity(tail.len()));
        let t1 = self.t;
        let mut t2 = self.t;
        next_tweak(&mut t2);
        let mut x = to_block(full);
        if part.is_empty() {
            self.block(&mut x, &t1);
            out.extend_from_slice(&x);
            x.zeroize();
            return Ok(out);
        }
        let d = part.len();
        // Encryption: CC = E(P(m-1), T(m-1)); C(m) = CC[..d]; C(m-1) = E(P(m) || CC[d..], T(m)).
        // Decryption swaps the tweaks: PP = D(C(m-1), T(m)); P(m) = PP[..d];
        // P(m-1) = D(C(m) || PP[d..], T(m-1)).
        let (first, second) = match self.dir {
            Direction::Encrypt => (t1, t2),
            Direction::Decrypt => (t2, t1),
        };
        self.block(&mut x, &first);
        let mut y = x;
        y[..d].copy_from_slice(part);
        self.block(&mut y, &second);
        out.extend_from_slice(&y);
        out.extend_from_slice(x.get(..d).ok_or(Error::new(CKR_BUFFER_TOO_SMALL))?);
        x.zeroize();
        y.zeroize();
        Ok(out)
    }
}

/// One-shot XTS of one data unit (tests and helpers).
pub fn xts_crypt(
    key: &[u8],
    dir: Direction,
    tweak: &Block,
    data: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let mut x = Xts::new(Arc::new(XtsKey::new(key)?), dir, *tweak);
    let mut out = x.update(data)?;
    out.extend_from_slice(&x.finish()?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_tweak_doubles_with_the_reduction() {
        let mut t = [0u8; 16];
        t[15] = 0x80;
        next_tweak(&mut t);
        let mut want = [0u8; 16];
        want[0] = 0x87;
        assert_eq!(t, want);
        let mut t = [0u8; 16];
        t[0] = 0x80;
        next_tweak(&mut t);
        assert_eq!(t[1], 1);
        assert_eq!(t[0], 0);
    }

    /// IEEE 1619-2007 vector 15 (17 bytes: stealing), both ways, and every split of it.
    #[test]
    fn ieee1619_vector_15() {
        let key: Vec<u8> = (0..16u8)
            .map(|i| 0xff - i)
            .chain((0..16u8).map(|i| 0xbf - i))
            .collect();
        let mut tweak = [0u8; 16];
        tweak[..5].copy_from_slice(&[0x9a, 0x78, 0x56, 0x34, 0x12]);
        let p: Vec<u8> = (0..17u8).collect();
        let want = [
            0x6c, 0x16, 0x25, 0xdb, 0x46, 0x71, 0x52, 0x2d, 0x3d, 0x75, 0x99, 0x60, 0x1d, 0xe7,
            0xca, 0x09, 0xed,
        ];
        assert_eq!(
            &xts_crypt(&key, Direction::Encrypt, &tweak, &p).unwrap()[..],
            &want
        );
        assert_eq!(
            &xts_crypt(&key, Direction::Decrypt, &tweak, &want).unwrap()[..],
            &p[..]
        );
        let k = Arc::new(XtsKey::new(&key).unwrap());
        for cut in 0..=17 {
            let mut x = Xts::new(k.clone(), Direction::Encrypt, tweak);
            assert_eq!(x.update_len(cut), 0, "17 bytes or fewer are all held back");
            let mut out = x.update(&p[..cut]).unwrap();
            out.extend_from_slice(&x.update(&p[cut..]).unwrap());
            out.extend_from_slice(&x.finish().unwrap());
            assert_eq!(&out[..], &want, "split at {cut}");
        }
        let mut x = Xts::new(k.clone(), Direction::Encrypt, tweak);
        assert!(
            x.update(&vec![0; MAX_UNIT as usize + 1]).is_err(),
            "over 2^20 blocks"
        );
        assert!(x.update(&vec![0; MAX_UNIT as usize]).is_ok());
        assert!(x.update(&[0]).is_err());
        assert!(XtsKey::new(&[1; 48]).is_err());
        assert!(XtsKey::new(&[1; 32]).is_err(), "equal halves");
    }
}
