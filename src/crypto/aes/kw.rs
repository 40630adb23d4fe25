//! AES key wrap: RFC 3394 / SP 800-38F KW and RFC 5649 / KWP, for `CKM_AES_KEY_WRAP` and
//! `CKM_AES_KEY_WRAP_KWP` (Current Mechanisms v3.0 §2.16), on the `aes-kw` crate.

use super::err;
use crate::error::{Error, Result};
use aes::cipher::KeyInit;
use cryptoki_sys::{
    CKR_DATA_LEN_RANGE, CKR_KEY_SIZE_RANGE, CKR_MECHANISM_PARAM_INVALID, CKR_WRAPPED_KEY_INVALID,
    CKR_WRAPPED_KEY_LEN_RANGE,
};
use zeroize::Zeroizing;

/// RFC 3394 §2.2.3.1 default IV; the only one `aes-kw` implements.
pub const KW_DEFAULT_IV: [u8; 8] = [0xa6; 8];
/// RFC 5649 §3 alternative IV prefix; the only one `aes-kw` implements.
pub const KWP_DEFAULT_IV: [u8; 4] = [0xa6, 0x59, 0x59, 0xa6];

fn check_iv(iv: Option<&[u8]>, default: &[u8]) -> Result<()> {
    match iv {
        Some(v) if v != default => err(CKR_MECHANISM_PARAM_INVALID),
        _ => Ok(()),
    }
}

macro_rules! with_kw {
    ($key:expr, $ty128:ty, $ty192:ty, $ty256:ty, $k:ident => $body:expr) => {{
        let key: &[u8] = $key;
        let bad = |_| Error::new(CKR_KEY_SIZE_RANGE);
        match key.len() {
            16 => {
                let $k = <$ty128>::new_from_slice(key).map_err(bad)?;
                $body
            }
            24 => {
                let $k = <$ty192>::new_from_slice(key).map_err(bad)?;
                $body
            }
            32 => {
                let $k = <$ty256>::new_from_slice(key).map_err(bad)?;
                $body
            }
            _ => return err(CKR_KEY_SIZE_RANGE),
        }
    }};
}

/// RFC 3394 wrap: `data` a multiple of 8 bytes, at least 16 (else `CKR_DATA_LEN_RANGE`).
/// `iv` may only be the default (else `CKR_MECHANISM_PARAM_INVALID`).
pub fn kw_wrap(key: &[u8], iv: Option<&[u8]>, data: &[u8]) -> Result<Vec<u8>> {
    check_iv(iv, &KW_DEFAULT_IV)?;
    if data.len() < 16 || data.len() % 8 != 0 {
        return err(CKR_DATA_LEN_RANGE);
    }
    let mut out = vec![0u8; data.len() + 8];
    with_kw!(key, aes_kw::KwAes128, aes_kw::KwAes192, aes_kw::KwAes256, k => {
        k.wrap_key(data, &mut out).map_err(|_| Error::new(CKR_DATA_LEN_RANGE))?;
    });
    Ok(out)
}

/// RFC 3394 unwrap: `CKR_WRAPPED_KEY_LEN_RANGE` for a bad length, `CKR_WRAPPED_KEY_INVALID`
/// when the integrity check fails.
pub fn kw_unwrap(key: &[u8], iv: Option<&[u8]>, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    check_iv(iv, &KW_DEFAULT_IV)?;
    if wrapped.len() < 24 || wrapped.len() % 8 != 0 {
        return err(CKR_WRAPPED_KEY_LEN_RANGE);
    }
    let mut out = Zeroizing::new(vec![0u8; wrapped.len() - 8]);
    with_kw!(key, aes_kw::KwAes128, aes_kw::KwAes192, aes_kw::KwAes256, k => {
        k.unwrap_key(wrapped, &mut out).map_err(|_| Error::new(CKR_WRAPPED_KEY_INVALID))?;
    });
    Ok(out)
}

/// Largest input of RFC 5649: the length field is 32 bits.
const KWP_MAX: usize = u32::MAX as usize;

/// RFC 5649 wrap of 1..=2^32-1 bytes.
pub fn kwp_wrap(key: &[u8], iv: Option<&[u8]>, data: &[u8]) -> Result<Vec<u8>> {
    check_iv(iv, &KWP_DEFAULT_IV)?;
    if data.is_empty() || data.len() > KWP_MAX {
        return err(CKR_DATA_LEN_RANGE);
    }
    let mut out = vec![0u8; data.len().div_ceil(8) * 8 + 8];
    let n = with_kw!(key, aes_kw::KwpAes128, aes_kw::KwpAes192, aes_kw::KwpAes256, k => {
        k.wrap_key(data, &mut out).map_err(|_| Error::new(CKR_DATA_LEN_RANGE))?.len()
    });
    out.truncate(n);
    Ok(out)
}

/// RFC 5649 unwrap; errors as [`kw_unwrap`].
pub fn kwp_unwrap(key: &[u8], iv: Option<&[u8]>, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    check_iv(iv, &KWP_DEFAULT_IV)?;
    if wrapped.len() < 16 || wrapped.len() % 8 != 0 || wrapped.len() > KWP_MAX {
        return err(CKR_WRAPPED_KEY_LEN_RANGE);
    }
    let mut out = Zeroizing::new(vec![0u8; wrapped.len() - 8]);
    let n = with_kw!(key, aes_kw::KwpAes128, aes_kw::KwpAes192, aes_kw::KwpAes256, k => {
        k.unwrap_key(wrapped, &mut out).map_err(|_| Error::new(CKR_WRAPPED_KEY_INVALID))?.len()
    });
    out.truncate(n);
    Ok(out)
}
