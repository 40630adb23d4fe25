//! The token database loader on arbitrary files. Each input becomes the one `*.sqlite` file of a
//! fresh token directory, then the module goes through C_Initialize, C_GetSlotList,
//! C_GetTokenInfo, C_OpenSession, C_FindObjects and C_GetAttributeValue (public objects, before
//! login), C_Login (user, then SO), the same again, and C_Finalize. Any return code is fine; a
//! crash, an abort or a hang is a finding.
//!
//! SQLite rejects most random bytes at once, so the input is applied in one of three ways:
//! - raw: the input is the file;
//! - patched: byte patches (offset, bytes) of a valid seed token (made once, through the module,
//!   with a user PIN and public, private and secret objects);
//! - edited: SQL-level edits of the seed token: a meta value, an object's columns or its
//!   attribute blob replaced by input bytes (with the blob's checksum recomputed, so the decoder
//!   behind it is reached before login; after login the row MAC refuses such a row first).
//!
//! Also the object decoder `store::codec::decode` directly (no guard: a panic is a finding).
#![no_main]

use ferrohsm::store::codec;
use ferrohsm_fuzz::*;
use libfuzzer_sys::fuzz_target;
use rusqlite::{params, Connection};
use sha2::Digest;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The seed token file, made once through the module in its own directory.
fn seed() -> &'static [u8] {
    static SEED: OnceLock<Vec<u8>> = OnceLock::new();
    SEED.get_or_init(|| {
        let dir = work_dir().join("seed");
        configure(&dir);
        // SAFETY: NULL arguments: OS locking.
        check("C_Initialize", unsafe {
            C_Initialize(std::ptr::null_mut())
        });
        let slot = new_token("seed");
        let s = open_session(slot);
        login(s, CKU_USER, USER_PIN);
        let public = |t: Fixed| t.bool(CKA_TOKEN, true).bool(CKA_PRIVATE, false);
        create(
            s,
            public(Fixed::new())
                .ulong(CKA_CLASS, CKO_DATA)
                .bytes(CKA_LABEL, b"public data")
                .bytes(CKA_VALUE, b"value"),
        );
        create(
            s,
            Fixed::new()
                .bool(CKA_TOKEN, true)
                .ulong(CKA_CLASS, CKO_DATA)
                .bytes(CKA_LABEL, b"private data")
                .bytes(CKA_VALUE, b"secret value"),
        );
        generate_key(
            s,
            CKM_AES_KEY_GEN,
            public(Fixed::new())
                .ulong(CKA_VALUE_LEN, 32)
                .bytes(CKA_ID, b"k1")
                .bytes(CKA_LABEL, b"aes"),
        );
        generate_pair(
            s,
            CKM_EC_KEY_PAIR_GEN,
            public(Fixed::new())
                .bytes(CKA_EC_PARAMS, P256_PARAMS)
                .bytes(CKA_LABEL, b"ec"),
            Fixed::new().bool(CKA_TOKEN, true).bool(CKA_SIGN, true),
        );
        // SAFETY: no arguments.
        check("C_Finalize", unsafe { C_Finalize(std::ptr::null_mut()) });
        let files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("seed dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "sqlite"))
            .collect();
        assert_eq!(files.len(), 1, "one seed token file");
        // Fold the WAL into the file so it stands alone.
        let conn = Connection::open(&files[0]).expect("open seed");
        conn.pragma_update(None, "journal_mode", "DELETE")
            .expect("checkpoint seed");
        drop(conn);
        std::fs::read(&files[0]).expect("read seed")
    })
}

fn token_dir() -> PathBuf {
    work_dir().join("tokens")
}

fn reset_dir(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("token dir");
}

/// Apply the input's edits to the seed token at `path` through SQLite.
fn edit(path: &Path, input: &mut Input<'_>) {
    let Ok(conn) = Connection::open(path) else {
        return;
    };
    for _ in 0..4 {
        if input.is_empty() {
            break;
        }
        let _ = match input.u8() % 6 {
            0 => {
                let key = input.pick(&[
                    "schema_version",
                    "serial",
                    "slot_id",
                    "created",
                    "label",
                    "next_object_id",
                    "so_wrap",
                    "user_wrap",
                    "so_failures",
                    "user_failures",
                    "epoch",
                    "object_set",
                    "meta_mac",
                ]);
                let v = input.blob().to_vec();
                conn.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
                    params![key, v],
                )
            }
            1 => {
                // A PIN wrap with other Argon2 parameters: costs beyond `config::kdf_allowed`
                // must be refused before anything is derived (a regression input holds 1 GiB).
                let key = input.pick(&["so_wrap", "user_wrap"]);
                let at = usize::from(input.u8() % 13);
                let v = input.take(4).to_vec();
                conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| {
                    r.get::<_, Vec<u8>>(0)
                })
                .map(|mut blob| {
                    let end = (at + v.len()).min(blob.len());
                    blob[at..end].copy_from_slice(&v[..end - at]);
                    blob
                })
                .and_then(|blob| {
                    conn.execute(
                        "UPDATE meta SET value = ?1 WHERE key = ?2",
                        params![blob, key],
                    )
                })
            }
            2 => {
                // An object's blob replaced by a body from the input, with a valid checksum.
                let body = input.blob().to_vec();
                let mut blob = body.clone();
                blob.extend_from_slice(&sha2::Sha256::digest(&body)[..8]);
                let row = i64::from(input.u8() % 6);
                conn.execute(
                    "UPDATE objects SET attrs = ?1 WHERE id = (SELECT id FROM objects ORDER BY id LIMIT 1 OFFSET ?2)",
                    params![blob, row],
                )
            }
            3 => {
                // An object's blob patched in place, its checksum recomputed.
                let row = i64::from(input.u8() % 6);
                let at = usize::from(input.u16());
                let v = input.blob().to_vec();
                conn.query_row(
                    "SELECT id, attrs FROM objects ORDER BY id LIMIT 1 OFFSET ?1",
                    [row],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)),
                )
                .map(|(id, blob)| {
                    let mut body = blob[..blob.len().saturating_sub(8)].to_vec();
                    let at = at % (body.len() + 1);
                    let end = (at + v.len()).min(body.len());
                    body.splice(at..end, v.iter().copied());
                    let mut blob = body.clone();
                    blob.extend_from_slice(&sha2::Sha256::digest(&body)[..8]);
                    (id, blob)
                })
                .and_then(|(id, blob)| {
                    conn.execute(
                        "UPDATE objects SET attrs = ?1 WHERE id = ?2",
                        params![blob, id],
                    )
                })
            }
            4 => {
                // An object's columns.
                let col = input.pick(&[
                    "id",
                    "private",
                    "class_hash",
                    "id_hash",
                    "label_hash",
                    "gen",
                    "mac",
                ]);
                let v = input.u64() as i64;
                let row = i64::from(input.u8() % 6);
                conn.execute(
                    &format!("UPDATE objects SET {col} = ?1 WHERE id = (SELECT id FROM objects ORDER BY id LIMIT 1 OFFSET ?2)"),
                    params![v, row],
                )
            }
            _ => {
                // Schema-level damage.
                let stmt = input.pick(&[
                    "DELETE FROM meta WHERE key = 'label'",
                    "DELETE FROM objects",
                    "DROP TABLE objects",
                    "DROP INDEX objects_class",
                    "PRAGMA application_id = 0",
                    "PRAGMA user_version = 7",
                    "ALTER TABLE objects ADD COLUMN extra BLOB",
                    "UPDATE objects SET attrs = NULL",
                    "UPDATE objects SET private = 'yes'",
                    "INSERT INTO objects(private, class_hash, gen, attrs) VALUES (0, 0, 0, x'00')",
                    "UPDATE meta SET value = 5 WHERE key = 'slot_id'",
                ]);
                conn.execute_batch(stmt).map(|_| 0)
            }
        };
    }
}

/// Drive the module over whatever token directory there is.
fn exercise() {
    // SAFETY (whole function): every pointer is to a live local of the size it claims.
    unsafe {
        if C_Initialize(std::ptr::null_mut()) != CKR_OK {
            return;
        }
        let mut n: CK_ULONG = 0;
        C_GetSlotList(CK_TRUE, std::ptr::null_mut(), &mut n);
        let mut ids = vec![0 as CK_SLOT_ID; (n as usize).min(64)];
        let mut n = ids.len() as CK_ULONG;
        if C_GetSlotList(CK_TRUE, ids.as_mut_ptr(), &mut n) != CKR_OK {
            n = 0;
        }
        for &slot in &ids[..(n as usize).min(ids.len())] {
            let mut info: CK_TOKEN_INFO = std::mem::zeroed();
            C_GetTokenInfo(slot, &mut info);
            let mut s: CK_SESSION_HANDLE = 0;
            if C_OpenSession(
                slot,
                CKF_SERIAL_SESSION | CKF_RW_SESSION,
                std::ptr::null_mut(),
                None,
                &mut s,
            ) != CKR_OK
            {
                continue;
            }
            read_objects(s);
            if C_Login(
                s,
                CKU_USER,
                USER_PIN.as_ptr() as *mut u8,
                USER_PIN.len() as CK_ULONG,
            ) == CKR_OK
            {
                read_objects(s);
                C_Logout(s);
            }
            if C_Login(
                s,
                CKU_SO,
                SO_PIN.as_ptr() as *mut u8,
                SO_PIN.len() as CK_ULONG,
            ) == CKR_OK
            {
                read_objects(s);
                C_Logout(s);
            }
            C_GetTokenInfo(slot, &mut info);
            C_CloseSession(s);
        }
        C_Finalize(std::ptr::null_mut());
    }
}

/// Every attribute of every object the session sees: a size query, then buffers of those sizes
/// (nested templates as arrays of attributes with their own buffers).
fn read_objects(s: CK_SESSION_HANDLE) {
    for h in find_all(s).into_iter().take(16) {
        let mut arena = Arena::default();
        let mut query: Vec<CK_ATTRIBUTE> = attr_types()
            .iter()
            .map(|&t| attr(t, std::ptr::null_mut(), 0))
            .collect();
        // SAFETY: NULL values: a size query.
        unsafe { C_GetAttributeValue(s, h, query.as_mut_ptr(), query.len() as CK_ULONG) };
        let mut get: Vec<CK_ATTRIBUTE> = query
            .iter()
            .filter(|a| a.ulValueLen != CK_UNAVAILABLE_INFORMATION && a.ulValueLen <= 1 << 16)
            .map(|a| {
                let len = a.ulValueLen as usize;
                if is_template_type(a.type_) {
                    let k = len / std::mem::size_of::<CK_ATTRIBUTE>();
                    let inner: Vec<CK_ATTRIBUTE> =
                        (0..k).map(|_| attr(0, arena.out(256), 256)).collect();
                    attr(
                        a.type_,
                        arena.attrs(inner) as *mut u8,
                        k * std::mem::size_of::<CK_ATTRIBUTE>(),
                    )
                } else {
                    attr(a.type_, arena.out(len), len)
                }
            })
            .collect();
        // SAFETY: each buffer is as long as its attribute says.
        unsafe { C_GetAttributeValue(s, h, get.as_mut_ptr(), get.len() as CK_ULONG) };
    }
}

fuzz_target!(|data: &[u8]| {
    let seed = seed();
    let mut input = Input(data);
    let mode = input.u8();
    if mode & 0x80 != 0 {
        // The object decoder alone, with and without a key.
        let body = input.rest();
        let mut blob = body.to_vec();
        if mode & 1 == 0 {
            blob.extend_from_slice(&sha2::Sha256::digest(body)[..8]);
        }
        let _ = codec::decode(1, &blob, None);
        let aead = ferrohsm::crypto::Aead256::new(&[7u8; 32]);
        let _ = codec::decode(1, &blob, Some(&aead));
        return;
    }
    let dir = token_dir();
    reset_dir(&dir);
    configure(&dir);
    let file = dir.join("0123456789abcdef.sqlite");
    match mode % 3 {
        0 => {
            std::fs::write(&file, input.rest()).expect("write token file");
        }
        1 => {
            let mut bytes = seed.to_vec();
            for _ in 0..8 {
                if input.is_empty() {
                    break;
                }
                let at = usize::from(input.u16()) % bytes.len();
                let v = input.blob();
                let end = (at + v.len()).min(bytes.len());
                bytes[at..end].copy_from_slice(&v[..end - at]);
            }
            std::fs::write(&file, &bytes).expect("write token file");
        }
        _ => {
            std::fs::write(&file, seed).expect("write token file");
            edit(&file, &mut input);
        }
    }
    exercise();
});
