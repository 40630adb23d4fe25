//! Hostile callers (reliability): a table of fault cases over every function of the PKCS#11
//! v3.0 function list — NULL pointers, NULL with nonzero lengths, lengths that overflow, invalid
//! and closed session handles, object handles of a closed session, of a destroyed object and of
//! private objects after logout, wrong operation state, mechanism parameters of the wrong size,
//! templates with duplicate or unknown attributes, bad booleans, huge counts. Each case must
//! return the specification's code (v3.0 §5, §4.1, the function's return-value list), the
//! process must survive, and the token's contents must be the same afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// The case tables are vectors of (description, builder function, expected codes).
#![allow(clippy::type_complexity)]

mod common;

use common::p11::*;
use common::*;
use cryptoki_sys::*;
use std::collections::BTreeSet;
use std::ffi::c_void;
use std::ptr::null_mut;

const BAD_SESSION: CK_SESSION_HANDLE = 0xDEAD_BEEF;
const BAD_OBJECT: CK_OBJECT_HANDLE = 0xDEAD_BEEF;
const BAD_SLOT: CK_SLOT_ID = 0xDEAD;
const BAD_MECH: CK_MECHANISM_TYPE = 0x7FFF_FFF0;
/// An attribute type no version of the specification defines (below CKA_VENDOR_DEFINED).
const UNKNOWN_ATTR: CK_ATTRIBUTE_TYPE = 0x0FFF_FFF1;
/// A length no buffer has: beyond isize::MAX.
const HUGE: CK_ULONG = CK_ULONG::MAX;
const HUGE2: CK_ULONG = 1 << 63;

/// Every function of CK_FUNCTION_LIST_3_0, for the coverage check.
const ALL: [&str; 92] = [
    "C_Initialize",
    "C_Finalize",
    "C_GetInfo",
    "C_GetFunctionList",
    "C_GetSlotList",
    "C_GetSlotInfo",
    "C_GetTokenInfo",
    "C_GetMechanismList",
    "C_GetMechanismInfo",
    "C_InitToken",
    "C_InitPIN",
    "C_SetPIN",
    "C_OpenSession",
    "C_CloseSession",
    "C_CloseAllSessions",
    "C_GetSessionInfo",
    "C_GetOperationState",
    "C_SetOperationState",
    "C_Login",
    "C_Logout",
    "C_CreateObject",
    "C_CopyObject",
    "C_DestroyObject",
    "C_GetObjectSize",
    "C_GetAttributeValue",
    "C_SetAttributeValue",
    "C_FindObjectsInit",
    "C_FindObjects",
    "C_FindObjectsFinal",
    "C_EncryptInit",
    "C_Encrypt",
    "C_EncryptUpdate",
    "C_EncryptFinal",
    "C_DecryptInit",
    "C_Decrypt",
    "C_DecryptUpdate",
    "C_DecryptFinal",
    "C_DigestInit",
    "C_Digest",
    "C_DigestUpdate",
    "C_DigestKey",
    "C_DigestFinal",
    "C_SignInit",
    "C_Sign",
    "C_SignUpdate",
    "C_SignFinal",
    "C_SignRecoverInit",
    "C_SignRecover",
    "C_VerifyInit",
    "C_Verify",
    "C_VerifyUpdate",
    "C_VerifyFinal",
    "C_VerifyRecoverInit",
    "C_VerifyRecover",
    "C_DigestEncryptUpdate",
    "C_DecryptDigestUpdate",
    "C_SignEncryptUpdate",
    "C_DecryptVerifyUpdate",
    "C_GenerateKey",
    "C_GenerateKeyPair",
    "C_WrapKey",
    "C_UnwrapKey",
    "C_DeriveKey",
    "C_SeedRandom",
    "C_GenerateRandom",
    "C_GetFunctionStatus",
    "C_CancelFunction",
    "C_WaitForSlotEvent",
    "C_GetInterfaceList",
    "C_GetInterface",
    "C_LoginUser",
    "C_SessionCancel",
    "C_MessageEncryptInit",
    "C_EncryptMessage",
    "C_EncryptMessageBegin",
    "C_EncryptMessageNext",
    "C_MessageEncryptFinal",
    "C_MessageDecryptInit",
    "C_DecryptMessage",
    "C_DecryptMessageBegin",
    "C_DecryptMessageNext",
    "C_MessageDecryptFinal",
    "C_MessageSignInit",
    "C_SignMessage",
    "C_SignMessageBegin",
    "C_SignMessageNext",
    "C_MessageSignFinal",
    "C_MessageVerifyInit",
    "C_VerifyMessage",
    "C_VerifyMessageBegin",
    "C_VerifyMessageNext",
    "C_MessageVerifyFinal",
];

// ---------------------------------------------------------------------------------------------
// Raw building blocks

/// A raw template whose attributes may repeat, lie about their lengths or be NULL.
#[derive(Default)]
struct T {
    attrs: Vec<CK_ATTRIBUTE>,
    bufs: Vec<Vec<u8>>,
}

impl T {
    fn new() -> T {
        T::default()
    }
    fn raw(mut self, t: CK_ATTRIBUTE_TYPE, v: &[u8], len: CK_ULONG) -> T {
        let mut b = v.to_vec();
        let p = if v.is_empty() {
            null_mut()
        } else {
            b.as_mut_ptr().cast()
        };
        self.bufs.push(b); // the heap buffer does not move with the Vec
        self.attrs.push(CK_ATTRIBUTE {
            type_: t,
            pValue: p,
            ulValueLen: len,
        });
        self
    }
    /// Like `raw`, replacing an attribute of the same type.
    fn set_raw(mut self, t: CK_ATTRIBUTE_TYPE, v: &[u8], len: CK_ULONG) -> T {
        if let Some(i) = self.attrs.iter().position(|a| a.type_ == t) {
            self.attrs.remove(i);
            self.bufs.remove(i);
        }
        self.raw(t, v, len)
    }
    fn bytes(self, t: CK_ATTRIBUTE_TYPE, v: &[u8]) -> T {
        let l = v.len() as CK_ULONG;
        self.raw(t, v, l)
    }
    fn b(self, t: CK_ATTRIBUTE_TYPE, v: bool) -> T {
        self.bytes(t, &[u8::from(v)])
    }
    fn u(self, t: CK_ATTRIBUTE_TYPE, v: CK_ULONG) -> T {
        self.bytes(t, &v.to_ne_bytes())
    }
    fn p(&mut self) -> *mut CK_ATTRIBUTE {
        self.attrs.as_mut_ptr()
    }
    fn n(&self) -> CK_ULONG {
        self.attrs.len() as CK_ULONG
    }
}

/// A token data object template (public unless changed).
fn data() -> T {
    T::new()
        .u(CKA_CLASS, CKO_DATA)
        .b(CKA_TOKEN, true)
        .bytes(CKA_LABEL, b"hostile")
}

/// A token AES key template for C_GenerateKey.
fn aes_gen() -> T {
    T::new()
        .u(CKA_CLASS, CKO_SECRET_KEY)
        .u(CKA_KEY_TYPE, CKK_AES)
        .b(CKA_TOKEN, true)
        .u(CKA_VALUE_LEN, 32)
}

/// A mechanism with an owned parameter (or a NULL one with a chosen length).
struct M {
    m: CK_MECHANISM,
    _b: Vec<u8>,
}

impl M {
    fn p(&mut self) -> *mut CK_MECHANISM {
        &mut self.m
    }
}

fn mech(ty: CK_MECHANISM_TYPE, param: &[u8]) -> M {
    let mut b = param.to_vec();
    let p = if param.is_empty() {
        null_mut()
    } else {
        b.as_mut_ptr().cast()
    };
    M {
        m: CK_MECHANISM {
            mechanism: ty,
            pParameter: p,
            ulParameterLen: param.len() as CK_ULONG,
        },
        _b: b,
    }
}

fn mech_null(ty: CK_MECHANISM_TYPE, len: CK_ULONG) -> M {
    M {
        m: CK_MECHANISM {
            mechanism: ty,
            pParameter: null_mut(),
            ulParameterLen: len,
        },
        _b: Vec::new(),
    }
}

fn pod<X: Copy>(x: &X) -> Vec<u8> {
    // SAFETY: reading the bytes of a plain C structure.
    unsafe { std::slice::from_raw_parts((x as *const X).cast::<u8>(), std::mem::size_of::<X>()) }
        .to_vec()
}

// ---------------------------------------------------------------------------------------------
// Fixture

struct Fx {
    raw: Raw,
    slot: CK_SLOT_ID,
    /// The logged-in R/W session of the `Tok`.
    h: CK_SESSION_HANDLE,
    closed: CK_SESSION_HANDLE,
    data_pub: CK_OBJECT_HANDLE,
    data_priv: CK_OBJECT_HANDLE,
    aes: CK_OBJECT_HANDLE,
    ec_pub: CK_OBJECT_HANDLE,
    ec_priv: CK_OBJECT_HANDLE,
    rsa_pub: CK_OBJECT_HANDLE,
    rsa_priv: CK_OBJECT_HANDLE,
    /// A session key created in `h` and destroyed.
    dead_key: CK_OBJECT_HANDLE,
    /// A session data object created in `h` and destroyed.
    dead_obj: CK_OBJECT_HANDLE,
    /// A session key and a session data object of a session since closed.
    orphan_key: CK_OBJECT_HANDLE,
    orphan_obj: CK_OBJECT_HANDLE,
}

macro_rules! call {
    ($x:expr, $func:ident($($arg:expr),* $(,)?)) => { ck!($x.raw, $func($($arg),*)) };
}

impl Fx {
    fn open(&self) -> CK_SESSION_HANDLE {
        let (rv, s) = self
            .raw
            .open_session(self.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION);
        assert_rv(rv, CKR_OK);
        s
    }
    fn close(&self, s: CK_SESSION_HANDLE) {
        assert_rv(call!(self, C_CloseSession(s)), CKR_OK);
    }
    /// Run `f` on a fresh R/W session, closed afterwards (which ends any operation left).
    fn fresh(&self, f: impl FnOnce(CK_SESSION_HANDLE) -> CK_RV) -> CK_RV {
        let s = self.open();
        let rv = f(s);
        self.close(s);
        rv
    }
    /// Run `f` on a fresh session after a successful `init`.
    fn after(
        &self,
        init: impl FnOnce(&Fx, CK_SESSION_HANDLE) -> CK_RV,
        f: impl FnOnce(CK_SESSION_HANDLE) -> CK_RV,
    ) -> CK_RV {
        self.fresh(|s| {
            assert_rv(init(self, s), CKR_OK);
            f(s)
        })
    }
    fn create(&self, s: CK_SESSION_HANDLE, mut t: T) -> CK_OBJECT_HANDLE {
        let mut o = CK_INVALID_HANDLE;
        assert_rv(call!(self, C_CreateObject(s, t.p(), t.n(), &mut o)), CKR_OK);
        o
    }
    fn gen_aes(&self, s: CK_SESSION_HANDLE, token: bool) -> CK_OBJECT_HANDLE {
        let mut m = mech(CKM_AES_KEY_GEN, &[]);
        let mut t = aes_gen()
            .b(CKA_TOKEN, token)
            .b(CKA_PRIVATE, true)
            .b(CKA_SENSITIVE, false)
            .b(CKA_EXTRACTABLE, true)
            .b(CKA_ENCRYPT, true)
            .b(CKA_DECRYPT, true)
            .b(CKA_WRAP, true)
            .b(CKA_UNWRAP, true)
            .b(CKA_DERIVE, true)
            .b(CKA_SIGN, true)
            .b(CKA_VERIFY, true);
        // CKA_TOKEN appears twice above: build the template without the first one.
        t.attrs.remove(2);
        t.bufs.remove(2);
        let mut o = CK_INVALID_HANDLE;
        assert_rv(
            call!(self, C_GenerateKey(s, m.p(), t.p(), t.n(), &mut o)),
            CKR_OK,
        );
        o
    }
}

// Valid initializations of each operation, for the state cases.
fn enc_init(x: &Fx, s: CK_SESSION_HANDLE) -> CK_RV {
    let mut m = mech(CKM_AES_ECB, &[]);
    call!(x, C_EncryptInit(s, m.p(), x.aes))
}
fn dec_init(x: &Fx, s: CK_SESSION_HANDLE) -> CK_RV {
    let mut m = mech(CKM_AES_ECB, &[]);
    call!(x, C_DecryptInit(s, m.p(), x.aes))
}
fn dig_init(x: &Fx, s: CK_SESSION_HANDLE) -> CK_RV {
    let mut m = mech(CKM_SHA256, &[]);
    call!(x, C_DigestInit(s, m.p()))
}
fn sign_init(x: &Fx, s: CK_SESSION_HANDLE) -> CK_RV {
    let mut m = mech(CKM_ECDSA_SHA256, &[]);
    call!(x, C_SignInit(s, m.p(), x.ec_priv))
}
fn verify_init(x: &Fx, s: CK_SESSION_HANDLE) -> CK_RV {
    let mut m = mech(CKM_ECDSA_SHA256, &[]);
    call!(x, C_VerifyInit(s, m.p(), x.ec_pub))
}
fn sr_init(x: &Fx, s: CK_SESSION_HANDLE) -> CK_RV {
    let mut m = mech(CKM_RSA_PKCS, &[]);
    call!(x, C_SignRecoverInit(s, m.p(), x.rsa_priv))
}
fn vr_init(x: &Fx, s: CK_SESSION_HANDLE) -> CK_RV {
    let mut m = mech(CKM_RSA_PKCS, &[]);
    call!(x, C_VerifyRecoverInit(s, m.p(), x.rsa_pub))
}
fn find_init(x: &Fx, s: CK_SESSION_HANDLE) -> CK_RV {
    call!(x, C_FindObjectsInit(s, null_mut(), 0))
}
fn menc_init(x: &Fx, s: CK_SESSION_HANDLE) -> CK_RV {
    let mut m = mech(CKM_AES_GCM, &[]);
    call!(x, C_MessageEncryptInit(s, m.p(), x.aes))
}
fn mdec_init(x: &Fx, s: CK_SESSION_HANDLE) -> CK_RV {
    let mut m = mech(CKM_AES_GCM, &[]);
    call!(x, C_MessageDecryptInit(s, m.p(), x.aes))
}

/// A valid per-message GCM parameter (the IV and tag buffers are leaked: a few bytes per case).
fn gcm_msg() -> Vec<u8> {
    let iv: &'static mut [u8] = Box::leak(vec![0u8; 12].into_boxed_slice());
    let tag: &'static mut [u8] = Box::leak(vec![0u8; 16].into_boxed_slice());
    pod(&CK_GCM_MESSAGE_PARAMS {
        pIv: iv.as_mut_ptr(),
        ulIvLen: 12,
        ulIvFixedBits: 0,
        ivGenerator: CKG_NO_GENERATE,
        pTag: tag.as_mut_ptr(),
        ulTagBits: 128,
    })
}

// ---------------------------------------------------------------------------------------------
// The table

type Run = Box<dyn Fn(&Fx) -> CK_RV>;

struct Case {
    func: &'static str,
    what: String,
    want: Vec<CK_RV>,
    run: Run,
}

fn case(
    v: &mut Vec<Case>,
    func: &'static str,
    what: impl Into<String>,
    want: &[CK_RV],
    run: impl Fn(&Fx) -> CK_RV + 'static,
) {
    v.push(Case {
        func,
        what: what.into(),
        want: want.to_vec(),
        run: Box::new(run),
    });
}

const AB: &[CK_RV] = &[CKR_ARGUMENTS_BAD];
const SHI: &[CK_RV] = &[CKR_SESSION_HANDLE_INVALID];
const ONI: &[CK_RV] = &[CKR_OPERATION_NOT_INITIALIZED];
const OA: &[CK_RV] = &[CKR_OPERATION_ACTIVE];
const KHI: &[CK_RV] = &[CKR_KEY_HANDLE_INVALID];
const OHI: &[CK_RV] = &[CKR_OBJECT_HANDLE_INVALID];
const MI: &[CK_RV] = &[CKR_MECHANISM_INVALID];
const MPI: &[CK_RV] = &[CKR_MECHANISM_PARAM_INVALID];
const TI: &[CK_RV] = &[CKR_TEMPLATE_INCONSISTENT];
const ATI: &[CK_RV] = &[CKR_ATTRIBUTE_TYPE_INVALID];
const AVI: &[CK_RV] = &[CKR_ATTRIBUTE_VALUE_INVALID];
const FNS: &[CK_RV] = &[CKR_FUNCTION_NOT_SUPPORTED];
/// An attribute with a NULL pValue and a nonzero length: the specification gives no code of its
/// own; both the generic argument error and the attribute-value error describe it.
const NULLVAL: &[CK_RV] = &[CKR_ARGUMENTS_BAD, CKR_ATTRIBUTE_VALUE_INVALID];

/// The session-handle cases common to every function taking one: an invalid handle, a closed
/// session's handle, CK_INVALID_HANDLE.
fn session_cases(
    v: &mut Vec<Case>,
    func: &'static str,
    want: &'static [CK_RV],
    f: impl Fn(&Fx, CK_SESSION_HANDLE) -> CK_RV + Clone + 'static,
) {
    let g = f.clone();
    case(v, func, "invalid session handle", want, move |x| {
        g(x, BAD_SESSION)
    });
    let g = f.clone();
    case(v, func, "closed session handle", want, move |x| {
        g(x, x.closed)
    });
    case(v, func, "session handle 0", want, move |x| {
        f(x, CK_INVALID_HANDLE)
    });
}

/// Bad templates for a function creating an object from (base + extra) on session `h`.
fn template_cases(
    v: &mut Vec<Case>,
    func: &'static str,
    base: fn() -> T,
    f: impl Fn(&Fx, T) -> CK_RV + Clone + 'static,
) {
    let list: Vec<(&str, fn(T) -> T, &[CK_RV])> = vec![
        (
            "duplicate CKA_LABEL with different values",
            |t| t.bytes(CKA_LABEL, b"a").bytes(CKA_LABEL, b"b"),
            TI,
        ),
        (
            "duplicate CKA_TOKEN true/false",
            |t| t.b(CKA_TOKEN, false),
            TI,
        ),
        (
            "unknown attribute type",
            |t| t.bytes(UNKNOWN_ATTR, b"x"),
            ATI,
        ),
        (
            "CKA_PRIVATE of length 0",
            |t| t.raw(CKA_PRIVATE, &[], 0),
            AVI,
        ),
        (
            "CKA_PRIVATE of length 2",
            |t| t.bytes(CKA_PRIVATE, &[1, 0]),
            AVI,
        ),
        ("CKA_PRIVATE = 7", |t| t.bytes(CKA_PRIVATE, &[7]), AVI),
        (
            "CKA_MODIFIABLE = 0xff",
            |t| t.bytes(CKA_MODIFIABLE, &[0xff]),
            AVI,
        ),
        (
            "CKA_LABEL NULL with length 5",
            |t| t.set_raw(CKA_LABEL, &[], 5),
            NULLVAL,
        ),
        (
            "CKA_LABEL with length 2^64-1",
            |t| t.set_raw(CKA_LABEL, b"abc", HUGE),
            NULLVAL,
        ),
    ];
    for (what, extra, want) in list {
        let g = f.clone();
        case(v, func, what, want, move |x| g(x, extra(base())));
    }
    let g = f.clone();
    case(v, func, "NULL template with count 3", AB, move |x| {
        g(
            x,
            T {
                attrs: Vec::new(),
                bufs: vec![vec![]; 3],
            },
        )
    });
}

fn table() -> Vec<Case> {
    let mut v = Vec::new();
    general(&mut v);
    slots_tokens(&mut v);
    sessions(&mut v);
    objects(&mut v);
    crypto(&mut v);
    keys(&mut v);
    messages(&mut v);
    v
}

fn general(v: &mut Vec<Case>) {
    case(
        v,
        "C_Initialize",
        "again, NULL args",
        &[CKR_CRYPTOKI_ALREADY_INITIALIZED],
        |x| call!(x, C_Initialize(null_mut())),
    );
    // The order of the two checks is not specified: either code is right.
    case(
        v,
        "C_Initialize",
        "again, pReserved non-NULL",
        &[CKR_ARGUMENTS_BAD, CKR_CRYPTOKI_ALREADY_INITIALIZED],
        |x| {
            let mut junk = 0u64;
            let mut a = CK_C_INITIALIZE_ARGS {
                CreateMutex: None,
                DestroyMutex: None,
                LockMutex: None,
                UnlockMutex: None,
                flags: CKF_OS_LOCKING_OK,
                pReserved: (&mut junk as *mut u64).cast(),
            };
            call!(
                x,
                C_Initialize((&mut a as *mut CK_C_INITIALIZE_ARGS).cast())
            )
        },
    );
    case(v, "C_Finalize", "pReserved non-NULL", AB, |x| {
        let mut junk = 0u64;
        call!(x, C_Finalize((&mut junk as *mut u64).cast()))
    });
    case(v, "C_GetInfo", "NULL pInfo", AB, |x| {
        call!(x, C_GetInfo(null_mut()))
    });
    case(v, "C_GetFunctionList", "NULL ppFunctionList", AB, |x| {
        call!(x, C_GetFunctionList(null_mut()))
    });
    case(v, "C_GetInterfaceList", "NULL pulCount", AB, |x| {
        call!(x, C_GetInterfaceList(null_mut(), null_mut()))
    });
    case(
        v,
        "C_GetInterfaceList",
        "buffer of 0 entries",
        &[CKR_BUFFER_TOO_SMALL],
        |x| {
            // SAFETY: CK_INTERFACE is plain C data; all-zero is a valid value (NULL pointers).
            let mut buf: [CK_INTERFACE; 1] = unsafe { std::mem::zeroed() };
            let mut n: CK_ULONG = 0;
            call!(x, C_GetInterfaceList(buf.as_mut_ptr(), &mut n))
        },
    );
    case(v, "C_GetInterface", "NULL ppInterface", AB, |x| {
        let mut name = *b"PKCS 11\0";
        call!(
            x,
            C_GetInterface(name.as_mut_ptr(), null_mut(), null_mut(), 0)
        )
    });
    // No matching interface: the function's return-value list has no dedicated code.
    let nomatch: &[CK_RV] = &[CKR_ARGUMENTS_BAD, CKR_FUNCTION_FAILED];
    case(
        v,
        "C_GetInterface",
        "unknown interface name",
        nomatch,
        |x| {
            let mut name = *b"PKCS 99\0";
            let mut i: *mut CK_INTERFACE = null_mut();
            call!(x, C_GetInterface(name.as_mut_ptr(), null_mut(), &mut i, 0))
        },
    );
    case(v, "C_GetInterface", "version 9.9", nomatch, |x| {
        let mut name = *b"PKCS 11\0";
        let mut ver = CK_VERSION { major: 9, minor: 9 };
        let mut i: *mut CK_INTERFACE = null_mut();
        call!(x, C_GetInterface(name.as_mut_ptr(), &mut ver, &mut i, 0))
    });
    case(
        v,
        "C_GetFunctionStatus",
        "legacy",
        &[CKR_FUNCTION_NOT_PARALLEL],
        |x| call!(x, C_GetFunctionStatus(x.h)),
    );
    case(
        v,
        "C_CancelFunction",
        "legacy",
        &[CKR_FUNCTION_NOT_PARALLEL],
        |x| call!(x, C_CancelFunction(x.h)),
    );
    // A bad handle to a function that is never parallel: either check may come first.
    let np: &'static [CK_RV] = &[CKR_FUNCTION_NOT_PARALLEL, CKR_SESSION_HANDLE_INVALID];
    session_cases(v, "C_GetFunctionStatus", np, |x, s| {
        call!(x, C_GetFunctionStatus(s))
    });
    session_cases(v, "C_CancelFunction", np, |x, s| {
        call!(x, C_CancelFunction(s))
    });
    case(v, "C_WaitForSlotEvent", "NULL pSlot", AB, |x| {
        call!(
            x,
            C_WaitForSlotEvent(CKF_DONT_BLOCK, null_mut(), null_mut())
        )
    });
    case(v, "C_WaitForSlotEvent", "pReserved non-NULL", AB, |x| {
        let mut slot = 0;
        let mut junk = 0u64;
        call!(
            x,
            C_WaitForSlotEvent(CKF_DONT_BLOCK, &mut slot, (&mut junk as *mut u64).cast())
        )
    });
    case(v, "C_WaitForSlotEvent", "blocking (README)", FNS, |x| {
        let mut slot = 0;
        call!(x, C_WaitForSlotEvent(0, &mut slot, null_mut()))
    });
    case(v, "C_SeedRandom", "README: seed mixed in", &[CKR_OK], |x| {
        let mut b = [1u8; 16];
        call!(x, C_SeedRandom(x.h, b.as_mut_ptr(), 16))
    });
    case(v, "C_SeedRandom", "NULL seed, length 16", AB, |x| {
        call!(x, C_SeedRandom(x.h, null_mut(), 16))
    });
    session_cases(v, "C_SeedRandom", &[CKR_SESSION_HANDLE_INVALID], |x, s| {
        let mut b = [1u8; 16];
        call!(x, C_SeedRandom(s, b.as_mut_ptr(), 16))
    });
    case(v, "C_GenerateRandom", "NULL buffer, length 16", AB, |x| {
        call!(x, C_GenerateRandom(x.h, null_mut(), 16))
    });
    case(
        v,
        "C_GenerateRandom",
        "NULL buffer, length 2^64-1",
        AB,
        |x| call!(x, C_GenerateRandom(x.h, null_mut(), HUGE)),
    );
    case(v, "C_GenerateRandom", "length 2^63", AB, |x| {
        let mut b = [0u8; 16];
        call!(x, C_GenerateRandom(x.h, b.as_mut_ptr(), HUGE2))
    });
    session_cases(v, "C_GenerateRandom", SHI, |x, s| {
        let mut b = [0u8; 16];
        call!(x, C_GenerateRandom(s, b.as_mut_ptr(), 16))
    });
    for (f, what) in [
        ("C_DigestEncryptUpdate", 0),
        ("C_DecryptDigestUpdate", 1),
        ("C_SignEncryptUpdate", 2),
        ("C_DecryptVerifyUpdate", 3),
    ] {
        case(v, f, "README: not supported", FNS, move |x| {
            let mut i = [0u8; 16];
            let mut o = [0u8; 64];
            let mut n: CK_ULONG = 64;
            let (s, ip, op) = (x.h, i.as_mut_ptr(), o.as_mut_ptr());
            match what {
                0 => call!(x, C_DigestEncryptUpdate(s, ip, 16, op, &mut n)),
                1 => call!(x, C_DecryptDigestUpdate(s, ip, 16, op, &mut n)),
                2 => call!(x, C_SignEncryptUpdate(s, ip, 16, op, &mut n)),
                _ => call!(x, C_DecryptVerifyUpdate(s, ip, 16, op, &mut n)),
            }
        });
    }
    case(v, "C_SessionCancel", "README: not supported", FNS, |x| {
        call!(x, C_SessionCancel(x.h, CKF_ENCRYPT))
    });
}

fn slots_tokens(v: &mut Vec<Case>) {
    case(v, "C_GetSlotList", "NULL pulCount", AB, |x| {
        let mut b = [0; 4];
        call!(x, C_GetSlotList(CK_FALSE, b.as_mut_ptr(), null_mut()))
    });
    case(
        v,
        "C_GetSlotList",
        "buffer of 0 entries",
        &[CKR_BUFFER_TOO_SMALL],
        |x| {
            let mut b = [0; 1];
            let mut n: CK_ULONG = 0;
            call!(x, C_GetSlotList(CK_FALSE, b.as_mut_ptr(), &mut n))
        },
    );
    case(
        v,
        "C_GetSlotInfo",
        "invalid slot",
        &[CKR_SLOT_ID_INVALID],
        |x| {
            let mut i = CK_SLOT_INFO::default();
            call!(x, C_GetSlotInfo(BAD_SLOT, &mut i))
        },
    );
    case(v, "C_GetSlotInfo", "NULL pInfo", AB, |x| {
        call!(x, C_GetSlotInfo(x.slot, null_mut()))
    });
    case(
        v,
        "C_GetTokenInfo",
        "invalid slot",
        &[CKR_SLOT_ID_INVALID],
        |x| {
            let mut i = CK_TOKEN_INFO::default();
            call!(x, C_GetTokenInfo(BAD_SLOT, &mut i))
        },
    );
    case(v, "C_GetTokenInfo", "NULL pInfo", AB, |x| {
        call!(x, C_GetTokenInfo(x.slot, null_mut()))
    });
    case(
        v,
        "C_GetMechanismList",
        "invalid slot",
        &[CKR_SLOT_ID_INVALID],
        |x| {
            let mut n: CK_ULONG = 0;
            call!(x, C_GetMechanismList(BAD_SLOT, null_mut(), &mut n))
        },
    );
    case(v, "C_GetMechanismList", "NULL pulCount", AB, |x| {
        let mut b = [0; 4];
        call!(x, C_GetMechanismList(x.slot, b.as_mut_ptr(), null_mut()))
    });
    case(
        v,
        "C_GetMechanismList",
        "buffer of 0 entries",
        &[CKR_BUFFER_TOO_SMALL],
        |x| {
            let mut b = [0; 1];
            let mut n: CK_ULONG = 0;
            call!(x, C_GetMechanismList(x.slot, b.as_mut_ptr(), &mut n))
        },
    );
    case(
        v,
        "C_GetMechanismInfo",
        "invalid slot",
        &[CKR_SLOT_ID_INVALID],
        |x| {
            let mut i = CK_MECHANISM_INFO::default();
            call!(x, C_GetMechanismInfo(BAD_SLOT, CKM_AES_ECB, &mut i))
        },
    );
    case(v, "C_GetMechanismInfo", "unknown mechanism", MI, |x| {
        let mut i = CK_MECHANISM_INFO::default();
        call!(x, C_GetMechanismInfo(x.slot, BAD_MECH, &mut i))
    });
    case(v, "C_GetMechanismInfo", "NULL pInfo", AB, |x| {
        call!(x, C_GetMechanismInfo(x.slot, CKM_AES_ECB, null_mut()))
    });
    // Sessions are open on the token: CKR_SESSION_EXISTS may be found before the bad argument.
    let ab_se: &[CK_RV] = &[CKR_ARGUMENTS_BAD, CKR_SESSION_EXISTS];
    case(v, "C_InitToken", "NULL pPin, length 14", ab_se, |x| {
        let mut label = [b' '; 32];
        call!(x, C_InitToken(x.slot, null_mut(), 14, label.as_mut_ptr()))
    });
    case(v, "C_InitToken", "NULL pLabel", ab_se, |x| {
        let mut pin = SO_PIN.as_bytes().to_vec();
        call!(
            x,
            C_InitToken(x.slot, pin.as_mut_ptr(), pin.len() as CK_ULONG, null_mut())
        )
    });
    case(
        v,
        "C_InitToken",
        "invalid slot",
        &[CKR_SLOT_ID_INVALID],
        |x| {
            let mut pin = SO_PIN.as_bytes().to_vec();
            let mut label = [b' '; 32];
            call!(
                x,
                C_InitToken(
                    BAD_SLOT,
                    pin.as_mut_ptr(),
                    pin.len() as CK_ULONG,
                    label.as_mut_ptr()
                )
            )
        },
    );
    // The session is a user session: CKR_USER_NOT_LOGGED_IN (no SO) may come first.
    case(
        v,
        "C_InitPIN",
        "NULL pPin, length 8 (user session)",
        &[CKR_ARGUMENTS_BAD, CKR_USER_NOT_LOGGED_IN],
        |x| call!(x, C_InitPIN(x.h, null_mut(), 8)),
    );
    case(
        v,
        "C_InitPIN",
        "user session, not SO",
        &[CKR_USER_NOT_LOGGED_IN],
        |x| {
            let mut pin = *b"12345678";
            call!(x, C_InitPIN(x.h, pin.as_mut_ptr(), 8))
        },
    );
    session_cases(v, "C_InitPIN", SHI, |x, s| {
        let mut pin = *b"12345678";
        call!(x, C_InitPIN(s, pin.as_mut_ptr(), 8))
    });
    case(v, "C_SetPIN", "NULL pOldPin, length 17", AB, |x| {
        let mut new = *b"new-pin-123";
        call!(x, C_SetPIN(x.h, null_mut(), 17, new.as_mut_ptr(), 11))
    });
    case(v, "C_SetPIN", "NULL pNewPin, length 11", AB, |x| {
        let mut old = USER_PIN.as_bytes().to_vec();
        call!(
            x,
            C_SetPIN(x.h, old.as_mut_ptr(), old.len() as CK_ULONG, null_mut(), 11)
        )
    });
    case(
        v,
        "C_SetPIN",
        "new PIN length 2^64-1",
        &[CKR_ARGUMENTS_BAD, CKR_PIN_LEN_RANGE],
        |x| {
            let mut old = USER_PIN.as_bytes().to_vec();
            let mut new = *b"new-pin-123";
            call!(
                x,
                C_SetPIN(
                    x.h,
                    old.as_mut_ptr(),
                    old.len() as CK_ULONG,
                    new.as_mut_ptr(),
                    HUGE
                )
            )
        },
    );
    session_cases(v, "C_SetPIN", SHI, |x, s| {
        let mut old = USER_PIN.as_bytes().to_vec();
        let mut new = *b"new-pin-123";
        call!(
            x,
            C_SetPIN(
                s,
                old.as_mut_ptr(),
                old.len() as CK_ULONG,
                new.as_mut_ptr(),
                11
            )
        )
    });
}

fn sessions(v: &mut Vec<Case>) {
    case(
        v,
        "C_OpenSession",
        "no CKF_SERIAL_SESSION",
        &[CKR_SESSION_PARALLEL_NOT_SUPPORTED],
        |x| {
            let mut s = 0;
            call!(
                x,
                C_OpenSession(x.slot, CKF_RW_SESSION, null_mut(), None, &mut s)
            )
        },
    );
    case(v, "C_OpenSession", "NULL phSession", AB, |x| {
        call!(
            x,
            C_OpenSession(x.slot, CKF_SERIAL_SESSION, null_mut(), None, null_mut())
        )
    });
    case(
        v,
        "C_OpenSession",
        "invalid slot",
        &[CKR_SLOT_ID_INVALID],
        |x| {
            let mut s = 0;
            call!(
                x,
                C_OpenSession(BAD_SLOT, CKF_SERIAL_SESSION, null_mut(), None, &mut s)
            )
        },
    );
    session_cases(v, "C_CloseSession", SHI, |x, s| call!(x, C_CloseSession(s)));
    case(
        v,
        "C_CloseAllSessions",
        "invalid slot",
        &[CKR_SLOT_ID_INVALID],
        |x| call!(x, C_CloseAllSessions(BAD_SLOT)),
    );
    case(v, "C_GetSessionInfo", "NULL pInfo", AB, |x| {
        call!(x, C_GetSessionInfo(x.h, null_mut()))
    });
    session_cases(v, "C_GetSessionInfo", SHI, |x, s| {
        let mut i = CK_SESSION_INFO::default();
        call!(x, C_GetSessionInfo(s, &mut i))
    });
    session_cases(
        v,
        "C_SessionCancel",
        &[CKR_SESSION_HANDLE_INVALID, CKR_FUNCTION_NOT_SUPPORTED],
        |x, s| call!(x, C_SessionCancel(s, CKF_ENCRYPT)),
    );
    // Already logged in (token-wide): the argument check and this state check have no order.
    let ab_ali: &[CK_RV] = &[CKR_ARGUMENTS_BAD, CKR_USER_ALREADY_LOGGED_IN];
    case(
        v,
        "C_Login",
        "SO while the user is logged in",
        &[CKR_USER_ANOTHER_ALREADY_LOGGED_IN],
        |x| {
            let mut p = SO_PIN.as_bytes().to_vec();
            call!(x, C_Login(x.h, CKU_SO, p.as_mut_ptr(), p.len() as CK_ULONG))
        },
    );
    // README: CKU_CONTEXT_SPECIFIC without an operation to authorize.
    case(
        v,
        "C_Login",
        "CKU_CONTEXT_SPECIFIC without an operation",
        ONI,
        |x| {
            let mut p = USER_PIN.as_bytes().to_vec();
            x.fresh(|s| {
                call!(
                    x,
                    C_Login(s, CKU_CONTEXT_SPECIFIC, p.as_mut_ptr(), p.len() as CK_ULONG)
                )
            })
        },
    );
    case(
        v,
        "C_Login",
        "NULL pPin, length 17, while logged in",
        ab_ali,
        |x| call!(x, C_Login(x.h, CKU_USER, null_mut(), 17)),
    );
    session_cases(v, "C_Login", SHI, |x, s| {
        let mut p = USER_PIN.as_bytes().to_vec();
        call!(x, C_Login(s, CKU_USER, p.as_mut_ptr(), p.len() as CK_ULONG))
    });
    session_cases(v, "C_Logout", SHI, |x, s| call!(x, C_Logout(s)));
    case(
        v,
        "C_LoginUser",
        "NULL pPin, length 17, while logged in",
        ab_ali,
        |x| call!(x, C_LoginUser(x.h, CKU_USER, null_mut(), 17, null_mut(), 0)),
    );
    session_cases(v, "C_LoginUser", SHI, |x, s| {
        let mut p = USER_PIN.as_bytes().to_vec();
        call!(
            x,
            C_LoginUser(
                s,
                CKU_USER,
                p.as_mut_ptr(),
                p.len() as CK_ULONG,
                null_mut(),
                0
            )
        )
    });
    // Operation state.
    case(v, "C_GetOperationState", "NULL pulStateLen", AB, |x| {
        x.after(dig_init, |s| {
            call!(x, C_GetOperationState(s, null_mut(), null_mut()))
        })
    });
    // No active operation: v3.0 lists no dedicated code; "not initialized" and "unsaveable" fit.
    case(
        v,
        "C_GetOperationState",
        "no operation",
        &[CKR_OPERATION_NOT_INITIALIZED, CKR_STATE_UNSAVEABLE],
        |x| {
            x.fresh(|s| {
                let mut n: CK_ULONG = 0;
                call!(x, C_GetOperationState(s, null_mut(), &mut n))
            })
        },
    );
    case(
        v,
        "C_GetOperationState",
        "operation holding a key (README)",
        &[CKR_STATE_UNSAVEABLE],
        |x| {
            x.after(enc_init, |s| {
                let mut n: CK_ULONG = 0;
                call!(x, C_GetOperationState(s, null_mut(), &mut n))
            })
        },
    );
    session_cases(v, "C_GetOperationState", SHI, |x, s| {
        let mut n: CK_ULONG = 0;
        call!(x, C_GetOperationState(s, null_mut(), &mut n))
    });
    case(
        v,
        "C_SetOperationState",
        "NULL pOperationState, length 64",
        AB,
        |x| x.fresh(|s| call!(x, C_SetOperationState(s, null_mut(), 64, 0, 0))),
    );
    case(v, "C_SetOperationState", "length 2^64-1", AB, |x| {
        x.fresh(|s| {
            let mut b = [0u8; 64];
            call!(x, C_SetOperationState(s, b.as_mut_ptr(), HUGE, 0, 0))
        })
    });
    for (what, len) in [
        ("64 zero bytes", 64usize),
        ("1 byte", 1),
        ("4096 bytes of 0xA5", 4096),
    ] {
        case(
            v,
            "C_SetOperationState",
            what,
            &[CKR_SAVED_STATE_INVALID],
            move |x| {
                x.fresh(|s| {
                    let mut b = vec![if len == 4096 { 0xA5 } else { 0 }; len];
                    call!(
                        x,
                        C_SetOperationState(s, b.as_mut_ptr(), len as CK_ULONG, 0, 0)
                    )
                })
            },
        );
    }
    session_cases(v, "C_SetOperationState", SHI, |x, s| {
        let mut b = [0u8; 64];
        call!(x, C_SetOperationState(s, b.as_mut_ptr(), 64, 0, 0))
    });
}

fn objects(v: &mut Vec<Case>) {
    // C_CreateObject
    case(v, "C_CreateObject", "NULL phObject", AB, |x| {
        let mut t = data();
        call!(x, C_CreateObject(x.h, t.p(), t.n(), null_mut()))
    });
    case(
        v,
        "C_CreateObject",
        "NULL template, count 2^64-1",
        AB,
        |x| {
            let mut o = 0;
            call!(x, C_CreateObject(x.h, null_mut(), HUGE, &mut o))
        },
    );
    case(
        v,
        "C_CreateObject",
        "count 2^63 over a 3-attribute array",
        AB,
        |x| {
            let mut t = data();
            let mut o = 0;
            call!(x, C_CreateObject(x.h, t.p(), HUGE2, &mut o))
        },
    );
    template_cases(v, "C_CreateObject", data, |x, mut t| {
        let mut o = 0;
        let p = if t.attrs.is_empty() {
            null_mut()
        } else {
            t.p()
        };
        let n = if t.attrs.is_empty() {
            t.bufs.len() as CK_ULONG
        } else {
            t.n()
        };
        call!(x, C_CreateObject(x.h, p, n, &mut o))
    });
    case(v, "C_CreateObject", "CKA_CLASS = 0x7fff_fff0", AVI, |x| {
        let mut t = data().u(CKA_CLASS, 0x7fff_fff0);
        t.attrs.remove(0);
        t.bufs.remove(0);
        let mut o = 0;
        call!(x, C_CreateObject(x.h, t.p(), t.n(), &mut o))
    });
    case(v, "C_CreateObject", "CKA_CLASS of length 4", AVI, |x| {
        let mut t = data().set_raw(CKA_CLASS, &[0, 0, 0, 0], 4);
        let mut o = 0;
        call!(x, C_CreateObject(x.h, t.p(), t.n(), &mut o))
    });
    case(
        v,
        "C_CreateObject",
        "no CKA_CLASS",
        &[CKR_TEMPLATE_INCOMPLETE],
        |x| {
            let mut t = T::new().b(CKA_TOKEN, true).bytes(CKA_LABEL, b"x");
            let mut o = 0;
            call!(x, C_CreateObject(x.h, t.p(), t.n(), &mut o))
        },
    );
    case(
        v,
        "C_CreateObject",
        "token object in a R/O session",
        &[CKR_SESSION_READ_ONLY],
        |x| {
            let (rv, s) = x.raw.open_session(x.slot, CKF_SERIAL_SESSION);
            assert_rv(rv, CKR_OK);
            let mut t = data();
            let mut o = 0;
            let rv = call!(x, C_CreateObject(s, t.p(), t.n(), &mut o));
            x.close(s);
            rv
        },
    );
    session_cases(v, "C_CreateObject", SHI, |x, s| {
        let mut t = data();
        let mut o = 0;
        call!(x, C_CreateObject(s, t.p(), t.n(), &mut o))
    });
    // Dead object handles for the functions taking an object.
    fn dead_objects(
        v: &mut Vec<Case>,
        func: &'static str,
        want: &'static [CK_RV],
        f: impl Fn(&Fx, CK_OBJECT_HANDLE) -> CK_RV + Clone + 'static,
    ) {
        let g = f.clone();
        case(v, func, "invalid object handle", want, move |x| {
            g(x, BAD_OBJECT)
        });
        let g = f.clone();
        case(v, func, "object handle 0", want, move |x| {
            g(x, CK_INVALID_HANDLE)
        });
        let g = f.clone();
        case(v, func, "destroyed object", want, move |x| g(x, x.dead_obj));
        case(
            v,
            func,
            "session object of a closed session",
            want,
            move |x| f(x, x.orphan_obj),
        );
    }
    // C_CopyObject
    dead_objects(v, "C_CopyObject", OHI, |x, o| {
        let mut t = T::new().bytes(CKA_LABEL, b"copy");
        let mut n = 0;
        call!(x, C_CopyObject(x.h, o, t.p(), t.n(), &mut n))
    });
    case(v, "C_CopyObject", "NULL phNewObject", AB, |x| {
        let mut t = T::new().bytes(CKA_LABEL, b"copy");
        call!(x, C_CopyObject(x.h, x.data_pub, t.p(), t.n(), null_mut()))
    });
    template_cases(
        v,
        "C_CopyObject",
        || T::new().b(CKA_TOKEN, true),
        |x, mut t| {
            let mut o = 0;
            let p = if t.attrs.is_empty() {
                null_mut()
            } else {
                t.p()
            };
            let n = if t.attrs.is_empty() {
                t.bufs.len() as CK_ULONG
            } else {
                t.n()
            };
            call!(x, C_CopyObject(x.h, x.data_pub, p, n, &mut o))
        },
    );
    session_cases(v, "C_CopyObject", SHI, |x, s| {
        let mut n = 0;
        call!(x, C_CopyObject(s, x.data_pub, null_mut(), 0, &mut n))
    });
    // C_DestroyObject
    dead_objects(v, "C_DestroyObject", OHI, |x, o| {
        call!(x, C_DestroyObject(x.h, o))
    });
    session_cases(v, "C_DestroyObject", SHI, |x, s| {
        call!(x, C_DestroyObject(s, x.data_pub))
    });
    // C_GetObjectSize
    dead_objects(v, "C_GetObjectSize", OHI, |x, o| {
        let mut n = 0;
        call!(x, C_GetObjectSize(x.h, o, &mut n))
    });
    case(v, "C_GetObjectSize", "NULL pulSize", AB, |x| {
        call!(x, C_GetObjectSize(x.h, x.data_pub, null_mut()))
    });
    session_cases(v, "C_GetObjectSize", SHI, |x, s| {
        let mut n = 0;
        call!(x, C_GetObjectSize(s, x.data_pub, &mut n))
    });
    // C_GetAttributeValue
    dead_objects(v, "C_GetAttributeValue", OHI, |x, o| {
        let mut t = T::new().raw(CKA_LABEL, &[], 0);
        call!(x, C_GetAttributeValue(x.h, o, t.p(), t.n()))
    });
    case(
        v,
        "C_GetAttributeValue",
        "NULL template, count 2",
        AB,
        |x| call!(x, C_GetAttributeValue(x.h, x.data_pub, null_mut(), 2)),
    );
    case(
        v,
        "C_GetAttributeValue",
        "count 2^63 over a 1-attribute array",
        AB,
        |x| {
            let mut t = T::new().raw(CKA_LABEL, &[], 0);
            call!(x, C_GetAttributeValue(x.h, x.data_pub, t.p(), HUGE2))
        },
    );
    case(
        v,
        "C_SetAttributeValue",
        "count 2^63 over a 1-attribute array",
        AB,
        |x| {
            let mut t = T::new().bytes(CKA_LABEL, b"changed");
            call!(x, C_SetAttributeValue(x.h, x.data_pub, t.p(), HUGE2))
        },
    );
    case(
        v,
        "C_FindObjectsInit",
        "count 2^63 over a 1-attribute array",
        AB,
        |x| {
            let mut t = T::new().bytes(CKA_LABEL, b"hostile");
            x.fresh(|s| call!(x, C_FindObjectsInit(s, t.p(), HUGE2)))
        },
    );
    fn read_only(x: &Fx, f: impl FnOnce(CK_SESSION_HANDLE) -> CK_RV) -> CK_RV {
        let (rv, s) = x.raw.open_session(x.slot, CKF_SERIAL_SESSION);
        assert_rv(rv, CKR_OK);
        let rv = f(s);
        x.close(s);
        rv
    }
    case(
        v,
        "C_SetAttributeValue",
        "token object in a R/O session",
        &[CKR_SESSION_READ_ONLY],
        |x| {
            let mut t = T::new().bytes(CKA_LABEL, b"changed");
            read_only(x, |s| {
                call!(x, C_SetAttributeValue(s, x.data_pub, t.p(), t.n()))
            })
        },
    );
    case(
        v,
        "C_DestroyObject",
        "token object in a R/O session",
        &[CKR_SESSION_READ_ONLY],
        |x| read_only(x, |s| call!(x, C_DestroyObject(s, x.data_pub))),
    );
    case(
        v,
        "C_GenerateKey",
        "token key in a R/O session",
        &[CKR_SESSION_READ_ONLY],
        |x| {
            let (mut t, mut k) = (aes_gen(), 0);
            read_only(x, |s| {
                call!(
                    x,
                    C_GenerateKey(s, mech(CKM_AES_KEY_GEN, &[]).p(), t.p(), t.n(), &mut k)
                )
            })
        },
    );
    case(
        v,
        "C_GetAttributeValue",
        "NULL template, count 2^64-1",
        AB,
        |x| call!(x, C_GetAttributeValue(x.h, x.data_pub, null_mut(), HUGE)),
    );
    case(
        v,
        "C_GetAttributeValue",
        "unknown attribute type",
        ATI,
        |x| {
            let mut t = T::new().bytes(UNKNOWN_ATTR, &[0; 8]);
            let rv = call!(x, C_GetAttributeValue(x.h, x.data_pub, t.p(), t.n()));
            // §5.7.5: the length of an unknown attribute is set to CK_UNAVAILABLE_INFORMATION.
            if t.attrs[0].ulValueLen != CK_UNAVAILABLE_INFORMATION {
                return CKR_GENERAL_ERROR;
            }
            rv
        },
    );
    case(
        v,
        "C_GetAttributeValue",
        "buffer 1 byte short",
        &[CKR_BUFFER_TOO_SMALL],
        |x| {
            let mut t = T::new().bytes(CKA_LABEL, &[0; 5]);
            call!(x, C_GetAttributeValue(x.h, x.data_pub, t.p(), t.n()))
        },
    );
    case(
        v,
        "C_GetAttributeValue",
        "sensitive CKA_VALUE of a private key",
        &[CKR_ATTRIBUTE_SENSITIVE],
        |x| {
            let mut t = T::new().bytes(CKA_VALUE, &[0; 64]);
            call!(x, C_GetAttributeValue(x.h, x.ec_priv, t.p(), t.n()))
        },
    );
    // NULL pValue is the size query whatever ulValueLen holds (§5.7.5).
    case(
        v,
        "C_GetAttributeValue",
        "NULL pValue with length 1000 (size query)",
        &[CKR_OK],
        |x| {
            let mut t = T::new().raw(CKA_LABEL, &[], 1000);
            let rv = call!(x, C_GetAttributeValue(x.h, x.data_pub, t.p(), t.n()));
            if rv == CKR_OK && t.attrs[0].ulValueLen != 7 {
                return CKR_GENERAL_ERROR;
            }
            rv
        },
    );
    session_cases(v, "C_GetAttributeValue", SHI, |x, s| {
        let mut t = T::new().raw(CKA_LABEL, &[], 0);
        call!(x, C_GetAttributeValue(s, x.data_pub, t.p(), t.n()))
    });
    // C_SetAttributeValue (on the public token data object: must stay unchanged)
    dead_objects(v, "C_SetAttributeValue", OHI, |x, o| {
        let mut t = T::new().bytes(CKA_LABEL, b"changed");
        call!(x, C_SetAttributeValue(x.h, o, t.p(), t.n()))
    });
    case(
        v,
        "C_SetAttributeValue",
        "NULL template, count 1",
        AB,
        |x| call!(x, C_SetAttributeValue(x.h, x.data_pub, null_mut(), 1)),
    );
    case(
        v,
        "C_SetAttributeValue",
        "NULL template, count 2^64-1",
        AB,
        |x| call!(x, C_SetAttributeValue(x.h, x.data_pub, null_mut(), HUGE)),
    );
    let set: Vec<(&str, fn() -> T, &[CK_RV])> = vec![
        (
            "duplicate CKA_LABEL with different values",
            || T::new().bytes(CKA_LABEL, b"a").bytes(CKA_LABEL, b"b"),
            TI,
        ),
        (
            "unknown attribute type",
            || {
                T::new()
                    .bytes(CKA_LABEL, b"changed")
                    .bytes(UNKNOWN_ATTR, b"x")
            },
            ATI,
        ),
        (
            "CKA_MODIFIABLE of length 0",
            || {
                T::new()
                    .bytes(CKA_LABEL, b"changed")
                    .raw(CKA_MODIFIABLE, &[], 0)
            },
            AVI,
        ),
        (
            "CKA_PRIVATE of length 2",
            || {
                T::new()
                    .bytes(CKA_LABEL, b"changed")
                    .bytes(CKA_PRIVATE, &[0, 0])
            },
            AVI,
        ),
        (
            "CKA_PRIVATE = 7",
            || {
                T::new()
                    .bytes(CKA_LABEL, b"changed")
                    .bytes(CKA_PRIVATE, &[7])
            },
            AVI,
        ),
        (
            "CKA_LABEL NULL with length 9",
            || T::new().raw(CKA_LABEL, &[], 9),
            NULLVAL,
        ),
        (
            "CKA_LABEL with length 2^64-1",
            || T::new().raw(CKA_LABEL, b"abc", HUGE),
            NULLVAL,
        ),
        (
            "CKA_CLASS (read-only)",
            || {
                T::new()
                    .bytes(CKA_LABEL, b"changed")
                    .u(CKA_CLASS, CKO_SECRET_KEY)
            },
            &[CKR_ATTRIBUTE_READ_ONLY],
        ),
        (
            "CKA_CLASS of length 4",
            || {
                T::new()
                    .bytes(CKA_LABEL, b"changed")
                    .bytes(CKA_CLASS, &[0; 4])
            },
            &[CKR_ATTRIBUTE_READ_ONLY, CKR_ATTRIBUTE_VALUE_INVALID],
        ),
    ];
    for (what, t, want) in set {
        case(v, "C_SetAttributeValue", what, want, move |x| {
            let mut t = t();
            call!(x, C_SetAttributeValue(x.h, x.data_pub, t.p(), t.n()))
        });
    }
    case(
        v,
        "C_SetAttributeValue",
        "private key: CKA_SIGN = 2",
        AVI,
        |x| {
            let mut t = T::new().bytes(CKA_SIGN, &[2]);
            call!(x, C_SetAttributeValue(x.h, x.ec_priv, t.p(), t.n()))
        },
    );
    session_cases(v, "C_SetAttributeValue", SHI, |x, s| {
        let mut t = T::new().bytes(CKA_LABEL, b"changed");
        call!(x, C_SetAttributeValue(s, x.data_pub, t.p(), t.n()))
    });
    // Search
    case(v, "C_FindObjectsInit", "NULL template, count 2", AB, |x| {
        x.fresh(|s| call!(x, C_FindObjectsInit(s, null_mut(), 2)))
    });
    case(
        v,
        "C_FindObjectsInit",
        "NULL template, count 2^64-1",
        AB,
        |x| x.fresh(|s| call!(x, C_FindObjectsInit(s, null_mut(), HUGE))),
    );
    case(v, "C_FindObjectsInit", "second init", OA, |x| {
        x.after(find_init, |s| call!(x, C_FindObjectsInit(s, null_mut(), 0)))
    });
    // README: an unknown type matches nothing (§5.7.7 also lists CKR_ATTRIBUTE_TYPE_INVALID;
    // clients probing vendor attributes expect an empty result).
    case(
        v,
        "C_FindObjectsInit",
        "unknown attribute type",
        &[CKR_OK],
        |x| {
            x.fresh(|s| {
                let mut t = T::new().bytes(UNKNOWN_ATTR, b"x");
                call!(x, C_FindObjectsInit(s, t.p(), t.n()))
            })
        },
    );
    case(
        v,
        "C_FindObjectsInit",
        "CKA_TOKEN = 7",
        // A CK_BBOOL other than 0 or 1 is invalid in a search as it is everywhere else.
        AVI,
        |x| {
            x.fresh(|s| {
                let mut t = T::new().bytes(CKA_TOKEN, &[7]);
                call!(x, C_FindObjectsInit(s, t.p(), t.n()))
            })
        },
    );
    case(
        v,
        "C_FindObjectsInit",
        "CKA_LABEL NULL with length 4",
        NULLVAL,
        |x| {
            x.fresh(|s| {
                let mut t = T::new().raw(CKA_LABEL, &[], 4);
                call!(x, C_FindObjectsInit(s, t.p(), t.n()))
            })
        },
    );
    session_cases(v, "C_FindObjectsInit", SHI, |x, s| {
        call!(x, C_FindObjectsInit(s, null_mut(), 0))
    });
    case(v, "C_FindObjects", "without init", ONI, |x| {
        x.fresh(|s| {
            let mut b = [0; 4];
            let mut n = 0;
            call!(x, C_FindObjects(s, b.as_mut_ptr(), 4, &mut n))
        })
    });
    case(v, "C_FindObjects", "NULL phObject, max 4", AB, |x| {
        x.after(find_init, |s| {
            let mut n = 0;
            call!(x, C_FindObjects(s, null_mut(), 4, &mut n))
        })
    });
    case(v, "C_FindObjects", "NULL pulObjectCount", AB, |x| {
        x.after(find_init, |s| {
            let mut b = [0; 4];
            call!(x, C_FindObjects(s, b.as_mut_ptr(), 4, null_mut()))
        })
    });
    case(v, "C_FindObjects", "NULL phObject, max 2^64-1", AB, |x| {
        x.after(find_init, |s| {
            let mut n = 0;
            call!(x, C_FindObjects(s, null_mut(), HUGE, &mut n))
        })
    });
    session_cases(v, "C_FindObjects", SHI, |x, s| {
        let mut b = [0; 4];
        let mut n = 0;
        call!(x, C_FindObjects(s, b.as_mut_ptr(), 4, &mut n))
    });
    case(v, "C_FindObjectsFinal", "without init", ONI, |x| {
        x.fresh(|s| call!(x, C_FindObjectsFinal(s)))
    });
    session_cases(v, "C_FindObjectsFinal", SHI, |x, s| {
        call!(x, C_FindObjectsFinal(s))
    });
}

type Init = fn(&Fx, CK_SESSION_HANDLE) -> CK_RV;

/// Cases of an Init function: NULL/unknown/bad-parameter mechanisms, dead keys, second Init,
/// bad sessions. `f(x, s, mechanism, key)`.
fn init_cases(
    v: &mut Vec<Case>,
    func: &'static str,
    init: Init,
    good: fn(&Fx) -> (M, CK_OBJECT_HANDLE),
    wrong_type: Option<fn(&Fx) -> (M, CK_OBJECT_HANDLE)>,
    f: fn(&Fx, CK_SESSION_HANDLE, *mut CK_MECHANISM, CK_OBJECT_HANDLE) -> CK_RV,
) {
    case(v, func, "NULL pMechanism", AB, move |x| {
        x.fresh(|s| f(x, s, null_mut(), good(x).1))
    });
    case(v, func, "unknown mechanism", MI, move |x| {
        x.fresh(|s| f(x, s, mech(BAD_MECH, &[]).p(), good(x).1))
    });
    case(v, func, "second init", OA, move |x| {
        x.after(init, |s| {
            let (mut m, k) = good(x);
            f(x, s, m.p(), k)
        })
    });
    for (what, k) in [
        ("invalid key handle", 0usize),
        ("key handle 0", 1),
        ("destroyed key", 2),
        ("key of a closed session", 3),
    ] {
        case(v, func, what, KHI, move |x| {
            let key = [BAD_OBJECT, CK_INVALID_HANDLE, x.dead_key, x.orphan_key][k];
            let (mut m, _) = good(x);
            x.fresh(|s| f(x, s, m.p(), key))
        });
    }
    // A data object is no key: the handle is not a valid key handle.
    case(
        v,
        func,
        "data object as key",
        &[CKR_KEY_HANDLE_INVALID, CKR_KEY_TYPE_INCONSISTENT],
        move |x| {
            let (mut m, _) = good(x);
            x.fresh(|s| f(x, s, m.p(), x.data_pub))
        },
    );
    if let Some(w) = wrong_type {
        // The recover cases use an AES key, which also lacks CKA_SIGN_RECOVER/VERIFY_RECOVER:
        // both codes then apply and the specification orders no checks.
        let want: &[CK_RV] = if func.contains("Recover") {
            &[CKR_KEY_TYPE_INCONSISTENT, CKR_KEY_FUNCTION_NOT_PERMITTED]
        } else {
            &[CKR_KEY_TYPE_INCONSISTENT]
        };
        case(
            v,
            func,
            "key of the wrong type (usage allowed)",
            want,
            move |x| {
                let (mut m, k) = w(x);
                x.fresh(|s| f(x, s, m.p(), k))
            },
        );
    }
    session_cases(v, func, SHI, move |x, s| {
        let (mut m, k) = good(x);
        f(x, s, m.p(), k)
    });
}

/// Cases of a single-part function `f(x, s, in, in_len, out, out_len_ptr)`.
fn one_part_cases(
    v: &mut Vec<Case>,
    func: &'static str,
    init: Init,
    f: fn(&Fx, CK_SESSION_HANDLE, *mut u8, CK_ULONG, *mut u8, *mut CK_ULONG) -> CK_RV,
) {
    case(v, func, "without init", ONI, move |x| {
        x.fresh(|s| {
            let (mut i, mut o, mut n) = ([0u8; 16], [0u8; 512], 512);
            f(x, s, i.as_mut_ptr(), 16, o.as_mut_ptr(), &mut n)
        })
    });
    case(v, func, "NULL input, length 16", AB, move |x| {
        x.after(init, |s| {
            let (mut o, mut n) = ([0u8; 512], 512);
            f(x, s, null_mut(), 16, o.as_mut_ptr(), &mut n)
        })
    });
    case(v, func, "input length 2^64-1", AB, move |x| {
        x.after(init, |s| {
            let (mut i, mut o, mut n) = ([0u8; 16], [0u8; 512], 512);
            f(x, s, i.as_mut_ptr(), HUGE, o.as_mut_ptr(), &mut n)
        })
    });
    case(v, func, "NULL output length pointer", AB, move |x| {
        x.after(init, |s| {
            let (mut i, mut o) = ([0u8; 16], [0u8; 512]);
            f(x, s, i.as_mut_ptr(), 16, o.as_mut_ptr(), null_mut())
        })
    });
    session_cases(v, func, SHI, move |x, s| {
        let (mut i, mut o, mut n) = ([0u8; 16], [0u8; 512], 512);
        f(x, s, i.as_mut_ptr(), 16, o.as_mut_ptr(), &mut n)
    });
}

/// Cases of an Update function `f(x, s, in, in_len)` (its output, if any, is handled by `f`).
fn update_cases(
    v: &mut Vec<Case>,
    func: &'static str,
    init: Init,
    f: fn(&Fx, CK_SESSION_HANDLE, *mut u8, CK_ULONG) -> CK_RV,
) {
    case(v, func, "without init", ONI, move |x| {
        x.fresh(|s| f(x, s, [0u8; 16].as_mut_ptr(), 16))
    });
    case(v, func, "NULL part, length 16", AB, move |x| {
        x.after(init, |s| f(x, s, null_mut(), 16))
    });
    case(v, func, "part length 2^63", AB, move |x| {
        x.after(init, |s| f(x, s, [0u8; 16].as_mut_ptr(), HUGE2))
    });
    session_cases(v, func, SHI, move |x, s| {
        f(x, s, [0u8; 16].as_mut_ptr(), 16)
    });
}

/// Cases of a Final function `f(x, s, out, out_len_ptr)`.
fn final_cases(
    v: &mut Vec<Case>,
    func: &'static str,
    init: Init,
    f: fn(&Fx, CK_SESSION_HANDLE, *mut u8, *mut CK_ULONG) -> CK_RV,
) {
    case(v, func, "without init", ONI, move |x| {
        x.fresh(|s| {
            let (mut o, mut n) = ([0u8; 512], 512);
            f(x, s, o.as_mut_ptr(), &mut n)
        })
    });
    case(v, func, "NULL output length pointer", AB, move |x| {
        x.after(init, |s| f(x, s, [0u8; 512].as_mut_ptr(), null_mut()))
    });
    session_cases(v, func, SHI, move |x, s| {
        let (mut o, mut n) = ([0u8; 512], 512);
        f(x, s, o.as_mut_ptr(), &mut n)
    });
}

fn crypto(v: &mut Vec<Case>) {
    // Encrypt / decrypt (AES key)
    fn aes_ecb(x: &Fx) -> (M, CK_OBJECT_HANDLE) {
        (mech(CKM_AES_ECB, &[]), x.aes)
    }
    fn ecdsa_priv(x: &Fx) -> (M, CK_OBJECT_HANDLE) {
        (mech(CKM_ECDSA_SHA256, &[]), x.ec_priv)
    }
    fn ecdsa_pub(x: &Fx) -> (M, CK_OBJECT_HANDLE) {
        (mech(CKM_ECDSA_SHA256, &[]), x.ec_pub)
    }
    fn aes_for_ecdsa(x: &Fx) -> (M, CK_OBJECT_HANDLE) {
        (mech(CKM_ECDSA_SHA256, &[]), x.aes)
    }
    fn rsa_pub_for_aes(x: &Fx) -> (M, CK_OBJECT_HANDLE) {
        (mech(CKM_AES_ECB, &[]), x.rsa_pub)
    }
    fn rsa_priv_for_aes(x: &Fx) -> (M, CK_OBJECT_HANDLE) {
        (mech(CKM_AES_ECB, &[]), x.rsa_priv)
    }
    fn rsa_priv(x: &Fx) -> (M, CK_OBJECT_HANDLE) {
        (mech(CKM_RSA_PKCS, &[]), x.rsa_priv)
    }
    fn rsa_pub(x: &Fx) -> (M, CK_OBJECT_HANDLE) {
        (mech(CKM_RSA_PKCS, &[]), x.rsa_pub)
    }
    fn aes_for_rsa(x: &Fx) -> (M, CK_OBJECT_HANDLE) {
        (mech(CKM_RSA_PKCS, &[]), x.aes)
    }
    init_cases(
        v,
        "C_EncryptInit",
        enc_init,
        aes_ecb,
        Some(rsa_pub_for_aes),
        |x, s, m, k| call!(x, C_EncryptInit(s, m, k)),
    );
    init_cases(
        v,
        "C_DecryptInit",
        dec_init,
        aes_ecb,
        Some(rsa_priv_for_aes),
        |x, s, m, k| call!(x, C_DecryptInit(s, m, k)),
    );
    init_cases(
        v,
        "C_SignInit",
        sign_init,
        ecdsa_priv,
        Some(aes_for_ecdsa),
        |x, s, m, k| call!(x, C_SignInit(s, m, k)),
    );
    init_cases(
        v,
        "C_VerifyInit",
        verify_init,
        ecdsa_pub,
        Some(aes_for_ecdsa),
        |x, s, m, k| call!(x, C_VerifyInit(s, m, k)),
    );
    init_cases(
        v,
        "C_SignRecoverInit",
        sr_init,
        rsa_priv,
        Some(aes_for_rsa),
        |x, s, m, k| call!(x, C_SignRecoverInit(s, m, k)),
    );
    init_cases(
        v,
        "C_VerifyRecoverInit",
        vr_init,
        rsa_pub,
        Some(aes_for_rsa),
        |x, s, m, k| call!(x, C_VerifyRecoverInit(s, m, k)),
    );
    fn gcm_aes(x: &Fx) -> (M, CK_OBJECT_HANDLE) {
        (mech(CKM_AES_GCM, &[]), x.aes)
    }
    fn gcm_rsa_pub(x: &Fx) -> (M, CK_OBJECT_HANDLE) {
        (mech(CKM_AES_GCM, &[]), x.rsa_pub)
    }
    fn gcm_rsa_priv(x: &Fx) -> (M, CK_OBJECT_HANDLE) {
        (mech(CKM_AES_GCM, &[]), x.rsa_priv)
    }
    init_cases(
        v,
        "C_MessageEncryptInit",
        menc_init,
        gcm_aes,
        Some(gcm_rsa_pub),
        |x, s, m, k| call!(x, C_MessageEncryptInit(s, m, k)),
    );
    init_cases(
        v,
        "C_MessageDecryptInit",
        mdec_init,
        gcm_aes,
        Some(gcm_rsa_priv),
        |x, s, m, k| call!(x, C_MessageDecryptInit(s, m, k)),
    );
    // README: ECDSA is not a recover mechanism.
    case(v, "C_SignRecoverInit", "ECDSA (no recovery)", MI, |x| {
        x.fresh(|s| call!(x, C_SignRecoverInit(s, mech(CKM_ECDSA, &[]).p(), x.ec_priv)))
    });
    // Mechanism parameters of the wrong size or shape.
    let params: Vec<(&str, fn() -> M)> = vec![
        ("AES_CBC with an 8-byte IV", || mech(CKM_AES_CBC, &[0; 8])),
        ("AES_CBC with a 17-byte IV", || mech(CKM_AES_CBC, &[0; 17])),
        ("AES_CBC_PAD without IV", || mech(CKM_AES_CBC_PAD, &[])),
        ("AES_CBC IV NULL, length 16", || mech_null(CKM_AES_CBC, 16)),
        ("AES_ECB with a 16-byte parameter", || {
            mech(CKM_AES_ECB, &[0; 16])
        }),
        ("AES_GCM with an 8-byte parameter", || {
            mech(CKM_AES_GCM, &[0; 8])
        }),
        ("AES_GCM parameter one byte long", || {
            mech(CKM_AES_GCM, &[0; 1 + std::mem::size_of::<CK_GCM_PARAMS>()])
        }),
        ("AES_GCM with tag 200 bits", || {
            let iv: &'static mut [u8] = Box::leak(vec![0u8; 12].into_boxed_slice());
            mech(
                CKM_AES_GCM,
                &pod(&CK_GCM_PARAMS {
                    pIv: iv.as_mut_ptr(),
                    ulIvLen: 12,
                    ulIvBits: 96,
                    pAAD: null_mut(),
                    ulAADLen: 0,
                    ulTagBits: 200,
                }),
            )
        }),
        ("AES_GCM IV NULL with length 12", || {
            mech(
                CKM_AES_GCM,
                &pod(&CK_GCM_PARAMS {
                    pIv: null_mut(),
                    ulIvLen: 12,
                    ulIvBits: 96,
                    pAAD: null_mut(),
                    ulAADLen: 0,
                    ulTagBits: 128,
                }),
            )
        }),
        ("AES_GCM AAD length 2^64-1", || {
            let iv: &'static mut [u8] = Box::leak(vec![0u8; 12].into_boxed_slice());
            mech(
                CKM_AES_GCM,
                &pod(&CK_GCM_PARAMS {
                    pIv: iv.as_mut_ptr(),
                    ulIvLen: 12,
                    ulIvBits: 96,
                    pAAD: iv.as_mut_ptr(),
                    ulAADLen: HUGE,
                    ulTagBits: 128,
                }),
            )
        }),
        ("AES_CTR with an 8-byte parameter", || {
            mech(CKM_AES_CTR, &[0; 8])
        }),
        ("AES_CTR counter bits 0", || {
            mech(
                CKM_AES_CTR,
                &pod(&CK_AES_CTR_PARAMS {
                    ulCounterBits: 0,
                    cb: [0; 16],
                }),
            )
        }),
        ("AES_CTR counter bits 129", || {
            mech(
                CKM_AES_CTR,
                &pod(&CK_AES_CTR_PARAMS {
                    ulCounterBits: 129,
                    cb: [0; 16],
                }),
            )
        }),
        ("AES_CCM with a 3-byte parameter", || {
            mech(CKM_AES_CCM, &[0; 3])
        }),
    ];
    for (what, m) in params {
        // A NULL parameter pointer with a length is also an argument error.
        let want: &[CK_RV] = if what.contains("NULL") {
            &[CKR_MECHANISM_PARAM_INVALID, CKR_ARGUMENTS_BAD]
        } else {
            MPI
        };
        case(v, "C_EncryptInit", what, want, move |x| {
            x.fresh(|s| call!(x, C_EncryptInit(s, m().p(), x.aes)))
        });
        case(v, "C_DecryptInit", what, want, move |x| {
            x.fresh(|s| call!(x, C_DecryptInit(s, m().p(), x.aes)))
        });
    }
    let sparams: Vec<(&str, fn() -> M)> = vec![
        ("ECDSA with a 4-byte parameter", || mech(CKM_ECDSA, &[0; 4])),
        ("SHA256_RSA_PKCS_PSS with a 4-byte parameter", || {
            mech(CKM_SHA256_RSA_PKCS_PSS, &[0; 4])
        }),
        ("RSA_PKCS_PSS without parameter", || {
            mech(CKM_RSA_PKCS_PSS, &[])
        }),
    ];
    for (what, m) in sparams {
        case(v, "C_SignInit", what, MPI, move |x| {
            let k = if what.starts_with("ECDSA") {
                x.ec_priv
            } else {
                x.rsa_priv
            };
            x.fresh(|s| call!(x, C_SignInit(s, m().p(), k)))
        });
    }
    case(
        v,
        "C_VerifyInit",
        "RSA_PKCS_OAEP with a 4-byte parameter",
        &[CKR_MECHANISM_PARAM_INVALID, CKR_MECHANISM_INVALID],
        |x| {
            x.fresh(|s| {
                call!(
                    x,
                    C_VerifyInit(s, mech(CKM_RSA_PKCS_OAEP, &[0; 4]).p(), x.rsa_pub)
                )
            })
        },
    );
    case(
        v,
        "C_EncryptInit",
        "RSA_PKCS_OAEP with a 4-byte parameter",
        MPI,
        |x| {
            x.fresh(|s| {
                call!(
                    x,
                    C_EncryptInit(s, mech(CKM_RSA_PKCS_OAEP, &[0; 4]).p(), x.rsa_pub)
                )
            })
        },
    );
    case(
        v,
        "C_SignInit",
        "SHA256_HMAC_GENERAL with a 4-byte parameter",
        MPI,
        |x| {
            x.fresh(|s| {
                call!(
                    x,
                    C_SignInit(s, mech(CKM_SHA256_HMAC_GENERAL, &[0; 4]).p(), x.aes)
                )
            })
        },
    );
    // Single-part, update and final.
    one_part_cases(v, "C_Encrypt", enc_init, |x, s, i, l, o, n| {
        call!(x, C_Encrypt(s, i, l, o, n))
    });
    one_part_cases(v, "C_Decrypt", dec_init, |x, s, i, l, o, n| {
        call!(x, C_Decrypt(s, i, l, o, n))
    });
    one_part_cases(v, "C_Digest", dig_init, |x, s, i, l, o, n| {
        call!(x, C_Digest(s, i, l, o, n))
    });
    one_part_cases(v, "C_Sign", sign_init, |x, s, i, l, o, n| {
        call!(x, C_Sign(s, i, l, o, n))
    });
    one_part_cases(v, "C_SignRecover", sr_init, |x, s, i, l, o, n| {
        call!(x, C_SignRecover(s, i, l, o, n))
    });
    one_part_cases(v, "C_VerifyRecover", vr_init, |x, s, i, l, o, n| {
        call!(x, C_VerifyRecover(s, i, l, o, n))
    });
    update_cases(v, "C_EncryptUpdate", enc_init, |x, s, i, l| {
        let (mut o, mut n) = ([0u8; 512], 512);
        call!(x, C_EncryptUpdate(s, i, l, o.as_mut_ptr(), &mut n))
    });
    update_cases(v, "C_DecryptUpdate", dec_init, |x, s, i, l| {
        let (mut o, mut n) = ([0u8; 512], 512);
        call!(x, C_DecryptUpdate(s, i, l, o.as_mut_ptr(), &mut n))
    });
    update_cases(v, "C_DigestUpdate", dig_init, |x, s, i, l| {
        call!(x, C_DigestUpdate(s, i, l))
    });
    update_cases(v, "C_SignUpdate", sign_init, |x, s, i, l| {
        call!(x, C_SignUpdate(s, i, l))
    });
    update_cases(v, "C_VerifyUpdate", verify_init, |x, s, i, l| {
        call!(x, C_VerifyUpdate(s, i, l))
    });
    case(
        v,
        "C_EncryptUpdate",
        "NULL output length pointer",
        AB,
        |x| {
            x.after(enc_init, |s| {
                call!(
                    x,
                    C_EncryptUpdate(
                        s,
                        [0u8; 16].as_mut_ptr(),
                        16,
                        [0u8; 64].as_mut_ptr(),
                        null_mut()
                    )
                )
            })
        },
    );
    case(
        v,
        "C_DecryptUpdate",
        "NULL output length pointer",
        AB,
        |x| {
            x.after(dec_init, |s| {
                call!(
                    x,
                    C_DecryptUpdate(
                        s,
                        [0u8; 16].as_mut_ptr(),
                        16,
                        [0u8; 64].as_mut_ptr(),
                        null_mut()
                    )
                )
            })
        },
    );
    final_cases(v, "C_EncryptFinal", enc_init, |x, s, o, n| {
        call!(x, C_EncryptFinal(s, o, n))
    });
    final_cases(v, "C_DecryptFinal", dec_init, |x, s, o, n| {
        call!(x, C_DecryptFinal(s, o, n))
    });
    final_cases(v, "C_DigestFinal", dig_init, |x, s, o, n| {
        call!(x, C_DigestFinal(s, o, n))
    });
    final_cases(v, "C_SignFinal", sign_init, |x, s, o, n| {
        call!(x, C_SignFinal(s, o, n))
    });
    // Verify and VerifyFinal take a signature instead of an output buffer.
    case(v, "C_Verify", "without init", ONI, |x| {
        x.fresh(|s| {
            call!(
                x,
                C_Verify(s, [0u8; 16].as_mut_ptr(), 16, [0u8; 64].as_mut_ptr(), 64)
            )
        })
    });
    case(v, "C_Verify", "NULL data, length 16", AB, |x| {
        x.after(verify_init, |s| {
            call!(x, C_Verify(s, null_mut(), 16, [0u8; 64].as_mut_ptr(), 64))
        })
    });
    case(v, "C_Verify", "NULL signature, length 64", AB, |x| {
        x.after(verify_init, |s| {
            call!(x, C_Verify(s, [0u8; 16].as_mut_ptr(), 16, null_mut(), 64))
        })
    });
    case(
        v,
        "C_Verify",
        "signature length 2^64-1",
        &[CKR_ARGUMENTS_BAD, CKR_SIGNATURE_LEN_RANGE],
        |x| {
            x.after(verify_init, |s| {
                call!(
                    x,
                    C_Verify(s, [0u8; 16].as_mut_ptr(), 16, [0u8; 64].as_mut_ptr(), HUGE)
                )
            })
        },
    );
    case(
        v,
        "C_Verify",
        "signature of 63 bytes",
        &[CKR_SIGNATURE_LEN_RANGE],
        |x| {
            x.after(verify_init, |s| {
                call!(
                    x,
                    C_Verify(s, [0u8; 16].as_mut_ptr(), 16, [0u8; 64].as_mut_ptr(), 63)
                )
            })
        },
    );
    session_cases(v, "C_Verify", SHI, |x, s| {
        call!(
            x,
            C_Verify(s, [0u8; 16].as_mut_ptr(), 16, [0u8; 64].as_mut_ptr(), 64)
        )
    });
    case(v, "C_VerifyFinal", "without init", ONI, |x| {
        x.fresh(|s| call!(x, C_VerifyFinal(s, [0u8; 64].as_mut_ptr(), 64)))
    });
    case(v, "C_VerifyFinal", "NULL signature, length 64", AB, |x| {
        x.after(verify_init, |s| call!(x, C_VerifyFinal(s, null_mut(), 64)))
    });
    session_cases(v, "C_VerifyFinal", SHI, |x, s| {
        call!(x, C_VerifyFinal(s, [0u8; 64].as_mut_ptr(), 64))
    });
    // Wrong operation state: single-part after an update (§5.8.2: C_Encrypt cannot finish a
    // multi-part operation), and the wrong operation.
    let mixed: &[CK_RV] = &[CKR_OPERATION_ACTIVE, CKR_OPERATION_NOT_INITIALIZED];
    case(v, "C_Encrypt", "after C_EncryptUpdate", mixed, |x| {
        x.after(enc_init, |s| {
            let (mut o, mut n) = ([0u8; 64], 64);
            assert_rv(
                call!(
                    x,
                    C_EncryptUpdate(s, [0u8; 16].as_mut_ptr(), 16, o.as_mut_ptr(), &mut n)
                ),
                CKR_OK,
            );
            let mut n = 64;
            call!(
                x,
                C_Encrypt(s, [0u8; 16].as_mut_ptr(), 16, o.as_mut_ptr(), &mut n)
            )
        })
    });
    case(v, "C_Digest", "after C_DigestUpdate", mixed, |x| {
        x.after(dig_init, |s| {
            assert_rv(
                call!(x, C_DigestUpdate(s, [0u8; 16].as_mut_ptr(), 16)),
                CKR_OK,
            );
            let (mut o, mut n) = ([0u8; 64], 64);
            call!(
                x,
                C_Digest(s, [0u8; 16].as_mut_ptr(), 16, o.as_mut_ptr(), &mut n)
            )
        })
    });
    case(v, "C_Sign", "after C_SignUpdate", mixed, |x| {
        x.after(sign_init, |s| {
            assert_rv(
                call!(x, C_SignUpdate(s, [0u8; 16].as_mut_ptr(), 16)),
                CKR_OK,
            );
            let (mut o, mut n) = ([0u8; 128], 128);
            call!(
                x,
                C_Sign(s, [0u8; 16].as_mut_ptr(), 16, o.as_mut_ptr(), &mut n)
            )
        })
    });
    case(
        v,
        "C_Decrypt",
        "while only encryption is active",
        ONI,
        |x| {
            x.after(enc_init, |s| {
                let (mut o, mut n) = ([0u8; 64], 64);
                call!(
                    x,
                    C_Decrypt(s, [0u8; 16].as_mut_ptr(), 16, o.as_mut_ptr(), &mut n)
                )
            })
        },
    );
    case(
        v,
        "C_VerifyFinal",
        "while only signing is active",
        ONI,
        |x| {
            x.after(sign_init, |s| {
                call!(x, C_VerifyFinal(s, [0u8; 64].as_mut_ptr(), 64))
            })
        },
    );
    case(
        v,
        "C_SignRecover",
        "while only signing is active",
        ONI,
        |x| {
            x.after(sign_init, |s| {
                let (mut o, mut n) = ([0u8; 512], 512);
                call!(
                    x,
                    C_SignRecover(s, [0u8; 16].as_mut_ptr(), 16, o.as_mut_ptr(), &mut n)
                )
            })
        },
    );
    // Digest
    case(v, "C_DigestInit", "NULL pMechanism", AB, |x| {
        x.fresh(|s| call!(x, C_DigestInit(s, null_mut())))
    });
    case(v, "C_DigestInit", "unknown mechanism", MI, |x| {
        x.fresh(|s| call!(x, C_DigestInit(s, mech(BAD_MECH, &[]).p())))
    });
    case(v, "C_DigestInit", "AES_ECB (not a digest)", MI, |x| {
        x.fresh(|s| call!(x, C_DigestInit(s, mech(CKM_AES_ECB, &[]).p())))
    });
    case(
        v,
        "C_DigestInit",
        "SHA256 with a 4-byte parameter",
        MPI,
        |x| x.fresh(|s| call!(x, C_DigestInit(s, mech(CKM_SHA256, &[0; 4]).p()))),
    );
    case(v, "C_DigestInit", "second init", OA, |x| {
        x.after(dig_init, |s| {
            call!(x, C_DigestInit(s, mech(CKM_SHA256, &[]).p()))
        })
    });
    session_cases(v, "C_DigestInit", SHI, |x, s| {
        call!(x, C_DigestInit(s, mech(CKM_SHA256, &[]).p()))
    });
    case(v, "C_DigestKey", "without init", ONI, |x| {
        x.fresh(|s| call!(x, C_DigestKey(s, x.aes)))
    });
    for (what, k) in [
        ("invalid key handle", 0usize),
        ("destroyed key", 1),
        ("key of a closed session", 2),
    ] {
        case(v, "C_DigestKey", what, KHI, move |x| {
            let key = [BAD_OBJECT, x.dead_key, x.orphan_key][k];
            x.after(dig_init, |s| call!(x, C_DigestKey(s, key)))
        });
    }
    case(
        v,
        "C_DigestKey",
        "private EC key",
        &[CKR_KEY_INDIGESTIBLE],
        |x| x.after(dig_init, |s| call!(x, C_DigestKey(s, x.ec_priv))),
    );
    session_cases(v, "C_DigestKey", SHI, |x, s| {
        call!(x, C_DigestKey(s, x.aes))
    });
}

fn keys(v: &mut Vec<Case>) {
    // C_GenerateKey: a token AES key if it wrongly succeeded, which the final check would see.
    case(v, "C_GenerateKey", "NULL pMechanism", AB, |x| {
        let (mut t, mut k) = (aes_gen(), 0);
        call!(x, C_GenerateKey(x.h, null_mut(), t.p(), t.n(), &mut k))
    });
    case(v, "C_GenerateKey", "NULL phKey", AB, |x| {
        let mut t = aes_gen();
        call!(
            x,
            C_GenerateKey(
                x.h,
                mech(CKM_AES_KEY_GEN, &[]).p(),
                t.p(),
                t.n(),
                null_mut()
            )
        )
    });
    case(v, "C_GenerateKey", "unknown mechanism", MI, |x| {
        let (mut t, mut k) = (aes_gen(), 0);
        call!(
            x,
            C_GenerateKey(x.h, mech(BAD_MECH, &[]).p(), t.p(), t.n(), &mut k)
        )
    });
    case(
        v,
        "C_GenerateKey",
        "EC_KEY_PAIR_GEN (a pair mechanism)",
        MI,
        |x| {
            let (mut t, mut k) = (aes_gen(), 0);
            call!(
                x,
                C_GenerateKey(
                    x.h,
                    mech(CKM_EC_KEY_PAIR_GEN, &[]).p(),
                    t.p(),
                    t.n(),
                    &mut k
                )
            )
        },
    );
    case(
        v,
        "C_GenerateKey",
        "AES_KEY_GEN with a 4-byte parameter",
        MPI,
        |x| {
            let (mut t, mut k) = (aes_gen(), 0);
            call!(
                x,
                C_GenerateKey(
                    x.h,
                    mech(CKM_AES_KEY_GEN, &[0; 4]).p(),
                    t.p(),
                    t.n(),
                    &mut k
                )
            )
        },
    );
    case(v, "C_GenerateKey", "CKA_VALUE_LEN of length 4", AVI, |x| {
        let mut t = aes_gen();
        t.attrs.pop();
        t.bufs.pop();
        let mut t = t.bytes(CKA_VALUE_LEN, &[32, 0, 0, 0]);
        let mut k = 0;
        call!(
            x,
            C_GenerateKey(x.h, mech(CKM_AES_KEY_GEN, &[]).p(), t.p(), t.n(), &mut k)
        )
    });
    case(
        v,
        "C_GenerateKey",
        "CKA_VALUE_LEN 2^64-1",
        &[CKR_ATTRIBUTE_VALUE_INVALID, CKR_KEY_SIZE_RANGE],
        |x| {
            let mut t = aes_gen();
            t.attrs.pop();
            t.bufs.pop();
            let mut t = t.u(CKA_VALUE_LEN, HUGE);
            let mut k = 0;
            call!(
                x,
                C_GenerateKey(x.h, mech(CKM_AES_KEY_GEN, &[]).p(), t.p(), t.n(), &mut k)
            )
        },
    );
    template_cases(v, "C_GenerateKey", aes_gen, |x, mut t| {
        let mut k = 0;
        let p = if t.attrs.is_empty() {
            null_mut()
        } else {
            t.p()
        };
        let n = if t.attrs.is_empty() {
            t.bufs.len() as CK_ULONG
        } else {
            t.n()
        };
        call!(
            x,
            C_GenerateKey(x.h, mech(CKM_AES_KEY_GEN, &[]).p(), p, n, &mut k)
        )
    });
    session_cases(v, "C_GenerateKey", SHI, |x, s| {
        let (mut t, mut k) = (aes_gen(), 0);
        call!(
            x,
            C_GenerateKey(s, mech(CKM_AES_KEY_GEN, &[]).p(), t.p(), t.n(), &mut k)
        )
    });
    // C_GenerateKeyPair
    fn pubt() -> T {
        T::new().b(CKA_TOKEN, true).bytes(CKA_EC_PARAMS, P256)
    }
    fn privt() -> T {
        T::new().b(CKA_TOKEN, true).b(CKA_SIGN, true)
    }
    fn pair(
        x: &Fx,
        s: CK_SESSION_HANDLE,
        m: *mut CK_MECHANISM,
        mut pu: T,
        mut pr: T,
        outs: bool,
    ) -> CK_RV {
        let (mut a, mut b) = (0, 0);
        let (pa, pb): (*mut CK_OBJECT_HANDLE, *mut CK_OBJECT_HANDLE) = if outs {
            (&mut a, &mut b)
        } else {
            (null_mut(), &mut b)
        };
        let (pp, pn) = if pu.attrs.is_empty() {
            (null_mut(), pu.bufs.len() as CK_ULONG)
        } else {
            (pu.p(), pu.n())
        };
        let (qp, qn) = if pr.attrs.is_empty() {
            (null_mut(), pr.bufs.len() as CK_ULONG)
        } else {
            (pr.p(), pr.n())
        };
        call!(x, C_GenerateKeyPair(s, m, pp, pn, qp, qn, pa, pb))
    }
    let ecgen = || mech(CKM_EC_KEY_PAIR_GEN, &[]);
    case(v, "C_GenerateKeyPair", "NULL pMechanism", AB, |x| {
        pair(x, x.h, null_mut(), pubt(), privt(), true)
    });
    case(v, "C_GenerateKeyPair", "NULL phPublicKey", AB, move |x| {
        pair(x, x.h, ecgen().p(), pubt(), privt(), false)
    });
    case(v, "C_GenerateKeyPair", "unknown mechanism", MI, |x| {
        pair(x, x.h, mech(BAD_MECH, &[]).p(), pubt(), privt(), true)
    });
    case(
        v,
        "C_GenerateKeyPair",
        "AES_KEY_GEN (not a pair mechanism)",
        MI,
        |x| {
            pair(
                x,
                x.h,
                mech(CKM_AES_KEY_GEN, &[]).p(),
                pubt(),
                privt(),
                true,
            )
        },
    );
    case(
        v,
        "C_GenerateKeyPair",
        "EC_KEY_PAIR_GEN with a 4-byte parameter",
        MPI,
        move |x| {
            pair(
                x,
                x.h,
                mech(CKM_EC_KEY_PAIR_GEN, &[0; 4]).p(),
                pubt(),
                privt(),
                true,
            )
        },
    );
    // Garbage curve parameters: §2.3 (EC) gives CKR_DOMAIN_PARAMS_INVALID, v3.0 also CURVE_NOT_SUPPORTED.
    case(
        v,
        "C_GenerateKeyPair",
        "CKA_EC_PARAMS garbage",
        &[
            CKR_DOMAIN_PARAMS_INVALID,
            CKR_CURVE_NOT_SUPPORTED,
            CKR_ATTRIBUTE_VALUE_INVALID,
        ],
        move |x| {
            pair(
                x,
                x.h,
                ecgen().p(),
                T::new()
                    .b(CKA_TOKEN, true)
                    .bytes(CKA_EC_PARAMS, &[0x06, 0x03, 1, 2]),
                privt(),
                true,
            )
        },
    );
    case(
        v,
        "C_GenerateKeyPair",
        "no CKA_EC_PARAMS",
        &[CKR_TEMPLATE_INCOMPLETE],
        move |x| {
            pair(
                x,
                x.h,
                ecgen().p(),
                T::new().b(CKA_TOKEN, true),
                privt(),
                true,
            )
        },
    );
    template_cases(v, "C_GenerateKeyPair", pubt, move |x, t| {
        pair(x, x.h, ecgen().p(), t, privt(), true)
    });
    case(
        v,
        "C_GenerateKeyPair",
        "private template: duplicate CKA_SIGN true/false",
        TI,
        move |x| {
            pair(
                x,
                x.h,
                ecgen().p(),
                pubt(),
                privt().b(CKA_SIGN, false),
                true,
            )
        },
    );
    case(
        v,
        "C_GenerateKeyPair",
        "private template: unknown attribute type",
        ATI,
        move |x| {
            pair(
                x,
                x.h,
                ecgen().p(),
                pubt(),
                privt().bytes(UNKNOWN_ATTR, b"x"),
                true,
            )
        },
    );
    case(
        v,
        "C_GenerateKeyPair",
        "private template: CKA_SENSITIVE = 7",
        AVI,
        move |x| {
            pair(
                x,
                x.h,
                ecgen().p(),
                pubt(),
                privt().bytes(CKA_SENSITIVE, &[7]),
                true,
            )
        },
    );
    case(
        v,
        "C_GenerateKeyPair",
        "private template: NULL with count 2^64-1",
        AB,
        pair_huge,
    );
    fn pair_huge(x: &Fx) -> CK_RV {
        let mut pu = pubt();
        let (mut a, mut b) = (0, 0);
        call!(
            x,
            C_GenerateKeyPair(
                x.h,
                mech(CKM_EC_KEY_PAIR_GEN, &[]).p(),
                pu.p(),
                pu.n(),
                null_mut(),
                HUGE,
                &mut a,
                &mut b
            )
        )
    }
    session_cases(v, "C_GenerateKeyPair", SHI, move |x, s| {
        pair(x, s, ecgen().p(), pubt(), privt(), true)
    });
    // C_WrapKey (wrapping the AES key with itself)
    fn wrap(
        x: &Fx,
        s: CK_SESSION_HANDLE,
        m: *mut CK_MECHANISM,
        wk: CK_OBJECT_HANDLE,
        k: CK_OBJECT_HANDLE,
    ) -> CK_RV {
        let (mut o, mut n) = ([0u8; 512], 512);
        call!(x, C_WrapKey(s, m, wk, k, o.as_mut_ptr(), &mut n))
    }
    let kwp = || mech(CKM_AES_KEY_WRAP_KWP, &[]);
    case(v, "C_WrapKey", "NULL pMechanism", AB, |x| {
        wrap(x, x.h, null_mut(), x.aes, x.aes)
    });
    case(v, "C_WrapKey", "NULL pulWrappedKeyLen", AB, move |x| {
        call!(
            x,
            C_WrapKey(
                x.h,
                kwp().p(),
                x.aes,
                x.aes,
                [0u8; 64].as_mut_ptr(),
                null_mut()
            )
        )
    });
    case(v, "C_WrapKey", "unknown mechanism", MI, |x| {
        wrap(x, x.h, mech(BAD_MECH, &[]).p(), x.aes, x.aes)
    });
    case(v, "C_WrapKey", "AES_CBC_PAD with a 3-byte IV", MPI, |x| {
        wrap(x, x.h, mech(CKM_AES_CBC_PAD, &[0; 3]).p(), x.aes, x.aes)
    });
    for (what, k) in [
        ("invalid", 0usize),
        ("destroyed", 1),
        ("closed session's", 2),
    ] {
        case(
            v,
            "C_WrapKey",
            format!("{what} wrapping key"),
            &[CKR_WRAPPING_KEY_HANDLE_INVALID],
            move |x| {
                let key = [BAD_OBJECT, x.dead_key, x.orphan_key][k];
                wrap(x, x.h, kwp().p(), key, x.aes)
            },
        );
        case(
            v,
            "C_WrapKey",
            format!("{what} key to wrap"),
            KHI,
            move |x| {
                let key = [BAD_OBJECT, x.dead_key, x.orphan_key][k];
                wrap(x, x.h, kwp().p(), x.aes, key)
            },
        );
    }
    case(
        v,
        "C_WrapKey",
        "data object as the key to wrap",
        &[CKR_KEY_HANDLE_INVALID, CKR_KEY_NOT_WRAPPABLE],
        move |x| wrap(x, x.h, kwp().p(), x.aes, x.data_pub),
    );
    session_cases(v, "C_WrapKey", SHI, move |x, s| {
        wrap(x, s, kwp().p(), x.aes, x.aes)
    });
    // C_UnwrapKey
    #[allow(clippy::too_many_arguments)] // the C signature, plus fixture and session
    fn unwrap(
        x: &Fx,
        s: CK_SESSION_HANDLE,
        m: *mut CK_MECHANISM,
        uk: CK_OBJECT_HANDLE,
        w: *mut u8,
        wl: CK_ULONG,
        mut t: T,
        out: bool,
    ) -> CK_RV {
        let mut k = 0;
        let pk: *mut CK_OBJECT_HANDLE = if out { &mut k } else { null_mut() };
        let (tp, tn) = if t.attrs.is_empty() {
            (null_mut(), t.bufs.len() as CK_ULONG)
        } else {
            (t.p(), t.n())
        };
        call!(x, C_UnwrapKey(s, m, uk, w, wl, tp, tn, pk))
    }
    fn ut() -> T {
        T::new()
            .u(CKA_CLASS, CKO_SECRET_KEY)
            .u(CKA_KEY_TYPE, CKK_AES)
            .b(CKA_TOKEN, true)
    }
    let kw = || mech(CKM_AES_KEY_WRAP, &[]);
    case(v, "C_UnwrapKey", "NULL pMechanism", AB, |x| {
        unwrap(
            x,
            x.h,
            null_mut(),
            x.aes,
            [0u8; 40].as_mut_ptr(),
            40,
            ut(),
            true,
        )
    });
    case(
        v,
        "C_UnwrapKey",
        "NULL pWrappedKey, length 40",
        AB,
        move |x| unwrap(x, x.h, kw().p(), x.aes, null_mut(), 40, ut(), true),
    );
    case(
        v,
        "C_UnwrapKey",
        "wrapped length 2^64-1",
        &[CKR_ARGUMENTS_BAD, CKR_WRAPPED_KEY_LEN_RANGE],
        move |x| {
            unwrap(
                x,
                x.h,
                kw().p(),
                x.aes,
                [0u8; 40].as_mut_ptr(),
                HUGE,
                ut(),
                true,
            )
        },
    );
    case(v, "C_UnwrapKey", "NULL phKey", AB, move |x| {
        unwrap(
            x,
            x.h,
            kw().p(),
            x.aes,
            [0u8; 40].as_mut_ptr(),
            40,
            ut(),
            false,
        )
    });
    case(v, "C_UnwrapKey", "unknown mechanism", MI, |x| {
        unwrap(
            x,
            x.h,
            mech(BAD_MECH, &[]).p(),
            x.aes,
            [0u8; 40].as_mut_ptr(),
            40,
            ut(),
            true,
        )
    });
    case(v, "C_UnwrapKey", "AES_CBC_PAD with a 3-byte IV", MPI, |x| {
        unwrap(
            x,
            x.h,
            mech(CKM_AES_CBC_PAD, &[0; 3]).p(),
            x.aes,
            [0u8; 48].as_mut_ptr(),
            48,
            ut(),
            true,
        )
    });
    case(
        v,
        "C_UnwrapKey",
        "40 zero bytes (integrity check fails)",
        &[CKR_WRAPPED_KEY_INVALID],
        move |x| {
            unwrap(
                x,
                x.h,
                kw().p(),
                x.aes,
                [0u8; 40].as_mut_ptr(),
                40,
                ut(),
                true,
            )
        },
    );
    case(
        v,
        "C_UnwrapKey",
        "39 bytes for AES_KEY_WRAP",
        &[CKR_WRAPPED_KEY_LEN_RANGE],
        move |x| {
            unwrap(
                x,
                x.h,
                kw().p(),
                x.aes,
                [0u8; 40].as_mut_ptr(),
                39,
                ut(),
                true,
            )
        },
    );
    for (what, k) in [
        ("invalid", 0usize),
        ("destroyed", 1),
        ("closed session's", 2),
    ] {
        case(
            v,
            "C_UnwrapKey",
            format!("{what} unwrapping key"),
            &[CKR_UNWRAPPING_KEY_HANDLE_INVALID],
            move |x| {
                let key = [BAD_OBJECT, x.dead_key, x.orphan_key][k];
                unwrap(
                    x,
                    x.h,
                    kw().p(),
                    key,
                    [0u8; 40].as_mut_ptr(),
                    40,
                    ut(),
                    true,
                )
            },
        );
    }
    template_cases(v, "C_UnwrapKey", ut, move |x, t| {
        unwrap(x, x.h, kw().p(), x.aes, [0u8; 40].as_mut_ptr(), 40, t, true)
    });
    session_cases(v, "C_UnwrapKey", SHI, move |x, s| {
        unwrap(
            x,
            s,
            kw().p(),
            x.aes,
            [0u8; 40].as_mut_ptr(),
            40,
            ut(),
            true,
        )
    });
    // C_DeriveKey (ECDH on the EC private key; AES_ECB_ENCRYPT_DATA on the AES key)
    fn derive(
        x: &Fx,
        s: CK_SESSION_HANDLE,
        m: *mut CK_MECHANISM,
        base: CK_OBJECT_HANDLE,
        mut t: T,
        out: bool,
    ) -> CK_RV {
        let mut k = 0;
        let pk: *mut CK_OBJECT_HANDLE = if out { &mut k } else { null_mut() };
        let (tp, tn) = if t.attrs.is_empty() {
            (null_mut(), t.bufs.len() as CK_ULONG)
        } else {
            (t.p(), t.n())
        };
        call!(x, C_DeriveKey(s, m, base, tp, tn, pk))
    }
    fn dt() -> T {
        T::new()
            .u(CKA_CLASS, CKO_SECRET_KEY)
            .u(CKA_KEY_TYPE, CKK_AES)
            .b(CKA_TOKEN, true)
            .u(CKA_VALUE_LEN, 16)
    }
    let ecb_data = || {
        mech(
            CKM_AES_ECB_ENCRYPT_DATA,
            &pod(&CK_KEY_DERIVATION_STRING_DATA {
                pData: Box::leak(vec![0u8; 16].into_boxed_slice()).as_mut_ptr(),
                ulLen: 16,
            }),
        )
    };
    case(v, "C_DeriveKey", "NULL pMechanism", AB, |x| {
        derive(x, x.h, null_mut(), x.aes, dt(), true)
    });
    case(v, "C_DeriveKey", "NULL phKey", AB, move |x| {
        derive(x, x.h, ecb_data().p(), x.aes, dt(), false)
    });
    case(v, "C_DeriveKey", "unknown mechanism", MI, |x| {
        derive(x, x.h, mech(BAD_MECH, &[]).p(), x.aes, dt(), true)
    });
    case(
        v,
        "C_DeriveKey",
        "ECDH1_DERIVE with an 8-byte parameter",
        MPI,
        |x| {
            derive(
                x,
                x.h,
                mech(CKM_ECDH1_DERIVE, &[0; 8]).p(),
                x.ec_priv,
                dt(),
                true,
            )
        },
    );
    case(
        v,
        "C_DeriveKey",
        "ECDH1_DERIVE public data NULL, length 65",
        &[CKR_MECHANISM_PARAM_INVALID, CKR_ARGUMENTS_BAD],
        |x| {
            let p = CK_ECDH1_DERIVE_PARAMS {
                kdf: CKD_NULL,
                ulSharedDataLen: 0,
                pSharedData: null_mut(),
                ulPublicDataLen: 65,
                pPublicData: null_mut(),
            };
            derive(
                x,
                x.h,
                mech(CKM_ECDH1_DERIVE, &pod(&p)).p(),
                x.ec_priv,
                dt(),
                true,
            )
        },
    );
    case(v, "C_DeriveKey", "ECDH1_DERIVE unknown KDF", MPI, |x| {
        let pt: &'static mut [u8] = Box::leak(vec![4u8; 65].into_boxed_slice());
        let p = CK_ECDH1_DERIVE_PARAMS {
            kdf: 0x7fff,
            ulSharedDataLen: 0,
            pSharedData: null_mut(),
            ulPublicDataLen: 65,
            pPublicData: pt.as_mut_ptr(),
        };
        derive(
            x,
            x.h,
            mech(CKM_ECDH1_DERIVE, &pod(&p)).p(),
            x.ec_priv,
            dt(),
            true,
        )
    });
    case(
        v,
        "C_DeriveKey",
        "AES_ECB_ENCRYPT_DATA with a 5-byte parameter",
        MPI,
        |x| {
            derive(
                x,
                x.h,
                mech(CKM_AES_ECB_ENCRYPT_DATA, &[0; 5]).p(),
                x.aes,
                dt(),
                true,
            )
        },
    );
    for (what, k) in [
        ("invalid", 0usize),
        ("destroyed", 1),
        ("closed session's", 2),
    ] {
        case(
            v,
            "C_DeriveKey",
            format!("{what} base key"),
            KHI,
            move |x| {
                let key = [BAD_OBJECT, x.dead_key, x.orphan_key][k];
                derive(x, x.h, ecb_data().p(), key, dt(), true)
            },
        );
    }
    template_cases(v, "C_DeriveKey", dt, move |x, t| {
        derive(x, x.h, ecb_data().p(), x.aes, t, true)
    });
    session_cases(v, "C_DeriveKey", SHI, move |x, s| {
        derive(x, s, ecb_data().p(), x.aes, dt(), true)
    });
}

fn messages(v: &mut Vec<Case>) {
    type MsgOne = fn(
        &Fx,
        CK_SESSION_HANDLE,
        *mut c_void,
        CK_ULONG,
        *mut u8,
        CK_ULONG,
        *mut CK_ULONG,
    ) -> CK_RV;
    let enc: MsgOne = |x, s, p, pl, d, dl, n| {
        let mut o = [0u8; 512];
        call!(
            x,
            C_EncryptMessage(s, p, pl, null_mut(), 0, d, dl, o.as_mut_ptr(), n)
        )
    };
    let dec: MsgOne = |x, s, p, pl, d, dl, n| {
        let mut o = [0u8; 512];
        call!(
            x,
            C_DecryptMessage(s, p, pl, null_mut(), 0, d, dl, o.as_mut_ptr(), n)
        )
    };
    for (f, init, one) in [
        ("C_EncryptMessage", menc_init as Init, enc),
        ("C_DecryptMessage", mdec_init as Init, dec),
    ] {
        case(v, f, "without init", ONI, move |x| {
            x.fresh(|s| {
                let mut p = gcm_msg();
                let mut n = 512;
                one(
                    x,
                    s,
                    p.as_mut_ptr().cast(),
                    p.len() as CK_ULONG,
                    [0u8; 16].as_mut_ptr(),
                    16,
                    &mut n,
                )
            })
        });
        // The per-message parameter is the mechanism's: §5.9 lists both codes for it.
        let bad_param: &[CK_RV] = &[CKR_MECHANISM_PARAM_INVALID, CKR_ARGUMENTS_BAD];
        case(v, f, "NULL parameter, length 40", bad_param, move |x| {
            x.after(init, |s| {
                let mut n = 512;
                one(x, s, null_mut(), 40, [0u8; 16].as_mut_ptr(), 16, &mut n)
            })
        });
        case(v, f, "8-byte parameter", bad_param, move |x| {
            x.after(init, |s| {
                let mut n = 512;
                one(
                    x,
                    s,
                    [0u8; 8].as_mut_ptr().cast(),
                    8,
                    [0u8; 16].as_mut_ptr(),
                    16,
                    &mut n,
                )
            })
        });
        case(v, f, "NULL data, length 16", AB, move |x| {
            x.after(init, |s| {
                let mut p = gcm_msg();
                let mut n = 512;
                one(
                    x,
                    s,
                    p.as_mut_ptr().cast(),
                    p.len() as CK_ULONG,
                    null_mut(),
                    16,
                    &mut n,
                )
            })
        });
        case(v, f, "data length 2^64-1", AB, move |x| {
            x.after(init, |s| {
                let mut p = gcm_msg();
                let mut n = 512;
                one(
                    x,
                    s,
                    p.as_mut_ptr().cast(),
                    p.len() as CK_ULONG,
                    [0u8; 16].as_mut_ptr(),
                    HUGE,
                    &mut n,
                )
            })
        });
        case(v, f, "NULL output length pointer", AB, move |x| {
            x.after(init, |s| {
                let mut p = gcm_msg();
                one(
                    x,
                    s,
                    p.as_mut_ptr().cast(),
                    p.len() as CK_ULONG,
                    [0u8; 16].as_mut_ptr(),
                    16,
                    null_mut(),
                )
            })
        });
        session_cases(v, f, SHI, move |x, s| {
            let mut p = gcm_msg();
            let mut n = 512;
            one(
                x,
                s,
                p.as_mut_ptr().cast(),
                p.len() as CK_ULONG,
                [0u8; 16].as_mut_ptr(),
                16,
                &mut n,
            )
        });
    }
    // Begin / Next / Final
    type Begin = fn(&Fx, CK_SESSION_HANDLE, *mut c_void, CK_ULONG) -> CK_RV;
    type Next = fn(
        &Fx,
        CK_SESSION_HANDLE,
        *mut c_void,
        CK_ULONG,
        *mut u8,
        CK_ULONG,
        *mut CK_ULONG,
    ) -> CK_RV;
    type Fin = fn(&Fx, CK_SESSION_HANDLE) -> CK_RV;
    let eb: Begin = |x, s, p, l| call!(x, C_EncryptMessageBegin(s, p, l, null_mut(), 0));
    let db: Begin = |x, s, p, l| call!(x, C_DecryptMessageBegin(s, p, l, null_mut(), 0));
    let en: Next = |x, s, p, l, d, dl, n| {
        call!(
            x,
            C_EncryptMessageNext(s, p, l, d, dl, [0u8; 512].as_mut_ptr(), n, 0)
        )
    };
    let dn: Next = |x, s, p, l, d, dl, n| {
        call!(
            x,
            C_DecryptMessageNext(s, p, l, d, dl, [0u8; 512].as_mut_ptr(), n, 0)
        )
    };
    let ef: Fin = |x, s| call!(x, C_MessageEncryptFinal(s));
    let df: Fin = |x, s| call!(x, C_MessageDecryptFinal(s));
    for (pre, init, begin, next, fin) in [
        ("Encrypt", menc_init as Init, eb, en, ef),
        ("Decrypt", mdec_init as Init, db, dn, df),
    ] {
        let fb: &'static str = if pre == "Encrypt" {
            "C_EncryptMessageBegin"
        } else {
            "C_DecryptMessageBegin"
        };
        let fnx: &'static str = if pre == "Encrypt" {
            "C_EncryptMessageNext"
        } else {
            "C_DecryptMessageNext"
        };
        let ff: &'static str = if pre == "Encrypt" {
            "C_MessageEncryptFinal"
        } else {
            "C_MessageDecryptFinal"
        };
        case(v, fb, "without init", ONI, move |x| {
            x.fresh(|s| {
                let mut p = gcm_msg();
                begin(x, s, p.as_mut_ptr().cast(), p.len() as CK_ULONG)
            })
        });
        case(
            v,
            fb,
            "NULL parameter, length 40",
            &[CKR_MECHANISM_PARAM_INVALID, CKR_ARGUMENTS_BAD],
            move |x| x.after(init, |s| begin(x, s, null_mut(), 40)),
        );
        case(
            v,
            fb,
            "8-byte parameter",
            &[CKR_MECHANISM_PARAM_INVALID, CKR_ARGUMENTS_BAD],
            move |x| x.after(init, |s| begin(x, s, [0u8; 8].as_mut_ptr().cast(), 8)),
        );
        session_cases(v, fb, SHI, move |x, s| {
            let mut p = gcm_msg();
            begin(x, s, p.as_mut_ptr().cast(), p.len() as CK_ULONG)
        });
        case(v, fnx, "without init", ONI, move |x| {
            x.fresh(|s| {
                let mut p = gcm_msg();
                let mut n = 512;
                next(
                    x,
                    s,
                    p.as_mut_ptr().cast(),
                    p.len() as CK_ULONG,
                    [0u8; 16].as_mut_ptr(),
                    16,
                    &mut n,
                )
            })
        });
        case(v, fnx, "without Begin", ONI, move |x| {
            x.after(init, |s| {
                let mut p = gcm_msg();
                let mut n = 512;
                next(
                    x,
                    s,
                    p.as_mut_ptr().cast(),
                    p.len() as CK_ULONG,
                    [0u8; 16].as_mut_ptr(),
                    16,
                    &mut n,
                )
            })
        });
        case(v, fnx, "NULL part, length 16, after Begin", AB, move |x| {
            x.after(init, |s| {
                let mut p = gcm_msg();
                assert_rv(
                    begin(x, s, p.as_mut_ptr().cast(), p.len() as CK_ULONG),
                    CKR_OK,
                );
                let mut n = 512;
                next(
                    x,
                    s,
                    p.as_mut_ptr().cast(),
                    p.len() as CK_ULONG,
                    null_mut(),
                    16,
                    &mut n,
                )
            })
        });
        session_cases(v, fnx, SHI, move |x, s| {
            let mut p = gcm_msg();
            let mut n = 512;
            next(
                x,
                s,
                p.as_mut_ptr().cast(),
                p.len() as CK_ULONG,
                [0u8; 16].as_mut_ptr(),
                16,
                &mut n,
            )
        });
        case(v, ff, "without init", ONI, move |x| x.fresh(|s| fin(x, s)));
        session_cases(v, ff, SHI, fin);
    }
    case(
        v,
        "C_MessageEncryptInit",
        "AES_CBC (no message mechanism)",
        MI,
        |x| {
            x.fresh(|s| {
                call!(
                    x,
                    C_MessageEncryptInit(s, mech(CKM_AES_CBC, &[0; 16]).p(), x.aes)
                )
            })
        },
    );
    // Message-based signing (README: not supported).
    case(v, "C_MessageSignInit", "README: not supported", FNS, |x| {
        x.fresh(|s| call!(x, C_MessageSignInit(s, mech(CKM_ECDSA, &[]).p(), x.ec_priv)))
    });
    case(v, "C_SignMessage", "README: not supported", FNS, |x| {
        let mut n = 128;
        call!(
            x,
            C_SignMessage(
                x.h,
                null_mut(),
                0,
                [0u8; 16].as_mut_ptr(),
                16,
                [0u8; 128].as_mut_ptr(),
                &mut n
            )
        )
    });
    case(v, "C_SignMessageBegin", "README: not supported", FNS, |x| {
        call!(x, C_SignMessageBegin(x.h, null_mut(), 0))
    });
    case(v, "C_SignMessageNext", "README: not supported", FNS, |x| {
        let mut n = 128;
        call!(
            x,
            C_SignMessageNext(
                x.h,
                null_mut(),
                0,
                [0u8; 16].as_mut_ptr(),
                16,
                [0u8; 128].as_mut_ptr(),
                &mut n
            )
        )
    });
    case(v, "C_MessageSignFinal", "README: not supported", FNS, |x| {
        call!(x, C_MessageSignFinal(x.h))
    });
    case(
        v,
        "C_MessageVerifyInit",
        "README: not supported",
        FNS,
        |x| {
            x.fresh(|s| {
                call!(
                    x,
                    C_MessageVerifyInit(s, mech(CKM_ECDSA, &[]).p(), x.ec_pub)
                )
            })
        },
    );
    case(v, "C_VerifyMessage", "README: not supported", FNS, |x| {
        call!(
            x,
            C_VerifyMessage(
                x.h,
                null_mut(),
                0,
                [0u8; 16].as_mut_ptr(),
                16,
                [0u8; 64].as_mut_ptr(),
                64
            )
        )
    });
    case(
        v,
        "C_VerifyMessageBegin",
        "README: not supported",
        FNS,
        |x| call!(x, C_VerifyMessageBegin(x.h, null_mut(), 0)),
    );
    case(
        v,
        "C_VerifyMessageNext",
        "README: not supported",
        FNS,
        |x| {
            call!(
                x,
                C_VerifyMessageNext(
                    x.h,
                    null_mut(),
                    0,
                    [0u8; 16].as_mut_ptr(),
                    16,
                    [0u8; 64].as_mut_ptr(),
                    64
                )
            )
        },
    );
    case(
        v,
        "C_MessageVerifyFinal",
        "README: not supported",
        FNS,
        |x| call!(x, C_MessageVerifyFinal(x.h)),
    );
}

/// Cases run after C_Logout on `h` (the user is then logged out token-wide).
fn logged_out() -> Vec<Case> {
    let mut all = Vec::new();
    let v = &mut all;
    case(
        v,
        "C_Logout",
        "not logged in",
        &[CKR_USER_NOT_LOGGED_IN],
        |x| call!(x, C_Logout(x.h)),
    );
    case(v, "C_Login", "NULL pPin, length 17", AB, |x| {
        call!(x, C_Login(x.h, CKU_USER, null_mut(), 17))
    });
    case(
        v,
        "C_Login",
        "PIN length 2^64-1",
        &[CKR_ARGUMENTS_BAD, CKR_PIN_LEN_RANGE],
        |x| {
            let mut p = USER_PIN.as_bytes().to_vec();
            call!(x, C_Login(x.h, CKU_USER, p.as_mut_ptr(), HUGE))
        },
    );
    case(v, "C_Login", "user type 7", &[CKR_USER_TYPE_INVALID], |x| {
        let mut p = USER_PIN.as_bytes().to_vec();
        call!(x, C_Login(x.h, 7, p.as_mut_ptr(), p.len() as CK_ULONG))
    });
    case(v, "C_LoginUser", "NULL pPin, length 17", AB, |x| {
        call!(x, C_LoginUser(x.h, CKU_USER, null_mut(), 17, null_mut(), 0))
    });
    case(v, "C_LoginUser", "NULL pUsername, length 4", AB, |x| {
        let mut p = USER_PIN.as_bytes().to_vec();
        call!(
            x,
            C_LoginUser(
                x.h,
                CKU_USER,
                p.as_mut_ptr(),
                p.len() as CK_ULONG,
                null_mut(),
                4
            )
        )
    });
    // Private objects are invisible to a public session (§4.4, §5.7): their handles are invalid.
    case(
        v,
        "C_GetAttributeValue",
        "private object after logout",
        OHI,
        |x| {
            let mut t = T::new().raw(CKA_LABEL, &[], 0);
            call!(x, C_GetAttributeValue(x.h, x.data_priv, t.p(), t.n()))
        },
    );
    case(
        v,
        "C_SetAttributeValue",
        "private object after logout",
        OHI,
        |x| {
            let mut t = T::new().bytes(CKA_LABEL, b"changed");
            call!(x, C_SetAttributeValue(x.h, x.data_priv, t.p(), t.n()))
        },
    );
    case(
        v,
        "C_GetObjectSize",
        "private object after logout",
        OHI,
        |x| {
            let mut n = 0;
            call!(x, C_GetObjectSize(x.h, x.data_priv, &mut n))
        },
    );
    case(v, "C_CopyObject", "private object after logout", OHI, |x| {
        let mut n = 0;
        call!(x, C_CopyObject(x.h, x.data_priv, null_mut(), 0, &mut n))
    });
    case(
        v,
        "C_DestroyObject",
        "private object after logout",
        OHI,
        |x| call!(x, C_DestroyObject(x.h, x.data_priv)),
    );
    case(v, "C_DestroyObject", "private key after logout", OHI, |x| {
        call!(x, C_DestroyObject(x.h, x.ec_priv))
    });
    // A private key: invisible (KEY_HANDLE_INVALID) or refused for want of login; both are
    // listed for the Init functions and describe the case.
    let key_out: &[CK_RV] = &[CKR_KEY_HANDLE_INVALID, CKR_USER_NOT_LOGGED_IN];
    case(
        v,
        "C_EncryptInit",
        "private AES key after logout",
        key_out,
        |x| call!(x, C_EncryptInit(x.h, mech(CKM_AES_ECB, &[]).p(), x.aes)),
    );
    case(
        v,
        "C_SignInit",
        "private EC key after logout",
        key_out,
        |x| call!(x, C_SignInit(x.h, mech(CKM_ECDSA, &[]).p(), x.ec_priv)),
    );
    case(
        v,
        "C_DeriveKey",
        "private AES key after logout",
        key_out,
        |x| {
            let mut t = T::new()
                .u(CKA_CLASS, CKO_SECRET_KEY)
                .u(CKA_KEY_TYPE, CKK_AES)
                .u(CKA_VALUE_LEN, 16);
            let mut k = 0;
            let mut d = [0u8; 16];
            let p = CK_KEY_DERIVATION_STRING_DATA {
                pData: d.as_mut_ptr(),
                ulLen: 16,
            };
            call!(
                x,
                C_DeriveKey(
                    x.h,
                    mech(CKM_AES_ECB_ENCRYPT_DATA, &pod(&p)).p(),
                    x.aes,
                    t.p(),
                    t.n(),
                    &mut k
                )
            )
        },
    );
    case(
        v,
        "C_WrapKey",
        "private AES key after logout",
        &[
            CKR_KEY_HANDLE_INVALID,
            CKR_WRAPPING_KEY_HANDLE_INVALID,
            CKR_USER_NOT_LOGGED_IN,
        ],
        |x| {
            let (mut o, mut n) = ([0u8; 512], 512);
            call!(
                x,
                C_WrapKey(
                    x.h,
                    mech(CKM_AES_KEY_WRAP_KWP, &[]).p(),
                    x.aes,
                    x.aes,
                    o.as_mut_ptr(),
                    &mut n
                )
            )
        },
    );
    case(
        v,
        "C_CreateObject",
        "private token object without login",
        &[CKR_USER_NOT_LOGGED_IN],
        |x| {
            let mut t = data().b(CKA_PRIVATE, true);
            let mut o = 0;
            call!(x, C_CreateObject(x.h, t.p(), t.n(), &mut o))
        },
    );
    case(
        v,
        "C_GenerateKey",
        "token key without login",
        &[CKR_USER_NOT_LOGGED_IN],
        |x| {
            let mut t = aes_gen().b(CKA_PRIVATE, true);
            let mut k = 0;
            call!(
                x,
                C_GenerateKey(x.h, mech(CKM_AES_KEY_GEN, &[]).p(), t.p(), t.n(), &mut k)
            )
        },
    );
    case(
        v,
        "C_SetPIN",
        "not logged in, NULL pOldPin, length 17",
        &[CKR_ARGUMENTS_BAD],
        |x| {
            let mut new = *b"new-pin-123";
            call!(x, C_SetPIN(x.h, null_mut(), 17, new.as_mut_ptr(), 11))
        },
    );
    all
}

// ---------------------------------------------------------------------------------------------
// Snapshot of the token's contents

const SNAP_ATTRS: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_CLASS,
    CKA_TOKEN,
    CKA_PRIVATE,
    CKA_LABEL,
    CKA_APPLICATION,
    CKA_VALUE,
    CKA_ID,
    CKA_KEY_TYPE,
    CKA_MODIFIABLE,
    CKA_COPYABLE,
    CKA_DESTROYABLE,
    CKA_SENSITIVE,
    CKA_EXTRACTABLE,
    CKA_ENCRYPT,
    CKA_DECRYPT,
    CKA_SIGN,
    CKA_VERIFY,
    CKA_WRAP,
    CKA_UNWRAP,
    CKA_DERIVE,
    CKA_EC_PARAMS,
    CKA_EC_POINT,
    CKA_VALUE_LEN,
    CKA_CHECK_VALUE,
    CKA_UNIQUE_ID,
    CKA_LOCAL,
    CKA_KEY_GEN_MECHANISM,
    CKA_START_DATE,
    CKA_END_DATE,
    CKA_MODULUS,
    CKA_PUBLIC_EXPONENT,
];

type Snap = (
    Vec<(CK_OBJECT_HANDLE, Vec<(CK_ATTRIBUTE_TYPE, CK_RV, Vec<u8>)>)>,
    CK_FLAGS,
    Vec<u8>,
);

fn snapshot(x: &Fx) -> Snap {
    let mut objs: Vec<_> = x
        .raw
        .find_all(x.h, &mut [])
        .into_iter()
        .map(|o| {
            let attrs = SNAP_ATTRS
                .iter()
                .map(|&t| {
                    let mut a = T::new().raw(t, &[], 0);
                    let rv = call!(x, C_GetAttributeValue(x.h, o, a.p(), 1));
                    if rv != CKR_OK {
                        return (t, rv, Vec::new());
                    }
                    let len = a.attrs[0].ulValueLen as usize;
                    let mut a = T::new().bytes(t, &vec![0u8; len.max(1)]);
                    a.attrs[0].ulValueLen = len as CK_ULONG;
                    let rv = call!(x, C_GetAttributeValue(x.h, o, a.p(), 1));
                    (t, rv, a.bufs[0][..len].to_vec())
                })
                .collect();
            (o, attrs)
        })
        .collect();
    objs.sort();
    let (rv, info) = raw_token_info(&x.raw, x.slot);
    assert_rv(rv, CKR_OK);
    (objs, info.flags, info.label.to_vec())
}

// ---------------------------------------------------------------------------------------------
// The test

fn fixture(t: &Tok) -> Fx {
    let raw = Raw::load();
    let mut x = Fx {
        raw,
        slot: t.slot.id(),
        h: t.h,
        closed: 0,
        data_pub: 0,
        data_priv: 0,
        aes: 0,
        ec_pub: 0,
        ec_priv: 0,
        rsa_pub: 0,
        rsa_priv: 0,
        dead_key: 0,
        dead_obj: 0,
        orphan_key: 0,
        orphan_obj: 0,
    };
    x.data_pub = x.create(
        x.h,
        data()
            .b(CKA_PRIVATE, false)
            .bytes(CKA_VALUE, b"public value"),
    );
    x.data_priv = x.create(
        x.h,
        data()
            .b(CKA_PRIVATE, true)
            .bytes(CKA_VALUE, b"private value"),
    );
    x.aes = x.gen_aes(x.h, true);
    let (ec_pub, ec_priv) = t
        .generate_pair(
            &Mech::new(CKM_EC_KEY_PAIR_GEN),
            &Tmpl::new()
                .b(CKA_TOKEN, true)
                .b(CKA_VERIFY, true)
                .bytes(CKA_EC_PARAMS, P256)
                .bytes(CKA_LABEL, "ec"),
            &Tmpl::new()
                .b(CKA_TOKEN, true)
                .b(CKA_PRIVATE, true)
                .b(CKA_SENSITIVE, true)
                .b(CKA_SIGN, true)
                .b(CKA_DERIVE, true)
                .bytes(CKA_LABEL, "ec"),
        )
        .ok_or_panic("C_GenerateKeyPair P-256");
    x.ec_pub = ec_pub;
    x.ec_priv = ec_priv;
    x.rsa_priv = t.obj(&rsa_private_fixed().b(CKA_SIGN, true).b(CKA_DECRYPT, true));
    x.rsa_pub = t.obj(&rsa_public_fixed().b(CKA_VERIFY, true).b(CKA_ENCRYPT, true));
    x.dead_key = x.gen_aes(x.h, false);
    assert_rv(call!(x, C_DestroyObject(x.h, x.dead_key)), CKR_OK);
    x.dead_obj = x.create(
        x.h,
        T::new().u(CKA_CLASS, CKO_DATA).bytes(CKA_LABEL, b"dead"),
    );
    assert_rv(call!(x, C_DestroyObject(x.h, x.dead_obj)), CKR_OK);
    let s2 = x.open();
    x.orphan_key = x.gen_aes(s2, false);
    x.orphan_obj = x.create(
        s2,
        T::new().u(CKA_CLASS, CKO_DATA).bytes(CKA_LABEL, b"orphan"),
    );
    x.close(s2);
    x.closed = x.open();
    x.close(x.closed);
    x
}

struct Outcome {
    tried: usize,
    bad: Vec<String>,
    funcs: BTreeSet<&'static str>,
}

/// Diagnosis only: `FERROHSM_HOSTILE_SKIP="C_Foo — what;…"` skips the cases whose
/// "function — description" contains one of the parts (a case that crashes the module hides
/// every later one). A skipped case still fails the test.
fn skipped(c: &Case) -> bool {
    let name = format!("{} — {}", c.func, c.what);
    std::env::var("FERROHSM_HOSTILE_SKIP")
        .map(|v| v.split(';').any(|p| !p.is_empty() && name.contains(p)))
        .unwrap_or(false)
}

fn run(x: &Fx, cases: Vec<Case>, out: &mut Outcome) {
    for c in cases {
        if skipped(&c) {
            out.bad.push(format!(
                "{} — {}: SKIPPED (FERROHSM_HOSTILE_SKIP)",
                c.func, c.what
            ));
            out.tried += 1;
            out.funcs.insert(c.func);
            continue;
        }
        let got = (c.run)(x);
        out.tried += 1;
        out.funcs.insert(c.func);
        if !c.want.contains(&got) {
            let want: Vec<String> = c.want.iter().map(|r| rv_name(*r)).collect();
            out.bad.push(format!(
                "{} — {}: got {}, expected {}",
                c.func,
                c.what,
                rv_name(got),
                want.join(" or ")
            ));
        }
    }
}

#[test]
fn hostile_callers_get_the_specified_codes_and_change_nothing() {
    let t = token("hostile");
    let x = fixture(&t);
    let before = snapshot(&x);
    assert!(
        before.0.len() >= 7,
        "fixture objects visible: {}",
        before.0.len()
    );

    let mut out = Outcome {
        tried: 0,
        bad: Vec::new(),
        funcs: BTreeSet::new(),
    };
    run(&x, table(), &mut out);
    // Still logged in? A case must not have logged the user out.
    let mut si = CK_SESSION_INFO::default();
    assert_rv(call!(x, C_GetSessionInfo(x.h, &mut si)), CKR_OK);
    assert_eq!(
        si.state, CKS_RW_USER_FUNCTIONS,
        "session state after the cases"
    );
    assert_rv(call!(x, C_Logout(x.h)), CKR_OK);
    run(&x, logged_out(), &mut out);
    assert_rv(x.raw.login(x.h, CKU_USER, USER_PIN), CKR_OK);

    let after = snapshot(&x);
    let read: usize = before
        .0
        .iter()
        .map(|o| o.1.iter().filter(|a| a.1 == CKR_OK).count())
        .sum();
    println!(
        "hostile callers: {} fault cases tried over {} functions; token contents checked: {} objects, {} attribute values",
        out.tried,
        out.funcs.len(),
        before.0.len(),
        read
    );
    let mut problems = Vec::new();
    let missing: Vec<&str> = ALL
        .iter()
        .copied()
        .filter(|f| !out.funcs.contains(f))
        .collect();
    if !missing.is_empty() {
        problems.push(format!("functions without a case: {missing:?}"));
    }
    if !out.bad.is_empty() {
        problems.push(format!(
            "{} of {} cases returned another code than the specification's:\n  {}",
            out.bad.len(),
            out.tried,
            out.bad.join("\n  ")
        ));
    }
    if before.1 != after.1 || before.2 != after.2 {
        problems.push(format!(
            "token flags or label changed: {:#x} -> {:#x}",
            before.1, after.1
        ));
    }
    // The C_Logout between the snapshots destroyed the private session objects and gave the
    // private token objects new handles (§5.6.6): compare the rest, by content.
    let private_session = |o: &(CK_OBJECT_HANDLE, Vec<(CK_ATTRIBUTE_TYPE, CK_RV, Vec<u8>)>)| {
        let is = |t, v: u8| o.1.iter().any(|a| a.0 == t && a.1 == CKR_OK && a.2 == [v]);
        is(CKA_TOKEN, 0) && is(CKA_PRIVATE, 1)
    };
    let content = |s: &Snap| {
        let mut v: Vec<_> =
            s.0.iter()
                .filter(|o| !private_session(o))
                .cloned()
                .collect();
        v.sort_by(|a, b| a.1.cmp(&b.1));
        v
    };
    let (before_objs, after_objs) = (content(&before), content(&after));
    if before_objs.len() != after_objs.len() {
        problems.push(format!(
            "object count changed: {} -> {}",
            before_objs.len(),
            after_objs.len()
        ));
    }
    for (b, a) in before_objs.iter().zip(after_objs.iter()) {
        if b.1 != a.1 {
            problems.push(format!(
                "object {} changed:\n    before {:?}\n    after  {:?}",
                b.0, b.1, a.1
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
