//! Encryption and decryption functions (PKCS#11 v3.0 §5.8, §5.9), single- and multi-part.
#![allow(non_snake_case)]

use super::{args, guard, mech};
use crate::module::CryptKind;
use cryptoki_sys::*;

macro_rules! crypt_fns {
    ($kind:expr, $init:ident, $one:ident, $update:ident, $final:ident) => {
        /// # Safety
        /// `pMechanism` is a valid `CK_MECHANISM` (parameter pointers valid for their lengths).
        #[no_mangle]
        pub unsafe extern "C" fn $init(
            hSession: CK_SESSION_HANDLE,
            pMechanism: *mut CK_MECHANISM,
            hKey: CK_OBJECT_HANDLE,
        ) -> CK_RV {
            guard::run_secret(
                format_args!("{}(hSession={hSession}, hKey={hKey})", stringify!($init)),
                |m| {
                    m.check_session(hSession)?;
                    // SAFETY: forwarded caller guarantee.
                    let mech = unsafe { mech::mechanism(pMechanism) }?;
                    // SAFETY: non-NULL (checked by `mechanism`) and valid per the caller.
                    let ty = unsafe { (*pMechanism).mechanism };
                    m.crypt_init(hSession, $kind, ty, &mech, hKey)
                },
            )
        }

        /// # Safety
        /// `pData` valid for `ulDataLen` bytes; output per the size-query convention.
        #[no_mangle]
        pub unsafe extern "C" fn $one(
            hSession: CK_SESSION_HANDLE,
            pData: *mut CK_BYTE,
            ulDataLen: CK_ULONG,
            pOut: *mut CK_BYTE,
            pulOutLen: *mut CK_ULONG,
        ) -> CK_RV {
            guard::run_secret(
                format_args!("{}(hSession={hSession}, len={ulDataLen})", stringify!($one)),
                |m| {
                    // SAFETY: forwarded caller guarantee.
                    let data = unsafe { args::bytes(pData, ulDataLen) }?;
                    // SAFETY: forwarded caller guarantee.
                    let cap = unsafe { args::capacity(pOut, pulOutLen) }?;
                    let out = m.crypt(hSession, $kind, data, cap)?;
                    // SAFETY: forwarded caller guarantee.
                    unsafe { args::deliver(pOut, pulOutLen, out) }
                },
            )
        }

        /// # Safety
        /// `pPart` valid for `ulPartLen` bytes; output per the size-query convention.
        #[no_mangle]
        pub unsafe extern "C" fn $update(
            hSession: CK_SESSION_HANDLE,
            pPart: *mut CK_BYTE,
            ulPartLen: CK_ULONG,
            pOut: *mut CK_BYTE,
            pulOutLen: *mut CK_ULONG,
        ) -> CK_RV {
            guard::run_secret(
                format_args!(
                    "{}(hSession={hSession}, len={ulPartLen})",
                    stringify!($update)
                ),
                |m| {
                    // SAFETY: forwarded caller guarantee.
                    let data = unsafe { args::bytes(pPart, ulPartLen) }?;
                    // SAFETY: forwarded caller guarantee.
                    let cap = unsafe { args::capacity(pOut, pulOutLen) }?;
                    let out = m.crypt_update(hSession, $kind, data, cap)?;
                    // SAFETY: forwarded caller guarantee.
                    unsafe { args::deliver(pOut, pulOutLen, out) }
                },
            )
        }

        /// # Safety
        /// Output per the size-query convention.
        #[no_mangle]
        pub unsafe extern "C" fn $final(
            hSession: CK_SESSION_HANDLE,
            pOut: *mut CK_BYTE,
            pulOutLen: *mut CK_ULONG,
        ) -> CK_RV {
            guard::run_secret(
                format_args!("{}(hSession={hSession})", stringify!($final)),
                |m| {
                    // SAFETY: forwarded caller guarantee.
                    let cap = unsafe { args::capacity(pOut, pulOutLen) }?;
                    let out = m.crypt_final(hSession, $kind, cap)?;
                    // SAFETY: forwarded caller guarantee.
                    unsafe { args::deliver(pOut, pulOutLen, out) }
                },
            )
        }
    };
}

crypt_fns!(
    CryptKind::Encrypt,
    C_EncryptInit,
    C_Encrypt,
    C_EncryptUpdate,
    C_EncryptFinal
);
crypt_fns!(
    CryptKind::Decrypt,
    C_DecryptInit,
    C_Decrypt,
    C_DecryptUpdate,
    C_DecryptFinal
);
