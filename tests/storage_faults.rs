//! Storage faults (PKCS#11 v3.0 §5.1: CKR_DEVICE_MEMORY "the token does not have sufficient
//! memory", CKR_DEVICE_ERROR "some problem has occurred with the token", CKR_TOKEN_WRITE_PROTECTED
//! "the token is write-protected") against ferrohsm's token file (README "Storage format"): on a
//! read-only token directory and on a file system that is full, every write fails cleanly with
//! one of those, reads (login, search, attribute values, signing) keep working, and nothing
//! stored before is lost once the storage is writable again.
//!
//! Read-only: the token directory 0500 with the file 0400 (or 0600: the directory alone refuses
//! SQLite's `-wal` and `-shm` files), owned by the child's user. Permission bits do not stop
//! root, so as root the child process drops to uid/gid 65534 (the files are chowned to it) after
//! loading the module and before C_Initialize. Full disk: the child sets RLIMIT_FSIZE and ignores
//! SIGXFSZ, so a write beyond the limit fails with EFBIG (or is cut short) like on a full file
//! system; it needs no mount and works unprivileged.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType};
use cryptoki::session::{Session, UserType};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const TOKEN: &str = "faults";
/// Public and private data objects stored before the fault (this many of each).
const BASE_OBJECTS: usize = 4;
/// Size of each object written to fill the file system.
const BIG_VALUE: usize = 64 * 1024;
/// RLIMIT_FSIZE of the full-disk children: the largest file (the WAL) may grow to this.
const FSIZE_LIMIT: u64 = 1024 * 1024;
/// A full-disk child that could write this many big objects has no working limit.
const MAX_FILL: usize = 200;
/// The unprivileged user a root test runs the read-only child as.
const NOBODY: u32 = 65534;
const MESSAGE: &[u8] = b"signed before and during the fault";

const CASE_VAR: &str = "FERROHSM_FAULT_CASE";
const DROP_VAR: &str = "FERROHSM_FAULT_DROP_TO_NOBODY";
const MAC_VAR: &str = "FERROHSM_FAULT_MAC";
const BIGS_VAR: &str = "FERROHSM_FAULT_BIGS";
const PIN_VAR: &str = "FERROHSM_FAULT_PIN";
const TAG_VAR: &str = "FERROHSM_FAULT_TAG";

/// The errors a write to unwritable storage may give.
const WRITE_FAILURES: &[RvError] = &[
    RvError::DeviceMemory,
    RvError::DeviceError,
    RvError::TokenWriteProtected,
];

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} not set"))
}

/// Deterministic bytes for a label.
fn pattern(label: &str, len: usize) -> Vec<u8> {
    let mut x = label.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    }) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A data object the test expects on the token.
#[derive(Debug, Clone)]
struct Expect {
    label: String,
    value: Vec<u8>,
    private: bool,
}

fn base_objects() -> Vec<Expect> {
    (0..BASE_OBJECTS)
        .flat_map(|k| {
            [false, true].map(|private| {
                let label = format!("{}-{k}", if private { "priv" } else { "pub" });
                Expect {
                    value: pattern(&label, 100 + 3000 * k),
                    label,
                    private,
                }
            })
        })
        .collect()
}

fn big(label: &str) -> Expect {
    Expect {
        label: label.to_owned(),
        value: pattern(label, BIG_VALUE),
        private: false,
    }
}

/// The base objects and the big objects named in `bigs` (comma-separated).
fn expected(bigs: &str) -> Vec<Expect> {
    let mut all = base_objects();
    all.extend(bigs.split(',').filter(|s| !s.is_empty()).map(big));
    all
}

/// Every expected object (the private ones only when logged in) is there once with its value,
/// there is nothing else but the MAC key, and the MAC key still signs to `mac`.
#[track_caller]
fn verify(s: &Session, want: &[Expect], logged_in: bool, mac: Option<&[u8]>, when: &str) {
    let mut visible = 0;
    for e in want.iter().filter(|e| logged_in || !e.private) {
        let found = find_by_label(s, &e.label);
        assert_eq!(found.len(), 1, "{when}: object {} on the token", e.label);
        let value = read_bytes(s, found[0], AttributeType::Value)
            .unwrap_or_else(|err| panic!("{when}: CKA_VALUE of {}: {err}", e.label));
        assert!(value == e.value, "{when}: the value of {} changed", e.label);
        assert_eq!(
            read_bool(s, found[0], AttributeType::Private).expect("CKA_PRIVATE"),
            e.private,
            "{when}: CKA_PRIVATE of {}",
            e.label
        );
        visible += 1;
    }
    let all = s.find_objects(&[]).expect("C_FindObjects of everything");
    if all.len() != visible + usize::from(logged_in) {
        let labels: Vec<String> = all
            .iter()
            .map(|h| match read_bytes(s, *h, AttributeType::Label) {
                Ok(l) => String::from_utf8_lossy(&l).into_owned(),
                Err(e) => format!("<label unreadable: {e}>"),
            })
            .filter(|l| l != "mac-key" && !want.iter().any(|e| &e.label == l))
            .collect();
        panic!(
            "{when}: {} objects on the token, {} expected (with the MAC key when logged in); \
             unexpected: {labels:?}",
            all.len(),
            visible + usize::from(logged_in)
        );
    }
    if let Some(mac) = mac {
        let key = one_by_label(s, "mac-key");
        let got = s
            .sign(&Mechanism::Sha256Hmac, key, MESSAGE)
            .unwrap_or_else(|e| panic!("{when}: HMAC with the stored key: {e}"));
        assert!(got == mac, "{when}: HMAC with the stored key differs");
    }
}

/// A write that may work or fail cleanly; `true` if it worked.
#[track_caller]
fn maybe<T: std::fmt::Debug>(what: &str, r: cryptoki::error::Result<T>) -> bool {
    match r {
        Ok(_) => true,
        Err(Error::Pkcs11(rv, _)) if WRITE_FAILURES.contains(&rv) => false,
        other => panic!(
            "{what} on a full disk: expected success or one of {WRITE_FAILURES:?}, got {other:?}"
        ),
    }
}

/// Load the module (dlopen only: it must stay readable after the privilege drop), then drop to
/// nobody if asked, then C_Initialize.
fn load_as_child() -> (Pkcs11, Raw) {
    let ctx = Pkcs11::new(module_path()).expect("load libferrohsm.so");
    let raw = Raw::load();
    if std::env::var_os(DROP_VAR).is_some() {
        // SAFETY: plain system calls with valid arguments (a NULL list of length 0).
        let rc = unsafe {
            (
                libc::setgroups(0, std::ptr::null()),
                libc::setgid(NOBODY),
                libc::setuid(NOBODY),
            )
        };
        assert_eq!(rc, (0, 0, 0), "dropping to uid/gid {NOBODY}");
        // SAFETY: geteuid has no preconditions.
        assert_eq!(unsafe { libc::geteuid() }, NOBODY);
    }
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .expect("C_Initialize");
    (ctx, raw)
}

/// The slot of the test token; if it is missing, fail with what every slot reports.
fn token_slot(ctx: &Pkcs11, when: &str) -> cryptoki::slot::Slot {
    let slots = ctx.get_all_slots().expect("C_GetSlotList");
    for s in &slots {
        if let Ok(i) = ctx.get_token_info(*s) {
            if i.token_initialized() && i.label() == TOKEN {
                return *s;
            }
        }
    }
    let infos: Vec<String> = slots
        .iter()
        .map(|s| match ctx.get_token_info(*s) {
            Ok(i) => format!("slot {}: token {:?}", s.id(), i.label()),
            Err(e) => format!("slot {}: C_GetTokenInfo {e}", s.id()),
        })
        .collect();
    panic!("{when}: the token does not open; slots: {infos:?}");
}

/// The child on a read-only token: every read works, every write fails cleanly.
fn read_only_child() {
    let (ctx, _raw) = load_as_child();
    let case = var(CASE_VAR);
    let mac = hex_decode(&var(MAC_VAR));
    let want = base_objects();
    let when = format!("read-only ({case})");
    let slot = token_slot(&ctx, &when);

    let ro = ctx.open_ro_session(slot).expect("R/O session");
    verify(&ro, &want, false, None, &format!("{when}, public"));
    // The failure count cannot be stored (whoever can read the file can guess offline
    // anyway); a wrong PIN is still a wrong PIN.
    expect_rv(
        ro.login(UserType::User, Some(&pin("wrong-pin-0000"))),
        RvError::PinIncorrect,
    );
    ro.login(UserType::User, Some(&pin(USER_PIN)))
        .unwrap_or_else(|e| panic!("{when}: C_Login with the user PIN: {e}"));
    verify(&ro, &want, true, Some(&mac), &when);

    let mut seen = Vec::new();
    // A token the module could open only read-only says so (CKF_WRITE_PROTECTED) and refuses
    // R/W sessions with CKR_TOKEN_WRITE_PROTECTED (§5.6.1), so no token write can be tried.
    let info = ctx.get_token_info(slot).expect("C_GetTokenInfo");
    assert!(
        info.write_protected(),
        "{when}: CKF_WRITE_PROTECTED not set"
    );
    expect_rv(ctx.open_rw_session(slot), RvError::TokenWriteProtected);
    seen.push("C_OpenSession R/W: TokenWriteProtected".to_owned());
    // Token objects cannot be written through a R/O session at all.
    expect_rv(
        ro.create_object(&data_object("new", b"v", true, false)),
        RvError::SessionReadOnly,
    );
    expect_rv(
        ro.update_attributes(
            one_by_label(&ro, "pub-0"),
            &[Attribute::Label(b"renamed".to_vec())],
        ),
        RvError::SessionReadOnly,
    );
    expect_rv(
        ro.destroy_object(one_by_label(&ro, "priv-1")),
        RvError::SessionReadOnly,
    );
    // Session objects live in memory: they still work.
    let so = ro
        .create_object(&data_object("session-object", b"v", false, false))
        .unwrap_or_else(|e| panic!("{when}: a session object: {e}"));
    ro.destroy_object(so).expect("destroy the session object");
    verify(
        &ro,
        &want,
        true,
        Some(&mac),
        &format!("{when}, after the writes"),
    );
    ro.logout().expect("C_Logout");
    drop(ro);
    // Re-initializing would wipe the token: it is write-protected, and nothing is wiped.
    expect_rv(
        ctx.init_token(slot, &pin(SO_PIN), TOKEN),
        RvError::TokenWriteProtected,
    );
    seen.push("C_InitToken: TokenWriteProtected".to_owned());
    let ro = ctx.open_ro_session(slot).expect("R/O session");
    ro.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("login after C_InitToken failed");
    verify(
        &ro,
        &want,
        true,
        Some(&mac),
        &format!("{when}, after C_InitToken"),
    );
    drop(ro);
    for s in seen {
        println!("FAULT {case}: {s}");
    }
    ctx.finalize().expect("C_Finalize");
}

/// The child under RLIMIT_FSIZE: fills the file system with public objects until a write fails,
/// then logs in, reads everything and tries more writes.
fn full_disk_child() {
    // SAFETY: ignoring SIGXFSZ (so write(2) returns EFBIG instead of killing the process) and
    // setting a resource limit are process-wide settings with valid arguments.
    unsafe {
        assert_ne!(libc::signal(libc::SIGXFSZ, libc::SIG_IGN), libc::SIG_ERR);
        let lim = libc::rlimit {
            rlim_cur: FSIZE_LIMIT,
            rlim_max: FSIZE_LIMIT,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &lim), 0, "setrlimit");
    }
    let (ctx, _raw) = load_as_child();
    let tag = var(TAG_VAR);
    let user_pin = var(PIN_VAR);
    let mac = hex_decode(&var(MAC_VAR));
    let mut want = expected(&var(BIGS_VAR));
    let when = format!("full disk ({tag})");
    let slot = token_slot(&ctx, &when);

    let s = ctx.open_rw_session(slot).expect("R/W session");
    verify(&s, &want, false, None, &format!("{when}, public"));
    let mut failed = None;
    for n in 0..MAX_FILL {
        let e = big(&format!("big-{tag}-{n}"));
        match s.create_object(&data_object(&e.label, &e.value, true, false)) {
            Ok(_) => {
                println!("FAULT created {}", e.label);
                want.push(e);
            }
            Err(Error::Pkcs11(rv, _)) if WRITE_FAILURES.contains(&rv) => {
                failed = Some((n, rv));
                break;
            }
            Err(other) => panic!("{when}: C_CreateObject of {}: {other}", e.label),
        }
    }
    let Some((n, rv)) = failed else {
        panic!("{when}: {MAX_FILL} objects of {BIG_VALUE} bytes written under RLIMIT_FSIZE {FSIZE_LIMIT}");
    };
    println!("FAULT failed after {n} objects: {rv:?}");
    // The same write again: still no room.
    let again = big(&format!("big-{tag}-again"));
    if maybe(
        "C_CreateObject again",
        s.create_object(&data_object(&again.label, &again.value, true, false)),
    ) {
        println!("FAULT created {}", again.label);
        want.push(again);
    }
    verify(
        &s,
        &want,
        false,
        None,
        &format!("{when}, after the failure"),
    );

    s.login(UserType::User, Some(&pin(&user_pin)))
        .unwrap_or_else(|e| panic!("{when}: C_Login with the user PIN: {e}"));
    verify(&s, &want, true, Some(&mac), &format!("{when}, logged in"));
    let new_pin = format!("user-pin-after-{tag}");
    if maybe("C_SetPIN", s.set_pin(&pin(&user_pin), &pin(&new_pin))) {
        println!("FAULT pin {new_pin}");
    } else {
        println!("FAULT pin {user_pin}");
    }
    verify(
        &s,
        &want,
        true,
        Some(&mac),
        &format!("{when}, after C_SetPIN"),
    );
    drop(s);
    ctx.finalize().expect("C_Finalize");
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The child side: does nothing unless started by a parent test with a role.
#[test]
fn child() {
    let Ok(role) = std::env::var(CHILD_ROLE_VAR) else {
        return;
    };
    match role.as_str() {
        "read-only" => read_only_child(),
        "full-disk" => full_disk_child(),
        other => panic!("unknown child role {other}"),
    }
}

/// A token with the base objects and an HMAC key; returns the HMAC of `MESSAGE` and the serial.
fn stored_token() -> (Vec<u8>, String) {
    let ctx = load_module();
    let slot = init_token(&ctx, TOKEN);
    let s = user_session(&ctx, slot);
    for e in base_objects() {
        s.create_object(&data_object(&e.label, &e.value, true, e.private))
            .expect("create");
    }
    let mut key = generic_secret("mac-key", &pattern("mac-key", 32), true, true);
    key.push(Attribute::Sign(true));
    let key = s.create_object(&key).expect("MAC key");
    let mac = s.sign(&Mechanism::Sha256Hmac, key, MESSAGE).expect("HMAC");
    verify(&s, &base_objects(), true, Some(&mac), "before the fault");
    let serial = serial_of(&ctx, slot);
    drop(s);
    ctx.finalize().expect("C_Finalize");
    (mac, serial)
}

/// Run a child to success and return its standard output.
fn run_child(role: &str, env: &[(&str, &str)], what: &str) -> String {
    let out = spawn_child("child", role, env)
        .wait_with_output()
        .expect("wait for child");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child {what} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The `FAULT …` reports of a child (the first may follow libtest's `test child ... `).
fn fault_lines(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter_map(|l| l.split_once("FAULT ").map(|(_, r)| r))
        .collect()
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {:o} {}: {e}", mode, path.display()));
}

fn chown(path: &Path, id: u32) {
    std::os::unix::fs::chown(path, Some(id), Some(id))
        .unwrap_or_else(|e| panic!("chown {id} {}: {e}", path.display()));
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Gives the token directory and files back to the test's user, writable (on drop).
struct Restore<'a>(&'a TestEnv);

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        // Errors ignored: this may run while a failed check unwinds.
        let env = self.0;
        let mode = |p: &Path, m: u32| {
            let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(m));
        };
        let to_root = |p: &Path| {
            if is_root() {
                let _ = std::os::unix::fs::chown(p, Some(0), Some(0));
            }
        };
        to_root(env.token_dir());
        mode(env.token_dir(), 0o700);
        for f in files_under(env.token_dir()) {
            to_root(&f);
            mode(&f, 0o600);
        }
        if is_root() {
            mode(env.root(), 0o700);
        }
    }
}

/// Make the token directory read-only for the child (`file_mode` for the files in it), run the
/// read-only child, then make it writable again (also when the child failed).
fn read_only_case(env: &TestEnv, case: &str, file_mode: u32, mac: &[u8]) -> Vec<String> {
    let root = is_root();
    let _restore = Restore(env);
    if root {
        // nobody must reach the token directory and read the configuration.
        chmod(env.root(), 0o711);
        chmod(env.conf(), 0o644);
        chown(env.token_dir(), NOBODY);
    }
    for f in files_under(env.token_dir()) {
        if root {
            chown(&f, NOBODY);
        }
        chmod(&f, file_mode);
    }
    chmod(env.token_dir(), 0o500);

    let mac_hex = hex(mac);
    let mut child_env = vec![(CASE_VAR, case), (MAC_VAR, mac_hex.as_str())];
    if root {
        child_env.push((DROP_VAR, "1"));
    }
    let out = run_child("read-only", &child_env, &format!("read-only {case}"));
    fault_lines(&out).into_iter().map(str::to_owned).collect()
}

#[test]
fn read_only_token_directory() {
    let env = TestEnv::sqlite();
    let (mac, serial) = stored_token();
    let mut cases = 0;
    for (case, file_mode) in [("directory and file", 0o400), ("directory only", 0o600)] {
        let seen = read_only_case(&env, case, file_mode, &mac);
        for s in &seen {
            println!("storage faults: read-only {s}");
        }
        cases += seen.len();

        // Writable again: everything is there and writes work.
        let ctx = load_module();
        let s = user_session(&ctx, slot_by_label(&ctx, TOKEN));
        verify(&s, &base_objects(), true, Some(&mac), "writable again");
        let h = s
            .create_object(&data_object("new", b"v", true, true))
            .expect("a write once the directory is writable again");
        s.destroy_object(h).expect("destroy");
        drop(s);
        ctx.finalize().expect("C_Finalize");
    }
    let db = rusqlite::Connection::open(env.token_file(&serial)).expect("open token file");
    let integrity: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(integrity, "ok");
    println!(
        "storage faults: read-only token directory ({}), {cases} writes refused, {} objects intact",
        if is_root() {
            "child dropped to uid 65534"
        } else {
            "permission bits"
        },
        base_objects().len() + 1
    );
}

#[test]
fn full_file_system() {
    let env = TestEnv::sqlite();
    let (mac, serial) = stored_token();
    let mac_hex = hex(&mac);
    let mut bigs: Vec<String> = Vec::new();
    let mut user_pin = USER_PIN.to_owned();
    let mut failures = Vec::new();
    // Two processes in turn, each filling its files to the limit. The second (a fresh process:
    // no cache) first reads what the first left; its token file has grown near the limit too,
    // so the WAL checkpoints into it fail as well.
    for tag in ["a", "b"] {
        let joined = bigs.join(",");
        let out = run_child(
            "full-disk",
            &[
                (TAG_VAR, tag),
                (PIN_VAR, &user_pin),
                (MAC_VAR, &mac_hex),
                (BIGS_VAR, &joined),
            ],
            &format!("full disk {tag}"),
        );
        for l in fault_lines(&out) {
            if let Some(label) = l.strip_prefix("created ") {
                bigs.push(label.to_owned());
            } else if let Some(p) = l.strip_prefix("pin ") {
                user_pin = p.to_owned();
            } else {
                failures.push(format!("process {tag}: {l}"));
            }
        }
    }

    let sizes: Vec<String> = files_under(env.token_dir())
        .iter()
        .map(|f| {
            let name = f.file_name().expect("name").to_string_lossy().into_owned();
            format!("{name} {}", std::fs::metadata(f).expect("metadata").len())
        })
        .collect();
    println!("storage faults: token files after the full disk: {sizes:?}");

    // More room: everything is there, and writes work again.
    let ctx = load_module();
    let slot = slot_by_label(&ctx, TOKEN);
    let s = ctx.open_rw_session(slot).expect("R/W session");
    s.login(UserType::User, Some(&pin(&user_pin)))
        .expect("login with the PIN the full-disk children left");
    let want = expected(&bigs.join(","));
    verify(&s, &want, true, Some(&mac), "after the full disk");
    let e = big("big-after");
    s.create_object(&data_object(&e.label, &e.value, true, false))
        .expect("a big write once there is room");
    for label in &bigs {
        s.destroy_object(one_by_label(&s, label))
            .expect("destroy a big object");
    }
    verify(
        &s,
        &expected("big-after"),
        true,
        Some(&mac),
        "after freeing space",
    );
    drop(s);
    ctx.finalize().expect("C_Finalize");
    let db = rusqlite::Connection::open(env.token_file(&serial)).expect("open token file");
    let integrity: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(integrity, "ok");
    for f in &failures {
        println!("storage faults: full disk, {f}");
    }
    println!(
        "storage faults: full disk (RLIMIT_FSIZE {FSIZE_LIMIT} bytes), {} objects of {BIG_VALUE} \
         bytes written before the writes failed, {} objects verified afterwards; final PIN {}",
        bigs.len(),
        want.len() + 1,
        if user_pin == USER_PIN {
            "unchanged"
        } else {
            "changed"
        }
    );
}
