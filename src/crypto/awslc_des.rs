//! The aws-lc backend's Triple DES (`EVP_des_ede3`, `EVP_des_ede3_cbc`) behind
//! [`super::des::DesKey`] in the default build, in the style of `awslc.rs` (safe wrappers, one
//! `SAFETY` note per call): `aws-lc-sys` binds the EVP interface but not aws-lc's `DES_*`
//! block calls. Like [`super::awslc::GcmKey`], a key is a pair of cipher contexts set up once
//! (key schedule inside aws-lc, cleared when freed) and copied per call, so one key serves
//! every operation and thread. The second file of `src/crypto` with `unsafe` code, beside
//! `awslc.rs`, which had reached the size limit.
#![allow(unsafe_code)]

use super::awslc::{non_null, ok, setup};
use aws_lc_sys as sys;
use std::ffi::c_int;
use std::ptr::{self, NonNull};

/// The key contexts of an EDE triple K1 || K2 || K3, in ECB and in CBC, never used directly.
pub struct Tdes {
    ecb: Owned,
    cbc: Owned,
}

// SAFETY: after `new` the contexts are only read: `run` copies them (EVP_CIPHER_CTX_copy takes
// its source as `const`; DES has no copy hook, the key schedule is copied as bytes), so any
// number of threads may copy at once; they are freed only by `Drop`, when no one else holds
// them.
unsafe impl Send for Tdes {}
// SAFETY: see the `Send` impl above.
unsafe impl Sync for Tdes {}

/// A cipher context this code owns, freed (which clears its key schedule) when dropped.
struct Owned(NonNull<sys::EVP_CIPHER_CTX>);

impl Drop for Owned {
    fn drop(&mut self) {
        // SAFETY: we own the context and nothing else refers to it any more.
        unsafe { sys::EVP_CIPHER_CTX_free(self.0.as_ptr()) }
    }
}

/// aws-lc's cipher calls take `int` lengths: larger inputs go in pieces of this size (a
/// multiple of the block).
const CHUNK: usize = 1 << 30;

fn key_context(cipher: *const sys::EVP_CIPHER, key: &[u8; 24]) -> Option<Owned> {
    // SAFETY: EVP_CIPHER_CTX_new has no preconditions; the result is owned by `c`.
    let c = Owned(non_null(unsafe { sys::EVP_CIPHER_CTX_new() })?);
    // SAFETY: `cipher` is a static description whose key is 24 bytes, as `key` is; no IV.
    unsafe {
        ok(sys::EVP_CipherInit_ex(
            c.0.as_ptr(),
            cipher,
            ptr::null_mut(),
            key.as_ptr(),
            ptr::null(),
            1,
        ))?;
    }
    Some(c)
}

impl Tdes {
    /// The contexts of K1 || K2 || K3; parity bits are ignored.
    pub fn new(key: &[u8; 24]) -> Option<Tdes> {
        setup();
        // SAFETY: these return static cipher descriptions.
        let (ecb, cbc) = unsafe { (sys::EVP_des_ede3(), sys::EVP_des_ede3_cbc()) };
        Some(Tdes {
            ecb: key_context(ecb, key)?,
            cbc: key_context(cbc, key)?,
        })
    }

    /// The whole blocks of `input` into `out` (as many as both hold) in ECB, or in CBC from
    /// `iv` (8 bytes) when given; the caller keeps the chaining value. `false` if aws-lc
    /// failed (nothing then counts as written).
    pub fn run(&self, encrypt: bool, iv: Option<&[u8]>, input: &[u8], out: &mut [u8]) -> bool {
        self.try_run(encrypt, iv, input, out).is_some()
    }

    fn try_run(
        &self,
        encrypt: bool,
        iv: Option<&[u8]>,
        input: &[u8],
        out: &mut [u8],
    ) -> Option<()> {
        let n = input.len().min(out.len());
        let n = n - n % 8;
        let iv = match iv {
            Some(iv) => Some(<&[u8; 8]>::try_from(iv).ok()?),
            None => None,
        };
        let template = if iv.is_some() { &self.cbc } else { &self.ecb };
        // SAFETY: EVP_CIPHER_CTX_new has no preconditions; the result is owned by `c`.
        let c = Owned(non_null(unsafe { sys::EVP_CIPHER_CTX_new() })?);
        // SAFETY: the copy only reads the shared key context (see the `Sync` impl) and fills
        // our fresh one; then the direction and the IV (8 live bytes, or none for ECB) are set
        // on our copy alone, with the key already there, and padding is turned off so that
        // decryption releases every block.
        unsafe {
            ok(sys::EVP_CIPHER_CTX_copy(c.0.as_ptr(), template.0.as_ptr()))?;
            ok(sys::EVP_CipherInit_ex(
                c.0.as_ptr(),
                ptr::null(),
                ptr::null_mut(),
                ptr::null(),
                iv.map_or(ptr::null(), |v| v.as_ptr()),
                c_int::from(encrypt),
            ))?;
            ok(sys::EVP_CIPHER_CTX_set_padding(c.0.as_ptr(), 0))?;
        }
        let (Some(input), Some(out)) = (input.get(..n), out.get_mut(..n)) else {
            return None;
        };
        for (i, o) in input.chunks(CHUNK).zip(out.chunks_mut(CHUNK)) {
            let len = c_int::try_from(i.len()).ok()?;
            let mut written: c_int = 0;
            // SAFETY: `i` and `o` are distinct live slices of `len` bytes (a multiple of the
            // block, so with padding off the call writes exactly `len` bytes into `o`).
            unsafe {
                ok(sys::EVP_CipherUpdate(
                    c.0.as_ptr(),
                    o.as_mut_ptr(),
                    &mut written,
                    i.as_ptr(),
                    len,
                ))?;
            }
            if written != len {
                return None;
            }
        }
        Some(())
    }
}
