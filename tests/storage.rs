//! PKCS#11 v3.0 §4.4 (token objects persist, session objects do not) and §2.3 (private
//! objects and sensitive values must not leak), against ferrohsm's token store: one SQLite file
//! per token, mode 0600 in a 0700 directory, with private objects and secret attributes sealed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use cryptoki::session::UserType;
use std::path::Path;

/// A 32-byte key value no encoder would produce by accident.
fn known_key() -> Vec<u8> {
    (0u8..32)
        .map(|i| i.wrapping_mul(73).wrapping_add(0x9d) ^ 0x5a)
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every needle found in any file under `dir` (or the single file `dir`), as "needle in file".
fn leaks(paths: &[std::path::PathBuf], needles: &[(&str, Vec<u8>)]) -> Vec<String> {
    let mut out = Vec::new();
    for path in paths {
        let Ok(bytes) = std::fs::read(path) else {
            continue; // a -shm or -wal file may vanish while we look
        };
        for (name, needle) in needles {
            if contains(&bytes, needle) {
                out.push(format!("{name} in {}", path.display()));
            }
        }
    }
    out
}

#[test]
fn token_objects_survive_restart_and_session_objects_do_not() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "persist");
    let serial = serial_of(&ctx, slot);
    {
        let s = user_session(&ctx, slot);
        s.create_object(&data_object("public-data", b"public value", true, false))
            .expect("public data");
        s.create_object(&data_object("private-data", b"private value", true, true))
            .expect("private data");
        s.create_object(&generic_secret("key", &known_key(), true, false))
            .expect("secret key");
        s.create_object(&data_object("session-data", b"gone", false, false))
            .expect("session data");
        let renamed = s
            .create_object(&data_object("old-name", b"renamed value", true, true))
            .expect("to rename");
        s.update_attributes(renamed, &[Attribute::Label(b"new-name".to_vec())])
            .expect("rename");
        let doomed = s
            .create_object(&data_object("doomed", b"x", true, false))
            .expect("to destroy");
        s.destroy_object(doomed).expect("destroy");
    }
    let ctx = restart(ctx);
    let slot = slot_by_label(&ctx, "persist");
    assert_eq!(serial_of(&ctx, slot), serial, "same token after restart");
    let s = ctx.open_rw_session(slot).expect("session");
    // Public objects are readable before login.
    let public = one_by_label(&s, "public-data");
    assert_eq!(
        read_bytes(&s, public, AttributeType::Value).expect("value"),
        b"public value"
    );
    assert!(find_by_label(&s, "private-data").is_empty());
    s.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("login");
    let private = one_by_label(&s, "private-data");
    assert_eq!(
        read_bytes(&s, private, AttributeType::Value).expect("value"),
        b"private value"
    );
    assert!(read_bool(&s, private, AttributeType::Private).expect("private"));
    let key = one_by_label(&s, "key");
    assert_eq!(
        read_bytes(&s, key, AttributeType::Value).expect("key value"),
        known_key()
    );
    assert_eq!(
        s.get_attributes(key, &[AttributeType::Class])
            .expect("class"),
        vec![Attribute::Class(ObjectClass::SECRET_KEY)]
    );
    assert!(find_by_label(&s, "session-data").is_empty());
    assert!(find_by_label(&s, "old-name").is_empty());
    let renamed = one_by_label(&s, "new-name");
    assert_eq!(
        read_bytes(&s, renamed, AttributeType::Value).expect("value"),
        b"renamed value"
    );
    assert!(find_by_label(&s, "doomed").is_empty());
    assert_eq!(s.find_objects(&[]).expect("all").len(), 4);
}

#[test]
fn known_secret_bytes_appear_in_no_token_file_or_log() {
    let env = TestEnv::sqlite_with_config("log_level = \"debug\"\nlog_file = 'LOGFILE'");
    // Point the log at a file beside (not inside) the token directory.
    let log = env.root().join("ferrohsm.log");
    let conf = std::fs::read_to_string(env.conf()).expect("config");
    std::fs::write(
        env.conf(),
        conf.replace("LOGFILE", &log.display().to_string()),
    )
    .expect("config");

    let key = known_key();
    let public_secret = {
        let mut k = known_key();
        k.reverse();
        k
    };
    let private_value = b"private-data-value-8e1f2a6c".to_vec();
    let private_label = b"private-label-4b1d8e2f".to_vec();
    let renamed_label = b"renamed-private-5c3e91".to_vec();
    let new_user_pin = "changed-user-pin-0d7b";
    let public_marker = b"public-marker-value-27c4e8".to_vec();

    let ctx = load_module();
    let slot = init_token(&ctx, "leak-check");
    {
        let s = user_session(&ctx, slot);
        let mut k = generic_secret("private-key", &key, true, true);
        k.retain(|a| a.attribute_type() != AttributeType::Extractable);
        k.push(Attribute::Extractable(false));
        s.create_object(&k).expect("private secret key");
        s.create_object(&generic_secret(
            "public-key-object",
            &public_secret,
            false,
            false,
        ))
        .expect("public secret key (CKA_VALUE is still secret)");
        let label = String::from_utf8(private_label.clone()).expect("utf8");
        s.create_object(&data_object(&label, &private_value, true, true))
            .expect("private data");
        let other = s
            .create_object(&data_object("to-rename", b"x", true, true))
            .expect("private data");
        s.update_attributes(other, &[Attribute::Label(renamed_label.clone())])
            .expect("rename");
        s.create_object(&data_object("public", &public_marker, true, false))
            .expect("public data");
        s.set_pin(&pin(USER_PIN), &pin(new_user_pin))
            .expect("C_SetPIN");
    }

    let needles: Vec<(&str, Vec<u8>)> = vec![
        ("private key CKA_VALUE", key.clone()),
        ("first half of the key", key[..16].to_vec()),
        ("second half of the key", key[16..].to_vec()),
        ("private key as hex", hex(&key).into_bytes()),
        ("public key object's CKA_VALUE", public_secret.clone()),
        ("private data CKA_VALUE", private_value.clone()),
        ("private data CKA_LABEL", private_label.clone()),
        ("label set by C_SetAttributeValue", renamed_label.clone()),
        ("user PIN", USER_PIN.as_bytes().to_vec()),
        ("new user PIN", new_user_pin.as_bytes().to_vec()),
        ("SO PIN", SO_PIN.as_bytes().to_vec()),
    ];

    // While the module runs, the WAL holds the freshest pages.
    let running = files_under(env.token_dir());
    assert!(!running.is_empty(), "no token files");
    let found = leaks(&running, &needles);
    assert!(
        found.is_empty(),
        "plaintext secrets on disk while running: {found:#?}"
    );

    ctx.finalize().expect("C_Finalize");
    let stopped = files_under(env.token_dir());
    let found = leaks(&stopped, &needles);
    assert!(
        found.is_empty(),
        "plaintext secrets on disk after C_Finalize: {found:#?}"
    );

    // The scan itself works: a public value is stored readable.
    let control = leaks(&stopped, &[("public marker", public_marker)]);
    assert!(
        !control.is_empty(),
        "the public control value is in no token file; the scan looked in the wrong place"
    );

    // Logs name calls and return values, never PINs or key bytes. The test configured a debug
    // log, so a missing file means the scan would have looked at nothing.
    assert!(
        log.is_file(),
        "the debug log {} was not written",
        log.display()
    );
    let found = leaks(std::slice::from_ref(&log), &needles);
    assert!(found.is_empty(), "secrets in the debug log: {found:#?}");
}

#[test]
fn token_files_are_private_to_the_owner() {
    let env = TestEnv::with_missing_token_dir("");
    let ctx = load_module();
    let slot = init_token(&ctx, "modes");
    // Every wrong mode, so one report shows them all.
    let mut wrong = Vec::new();
    let mut check = |path: &Path, want: u32, when: &str| {
        let mode = mode_of(path);
        if mode != want {
            wrong.push(format!(
                "{} {when}: {mode:o}, want {want:o}",
                path.display()
            ));
        }
    };
    {
        let s = user_session(&ctx, slot);
        s.create_object(&data_object("x", b"y", true, true))
            .expect("create");
        // While running: the database, its -wal/-shm companions and any other file.
        let files = files_under(env.token_dir());
        assert!(!files.is_empty());
        for f in &files {
            check(f, 0o600, "while running");
        }
    }
    check(env.token_dir(), 0o700, "(directory created by the module)");
    ctx.finalize().expect("C_Finalize");
    for f in files_under(env.token_dir()) {
        check(&f, 0o600, "after C_Finalize");
    }
    assert!(wrong.is_empty(), "modes: {wrong:#?}");
}

fn open_db(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open token database")
}

#[test]
fn token_file_layout() {
    let env = TestEnv::sqlite();
    let ctx = load_module();
    let a = init_token(&ctx, "layout-a");
    let b = init_token(&ctx, "layout-b");
    let serial_a = serial_of(&ctx, a);
    let serial_b = serial_of(&ctx, b);
    assert_ne!(serial_a, serial_b);
    {
        let s = user_session(&ctx, a);
        s.create_object(&data_object("pub", b"v", true, false))
            .expect("public");
        s.create_object(&data_object("priv", b"v", true, true))
            .expect("private");
        s.create_object(&generic_secret("key", &[1; 32], true, true))
            .expect("key");
        s.create_object(&data_object("session", b"v", false, false))
            .expect("session object");
    }
    ctx.finalize().expect("C_Finalize");

    let file_a = env.token_file(&serial_a);
    assert!(file_a.is_file(), "{} missing", file_a.display());
    assert!(env.token_file(&serial_b).is_file());
    let header = std::fs::read(&file_a).expect("read");
    assert!(
        header.starts_with(b"SQLite format 3\0"),
        "not an SQLite file"
    );
    // Bytes 18 and 19 of the header are 2 in WAL mode.
    assert_eq!((header[18], header[19]), (2, 2), "database not in WAL mode");

    let db = open_db(&file_a);
    let mode: String = db
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("journal_mode");
    assert_eq!(mode.to_lowercase(), "wal");
    let columns: Vec<String> = db
        .prepare("SELECT name FROM pragma_table_info('objects') ORDER BY cid")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    // The class may be stored as a value or as a keyed hash, like the id and the label.
    assert!(
        columns.iter().any(|c| c == "class" || c == "class_hash"),
        "objects table lacks an indexed class column: {columns:?}"
    );
    for wanted in ["id", "private", "id_hash", "label_hash", "gen", "attrs"] {
        assert!(
            columns.iter().any(|c| c == wanted),
            "objects table lacks column {wanted}: {columns:?}"
        );
    }
    let meta: i64 = db
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
            [],
            |r| r.get(0),
        )
        .expect("meta table");
    assert_eq!(meta, 1, "meta table missing");

    // Token objects only: the session object never reached the file.
    let rows: Vec<i64> = db
        .prepare("SELECT private FROM objects ORDER BY id")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        rows,
        vec![0, 1, 1],
        "one row per token object, in creation order, with its private flag"
    );
}
