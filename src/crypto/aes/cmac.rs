//! AES-CMAC (NIST SP 800-38B, RFC 4493) for `CKM_AES_CMAC` and `CKM_AES_CMAC_GENERAL`
//! (Current Mechanisms v3.0 §2.14), on the `cmac` crate.

use super::{err, Block, BLOCK_LEN};
use crate::error::{Error, Result};
use cryptoki_sys::{
    CKR_KEY_SIZE_RANGE, CKR_MECHANISM_PARAM_INVALID, CKR_SIGNATURE_INVALID, CKR_SIGNATURE_LEN_RANGE,
};
use subtle::ConstantTimeEq;

#[derive(Clone)]
enum CmacState {
    A128(cmac::Cmac<aes::Aes128>),
    A192(cmac::Cmac<aes::Aes192>),
    A256(cmac::Cmac<aes::Aes256>),
}

/// Streaming AES-CMAC whose output is the first `mac_len` (1..=16) bytes: 16 for
/// `CKM_AES_CMAC`, the parameter for `CKM_AES_CMAC_GENERAL`.
#[derive(Clone)]
pub struct AesCmac {
    state: CmacState,
    mac_len: usize,
}

impl std::fmt::Debug for AesCmac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AesCmac({})", self.mac_len)
    }
}

impl AesCmac {
    pub fn new(key: &[u8], mac_len: usize) -> Result<Self> {
        use cmac::KeyInit as _;
        if !(1..=BLOCK_LEN).contains(&mac_len) {
            return err(CKR_MECHANISM_PARAM_INVALID);
        }
        let bad = |_| Error::new(CKR_KEY_SIZE_RANGE);
        let state = match key.len() {
            16 => CmacState::A128(cmac::Cmac::new_from_slice(key).map_err(bad)?),
            24 => CmacState::A192(cmac::Cmac::new_from_slice(key).map_err(bad)?),
            32 => CmacState::A256(cmac::Cmac::new_from_slice(key).map_err(bad)?),
            _ => return err(CKR_KEY_SIZE_RANGE),
        };
        Ok(AesCmac { state, mac_len })
    }

    pub fn mac_len(&self) -> usize {
        self.mac_len
    }

    pub fn update(&mut self, data: &[u8]) {
        use cmac::Mac as _;
        match &mut self.state {
            CmacState::A128(m) => m.update(data),
            CmacState::A192(m) => m.update(data),
            CmacState::A256(m) => m.update(data),
        }
    }

    pub fn finalize(self) -> Vec<u8> {
        use cmac::Mac as _;
        let full: Block = match self.state {
            CmacState::A128(m) => m.finalize().into_bytes().into(),
            CmacState::A192(m) => m.finalize().into_bytes().into(),
            CmacState::A256(m) => m.finalize().into_bytes().into(),
        };
        full.get(..self.mac_len).unwrap_or(&full).to_vec()
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

/// One-shot full-length AES-CMAC.
pub fn cmac(key: &[u8], data: &[u8]) -> Result<Vec<u8>> {
    let mut m = AesCmac::new(key, BLOCK_LEN)?;
    m.update(data);
    Ok(m.finalize())
}
