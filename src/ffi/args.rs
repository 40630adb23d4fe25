//! Turning raw C arguments into Rust values, once, for every entry point: pointer and length
//! checks, template parsing into typed attributes, and the output-buffer size-query convention
//! (PKCS#11 v3.0 §5.2 "Conventions for functions returning output in a variable-length buffer").

use crate::error::{fail, Error, Result};
use crate::object::attr::{kind_of, AttrKind, AttrValue, Attribute};
use cryptoki_sys::*;
use std::mem::size_of;

/// More attributes than any real template has; a larger count is a broken caller.
const MAX_TEMPLATE: CK_ULONG = 1 << 16;

/// A required output pointer.
///
/// # Safety
/// `p` is NULL or valid for writes of a `T` for the duration of the call.
pub unsafe fn out<'a, T>(p: *mut T) -> Result<&'a mut T> {
    // SAFETY: the caller guarantees validity when non-NULL.
    unsafe { p.as_mut() }.ok_or(Error::new(CKR_ARGUMENTS_BAD))
}

/// An input byte string; NULL is allowed only with length 0.
///
/// # Safety
/// `p` is NULL or valid for reads of `len` bytes for the duration of the call.
pub unsafe fn bytes<'a>(p: *const u8, len: CK_ULONG) -> Result<&'a [u8]> {
    if p.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            fail(CKR_ARGUMENTS_BAD)
        };
    }
    let len = usize::try_from(len).map_err(|_| Error::new(CKR_ARGUMENTS_BAD))?;
    if len > isize::MAX as usize {
        return fail(CKR_ARGUMENTS_BAD);
    }
    // SAFETY: non-NULL and, per the caller, valid for `len` bytes.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// An output byte buffer the caller gives with its length; NULL or a length beyond what a
/// Rust slice can describe (`isize::MAX`) is `CKR_ARGUMENTS_BAD`.
///
/// # Safety
/// `p` is NULL or valid for writes of `len` bytes for the duration of the call.
pub unsafe fn bytes_mut<'a>(p: *mut u8, len: CK_ULONG) -> Result<&'a mut [u8]> {
    let len = usize::try_from(len).map_err(|_| Error::new(CKR_ARGUMENTS_BAD))?;
    if p.is_null() || len > isize::MAX as usize {
        return fail(CKR_ARGUMENTS_BAD);
    }
    // SAFETY: non-NULL, at most isize::MAX bytes, and valid for writes per the caller.
    Ok(unsafe { std::slice::from_raw_parts_mut(p, len) })
}

/// A PIN. The token has no protected authentication path (its CK_TOKEN_INFO never sets
/// CKF_PROTECTED_AUTHENTICATION_PATH), so a NULL PIN is a broken call, not "ask the PIN pad":
/// `CKR_ARGUMENTS_BAD`, decided here before any token state is looked at, so it can never
/// count as a wrong PIN (§5.6 C_Login: "pPin ... may be NULL_PTR only with a protected
/// authentication path"). A non-NULL PIN of length 0 is a PIN like any other.
///
/// # Safety
/// As for [`bytes`].
pub unsafe fn pin<'a>(p: *const u8, len: CK_ULONG) -> Result<&'a [u8]> {
    if p.is_null() {
        return fail(CKR_ARGUMENTS_BAD);
    }
    // SAFETY: forwarded caller guarantee.
    unsafe { bytes(p, len) }
}

/// A caller's array of `CK_ATTRIBUTE`, copied out element by element: C callers may place it
/// at any address (a packed structure, a byte buffer), and a Rust slice or reference over a
/// misaligned `CK_ATTRIBUTE` is undefined behaviour. Callers that write results back (see
/// [`write_attr`]) do so unaligned as well.
///
/// # Safety
/// `p` is NULL or valid for reads of `n` attributes for the duration of the call.
pub unsafe fn attr_array(p: *const CK_ATTRIBUTE, n: CK_ULONG) -> Result<Vec<CK_ATTRIBUTE>> {
    if n > MAX_TEMPLATE {
        return fail(CKR_ARGUMENTS_BAD);
    }
    if p.is_null() {
        return if n == 0 {
            Ok(Vec::new())
        } else {
            fail(CKR_ARGUMENTS_BAD)
        };
    }
    Ok((0..n as usize)
        // SAFETY: non-NULL and, per the caller, valid for `n` attributes (n is bounded above),
        // so element `i < n` is in bounds; the read makes no assumption on alignment.
        .map(|i| unsafe { std::ptr::read_unaligned(p.add(i)) })
        .collect())
}

/// A template argument that cannot be read (NULL with a count, or a count beyond any template):
/// `CKR_ARGUMENTS_BAD`, judged before the mechanism so it is the answer whatever the mechanism.
pub fn template_given(p: *const CK_ATTRIBUTE, n: CK_ULONG) -> Result<()> {
    if n > MAX_TEMPLATE || (p.is_null() && n != 0) {
        return fail(CKR_ARGUMENTS_BAD);
    }
    Ok(())
}

/// Write attribute `i` of a caller's array back (C_GetAttributeValue), unaligned like
/// [`attr_array`] read it.
///
/// # Safety
/// `p` is valid for writes of more than `i` attributes.
pub unsafe fn write_attr(p: *mut CK_ATTRIBUTE, i: usize, a: CK_ATTRIBUTE) {
    // SAFETY: in bounds per the caller; no alignment assumed.
    unsafe { std::ptr::write_unaligned(p.add(i), a) }
}

/// Parse a template into typed attributes: unknown types give `CKR_ATTRIBUTE_TYPE_INVALID`,
/// values of the wrong size or a boolean other than 0/1 `CKR_ATTRIBUTE_VALUE_INVALID`.
///
/// # Safety
/// As for [`attr_array`]; each attribute's `pValue` is NULL or valid for `ulValueLen` bytes.
pub unsafe fn template(p: *const CK_ATTRIBUTE, n: CK_ULONG) -> Result<Vec<Attribute>> {
    // SAFETY: forwarded caller guarantee.
    let raw = unsafe { attr_array(p, n) }?;
    // SAFETY: forwarded caller guarantee.
    raw.iter().map(|a| unsafe { parse_attr(a, 0) }).collect()
}

/// # Safety
/// `a.pValue` is NULL or valid for `a.ulValueLen` bytes (nested templates likewise).
unsafe fn parse_attr(a: &CK_ATTRIBUTE, depth: u8) -> Result<Attribute> {
    let kind = kind_of(a.type_).ok_or(Error::new(CKR_ATTRIBUTE_TYPE_INVALID))?;
    if a.pValue.is_null() && a.ulValueLen != 0 {
        return fail(CKR_ATTRIBUTE_VALUE_INVALID);
    }
    // SAFETY: forwarded caller guarantee.
    let v = unsafe { bytes(a.pValue as *const u8, a.ulValueLen) }
        .map_err(|_| Error::new(CKR_ATTRIBUTE_VALUE_INVALID))?;
    let bad = || Error::new(CKR_ATTRIBUTE_VALUE_INVALID);
    let value = match kind {
        AttrKind::Bool => match v {
            [0] => AttrValue::Bool(false),
            [1] => AttrValue::Bool(true),
            _ => return Err(bad()),
        },
        AttrKind::Ulong => AttrValue::Ulong(read_ulong(v).ok_or_else(bad)?),
        AttrKind::Bytes | AttrKind::Date => AttrValue::Bytes(v.to_vec()),
        AttrKind::Mechanisms => {
            if v.len() % size_of::<CK_ULONG>() != 0 {
                return Err(bad());
            }
            AttrValue::Mechanisms(
                v.chunks_exact(size_of::<CK_ULONG>())
                    .filter_map(read_ulong)
                    .collect(),
            )
        }
        AttrKind::Template => {
            if depth > 0 || v.len() % size_of::<CK_ATTRIBUTE>() != 0 {
                return Err(bad());
            }
            let n = v.len() / size_of::<CK_ATTRIBUTE>();
            let mut inner = Vec::with_capacity(n);
            for i in 0..n {
                // SAFETY: `v` holds `n` whole CK_ATTRIBUTE structs (checked above); the read is
                // unaligned-safe because the bytes may not be aligned for the struct.
                let nested =
                    unsafe { std::ptr::read_unaligned((v.as_ptr() as *const CK_ATTRIBUTE).add(i)) };
                // SAFETY: nested values carry the same caller guarantee as the outer template.
                inner.push(unsafe { parse_attr(&nested, depth + 1) }?);
            }
            AttrValue::Template(inner)
        }
    };
    crate::object::attr::check_shape(a.type_, &value)?;
    Ok(Attribute::new(a.type_, value))
}

/// A native `CK_ULONG` from a caller's bytes, widened to the module's fixed 64 bits.
#[allow(clippy::useless_conversion)]
fn read_ulong(v: &[u8]) -> Option<u64> {
    let arr: [u8; size_of::<CK_ULONG>()] = v.try_into().ok()?;
    Some(u64::from(CK_ULONG::from_ne_bytes(arr)))
}

/// Write `data` to a caller buffer following the size-query convention: NULL `out` returns the
/// length with `CKR_OK`; a short buffer gives `CKR_BUFFER_TOO_SMALL` with the length.
///
/// # Safety
/// `out` is NULL or valid for writes of `*out_len` bytes; `out_len` is NULL or valid.
pub unsafe fn write_out(out: *mut u8, out_len: *mut CK_ULONG, data: &[u8]) -> Result<()> {
    // SAFETY: forwarded caller guarantee.
    let len = unsafe { self::out(out_len) }?;
    let need = data.len() as CK_ULONG;
    if out.is_null() {
        *len = need;
        return Ok(());
    }
    if *len < need {
        *len = need;
        return fail(CKR_BUFFER_TOO_SMALL);
    }
    // SAFETY: `out` is valid for `*len >= data.len()` bytes and cannot overlap our own `data`.
    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), out, data.len()) };
    *len = need;
    Ok(())
}

/// Copy a list of ulong-sized values to a caller array with the size-query convention.
///
/// # Safety
/// `out` is NULL or valid for writes of `*count` elements; `count` is NULL or valid.
pub unsafe fn write_list(
    out: *mut CK_ULONG,
    count: *mut CK_ULONG,
    items: &[CK_ULONG],
) -> Result<()> {
    // SAFETY: forwarded caller guarantee.
    let n = unsafe { self::out(count) }?;
    let need = items.len() as CK_ULONG;
    if out.is_null() {
        *n = need;
        return Ok(());
    }
    if *n < need {
        *n = need;
        return fail(CKR_BUFFER_TOO_SMALL);
    }
    // SAFETY: `out` holds at least `items.len()` elements.
    unsafe { std::ptr::copy_nonoverlapping(items.as_ptr(), out, items.len()) };
    *n = need;
    Ok(())
}

/// The bytes a typed value has in a `CK_ATTRIBUTE` (native-width ulongs, one-byte booleans).
pub fn value_bytes(v: &AttrValue) -> Vec<u8> {
    match v {
        AttrValue::Bool(b) => vec![u8::from(*b)],
        AttrValue::Ulong(u) => (*u as CK_ULONG).to_ne_bytes().to_vec(),
        AttrValue::Bytes(b) => b.clone(),
        AttrValue::Mechanisms(m) => m
            .iter()
            .flat_map(|x| (*x as CK_ULONG).to_ne_bytes())
            .collect(),
        // Templates are written attribute by attribute by the caller of this function.
        AttrValue::Template(_) => Vec::new(),
    }
}

/// The caller's capacity for output: `None` for a size query (NULL buffer).
///
/// # Safety
/// `out_len` is NULL or valid for reads.
pub unsafe fn capacity(out: *const u8, out_len: *const CK_ULONG) -> Result<Option<usize>> {
    // SAFETY: caller guarantee.
    let n = unsafe { out_len.as_ref() }.ok_or(Error::new(CKR_ARGUMENTS_BAD))?;
    if out.is_null() {
        return Ok(None);
    }
    Ok(Some(usize::try_from(*n).unwrap_or(usize::MAX)))
}

/// Deliver what an output-producing call gave: the length for a size query, the data, or
/// `CKR_BUFFER_TOO_SMALL` with the length needed.
///
/// # Safety
/// `out` is NULL or valid for writes of `*out_len` bytes; `out_len` is valid for writes.
pub unsafe fn deliver(
    out: *mut u8,
    out_len: *mut CK_ULONG,
    result: crate::mechanism::ops::Out,
) -> Result<()> {
    use crate::mechanism::ops::Out;
    // SAFETY: caller guarantee.
    let len = unsafe { self::out(out_len) }?;
    match result {
        Out::Len(n) => {
            *len = n as CK_ULONG;
            Ok(())
        }
        Out::TooSmall(n) => {
            *len = n as CK_ULONG;
            fail(CKR_BUFFER_TOO_SMALL)
        }
        Out::Data(d) => {
            if !d.is_empty() {
                if out.is_null() {
                    return fail(CKR_ARGUMENTS_BAD);
                }
                // SAFETY: the core checked that the caller's capacity (`*out_len`) holds `d`.
                unsafe { std::ptr::copy_nonoverlapping(d.as_ptr(), out, d.len()) };
            }
            *len = d.len() as CK_ULONG;
            Ok(())
        }
        Out::Written(n) => {
            *len = n as CK_ULONG;
            Ok(())
        }
    }
}
