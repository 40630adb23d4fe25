//! DES and Triple DES (FIPS 46-3, NIST SP 800-67): the expanded key of `CKK_DES`, `CKK_DES2`
//! and `CKK_DES3` keys behind the generic block modes (ECB, CBC, CBC with PKCS#7 padding), key
//! parity, check values and DES3-CMAC (SP 800-38B). Serves `CKM_DES_ECB/CBC/CBC_PAD`,
//! `CKM_DES3_ECB/CBC/CBC_PAD`, `CKM_DES3_CMAC(_GENERAL)` and the DES key generation mechanisms
//! (Current Mechanisms v3.0, the Triple-DES and DES3-CMAC sections; CKM_DES_* from the
//! historical mechanisms document).
//!
//! Every key is run as the EDE triple K1, K2, K3: a two-key (DES2) key is K1, K2, K1 and a
//! single DES key K1, K1, K1, which SP 800-67 keying option 3 makes equal to single DES. So one
//! schedule type and one code path serve the three key types. The default build runs aws-lc's
//! `EVP_des_ede3(_cbc)` (`awslc_des.rs`), the RustCrypto build the `des` crate; CMAC is the
//! `cmac` crate over `des::TdesEde3` in both, as AES-CMAC is on `cmac`.

#[cfg(feature = "aws-lc")]
use crate::crypto::aes::Direction;
use crate::crypto::block::BlockKey;
use crate::error::{Error, Result};
use cryptoki_sys::{
    CKR_KEY_SIZE_RANGE, CKR_MECHANISM_PARAM_INVALID, CKR_SIGNATURE_INVALID, CKR_SIGNATURE_LEN_RANGE,
};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

pub const BLOCK_LEN: usize = 8;

/// The 24-byte EDE key K1 || K2 || K3 of an 8-, 16- or 24-byte DES key.
fn ede_key(key: &[u8]) -> Result<Zeroizing<[u8; 24]>> {
    let mut k = Zeroizing::new([0u8; 24]);
    let (k1, k2, k3) = match key.len() {
        8 => (key, key, key),
        16 => (&key[..8], &key[8..], &key[..8]),
        24 => (&key[..8], &key[8..16], &key[16..]),
        _ => return Err(Error::new(CKR_KEY_SIZE_RANGE)),
    };
    k[..8].copy_from_slice(k1);
    k[8..16].copy_from_slice(k2);
    k[16..].copy_from_slice(k3);
    Ok(k)
}

#[cfg(feature = "aws-lc")]
type Schedule = super::awslc_des::Tdes;
#[cfg(not(feature = "aws-lc"))]
type Schedule = des::TdesEde3;

/// An expanded DES, DES2 or DES3 key; the schedule is wiped on drop (by aws-lc when it frees
/// its contexts, or by the `des` crate). `Send + Sync`, shared through an `Arc` like
/// [`crate::crypto::aes::AesKey`].
pub struct DesKey {
    s: Schedule,
    len: usize,
}

impl std::fmt::Debug for DesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DesKey({} bytes)", self.len)
    }
}

impl DesKey {
    /// An 8-, 16- or 24-byte key; any other length is `CKR_KEY_SIZE_RANGE`.
    pub fn new(key: &[u8]) -> Result<Self> {
        let k = ede_key(key)?;
        #[cfg(feature = "aws-lc")]
        let s = super::awslc_des::Tdes::new(&k)
            .ok_or_else(|| Error::device("aws-lc: DES key set-up failed"))?;
        #[cfg(not(feature = "aws-lc"))]
        let s = {
            use des::cipher::KeyInit;
            des::TdesEde3::new_from_slice(&*k).map_err(|_| Error::new(CKR_KEY_SIZE_RANGE))?
        };
        Ok(DesKey { s, len: key.len() })
    }

    fn block(&self, encrypt: bool, b: &mut [u8]) -> Result<()> {
        let b = <&mut [u8; BLOCK_LEN]>::try_from(b)
            .map_err(|_| Error::device("DES: a block of another length"))?;
        #[cfg(feature = "aws-lc")]
        {
            // The input is copied off so aws-lc writes to a distinct buffer; wiped on drop.
            let input = Zeroizing::new(*b);
            if !self.s.run(encrypt, None, &*input, b) {
                return Err(Error::device("aws-lc: DES failed"));
            }
        }
        #[cfg(not(feature = "aws-lc"))]
        {
            use des::cipher::{BlockCipherDecrypt, BlockCipherEncrypt};
            if encrypt {
                self.s.encrypt_block(b.into());
            } else {
                self.s.decrypt_block(b.into());
            }
        }
        Ok(())
    }
}

impl BlockKey for DesKey {
    const LEN: usize = BLOCK_LEN;
    const NAME: &'static str = "DES";

    fn from_bytes(key: &[u8]) -> Result<Self> {
        DesKey::new(key)
    }

    fn encrypt(&self, b: &mut [u8]) -> Result<()> {
        self.block(true, b)
    }

    fn decrypt(&self, b: &mut [u8]) -> Result<()> {
        self.block(false, b)
    }

    /// One aws-lc call for all the blocks.
    #[cfg(feature = "aws-lc")]
    fn ecb_into(&self, dir: Direction, input: &[u8], out: &mut [u8]) -> Result<()> {
        if self.s.run(dir == Direction::Encrypt, None, input, out) {
            Ok(())
        } else {
            Err(Error::device("aws-lc: DES-ECB failed"))
        }
    }

    /// One aws-lc call for all the blocks; the chaining value is the last ciphertext block.
    #[cfg(feature = "aws-lc")]
    fn cbc_into(
        &self,
        dir: Direction,
        chain: &mut [u8],
        input: &[u8],
        out: &mut [u8],
    ) -> Result<()> {
        let n = input.len().min(out.len());
        let n = n - n % BLOCK_LEN;
        let encrypt = dir == Direction::Encrypt;
        if !self.s.run(encrypt, Some(chain), input, out) {
            return Err(Error::device("aws-lc: DES-CBC failed"));
        }
        let last = if encrypt {
            out.get(..n)
        } else {
            input.get(..n)
        };
        if let Some(last) = last.and_then(|l| l.len().checked_sub(BLOCK_LEN).map(|s| &l[s..])) {
            for (c, l) in chain.iter_mut().zip(last) {
                *c = *l;
            }
        }
        Ok(())
    }
}

/// `CKA_CHECK_VALUE` of a DES key: the first three bytes of the encryption of a zero block.
pub fn check_value(key: &[u8]) -> Result<[u8; 3]> {
    let k = DesKey::new(key)?;
    let mut b = [0u8; BLOCK_LEN];
    k.encrypt(&mut b)?;
    Ok([b[0], b[1], b[2]])
}

/// Give every byte odd parity (its low bit), as the DES key generation mechanisms must.
pub fn set_odd_parity(key: &mut [u8]) {
    for b in key {
        *b = (*b & 0xfe) | u8::from((*b >> 1).count_ones() % 2 == 0);
    }
}

/// Streaming DES3-CMAC whose output is the first `mac_len` (1..=8) bytes: 8 for
/// `CKM_DES3_CMAC`, the parameter for `CKM_DES3_CMAC_GENERAL`. Takes DES2 and DES3 keys.
#[derive(Clone)]
pub struct DesCmac {
    state: cmac::Cmac<des::TdesEde3>,
    mac_len: usize,
}

impl std::fmt::Debug for DesCmac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DesCmac({})", self.mac_len)
    }
}

impl DesCmac {
    pub fn new(key: &[u8], mac_len: usize) -> Result<Self> {
        use cmac::KeyInit as _;
        if !(1..=BLOCK_LEN).contains(&mac_len) {
            return Err(Error::new(CKR_MECHANISM_PARAM_INVALID));
        }
        let k = ede_key(key)?;
        let state = cmac::Cmac::new_from_slice(&*k).map_err(|_| Error::new(CKR_KEY_SIZE_RANGE))?;
        Ok(DesCmac { state, mac_len })
    }

    pub fn mac_len(&self) -> usize {
        self.mac_len
    }

    pub fn update(&mut self, data: &[u8]) {
        use cmac::Mac as _;
        self.state.update(data)
    }

    pub fn finalize(self) -> Vec<u8> {
        use cmac::Mac as _;
        let full = self.state.finalize().into_bytes();
        full.get(..self.mac_len).unwrap_or(&full).to_vec()
    }

    /// Constant-time check: `CKR_SIGNATURE_LEN_RANGE` for a tag that is not `mac_len` bytes,
    /// `CKR_SIGNATURE_INVALID` for a wrong one.
    pub fn verify(self, tag: &[u8]) -> Result<()> {
        if tag.len() != self.mac_len {
            return Err(Error::new(CKR_SIGNATURE_LEN_RANGE));
        }
        if bool::from(self.finalize().ct_eq(tag)) {
            Ok(())
        } else {
            Err(Error::new(CKR_SIGNATURE_INVALID))
        }
    }
}

#[cfg(test)]
mod tests;
