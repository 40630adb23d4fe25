//! The shared store: tokens in a PostgreSQL database, used by several hosts at once
//! (design.md "Several hosts"; PKCS#11 v3.0 §4.4 token objects, §5.6 C_Login's counts).
//!
//! Consistency is what one machine gives. Every write transaction starts by bumping the token's
//! row in `tokens` (`UPDATE ... RETURNING`): that row lock serializes the writers of a token
//! across hosts, as SQLite's IMMEDIATE transaction does across processes, so a PIN failure
//! count is one atomic update and an object write sees the generation it checks. The bump is
//! also the change counter: a NOTIFY carries it to every other connection, which reads it at
//! each call without blocking (no round trip while nothing changed) and asks the server only
//! when something did, or when it cannot be sure (no connection, just reconnected).
//!
//! Each connection runs on its own current-thread tokio runtime (no thread of ours in the host
//! process; a forked child gets none), with a timeout around every round trip: a server that is
//! gone or silent costs `store_timeout_ms`, then `CKR_DEVICE_ERROR`; the next call connects
//! again. A forked child never touches its parent's connection (dropped without a word).

use super::backend::{AuditRow, Checkpoint, Conn, Mode, RawTx};
use super::{Column, IndexCols, Row};
use crate::error::{Error, Result};
use futures_util::future::try_join;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::types::ToSql;
use tokio_postgres::{AsyncMessage, Client, NoTls, Socket, Statement};

mod audit;
mod target;
pub use target::Target;

/// The schema, one step per version: `MIGRATIONS[i]` takes a database from version i to i+1.
/// Applied on first use, under an advisory lock, so hosts starting together apply each once.
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE tokens (serial text PRIMARY KEY, version bigint NOT NULL DEFAULT 0);
    CREATE TABLE meta (
        serial text NOT NULL REFERENCES tokens ON DELETE CASCADE,
        key text NOT NULL, value bytea NOT NULL, PRIMARY KEY (serial, key));
    CREATE TABLE objects (
        serial text NOT NULL REFERENCES tokens ON DELETE CASCADE,
        id bigint NOT NULL, private boolean NOT NULL, class_hash bigint NOT NULL,
        id_hash bigint, label_hash bigint, gen bigint NOT NULL, attrs bytea NOT NULL, mac bytea,
        PRIMARY KEY (serial, id));
    CREATE INDEX objects_class ON objects (serial, class_hash);
    CREATE INDEX objects_id ON objects (serial, id_hash) WHERE id_hash IS NOT NULL;
    CREATE INDEX objects_label ON objects (serial, label_hash) WHERE label_hash IS NOT NULL;
    CREATE TABLE deleted (
        serial text NOT NULL REFERENCES tokens ON DELETE CASCADE,
        id bigint NOT NULL, private boolean NOT NULL, class_hash bigint NOT NULL,
        id_hash bigint, label_hash bigint, gen bigint NOT NULL, attrs bytea NOT NULL, mac bytea,
        PRIMARY KEY (serial, id));
    CREATE TABLE ivs (
        serial text NOT NULL REFERENCES tokens ON DELETE CASCADE,
        tag bytea NOT NULL, next bytea NOT NULL, mac bytea NOT NULL, PRIMARY KEY (serial, tag));
    CREATE TABLE free_slot (one boolean PRIMARY KEY DEFAULT true CHECK (one), serial text NOT NULL);
",
    audit::MIGRATION,
];
const SCHEMA_LOCK: i64 = 0x6648_534d;

fn device(what: &str, e: impl std::fmt::Display) -> Error {
    Error::device(format_args!("PostgreSQL {what}: {e}"))
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Link(..)")
    }
}

/// One connection to the server, with its runtime and the notifications it has received.
pub struct Link {
    rt: Option<tokio::runtime::Runtime>,
    client: Option<Client>,
    notes: RefCell<tokio::sync::mpsc::UnboundedReceiver<String>>,
    statements: RefCell<HashMap<&'static str, Statement>>,
    timeout: Duration,
    /// A round trip failed in a way that leaves the connection unusable: the next use
    /// connects again.
    broken: Cell<bool>,
    pid: u32,
}

impl Drop for Link {
    fn drop(&mut self) {
        // A forked child's copy shares the socket with the parent: closing it politely would
        // end the parent's session. Leave it alone.
        if self.pid != std::process::id() {
            std::mem::forget(self.client.take());
            std::mem::forget(self.rt.take());
        }
    }
}

/// Connect, and drive the connection in a task: results go to their queries, notifications
/// to `tx`.
async fn open<T>(
    config: &tokio_postgres::Config,
    tls: T,
    tx: tokio::sync::mpsc::UnboundedSender<String>,
) -> std::result::Result<Client, tokio_postgres::Error>
where
    T: MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
{
    let (client, mut conn) = config.connect(tls).await?;
    tokio::spawn(async move {
        while let Some(m) = std::future::poll_fn(|cx| conn.poll_message(cx)).await {
            match m {
                Ok(AsyncMessage::Notification(n)) => {
                    let _ = tx.send(n.payload().to_owned());
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    });
    Ok(client)
}

impl Link {
    pub fn connect(t: &Target, listen: Option<&str>) -> Result<Link> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| device("runtime", e))?;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let connect = async {
            match &t.tls {
                Some(tls) => open(&t.config, tls.clone(), tx).await,
                None => open(&t.config, NoTls, tx).await,
            }
        };
        let client = match rt.block_on(async { tokio::time::timeout(t.timeout, connect).await }) {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(device(&format!("connect to {}", t.shown), e)),
            Err(_) => return Err(device(&format!("connect to {}", t.shown), "timed out")),
        };
        let link = Link {
            rt: Some(rt),
            client: Some(client),
            notes: RefCell::new(rx),
            statements: RefCell::new(HashMap::new()),
            timeout: t.timeout,
            broken: Cell::new(false),
            pid: std::process::id(),
        };
        // A transaction left open by a client that vanished must not hold the token's lock.
        let idle = t.timeout.as_millis().max(1000) * 2;
        let mut setup = format!("SET idle_in_transaction_session_timeout = {idle};");
        if let Some(serial) = listen {
            setup.push_str(&format!("LISTEN {};", channel(serial)));
        }
        link.run("set-up", |c| async move { c.batch_execute(&setup).await })?;
        Ok(link)
    }

    pub fn is_broken(&self) -> bool {
        self.broken.get()
    }

    fn client(&self) -> Result<&Client> {
        self.client
            .as_ref()
            .ok_or_else(|| Error::device("PostgreSQL connection closed"))
    }

    /// One exchange with the server, within the timeout. Anything but an error the server
    /// itself reported leaves the connection unusable.
    fn run<'a, T, F, Fut>(&'a self, what: &str, f: F) -> Result<T>
    where
        F: FnOnce(&'a Client) -> Fut,
        Fut: Future<Output = std::result::Result<T, tokio_postgres::Error>>,
    {
        let client = self.client()?;
        let rt = self
            .rt
            .as_ref()
            .ok_or_else(|| Error::device("PostgreSQL connection closed"))?;
        let fut = f(client);
        match rt.block_on(async { tokio::time::timeout(self.timeout, fut).await }) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                if e.as_db_error().is_none() || e.is_closed() {
                    self.broken.set(true);
                }
                Err(device(what, e))
            }
            Err(_) => {
                self.broken.set(true);
                Err(device(what, "timed out"))
            }
        }
    }

    fn statement(&self, sql: &'static str) -> Result<Statement> {
        if let Some(s) = self.statements.borrow().get(sql) {
            return Ok(s.clone());
        }
        let st = self.run("prepare", |c| c.prepare(sql))?;
        self.statements.borrow_mut().insert(sql, st.clone());
        Ok(st)
    }

    fn query(
        &self,
        sql: &'static str,
        p: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>> {
        let st = self.statement(sql)?;
        self.run("query", |c| async move { c.query(&st, p).await })
    }

    fn execute(&self, sql: &'static str, p: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let st = self.statement(sql)?;
        self.run("statement", |c| async move { c.execute(&st, p).await })
    }

    fn simple(&self, sql: &str) -> Result<()> {
        self.run("statement", |c| async move { c.batch_execute(sql).await })
    }

    /// Notifications already received, without waiting: `None` when the connection is gone.
    fn notes(&self) -> Option<Vec<String>> {
        let rt = self.rt.as_ref()?;
        // Let the connection task read what the socket holds (a poll, no wait).
        rt.block_on(async {
            tokio::task::yield_now().await;
            tokio::task::yield_now().await;
        });
        let mut rx = self.notes.borrow_mut();
        let mut out = Vec::new();
        loop {
            match rx.try_recv() {
                Ok(n) => out.push(n),
                Err(tokio::sync::mpsc::error::TryRecvError::Empty) => return Some(out),
                Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => return None,
            }
        }
    }

    /// Create or bring forward the schema.
    pub fn ensure_schema(&self) -> Result<()> {
        self.simple("BEGIN")?;
        let r = (|| {
            self.simple(&format!(
                "SELECT pg_advisory_xact_lock({SCHEMA_LOCK});
                 CREATE TABLE IF NOT EXISTS ferrohsm_schema (version integer NOT NULL);"
            ))?;
            let rows = self.run("schema", |c| async move {
                c.query("SELECT version FROM ferrohsm_schema", &[]).await
            })?;
            let have: i32 = match rows.first() {
                Some(r) => r.try_get(0).map_err(|e| device("schema", e))?,
                None => 0,
            };
            let want = MIGRATIONS.len() as i32;
            if have > want {
                return Err(Error::device(format_args!(
                    "PostgreSQL schema version {have} is newer than this module's {want}"
                )));
            }
            for (i, step) in MIGRATIONS.iter().enumerate().skip(have as usize) {
                self.simple(step)?;
                crate::log::info(format_args!("PostgreSQL store: schema version {}", i + 1));
            }
            if have == 0 {
                self.simple(&format!("INSERT INTO ferrohsm_schema VALUES ({want})"))?;
            } else if have < want {
                self.simple(&format!("UPDATE ferrohsm_schema SET version = {want}"))?;
            }
            self.simple("COMMIT")
        })();
        if r.is_err() {
            let _ = self.simple("ROLLBACK");
        }
        r
    }

    /// The serials of the tokens in the database.
    pub fn serials(&self) -> Result<Vec<String>> {
        let rows = self.query("SELECT serial FROM tokens ORDER BY serial", &[])?;
        rows.iter()
            .map(|r| r.try_get(0).map_err(|e| device("tokens", e)))
            .collect()
    }

    /// The free slot's serial, agreed on by every host (the first one to propose wins).
    pub fn free_serial(&self, proposed: &str) -> Result<String> {
        self.execute(
            "INSERT INTO free_slot(one, serial) VALUES (true, $1) ON CONFLICT DO NOTHING",
            &[&proposed],
        )?;
        let rows = self.query("SELECT serial FROM free_slot", &[])?;
        match rows.first() {
            Some(r) => r.try_get(0).map_err(|e| device("free slot", e)),
            None => Ok(proposed.to_owned()),
        }
    }

    pub fn forget_free_serial(&self, used: &str) -> Result<()> {
        self.execute("DELETE FROM free_slot WHERE serial = $1", &[&used])?;
        Ok(())
    }

    pub fn delete_token(&self, serial: &str) -> Result<bool> {
        Ok(self.execute("DELETE FROM tokens WHERE serial = $1", &[&serial])? > 0)
    }
}

fn channel(serial: &str) -> String {
    // Serials are 16 hex digits (checked where tokens are listed), so the name needs no quoting
    // beyond keeping its case.
    format!("\"ferrohsm_{serial}\"")
}

impl std::fmt::Debug for Pg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pg({})", Conn::location(self))
    }
}

/// One token in the database.
pub struct Pg {
    target: Target,
    serial: String,
    link: Option<Link>,
    /// The token's change counter as we last knew it (our own commits included).
    seen: Cell<i64>,
    /// How many times we saw others' commits: what `data_version` answers.
    foreign: Cell<i64>,
    /// Listening without a gap since `seen` was read from the server.
    sure: Cell<bool>,
}

impl Pg {
    pub fn open(target: &Target, serial: &str) -> Result<Pg> {
        let mut pg = Pg {
            target: target.clone(),
            serial: serial.to_owned(),
            link: None,
            seen: Cell::new(-1),
            foreign: Cell::new(0),
            sure: Cell::new(false),
        };
        pg.link()?;
        Ok(pg)
    }

    fn link(&mut self) -> Result<&Link> {
        if self.link.as_ref().is_some_and(|l| l.broken.get()) {
            self.link = None;
            self.sure.set(false);
        }
        if self.link.is_none() {
            self.sure.set(false);
            self.link = Some(Link::connect(&self.target, Some(&self.serial))?);
        }
        self.link
            .as_ref()
            .ok_or_else(|| Error::device("PostgreSQL connection closed"))
    }

    fn saw(&self, version: i64) {
        if version != self.seen.get() {
            if self.seen.get() >= 0 {
                self.foreign.set(self.foreign.get() + 1);
            }
            self.seen.set(version);
        }
    }
}

impl Conn for Pg {
    fn begin(&mut self, mode: Mode) -> Result<Box<dyn RawTx + '_>> {
        let serial = self.serial.clone();
        let link = self.link()?;
        let mut bumped = None;
        match mode {
            Mode::Read => {}
            Mode::Snapshot => {
                link.simple("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
            }
            Mode::Write | Mode::Create => {
                let sql = if mode == Mode::Write {
                    "UPDATE tokens SET version = version + 1 WHERE serial = $1 RETURNING version"
                } else {
                    "INSERT INTO tokens(serial, version) VALUES ($1, 1) RETURNING version"
                };
                let st = link.statement(sql)?;
                // BEGIN and the bump travel together: one round trip.
                let r = link.run("begin", |c| {
                    let st = st.clone();
                    let serial = serial.clone();
                    async move {
                        let (_, rows) = try_join(c.batch_execute("BEGIN"), async move {
                            c.query(&st, &[&serial]).await
                        })
                        .await?;
                        Ok(rows)
                    }
                });
                let rows = match r {
                    Ok(rows) => rows,
                    Err(e) => {
                        let _ = link.simple("ROLLBACK");
                        if mode == Mode::Create {
                            return Err(Error::device(format_args!(
                                "token {serial} exists in the database already ({e:?})"
                            )));
                        }
                        return Err(e);
                    }
                };
                let Some(row) = rows.first() else {
                    let _ = link.simple("ROLLBACK");
                    return Err(Error::device(format_args!(
                        "token {serial} is no longer in the database"
                    )));
                };
                let v: i64 = row.try_get(0).map_err(|e| device("begin", e))?;
                bumped = Some(v);
            }
        }
        // Re-borrow immutably for the transaction's lifetime.
        let open = mode != Mode::Read;
        let pg: &Pg = self;
        let link = pg
            .link
            .as_ref()
            .ok_or_else(|| Error::device("PostgreSQL connection closed"))?;
        Ok(Box::new(PgTx {
            pg,
            link,
            open: Cell::new(open),
            bumped,
            meta: RefCell::new(Vec::new()),
        }))
    }

    fn data_version(&mut self) -> Result<i64> {
        let serial = self.serial.clone();
        let link = self.link()?;
        let listening = link.notes().is_some();
        let rows = link.query("SELECT version FROM tokens WHERE serial = $1", &[&serial])?;
        let v: i64 = match rows.first() {
            Some(r) => r.try_get(0).map_err(|e| device("version", e))?,
            None => {
                return Err(Error::device(format_args!(
                    "token {serial} is no longer in the database"
                )))
            }
        };
        self.saw(v);
        self.sure.set(listening);
        Ok(self.foreign.get())
    }

    fn unchanged(&mut self) -> bool {
        if !self.sure.get() {
            return false;
        }
        let Some(link) = self.link.as_ref().filter(|l| !l.broken.get()) else {
            self.sure.set(false);
            return false;
        };
        match link.notes() {
            None => {
                self.sure.set(false);
                false
            }
            Some(notes) => {
                let seen = self.seen.get();
                // Our own commits come back too: only a version past ours is news.
                !notes
                    .iter()
                    .any(|n| n.trim().parse::<i64>().map_or(true, |v| v > seen))
            }
        }
    }

    fn read_only(&self) -> bool {
        false
    }

    fn location(&self) -> String {
        format!("{} token {}", self.target.shown, self.serial)
    }
}

struct PgTx<'a> {
    pg: &'a Pg,
    link: &'a Link,
    open: Cell<bool>,
    /// The change counter this write transaction set.
    bumped: Option<i64>,
    /// Meta rows to write with the commit (one round trip for all).
    meta: RefCell<Vec<(String, Option<Vec<u8>>)>>,
}

impl Drop for PgTx<'_> {
    fn drop(&mut self) {
        if self.open.get() && !self.link.broken.get() {
            let _ = self.link.simple("ROLLBACK");
        }
    }
}

fn get<'r, T: tokio_postgres::types::FromSql<'r>>(
    r: &'r tokio_postgres::Row,
    i: usize,
) -> Result<T> {
    r.try_get(i).map_err(|e| device("row", e))
}

fn read_row(r: &tokio_postgres::Row, blob: bool) -> Result<Row> {
    Ok(Row {
        id: get::<i64>(r, 0)? as u64,
        private: get(r, 1)?,
        gen: get(r, 2)?,
        blob: if blob { get(r, 3)? } else { Vec::new() },
        cols: IndexCols {
            class: get(r, 4)?,
            id: get(r, 5)?,
            label: get(r, 6)?,
        },
        mac: get(r, 7)?,
    })
}

impl PgTx<'_> {
    fn s(&self) -> &String {
        &self.pg.serial
    }
    fn write_row(&self, sql: &'static str, row: &Row) -> Result<()> {
        let id = row.id as i64;
        self.link.execute(
            sql,
            &[
                self.s(),
                &id,
                &row.private,
                &row.cols.class,
                &row.cols.id,
                &row.cols.label,
                &row.gen,
                &row.blob,
                &row.mac,
            ],
        )?;
        Ok(())
    }
}

impl RawTx for PgTx<'_> {
    fn meta_all(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let rows = self
            .link
            .query("SELECT key, value FROM meta WHERE serial = $1", &[self.s()])?;
        rows.iter().map(|r| Ok((get(r, 0)?, get(r, 1)?))).collect()
    }

    fn meta_put(&self, changes: &[(String, Option<Vec<u8>>)]) -> Result<()> {
        self.meta.borrow_mut().extend_from_slice(changes);
        if !self.open.get() {
            return Err(Error::device("PostgreSQL meta write outside a transaction"));
        }
        Ok(())
    }

    fn row(&self, id: u64) -> Result<Option<Row>> {
        let rows = self.link.query(
            "SELECT id, private, gen, attrs, class_hash, id_hash, label_hash, mac
             FROM objects WHERE serial = $1 AND id = $2",
            &[self.s(), &(id as i64)],
        )?;
        rows.first().map(|r| read_row(r, true)).transpose()
    }

    fn rows_of(&self, ids: &[u64]) -> Result<Vec<Row>> {
        let ids: Vec<i64> = ids.iter().map(|&i| i as i64).collect();
        let rows = self.link.query(
            "SELECT id, private, gen, attrs, class_hash, id_hash, label_hash, mac
             FROM objects WHERE serial = $1 AND id = ANY($2)",
            &[self.s(), &ids],
        )?;
        rows.iter().map(|r| read_row(r, true)).collect()
    }

    fn gen(&self, id: u64) -> Result<Option<i64>> {
        let rows = self.link.query(
            "SELECT gen FROM objects WHERE serial = $1 AND id = $2",
            &[self.s(), &(id as i64)],
        )?;
        rows.first().map(|r| get(r, 0)).transpose()
    }

    fn insert_row(&self, row: &Row) -> Result<()> {
        self.write_row(
            "INSERT INTO objects(serial, id, private, class_hash, id_hash, label_hash, gen, attrs, mac)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            row,
        )
    }

    fn update_row(&self, row: &Row) -> Result<()> {
        self.write_row(
            "UPDATE objects SET private = $3, class_hash = $4, id_hash = $5, label_hash = $6,
             gen = $7, attrs = $8, mac = $9 WHERE serial = $1 AND id = $2",
            row,
        )
    }

    fn delete_row(&self, id: u64) -> Result<()> {
        self.link.execute(
            "DELETE FROM objects WHERE serial = $1 AND id = $2",
            &[self.s(), &(id as i64)],
        )?;
        Ok(())
    }

    fn keep_deleted(&self, id: u64) -> Result<()> {
        self.link.execute(
            "INSERT INTO deleted SELECT * FROM objects WHERE serial = $1 AND id = $2",
            &[self.s(), &(id as i64)],
        )?;
        Ok(())
    }

    fn insert_deleted(&self, row: &Row) -> Result<()> {
        self.write_row(
            "INSERT INTO deleted(serial, id, private, class_hash, id_hash, label_hash, gen, attrs, mac)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            row,
        )
    }

    fn rows(&self, blobs: bool) -> Result<Vec<Row>> {
        let rows = if blobs {
            self.link.query(
                "SELECT id, private, gen, attrs, class_hash, id_hash, label_hash, mac
                 FROM objects WHERE serial = $1 ORDER BY id",
                &[self.s()],
            )?
        } else {
            self.link.query(
                "SELECT id, private, gen, NULL::bytea, class_hash, id_hash, label_hash, mac
                 FROM objects WHERE serial = $1 ORDER BY id",
                &[self.s()],
            )?
        };
        rows.iter().map(|r| read_row(r, blobs)).collect()
    }

    fn deleted(&self) -> Result<Vec<Row>> {
        let rows = self.link.query(
            "SELECT id, private, gen, attrs, class_hash, id_hash, label_hash, mac
             FROM deleted WHERE serial = $1 ORDER BY id",
            &[self.s()],
        )?;
        rows.iter().map(|r| read_row(r, true)).collect()
    }

    fn candidates(
        &self,
        by: Option<(Column, &[i64])>,
        with_private: bool,
    ) -> Result<Vec<(u64, bool)>> {
        let rows = match by {
            None => self.link.query(
                "SELECT id, private FROM objects WHERE serial = $1 AND (private = false OR $2)
                 ORDER BY id",
                &[self.s(), &with_private],
            )?,
            Some((col, hashes)) => {
                let sql = match col {
                    Column::Class => {
                        "SELECT id, private FROM objects WHERE serial = $1
                         AND class_hash = ANY($2) AND (private = false OR $3) ORDER BY id"
                    }
                    Column::Id => {
                        "SELECT id, private FROM objects WHERE serial = $1
                         AND id_hash = ANY($2) AND (private = false OR $3) ORDER BY id"
                    }
                    Column::Label => {
                        "SELECT id, private FROM objects WHERE serial = $1
                         AND label_hash = ANY($2) AND (private = false OR $3) ORDER BY id"
                    }
                };
                let hashes: Vec<i64> = hashes.to_vec();
                self.link.query(sql, &[self.s(), &hashes, &with_private])?
            }
        };
        rows.iter()
            .map(|r| Ok((get::<i64>(r, 0)? as u64, get(r, 1)?)))
            .collect()
    }

    fn count(&self) -> Result<u64> {
        let rows = self.link.query(
            "SELECT count(*) FROM objects WHERE serial = $1",
            &[self.s()],
        )?;
        let n: i64 = rows.first().map(|r| get(r, 0)).transpose()?.unwrap_or(0);
        Ok(n as u64)
    }

    fn iv(&self, tag: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let rows = self.link.query(
            "SELECT next, mac FROM ivs WHERE serial = $1 AND tag = $2",
            &[self.s(), &tag],
        )?;
        rows.first()
            .map(|r| Ok((get(r, 0)?, get(r, 1)?)))
            .transpose()
    }

    fn put_iv(&self, tag: &[u8], next: &[u8], mac: &[u8]) -> Result<()> {
        self.link.execute(
            "INSERT INTO ivs(serial, tag, next, mac) VALUES ($1, $2, $3, $4)
             ON CONFLICT (serial, tag) DO UPDATE SET next = excluded.next, mac = excluded.mac",
            &[self.s(), &tag, &next, &mac],
        )?;
        Ok(())
    }

    fn ivs(&self) -> Result<Vec<super::backend::IvRow>> {
        let rows = self.link.query(
            "SELECT tag, next, mac FROM ivs WHERE serial = $1 ORDER BY tag",
            &[self.s()],
        )?;
        rows.iter()
            .map(|r| Ok((get(r, 0)?, get(r, 1)?, get(r, 2)?)))
            .collect()
    }

    fn clear(&self) -> Result<()> {
        for sql in [
            "DELETE FROM objects WHERE serial = $1",
            "DELETE FROM deleted WHERE serial = $1",
            "DELETE FROM ivs WHERE serial = $1",
        ] {
            self.link.execute(sql, &[self.s()])?;
        }
        Ok(())
    }

    fn audit_last(&self) -> Result<Option<(u64, Vec<u8>)>> {
        self.audit_last_()
    }
    fn audit_put(&self, rows: &[AuditRow]) -> Result<()> {
        self.audit_put_(rows)
    }
    fn audit_range(&self, after: u64, limit: u64) -> Result<Vec<AuditRow>> {
        self.audit_range_(after, limit)
    }
    fn audit_delete_before(&self, before: u64) -> Result<()> {
        self.audit_delete_before_(before)
    }
    fn audit_checkpoints(&self) -> Result<Vec<Checkpoint>> {
        self.audit_checkpoints_()
    }
    fn audit_put_checkpoint(&self, c: &Checkpoint) -> Result<()> {
        self.audit_put_checkpoint_(c)
    }

    fn upgrade_v1(&self) -> Result<()> {
        Err(Error::device(
            "a PostgreSQL token is never at schema 1 (a copied SQLite schema-1 file?)",
        ))
    }

    fn commit(self: Box<Self>) -> Result<()> {
        if !self.open.get() {
            return Ok(());
        }
        let changes = self.meta.take();
        let (put_k, put_v): (Vec<String>, Vec<Vec<u8>>) = changes
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.clone())))
            .unzip();
        let gone: Vec<String> = changes
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.clone())
            .collect();
        if !gone.is_empty() {
            self.link.execute(
                "DELETE FROM meta WHERE serial = $1 AND key = ANY($2)",
                &[self.s(), &gone],
            )?;
        }
        let upsert = self.link.statement(
            "INSERT INTO meta(serial, key, value)
             SELECT $1, k, v FROM unnest($2::text[], $3::bytea[]) AS u(k, v)
             ON CONFLICT (serial, key) DO UPDATE SET value = excluded.value",
        )?;
        let serial = self.s().clone();
        let finish = match self.bumped {
            Some(v) => format!("NOTIFY {}, '{v}'; COMMIT", channel(&serial)),
            None => "COMMIT".to_owned(),
        };
        // The meta rows, the notification and the commit travel together: one round trip. A
        // failed upsert aborts the transaction, and the COMMIT after it then rolls back.
        let r = self.link.run("commit", |c| async move {
            if put_k.is_empty() {
                c.batch_execute(&finish).await
            } else {
                try_join(
                    c.execute(&upsert, &[&serial, &put_k, &put_v]),
                    c.batch_execute(&finish),
                )
                .await
                .map(|_| ())
            }
        });
        match r {
            Ok(()) => {
                self.open.set(false);
                if let Some(v) = self.bumped {
                    // Our commit moved the counter by one: anything more was someone else's.
                    if self.pg.seen.get() != v - 1 && self.pg.seen.get() >= 0 {
                        self.pg.foreign.set(self.pg.foreign.get() + 1);
                    }
                    self.pg.seen.set(v);
                }
                Ok(())
            }
            Err(e) => {
                // A commit whose answer never came may or may not have happened: the
                // connection is dropped and the next call reads the state afresh.
                self.link.broken.set(true);
                self.pg.sure.set(false);
                Err(e)
            }
        }
    }
}
