//! The one storage interface under the token logic (design.md "Storage", "Several hosts"): a
//! connection to where a token's rows live (an SQLite file, or a PostgreSQL database shared by
//! several hosts) and the transactions on it. Everything above (`TokenDb`: sealing, integrity,
//! the search index, PIN wraps and failure counts, generations; the cache in `token`) is
//! written once against these two traits and does not know which store it runs on.
//!
//! The rows are the same in both stores: `meta` (key, value), `objects` and `deleted` (the
//! columns of [`Row`]), `ivs` (tag, next, mac), `audit` ([`AuditRow`]) and `audit_checkpoint`
//! ([`Checkpoint`]). A store holds what the token file holds, sealed
//! as it is; nothing here sees a key.

use super::{Column, Row};
use crate::error::Result;
use std::cell::RefCell;
use std::collections::HashMap;

/// One IV reservation row: tag, next value, MAC (`ivs`).
pub type IvRow = (Vec<u8>, Vec<u8>, Vec<u8>);

/// One row of the audit trail (`audit`): sequence number (1, 2, … per token), time (µs since
/// the epoch, for range queries), the canonical record bytes, and the chain hash over them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub seq: u64,
    pub time_us: i64,
    pub record: Vec<u8>,
    pub hash: Vec<u8>,
}

/// A signed seal over the audit chain up to `seq` (`audit_checkpoint`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: u64,
    pub hash: Vec<u8>,
    pub time_us: i64,
    pub sig: Vec<u8>,
}

/// What a transaction is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Single reads, each seeing the latest commit (no transaction, the cheapest).
    Read,
    /// Reads that must agree with each other: one snapshot.
    Snapshot,
    /// A change: serialized with every other writer of the token, on every host.
    Write,
    /// The first transaction of a new token: creates its rows, fails if the token exists.
    Create,
}

/// A connection to one token's rows.
pub trait Conn: Send {
    fn begin(&mut self, mode: Mode) -> Result<Box<dyn RawTx + '_>>;
    /// A counter that moves when someone else (another connection, process or host) committed
    /// a change to the token since the last call; our own commits do not move it.
    fn data_version(&mut self) -> Result<i64>;
    /// Certainly nothing committed by anyone else since the last [`Conn::data_version`], known
    /// without a round trip; false when unsure (then ask `data_version`).
    fn unchanged(&mut self) -> bool;
    fn read_only(&self) -> bool;
    /// Where the token lives, for logs and `show-slots` (never a password).
    fn location(&self) -> String;
    /// After a re-initialization: give back the space of what was deleted.
    fn compact(&mut self) {}
}

/// The operations inside a transaction. Reads see the transaction's own writes.
pub trait RawTx {
    fn meta_all(&self) -> Result<Vec<(String, Vec<u8>)>>;
    /// Write (`Some`) or remove (`None`) meta rows, all at once.
    fn meta_put(&self, changes: &[(String, Option<Vec<u8>>)]) -> Result<()>;
    fn row(&self, id: u64) -> Result<Option<Row>>;
    /// The rows of those of `ids` that exist, in any order: one round trip on a remote store
    /// (a search after login loads every candidate, and one query each would hold the slot
    /// for as many round trips).
    fn rows_of(&self, ids: &[u64]) -> Result<Vec<Row>> {
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            out.extend(self.row(id)?);
        }
        Ok(out)
    }
    fn gen(&self, id: u64) -> Result<Option<i64>>;
    fn insert_row(&self, row: &Row) -> Result<()>;
    fn update_row(&self, row: &Row) -> Result<()>;
    fn delete_row(&self, id: u64) -> Result<()>;
    /// Keep a copy of an object row among the deletions made before login (`integrity`).
    fn keep_deleted(&self, id: u64) -> Result<()>;
    fn insert_deleted(&self, row: &Row) -> Result<()>;
    /// Every object row (`blob` included only when `blobs`).
    fn rows(&self, blobs: bool) -> Result<Vec<Row>>;
    fn deleted(&self) -> Result<Vec<Row>>;
    /// Ids (and the private flag) of objects whose `column` holds one of `hashes`, or of every
    /// object; private ones only when `with_private`. In id order.
    fn candidates(
        &self,
        by: Option<(Column, &[i64])>,
        with_private: bool,
    ) -> Result<Vec<(u64, bool)>>;
    fn count(&self) -> Result<u64>;
    fn iv(&self, tag: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>>;
    fn put_iv(&self, tag: &[u8], next: &[u8], mac: &[u8]) -> Result<()>;
    fn ivs(&self) -> Result<Vec<IvRow>>;
    /// Remove every object, deletion and IV row (re-initialization).
    fn clear(&self) -> Result<()>;
    /// The last audit row's (seq, hash); `None` for an empty trail.
    fn audit_last(&self) -> Result<Option<(u64, Vec<u8>)>>;
    /// Write audit rows (inside a write transaction).
    fn audit_put(&self, rows: &[AuditRow]) -> Result<()>;
    /// Up to `limit` audit rows with a seq above `after`, in seq order.
    fn audit_range(&self, after: u64, limit: u64) -> Result<Vec<AuditRow>>;
    /// Remove the audit rows below `before` (retention).
    fn audit_delete_before(&self, before: u64) -> Result<()>;
    /// Every checkpoint, in seq order.
    fn audit_checkpoints(&self) -> Result<Vec<Checkpoint>>;
    fn audit_put_checkpoint(&self, c: &Checkpoint) -> Result<()>;
    /// Schema 1 → 2 table changes (`migrate`); only an SQLite file can be at schema 1.
    fn upgrade_v1(&self) -> Result<()>;
    fn commit(self: Box<Self>) -> Result<()>;
}

impl std::fmt::Debug for Txn<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Txn(..)")
    }
}

/// A transaction with the meta rows read once and written once: the integrity checks read
/// every covered meta row twice per write (check, then re-seal), which must not cost a round
/// trip each on a remote store.
pub struct Txn<'a> {
    raw: Box<dyn RawTx + 'a>,
    meta: RefCell<Option<HashMap<String, Vec<u8>>>>,
    dirty: RefCell<Vec<(String, Option<Vec<u8>>)>>,
}

impl<'a> Txn<'a> {
    pub fn new(raw: Box<dyn RawTx + 'a>) -> Txn<'a> {
        Txn {
            raw,
            meta: RefCell::new(None),
            dirty: RefCell::new(Vec::new()),
        }
    }

    fn loaded(&self) -> Result<std::cell::RefMut<'_, HashMap<String, Vec<u8>>>> {
        let mut m = self.meta.borrow_mut();
        if m.is_none() {
            *m = Some(self.raw.meta_all()?.into_iter().collect());
        }
        Ok(std::cell::RefMut::map(m, |m| {
            m.get_or_insert_with(HashMap::new)
        }))
    }

    pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.loaded()?.get(key).cloned())
    }

    pub fn set_meta(&self, key: &str, value: &[u8]) -> Result<()> {
        self.loaded()?.insert(key.to_owned(), value.to_vec());
        self.note(key, Some(value.to_vec()));
        Ok(())
    }

    pub fn delete_meta(&self, key: &str) -> Result<()> {
        self.loaded()?.remove(key);
        self.note(key, None);
        Ok(())
    }

    fn note(&self, key: &str, value: Option<Vec<u8>>) {
        let mut d = self.dirty.borrow_mut();
        d.retain(|(k, _)| k != key);
        d.push((key.to_owned(), value));
    }

    /// Write the changed meta rows, then commit.
    pub fn commit(self) -> Result<()> {
        let dirty = self.dirty.take();
        if !dirty.is_empty() {
            self.raw.meta_put(&dirty)?;
        }
        self.raw.commit()
    }
}

impl<'a> std::ops::Deref for Txn<'a> {
    type Target = dyn RawTx + 'a;
    fn deref(&self) -> &Self::Target {
        &*self.raw
    }
}
