//! Session management (PKCS#11 v3.0 §5.6): open/close, info, login and logout.
#![allow(non_snake_case)]

use super::args;
use super::guard;
use crate::error::fail;
use cryptoki_sys::*;
use std::ffi::c_void;

/// # Safety
/// `phSession` valid for writes.
#[no_mangle]
pub unsafe extern "C" fn C_OpenSession(
    slotID: CK_SLOT_ID,
    flags: CK_FLAGS,
    pApplication: *mut c_void,
    Notify: CK_NOTIFY,
    phSession: *mut CK_SESSION_HANDLE,
) -> CK_RV {
    guard::run(
        format_args!("C_OpenSession(slot={slotID:#x}, flags={flags:#x})"),
        |m| {
            // Notifications are optional; a software token never has one to send.
            let _ = (pApplication, Notify);
            // SAFETY: caller passes a writable handle pointer.
            let out = unsafe { args::out(phSession) }?;
            *out = m.open_session(slotID, flags)?;
            Ok(())
        },
    )
}

#[no_mangle]
pub extern "C" fn C_CloseSession(hSession: CK_SESSION_HANDLE) -> CK_RV {
    guard::run(format_args!("C_CloseSession(hSession={hSession})"), |m| {
        m.close_session(hSession)
    })
}

#[no_mangle]
pub extern "C" fn C_CloseAllSessions(slotID: CK_SLOT_ID) -> CK_RV {
    guard::run(format_args!("C_CloseAllSessions(slot={slotID:#x})"), |m| {
        m.close_all_sessions(slotID)
    })
}

/// # Safety
/// `pInfo` valid for writes.
#[no_mangle]
pub unsafe extern "C" fn C_GetSessionInfo(
    hSession: CK_SESSION_HANDLE,
    pInfo: *mut CK_SESSION_INFO,
) -> CK_RV {
    guard::run(format_args!("C_GetSessionInfo(hSession={hSession})"), |m| {
        let info = m.session_info(hSession)?;
        // SAFETY: caller passes a writable CK_SESSION_INFO or NULL.
        *unsafe { args::out(pInfo) }? = info;
        Ok(())
    })
}

/// # Safety
/// `pPin` valid for `ulPinLen` bytes.
#[no_mangle]
pub unsafe extern "C" fn C_Login(
    hSession: CK_SESSION_HANDLE,
    userType: CK_USER_TYPE,
    pPin: *mut CK_UTF8CHAR,
    ulPinLen: CK_ULONG,
) -> CK_RV {
    guard::run_secret(
        format_args!("C_Login(hSession={hSession}, user={userType}, pinLen={ulPinLen})"),
        |m| {
            // SAFETY: forwarded caller guarantee.
            let pin = unsafe { args::pin(pPin, ulPinLen) }?;
            m.login(hSession, userType, pin)
        },
    )
}

/// # Safety
/// `pPin` and `pUsername` valid for their lengths.
#[no_mangle]
pub unsafe extern "C" fn C_LoginUser(
    hSession: CK_SESSION_HANDLE,
    userType: CK_USER_TYPE,
    pPin: *mut CK_UTF8CHAR,
    ulPinLen: CK_ULONG,
    pUsername: *mut CK_UTF8CHAR,
    ulUsernameLen: CK_ULONG,
) -> CK_RV {
    guard::run_secret(format_args!("C_LoginUser(hSession={hSession}, user={userType}, pinLen={ulPinLen}, nameLen={ulUsernameLen})"), |m| {
        // SAFETY: forwarded caller guarantee.
        let pin = unsafe { args::pin(pPin, ulPinLen) }?;
        // SAFETY: forwarded caller guarantee.
        let name = unsafe { args::bytes(pUsername, ulUsernameLen) }?;
        // The token has one user and one SO: a user name is meaningful only if empty.
        if !name.is_empty() {
            return fail(CKR_USER_TYPE_INVALID);
        }
        m.login(hSession, userType, pin)
    })
}

#[no_mangle]
pub extern "C" fn C_Logout(hSession: CK_SESSION_HANDLE) -> CK_RV {
    guard::run_secret(format_args!("C_Logout(hSession={hSession})"), |m| {
        m.logout(hSession)
    })
}

#[no_mangle]
pub extern "C" fn C_SessionCancel(hSession: CK_SESSION_HANDLE, flags: CK_FLAGS) -> CK_RV {
    guard::run(
        format_args!("C_SessionCancel(hSession={hSession}, flags={flags:#x})"),
        |m| {
            m.check_session(hSession)?;
            let _ = flags;
            fail(CKR_FUNCTION_NOT_SUPPORTED)
        },
    )
}

/// # Safety
/// `pOperationState` is NULL or valid for `*pulOperationStateLen` bytes.
#[no_mangle]
pub unsafe extern "C" fn C_GetOperationState(
    hSession: CK_SESSION_HANDLE,
    pOperationState: *mut CK_BYTE,
    pulOperationStateLen: *mut CK_ULONG,
) -> CK_RV {
    // Secret: a digest state holds (a hash of) the data fed so far.
    guard::run_secret(
        format_args!("C_GetOperationState(hSession={hSession})"),
        |m| {
            // The length pointer is required whatever the session's state.
            if pulOperationStateLen.is_null() {
                return fail(CKR_ARGUMENTS_BAD);
            }
            let state = m.get_operation_state(hSession)?;
            // SAFETY: forwarded caller guarantee.
            unsafe { args::write_out(pOperationState, pulOperationStateLen, &state) }
        },
    )
}

/// # Safety
/// `pOperationState` valid for `ulOperationStateLen` bytes.
#[no_mangle]
pub unsafe extern "C" fn C_SetOperationState(
    hSession: CK_SESSION_HANDLE,
    pOperationState: *mut CK_BYTE,
    ulOperationStateLen: CK_ULONG,
    hEncryptionKey: CK_OBJECT_HANDLE,
    hAuthenticationKey: CK_OBJECT_HANDLE,
) -> CK_RV {
    guard::run_secret(
        format_args!(
            "C_SetOperationState(hSession={hSession}, len={ulOperationStateLen}, \
             hEncryptionKey={hEncryptionKey}, hAuthenticationKey={hAuthenticationKey})"
        ),
        |m| {
            // No saved state is empty: NULL is a broken call even with length 0.
            if pOperationState.is_null() {
                return fail(CKR_ARGUMENTS_BAD);
            }
            // SAFETY: forwarded caller guarantee.
            let state = unsafe { args::bytes(pOperationState, ulOperationStateLen) }?;
            m.set_operation_state(hSession, state, hEncryptionKey, hAuthenticationKey)
        },
    )
}
