//! Issue 10, the token store's share (PKCS#11 v3.0 §4.4 token objects, §5.6 login, §5.7 object
//! management, §2.5 applications): policy changes by another process are never undone by a stale
//! cache or a lost update; a re-initialization by another process logs this one out; a token file
//! may not choose an unbounded Argon2 cost; a token file of the previous release (schema 1) is
//! brought to the integrity-checked format at its first login. The test binary re-executes
//! itself to run its `child` test in a role.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, SessionState, UserType};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const TOKEN: &str = "store";
const SYNC_VAR: &str = "FERROHSM_TEST_SYNC";

/// An extractable AES key "x" and a wrapping key "w" on the token.
fn key_and_wrapper(s: &Session) -> (ObjectHandle, ObjectHandle) {
    let aes = |label: &str, wrap: bool| {
        vec![
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(true),
            Attribute::Wrap(wrap),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Value(vec![if wrap { 0x33 } else { 0x44 }; 32]),
        ]
    };
    let x = s.create_object(&aes("x", false)).expect("key x");
    let w = s.create_object(&aes("w", true)).expect("wrapping key w");
    (x, w)
}

/// The child side: does nothing unless started by a parent test with a role.
#[test]
fn child() {
    let Ok(role) = std::env::var(CHILD_ROLE_VAR) else {
        return;
    };
    let ctx = load_module();
    match role.as_str() {
        "unextractable" => {
            // Ready and logged in first, so the change lands inside the parent's long call.
            let sync = PathBuf::from(std::env::var(SYNC_VAR).expect("sync dir"));
            let s = user_session(&ctx, slot_by_label(&ctx, TOKEN));
            let x = one_by_label(&s, "x");
            std::fs::write(sync.join("ready"), b"").expect("ready");
            wait_for(&sync.join("go"), "the go signal");
            s.update_attributes(x, &[Attribute::Extractable(false)])
                .expect("set CKA_EXTRACTABLE false");
            std::fs::write(sync.join("done"), b"").expect("done");
        }
        "hammer" => {
            // One-way changes, one key after the other, while the parent keeps writing them.
            let sync = PathBuf::from(std::env::var(SYNC_VAR).expect("sync dir"));
            let s = user_session(&ctx, slot_by_label(&ctx, TOKEN));
            let keys: Vec<ObjectHandle> = (0..HAMMER_KEYS)
                .map(|i| one_by_label(&s, &format!("k{i}")))
                .collect();
            std::fs::write(sync.join("ready"), b"").expect("ready");
            wait_for(&sync.join("go"), "the go signal");
            for k in keys {
                s.update_attributes(k, &[Attribute::Extractable(false)])
                    .expect("set CKA_EXTRACTABLE false");
                std::thread::sleep(Duration::from_millis(3));
            }
            std::fs::write(sync.join("done"), b"").expect("done");
        }
        "check-hammer" => {
            let s = user_session(&ctx, slot_by_label(&ctx, TOKEN));
            let back: Vec<usize> = (0..HAMMER_KEYS)
                .filter(|i| {
                    let k = one_by_label(&s, &format!("k{i}"));
                    read_bool(&s, k, AttributeType::Extractable).expect("bool")
                })
                .collect();
            assert!(back.is_empty(), "keys extractable again on disk: {back:?}");
        }
        "reinit" => {
            let slot = slot_by_label(&ctx, TOKEN);
            ctx.init_token(slot, &pin(SO_PIN), "reborn")
                .expect("C_InitToken by another process");
            let s = ctx.open_rw_session(slot).expect("session");
            s.login(UserType::So, Some(&pin(SO_PIN))).expect("SO");
            s.init_pin(&pin("new-user-pin")).expect("C_InitPIN");
        }
        "check-unextractable" => {
            let s = user_session(&ctx, slot_by_label(&ctx, TOKEN));
            let x = one_by_label(&s, "x-renamed");
            assert!(
                !read_bool(&s, x, AttributeType::Extractable).expect("bool"),
                "CKA_EXTRACTABLE went back to true on disk"
            );
        }
        other => panic!("unknown child role {other}"),
    }
    ctx.finalize().expect("C_Finalize");
}

fn start_unextractable_child(sync: &Path) -> std::process::Child {
    std::fs::create_dir_all(sync).expect("sync dir");
    let child = spawn_child(
        "child",
        "unextractable",
        &[(SYNC_VAR, &sync.display().to_string())],
    );
    wait_for(&sync.join("ready"), "the child to be ready");
    child
}

/// Finding 3: process A caches key X, starts a long RSA-4096 generation; process B makes X
/// non-extractable meanwhile. A must then refuse to wrap X, and A's later label change must not
/// write its stale copy (extractable) back.
#[test]
fn policy_change_during_a_long_call_is_neither_missed_nor_undone() {
    let env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, TOKEN);
    let s = user_session(&ctx, slot);
    let (x, w) = key_and_wrapper(&s);
    assert!(read_bool(&s, x, AttributeType::Extractable).expect("bool"));

    let sync = env.root().join("sync");
    let child = start_unextractable_child(&sync);
    std::fs::write(sync.join("go"), b"").expect("go");
    // The long call: the other process commits while it runs.
    s.generate_key_pair(
        &Mechanism::RsaPkcsKeyPairGen,
        &[
            Attribute::Token(true),
            Attribute::ModulusBits(4096.into()),
            Attribute::PublicExponent(vec![1, 0, 1]),
        ],
        &[Attribute::Token(true), Attribute::Sign(true)],
    )
    .expect("RSA-4096 key pair");
    wait_child(child, "unextractable");

    assert!(
        !read_bool(&s, x, AttributeType::Extractable).expect("bool"),
        "a stale cache still says CKA_EXTRACTABLE=true"
    );
    expect_rv(
        s.wrap_key(&Mechanism::AesKeyWrap, w, x),
        RvError::KeyUnextractable,
    );
    s.update_attributes(x, &[Attribute::Label(b"x-renamed".to_vec())])
        .expect("rename");
    assert!(!read_bool(&s, x, AttributeType::Extractable).expect("bool"));
    wait_child(
        spawn_child("child", "check-unextractable", &[]),
        "check on disk",
    );
}

/// Finding 3, the lost update alone: A has read X (cached, extractable) before B's change, and
/// a label change by A afterwards must apply to the current object, not to A's copy.
#[test]
fn set_attribute_applies_to_the_current_object_not_a_cached_copy() {
    let env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, TOKEN);
    let s = user_session(&ctx, slot);
    let (x, _) = key_and_wrapper(&s);
    assert!(read_bool(&s, x, AttributeType::Extractable).expect("bool"));
    let sync = env.root().join("sync");
    let child = start_unextractable_child(&sync);
    // A long call that only reads and writes something else: B commits meanwhile.
    std::fs::write(sync.join("go"), b"").expect("go");
    s.generate_key_pair(
        &Mechanism::RsaPkcsKeyPairGen,
        &[
            Attribute::Token(true),
            Attribute::ModulusBits(4096.into()),
            Attribute::PublicExponent(vec![1, 0, 1]),
        ],
        &[Attribute::Token(true), Attribute::Sign(true)],
    )
    .expect("RSA-4096 key pair");
    wait_child(child, "unextractable");
    s.update_attributes(x, &[Attribute::Label(b"x-renamed".to_vec())])
        .expect("rename");
    // A's change to the label went through and B's one-way change stayed.
    wait_child(
        spawn_child("child", "check-unextractable", &[]),
        "check on disk",
    );
    // Nor can A turn it back itself.
    expect_rv_in(
        s.update_attributes(x, &[Attribute::Extractable(true)]),
        &[RvError::AttributeValueInvalid, RvError::AttributeReadOnly],
    );
}

const HAMMER_KEYS: usize = 40;

/// Finding 3 under load: another process makes 40 keys non-extractable one by one while this
/// one keeps renaming and copying them. A write based on a copy read before the other
/// process's commit must not put CKA_EXTRACTABLE=true back; copies made after the change are
/// not extractable either.
#[test]
fn one_way_changes_survive_concurrent_writers() {
    let env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, TOKEN);
    let s = user_session(&ctx, slot);
    let keys: Vec<ObjectHandle> = (0..HAMMER_KEYS)
        .map(|i| {
            s.create_object(&[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::GENERIC_SECRET),
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(true),
                Attribute::Label(format!("k{i}").into_bytes()),
                Attribute::Value(vec![i as u8; 32]),
            ])
            .expect("key")
        })
        .collect();
    let sync = env.root().join("sync");
    std::fs::create_dir_all(&sync).expect("sync dir");
    let child = spawn_child(
        "child",
        "hammer",
        &[(SYNC_VAR, &sync.display().to_string())],
    );
    wait_for(&sync.join("ready"), "the child to be ready");
    std::fs::write(sync.join("go"), b"").expect("go");
    let mut n = 0u32;
    while !sync.join("done").exists() {
        for (i, k) in keys.iter().enumerate() {
            // The label is set to what it is: only the stale rest of the object could change.
            s.update_attributes(*k, &[Attribute::Label(format!("k{i}").into_bytes())])
                .expect("rename");
        }
        n += 1;
    }
    wait_child(child, "hammer");
    assert!(n > 0);
    wait_child(spawn_child("child", "check-hammer", &[]), "check on disk");
}

/// Finding 10 (last item): after another process re-initialized the token, this process is not
/// left logged in under the old master key, and the old handles are gone.
#[test]
fn reinitialization_by_another_process_logs_this_process_out() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, TOKEN);
    {
        let s = user_session(&ctx, slot);
        s.create_object(&data_object("old", b"old value", true, true))
            .expect("create");
    }
    // C_InitToken refuses while this application has a session; so the other process has it
    // after this one closed its sessions... and this one opens a new session and logs in first.
    let s = user_session(&ctx, slot);
    let old = one_by_label(&s, "old");
    drop(s);
    let s = ctx.open_rw_session(slot).expect("session");
    s.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("login");
    wait_child(spawn_child("child", "reinit", &[]), "reinit");

    // The next call that uses the token finds the old objects gone ...
    expect_rv_in(
        s.get_attributes(old, &[AttributeType::Value]),
        &[RvError::ObjectHandleInvalid],
    );
    // ... and this application logged out.
    let state = s
        .get_session_info()
        .expect("C_GetSessionInfo")
        .session_state();
    assert_eq!(
        state,
        SessionState::RwPublic,
        "still logged in under the old master key"
    );
    expect_rv_in(
        s.get_attributes(old, &[AttributeType::Value]),
        &[RvError::ObjectHandleInvalid],
    );
    expect_rv_in(
        s.create_object(&data_object("new", b"v", true, true)),
        &[RvError::UserNotLoggedIn, RvError::TokenNotRecognized],
    );
    // The token under its new PIN works in this process.
    s.login(UserType::User, Some(&pin("new-user-pin")))
        .expect("login with the new PIN");
    s.create_object(&data_object("new", b"new value", true, true))
        .expect("create after re-init");
    assert_eq!(
        read_bytes(&s, one_by_label(&s, "new"), AttributeType::Value).expect("value"),
        b"new value"
    );
    assert!(find_by_label(&s, "old").is_empty());
}

/// A PIN wrap's Argon2 costs set by the file: (memory KiB, passes, lanes).
fn set_wrap_costs(file: &Path, key: &str, m: u32, t: u32, p: u32) {
    let db = rusqlite::Connection::open(file).expect("open token database");
    let mut blob: Vec<u8> = db
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .expect("wrap");
    blob[1..5].copy_from_slice(&m.to_le_bytes());
    blob[5..9].copy_from_slice(&t.to_le_bytes());
    blob[9..13].copy_from_slice(&p.to_le_bytes());
    db.execute(
        "UPDATE meta SET value = ?1 WHERE key = ?2",
        rusqlite::params![blob, key],
    )
    .expect("update");
}

/// The Argon2 finding: a token file asking for costs near the old caps (1 GiB, 64 passes, 16
/// lanes) is refused at once with a damage code, not run for minutes.
#[test]
fn argon2_costs_beyond_the_login_budget_are_refused_at_once() {
    let env = TestEnv::sqlite();
    let ctx = load_module();
    let slot = init_token(&ctx, TOKEN);
    let file = env.token_file(&serial_of(&ctx, slot));
    ctx.finalize().expect("C_Finalize");
    for (m, t, p) in [
        (1 << 20, 64, 16),
        (1 << 20, 2, 1),
        (64, 1 << 20, 1),
        (64, 1, 1 << 10),
    ] {
        set_wrap_costs(&file, "user_wrap", m, t, p);
        let ctx = load_module();
        let slot = slot_by_label(&ctx, TOKEN);
        let s = ctx.open_rw_session(slot).expect("session");
        let start = Instant::now();
        expect_rv_in(
            s.login(UserType::User, Some(&pin(USER_PIN))),
            &[RvError::DeviceError, RvError::TokenNotRecognized],
        );
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "C_Login with costs ({m}, {t}, {p}) took {:?}",
            start.elapsed()
        );
        drop(s);
        ctx.finalize().expect("C_Finalize");
    }
}

// ---- migration of a schema-1 token file ----

const V1_SERIAL: &str = "a286a1e1a2cf9e31";
const V1_SO_PIN: &str = "so-pin-5c7e21d8";
const V1_USER_PIN: &str = "user-pin-9a4f06b3";

fn install_v1_token(env: &TestEnv) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/v1-token.sqlite");
    std::fs::create_dir_all(env.token_dir()).expect("token dir");
    let dst = env.token_file(V1_SERIAL);
    std::fs::copy(&src, &dst).expect("copy the schema-1 fixture");
    dst
}

fn schema_version(file: &Path) -> u32 {
    let db = rusqlite::Connection::open(file).expect("open token database");
    let v: Vec<u8> = db
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .expect("schema_version");
    u32::from_le_bytes(v[..4].try_into().expect("4 bytes"))
}

fn one(s: &Session, label: &str, class: ObjectClass) -> ObjectHandle {
    let found = s
        .find_objects(&[
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Class(class),
        ])
        .expect("find");
    assert_eq!(found.len(), 1, "{label} {class:?}");
    found[0]
}

/// Every object of the fixture reads back as tests/data/README.md says.
fn check_v1_objects(s: &Session) {
    let public = one(s, "public-data", ObjectClass::DATA);
    assert_eq!(
        read_bytes(s, public, AttributeType::Value).expect("value"),
        b"public value 0123456789"
    );
    assert_eq!(
        read_bytes(s, public, AttributeType::Application).expect("application"),
        b"fixture"
    );
    let private = one(s, "private-data", ObjectClass::DATA);
    assert_eq!(
        read_bytes(s, private, AttributeType::Value).expect("value"),
        b"private value 9876543210"
    );
    // The AES key's value, through an ECB encryption of a known block.
    let aes_key = one(s, "aes-known", ObjectClass::SECRET_KEY);
    assert!(read_bool(s, aes_key, AttributeType::Sensitive).expect("bool"));
    assert!(!read_bool(s, aes_key, AttributeType::Extractable).expect("bool"));
    let block = [0u8; 16];
    let got = s
        .encrypt(&Mechanism::AesEcb, aes_key, &block)
        .expect("AES-ECB");
    let want = {
        use aes::cipher::{BlockCipherEncrypt, KeyInit};
        let key: Vec<u8> = (0x40u8..0x60).collect();
        let c = aes::Aes256::new_from_slice(&key).expect("key");
        let mut b = aes::Block::default();
        c.encrypt_block(&mut b);
        b.to_vec()
    };
    assert_eq!(got, want, "aes-known does not hold 0x40..0x5f");
    let hmac_key = one(s, "hmac-known", ObjectClass::SECRET_KEY);
    let got = s
        .sign(&Mechanism::Sha256Hmac, hmac_key, b"message")
        .expect("HMAC");
    let want = {
        use hmac::{KeyInit, Mac};
        let key: Vec<u8> = (0x80u8..0xa0).collect();
        let mut m = <hmac::Hmac<sha2::Sha256>>::new_from_slice(&key).expect("key");
        m.update(b"message");
        m.finalize().into_bytes().to_vec()
    };
    assert_eq!(got, want, "hmac-known does not hold 0x80..0x9f");
    for (label, mech) in [
        ("ec-p256", Mechanism::EcdsaSha256),
        ("rsa-2048", Mechanism::Sha256RsaPkcs),
    ] {
        let private = one(s, label, ObjectClass::PRIVATE_KEY);
        let public = one(s, label, ObjectClass::PUBLIC_KEY);
        let sig = s.sign(&mech, private, b"data").expect("sign");
        s.verify(&mech, public, b"data", &sig).expect("verify");
    }
    let rsa = one(s, "rsa-2048", ObjectClass::PRIVATE_KEY);
    let got = s
        .get_attributes(rsa, &[AttributeType::WrapWithTrusted])
        .expect("CKA_WRAP_WITH_TRUSTED");
    assert!(
        matches!(got[..], [Attribute::WrapWithTrusted(true)]),
        "{got:?}"
    );
}

// The token file is only read with rusqlite while the module is not loaded: two SQLite
// libraries in one process do not see each other's POSIX locks, and closing one connection
// would drop the other's (and its WAL).
#[test]
fn schema_1_token_file_is_migrated_at_the_first_login() {
    let env = TestEnv::sqlite();
    let file = install_v1_token(&env);
    assert_eq!(schema_version(&file), 1);
    // Before login: the public object reads, the file is not rewritten.
    let ctx = load_module();
    {
        let slot = slot_by_label(&ctx, "v1-fixture");
        let s = ctx.open_ro_session(slot).expect("session");
        let public = one(&s, "public-data", ObjectClass::DATA);
        assert_eq!(
            read_bytes(&s, public, AttributeType::Value).expect("value"),
            b"public value 0123456789"
        );
    }
    ctx.finalize().expect("C_Finalize");
    assert_eq!(schema_version(&file), 1);
    let ctx = load_module();
    {
        let slot = slot_by_label(&ctx, "v1-fixture");
        let s = ctx.open_ro_session(slot).expect("session");
        s.login(UserType::User, Some(&pin(V1_USER_PIN)))
            .expect("first login");
        check_v1_objects(&s);
    }
    ctx.finalize().expect("C_Finalize");
    assert_eq!(schema_version(&file), 2, "not migrated at the first login");
    let ctx = load_module();
    {
        let slot = slot_by_label(&ctx, "v1-fixture");
        let s = ctx.open_rw_session(slot).expect("session");
        s.login(UserType::User, Some(&pin(V1_USER_PIN)))
            .expect("login after the migration");
        check_v1_objects(&s);
        s.create_object(&data_object("after", b"after value", true, true))
            .expect("write after the migration");
        s.logout().expect("logout");
        s.login(UserType::So, Some(&pin(V1_SO_PIN)))
            .expect("SO login after the migration");
    }
    ctx.finalize().expect("C_Finalize");

    // Tampering with the migrated file is detected: a private object's row flipped public.
    let db = rusqlite::Connection::open(&file).expect("open");
    db.execute(
        "UPDATE objects SET private = 0 WHERE private = 1 AND id = (SELECT MIN(id) FROM objects WHERE private = 1)",
        [],
    )
    .expect("flip");
    drop(db);
    let ctx = load_module();
    let slot = slot_by_label(&ctx, "v1-fixture");
    let s = ctx.open_rw_session(slot).expect("session");
    let detected = match s.login(UserType::User, Some(&pin(V1_USER_PIN))) {
        Err(Error::Pkcs11(RvError::DeviceError, _)) => true,
        Err(e) => panic!("login gave {e:?}"),
        Ok(()) => {
            let all = s.find_objects(&[]).expect("find");
            all.iter().any(|h| {
                matches!(
                    s.get_attributes(*h, &[AttributeType::Label]),
                    Err(Error::Pkcs11(RvError::DeviceError, _))
                )
            })
        }
    };
    assert!(detected, "a flipped private column went unnoticed");
}

/// The migration also runs at the first SO login, and the user then logs in to the migrated file.
#[test]
fn schema_1_token_file_is_migrated_at_the_first_so_login() {
    let env = TestEnv::sqlite();
    let file = install_v1_token(&env);
    let ctx = load_module();
    let slot = slot_by_label(&ctx, "v1-fixture");
    let s = ctx.open_rw_session(slot).expect("session");
    s.login(UserType::So, Some(&pin(V1_SO_PIN)))
        .expect("SO login");
    s.logout().expect("logout");
    s.login(UserType::User, Some(&pin(V1_USER_PIN)))
        .expect("user login");
    check_v1_objects(&s);
    drop(s);
    ctx.finalize().expect("C_Finalize");
    assert_eq!(schema_version(&file), 2);
}
