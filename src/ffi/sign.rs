//! Signing, MACing and verification functions (PKCS#11 v3.0 §5.11, §5.12).
#![allow(non_snake_case)]

use super::guard;
use super::op::{self, Io};
use crate::module::op::{Sign, SignRecover, Verify, VerifyRecover};
use cryptoki_sys::*;

/// # Safety
/// `pMechanism` is a valid `CK_MECHANISM`.
#[no_mangle]
pub unsafe extern "C" fn C_SignInit(
    hSession: CK_SESSION_HANDLE,
    pMechanism: *mut CK_MECHANISM,
    hKey: CK_OBJECT_HANDLE,
) -> CK_RV {
    guard::run_keyed(
        format_args!("C_SignInit(hSession={hSession}, hKey={hKey})"),
        // SAFETY: forwarded caller guarantee.
        |m| unsafe { op::init::<Sign>(m, hSession, pMechanism, hKey) },
    )
}

/// # Safety
/// `pData` valid for `ulDataLen` bytes; output per the size-query convention.
#[no_mangle]
pub unsafe extern "C" fn C_Sign(
    hSession: CK_SESSION_HANDLE,
    pData: *mut CK_BYTE,
    ulDataLen: CK_ULONG,
    pSignature: *mut CK_BYTE,
    pulSignatureLen: *mut CK_ULONG,
) -> CK_RV {
    guard::run_keyed(
        format_args!("C_Sign(hSession={hSession}, len={ulDataLen})"),
        // SAFETY: forwarded caller guarantee.
        |m| unsafe {
            let out = Io::Output(pSignature, pulSignatureLen);
            op::single::<Sign>(m, hSession, pData, ulDataLen, out)
        },
    )
}

/// # Safety
/// `pPart` valid for `ulPartLen` bytes.
#[no_mangle]
pub unsafe extern "C" fn C_SignUpdate(
    hSession: CK_SESSION_HANDLE,
    pPart: *mut CK_BYTE,
    ulPartLen: CK_ULONG,
) -> CK_RV {
    guard::run_keyed(
        format_args!("C_SignUpdate(hSession={hSession}, len={ulPartLen})"),
        // SAFETY: forwarded caller guarantee.
        |m| unsafe { op::update::<Sign>(m, hSession, pPart, ulPartLen, Io::Nothing) },
    )
}

/// # Safety
/// Output per the size-query convention.
#[no_mangle]
pub unsafe extern "C" fn C_SignFinal(
    hSession: CK_SESSION_HANDLE,
    pSignature: *mut CK_BYTE,
    pulSignatureLen: *mut CK_ULONG,
) -> CK_RV {
    guard::run_keyed(
        format_args!("C_SignFinal(hSession={hSession})"),
        // SAFETY: forwarded caller guarantee.
        |m| unsafe { op::finish::<Sign>(m, hSession, Io::Output(pSignature, pulSignatureLen)) },
    )
}

/// # Safety
/// `pMechanism` is a valid `CK_MECHANISM`.
#[no_mangle]
pub unsafe extern "C" fn C_VerifyInit(
    hSession: CK_SESSION_HANDLE,
    pMechanism: *mut CK_MECHANISM,
    hKey: CK_OBJECT_HANDLE,
) -> CK_RV {
    guard::run(
        format_args!("C_VerifyInit(hSession={hSession}, hKey={hKey})"),
        // SAFETY: forwarded caller guarantee.
        |m| unsafe { op::init::<Verify>(m, hSession, pMechanism, hKey) },
    )
}

/// # Safety
/// `pData` and `pSignature` valid for their lengths.
#[no_mangle]
pub unsafe extern "C" fn C_Verify(
    hSession: CK_SESSION_HANDLE,
    pData: *mut CK_BYTE,
    ulDataLen: CK_ULONG,
    pSignature: *mut CK_BYTE,
    ulSignatureLen: CK_ULONG,
) -> CK_RV {
    guard::run_keyed(
        format_args!("C_Verify(hSession={hSession}, len={ulDataLen}, sigLen={ulSignatureLen})"),
        // SAFETY: forwarded caller guarantee.
        |m| unsafe {
            let sig = Io::Signature(pSignature, ulSignatureLen);
            op::single::<Verify>(m, hSession, pData, ulDataLen, sig)
        },
    )
}

/// # Safety
/// `pPart` valid for `ulPartLen` bytes.
#[no_mangle]
pub unsafe extern "C" fn C_VerifyUpdate(
    hSession: CK_SESSION_HANDLE,
    pPart: *mut CK_BYTE,
    ulPartLen: CK_ULONG,
) -> CK_RV {
    guard::run_keyed(
        format_args!("C_VerifyUpdate(hSession={hSession}, len={ulPartLen})"),
        // SAFETY: forwarded caller guarantee.
        |m| unsafe { op::update::<Verify>(m, hSession, pPart, ulPartLen, Io::Nothing) },
    )
}

/// # Safety
/// `pSignature` valid for `ulSignatureLen` bytes.
#[no_mangle]
pub unsafe extern "C" fn C_VerifyFinal(
    hSession: CK_SESSION_HANDLE,
    pSignature: *mut CK_BYTE,
    ulSignatureLen: CK_ULONG,
) -> CK_RV {
    guard::run_keyed(
        format_args!("C_VerifyFinal(hSession={hSession}, sigLen={ulSignatureLen})"),
        // SAFETY: forwarded caller guarantee.
        |m| unsafe { op::finish::<Verify>(m, hSession, Io::Signature(pSignature, ulSignatureLen)) },
    )
}

/// # Safety
/// `pMechanism` is a valid `CK_MECHANISM`.
#[no_mangle]
pub unsafe extern "C" fn C_SignRecoverInit(
    hSession: CK_SESSION_HANDLE,
    pMechanism: *mut CK_MECHANISM,
    hKey: CK_OBJECT_HANDLE,
) -> CK_RV {
    guard::run_keyed(
        format_args!("C_SignRecoverInit(hSession={hSession}, hKey={hKey})"),
        // SAFETY: forwarded caller guarantee.
        |m| unsafe { op::init::<SignRecover>(m, hSession, pMechanism, hKey) },
    )
}

/// # Safety
/// `pData` valid for `ulDataLen` bytes; output per the size-query convention.
#[no_mangle]
pub unsafe extern "C" fn C_SignRecover(
    hSession: CK_SESSION_HANDLE,
    pData: *mut CK_BYTE,
    ulDataLen: CK_ULONG,
    pSignature: *mut CK_BYTE,
    pulSignatureLen: *mut CK_ULONG,
) -> CK_RV {
    guard::run_keyed(
        format_args!("C_SignRecover(hSession={hSession}, len={ulDataLen})"),
        // SAFETY: forwarded caller guarantee.
        |m| unsafe {
            let out = Io::Output(pSignature, pulSignatureLen);
            op::single::<SignRecover>(m, hSession, pData, ulDataLen, out)
        },
    )
}

/// # Safety
/// `pMechanism` is a valid `CK_MECHANISM`.
#[no_mangle]
pub unsafe extern "C" fn C_VerifyRecoverInit(
    hSession: CK_SESSION_HANDLE,
    pMechanism: *mut CK_MECHANISM,
    hKey: CK_OBJECT_HANDLE,
) -> CK_RV {
    guard::run(
        format_args!("C_VerifyRecoverInit(hSession={hSession}, hKey={hKey})"),
        // SAFETY: forwarded caller guarantee.
        |m| unsafe { op::init::<VerifyRecover>(m, hSession, pMechanism, hKey) },
    )
}

/// # Safety
/// `pSignature` valid for `ulSignatureLen` bytes; output per the size-query convention.
#[no_mangle]
pub unsafe extern "C" fn C_VerifyRecover(
    hSession: CK_SESSION_HANDLE,
    pSignature: *mut CK_BYTE,
    ulSignatureLen: CK_ULONG,
    pData: *mut CK_BYTE,
    pulDataLen: *mut CK_ULONG,
) -> CK_RV {
    guard::run_keyed(
        format_args!("C_VerifyRecover(hSession={hSession}, len={ulSignatureLen})"),
        // SAFETY: forwarded caller guarantee.
        |m| unsafe {
            let out = Io::Output(pData, pulDataLen);
            op::single::<VerifyRecover>(m, hSession, pSignature, ulSignatureLen, out)
        },
    )
}
