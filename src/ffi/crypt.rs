//! Encryption and decryption functions (PKCS#11 v3.0 §5.8, §5.9), single- and multi-part.
#![allow(non_snake_case)]

use super::guard;
use super::op::{self, Io};
use crate::module::op::{Decrypt, Encrypt};
use cryptoki_sys::*;

macro_rules! crypt_fns {
    ($family:ty, $init:ident, $one:ident, $update:ident, $final:ident) => {
        /// # Safety
        /// `pMechanism` is a valid `CK_MECHANISM` (parameter pointers valid for their lengths).
        #[no_mangle]
        pub unsafe extern "C" fn $init(
            hSession: CK_SESSION_HANDLE,
            pMechanism: *mut CK_MECHANISM,
            hKey: CK_OBJECT_HANDLE,
        ) -> CK_RV {
            guard::run_keyed(
                format_args!("{}(hSession={hSession}, hKey={hKey})", stringify!($init)),
                // SAFETY: forwarded caller guarantee.
                |m| unsafe { op::init::<$family>(m, hSession, pMechanism, hKey) },
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
            guard::run_keyed(
                format_args!("{}(hSession={hSession}, len={ulDataLen})", stringify!($one)),
                // SAFETY: forwarded caller guarantee.
                |m| unsafe {
                    op::single::<$family>(
                        m,
                        hSession,
                        pData,
                        ulDataLen,
                        Io::Output(pOut, pulOutLen),
                    )
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
            guard::run_keyed(
                format_args!(
                    "{}(hSession={hSession}, len={ulPartLen})",
                    stringify!($update)
                ),
                // SAFETY: forwarded caller guarantee.
                |m| unsafe {
                    op::update::<$family>(
                        m,
                        hSession,
                        pPart,
                        ulPartLen,
                        Io::Output(pOut, pulOutLen),
                    )
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
            guard::run_keyed(
                format_args!("{}(hSession={hSession})", stringify!($final)),
                // SAFETY: forwarded caller guarantee.
                |m| unsafe { op::finish::<$family>(m, hSession, Io::Output(pOut, pulOutLen)) },
            )
        }
    };
}

crypt_fns!(
    Encrypt,
    C_EncryptInit,
    C_Encrypt,
    C_EncryptUpdate,
    C_EncryptFinal
);
crypt_fns!(
    Decrypt,
    C_DecryptInit,
    C_Decrypt,
    C_DecryptUpdate,
    C_DecryptFinal
);
