//! General-purpose functions (PKCS#11 v3.0 §5.4): initialization, finalization, library info,
//! function lists and interfaces; and the parallel-function stubs of §5.16.
#![allow(non_snake_case)]

use super::args;
use super::guard::{self, AppMutex};
use super::{FUNCTION_LIST, INTERFACES};
use crate::error::{fail, Error};
use crate::module::crate_version;
use crate::token::pad32;
use cryptoki_sys::*;
use std::ffi::c_void;

/// # Safety
/// `pInitArgs` is NULL or points to a valid `CK_C_INITIALIZE_ARGS`.
#[no_mangle]
pub unsafe extern "C" fn C_Initialize(pInitArgs: *mut c_void) -> CK_RV {
    guard::run_bare(format_args!("C_Initialize()"), || {
        // SAFETY: per the specification the argument is NULL or a CK_C_INITIALIZE_ARGS.
        let args = unsafe { (pInitArgs as *const CK_C_INITIALIZE_ARGS).as_ref() };
        let mut app_mutex = None;
        if let Some(a) = args {
            if !a.pReserved.is_null() {
                return fail(CKR_ARGUMENTS_BAD);
            }
            let fns = (a.CreateMutex, a.DestroyMutex, a.LockMutex, a.UnlockMutex);
            match fns {
                (None, None, None, None) => {}
                (Some(create), Some(destroy), Some(lock), Some(unlock)) => {
                    // With CKF_OS_LOCKING_OK the library may use its own locks, which it does;
                    // without it the application's must be used.
                    if a.flags & CKF_OS_LOCKING_OK == 0 {
                        let mut m: *mut c_void = std::ptr::null_mut();
                        // SAFETY: calling the application's CreateMutex as the spec describes.
                        let rv = unsafe { create(&mut m) };
                        if rv != CKR_OK {
                            return fail(rv);
                        }
                        app_mutex = Some(AppMutex {
                            mutex: m,
                            lock,
                            unlock,
                            destroy,
                        });
                    }
                }
                _ => return fail(CKR_ARGUMENTS_BAD),
            }
        }
        guard::initialize(app_mutex)
    })
}

/// # Safety
/// `pReserved` must be NULL.
#[no_mangle]
pub unsafe extern "C" fn C_Finalize(pReserved: *mut c_void) -> CK_RV {
    let rv = guard::run_bare(format_args!("C_Finalize()"), || {
        if !pReserved.is_null() {
            guard::current()?;
            return fail(CKR_ARGUMENTS_BAD);
        }
        guard::finalize()
    });
    // Dropping the module wiped every key and session it held; this clears the stack the
    // drops ran on.
    guard::scrub_stack();
    rv
}

/// # Safety
/// `pInfo` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn C_GetInfo(pInfo: *mut CK_INFO) -> CK_RV {
    guard::run(format_args!("C_GetInfo()"), |_| {
        // SAFETY: caller passes a writable CK_INFO or NULL.
        let info = unsafe { args::out(pInfo) }?;
        *info = CK_INFO {
            cryptokiVersion: CK_VERSION { major: 3, minor: 0 },
            manufacturerID: pad32(b"ferrohsm"),
            flags: 0,
            libraryDescription: pad32(b"ferrohsm software HSM"),
            libraryVersion: crate_version(),
        };
        Ok(())
    })
}

/// # Safety
/// `ppFunctionList` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn C_GetFunctionList(ppFunctionList: *mut *mut CK_FUNCTION_LIST) -> CK_RV {
    guard::run_bare(format_args!("C_GetFunctionList()"), || {
        // SAFETY: caller passes a writable pointer or NULL.
        let out = unsafe { args::out(ppFunctionList) }?;
        // The table is never written through: the specification's signature is just not const.
        *out = &FUNCTION_LIST as *const CK_FUNCTION_LIST as *mut CK_FUNCTION_LIST;
        Ok(())
    })
}

/// # Safety
/// `pInterfacesList` is NULL or valid for `*pulCount` entries; `pulCount` is valid.
#[no_mangle]
pub unsafe extern "C" fn C_GetInterfaceList(
    pInterfacesList: *mut CK_INTERFACE,
    pulCount: *mut CK_ULONG,
) -> CK_RV {
    guard::run_bare(format_args!("C_GetInterfaceList()"), || {
        // SAFETY: caller passes a writable count.
        let count = unsafe { args::out(pulCount) }?;
        let all = INTERFACES.get();
        if pInterfacesList.is_null() {
            *count = all.len() as CK_ULONG;
            return Ok(());
        }
        if (*count as usize) < all.len() {
            *count = all.len() as CK_ULONG;
            return fail(CKR_BUFFER_TOO_SMALL);
        }
        for (i, iface) in all.iter().enumerate() {
            // SAFETY: the caller's array holds at least `all.len()` entries (checked above).
            unsafe { pInterfacesList.add(i).write(*iface) };
        }
        *count = all.len() as CK_ULONG;
        Ok(())
    })
}

/// # Safety
/// `pInterfaceName` is NULL or a NUL-terminated string; `pVersion` NULL or valid;
/// `ppInterface` valid for writes.
#[no_mangle]
pub unsafe extern "C" fn C_GetInterface(
    pInterfaceName: *mut CK_UTF8CHAR,
    pVersion: *mut CK_VERSION,
    ppInterface: *mut *mut CK_INTERFACE,
    flags: CK_FLAGS,
) -> CK_RV {
    guard::run_bare(format_args!("C_GetInterface()"), || {
        // SAFETY: caller passes a writable pointer.
        let out = unsafe { args::out(ppInterface) }?;
        if !pInterfaceName.is_null() {
            // SAFETY: a non-NULL name is NUL-terminated per the specification.
            let name =
                unsafe { std::ffi::CStr::from_ptr(pInterfaceName as *const std::ffi::c_char) };
            if name.to_bytes() != b"PKCS 11" {
                return fail(CKR_ARGUMENTS_BAD);
            }
        }
        // SAFETY: NULL or a valid CK_VERSION.
        let want = unsafe { pVersion.as_ref() }.copied();
        let found = INTERFACES
            .find(want, flags)
            .ok_or(Error::new(CKR_ARGUMENTS_BAD))?;
        *out = found;
        Ok(())
    })
}

/// Legacy parallel function management (§5.16): always `CKR_FUNCTION_NOT_PARALLEL`.
#[no_mangle]
pub extern "C" fn C_GetFunctionStatus(hSession: CK_SESSION_HANDLE) -> CK_RV {
    guard::run(
        format_args!("C_GetFunctionStatus(hSession={hSession})"),
        |m| {
            m.check_session(hSession)?;
            fail(CKR_FUNCTION_NOT_PARALLEL)
        },
    )
}

#[no_mangle]
pub extern "C" fn C_CancelFunction(hSession: CK_SESSION_HANDLE) -> CK_RV {
    guard::run(format_args!("C_CancelFunction(hSession={hSession})"), |m| {
        m.check_session(hSession)?;
        fail(CKR_FUNCTION_NOT_PARALLEL)
    })
}
