//! PKCS#11 v3.0 §5.1 return values CKR_DEVICE_ERROR and CKR_TOKEN_NOT_RECOGNIZED under damage to
//! ferrohsm's token store: a flipped byte in a sealed value, a sealed blob moved to another
//! object, truncated, empty or foreign token files. The module must report the damage, never
//! return wrong data, never panic (CKR_GENERAL_ERROR), and keep everything else usable.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use cryptoki::context::Pkcs11;
use cryptoki::error::{Error, RvError};
use cryptoki::object::{AttributeType, ObjectHandle};
use cryptoki::session::{Session, UserType};
use std::path::Path;

/// Return values the module may give for damaged storage.
const DAMAGE: [RvError; 2] = [RvError::DeviceError, RvError::TokenNotRecognized];

/// Rows of the objects table as (id, attrs), in creation order.
fn rows(path: &Path) -> Vec<(i64, Vec<u8>)> {
    let db = rusqlite::Connection::open(path).expect("open token database");
    let rows = db
        .prepare("SELECT id, attrs FROM objects ORDER BY id")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<Vec<(i64, Vec<u8>)>, _>>()
        .expect("rows");
    rows
}

fn set_attrs(path: &Path, id: i64, attrs: &[u8]) {
    let db = rusqlite::Connection::open(path).expect("open token database");
    let n = db
        .execute(
            "UPDATE objects SET attrs = ?1 WHERE id = ?2",
            rusqlite::params![attrs, id],
        )
        .expect("update");
    assert_eq!(n, 1);
}

/// Start the module, log in to the token, run `f`, shut the module down again.
fn with_token<T>(label: &str, f: impl FnOnce(&Session) -> T) -> T {
    let ctx = load_module();
    let slot = slot_by_label(&ctx, label);
    let out = {
        let s = user_session(&ctx, slot);
        f(&s)
    };
    ctx.finalize().expect("C_Finalize");
    out
}

/// What reading one object gave: its label and value, or the damage code.
#[derive(Debug, PartialEq)]
enum Read {
    Data(Vec<u8>, Vec<u8>),
    Damaged,
}

/// Find the object by label and read it. A search that itself reports the damage counts as a
/// detected read; any other failure, or a missing object, fails the test.
fn read_object(s: &Session, label: &str) -> Read {
    let found = match s.find_objects(&[cryptoki::object::Attribute::Label(
        label.as_bytes().to_vec(),
    )]) {
        Ok(found) => found,
        Err(Error::Pkcs11(RvError::DeviceError, _)) => return Read::Damaged,
        Err(e) => panic!("search for {label:?} failed with {e:?}"),
    };
    assert_eq!(found.len(), 1, "object {label:?} not found exactly once");
    read_handle(s, found[0])
}

fn read_handle(s: &Session, h: ObjectHandle) -> Read {
    let label = read_bytes(s, h, AttributeType::Label);
    let value = read_bytes(s, h, AttributeType::Value);
    match (label, value) {
        (Ok(l), Ok(v)) => Read::Data(l, v),
        (l, v) => {
            for r in [&l, &v] {
                if let Err(e) = r {
                    assert!(
                        matches!(e, Error::Pkcs11(RvError::DeviceError, _)),
                        "damaged object read gave {e:?}, not CKR_DEVICE_ERROR"
                    );
                }
            }
            Read::Damaged
        }
    }
}

fn data(label: &str, value: &str) -> Read {
    Read::Data(label.as_bytes().to_vec(), value.as_bytes().to_vec())
}

/// A token "tamper" holding two private data objects, victim then bystander.
fn two_private_objects(env: &TestEnv) -> std::path::PathBuf {
    let ctx = load_module();
    let slot = init_token(&ctx, "tamper");
    let serial = serial_of(&ctx, slot);
    {
        let s = user_session(&ctx, slot);
        s.create_object(&data_object("victim", b"victim-value", true, true))
            .expect("victim");
        s.create_object(&data_object("bystander", b"bystander-value", true, true))
            .expect("bystander");
    }
    ctx.finalize().expect("C_Finalize");
    env.token_file(&serial)
}

#[test]
fn flipped_byte_in_a_private_object_is_a_device_error() {
    let env = TestEnv::sqlite();
    let file = two_private_objects(&env);
    let rows = rows(&file);
    assert_eq!(rows.len(), 2, "one row per token object expected");
    let (victim_id, original) = rows[0].clone();
    let len = original.len();
    assert!(
        len > 16,
        "attrs blob of {len} bytes cannot hold sealed values"
    );

    // Every position of the blob.
    let offsets: Vec<usize> = (0..len).collect();

    for &offset in &offsets {
        let mut flipped = original.clone();
        flipped[offset] ^= 0x01;
        set_attrs(&file, victim_id, &flipped);
        let (victim, bystander, all_ok) = with_token("tamper", |s| {
            let all = s.find_objects(&[]);
            (
                read_object(s, "victim"),
                read_object(s, "bystander"),
                all.is_ok(),
            )
        });
        // Every flip is detected: the blob is sealed and the row carries a MAC over it.
        assert_eq!(
            victim,
            Read::Damaged,
            "byte {offset} of {len}: tampering not detected"
        );
        assert_eq!(
            bystander,
            data("bystander", "bystander-value"),
            "byte {offset}: the other object suffered"
        );
        assert!(
            all_ok,
            "byte {offset}: C_FindObjects over all objects failed"
        );
    }
    // Restored, the object reads again: the failure came from the flip, not from a lost key.
    set_attrs(&file, victim_id, &original);
    let victim = with_token("tamper", |s| read_object(s, "victim"));
    assert_eq!(victim, data("victim", "victim-value"));
}

#[test]
fn sealed_blob_moved_to_another_object_is_a_device_error() {
    let env = TestEnv::sqlite();
    let file = two_private_objects(&env);
    let rows = rows(&file);
    assert_eq!(rows.len(), 2);
    let (_, victim_attrs) = rows[0].clone();
    let (bystander_id, _) = rows[1].clone();
    // The bystander's row now carries the victim's blob, sealed for the victim's id.
    set_attrs(&file, bystander_id, &victim_attrs);
    let (victim, bystander) = with_token("tamper", |s| {
        (read_object(s, "victim"), read_object(s, "bystander"))
    });
    assert_eq!(
        victim,
        data("victim", "victim-value"),
        "the source is untouched"
    );
    assert_eq!(
        bystander,
        Read::Damaged,
        "a blob moved between objects was accepted"
    );
}

#[test]
fn secret_value_of_a_public_key_moved_between_objects_is_a_device_error() {
    let env = TestEnv::sqlite();
    let ctx = load_module();
    let slot = init_token(&ctx, "tamper");
    let serial = serial_of(&ctx, slot);
    let (first, second) = ([0x11u8; 32], [0x22u8; 32]);
    {
        let s = user_session(&ctx, slot);
        s.create_object(&generic_secret("first", &first, false, false))
            .expect("first");
        s.create_object(&generic_secret("second", &second, false, false))
            .expect("second");
    }
    ctx.finalize().expect("C_Finalize");
    let file = env.token_file(&serial);
    let rows = rows(&file);
    assert_eq!(rows.len(), 2);
    set_attrs(&file, rows[1].0, &rows[0].1);
    // The moved blob may carry the first key's public label too, so look at both keys.
    let values = with_token("tamper", |s| {
        let all = s.find_objects(&[]).expect("find all");
        assert_eq!(all.len(), 2);
        all.into_iter()
            .map(|h| read_bytes(s, h, AttributeType::Value))
            .collect::<Vec<_>>()
    });
    let mut intact = 0;
    let mut detected = 0;
    for v in values {
        match v {
            Ok(v) if v == first.to_vec() => intact += 1,
            Err(Error::Pkcs11(RvError::DeviceError, _)) => detected += 1,
            other => panic!("expected the first key's value or CKR_DEVICE_ERROR, got {other:?}"),
        }
    }
    assert_eq!(
        (intact, detected),
        (1, 1),
        "the moved CKA_VALUE was returned for the other key"
    );
}

/// Create a healthy token "healthy" with one private object, and optionally a token "damaged"
/// with 40 objects of 1 KiB; returns the damaged token's slot id and file.
fn two_tokens(env: &TestEnv, with_damaged: bool) -> Option<(u64, std::path::PathBuf)> {
    let ctx = load_module();
    let healthy = init_token(&ctx, "healthy");
    {
        let s = user_session(&ctx, healthy);
        s.create_object(&data_object("kept", b"kept-value", true, true))
            .expect("create");
    }
    let damaged = with_damaged.then(|| {
        let slot = init_token(&ctx, "damaged");
        let s = user_session(&ctx, slot);
        for i in 0..40 {
            s.create_object(&data_object(
                &format!("d{i}"),
                &[i as u8; 1024],
                true,
                i % 2 == 0,
            ))
            .expect("create");
        }
        drop(s);
        (slot.id(), env.token_file(&serial_of(&ctx, slot)))
    });
    ctx.finalize().expect("C_Finalize");
    damaged
}

/// Remove the WAL and shared-memory companions so the damage to the main file is what counts.
fn drop_companions(file: &Path) {
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut p = file.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}

/// With the damage in place: the slot list works; the damaged token is absent, unrecognized,
/// or reports CKR_DEVICE_ERROR/CKR_TOKEN_NOT_RECOGNIZED on use (never wrong data or a panic);
/// the healthy token works fully; a new token can still be created; the damaged file is left
/// as it was.
fn check_damage(damaged_slot: Option<u64>, damaged_file: &Path) {
    let before = std::fs::read(damaged_file).expect("damaged file");
    let ctx = load_module();
    let slots = ctx
        .get_all_slots()
        .expect("C_GetSlotList despite the damage");
    let mut detected = false;
    for slot in &slots {
        let info = match ctx.get_token_info(*slot) {
            Ok(info) => info,
            Err(e) => {
                assert!(
                    matches!(e, Error::Pkcs11(RvError::TokenNotRecognized, _)),
                    "C_GetTokenInfo on slot {} gave {e:?}",
                    slot.id()
                );
                detected = true;
                continue;
            }
        };
        if !info.token_initialized() || info.label() == "healthy" {
            continue;
        }
        if Some(slot.id()) != damaged_slot {
            panic!(
                "slot {} shows an unexpected token {:?}",
                slot.id(),
                info.label()
            );
        }
        detected |= use_damaged_token(&ctx, *slot);
    }
    if let Some(id) = damaged_slot {
        if !slots.iter().any(|s| s.id() == id) {
            detected = true; // skipped
        }
    }
    if damaged_slot.is_some() {
        assert!(detected, "the damaged token behaved as if it were intact");
    }

    // The healthy token is unaffected.
    let healthy = slot_by_label(&ctx, "healthy");
    {
        let s = user_session(&ctx, healthy);
        assert_eq!(read_object(&s, "kept"), data("kept", "kept-value"));
        s.create_object(&data_object("new", b"new", true, true))
            .expect("write to the healthy token");
    }
    // A new token can be created beside the damage.
    init_token(&ctx, "fresh");
    {
        let s = user_session(&ctx, slot_by_label(&ctx, "fresh"));
        s.create_object(&data_object("fresh", b"fresh", true, true))
            .expect("write to a new token");
    }
    ctx.finalize().expect("C_Finalize");
    assert_eq!(
        std::fs::read(damaged_file).expect("damaged file"),
        before,
        "the module rewrote a token file it could not read"
    );
}

/// Use the damaged token: every failure must be a damage code; returns whether any was seen.
fn use_damaged_token(ctx: &Pkcs11, slot: cryptoki::slot::Slot) -> bool {
    let check = |e: &Error, what: &str| {
        assert!(
            matches!(e, Error::Pkcs11(code, _) if DAMAGE.contains(code)),
            "{what} on the damaged token gave {e:?}"
        );
    };
    let s = match ctx.open_rw_session(slot) {
        Ok(s) => s,
        Err(e) => {
            check(&e, "C_OpenSession");
            return true;
        }
    };
    if let Err(e) = s.login(UserType::User, Some(&pin(USER_PIN))) {
        check(&e, "C_Login");
        return true;
    }
    let all = match s.find_objects(&[]) {
        Ok(all) => all,
        Err(e) => {
            check(&e, "C_FindObjects");
            return true;
        }
    };
    let mut detected = all.len() != 40;
    for h in all {
        match (
            read_bytes(&s, h, AttributeType::Label),
            read_bytes(&s, h, AttributeType::Value),
        ) {
            (Ok(label), Ok(value)) => {
                // Whatever is returned must be what was written.
                let label = String::from_utf8(label).expect("label");
                let i: u8 = label
                    .strip_prefix('d')
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| panic!("wrong label {label:?} from the damaged token"));
                assert_eq!(value, vec![i; 1024], "wrong value for {label}");
            }
            (l, v) => {
                for r in [l, v] {
                    if let Err(e) = r {
                        check(&e, "C_GetAttributeValue");
                    }
                }
                detected = true;
            }
        }
    }
    detected
}

#[test]
fn truncated_token_file_to_half() {
    let env = TestEnv::sqlite();
    let (slot, file) = two_tokens(&env, true).expect("damaged token");
    drop_companions(&file);
    let len = std::fs::metadata(&file).expect("metadata").len();
    assert!(
        len > 40 * 1024,
        "token file smaller than its objects: {len}"
    );
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .expect("open")
        .set_len(len / 2)
        .expect("truncate");
    check_damage(Some(slot), &file);
}

#[test]
fn truncated_token_file_inside_the_header() {
    let env = TestEnv::sqlite();
    let (slot, file) = two_tokens(&env, true).expect("damaged token");
    drop_companions(&file);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .expect("open")
        .set_len(60)
        .expect("truncate");
    check_damage(Some(slot), &file);
}

#[test]
fn empty_token_file() {
    let env = TestEnv::sqlite();
    let (slot, file) = two_tokens(&env, true).expect("damaged token");
    drop_companions(&file);
    std::fs::write(&file, b"").expect("empty the file");
    check_damage(Some(slot), &file);
}

#[test]
fn garbage_file_in_the_token_directory() {
    let env = TestEnv::sqlite();
    two_tokens(&env, false);
    let garbage = env.token_dir().join("0123456789abcdef.sqlite");
    std::fs::write(
        &garbage,
        "this is not a database, just some text\n".repeat(200),
    )
    .expect("garbage");
    check_damage(None, &garbage);
}

#[test]
fn foreign_sqlite_database_in_the_token_directory() {
    let env = TestEnv::sqlite();
    two_tokens(&env, false);
    let foreign = env.token_dir().join("fedcba9876543210.sqlite");
    {
        let db = rusqlite::Connection::open(&foreign).expect("create");
        db.execute_batch("CREATE TABLE notes(x TEXT); INSERT INTO notes VALUES ('hello');")
            .expect("schema");
    }
    check_damage(None, &foreign);
}

#[test]
fn unrelated_files_in_the_token_directory_are_ignored() {
    let env = TestEnv::sqlite();
    two_tokens(&env, false);
    let notes = env.token_dir().join("README.txt");
    std::fs::write(&notes, "not a token").expect("write");
    std::fs::create_dir(env.token_dir().join("subdir")).expect("mkdir");
    let ctx = load_module();
    assert_eq!(
        ctx.get_all_slots().expect("slots").len(),
        2,
        "healthy token and the free slot only"
    );
    ctx.finalize().expect("C_Finalize");
    assert_eq!(std::fs::read(&notes).expect("read"), b"not a token");
}

// ---- whole-object and whole-token integrity (issue 10, finding 5) ----

/// The blob without the entry of attribute `ty`, its count and checksum fixed: what an attacker
/// who can write the file but holds no key can do to a sealed attribute.
fn without_attr(blob: &[u8], ty: u64) -> Vec<u8> {
    use sha2::Digest;
    let body = &blob[..blob.len() - 8];
    let count = u32::from_le_bytes(body[1..5].try_into().unwrap());
    let mut out = vec![body[0]];
    let mut entries = Vec::new();
    let mut at = 5;
    let mut removed = false;
    for _ in 0..count {
        let t = u64::from_le_bytes(body[at..at + 8].try_into().unwrap());
        let len = u32::from_le_bytes(body[at + 9..at + 13].try_into().unwrap()) as usize;
        let end = at + 13 + len;
        if t == ty {
            removed = true;
        } else {
            entries.extend_from_slice(&body[at..end]);
        }
        at = end;
    }
    assert!(removed, "attribute {ty:#x} not in the blob");
    out.extend_from_slice(&(count - 1).to_le_bytes());
    out.extend_from_slice(&entries);
    let check = sha2::Sha256::digest(&out);
    out.extend_from_slice(&check[..8]);
    out
}

fn exec(path: &Path, sql: &str, p: impl rusqlite::Params) {
    let db = rusqlite::Connection::open(path).expect("open token database");
    db.execute(sql, p).expect("tamper");
}

/// Log in and run `f`; a login refused as damage counts as detection (`None`).
fn after_login<T>(label: &str, f: impl FnOnce(&Session) -> T) -> Option<T> {
    let ctx = load_module();
    let slot = slot_by_label(&ctx, label);
    let s = ctx.open_rw_session(slot).expect("session");
    let out = match s.login(UserType::User, Some(&pin(USER_PIN))) {
        Ok(()) => Some(f(&s)),
        Err(Error::Pkcs11(code, _)) if DAMAGE.contains(&code) => None,
        Err(e) => panic!("login gave {e:?}"),
    };
    drop(s);
    ctx.finalize().expect("C_Finalize");
    out
}

fn is_damage<T: std::fmt::Debug>(r: cryptoki::error::Result<T>) -> bool {
    match r {
        Err(Error::Pkcs11(code, _)) if DAMAGE.contains(&code) => true,
        other => {
            eprintln!("not reported as damage: {other:?}");
            false
        }
    }
}

#[test]
fn removed_sealed_attribute_is_detected() {
    use cryptoki::mechanism::Mechanism;
    use cryptoki::object::{Attribute as A, KeyType, ObjectClass};
    let env = TestEnv::sqlite();
    let ctx = load_module();
    let slot = init_token(&ctx, "tamper");
    let serial = serial_of(&ctx, slot);
    let file = env.token_file(&serial);
    let secret = |label: &str, extra: Vec<A>| {
        let mut t = vec![
            A::Class(ObjectClass::SECRET_KEY),
            A::KeyType(KeyType::AES),
            A::Token(true),
            A::Private(true),
            A::Sensitive(true),
            A::Extractable(true),
            A::Label(label.as_bytes().to_vec()),
            A::Value(vec![0x5a; 32]),
        ];
        t.extend(extra);
        t
    };
    // (label, attribute removed) for each case.
    let mut cases = Vec::new();
    {
        let s = user_session(&ctx, slot);
        s.create_object(&secret("wrapper", vec![A::Wrap(true)]))
            .expect("wrapper");
        for (label, ty, extra) in [
            ("trusted-only", 0x210u64, vec![A::WrapWithTrusted(true)]),
            (
                "ecb-refused",
                0x4000_0600,
                vec![A::AllowedMechanisms(vec![
                    cryptoki::mechanism::MechanismType::AES_KEY_WRAP_PAD,
                ])],
            ),
            ("sensitive", 0x103, vec![]),
        ] {
            s.create_object(&secret(label, extra)).expect(label);
            cases.push((label, ty, cases.len() + 1));
        }
        let w = one_by_label(&s, "wrapper");
        expect_rv(
            s.wrap_key(&Mechanism::AesKeyWrap, w, one_by_label(&s, "trusted-only")),
            RvError::KeyNotWrappable,
        );
    }
    ctx.finalize().expect("C_Finalize");
    let all = rows(&file);
    for (label, ty, index) in cases {
        let id = all[index].0;
        let original = rows(&file).into_iter().find(|(i, _)| *i == id).unwrap().1;
        set_attrs(&file, id, &without_attr(&original, ty));
        let detected = after_login("tamper", |s| {
            let h = one_by_label(s, label);
            let w = one_by_label(s, "wrapper");
            if label == "trusted-only" {
                is_damage(s.wrap_key(&Mechanism::AesKeyWrap, w, h))
            } else if label == "sensitive" {
                is_damage(s.get_attributes(h, &[AttributeType::Value]))
            } else {
                is_damage(s.get_attributes(h, &[AttributeType::Label]))
            }
        });
        assert_ne!(
            detected,
            Some(false),
            "removing attribute {ty:#x} of {label} went unnoticed"
        );
        set_attrs(&file, id, &original);
    }
    // Restored, everything reads again.
    assert_eq!(
        after_login("tamper", |s| find_by_label(s, "trusted-only").len()),
        Some(1)
    );
}

#[test]
fn public_attribute_edited_with_a_fixed_checksum_is_detected_after_login() {
    let env = TestEnv::sqlite();
    let ctx = load_module();
    let slot = init_token(&ctx, "tamper");
    let serial = serial_of(&ctx, slot);
    {
        let s = user_session(&ctx, slot);
        s.create_object(&data_object("public", b"public-value", true, false))
            .expect("public");
    }
    ctx.finalize().expect("C_Finalize");
    let file = env.token_file(&serial);
    let (id, blob) = rows(&file)[0].clone();
    // Swap the plain value for another of the same length, checksum recomputed.
    let at = blob
        .windows(12)
        .position(|w| w == b"public-value")
        .expect("plain value in the blob");
    let mut edited = blob[..blob.len() - 8].to_vec();
    edited[at..at + 12].copy_from_slice(b"forged-value");
    use sha2::Digest;
    let check = sha2::Sha256::digest(&edited);
    edited.extend_from_slice(&check[..8]);
    set_attrs(&file, id, &edited);
    let detected = after_login("tamper", |s| {
        is_damage(s.get_attributes(one_by_label(s, "public"), &[AttributeType::Value]))
    });
    assert_ne!(detected, Some(false), "an edited public value was accepted");
}

#[test]
fn row_rolled_back_to_an_older_copy_is_detected() {
    let env = TestEnv::sqlite();
    let file = two_private_objects(&env);
    let db = rusqlite::Connection::open(&file).expect("open");
    let old: (i64, i64, Vec<u8>) = db
        .query_row(
            "SELECT id, gen, attrs FROM objects ORDER BY id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("row");
    let old_row: Vec<(String, rusqlite::types::Value)> = {
        let mut st = db.prepare("SELECT * FROM objects WHERE id = ?1").unwrap();
        let names: Vec<String> = st.column_names().iter().map(|s| s.to_string()).collect();
        st.query_row([old.0], |r| {
            Ok(names
                .iter()
                .enumerate()
                .map(|(i, n)| (n.clone(), r.get::<_, rusqlite::types::Value>(i).unwrap()))
                .collect())
        })
        .unwrap()
    };
    drop(db);
    with_token("tamper", |s| {
        s.update_attributes(
            one_by_label(s, "victim"),
            &[cryptoki::object::Attribute::Value(b"newer-value!".to_vec())],
        )
        .expect("update");
    });
    // Put the whole older row back, every column as it was.
    let db = rusqlite::Connection::open(&file).expect("open");
    for (name, value) in &old_row {
        db.execute(
            &format!("UPDATE objects SET {name} = ?1 WHERE id = ?2"),
            rusqlite::params![value, old.0],
        )
        .expect("roll back");
    }
    drop(db);
    let got = after_login("tamper", |s| {
        let h = one_by_label(s, "victim");
        let v = s.get_attributes(h, &[AttributeType::Value]);
        match v {
            Ok(v) => {
                eprintln!("rolled back object read: {v:?}");
                false
            }
            Err(e) => is_damage::<()>(Err(e)),
        }
    });
    assert_ne!(
        got,
        Some(false),
        "a row rolled back to an older copy was accepted"
    );
}

#[test]
fn flipped_private_column_is_detected() {
    for (from, to) in [(1, 0), (0, 1)] {
        let env = TestEnv::sqlite();
        let ctx = load_module();
        let slot = init_token(&ctx, "tamper");
        let serial = serial_of(&ctx, slot);
        {
            let s = user_session(&ctx, slot);
            s.create_object(&data_object("victim", b"victim-value", true, from == 1))
                .expect("victim");
            s.create_object(&data_object("bystander", b"b", true, true))
                .expect("bystander");
        }
        ctx.finalize().expect("C_Finalize");
        let file = env.token_file(&serial);
        let id = rows(&file)[0].0;
        exec(
            &file,
            "UPDATE objects SET private = ?1 WHERE id = ?2",
            rusqlite::params![to, id],
        );
        let detected = after_login("tamper", |s| {
            let all = s.find_objects(&[]).expect("find");
            all.iter()
                .any(|h| is_damage(s.get_attributes(*h, &[AttributeType::Label])))
        });
        assert_ne!(
            detected,
            Some(false),
            "private column {from} -> {to} went unnoticed"
        );
    }
}

#[test]
fn edited_meta_row_is_detected() {
    for (key, value) in [
        ("label", b"forged label                    ".to_vec()),
        ("next_object_id", 1u64.to_le_bytes().to_vec()),
        ("serial", b"0000000000000000".to_vec()),
    ] {
        let env = TestEnv::sqlite();
        let file = two_private_objects(&env);
        exec(
            &file,
            "UPDATE meta SET value = ?1 WHERE key = ?2",
            rusqlite::params![value, key],
        );
        let label = if key == "label" {
            "forged label"
        } else {
            "tamper"
        };
        let detected = after_login(label, |s| is_damage(s.find_objects(&[])));
        assert_ne!(
            detected,
            Some(false),
            "edited meta row {key} went unnoticed"
        );
    }
}

/// The blob with one more plain attribute, its count and checksum fixed.
fn with_plain_bool(blob: &[u8], ty: u64, v: bool) -> Vec<u8> {
    use sha2::Digest;
    let body = &blob[..blob.len() - 8];
    let count = u32::from_le_bytes(body[1..5].try_into().unwrap());
    let mut out = vec![body[0]];
    out.extend_from_slice(&(count + 1).to_le_bytes());
    out.extend_from_slice(&body[5..]);
    out.extend_from_slice(&ty.to_le_bytes());
    out.push(0);
    out.extend_from_slice(&2u32.to_le_bytes());
    out.extend_from_slice(&[0, u8::from(v)]);
    let check = sha2::Sha256::digest(&out);
    out.extend_from_slice(&check[..8]);
    out
}

/// Rows without a MAC are accepted only as what a caller without a PIN could have stored
/// (public objects made before any login): a forged one claiming CKA_TRUSTED, or a MAC'd row
/// moved into that form, is reported once someone logs in.
#[test]
fn forged_rows_without_a_mac_are_detected() {
    let env = TestEnv::sqlite();
    let ctx = load_module();
    let slot = init_token(&ctx, "tamper");
    let serial = serial_of(&ctx, slot);
    {
        let s = ctx.open_rw_session(slot).expect("R/W public session");
        s.create_object(&data_object(
            "before-login",
            b"made without a PIN",
            true,
            false,
        ))
        .expect("public token object before login");
        s.login(UserType::User, Some(&pin(USER_PIN)))
            .expect("login");
        s.create_object(&data_object("after-login", b"made logged in", true, false))
            .expect("public token object after login");
    }
    ctx.finalize().expect("C_Finalize");
    let file = env.token_file(&serial);
    // Made before login, read after login: fine.
    assert_eq!(
        after_login("tamper", |s| read_object(s, "before-login")),
        Some(data("before-login", "made without a PIN"))
    );
    let db = rusqlite::Connection::open(&file).expect("open");
    let (pending_id, blob): (i64, Vec<u8>) = db
        .query_row("SELECT id, attrs FROM objects WHERE mac IS NULL", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("the pending row");
    db.execute(
        "UPDATE objects SET attrs = ?1 WHERE id = ?2",
        rusqlite::params![with_plain_bool(&blob, 0x86, true), pending_id],
    )
    .expect("forge CKA_TRUSTED");
    drop(db);
    let detected = after_login("tamper", |s| {
        is_damage(s.get_attributes(one_by_label(s, "before-login"), &[AttributeType::Label]))
    });
    assert_ne!(
        detected,
        Some(false),
        "a MAC-less row claiming CKA_TRUSTED was accepted"
    );
    exec(
        &file,
        "UPDATE objects SET attrs = ?1 WHERE id = ?2",
        rusqlite::params![blob, pending_id],
    );
    // A MAC'd row stripped of its MAC and moved to the pending range.
    exec(
        &file,
        "UPDATE objects SET mac = NULL, id = id + (1 << 62) + 1000 WHERE mac IS NOT NULL",
        [],
    );
    let detected = after_login("tamper", |s| is_damage(s.find_objects(&[])));
    assert_ne!(
        detected,
        Some(false),
        "a row moved out of the digest went unnoticed"
    );
}

/// A public object destroyed before login (allowed by the specification) leaves the token
/// consistent; an object moved into the table of such deletions behind the module's back is
/// reported when it was not destroyable by a public session.
#[test]
fn deletions_before_login_are_checked_after_login() {
    let env = TestEnv::sqlite();
    let ctx = load_module();
    let slot = init_token(&ctx, "tamper");
    let serial = serial_of(&ctx, slot);
    {
        let s = user_session(&ctx, slot);
        s.create_object(&data_object("goes", b"v", true, false))
            .expect("public");
        let mut keep = data_object("stays", b"v", true, false);
        keep.push(cryptoki::object::Attribute::Destroyable(false));
        s.create_object(&keep).expect("not destroyable");
        s.logout().expect("logout");
        s.destroy_object(one_by_label(&s, "goes"))
            .expect("destroy a public object before login");
    }
    ctx.finalize().expect("C_Finalize");
    assert_eq!(
        after_login("tamper", |s| (
            find_by_label(s, "goes").len(),
            find_by_label(s, "stays").len()
        )),
        Some((0, 1))
    );
    let file = env.token_file(&serial);
    exec(
        &file,
        "INSERT INTO deleted SELECT * FROM objects WHERE id = (SELECT MAX(id) FROM objects)",
        [],
    );
    exec(
        &file,
        "DELETE FROM objects WHERE id = (SELECT MAX(id) FROM objects)",
        [],
    );
    let detected = after_login("tamper", |s| is_damage(s.find_objects(&[])));
    assert_ne!(
        detected,
        Some(false),
        "a non-destroyable object removed through the deletions table went unnoticed"
    );
}
