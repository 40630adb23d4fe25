//! Object management (PKCS#11 v3.0 §5.7): create, copy, destroy, attributes and search.
#![allow(non_snake_case)]

use super::args;
use super::guard;
use crate::error::{fail, Result};
use crate::module::AttrRead;
use crate::object::attr::AttrValue;
use cryptoki_sys::*;
use std::mem::size_of;

/// # Safety
/// `pTemplate` valid for `ulCount` attributes; `phObject` valid for writes.
#[no_mangle]
pub unsafe extern "C" fn C_CreateObject(
    hSession: CK_SESSION_HANDLE,
    pTemplate: *mut CK_ATTRIBUTE,
    ulCount: CK_ULONG,
    phObject: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard::run_secret(
        format_args!("C_CreateObject(hSession={hSession}, attrs={ulCount})"),
        |m| {
            m.check_session(hSession)?;
            // SAFETY: forwarded caller guarantee.
            let out = unsafe { args::out(phObject) }?;
            // SAFETY: forwarded caller guarantee.
            let t = unsafe { args::template(pTemplate, ulCount) }?;
            *out = m.create_object(hSession, &t)?;
            Ok(())
        },
    )
}

/// # Safety
/// `pTemplate` valid for `ulCount` attributes; `phNewObject` valid for writes.
#[no_mangle]
pub unsafe extern "C" fn C_CopyObject(
    hSession: CK_SESSION_HANDLE,
    hObject: CK_OBJECT_HANDLE,
    pTemplate: *mut CK_ATTRIBUTE,
    ulCount: CK_ULONG,
    phNewObject: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard::run_secret(
        format_args!("C_CopyObject(hSession={hSession}, hObject={hObject}, attrs={ulCount})"),
        |m| {
            m.check_session(hSession)?;
            // SAFETY: forwarded caller guarantee.
            let out = unsafe { args::out(phNewObject) }?;
            // SAFETY: forwarded caller guarantee.
            let t = unsafe { args::template(pTemplate, ulCount) }?;
            *out = m.copy_object(hSession, hObject, &t)?;
            Ok(())
        },
    )
}

#[no_mangle]
pub extern "C" fn C_DestroyObject(hSession: CK_SESSION_HANDLE, hObject: CK_OBJECT_HANDLE) -> CK_RV {
    guard::run_secret(
        format_args!("C_DestroyObject(hSession={hSession}, hObject={hObject})"),
        |m| m.destroy_object(hSession, hObject),
    )
}

/// # Safety
/// `pulSize` valid for writes.
#[no_mangle]
pub unsafe extern "C" fn C_GetObjectSize(
    hSession: CK_SESSION_HANDLE,
    hObject: CK_OBJECT_HANDLE,
    pulSize: *mut CK_ULONG,
) -> CK_RV {
    guard::run(
        format_args!("C_GetObjectSize(hSession={hSession}, hObject={hObject})"),
        |m| {
            m.check_session(hSession)?;
            // SAFETY: forwarded caller guarantee.
            let out = unsafe { args::out(pulSize) }?;
            *out = m.object_size(hSession, hObject)?;
            Ok(())
        },
    )
}

/// # Safety
/// `pTemplate` valid for `ulCount` attributes, each `pValue` NULL or valid for `ulValueLen`
/// bytes of writes.
#[no_mangle]
pub unsafe extern "C" fn C_GetAttributeValue(
    hSession: CK_SESSION_HANDLE,
    hObject: CK_OBJECT_HANDLE,
    pTemplate: *mut CK_ATTRIBUTE,
    ulCount: CK_ULONG,
) -> CK_RV {
    guard::run_secret(
        format_args!(
            "C_GetAttributeValue(hSession={hSession}, hObject={hObject}, attrs={ulCount})"
        ),
        |m| {
            m.check_session(hSession)?;
            if pTemplate.is_null() && ulCount != 0 {
                return fail(CKR_ARGUMENTS_BAD);
            }
            // SAFETY: checked for NULL; the caller guarantees `ulCount` writable attributes.
            let mut raw = unsafe { args::attr_array(pTemplate, ulCount) }?;
            let types: Vec<CK_ATTRIBUTE_TYPE> = raw.iter().map(|a| a.type_).collect();
            let reads = m.get_attributes(hSession, hObject, &types)?;
            let (mut sensitive, mut invalid, mut small) = (false, false, false);
            for (i, (a, read)) in raw.iter_mut().zip(reads).enumerate() {
                match read {
                    AttrRead::Sensitive => {
                        a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
                        sensitive = true;
                    }
                    AttrRead::Invalid => {
                        a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
                        invalid = true;
                    }
                    AttrRead::Value(v) => {
                        // SAFETY: `a` is the caller's attribute; its pValue carries the caller guarantee.
                        if !unsafe { fill(a, &v) }? {
                            small = true;
                        }
                    }
                }
                // SAFETY: `i < ulCount` and the caller's array is writable (checked non-NULL
                // above when ulCount > 0).
                unsafe { args::write_attr(pTemplate, i, *a) };
            }
            // When several cases apply, the specification's order: sensitive, invalid, too small.
            if sensitive {
                fail(CKR_ATTRIBUTE_SENSITIVE)
            } else if invalid {
                fail(CKR_ATTRIBUTE_TYPE_INVALID)
            } else if small {
                fail(CKR_BUFFER_TOO_SMALL)
            } else {
                Ok(())
            }
        },
    )
}

/// Fill one attribute: the length alone for a NULL `pValue`, the value when it fits; `false`
/// (length marked unavailable) when the buffer is too small.
///
/// # Safety
/// `a.pValue` is NULL or valid for `a.ulValueLen` bytes of writes (for templates: an array of
/// `CK_ATTRIBUTE` whose own values carry the same guarantee).
unsafe fn fill(a: &mut CK_ATTRIBUTE, v: &AttrValue) -> Result<bool> {
    if let AttrValue::Template(t) = v {
        let need = (t.len() * size_of::<CK_ATTRIBUTE>()) as CK_ULONG;
        if a.pValue.is_null() {
            a.ulValueLen = need;
            return Ok(true);
        }
        if a.ulValueLen < need {
            a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
            return Ok(false);
        }
        // The caller's array need not be aligned for CK_ATTRIBUTE: each element is read and
        // written back unaligned rather than through a slice.
        let base = a.pValue as *mut CK_ATTRIBUTE;
        let mut ok = true;
        for (i, attr) in t.iter().enumerate() {
            // SAFETY: the caller's buffer holds `t.len()` CK_ATTRIBUTE structs (checked above),
            // so element `i` is in bounds.
            let p = unsafe { base.add(i) };
            // SAFETY: in bounds (above); CK_ATTRIBUTE is plain data.
            let mut slot = unsafe { std::ptr::read_unaligned(p) };
            slot.type_ = attr.ty;
            // SAFETY: nested values carry the same caller guarantee.
            ok &= unsafe { fill(&mut slot, &attr.value) }?;
            // SAFETY: in bounds (above).
            unsafe { std::ptr::write_unaligned(p, slot) };
        }
        a.ulValueLen = need;
        return Ok(ok);
    }
    let bytes = zeroize::Zeroizing::new(args::value_bytes(v));
    let need = bytes.len() as CK_ULONG;
    if a.pValue.is_null() {
        a.ulValueLen = need;
        return Ok(true);
    }
    if a.ulValueLen < need {
        a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
        return Ok(false);
    }
    // SAFETY: pValue holds at least `need` bytes (checked above).
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), a.pValue as *mut u8, bytes.len()) };
    a.ulValueLen = need;
    Ok(true)
}

/// # Safety
/// `pTemplate` valid for `ulCount` attributes.
#[no_mangle]
pub unsafe extern "C" fn C_SetAttributeValue(
    hSession: CK_SESSION_HANDLE,
    hObject: CK_OBJECT_HANDLE,
    pTemplate: *mut CK_ATTRIBUTE,
    ulCount: CK_ULONG,
) -> CK_RV {
    guard::run_secret(
        format_args!(
            "C_SetAttributeValue(hSession={hSession}, hObject={hObject}, attrs={ulCount})"
        ),
        |m| {
            m.check_session(hSession)?;
            // SAFETY: forwarded caller guarantee.
            let t = unsafe { args::template(pTemplate, ulCount) }?;
            m.set_attributes(hSession, hObject, &t)
        },
    )
}

/// # Safety
/// `pTemplate` valid for `ulCount` attributes.
#[no_mangle]
pub unsafe extern "C" fn C_FindObjectsInit(
    hSession: CK_SESSION_HANDLE,
    pTemplate: *mut CK_ATTRIBUTE,
    ulCount: CK_ULONG,
) -> CK_RV {
    guard::run(
        format_args!("C_FindObjectsInit(hSession={hSession}, attrs={ulCount})"),
        |m| {
            m.check_session(hSession)?;
            // SAFETY: forwarded caller guarantee.
            let t = match unsafe { args::template(pTemplate, ulCount) } {
                Ok(t) => t,
                // An attribute the module does not know matches no object (rather than failing
                // the search, which clients probing vendor attributes do not expect).
                Err(e) if e.rv() == CKR_ATTRIBUTE_TYPE_INVALID => {
                    return m.find_init_nothing(hSession);
                }
                Err(e) => return Err(e),
            };
            m.find_init(hSession, &t)
        },
    )
}

/// # Safety
/// `phObject` valid for `ulMaxObjectCount` handles; `pulObjectCount` valid for writes.
#[no_mangle]
pub unsafe extern "C" fn C_FindObjects(
    hSession: CK_SESSION_HANDLE,
    phObject: *mut CK_OBJECT_HANDLE,
    ulMaxObjectCount: CK_ULONG,
    pulObjectCount: *mut CK_ULONG,
) -> CK_RV {
    guard::run(
        format_args!("C_FindObjects(hSession={hSession}, max={ulMaxObjectCount})"),
        |m| {
            m.check_session(hSession)?;
            // SAFETY: forwarded caller guarantee.
            let count = unsafe { args::out(pulObjectCount) }?;
            if phObject.is_null() && ulMaxObjectCount != 0 {
                return fail(CKR_ARGUMENTS_BAD);
            }
            let max = usize::try_from(ulMaxObjectCount).unwrap_or(usize::MAX);
            let found = m.find_next(hSession, max)?;
            if !found.is_empty() {
                // SAFETY: the caller's array holds `ulMaxObjectCount >= found.len()` handles.
                unsafe { std::ptr::copy_nonoverlapping(found.as_ptr(), phObject, found.len()) };
            }
            *count = found.len() as CK_ULONG;
            Ok(())
        },
    )
}

#[no_mangle]
pub extern "C" fn C_FindObjectsFinal(hSession: CK_SESSION_HANDLE) -> CK_RV {
    guard::run(
        format_args!("C_FindObjectsFinal(hSession={hSession})"),
        |m| m.find_final(hSession),
    )
}
