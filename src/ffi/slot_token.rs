//! Slot and token management (PKCS#11 v3.0 §5.5).
#![allow(non_snake_case)]

use super::args;
use super::guard;
use crate::error::fail;
use crate::token::{pad32, TokenState};
use cryptoki_sys::*;
use std::ffi::c_void;

/// # Safety
/// `pSlotList` is NULL or valid for `*pulCount` slot ids; `pulCount` is valid.
#[no_mangle]
pub unsafe extern "C" fn C_GetSlotList(
    tokenPresent: CK_BBOOL,
    pSlotList: *mut CK_SLOT_ID,
    pulCount: *mut CK_ULONG,
) -> CK_RV {
    guard::run(
        format_args!(
            "C_GetSlotList(tokenPresent={tokenPresent}, query={})",
            pSlotList.is_null()
        ),
        |m| {
            // Every slot holds a token (the free slot an uninitialized one), so tokenPresent
            // selects the same list.
            let _ = tokenPresent;
            let ids = m.slot_ids()?;
            // SAFETY: forwarded caller guarantee.
            unsafe { args::write_list(pSlotList, pulCount, &ids) }
        },
    )
}

/// # Safety
/// `pInfo` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn C_GetSlotInfo(slotID: CK_SLOT_ID, pInfo: *mut CK_SLOT_INFO) -> CK_RV {
    guard::run(format_args!("C_GetSlotInfo(slot={slotID:#x})"), |m| {
        // SAFETY: caller passes a writable CK_SLOT_INFO or NULL.
        let info = unsafe { args::out(pInfo) }?;
        let slot = m.slot(slotID)?;
        let desc = match &*slot.state.lock() {
            TokenState::Free => "ferrohsm free slot (uninitialized token)".to_string(),
            TokenState::Broken(p) => format!("ferrohsm unrecognized file {p}"),
            // `ferrohsm-util show-slots` reads the store and policy from here: PKCS#11 has no
            // field for them.
            TokenState::Ready(r) => {
                format!(
                    "ferrohsm token {} store={} policy={}",
                    slot.serial,
                    m.location.kind(),
                    r.policy().name()
                )
            }
        };
        let mut d = [b' '; 64];
        let n = desc.len().min(64);
        d[..n].copy_from_slice(&desc.as_bytes()[..n]);
        *info = CK_SLOT_INFO {
            slotDescription: d,
            manufacturerID: pad32(b"ferrohsm"),
            flags: CKF_TOKEN_PRESENT,
            hardwareVersion: CK_VERSION { major: 0, minor: 1 },
            firmwareVersion: crate::module::crate_version(),
        };
        Ok(())
    })
}

/// # Safety
/// `pInfo` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn C_GetTokenInfo(slotID: CK_SLOT_ID, pInfo: *mut CK_TOKEN_INFO) -> CK_RV {
    guard::run(format_args!("C_GetTokenInfo(slot={slotID:#x})"), |m| {
        // SAFETY: caller passes a writable CK_TOKEN_INFO or NULL.
        let info = unsafe { args::out(pInfo) }?;
        *info = m.token_info(slotID)?;
        Ok(())
    })
}

/// # Safety
/// `pSlot` is NULL or valid for writes; `pReserved` must be NULL.
#[no_mangle]
pub unsafe extern "C" fn C_WaitForSlotEvent(
    flags: CK_FLAGS,
    pSlot: *mut CK_SLOT_ID,
    pReserved: *mut c_void,
) -> CK_RV {
    guard::run(format_args!("C_WaitForSlotEvent(flags={flags:#x})"), |_| {
        if !pReserved.is_null() || pSlot.is_null() {
            return fail(CKR_ARGUMENTS_BAD);
        }
        // Tokens of a software HSM are never inserted or removed, so there is never an event;
        // blocking would wait forever, which the specification lets us refuse.
        if flags & CKF_DONT_BLOCK != 0 {
            fail(CKR_NO_EVENT)
        } else {
            fail(CKR_FUNCTION_NOT_SUPPORTED)
        }
    })
}

/// # Safety
/// `pMechanismList` is NULL or valid for `*pulCount` entries; `pulCount` is valid.
#[no_mangle]
pub unsafe extern "C" fn C_GetMechanismList(
    slotID: CK_SLOT_ID,
    pMechanismList: *mut CK_MECHANISM_TYPE,
    pulCount: *mut CK_ULONG,
) -> CK_RV {
    guard::run(format_args!("C_GetMechanismList(slot={slotID:#x})"), |m| {
        let list = crate::mechanism::list(m.slot_policy(slotID)?);
        // SAFETY: forwarded caller guarantee.
        unsafe { args::write_list(pMechanismList, pulCount, &list) }
    })
}

/// # Safety
/// `pInfo` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn C_GetMechanismInfo(
    slotID: CK_SLOT_ID,
    type_: CK_MECHANISM_TYPE,
    pInfo: *mut CK_MECHANISM_INFO,
) -> CK_RV {
    guard::run(
        format_args!("C_GetMechanismInfo(slot={slotID:#x}, mech={type_:#x})"),
        |m| {
            let policy = m.slot_policy(slotID)?;
            // SAFETY: caller passes a writable CK_MECHANISM_INFO or NULL.
            let out = unsafe { args::out(pInfo) }?;
            *out = crate::mechanism::info(policy, type_)
                .ok_or(crate::error::Error::new(CKR_MECHANISM_INVALID))?;
            Ok(())
        },
    )
}

/// # Safety
/// `pPin` valid for `ulPinLen` bytes; `pLabel` valid for 32 bytes.
#[no_mangle]
pub unsafe extern "C" fn C_InitToken(
    slotID: CK_SLOT_ID,
    pPin: *mut CK_UTF8CHAR,
    ulPinLen: CK_ULONG,
    pLabel: *mut CK_UTF8CHAR,
) -> CK_RV {
    guard::run_secret(
        format_args!("C_InitToken(slot={slotID:#x}, pinLen={ulPinLen})"),
        |m| {
            // SAFETY: forwarded caller guarantee.
            let pin = unsafe { args::pin(pPin, ulPinLen) }?;
            if pLabel.is_null() {
                return fail(CKR_ARGUMENTS_BAD);
            }
            // SAFETY: the label is exactly 32 bytes, blank padded, per the specification.
            let label: [u8; 32] = unsafe { std::ptr::read_unaligned(pLabel as *const [u8; 32]) };
            m.init_token(slotID, pin, &label)
        },
    )
}

/// # Safety
/// `pPin` valid for `ulPinLen` bytes.
#[no_mangle]
pub unsafe extern "C" fn C_InitPIN(
    hSession: CK_SESSION_HANDLE,
    pPin: *mut CK_UTF8CHAR,
    ulPinLen: CK_ULONG,
) -> CK_RV {
    guard::run_secret(
        format_args!("C_InitPIN(hSession={hSession}, pinLen={ulPinLen})"),
        |m| {
            // SAFETY: forwarded caller guarantee.
            let pin = unsafe { args::pin(pPin, ulPinLen) }?;
            m.init_pin(hSession, pin)
        },
    )
}

/// # Safety
/// `pOldPin`/`pNewPin` valid for their lengths.
#[no_mangle]
pub unsafe extern "C" fn C_SetPIN(
    hSession: CK_SESSION_HANDLE,
    pOldPin: *mut CK_UTF8CHAR,
    ulOldLen: CK_ULONG,
    pNewPin: *mut CK_UTF8CHAR,
    ulNewLen: CK_ULONG,
) -> CK_RV {
    guard::run_secret(
        format_args!("C_SetPIN(hSession={hSession}, oldLen={ulOldLen}, newLen={ulNewLen})"),
        |m| {
            // SAFETY: forwarded caller guarantee.
            let old = unsafe { args::pin(pOldPin, ulOldLen) }?;
            // SAFETY: forwarded caller guarantee.
            let new = unsafe { args::pin(pNewPin, ulNewLen) }?;
            m.set_pin(hSession, old, new)
        },
    )
}
