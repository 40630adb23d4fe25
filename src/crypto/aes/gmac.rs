//! AES-GMAC for `CKM_AES_GMAC` (Current Mechanisms v3.0 §2.10; NIST SP 800-38D §3, GCM with
//! no plaintext): the data signed is GCM's additional authenticated data, the signature its
//! tag. Runs on the key's prepared [`GcmKey`], so both builds use their GCM engine.

use super::{err, Direction, Gcm, GcmKey};
use crate::error::Result;
use cryptoki_sys::{CKR_SIGNATURE_INVALID, CKR_SIGNATURE_LEN_RANGE};
use std::sync::Arc;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A GMAC over the data fed so far (kept until the end: GCM takes its AAD up front).
pub struct Gmac {
    key: Arc<GcmKey>,
    iv: Vec<u8>,
    tag_len: usize,
    data: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Gmac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Gmac({})", self.tag_len)
    }
}

impl Gmac {
    /// The IV and tag length are checked as GCM checks them (`CKR_MECHANISM_PARAM_INVALID`).
    pub fn new(key: Arc<GcmKey>, iv: &[u8], tag_len: usize) -> Result<Self> {
        Gcm::with_key(key.clone(), Direction::Encrypt, iv, &[], tag_len)?;
        Ok(Gmac {
            key,
            iv: iv.to_vec(),
            tag_len,
            data: Zeroizing::new(Vec::new()),
        })
    }

    pub fn mac_len(&self) -> usize {
        self.tag_len
    }

    pub fn update(&mut self, data: &[u8]) {
        self.data.extend_from_slice(data);
    }

    pub fn finalize(self) -> Result<Zeroizing<Vec<u8>>> {
        let mut g = Gcm::with_key(
            self.key,
            Direction::Encrypt,
            &self.iv,
            &self.data,
            self.tag_len,
        )?;
        g.finish()
    }

    /// Constant-time check: `CKR_SIGNATURE_LEN_RANGE` for a tag that is not `mac_len` bytes,
    /// `CKR_SIGNATURE_INVALID` for a wrong one.
    pub fn verify(self, tag: &[u8]) -> Result<()> {
        if tag.len() != self.tag_len {
            return err(CKR_SIGNATURE_LEN_RANGE);
        }
        if bool::from(self.finalize()?.ct_eq(tag)) {
            Ok(())
        } else {
            err(CKR_SIGNATURE_INVALID)
        }
    }
}

/// One-shot GMAC (tests and helpers).
pub fn gmac(key: &[u8], iv: &[u8], tag_len: usize, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let mut m = Gmac::new(Arc::new(GcmKey::new(key)?), iv, tag_len)?;
    m.update(data);
    m.finalize()
}
