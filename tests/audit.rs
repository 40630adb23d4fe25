//! The audit trail of management calls (issue 14; PKCS#11 v3.0 §5.5 C_InitToken/C_InitPIN/
//! C_SetPIN, §5.6 C_Login/C_Logout, §5.7 object management, §5.14 key management), read back
//! the way an auditor reads it: `ferrohsm-util audit show --json`, `export` and `verify`, run
//! against the store of a token a real client used. Key-use records and signed checkpoints
//! are not implemented yet; these tests cover what is.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass};
use cryptoki::session::UserType;
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

/// `ferrohsm-util` of the same build as the module under test.
fn util_path() -> PathBuf {
    let module = module_path();
    let util = module.with_file_name("ferrohsm-util");
    assert!(
        util.is_file(),
        "{} not built: run `cargo build --workspace`",
        util.display()
    );
    util
}

fn util(env: &TestEnv, args: &[&str]) -> Output {
    Command::new(util_path())
        .args(args)
        .env_remove("FERROHSM_TOKEN_DIR")
        .env_remove("FERROHSM_STORE_URL")
        .envs(env.store_vars())
        .output()
        .expect("run ferrohsm-util")
}

#[track_caller]
fn util_ok(env: &TestEnv, args: &[&str]) -> String {
    let out = util(env, args);
    assert!(
        out.status.success(),
        "ferrohsm-util {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The trail as JSON records, oldest first.
fn trail(env: &TestEnv, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["audit", "show", "--json"];
    args.extend(extra);
    util_ok(env, &args)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn field<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

/// The one record of `function` with `result` that satisfies `pred`.
#[track_caller]
fn one<'a>(
    recs: &'a [Value],
    function: &str,
    result: &str,
    pred: impl Fn(&Value) -> bool,
) -> &'a Value {
    let found: Vec<&Value> = recs
        .iter()
        .filter(|r| field(r, "eventName") == Some(function) && field(r, "result") == Some(result))
        .filter(|r| pred(r))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one {function} record with {result} expected, got {found:#?}\nwhole trail: {recs:#?}"
    );
    found[0]
}

fn unique_id(s: &cryptoki::session::Session, h: cryptoki::object::ObjectHandle) -> String {
    String::from_utf8(read_bytes(s, h, AttributeType::UniqueId).unwrap()).unwrap()
}

const SECRET_LABEL: &str = "private-label-3f9a";
const AES_VALUE: [u8; 32] = [0x5a; 32];

#[test]
fn management_calls_are_recorded_with_their_fields_and_no_secret() {
    let env = TestEnv::new();
    let ctx = env.load();
    let slot = init_token(&ctx, "audited");
    let serial = serial_of(&ctx, slot);
    let s = ctx.open_rw_session(slot).unwrap();
    expect_rv(
        s.login(UserType::User, Some(&pin("wrong-pin-0000"))),
        cryptoki::error::RvError::PinIncorrect,
    );
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();

    let public = s
        .create_object(&data_object("public-data", b"value", true, false))
        .unwrap();
    let private = s
        .create_object(&data_object(SECRET_LABEL, b"value", true, true))
        .unwrap();
    let aes = s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Wrap(true),
            Attribute::Label(b"known-aes".to_vec()),
            Attribute::Value(AES_VALUE.to_vec()),
        ])
        .unwrap();
    s.update_attributes(public, &[Attribute::Label(b"public-renamed".to_vec())])
        .unwrap();
    let copy = s.copy_object(public, &[]).unwrap();
    let data_key = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(true),
                Attribute::ValueLen(32.into()),
                Attribute::Extractable(true),
                Attribute::Label(b"data-key".to_vec()),
            ],
        )
        .unwrap();
    let wrapped = s.wrap_key(&Mechanism::AesKeyWrap, aes, data_key).unwrap();
    let unwrapped = s
        .unwrap_key(
            &Mechanism::AesKeyWrap,
            aes,
            &wrapped,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::Token(true),
                Attribute::Label(b"unwrapped".to_vec()),
            ],
        )
        .unwrap();
    let (ec_pub, ec_priv) = s
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[Attribute::EcParams(P256.to_vec()), Attribute::Token(true)],
            &[Attribute::Token(true), Attribute::Sign(true)],
        )
        .unwrap();
    let ids = [
        ("public", unique_id(&s, public)),
        ("private", unique_id(&s, private)),
        ("aes", unique_id(&s, aes)),
        ("copy", unique_id(&s, copy)),
        ("data_key", unique_id(&s, data_key)),
        ("unwrapped", unique_id(&s, unwrapped)),
        ("ec_pub", unique_id(&s, ec_pub)),
        ("ec_priv", unique_id(&s, ec_priv)),
    ];
    let id = |name: &str| ids.iter().find(|(n, _)| *n == name).unwrap().1.clone();
    s.destroy_object(copy).unwrap();
    s.set_pin(&pin(USER_PIN), &pin("user-pin-changed-77"))
        .unwrap();
    s.logout().unwrap();
    drop(s);
    ctx.finalize().unwrap();

    let recs = trail(&env, &[]);
    for r in &recs {
        assert_eq!(field(r, "tokenSerial"), Some(serial.as_str()), "{r}");
        assert_eq!(
            r.get("processId").and_then(Value::as_u64),
            Some(u64::from(std::process::id())),
            "{r}"
        );
        assert!(
            field(r, "eventTime").is_some_and(|t| t.ends_with('Z') && t.len() == 27),
            "{r}"
        );
        assert!(field(r, "sourceHost").is_some_and(|h| !h.is_empty()), "{r}");
    }
    let is = |k: &'static str, want: String| move |r: &Value| field(r, k) == Some(want.as_str());
    one(&recs, "C_InitToken", "CKR_OK", |r| {
        field(r, "userType") == Some("CKU_SO")
    });
    one(&recs, "C_InitPIN", "CKR_OK", |r| {
        field(r, "userType") == Some("CKU_SO")
    });
    let failed = one(&recs, "C_Login", "CKR_PIN_INCORRECT", |_| true);
    assert_eq!(field(failed, "userType"), Some("CKU_USER"));
    one(&recs, "C_Login", "CKR_OK", |r| {
        field(r, "userType") == Some("CKU_USER")
    });
    let created = one(&recs, "C_CreateObject", "CKR_OK", is("keyId", id("public")));
    assert_eq!(
        field(created, "keyLabel"),
        Some("public-data"),
        "a public object's label"
    );
    let created = one(
        &recs,
        "C_CreateObject",
        "CKR_OK",
        is("keyId", id("private")),
    );
    assert_eq!(
        created.get("keyLabel"),
        Some(&Value::Null),
        "a private label is secret"
    );
    one(&recs, "C_CreateObject", "CKR_OK", is("keyId", id("aes")));
    one(
        &recs,
        "C_SetAttributeValue",
        "CKR_OK",
        is("keyId", id("public")),
    );
    one(&recs, "C_CopyObject", "CKR_OK", is("keyId", id("copy")));
    let generated = one(
        &recs,
        "C_GenerateKey",
        "CKR_OK",
        is("keyId", id("data_key")),
    );
    assert_eq!(field(generated, "mechanism"), Some("CKM_AES_KEY_GEN"));
    // The cryptoki crate asks for the wrapped length first: that call is a C_WrapKey too.
    let wraps: Vec<&Value> = recs
        .iter()
        .filter(|r| field(r, "eventName") == Some("C_WrapKey"))
        .collect();
    assert!(!wraps.is_empty(), "no C_WrapKey record: {recs:#?}");
    let wrap = wraps[wraps.len() - 1];
    assert_eq!(field(wrap, "result"), Some("CKR_OK"));
    assert_eq!(
        field(wrap, "keyId"),
        Some(id("data_key").as_str()),
        "the wrapped key"
    );
    assert_eq!(
        field(wrap, "baseKeyId"),
        Some(id("aes").as_str()),
        "the wrapping key"
    );
    assert_eq!(field(wrap, "mechanism"), Some("CKM_AES_KEY_WRAP"));
    let unwrap = one(&recs, "C_UnwrapKey", "CKR_OK", is("keyId", id("unwrapped")));
    assert_eq!(
        field(unwrap, "baseKeyId"),
        Some(id("aes").as_str()),
        "the unwrapping key"
    );
    let pair: Vec<_> = recs
        .iter()
        .filter(|r| field(r, "eventName") == Some("C_GenerateKeyPair"))
        .filter_map(|r| field(r, "keyId"))
        .collect();
    assert!(
        pair.contains(&id("ec_pub").as_str()) && pair.contains(&id("ec_priv").as_str()),
        "both halves of the pair: {pair:?}"
    );
    one(&recs, "C_DestroyObject", "CKR_OK", is("keyId", id("copy")));
    one(&recs, "C_SetPIN", "CKR_OK", |r| {
        field(r, "userType") == Some("CKU_USER")
    });
    one(&recs, "C_Logout", "CKR_OK", |r| {
        field(r, "userType") == Some("CKU_USER")
    });

    // Filters pick records by field.
    let logins = trail(&env, &["--op", "C_Login"]);
    assert_eq!(
        logins.len(),
        3,
        "SO login, failed and good user login: {logins:#?}"
    );
    let failures = trail(&env, &["--result", "CKR_PIN_INCORRECT"]);
    assert_eq!(failures.len(), 1, "{failures:#?}");
    let about_aes = trail(&env, &["--key", &id("aes")]);
    assert_eq!(
        about_aes.len(),
        2 + wraps.len(),
        "created, then used to wrap and unwrap: {about_aes:#?}"
    );
    assert!(trail(&env, &["--since", "2999-01-01"]).is_empty());
    assert_eq!(trail(&env, &["--until", "2999-01-01"]).len(), recs.len());

    // No PIN, no key byte, no private label anywhere in the export.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("trail.jsonl");
    util_ok(&env, &["audit", "export", "--out", out.to_str().unwrap()]);
    let exported = std::fs::read(&out).unwrap();
    assert_eq!(exported.iter().filter(|&&b| b == b'\n').count(), recs.len());
    let text = String::from_utf8_lossy(&exported).to_lowercase();
    let aes_hex: String = AES_VALUE.iter().map(|b| format!("{b:02x}")).collect();
    for secret in [
        USER_PIN,
        SO_PIN,
        "wrong-pin-0000",
        "user-pin-changed-77",
        SECRET_LABEL,
        aes_hex.as_str(),
    ] {
        assert!(
            !text.contains(&secret.to_lowercase()),
            "{secret} in the trail"
        );
    }
    assert!(
        !exported.windows(AES_VALUE.len()).any(|w| w == AES_VALUE),
        "the AES key's bytes in the trail"
    );

    let verified = util_ok(&env, &["audit", "verify"]);
    assert!(
        verified.contains(&format!("{} records, chain intact", recs.len())),
        "{verified}"
    );
}

/// Several processes appending at once (each `ferrohsm-util list-objects --pin` is a process
/// with a C_Login of its own) make one chain: every login recorded once, the chain intact.
#[test]
fn processes_writing_at_once_make_one_chain() {
    let env = TestEnv::new();
    let ctx = env.load();
    let slot = init_token(&ctx, "chain");
    let serial = serial_of(&ctx, slot);
    ctx.finalize().unwrap();
    let before = trail(&env, &[]).len();
    const PROCS: usize = 3;
    const EACH: usize = 6;
    std::thread::scope(|scope| {
        for _ in 0..PROCS {
            scope.spawn(|| {
                for _ in 0..EACH {
                    let out = Command::new(util_path())
                        .args(["--module", module_path().to_str().unwrap()])
                        .args(["list-objects", "--serial", &serial, "--pin", USER_PIN])
                        .envs(env.store_vars())
                        .output()
                        .unwrap();
                    assert!(
                        out.status.success(),
                        "{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            });
        }
    });
    let recs = trail(&env, &[]);
    let logins: Vec<u64> = recs
        .iter()
        .filter(|r| {
            field(r, "eventName") == Some("C_Login") && field(r, "result") == Some("CKR_OK")
        })
        .filter(|r| field(r, "program") == Some("ferrohsm-util"))
        .filter_map(|r| r.get("processId").and_then(Value::as_u64))
        .collect();
    assert_eq!(logins.len(), PROCS * EACH, "{recs:#?}");
    let mut pids = logins.clone();
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(pids.len(), PROCS * EACH, "one login per process");
    assert!(recs.len() >= before + PROCS * EACH);
    let verified = util_ok(&env, &["audit", "verify"]);
    assert!(
        verified.contains(&format!("{} records, chain intact", recs.len())),
        "{verified}"
    );
}

/// The rows of the audit table of a token file, to damage them.
fn audit_db(env: &TestEnv, serial: &str) -> rusqlite::Connection {
    rusqlite::Connection::open(env.token_file(serial)).unwrap()
}

/// A token with a few records, its ferrohsm-util verify passing.
fn recorded_token(env: &TestEnv) -> (String, usize) {
    let ctx = env.load();
    let slot = init_token(&ctx, "tamper");
    let serial = serial_of(&ctx, slot);
    let s = user_session(&ctx, slot);
    for i in 0..4 {
        s.create_object(&data_object(&format!("d{i}"), b"v", true, false))
            .unwrap();
    }
    s.logout().unwrap();
    drop(s);
    ctx.finalize().unwrap();
    let n = trail(env, &[]).len();
    util_ok(env, &["audit", "verify"]);
    (serial, n)
}

#[track_caller]
fn verify_fails(env: &TestEnv, want: &str) {
    let out = util(env, &["audit", "verify"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "verify passed on a damaged trail");
    assert!(err.contains(want), "want {want:?} in: {err}");
}

#[test]
fn an_edited_deleted_inserted_or_reordered_record_is_named() {
    // Edited: record 3's bytes changed.
    let env = TestEnv::sqlite();
    let (serial, _) = recorded_token(&env);
    audit_db(&env, &serial)
        .execute(
            "UPDATE audit SET record = replace(record, 'CKR_OK', 'CKR_NO') WHERE seq = 3",
            [],
        )
        .unwrap();
    verify_fails(&env, "record 3: hash does not match");

    // Deleted: record 4 gone.
    let env = TestEnv::sqlite();
    let (serial, _) = recorded_token(&env);
    audit_db(&env, &serial)
        .execute("DELETE FROM audit WHERE seq = 4", [])
        .unwrap();
    verify_fails(&env, "record 5 follows record 3");

    // Inserted: a copy of record 2 put in after the last one.
    let env = TestEnv::sqlite();
    let (serial, n) = recorded_token(&env);
    audit_db(&env, &serial)
        .execute(
            "INSERT INTO audit(seq, time_us, record, hash) \
             SELECT ?1, time_us, record, hash FROM audit WHERE seq = 2",
            [n as i64 + 1],
        )
        .unwrap();
    verify_fails(&env, &format!("record {}: hash does not match", n + 1));

    // Reordered: records 2 and 3 swapped (bytes and hashes, under each other's numbers).
    let env = TestEnv::sqlite();
    let (serial, _) = recorded_token(&env);
    let db = audit_db(&env, &serial);
    db.execute_batch(
        "UPDATE audit SET seq = -1 WHERE seq = 2; UPDATE audit SET seq = 2 WHERE seq = 3; \
         UPDATE audit SET seq = 3 WHERE seq = -1;",
    )
    .unwrap();
    drop(db);
    verify_fails(&env, "record 2: hash does not match");

    // The first records cut off: the chain no longer starts at 1.
    let env = TestEnv::sqlite();
    let (serial, _) = recorded_token(&env);
    audit_db(&env, &serial)
        .execute("DELETE FROM audit WHERE seq < 3", [])
        .unwrap();
    verify_fails(&env, "record 3 follows record 0");
}

/// Remove the audit tables, as a store of the previous format was: a SQLite file had none, a
/// PostgreSQL database was at schema version 1.
fn previous_format(env: &TestEnv, serial: &str) {
    match env.store_url() {
        None => audit_db(env, serial)
            .execute_batch("DROP TABLE audit; DROP TABLE audit_checkpoint;")
            .unwrap(),
        Some(url) => {
            let out = Command::new("psql")
                .args([url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c"])
                .arg(
                    "DROP TABLE audit; DROP TABLE audit_checkpoint; \
                     UPDATE ferrohsm_schema SET version = 1;",
                )
                .output()
                .expect("run psql (Debian package postgresql-client)");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// A store of the previous format has no audit tables: the next module adds them (PostgreSQL:
/// its schema migration; SQLite: the first write, in that write's transaction), and the
/// token's objects stay as they were.
#[test]
fn a_store_without_audit_tables_gains_them() {
    let env = TestEnv::new();
    let ctx = env.load();
    let slot = init_token(&ctx, "old-format");
    let serial = serial_of(&ctx, slot);
    let s = user_session(&ctx, slot);
    s.create_object(&data_object("kept", b"kept value", true, true))
        .unwrap();
    drop(s);
    ctx.finalize().unwrap();
    previous_format(&env, &serial);
    if !env.is_postgres() {
        assert!(
            trail(&env, &[]).is_empty(),
            "no trail in a file without the tables"
        );
        util_ok(&env, &["audit", "verify"]);
    }

    let ctx = env.load();
    let slot = slot_by_label(&ctx, "old-format");
    let s = user_session(&ctx, slot);
    let kept = one_by_label(&s, "kept");
    assert_eq!(
        read_bytes(&s, kept, AttributeType::Value).unwrap(),
        b"kept value"
    );
    drop(s);
    ctx.finalize().unwrap();
    let recs = trail(&env, &[]);
    assert_eq!(recs.len(), 1, "{recs:#?}");
    assert_eq!(field(&recs[0], "eventName"), Some("C_Login"));
    let verified = util_ok(&env, &["audit", "verify"]);
    assert!(verified.contains("1 records, chain intact"), "{verified}");
}
