//! Key management functions (PKCS#11 v3.0 §5.14): generate, generate pair, wrap, unwrap, derive.
#![allow(non_snake_case)]

use super::{args, guard, mech};
use crate::error::Result;
use crate::mechanism::Mechanism;
use cryptoki_sys::*;

/// The mechanism's type and its typed form.
///
/// # Safety
/// `p` is NULL or a valid `CK_MECHANISM` whose parameter pointers are valid for their lengths.
unsafe fn mechanism(p: *mut CK_MECHANISM) -> Result<(CK_MECHANISM_TYPE, Mechanism)> {
    // SAFETY: forwarded caller guarantee.
    let m = unsafe { mech::mechanism(p) }?;
    // SAFETY: non-NULL (checked by `mechanism`) and valid per the caller.
    Ok((unsafe { (*p).mechanism }, m))
}

/// # Safety
/// Pointers valid per the specification for `C_GenerateKey`.
#[no_mangle]
pub unsafe extern "C" fn C_GenerateKey(
    hSession: CK_SESSION_HANDLE,
    pMechanism: *mut CK_MECHANISM,
    pTemplate: *mut CK_ATTRIBUTE,
    ulCount: CK_ULONG,
    phKey: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard::run_secret(
        format_args!("C_GenerateKey(hSession={hSession}, attrs={ulCount})"),
        |m| {
            m.check_session(hSession)?;
            args::template_given(pTemplate, ulCount)?;
            // SAFETY: forwarded caller guarantee.
            let (ty, mech) = unsafe { mechanism(pMechanism) }?;
            // SAFETY: forwarded caller guarantee.
            let t = unsafe { args::template(pTemplate, ulCount) }?;
            // SAFETY: forwarded caller guarantee.
            let out = unsafe { args::out(phKey) }?;
            *out = m.generate_key(hSession, ty, &mech, &t)?;
            Ok(())
        },
    )
}

/// # Safety
/// Pointers valid per the specification for `C_GenerateKeyPair`.
#[no_mangle]
pub unsafe extern "C" fn C_GenerateKeyPair(
    hSession: CK_SESSION_HANDLE,
    pMechanism: *mut CK_MECHANISM,
    pPublicKeyTemplate: *mut CK_ATTRIBUTE,
    ulPublicKeyAttributeCount: CK_ULONG,
    pPrivateKeyTemplate: *mut CK_ATTRIBUTE,
    ulPrivateKeyAttributeCount: CK_ULONG,
    phPublicKey: *mut CK_OBJECT_HANDLE,
    phPrivateKey: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard::run_secret(
        format_args!(
            "C_GenerateKeyPair(hSession={hSession}, public={ulPublicKeyAttributeCount}, private={ulPrivateKeyAttributeCount})"
        ),
        |m| {
            m.check_session(hSession)?;
            args::template_given(pPublicKeyTemplate, ulPublicKeyAttributeCount)?;
            args::template_given(pPrivateKeyTemplate, ulPrivateKeyAttributeCount)?;
            // SAFETY: forwarded caller guarantee.
            let (ty, mech) = unsafe { mechanism(pMechanism) }?;
            // SAFETY: forwarded caller guarantee.
            let pt = unsafe { args::template(pPublicKeyTemplate, ulPublicKeyAttributeCount) }?;
            // SAFETY: forwarded caller guarantee.
            let vt = unsafe { args::template(pPrivateKeyTemplate, ulPrivateKeyAttributeCount) }?;
            // SAFETY: forwarded caller guarantee.
            let hp = unsafe { args::out(phPublicKey) }?;
            // SAFETY: forwarded caller guarantee.
            let hv = unsafe { args::out(phPrivateKey) }?;
            let (p, v) = m.generate_key_pair(hSession, ty, &mech, &pt, &vt)?;
            *hp = p;
            *hv = v;
            Ok(())
        },
    )
}

/// # Safety
/// Pointers valid per the specification for `C_WrapKey`.
#[no_mangle]
pub unsafe extern "C" fn C_WrapKey(
    hSession: CK_SESSION_HANDLE,
    pMechanism: *mut CK_MECHANISM,
    hWrappingKey: CK_OBJECT_HANDLE,
    hKey: CK_OBJECT_HANDLE,
    pWrappedKey: *mut CK_BYTE,
    pulWrappedKeyLen: *mut CK_ULONG,
) -> CK_RV {
    guard::run_secret(
        format_args!("C_WrapKey(hSession={hSession}, hWrappingKey={hWrappingKey}, hKey={hKey})"),
        |m| {
            m.check_session(hSession)?;
            // SAFETY: forwarded caller guarantee.
            let (ty, mech) = unsafe { mechanism(pMechanism) }?;
            // SAFETY: forwarded caller guarantee.
            let cap = unsafe { args::capacity(pWrappedKey, pulWrappedKeyLen) }?;
            let out = m.wrap_key(hSession, ty, &mech, hWrappingKey, hKey, cap)?;
            // SAFETY: forwarded caller guarantee.
            unsafe { args::deliver(pWrappedKey, pulWrappedKeyLen, out) }
        },
    )
}

/// # Safety
/// Pointers valid per the specification for `C_UnwrapKey`.
#[no_mangle]
pub unsafe extern "C" fn C_UnwrapKey(
    hSession: CK_SESSION_HANDLE,
    pMechanism: *mut CK_MECHANISM,
    hUnwrappingKey: CK_OBJECT_HANDLE,
    pWrappedKey: *mut CK_BYTE,
    ulWrappedKeyLen: CK_ULONG,
    pTemplate: *mut CK_ATTRIBUTE,
    ulAttributeCount: CK_ULONG,
    phKey: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard::run_secret(
        format_args!(
            "C_UnwrapKey(hSession={hSession}, hUnwrappingKey={hUnwrappingKey}, len={ulWrappedKeyLen}, attrs={ulAttributeCount})"
        ),
        |m| {
            m.check_session(hSession)?;
            // SAFETY: forwarded caller guarantee.
            let (ty, mech) = unsafe { mechanism(pMechanism) }?;
            // SAFETY: forwarded caller guarantee.
            let wrapped = unsafe { args::bytes(pWrappedKey, ulWrappedKeyLen) }?;
            // SAFETY: forwarded caller guarantee.
            let t = unsafe { args::template(pTemplate, ulAttributeCount) }?;
            // SAFETY: forwarded caller guarantee.
            let out = unsafe { args::out(phKey) }?;
            *out = m.unwrap_key(hSession, ty, &mech, hUnwrappingKey, wrapped, &t)?;
            Ok(())
        },
    )
}

/// # Safety
/// Pointers valid per the specification for `C_DeriveKey`.
#[no_mangle]
pub unsafe extern "C" fn C_DeriveKey(
    hSession: CK_SESSION_HANDLE,
    pMechanism: *mut CK_MECHANISM,
    hBaseKey: CK_OBJECT_HANDLE,
    pTemplate: *mut CK_ATTRIBUTE,
    ulAttributeCount: CK_ULONG,
    phKey: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard::run_secret(
        format_args!(
            "C_DeriveKey(hSession={hSession}, hBaseKey={hBaseKey}, attrs={ulAttributeCount})"
        ),
        |m| {
            m.check_session(hSession)?;
            // SAFETY: forwarded caller guarantee.
            let (ty, mech) = unsafe { mechanism(pMechanism) }?;
            // SAFETY: forwarded caller guarantee.
            let t = unsafe { args::template(pTemplate, ulAttributeCount) }?;
            // SAFETY: forwarded caller guarantee.
            let out = unsafe { args::out(phKey) }?;
            match m.derive_key(hSession, ty, &mech, hBaseKey, &t) {
                Ok((h, additional)) => {
                    // SAFETY: forwarded caller guarantee; the parser checked each phKey.
                    unsafe {
                        crate::ffi::mech::deliver_additional_keys(pMechanism, Some(&additional))
                    };
                    *out = h;
                    Ok(())
                }
                Err(e) => {
                    // SAFETY: as above.
                    unsafe { crate::ffi::mech::deliver_additional_keys(pMechanism, None) };
                    Err(e)
                }
            }
        },
    )
}
