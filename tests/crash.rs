//! Crash safety of ferrohsm's token store (README "Storage format": one `BEGIN IMMEDIATE`
//! transaction per change, WAL with `synchronous=NORMAL`, so every committed change survives a
//! process crash). A writer process creates, changes and destroys token objects in a loop and is
//! killed with SIGKILL at random moments, many times; after each kill a fresh checker process
//! opens the token, logs in with both PINs and checks every object against the writer's journal:
//! each journaled change is there exactly, nothing else changed (the one call in flight at the
//! kill may or may not have happened, as a whole), and no object is half written. The second test
//! does the same while a reader process searches and reads all objects the whole time.
//!
//! The test binary re-executes itself (`tests/multiprocess.rs` style) to run its `child` test in
//! a role: `writer`, `checker` or `reader`. `FERROHSM_CRASH_SEED` replays a run's kill delays.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use cryptoki::object::{Attribute, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki_sys::*;
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

const TOKEN: &str = "crash";
/// Writer processes killed by the test without a reader.
const KILLS_ALONE: usize = 40;
/// Writer processes killed while a reader process runs (from the second one on).
const KILLS_WITH_READER: usize = 25;
/// The kill lands this long after the writer has logged in and starts writing.
const MIN_DELAY_MS: u64 = 5;
const MAX_DELAY_MS: u64 = 150;

const JOURNAL_VAR: &str = "FERROHSM_CRASH_JOURNAL";
const START_VAR: &str = "FERROHSM_CRASH_START";
const READY_VAR: &str = "FERROHSM_CRASH_READY";
const OUT_VAR: &str = "FERROHSM_CRASH_OUT";
const STOP_VAR: &str = "FERROHSM_CRASH_STOP";
const SEED_VAR: &str = "FERROHSM_CRASH_SEED";

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} not set"))
}

/// Object `i` in version 1 (as created) or 2 (after its change).
fn label_of(i: u64, version: u8) -> String {
    match version {
        1 => format!("obj-{i}"),
        _ => format!("obj-{i}-v2"),
    }
}

/// The CKA_VALUE of object `i` in a version: 24 to 6023 deterministic bytes, so many values span
/// several SQLite pages and a torn write would show.
fn value_of(i: u64, version: u8) -> Vec<u8> {
    let len = 24 + (i.wrapping_mul(7919) + u64::from(version) * 1231) % 6000;
    let mut x =
        (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ u64::from(version).wrapping_mul(0xd1b5)) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Even objects are private (every attribute sealed), odd ones public.
fn is_private(i: u64) -> bool {
    i % 2 == 0
}

/// `Some((i, version))` for a label the writer uses.
fn parse_label(label: &[u8]) -> Option<(u64, u8)> {
    let s = std::str::from_utf8(label).ok()?.strip_prefix("obj-")?;
    match s.strip_suffix("-v2") {
        Some(n) => Some((n.parse().ok()?, 2)),
        None => Some((s.parse().ok()?, 1)),
    }
}

/// xorshift64*, enough to spread kill delays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

fn seed() -> u64 {
    match std::env::var(SEED_VAR) {
        Ok(s) => s.parse().expect("FERROHSM_CRASH_SEED is a number"),
        Err(_) => {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_nanos() as u64;
            (t ^ u64::from(std::process::id()).rotate_left(32)) | 1
        }
    }
}

/// What one C_GetAttributeValue call returned for an object.
#[derive(Debug)]
enum Seen {
    /// A writer object, complete and consistent: its number and version.
    Ok(u64, u8),
    /// The object was destroyed since it was found (only a concurrent reader may see this).
    Gone,
}

/// Read class, CKA_PRIVATE, label and value of an object in one C_GetAttributeValue call (one
/// snapshot of the object, unlike `cryptoki`'s two-pass read) and check that they belong
/// together. `Err` describes anything else: an error, a foreign or half-written object.
fn examine(raw: &Raw, session: &Session, h: ObjectHandle) -> Result<Seen, String> {
    let mut class = [0u8; std::mem::size_of::<CK_ULONG>()];
    let mut private = [0u8; 1];
    let mut label = [0u8; 64];
    let mut value = vec![0u8; 8192];
    let mut t = [
        raw_attr(CKA_CLASS, Some(&mut class), 0),
        raw_attr(CKA_PRIVATE, Some(&mut private), 0),
        raw_attr(CKA_LABEL, Some(&mut label), 0),
        raw_attr(CKA_VALUE, Some(value.as_mut_slice()), 0),
    ];
    let rv = ck!(
        raw,
        C_GetAttributeValue(
            session.handle(),
            h.handle(),
            t.as_mut_ptr(),
            t.len() as CK_ULONG
        )
    );
    if rv == CKR_OBJECT_HANDLE_INVALID {
        return Ok(Seen::Gone);
    }
    if rv != CKR_OK {
        return Err(format!(
            "C_GetAttributeValue of handle {} failed: {}",
            h.handle(),
            rv_name(rv)
        ));
    }
    let lens: Vec<usize> = t.iter().map(|a| a.ulValueLen as usize).collect();
    let label = &label[..lens[2]];
    let value = &value[..lens[3]];
    let Some((i, version)) = parse_label(label) else {
        return Err(format!(
            "an object with a label the writer never used: {:?}",
            String::from_utf8_lossy(label)
        ));
    };
    let what = format!("object {}", String::from_utf8_lossy(label));
    if lens[0] != class.len() || CK_ULONG::from_ne_bytes(class) != CKO_DATA {
        return Err(format!("{what}: CKA_CLASS is not CKO_DATA"));
    }
    if lens[1] != 1 || (private[0] != 0) != is_private(i) {
        return Err(format!("{what}: CKA_PRIVATE is {:?}", &private[..lens[1]]));
    }
    if value != value_of(i, version).as_slice() {
        let other = if version == 1 { 2 } else { 1 };
        let whose = if value == value_of(i, other).as_slice() {
            format!("the value of version {other}: the change is half applied")
        } else {
            format!("{} bytes of neither version", value.len())
        };
        return Err(format!("{what}: CKA_VALUE is {whose}"));
    }
    Ok(Seen::Ok(i, version))
}

/// One journal line per call: `? C 12` before the call, `! C 12` after it returned CKR_OK. A
/// single write(2) of a short line to a regular file survives SIGKILL of the writer (it is in
/// the page cache when the call returns), like the module's commits, so no fsync is needed.
struct Journal(std::fs::File);

impl Journal {
    fn line(&mut self, l: String) {
        self.0
            .write_all(format!("{l}\n").as_bytes())
            .expect("journal write");
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Create(u64),
    Change(u64),
    Destroy(u64),
}

impl Op {
    fn parse(kind: &str, n: &str) -> Op {
        let n: u64 = n.parse().expect("journal number");
        match kind {
            "C" => Op::Create(n),
            "M" => Op::Change(n),
            "D" => Op::Destroy(n),
            other => panic!("journal: unknown operation {other}"),
        }
    }

    /// The token state after this operation; panics if the journal itself makes no sense.
    fn apply(self, state: &mut BTreeMap<u64, u8>) {
        match self {
            Op::Create(i) => assert!(state.insert(i, 1).is_none(), "journal: {i} created twice"),
            Op::Change(i) => assert_eq!(state.insert(i, 2), Some(1), "journal: change of {i}"),
            Op::Destroy(i) => assert!(state.remove(&i).is_some(), "journal: destroy of {i}"),
        }
    }
}

/// The child side: does nothing unless started by a parent test with a role.
#[test]
fn child() {
    let Ok(role) = std::env::var(CHILD_ROLE_VAR) else {
        return;
    };
    let ctx = load_module();
    let raw = Raw::load();
    let slot = slot_by_label(&ctx, TOKEN);
    match role.as_str() {
        "writer" => {
            let mut journal = Journal(
                std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(var(JOURNAL_VAR))
                    .expect("journal"),
            );
            let start: u64 = var(START_VAR).parse().expect("start");
            let s = user_session(&ctx, slot);
            std::fs::write(var(READY_VAR), b"").expect("ready file");
            for i in start.. {
                let v1 = label_of(i, 1);
                journal.line(format!("? C {i}"));
                let h = s
                    .create_object(&data_object(&v1, &value_of(i, 1), true, is_private(i)))
                    .unwrap_or_else(|e| panic!("writer: create {v1}: {e}"));
                journal.line(format!("! C {i}"));
                if i % 2 == 1 {
                    // Label and value in one call: both change or neither.
                    journal.line(format!("? M {i}"));
                    s.update_attributes(
                        h,
                        &[
                            Attribute::Label(label_of(i, 2).into_bytes()),
                            Attribute::Value(value_of(i, 2)),
                        ],
                    )
                    .unwrap_or_else(|e| panic!("writer: change {v1}: {e}"));
                    journal.line(format!("! M {i}"));
                }
                if i >= 3 && (i - 3) % 7 != 0 {
                    // Six of seven objects go again (possibly one an earlier writer made), so
                    // the token keeps a growing set of old objects and stays small enough to
                    // check completely after each kill.
                    let k = i - 3;
                    let mut found = find_by_label(&s, &label_of(k, 1));
                    found.extend(find_by_label(&s, &label_of(k, 2)));
                    assert!(found.len() <= 1, "writer: object {k} twice: {found:?}");
                    if let Some(old) = found.first() {
                        journal.line(format!("? D {k}"));
                        s.destroy_object(*old)
                            .unwrap_or_else(|e| panic!("writer: destroy {k}: {e}"));
                        journal.line(format!("! D {k}"));
                    }
                }
            }
        }
        "checker" => {
            let s = ctx.open_rw_session(slot).expect("C_OpenSession");
            s.login(UserType::So, Some(&pin(SO_PIN)))
                .expect("SO PIN after a crash");
            s.logout().expect("C_Logout");
            s.login(UserType::User, Some(&pin(USER_PIN)))
                .expect("user PIN after a crash");
            let all = s.find_objects(&[]).expect("C_FindObjects of everything");
            let mut out = String::new();
            for h in all {
                match examine(&raw, &s, h) {
                    Ok(Seen::Ok(i, v)) => out.push_str(&format!("{i} {v}\n")),
                    Ok(Seen::Gone) => panic!("checker: a found object is gone; nobody writes"),
                    Err(e) => panic!("checker: {e}"),
                }
            }
            std::fs::write(var(OUT_VAR), out).expect("observations");
        }
        "reader" => {
            let stop = PathBuf::from(var(STOP_VAR));
            let s = ctx.open_ro_session(slot).expect("C_OpenSession");
            s.login(UserType::User, Some(&pin(USER_PIN)))
                .expect("reader login");
            let (mut rounds, mut read, mut gone) = (0u64, 0u64, 0u64);
            while !stop.exists() {
                let all = s
                    .find_objects(&[])
                    .unwrap_or_else(|e| panic!("reader: C_FindObjects: {e}"));
                for h in all {
                    match examine(&raw, &s, h) {
                        Ok(Seen::Ok(..)) => read += 1,
                        Ok(Seen::Gone) => gone += 1,
                        Err(e) => panic!("reader: {e}"),
                    }
                }
                rounds += 1;
            }
            std::fs::write(var(OUT_VAR), format!("{rounds} {read} {gone}")).expect("report");
        }
        other => panic!("unknown child role {other}"),
    }
    drop(raw);
    ctx.finalize().expect("C_Finalize");
}

/// A child process that is killed when the test fails while it runs.
struct Running(Option<Child>);

impl Running {
    fn get(&mut self) -> &mut Child {
        self.0.as_mut().expect("a running child")
    }
    fn take(&mut self) -> Child {
        self.0.take().expect("a running child")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            // Does nothing for a child already waited for.
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Fail with the output of a child that ended when it should not have.
#[track_caller]
fn died(child: Child, what: &str) -> ! {
    let out = child.wait_with_output().expect("wait");
    panic!(
        "{what} ended on its own ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The operations a writer run journaled: those that returned CKR_OK, then at most one that was
/// in flight when the writer was killed.
fn read_journal(path: &Path, from_line: &mut usize) -> (Vec<Op>, Option<Op>) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut done = Vec::new();
    let mut pending: Option<Op> = None;
    for line in &lines[*from_line..] {
        // A line the kill cut short cannot happen with one write(2), but would be "in flight".
        let Some(line) = line.strip_suffix('\n') else {
            break;
        };
        let parts: Vec<&str> = line.split(' ').collect();
        assert_eq!(parts.len(), 3, "journal line {line:?}");
        let op = Op::parse(parts[1], parts[2]);
        match parts[0] {
            "?" => {
                assert!(pending.is_none(), "journal: {pending:?} never finished");
                pending = Some(op);
            }
            "!" => {
                assert_eq!(pending.take(), Some(op), "journal: finish without start");
                done.push(op);
            }
            other => panic!("journal: bad marker {other}"),
        }
    }
    *from_line = lines.len();
    (done, pending)
}

/// Run a checker process and return what it saw: object number → version.
fn check_token(dir: &Path, round: usize) -> BTreeMap<u64, u8> {
    let out = dir.join(format!("seen-{round}"));
    let child = spawn_child(
        "child",
        "checker",
        &[(OUT_VAR, out.to_str().expect("utf-8 path"))],
    );
    wait_child(child, &format!("checker after kill {round}"));
    let mut seen = BTreeMap::new();
    for line in std::fs::read_to_string(&out).expect("observations").lines() {
        let (i, v) = line.split_once(' ').expect("observation");
        let (i, v): (u64, u8) = (i.parse().expect("i"), v.parse().expect("v"));
        assert!(
            seen.insert(i, v).is_none(),
            "object {i} is on the token twice"
        );
    }
    seen
}

fn describe(map: &BTreeMap<u64, u8>, i: u64) -> String {
    match map.get(&i) {
        None => "absent".to_owned(),
        Some(v) => format!("version {v}"),
    }
}

fn kill_writers(kills: usize, with_reader: bool) {
    let env = TestEnv::sqlite();
    let ctx = load_module();
    init_token(&ctx, TOKEN);
    ctx.finalize().expect("C_Finalize");
    let serial = {
        let ctx = load_module();
        let s = serial_of(&ctx, slot_by_label(&ctx, TOKEN));
        ctx.finalize().expect("C_Finalize");
        s
    };

    let dir = env.root().join("crash");
    std::fs::create_dir(&dir).expect("work dir");
    let journal = dir.join("journal");
    let journal_s = journal.to_str().expect("utf-8 path").to_owned();
    let seed = seed();
    let mut rng = Rng(seed);
    println!("crash test: seed {seed} ({SEED_VAR} replays the delays), {kills} kills");

    let stop = dir.join("stop");
    let reader_out = dir.join("reader");
    let mut reader = Running(None);
    let started = Instant::now();
    let mut model: BTreeMap<u64, u8> = BTreeMap::new();
    let mut journal_line = 0usize;
    let mut next = 0u64;
    let (mut committed, mut in_flight_done, mut in_flight_not, mut verified) = (0, 0, 0, 0);
    for round in 0..kills {
        if with_reader && round == 1 {
            // From the second writer on, so that the reader always has objects to read.
            reader.0 = Some(spawn_child(
                "child",
                "reader",
                &[
                    (STOP_VAR, stop.to_str().expect("utf-8")),
                    (OUT_VAR, reader_out.to_str().expect("utf-8")),
                ],
            ));
        }
        let ready = dir.join(format!("ready-{round}"));
        let start = next.to_string();
        let mut writer = Running(Some(spawn_child(
            "child",
            "writer",
            &[
                (JOURNAL_VAR, &journal_s),
                (START_VAR, &start),
                (READY_VAR, ready.to_str().expect("utf-8")),
            ],
        )));
        let t = Instant::now();
        while !ready.exists() {
            if writer.get().try_wait().expect("try_wait").is_some() {
                died(writer.take(), &format!("writer {round}"));
            }
            assert!(t.elapsed() < Duration::from_secs(120), "writer never ready");
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(
            rng.between(MIN_DELAY_MS, MAX_DELAY_MS),
        ));
        if writer.get().try_wait().expect("try_wait").is_some() {
            died(writer.take(), &format!("writer {round}"));
        }
        writer.get().kill().expect("SIGKILL the writer");
        let status = writer.get().wait().expect("wait");
        assert_eq!(status.signal(), Some(libc::SIGKILL), "writer {round}");

        let (done, pending) = read_journal(&journal, &mut journal_line);
        let mut expected = model.clone();
        for op in &done {
            op.apply(&mut expected);
            if let Op::Create(i) = op {
                next = next.max(i + 1);
            }
        }
        if let Some(Op::Create(i)) = pending {
            next = next.max(i + 1);
        }
        let seen = check_token(&dir, round);
        let mut with_pending = expected.clone();
        if let Some(op) = pending {
            op.apply(&mut with_pending);
        }
        if seen == with_pending && pending.is_some() {
            in_flight_done += 1;
        } else if seen == expected {
            in_flight_not += usize::from(pending.is_some());
        } else {
            let keys: std::collections::BTreeSet<u64> = expected
                .keys()
                .chain(seen.keys())
                .chain(with_pending.keys())
                .copied()
                .collect();
            let diff: Vec<String> = keys
                .into_iter()
                .filter(|i| seen.get(i) != expected.get(i))
                .map(|i| {
                    format!(
                        "object {i}: journal says {}, token has {}",
                        describe(&expected, i),
                        describe(&seen, i)
                    )
                })
                .collect();
            panic!(
                "after kill {round} (seed {seed}) the token differs from the journal \
                 (in flight: {pending:?}):\n{}\ntoken file {}",
                diff.join("\n"),
                env.token_file(&serial).display()
            );
        }
        committed += done.len();
        verified += seen.len();
        model = seen;
        if let Some(r) = reader.0.as_mut() {
            if r.try_wait().expect("try_wait").is_some() {
                died(reader.take(), "reader");
            }
        }
    }

    let mut reads = String::new();
    if let Some(r) = reader.0.take() {
        std::fs::write(&stop, b"").expect("stop file");
        wait_child(r, "reader");
        let report = std::fs::read_to_string(&reader_out).expect("reader report");
        let n: Vec<&str> = report.split(' ').collect();
        reads = format!(
            "; reader: {} passes, {} objects read, {} found then destroyed",
            n[0], n[1], n[2]
        );
    }

    let db = rusqlite::Connection::open(env.token_file(&serial)).expect("open token file");
    let integrity: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(integrity, "ok", "SQLite integrity check of the token file");

    println!(
        "crash test: {kills} kills survived in {:.1} s; {committed} committed calls journaled, \
         {in_flight_done} in-flight calls found done and {in_flight_not} not done; \
         {verified} objects verified, {} on the token at the end{reads}",
        started.elapsed().as_secs_f64(),
        model.len()
    );
}

#[test]
fn killed_writer_loses_no_committed_change() {
    kill_writers(KILLS_ALONE, false);
}

#[test]
fn killed_writer_with_a_concurrent_reader() {
    kill_writers(KILLS_WITH_READER, true);
}
