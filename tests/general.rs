//! PKCS#11 v3.0 §5.4 (general-purpose functions: C_Initialize, C_Finalize, C_GetInfo,
//! C_GetFunctionList, C_GetInterfaceList, C_GetInterface) and §5.20 (legacy functions), tested
//! through the raw ABI because the `cryptoki` crate cannot call them out of order or with bad
//! arguments.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use cryptoki_sys::*;
use std::ffi::c_void;
use std::ptr::{null_mut, NonNull};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Arguments of C_Initialize with only flags set.
fn init_args(flags: CK_FLAGS) -> CK_C_INITIALIZE_ARGS {
    CK_C_INITIALIZE_ARGS {
        CreateMutex: None,
        DestroyMutex: None,
        LockMutex: None,
        UnlockMutex: None,
        flags,
        pReserved: null_mut(),
    }
}

fn initialize_with(raw: &Raw, args: &mut CK_C_INITIALIZE_ARGS) -> CK_RV {
    ck!(
        raw,
        C_Initialize((args as *mut CK_C_INITIALIZE_ARGS).cast())
    )
}

/// `CK_UTF8CHAR` fields are blank padded, never NUL terminated (§3.2).
#[track_caller]
fn assert_padded(field: &[u8], text: &str) {
    assert!(
        field.len() >= text.len() && &field[..text.len()] == text.as_bytes(),
        "field {:?} does not start with {text:?}",
        String::from_utf8_lossy(field)
    );
    assert!(
        field[text.len()..].iter().all(|&b| b == b' '),
        "field {:?} is not blank padded after {text:?}",
        String::from_utf8_lossy(field)
    );
}

#[test]
fn initialize_twice_returns_already_initialized() {
    let _env = TestEnv::new();
    let raw = Raw::load();
    assert_rv(raw.initialize(), CKR_OK);
    assert_rv(raw.initialize(), CKR_CRYPTOKI_ALREADY_INITIALIZED);
    assert_rv(raw.finalize(), CKR_OK);
    // A finalized module can be initialized again, once.
    assert_rv(raw.initialize(), CKR_OK);
    assert_rv(raw.initialize(), CKR_CRYPTOKI_ALREADY_INITIALIZED);
    assert_rv(raw.finalize(), CKR_OK);
}

#[test]
fn calls_before_initialize_return_not_initialized() {
    let _env = TestEnv::new();
    let raw = Raw::load();
    let mut info = CK_INFO::default();
    assert_rv(ck!(raw, C_GetInfo(&mut info)), CKR_CRYPTOKI_NOT_INITIALIZED);
    let mut count: CK_ULONG = 0;
    assert_rv(
        ck!(raw, C_GetSlotList(CK_FALSE, null_mut(), &mut count)),
        CKR_CRYPTOKI_NOT_INITIALIZED,
    );
    let mut slot_info = CK_SLOT_INFO::default();
    assert_rv(
        ck!(raw, C_GetSlotInfo(0, &mut slot_info)),
        CKR_CRYPTOKI_NOT_INITIALIZED,
    );
    let (rv, _) = raw_token_info(&raw, 0);
    assert_rv(rv, CKR_CRYPTOKI_NOT_INITIALIZED);
    let (rv, _) = raw.open_session(0, CKF_SERIAL_SESSION);
    assert_rv(rv, CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_rv(
        ck!(raw, C_CloseAllSessions(0)),
        CKR_CRYPTOKI_NOT_INITIALIZED,
    );
    assert_rv(ck!(raw, C_CloseSession(1)), CKR_CRYPTOKI_NOT_INITIALIZED);
    let mut s = CK_SESSION_INFO::default();
    assert_rv(
        ck!(raw, C_GetSessionInfo(1, &mut s)),
        CKR_CRYPTOKI_NOT_INITIALIZED,
    );
    let mut slot: CK_SLOT_ID = 0;
    assert_rv(
        ck!(
            raw,
            C_WaitForSlotEvent(CKF_DONT_BLOCK, &mut slot, null_mut())
        ),
        CKR_CRYPTOKI_NOT_INITIALIZED,
    );
    assert_rv(raw.finalize(), CKR_CRYPTOKI_NOT_INITIALIZED);

    // The same after C_Finalize.
    assert_rv(raw.initialize(), CKR_OK);
    assert_rv(ck!(raw, C_GetInfo(&mut info)), CKR_OK);
    assert_rv(raw.finalize(), CKR_OK);
    assert_rv(ck!(raw, C_GetInfo(&mut info)), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_rv(raw.finalize(), CKR_CRYPTOKI_NOT_INITIALIZED);
}

#[test]
fn function_list_and_interfaces_work_before_initialize() {
    let _env = TestEnv::new();
    let raw = Raw::load();
    let mut list: *mut CK_FUNCTION_LIST = null_mut();
    // SAFETY: list is a valid out pointer.
    let rv = unsafe { raw.lib().C_GetFunctionList(&mut list) };
    assert_rv(rv, CKR_OK);
    assert!(!list.is_null());
    let mut count: CK_ULONG = 0;
    assert_rv(ck!(raw, C_GetInterfaceList(null_mut(), &mut count)), CKR_OK);
    assert!(count >= 1);
}

#[test]
fn initialize_with_reserved_pointer_is_arguments_bad() {
    let _env = TestEnv::new();
    let raw = Raw::load();
    let mut junk = 0u64;
    let mut args = init_args(CKF_OS_LOCKING_OK);
    args.pReserved = (&mut junk as *mut u64).cast();
    assert_rv(initialize_with(&raw, &mut args), CKR_ARGUMENTS_BAD);
    // The failed call left the module uninitialized, and a correct one still works.
    let mut info = CK_INFO::default();
    assert_rv(ck!(raw, C_GetInfo(&mut info)), CKR_CRYPTOKI_NOT_INITIALIZED);
    let mut args = init_args(CKF_OS_LOCKING_OK);
    assert_rv(initialize_with(&raw, &mut args), CKR_OK);
    assert_rv(raw.finalize(), CKR_OK);
}

#[test]
fn finalize_with_reserved_pointer_is_arguments_bad() {
    let _env = TestEnv::new();
    let raw = Raw::load();
    assert_rv(raw.initialize(), CKR_OK);
    let mut junk = 0u64;
    assert_rv(
        ck!(raw, C_Finalize((&mut junk as *mut u64).cast())),
        CKR_ARGUMENTS_BAD,
    );
    // Still initialized.
    let mut info = CK_INFO::default();
    assert_rv(ck!(raw, C_GetInfo(&mut info)), CKR_OK);
    assert_rv(raw.finalize(), CKR_OK);
}

#[test]
fn initialize_accepts_os_locking_ok_and_null_args() {
    let _env = TestEnv::new();
    let raw = Raw::load();
    let mut args = init_args(CKF_OS_LOCKING_OK);
    assert_rv(initialize_with(&raw, &mut args), CKR_OK);
    assert_rv(raw.finalize(), CKR_OK);
    // Flags 0 and no callbacks: the application will not call from several threads.
    let mut args = init_args(0);
    assert_rv(initialize_with(&raw, &mut args), CKR_OK);
    assert_rv(raw.finalize(), CKR_OK);
    assert_rv(raw.initialize(), CKR_OK);
    assert_rv(raw.finalize(), CKR_OK);
}

#[test]
fn initialize_with_some_but_not_all_mutex_callbacks_is_arguments_bad() {
    let _env = TestEnv::new();
    let raw = Raw::load();
    let mut args = init_args(CKF_OS_LOCKING_OK);
    args.CreateMutex = Some(create_mutex);
    args.LockMutex = Some(lock_mutex);
    assert_rv(initialize_with(&raw, &mut args), CKR_ARGUMENTS_BAD);
    let mut args = init_args(0);
    args.DestroyMutex = Some(destroy_mutex);
    assert_rv(initialize_with(&raw, &mut args), CKR_ARGUMENTS_BAD);
}

static CREATED: AtomicUsize = AtomicUsize::new(0);
static DESTROYED: AtomicUsize = AtomicUsize::new(0);
static LOCKS: AtomicUsize = AtomicUsize::new(0);
static UNLOCKS: AtomicUsize = AtomicUsize::new(0);

/// Application mutex callbacks (§5.4 C_Initialize) built on a spin lock, counting their calls.
unsafe extern "C" fn create_mutex(out: *mut *mut c_void) -> CK_RV {
    if out.is_null() {
        return CKR_ARGUMENTS_BAD;
    }
    CREATED.fetch_add(1, Ordering::SeqCst);
    let m = Box::into_raw(Box::new(AtomicBool::new(false)));
    // SAFETY: the module passes a valid out pointer, checked non-NULL above.
    unsafe { *out = m.cast() };
    CKR_OK
}

unsafe extern "C" fn destroy_mutex(m: *mut c_void) -> CK_RV {
    let Some(m) = NonNull::new(m.cast::<AtomicBool>()) else {
        return CKR_MUTEX_BAD;
    };
    DESTROYED.fetch_add(1, Ordering::SeqCst);
    // SAFETY: created by create_mutex with Box::into_raw and destroyed once.
    drop(unsafe { Box::from_raw(m.as_ptr()) });
    CKR_OK
}

unsafe extern "C" fn lock_mutex(m: *mut c_void) -> CK_RV {
    let Some(m) = NonNull::new(m.cast::<AtomicBool>()) else {
        return CKR_MUTEX_BAD;
    };
    // SAFETY: a live mutex made by create_mutex.
    let flag = unsafe { m.as_ref() };
    while flag
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        std::thread::yield_now();
    }
    LOCKS.fetch_add(1, Ordering::SeqCst);
    CKR_OK
}

unsafe extern "C" fn unlock_mutex(m: *mut c_void) -> CK_RV {
    let Some(m) = NonNull::new(m.cast::<AtomicBool>()) else {
        return CKR_MUTEX_BAD;
    };
    // SAFETY: a live mutex made by create_mutex.
    let flag = unsafe { m.as_ref() };
    if !flag.swap(false, Ordering::Release) {
        return CKR_MUTEX_NOT_LOCKED;
    }
    UNLOCKS.fetch_add(1, Ordering::SeqCst);
    CKR_OK
}

#[test]
fn initialize_with_application_mutex_callbacks_uses_them() {
    let _env = TestEnv::new();
    let raw = Raw::load();
    let mut args = init_args(0);
    args.CreateMutex = Some(create_mutex);
    args.DestroyMutex = Some(destroy_mutex);
    args.LockMutex = Some(lock_mutex);
    args.UnlockMutex = Some(unlock_mutex);
    let rv = initialize_with(&raw, &mut args);
    // Flags 0 with callbacks: the specification lets a module use them or refuse with
    // CKR_CANT_LOCK; ferrohsm uses them (README, function table), so anything else is a bug.
    assert_rv(rv, CKR_OK);
    // Work from several threads so the module has something to lock.
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                let raw = Raw::load();
                for _ in 0..50 {
                    let mut slots = [0 as CK_SLOT_ID; 8];
                    let mut count = slots.len() as CK_ULONG;
                    assert_rv(
                        ck!(raw, C_GetSlotList(CK_FALSE, slots.as_mut_ptr(), &mut count)),
                        CKR_OK,
                    );
                    assert!(count >= 1);
                    let (rv, _) = raw_token_info(&raw, slots[0]);
                    assert_rv(rv, CKR_OK);
                    let (rv, h) = raw.open_session(slots[0], CKF_SERIAL_SESSION);
                    if rv == CKR_OK {
                        assert_rv(ck!(raw, C_CloseSession(h)), CKR_OK);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("worker thread");
    }
    assert!(
        CREATED.load(Ordering::SeqCst) > 0,
        "CKF_OS_LOCKING_OK clear and callbacks given, but the module never called CreateMutex"
    );
    assert!(LOCKS.load(Ordering::SeqCst) > 0, "LockMutex never called");
    assert_eq!(
        LOCKS.load(Ordering::SeqCst),
        UNLOCKS.load(Ordering::SeqCst),
        "every LockMutex is followed by UnlockMutex once the calls have returned"
    );
    assert_rv(raw.finalize(), CKR_OK);
    assert!(
        DESTROYED.load(Ordering::SeqCst) <= CREATED.load(Ordering::SeqCst),
        "more mutexes destroyed than created"
    );
}

#[test]
fn get_info_reports_version_manufacturer_and_crate_version() {
    let _env = TestEnv::new();
    let raw = Raw::load();
    assert_rv(raw.initialize(), CKR_OK);
    let mut info = CK_INFO::default();
    assert_rv(ck!(raw, C_GetInfo(&mut info)), CKR_OK);
    assert_eq!(
        (info.cryptokiVersion.major, info.cryptokiVersion.minor),
        (3, 0),
        "cryptokiVersion"
    );
    assert_padded(&info.manufacturerID, "ferrohsm");
    assert_eq!(info.flags, 0, "CK_INFO.flags is reserved and must be zero");
    let description = String::from_utf8_lossy(&info.libraryDescription);
    assert!(
        !description.trim().is_empty(),
        "libraryDescription is empty"
    );
    assert!(
        !info.libraryDescription.contains(&0),
        "libraryDescription must be blank padded, not NUL terminated"
    );
    let (major, minor) = {
        let mut parts = env!("CARGO_PKG_VERSION").split('.');
        let major: u8 = parts.next().and_then(|p| p.parse().ok()).expect("major");
        let minor: u8 = parts.next().and_then(|p| p.parse().ok()).expect("minor");
        (major, minor)
    };
    assert_eq!(
        (info.libraryVersion.major, info.libraryVersion.minor),
        (major, minor),
        "libraryVersion is the crate version"
    );
    assert_rv(ck!(raw, C_GetInfo(null_mut())), CKR_ARGUMENTS_BAD);
    assert_rv(raw.finalize(), CKR_OK);
}

/// The 2.40 entries, in list order.
macro_rules! entries_2_40 {
    ($list:expr) => {
        [
            ("C_Initialize", $list.C_Initialize.is_some()),
            ("C_Finalize", $list.C_Finalize.is_some()),
            ("C_GetInfo", $list.C_GetInfo.is_some()),
            ("C_GetFunctionList", $list.C_GetFunctionList.is_some()),
            ("C_GetSlotList", $list.C_GetSlotList.is_some()),
            ("C_GetSlotInfo", $list.C_GetSlotInfo.is_some()),
            ("C_GetTokenInfo", $list.C_GetTokenInfo.is_some()),
            ("C_GetMechanismList", $list.C_GetMechanismList.is_some()),
            ("C_GetMechanismInfo", $list.C_GetMechanismInfo.is_some()),
            ("C_InitToken", $list.C_InitToken.is_some()),
            ("C_InitPIN", $list.C_InitPIN.is_some()),
            ("C_SetPIN", $list.C_SetPIN.is_some()),
            ("C_OpenSession", $list.C_OpenSession.is_some()),
            ("C_CloseSession", $list.C_CloseSession.is_some()),
            ("C_CloseAllSessions", $list.C_CloseAllSessions.is_some()),
            ("C_GetSessionInfo", $list.C_GetSessionInfo.is_some()),
            ("C_GetOperationState", $list.C_GetOperationState.is_some()),
            ("C_SetOperationState", $list.C_SetOperationState.is_some()),
            ("C_Login", $list.C_Login.is_some()),
            ("C_Logout", $list.C_Logout.is_some()),
            ("C_CreateObject", $list.C_CreateObject.is_some()),
            ("C_CopyObject", $list.C_CopyObject.is_some()),
            ("C_DestroyObject", $list.C_DestroyObject.is_some()),
            ("C_GetObjectSize", $list.C_GetObjectSize.is_some()),
            ("C_GetAttributeValue", $list.C_GetAttributeValue.is_some()),
            ("C_SetAttributeValue", $list.C_SetAttributeValue.is_some()),
            ("C_FindObjectsInit", $list.C_FindObjectsInit.is_some()),
            ("C_FindObjects", $list.C_FindObjects.is_some()),
            ("C_FindObjectsFinal", $list.C_FindObjectsFinal.is_some()),
            ("C_EncryptInit", $list.C_EncryptInit.is_some()),
            ("C_Encrypt", $list.C_Encrypt.is_some()),
            ("C_EncryptUpdate", $list.C_EncryptUpdate.is_some()),
            ("C_EncryptFinal", $list.C_EncryptFinal.is_some()),
            ("C_DecryptInit", $list.C_DecryptInit.is_some()),
            ("C_Decrypt", $list.C_Decrypt.is_some()),
            ("C_DecryptUpdate", $list.C_DecryptUpdate.is_some()),
            ("C_DecryptFinal", $list.C_DecryptFinal.is_some()),
            ("C_DigestInit", $list.C_DigestInit.is_some()),
            ("C_Digest", $list.C_Digest.is_some()),
            ("C_DigestUpdate", $list.C_DigestUpdate.is_some()),
            ("C_DigestKey", $list.C_DigestKey.is_some()),
            ("C_DigestFinal", $list.C_DigestFinal.is_some()),
            ("C_SignInit", $list.C_SignInit.is_some()),
            ("C_Sign", $list.C_Sign.is_some()),
            ("C_SignUpdate", $list.C_SignUpdate.is_some()),
            ("C_SignFinal", $list.C_SignFinal.is_some()),
            ("C_SignRecoverInit", $list.C_SignRecoverInit.is_some()),
            ("C_SignRecover", $list.C_SignRecover.is_some()),
            ("C_VerifyInit", $list.C_VerifyInit.is_some()),
            ("C_Verify", $list.C_Verify.is_some()),
            ("C_VerifyUpdate", $list.C_VerifyUpdate.is_some()),
            ("C_VerifyFinal", $list.C_VerifyFinal.is_some()),
            ("C_VerifyRecoverInit", $list.C_VerifyRecoverInit.is_some()),
            ("C_VerifyRecover", $list.C_VerifyRecover.is_some()),
            (
                "C_DigestEncryptUpdate",
                $list.C_DigestEncryptUpdate.is_some(),
            ),
            (
                "C_DecryptDigestUpdate",
                $list.C_DecryptDigestUpdate.is_some(),
            ),
            ("C_SignEncryptUpdate", $list.C_SignEncryptUpdate.is_some()),
            (
                "C_DecryptVerifyUpdate",
                $list.C_DecryptVerifyUpdate.is_some(),
            ),
            ("C_GenerateKey", $list.C_GenerateKey.is_some()),
            ("C_GenerateKeyPair", $list.C_GenerateKeyPair.is_some()),
            ("C_WrapKey", $list.C_WrapKey.is_some()),
            ("C_UnwrapKey", $list.C_UnwrapKey.is_some()),
            ("C_DeriveKey", $list.C_DeriveKey.is_some()),
            ("C_SeedRandom", $list.C_SeedRandom.is_some()),
            ("C_GenerateRandom", $list.C_GenerateRandom.is_some()),
            ("C_GetFunctionStatus", $list.C_GetFunctionStatus.is_some()),
            ("C_CancelFunction", $list.C_CancelFunction.is_some()),
            ("C_WaitForSlotEvent", $list.C_WaitForSlotEvent.is_some()),
        ]
    };
}

/// The entries added in 3.0, in list order.
macro_rules! entries_3_0 {
    ($list:expr) => {
        [
            ("C_GetInterfaceList", $list.C_GetInterfaceList.is_some()),
            ("C_GetInterface", $list.C_GetInterface.is_some()),
            ("C_LoginUser", $list.C_LoginUser.is_some()),
            ("C_SessionCancel", $list.C_SessionCancel.is_some()),
            ("C_MessageEncryptInit", $list.C_MessageEncryptInit.is_some()),
            ("C_EncryptMessage", $list.C_EncryptMessage.is_some()),
            (
                "C_EncryptMessageBegin",
                $list.C_EncryptMessageBegin.is_some(),
            ),
            ("C_EncryptMessageNext", $list.C_EncryptMessageNext.is_some()),
            (
                "C_MessageEncryptFinal",
                $list.C_MessageEncryptFinal.is_some(),
            ),
            ("C_MessageDecryptInit", $list.C_MessageDecryptInit.is_some()),
            ("C_DecryptMessage", $list.C_DecryptMessage.is_some()),
            (
                "C_DecryptMessageBegin",
                $list.C_DecryptMessageBegin.is_some(),
            ),
            ("C_DecryptMessageNext", $list.C_DecryptMessageNext.is_some()),
            (
                "C_MessageDecryptFinal",
                $list.C_MessageDecryptFinal.is_some(),
            ),
            ("C_MessageSignInit", $list.C_MessageSignInit.is_some()),
            ("C_SignMessage", $list.C_SignMessage.is_some()),
            ("C_SignMessageBegin", $list.C_SignMessageBegin.is_some()),
            ("C_SignMessageNext", $list.C_SignMessageNext.is_some()),
            ("C_MessageSignFinal", $list.C_MessageSignFinal.is_some()),
            ("C_MessageVerifyInit", $list.C_MessageVerifyInit.is_some()),
            ("C_VerifyMessage", $list.C_VerifyMessage.is_some()),
            ("C_VerifyMessageBegin", $list.C_VerifyMessageBegin.is_some()),
            ("C_VerifyMessageNext", $list.C_VerifyMessageNext.is_some()),
            ("C_MessageVerifyFinal", $list.C_MessageVerifyFinal.is_some()),
        ]
    };
}

/// The entries added in 3.2, in list order.
macro_rules! entries_3_2 {
    ($list:expr) => {
        [
            ("C_EncapsulateKey", $list.C_EncapsulateKey.is_some()),
            ("C_DecapsulateKey", $list.C_DecapsulateKey.is_some()),
            (
                "C_VerifySignatureInit",
                $list.C_VerifySignatureInit.is_some(),
            ),
            ("C_VerifySignature", $list.C_VerifySignature.is_some()),
            (
                "C_VerifySignatureUpdate",
                $list.C_VerifySignatureUpdate.is_some(),
            ),
            (
                "C_VerifySignatureFinal",
                $list.C_VerifySignatureFinal.is_some(),
            ),
            (
                "C_GetSessionValidationFlags",
                $list.C_GetSessionValidationFlags.is_some(),
            ),
            ("C_AsyncComplete", $list.C_AsyncComplete.is_some()),
            ("C_AsyncGetID", $list.C_AsyncGetID.is_some()),
            ("C_AsyncJoin", $list.C_AsyncJoin.is_some()),
            (
                "C_WrapKeyAuthenticated",
                $list.C_WrapKeyAuthenticated.is_some(),
            ),
            (
                "C_UnwrapKeyAuthenticated",
                $list.C_UnwrapKeyAuthenticated.is_some(),
            ),
        ]
    };
}

#[track_caller]
fn assert_no_null(which: &str, entries: &[(&str, bool)]) {
    let missing: Vec<&str> = entries
        .iter()
        .filter(|(_, present)| !present)
        .map(|(name, _)| *name)
        .collect();
    assert!(missing.is_empty(), "{which}: NULL entries {missing:?}");
}

#[test]
fn get_function_list_returns_a_complete_2_40_list() {
    let _env = TestEnv::new();
    let raw = Raw::load();
    let mut list: *mut CK_FUNCTION_LIST = null_mut();
    // SAFETY: a valid out pointer.
    assert_rv(unsafe { raw.lib().C_GetFunctionList(&mut list) }, CKR_OK);
    assert!(!list.is_null(), "C_GetFunctionList returned NULL");
    // SAFETY: the module returned a non-NULL list that lives as long as the library.
    let list = unsafe { &*list };
    assert_eq!(
        (list.version.major, list.version.minor),
        (2, 40),
        "C_GetFunctionList returns the 2.40 list"
    );
    assert_no_null("C_GetFunctionList", &entries_2_40!(list));
    // SAFETY: NULL is the case under test.
    assert_rv(
        unsafe { raw.lib().C_GetFunctionList(null_mut()) },
        CKR_ARGUMENTS_BAD,
    );
}

#[test]
fn get_interface_list_offers_pkcs11_3_0_with_complete_lists() {
    let _env = TestEnv::new();
    let raw = Raw::load();
    let mut count: CK_ULONG = 0;
    assert_rv(ck!(raw, C_GetInterfaceList(null_mut(), &mut count)), CKR_OK);
    assert!(count >= 1, "no interface offered");
    // A buffer one too small reports the size needed.
    let mut small = vec![
        CK_INTERFACE {
            pInterfaceName: null_mut(),
            pFunctionList: null_mut(),
            flags: 0,
        };
        count as usize
    ];
    let mut short = count - 1;
    assert_rv(
        ck!(raw, C_GetInterfaceList(small.as_mut_ptr(), &mut short)),
        CKR_BUFFER_TOO_SMALL,
    );
    assert_eq!(short, count, "BUFFER_TOO_SMALL sets the count needed");
    assert_rv(
        ck!(raw, C_GetInterfaceList(null_mut(), null_mut())),
        CKR_ARGUMENTS_BAD,
    );

    let mut got = count;
    assert_rv(
        ck!(raw, C_GetInterfaceList(small.as_mut_ptr(), &mut got)),
        CKR_OK,
    );
    assert_eq!(got, count);
    let mut saw_3_0 = false;
    for iface in &small[..got as usize] {
        assert!(!iface.pInterfaceName.is_null(), "interface without a name");
        assert!(!iface.pFunctionList.is_null(), "interface without a list");
        // SAFETY: a NUL-terminated name owned by the module.
        let name = unsafe { std::ffi::CStr::from_ptr(iface.pInterfaceName.cast()) }
            .to_string_lossy()
            .into_owned();
        if name != "PKCS 11" {
            continue;
        }
        // Every PKCS 11 list begins with its CK_VERSION.
        // SAFETY: pFunctionList points to a CK_FUNCTION_LIST* whose first field is the version.
        let version = unsafe { *(iface.pFunctionList as *const CK_VERSION) };
        match (version.major, version.minor) {
            (2, 40) => {
                // SAFETY: a 2.40 list.
                let l = unsafe { &*(iface.pFunctionList as *const CK_FUNCTION_LIST) };
                assert_no_null("PKCS 11 2.40", &entries_2_40!(l));
            }
            (3, 0) => {
                saw_3_0 = true;
                // SAFETY: a 3.0 list.
                let l = unsafe { &*(iface.pFunctionList as *const CK_FUNCTION_LIST_3_0) };
                assert_no_null("PKCS 11 3.0", &entries_2_40!(l));
                assert_no_null("PKCS 11 3.0", &entries_3_0!(l));
            }
            (3, 2) => {
                // SAFETY: a 3.2 list.
                let l = unsafe { &*(iface.pFunctionList as *const CK_FUNCTION_LIST_3_2) };
                assert_no_null("PKCS 11 3.2", &entries_2_40!(l));
                assert_no_null("PKCS 11 3.2", &entries_3_0!(l));
                assert_no_null("PKCS 11 3.2", &entries_3_2!(l));
            }
            (major, minor) => panic!("unexpected PKCS 11 interface version {major}.{minor}"),
        }
    }
    assert!(
        saw_3_0,
        "no \"PKCS 11\" 3.0 interface in C_GetInterfaceList"
    );
}

#[test]
fn get_interface_finds_pkcs11_3_0_and_the_default() {
    let _env = TestEnv::new();
    let raw = Raw::load();
    let mut name = *b"PKCS 11\0";
    let mut version = CK_VERSION { major: 3, minor: 0 };
    let mut iface: *mut CK_INTERFACE = null_mut();
    assert_rv(
        ck!(
            raw,
            C_GetInterface(name.as_mut_ptr(), &mut version, &mut iface, 0)
        ),
        CKR_OK,
    );
    assert!(!iface.is_null());
    // SAFETY: non-NULL interface owned by the module.
    let found = unsafe { &*iface };
    // SAFETY: NUL-terminated name owned by the module.
    let found_name = unsafe { std::ffi::CStr::from_ptr(found.pInterfaceName.cast()) };
    assert_eq!(found_name.to_bytes(), b"PKCS 11");
    // SAFETY: a 3.0 list was asked for.
    let list = unsafe { &*(found.pFunctionList as *const CK_FUNCTION_LIST_3_0) };
    assert_eq!((list.version.major, list.version.minor), (3, 0));
    assert_no_null("C_GetInterface 3.0", &entries_2_40!(list));
    assert_no_null("C_GetInterface 3.0", &entries_3_0!(list));

    // NULL name and version: the default interface, a PKCS 11 list of version 3.x or 2.40.
    let mut default: *mut CK_INTERFACE = null_mut();
    assert_rv(
        ck!(raw, C_GetInterface(null_mut(), null_mut(), &mut default, 0)),
        CKR_OK,
    );
    assert!(!default.is_null());

    // Name only: some version of "PKCS 11".
    let mut any: *mut CK_INTERFACE = null_mut();
    assert_rv(
        ck!(
            raw,
            C_GetInterface(name.as_mut_ptr(), null_mut(), &mut any, 0)
        ),
        CKR_OK,
    );
    assert!(!any.is_null());

    // No such interface, no such version, no output pointer: not CKR_OK.
    let mut bogus = *b"No Such Interface\0";
    let mut none: *mut CK_INTERFACE = null_mut();
    let rv = ck!(
        raw,
        C_GetInterface(bogus.as_mut_ptr(), null_mut(), &mut none, 0)
    );
    assert_ne!(rv, CKR_OK, "an unknown interface name was found");
    let mut v9 = CK_VERSION { major: 9, minor: 9 };
    let rv = ck!(
        raw,
        C_GetInterface(name.as_mut_ptr(), &mut v9, &mut none, 0)
    );
    assert_ne!(rv, CKR_OK, "interface version 9.9 was found");
    assert_rv(
        ck!(
            raw,
            C_GetInterface(name.as_mut_ptr(), &mut version, null_mut(), 0)
        ),
        CKR_ARGUMENTS_BAD,
    );
}

/// What each session function of `call_all_session_functions` answers for a session handle
/// that was never opened, with NULL pointers and zero lengths for everything else. Both
/// CKR_ARGUMENTS_BAD and CKR_SESSION_HANDLE_INVALID apply to many of these calls and the
/// specification does not order them; the rows pin the order each entry point checks in today
/// (the PIN functions and the data-carrying calls convert their buffers first), so a change of
/// order is seen. The functions the module does not implement are CKR_FUNCTION_NOT_SUPPORTED.
const BOGUS_SESSION: &[(&str, CK_RV)] = &[
    ("C_InitPIN", CKR_ARGUMENTS_BAD),
    ("C_SetPIN", CKR_ARGUMENTS_BAD),
    ("C_GetSessionInfo", CKR_SESSION_HANDLE_INVALID),
    ("C_GetOperationState", CKR_ARGUMENTS_BAD),
    ("C_SetOperationState", CKR_ARGUMENTS_BAD),
    ("C_Login", CKR_ARGUMENTS_BAD),
    ("C_CreateObject", CKR_SESSION_HANDLE_INVALID),
    ("C_CopyObject", CKR_SESSION_HANDLE_INVALID),
    ("C_DestroyObject", CKR_SESSION_HANDLE_INVALID),
    ("C_GetObjectSize", CKR_SESSION_HANDLE_INVALID),
    ("C_GetAttributeValue", CKR_SESSION_HANDLE_INVALID),
    ("C_SetAttributeValue", CKR_SESSION_HANDLE_INVALID),
    ("C_FindObjects", CKR_SESSION_HANDLE_INVALID),
    ("C_FindObjectsFinal", CKR_SESSION_HANDLE_INVALID),
    ("C_EncryptInit", CKR_SESSION_HANDLE_INVALID),
    ("C_Encrypt", CKR_ARGUMENTS_BAD),
    ("C_EncryptUpdate", CKR_ARGUMENTS_BAD),
    ("C_EncryptFinal", CKR_ARGUMENTS_BAD),
    ("C_DecryptInit", CKR_SESSION_HANDLE_INVALID),
    ("C_Decrypt", CKR_ARGUMENTS_BAD),
    ("C_DecryptUpdate", CKR_ARGUMENTS_BAD),
    ("C_DecryptFinal", CKR_ARGUMENTS_BAD),
    ("C_DigestInit", CKR_SESSION_HANDLE_INVALID),
    ("C_Digest", CKR_ARGUMENTS_BAD),
    ("C_DigestUpdate", CKR_SESSION_HANDLE_INVALID),
    ("C_DigestKey", CKR_SESSION_HANDLE_INVALID),
    ("C_DigestFinal", CKR_ARGUMENTS_BAD),
    ("C_SignInit", CKR_SESSION_HANDLE_INVALID),
    ("C_Sign", CKR_ARGUMENTS_BAD),
    ("C_SignUpdate", CKR_SESSION_HANDLE_INVALID),
    ("C_SignFinal", CKR_ARGUMENTS_BAD),
    ("C_SignRecoverInit", CKR_SESSION_HANDLE_INVALID),
    ("C_SignRecover", CKR_ARGUMENTS_BAD),
    ("C_VerifyInit", CKR_SESSION_HANDLE_INVALID),
    ("C_Verify", CKR_SESSION_HANDLE_INVALID),
    ("C_VerifyUpdate", CKR_SESSION_HANDLE_INVALID),
    ("C_VerifyFinal", CKR_SESSION_HANDLE_INVALID),
    ("C_VerifyRecoverInit", CKR_SESSION_HANDLE_INVALID),
    ("C_VerifyRecover", CKR_ARGUMENTS_BAD),
    ("C_DigestEncryptUpdate", CKR_FUNCTION_NOT_SUPPORTED),
    ("C_DecryptDigestUpdate", CKR_FUNCTION_NOT_SUPPORTED),
    ("C_SignEncryptUpdate", CKR_FUNCTION_NOT_SUPPORTED),
    ("C_DecryptVerifyUpdate", CKR_FUNCTION_NOT_SUPPORTED),
    ("C_GenerateKey", CKR_SESSION_HANDLE_INVALID),
    ("C_GenerateKeyPair", CKR_SESSION_HANDLE_INVALID),
    ("C_WrapKey", CKR_SESSION_HANDLE_INVALID),
    ("C_UnwrapKey", CKR_SESSION_HANDLE_INVALID),
    ("C_DeriveKey", CKR_SESSION_HANDLE_INVALID),
    ("C_SeedRandom", CKR_SESSION_HANDLE_INVALID),
    ("C_GenerateRandom", CKR_SESSION_HANDLE_INVALID),
    ("C_LoginUser", CKR_ARGUMENTS_BAD),
    ("C_MessageEncryptInit", CKR_SESSION_HANDLE_INVALID),
    ("C_EncryptMessage", CKR_SESSION_HANDLE_INVALID),
    ("C_EncryptMessageBegin", CKR_SESSION_HANDLE_INVALID),
    ("C_EncryptMessageNext", CKR_SESSION_HANDLE_INVALID),
    ("C_MessageEncryptFinal", CKR_SESSION_HANDLE_INVALID),
    ("C_MessageDecryptInit", CKR_SESSION_HANDLE_INVALID),
    ("C_DecryptMessage", CKR_SESSION_HANDLE_INVALID),
    ("C_DecryptMessageBegin", CKR_SESSION_HANDLE_INVALID),
    ("C_DecryptMessageNext", CKR_SESSION_HANDLE_INVALID),
    ("C_MessageDecryptFinal", CKR_SESSION_HANDLE_INVALID),
    ("C_MessageSignInit", CKR_FUNCTION_NOT_SUPPORTED),
    ("C_SignMessage", CKR_FUNCTION_NOT_SUPPORTED),
    ("C_SignMessageBegin", CKR_FUNCTION_NOT_SUPPORTED),
    ("C_SignMessageNext", CKR_FUNCTION_NOT_SUPPORTED),
    ("C_MessageSignFinal", CKR_FUNCTION_NOT_SUPPORTED),
    ("C_MessageVerifyInit", CKR_FUNCTION_NOT_SUPPORTED),
    ("C_VerifyMessage", CKR_FUNCTION_NOT_SUPPORTED),
    ("C_VerifyMessageBegin", CKR_FUNCTION_NOT_SUPPORTED),
    ("C_VerifyMessageNext", CKR_FUNCTION_NOT_SUPPORTED),
    ("C_MessageVerifyFinal", CKR_FUNCTION_NOT_SUPPORTED),
];

/// The same calls on an open R/W session of an initialized token with no operation active and no
/// login: NULL where the call needs a pointer is CKR_ARGUMENTS_BAD; a call whose pointers may be
/// NULL meets the next check (no such object, no active operation). C_GenerateRandom of zero
/// bytes succeeds, and so does C_SeedRandom of an empty seed.
const VALID_SESSION: &[(&str, CK_RV)] = &[
    ("C_InitPIN", CKR_ARGUMENTS_BAD),
    ("C_SetPIN", CKR_ARGUMENTS_BAD),
    ("C_GetSessionInfo", CKR_ARGUMENTS_BAD),
    ("C_GetOperationState", CKR_ARGUMENTS_BAD),
    ("C_SetOperationState", CKR_ARGUMENTS_BAD),
    ("C_Login", CKR_ARGUMENTS_BAD),
    ("C_CreateObject", CKR_ARGUMENTS_BAD),
    ("C_CopyObject", CKR_ARGUMENTS_BAD),
    ("C_DestroyObject", CKR_OBJECT_HANDLE_INVALID),
    ("C_GetObjectSize", CKR_ARGUMENTS_BAD),
    ("C_GetAttributeValue", CKR_OBJECT_HANDLE_INVALID),
    ("C_SetAttributeValue", CKR_OBJECT_HANDLE_INVALID),
    ("C_FindObjects", CKR_ARGUMENTS_BAD),
    ("C_FindObjectsFinal", CKR_OPERATION_NOT_INITIALIZED),
    ("C_EncryptInit", CKR_ARGUMENTS_BAD),
    ("C_Encrypt", CKR_ARGUMENTS_BAD),
    ("C_EncryptUpdate", CKR_ARGUMENTS_BAD),
    ("C_EncryptFinal", CKR_ARGUMENTS_BAD),
    ("C_DecryptInit", CKR_ARGUMENTS_BAD),
    ("C_Decrypt", CKR_ARGUMENTS_BAD),
    ("C_DecryptUpdate", CKR_ARGUMENTS_BAD),
    ("C_DecryptFinal", CKR_ARGUMENTS_BAD),
    ("C_DigestInit", CKR_ARGUMENTS_BAD),
    ("C_Digest", CKR_ARGUMENTS_BAD),
    ("C_DigestUpdate", CKR_OPERATION_NOT_INITIALIZED),
    ("C_DigestKey", CKR_OPERATION_NOT_INITIALIZED),
    ("C_DigestFinal", CKR_ARGUMENTS_BAD),
    ("C_SignInit", CKR_ARGUMENTS_BAD),
    ("C_Sign", CKR_ARGUMENTS_BAD),
    ("C_SignUpdate", CKR_OPERATION_NOT_INITIALIZED),
    ("C_SignFinal", CKR_ARGUMENTS_BAD),
    ("C_SignRecoverInit", CKR_ARGUMENTS_BAD),
    ("C_SignRecover", CKR_ARGUMENTS_BAD),
    ("C_VerifyInit", CKR_ARGUMENTS_BAD),
    ("C_Verify", CKR_OPERATION_NOT_INITIALIZED),
    ("C_VerifyUpdate", CKR_OPERATION_NOT_INITIALIZED),
    ("C_VerifyFinal", CKR_OPERATION_NOT_INITIALIZED),
    ("C_VerifyRecoverInit", CKR_ARGUMENTS_BAD),
    ("C_VerifyRecover", CKR_ARGUMENTS_BAD),
    ("C_DigestEncryptUpdate", CKR_FUNCTION_NOT_SUPPORTED),
    ("C_DecryptDigestUpdate", CKR_FUNCTION_NOT_SUPPORTED),
    ("C_SignEncryptUpdate", CKR_FUNCTION_NOT_SUPPORTED),
    ("C_DecryptVerifyUpdate", CKR_FUNCTION_NOT_SUPPORTED),
    ("C_GenerateKey", CKR_ARGUMENTS_BAD),
    ("C_GenerateKeyPair", CKR_ARGUMENTS_BAD),
    ("C_WrapKey", CKR_ARGUMENTS_BAD),
    ("C_UnwrapKey", CKR_ARGUMENTS_BAD),
    ("C_DeriveKey", CKR_ARGUMENTS_BAD),
    ("C_SeedRandom", CKR_OK),
    ("C_GenerateRandom", CKR_OK),
    ("C_LoginUser", CKR_ARGUMENTS_BAD),
    ("C_MessageEncryptInit", CKR_ARGUMENTS_BAD),
    ("C_EncryptMessage", CKR_OPERATION_NOT_INITIALIZED),
    ("C_EncryptMessageBegin", CKR_OPERATION_NOT_INITIALIZED),
    ("C_EncryptMessageNext", CKR_OPERATION_NOT_INITIALIZED),
    ("C_MessageEncryptFinal", CKR_OPERATION_NOT_INITIALIZED),
    ("C_MessageDecryptInit", CKR_ARGUMENTS_BAD),
    ("C_DecryptMessage", CKR_OPERATION_NOT_INITIALIZED),
    ("C_DecryptMessageBegin", CKR_OPERATION_NOT_INITIALIZED),
    ("C_DecryptMessageNext", CKR_OPERATION_NOT_INITIALIZED),
    ("C_MessageDecryptFinal", CKR_OPERATION_NOT_INITIALIZED),
    ("C_MessageSignInit", CKR_FUNCTION_NOT_SUPPORTED),
    ("C_SignMessage", CKR_FUNCTION_NOT_SUPPORTED),
    ("C_SignMessageBegin", CKR_FUNCTION_NOT_SUPPORTED),
    ("C_SignMessageNext", CKR_FUNCTION_NOT_SUPPORTED),
    ("C_MessageSignFinal", CKR_FUNCTION_NOT_SUPPORTED),
    ("C_MessageVerifyInit", CKR_FUNCTION_NOT_SUPPORTED),
    ("C_VerifyMessage", CKR_FUNCTION_NOT_SUPPORTED),
    ("C_VerifyMessageBegin", CKR_FUNCTION_NOT_SUPPORTED),
    ("C_VerifyMessageNext", CKR_FUNCTION_NOT_SUPPORTED),
    ("C_MessageVerifyFinal", CKR_FUNCTION_NOT_SUPPORTED),
];

/// Call every function that takes a session handle first, with this handle and NULL/zero for
/// everything else. Returns (name, rv) per function.
fn call_all_session_functions(raw: &Raw, h: CK_SESSION_HANDLE) -> Vec<(&'static str, CK_RV)> {
    let mut v: Vec<(&'static str, CK_RV)> = Vec::new();
    macro_rules! call {
        ($f:ident($($a:expr),*)) => {
            v.push((stringify!($f), ck!(raw, $f(h $(, $a)*))));
        };
    }
    call!(C_InitPIN(null_mut(), 0));
    call!(C_SetPIN(null_mut(), 0, null_mut(), 0));
    call!(C_GetSessionInfo(null_mut()));
    call!(C_GetOperationState(null_mut(), null_mut()));
    call!(C_SetOperationState(null_mut(), 0, 0, 0));
    call!(C_Login(CKU_USER, null_mut(), 0));
    call!(C_CreateObject(null_mut(), 0, null_mut()));
    call!(C_CopyObject(0, null_mut(), 0, null_mut()));
    call!(C_DestroyObject(0));
    call!(C_GetObjectSize(0, null_mut()));
    call!(C_GetAttributeValue(0, null_mut(), 0));
    call!(C_SetAttributeValue(0, null_mut(), 0));
    call!(C_FindObjects(null_mut(), 0, null_mut()));
    call!(C_FindObjectsFinal());
    call!(C_EncryptInit(null_mut(), 0));
    call!(C_Encrypt(null_mut(), 0, null_mut(), null_mut()));
    call!(C_EncryptUpdate(null_mut(), 0, null_mut(), null_mut()));
    call!(C_EncryptFinal(null_mut(), null_mut()));
    call!(C_DecryptInit(null_mut(), 0));
    call!(C_Decrypt(null_mut(), 0, null_mut(), null_mut()));
    call!(C_DecryptUpdate(null_mut(), 0, null_mut(), null_mut()));
    call!(C_DecryptFinal(null_mut(), null_mut()));
    call!(C_DigestInit(null_mut()));
    call!(C_Digest(null_mut(), 0, null_mut(), null_mut()));
    call!(C_DigestUpdate(null_mut(), 0));
    call!(C_DigestKey(0));
    call!(C_DigestFinal(null_mut(), null_mut()));
    call!(C_SignInit(null_mut(), 0));
    call!(C_Sign(null_mut(), 0, null_mut(), null_mut()));
    call!(C_SignUpdate(null_mut(), 0));
    call!(C_SignFinal(null_mut(), null_mut()));
    call!(C_SignRecoverInit(null_mut(), 0));
    call!(C_SignRecover(null_mut(), 0, null_mut(), null_mut()));
    call!(C_VerifyInit(null_mut(), 0));
    call!(C_Verify(null_mut(), 0, null_mut(), 0));
    call!(C_VerifyUpdate(null_mut(), 0));
    call!(C_VerifyFinal(null_mut(), 0));
    call!(C_VerifyRecoverInit(null_mut(), 0));
    call!(C_VerifyRecover(null_mut(), 0, null_mut(), null_mut()));
    call!(C_DigestEncryptUpdate(null_mut(), 0, null_mut(), null_mut()));
    call!(C_DecryptDigestUpdate(null_mut(), 0, null_mut(), null_mut()));
    call!(C_SignEncryptUpdate(null_mut(), 0, null_mut(), null_mut()));
    call!(C_DecryptVerifyUpdate(null_mut(), 0, null_mut(), null_mut()));
    call!(C_GenerateKey(null_mut(), null_mut(), 0, null_mut()));
    call!(C_GenerateKeyPair(
        null_mut(),
        null_mut(),
        0,
        null_mut(),
        0,
        null_mut(),
        null_mut()
    ));
    call!(C_WrapKey(null_mut(), 0, 0, null_mut(), null_mut()));
    call!(C_UnwrapKey(
        null_mut(),
        0,
        null_mut(),
        0,
        null_mut(),
        0,
        null_mut()
    ));
    call!(C_DeriveKey(null_mut(), 0, null_mut(), 0, null_mut()));
    call!(C_SeedRandom(null_mut(), 0));
    call!(C_GenerateRandom(null_mut(), 0));
    call!(C_LoginUser(CKU_USER, null_mut(), 0, null_mut(), 0));
    call!(C_MessageEncryptInit(null_mut(), 0));
    call!(C_EncryptMessage(
        null_mut(),
        0,
        null_mut(),
        0,
        null_mut(),
        0,
        null_mut(),
        null_mut()
    ));
    call!(C_EncryptMessageBegin(null_mut(), 0, null_mut(), 0));
    call!(C_EncryptMessageNext(
        null_mut(),
        0,
        null_mut(),
        0,
        null_mut(),
        null_mut(),
        0
    ));
    call!(C_MessageEncryptFinal());
    call!(C_MessageDecryptInit(null_mut(), 0));
    call!(C_DecryptMessage(
        null_mut(),
        0,
        null_mut(),
        0,
        null_mut(),
        0,
        null_mut(),
        null_mut()
    ));
    call!(C_DecryptMessageBegin(null_mut(), 0, null_mut(), 0));
    call!(C_DecryptMessageNext(
        null_mut(),
        0,
        null_mut(),
        0,
        null_mut(),
        null_mut(),
        0
    ));
    call!(C_MessageDecryptFinal());
    call!(C_MessageSignInit(null_mut(), 0));
    call!(C_SignMessage(
        null_mut(),
        0,
        null_mut(),
        0,
        null_mut(),
        null_mut()
    ));
    call!(C_SignMessageBegin(null_mut(), 0));
    call!(C_SignMessageNext(
        null_mut(),
        0,
        null_mut(),
        0,
        null_mut(),
        null_mut()
    ));
    call!(C_MessageSignFinal());
    call!(C_MessageVerifyInit(null_mut(), 0));
    call!(C_VerifyMessage(null_mut(), 0, null_mut(), 0, null_mut(), 0));
    call!(C_VerifyMessageBegin(null_mut(), 0));
    call!(C_VerifyMessageNext(
        null_mut(),
        0,
        null_mut(),
        0,
        null_mut(),
        0
    ));
    call!(C_MessageVerifyFinal());
    v
}

#[test]
fn every_session_function_rejects_an_invalid_session_handle_without_crashing() {
    let _env = TestEnv::new();
    let raw = Raw::load();
    assert_rv(raw.initialize(), CKR_OK);
    let bogus: CK_SESSION_HANDLE = 0x00de_ad00;
    let got = call_all_session_functions(&raw, bogus);
    assert_codes(&got, BOGUS_SESSION);
    assert_rv(ck!(raw, C_CloseSession(bogus)), CKR_SESSION_HANDLE_INVALID);
    assert_rv(ck!(raw, C_Logout(bogus)), CKR_SESSION_HANDLE_INVALID);
    assert_rv(
        ck!(raw, C_FindObjectsInit(bogus, null_mut(), 0)),
        CKR_SESSION_HANDLE_INVALID,
    );
    assert_rv(raw.finalize(), CKR_OK);
}

#[test]
fn every_session_function_survives_null_arguments_on_a_valid_session() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "null-args");
    let raw = Raw::load();
    let (rv, h) = raw.open_session(slot.id(), CKF_SERIAL_SESSION | CKF_RW_SESSION);
    assert_rv(rv, CKR_OK);
    // Each call gives its one code (CKR_GENERAL_ERROR would be the panic guard), and the
    // process survives them all.
    assert_codes(&call_all_session_functions(&raw, h), VALID_SESSION);
    // The session is still usable.
    let mut info = CK_SESSION_INFO::default();
    assert_rv(ck!(raw, C_GetSessionInfo(h, &mut info)), CKR_OK);
    assert_rv(ck!(raw, C_CloseSession(h)), CKR_OK);
}

#[test]
fn legacy_parallel_functions_return_function_not_parallel() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "legacy");
    let raw = Raw::load();
    let (rv, h) = raw.open_session(slot.id(), CKF_SERIAL_SESSION);
    assert_rv(rv, CKR_OK);
    // §5.20: these legacy functions "should simply return CKR_FUNCTION_NOT_PARALLEL".
    assert_rv(ck!(raw, C_GetFunctionStatus(h)), CKR_FUNCTION_NOT_PARALLEL);
    assert_rv(ck!(raw, C_CancelFunction(h)), CKR_FUNCTION_NOT_PARALLEL);
    assert_rv(ck!(raw, C_CloseSession(h)), CKR_OK);
}

#[test]
fn session_handles_from_before_finalize_are_invalid_after_reinitialize() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "reinit");
    let raw = Raw::load();
    let (rv, old) = raw.open_session(slot.id(), CKF_SERIAL_SESSION);
    assert_rv(rv, CKR_OK);
    assert_rv(raw.finalize(), CKR_OK);
    assert_rv(raw.initialize(), CKR_OK);
    let mut info = CK_SESSION_INFO::default();
    assert_rv(
        ck!(raw, C_GetSessionInfo(old, &mut info)),
        CKR_SESSION_HANDLE_INVALID,
    );
    // C_Finalize closed every session, so C_InitToken sees none.
    let (rv, tinfo) = raw_token_info(&raw, slot.id());
    assert_rv(rv, CKR_OK);
    assert_eq!(tinfo.ulSessionCount, 0, "sessions survived C_Finalize");
    assert_rv(raw.finalize(), CKR_OK);
}

#[test]
fn forked_child_must_reinitialize() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "fork");
    let raw = Raw::load();
    let (rv, h) = raw.open_session(slot.id(), CKF_SERIAL_SESSION);
    assert_rv(rv, CKR_OK);

    // SAFETY: the child only calls into the module and then _exit()s without unwinding or
    // running the parent's destructors.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // Exit codes: 0 ok, 10+n the n-th check failed.
        let mut info = CK_INFO::default();
        let code = if ck!(raw, C_GetInfo(&mut info)) != CKR_CRYPTOKI_NOT_INITIALIZED {
            11
        } else if ck!(raw, C_CloseSession(h)) != CKR_CRYPTOKI_NOT_INITIALIZED {
            12
        } else if raw.initialize() != CKR_OK {
            13
        } else if ck!(raw, C_GetInfo(&mut info)) != CKR_OK {
            14
        } else if raw.open_session(slot.id(), CKF_SERIAL_SESSION).0 != CKR_OK {
            15
        } else if raw.finalize() != CKR_OK {
            16
        } else {
            0
        };
        // SAFETY: leave the child at once, without atexit handlers or destructors.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid);
    assert!(
        libc::WIFEXITED(status),
        "forked child died abnormally (status {status:#x})"
    );
    let code = libc::WEXITSTATUS(status);
    let what = match code {
        0 => "",
        11 => "C_GetInfo in the child did not return CKR_CRYPTOKI_NOT_INITIALIZED",
        12 => "C_CloseSession in the child did not return CKR_CRYPTOKI_NOT_INITIALIZED",
        13 => "C_Initialize in the child failed",
        14 => "C_GetInfo after C_Initialize in the child failed",
        15 => "C_OpenSession after C_Initialize in the child failed",
        16 => "C_Finalize in the child failed",
        _ => "unknown failure",
    };
    assert_eq!(code, 0, "{what}");
    // The parent's session is untouched by the child.
    let mut info = CK_SESSION_INFO::default();
    assert_rv(ck!(raw, C_GetSessionInfo(h, &mut info)), CKR_OK);
    assert_rv(ck!(raw, C_CloseSession(h)), CKR_OK);
}

/// Every call gave the code of its row, and the rows name exactly the calls made.
#[track_caller]
fn assert_codes(got: &[(&'static str, CK_RV)], want: &[(&str, CK_RV)]) {
    let names: Vec<&str> = got.iter().map(|(n, _)| *n).collect();
    let wanted: Vec<&str> = want.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, wanted, "the table does not list the calls made");
    let wrong: Vec<String> = got
        .iter()
        .zip(want)
        .filter(|((_, rv), (_, w))| rv != w)
        .map(|((n, rv), (_, w))| format!("{n}: {} (want {})", rv_name(*rv), rv_name(*w)))
        .collect();
    assert!(wrong.is_empty(), "unexpected return values: {wrong:#?}");
}
