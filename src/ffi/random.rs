//! Random number generation (PKCS#11 v3.0 §5.15): see `crypto::random_fill_seeded` for the
//! generator and how a caller's seed is mixed in.
#![allow(non_snake_case)]

use super::args;
use super::guard;
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
            let seed = unsafe { args::bytes(pSeed, ulSeedLen) }?;
            // Additional input, as clients expect; the system generator stays the source.
            crate::crypto::add_seed(seed);
            Ok(())
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
            // SAFETY: forwarded caller guarantee.
            let out = unsafe { args::bytes_mut(RandomData, ulRandomLen) }?;
            crate::crypto::random_fill_seeded(out)
        },
    )
}
