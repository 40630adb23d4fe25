//! PKCS#11 v3.0 §2.5/§2.6 (each process is its own application with its own sessions and
//! login) against ferrohsm's shared token store: several processes write one token at the same
//! time without losing anything, see each other's changes on their next call, and share the
//! failed-login count. The test binary re-executes itself to run its `child` test in a role.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use cryptoki::error::RvError;
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use cryptoki::session::UserType;
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const TOKEN: &str = "shared";
const WRITES_PER_CHILD: usize = 200;
const TAG_VAR: &str = "FERROHSM_TEST_TAG";
const SYNC_VAR: &str = "FERROHSM_TEST_SYNC";
const COUNT_VAR: &str = "FERROHSM_TEST_COUNT";

/// The child side: does nothing unless started by a parent test with a role. Not `#[ignore]`d,
/// so a normal run shows no skipped test; run by itself it passes at once.
#[test]
fn child() {
    let Ok(role) = std::env::var(CHILD_ROLE_VAR) else {
        return;
    };
    let ctx = load_module();
    let slot = slot_by_label(&ctx, TOKEN);
    match role.as_str() {
        "writer" => {
            let tag = std::env::var(TAG_VAR).expect("tag");
            let sync = PathBuf::from(std::env::var(SYNC_VAR).expect("sync dir"));
            let s = user_session(&ctx, slot);
            // Start writing only when the other writer is ready too.
            std::fs::write(sync.join(format!("ready-{tag}")), b"").expect("ready file");
            wait_for(&sync.join("go"), "the go signal");
            for i in 0..WRITES_PER_CHILD {
                let label = format!("{tag}-{i:03}");
                s.create_object(&data_object(&label, label.as_bytes(), true, i % 2 == 0))
                    .unwrap_or_else(|e| panic!("writer {tag}: create {label}: {e}"));
            }
        }
        "create" => {
            let s = user_session(&ctx, slot);
            // Session objects belong to the application that made them.
            assert!(
                find_by_label(&s, "parent-session-object").is_empty(),
                "another process's session object is visible"
            );
            s.create_object(&data_object("from-child", b"child value", true, false))
                .expect("public object");
            s.create_object(&data_object("private-from-child", b"secret", true, true))
                .expect("private object");
        }
        "rename" => {
            let s = user_session(&ctx, slot);
            let h = one_by_label(&s, "from-child");
            s.update_attributes(h, &[Attribute::Label(b"renamed-by-child".to_vec())])
                .expect("rename");
        }
        "destroy" => {
            let s = user_session(&ctx, slot);
            let h = one_by_label(&s, "renamed-by-child");
            s.destroy_object(h).expect("destroy");
        }
        "wrong-pin" => {
            let n: usize = std::env::var(COUNT_VAR)
                .expect("count")
                .parse()
                .expect("number");
            let s = ctx.open_rw_session(slot).expect("session");
            for _ in 0..n {
                expect_rv_in(
                    s.login(UserType::User, Some(&pin("wrong-pin"))),
                    &[RvError::PinIncorrect, RvError::PinLocked],
                );
            }
        }
        other => panic!("unknown child role {other}"),
    }
    ctx.finalize().expect("C_Finalize");
}

#[test]
fn concurrent_writers_lose_nothing() {
    let env = TestEnv::new();
    let ctx = load_module();
    init_token(&ctx, TOKEN);
    ctx.finalize().expect("C_Finalize");

    let sync = env.root().join("sync");
    std::fs::create_dir(&sync).expect("sync dir");
    let sync_str = sync.display().to_string();
    let mut children: Vec<_> = ["a", "b"]
        .iter()
        .map(|tag| {
            (
                *tag,
                spawn_child("child", "writer", &[(TAG_VAR, tag), (SYNC_VAR, &sync_str)]),
            )
        })
        .collect();
    for (tag, child) in &mut children {
        let ready = sync.join(format!("ready-{tag}"));
        let start = Instant::now();
        while !ready.exists() {
            if let Some(status) = child.try_wait().expect("try_wait") {
                panic!("writer {tag} exited early ({status})");
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "writer {tag} never ready"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    std::fs::write(sync.join("go"), b"").expect("go");
    for (tag, child) in children {
        wait_child(child, &format!("writer {tag}"));
    }

    let ctx = load_module();
    let s = user_session(&ctx, slot_by_label(&ctx, TOKEN));
    let all = s
        .find_objects(&[Attribute::Class(ObjectClass::DATA)])
        .expect("find");
    assert_eq!(
        all.len(),
        2 * WRITES_PER_CHILD,
        "objects lost by concurrent writers"
    );
    let mut labels = HashSet::new();
    let mut uids = HashSet::new();
    for h in all {
        let label = read_bytes(&s, h, AttributeType::Label).expect("label");
        assert_eq!(
            read_bytes(&s, h, AttributeType::Value).expect("value"),
            label,
            "value of {}",
            String::from_utf8_lossy(&label)
        );
        labels.insert(String::from_utf8(label).expect("utf8"));
        assert!(
            uids.insert(read_bytes(&s, h, AttributeType::UniqueId).expect("uid")),
            "two processes assigned the same CKA_UNIQUE_ID"
        );
    }
    let expected: HashSet<String> = ["a", "b"]
        .iter()
        .flat_map(|t| (0..WRITES_PER_CHILD).map(move |i| format!("{t}-{i:03}")))
        .collect();
    assert_eq!(labels, expected);
}

#[test]
fn changes_by_another_process_are_seen_on_the_next_call() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, TOKEN);
    let watcher = ctx.open_ro_session(slot).expect("session");
    assert!(find_by_label(&watcher, "from-child").is_empty());
    watcher
        .create_object(&data_object("parent-session-object", b"p", false, false))
        .expect("session object");

    wait_child(spawn_child("child", "create", &[]), "create");
    let found = find_by_label(&watcher, "from-child");
    assert_eq!(found.len(), 1, "object created by another process not seen");
    let h = found[0];
    assert_eq!(
        read_bytes(&watcher, h, AttributeType::Value).expect("value"),
        b"child value"
    );
    assert!(
        find_by_label(&watcher, "private-from-child").is_empty(),
        "private object visible without login"
    );
    watcher
        .login(UserType::User, Some(&pin(USER_PIN)))
        .expect("login");
    assert_eq!(find_by_label(&watcher, "private-from-child").len(), 1);

    // The child logs in while this process is logged in: logins are per application.
    wait_child(spawn_child("child", "rename", &[]), "rename");
    assert_eq!(
        read_bytes(&watcher, h, AttributeType::Label).expect("label"),
        b"renamed-by-child",
        "a change by another process not seen through the same handle"
    );
    assert!(find_by_label(&watcher, "from-child").is_empty());

    wait_child(spawn_child("child", "destroy", &[]), "destroy");
    expect_rv(
        watcher.get_attributes(h, &[AttributeType::Label]),
        RvError::ObjectHandleInvalid,
    );
    assert!(find_by_label(&watcher, "renamed-by-child").is_empty());

    // And the other way round: what this process writes, a new child finds.
    let rw = ctx.open_rw_session(slot).expect("R/W");
    rw.create_object(&data_object("from-child", b"parent value", true, false))
        .expect("create");
    wait_child(spawn_child("child", "rename", &[]), "rename by child");
    assert_eq!(find_by_label(&rw, "renamed-by-child").len(), 1);
}

#[test]
fn failed_login_count_is_shared_between_processes() {
    let _env = TestEnv::with_config("max_login_attempts = 3");
    let ctx = load_module();
    let slot = init_token(&ctx, TOKEN);
    let raw = Raw::load();
    let s = ctx.open_rw_session(slot).expect("session");

    wait_child(
        spawn_child("child", "wrong-pin", &[(COUNT_VAR, "1")]),
        "one wrong PIN",
    );
    let flags = token_flags(&raw, slot.id());
    assert_ne!(
        flags & cryptoki_sys::CKF_USER_PIN_COUNT_LOW,
        0,
        "another process's failed login not counted"
    );
    wait_child(
        spawn_child("child", "wrong-pin", &[(COUNT_VAR, "2")]),
        "two more wrong PINs",
    );
    let flags = token_flags(&raw, slot.id());
    assert_ne!(flags & cryptoki_sys::CKF_USER_PIN_LOCKED, 0, "not locked");
    expect_rv(
        s.login(UserType::User, Some(&pin(USER_PIN))),
        RvError::PinLocked,
    );
}
