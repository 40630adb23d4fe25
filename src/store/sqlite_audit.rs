//! The audit tables of a token file (issue 14; `audit`): created with a new token, and added
//! to a file of an earlier format by its first audited write, inside that write's transaction
//! (the tables need no key, so unlike the schema-2 migration this one does not wait for a
//! login; a rollback takes them away again).

use super::backend::{AuditRow, Checkpoint};
use crate::error::Result;
use rusqlite::{params, Connection, OptionalExtension};

/// The tables, as a new token file gets them and as the migration adds them.
pub const CREATE_TABLES: &str = "CREATE TABLE IF NOT EXISTS audit (
        seq INTEGER PRIMARY KEY,
        time_us INTEGER NOT NULL,
        record BLOB NOT NULL,
        hash BLOB NOT NULL
    );
    CREATE INDEX IF NOT EXISTS audit_time ON audit(time_us);
    CREATE TABLE IF NOT EXISTS audit_checkpoint (
        seq INTEGER PRIMARY KEY,
        hash BLOB NOT NULL,
        time_us INTEGER NOT NULL,
        sig BLOB NOT NULL
    );";

/// The file has the audit tables.
pub fn present(conn: &Connection) -> bool {
    conn.prepare("SELECT seq FROM audit LIMIT 0").is_ok()
}

/// Add the tables to a file of an earlier format (inside a write transaction).
pub fn migrate(conn: &Connection) -> Result<()> {
    conn.execute_batch(CREATE_TABLES)?;
    crate::log::info(format_args!("token file: audit tables added"));
    Ok(())
}

pub fn last(conn: &Connection) -> Result<Option<(u64, Vec<u8>)>> {
    Ok(conn
        .prepare_cached("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))
        .optional()?)
}

pub fn put(conn: &Connection, rows: &[AuditRow]) -> Result<()> {
    let mut st = conn
        .prepare_cached("INSERT INTO audit(seq, time_us, record, hash) VALUES (?1, ?2, ?3, ?4)")?;
    for r in rows {
        st.execute(params![r.seq as i64, r.time_us, r.record, r.hash])?;
    }
    Ok(())
}

pub fn range(conn: &Connection, after: u64, limit: u64) -> Result<Vec<AuditRow>> {
    let mut st = conn.prepare_cached(
        // CAST: a row edited by hand into TEXT still reads, so that verify names it.
        "SELECT seq, time_us, CAST(record AS BLOB), CAST(hash AS BLOB) FROM audit \
         WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = st.query_map(
        params![after as i64, limit.min(i64::MAX as u64) as i64],
        |r| {
            Ok(AuditRow {
                seq: r.get::<_, i64>(0)? as u64,
                time_us: r.get(1)?,
                record: r.get(2)?,
                hash: r.get(3)?,
            })
        },
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn delete_before(conn: &Connection, before: u64) -> Result<()> {
    conn.prepare_cached("DELETE FROM audit WHERE seq < ?1")?
        .execute([before as i64])?;
    Ok(())
}

pub fn checkpoints(conn: &Connection) -> Result<Vec<Checkpoint>> {
    let mut st =
        conn.prepare_cached("SELECT seq, hash, time_us, sig FROM audit_checkpoint ORDER BY seq")?;
    let rows = st.query_map([], |r| {
        Ok(Checkpoint {
            seq: r.get::<_, i64>(0)? as u64,
            hash: r.get(1)?,
            time_us: r.get(2)?,
            sig: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn put_checkpoint(conn: &Connection, c: &Checkpoint) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO audit_checkpoint(seq, hash, time_us, sig) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![c.seq as i64, c.hash, c.time_us, c.sig])?;
    Ok(())
}
