//! Reading a caller's `CK_MECHANISM`: the one unsafe step of mechanism parsing. [`Param`] wraps
//! the parameter the caller passed and offers only checked, safe reads; each mechanism family
//! (`crate::mechanism::*`) turns those reads into its typed [`Mechanism`] (Current Mechanisms
//! spec §2, each mechanism's parameter).

use super::args;
use crate::error::{Error, Result};
use crate::mechanism::Mechanism;
use crate::object::attr::Attribute;
use cryptoki_sys::*;
use std::marker::PhantomData;
use std::mem::size_of;

fn bad() -> Error {
    Error::new(CKR_MECHANISM_PARAM_INVALID)
}

/// Parameter structures every bit pattern of which is a valid value (integers, byte arrays and
/// raw pointers only), so [`Param::get`] may read them from any bytes the caller passed.
///
/// # Safety
/// Implement only for `#[repr(C)]` types made of integers, byte arrays and raw pointers.
pub unsafe trait Plain: Copy {}

// SAFETY: an integer.
unsafe impl Plain for CK_ULONG {}
// SAFETY: cryptoki-sys's `#[repr(C)]` structure of integers and a byte array; the structures
// below are `#[repr(C)]` structures of integers, byte arrays and raw pointers alike.
unsafe impl Plain for CK_AES_CTR_PARAMS {}
// SAFETY: see above.
unsafe impl Plain for CK_GCM_PARAMS {}
// SAFETY: see above.
unsafe impl Plain for CK_CCM_PARAMS {}
// SAFETY: see above.
unsafe impl Plain for CK_KEY_DERIVATION_STRING_DATA {}
// SAFETY: see above.
unsafe impl Plain for CK_AES_CBC_ENCRYPT_DATA_PARAMS {}
// SAFETY: see above.
unsafe impl Plain for CK_RSA_PKCS_OAEP_PARAMS {}
// SAFETY: see above.
unsafe impl Plain for CK_RSA_PKCS_PSS_PARAMS {}
// SAFETY: see above.
unsafe impl Plain for CK_ECDH1_DERIVE_PARAMS {}
// SAFETY: see above.
unsafe impl Plain for CK_EDDSA_PARAMS {}
// SAFETY: see above.
unsafe impl Plain for CK_HKDF_PARAMS {}
// SAFETY: see above.
unsafe impl Plain for CK_PKCS5_PBKD2_PARAMS2 {}
// SAFETY: see above (issue 12: CKM_RSA_AES_KEY_WRAP).
unsafe impl Plain for CK_RSA_AES_KEY_WRAP_PARAMS {}
// SAFETY: see above (SP 800-108 structures of cryptoki-sys, v3.0 header layout).
unsafe impl Plain for CK_SP800_108_KDF_PARAMS {}
// SAFETY: see above.
unsafe impl Plain for CK_SP800_108_FEEDBACK_KDF_PARAMS {}
// SAFETY: see above.
unsafe impl Plain for CK_PRF_DATA_PARAM {}
// SAFETY: see above.
unsafe impl Plain for CK_SP800_108_COUNTER_FORMAT {}
// SAFETY: see above.
unsafe impl Plain for CK_SP800_108_DKM_LENGTH_FORMAT {}
// SAFETY: see above.
unsafe impl Plain for CK_DERIVED_KEY {}

/// A caller's mechanism parameter (`pParameter`, `ulParameterLen`), valid for `'a`.
///
/// Made only by [`mechanism`], under its caller's guarantee that the parameter and every
/// pointer/length pair inside its structure are valid: that guarantee is what lets
/// [`Param::blob`] read the pointers a family finds in the structure.
#[derive(Debug)]
pub struct Param<'a> {
    ptr: *const u8,
    len: CK_ULONG,
    _caller: PhantomData<&'a [u8]>,
}

impl Param<'_> {
    /// No parameter at all (NULL and 0), as most mechanisms demand.
    pub fn none(&self) -> Result<()> {
        if self.ptr.is_null() && self.len == 0 {
            Ok(())
        } else {
            Err(bad())
        }
    }

    pub fn is_null(&self) -> bool {
        self.ptr.is_null()
    }

    /// The parameter as a `T`: it must be exactly `size_of::<T>()` bytes.
    pub fn get<T: Plain>(&self) -> Result<T> {
        if self.ptr.is_null() || self.len as usize != size_of::<T>() {
            return Err(bad());
        }
        // SAFETY: non-NULL and, per the guarantee `Param` was made under, exactly
        // size_of::<T>() readable bytes; read_unaligned because the caller's buffer need not be
        // aligned for T, and `Plain` says every bit pattern is a T.
        Ok(unsafe { std::ptr::read_unaligned(self.ptr as *const T) })
    }

    /// The parameter as a plain byte string.
    pub fn bytes(&self) -> Result<Vec<u8>> {
        self.blob(self.ptr, self.len)
    }

    /// The parameter as exactly `N` bytes (an IV).
    pub fn array<const N: usize>(&self) -> Result<[u8; N]> {
        self.bytes()?.as_slice().try_into().map_err(|_| bad())
    }

    /// The parameter structure a pointer of this one names, of `len` bytes, as a parameter of
    /// its own (`CK_RSA_AES_KEY_WRAP_PARAMS`'s OAEP parameters), so the family that owns that
    /// structure parses it. Like [`Param::blob`], `p` and `len` must come from the structure
    /// read by [`Param::get`]: the caller of [`mechanism`] vouched for its pointers.
    pub fn sub_param(&self, p: *const std::ffi::c_void, len: usize) -> Param<'_> {
        Param {
            ptr: p as *const u8,
            len: len as CK_ULONG,
            _caller: PhantomData,
        }
    }

    /// Bytes a pointer/length pair of the structure read by [`Param::get`] names; a bad pair is
    /// a bad parameter. `p` and `len` must come from that structure: the caller of
    /// [`mechanism`] vouched for those pairs, and for no other pointer. This is the one place the
    /// guarantee travels with a value rather than a signature: a `Param` exists only inside
    /// `mechanism`'s call, so the families, which hold no unsafe code, can read their own
    /// structures' pointers without each growing an `unsafe` block.
    #[allow(clippy::not_unsafe_ptr_arg_deref)]
    pub fn blob(&self, p: *const u8, len: CK_ULONG) -> Result<Vec<u8>> {
        // SAFETY: a pointer/length pair of this parameter, valid per the guarantee `Param` was
        // made under (see above).
        unsafe { args::bytes(p, len) }
            .map(<[u8]>::to_vec)
            .map_err(|_| bad())
    }

    /// An array of `n` structures a pointer of the structure read by [`Param::get`] names
    /// (SP 800-108's data parameters and additional keys); NULL only with `n == 0`. The same
    /// guarantee as [`Param::blob`] covers it.
    #[allow(clippy::not_unsafe_ptr_arg_deref)]
    pub fn items<T: Plain>(&self, p: *const T, n: CK_ULONG) -> Result<Vec<T>> {
        let count = usize::try_from(n).map_err(|_| bad())?;
        let bytes = count.checked_mul(size_of::<T>()).ok_or_else(bad)?;
        let raw = self.blob(p as *const u8, bytes as CK_ULONG)?;
        Ok(raw
            .chunks_exact(size_of::<T>())
            // SAFETY: each chunk is size_of::<T>() bytes and `Plain` says every bit pattern
            // is a T; read_unaligned because the copy has no alignment.
            .map(|c| unsafe { std::ptr::read_unaligned(c.as_ptr() as *const T) })
            .collect())
    }

    /// The value a `pValue`/`ulValueLen` pair of a nested structure names, as a `T`: exactly
    /// `size_of::<T>()` bytes (an SP 800-108 counter or DKM length format).
    #[allow(clippy::not_unsafe_ptr_arg_deref)]
    pub fn nested<T: Plain>(&self, p: *const std::ffi::c_void, len: CK_ULONG) -> Result<T> {
        if p.is_null() || len as usize != size_of::<T>() {
            return Err(bad());
        }
        let raw = self.blob(p as *const u8, len)?;
        // SAFETY: `raw` is exactly size_of::<T>() bytes; `Plain` says any bits are a T.
        Ok(unsafe { std::ptr::read_unaligned(raw.as_ptr() as *const T) })
    }

    /// A template a `CK_DERIVED_KEY` of the parameter names (SP 800-108 additional keys),
    /// parsed as C_DeriveKey's own template is.
    #[allow(clippy::not_unsafe_ptr_arg_deref)]
    pub fn template(&self, p: *const CK_ATTRIBUTE, n: CK_ULONG) -> Result<Vec<Attribute>> {
        if p.is_null() && n != 0 {
            return Err(bad());
        }
        // SAFETY: a pointer/count pair of this parameter, valid per the guarantee `Param`
        // was made under.
        unsafe { args::template(p, n) }
    }
}

/// The `CK_DERIVED_KEY` array of an SP 800-108 parameter, if the mechanism has one.
///
/// # Safety
/// As for [`mechanism`].
unsafe fn additional_keys(p: *const CK_MECHANISM) -> Option<(*mut CK_DERIVED_KEY, CK_ULONG)> {
    // SAFETY: caller guarantee.
    let m = unsafe { p.as_ref() }?;
    let param = Param {
        ptr: m.pParameter as *const u8,
        len: m.ulParameterLen,
        _caller: PhantomData,
    };
    match m.mechanism {
        CKM_SP800_108_COUNTER_KDF | CKM_SP800_108_DOUBLE_PIPELINE_KDF => {
            let k: CK_SP800_108_KDF_PARAMS = param.get().ok()?;
            Some((k.pAdditionalDerivedKeys, k.ulAdditionalDerivedKeys))
        }
        CKM_SP800_108_FEEDBACK_KDF => {
            let k: CK_SP800_108_FEEDBACK_KDF_PARAMS = param.get().ok()?;
            Some((k.pAdditionalDerivedKeys, k.ulAdditionalDerivedKeys))
        }
        _ => None,
    }
}

/// Write the handles of SP 800-108's additional derived keys back into the caller's
/// `CK_DERIVED_KEY` array (`phKey` of each, in order); `None` writes `CK_INVALID_HANDLE` to
/// every one, as the Current Mechanisms spec (§2.42, CK_DERIVED_KEY) asks after a failure.
/// The parser checked every `phKey` for NULL and the count against the handles the core made.
///
/// # Safety
/// As for [`mechanism`]; every `phKey` of the array is valid for a write.
pub unsafe fn deliver_additional_keys(
    p: *const CK_MECHANISM,
    handles: Option<&[CK_OBJECT_HANDLE]>,
) {
    // SAFETY: forwarded caller guarantee.
    let Some((keys, n)) = (unsafe { additional_keys(p) }) else {
        return;
    };
    if keys.is_null() {
        return;
    }
    // The parser refused more than 64 keys; the bound keeps a changed count harmless.
    for i in 0..(n as usize).min(64) {
        // SAFETY: the array holds `n` elements per the caller; read unaligned, as the parser
        // did.
        let k: CK_DERIVED_KEY = unsafe { std::ptr::read_unaligned(keys.add(i)) };
        if k.phKey.is_null() {
            continue;
        }
        let h = match handles {
            Some(hs) => hs.get(i).copied().unwrap_or(CK_INVALID_HANDLE),
            None => CK_INVALID_HANDLE,
        };
        // SAFETY: non-NULL and writable per the caller's guarantee.
        unsafe { std::ptr::write_unaligned(k.phKey, h) };
    }
}

/// Parse a caller's mechanism. Unknown types give `CKR_MECHANISM_INVALID`, wrong parameters
/// `CKR_MECHANISM_PARAM_INVALID`; the family that owns the type reads its parameter.
///
/// # Safety
/// `p` is NULL or a valid `CK_MECHANISM` whose parameter pointers are valid for their lengths.
pub unsafe fn mechanism(p: *const CK_MECHANISM) -> Result<Mechanism> {
    // SAFETY: caller guarantee.
    let m = unsafe { p.as_ref() }.ok_or(Error::new(CKR_ARGUMENTS_BAD))?;
    let param = Param {
        ptr: m.pParameter as *const u8,
        len: m.ulParameterLen,
        _caller: PhantomData,
    };
    crate::mechanism::parse(m.mechanism, &param)
}
