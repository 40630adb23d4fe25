//! AES and its modes: ECB, CBC, CBC with PKCS#7 padding, CTR with a PKCS#11 counter width,
//! CBC ciphertext stealing (CS1), GCM, CCM, key wrap (RFC 3394, RFC 5649) and CMAC.
//! Serves `CKM_AES_ECB`, `CKM_AES_CBC`, `CKM_AES_CBC_PAD`, `CKM_AES_CTR`, `CKM_AES_CTS`,
//! `CKM_AES_GCM`, `CKM_AES_CCM`, `CKM_AES_KEY_WRAP`, `CKM_AES_KEY_WRAP_KWP`, `CKM_AES_CMAC`,
//! `CKM_AES_CMAC_GENERAL`, `CKM_AES_ECB_ENCRYPT_DATA` and `CKM_AES_CBC_ENCRYPT_DATA`
//! (Current Mechanisms v3.0 §2.10 AES, §2.11 AES with Counter, §2.12 AES CBC with Cipher Text
//! Stealing, §2.13 Additional AES Mechanisms, §2.14 AES CMAC, §2.16 AES Key Wrap, §2.17 Key
//! derivation by data encryption).
//!
//! One file per job: `key.rs` the expanded key ([`AesKey`], shareable through an `Arc`),
//! `modes.rs` the streaming ECB/CBC/CBC-PAD/CTR/CTS cipher, `gcm.rs` GCM and its prepared key
//! ([`GcmKey`]), `ccm.rs`, `kw.rs` (key wrap) and `cmac.rs`; `ofb_cfb.rs` (OFB, CFB8/64/128),
//! `xts.rs` (XTS and its two-half key) and `cbcmac.rs` (`CKM_AES_MAC`, `CKM_AES_MAC_GENERAL`).
//! `gmac.rs` is GCM with no text (`CKM_AES_GMAC`).
//!
//! GCM, CCM, CTR and CTS are built here on the `aes` block cipher (GHASH from `ghash`): PKCS#11
//! lets the caller choose GCM IVs of any length (1-256 bytes here) and tags of 4-16 bytes, CCM
//! nonce and tag sizes per call, and the CTR counter width, which the mode crates only offer as
//! compile-time types. CTS is the CS1 variant (see [`Mode::Cts`]).

mod ccm;
mod cmac;
mod gcm;
mod key;
mod kw;
mod modes;
// OFB/CFB, XTS and CBC-MAC (issue 12): one implementation over `AesKey` for both builds.
mod cbcmac;
mod gmac;
mod ofb_cfb;
mod xts;

pub use cbcmac::AesCbcMac;
pub use ccm::{ccm_decrypt, ccm_encrypt};
pub use cmac::{cmac, AesCmac};
pub use gcm::{gcm_decrypt, gcm_encrypt, Gcm, GcmKey, GCM_MAX_IV, GCM_MIN_TAG};
pub use gmac::{gmac, Gmac};
pub use key::AesKey;
pub use kw::{kw_unwrap, kw_wrap, kwp_unwrap, kwp_wrap, KWP_DEFAULT_IV, KW_DEFAULT_IV};
pub use modes::{cbc_encrypt, cts_decrypt, cts_encrypt, ecb_encrypt, AesCipher, BlockStream, Mode};
pub use ofb_cfb::{stream_crypt, Feedback, StreamMode};
pub use xts::{xts_crypt, Xts, XtsKey};

use crate::error::{Error, Result};
use cryptoki_sys::{CKR_DATA_LEN_RANGE, CKR_ENCRYPTED_DATA_LEN_RANGE};

pub const BLOCK_LEN: usize = 16;
pub type Block = [u8; BLOCK_LEN];

fn err<T>(rv: cryptoki_sys::CK_RV) -> Result<T> {
    Err(Error::new(rv))
}

/// The first 16 bytes of `s`, zero-padded: total on any input, so no slice can panic.
fn to_block(s: &[u8]) -> Block {
    let mut b = [0u8; BLOCK_LEN];
    for (d, x) in b.iter_mut().zip(s) {
        *d = *x;
    }
    b
}

fn xor_into(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d ^= *s;
    }
}

/// `CKA_CHECK_VALUE` of an AES key: the first three bytes of the encryption of a zero block.
pub fn check_value(key: &[u8]) -> Result<[u8; 3]> {
    let k = AesKey::new(key)?;
    let mut b = [0u8; BLOCK_LEN];
    k.encrypt_block(&mut b);
    Ok([b[0], b[1], b[2]])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Encrypt,
    Decrypt,
}

impl Direction {
    /// The length error PKCS#11 reports for this direction.
    fn len_error(self) -> Error {
        Error::new(match self {
            Direction::Encrypt => CKR_DATA_LEN_RANGE,
            Direction::Decrypt => CKR_ENCRYPTED_DATA_LEN_RANGE,
        })
    }
}

#[cfg(test)]
mod tests;
