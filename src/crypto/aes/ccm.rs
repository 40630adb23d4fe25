//! CCM (NIST SP 800-38C, RFC 3610) for `CKM_AES_CCM` (Current Mechanisms v3.0 §2.13.4), one-shot:
//! the CBC-MAC needs the whole message first.

use super::{err, xor_into, AesKey, Block, Direction, BLOCK_LEN};
use crate::error::Result;
use cryptoki_sys::{
    CKR_ENCRYPTED_DATA_INVALID, CKR_ENCRYPTED_DATA_LEN_RANGE, CKR_MECHANISM_PARAM_INVALID,
};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

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
