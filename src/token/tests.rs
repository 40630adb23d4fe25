//! The object cache's reads from the store, counted on a real SQLite token.

#![allow(clippy::expect_used)]

use super::*;
use crate::store::backend::{Conn, Mode, RawTx};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A real store connection that counts the reads and transactions begun on it: on a remote
/// store each one is a round trip.
struct Counting {
    inner: Box<dyn Conn>,
    begins: Arc<AtomicUsize>,
}

impl Conn for Counting {
    fn begin(&mut self, mode: Mode) -> Result<Box<dyn RawTx + '_>> {
        self.begins.fetch_add(1, Ordering::SeqCst);
        self.inner.begin(mode)
    }
    fn data_version(&mut self) -> Result<i64> {
        self.inner.data_version()
    }
    fn unchanged(&mut self) -> bool {
        self.inner.unchanged()
    }
    fn read_only(&self) -> bool {
        self.inner.read_only()
    }
    fn location(&self) -> String {
        self.inner.location()
    }
}

const OBJECTS: usize = 40;

/// A logged-in token with `OBJECTS` public data objects and an empty cache, and the counter
/// of its reads.
fn token(dir: &std::path::Path) -> (Ready, Vec<u64>, Arc<AtomicUsize>) {
    let begins = Arc::new(AtomicUsize::new(0));
    let conn = Counting {
        inner: Box::new(store::sqlite::Sqlite::create(&dir.join("t.sqlite")).expect("create")),
        begins: begins.clone(),
    };
    let kdf = KdfParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };
    let (db, master) = TokenDb::create(
        Box::new(conn),
        "00000000000000aa",
        7,
        &pad32(b"t"),
        b"12345678",
        kdf,
        Policy::default(),
    )
    .expect("token");
    let mut r = Ready::new(db).expect("ready");
    r.set_login(Login::So, Some(master));
    let ids = (0..OBJECTS)
        .map(|i| {
            let mut a = Attributes::new();
            a.set(CKA_CLASS, AttrValue::Ulong(CKO_DATA));
            a.set(CKA_TOKEN, AttrValue::Bool(true));
            a.set(CKA_PRIVATE, AttrValue::Bool(false));
            a.set(CKA_LABEL, AttrValue::Bytes(format!("d{i}").into_bytes()));
            r.begin_call();
            r.insert(a).expect("insert")
        })
        .collect();
    // As after every C_Login: an empty cache.
    r.invalidate();
    (r, ids, begins)
}

#[test]
fn loading_uncached_objects_one_by_one_costs_a_read_each() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut r, ids, begins) = token(dir.path());
    let before = begins.load(Ordering::SeqCst);
    for &id in &ids {
        r.load(id).expect("load");
    }
    assert_eq!(begins.load(Ordering::SeqCst) - before, OBJECTS);
}

#[test]
fn a_prefetch_reads_every_uncached_candidate_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut r, ids, begins) = token(dir.path());
    let before = begins.load(Ordering::SeqCst);
    r.prefetch(ids.iter().copied()).expect("prefetch");
    for &id in &ids {
        let o = r.load(id).expect("load");
        assert!(o.data.attrs.bytes(CKA_LABEL).is_some());
    }
    assert_eq!(begins.load(Ordering::SeqCst) - before, 1);
    // Nothing left to read: no read at all.
    r.prefetch(ids.iter().copied()).expect("prefetch");
    assert_eq!(begins.load(Ordering::SeqCst) - before, 1);
}

#[test]
fn a_prefetch_leaves_out_what_does_not_exist() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut r, ids, _) = token(dir.path());
    r.prefetch([ids[0], ids[1], 999_999]).expect("prefetch");
    assert!(r.load(ids[1]).is_ok());
    assert_eq!(
        r.load(999_999).err().map(|e| e.rv()),
        Some(CKR_OBJECT_HANDLE_INVALID)
    );
}
