//! The audit trail (issue 14): records of every management action, chained by hash per
//! token and stored with the token (`store::backend::RawTx`'s audit rows), so the trail moves
//! with the token, backups carry it, and every process and host appends to one chain.
//!
//! A management record is appended in the same write transaction as the change it records
//! ([`Pending`], carried by `TokenDb`): either both commit or neither. A call that changed
//! nothing (refused, failed, or with nothing to store) gets its record in a small transaction
//! of its own at the end of the call. Appending reads the last (seq, hash) inside the write
//! transaction, so writers on every process and host serialize on the store's write lock
//! (SQLite) or the token row (PostgreSQL) and the chain never forks.

pub mod names;
pub mod record;

pub use record::Record;

use crate::error::{Error, Result};
use crate::store::backend::{AuditRow, RawTx};

/// The domain separator of the chain hash.
const CHAIN_TAG: &[u8] = b"ferrohsm-audit-v1";

/// `hash_n = SHA-256("ferrohsm-audit-v1" || serial || seq_n (u64 BE) || hash_{n-1} || record)`,
/// `hash_0` being 32 zero bytes.
pub fn chain_hash(serial: &str, seq: u64, prev: &[u8], record: &[u8]) -> [u8; 32] {
    crate::crypto::sha256(&[
        CHAIN_TAG,
        serial.as_bytes(),
        &seq.to_be_bytes(),
        prev,
        record,
    ])
}

/// Append encoded records (with their times) to the token's chain, inside the caller's write
/// transaction.
pub fn append(tx: &dyn RawTx, serial: &str, records: &[(i64, Vec<u8>)]) -> Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    let (mut seq, mut prev) = match tx.audit_last()? {
        Some((s, h)) => (s, h),
        None => (0, vec![0u8; 32]),
    };
    let mut rows = Vec::with_capacity(records.len());
    for (time_us, rec) in records {
        seq += 1;
        let hash = chain_hash(serial, seq, &prev, rec).to_vec();
        rows.push(AuditRow {
            seq,
            time_us: *time_us,
            record: rec.clone(),
            hash: hash.clone(),
        });
        prev = hash;
    }
    tx.audit_put(&rows)
}

/// What a chain check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// A record whose hash does not follow from the one before and its own bytes: edited,
    /// or the record before it was removed, or it was put in.
    Hash { seq: u64 },
    /// Sequence numbers that do not follow each other: rows deleted, inserted or reordered.
    Gap { after: u64, found: u64 },
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Break::Hash { seq } => write!(
                f,
                "record {seq}: hash does not match (record edited, or one before it removed or inserted)"
            ),
            Break::Gap { after, found } => write!(
                f,
                "record {found} follows record {after}: records deleted, inserted or reordered"
            ),
        }
    }
}

/// Check a run of rows (in seq order) against the chain, starting after `start` = (seq, hash)
/// of the row before the run (`(0, zeros)` from the beginning). Returns the last good
/// (seq, hash), or the first break.
pub fn verify_rows(
    serial: &str,
    start: (u64, Vec<u8>),
    rows: &[AuditRow],
) -> std::result::Result<(u64, Vec<u8>), Break> {
    let (mut seq, mut prev) = start;
    for r in rows {
        if r.seq != seq + 1 {
            return Err(Break::Gap {
                after: seq,
                found: r.seq,
            });
        }
        let want = chain_hash(serial, r.seq, &prev, &r.record);
        if want[..] != r.hash[..] {
            return Err(Break::Hash { seq: r.seq });
        }
        seq = r.seq;
        prev = r.hash.clone();
    }
    Ok((seq, prev))
}

/// The record of the call under way, carried by the token's database so that the write
/// transaction of the change appends it (see the module comment).
#[derive(Debug, Default)]
pub struct Pending {
    call: Option<Record>,
    /// Records of this call committed with changes.
    written: u32,
}

impl Pending {
    /// A call to be recorded starts.
    pub fn start(&mut self, rec: Record) {
        crate::log::clear_reason();
        self.call = Some(rec);
        self.written = 0;
    }

    /// The call under way, to fill in (the object, the base key).
    pub fn call(&mut self) -> Option<&mut Record> {
        self.call.as_mut()
    }

    /// The record to append to the change about to commit (a successful change).
    pub fn for_commit(&self) -> Option<(String, (i64, Vec<u8>))> {
        let r = self.call.as_ref()?;
        let mut r = r.clone();
        r.time_us = record::now_us();
        r.result = cryptoki_sys::CKR_OK;
        Some((r.serial.clone(), (r.time_us, r.encode())))
    }

    /// The change carrying the record committed.
    pub fn committed(&mut self) {
        if self.call.is_some() {
            self.written += 1;
        }
    }

    /// The call ended with `rv`: the record still to write in a transaction of its own, if
    /// any (nothing committed with it, or the call failed after a change).
    pub fn finish(&mut self, rv: cryptoki_sys::CK_RV) -> Option<(String, (i64, Vec<u8>))> {
        let mut r = self.call.take()?;
        if self.written > 0 && rv == cryptoki_sys::CKR_OK {
            return None;
        }
        r.time_us = record::now_us();
        r.result = rv;
        if rv != cryptoki_sys::CKR_OK {
            r.reason = crate::log::take_reason();
        }
        Some((r.serial.clone(), (r.time_us, r.encode())))
    }
}

/// Append the pending record (if any) to `tx` and commit it; `pending` learns that it went.
pub fn commit(pending: &mut Pending, tx: crate::store::backend::Txn<'_>) -> Result<()> {
    if let Some((serial, rec)) = pending.for_commit() {
        append(&*tx, &serial, &[rec])?;
        tx.commit()?;
        pending.committed();
        Ok(())
    } else {
        tx.commit()
    }
}

/// A device error of the audit trail, logged with its cause.
pub fn device(why: impl std::fmt::Display) -> Error {
    Error::device(format_args!("audit trail: {why}"))
}
