//! Login state and locking (PKCS#11 v3.0 §5.6 session management: C_Login, C_Logout,
//! C_OpenSession, C_CloseSession, C_CloseAllSessions; §5.5 C_InitToken, C_GetSlotList,
//! C_GetTokenInfo; §4.4 object visibility): what a logout must end (handles to private
//! objects, private session objects, the operations set up under the login), the same when the
//! last session closes, the read-only-session rule of an SO login under concurrency, and the
//! absence of deadlocks between token initialization and the slot and session functions.
//!
//! Tests that start threads run their body under a deadline: a deadlock fails the test instead
//! of hanging the run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::p11::{rvn, secret, Tmpl};
use common::*;
use cryptoki::context::Pkcs11;
use cryptoki_sys::*;
use std::ptr::null_mut;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// The module's 3.0 function list, copied so that threads can call through it (the `Raw` that
/// loaded it stays alive in the test's main thread).
#[derive(Clone, Copy)]
struct P(CK_FUNCTION_LIST_3_0);

macro_rules! call {
    ($p:expr, $func:ident($($arg:expr),* $(,)?)) => {{
        let entry = $p.0.$func.expect(concat!(stringify!($func), " is NULL"));
        // SAFETY: every pointer argument is NULL or points to a live local of the caller for
        // the whole call.
        unsafe { entry($($arg),*) }
    }};
}

#[track_caller]
fn ok(what: &str, rv: CK_RV) {
    assert_eq!(rv, CKR_OK, "{what}: {}", rvn(rv));
}

#[track_caller]
fn want(what: &str, rv: CK_RV, expected: CK_RV) {
    assert_eq!(
        rv,
        expected,
        "{what}: got {}, want {}",
        rvn(rv),
        rvn(expected)
    );
}

impl P {
    fn open(&self, slot: CK_SLOT_ID, rw: bool) -> (CK_RV, CK_SESSION_HANDLE) {
        let mut h = CK_INVALID_HANDLE;
        let flags = CKF_SERIAL_SESSION | if rw { CKF_RW_SESSION } else { 0 };
        let rv = call!(self, C_OpenSession(slot, flags, null_mut(), None, &mut h));
        (rv, h)
    }

    #[track_caller]
    fn open_ok(&self, slot: CK_SLOT_ID, rw: bool) -> CK_SESSION_HANDLE {
        let (rv, h) = self.open(slot, rw);
        ok("C_OpenSession", rv);
        h
    }

    fn login(&self, s: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: &str) -> CK_RV {
        let mut p = pin.as_bytes().to_vec();
        call!(self, C_Login(s, user, p.as_mut_ptr(), p.len() as CK_ULONG))
    }

    fn logout(&self, s: CK_SESSION_HANDLE) -> CK_RV {
        call!(self, C_Logout(s))
    }

    fn close(&self, s: CK_SESSION_HANDLE) -> CK_RV {
        call!(self, C_CloseSession(s))
    }

    #[track_caller]
    fn create(&self, s: CK_SESSION_HANDLE, t: &Tmpl) -> CK_OBJECT_HANDLE {
        let mut r = t.raw();
        let mut o = CK_INVALID_HANDLE;
        ok(
            "C_CreateObject",
            call!(self, C_CreateObject(s, r.ptr(), r.len(), &mut o)),
        );
        o
    }

    /// CKA_VALUE of an object: the value or the return code.
    fn value(&self, s: CK_SESSION_HANDLE, o: CK_OBJECT_HANDLE) -> Result<Vec<u8>, CK_RV> {
        let mut buf = vec![0u8; 256];
        let mut a = [CK_ATTRIBUTE {
            type_: CKA_VALUE,
            pValue: buf.as_mut_ptr().cast(),
            ulValueLen: buf.len() as CK_ULONG,
        }];
        let rv = call!(self, C_GetAttributeValue(s, o, a.as_mut_ptr(), 1));
        if rv != CKR_OK {
            return Err(rv);
        }
        buf.truncate(a[0].ulValueLen as usize);
        Ok(buf)
    }

    fn find_init(&self, s: CK_SESSION_HANDLE, label: &[u8]) -> CK_RV {
        let mut t = Tmpl::new().bytes(CKA_LABEL, label).raw();
        call!(self, C_FindObjectsInit(s, t.ptr(), t.len()))
    }

    /// C_FindObjects for up to 16 handles.
    fn find_next(&self, s: CK_SESSION_HANDLE) -> Result<Vec<CK_OBJECT_HANDLE>, CK_RV> {
        let mut buf = [CK_INVALID_HANDLE; 16];
        let mut n: CK_ULONG = 0;
        let rv = call!(self, C_FindObjects(s, buf.as_mut_ptr(), 16, &mut n));
        if rv != CKR_OK {
            return Err(rv);
        }
        Ok(buf[..n as usize].to_vec())
    }

    #[track_caller]
    fn find(&self, s: CK_SESSION_HANDLE, label: &[u8]) -> Vec<CK_OBJECT_HANDLE> {
        ok("C_FindObjectsInit", self.find_init(s, label));
        let found = self.find_next(s).expect("C_FindObjects");
        ok("C_FindObjectsFinal", call!(self, C_FindObjectsFinal(s)));
        found
    }

    fn sign_init(
        &self,
        s: CK_SESSION_HANDLE,
        mech: CK_MECHANISM_TYPE,
        k: CK_OBJECT_HANDLE,
    ) -> CK_RV {
        let mut m = CK_MECHANISM {
            mechanism: mech,
            pParameter: null_mut(),
            ulParameterLen: 0,
        };
        call!(self, C_SignInit(s, &mut m, k))
    }

    fn sign(&self, s: CK_SESSION_HANDLE, data: &[u8]) -> Result<Vec<u8>, CK_RV> {
        let mut d = data.to_vec();
        let mut out = vec![0u8; 512];
        let mut n = out.len() as CK_ULONG;
        let rv = call!(
            self,
            C_Sign(
                s,
                d.as_mut_ptr(),
                d.len() as CK_ULONG,
                out.as_mut_ptr(),
                &mut n
            )
        );
        if rv != CKR_OK {
            return Err(rv);
        }
        out.truncate(n as usize);
        Ok(out)
    }

    fn session_state(&self, s: CK_SESSION_HANDLE) -> Result<CK_STATE, CK_RV> {
        // SAFETY: CK_SESSION_INFO is plain data; all-zero is a valid value.
        let mut info: CK_SESSION_INFO = unsafe { std::mem::zeroed() };
        let rv = call!(self, C_GetSessionInfo(s, &mut info));
        if rv != CKR_OK {
            return Err(rv);
        }
        Ok(info.state)
    }

    fn token_info(&self, slot: CK_SLOT_ID) -> Result<CK_TOKEN_INFO, CK_RV> {
        // SAFETY: CK_TOKEN_INFO is plain data; all-zero is a valid value.
        let mut info: CK_TOKEN_INFO = unsafe { std::mem::zeroed() };
        let rv = call!(self, C_GetTokenInfo(slot, &mut info));
        if rv != CKR_OK {
            return Err(rv);
        }
        Ok(info)
    }
}

/// A test token with a user PIN, the module initialized through `cryptoki` (kept alive in
/// `_ctx`), and the raw function list for the calls.
struct Setup {
    p: P,
    slot: CK_SLOT_ID,
    _raw: Raw,
    _ctx: Pkcs11,
    _env: TestEnv,
}

fn setup(label: &str) -> Setup {
    let env = TestEnv::new();
    let ctx = env.load();
    let slot = init_token(&ctx, label).id();
    let raw = Raw::load();
    Setup {
        p: P(*raw.f()),
        slot,
        _raw: raw,
        _ctx: ctx,
        _env: env,
    }
}

/// A readable data object with a known value.
fn data(label: &str, token: bool, private: bool) -> Tmpl {
    Tmpl::new()
        .u(CKA_CLASS, CKO_DATA)
        .b(CKA_TOKEN, token)
        .b(CKA_PRIVATE, private)
        .bytes(CKA_LABEL, label)
        .bytes(CKA_VALUE, format!("value of {label}"))
}

// ---- C_Logout (§5.6.6): handles to private objects are invalid for good ------------------

/// The review's case: a private session object read again through its old handle after
/// C_Logout and a new C_Login. It is destroyed at logout, and stays gone.
#[test]
fn logout_destroys_private_session_objects() {
    let t = setup("logout-session-objects");
    let p = t.p;
    let a = p.open_ok(t.slot, true);
    let b = p.open_ok(t.slot, true);
    ok("C_Login", p.login(a, CKU_USER, USER_PIN));
    let private = p.create(b, &data("private session object", false, true));
    let public = p.create(b, &data("public session object", false, false));
    assert!(p.value(a, private).is_ok());

    ok("C_Logout", p.logout(a));
    ok("C_Login again", p.login(a, CKU_USER, USER_PIN));
    for s in [a, b] {
        want(
            "the private session object's old handle after logout and login",
            p.value(s, private).err().unwrap_or(CKR_OK),
            CKR_OBJECT_HANDLE_INVALID,
        );
    }
    assert!(
        p.find(a, b"private session object").is_empty(),
        "the private session object must be destroyed at logout"
    );
    // Public session objects are not the logout's business.
    assert_eq!(
        p.value(a, public).ok(),
        Some(b"value of public session object".to_vec())
    );
}

/// A private token object survives the logout, but under a new handle: the old one stays
/// invalid after the next login.
#[test]
fn logout_invalidates_handles_of_private_token_objects() {
    let t = setup("logout-token-objects");
    let p = t.p;
    let s = p.open_ok(t.slot, true);
    ok("C_Login", p.login(s, CKU_USER, USER_PIN));
    let old = p.create(s, &data("private token object", true, true));
    let public = p.create(s, &data("public token object", true, false));

    ok("C_Logout", p.logout(s));
    ok("C_Login again", p.login(s, CKU_USER, USER_PIN));
    want(
        "the old handle of a private token object after logout and login",
        p.value(s, old).err().unwrap_or(CKR_OK),
        CKR_OBJECT_HANDLE_INVALID,
    );
    let found = p.find(s, b"private token object");
    assert_eq!(
        found.len(),
        1,
        "the object itself is still there: {found:?}"
    );
    assert_ne!(
        found[0], old,
        "the object must come back under a new handle"
    );
    assert_eq!(
        p.value(s, found[0]).ok(),
        Some(b"value of private token object".to_vec())
    );
    // A public object's handle stays valid across logout and login.
    assert_eq!(
        p.value(s, public).ok(),
        Some(b"value of public token object".to_vec())
    );
}

/// Operations and searches set up under the login end with it (the specification leaves open
/// whether they stay active; this module ends them): a MAC with a private key gives nothing
/// after C_Logout, nor after the next C_Login, in any of the application's sessions.
#[test]
fn logout_ends_operations_and_searches() {
    let t = setup("logout-operations");
    let p = t.p;
    let a = p.open_ok(t.slot, true);
    let b = p.open_ok(t.slot, false);
    ok("C_Login", p.login(a, CKU_USER, USER_PIN));
    let key = p.create(
        a,
        &secret(CKK_GENERIC_SECRET, &[0x5a; 32])
            .b(CKA_TOKEN, true)
            .bytes(CKA_LABEL, "hmac key"),
    );
    p.create(a, &data("findable", true, true));

    ok("C_SignInit in a", p.sign_init(a, CKM_SHA256_HMAC, key));
    ok("C_SignInit in b", p.sign_init(b, CKM_SHA256_HMAC, key));
    ok("C_FindObjectsInit in b", p.find_init(b, b"findable"));
    ok("C_Logout", p.logout(a));
    want(
        "C_Sign with a private key after logout",
        p.sign(a, b"data").err().unwrap_or(CKR_OK),
        CKR_OPERATION_NOT_INITIALIZED,
    );
    want(
        "C_FindObjects after logout",
        p.find_next(b).err().unwrap_or(CKR_OK),
        CKR_OPERATION_NOT_INITIALIZED,
    );
    ok("C_Login again", p.login(a, CKU_USER, USER_PIN));
    want(
        "C_Sign in the other session after logout and login",
        p.sign(b, b"data").err().unwrap_or(CKR_OK),
        CKR_OPERATION_NOT_INITIALIZED,
    );
    // New operations work as usual.
    assert_eq!(p.find(b, b"findable").len(), 1);
    ok(
        "C_SignInit after the new login",
        p.sign_init(a, CKM_SHA256_HMAC, key_again(&p, a)),
    );
    assert_eq!(p.sign(a, b"data").map(|m| m.len()), Ok(32));
}

/// The HMAC key of `logout_ends_operations_and_searches`, found again after a new login.
fn key_again(p: &P, s: CK_SESSION_HANDLE) -> CK_OBJECT_HANDLE {
    let found = p.find(s, b"hmac key");
    assert_eq!(found.len(), 1);
    found[0]
}

/// The last session's close logs the application out (§5.6.x C_CloseSession): the same
/// invalidation as C_Logout.
#[test]
fn closing_the_last_session_invalidates_private_handles() {
    let t = setup("last-close");
    let p = t.p;
    let s = p.open_ok(t.slot, true);
    ok("C_Login", p.login(s, CKU_USER, USER_PIN));
    let old = p.create(s, &data("private token object", true, true));
    ok("C_CloseSession", p.close(s));

    let s = p.open_ok(t.slot, true);
    ok("C_Login in a new session", p.login(s, CKU_USER, USER_PIN));
    want(
        "the old handle after the last session closed and a new login",
        p.value(s, old).err().unwrap_or(CKR_OK),
        CKR_OBJECT_HANDLE_INVALID,
    );
    let found = p.find(s, b"private token object");
    assert_eq!(found.len(), 1);
    assert_ne!(found[0], old);

    // The same through C_CloseAllSessions.
    let old = found[0];
    ok("C_CloseAllSessions", call!(p, C_CloseAllSessions(t.slot)));
    let s = p.open_ok(t.slot, true);
    ok("C_Login in a new session", p.login(s, CKU_USER, USER_PIN));
    want(
        "the old handle after C_CloseAllSessions and a new login",
        p.value(s, old).err().unwrap_or(CKR_OK),
        CKR_OBJECT_HANDLE_INVALID,
    );
}

/// C_InitToken on a token makes every old handle invalid, private or not.
#[test]
fn reinitialization_invalidates_every_handle() {
    let t = setup("reinit-handles");
    let p = t.p;
    let s = p.open_ok(t.slot, true);
    let public = p.create(s, &data("public token object", true, false));
    ok("C_CloseSession", p.close(s));
    let mut pin = SO_PIN.as_bytes().to_vec();
    let mut label = [b' '; 32];
    label[..6].copy_from_slice(b"reinit");
    ok(
        "C_InitToken",
        call!(
            p,
            C_InitToken(
                t.slot,
                pin.as_mut_ptr(),
                pin.len() as CK_ULONG,
                label.as_mut_ptr()
            )
        ),
    );
    let s = p.open_ok(t.slot, true);
    want(
        "a handle from before C_InitToken",
        p.value(s, public).err().unwrap_or(CKR_OK),
        CKR_OBJECT_HANDLE_INVALID,
    );
}

// ---- concurrency -------------------------------------------------------------------------

/// Run `body` in its own thread; fail (not hang) when it does not finish within `limit`.
fn with_deadline(what: &str, limit: Duration, body: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        body();
        let _ = tx.send(());
    });
    match rx.recv_timeout(limit) {
        Ok(()) => worker.join().expect("test body"),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // The body panicked: report its panic.
            if let Err(e) = worker.join() {
                std::panic::resume_unwind(e);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: not done after {limit:?}; the module deadlocked")
        }
    }
}

/// The slot whose token is not initialized.
fn free(p: &P) -> Option<CK_SLOT_ID> {
    let mut n: CK_ULONG = 0;
    if call!(p, C_GetSlotList(CK_FALSE, null_mut(), &mut n)) != CKR_OK {
        return None;
    }
    let mut ids = vec![0; n as usize + 4];
    n = ids.len() as CK_ULONG;
    if call!(p, C_GetSlotList(CK_FALSE, ids.as_mut_ptr(), &mut n)) != CKR_OK {
        return None;
    }
    ids.truncate(n as usize);
    ids.into_iter().find(|id| {
        p.token_info(*id)
            .is_ok_and(|i| i.flags & CKF_TOKEN_INITIALIZED == 0)
    })
}

/// The review's deadlock: C_InitToken held the slot's state and then took the list of known
/// token files, while C_GetSlotList's rescan held that list and took the slot's state. One
/// thread creates tokens in the free slot and re-initializes an existing one while others list
/// slots, read token information and open and close sessions.
#[test]
fn init_token_races_slot_list_token_info_and_sessions() {
    const NEW_TOKENS: usize = 40;
    let t = setup("race-existing");
    let p = t.p;
    let existing = t.slot;
    with_deadline(
        "C_InitToken against the slot functions",
        Duration::from_secs(120),
        move || {
            let done = Arc::new(AtomicBool::new(false));
            let calls = Arc::new(AtomicUsize::new(0));
            let mut threads = Vec::new();
            for _ in 0..2 {
                let (done, calls) = (done.clone(), calls.clone());
                threads.push(std::thread::spawn(move || {
                    while !done.load(SeqCst) {
                        let mut n: CK_ULONG = 0;
                        call!(p, C_GetSlotList(CK_FALSE, null_mut(), &mut n));
                        let mut ids = vec![0; n as usize + 4];
                        n = ids.len() as CK_ULONG;
                        if call!(p, C_GetSlotList(CK_TRUE, ids.as_mut_ptr(), &mut n)) == CKR_OK {
                            for id in &ids[..n as usize] {
                                let _ = p.token_info(*id);
                            }
                        }
                        calls.fetch_add(1, SeqCst);
                    }
                }));
            }
            {
                let (done, calls) = (done.clone(), calls.clone());
                threads.push(std::thread::spawn(move || {
                    while !done.load(SeqCst) {
                        if let (CKR_OK, h) = p.open(existing, true) {
                            let _ = p.session_state(h);
                            let _ = p.close(h);
                        }
                        if let (CKR_OK, _) = p.open(existing, false) {
                            let _ = call!(p, C_CloseAllSessions(existing));
                        }
                        calls.fetch_add(1, SeqCst);
                    }
                }));
            }
            let mut pin = SO_PIN.as_bytes().to_vec();
            let mut created = 0;
            for i in 0..NEW_TOKENS {
                let mut label = [b' '; 32];
                let name = format!("race-{i}");
                label[..name.len()].copy_from_slice(name.as_bytes());
                let slot = free(&p).expect("a free slot");
                let rv = call!(
                    p,
                    C_InitToken(
                        slot,
                        pin.as_mut_ptr(),
                        pin.len() as CK_ULONG,
                        label.as_mut_ptr()
                    )
                );
                // Another thread's C_GetSlotList may have renumbered nothing: the free slot's
                // token is made here and nowhere else.
                ok("C_InitToken on the free slot", rv);
                created += 1;
                let rv = call!(
                    p,
                    C_InitToken(
                        existing,
                        pin.as_mut_ptr(),
                        pin.len() as CK_ULONG,
                        label.as_mut_ptr()
                    )
                );
                assert!(
                    rv == CKR_OK || rv == CKR_SESSION_EXISTS,
                    "C_InitToken of the existing token: {}",
                    rvn(rv)
                );
            }
            done.store(true, SeqCst);
            for th in threads {
                th.join().expect("worker thread");
            }
            assert_eq!(created, NEW_TOKENS);
            assert!(calls.load(SeqCst) > 0, "the other threads made no calls");
            // Every token made is in the slot list, with one free slot besides.
            let mut n: CK_ULONG = 0;
            ok(
                "C_GetSlotList",
                call!(p, C_GetSlotList(CK_FALSE, null_mut(), &mut n)),
            );
            assert_eq!(
                n as usize,
                NEW_TOKENS + 2,
                "slots: the tokens made, the first one, the free one"
            );
        },
    );
}

/// An SO login must not succeed while the application has a read-only session (§5.6.x
/// C_Login: CKR_SESSION_READ_ONLY_EXISTS), and a read-only session must not open while the SO
/// is logged in (C_OpenSession: CKR_SESSION_READ_WRITE_SO_EXISTS), also when both happen at
/// once in two threads: the check and the change are one step.
#[test]
fn so_login_and_read_only_sessions_exclude_each_other_under_concurrency() {
    let t = setup("so-ro-race");
    let p = t.p;
    let slot = t.slot;
    with_deadline(
        "SO login against R/O sessions",
        Duration::from_secs(120),
        move || {
            let stop = Instant::now() + Duration::from_secs(6);
            let violations = Arc::new(AtomicUsize::new(0));
            let logins = Arc::new(AtomicUsize::new(0));
            let opens = Arc::new(AtomicUsize::new(0));
            let mut threads = Vec::new();
            for _ in 0..2 {
                let (violations, opens) = (violations.clone(), opens.clone());
                threads.push(std::thread::spawn(move || {
                    while Instant::now() < stop {
                        let (rv, h) = p.open(slot, false);
                        match rv {
                            CKR_OK => {
                                opens.fetch_add(1, SeqCst);
                                // Only the SO ever logs in here: a R/O session in a logged-in
                                // state means it coexists with the SO's login.
                                if p.session_state(h) != Ok(CKS_RO_PUBLIC_SESSION) {
                                    violations.fetch_add(1, SeqCst);
                                }
                                let _ = p.close(h);
                            }
                            CKR_SESSION_READ_WRITE_SO_EXISTS => {}
                            other => panic!("C_OpenSession R/O: {}", rvn(other)),
                        }
                    }
                }));
            }
            let rw = p.open_ok(slot, true);
            while Instant::now() < stop {
                match p.login(rw, CKU_SO, SO_PIN) {
                    CKR_OK => {
                        logins.fetch_add(1, SeqCst);
                        let info = p.token_info(slot).expect("C_GetTokenInfo");
                        if info.ulSessionCount != info.ulRwSessionCount {
                            violations.fetch_add(1, SeqCst);
                        }
                        ok("C_Logout SO", p.logout(rw));
                    }
                    CKR_SESSION_READ_ONLY_EXISTS => {}
                    other => panic!("C_Login SO: {}", rvn(other)),
                }
            }
            for th in threads {
                th.join().expect("worker thread");
            }
            eprintln!(
                "so-ro race: {} SO logins, {} R/O opens, {} violations",
                logins.load(SeqCst),
                opens.load(SeqCst),
                violations.load(SeqCst)
            );
            assert_eq!(
                violations.load(SeqCst),
                0,
                "a R/O session coexisted with an SO login"
            );
        },
    );
}

/// C_GetSlotList while another process is still creating a token: its file exists, empty,
/// until the creation commits. Meanwhile its slot is unrecognized; once the file is complete
/// the next C_GetSlotList shows the token, not CKR_TOKEN_NOT_RECOGNIZED until a restart.
#[test]
fn a_token_file_completed_after_a_slot_list_shows_up() {
    let env = TestEnv::sqlite();
    let ctx = env.load();
    let slot = init_token(&ctx, "late");
    let serial = serial_of(&ctx, slot);
    ctx.finalize().expect("C_Finalize");
    let file = env.token_file(&serial);
    let done = env.root().join("done.sqlite");
    std::fs::rename(&file, &done).expect("move the token file away");
    // What another process's TokenDb::create leaves until it commits.
    std::fs::write(&file, b"").expect("empty token file");

    let ctx = env.load();
    ctx.get_all_slots().expect("C_GetSlotList");
    match ctx.get_token_info(slot) {
        Err(cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::TokenNotRecognized, _)) => {}
        other => panic!("the half-made token: {other:?}"),
    }
    for suffix in ["-wal", "-shm"] {
        let mut p = file.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
    std::fs::rename(&done, &file).expect("the creation completes");
    ctx.get_all_slots().expect("C_GetSlotList");
    let info = ctx
        .get_token_info(slot)
        .expect("C_GetTokenInfo once the token is complete");
    assert_eq!(info.label(), "late");
    let s = user_session(&ctx, slot);
    s.logout().expect("C_Logout");
}
