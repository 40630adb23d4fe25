//! The embedded store: one SQLite file per token, in WAL mode with a busy timeout, every
//! change in one IMMEDIATE transaction, integers at fixed width (design.md "Storage";
//! PKCS#11 v3.0 §4.4 token objects). Other processes' commits show through the WAL index
//! (`watch`) without a statement.

use super::backend::{AuditRow, Checkpoint, Conn, Mode, RawTx};
use super::{migrate, sqlite_audit as audit, watch, Column, IndexCols, Row};
use crate::error::{Error, Result};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::cell::Cell;
use std::path::{Path, PathBuf};

const APPLICATION_ID: i64 = 0x6648_534d; // "fHSM", marks the file as ours

const TABLES: &str = "CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
     CREATE TABLE objects (
         id INTEGER PRIMARY KEY,
         private INTEGER NOT NULL,
         class_hash INTEGER NOT NULL,
         id_hash INTEGER,
         label_hash INTEGER,
         gen INTEGER NOT NULL,
         attrs BLOB NOT NULL,
         mac BLOB
     );
     CREATE INDEX objects_class ON objects(class_hash);
     CREATE INDEX objects_id ON objects(id_hash) WHERE id_hash IS NOT NULL;
     CREATE INDEX objects_label ON objects(label_hash) WHERE label_hash IS NOT NULL;";

impl std::fmt::Debug for Sqlite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sqlite({})", self.path.display())
    }
}

/// An open token file.
pub struct Sqlite {
    conn: Connection,
    path: PathBuf,
    /// The objects table has its MAC column (schema 2, or migrated in this transaction).
    has_mac: Cell<bool>,
    /// The audit tables exist (a new file, or migrated: `sqlite_audit`).
    has_audit: Cell<bool>,
    /// Looks for other processes' commits without a statement (WAL databases only). Declared
    /// after `conn`, so it is dropped after it: it holds a descriptor of the `-shm` file, and
    /// closing that drops SQLite's locks on the file (`ffi::shm`).
    watch: Option<watch::ShmWatch>,
}

fn not_recognized(path: &Path, why: impl std::fmt::Display) -> Error {
    crate::log::warn(format_args!(
        "token file {} not recognized: {why}",
        path.display()
    ));
    Error::new(cryptoki_sys::CKR_TOKEN_NOT_RECOGNIZED)
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // NORMAL in WAL mode keeps every commit across a process crash; only a power loss may lose
    // the last commits, never consistency.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

fn open_immutable(path: &Path) -> rusqlite::Result<Connection> {
    let mut uri = String::from("file:");
    for b in path.as_os_str().as_encoded_bytes() {
        match b {
            b'%' | b'?' | b'#' => uri.push_str(&format!("%{b:02X}")),
            _ => uri.push(char::from(*b)),
        }
    }
    uri.push_str("?immutable=1");
    Connection::open_with_flags(
        uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
}

impl Sqlite {
    /// A new, empty token file (which must not exist yet), mode 0600; its tables come with the
    /// first transaction ([`Mode::Create`]).
    pub fn create(path: &Path) -> Result<Sqlite> {
        if let Some(dir) = path.parent() {
            super::create_private_dir(dir)?;
        }
        {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| Error::device(format_args!("create {}: {e}", path.display())))?;
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        configure(&conn)?;
        Ok(Sqlite {
            conn,
            path: path.to_owned(),
            has_mac: Cell::new(true),
            has_audit: Cell::new(true),
            watch: None,
        })
    }

    /// Open an existing token file; anything that is not a ferrohsm token gives
    /// `CKR_TOKEN_NOT_RECOGNIZED`.
    pub fn open(path: &Path) -> Result<Sqlite> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| not_recognized(path, e))?;
        let (conn, app) = match conn.query_row("PRAGMA application_id", [], |r| r.get::<_, i64>(0))
        {
            Ok(app) => (conn, app),
            // A WAL database in a directory we cannot write cannot even be read the normal way
            // (SQLite must create its -shm file). Open it immutable, read-only: reads and login
            // work, every write fails with CKR_DEVICE_ERROR.
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ReadOnly) => {
                drop(conn);
                let conn = open_immutable(path).map_err(|e| not_recognized(path, e))?;
                let app = conn
                    .query_row("PRAGMA application_id", [], |r| r.get(0))
                    .map_err(|e| not_recognized(path, e))?;
                (conn, app)
            }
            Err(e) => return Err(not_recognized(path, e)),
        };
        if app != APPLICATION_ID {
            return Err(not_recognized(path, "not a ferrohsm token"));
        }
        // A read-only file system or file still opens: reads keep working, writes fail later.
        let _ = configure(&conn);
        let has_mac = conn.prepare("SELECT mac FROM objects LIMIT 0").is_ok();
        let has_audit = audit::present(&conn);
        let mut db = Sqlite {
            conn,
            path: path.to_owned(),
            has_mac: Cell::new(has_mac),
            has_audit: Cell::new(has_audit),
            watch: None,
        };
        db.start_watch();
        Ok(db)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn start_watch(&mut self) {
        let wal = self
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0))
            .is_ok_and(|m| m.eq_ignore_ascii_case("wal"));
        self.watch = if wal {
            watch::ShmWatch::open(&self.path)
        } else {
            None
        };
    }
}

impl Conn for Sqlite {
    fn begin(&mut self, mode: Mode) -> Result<Box<dyn RawTx + '_>> {
        let open = match mode {
            Mode::Read => false,
            Mode::Snapshot => {
                self.conn.execute_batch("BEGIN DEFERRED")?;
                true
            }
            Mode::Write => {
                self.conn.execute_batch("BEGIN IMMEDIATE")?;
                true
            }
            Mode::Create => {
                self.conn.execute_batch("BEGIN IMMEDIATE")?;
                let made = self.conn.execute_batch(&format!(
                    "PRAGMA application_id = {APPLICATION_ID}; {TABLES} {} {} {}",
                    migrate::DELETED_TABLE,
                    super::ivs::CREATE_TABLE,
                    audit::CREATE_TABLES
                ));
                if let Err(e) = made {
                    let _ = self.conn.execute_batch("ROLLBACK");
                    return Err(e.into());
                }
                true
            }
        };
        Ok(Box::new(SqliteTx {
            db: self,
            open: Cell::new(open),
            upgraded: Cell::new(false),
            audit_added: Cell::new(false),
        }))
    }

    fn data_version(&mut self) -> Result<i64> {
        let conn = &self.conn;
        let query = || -> Result<i64> {
            Ok(conn
                .prepare_cached("PRAGMA data_version")?
                .query_row([], |r| r.get(0))?)
        };
        match &self.watch {
            Some(w) => w.checked(query),
            None => query(),
        }
    }

    fn unchanged(&mut self) -> bool {
        self.watch.as_ref().is_some_and(watch::ShmWatch::unchanged)
    }

    fn read_only(&self) -> bool {
        self.conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false)
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn compact(&mut self) {
        // Deleted rows may still sit in free pages and the WAL: they were sealed, but there is
        // no reason to keep them around.
        let _ = self
            .conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM;");
    }
}

struct SqliteTx<'a> {
    db: &'a Sqlite,
    open: Cell<bool>,
    /// This transaction added the schema-2 columns: a rollback takes them away again.
    upgraded: Cell<bool>,
    /// This transaction added the audit tables: a rollback takes them away again.
    audit_added: Cell<bool>,
}

impl Drop for SqliteTx<'_> {
    fn drop(&mut self) {
        if self.open.get() {
            let _ = self.db.conn.execute_batch("ROLLBACK");
            if self.upgraded.get() {
                self.db.has_mac.set(false);
            }
            if self.audit_added.get() {
                self.db.has_audit.set(false);
            }
        }
    }
}

const ROW_COLS: &str = "id, private, gen, attrs, class_hash, id_hash, label_hash";

fn read_row(r: &rusqlite::Row<'_>, blob: bool) -> rusqlite::Result<Row> {
    Ok(Row {
        id: r.get::<_, i64>(0)? as u64,
        private: r.get(1)?,
        gen: r.get(2)?,
        blob: if blob { r.get(3)? } else { Vec::new() },
        cols: IndexCols {
            class: r.get(4)?,
            id: r.get(5)?,
            label: r.get(6)?,
        },
        mac: r.get(7)?,
    })
}

impl SqliteTx<'_> {
    fn conn(&self) -> &Connection {
        &self.db.conn
    }
    /// One statement over a whole row, its columns bound in `Row` order.
    fn write_row(&self, sql: &str, row: &Row) -> Result<()> {
        self.conn().prepare_cached(sql)?.execute(params![
            row.id as i64,
            row.private,
            row.cols.class,
            row.cols.id,
            row.cols.label,
            row.gen,
            row.blob,
            row.mac
        ])?;
        Ok(())
    }
    /// The audit tables exist (another process may have added them since we opened the file).
    fn audit_present(&self) -> bool {
        if !self.db.has_audit.get() && audit::present(self.conn()) {
            self.db.has_audit.set(true);
        }
        self.db.has_audit.get()
    }
    /// The audit tables, added now to a file of an earlier format (`sqlite_audit`).
    fn audit_tables(&self) -> Result<()> {
        if !self.db.has_audit.get() {
            audit::migrate(self.conn())?;
            self.db.has_audit.set(true);
            self.audit_added.set(true);
        }
        Ok(())
    }
    fn mac_col(&self) -> &'static str {
        if self.db.has_mac.get() {
            "mac"
        } else {
            "NULL"
        }
    }
}

impl RawTx for SqliteTx<'_> {
    fn meta_all(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let mut st = self.conn().prepare_cached("SELECT key, value FROM meta")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn meta_put(&self, changes: &[(String, Option<Vec<u8>>)]) -> Result<()> {
        for (k, v) in changes {
            match v {
                Some(v) => self
                    .conn()
                    .prepare_cached("INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)")?
                    .execute(params![k, v])?,
                None => self
                    .conn()
                    .prepare_cached("DELETE FROM meta WHERE key = ?1")?
                    .execute([k])?,
            };
        }
        Ok(())
    }

    fn row(&self, id: u64) -> Result<Option<Row>> {
        let sql = format!(
            "SELECT {ROW_COLS}, {} FROM objects WHERE id = ?1",
            self.mac_col()
        );
        Ok(self
            .conn()
            .prepare_cached(&sql)?
            .query_row([id as i64], |r| read_row(r, true))
            .optional()?)
    }

    fn gen(&self, id: u64) -> Result<Option<i64>> {
        Ok(self
            .conn()
            .prepare_cached("SELECT gen FROM objects WHERE id = ?1")?
            .query_row([id as i64], |r| r.get(0))
            .optional()?)
    }

    fn insert_row(&self, row: &Row) -> Result<()> {
        self.write_row(
            "INSERT INTO objects(id, private, class_hash, id_hash, label_hash, gen, attrs, mac)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            row,
        )
    }

    fn update_row(&self, row: &Row) -> Result<()> {
        self.write_row(
            "UPDATE objects SET private = ?2, class_hash = ?3, id_hash = ?4, label_hash = ?5,
             gen = ?6, attrs = ?7, mac = ?8 WHERE id = ?1",
            row,
        )
    }

    fn delete_row(&self, id: u64) -> Result<()> {
        self.conn()
            .prepare_cached("DELETE FROM objects WHERE id = ?1")?
            .execute([id as i64])?;
        Ok(())
    }

    fn keep_deleted(&self, id: u64) -> Result<()> {
        self.conn()
            .prepare_cached("INSERT INTO deleted SELECT * FROM objects WHERE id = ?1")?
            .execute([id as i64])?;
        Ok(())
    }

    fn insert_deleted(&self, row: &Row) -> Result<()> {
        self.write_row(
            "INSERT INTO deleted(id, private, class_hash, id_hash, label_hash, gen, attrs, mac)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            row,
        )
    }

    fn rows(&self, blobs: bool) -> Result<Vec<Row>> {
        let attrs = if blobs { "attrs" } else { "NULL" };
        let sql = format!(
            "SELECT id, private, gen, {attrs}, class_hash, id_hash, label_hash, {} FROM objects ORDER BY id",
            self.mac_col()
        );
        let mut st = self.conn().prepare_cached(&sql)?;
        let rows = st.query_map([], |r| read_row(r, blobs))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn deleted(&self) -> Result<Vec<Row>> {
        if !self.db.has_mac.get() {
            return Ok(Vec::new());
        }
        let mut st = self
            .conn()
            .prepare_cached(&format!("SELECT {ROW_COLS}, mac FROM deleted ORDER BY id"))?;
        let rows = st.query_map([], |r| read_row(r, true))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn candidates(
        &self,
        by: Option<(Column, &[i64])>,
        with_private: bool,
    ) -> Result<Vec<(u64, bool)>> {
        let priv_clause = if with_private { "" } else { " AND private = 0" };
        let mut out = Vec::new();
        let mut push = |r: &rusqlite::Row<'_>| -> rusqlite::Result<()> {
            let id: i64 = r.get(0)?;
            out.push((id as u64, r.get(1)?));
            Ok(())
        };
        match by {
            None => {
                let mut st = self.conn().prepare_cached(&format!(
                    "SELECT id, private FROM objects WHERE 1{priv_clause} ORDER BY id"
                ))?;
                let mut rows = st.query([])?;
                while let Some(r) = rows.next()? {
                    push(r)?;
                }
            }
            Some((col, hashes)) => {
                let name = col.name();
                let mut st = self.conn().prepare_cached(&format!(
                    "SELECT id, private FROM objects WHERE {name} = ?1{priv_clause} ORDER BY id"
                ))?;
                for h in hashes {
                    let mut rows = st.query([h])?;
                    while let Some(r) = rows.next()? {
                        push(r)?;
                    }
                }
            }
        }
        Ok(out)
    }

    fn count(&self) -> Result<u64> {
        let n: i64 = self
            .conn()
            .query_row("SELECT COUNT(*) FROM objects", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    fn iv(&self, tag: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        Ok(self
            .conn()
            .prepare_cached("SELECT next, mac FROM ivs WHERE tag = ?1")?
            .query_row([tag], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    fn put_iv(&self, tag: &[u8], next: &[u8], mac: &[u8]) -> Result<()> {
        self.conn()
            .prepare_cached("INSERT OR REPLACE INTO ivs(tag, next, mac) VALUES (?1, ?2, ?3)")?
            .execute(params![tag, next, mac])?;
        Ok(())
    }

    fn ivs(&self) -> Result<Vec<super::backend::IvRow>> {
        if !self.db.has_mac.get() {
            return Ok(Vec::new());
        }
        let mut st = self
            .conn()
            .prepare_cached("SELECT tag, next, mac FROM ivs ORDER BY tag")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn clear(&self) -> Result<()> {
        if !self.db.has_mac.get() {
            self.upgrade_v1()?;
        }
        self.conn()
            .execute_batch("DELETE FROM objects; DELETE FROM deleted; DELETE FROM ivs;")?;
        Ok(())
    }

    fn audit_last(&self) -> Result<Option<(u64, Vec<u8>)>> {
        if !self.audit_present() {
            return Ok(None);
        }
        audit::last(self.conn())
    }

    fn audit_put(&self, rows: &[AuditRow]) -> Result<()> {
        self.audit_tables()?;
        audit::put(self.conn(), rows)
    }

    fn audit_range(&self, after: u64, limit: u64) -> Result<Vec<AuditRow>> {
        if !self.audit_present() {
            return Ok(Vec::new());
        }
        audit::range(self.conn(), after, limit)
    }

    fn audit_delete_before(&self, before: u64) -> Result<()> {
        self.audit_tables()?;
        audit::delete_before(self.conn(), before)
    }

    fn audit_checkpoints(&self) -> Result<Vec<Checkpoint>> {
        if !self.audit_present() {
            return Ok(Vec::new());
        }
        audit::checkpoints(self.conn())
    }

    fn audit_put_checkpoint(&self, c: &Checkpoint) -> Result<()> {
        self.audit_tables()?;
        audit::put_checkpoint(self.conn(), c)
    }

    fn upgrade_v1(&self) -> Result<()> {
        migrate::add_columns(self.conn())?;
        self.db.has_mac.set(true);
        self.upgraded.set(true);
        Ok(())
    }

    fn commit(self: Box<Self>) -> Result<()> {
        if self.open.get() {
            if let Err(e) = self.conn().execute_batch("COMMIT") {
                return Err(e.into());
            }
            self.open.set(false);
        }
        Ok(())
    }
}
