//! AES CBC-MAC for `CKM_AES_MAC` (half a block) and `CKM_AES_MAC_GENERAL` (1-16 bytes)
//! (Current Mechanisms v3.0 §2.10, the general block cipher MAC; FIPS 113 / ISO 9797-1
//! algorithm 1 with padding method 1): the last block of a CBC encryption under a zero IV of the
//! data padded with zero bytes to whole blocks. No data is no block: the MAC is the zero
//! IV's prefix (as NSS softoken, the other PKCS#11 token with this mechanism, answers).
//! One implementation over [`AesKey`] for both builds.
//!
//! CBC-MAC is only secure for messages of one fixed length: the mechanism is here for legacy
//! interoperability (payment systems); CMAC is the MAC to choose.

use super::{err, AesKey, Block, BLOCK_LEN};
use crate::error::Result;
use cryptoki_sys::{CKR_MECHANISM_PARAM_INVALID, CKR_SIGNATURE_INVALID, CKR_SIGNATURE_LEN_RANGE};
use std::sync::Arc;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

/// A running AES CBC-MAC whose output is the first `mac_len` bytes of the last block.
pub struct AesCbcMac {
    key: Arc<AesKey>,
    chain: Block,
    partial: Block,
    filled: usize,
    mac_len: usize,
}

impl std::fmt::Debug for AesCbcMac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AesCbcMac({})", self.mac_len)
    }
}

impl Drop for AesCbcMac {
    fn drop(&mut self) {
        self.chain.zeroize();
        self.partial.zeroize();
    }
}

impl AesCbcMac {
    /// `mac_len` outside 1..=16 is `CKR_MECHANISM_PARAM_INVALID`.
    pub fn new(key: Arc<AesKey>, mac_len: usize) -> Result<Self> {
        if !(1..=BLOCK_LEN).contains(&mac_len) {
            return err(CKR_MECHANISM_PARAM_INVALID);
        }
        Ok(AesCbcMac {
            key,
            chain: [0; BLOCK_LEN],
            partial: [0; BLOCK_LEN],
            filled: 0,
            mac_len,
        })
    }

    pub fn mac_len(&self) -> usize {
        self.mac_len
    }

    fn absorb(&mut self) {
        for (c, p) in self.chain.iter_mut().zip(&self.partial) {
            *c ^= *p;
        }
        self.key.encrypt_block(&mut self.chain);
        self.partial = [0; BLOCK_LEN];
        self.filled = 0;
    }

    pub fn update(&mut self, data: &[u8]) {
        for b in data {
            if self.filled == BLOCK_LEN {
                self.absorb();
            }
            self.partial[self.filled] = *b;
            self.filled += 1;
        }
    }

    pub fn finalize(mut self) -> Zeroizing<Vec<u8>> {
        if self.filled > 0 {
            // Zero padding: the rest of `partial` is already zero.
            self.absorb();
        }
        Zeroizing::new(self.chain.get(..self.mac_len).unwrap_or(&[]).to_vec())
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cbc_mac_is_the_last_cbc_block_of_the_zero_padded_data() {
        let raw = [0x42u8; 16];
        let key = Arc::new(AesKey::new(&raw).unwrap());
        let data: Vec<u8> = (0..37u8).collect();
        let mut padded = data.clone();
        padded.resize(48, 0);
        let cbc = super::super::cbc_encrypt(&raw, &[0; 16], &padded).unwrap();
        let mut m = AesCbcMac::new(key.clone(), 16).unwrap();
        m.update(&data[..20]);
        m.update(&data[20..]);
        assert_eq!(&m.finalize()[..], &cbc[32..]);
        let mut m = AesCbcMac::new(key.clone(), 8).unwrap();
        m.update(&data);
        m.verify(&cbc[32..40]).unwrap();
        // No data is no block: the zero IV.
        assert_eq!(
            &AesCbcMac::new(key.clone(), 8).unwrap().finalize()[..],
            &[0; 8]
        );
        assert!(AesCbcMac::new(key.clone(), 0).is_err());
        assert!(AesCbcMac::new(key, 17).is_err());
    }
}
