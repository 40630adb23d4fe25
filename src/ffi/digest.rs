//! Message digesting functions (PKCS#11 v3.0 §5.10).
#![allow(non_snake_case)]

use super::guard;
use super::op::{self, Io};
use crate::module::op::Digest;
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
        let (ty, mech) = unsafe { op::mechanism(pMechanism) }?;
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
        // SAFETY: forwarded caller guarantee.
        |m| unsafe {
            op::single::<Digest>(
                m,
                hSession,
                pData,
                ulDataLen,
                Io::Output(pDigest, pulDigestLen),
            )
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
        // SAFETY: forwarded caller guarantee.
        |m| unsafe { op::update::<Digest>(m, hSession, pPart, ulPartLen, Io::Nothing) },
    )
}

#[no_mangle]
pub extern "C" fn C_DigestKey(hSession: CK_SESSION_HANDLE, hKey: CK_OBJECT_HANDLE) -> CK_RV {
    guard::run_keyed(
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
    guard::run(
        format_args!("C_DigestFinal(hSession={hSession})"),
        // SAFETY: forwarded caller guarantee.
        |m| unsafe { op::finish::<Digest>(m, hSession, Io::Output(pDigest, pulDigestLen)) },
    )
}
