//! The audit tables of the PostgreSQL store (issue 14; `audit`): schema version 2 adds them,
//! keyed by serial as every other table, removed with their token. The rows are appended in
//! the write transaction that already holds the token row's lock (`Pg::begin`), so writers on
//! every host append to one chain in turn.

use super::{get, PgTx};
use crate::error::Result;
use crate::store::backend::{AuditRow, Checkpoint};

/// Schema 1 → 2.
pub(super) const MIGRATION: &str = "
    CREATE TABLE audit (
        serial text NOT NULL REFERENCES tokens ON DELETE CASCADE,
        seq bigint NOT NULL, time_us bigint NOT NULL, record bytea NOT NULL, hash bytea NOT NULL,
        PRIMARY KEY (serial, seq));
    CREATE INDEX audit_time ON audit (serial, time_us);
    CREATE TABLE audit_checkpoint (
        serial text NOT NULL REFERENCES tokens ON DELETE CASCADE,
        seq bigint NOT NULL, hash bytea NOT NULL, time_us bigint NOT NULL, sig bytea NOT NULL,
        PRIMARY KEY (serial, seq));
";

impl PgTx<'_> {
    pub(super) fn audit_last_(&self) -> Result<Option<(u64, Vec<u8>)>> {
        let rows = self.link.query(
            "SELECT seq, hash FROM audit WHERE serial = $1 ORDER BY seq DESC LIMIT 1",
            &[self.s()],
        )?;
        match rows.first() {
            Some(r) => Ok(Some((get::<i64>(r, 0)? as u64, get(r, 1)?))),
            None => Ok(None),
        }
    }

    /// All rows in one statement: one round trip however many were flushed.
    pub(super) fn audit_put_(&self, rows: &[AuditRow]) -> Result<()> {
        let seqs: Vec<i64> = rows.iter().map(|r| r.seq as i64).collect();
        let times: Vec<i64> = rows.iter().map(|r| r.time_us).collect();
        let recs: Vec<&[u8]> = rows.iter().map(|r| r.record.as_slice()).collect();
        let hashes: Vec<&[u8]> = rows.iter().map(|r| r.hash.as_slice()).collect();
        self.link.execute(
            "INSERT INTO audit(serial, seq, time_us, record, hash)
             SELECT $1, s, t, r, h
             FROM unnest($2::bigint[], $3::bigint[], $4::bytea[], $5::bytea[]) AS u(s, t, r, h)",
            &[self.s(), &seqs, &times, &recs, &hashes],
        )?;
        Ok(())
    }

    pub(super) fn audit_range_(&self, after: u64, limit: u64) -> Result<Vec<AuditRow>> {
        let after = after as i64;
        let limit = limit.min(i64::MAX as u64) as i64;
        let rows = self.link.query(
            "SELECT seq, time_us, record, hash FROM audit
             WHERE serial = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            &[self.s(), &after, &limit],
        )?;
        rows.iter()
            .map(|r| {
                Ok(AuditRow {
                    seq: get::<i64>(r, 0)? as u64,
                    time_us: get(r, 1)?,
                    record: get(r, 2)?,
                    hash: get(r, 3)?,
                })
            })
            .collect()
    }

    pub(super) fn audit_delete_before_(&self, before: u64) -> Result<()> {
        let before = before as i64;
        self.link.execute(
            "DELETE FROM audit WHERE serial = $1 AND seq < $2",
            &[self.s(), &before],
        )?;
        Ok(())
    }

    pub(super) fn audit_checkpoints_(&self) -> Result<Vec<Checkpoint>> {
        let rows = self.link.query(
            "SELECT seq, hash, time_us, sig FROM audit_checkpoint WHERE serial = $1 ORDER BY seq",
            &[self.s()],
        )?;
        rows.iter()
            .map(|r| {
                Ok(Checkpoint {
                    seq: get::<i64>(r, 0)? as u64,
                    hash: get(r, 1)?,
                    time_us: get(r, 2)?,
                    sig: get(r, 3)?,
                })
            })
            .collect()
    }

    pub(super) fn audit_put_checkpoint_(&self, c: &Checkpoint) -> Result<()> {
        let seq = c.seq as i64;
        self.link.execute(
            "INSERT INTO audit_checkpoint(serial, seq, hash, time_us, sig) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (serial, seq) DO UPDATE SET hash = excluded.hash,
                 time_us = excluded.time_us, sig = excluded.sig",
            &[self.s(), &seq, &c.hash, &c.time_us, &c.sig],
        )?;
        Ok(())
    }
}
