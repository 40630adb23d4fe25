//! Issue 10 finding 6 across processes: counter IVs of message-based AES-GCM (PKCS#11 v3.0
//! §5.11 C_EncryptMessage, CK_GCM_MESSAGE_PARAMS with CKG_GENERATE_COUNTER, _COUNTER_XOR and
//! CKG_GENERATE below 96 free bits) stay unique for a token key across processes and restarts:
//! the token file reserves blocks of counter values per key. The test binary re-executes
//! itself to run its `child` test in a role, as tests/multiprocess.rs does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::p11::*;
use common::*;
use cryptoki_sys::*;
use std::collections::HashSet;
use std::path::Path;

const TOKEN: &str = "iv-shared";
const LABEL: &str = "iv-token-key";
const COUNT_VAR: &str = "FERROHSM_TEST_IV_COUNT";
const FIXED_VAR: &str = "FERROHSM_TEST_IV_FIXED";
const OUT_VAR: &str = "FERROHSM_TEST_IV_OUT";

/// A sensitive, non-extractable AES token key of value `value`, labelled `LABEL`.
fn token_key(t: &Tok, value: &[u8; 32]) -> CK_OBJECT_HANDLE {
    t.obj(
        &aes(value)
            .b(CKA_TOKEN, true)
            .b(CKA_SENSITIVE, true)
            .b(CKA_EXTRACTABLE, false)
            .bytes(CKA_LABEL, LABEL),
    )
}

fn generator(role: &str) -> CK_GENERATOR_FUNCTION {
    match role {
        "counter" => CKG_GENERATE_COUNTER,
        "xor" => CKG_GENERATE_COUNTER_XOR,
        "generate" => CKG_GENERATE,
        other => panic!("unknown role {other}"),
    }
}

/// Encrypt `count` messages (0: until the key is exhausted) with the generator of `role` and
/// `fixed` fixed bits of a 12-byte IV; the IVs the module gave, in hex.
fn encrypt_many(
    t: &Tok,
    key: CK_OBJECT_HANDLE,
    role: &str,
    fixed: CK_ULONG,
    count: usize,
) -> Vec<String> {
    t.message_encrypt_init(&Mech::new(CKM_AES_GCM), key)
        .ok_or_panic("C_MessageEncryptInit");
    let mut ivs = Vec::new();
    loop {
        if count != 0 && ivs.len() == count {
            break;
        }
        match t.gcm_generated_iv(12, generator(role), fixed) {
            Ok(iv) => ivs.push(hex(&iv)),
            Err(rv) if count == 0 && rv == CKR_KEY_EXHAUSTED => break,
            Err(rv) => panic!("message {}: {}", ivs.len() + 1, rv_name(rv)),
        }
    }
    t.message_encrypt_final()
        .ok_or_panic("C_MessageEncryptFinal");
    ivs
}

/// The child side: does nothing unless started by a parent test with a role. Not `#[ignore]`d,
/// so a normal run shows no skipped test; run by itself it passes at once.
#[test]
fn child() {
    let Ok(role) = std::env::var(CHILD_ROLE_VAR) else {
        return;
    };
    let var = |k: &str| std::env::var(k).expect(k);
    let t = attach_token(TestEnv::inherited(), TOKEN);
    let key = one_by_label(&t.session, LABEL).handle();
    let ivs = encrypt_many(
        &t,
        key,
        &role,
        var(FIXED_VAR).parse().expect("fixed bits"),
        var(COUNT_VAR).parse().expect("count"),
    );
    std::fs::write(var(OUT_VAR), ivs.join("\n")).expect("write IVs");
}

/// Start `n` children at once, each encrypting `count` messages; their IVs, per child.
fn run_children(t: &Tok, n: usize, role: &str, fixed: CK_ULONG, count: usize) -> Vec<Vec<String>> {
    let fixed = fixed.to_string();
    let count = count.to_string();
    let outs: Vec<_> = (0..n)
        .map(|i| {
            t.env
                .root()
                .join(format!("ivs-{role}-{fixed}-{i}-{}", rand_suffix()))
        })
        .collect();
    let children: Vec<_> = outs
        .iter()
        .map(|o| {
            let o = o.to_str().expect("utf-8 path");
            spawn_child(
                "child",
                role,
                &[(FIXED_VAR, &fixed), (COUNT_VAR, &count), (OUT_VAR, o)],
            )
        })
        .collect();
    for (i, c) in children.into_iter().enumerate() {
        wait_child(c, &format!("{role} {i}"));
    }
    outs.iter().map(|o| read_ivs(o)).collect()
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn read_ivs(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("child's IVs");
    text.lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Every IV once: panics with the first repeat.
fn assert_unique<'a>(what: &str, ivs: impl IntoIterator<Item = &'a String>) -> usize {
    let mut seen = HashSet::new();
    for iv in ivs {
        assert!(seen.insert(iv.clone()), "{what}: IV {iv} generated twice");
    }
    seen.len()
}

/// Two processes at once, then a later one and this one, with CKG_GENERATE_COUNTER and
/// CKG_GENERATE (a counter below 96 free bits) on one token key and one fixed part: no IV
/// twice (each process restarted the counter at 1). COUNTER_XOR the same, on its own.
#[test]
fn processes_never_share_a_counter_iv() {
    let t = token(TOKEN);
    let key = token_key(&t, b"\x42\x42IV-KEY-OF-SEVERAL-PROCESSES!!\x42");
    let mut all: Vec<String> = Vec::new();
    for role in ["counter", "generate"] {
        all.extend(run_children(&t, 2, role, 32, 150).into_iter().flatten());
    }
    all.extend(run_children(&t, 1, "counter", 32, 50).into_iter().flatten());
    all.extend(encrypt_many(&t, key, "counter", 32, 50));
    assert_eq!(assert_unique("counter", &all), 2 * 150 * 2 + 50 + 50);
    let xor: Vec<String> = run_children(&t, 2, "xor", 32, 150)
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(assert_unique("counter xor", &xor), 300);
}

/// 8 free bits give 255 counter values: two processes together get exactly those, then the
/// key is exhausted for this layout in every process.
#[test]
fn exhaustion_is_shared_by_processes() {
    let t = token(TOKEN);
    let key = token_key(&t, b"\x43\x43IV-KEY-EXHAUSTED-BY-TWO-PROCS\x43");
    let per_child = run_children(&t, 2, "counter", 88, 0);
    let n = assert_unique("8 free bits", per_child.iter().flatten());
    assert_eq!(n, 255, "two processes got {n} IVs from 255 values");
    // How the 255 are shared depends on scheduling: one child may even find them all taken
    // when it starts, which is exhaustion across processes too.
    t.message_encrypt_init(&Mech::new(CKM_AES_GCM), key)
        .ok_or_panic("C_MessageEncryptInit");
    expect_err(
        "after both children",
        t.gcm_generated_iv(12, CKG_GENERATE_COUNTER, 88),
        CKR_KEY_EXHAUSTED,
    );
}

/// A process that ends and a new one (C_Finalize, C_Initialize in a new process) continue
/// the count instead of starting again at 1.
#[test]
fn a_restart_continues_the_count() {
    let t = token(TOKEN);
    token_key(&t, b"\x44\x44IV-KEY-ACROSS-A-RESTART!!!!!!\x44");
    let first = run_children(&t, 1, "counter", 32, 10).remove(0);
    let second = run_children(&t, 1, "counter", 32, 10).remove(0);
    assert_unique("restart", first.iter().chain(&second));
    let value = |iv: &String| u64::from_str_radix(&iv[8..], 16).expect("hex");
    assert!(
        value(&second[0]) > value(&first[9]),
        "the second process started at {} after {}",
        second[0],
        first[9]
    );
}

/// The reservation rows are authenticated: one edited in the file is refused with
/// CKR_DEVICE_ERROR when the next block is reserved; put back, it works again.
#[test]
fn an_edited_reservation_row_is_detected() {
    let t = sqlite_token(TOKEN);
    let key = token_key(&t, b"\x45\x45IV-KEY-WITH-AN-EDITED-ROW!!!!\x45");
    let file = t.env.token_file(&serial_of(&t.ctx, t.slot));
    t.message_encrypt_init(&Mech::new(CKM_AES_GCM), key)
        .ok_or_panic("C_MessageEncryptInit");
    t.gcm_generated_iv(12, CKG_GENERATE_COUNTER, 88)
        .ok_or_panic("first message");
    let db = rusqlite::Connection::open(&file).expect("open token database");
    let next: Vec<u8> = db
        .query_row("SELECT next FROM ivs", [], |r| r.get(0))
        .expect("one reservation row");
    let mut a = [0u8; 8];
    a.copy_from_slice(&next);
    let reserved = u64::from_be_bytes(a);
    assert!(
        reserved > 1 && reserved <= 256,
        "next unreserved value {reserved}"
    );
    // Use up the block this process holds.
    for n in 2..reserved {
        t.gcm_generated_iv(12, CKG_GENERATE_COUNTER, 88)
            .unwrap_or_else(|rv| panic!("message {n}: {}", rv_name(rv)));
    }
    let edited = 1u64.to_be_bytes();
    db.execute("UPDATE ivs SET next = ?1", [&edited[..]])
        .expect("edit the row");
    expect_err(
        "edited row",
        t.gcm_generated_iv(12, CKG_GENERATE_COUNTER, 88),
        CKR_DEVICE_ERROR,
    );
    db.execute("UPDATE ivs SET next = ?1", [&next[..]])
        .expect("restore the row");
    t.gcm_generated_iv(12, CKG_GENERATE_COUNTER, 88)
        .ok_or_panic("restored row");
}

/// A token file of the previous release (schema 1, tests/data/v1-token.sqlite) gets the
/// reservation table in its migration at the first login, and its keys then reserve counter
/// values like those of a new token.
#[test]
fn a_migrated_token_reserves_counters() {
    let env = TestEnv::sqlite();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/v1-token.sqlite");
    let file = env.token_file("a286a1e1a2cf9e31");
    std::fs::copy(&src, &file).expect("copy the schema-1 fixture");
    {
        let ctx = load_module();
        let s = ctx
            .open_rw_session(slot_by_label(&ctx, "v1-fixture"))
            .expect("C_OpenSession");
        s.login(
            cryptoki::session::UserType::User,
            Some(&pin("user-pin-9a4f06b3")),
        )
        .expect("C_Login (migrates)");
        s.set_pin(&pin("user-pin-9a4f06b3"), &pin(USER_PIN))
            .expect("C_SetPIN");
        drop(s);
        ctx.finalize().expect("C_Finalize");
    }
    let t = attach_token(env, "v1-fixture");
    let key = one_by_label(&t.session, "aes-known").handle();
    let ivs = encrypt_many(&t, key, "counter", 32, 3);
    assert_unique("migrated", &ivs);
    let db = rusqlite::Connection::open(&file).expect("open token database");
    let rows: i64 = db
        .query_row("SELECT COUNT(*) FROM ivs", [], |r| r.get(0))
        .expect("the reservation table");
    assert_eq!(rows, 1);
}

/// A message in parts that needs a new block at its last part (here the first message of the
/// key, and every 15th after it with 8 free bits) is encrypted once, with every part, under
/// an IV no other message got.
#[test]
fn messages_in_parts_reserve_at_their_last_part() {
    let t = token(TOKEN);
    let key = token_key(&t, b"\x46\x46IV-KEY-OF-MESSAGES-IN-PARTS!!\x46");
    let mut seen = HashSet::new();
    for n in 1..=40 {
        t.message_encrypt_init(&Mech::new(CKM_AES_GCM), key)
            .ok_or_panic("C_MessageEncryptInit");
        let p = gcm_message_params(&[0x5a; 12], CKG_GENERATE_COUNTER, 88, &[0u8; 16]);
        let ct = t
            .message_in_parts(true, &p, b"aad", &[b"hello ", b"in ", b"parts"])
            .unwrap_or_else(|rv| panic!("message {n}: {}", rv_name(rv)));
        let iv = p.kept(0);
        assert!(
            seen.insert(iv.clone()),
            "message {n}: IV {} again",
            hex(&iv)
        );
        t.message_encrypt_final()
            .ok_or_panic("C_MessageEncryptFinal");
        t.message_decrypt_init(&Mech::new(CKM_AES_GCM), key)
            .ok_or_panic("C_MessageDecryptInit");
        let d = gcm_message_params(&iv, CKG_NO_GENERATE, 0, &p.kept(1));
        let plain = t
            .decrypt_message(&d, b"aad", &ct)
            .ok_or_panic("C_DecryptMessage");
        assert_eq!(plain, b"hello in parts", "message {n}");
        t.message_decrypt_final()
            .ok_or_panic("C_MessageDecryptFinal");
    }
}
