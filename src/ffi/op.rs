//! The shared bodies of the operation entry points (PKCS#11 v3.0 §5.8-5.13): every exported
//! `C_*Init`, single-part call, `C_*Update` and `C_*Final` converts its arguments here and runs
//! the module's one operation flow (`module::op`) for its family.

use super::{args, mech};
use crate::error::Result;
use crate::mechanism::ops::Out;
use crate::mechanism::Mechanism;
use crate::module::op::{Family, Keyed};
use crate::module::Module;
use cryptoki_sys::*;

/// What a call has besides its data: an output buffer (size-query convention), the signature
/// a verification checks, or nothing.
#[derive(Debug, Clone, Copy)]
pub enum Io {
    Output(*mut CK_BYTE, *mut CK_ULONG),
    Signature(*const CK_BYTE, CK_ULONG),
    Nothing,
}

impl Io {
    /// The signature (empty without one) and the room for output (`Some(0)` for a call that
    /// has no output, `None` for a size query).
    ///
    /// # Safety
    /// The pointers are valid per the function's contract.
    pub(super) unsafe fn open<'a>(self) -> Result<(&'a [u8], Option<usize>)> {
        match self {
            // SAFETY: forwarded caller guarantee.
            Io::Output(p, n) => Ok((&[], unsafe { args::capacity(p, n) }?)),
            // SAFETY: forwarded caller guarantee.
            Io::Signature(p, n) => Ok((unsafe { args::bytes(p, n) }?, Some(0))),
            Io::Nothing => Ok((&[], Some(0))),
        }
    }

    /// The caller's output buffer as a slice of its whole capacity `cap`, when the operation
    /// may write its output there itself: only when it does not overlap `input` (callers
    /// often encrypt in place; a slice written while the input slice over the same bytes is
    /// alive is undefined behaviour, so those take the copying path).
    ///
    /// # Safety
    /// As for [`Io::open`], with `cap` what it returned.
    pub(super) unsafe fn direct<'a>(
        self,
        input: &[u8],
        cap: Option<usize>,
    ) -> Option<&'a mut [u8]> {
        let (Io::Output(p, _), Some(c)) = (self, cap) else {
            return None;
        };
        if p.is_null() || c == 0 {
            return None;
        }
        let (o, i) = (p as usize, input.as_ptr() as usize);
        let disjoint = o.checked_add(c).is_some_and(|end| end <= i)
            || i.checked_add(input.len()).is_some_and(|end| end <= o);
        if !disjoint {
            return None;
        }
        // SAFETY: non-NULL, valid for `c` bytes of writes per the caller (`*pulLen`), and
        // disjoint from the input slice.
        unsafe { args::bytes_mut(p, c as CK_ULONG) }.ok()
    }

    /// # Safety
    /// As for [`Io::open`].
    pub(super) unsafe fn deliver(self, out: Out) -> Result<()> {
        match self {
            // SAFETY: forwarded caller guarantee.
            Io::Output(p, n) => unsafe { args::deliver(p, n, out) },
            Io::Signature(..) | Io::Nothing => Ok(()),
        }
    }
}

/// A call whose arguments cannot be read has failed, and a failed call ends the operation
/// (v3.0 §5.2: only CKR_BUFFER_TOO_SMALL and a size query keep it).
fn ending<F: Family, T>(m: &Module, h: CK_SESSION_HANDLE, r: Result<T>) -> Result<T> {
    if r.is_err() {
        m.op_end::<F>(h);
    }
    r
}

/// The mechanism type and its typed form.
///
/// # Safety
/// `p` is a valid `CK_MECHANISM` (parameter pointers valid for their lengths).
pub unsafe fn mechanism(p: *mut CK_MECHANISM) -> Result<(CK_MECHANISM_TYPE, Mechanism)> {
    // SAFETY: forwarded caller guarantee.
    let mech = unsafe { mech::mechanism(p) }?;
    // SAFETY: non-NULL (checked by `mechanism`) and valid per the caller.
    let ty = unsafe { (*p).mechanism };
    Ok((ty, mech))
}

/// `C_*Init` of a family with a key.
///
/// # Safety
/// As for [`mechanism`].
pub unsafe fn init<F: Keyed>(
    m: &Module,
    h: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> Result<()> {
    m.check_session(h)?;
    // SAFETY: forwarded caller guarantee.
    let (ty, mech) = unsafe { mechanism(p_mechanism) }?;
    m.op_init::<F>(h, ty, &mech, key)
}

/// The single-part call: `data` for `data_len` bytes, then `io`.
///
/// # Safety
/// `data` valid for `data_len` bytes; `io` per its function's contract.
pub unsafe fn single<F: Family>(
    m: &Module,
    h: CK_SESSION_HANDLE,
    data: *const CK_BYTE,
    data_len: CK_ULONG,
    io: Io,
) -> Result<()> {
    // SAFETY: forwarded caller guarantee.
    let opened = unsafe { args::bytes(data, data_len) }
        // SAFETY: forwarded caller guarantee.
        .and_then(|d| unsafe { io.open() }.map(|(tail, cap)| (d, tail, cap)));
    let (data, tail, cap) = ending::<F, _>(m, h, opened)?;
    // SAFETY: forwarded caller guarantee (`cap` is the caller's `*pulLen`).
    let direct = unsafe { io.direct(data, cap) };
    let out = m.op_single::<F>(h, data, tail, cap, direct)?;
    // SAFETY: forwarded caller guarantee.
    unsafe { io.deliver(out) }
}

/// `C_*Update`: `part` for `part_len` bytes, then `io` (an output buffer or nothing).
///
/// # Safety
/// As for [`single`].
pub unsafe fn update<F: Family>(
    m: &Module,
    h: CK_SESSION_HANDLE,
    part: *const CK_BYTE,
    part_len: CK_ULONG,
    io: Io,
) -> Result<()> {
    // SAFETY: forwarded caller guarantee.
    let opened = unsafe { args::bytes(part, part_len) }
        // SAFETY: forwarded caller guarantee.
        .and_then(|d| unsafe { io.open() }.map(|(_, cap)| (d, cap)));
    let (data, cap) = ending::<F, _>(m, h, opened)?;
    let out = m.op_update::<F>(h, data, cap)?;
    // SAFETY: forwarded caller guarantee.
    unsafe { io.deliver(out) }
}

/// `C_*Final`: an output buffer, or the signature a verification checks.
///
/// # Safety
/// `io` per its function's contract.
pub unsafe fn finish<F: Family>(m: &Module, h: CK_SESSION_HANDLE, io: Io) -> Result<()> {
    // SAFETY: forwarded caller guarantee.
    let (tail, cap) = ending::<F, _>(m, h, unsafe { io.open() })?;
    let out = m.op_final::<F>(h, tail, cap)?;
    // SAFETY: forwarded caller guarantee.
    unsafe { io.deliver(out) }
}
