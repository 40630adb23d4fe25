//! Message digesting functions (PKCS#11 v3.0 §5.10).
#![allow(non_snake_case)]

use super::{args, guard, mech};
use cryptoki_sys::*;

/// # Safety
/// `pMechanism` is a valid `CK_MECHANISM`.
#[no_mangle]
pub unsafe extern "C" fn C_DigestInit(
    hSession: CK_SESSION_HANDLE,
    pMechanism: *mut CK_MECHANISM,
) -> CK_RV {
    guard::run(format_args!("C_DigestInit(hSession={hSession})"), |m| {
        m.check_session(hSession)?;
        // SAFETY: forwarded caller guarantee.
        let mech = unsafe { mech::mechanism(pMechanism) }?;
        // SAFETY: non-NULL (checked by `mechanism`) and valid per the caller.
        let ty = unsafe { (*pMechanism).mechanism };
        m.digest_init(hSession, ty, &mech)
    })
}

/// # Safety
/// `pData` valid for `ulDataLen` bytes; output per the size-query convention.
#[no_mangle]
pub unsafe extern "C" fn C_Digest(
    hSession: CK_SESSION_HANDLE,
    pData: *mut CK_BYTE,
    ulDataLen: CK_ULONG,
    pDigest: *mut CK_BYTE,
    pulDigestLen: *mut CK_ULONG,
) -> CK_RV {
    guard::run(
        format_args!("C_Digest(hSession={hSession}, len={ulDataLen})"),
        |m| {
            // SAFETY: forwarded caller guarantee.
            let data = unsafe { args::bytes(pData, ulDataLen) }?;
            // SAFETY: forwarded caller guarantee.
            let cap = unsafe { args::capacity(pDigest, pulDigestLen) }?;
            let out = m.digest(hSession, data, cap)?;
            // SAFETY: forwarded caller guarantee.
            unsafe { args::deliver(pDigest, pulDigestLen, out) }
        },
    )
}

/// # Safety
/// `pPart` valid for `ulPartLen` bytes.
#[no_mangle]
pub unsafe extern "C" fn C_DigestUpdate(
    hSession: CK_SESSION_HANDLE,
    pPart: *mut CK_BYTE,
    ulPartLen: CK_ULONG,
) -> CK_RV {
    guard::run(
        format_args!("C_DigestUpdate(hSession={hSession}, len={ulPartLen})"),
        |m| {
            // SAFETY: forwarded caller guarantee.
            let data = unsafe { args::bytes(pPart, ulPartLen) }?;
            m.digest_update(hSession, data)
        },
    )
}

#[no_mangle]
pub extern "C" fn C_DigestKey(hSession: CK_SESSION_HANDLE, hKey: CK_OBJECT_HANDLE) -> CK_RV {
    guard::run_secret(
        format_args!("C_DigestKey(hSession={hSession}, hKey={hKey})"),
        |m| m.digest_key(hSession, hKey),
    )
}

/// # Safety
/// Output per the size-query convention.
#[no_mangle]
pub unsafe extern "C" fn C_DigestFinal(
    hSession: CK_SESSION_HANDLE,
    pDigest: *mut CK_BYTE,
    pulDigestLen: *mut CK_ULONG,
) -> CK_RV {
    guard::run(format_args!("C_DigestFinal(hSession={hSession})"), |m| {
        // SAFETY: forwarded caller guarantee.
        let cap = unsafe { args::capacity(pDigest, pulDigestLen) }?;
        let out = m.digest_final(hSession, cap)?;
        // SAFETY: forwarded caller guarantee.
        unsafe { args::deliver(pDigest, pulDigestLen, out) }
    })
}
