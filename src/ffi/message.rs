//! Message-based encryption and decryption (PKCS#11 v3.0 §5.11, §5.13) for AES-GCM and AES-CCM:
//! the per-message parameter (CK_GCM_MESSAGE_PARAMS / CK_CCM_MESSAGE_PARAMS) is read here, and
//! the IV the module generated and the tag it computed are written back into it.
#![allow(non_snake_case)]

use super::op::Io;
use super::{args, guard};
use crate::error::{Error, Result};
use crate::mechanism::message::{Aead, MessageParams};
use crate::module::{CryptKind, Module, Sealing};
use cryptoki_sys::*;
use std::ffi::c_void;
use std::mem::size_of;

fn bad() -> Error {
    Error::new(CKR_MECHANISM_PARAM_INVALID)
}

/// The caller's parameter structure, its pointers to the IV/nonce and tag/MAC buffers, and
/// the lengths of those buffers.
struct Raw {
    iv: *mut u8,
    iv_len: usize,
    tag: *mut u8,
    tag_len: usize,
}

/// Read the parameter structure as a `T`.
///
/// # Safety
/// `p` is NULL or valid for `len` bytes.
unsafe fn read<T: Copy>(p: *mut c_void, len: CK_ULONG) -> Result<T> {
    if p.is_null() || len as usize != size_of::<T>() {
        return Err(bad());
    }
    // SAFETY: non-NULL and exactly size_of::<T>() readable bytes; T is plain old data and the
    // caller's buffer need not be aligned for it.
    Ok(unsafe { std::ptr::read_unaligned(p as *const T) })
}

fn len(v: CK_ULONG) -> Result<usize> {
    usize::try_from(v).map_err(|_| bad())
}

/// The typed parameters of one message.
///
/// # Safety
/// `p` is NULL or valid for `plen` bytes, and the buffers it points to are valid for the
/// lengths it gives.
unsafe fn params(
    aead: Aead,
    kind: CryptKind,
    p: *mut c_void,
    plen: CK_ULONG,
) -> Result<(MessageParams, Raw)> {
    let (iv, iv_len, fixed_bits, generator, tag, tag_len, data_len) = match aead {
        Aead::Gcm => {
            // SAFETY: forwarded caller guarantee.
            let g: CK_GCM_MESSAGE_PARAMS = unsafe { read(p, plen) }?;
            if g.ulTagBits % 8 != 0 {
                return Err(bad());
            }
            let tag_len = len(g.ulTagBits / 8)?;
            let gen = g.ivGenerator;
            (
                g.pIv,
                len(g.ulIvLen)?,
                g.ulIvFixedBits,
                gen,
                g.pTag,
                tag_len,
                None,
            )
        }
        Aead::Ccm => {
            // SAFETY: forwarded caller guarantee.
            let c: CK_CCM_MESSAGE_PARAMS = unsafe { read(p, plen) }?;
            let gen = c.nonceGenerator;
            let data_len = Some(len(c.ulDataLen)?);
            let (n, nl, fb, m, ml) = (
                c.pNonce,
                c.ulNonceLen,
                c.ulNonceFixedBits,
                c.pMAC,
                c.ulMACLen,
            );
            (n, len(nl)?, fb, gen, m, len(ml)?, data_len)
        }
    };
    if iv.is_null() || tag.is_null() {
        return Err(bad());
    }
    // SAFETY: the caller guarantees the IV buffer holds its stated length.
    let iv_bytes = unsafe { args::bytes(iv, iv_len as CK_ULONG) }.map_err(|_| bad())?;
    let tag_bytes = match kind {
        // SAFETY: the caller guarantees the tag buffer holds its stated length.
        CryptKind::Decrypt => unsafe { args::bytes(tag, tag_len as CK_ULONG) }
            .map_err(|_| bad())?
            .to_vec(),
        CryptKind::Encrypt => vec![0; tag_len],
    };
    Ok((
        MessageParams {
            aead,
            iv: iv_bytes.to_vec(),
            fixed_bits,
            generator,
            tag: tag_bytes,
            data_len,
        },
        Raw {
            iv,
            iv_len,
            tag,
            tag_len,
        },
    ))
}

/// Write the generated IV and the tag back into the caller's buffers.
///
/// # Safety
/// `raw`'s pointers are valid for writes of their lengths.
unsafe fn seal_back(raw: &Raw, sealing: Sealing) {
    let Some((iv, tag)) = sealing else { return };
    if let Some(iv) = iv {
        if iv.len() == raw.iv_len {
            // SAFETY: the caller's IV buffer holds `iv_len` bytes and does not overlap ours.
            unsafe { std::ptr::copy_nonoverlapping(iv.as_ptr(), raw.iv, iv.len()) };
        }
    }
    if tag.len() == raw.tag_len {
        // SAFETY: the caller's tag buffer holds `tag_len` bytes and does not overlap ours.
        unsafe { std::ptr::copy_nonoverlapping(tag.as_ptr(), raw.tag, tag.len()) };
    }
}

/// # Safety
/// `pMechanism` is a valid `CK_MECHANISM`.
unsafe fn init(
    m: &Module,
    kind: CryptKind,
    h: CK_SESSION_HANDLE,
    pMechanism: *mut CK_MECHANISM,
    hKey: CK_OBJECT_HANDLE,
) -> Result<()> {
    m.check_session(h)?;
    // SAFETY: caller guarantee.
    let mech = unsafe { pMechanism.as_ref() }.ok_or(Error::new(CKR_ARGUMENTS_BAD))?;
    // The parameters come with each message; any given here are ignored, as the
    // specification allows for these mechanisms.
    m.message_init(h, kind, mech.mechanism, hKey)
}

/// One whole message.
///
/// # Safety
/// Every pointer is valid for its length; output per the size-query convention.
#[allow(clippy::too_many_arguments)]
unsafe fn one(
    m: &Module,
    kind: CryptKind,
    h: CK_SESSION_HANDLE,
    p: *mut c_void,
    pl: CK_ULONG,
    aad: *mut CK_BYTE,
    aad_len: CK_ULONG,
    data: *mut CK_BYTE,
    data_len: CK_ULONG,
    out: *mut CK_BYTE,
    out_len: *mut CK_ULONG,
) -> Result<()> {
    let aead = m.message_aead(h, kind)?;
    // SAFETY: forwarded caller guarantee.
    let (params, raw) = unsafe { params(aead, kind, p, pl) }?;
    // SAFETY: forwarded caller guarantee.
    let aad = unsafe { args::bytes(aad, aad_len) }?;
    // SAFETY: forwarded caller guarantee.
    let data = unsafe { args::bytes(data, data_len) }?;
    let io = Io::Output(out, out_len);
    // SAFETY: forwarded caller guarantee.
    let (_, cap) = unsafe { io.open() }?;
    let (o, sealing) = m.message(h, kind, &params, aad, data, cap)?;
    // SAFETY: forwarded caller guarantee.
    unsafe { io.deliver(o) }?;
    // SAFETY: the parameter's buffers are valid for their lengths (caller guarantee).
    unsafe { seal_back(&raw, sealing) };
    Ok(())
}

/// # Safety
/// Every pointer is valid for its length.
unsafe fn begin(
    m: &Module,
    kind: CryptKind,
    h: CK_SESSION_HANDLE,
    p: *mut c_void,
    pl: CK_ULONG,
    aad: *mut CK_BYTE,
    aad_len: CK_ULONG,
) -> Result<()> {
    let aead = m.message_aead(h, kind)?;
    // SAFETY: forwarded caller guarantee.
    let (params, _) = unsafe { params(aead, kind, p, pl) }?;
    // SAFETY: forwarded caller guarantee.
    let aad = unsafe { args::bytes(aad, aad_len) }?;
    m.message_begin(h, kind, params, aad)
}

/// # Safety
/// Every pointer is valid for its length; output per the size-query convention.
#[allow(clippy::too_many_arguments)]
unsafe fn next(
    m: &Module,
    kind: CryptKind,
    h: CK_SESSION_HANDLE,
    p: *mut c_void,
    pl: CK_ULONG,
    data: *mut CK_BYTE,
    data_len: CK_ULONG,
    out: *mut CK_BYTE,
    out_len: *mut CK_ULONG,
    flags: CK_FLAGS,
) -> Result<()> {
    let aead = m.message_aead(h, kind)?;
    // SAFETY: forwarded caller guarantee.
    let (params, raw) = unsafe { params(aead, kind, p, pl) }?;
    // SAFETY: forwarded caller guarantee.
    let data = unsafe { args::bytes(data, data_len) }?;
    let io = Io::Output(out, out_len);
    // SAFETY: forwarded caller guarantee.
    let (_, cap) = unsafe { io.open() }?;
    let last = flags & CKF_END_OF_MESSAGE != 0;
    let (o, sealing) = m.message_next(h, kind, &params, data, last, cap)?;
    // SAFETY: forwarded caller guarantee.
    unsafe { io.deliver(o) }?;
    // SAFETY: the parameter's buffers are valid for their lengths (caller guarantee).
    unsafe { seal_back(&raw, sealing) };
    Ok(())
}

macro_rules! message_fns {
    ($kind:expr, $init:ident, $one:ident, $begin:ident, $next:ident, $final:ident) => {
        /// # Safety
        /// `pMechanism` is a valid `CK_MECHANISM`.
        #[no_mangle]
        pub unsafe extern "C" fn $init(
            hSession: CK_SESSION_HANDLE,
            pMechanism: *mut CK_MECHANISM,
            hKey: CK_OBJECT_HANDLE,
        ) -> CK_RV {
            guard::run_secret(
                format_args!("{}(hSession={hSession}, hKey={hKey})", stringify!($init)),
                // SAFETY: forwarded caller guarantee.
                |m| unsafe { init(m, $kind, hSession, pMechanism, hKey) },
            )
        }

        /// # Safety
        /// Every pointer is valid for its length; output per the size-query convention.
        #[no_mangle]
        pub unsafe extern "C" fn $one(
            hSession: CK_SESSION_HANDLE,
            pParameter: *mut c_void,
            ulParameterLen: CK_ULONG,
            pAssociatedData: *mut CK_BYTE,
            ulAssociatedDataLen: CK_ULONG,
            pIn: *mut CK_BYTE,
            ulInLen: CK_ULONG,
            pOut: *mut CK_BYTE,
            pulOutLen: *mut CK_ULONG,
        ) -> CK_RV {
            guard::run_secret(
                format_args!("{}(hSession={hSession}, len={ulInLen})", stringify!($one)),
                // SAFETY: forwarded caller guarantee.
                |m| unsafe {
                    one(
                        m,
                        $kind,
                        hSession,
                        pParameter,
                        ulParameterLen,
                        pAssociatedData,
                        ulAssociatedDataLen,
                        pIn,
                        ulInLen,
                        pOut,
                        pulOutLen,
                    )
                },
            )
        }

        /// # Safety
        /// Every pointer is valid for its length.
        #[no_mangle]
        pub unsafe extern "C" fn $begin(
            hSession: CK_SESSION_HANDLE,
            pParameter: *mut c_void,
            ulParameterLen: CK_ULONG,
            pAssociatedData: *mut CK_BYTE,
            ulAssociatedDataLen: CK_ULONG,
        ) -> CK_RV {
            guard::run_secret(
                format_args!("{}(hSession={hSession})", stringify!($begin)),
                // SAFETY: forwarded caller guarantee.
                |m| unsafe {
                    begin(
                        m,
                        $kind,
                        hSession,
                        pParameter,
                        ulParameterLen,
                        pAssociatedData,
                        ulAssociatedDataLen,
                    )
                },
            )
        }

        /// # Safety
        /// Every pointer is valid for its length; output per the size-query convention.
        #[no_mangle]
        pub unsafe extern "C" fn $next(
            hSession: CK_SESSION_HANDLE,
            pParameter: *mut c_void,
            ulParameterLen: CK_ULONG,
            pIn: *mut CK_BYTE,
            ulInLen: CK_ULONG,
            pOut: *mut CK_BYTE,
            pulOutLen: *mut CK_ULONG,
            flags: CK_FLAGS,
        ) -> CK_RV {
            guard::run_secret(
                format_args!(
                    "{}(hSession={hSession}, len={ulInLen}, flags={flags:#x})",
                    stringify!($next)
                ),
                // SAFETY: forwarded caller guarantee.
                |m| unsafe {
                    next(
                        m,
                        $kind,
                        hSession,
                        pParameter,
                        ulParameterLen,
                        pIn,
                        ulInLen,
                        pOut,
                        pulOutLen,
                        flags,
                    )
                },
            )
        }

        #[no_mangle]
        pub extern "C" fn $final(hSession: CK_SESSION_HANDLE) -> CK_RV {
            guard::run_secret(
                format_args!("{}(hSession={hSession})", stringify!($final)),
                |m| m.message_final(hSession, $kind),
            )
        }
    };
}

message_fns!(
    CryptKind::Encrypt,
    C_MessageEncryptInit,
    C_EncryptMessage,
    C_EncryptMessageBegin,
    C_EncryptMessageNext,
    C_MessageEncryptFinal
);
message_fns!(
    CryptKind::Decrypt,
    C_MessageDecryptInit,
    C_DecryptMessage,
    C_DecryptMessageBegin,
    C_DecryptMessageNext,
    C_MessageDecryptFinal
);
