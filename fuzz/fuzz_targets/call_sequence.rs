//! Call sequences over keys of known value (issue 10; PKCS#11 v3.0 §4.7 sensitive and
//! extractable keys, §5.6-§5.18): the input is decoded into up to 24 calls from a small opcode
//! set (CreateObject, CopyObject, SetAttributeValue, GetAttributeValue, GenerateKey, WrapKey,
//! UnwrapKey, DeriveKey, Encrypt, Decrypt, Sign, DigestKey, Get/SetOperationState, Login,
//! Logout, FindObjects, DestroyObject), with arguments drawn from small tables of handles,
//! mechanisms and templates, in a fresh session whose keys are re-created for every input.
//!
//! The oracle panics when
//! - any byte string the module returns (outputs, wrapped blobs, saved states, attribute values
//!   of every object) holds an 8-byte window of a sensitive, non-extractable key's value;
//! - a one-way attribute goes back on an object: CKA_SENSITIVE true→false, CKA_EXTRACTABLE
//!   false→true, CKA_ALWAYS_SENSITIVE / CKA_NEVER_EXTRACTABLE false→true,
//!   CKA_WRAP_WITH_TRUSTED true→false, CKA_MODIFIABLE / CKA_COPYABLE / CKA_DESTROYABLE
//!   false→true; or a copy has less of them than its original;
//! - an object made while the normal user is logged in carries CKA_TRUSTED=true.
#![no_main]

use ferrohsm_fuzz::*;
use libfuzzer_sys::fuzz_target;
use std::collections::{HashMap, HashSet};
use std::ptr::null_mut;

/// Known values of the secret keys (arbitrary bytes no module would produce by chance).
const SECRET_AES: [u8; 32] = *b"\x9e\x2b\x7c\x14\xd8\xf3\x6a\x05\xb1\xe4\x9c\x72\xa3\xd8\x5f\x6e\x0c\x17\xb9\xa4\xe2\xd8\xf3\x5c\x61\xa0\xb7\xe4\x9d\x2c\x8f\x13";
const SECRET_GENERIC: [u8; 32] = *b"\xb7\xa2\xe9\xc4\x1f\x8d\x36\x05\x7a\xe1\xc9\x4b\x2d\x8f\x60\x3e\xa5\xc7\x1e\x9d\x42\xb8\xf6\x03\x1c\x7a\xe5\xd9\x4b\x2f\x8e\x60";
/// The P-256 scalar of tests/common/keys.rs (EC_PRIVATE_VALUE).
const SECRET_EC: [u8; 32] = *b"\xe5\xad\x39\xb0\x35\xab\xa0\xce\x81\xba\x88\x47\x4b\x9a\xab\xee\x83\x84\xf9\x66\x1f\xbf\x30\x49\x44\x01\xbf\x70\x92\x55\x51\x3c";
/// The public point of SECRET_EC, uncompressed (for ECDH with a peer the caller knows).
const EC_POINT: &[u8] = b"\x04\x6a\x72\x0f\x8a\x03\x66\xef\x9c\x45\x64\xc1\x58\xf3\xca\x2d\x0b\x2a\x60\xc8\xef\xfa\xc4\xd1\xff\xcc\x57\x49\xf7\x1e\x0b\x0c\x71\xac\xcf\x08\xad\x0e\x60\x2e\xd6\x9d\x46\x3e\xc7\xbc\x5a\x2d\xe6\xb9\xb6\x03\x6e\x6e\x0a\x74\x1b\xbc\x29\x54\x01\xd0\x79\x99\x98";
/// Readable keys whose value the caller knows (wrapping keys, bases of derivations).
const KNOWN_AES: [u8; 32] = [0x5a; 32];
const KNOWN_GENERIC: [u8; 32] = [0x3c; 32];
/// A sensitive but extractable AES key: wrapping it under a known key and unwrapping the blob
/// readable is the specification's semantics, so its bytes are not in the scan.
const SENSITIVE_EXTRACTABLE_AES: [u8; 16] = [0x71; 16];

const WINDOW: usize = 8;

/// The one-way attributes, with the direction they may move in (true: may go true→false only).
const ONE_WAY: &[(CK_ATTRIBUTE_TYPE, &str, bool)] = &[
    (CKA_SENSITIVE, "CKA_SENSITIVE", false),
    (CKA_EXTRACTABLE, "CKA_EXTRACTABLE", true),
    (CKA_ALWAYS_SENSITIVE, "CKA_ALWAYS_SENSITIVE", true),
    (CKA_NEVER_EXTRACTABLE, "CKA_NEVER_EXTRACTABLE", true),
    (CKA_WRAP_WITH_TRUSTED, "CKA_WRAP_WITH_TRUSTED", false),
    (CKA_MODIFIABLE, "CKA_MODIFIABLE", true),
    (CKA_COPYABLE, "CKA_COPYABLE", true),
    (CKA_DESTROYABLE, "CKA_DESTROYABLE", true),
];

fn needles() -> &'static HashMap<[u8; WINDOW], &'static str> {
    static N: std::sync::OnceLock<HashMap<[u8; WINDOW], &'static str>> = std::sync::OnceLock::new();
    N.get_or_init(|| {
        let mut m = HashMap::new();
        for (name, v) in [
            ("the sensitive AES key", &SECRET_AES[..]),
            ("the sensitive generic secret", &SECRET_GENERIC[..]),
            ("the sensitive EC scalar", &SECRET_EC[..]),
        ] {
            for w in v.windows(WINDOW) {
                let mut k = [0u8; WINDOW];
                k.copy_from_slice(w);
                m.insert(k, name);
            }
        }
        m
    })
}

/// The state of one input's run: the session, the objects and what was seen of them.
struct Run {
    s: CK_SESSION_HANDLE,
    /// Every handle of this input (the fixed keys first).
    objs: Vec<CK_OBJECT_HANDLE>,
    /// Last seen one-way attribute values per handle.
    seen: HashMap<CK_OBJECT_HANDLE, [Option<bool>; 8]>,
    /// Objects made while the normal user was logged in.
    by_user: HashSet<CK_OBJECT_HANDLE>,
    states: Vec<Vec<u8>>,
    blobs: Vec<Vec<u8>>,
    role: Option<CK_USER_TYPE>,
    log: Vec<String>,
}

impl Run {
    fn violation(&self, what: String) -> ! {
        panic!(
            "call_sequence oracle: {what}\ncall sequence:\n  {}",
            self.log.join("\n  ")
        );
    }

    /// The scan of one returned byte string.
    fn scan(&self, what: &str, bytes: &[u8]) {
        for (i, w) in bytes.windows(WINDOW).enumerate() {
            let mut k = [0u8; WINDOW];
            k.copy_from_slice(w);
            if let Some(name) = needles().get(&k) {
                self.violation(format!(
                    "{what} returned {} bytes holding 8 bytes of {name} at offset {i}",
                    bytes.len()
                ));
            }
        }
    }

    fn one_way(&self, h: CK_OBJECT_HANDLE) -> Option<[Option<bool>; 8]> {
        let mut vals = [0xa5u8; 8];
        let mut t: Vec<CK_ATTRIBUTE> = ONE_WAY
            .iter()
            .zip(vals.iter_mut())
            .map(|((ty, _, _), v)| attr(*ty, v as *mut u8, 1))
            .collect();
        // SAFETY: each attribute points to one writable byte.
        let rv = unsafe { C_GetAttributeValue(self.s, h, t.as_mut_ptr(), t.len() as CK_ULONG) };
        if rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_SESSION_HANDLE_INVALID {
            return None;
        }
        let mut out = [None; 8];
        for (i, a) in t.iter().enumerate() {
            if a.ulValueLen == 1 {
                out[i] = Some(vals[i] != 0);
            }
        }
        Some(out)
    }

    /// After every call: the one-way attributes of every object, its CKA_VALUE if readable,
    /// and CKA_TRUSTED of the user's objects.
    fn check_all(&mut self) {
        for h in self.objs.clone() {
            let Some(now) = self.one_way(h) else {
                self.seen.remove(&h);
                continue;
            };
            if let Some(before) = self.seen.get(&h) {
                for (i, (_, name, down_only)) in ONE_WAY.iter().enumerate() {
                    if let (Some(b), Some(n)) = (before[i], now[i]) {
                        let back = if *down_only { !b && n } else { b && !n };
                        if back {
                            self.violation(format!("object {h}: {name} went from {b} to {n}"));
                        }
                    }
                }
            }
            self.seen.insert(h, now);
            if let Some(v) = self.read(h, CKA_VALUE) {
                self.scan(&format!("CKA_VALUE of object {h}"), &v);
            }
            if self.by_user.contains(&h) && self.read(h, CKA_TRUSTED).as_deref() == Some(&[1]) {
                self.violation(format!(
                    "object {h}, made by the normal user, has CKA_TRUSTED"
                ));
            }
        }
    }

    fn rv(&mut self, rv: CK_RV) {
        self.log.push(format!("  -> {rv:#x}"));
    }

    fn read(&self, h: CK_OBJECT_HANDLE, ty: CK_ATTRIBUTE_TYPE) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; 4096];
        let mut t = [attr(ty, buf.as_mut_ptr(), buf.len())];
        // SAFETY: one attribute with a 4096-byte buffer.
        let rv = unsafe { C_GetAttributeValue(self.s, h, t.as_mut_ptr(), 1) };
        (rv == CKR_OK).then(|| {
            buf.truncate(t[0].ulValueLen as usize);
            buf
        })
    }

    /// A new object: it may not have less protection than the one it came from.
    fn created(&mut self, h: CK_OBJECT_HANDLE, from: Option<CK_OBJECT_HANDLE>) {
        self.objs.push(h);
        if self.role == Some(CKU_USER) {
            self.by_user.insert(h);
        }
        if let (Some(f), Some(copy)) = (from, self.one_way(h)) {
            if let Some(orig) = self.seen.get(&f).copied() {
                for (i, (_, name, down_only)) in ONE_WAY.iter().enumerate() {
                    // A copy's COPYABLE and DESTROYABLE do not weaken the original, which stays.
                    if matches!(ONE_WAY[i].0, CKA_COPYABLE | CKA_DESTROYABLE) {
                        continue;
                    }
                    if let (Some(o), Some(c)) = (orig[i], copy[i]) {
                        let back = if *down_only { !o && c } else { o && !c };
                        if back {
                            self.violation(format!(
                                "copy {h} of object {f}: {name} is {c}, the original's {o}"
                            ));
                        }
                    }
                }
            }
        }
    }

    /// An output buffer call: the bytes are scanned and returned.
    fn out(
        &mut self,
        what: &str,
        f: impl FnOnce(*mut u8, *mut CK_ULONG) -> CK_RV,
    ) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; 8192];
        let mut len = buf.len() as CK_ULONG;
        let rv = f(buf.as_mut_ptr(), &mut len);
        self.log.push(format!("  -> {rv:#x}"));
        if rv != CKR_OK {
            return None;
        }
        buf.truncate((len as usize).min(8192));
        self.scan(what, &buf);
        Some(buf)
    }
}

/// A mechanism and its parameter, kept alive in an arena.
fn mechanism(input: &mut Input<'_>, arena: &mut Arena) -> CK_MECHANISM {
    let iv = arena.bytes(&[0x42; 16]);
    let data = arena.bytes(&[0x11; 32]);
    let point = arena.bytes(EC_POINT);
    let salt = arena.bytes(b"salt");
    let info = arena.bytes(b"info");
    let (ty, param): (CK_MECHANISM_TYPE, Vec<u8>) = match input.u8() % 20 {
        0 => (CKM_AES_ECB, vec![]),
        1 => (CKM_AES_CBC, raw(&[0x42u8; 16])),
        2 => (CKM_AES_CBC_PAD, raw(&[0x42u8; 16])),
        3 => (
            CKM_AES_GCM,
            raw(&CK_GCM_PARAMS {
                pIv: iv,
                ulIvLen: 12,
                ulIvBits: 96,
                pAAD: null_mut(),
                ulAADLen: 0,
                ulTagBits: 128,
            }),
        ),
        4 => (CKM_AES_KEY_WRAP, vec![]),
        5 => (CKM_AES_KEY_WRAP_KWP, vec![]),
        6 => (CKM_AES_CMAC, vec![]),
        7 => (CKM_SHA256_HMAC, vec![]),
        8 => (CKM_SHA512_HMAC, vec![]),
        9 => (CKM_SHA256, vec![]),
        10 => (CKM_SHA512, vec![]),
        11 => (CKM_ECDSA, vec![]),
        12 => (
            CKM_ECDH1_DERIVE,
            raw(&CK_ECDH1_DERIVE_PARAMS {
                kdf: CKD_NULL,
                ulSharedDataLen: 0,
                pSharedData: null_mut(),
                ulPublicDataLen: EC_POINT.len() as CK_ULONG,
                pPublicData: point,
            }),
        ),
        13 => (
            CKM_AES_ECB_ENCRYPT_DATA,
            raw(&CK_KEY_DERIVATION_STRING_DATA {
                pData: data,
                ulLen: 32,
            }),
        ),
        14 => (
            CKM_AES_CBC_ENCRYPT_DATA,
            raw(&CK_AES_CBC_ENCRYPT_DATA_PARAMS {
                iv: [0; 16],
                pData: data,
                length: 32,
            }),
        ),
        15 | 16 => {
            let b = input.u8();
            (
                CKM_HKDF_DERIVE,
                raw(&CK_HKDF_PARAMS {
                    bExtract: b & 1,
                    bExpand: (b >> 1) & 1,
                    prfHashMechanism: CKM_SHA256,
                    ulSaltType: if b & 4 != 0 {
                        CKF_HKDF_SALT_DATA
                    } else {
                        CKF_HKDF_SALT_NULL
                    },
                    pSalt: if b & 4 != 0 { salt } else { null_mut() },
                    ulSaltLen: if b & 4 != 0 { 4 } else { 0 },
                    hSaltKey: CK_INVALID_HANDLE,
                    pInfo: info,
                    ulInfoLen: 4,
                }),
            )
        }
        17 => (CKM_AES_KEY_GEN, vec![]),
        18 => (CKM_GENERIC_SECRET_KEY_GEN, vec![]),
        _ => (CKM_SHA256_HMAC_GENERAL, raw(&(16 as CK_ULONG))),
    };
    let (p, l) = if param.is_empty() {
        (null_mut(), 0)
    } else {
        (arena.bytes(&param), param.len())
    };
    CK_MECHANISM {
        mechanism: ty,
        pParameter: p.cast(),
        ulParameterLen: l as CK_ULONG,
    }
}

/// The bytes of a plain C structure (or array).
fn raw<T: Copy>(v: &T) -> Vec<u8> {
    // SAFETY: reading the bytes of a plain-old-data value of this size.
    unsafe { std::slice::from_raw_parts(v as *const T as *const u8, std::mem::size_of::<T>()) }
        .to_vec()
}

/// A template from a bit mask: class and key type, the policy attributes the oracle watches,
/// usages, a length or a (public) value.
fn template(input: &mut Input<'_>) -> Template {
    let bits = input.u32();
    let mut t = Template::default();
    let b = |i: u32| bits & (1 << i) != 0;
    let tf = |v: bool| [u8::from(v)];
    if b(0) {
        t.push(CKA_CLASS, &CKO_SECRET_KEY.to_ne_bytes());
    }
    if b(1) {
        let kt = if b(2) { CKK_AES } else { CKK_GENERIC_SECRET };
        t.push(CKA_KEY_TYPE, &kt.to_ne_bytes());
    }
    if b(3) {
        let len: CK_ULONG = if b(4) { 32 } else { 16 };
        t.push(CKA_VALUE_LEN, &len.to_ne_bytes());
    }
    let flags = [
        (5, CKA_SENSITIVE),
        (7, CKA_EXTRACTABLE),
        (9, CKA_TOKEN),
        (11, CKA_MODIFIABLE),
        (13, CKA_COPYABLE),
        (15, CKA_DESTROYABLE),
        (17, CKA_WRAP_WITH_TRUSTED),
        (19, CKA_TRUSTED),
        (21, CKA_PRIVATE),
    ];
    for (i, ty) in flags {
        if b(i) {
            t.push(ty, &tf(b(i + 1)));
        }
    }
    if b(23) {
        for ty in [
            CKA_ENCRYPT,
            CKA_DECRYPT,
            CKA_WRAP,
            CKA_UNWRAP,
            CKA_SIGN,
            CKA_VERIFY,
            CKA_DERIVE,
        ] {
            t.push(ty, &[1]);
        }
    }
    if b(24) {
        t.push(CKA_VALUE, &[0x24; 32]);
    }
    if b(25) {
        t.push(CKA_CLASS, &CKO_DATA.to_ne_bytes());
    }
    if b(26) {
        t.push(CKA_LABEL, b"fuzz");
    }
    t
}

/// The fixed keys of an input: three sensitive, non-extractable keys of known value, a
/// sensitive extractable one, and two readable keys of known value.
fn fixed_keys(run: &mut Run) {
    let usage = |t: Fixed| {
        t.bool(CKA_ENCRYPT, true)
            .bool(CKA_DECRYPT, true)
            .bool(CKA_WRAP, true)
            .bool(CKA_UNWRAP, true)
            .bool(CKA_SIGN, true)
            .bool(CKA_VERIFY, true)
            .bool(CKA_DERIVE, true)
    };
    let secret = |kt: CK_KEY_TYPE, v: &[u8], sensitive: bool, extractable: bool| {
        usage(
            Fixed::new()
                .ulong(CKA_CLASS, CKO_SECRET_KEY)
                .ulong(CKA_KEY_TYPE, kt)
                .bool(CKA_TOKEN, false)
                .bool(CKA_PRIVATE, true)
                .bool(CKA_SENSITIVE, sensitive)
                .bool(CKA_EXTRACTABLE, extractable)
                .bytes(CKA_VALUE, v),
        )
    };
    let ec = Fixed::new()
        .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
        .ulong(CKA_KEY_TYPE, CKK_EC)
        .bool(CKA_TOKEN, false)
        .bool(CKA_PRIVATE, true)
        .bool(CKA_SENSITIVE, true)
        .bool(CKA_EXTRACTABLE, false)
        .bool(CKA_SIGN, true)
        .bool(CKA_DERIVE, true)
        .bytes(CKA_EC_PARAMS, P256_PARAMS)
        .bytes(CKA_VALUE, &SECRET_EC);
    for t in [
        secret(CKK_AES, &SECRET_AES, true, false),
        secret(CKK_GENERIC_SECRET, &SECRET_GENERIC, true, false),
        ec,
        secret(CKK_AES, &SENSITIVE_EXTRACTABLE_AES, true, true),
        secret(CKK_AES, &KNOWN_AES, false, true),
        secret(CKK_GENERIC_SECRET, &KNOWN_GENERIC, false, true),
    ] {
        let mut t = t;
        let mut h = 0;
        // SAFETY: the template's pointers are valid for their lengths.
        check("C_CreateObject (fixed key)", unsafe {
            C_CreateObject(run.s, t.ptr(), t.len(), &mut h)
        });
        run.objs.push(h);
    }
}

fn pick(input: &mut Input<'_>, run: &Run) -> CK_OBJECT_HANDLE {
    let i = usize::from(input.u8());
    if i == 0xff {
        return 0xdead;
    }
    run.objs[i % run.objs.len()]
}

fn data(input: &mut Input<'_>) -> Vec<u8> {
    match input.u8() % 4 {
        0 => vec![0u8; 16],
        1 => vec![0x11; 32],
        2 => vec![0x5a; 48],
        _ => input.blob().to_vec(),
    }
}

fuzz_target!(|bytes: &[u8]| {
    let _ = session(); // the module, the token and the first login, once per process
    let mut input = Input(bytes);
    let s = open_session(slot());
    let mut run = Run {
        s,
        objs: Vec::new(),
        seen: HashMap::new(),
        by_user: HashSet::new(),
        states: Vec::new(),
        blobs: Vec::new(),
        role: Some(CKU_USER),
        log: Vec::new(),
    };
    // A previous input may have logged out: log in again (ALREADY_LOGGED_IN is fine).
    // SAFETY: the PIN is valid for its length.
    let rv = unsafe {
        C_Login(
            s,
            CKU_USER,
            USER_PIN.as_ptr() as *mut u8,
            USER_PIN.len() as CK_ULONG,
        )
    };
    if rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN {
        // Another role is logged in (an SO login of a previous input): start over.
        C_Logout(s);
        login(s, CKU_USER, USER_PIN);
    }
    fixed_keys(&mut run);
    run.check_all();
    for _ in 0..24 {
        if input.is_empty() {
            break;
        }
        let mut arena = Arena::default();
        let op = input.u8() % 20;
        match op {
            0 => {
                let mut t = template(&mut input);
                run.log.push(format!("C_CreateObject({:?})", t.list.len()));
                let mut h = 0;
                // SAFETY: the template's pointers are valid for their lengths.
                let rv = unsafe { C_CreateObject(s, t.ptr(), t.len(), &mut h) };
                run.rv(rv);
                if rv == CKR_OK {
                    run.created(h, None);
                }
            }
            1 => {
                let from = pick(&mut input, &run);
                let mut t = template(&mut input);
                run.log
                    .push(format!("C_CopyObject({from}, {} attrs)", t.list.len()));
                let mut h = 0;
                // SAFETY: as above.
                let rv = unsafe { C_CopyObject(s, from, t.ptr(), t.len(), &mut h) };
                run.rv(rv);
                if rv == CKR_OK {
                    run.created(h, Some(from));
                }
            }
            2 => {
                let o = pick(&mut input, &run);
                let mut t = template(&mut input);
                run.log
                    .push(format!("C_SetAttributeValue({o}, {} attrs)", t.list.len()));
                if run.role == Some(CKU_SO) {
                    run.by_user.remove(&o); // the SO may make a public object trusted
                }
                // SAFETY: as above.
                let rv = unsafe { C_SetAttributeValue(s, o, t.ptr(), t.len()) };
                run.rv(rv);
            }
            3 => {
                let o = pick(&mut input, &run);
                let ty = input.pick(&[
                    CKA_VALUE,
                    CKA_LABEL,
                    CKA_CHECK_VALUE,
                    CKA_EC_POINT,
                    CKA_UNIQUE_ID,
                    CKA_WRAP_TEMPLATE,
                    CKA_PUBLIC_KEY_INFO,
                ]);
                run.log.push(format!("C_GetAttributeValue({o}, {ty:#x})"));
                if let Some(v) = run.read(o, ty) {
                    run.scan("C_GetAttributeValue", &v);
                }
            }
            4 => {
                let mut m = mechanism(&mut input, &mut arena);
                let mut t = template(&mut input);
                run.log.push(format!("C_GenerateKey({:#x})", m.mechanism));
                let mut h = 0;
                // SAFETY: mechanism and template valid for their lengths.
                let rv = unsafe { C_GenerateKey(s, &mut m, t.ptr(), t.len(), &mut h) };
                run.rv(rv);
                if rv == CKR_OK {
                    run.created(h, None);
                }
            }
            5 => {
                let mut m = mechanism(&mut input, &mut arena);
                let (wk, k) = (pick(&mut input, &run), pick(&mut input, &run));
                run.log
                    .push(format!("C_WrapKey({:#x}, {wk}, {k})", m.mechanism));
                // SAFETY: the output buffer is valid for its length.
                if let Some(b) = run.out("C_WrapKey", |p, l| unsafe {
                    C_WrapKey(s, &mut m, wk, k, p, l)
                }) {
                    run.blobs.push(b);
                }
            }
            6 => {
                let mut m = mechanism(&mut input, &mut arena);
                let uk = pick(&mut input, &run);
                let mut blob = if !run.blobs.is_empty() && input.bool() {
                    run.blobs[usize::from(input.u8()) % run.blobs.len()].clone()
                } else {
                    data(&mut input)
                };
                let mut t = template(&mut input);
                run.log.push(format!(
                    "C_UnwrapKey({:#x}, {uk}, {} bytes)",
                    m.mechanism,
                    blob.len()
                ));
                let mut h = 0;
                // SAFETY: all pointers valid for their lengths.
                let rv = unsafe {
                    C_UnwrapKey(
                        s,
                        &mut m,
                        uk,
                        blob.as_mut_ptr(),
                        blob.len() as CK_ULONG,
                        t.ptr(),
                        t.len(),
                        &mut h,
                    )
                };
                run.rv(rv);
                if rv == CKR_OK {
                    run.created(h, None);
                }
            }
            7 => {
                let mut m = mechanism(&mut input, &mut arena);
                let base = pick(&mut input, &run);
                let mut t = template(&mut input);
                run.log
                    .push(format!("C_DeriveKey({:#x}, {base})", m.mechanism));
                let mut h = 0;
                // SAFETY: all pointers valid for their lengths.
                let rv = unsafe { C_DeriveKey(s, &mut m, base, t.ptr(), t.len(), &mut h) };
                run.rv(rv);
                if rv == CKR_OK {
                    run.created(h, None);
                }
            }
            8..=10 => {
                let mut m = mechanism(&mut input, &mut arena);
                let k = pick(&mut input, &run);
                let mut d = data(&mut input);
                let multi = input.bool();
                let name = ["Encrypt", "Decrypt", "Sign"][usize::from(op - 8)];
                run.log.push(format!(
                    "C_{name}Init({:#x}, {k}) + {} ({} bytes)",
                    m.mechanism,
                    if multi { "Update" } else { "single" },
                    d.len()
                ));
                // SAFETY: mechanism valid; the data and output buffers valid for their lengths.
                let rv = unsafe {
                    match op {
                        8 => C_EncryptInit(s, &mut m, k),
                        9 => C_DecryptInit(s, &mut m, k),
                        _ => C_SignInit(s, &mut m, k),
                    }
                };
                if rv == CKR_OK {
                    let (dp, dl) = (d.as_mut_ptr(), d.len() as CK_ULONG);
                    // SAFETY: as above.
                    run.out(name, |p, l| unsafe {
                        match (op, multi) {
                            (8, false) => C_Encrypt(s, dp, dl, p, l),
                            (8, true) => C_EncryptUpdate(s, dp, dl, p, l),
                            (9, false) => C_Decrypt(s, dp, dl, p, l),
                            (9, true) => C_DecryptUpdate(s, dp, dl, p, l),
                            (_, false) => C_Sign(s, dp, dl, p, l),
                            (_, true) => {
                                *l = 0;
                                C_SignUpdate(s, dp, dl)
                            }
                        }
                    });
                }
            }
            11 => {
                let mut m = mechanism(&mut input, &mut arena);
                let k = pick(&mut input, &run);
                let mut d = data(&mut input);
                run.log.push(format!(
                    "C_DigestInit({:#x}) + C_DigestKey({k})",
                    m.mechanism
                ));
                // SAFETY: mechanism valid; the data buffer valid for its length.
                if unsafe { C_DigestInit(s, &mut m) } == CKR_OK {
                    if input.bool() {
                        // SAFETY: as above.
                        unsafe { C_DigestUpdate(s, d.as_mut_ptr(), d.len() as CK_ULONG) };
                    }
                    C_DigestKey(s, k);
                }
            }
            12 => {
                run.log.push("C_GetOperationState".into());
                // SAFETY: the output buffer is valid for its length.
                if let Some(st) = run.out("C_GetOperationState", |p, l| unsafe {
                    C_GetOperationState(s, p, l)
                }) {
                    run.states.push(st);
                }
            }
            13 => {
                let mut st = if run.states.is_empty() {
                    data(&mut input)
                } else {
                    run.states[usize::from(input.u8()) % run.states.len()].clone()
                };
                if input.bool() && !st.is_empty() {
                    let i = usize::from(input.u8()) % st.len();
                    st[i] ^= input.u8() | 1;
                }
                let (ek, ak) = (
                    if input.bool() {
                        pick(&mut input, &run)
                    } else {
                        CK_INVALID_HANDLE
                    },
                    if input.bool() {
                        pick(&mut input, &run)
                    } else {
                        CK_INVALID_HANDLE
                    },
                );
                run.log.push(format!(
                    "C_SetOperationState({} bytes, {ek}, {ak})",
                    st.len()
                ));
                // SAFETY: the state buffer is valid for its length.
                let rv = unsafe {
                    C_SetOperationState(s, st.as_mut_ptr(), st.len() as CK_ULONG, ek, ak)
                };
                run.rv(rv);
            }
            14 => {
                let so = input.bool();
                let (user, pin) = if so {
                    (CKU_SO, SO_PIN)
                } else {
                    (CKU_USER, USER_PIN)
                };
                run.log
                    .push(format!("C_Login({})", if so { "SO" } else { "user" }));
                // SAFETY: the PIN is valid for its length.
                if unsafe { C_Login(s, user, pin.as_ptr() as *mut u8, pin.len() as CK_ULONG) }
                    == CKR_OK
                {
                    run.role = Some(user);
                }
            }
            15 => {
                run.log.push("C_Logout".into());
                if C_Logout(s) == CKR_OK {
                    run.role = None;
                }
            }
            16 => {
                let mut t = Template::default();
                let o = pick(&mut input, &run);
                let probe = match input.u8() % 3 {
                    0 => SECRET_AES.to_vec(),
                    1 => SECRET_GENERIC.to_vec(),
                    _ => vec![0x24; 32],
                };
                t.push(CKA_VALUE, &probe);
                run.log.push(format!(
                    "C_FindObjects(CKA_VALUE = {} bytes) (object {o} unused)",
                    probe.len()
                ));
                // SAFETY: the template's pointers are valid for their lengths.
                if unsafe { C_FindObjectsInit(s, t.ptr(), t.len()) } == CKR_OK {
                    let mut hs = [0 as CK_OBJECT_HANDLE; 16];
                    let mut n = 0;
                    // SAFETY: `hs` holds 16 handles.
                    unsafe { C_FindObjects(s, hs.as_mut_ptr(), 16, &mut n) };
                    C_FindObjectsFinal(s);
                }
            }
            17 => {
                // Destroy only objects of this input, never the fixed keys.
                if run.objs.len() > 6 {
                    let i = 6 + usize::from(input.u8()) % (run.objs.len() - 6);
                    let h = run.objs[i];
                    run.log.push(format!("C_DestroyObject({h})"));
                    if C_DestroyObject(s, h) == CKR_OK {
                        run.objs.remove(i);
                        run.seen.remove(&h);
                    }
                }
            }
            18 => {
                // Encrypt/decrypt with a saved blob: what a caller does with a wrapped key.
                let mut m = mechanism(&mut input, &mut arena);
                let k = pick(&mut input, &run);
                let mut d = if run.blobs.is_empty() {
                    data(&mut input)
                } else {
                    run.blobs[usize::from(input.u8()) % run.blobs.len()].clone()
                };
                run.log.push(format!(
                    "C_DecryptInit({:#x}, {k}) + C_Decrypt(a blob, {} bytes)",
                    m.mechanism,
                    d.len()
                ));
                // SAFETY: mechanism, data and output valid for their lengths.
                if unsafe { C_DecryptInit(s, &mut m, k) } == CKR_OK {
                    let (dp, dl) = (d.as_mut_ptr(), d.len() as CK_ULONG);
                    // SAFETY: as above.
                    run.out("C_Decrypt", |p, l| unsafe { C_Decrypt(s, dp, dl, p, l) });
                }
            }
            _ => {
                // Finish whatever is active: the outputs are scanned like any other.
                run.log.push("C_*Final".into());
                // SAFETY: output buffers valid for their lengths.
                run.out("C_EncryptFinal", |p, l| unsafe { C_EncryptFinal(s, p, l) });
                run.out("C_DecryptFinal", |p, l| unsafe { C_DecryptFinal(s, p, l) });
                run.out("C_SignFinal", |p, l| unsafe { C_SignFinal(s, p, l) });
                run.out("C_DigestFinal", |p, l| unsafe { C_DigestFinal(s, p, l) });
            }
        }
        run.check_all();
    }
    // Token objects would outlive the input: as the user again, destroy every token object (the
    // token holds none of its own) and then the rest of what the input made.
    C_Logout(s);
    login(s, CKU_USER, USER_PIN);
    let mut t = Template::default();
    t.push(CKA_TOKEN, &[1]);
    // SAFETY: the template's pointers are valid for their lengths.
    if unsafe { C_FindObjectsInit(s, t.ptr(), t.len()) } == CKR_OK {
        let mut hs = [0 as CK_OBJECT_HANDLE; 64];
        let mut n = 0;
        // SAFETY: `hs` holds 64 handles.
        unsafe { C_FindObjects(s, hs.as_mut_ptr(), 64, &mut n) };
        C_FindObjectsFinal(s);
        for h in &hs[..n as usize] {
            C_DestroyObject(s, *h);
        }
    }
    for h in run.objs.iter().skip(6) {
        C_DestroyObject(s, *h);
    }
    C_CloseSession(s);
});
