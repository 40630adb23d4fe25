//! Random number generation (PKCS#11 v3.0 §5.15), from the operating system's generator.
#![allow(non_snake_case)]

use super::args;
use super::guard;
use crate::error::fail;
use cryptoki_sys::*;

/// # Safety
/// `pSeed` valid for `ulSeedLen` bytes.
#[no_mangle]
pub unsafe extern "C" fn C_SeedRandom(
    hSession: CK_SESSION_HANDLE,
    pSeed: *mut CK_BYTE,
    ulSeedLen: CK_ULONG,
) -> CK_RV {
    guard::run(
        format_args!("C_SeedRandom(hSession={hSession}, len={ulSeedLen})"),
        |m| {
            m.check_session(hSession)?;
            // SAFETY: forwarded caller guarantee.
            unsafe { args::bytes(pSeed, ulSeedLen) }?;
            // The kernel's generator cannot be seeded by a caller, and mixing caller bytes into a
            // private generator would add nothing: refuse, as the specification allows.
            fail(CKR_RANDOM_SEED_NOT_SUPPORTED)
        },
    )
}

/// # Safety
/// `RandomData` valid for `ulRandomLen` bytes of writes.
#[no_mangle]
pub unsafe extern "C" fn C_GenerateRandom(
    hSession: CK_SESSION_HANDLE,
    RandomData: *mut CK_BYTE,
    ulRandomLen: CK_ULONG,
) -> CK_RV {
    guard::run(
        format_args!("C_GenerateRandom(hSession={hSession}, len={ulRandomLen})"),
        |m| {
            m.check_session(hSession)?;
            if ulRandomLen == 0 {
                return Ok(());
            }
            if RandomData.is_null() {
                return fail(CKR_ARGUMENTS_BAD);
            }
            let len = usize::try_from(ulRandomLen)
                .map_err(|_| crate::error::Error::new(CKR_ARGUMENTS_BAD))?;
            // SAFETY: non-NULL and valid for `len` bytes of writes per the caller.
            let out = unsafe { std::slice::from_raw_parts_mut(RandomData, len) };
            crate::crypto::random_fill(out)
        },
    )
}
