//! Shared pieces of the ferrohsm fuzz targets: a reader over the fuzz input, the module set-up
//! (configuration in a private temporary directory, a token, a logged-in session) and builders
//! of `CK_ATTRIBUTE` templates whose every pointer is valid for the length it claims.
//!
//! The targets call the module's `extern "C"` entry points in-process, as a C client would. The
//! C ABI trusts its caller for pointer/length pairs, so the builders here never lie about a
//! length: the fuzzer varies types, lengths, values and nesting, never memory validity.
#![allow(clippy::missing_safety_doc)]

pub use cryptoki_sys::*;
pub use ferrohsm::ffi::crypt::*;
pub use ferrohsm::ffi::digest::*;
pub use ferrohsm::ffi::general::*;
pub use ferrohsm::ffi::keymgmt::*;
pub use ferrohsm::ffi::message::*;
pub use ferrohsm::ffi::object::*;
pub use ferrohsm::ffi::session::*;
pub use ferrohsm::ffi::sign::*;
pub use ferrohsm::ffi::slot_token::*;
use ferrohsm::object::attr::{kind_of, AttrKind};
use std::ffi::c_void;
use std::mem::size_of;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub const SO_PIN: &[u8] = b"fuzz-so-pin";
pub const USER_PIN: &[u8] = b"fuzz-user-pin";
/// Cheap Argon2id: the targets derive PIN keys often.
pub const FAST_KDF: &str = "[kdf]\nmemory_kib = 64\niterations = 1\nparallelism = 1\n";

/// Bytes of the fuzz input, consumed from the front; reads past the end give zeros / nothing.
#[derive(Debug)]
pub struct Input<'a>(pub &'a [u8]);

impl<'a> Input<'a> {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    pub fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }
    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }
    /// Up to `n` bytes.
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
    /// A length-prefixed byte string: one length byte, or (high bit set) a 12-bit length.
    pub fn blob(&mut self) -> &'a [u8] {
        let b = self.u8();
        let n = if b & 0x80 == 0 {
            usize::from(b)
        } else {
            (usize::from(b & 0x0f) << 8) | usize::from(self.u8())
        };
        self.take(n)
    }
    pub fn rest(&mut self) -> &'a [u8] {
        self.take(self.0.len())
    }
    /// One of `items`, chosen by a byte.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[usize::from(self.u8()) % items.len()]
    }
    /// A `CK_ULONG`: mostly one of `interesting`, sometimes raw.
    pub fn ulong(&mut self, interesting: &[CK_ULONG]) -> CK_ULONG {
        let s = self.u8();
        if s < 0xe0 && !interesting.is_empty() {
            interesting[usize::from(s) % interesting.len()]
        } else if s < 0xf0 {
            CK_ULONG::from(self.u8())
        } else {
            self.u64() as CK_ULONG
        }
    }
}

/// Storage that keeps every buffer a raw structure points into alive (and in place: only the
/// outer vectors move, never the heap blocks they own) until it is dropped.
#[derive(Debug, Default)]
pub struct Arena {
    bytes: Vec<Vec<u8>>,
    attrs: Vec<Vec<CK_ATTRIBUTE>>,
}

impl Arena {
    /// A heap copy of `data`; its pointer (NULL for an empty copy when `null_if_empty`).
    pub fn bytes(&mut self, data: &[u8]) -> *mut u8 {
        let mut v = data.to_vec();
        let p = v.as_mut_ptr();
        self.bytes.push(v);
        p
    }
    /// A writable buffer of `len` bytes, filled with a non-zero pattern (like uninitialised
    /// memory) so that a module reading it as pointers would crash rather than see NULLs.
    pub fn out(&mut self, len: usize) -> *mut u8 {
        self.bytes(&vec![0xa5; len])
    }
    pub fn attrs(&mut self, a: Vec<CK_ATTRIBUTE>) -> *mut CK_ATTRIBUTE {
        let mut a = a;
        let p = a.as_mut_ptr();
        self.attrs.push(a);
        p
    }
}

pub fn attr(ty: CK_ATTRIBUTE_TYPE, p: *mut u8, len: usize) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: ty,
        pValue: p as *mut c_void,
        ulValueLen: len as CK_ULONG,
    }
}

/// A template built from fixed values, for the set-up code.
#[derive(Debug, Default)]
pub struct Fixed {
    arena: Arena,
    list: Vec<CK_ATTRIBUTE>,
}

impl Fixed {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn bytes(mut self, ty: CK_ATTRIBUTE_TYPE, v: &[u8]) -> Self {
        let p = self.arena.bytes(v);
        self.list.push(attr(ty, p, v.len()));
        self
    }
    pub fn ulong(self, ty: CK_ATTRIBUTE_TYPE, v: CK_ULONG) -> Self {
        self.bytes(ty, &v.to_ne_bytes())
    }
    pub fn bool(self, ty: CK_ATTRIBUTE_TYPE, v: bool) -> Self {
        self.bytes(ty, &[u8::from(v)])
    }
    pub fn ptr(&mut self) -> *mut CK_ATTRIBUTE {
        self.list.as_mut_ptr()
    }
    pub fn len(&self) -> CK_ULONG {
        self.list.len() as CK_ULONG
    }
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

// ---- the module ----

/// A private directory for this process, removed at exit by nobody (the fuzz runner's temporary
/// directory is the parent); created once.
pub fn work_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = std::env::var_os("FERROHSM_FUZZ_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let dir = base.join(format!("ferrohsm-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the fuzz work directory");
        dir
    })
}

/// Point the module at `token_dir` with the fast KDF (read by the next `C_Initialize`).
pub fn configure(token_dir: &Path) {
    let conf = work_dir().join("ferrohsm.toml");
    std::fs::write(&conf, FAST_KDF).expect("write the fuzz configuration");
    std::env::set_var("FERROHSM_CONF", &conf);
    std::env::set_var("FERROHSM_TOKEN_DIR", token_dir);
    std::env::remove_var("FERROHSM_LOG");
}

pub fn check(what: &str, rv: CK_RV) {
    assert_eq!(rv, CKR_OK, "set-up call {what} failed with {rv:#x}");
}

/// The slots of the initialized module (`present` only or all).
pub fn slots() -> Vec<CK_SLOT_ID> {
    let mut n: CK_ULONG = 0;
    // SAFETY: size query with a valid count pointer.
    check("C_GetSlotList", unsafe {
        C_GetSlotList(CK_FALSE, std::ptr::null_mut(), &mut n)
    });
    let mut v = vec![0 as CK_SLOT_ID; n as usize];
    // SAFETY: `v` holds `n` slot ids.
    check("C_GetSlotList", unsafe {
        C_GetSlotList(CK_FALSE, v.as_mut_ptr(), &mut n)
    });
    v.truncate(n as usize);
    v
}

/// The first slot whose token is not initialized.
pub fn free_slot() -> CK_SLOT_ID {
    for s in slots() {
        // SAFETY: CK_TOKEN_INFO is plain old data; all zeros is a valid value.
        let mut info: CK_TOKEN_INFO = unsafe { std::mem::zeroed() };
        // SAFETY: valid output pointer.
        if unsafe { C_GetTokenInfo(s, &mut info) } == CKR_OK
            && info.flags & CKF_TOKEN_INITIALIZED == 0
        {
            return s;
        }
    }
    panic!("no free slot for a new token");
}

/// In an initialized module: a new token `label` in a free slot with the user PIN set; returns
/// the slot.
pub fn new_token(label: &str) -> CK_SLOT_ID {
    let slot = free_slot();
    let mut l = [b' '; 32];
    l[..label.len()].copy_from_slice(label.as_bytes());
    // SAFETY: the PIN and the 32-byte label are valid for their lengths.
    check("C_InitToken", unsafe {
        C_InitToken(
            slot,
            SO_PIN.as_ptr() as *mut u8,
            SO_PIN.len() as CK_ULONG,
            l.as_mut_ptr(),
        )
    });
    let s = open_session(slot);
    login(s, CKU_SO, SO_PIN);
    // SAFETY: the PIN is valid for its length.
    check("C_InitPIN", unsafe {
        C_InitPIN(s, USER_PIN.as_ptr() as *mut u8, USER_PIN.len() as CK_ULONG)
    });
    check("C_CloseSession", C_CloseSession(s));
    slot
}

pub fn open_session(slot: CK_SLOT_ID) -> CK_SESSION_HANDLE {
    let mut s: CK_SESSION_HANDLE = 0;
    // SAFETY: valid output pointer; no callback.
    check("C_OpenSession", unsafe {
        C_OpenSession(
            slot,
            CKF_SERIAL_SESSION | CKF_RW_SESSION,
            std::ptr::null_mut(),
            None,
            &mut s,
        )
    });
    s
}

pub fn login(s: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: &[u8]) {
    // SAFETY: the PIN is valid for its length.
    check("C_Login", unsafe {
        C_Login(s, user, pin.as_ptr() as *mut u8, pin.len() as CK_ULONG)
    });
}

/// Once per process: the module initialized on a fresh token directory, a token and a
/// read-write user session on it.
pub fn session() -> CK_SESSION_HANDLE {
    setup().1
}

/// The slot of [`session`]'s token.
pub fn slot() -> CK_SLOT_ID {
    setup().0
}

fn setup() -> (CK_SLOT_ID, CK_SESSION_HANDLE) {
    static S: OnceLock<(CK_SLOT_ID, CK_SESSION_HANDLE)> = OnceLock::new();
    *S.get_or_init(|| {
        let tokens = work_dir().join("tokens");
        configure(&tokens);
        // SAFETY: NULL arguments: OS locking.
        check("C_Initialize", unsafe {
            C_Initialize(std::ptr::null_mut())
        });
        let slot = new_token("fuzz");
        let s = open_session(slot);
        login(s, CKU_USER, USER_PIN);
        (slot, s)
    })
}

pub fn create(s: CK_SESSION_HANDLE, mut t: Fixed) -> CK_OBJECT_HANDLE {
    let mut h = 0;
    // SAFETY: the template's pointers are valid for their lengths.
    check("C_CreateObject", unsafe {
        C_CreateObject(s, t.ptr(), t.len(), &mut h)
    });
    h
}

pub fn generate_key(
    s: CK_SESSION_HANDLE,
    mech: CK_MECHANISM_TYPE,
    mut t: Fixed,
) -> CK_OBJECT_HANDLE {
    let mut m = CK_MECHANISM {
        mechanism: mech,
        pParameter: std::ptr::null_mut(),
        ulParameterLen: 0,
    };
    let mut h = 0;
    // SAFETY: valid mechanism, template and output pointer.
    check("C_GenerateKey", unsafe {
        C_GenerateKey(s, &mut m, t.ptr(), t.len(), &mut h)
    });
    h
}

pub fn generate_pair(
    s: CK_SESSION_HANDLE,
    mech: CK_MECHANISM_TYPE,
    mut public: Fixed,
    mut private: Fixed,
) -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
    let mut m = CK_MECHANISM {
        mechanism: mech,
        pParameter: std::ptr::null_mut(),
        ulParameterLen: 0,
    };
    let (mut hp, mut hq) = (0, 0);
    // SAFETY: valid mechanism, templates and output pointers.
    check("C_GenerateKeyPair", unsafe {
        C_GenerateKeyPair(
            s,
            &mut m,
            public.ptr(),
            public.len(),
            private.ptr(),
            private.len(),
            &mut hp,
            &mut hq,
        )
    });
    (hp, hq)
}

/// DER of the named curves' OIDs, for CKA_EC_PARAMS.
pub const P256_PARAMS: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
pub const P384_PARAMS: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
pub const P521_PARAMS: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];
pub const ED25519_PARAMS: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
/// The printable-string form of CKA_EC_PARAMS for Ed25519.
pub const ED25519_NAME: &[u8] = b"\x13\x0cedwards25519";

// ---- fuzzed templates ----

/// Attribute types outside the module's attribute table (`attribute_types`): some whose shape
/// the module knows but no class of it has (attribute certificates, DSA/DH domains, profiles,
/// KEMs), and some it does not know at all.
const OUTSIDE_TABLE: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_AC_ISSUER,
    CKA_OWNER,
    CKA_ATTR_TYPES,
    CKA_PRIME,
    CKA_SUBPRIME,
    CKA_BASE,
    CKA_PRIME_BITS,
    CKA_SUBPRIME_BITS,
    CKA_VALUE_BITS,
    CKA_PROFILE_ID,
    CKA_ENCAPSULATE,
    CKA_DECAPSULATE,
    CKA_PARAMETER_SET,
    CKA_OTP_FORMAT,
    CKA_VENDOR_DEFINED,
    CKA_VENDOR_DEFINED | 0x1234,
    0x7fff_ffff,
];

/// The attribute types fuzzed templates draw from: every type of the module's own attribute
/// table (so a row added there is fuzzed without a change here), then `OUTSIDE_TABLE`.
pub fn attr_types() -> &'static [CK_ATTRIBUTE_TYPE] {
    static TYPES: OnceLock<Vec<CK_ATTRIBUTE_TYPE>> = OnceLock::new();
    TYPES.get_or_init(|| {
        let mut types = ferrohsm::object::rules::attribute_types();
        for &ty in OUTSIDE_TABLE {
            if !types.contains(&ty) {
                types.push(ty);
            }
        }
        types
    })
}

/// Values that mean something for ulong attributes: classes, key types, sizes, mechanisms.
pub const ULONGS: &[CK_ULONG] = &[
    CKO_DATA,
    CKO_CERTIFICATE,
    CKO_PUBLIC_KEY,
    CKO_PRIVATE_KEY,
    CKO_SECRET_KEY,
    CKO_PROFILE,
    CKO_MECHANISM,
    CKK_RSA,
    CKK_EC,
    CKK_EC_EDWARDS,
    CKK_AES,
    CKK_GENERIC_SECRET,
    CKK_SHA256_HMAC,
    CKK_HKDF,
    CKK_DES3,
    CKC_X_509,
    0,
    1,
    8,
    16,
    24,
    32,
    33,
    48,
    64,
    512,
    1024,
    2048,
    4096,
    CKM_AES_GCM,
    CKM_ECDSA,
    CKM_RSA_PKCS,
    CKM_SHA256,
    CK_UNAVAILABLE_INFORMATION,
    CKA_VENDOR_DEFINED,
];

/// Shapes come from the module's own table of them (`attr::kind_of`).
pub fn is_template_type(ty: CK_ATTRIBUTE_TYPE) -> bool {
    kind_of(ty) == Some(AttrKind::Template)
}

/// Byte-string values worth starting from: curve parameters, a date, key sizes.
const BYTE_VALUES: &[&[u8]] = &[
    P256_PARAMS,
    P384_PARAMS,
    P521_PARAMS,
    ED25519_PARAMS,
    ED25519_NAME,
    b"20250101",
    b"2025010",
    &[0u8; 16],
    &[0x11u8; 32],
    &[1, 0, 1],
    b"",
];

/// A fuzzed template: an array of attributes whose values (and nested templates) live in the
/// template's own arena.
#[derive(Debug, Default)]
pub struct Template {
    arena: Arena,
    pub list: Vec<CK_ATTRIBUTE>,
}

impl Template {
    /// Up to `max` attributes from the input. `depth` 0 allows nested templates.
    pub fn decode(input: &mut Input<'_>, max: usize) -> Template {
        let mut t = Template::default();
        let n = usize::from(input.u8()) % (max + 1);
        for _ in 0..n {
            if input.is_empty() {
                break;
            }
            let a = decode_attr(input, &mut t.arena, 0);
            t.list.push(a);
        }
        t
    }
    pub fn ptr(&mut self) -> *mut CK_ATTRIBUTE {
        if self.list.is_empty() {
            std::ptr::null_mut()
        } else {
            self.list.as_mut_ptr()
        }
    }
    pub fn len(&self) -> CK_ULONG {
        self.list.len() as CK_ULONG
    }
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
    /// Add a fixed attribute (for example the class a target wants).
    pub fn push(&mut self, ty: CK_ATTRIBUTE_TYPE, v: &[u8]) {
        let p = self.arena.bytes(v);
        self.list.push(attr(ty, p, v.len()));
    }
}

fn decode_attr(input: &mut Input<'_>, arena: &mut Arena, depth: u8) -> CK_ATTRIBUTE {
    let ty = if input.u8() < 0xf8 {
        input.pick(attr_types())
    } else {
        input.u64() as CK_ATTRIBUTE_TYPE
    };
    let shape = input.u8();
    match shape % 8 {
        // The value the type asks for.
        0..=4 => {
            if kind_of(ty) == Some(AttrKind::Bool) {
                let b = input.u8();
                let v = if b < 0xf0 { b & 1 } else { b };
                attr(ty, arena.bytes(&[v]), 1)
            } else if kind_of(ty) == Some(AttrKind::Ulong) {
                let v = input.ulong(ULONGS);
                attr(ty, arena.bytes(&v.to_ne_bytes()), size_of::<CK_ULONG>())
            } else if is_template_type(ty) && depth == 0 {
                let n = usize::from(input.u8() % 5);
                let inner: Vec<CK_ATTRIBUTE> = (0..n)
                    .map(|_| decode_attr(input, arena, depth + 1))
                    .collect();
                let len = n * size_of::<CK_ATTRIBUTE>();
                // A nested template's length may be cut short (never made longer than the array).
                let claimed = if shape & 0x80 != 0 {
                    len.saturating_sub(usize::from(input.u8() % 24))
                } else {
                    len
                };
                let p = arena.attrs(inner);
                attr(ty, p as *mut u8, claimed)
            } else if ty == CKA_ALLOWED_MECHANISMS {
                let n = usize::from(input.u8() % 6);
                let v: Vec<u8> = (0..n)
                    .flat_map(|_| {
                        input
                            .ulong(&[
                                CKM_AES_GCM,
                                CKM_AES_CBC,
                                CKM_ECDSA,
                                CKM_SHA256_HMAC,
                                CKM_RSA_PKCS_OAEP,
                            ])
                            .to_ne_bytes()
                    })
                    .collect();
                attr(ty, arena.bytes(&v), v.len())
            } else if shape & 0x80 != 0 {
                let v = input.pick(BYTE_VALUES);
                attr(ty, arena.bytes(v), v.len())
            } else {
                let v = input.blob();
                attr(ty, arena.bytes(v), v.len())
            }
        }
        // Raw bytes of any length for any type (nested templates excepted: their value is an
        // array of pointers, which a fuzzer must not invent).
        5 | 6 => {
            if is_template_type(ty) {
                attr(ty, std::ptr::null_mut(), 0)
            } else {
                let v = input.blob();
                attr(ty, arena.bytes(v), v.len())
            }
        }
        // NULL with a length (a caller error the module must reject).
        _ => attr(ty, std::ptr::null_mut(), usize::from(input.u8())),
    }
}

/// A template for C_GetAttributeValue: types and output buffers (NULL for a size query).
pub fn decode_get(input: &mut Input<'_>, max: usize) -> Template {
    let mut t = Template::default();
    let n = usize::from(input.u8()) % (max + 1);
    for _ in 0..n {
        if input.is_empty() {
            break;
        }
        let ty = if input.u8() < 0xf8 {
            input.pick(attr_types())
        } else {
            input.u64() as CK_ATTRIBUTE_TYPE
        };
        let s = input.u8();
        let a = if s & 3 == 0 {
            // A size query.
            attr(ty, std::ptr::null_mut(), usize::from(input.u8()))
        } else if is_template_type(ty) && s & 3 == 1 {
            // An array of inner attributes, each with its own buffer.
            let k = usize::from(input.u8() % 5);
            let inner: Vec<CK_ATTRIBUTE> = (0..k)
                .map(|_| {
                    let len = usize::from(input.u8());
                    if len == 0 {
                        attr(0, std::ptr::null_mut(), 0)
                    } else {
                        attr(0, t.arena.out(len), len)
                    }
                })
                .collect();
            let p = t.arena.attrs(inner);
            attr(ty, p as *mut u8, k * size_of::<CK_ATTRIBUTE>())
        } else if is_template_type(ty) {
            // A plain buffer too small for even one nested attribute.
            let len = usize::from(input.u8()) % size_of::<CK_ATTRIBUTE>();
            attr(ty, t.arena.out(len), len)
        } else {
            let len = usize::from(input.u16() % 1024);
            attr(ty, t.arena.out(len), len)
        };
        t.list.push(a);
    }
    t
}

/// All objects the session sees (for clean-up and for fuzzing attribute reads).
pub fn find_all(s: CK_SESSION_HANDLE) -> Vec<CK_OBJECT_HANDLE> {
    let mut out = Vec::new();
    // SAFETY: an empty template.
    if unsafe { C_FindObjectsInit(s, std::ptr::null_mut(), 0) } != CKR_OK {
        return out;
    }
    loop {
        let mut hs = [0 as CK_OBJECT_HANDLE; 64];
        let mut n: CK_ULONG = 0;
        // SAFETY: `hs` holds 64 handles.
        if unsafe { C_FindObjects(s, hs.as_mut_ptr(), 64, &mut n) } != CKR_OK || n == 0 {
            break;
        }
        out.extend_from_slice(&hs[..n as usize]);
    }
    C_FindObjectsFinal(s);
    out
}
