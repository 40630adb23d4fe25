//! Concurrency under stress (PKCS#11 v3.0 §2.5.2 "applications and threads", §4.4 object
//! visibility, §5.4 C_Initialize/C_Finalize, §5.6 sessions and login, §6.7.7 "fork"): many threads
//! with their own sessions doing mixed operations on shared objects while one thread logs the
//! user out and in; several processes on one token at once; C_Finalize while other threads are
//! inside calls; fork with an initialized module, also while other threads are inside calls.
//! Nothing may deadlock, crash or get lost, and no handle may work where it should not.
//!
//! Every stress phase is bounded by time (the constants below; `FERROHSM_STRESS_SECS=N` sets
//! every phase to N seconds for a longer local run, N > 0), must reach a floor of successful
//! operations per thread or process and per kind of operation (`at_least`), and prints its
//! figures on lines starting with `stress:` (shown with `cargo nextest run --test stress
//! --no-capture`). A watchdog fails a phase whose threads make no progress, with a gdb
//! backtrace of every thread when gdb can attach; child processes run under a deadline and are
//! backtraced the same way if they hang.
//!
//! The calls go through the module's raw 3.0 function list: the `cryptoki` crate's context
//! finalizes on drop, which C_Finalize and fork tests must control themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::keys::*;
use common::p11::{aes, ec_private, ec_public, rsa_private_fixed, rsa_public_fixed, Tmpl};
use common::*;
use cryptoki_sys::*;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::ptr::null_mut;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Bounds (CI has two cores and runs the whole suite twice, once per crypto backend)

/// Worker threads of the in-process stress, besides the login/logout thread.
const THREADS: usize = 8;
const THREAD_SECS: u64 = 15;
/// Child processes on one token at once, besides the parent that reads along.
const PROCESSES: usize = 3;
const PROCESS_SECS: u64 = 10;
/// Threads inside calls while C_Finalize runs, and how long to keep starting new rounds.
const FINALIZE_THREADS: usize = 4;
const FINALIZE_SECS: u64 = 8;
/// Threads inside calls while the main thread forks, and how long to keep forking.
const FORK_THREADS: usize = 4;
const FORK_SECS: u64 = 8;
/// A thread that makes no progress for this long is taken for deadlocked.
const WATCHDOG: Duration = Duration::from_secs(20);
/// A forked child (C_Initialize, a login, a search, a signature) must be done within this.
const FORK_DEADLINE: Duration = Duration::from_secs(30);
/// Head room of a re-executed child process beyond its stress time.
const CHILD_SLACK: Duration = Duration::from_secs(120);

/// Length of a stress phase: `base` seconds unless FERROHSM_STRESS_SECS says otherwise. Zero
/// (a run that stresses nothing yet passes) and anything but a number are refused.
fn phase(base: u64) -> Duration {
    let secs = match std::env::var("FERROHSM_STRESS_SECS") {
        Err(_) => base,
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(0) => panic!("FERROHSM_STRESS_SECS=0: a stress phase needs at least one second"),
            Ok(n) => n,
            Err(_) => panic!("FERROHSM_STRESS_SECS={v:?} is not a number of seconds"),
        },
    };
    Duration::from_secs(secs)
}

/// The least a stress phase of length `d` must get done: `per_sec` successful operations per
/// second, at least one. The rates below are a fifth or less of the lowest figures a debug
/// build made on a two-core machine busy with four other builds (load average 9 to 15; quoted with
/// each rate, from the `stress:` lines), so only a thread or kind of operation that stalls or
/// keeps failing misses them.
fn at_least(per_sec: f64, d: Duration) -> u64 {
    ((per_sec * d.as_secs_f64()) as u64).max(1)
}

/// Successful operations per second of each worker thread of the thread stress (measured 24),
/// of each kind of operation there (the rarest, op-isolation, 2.2), and logout/login cycles of
/// its login thread (3.4).
const THREAD_OPS_PER_SEC: f64 = 4.0;
const THREAD_KIND_PER_SEC: f64 = 0.4;
const LOGIN_CYCLES_PER_SEC: f64 = 0.5;
/// Of each child process (18), of each kind there but logout/login (1.7), of its logout/login
/// cycles (0.4: 1 pick in 48, and the next pick of its branch after 64 iterations without
/// one), and of the parent's reads and signatures (9.6).
const PROCESS_OPS_PER_SEC: f64 = 3.5;
const PROCESS_KIND_PER_SEC: f64 = 0.3;
const PROCESS_CYCLES_PER_SEC: f64 = 0.1;
const PARENT_KIND_PER_SEC: f64 = 1.5;
/// Of each kind of call across all C_Finalize rounds, per second of the rounds' hammering
/// (C_Initialize and C_Login of each round apart: on a database they cost more than the
/// hammering) (SQLite 160, PostgreSQL 33), and of rounds per second in all (6.6).
const FINALIZE_KIND_PER_SEC: f64 = 4.0;
const FINALIZE_ROUNDS_PER_SEC: f64 = 1.0;
/// Of each hammer thread across fork (80), of each kind of call there (54), and of forks (2.4).
const FORK_THREAD_OPS_PER_SEC: f64 = 10.0;
const FORK_KIND_PER_SEC: f64 = 5.0;
const FORKS_PER_SEC: f64 = 0.4;

// ---------------------------------------------------------------------------------------------
// Raw calls

/// The module's 3.0 function list, copied: plain function pointers, so it may be shared between
/// threads and used in a forked child. Valid while the `Raw` it came from keeps the module
/// loaded.
#[derive(Clone, Copy)]
struct Api(CK_FUNCTION_LIST_3_0);

macro_rules! call {
    ($api:expr, $f:ident($($a:expr),* $(,)?)) => {{
        let f = $api
            .0
            .$f
            .expect(concat!(stringify!($f), " is NULL in the function list"));
        // SAFETY: an entry point of the loaded module, called with NULL or pointers to live
        // locals of the caller that outlive the call.
        unsafe { f($($a),*) }
    }};
}

fn ok(rv: CK_RV) -> Result<(), CK_RV> {
    if rv == CKR_OK {
        Ok(())
    } else {
        Err(rv)
    }
}

fn mech(ty: CK_MECHANISM_TYPE) -> CK_MECHANISM {
    CK_MECHANISM {
        mechanism: ty,
        pParameter: null_mut(),
        ulParameterLen: 0,
    }
}

impl Api {
    fn load(raw: &Raw) -> Api {
        Api(*raw.f())
    }

    /// C_Initialize with CKF_OS_LOCKING_OK, as a multi-threaded application calls it.
    fn initialize(&self) -> CK_RV {
        let mut args = CK_C_INITIALIZE_ARGS {
            CreateMutex: None,
            DestroyMutex: None,
            LockMutex: None,
            UnlockMutex: None,
            flags: CKF_OS_LOCKING_OK,
            pReserved: null_mut(),
        };
        call!(
            self,
            C_Initialize((&mut args as *mut CK_C_INITIALIZE_ARGS).cast())
        )
    }

    fn finalize(&self) -> CK_RV {
        call!(self, C_Finalize(null_mut()))
    }

    /// The slot of the initialized token with this label.
    fn slot_labelled(&self, label: &str) -> Result<CK_SLOT_ID, String> {
        let mut n: CK_ULONG = 0;
        ok(call!(self, C_GetSlotList(CK_TRUE, null_mut(), &mut n))).map_err(rv_name)?;
        let mut slots = vec![0 as CK_SLOT_ID; n as usize];
        ok(call!(
            self,
            C_GetSlotList(CK_TRUE, slots.as_mut_ptr(), &mut n)
        ))
        .map_err(rv_name)?;
        slots.truncate(n as usize);
        for s in slots {
            let mut info = CK_TOKEN_INFO::default();
            if call!(self, C_GetTokenInfo(s, &mut info)) == CKR_OK
                && info.flags & CKF_TOKEN_INITIALIZED != 0
                && String::from_utf8_lossy(&info.label).trim_end() == label
            {
                return Ok(s);
            }
        }
        Err(format!("no token labelled {label:?}"))
    }

    fn open(&self, slot: CK_SLOT_ID) -> Result<CK_SESSION_HANDLE, CK_RV> {
        let mut h = CK_INVALID_HANDLE;
        ok(call!(
            self,
            C_OpenSession(
                slot,
                CKF_SERIAL_SESSION | CKF_RW_SESSION,
                null_mut(),
                None,
                &mut h
            )
        ))?;
        Ok(h)
    }

    fn close(&self, s: CK_SESSION_HANDLE) -> CK_RV {
        call!(self, C_CloseSession(s))
    }

    /// C_Login as the normal user with `USER_PIN`.
    fn login(&self, s: CK_SESSION_HANDLE) -> CK_RV {
        let mut pin = USER_PIN.as_bytes().to_vec();
        call!(
            self,
            C_Login(s, CKU_USER, pin.as_mut_ptr(), pin.len() as CK_ULONG)
        )
    }

    fn logout(&self, s: CK_SESSION_HANDLE) -> CK_RV {
        call!(self, C_Logout(s))
    }

    fn state(&self, s: CK_SESSION_HANDLE) -> Result<CK_STATE, CK_RV> {
        let mut info = CK_SESSION_INFO::default();
        ok(call!(self, C_GetSessionInfo(s, &mut info)))?;
        Ok(info.state)
    }

    fn create(&self, s: CK_SESSION_HANDLE, t: &Tmpl) -> Result<CK_OBJECT_HANDLE, CK_RV> {
        let mut r = t.raw();
        let mut o = CK_INVALID_HANDLE;
        ok(call!(self, C_CreateObject(s, r.ptr(), r.len(), &mut o)))?;
        Ok(o)
    }

    fn destroy(&self, s: CK_SESSION_HANDLE, o: CK_OBJECT_HANDLE) -> CK_RV {
        call!(self, C_DestroyObject(s, o))
    }

    /// One attribute's value (size query, then the value).
    fn attr(
        &self,
        s: CK_SESSION_HANDLE,
        o: CK_OBJECT_HANDLE,
        ty: CK_ATTRIBUTE_TYPE,
    ) -> Result<Vec<u8>, CK_RV> {
        let mut a = CK_ATTRIBUTE {
            type_: ty,
            pValue: null_mut(),
            ulValueLen: 0,
        };
        ok(call!(self, C_GetAttributeValue(s, o, &mut a, 1)))?;
        let mut buf = vec![0u8; a.ulValueLen as usize + 1];
        a.pValue = buf.as_mut_ptr().cast();
        ok(call!(self, C_GetAttributeValue(s, o, &mut a, 1)))?;
        buf.truncate(a.ulValueLen as usize);
        Ok(buf)
    }

    /// C_FindObjectsInit / C_FindObjects / C_FindObjectsFinal.
    fn find(&self, s: CK_SESSION_HANDLE, t: &Tmpl) -> Result<Vec<CK_OBJECT_HANDLE>, CK_RV> {
        let mut r = t.raw();
        ok(call!(self, C_FindObjectsInit(s, r.ptr(), r.len())))?;
        let mut out = Vec::new();
        loop {
            let mut buf = [CK_INVALID_HANDLE; 32];
            let mut n: CK_ULONG = 0;
            let rv = call!(
                self,
                C_FindObjects(s, buf.as_mut_ptr(), buf.len() as CK_ULONG, &mut n)
            );
            if rv != CKR_OK {
                call!(self, C_FindObjectsFinal(s));
                return Err(rv);
            }
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n as usize]);
        }
        ok(call!(self, C_FindObjectsFinal(s)))?;
        Ok(out)
    }

    fn sign_init(
        &self,
        s: CK_SESSION_HANDLE,
        m: CK_MECHANISM_TYPE,
        key: CK_OBJECT_HANDLE,
    ) -> CK_RV {
        let mut m = mech(m);
        call!(self, C_SignInit(s, &mut m, key))
    }

    /// Single-part C_Sign of an operation already initialized.
    fn sign_only(&self, s: CK_SESSION_HANDLE, data: &[u8]) -> Result<Vec<u8>, CK_RV> {
        let mut d = data.to_vec();
        let mut out = vec![0u8; 1024];
        let mut n = out.len() as CK_ULONG;
        ok(call!(
            self,
            C_Sign(
                s,
                d.as_mut_ptr(),
                d.len() as CK_ULONG,
                out.as_mut_ptr(),
                &mut n
            )
        ))?;
        out.truncate(n as usize);
        Ok(out)
    }

    fn sign(
        &self,
        s: CK_SESSION_HANDLE,
        m: CK_MECHANISM_TYPE,
        key: CK_OBJECT_HANDLE,
        data: &[u8],
    ) -> Result<Vec<u8>, CK_RV> {
        ok(self.sign_init(s, m, key))?;
        self.sign_only(s, data)
    }

    fn sign_update(&self, s: CK_SESSION_HANDLE, data: &[u8]) -> CK_RV {
        let mut d = data.to_vec();
        call!(self, C_SignUpdate(s, d.as_mut_ptr(), d.len() as CK_ULONG))
    }

    fn verify(
        &self,
        s: CK_SESSION_HANDLE,
        m: CK_MECHANISM_TYPE,
        key: CK_OBJECT_HANDLE,
        data: &[u8],
        sig: &[u8],
    ) -> CK_RV {
        let mut m = mech(m);
        let rv = call!(self, C_VerifyInit(s, &mut m, key));
        if rv != CKR_OK {
            return rv;
        }
        let mut d = data.to_vec();
        let mut g = sig.to_vec();
        call!(
            self,
            C_Verify(
                s,
                d.as_mut_ptr(),
                d.len() as CK_ULONG,
                g.as_mut_ptr(),
                g.len() as CK_ULONG
            )
        )
    }

    /// AES-GCM (96-bit IV, 128-bit tag) encryption or decryption in one C_Encrypt/C_Decrypt.
    fn gcm(
        &self,
        s: CK_SESSION_HANDLE,
        encrypt: bool,
        key: CK_OBJECT_HANDLE,
        iv: &[u8; 12],
        data: &[u8],
    ) -> Result<Vec<u8>, CK_RV> {
        let mut iv = *iv;
        let mut aad = AAD.to_vec();
        let mut p = CK_GCM_PARAMS {
            pIv: iv.as_mut_ptr(),
            ulIvLen: 12,
            ulIvBits: 96,
            pAAD: aad.as_mut_ptr(),
            ulAADLen: aad.len() as CK_ULONG,
            ulTagBits: 128,
        };
        let mut m = CK_MECHANISM {
            mechanism: CKM_AES_GCM,
            pParameter: (&mut p as *mut CK_GCM_PARAMS).cast::<c_void>(),
            ulParameterLen: std::mem::size_of::<CK_GCM_PARAMS>() as CK_ULONG,
        };
        let mut input = data.to_vec();
        let mut out = vec![0u8; data.len() + 32];
        let mut n = out.len() as CK_ULONG;
        if encrypt {
            ok(call!(self, C_EncryptInit(s, &mut m, key)))?;
            ok(call!(
                self,
                C_Encrypt(
                    s,
                    input.as_mut_ptr(),
                    input.len() as CK_ULONG,
                    out.as_mut_ptr(),
                    &mut n
                )
            ))?;
        } else {
            ok(call!(self, C_DecryptInit(s, &mut m, key)))?;
            ok(call!(
                self,
                C_Decrypt(
                    s,
                    input.as_mut_ptr(),
                    input.len() as CK_ULONG,
                    out.as_mut_ptr(),
                    &mut n
                )
            ))?;
        }
        out.truncate(n as usize);
        Ok(out)
    }

    fn random(&self, s: CK_SESSION_HANDLE, n: usize) -> Result<Vec<u8>, CK_RV> {
        let mut out = vec![0u8; n];
        ok(call!(
            self,
            C_GenerateRandom(s, out.as_mut_ptr(), n as CK_ULONG)
        ))?;
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------------
// Shared objects and their independent checks

const EC_LABEL: &str = "shared-ec";
const EC_PUB_LABEL: &str = "shared-ec-pub";
const RSA_LABEL: &str = "shared-rsa";
const RSA_PUB_LABEL: &str = "shared-rsa-pub";
const AES_LABEL: &str = "shared-aes";
const DATA_LABEL: &str = "shared-data";
const AES_KEY: [u8; 32] = *b"ferrohsm stress shared aes key!!";
const SHARED_DATA: &[u8] = b"a public data object every thread reads";
/// The message every thread signs with the shared RSA key; its CKM_SHA256_RSA_PKCS signature
/// is deterministic and known from OpenSSL (tests/common/vectors.rs).
const RSA_MSG: &[u8] = common::vectors::RSA_KAT_MESSAGE;
const AAD: &[u8] = b"ferrohsm stress";
/// Logout makes the user's private objects invisible: these are the codes a call that names
/// one may then return (PKCS#11 v3.0 §5.6 C_Logout, §4.4: private objects need a login).
const LOGGED_OUT: &[CK_RV] = &[
    CKR_USER_NOT_LOGGED_IN,
    CKR_OBJECT_HANDLE_INVALID,
    CKR_KEY_HANDLE_INVALID,
];

#[derive(Clone, Copy, Debug)]
struct Keys {
    ec: CK_OBJECT_HANDLE,
    ec_pub: CK_OBJECT_HANDLE,
    rsa: CK_OBJECT_HANDLE,
    rsa_pub: CK_OBJECT_HANDLE,
    aes: CK_OBJECT_HANDLE,
    data: CK_OBJECT_HANDLE,
}

fn data_tmpl(label: &str, app: &str, value: &[u8], token: bool, private: bool) -> Tmpl {
    Tmpl::new()
        .u(CKA_CLASS, CKO_DATA)
        .b(CKA_TOKEN, token)
        .b(CKA_PRIVATE, private)
        .bytes(CKA_LABEL, label)
        .bytes(CKA_APPLICATION, app)
        .bytes(CKA_VALUE, value)
}

fn by_label(label: &str) -> Tmpl {
    Tmpl::new().bytes(CKA_LABEL, label)
}

fn by_app(app: &str) -> Tmpl {
    Tmpl::new().bytes(CKA_APPLICATION, app)
}

/// The shared token objects, created through `s` (logged in): the fixed EC and RSA key pairs of
/// tests/common/keys.rs, an AES-256 key (sensitive, private) and a public data object.
fn create_shared(api: &Api, s: CK_SESSION_HANDLE) -> Keys {
    let params = unhex(EC_PARAMS_P256);
    let mk = |what: &str, t: Tmpl| {
        api.create(s, &t.b(CKA_TOKEN, true))
            .unwrap_or_else(|rv| panic!("C_CreateObject {what}: {}", rv_name(rv)))
    };
    Keys {
        ec: mk(
            EC_LABEL,
            ec_private(&params, &unhex(EC_PRIVATE_VALUE)).bytes(CKA_LABEL, EC_LABEL),
        ),
        ec_pub: mk(
            EC_PUB_LABEL,
            ec_public(&params, &unhex(EC_POINT)).bytes(CKA_LABEL, EC_PUB_LABEL),
        ),
        rsa: mk(RSA_LABEL, rsa_private_fixed().bytes(CKA_LABEL, RSA_LABEL)),
        rsa_pub: mk(
            RSA_PUB_LABEL,
            rsa_public_fixed().bytes(CKA_LABEL, RSA_PUB_LABEL),
        ),
        aes: mk(
            AES_LABEL,
            aes(&AES_KEY)
                .b(CKA_SENSITIVE, true)
                .b(CKA_EXTRACTABLE, false)
                .bytes(CKA_LABEL, AES_LABEL),
        ),
        data: mk(
            DATA_LABEL,
            data_tmpl(DATA_LABEL, "stress-shared", SHARED_DATA, true, false),
        ),
    }
}

/// The one object with this label, found through `s`.
fn one(api: &Api, s: CK_SESSION_HANDLE, label: &str) -> Result<CK_OBJECT_HANDLE, String> {
    match api.find(s, &by_label(label)) {
        Ok(v) if v.len() == 1 => Ok(v[0]),
        Ok(v) => Err(format!("{} objects labelled {label:?}", v.len())),
        Err(rv) => Err(format!("find {label:?}: {}", rv_name(rv))),
    }
}

fn verifying_key() -> p256::ecdsa::VerifyingKey {
    // CKA_EC_POINT is the DER OCTET STRING around the uncompressed point.
    p256::ecdsa::VerifyingKey::from_sec1_bytes(&unhex(EC_POINT)[2..]).expect("P-256 point")
}

/// Whether `sig` (r || s, CKM_ECDSA_SHA256) is a valid signature of `msg`, checked by the p256
/// crate rather than by the module.
fn ecdsa_ok(vk: &p256::ecdsa::VerifyingKey, msg: &[u8], sig: &[u8]) -> bool {
    use p256::ecdsa::signature::Verifier;
    p256::ecdsa::Signature::from_slice(sig).is_ok_and(|s| vk.verify(msg, &s).is_ok())
}

/// The AES-GCM ciphertext and tag the aes-gcm crate computes with the shared key.
fn gcm_reference(iv: &[u8; 12], data: &[u8]) -> Vec<u8> {
    use aes_gcm::aead::{Aead, Payload};
    use aes_gcm::KeyInit;
    aes_gcm::Aes256Gcm::new(&AES_KEY.into())
        .encrypt(
            &aes_gcm::Nonce::from(*iv),
            Payload {
                msg: data,
                aad: AAD,
            },
        )
        .expect("aes-gcm")
}

// ---------------------------------------------------------------------------------------------
// Counting

/// Operation and return-code counts of one thread or process.
#[derive(Default, Debug)]
struct Stats {
    ok: BTreeMap<String, u64>,
    tolerated: BTreeMap<String, u64>,
    unexpected: BTreeMap<String, u64>,
    /// The first failures in full.
    notes: Vec<String>,
}

impl Stats {
    fn ok(&mut self, op: &str) {
        *self.ok.entry(op.to_owned()).or_default() += 1;
    }

    fn tolerate(&mut self, op: &str, why: &str) {
        *self.tolerated.entry(format!("{op}: {why}")).or_default() += 1;
    }

    fn fail(&mut self, op: &str, why: &str, detail: String) {
        *self.unexpected.entry(format!("{op}: {why}")).or_default() += 1;
        if self.notes.len() < 20 {
            self.notes.push(format!("{op}: {why}: {detail}"));
        }
    }

    fn merge(&mut self, o: Stats) {
        for (k, v) in o.ok {
            *self.ok.entry(k).or_default() += v;
        }
        for (k, v) in o.tolerated {
            *self.tolerated.entry(k).or_default() += v;
        }
        for (k, v) in o.unexpected {
            *self.unexpected.entry(k).or_default() += v;
        }
        for n in o.notes {
            if self.notes.len() < 40 {
                self.notes.push(n);
            }
        }
    }

    fn total(&self) -> u64 {
        self.ok.values().sum()
    }

    fn report(&self) -> String {
        let fmt = |m: &BTreeMap<String, u64>| {
            if m.is_empty() {
                "none".to_owned()
            } else {
                m.iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        format!(
            "ok: {}\n  tolerated: {}\n  unexpected: {}",
            fmt(&self.ok),
            fmt(&self.tolerated),
            fmt(&self.unexpected)
        )
    }

    /// Each of `kinds` succeeded at least `min` times.
    #[track_caller]
    fn assert_kinds(&self, what: &str, kinds: &[&str], min: u64) {
        let short: Vec<String> = kinds
            .iter()
            .filter_map(|k| {
                let n = self.ok.get(*k).copied().unwrap_or(0);
                (n < min).then(|| format!("{k} {n}"))
            })
            .collect();
        assert!(
            short.is_empty(),
            "{what}: fewer than {min} successful operations of {}\n  {}",
            short.join(", "),
            self.report()
        );
    }

    /// At least `min` successful operations in all.
    #[track_caller]
    fn assert_total(&self, what: &str, min: u64) {
        assert!(
            self.total() >= min,
            "{what}: {} successful operations, fewer than {min}\n  {}",
            self.total(),
            self.report()
        );
    }

    #[track_caller]
    fn assert_clean(&self, what: &str) {
        assert!(
            self.unexpected.is_empty(),
            "{what}: unexpected results\n  {}\nfirst failures:\n  {}",
            self.report(),
            self.notes.join("\n  ")
        );
    }
}

/// A small deterministic generator (xorshift64*), one per thread.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}

// ---------------------------------------------------------------------------------------------
// Hang diagnosis

/// Every thread's backtrace of process `pid`, by gdb, or why there is none.
fn backtrace(pid: i32) -> String {
    let out = Command::new("gdb")
        .args([
            "-p",
            &pid.to_string(),
            "-batch",
            "-ex",
            "thread apply all bt",
        ])
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(o) => {
            let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
            s.push_str(&String::from_utf8_lossy(&o.stderr));
            if s.len() > 60_000 {
                s.truncate(60_000);
                s.push_str("\n[truncated]");
            }
            s
        }
        Err(e) => format!("(no backtrace: gdb not run: {e})"),
    }
}

/// Watches per-thread progress counters; if one stands still for `WATCHDOG`, prints what each
/// thread was doing and a gdb backtrace of the whole process, then ends the process with a
/// failure (the threads are stuck, so the test could never finish by itself).
struct Watchdog {
    done: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

struct Progress {
    names: Vec<String>,
    count: Vec<AtomicU64>,
    doing: Vec<AtomicUsize>,
}

impl Progress {
    fn new(names: Vec<String>) -> Arc<Progress> {
        let n = names.len();
        Arc::new(Progress {
            names,
            count: (0..n).map(|_| AtomicU64::new(0)).collect(),
            doing: (0..n).map(|_| AtomicUsize::new(0)).collect(),
        })
    }
    fn at(&self, who: usize, op: usize) {
        self.doing[who].store(op, SeqCst);
    }
    fn tick(&self, who: usize) {
        self.count[who].fetch_add(1, SeqCst);
    }
}

impl Watchdog {
    fn start(p: Arc<Progress>, op_names: &'static [&'static str]) -> Watchdog {
        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        let handle = std::thread::spawn(move || {
            let n = p.names.len();
            let mut last: Vec<(u64, Instant)> = (0..n).map(|_| (0, Instant::now())).collect();
            while !d.load(SeqCst) {
                std::thread::sleep(Duration::from_millis(250));
                for (i, seen) in last.iter_mut().enumerate() {
                    let c = p.count[i].load(SeqCst);
                    if c != seen.0 {
                        *seen = (c, Instant::now());
                    } else if seen.1.elapsed() > WATCHDOG && !d.load(SeqCst) {
                        let mut msg = format!(
                            "stress: DEADLOCK? {} made no progress for {:?}\n",
                            p.names[i], WATCHDOG
                        );
                        for j in 0..n {
                            let op = p.doing[j].load(SeqCst);
                            msg.push_str(&format!(
                                "  {}: {} ops, last in {}\n",
                                p.names[j],
                                p.count[j].load(SeqCst),
                                op_names.get(op).copied().unwrap_or("?")
                            ));
                        }
                        eprintln!("{msg}");
                        allow_ptrace();
                        eprintln!("{}", backtrace(std::process::id() as i32));
                        // SAFETY: ends the process at once; the stuck threads cannot be joined.
                        unsafe { libc::_exit(70) };
                    }
                }
            }
        });
        Watchdog {
            done,
            handle: Some(handle),
        }
    }

    fn stop(mut self) {
        self.done.store(true, SeqCst);
        if let Some(h) = self.handle.take() {
            h.join().expect("watchdog thread");
        }
    }
}

/// Let gdb (not our parent) attach to this process where Yama restricts ptrace. Best effort.
fn allow_ptrace() {
    // SAFETY: prctl with integer arguments only; a failure is harmless.
    unsafe {
        libc::prctl(
            libc::PR_SET_PTRACER,
            libc::PR_SET_PTRACER_ANY as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
}

// ---------------------------------------------------------------------------------------------
// Child processes

const TAG_VAR: &str = "FERROHSM_STRESS_TAG";
const SYNC_VAR: &str = "FERROHSM_STRESS_SYNC";

/// Re-execute this test binary to run `child` in `role`, output into files under `dir`.
fn spawn_role(role: &str, tag: &str, dir: &Path) -> (std::process::Child, PathBuf, PathBuf) {
    let out = dir.join(format!("{role}-{tag}.out"));
    let err = dir.join(format!("{role}-{tag}.err"));
    let child = Command::new(std::env::current_exe().expect("current_exe"))
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ROLE_VAR, role)
        .env(TAG_VAR, tag)
        .env(SYNC_VAR, dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).expect("stdout file"))
        .stderr(std::fs::File::create(&err).expect("stderr file"))
        .spawn()
        .expect("spawn child test process");
    (child, out, err)
}

/// Wait for a re-executed child until `deadline`; a hang is backtraced and killed. Returns the
/// child's `stress:` lines; panics with its output if it failed.
fn finish_role(
    mut child: std::process::Child,
    out: &Path,
    err: &Path,
    what: &str,
    deadline: Instant,
) -> Vec<String> {
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break Some(st);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let Some(status) = status else {
        let bt = backtrace(child.id() as i32);
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "child {what} hung (no exit before its deadline); backtrace:\n{bt}\n--- stdout\n{}\n--- stderr\n{}",
            read(out),
            read(err)
        );
    };
    let stdout = read(out);
    assert!(
        status.success() && stdout.contains("1 passed"),
        "child {what} failed ({status}):\n--- stdout\n{stdout}\n--- stderr\n{}",
        read(err)
    );
    stdout
        .lines()
        // libtest prints "test child ... " before the test's own first line.
        .filter_map(|l| l.find("stress:").map(|i| l[i..].to_owned()))
        .collect()
}

fn wait_file(path: &Path, deadline: Instant) -> bool {
    while !path.exists() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}

/// The child side of the tests that re-execute this binary; does nothing in a normal run.
#[test]
fn child() {
    let Ok(role) = std::env::var(CHILD_ROLE_VAR) else {
        return;
    };
    match role.as_str() {
        "proc" => process_child(),
        "finalize" => finalize_child(),
        other => panic!("unknown child role {other}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Many threads, one token

const OPS: &[&str] = &[
    "sign-ec",
    "sign-rsa",
    "aes-gcm",
    "create-token",
    "create-session",
    "find-own",
    "find-all-own",
    "destroy",
    "read-shared",
    "read-permanent",
    "op-isolation",
    "session-churn",
    "probe-dead",
    "login",
    "session-info",
    "logout/login",
];
const WEIGHTS: &[usize] = &[14, 8, 14, 10, 7, 12, 4, 9, 8, 8, 4, 2, 6, 1, 3];
/// Own objects a worker keeps at most; beyond, creating turns into destroying.
const MAX_LIVE: usize = 32;
const PERMANENT_PER_THREAD: usize = 2;

struct Shared {
    api: Api,
    slot: CK_SLOT_ID,
    keys: Keys,
    rsa_ref: Vec<u8>,
    vk: p256::ecdsa::VerifyingKey,
    /// Login epochs: odd while the login thread may have the user logged out. A call that
    /// started and ended in the same even epoch ran logged in from start to end.
    epoch: AtomicU64,
    /// C_Login calls by workers: begun and finished.
    logins_begun: AtomicU64,
    logins_done: AtomicU64,
    stop: AtomicBool,
    /// (label, value, private) of objects that live for the whole run.
    permanent: Vec<(String, Vec<u8>, bool)>,
    /// Handles that must never work again: destroyed objects, session objects of closed
    /// sessions, closed sessions.
    dead_objects: Mutex<Vec<CK_OBJECT_HANDLE>>,
    dead_sessions: Mutex<Vec<CK_SESSION_HANDLE>>,
    progress: Arc<Progress>,
}

#[derive(Clone, Debug)]
struct Own {
    label: String,
    value: Vec<u8>,
    token: bool,
    private: bool,
    /// The session that created it (session objects die with it).
    session: CK_SESSION_HANDLE,
    handle: CK_OBJECT_HANDLE,
}

struct Worker {
    t: usize,
    sh: Arc<Shared>,
    api: Api,
    s1: CK_SESSION_HANDLE,
    s2: CK_SESSION_HANDLE,
    rng: Rng,
    n: u64,
    live: Vec<Own>,
    st: Stats,
    keys: Keys,
    /// A logout may have invalidated the key handles (PKCS#11 v3.0 C_Logout: handles to private
    /// objects become invalid); find them again before the next use.
    stale: bool,
    /// The login epoch the key handles were found in: after any later logout they are invalid
    /// even if this worker never saw the token logged out.
    keys_epoch: u64,
    created_token: u64,
    created_session: u64,
    destroyed: u64,
    closed_with_session: u64,
}

struct WorkerEnd {
    t: usize,
    s1: CK_SESSION_HANDLE,
    s2: CK_SESSION_HANDLE,
    live: Vec<Own>,
    st: Stats,
    created_token: u64,
    created_session: u64,
    destroyed: u64,
    closed_with_session: u64,
}

impl Worker {
    fn app(&self) -> String {
        format!("stress-t{}", self.t)
    }

    fn epoch(&self) -> u64 {
        self.sh.epoch.load(SeqCst)
    }

    /// Logged in from the reading of `e0` until now.
    fn steady(&self, e0: u64) -> bool {
        e0 % 2 == 0 && self.epoch() == e0
    }

    /// A call failed with `rv`: tolerated only if the user may have been logged out meanwhile
    /// and `rv` is what a logged-out token says: for a private object, one of `LOGGED_OUT`; for
    /// any operation or search, CKR_OPERATION_NOT_INITIALIZED (a logout ends them).
    fn failed(&mut self, op: &str, rv: CK_RV, e0: u64, private: bool) {
        if self.logged_out_meanwhile(rv, e0, private) {
            self.st.tolerate(op, &rv_name(rv));
            self.stale = true;
        } else {
            self.st.fail(
                op,
                &rv_name(rv),
                format!(
                    "thread {} (epoch {e0} -> {}, private {private})",
                    self.t,
                    self.epoch()
                ),
            );
        }
    }

    fn logged_out_meanwhile(&self, rv: CK_RV, e0: u64, private: bool) -> bool {
        !self.steady(e0)
            && (rv == CKR_OPERATION_NOT_INITIALIZED || private && LOGGED_OUT.contains(&rv))
    }

    /// Find the shared private keys again after a logout, while logged in.
    fn refresh(&mut self) -> bool {
        if !self.stale && self.epoch() == self.keys_epoch {
            return true;
        }
        let e0 = self.epoch();
        if e0 % 2 == 1 {
            return false;
        }
        let mut found = Vec::new();
        for label in [EC_LABEL, RSA_LABEL, AES_LABEL] {
            match self.api.find(self.s1, &by_label(label)) {
                Ok(v) if v.len() == 1 => found.push(v[0]),
                Ok(v) => {
                    if self.steady(e0) {
                        self.st.fail(
                            "refresh-keys",
                            "shared key lost",
                            format!("{} objects labelled {label}", v.len()),
                        );
                    }
                    return false;
                }
                Err(rv) => {
                    self.failed("refresh-keys", rv, e0, true);
                    return false;
                }
            }
        }
        if !self.steady(e0) {
            return false;
        }
        self.keys.ec = found[0];
        self.keys.rsa = found[1];
        self.keys.aes = found[2];
        self.stale = false;
        self.keys_epoch = e0;
        true
    }

    fn run(mut self) -> WorkerEnd {
        let total: usize = WEIGHTS.iter().sum();
        while !self.sh.stop.load(SeqCst) {
            let mut pick = self.rng.below(total);
            let mut op = 0;
            while pick >= WEIGHTS[op] {
                pick -= WEIGHTS[op];
                op += 1;
            }
            self.sh.progress.at(self.t, op);
            match op {
                0 => self.sign_ec(),
                1 => self.sign_rsa(),
                2 => self.aes_gcm(),
                3 => self.create(true),
                4 => self.create(false),
                5 => self.find_own(),
                6 => self.find_all_own(),
                7 => self.destroy(),
                8 => self.read_shared(),
                9 => self.read_permanent(),
                10 => self.op_isolation(),
                11 => self.session_churn(),
                12 => self.probe_dead(),
                13 => self.login(),
                _ => self.session_info(),
            }
            self.sh.progress.tick(self.t);
        }
        WorkerEnd {
            t: self.t,
            s1: self.s1,
            s2: self.s2,
            live: self.live,
            st: self.st,
            created_token: self.created_token,
            created_session: self.created_session,
            destroyed: self.destroyed,
            closed_with_session: self.closed_with_session,
        }
    }

    fn msg(&mut self, what: &str) -> Vec<u8> {
        self.n += 1;
        format!("thread {} {what} {}", self.t, self.n).into_bytes()
    }

    fn sign_ec(&mut self) {
        if !self.refresh() {
            return;
        }
        let msg = self.msg("ec");
        let e0 = self.epoch();
        match self.api.sign(self.s1, CKM_ECDSA_SHA256, self.keys.ec, &msg) {
            Ok(sig) if ecdsa_ok(&self.sh.vk, &msg, &sig) => self.st.ok("sign-ec"),
            Ok(sig) => self.st.fail(
                "sign-ec",
                "signature does not verify",
                format!("{} bytes", sig.len()),
            ),
            Err(rv) => self.failed("sign-ec", rv, e0, true),
        }
    }

    fn sign_rsa(&mut self) {
        if !self.refresh() {
            return;
        }
        let e0 = self.epoch();
        match self
            .api
            .sign(self.s2, CKM_SHA256_RSA_PKCS, self.keys.rsa, RSA_MSG)
        {
            Ok(sig) if sig == self.sh.rsa_ref => self.st.ok("sign-rsa"),
            Ok(_) => self.st.fail(
                "sign-rsa",
                "signature differs from OpenSSL's known answer",
                String::new(),
            ),
            Err(rv) => self.failed("sign-rsa", rv, e0, true),
        }
    }

    fn aes_gcm(&mut self) {
        if !self.refresh() {
            return;
        }
        self.n += 1;
        let mut iv = [0u8; 12];
        iv[0] = self.t as u8;
        iv[1..9].copy_from_slice(&self.n.to_le_bytes());
        let len = 1 + self.rng.below(200);
        let data = self.rng.bytes(len);
        let e0 = self.epoch();
        let ct = match self.api.gcm(self.s1, true, self.keys.aes, &iv, &data) {
            Ok(ct) => ct,
            Err(rv) => return self.failed("aes-gcm", rv, e0, true),
        };
        if ct != gcm_reference(&iv, &data) {
            return self.st.fail(
                "aes-gcm",
                "ciphertext differs from the aes-gcm crate's",
                format!("{} bytes", data.len()),
            );
        }
        let e1 = self.epoch();
        match self.api.gcm(self.s2, false, self.keys.aes, &iv, &ct) {
            Ok(p) if p == data => self.st.ok("aes-gcm"),
            Ok(_) => self.st.fail("aes-gcm", "decryption differs", String::new()),
            Err(rv) => self.failed("aes-gcm", rv, e1, true),
        }
    }

    fn create(&mut self, token: bool) {
        if self.live.len() >= MAX_LIVE {
            return self.destroy();
        }
        let op = if token {
            "create-token"
        } else {
            "create-session"
        };
        self.n += 1;
        let label = format!("t{}-{}", self.t, self.n);
        // Token objects alternate between private and public; session objects are public,
        // so they must survive every logout.
        let private = token && self.n % 2 == 0;
        let mut value = label.clone().into_bytes();
        value.extend(self.rng.bytes(8));
        let s = if self.rng.below(2) == 0 {
            self.s1
        } else {
            self.s2
        };
        let e0 = self.epoch();
        match self
            .api
            .create(s, &data_tmpl(&label, &self.app(), &value, token, private))
        {
            Ok(handle) => {
                self.live.push(Own {
                    label,
                    value,
                    token,
                    private,
                    session: s,
                    handle,
                });
                if token {
                    self.created_token += 1;
                } else {
                    self.created_session += 1;
                }
                self.st.ok(op);
            }
            Err(rv) => self.failed(op, rv, e0, private),
        }
    }

    /// Find one own object by label: exactly once, with its value (unless private and the user
    /// was logged out meanwhile).
    fn locate(&mut self, op: &str, o: &Own) -> Option<CK_OBJECT_HANDLE> {
        let e0 = self.epoch();
        let found = match self.api.find(self.s1, &by_label(&o.label)) {
            Ok(v) => v,
            Err(rv) => {
                self.failed(op, rv, e0, o.private);
                return None;
            }
        };
        if found.is_empty() && o.private && !self.steady(e0) {
            self.st
                .tolerate(op, "private object hidden while logged out");
            return None;
        }
        if found.len() != 1 {
            let why = if found.is_empty() {
                "object lost"
            } else {
                "object found more than once"
            };
            self.st.fail(
                op,
                why,
                format!(
                    "thread {} {} (token {}, private {}): {} found",
                    self.t,
                    o.label,
                    o.token,
                    o.private,
                    found.len()
                ),
            );
            return None;
        }
        let e1 = self.epoch();
        match self.api.attr(self.s1, found[0], CKA_VALUE) {
            Ok(v) if v == o.value => Some(found[0]),
            Ok(_) => {
                self.st.fail(op, "wrong value", o.label.clone());
                None
            }
            Err(rv) => {
                self.failed(op, rv, e1, o.private);
                None
            }
        }
    }

    fn find_own(&mut self) {
        if self.live.is_empty() {
            return;
        }
        let o = self.live[self.rng.below(self.live.len())].clone();
        if self.locate("find-own", &o).is_some() {
            self.st.ok("find-own");
        }
    }

    fn find_all_own(&mut self) {
        let e0 = self.epoch();
        let found = match self.api.find(self.s1, &by_app(&self.app())) {
            Ok(v) => v,
            Err(rv) => return self.failed("find-all-own", rv, e0, true),
        };
        let distinct: HashSet<_> = found.iter().collect();
        let all = self.live.len();
        let public = self.live.iter().filter(|o| !o.private).count();
        let n = found.len();
        if distinct.len() != n {
            self.st
                .fail("find-all-own", "a handle returned twice", format!("{n}"));
        } else if self.steady(e0) && n != all {
            self.st.fail(
                "find-all-own",
                "count differs",
                format!("thread {}: found {n}, expected {all}", self.t),
            );
        } else if n < public || n > all {
            self.st.fail(
                "find-all-own",
                "count out of range while logging out",
                format!("thread {}: found {n}, expected {public}..={all}", self.t),
            );
        } else {
            self.st.ok("find-all-own");
        }
    }

    fn bury(&self, h: CK_OBJECT_HANDLE) {
        let mut d = self.sh.dead_objects.lock().unwrap();
        if d.len() > 4096 {
            d.drain(..1024);
        }
        d.push(h);
    }

    fn destroy(&mut self) {
        if self.live.is_empty() {
            return;
        }
        let i = self.rng.below(self.live.len());
        let o = self.live[i].clone();
        let Some(h) = self.locate("destroy", &o) else {
            return;
        };
        let s = if self.rng.below(2) == 0 {
            self.s1
        } else {
            self.s2
        };
        let e0 = self.epoch();
        let rv = self.api.destroy(s, h);
        if rv != CKR_OK {
            return self.failed("destroy", rv, e0, o.private);
        }
        self.live.remove(i);
        self.destroyed += 1;
        self.bury(h);
        if o.handle != h {
            self.bury(o.handle);
        }
        let e1 = self.epoch();
        match self.api.find(self.s1, &by_label(&o.label)) {
            Ok(v) if v.is_empty() => {}
            Ok(v) => self.st.fail(
                "destroy",
                "destroyed object still found",
                format!("{} x{}", o.label, v.len()),
            ),
            Err(rv) if self.logged_out_meanwhile(rv, e1, false) => {
                self.st.tolerate("destroy", &rv_name(rv))
            }
            Err(rv) => self.st.fail("destroy", &rv_name(rv), "find after".into()),
        }
        match self.api.attr(self.s1, h, CKA_LABEL) {
            Err(CKR_OBJECT_HANDLE_INVALID) => self.st.ok("destroy"),
            other => self.st.fail(
                "destroy",
                "handle of a destroyed object still usable",
                format!("{} -> {:?}", o.label, other.map_err(rv_name)),
            ),
        }
    }

    fn read_shared(&mut self) {
        let (api, s, k) = (self.api, self.s1, self.keys);
        match api.attr(s, k.data, CKA_VALUE) {
            Ok(v) if v == SHARED_DATA => {}
            other => {
                return self.st.fail(
                    "read-shared",
                    "shared data object",
                    format!("{:?}", other.map_err(rv_name)),
                )
            }
        }
        match api.attr(s, k.ec_pub, CKA_EC_POINT) {
            Ok(v) if v == unhex(EC_POINT) => {}
            other => {
                return self.st.fail(
                    "read-shared",
                    "EC public key",
                    format!("{:?}", other.map_err(rv_name)),
                )
            }
        }
        match api.attr(s, k.rsa_pub, CKA_MODULUS) {
            Ok(v) if v == unhex(RSA_MODULUS) => {}
            other => {
                return self.st.fail(
                    "read-shared",
                    "RSA public key",
                    format!("{:?}", other.map_err(rv_name)),
                )
            }
        }
        if !self.refresh() {
            return;
        }
        let e0 = self.epoch();
        match api.attr(s, self.keys.aes, CKA_VALUE) {
            Err(CKR_ATTRIBUTE_SENSITIVE) => {}
            Err(rv) if rv != CKR_OK => return self.failed("read-shared", rv, e0, true),
            other => {
                return self.st.fail(
                    "read-shared",
                    "sensitive AES key value readable",
                    format!("{:?}", other.map(|v| v.len())),
                )
            }
        }
        let e1 = self.epoch();
        match api.attr(s, self.keys.aes, CKA_VALUE_LEN) {
            Ok(v) if v == (32 as CK_ULONG).to_ne_bytes() => self.st.ok("read-shared"),
            Ok(v) => self
                .st
                .fail("read-shared", "AES CKA_VALUE_LEN", format!("{v:?}")),
            Err(rv) => self.failed("read-shared", rv, e1, true),
        }
    }

    fn read_permanent(&mut self) {
        let (label, value, private) =
            self.sh.permanent[self.rng.below(self.sh.permanent.len())].clone();
        let o = Own {
            label,
            value,
            token: true,
            private,
            session: CK_INVALID_HANDLE,
            handle: CK_INVALID_HANDLE,
        };
        if self.locate("read-permanent", &o).is_some() {
            self.st.ok("read-permanent");
        }
    }

    /// The active operation belongs to one session (§5.6): a signature begun in s1 is not
    /// there in s2, a search begun in s2 is not there in s1.
    fn op_isolation(&mut self) {
        if !self.refresh() {
            return;
        }
        let (api, s1, s2) = (self.api, self.s1, self.s2);
        let msg = self.msg("isolation");
        let e0 = self.epoch();
        let rv = api.sign_init(s1, CKM_ECDSA_SHA256, self.keys.ec);
        if rv != CKR_OK {
            return self.failed("op-isolation", rv, e0, true);
        }
        let rv = api.sign_update(s2, &msg);
        if rv != CKR_OPERATION_NOT_INITIALIZED {
            self.st.fail(
                "op-isolation",
                "C_SignUpdate in another session",
                rv_name(rv),
            );
        }
        match api.sign_only(s2, &msg) {
            Err(CKR_OPERATION_NOT_INITIALIZED) => {}
            other => self.st.fail(
                "op-isolation",
                "C_Sign in another session",
                format!("{:?}", other.map_err(rv_name)),
            ),
        }
        let mut t = by_label(DATA_LABEL).raw();
        let e_find = self.epoch();
        let rv = call!(api, C_FindObjectsInit(s2, t.ptr(), t.len()));
        if rv != CKR_OK {
            self.st
                .fail("op-isolation", "C_FindObjectsInit", rv_name(rv));
        } else {
            let mut buf = [CK_INVALID_HANDLE; 4];
            let mut n: CK_ULONG = 0;
            let rv = call!(api, C_FindObjects(s1, buf.as_mut_ptr(), 4, &mut n));
            if rv != CKR_OPERATION_NOT_INITIALIZED {
                self.st.fail(
                    "op-isolation",
                    "C_FindObjects in another session",
                    rv_name(rv),
                );
            }
            let rv = call!(api, C_FindObjects(s2, buf.as_mut_ptr(), 4, &mut n));
            if self.logged_out_meanwhile(rv, e_find, false) {
                self.st.tolerate("op-isolation", &rv_name(rv));
            } else if rv != CKR_OK || n != 1 || buf[0] != self.keys.data {
                self.st.fail(
                    "op-isolation",
                    "C_FindObjects in its own session",
                    format!("{} n={n}", rv_name(rv)),
                );
            }
            let rv = call!(api, C_FindObjectsFinal(s2));
            if self.logged_out_meanwhile(rv, e_find, false) {
                self.st.tolerate("op-isolation", &rv_name(rv));
            } else if rv != CKR_OK {
                self.st
                    .fail("op-isolation", "C_FindObjectsFinal", rv_name(rv));
            }
        }
        // The signature was set up at e0: a logout since then ended it.
        match api.sign_only(s1, &msg) {
            Ok(sig) if ecdsa_ok(&self.sh.vk, &msg, &sig) => self.st.ok("op-isolation"),
            Ok(_) => self
                .st
                .fail("op-isolation", "signature does not verify", String::new()),
            Err(rv) => self.failed("op-isolation", rv, e0, true),
        }
    }

    /// Close s2: its session objects die with it, in every session; its handle dies too.
    fn session_churn(&mut self) {
        let old = self.s2;
        let rv = self.api.close(old);
        if rv != CKR_OK {
            return self.st.fail("session-churn", "C_CloseSession", rv_name(rv));
        }
        self.sh.dead_sessions.lock().unwrap().push(old);
        let (gone, keep): (Vec<Own>, Vec<Own>) = std::mem::take(&mut self.live)
            .into_iter()
            .partition(|o| !o.token && o.session == old);
        self.live = keep;
        for o in &gone {
            match self.api.attr(self.s1, o.handle, CKA_LABEL) {
                Err(CKR_OBJECT_HANDLE_INVALID) => {}
                other => self.st.fail(
                    "session-churn",
                    "session object of a closed session still usable",
                    format!("{} -> {:?}", o.label, other.map_err(rv_name)),
                ),
            }
            let e0 = self.epoch();
            match self.api.find(self.s1, &by_label(&o.label)) {
                Ok(v) if v.is_empty() => {}
                Err(rv) if self.logged_out_meanwhile(rv, e0, false) => {
                    self.st.tolerate("session-churn", &rv_name(rv))
                }
                other => self.st.fail(
                    "session-churn",
                    "session object of a closed session still found",
                    format!("{} -> {:?}", o.label, other.map_err(rv_name)),
                ),
            }
            self.bury(o.handle);
            self.closed_with_session += 1;
        }
        match self.api.state(old) {
            Err(CKR_SESSION_HANDLE_INVALID) => {}
            other => self.st.fail(
                "session-churn",
                "closed session still usable",
                format!("{:?}", other.map_err(rv_name)),
            ),
        }
        match self.api.open(self.sh.slot) {
            Ok(s) => {
                self.s2 = s;
                self.st.ok("session-churn");
            }
            Err(rv) => panic!("thread {}: C_OpenSession: {}", self.t, rv_name(rv)),
        }
    }

    /// Handles that died in any thread must not work here.
    fn probe_dead(&mut self) {
        let h = {
            let d = self.sh.dead_objects.lock().unwrap();
            (!d.is_empty()).then(|| d[self.rng.below(d.len())])
        };
        if let Some(h) = h {
            match self.api.attr(self.s1, h, CKA_LABEL) {
                Err(CKR_OBJECT_HANDLE_INVALID) => {}
                other => self.st.fail(
                    "probe-dead",
                    "dead object handle usable",
                    format!("handle {h}: {:?}", other.map_err(rv_name)),
                ),
            }
            let rv = self.api.destroy(self.s2, h);
            if rv != CKR_OBJECT_HANDLE_INVALID {
                self.st.fail(
                    "probe-dead",
                    "dead object handle destroyable",
                    format!("handle {h}: {}", rv_name(rv)),
                );
            }
        }
        let s = {
            let d = self.sh.dead_sessions.lock().unwrap();
            (!d.is_empty()).then(|| d[self.rng.below(d.len())])
        };
        if let Some(s) = s {
            match self.api.state(s) {
                Err(CKR_SESSION_HANDLE_INVALID) => {}
                other => self.st.fail(
                    "probe-dead",
                    "closed session handle usable",
                    format!("session {s}: {:?}", other.map_err(rv_name)),
                ),
            }
            match self
                .api
                .create(s, &data_tmpl("ghost", "ghost", b"x", false, false))
            {
                Err(CKR_SESSION_HANDLE_INVALID) => {}
                other => self.st.fail(
                    "probe-dead",
                    "closed session creates objects",
                    format!("session {s}: {:?}", other.map_err(rv_name)),
                ),
            }
        }
        self.st.ok("probe-dead");
    }

    /// C_Login by a worker while another thread logs out and in: the user is logged in
    /// token-wide, so it is "already logged in" unless it caught a logged-out window.
    fn login(&mut self) {
        self.sh.logins_begun.fetch_add(1, SeqCst);
        let e0 = self.epoch();
        let rv = self.api.login(self.s1);
        let steady = self.steady(e0);
        self.sh.logins_done.fetch_add(1, SeqCst);
        match rv {
            CKR_USER_ALREADY_LOGGED_IN => self.st.ok("login"),
            CKR_OK if !steady => self.st.ok("login"),
            _ => self.st.fail(
                "login",
                &rv_name(rv),
                format!("steady {steady}, thread {}", self.t),
            ),
        }
    }

    fn session_info(&mut self) {
        let e0 = self.epoch();
        match self.api.state(self.s1) {
            Ok(CKS_RW_USER_FUNCTIONS) => self.st.ok("session-info"),
            Ok(CKS_RW_PUBLIC_SESSION) if !self.steady(e0) => self.st.ok("session-info"),
            other => self.st.fail(
                "session-info",
                "state",
                format!("{:?} (steady {})", other.map_err(rv_name), self.steady(e0)),
            ),
        }
    }
}

/// Logs the user out and in again and again through its own session; during each logged-out
/// window checks that the session is public and private objects are hidden.
fn login_loop(sh: &Shared, who: usize, ls: CK_SESSION_HANDLE) -> (Stats, u64) {
    let api = sh.api;
    let mut st = Stats::default();
    let mut rng = Rng::new(seed() ^ 0x5eed);
    let mut cycles = 0;
    let private_perm = sh
        .permanent
        .iter()
        .find(|p| p.2)
        .map(|p| p.0.clone())
        .expect("a private permanent object");
    while !sh.stop.load(SeqCst) {
        // Logged in for long enough that workers, who find the keys again after each login
        // (three searches, each waiting for the slot under load), get to use them.
        std::thread::sleep(Duration::from_millis(30 + rng.below(60) as u64));
        sh.progress.at(who, OPS.len() - 1);
        let begun = sh.logins_begun.load(SeqCst);
        let done = sh.logins_done.load(SeqCst);
        sh.epoch.fetch_add(1, SeqCst);
        let rv = api.logout(ls);
        if rv != CKR_OK {
            st.fail("logout", &rv_name(rv), format!("cycle {cycles}"));
        }
        let state = api.state(ls);
        let ec = api.find(ls, &by_label(EC_LABEL));
        let perm = api.find(ls, &by_label(&private_perm));
        let public = api.find(ls, &by_label(DATA_LABEL));
        // A worker's C_Login in flight or begun meanwhile may have logged the user in again.
        let clean = begun == done && sh.logins_begun.load(SeqCst) == begun;
        if clean {
            if state != Ok(CKS_RW_PUBLIC_SESSION) {
                st.fail("logout", "state", format!("{:?}", state.map_err(rv_name)));
            }
            if !matches!(&ec, Ok(v) if v.is_empty()) || !matches!(&perm, Ok(v) if v.is_empty()) {
                st.fail(
                    "logout",
                    "private objects visible after C_Logout",
                    format!("{:?} {:?}", ec.map_err(rv_name), perm.map_err(rv_name)),
                );
            }
        }
        if !matches!(&public, Ok(v) if v.len() == 1) {
            st.fail(
                "logout",
                "public object hidden after C_Logout",
                format!("{:?}", public.map_err(rv_name)),
            );
        }
        std::thread::sleep(Duration::from_millis(2 + rng.below(8) as u64));
        let rv = api.login(ls);
        let raced = sh.logins_begun.load(SeqCst) != begun || begun != done;
        if !(rv == CKR_OK || (rv == CKR_USER_ALREADY_LOGGED_IN && raced)) {
            st.fail("login", &rv_name(rv), format!("cycle {cycles}"));
        }
        sh.epoch.fetch_add(1, SeqCst);
        cycles += 1;
        st.ok("logout/login");
        sh.progress.tick(who);
    }
    (st, cycles)
}

#[test]
fn threads_with_mixed_operations_lose_nothing() {
    let duration = phase(THREAD_SECS);
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "stress").id();
    let raw = Raw::load();
    let api = Api::load(&raw);
    let ms = api.open(slot).expect("main session");
    assert_rv(api.login(ms), CKR_OK);
    let keys = create_shared(&api, ms);
    // The reference every thread's signature must equal is OpenSSL's, not the module's own.
    let rsa_ref = unhex(common::vectors::RSA_KAT_SHA256_PKCS1_SIG);
    assert_eq!(
        api.sign(ms, CKM_SHA256_RSA_PKCS, keys.rsa, RSA_MSG)
            .expect("RSA signature"),
        rsa_ref,
        "the module's RSA signature differs from OpenSSL's known answer"
    );
    assert_rv(
        api.verify(ms, CKM_SHA256_RSA_PKCS, keys.rsa_pub, RSA_MSG, &rsa_ref),
        CKR_OK,
    );
    let mut permanent = Vec::new();
    for t in 0..THREADS {
        for j in 0..PERMANENT_PER_THREAD {
            let label = format!("perm-t{t}-{j}");
            let value = format!("permanent object {t}/{j}").into_bytes();
            let private = j % 2 == 0;
            api.create(ms, &data_tmpl(&label, "stress-perm", &value, true, private))
                .expect("permanent object");
            permanent.push((label, value, private));
        }
    }

    let mut names: Vec<String> = (0..THREADS).map(|t| format!("worker {t}")).collect();
    names.push("login thread".into());
    let progress = Progress::new(names);
    let sh = Arc::new(Shared {
        api,
        slot,
        keys,
        rsa_ref,
        vk: verifying_key(),
        epoch: AtomicU64::new(0),
        logins_begun: AtomicU64::new(0),
        logins_done: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        permanent,
        dead_objects: Mutex::new(Vec::new()),
        dead_sessions: Mutex::new(Vec::new()),
        progress: progress.clone(),
    });
    let dog = Watchdog::start(progress, OPS);
    let start = Instant::now();
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let sh = sh.clone();
            let w = Worker {
                t,
                api,
                s1: api.open(slot).expect("worker session 1"),
                s2: api.open(slot).expect("worker session 2"),
                rng: Rng::new(seed() ^ (t as u64 + 1)),
                n: 0,
                live: Vec::new(),
                st: Stats::default(),
                keys: sh.keys,
                stale: false,
                keys_epoch: 0,
                created_token: 0,
                created_session: 0,
                destroyed: 0,
                closed_with_session: 0,
                sh,
            };
            std::thread::Builder::new()
                .name(format!("worker-{t}"))
                .spawn(move || w.run())
                .expect("spawn worker")
        })
        .collect();
    let ls = api.open(slot).expect("login thread session");
    let login = {
        let sh = sh.clone();
        std::thread::Builder::new()
            .name("login".into())
            .spawn(move || login_loop(&sh, THREADS, ls))
            .expect("spawn login thread")
    };
    std::thread::sleep(duration);
    sh.stop.store(true, SeqCst);
    let (login_st, cycles) = login.join().expect("login thread panicked");
    let ends: Vec<WorkerEnd> = workers
        .into_iter()
        .map(|w| w.join().expect("worker thread panicked"))
        .collect();
    let elapsed = start.elapsed();
    dog.stop();

    let mut st = Stats::default();
    st.merge(login_st);
    let (mut created_token, mut created_session, mut destroyed, mut closed) = (0, 0, 0, 0);
    for e in &ends {
        created_token += e.created_token;
        created_session += e.created_session;
        destroyed += e.destroyed;
        closed += e.closed_with_session;
    }
    let mut ends = ends;
    let per_thread: Vec<(usize, u64, String)> = ends
        .iter()
        .map(|e| (e.t, e.st.total(), e.st.report().replace('\n', " ")))
        .collect();
    for e in ends.iter_mut() {
        st.merge(std::mem::take(&mut e.st));
    }

    // Everything a thread created and did not destroy is there exactly once, with its value:
    // first with the sessions open, as one more session of the same application sees it.
    let rv = api.login(ms);
    assert_rv_in(rv, &[CKR_OK, CKR_USER_ALREADY_LOGGED_IN]);
    let check_own = |s: CK_SESSION_HANDLE, e: &WorkerEnd, token_only: bool, when: &str| {
        let app = format!("stress-t{}", e.t);
        let found = api.find(s, &by_app(&app)).expect("find by application");
        let mut seen: HashMap<Vec<u8>, usize> = HashMap::new();
        for h in &found {
            let label = api.attr(s, *h, CKA_LABEL).expect("label");
            let value = api.attr(s, *h, CKA_VALUE).expect("value");
            let want = e.live.iter().find(|o| o.label.as_bytes() == label);
            match want {
                Some(o) if !token_only || o.token => {
                    assert_eq!(value, o.value, "{when}: wrong value of {}", o.label)
                }
                _ => panic!(
                    "{when}: object {} of thread {} should not exist",
                    String::from_utf8_lossy(&label),
                    e.t
                ),
            }
            *seen.entry(label).or_default() += 1;
        }
        for o in e.live.iter().filter(|o| o.token || !token_only) {
            let n = seen.get(o.label.as_bytes()).copied().unwrap_or(0);
            assert_eq!(
                n, 1,
                "{when}: {} of thread {} (token {}, private {}) found {n} times",
                o.label, e.t, o.token, o.private
            );
        }
    };
    for e in &ends {
        check_own(ms, e, false, "sessions open");
    }
    for (label, value, _) in &sh.permanent {
        let h = one(&api, ms, label).unwrap_or_else(|e| panic!("permanent object: {e}"));
        assert_eq!(&api.attr(ms, h, CKA_VALUE).expect("value"), value);
    }
    // The shared keys still work.
    let k = Keys {
        ec: one(&api, ms, EC_LABEL).expect("EC key"),
        rsa: one(&api, ms, RSA_LABEL).expect("RSA key"),
        aes: one(&api, ms, AES_LABEL).expect("AES key"),
        ..keys
    };
    let sig = api
        .sign(ms, CKM_ECDSA_SHA256, k.ec, b"after")
        .expect("EC sign");
    assert!(
        ecdsa_ok(&sh.vk, b"after", &sig),
        "EC signature after stress"
    );
    assert_eq!(
        api.sign(ms, CKM_SHA256_RSA_PKCS, k.rsa, RSA_MSG)
            .expect("RSA sign"),
        sh.rsa_ref
    );
    let iv = [7u8; 12];
    assert_eq!(
        api.gcm(ms, true, k.aes, &iv, b"after").expect("AES-GCM"),
        gcm_reference(&iv, b"after")
    );

    // Closing the workers' sessions takes their session objects, and only those.
    let mut session_live = 0;
    for e in &ends {
        assert_rv(api.close(e.s1), CKR_OK);
        assert_rv(api.close(e.s2), CKR_OK);
        for o in e.live.iter().filter(|o| !o.token) {
            session_live += 1;
            match api.attr(ms, o.handle, CKA_LABEL) {
                Err(CKR_OBJECT_HANDLE_INVALID) => {}
                other => panic!(
                    "session object {} outlived its session: {:?}",
                    o.label,
                    other.map_err(rv_name)
                ),
            }
        }
        check_own(ms, e, true, "sessions closed");
    }
    let token_live: usize = ends
        .iter()
        .map(|e| e.live.iter().filter(|o| o.token).count())
        .sum();
    let all_data = api
        .find(ms, &Tmpl::new().u(CKA_CLASS, CKO_DATA).b(CKA_TOKEN, true))
        .expect("find all data");
    assert_eq!(
        all_data.len(),
        token_live + sh.permanent.len() + 1,
        "token data objects: own + permanent + shared"
    );
    // And after C_Finalize / C_Initialize, from the token file alone.
    assert_rv(api.finalize(), CKR_OK);
    assert_rv(api.initialize(), CKR_OK);
    let ms = api.open(slot).expect("session after restart");
    assert_rv(api.login(ms), CKR_OK);
    for e in &ends {
        check_own(ms, e, true, "after C_Finalize and C_Initialize");
    }
    assert_rv(api.close(ms), CKR_OK);

    let total = st.total();
    println!(
        "stress: threads: {THREADS} workers + 1 login/logout thread on one token for {:.1} s: \
         {total} operations ({:.0}/s), {cycles} logout/login cycles",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
    println!(
        "stress: threads: objects created {created_token} token + {created_session} session, \
         destroyed {destroyed}, gone with their session {closed}; at the end {token_live} token \
         + {session_live} session objects all present exactly once with their values, nothing lost"
    );
    println!("stress: threads: {}", st.report());
    let per_thread_line: Vec<String> = per_thread
        .iter()
        .map(|(t, n, _)| format!("worker {t} {n}"))
        .collect();
    println!("stress: threads: {}", per_thread_line.join(", "));
    st.assert_clean("thread stress");
    // Every worker and every kind of operation made progress, not just the sum.
    let min = at_least(THREAD_OPS_PER_SEC, duration);
    for (t, n, report) in &per_thread {
        assert!(
            *n >= min,
            "worker {t}: {n} successful operations in {duration:?}, fewer than {min}\n  {report}"
        );
    }
    st.assert_kinds(
        "thread stress",
        OPS,
        at_least(THREAD_KIND_PER_SEC, duration),
    );
    let min = at_least(LOGIN_CYCLES_PER_SEC, duration);
    assert!(
        cycles >= min,
        "login thread: {cycles} logout/login cycles in {duration:?}, fewer than {min}"
    );
}

// ---------------------------------------------------------------------------------------------
// Session isolation, step by step across two threads

/// Run `f` on a thread of its own and wait for it.
fn on_thread<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join().expect("thread panicked"))
}

#[test]
fn sessions_keep_their_objects_and_operations_apart() {
    // PKCS#11 v3.0 §4.4: session objects are visible only to the application that created
    // them, so to all of its sessions; §5.6 C_CloseSession: a session's objects are destroyed
    // with it, even if other sessions "use" them. The active operation is per session.
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "isolation").id();
    let raw = Raw::load();
    let api = Api::load(&raw);
    let m = api.open(slot).expect("main session");
    assert_rv(api.login(m), CKR_OK);
    let keys = create_shared(&api, m);
    let vk = verifying_key();

    // Thread X: session A with a public and a private session object, a token object, and a
    // signature begun.
    let (a, oa, oa_private, ta) = on_thread(|| {
        let a = api.open(slot).expect("session A");
        let oa = api
            .create(a, &data_tmpl("iso-a", "iso", b"A's", false, false))
            .expect("session object");
        let oa_private = api
            .create(
                a,
                &data_tmpl("iso-a-private", "iso", b"A's secret", false, true),
            )
            .expect("private session object");
        let ta = api
            .create(a, &data_tmpl("iso-token", "iso", b"token", true, false))
            .expect("token object");
        assert_rv(api.sign_init(a, CKM_ECDSA_SHA256, keys.ec), CKR_OK);
        (a, oa, oa_private, ta)
    });
    // Thread Y: session B sees A's session objects (same application) but not A's operation.
    let b = on_thread(|| {
        let b = api.open(slot).expect("session B");
        assert_eq!(
            api.attr(b, oa, CKA_VALUE).expect("A's object from B"),
            b"A's"
        );
        assert_eq!(
            api.attr(b, oa_private, CKA_VALUE)
                .expect("A's private object from B"),
            b"A's secret"
        );
        assert_eq!(api.find(b, &by_label("iso-a")).expect("find"), vec![oa]);
        assert_rv(api.sign_update(b, b"x"), CKR_OPERATION_NOT_INITIALIZED);
        assert_eq!(
            api.sign_only(b, b"x"),
            Err(CKR_OPERATION_NOT_INITIALIZED),
            "C_Sign in B after C_SignInit in A"
        );
        let mut n: CK_ULONG = 0;
        let mut buf = [0u8; 128];
        let mut len = buf.len() as CK_ULONG;
        assert_rv(
            call!(api, C_SignFinal(b, buf.as_mut_ptr(), &mut len)),
            CKR_OPERATION_NOT_INITIALIZED,
        );
        let mut hs = [CK_INVALID_HANDLE; 4];
        assert_rv(
            call!(api, C_FindObjects(b, hs.as_mut_ptr(), 4, &mut n)),
            CKR_OPERATION_NOT_INITIALIZED,
        );
        let mut t = by_label("iso-a").raw();
        assert_rv(call!(api, C_FindObjectsInit(b, t.ptr(), t.len())), CKR_OK);
        b
    });
    // X: A's signature completes; B's search is not A's.
    on_thread(|| {
        let mut n: CK_ULONG = 0;
        let mut hs = [CK_INVALID_HANDLE; 4];
        assert_rv(
            call!(api, C_FindObjects(a, hs.as_mut_ptr(), 4, &mut n)),
            CKR_OPERATION_NOT_INITIALIZED,
        );
        let sig = api.sign_only(a, b"signed in A").expect("C_Sign in A");
        assert!(ecdsa_ok(&vk, b"signed in A", &sig));
    });
    on_thread(|| {
        let mut n: CK_ULONG = 0;
        let mut hs = [CK_INVALID_HANDLE; 4];
        assert_rv(
            call!(api, C_FindObjects(b, hs.as_mut_ptr(), 4, &mut n)),
            CKR_OK,
        );
        assert_eq!(&hs[..n as usize], &[oa]);
        assert_rv(call!(api, C_FindObjectsFinal(b)), CKR_OK);
        // A handle of one kind is not a handle of the other.
        assert_eq!(api.state(oa), Err(CKR_SESSION_HANDLE_INVALID));
        assert_eq!(api.attr(b, a, CKA_LABEL), Err(CKR_OBJECT_HANDLE_INVALID));
    });
    // X closes A.
    on_thread(|| assert_rv(api.close(a), CKR_OK));
    // Y: A's session objects are gone for every session; A's handle is dead; the token object
    // stays; B and the login are untouched.
    on_thread(|| {
        for (h, label) in [(oa, "iso-a"), (oa_private, "iso-a-private")] {
            assert_eq!(
                api.attr(b, h, CKA_LABEL),
                Err(CKR_OBJECT_HANDLE_INVALID),
                "{label} after C_CloseSession(A)"
            );
            assert_rv(api.destroy(b, h), CKR_OBJECT_HANDLE_INVALID);
            assert_eq!(api.find(b, &by_label(label)).expect("find"), vec![]);
        }
        assert_eq!(api.state(a), Err(CKR_SESSION_HANDLE_INVALID));
        assert_eq!(
            api.create(a, &data_tmpl("late", "iso", b"x", false, false)),
            Err(CKR_SESSION_HANDLE_INVALID)
        );
        assert_rv(
            api.sign_init(a, CKM_ECDSA_SHA256, keys.ec),
            CKR_SESSION_HANDLE_INVALID,
        );
        assert_rv(api.close(a), CKR_SESSION_HANDLE_INVALID);
        assert_eq!(api.attr(b, ta, CKA_VALUE).expect("token object"), b"token");
        assert_eq!(api.state(b), Ok(CKS_RW_USER_FUNCTIONS));
        assert_rv(api.close(b), CKR_OK);
    });
    assert_rv(api.close(m), CKR_OK);
}

// ---------------------------------------------------------------------------------------------
// Several processes, one token

const PROC_TOKEN: &str = "procs";
const PROC_PERMANENT: usize = 4;

fn proc_perm(tag: usize, j: usize) -> (String, Vec<u8>, bool) {
    (
        format!("perm-p{tag}-{j}"),
        format!("permanent object of process {tag} #{j}").into_bytes(),
        j % 2 == 0,
    )
}

/// One process of `processes_share_one_token`: its own objects, the others' permanent ones,
/// the shared key, and its own logouts (login state is per application).
fn process_child() {
    let tag: usize = std::env::var(TAG_VAR).expect("tag").parse().expect("tag");
    let sync = PathBuf::from(std::env::var(SYNC_VAR).expect("sync dir"));
    let deadline = Instant::now() + phase(PROCESS_SECS) + CHILD_SLACK;
    let raw = Raw::load();
    let api = Api::load(&raw);
    assert_rv(api.initialize(), CKR_OK);
    let slot = api.slot_labelled(PROC_TOKEN).expect("token");
    let s = api.open(slot).expect("session");
    assert_rv(api.login(s), CKR_OK);
    for j in 0..PROC_PERMANENT {
        let (label, value, private) = proc_perm(tag, j);
        api.create(s, &data_tmpl(&label, "stress-perm", &value, true, private))
            .expect("permanent object");
    }
    std::fs::write(sync.join(format!("ready-{tag}")), b"").expect("ready file");
    assert!(wait_file(&sync.join("go"), deadline), "no go signal");

    let vk = verifying_key();
    let app = format!("stress-p{tag}");
    let mut ec = one(&api, s, EC_LABEL).expect("shared EC key");
    let mut st = Stats::default();
    let mut rng = Rng::new(seed() ^ tag as u64);
    let mut live: Vec<(String, Vec<u8>, bool)> = Vec::new();
    let (mut n, mut created, mut destroyed, mut cycles) = (0u64, 0u64, 0u64, 0u64);
    let mut last_cycle = 0u64;
    let start = Instant::now();
    let duration = phase(PROCESS_SECS);
    while start.elapsed() < duration {
        n += 1;
        match rng.below(8) {
            0 | 1 if live.len() < 48 => {
                let label = format!("p{tag}-{n}");
                let mut value = label.clone().into_bytes();
                value.extend(rng.bytes(8));
                let private = n % 2 == 0;
                match api.create(s, &data_tmpl(&label, &app, &value, true, private)) {
                    Ok(_) => {
                        live.push((label, value, private));
                        created += 1;
                        st.ok("create");
                    }
                    Err(rv) => st.fail("create", &rv_name(rv), label),
                }
            }
            0..=2 if !live.is_empty() => {
                let i = rng.below(live.len());
                let (label, value, _) = live[i].clone();
                match one(&api, s, &label) {
                    Ok(h) if api.attr(s, h, CKA_VALUE).as_deref() == Ok(&value[..]) => {
                        let rv = api.destroy(s, h);
                        if rv == CKR_OK && api.find(s, &by_label(&label)) == Ok(vec![]) {
                            live.remove(i);
                            destroyed += 1;
                            st.ok("destroy");
                        } else {
                            st.fail("destroy", &rv_name(rv), label);
                        }
                    }
                    other => st.fail("destroy", "lookup", format!("{label}: {other:?}")),
                }
            }
            3 if !live.is_empty() => {
                let (label, value, _) = live[rng.below(live.len())].clone();
                match one(&api, s, &label) {
                    Ok(h) if api.attr(s, h, CKA_VALUE).as_deref() == Ok(&value[..]) => {
                        st.ok("find-own")
                    }
                    other => st.fail("find-own", "lost or changed", format!("{label}: {other:?}")),
                }
            }
            4 => match api.find(s, &by_app(&app)) {
                Ok(v) if v.len() == live.len() => st.ok("find-all-own"),
                other => st.fail(
                    "find-all-own",
                    "count",
                    format!("{:?} vs {}", other.map(|v| v.len()), live.len()),
                ),
            },
            5 => {
                let other = (tag + 1 + rng.below(PROCESSES - 1)) % PROCESSES;
                let (label, value, _) = proc_perm(other, rng.below(PROC_PERMANENT));
                match one(&api, s, &label) {
                    Ok(h) if api.attr(s, h, CKA_VALUE).as_deref() == Ok(&value[..]) => {
                        st.ok("read-other-process")
                    }
                    r => st.fail(
                        "read-other-process",
                        "lost or changed",
                        format!("{label}: {r:?}"),
                    ),
                }
            }
            6 => {
                let msg = format!("process {tag} message {n}").into_bytes();
                match api.sign(s, CKM_ECDSA_SHA256, ec, &msg) {
                    Ok(sig) if ecdsa_ok(&vk, &msg, &sig) => st.ok("sign-ec"),
                    other => st.fail("sign-ec", "failed", format!("{:?}", other.map_err(rv_name))),
                }
            }
            // About one iteration in 48, and at the latest every 64: the kind floor below
            // must not depend on luck.
            7 if rng.below(6) == 0 || n - last_cycle > 64 => {
                last_cycle = n;
                // This process logs out: its view loses the private objects, the others'
                // processes keep theirs.
                let rv = api.logout(s);
                let public = live.iter().filter(|o| !o.2).count();
                let seen = api.find(s, &by_app(&app)).map(|v| v.len());
                let other = proc_perm((tag + 1) % PROCESSES, 0);
                let hidden = api.find(s, &by_label(&other.0));
                if rv != CKR_OK || seen != Ok(public) || hidden != Ok(vec![]) {
                    st.fail(
                        "logout",
                        &rv_name(rv),
                        format!("saw {seen:?} of {public} public; other's private {hidden:?}"),
                    );
                }
                let rv = api.login(s);
                if rv != CKR_OK {
                    st.fail("login", &rv_name(rv), String::new());
                }
                ec = one(&api, s, EC_LABEL).expect("shared EC key after login");
                cycles += 1;
                st.ok("logout/login");
            }
            _ => match api.state(s) {
                Ok(CKS_RW_USER_FUNCTIONS) => st.ok("session-info"),
                other => st.fail("session-info", "state", format!("{other:?}")),
            },
        }
    }
    let lines: String = live
        .iter()
        .map(|(l, v, _)| format!("{l}\t{}\n", common::p11::hex(v)))
        .collect();
    std::fs::write(sync.join(format!("live-{tag}")), lines).expect("live file");
    println!(
        "stress: process {tag}: {} operations in {:.1} s, created {created}, destroyed \
         {destroyed}, live {}, {cycles} logout/login cycles",
        st.total(),
        start.elapsed().as_secs_f64(),
        live.len()
    );
    println!("stress: process {tag}: {}", st.report().replace('\n', " "));
    assert_rv(api.close(s), CKR_OK);
    assert_rv(api.finalize(), CKR_OK);
    st.assert_clean(&format!("process {tag}"));
    st.assert_total(
        &format!("process {tag}"),
        at_least(PROCESS_OPS_PER_SEC, duration),
    );
    st.assert_kinds(
        &format!("process {tag}"),
        &[
            "create",
            "destroy",
            "find-own",
            "find-all-own",
            "read-other-process",
            "sign-ec",
            "session-info",
        ],
        at_least(PROCESS_KIND_PER_SEC, duration),
    );
    st.assert_kinds(
        &format!("process {tag}"),
        &["logout/login"],
        at_least(PROCESS_CYCLES_PER_SEC, duration),
    );
}

#[test]
fn processes_share_one_token() {
    let env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, PROC_TOKEN).id();
    let raw = Raw::load();
    let api = Api::load(&raw);
    let ps = api.open(slot).expect("parent session");
    assert_rv(api.login(ps), CKR_OK);
    let keys = create_shared(&api, ps);
    let vk = verifying_key();

    let sync = env.root().join("sync");
    std::fs::create_dir(&sync).expect("sync dir");
    let duration = phase(PROCESS_SECS);
    let deadline = Instant::now() + duration + CHILD_SLACK;
    let mut children: Vec<_> = (0..PROCESSES)
        .map(|i| spawn_role("proc", &i.to_string(), &sync))
        .collect();
    for (i, (child, out, err)) in children.iter_mut().enumerate() {
        let ready = sync.join(format!("ready-{i}"));
        while !ready.exists() {
            if let Some(st) = child.try_wait().expect("try_wait") {
                panic!(
                    "process {i} exited early ({st}):\n{}\n{}",
                    std::fs::read_to_string(out).unwrap_or_default(),
                    std::fs::read_to_string(err).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "process {i} never ready");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    std::fs::write(sync.join("go"), b"").expect("go");

    // The parent is one more application on the token meanwhile: it reads the children's
    // permanent objects and signs with the shared key.
    let mut st = Stats::default();
    let mut rng = Rng::new(seed());
    let start = Instant::now();
    while start.elapsed() < duration {
        let (label, value, _) = proc_perm(rng.below(PROCESSES), rng.below(PROC_PERMANENT));
        match one(&api, ps, &label) {
            Ok(h) if api.attr(ps, h, CKA_VALUE).as_deref() == Ok(&value[..]) => st.ok("read"),
            r => st.fail("read", "lost or changed", format!("{label}: {r:?}")),
        }
        let msg = rng.bytes(32);
        match api.sign(ps, CKM_ECDSA_SHA256, keys.ec, &msg) {
            Ok(sig) if ecdsa_ok(&vk, &msg, &sig) => st.ok("sign-ec"),
            other => st.fail("sign-ec", "failed", format!("{:?}", other.map_err(rv_name))),
        }
    }
    let mut lines = Vec::new();
    for (i, (child, out, err)) in children.into_iter().enumerate() {
        lines.extend(finish_role(
            child,
            &out,
            &err,
            &format!("process {i}"),
            deadline,
        ));
    }

    // Everything each process committed is there exactly once, seen by this process.
    let mut total_live = 0;
    for i in 0..PROCESSES {
        let text = std::fs::read_to_string(sync.join(format!("live-{i}"))).expect("live file");
        let want: HashMap<String, String> = text
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(l, v)| (l.to_owned(), v.to_owned()))
            .collect();
        total_live += want.len();
        let found = api
            .find(ps, &by_app(&format!("stress-p{i}")))
            .expect("find");
        let mut got = HashMap::new();
        for h in found {
            let label = String::from_utf8(api.attr(ps, h, CKA_LABEL).expect("label")).unwrap();
            let value = common::p11::hex(&api.attr(ps, h, CKA_VALUE).expect("value"));
            assert!(
                got.insert(label.clone(), value).is_none(),
                "{label} found twice"
            );
        }
        assert_eq!(got, want, "objects of process {i}");
        for j in 0..PROC_PERMANENT {
            let (label, value, _) = proc_perm(i, j);
            let h = one(&api, ps, &label).expect("permanent object");
            assert_eq!(api.attr(ps, h, CKA_VALUE).expect("value"), value);
        }
    }
    for l in &lines {
        println!("{l}");
    }
    println!(
        "stress: processes: {PROCESSES} children + the parent on one token for {:.1} s; \
         {total_live} live objects of the children all present exactly once; parent {}",
        duration.as_secs_f64(),
        st.report().replace('\n', " ")
    );
    st.assert_clean("parent process");
    st.assert_kinds(
        "parent process",
        &["read", "sign-ec"],
        at_least(PARENT_KIND_PER_SEC, duration),
    );
    assert_rv(api.close(ps), CKR_OK);
}

// ---------------------------------------------------------------------------------------------
// C_Finalize while other threads are inside calls

const FIN_TOKEN: &str = "finalize";

#[derive(Default)]
struct FinalizeLog {
    st: Stats,
    /// Labels whose C_CreateObject returned CKR_OK and no C_DestroyObject did.
    present: HashSet<String>,
    /// Labels whose C_CreateObject failed, or whose C_DestroyObject returned CKR_OK.
    absent: HashSet<String>,
    /// Calls that returned CKR_OK after C_Finalize was asked for (begun before it, or racing).
    ok_after: u64,
}

/// What the threads of a C_Finalize round share.
#[derive(Default)]
struct Round {
    /// C_Finalize was asked for.
    finalizing: AtomicBool,
    /// Threads past their C_OpenSession (made calls since, or failed to open).
    running: AtomicUsize,
}

/// One thread hammering the module until C_Finalize takes it away.
fn hammer_until_finalized(
    api: Api,
    slot: CK_SLOT_ID,
    ec: CK_OBJECT_HANDLE,
    round: u64,
    t: usize,
    shared: &Round,
    log: &Mutex<FinalizeLog>,
) {
    let finalizing = &shared.finalizing;
    let vk = verifying_key();
    let mut st = Stats::default();
    let (mut present, mut absent) = (Vec::new(), Vec::new());
    let mut ok_after = 0;
    let mut last: Option<(String, CK_OBJECT_HANDLE)> = None;
    let mut n = 0u64;
    // Returns true when the thread is done.
    let mut judge = |op: &str, rv: CK_RV, asked: bool, st: &mut Stats| -> bool {
        let fin = finalizing.load(SeqCst);
        match rv {
            CKR_OK => {
                if asked {
                    ok_after += 1;
                }
                st.ok(op);
                false
            }
            CKR_CRYPTOKI_NOT_INITIALIZED if fin => {
                st.tolerate(op, "CKR_CRYPTOKI_NOT_INITIALIZED");
                true
            }
            CKR_SESSION_HANDLE_INVALID | CKR_SESSION_CLOSED if fin => {
                st.tolerate(op, &rv_name(rv));
                true
            }
            _ => {
                st.fail(
                    op,
                    &rv_name(rv),
                    format!("round {round} thread {t}, finalizing {fin}"),
                );
                true
            }
        }
    };
    let opened = api.open(slot);
    shared.running.fetch_add(1, SeqCst);
    let s = match opened {
        Ok(s) => s,
        Err(rv) => {
            judge("open", rv, finalizing.load(SeqCst), &mut st);
            log.lock().unwrap().st.merge(st);
            return;
        }
    };
    // Each thread starts its round at another point of the cycle: a round may end after a few
    // calls, and a cycle always started at the same kind would hardly reach its last kinds.
    let offset = (t as u64 + round) % 6;
    loop {
        n += 1;
        let asked = finalizing.load(SeqCst);
        let done = match (n + offset) % 6 {
            0 => {
                let msg = format!("round {round} thread {t} n {n}").into_bytes();
                match api.sign(s, CKM_ECDSA_SHA256, ec, &msg) {
                    Ok(sig) if !ecdsa_ok(&vk, &msg, &sig) => {
                        st.fail("sign", "bad signature", String::new());
                        true
                    }
                    r => judge("sign", r.err().unwrap_or(CKR_OK), asked, &mut st),
                }
            }
            1 => judge(
                "find",
                api.find(s, &Tmpl::new().u(CKA_CLASS, CKO_DATA))
                    .err()
                    .unwrap_or(CKR_OK),
                asked,
                &mut st,
            ),
            2 => judge(
                "session-info",
                api.state(s).err().unwrap_or(CKR_OK),
                asked,
                &mut st,
            ),
            3 => {
                let label = format!("f{round}-{t}-{n}");
                let r = api.create(
                    s,
                    &data_tmpl(&label, "stress-fin", label.as_bytes(), true, false),
                );
                match r {
                    Ok(h) => {
                        present.push(label.clone());
                        last = Some((label, h));
                    }
                    Err(_) => absent.push(label),
                }
                judge("create", r.err().unwrap_or(CKR_OK), asked, &mut st)
            }
            // Every other turn: half the creations stay.
            4 => match last.take() {
                Some((label, h)) if (n + offset) / 6 % 2 == 0 => {
                    let rv = api.destroy(s, h);
                    if rv == CKR_OK {
                        present.retain(|l| *l != label);
                        absent.push(label);
                    }
                    judge("destroy", rv, asked, &mut st)
                }
                _ => false,
            },
            _ => judge(
                "random",
                api.random(s, 32).err().unwrap_or(CKR_OK),
                asked,
                &mut st,
            ),
        };
        if done {
            break;
        }
    }
    let mut l = log.lock().unwrap();
    l.st.merge(st);
    l.present.extend(present);
    l.absent.extend(absent);
    l.ok_after += ok_after;
}

/// The child side of `finalize_while_other_threads_are_in_calls`.
fn finalize_child() {
    let raw = Raw::load();
    let api = Api::load(&raw);
    let log = Mutex::new(FinalizeLog::default());
    let mut rng = Rng::new(seed());
    let (mut rounds, mut both) = (0u64, 0u64);
    let mut hammered = Duration::ZERO;
    let mut failures = Vec::new();
    let start = Instant::now();
    let duration = phase(FINALIZE_SECS);
    while start.elapsed() < duration {
        rounds += 1;
        assert_rv(api.initialize(), CKR_OK);
        let slot = api.slot_labelled(FIN_TOKEN).expect("token");
        let s0 = api.open(slot).expect("session");
        assert_rv(api.login(s0), CKR_OK);
        let ec = one(&api, s0, EC_LABEL).expect("EC key");
        let shared = Round::default();
        let barrier = Barrier::new(2);
        let pause = Duration::from_millis(2 + rng.below(40) as u64);
        let (rv_main, rv_other) = std::thread::scope(|sc| {
            for t in 0..FINALIZE_THREADS {
                let (shared, log) = (&shared, &log);
                sc.spawn(move || hammer_until_finalized(api, slot, ec, rounds, t, shared, log));
            }
            // The pause runs from when every thread is making calls (or has failed to open
            // its session), so that on a slower store too C_Finalize lands amid calls of
            // every kind, not during the threads' first ones.
            let spawned = Instant::now();
            while shared.running.load(SeqCst) < FINALIZE_THREADS
                && spawned.elapsed() < Duration::from_secs(2)
            {
                std::thread::sleep(Duration::from_millis(1));
            }
            std::thread::sleep(pause);
            shared.finalizing.store(true, SeqCst);
            hammered += spawned.elapsed();
            // Two threads call C_Finalize at once: one succeeds, the other finds the module
            // already finalized.
            let barrier = &barrier;
            let other = sc.spawn(move || {
                barrier.wait();
                api.finalize()
            });
            barrier.wait();
            let rv = api.finalize();
            (rv, other.join().expect("second finalizer"))
        });
        let mut pair = [rv_main, rv_other];
        pair.sort();
        if pair != [CKR_OK, CKR_CRYPTOKI_NOT_INITIALIZED] {
            failures.push(format!(
                "round {rounds}: two C_Finalize calls returned {} and {}",
                rv_name(rv_main),
                rv_name(rv_other)
            ));
        } else {
            both += 1;
        }
    }
    // Every creation that returned CKR_OK is on the token, every one that failed or was
    // destroyed is not, and the token works.
    let log = log.into_inner().unwrap();
    assert_rv(api.initialize(), CKR_OK);
    let slot = api.slot_labelled(FIN_TOKEN).expect("token");
    let s = api.open(slot).expect("session");
    assert_rv(api.login(s), CKR_OK);
    let on_token: HashSet<String> = api
        .find(s, &by_app("stress-fin"))
        .expect("find")
        .into_iter()
        .map(|h| String::from_utf8(api.attr(s, h, CKA_LABEL).expect("label")).unwrap())
        .collect();
    for l in &log.present {
        if !on_token.contains(l) {
            failures.push(format!("{l}: created with CKR_OK, not on the token"));
        }
    }
    for l in &log.absent {
        if on_token.contains(l) {
            failures.push(format!(
                "{l}: creation failed or destroyed, yet on the token"
            ));
        }
    }
    let ec = one(&api, s, EC_LABEL).expect("EC key after the races");
    let sig = api.sign(s, CKM_ECDSA_SHA256, ec, b"after").expect("sign");
    assert!(ecdsa_ok(&verifying_key(), b"after", &sig));
    assert_rv(api.finalize(), CKR_OK);
    println!(
        "stress: finalize: {rounds} rounds of C_Finalize under {FINALIZE_THREADS} threads in \
         calls ({hammered:.1?} of them with the threads in calls), {} calls, {} completed CKR_OK after C_Finalize was asked for; {both} double \
         C_Finalize races resolved one OK + one NOT_INITIALIZED; {} objects committed, {} \
         refused or destroyed, all as reported",
        log.st.total()
            + log.st.tolerated.values().sum::<u64>()
            + log.st.unexpected.values().sum::<u64>(),
        log.ok_after,
        log.present.len(),
        log.absent.len()
    );
    println!("stress: finalize: {}", log.st.report().replace('\n', " "));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    log.st.assert_clean("C_Finalize races");
    // Threads live one round each, so the floors are per kind and per round, not per thread.
    log.st.assert_kinds(
        "C_Finalize races",
        &[
            "sign",
            "find",
            "session-info",
            "create",
            "destroy",
            "random",
        ],
        at_least(FINALIZE_KIND_PER_SEC, hammered),
    );
    let min = at_least(FINALIZE_ROUNDS_PER_SEC, duration);
    assert!(
        rounds >= min,
        "{rounds} C_Finalize rounds in {duration:?}, fewer than {min}"
    );
}

#[test]
fn finalize_while_other_threads_are_in_calls() {
    // PKCS#11 v3.0 §5.4 leaves C_Finalize during other threads' calls undefined; ferrohsm
    // promises more: calls in flight complete or report CKR_CRYPTOKI_NOT_INITIALIZED, later
    // ones report it, nothing crashes or hangs, and what was committed stays. Run in a child
    // process so a crash is a failed exit status.
    let env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, FIN_TOKEN).id();
    let raw = Raw::load();
    let api = Api::load(&raw);
    let s = api.open(slot).expect("session");
    assert_rv(api.login(s), CKR_OK);
    create_shared(&api, s);
    assert_rv(api.close(s), CKR_OK);
    let deadline = Instant::now() + phase(FINALIZE_SECS) + CHILD_SLACK;
    let (child, out, err) = spawn_role("finalize", "0", env.root());
    for l in finish_role(child, &out, &err, "finalize", deadline) {
        println!("{l}");
    }
}

// ---------------------------------------------------------------------------------------------
// fork

enum Waited {
    Exit(i32),
    Signal(i32),
    Hung(String),
}

/// Wait for a forked child until `deadline`, running `meanwhile` between polls; a child still
/// running then is backtraced and killed.
fn wait_pid(pid: libc::pid_t, limit: Duration, mut meanwhile: impl FnMut()) -> Waited {
    let start = Instant::now();
    loop {
        let mut status = 0;
        // SAFETY: polling our own child; `status` is valid for writes.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        assert!(r >= 0, "waitpid failed");
        if r == pid {
            if libc::WIFEXITED(status) {
                return Waited::Exit(libc::WEXITSTATUS(status));
            }
            if libc::WIFSIGNALED(status) {
                return Waited::Signal(libc::WTERMSIG(status));
            }
        }
        if start.elapsed() > limit {
            let bt = backtrace(pid);
            // SAFETY: killing and reaping our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return Waited::Hung(bt);
        }
        meanwhile();
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// What a forked child does with the module it inherited: only module calls (no output, no
/// locks of the test harness) and the check of its signature with `vk` (parsed before the fork:
/// pure computation), and an exit code naming the first failed step.
fn forked_child(
    api: &Api,
    inherited: CK_SESSION_HANDLE,
    vk: &p256::ecdsa::VerifyingKey,
    full: bool,
) -> (i32, CK_RV) {
    let want = |code: i32, rv: CK_RV, expected: CK_RV| (rv != expected).then_some((code, rv));
    let err = |code: i32, rv: CK_RV| (rv != CKR_OK).then_some((code, rv));
    if full {
        let mut info = CK_INFO::default();
        let checks = [
            (11, call!(api, C_GetInfo(&mut info))),
            (12, api.state(inherited).err().unwrap_or(CKR_OK)),
            (13, api.login(inherited)),
            (14, api.sign_init(inherited, CKM_ECDSA_SHA256, 1)),
        ];
        for (code, rv) in checks {
            if let Some(f) = want(code, rv, CKR_CRYPTOKI_NOT_INITIALIZED) {
                return f;
            }
        }
    }
    if let Some(f) = err(21, api.initialize()) {
        return f;
    }
    let Ok(slot) = api.slot_labelled(FORK_TOKEN) else {
        return (22, CKR_OK);
    };
    let s = match api.open(slot) {
        Ok(s) => s,
        Err(rv) => return (23, rv),
    };
    if let Some(f) = err(24, api.login(s)) {
        return f;
    }
    let Ok(h) = one(api, s, FORK_PRIVATE) else {
        return (25, CKR_OK);
    };
    match api.attr(s, h, CKA_VALUE) {
        Ok(v) if v == FORK_VALUE => {}
        other => return (26, other.err().unwrap_or(CKR_OK)),
    }
    let Ok(ec) = one(api, s, EC_LABEL) else {
        return (27, CKR_OK);
    };
    match api.sign(s, CKM_ECDSA_SHA256, ec, b"forked") {
        Ok(sig) if ecdsa_ok(vk, b"forked", &sig) => {}
        other => return (28, other.err().unwrap_or(CKR_OK)),
    }
    if full {
        let t = data_tmpl(FORK_FROM_CHILD, "stress-fork", b"child", true, false);
        if let Err(rv) = api.create(s, &t) {
            return (29, rv);
        }
    }
    if let Some(f) = err(30, api.finalize()) {
        return f;
    }
    (0, CKR_OK)
}

/// Run `forked_child` in the child of a fork and leave; a failure's return value goes to
/// `rv_file` for the parent's message.
fn forked_child_exit(
    api: &Api,
    inherited: CK_SESSION_HANDLE,
    vk: &p256::ecdsa::VerifyingKey,
    full: bool,
    rv_file: &Path,
) -> ! {
    let (code, rv) = forked_child(api, inherited, vk, full);
    if code != 0 {
        let _ = std::fs::write(rv_file, rv.to_string());
    }
    // SAFETY: leave the child at once, without unwinding or running the parent's destructors.
    unsafe { libc::_exit(code) }
}

/// The parent's description of a forked child's exit code.
fn fork_failure(code: i32, rv_file: &Path) -> String {
    let rv = std::fs::read_to_string(rv_file)
        .ok()
        .and_then(|t| t.trim().parse::<CK_RV>().ok())
        .map(rv_name)
        .unwrap_or_default();
    format!("{} (exit {code}, {rv})", fork_code(code))
}

fn fork_code(code: i32) -> &'static str {
    match code {
        11 => "C_GetInfo before C_Initialize did not return CKR_CRYPTOKI_NOT_INITIALIZED",
        12 => {
            "C_GetSessionInfo on the inherited session did not return CKR_CRYPTOKI_NOT_INITIALIZED"
        }
        13 => "C_Login on the inherited session did not return CKR_CRYPTOKI_NOT_INITIALIZED",
        14 => "C_SignInit on the inherited session did not return CKR_CRYPTOKI_NOT_INITIALIZED",
        21 => "C_Initialize in the child failed",
        22 => "the token is not listed in the child",
        23 => "C_OpenSession in the child failed",
        24 => "C_Login in the child failed",
        25 => "the parent's private object not found in the child",
        26 => "the parent's private object has a wrong value in the child",
        27 => "the shared EC key not found in the child",
        28 => "signing in the child failed, or its signature does not verify",
        29 => "C_CreateObject in the child failed",
        30 => "C_Finalize in the child failed",
        _ => "unknown failure",
    }
}

const FORK_TOKEN: &str = "fork";
const FORK_PRIVATE: &str = "fork-private";
const FORK_VALUE: &[u8] = b"made before fork";
const FORK_FROM_CHILD: &str = "from-fork-child";

/// A token with the shared objects and a private data object; a logged-in session.
fn fork_setup() -> (
    TestEnv,
    cryptoki::context::Pkcs11,
    Raw,
    Api,
    CK_SLOT_ID,
    CK_SESSION_HANDLE,
) {
    let env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, FORK_TOKEN).id();
    let raw = Raw::load();
    let api = Api::load(&raw);
    let s = api.open(slot).expect("session");
    assert_rv(api.login(s), CKR_OK);
    create_shared(&api, s);
    api.create(
        s,
        &data_tmpl(FORK_PRIVATE, "stress-fork", FORK_VALUE, true, true),
    )
    .expect("private object");
    (env, ctx, raw, api, slot, s)
}

#[test]
fn forked_child_reinitializes_while_the_parent_keeps_working() {
    // PKCS#11 v3.0 §6.7.7: a forked child must call C_Initialize before using the module;
    // until then every call says CKR_CRYPTOKI_NOT_INITIALIZED. Then it works like any other
    // application on the token, while the parent carries on untouched.
    let (env, _ctx, _raw, api, _slot, s) = fork_setup();
    let ec = one(&api, s, EC_LABEL).expect("EC key");
    let vk = verifying_key();
    let rv_file = env.root().join("fork.rv");
    // SAFETY: the child makes only module calls and leaves with _exit, without unwinding or
    // running the parent's destructors.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        forked_child_exit(&api, s, &vk, true, &rv_file);
    }
    let mut parent_ops = 0u64;
    let mut parent_err = None;
    let waited = wait_pid(pid, FORK_DEADLINE, || {
        let msg = parent_ops.to_le_bytes();
        match api.sign(s, CKM_ECDSA_SHA256, ec, &msg) {
            Ok(sig) if ecdsa_ok(&vk, &msg, &sig) => parent_ops += 1,
            other => parent_err = Some(format!("{:?}", other.map_err(rv_name))),
        }
    });
    match waited {
        Waited::Exit(0) => {}
        Waited::Exit(c) => panic!("forked child: {}", fork_failure(c, &rv_file)),
        Waited::Signal(sig) => panic!("forked child killed by signal {sig}"),
        Waited::Hung(bt) => panic!("forked child hung; backtrace:\n{bt}"),
    }
    assert_eq!(parent_err, None, "the parent's signing while the child ran");
    // The child's object is on the token; the parent's session still works.
    let h = one(&api, s, FORK_FROM_CHILD).expect("object made by the forked child");
    assert_eq!(api.attr(s, h, CKA_VALUE).expect("value"), b"child");
    assert_eq!(api.state(s), Ok(CKS_RW_USER_FUNCTIONS));
    println!(
        "stress: fork: child re-initialized, logged in, read, signed and wrote; parent signed \
         {parent_ops} times meanwhile"
    );
    assert_rv(api.close(s), CKR_OK);
}

const FORK_WRITES: usize = 150;

/// The forked child of `forked_child_keeps_writing_while_the_parent_finalizes`: re-initialize,
/// then write `FORK_WRITES` token objects, announcing the first ones in `started`.
fn forked_writer(api: &Api, started: &Path) -> (i32, CK_RV) {
    if api.initialize() != CKR_OK {
        return (21, CKR_GENERAL_ERROR);
    }
    let Ok(slot) = api.slot_labelled(FORK_TOKEN) else {
        return (22, CKR_OK);
    };
    let s = match api.open(slot) {
        Ok(s) => s,
        Err(rv) => return (23, rv),
    };
    let rv = api.login(s);
    if rv != CKR_OK {
        return (24, rv);
    }
    for i in 0..FORK_WRITES {
        let label = format!("child-write-{i}");
        let t = data_tmpl(
            &label,
            "stress-fork-writer",
            label.as_bytes(),
            true,
            i % 2 == 0,
        );
        if let Err(rv) = api.create(s, &t) {
            return (29, rv);
        }
        if i == 10 {
            let _ = std::fs::write(started, b"");
        }
        std::thread::sleep(Duration::from_millis(3));
    }
    let rv = api.finalize();
    if rv != CKR_OK {
        return (30, rv);
    }
    (0, CKR_OK)
}

#[test]
fn forked_child_keeps_writing_while_the_parent_finalizes() {
    // The parent's C_Finalize closes its token database while the forked child, re-initialized,
    // is in the middle of writing: every object the child was told is committed must be on
    // the token afterwards, as seen by the re-initialized parent.
    let (env, _ctx, _raw, api, slot, s) = fork_setup();
    let rv_file = env.root().join("fork.rv");
    let started = env.root().join("child-started");
    // SAFETY: the child makes only module calls and small file writes, and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let (code, rv) = forked_writer(&api, &started);
        if code != 0 {
            let _ = std::fs::write(&rv_file, rv.to_string());
        }
        // SAFETY: leave the child at once.
        unsafe { libc::_exit(code) };
    }
    let seen = wait_file(&started, Instant::now() + FORK_DEADLINE);
    assert_rv(api.close(s), CKR_OK);
    assert_rv(api.finalize(), CKR_OK);
    let waited = wait_pid(pid, FORK_DEADLINE, || {});
    match waited {
        Waited::Exit(0) => {}
        Waited::Exit(c) => panic!("forked writer: {}", fork_failure(c, &rv_file)),
        Waited::Signal(sig) => panic!("forked writer killed by signal {sig}"),
        Waited::Hung(bt) => panic!("forked writer hung; backtrace:\n{bt}"),
    }
    assert!(seen, "the forked writer never started");
    assert_rv(api.initialize(), CKR_OK);
    let s = api.open(slot).expect("session");
    assert_rv(api.login(s), CKR_OK);
    let found = api
        .find(s, &by_app("stress-fork-writer"))
        .expect("find the child's objects");
    let labels: HashSet<Vec<u8>> = found
        .iter()
        .map(|h| api.attr(s, *h, CKA_LABEL).expect("label"))
        .collect();
    let missing: Vec<usize> = (0..FORK_WRITES)
        .filter(|i| !labels.contains(format!("child-write-{i}").as_bytes()))
        .collect();
    assert!(
        missing.is_empty() && found.len() == FORK_WRITES,
        "objects the forked child committed while the parent finalized: {} found, missing {missing:?}",
        found.len()
    );
    println!(
        "stress: fork: parent finalized while its forked child wrote; all {FORK_WRITES} of the child's objects present"
    );
    assert_rv(api.close(s), CKR_OK);
}

/// What the hammer threads of `fork_while_other_threads_are_in_calls` do, by call number mod 6.
const FORK_KINDS: &[&str] = &[
    "sign",
    "find",
    "create-destroy",
    "state",
    "random",
    "open-close",
];

#[test]
fn fork_while_other_threads_are_in_calls() {
    // Locks held by other threads at the moment of fork stay held forever in the child: the
    // child's C_Initialize must not need any of them.
    let (env, _ctx, _raw, api, slot, s) = fork_setup();
    let ec = one(&api, s, EC_LABEL).expect("EC key");
    let rv_file = env.root().join("fork.rv");
    let stop = AtomicBool::new(false);
    let names: Vec<String> = (0..FORK_THREADS).map(|t| format!("hammer {t}")).collect();
    let progress = Progress::new(names);
    let dog = Watchdog::start(progress.clone(), &["calls"]);
    let duration = phase(FORK_SECS);
    let mut rng = Rng::new(seed());
    let mut forks = 0u64;
    let mut failures: Vec<String> = Vec::new();
    let mut per_thread: Vec<(usize, u64, String)> = Vec::new();
    let vk = verifying_key();
    let st = std::thread::scope(|sc| {
        let threads: Vec<_> = (0..FORK_THREADS)
            .map(|t| {
                let (stop, progress) = (&stop, &progress);
                sc.spawn(move || {
                    let mut st = Stats::default();
                    let vk = verifying_key();
                    let own = api.open(slot).expect("hammer session");
                    let mut n = 0u64;
                    while !stop.load(SeqCst) {
                        n += 1;
                        let kind = FORK_KINDS[(n % 6) as usize];
                        let r = match n % 6 {
                            0 => api
                                .sign(own, CKM_ECDSA_SHA256, ec, &n.to_le_bytes())
                                .map(|sig| ecdsa_ok(&vk, &n.to_le_bytes(), &sig)),
                            1 => api.find(own, &by_app("stress-fork")).map(|_| true),
                            2 => {
                                let label = format!("h{t}-{n}");
                                api.create(
                                    own,
                                    &data_tmpl(&label, "stress-hammer", b"v", true, n % 4 == 2),
                                )
                                .and_then(|h| ok(api.destroy(own, h)))
                                .map(|()| true)
                            }
                            3 => api.state(own).map(|st| st == CKS_RW_USER_FUNCTIONS),
                            4 => api.random(own, 64).map(|_| true),
                            _ => api.open(slot).and_then(|x| ok(api.close(x))).map(|()| true),
                        };
                        match r {
                            Ok(true) => st.ok(kind),
                            Ok(false) => st.fail(kind, "wrong result", format!("n {n}")),
                            Err(rv) => st.fail(kind, &rv_name(rv), format!("n {n}")),
                        }
                        progress.tick(t);
                    }
                    st
                })
            })
            .collect();
        let start = Instant::now();
        while start.elapsed() < duration && failures.is_empty() {
            std::thread::sleep(Duration::from_micros(rng.below(10_000) as u64));
            // SAFETY: the child makes only module calls and leaves with _exit.
            let pid = unsafe { libc::fork() };
            assert!(pid >= 0, "fork failed");
            if pid == 0 {
                forked_child_exit(&api, s, &vk, false, &rv_file);
            }
            forks += 1;
            match wait_pid(pid, FORK_DEADLINE, || {}) {
                Waited::Exit(0) => {}
                Waited::Exit(c) => {
                    failures.push(format!("fork {forks}: {}", fork_failure(c, &rv_file)))
                }
                Waited::Signal(sig) => {
                    failures.push(format!("fork {forks}: child killed by signal {sig}"))
                }
                Waited::Hung(bt) => failures.push(format!(
                    "fork {forks}: child hung for {FORK_DEADLINE:?}; backtrace:\n{bt}"
                )),
            }
        }
        stop.store(true, SeqCst);
        let mut st = Stats::default();
        for (t, h) in threads.into_iter().enumerate() {
            let one = h.join().expect("hammer thread panicked");
            per_thread.push((t, one.total(), one.report().replace('\n', " ")));
            st.merge(one);
        }
        st
    });
    dog.stop();
    println!(
        "stress: fork: {forks} forks while {FORK_THREADS} threads were in calls ({} calls); \
         {} children re-initialized, logged in, read, signed and verified",
        st.total(),
        forks as usize - failures.len()
    );
    let per_thread_line: Vec<String> = per_thread
        .iter()
        .map(|(t, n, _)| format!("hammer {t} {n}"))
        .collect();
    println!(
        "stress: fork: {}; {}",
        per_thread_line.join(", "),
        st.report().replace('\n', " ")
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    st.assert_clean("threads running across fork");
    let min = at_least(FORK_THREAD_OPS_PER_SEC, duration);
    for (t, n, report) in &per_thread {
        assert!(
            *n >= min,
            "hammer {t}: {n} successful calls in {duration:?}, fewer than {min}\n  {report}"
        );
    }
    st.assert_kinds(
        "threads running across fork",
        FORK_KINDS,
        at_least(FORK_KIND_PER_SEC, duration),
    );
    let min = at_least(FORKS_PER_SEC, duration);
    assert!(
        forks >= min,
        "{forks} forks in {duration:?}, fewer than {min}"
    );
    assert_eq!(api.state(s), Ok(CKS_RW_USER_FUNCTIONS));
    assert_rv(api.close(s), CKR_OK);
}
