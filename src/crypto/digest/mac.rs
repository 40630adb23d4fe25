//! HMAC (RFC 2104) over every hash of the engine, full-length and truncated: the `CKM_*_HMAC`
//! and `CKM_*_HMAC_GENERAL` mechanisms (Current Mechanisms v3.0 §2.9 and the SHA sections).

use super::*;
use hmac::{Hmac as BlockHmac, KeyInit, Mac, SimpleHmac};

// SHA-3 is a sponge without the block-level core `Hmac` needs; `SimpleHmac` computes the same
// RFC 2104 function over the plain digest.
#[derive(Clone)]
enum MacState {
    Sha1(BlockHmac<sha1::Sha1>),
    Sha224(BlockHmac<sha2::Sha224>),
    Sha256(BlockHmac<sha2::Sha256>),
    Sha384(BlockHmac<sha2::Sha384>),
    Sha512(BlockHmac<sha2::Sha512>),
    Sha3_224(SimpleHmac<sha3::Sha3_224>),
    Sha3_256(SimpleHmac<sha3::Sha3_256>),
    Sha3_384(SimpleHmac<sha3::Sha3_384>),
    Sha3_512(SimpleHmac<sha3::Sha3_512>),
    Md5(BlockHmac<md5::Md5>),
}

macro_rules! each_mac {
    ($s:expr, $v:ident => $body:expr) => {
        match $s {
            MacState::Sha1($v) => $body,
            MacState::Sha224($v) => $body,
            MacState::Sha256($v) => $body,
            MacState::Sha384($v) => $body,
            MacState::Sha512($v) => $body,
            MacState::Sha3_224($v) => $body,
            MacState::Sha3_256($v) => $body,
            MacState::Sha3_384($v) => $body,
            MacState::Sha3_512($v) => $body,
            MacState::Md5($v) => $body,
        }
    };
}

/// Streaming HMAC (RFC 2104) with a key of any length and an output truncated to `mac_len`
/// bytes (`CKM_*_HMAC_GENERAL`); `mac_len` equals the hash length for `CKM_*_HMAC`.
#[derive(Clone)]
pub struct Hmac {
    alg: HashAlg,
    mac_len: usize,
    state: MacState,
}

impl std::fmt::Debug for Hmac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hmac({:?}, {})", self.alg, self.mac_len)
    }
}

impl Hmac {
    /// Full-length HMAC.
    pub fn new(alg: HashAlg, key: &[u8]) -> Result<Self> {
        Self::new_truncated(alg, key, alg.output_len())
    }

    /// HMAC whose output is the first `mac_len` bytes (1..=hash length, else
    /// `CKR_MECHANISM_PARAM_INVALID`).
    pub fn new_truncated(alg: HashAlg, key: &[u8], mac_len: usize) -> Result<Self> {
        if mac_len == 0 || mac_len > alg.output_len() {
            return Err(Error::new(CKR_MECHANISM_PARAM_INVALID));
        }
        // Keys of any length are valid for HMAC; the error arm is unreachable but must not panic.
        let bad = |_| Error::new(CKR_MECHANISM_PARAM_INVALID);
        let state = match alg {
            HashAlg::Sha1 => MacState::Sha1(KeyInit::new_from_slice(key).map_err(bad)?),
            HashAlg::Sha224 => MacState::Sha224(KeyInit::new_from_slice(key).map_err(bad)?),
            HashAlg::Sha256 => MacState::Sha256(KeyInit::new_from_slice(key).map_err(bad)?),
            HashAlg::Sha384 => MacState::Sha384(KeyInit::new_from_slice(key).map_err(bad)?),
            HashAlg::Sha512 => MacState::Sha512(KeyInit::new_from_slice(key).map_err(bad)?),
            HashAlg::Sha3_224 => MacState::Sha3_224(KeyInit::new_from_slice(key).map_err(bad)?),
            HashAlg::Sha3_256 => MacState::Sha3_256(KeyInit::new_from_slice(key).map_err(bad)?),
            HashAlg::Sha3_384 => MacState::Sha3_384(KeyInit::new_from_slice(key).map_err(bad)?),
            HashAlg::Sha3_512 => MacState::Sha3_512(KeyInit::new_from_slice(key).map_err(bad)?),
            HashAlg::Md5 => MacState::Md5(KeyInit::new_from_slice(key).map_err(bad)?),
        };
        Ok(Hmac {
            alg,
            mac_len,
            state,
        })
    }

    pub fn alg(&self) -> HashAlg {
        self.alg
    }

    /// Output length in bytes.
    pub fn mac_len(&self) -> usize {
        self.mac_len
    }

    pub fn update(&mut self, data: &[u8]) {
        each_mac!(&mut self.state, m => Mac::update(m, data))
    }

    /// The tag (kept in wiped memory: HKDF and PBKDF2 outputs are key material).
    pub fn finalize(self) -> Zeroizing<Vec<u8>> {
        let full = each_mac!(self.state, m => Zeroizing::new(m.finalize().into_bytes().to_vec()));
        Zeroizing::new(full.get(..self.mac_len).unwrap_or(&full).to_vec())
    }

    /// Compare in constant time: `CKR_SIGNATURE_LEN_RANGE` when `tag` is not `mac_len` bytes,
    /// `CKR_SIGNATURE_INVALID` when it differs.
    pub fn verify(self, tag: &[u8]) -> Result<()> {
        if tag.len() != self.mac_len {
            return Err(Error::new(CKR_SIGNATURE_LEN_RANGE));
        }
        let mine = self.finalize();
        if bool::from(mine.as_slice().ct_eq(tag)) {
            Ok(())
        } else {
            Err(Error::new(CKR_SIGNATURE_INVALID))
        }
    }
}

/// One-shot full-length HMAC over the concatenation of `parts`.
pub fn hmac(alg: HashAlg, key: &[u8], parts: &[&[u8]]) -> Result<Zeroizing<Vec<u8>>> {
    let mut m = Hmac::new(alg, key)?;
    for p in parts {
        m.update(p);
    }
    Ok(m.finalize())
}
