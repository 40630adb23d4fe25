//! Signing, MACing and verification functions (PKCS#11 v3.0 §5.11, §5.12).
#![allow(non_snake_case)]

use super::{args, guard, mech};
use cryptoki_sys::*;

/// # Safety
/// `pMechanism` is a valid `CK_MECHANISM`.
#[no_mangle]
pub unsafe extern "C" fn C_SignInit(
    hSession: CK_SESSION_HANDLE,
    pMechanism: *mut CK_MECHANISM,
    hKey: CK_OBJECT_HANDLE,
) -> CK_RV {
    guard::run_secret(
        format_args!("C_SignInit(hSession={hSession}, hKey={hKey})"),
        |m| {
            m.check_session(hSession)?;
            // SAFETY: forwarded caller guarantee.
            let mech = unsafe { mech::mechanism(pMechanism) }?;
            // SAFETY: non-NULL (checked by `mechanism`) and valid per the caller.
            let ty = unsafe { (*pMechanism).mechanism };
            m.sign_init(hSession, ty, &mech, hKey)
        },
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
    guard::run_secret(
        format_args!("C_Sign(hSession={hSession}, len={ulDataLen})"),
        |m| {
            // SAFETY: forwarded caller guarantee.
            let data = unsafe { args::bytes(pData, ulDataLen) }?;
            // SAFETY: forwarded caller guarantee.
            let cap = unsafe { args::capacity(pSignature, pulSignatureLen) }?;
            let out = m.sign(hSession, data, cap)?;
            // SAFETY: forwarded caller guarantee.
            unsafe { args::deliver(pSignature, pulSignatureLen, out) }
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
    guard::run_secret(
        format_args!("C_SignUpdate(hSession={hSession}, len={ulPartLen})"),
        |m| {
            // SAFETY: forwarded caller guarantee.
            let data = unsafe { args::bytes(pPart, ulPartLen) }?;
            m.sign_update(hSession, data)
        },
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
    guard::run_secret(format_args!("C_SignFinal(hSession={hSession})"), |m| {
        // SAFETY: forwarded caller guarantee.
        let cap = unsafe { args::capacity(pSignature, pulSignatureLen) }?;
        let out = m.sign_final(hSession, cap)?;
        // SAFETY: forwarded caller guarantee.
        unsafe { args::deliver(pSignature, pulSignatureLen, out) }
    })
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
        |m| {
            m.check_session(hSession)?;
            // SAFETY: forwarded caller guarantee.
            let mech = unsafe { mech::mechanism(pMechanism) }?;
            // SAFETY: non-NULL (checked by `mechanism`) and valid per the caller.
            let ty = unsafe { (*pMechanism).mechanism };
            m.verify_init(hSession, ty, &mech, hKey)
        },
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
    guard::run_secret(
        format_args!("C_Verify(hSession={hSession}, len={ulDataLen}, sigLen={ulSignatureLen})"),
        |m| {
            // SAFETY: forwarded caller guarantee.
            let data = unsafe { args::bytes(pData, ulDataLen) }?;
            // SAFETY: forwarded caller guarantee.
            let sig = unsafe { args::bytes(pSignature, ulSignatureLen) }?;
            m.verify(hSession, data, sig)
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
    guard::run_secret(
        format_args!("C_VerifyUpdate(hSession={hSession}, len={ulPartLen})"),
        |m| {
            // SAFETY: forwarded caller guarantee.
            let data = unsafe { args::bytes(pPart, ulPartLen) }?;
            m.verify_update(hSession, data)
        },
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
    guard::run_secret(
        format_args!("C_VerifyFinal(hSession={hSession}, sigLen={ulSignatureLen})"),
        |m| {
            // SAFETY: forwarded caller guarantee.
            let sig = unsafe { args::bytes(pSignature, ulSignatureLen) }?;
            m.verify_final(hSession, sig)
        },
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
    guard::run_secret(
        format_args!("C_SignRecoverInit(hSession={hSession}, hKey={hKey})"),
        |m| {
            m.check_session(hSession)?;
            // SAFETY: forwarded caller guarantee.
            let mech = unsafe { mech::mechanism(pMechanism) }?;
            // SAFETY: non-NULL (checked by `mechanism`) and valid per the caller.
            let ty = unsafe { (*pMechanism).mechanism };
            m.sign_recover_init(hSession, ty, &mech, hKey)
        },
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
    guard::run_secret(
        format_args!("C_SignRecover(hSession={hSession}, len={ulDataLen})"),
        |m| {
            // SAFETY: forwarded caller guarantee.
            let data = unsafe { args::bytes(pData, ulDataLen) }?;
            // SAFETY: forwarded caller guarantee.
            let cap = unsafe { args::capacity(pSignature, pulSignatureLen) }?;
            let out = m.sign_recover(hSession, data, cap)?;
            // SAFETY: forwarded caller guarantee.
            unsafe { args::deliver(pSignature, pulSignatureLen, out) }
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
        |m| {
            m.check_session(hSession)?;
            // SAFETY: forwarded caller guarantee.
            let mech = unsafe { mech::mechanism(pMechanism) }?;
            // SAFETY: non-NULL (checked by `mechanism`) and valid per the caller.
            let ty = unsafe { (*pMechanism).mechanism };
            m.verify_recover_init(hSession, ty, &mech, hKey)
        },
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
    guard::run_secret(
        format_args!("C_VerifyRecover(hSession={hSession}, len={ulSignatureLen})"),
        |m| {
            // SAFETY: forwarded caller guarantee.
            let sig = unsafe { args::bytes(pSignature, ulSignatureLen) }?;
            // SAFETY: forwarded caller guarantee.
            let cap = unsafe { args::capacity(pData, pulDataLen) }?;
            let out = m.verify_recover(hSession, sig, cap)?;
            // SAFETY: forwarded caller guarantee.
            unsafe { args::deliver(pData, pulDataLen, out) }
        },
    )
}
