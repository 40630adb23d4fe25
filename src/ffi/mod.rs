//! The C ABI: every exported `C_*` entry point, the function lists and the interfaces
//! (PKCS#11 v3.0 §5.4 `C_GetFunctionList`, `C_GetInterfaceList`, `C_GetInterface`).
//! The only unsafe code of the module lives below this directory.
#![allow(unsafe_code)]

pub mod args;
pub mod crypt;
pub mod digest;
pub mod general;
pub mod guard;
pub mod keymgmt;
pub mod mech;
pub mod message;
pub mod object;
pub mod op;
pub mod random;
pub mod session;
pub mod shm;
pub mod sign;
pub mod slot_token;
pub mod unsupported;

use crypt::*;
use cryptoki_sys::*;
use digest::*;
use general::*;
use keymgmt::*;
use message::*;
use object::*;
use random::*;
use session::*;
use sign::*;
use slot_token::*;
use unsupported::*;

macro_rules! function_list {
    ($ty:ident, $major:expr, $minor:expr; $($f:ident),* $(,)?) => {
        $ty { version: CK_VERSION { major: $major, minor: $minor }, $($f: Some($f),)* }
    };
}

macro_rules! v2_functions {
    ($ty:ident, $major:expr, $minor:expr; $($extra:ident),* $(,)?) => {
        function_list!($ty, $major, $minor;
            C_Initialize, C_Finalize, C_GetInfo, C_GetFunctionList, C_GetSlotList, C_GetSlotInfo,
            C_GetTokenInfo, C_GetMechanismList, C_GetMechanismInfo, C_InitToken, C_InitPIN,
            C_SetPIN, C_OpenSession, C_CloseSession, C_CloseAllSessions, C_GetSessionInfo,
            C_GetOperationState, C_SetOperationState, C_Login, C_Logout, C_CreateObject,
            C_CopyObject, C_DestroyObject, C_GetObjectSize, C_GetAttributeValue,
            C_SetAttributeValue, C_FindObjectsInit, C_FindObjects, C_FindObjectsFinal,
            C_EncryptInit, C_Encrypt, C_EncryptUpdate, C_EncryptFinal, C_DecryptInit, C_Decrypt,
            C_DecryptUpdate, C_DecryptFinal, C_DigestInit, C_Digest, C_DigestUpdate, C_DigestKey,
            C_DigestFinal, C_SignInit, C_Sign, C_SignUpdate, C_SignFinal, C_SignRecoverInit,
            C_SignRecover, C_VerifyInit, C_Verify, C_VerifyUpdate, C_VerifyFinal,
            C_VerifyRecoverInit, C_VerifyRecover, C_DigestEncryptUpdate, C_DecryptDigestUpdate,
            C_SignEncryptUpdate, C_DecryptVerifyUpdate, C_GenerateKey, C_GenerateKeyPair,
            C_WrapKey, C_UnwrapKey, C_DeriveKey, C_SeedRandom, C_GenerateRandom,
            C_GetFunctionStatus, C_CancelFunction, C_WaitForSlotEvent, $($extra),*
        )
    };
}

macro_rules! v3_functions {
    ($ty:ident, $major:expr, $minor:expr; $($extra:ident),* $(,)?) => {
        v2_functions!($ty, $major, $minor;
            C_GetInterfaceList, C_GetInterface, C_LoginUser, C_SessionCancel,
            C_MessageEncryptInit, C_EncryptMessage, C_EncryptMessageBegin, C_EncryptMessageNext,
            C_MessageEncryptFinal, C_MessageDecryptInit, C_DecryptMessage, C_DecryptMessageBegin,
            C_DecryptMessageNext, C_MessageDecryptFinal, C_MessageSignInit, C_SignMessage,
            C_SignMessageBegin, C_SignMessageNext, C_MessageSignFinal, C_MessageVerifyInit,
            C_VerifyMessage, C_VerifyMessageBegin, C_VerifyMessageNext, C_MessageVerifyFinal,
            $($extra),*
        )
    };
}

/// The v2.40 function list, returned by `C_GetFunctionList`.
pub static FUNCTION_LIST: CK_FUNCTION_LIST = v2_functions!(CK_FUNCTION_LIST, 2, 40;);

/// The v3.0 function list of the "PKCS 11" interface.
pub static FUNCTION_LIST_3_0: CK_FUNCTION_LIST_3_0 = v3_functions!(CK_FUNCTION_LIST_3_0, 3, 0;);

/// The v3.2 function list: v3.0 plus the 3.2 additions (not supported yet).
pub static FUNCTION_LIST_3_2: CK_FUNCTION_LIST_3_2 = v3_functions!(CK_FUNCTION_LIST_3_2, 3, 2;
    C_EncapsulateKey, C_DecapsulateKey, C_VerifySignatureInit, C_VerifySignature,
    C_VerifySignatureUpdate, C_VerifySignatureFinal, C_GetSessionValidationFlags,
    C_AsyncComplete, C_AsyncGetID, C_AsyncJoin, C_WrapKeyAuthenticated, C_UnwrapKeyAuthenticated,
);

static INTERFACE_NAME: &[u8] = b"PKCS 11\0";

/// The interfaces offered, default first: v3.0 is the default because it is what the module
/// implements; v3.2 and v2.40 are there for clients that ask for them.
pub struct Interfaces([CK_INTERFACE; 3]);

// SAFETY: the interfaces only point to immutable statics (the name and the function lists).
unsafe impl Sync for Interfaces {}

pub static INTERFACES: Interfaces = Interfaces([
    CK_INTERFACE {
        pInterfaceName: INTERFACE_NAME.as_ptr() as *mut CK_CHAR,
        pFunctionList: &FUNCTION_LIST_3_0 as *const CK_FUNCTION_LIST_3_0 as *mut std::ffi::c_void,
        flags: 0,
    },
    CK_INTERFACE {
        pInterfaceName: INTERFACE_NAME.as_ptr() as *mut CK_CHAR,
        pFunctionList: &FUNCTION_LIST_3_2 as *const CK_FUNCTION_LIST_3_2 as *mut std::ffi::c_void,
        flags: 0,
    },
    CK_INTERFACE {
        pInterfaceName: INTERFACE_NAME.as_ptr() as *mut CK_CHAR,
        pFunctionList: &FUNCTION_LIST as *const CK_FUNCTION_LIST as *mut std::ffi::c_void,
        flags: 0,
    },
]);

impl std::fmt::Debug for Interfaces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Interfaces")
    }
}

impl Interfaces {
    pub fn get(&self) -> &[CK_INTERFACE] {
        &self.0
    }

    fn version(i: &CK_INTERFACE) -> CK_VERSION {
        // SAFETY: every function list starts with its CK_VERSION, and every pFunctionList here
        // points to one of our static lists.
        unsafe { *(i.pFunctionList as *const CK_VERSION) }
    }

    /// The interface of that version (the default one when `None`) that has all `flags`.
    pub fn find(&self, version: Option<CK_VERSION>, flags: CK_FLAGS) -> Option<*mut CK_INTERFACE> {
        self.0
            .iter()
            .find(|i| {
                let v = Self::version(i);
                i.flags & flags == flags
                    && version.is_none_or(|w| w.major == v.major && w.minor == v.minor)
            })
            .map(|i| i as *const CK_INTERFACE as *mut CK_INTERFACE)
    }
}
