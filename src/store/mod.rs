//! The token database: one SQLite file per token (WAL, one transaction per change, versioned
//! schema), a random master key wrapped under Argon2id keys derived from the SO and user PINs,
//! and objects sealed under that key (design.md "Storage"; PKCS#11 v3.0 §4.4 token objects).

pub mod codec;
pub mod integrity;
mod ivs;
pub use ivs::Block as IvBlock;
mod migrate;
mod objects;
pub use objects::{is_pending, PENDING_BASE};
mod pin;
mod watch;

use crate::crypto::{self, Aead256, KdfParams};
use crate::error::{fail, Error, Result};
use crate::mechanism::policy::Policy;
use codec::{DecodeError, Decoded, EncodeError};
use cryptoki_sys::*;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

pub const SCHEMA_VERSION: u32 = 2;
/// A write found that an object it depends on changed since it was read (another process
/// committed in between): internal only, the module re-reads and re-applies its rules.
pub const CONFLICT: CK_RV = CKR_VENDOR_DEFINED | 0x4648_0001;
const APPLICATION_ID: i64 = 0x6648_534d; // "fHSM", marks the file as ours

/// Who a PIN belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    So,
    User,
}

impl Role {
    fn wrap_key(self) -> &'static str {
        match self {
            Role::So => "so_wrap",
            Role::User => "user_wrap",
        }
    }
    fn failures_key(self) -> &'static str {
        match self {
            Role::So => "so_failures",
            Role::User => "user_failures",
        }
    }
    fn tag(self) -> u8 {
        match self {
            Role::So => 1,
            Role::User => 2,
        }
    }
}

/// The token's master key, in memory only while someone is logged in.
pub struct MasterKey {
    aead: Aead256,
    index_key: Zeroizing<[u8; 32]>,
    integrity: integrity::Keys,
    iv: ivs::IvKey,
    raw: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    fn from_raw(raw: Zeroizing<[u8; 32]>) -> Self {
        // Separate keys for sealing and for the search index, so neither use weakens the other.
        let seal = Zeroizing::new(crypto::hmac_sha256(raw.as_ref(), &[b"ferrohsm seal v1"]));
        let index_key = Zeroizing::new(crypto::hmac_sha256(raw.as_ref(), &[b"ferrohsm index v1"]));
        MasterKey {
            aead: Aead256::new(&seal),
            index_key,
            integrity: integrity::Keys::derive(&raw),
            iv: ivs::IvKey::derive(raw.as_ref()),
            raw,
        }
    }
    fn generate() -> Result<Self> {
        Ok(MasterKey::from_raw(Zeroizing::new(crypto::random_array()?)))
    }
    pub fn aead(&self) -> &Aead256 {
        &self.aead
    }
    fn integrity(&self) -> &integrity::Keys {
        &self.integrity
    }
    fn raw(&self) -> &[u8] {
        self.raw.as_ref()
    }
}

/// The searchable hash of an attribute value: keyed by the master key for private objects, so
/// the file reveals nothing of them; a plain hash for public objects, which are searchable before
/// login.
pub fn index_hash(
    key: Option<&MasterKey>,
    ty: CK_ATTRIBUTE_TYPE,
    value: &crate::object::attr::AttrValue,
) -> i64 {
    let mut enc = Zeroizing::new(Vec::new());
    match value {
        crate::object::attr::AttrValue::Bytes(b) => enc.extend_from_slice(b),
        crate::object::attr::AttrValue::Ulong(u) => enc.extend_from_slice(&u.to_le_bytes()),
        other => enc.extend_from_slice(format!("{other:?}").as_bytes()),
    }
    let t = codec::fixed(ty);
    let h = match key {
        Some(k) => crypto::hmac_sha256(k.index_key.as_ref(), &[&t, &enc]),
        None => crypto::sha256(&[b"ferrohsm public index v1", &t, &enc]),
    };
    let mut a = [0u8; 8];
    a.copy_from_slice(&h[..8]);
    i64::from_le_bytes(a)
}

/// The meta row of the token's algorithm policy (`compat` or `strict`, as text).
pub const POLICY_KEY: &str = "policy";

/// Token facts kept in the meta table.
#[derive(Debug, Clone)]
pub struct TokenMeta {
    pub label: [u8; 32],
    pub serial: String,
    pub slot_id: u64,
    pub created: i64,
    pub user_pin_set: bool,
    pub so_failures: u32,
    pub user_failures: u32,
    pub policy: Policy,
}

/// One stored object row, before decoding.
#[derive(Debug)]
pub struct Row {
    pub id: u64,
    pub private: bool,
    pub gen: i64,
    pub cols: IndexCols,
    pub blob: Vec<u8>,
    /// The row's MAC (schema 2).
    pub mac: Option<Vec<u8>>,
}

/// The new state of an object, from a `TokenDb::modify` change.
pub struct Replacement {
    pub data: Decoded,
    pub private: bool,
    pub cols: IndexCols,
    pub is_secret: Box<dyn Fn(CK_ATTRIBUTE_TYPE) -> bool>,
}

impl std::fmt::Debug for Replacement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Replacement(private: {})", self.private)
    }
}

/// Columns used to find objects without decoding them.
#[derive(Debug, Clone, Copy, Default)]
pub struct IndexCols {
    pub class: i64,
    pub id: Option<i64>,
    pub label: Option<i64>,
}

/// An open token file.
pub struct TokenDb {
    conn: Connection,
    path: PathBuf,
    schema: u32,
    /// Looks for other processes' commits without a statement (WAL databases only). Declared
    /// after `conn`, so it is dropped after it: it holds a descriptor of the `-shm` file, and
    /// closing that drops SQLite's locks on the file (`ffi::shm`).
    watch: Option<watch::ShmWatch>,
}

impl std::fmt::Debug for TokenDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenDb({})", self.path.display())
    }
}

fn u32_meta(v: Option<Vec<u8>>) -> u32 {
    match v.as_deref() {
        Some([a, b, c, d]) => u32::from_le_bytes([*a, *b, *c, *d]),
        _ => 0,
    }
}

fn not_recognized(path: &Path, why: impl std::fmt::Display) -> Error {
    crate::log::warn(format_args!(
        "token file {} not recognized: {why}",
        path.display()
    ));
    Error::new(CKR_TOKEN_NOT_RECOGNIZED)
}

impl TokenDb {
    fn configure(conn: &Connection) -> rusqlite::Result<()> {
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // NORMAL in WAL mode keeps every commit across a process crash; only a power loss may lose
        // the last commits, never consistency.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        Ok(())
    }

    /// Create a new token file (which must not exist yet) with the SO PIN, label and algorithm
    /// policy.
    #[allow(clippy::too_many_arguments)]
    pub fn create(
        path: &Path,
        serial: &str,
        slot_id: u64,
        label: &[u8; 32],
        so_pin: &[u8],
        kdf: KdfParams,
        policy: Policy,
    ) -> Result<(TokenDb, MasterKey)> {
        if let Some(dir) = path.parent() {
            create_private_dir(dir)?;
        }
        // Create the file ourselves with mode 0600 before SQLite opens it.
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
        Self::configure(&conn)?;
        let mut db = TokenDb {
            conn,
            path: path.to_owned(),
            schema: SCHEMA_VERSION,
            watch: None,
        };
        let master = MasterKey::generate()?;
        let tx = db
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(&format!(
            "PRAGMA application_id = {APPLICATION_ID};
             CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
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
             CREATE INDEX objects_label ON objects(label_hash) WHERE label_hash IS NOT NULL;
             {}
             {}",
            migrate::DELETED_TABLE,
            ivs::CREATE_TABLE
        ))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        let put = |k: &str, v: &[u8]| {
            tx.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
                params![k, v],
            )
        };
        put("schema_version", &SCHEMA_VERSION.to_le_bytes())?;
        put("serial", serial.as_bytes())?;
        put("slot_id", &slot_id.to_le_bytes())?;
        put("created", &now.to_le_bytes())?;
        put("label", label)?;
        put(POLICY_KEY, policy.name().as_bytes())?;
        put("next_object_id", &1u64.to_le_bytes())?;
        put("epoch", &crypto::random_array::<16>()?)?;
        let wrap = pin::wrap_master(&master, Role::So, so_pin, kdf)?;
        put(Role::So.wrap_key(), &wrap)?;
        integrity::put_object_set(&tx, &master, &[0u8; 32])?;
        integrity::seal_meta(&tx, &master)?;
        tx.commit()?;
        db.start_watch();
        Ok((db, master))
    }

    /// Open an existing token file; anything that is not a ferrohsm token of a known schema gives
    /// `CKR_TOKEN_NOT_RECOGNIZED`.
    pub fn open(path: &Path) -> Result<TokenDb> {
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
                let conn = Self::open_immutable(path).map_err(|e| not_recognized(path, e))?;
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
        let _ = Self::configure(&conn);
        let mut db = TokenDb {
            conn,
            path: path.to_owned(),
            schema: 0,
            watch: None,
        };
        let version = u32_meta(
            db.meta("schema_version")
                .map_err(|e| not_recognized(path, e))?,
        );
        db.schema = version;
        // Schema 1 opens as it is and is migrated at the first login (see `migrate`).
        if !(1..=SCHEMA_VERSION).contains(&version) {
            return Err(not_recognized(
                path,
                format_args!("schema version {version}"),
            ));
        }
        db.meta_info()
            .map_err(|e| not_recognized(path, format_args!("{e:?}")))?;
        db.start_watch();
        Ok(db)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Re-read what another process may have changed: the schema (a migration).
    pub fn refresh(&mut self) -> Result<()> {
        self.schema = u32_meta(self.meta("schema_version")?);
        Ok(())
    }

    /// The token epoch: new at every `C_InitToken`, so other processes see a re-initialization.
    pub fn epoch(&self) -> Result<Option<Vec<u8>>> {
        self.meta("epoch")
    }

    /// Check the whole token (meta rows, the set of object rows) in one read snapshot.
    pub fn verify(&mut self, master: &MasterKey) -> Result<()> {
        let tx = self.conn.transaction()?;
        integrity::verify_token(&tx, master)
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

    /// The token file cannot be written (opened read-only).
    pub fn read_only(&self) -> bool {
        self.conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false)
    }

    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?)
    }

    pub(crate) fn set_meta(conn: &Connection, key: &str, value: &[u8]) -> Result<()> {
        conn.prepare_cached("INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)")?
            .execute(params![key, value])?;
        Ok(())
    }

    pub fn meta_info(&self) -> Result<TokenMeta> {
        let label_v = self.meta("label")?.unwrap_or_default();
        let mut label = [b' '; 32];
        let n = label_v.len().min(32);
        label[..n].copy_from_slice(&label_v[..n]);
        let serial = String::from_utf8(self.meta("serial")?.unwrap_or_default())
            .map_err(|_| Error::device("serial is not text"))?;
        let slot_id = match self.meta("slot_id")?.as_deref() {
            Some(b) if b.len() == 8 => {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                u64::from_le_bytes(a)
            }
            _ => return Err(Error::device("slot id missing")),
        };
        let created = match self.meta("created")?.as_deref() {
            Some(b) if b.len() == 8 => {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                i64::from_le_bytes(a)
            }
            _ => 0,
        };
        Ok(TokenMeta {
            label,
            serial,
            slot_id,
            created,
            user_pin_set: self.meta(Role::User.wrap_key())?.is_some(),
            so_failures: u32_meta(self.meta(Role::So.failures_key())?),
            user_failures: u32_meta(self.meta(Role::User.failures_key())?),
            policy: self.policy()?,
        })
    }

    /// The token's algorithm policy; a file written before policies existed is `compat`. The
    /// row is under the meta MAC (`integrity::OPTIONAL_META`), so an edit shows at login.
    pub fn policy(&self) -> Result<Policy> {
        match self.meta(POLICY_KEY)? {
            Some(v) => crate::mechanism::policy::from_stored(&v),
            None => Ok(Policy::Compat),
        }
    }

    /// SQLite's counter of commits by other connections: when it moves, cached objects may be stale.
    pub fn data_version(&self) -> Result<i64> {
        let query = || -> Result<i64> {
            Ok(self
                .conn
                .prepare_cached("PRAGMA data_version")?
                .query_row([], |r| r.get(0))?)
        };
        match &self.watch {
            Some(w) => w.checked(query),
            None => query(),
        }
    }

    /// Whether certainly nothing was committed to the file since the last [`Self::data_version`]
    /// (by anyone: our own commits count too). False when unsure; then ask `data_version`.
    pub fn unchanged(&self) -> bool {
        self.watch.as_ref().is_some_and(watch::ShmWatch::unchanged)
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

    /// Check a PIN and return the master key. The failure count is raised before the (slow)
    /// derivation and lowered again on success, so neither a crash nor a parallel guess in another
    /// process gets a free try. A schema-1 file is migrated here, the first time the master key
    /// is known; then the whole token is checked.
    pub fn login(&mut self, role: Role, pin: &[u8], max_failures: u32) -> Result<MasterKey> {
        // A read-only token cannot count failures; whoever can read its file can guess
        // offline anyway, so the count protects nothing there.
        let counted = !self.read_only();
        let tx = self.conn.transaction_with_behavior(if counted {
            TransactionBehavior::Immediate
        } else {
            TransactionBehavior::Deferred
        })?;
        let wrap: Option<Vec<u8>> = tx
            .query_row(
                "SELECT value FROM meta WHERE key = ?1",
                [role.wrap_key()],
                |r| r.get(0),
            )
            .optional()?;
        let Some(wrap) = wrap else {
            return fail(CKR_USER_PIN_NOT_INITIALIZED);
        };
        // A damaged wrap, or one asking for more Argon2 work than allowed, costs no try.
        let wrap = pin::Wrap::parse(&wrap)?;
        let failures = u32_meta(
            tx.query_row(
                "SELECT value FROM meta WHERE key = ?1",
                [role.failures_key()],
                |r| r.get(0),
            )
            .optional()?,
        );
        if failures >= max_failures {
            return fail(CKR_PIN_LOCKED);
        }
        if counted {
            Self::set_meta(&tx, role.failures_key(), &(failures + 1).to_le_bytes())?;
        }
        tx.commit()?;
        let k = wrap.derive(pin)?;
        // The attempt that uses up the last try is still reported as a wrong PIN; the lock
        // shows in the token flags and in the next attempt.
        let master = wrap.open(role, &k)?.ok_or(Error::new(CKR_PIN_INCORRECT))?;
        if counted {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            Self::set_meta(&tx, role.failures_key(), &0u32.to_le_bytes())?;
            let schema = u32_meta(
                tx.query_row(
                    "SELECT value FROM meta WHERE key = 'schema_version'",
                    [],
                    |r| r.get(0),
                )
                .optional()?,
            );
            if schema == 1 {
                if wrap.format != pin::FORMAT_1 {
                    return Err(Error::device(
                        "a schema-1 token file holds a schema-2 PIN wrap (downgraded file)",
                    ));
                }
                migrate::to_v2(&tx, &master, role, &k, &wrap)?;
            } else if wrap.format == pin::FORMAT_1 {
                // Migrated at the other role's login: this role's wrap follows now.
                integrity::check_meta(&tx, &master)?;
                Self::set_meta(&tx, role.wrap_key(), &wrap.upgraded(role, &k, &master)?)?;
                integrity::seal_meta(&tx, &master)?;
            }
            tx.commit()?;
            self.refresh()?;
        } else if self.schema < 2 {
            return Err(Error::device(format_args!(
                "token file {} is in the schema-1 format, which is converted at the first login; \
                 it cannot be written here: log in once with the file writable",
                self.path.display()
            )));
        }
        self.verify(&master)?;
        Ok(master)
    }

    /// Check a PIN without logging in (`C_InitToken` on an initialized token, `C_SetPIN`).
    pub fn verify_pin(&mut self, role: Role, pin: &[u8], max_failures: u32) -> Result<MasterKey> {
        self.login(role, pin, max_failures)
    }

    /// Wrap the master key under a (new) PIN for `role`, and clear that role's failure count.
    pub fn set_pin(
        &mut self,
        role: Role,
        pin: &[u8],
        master: &MasterKey,
        kdf: KdfParams,
    ) -> Result<()> {
        let wrap = pin::wrap_master(master, role, pin, kdf)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        integrity::check_meta(&tx, master)?;
        Self::set_meta(&tx, role.wrap_key(), &wrap)?;
        Self::set_meta(&tx, role.failures_key(), &0u32.to_le_bytes())?;
        integrity::seal_meta(&tx, master)?;
        tx.commit()?;
        Ok(())
    }

    /// Re-initialize: every object and the user PIN go, a new master key and SO wrap, label and
    /// policy come, in one transaction.
    pub fn reinitialize(
        &mut self,
        label: &[u8; 32],
        so_pin: &[u8],
        kdf: KdfParams,
        policy: Policy,
    ) -> Result<MasterKey> {
        let master = MasterKey::generate()?;
        let wrap = pin::wrap_master(&master, Role::So, so_pin, kdf)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        if self.schema < 2 {
            migrate::add_columns(&tx)?;
        }
        tx.execute("DELETE FROM objects", [])?;
        tx.execute("DELETE FROM deleted", [])?;
        tx.execute("DELETE FROM ivs", [])?;
        tx.execute(
            "DELETE FROM meta WHERE key IN ('user_wrap', 'user_failures', 'so_failures')",
            [],
        )?;
        Self::set_meta(&tx, "label", label)?;
        Self::set_meta(&tx, POLICY_KEY, policy.name().as_bytes())?;
        Self::set_meta(&tx, Role::So.wrap_key(), &wrap)?;
        Self::set_meta(&tx, "schema_version", &SCHEMA_VERSION.to_le_bytes())?;
        // Other processes see the new epoch and log out of the old token.
        Self::set_meta(&tx, "epoch", &crypto::random_array::<16>()?)?;
        integrity::put_object_set(&tx, &master, &[0u8; 32])?;
        integrity::seal_meta(&tx, &master)?;
        tx.commit()?;
        self.schema = SCHEMA_VERSION;
        // Deleted rows may still sit in free pages and the WAL: they were sealed, but there is no
        // reason to keep them around.
        let _ = self
            .conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM;");
        Ok(master)
    }

    pub fn row(&self, id: u64) -> Result<Option<Row>> {
        Self::row_in(&self.conn, id, self.schema)
    }

    /// The generation of an object (bumped on each change), `None` when it no longer exists.
    pub fn gen(&self, id: u64) -> Result<Option<i64>> {
        Ok(self
            .conn
            .prepare_cached("SELECT gen FROM objects WHERE id = ?1")?
            .query_row([id as i64], |r| r.get(0))
            .optional()?)
    }

    /// Ids of objects that may match: `column` is one of the indexed hash columns, or `None` for
    /// every object. Private objects are included only when `with_private`.
    pub fn candidates(
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
                let mut st = self.conn.prepare_cached(&format!(
                    "SELECT id, private FROM objects WHERE 1{priv_clause} ORDER BY id"
                ))?;
                let mut rows = st.query([])?;
                while let Some(r) = rows.next()? {
                    push(r)?;
                }
            }
            Some((col, hashes)) => {
                let name = col.name();
                let mut st = self.conn.prepare_cached(&format!(
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

    pub fn count(&self) -> Result<u64> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM objects", [], |r| r.get(0))?;
        Ok(n as u64)
    }
}

/// The indexed hash columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Class,
    Id,
    Label,
}

impl Column {
    fn name(self) -> &'static str {
        match self {
            Column::Class => "class_hash",
            Column::Id => "id_hash",
            Column::Label => "label_hash",
        }
    }
}

fn encode_obj(
    id: u64,
    obj: &Decoded,
    private: bool,
    is_secret: &dyn Fn(CK_ATTRIBUTE_TYPE) -> bool,
    key: Option<&MasterKey>,
) -> Result<Vec<u8>> {
    codec::encode(id, obj, private, is_secret, key.map(MasterKey::aead)).map_err(|e| match e {
        EncodeError::NeedKey => Error::new(CKR_USER_NOT_LOGGED_IN),
        EncodeError::Crypto(e) => e,
    })
}

/// Decode a row; damage or tampering is logged and reported as `CKR_DEVICE_ERROR`.
pub fn decode_row(row: &Row, key: Option<&MasterKey>) -> Result<Decoded> {
    codec::decode(row.id, &row.blob, key.map(MasterKey::aead)).map_err(|e| match e {
        DecodeError::Malformed(why) => {
            Error::device(format_args!("object {} damaged: {why}", row.id))
        }
        DecodeError::Unauthentic(ty) => Error::device(format_args!(
            "object {} attribute {} failed authentication (tampered or moved)",
            row.id,
            crate::object::attr::attr_name(ty)
        )),
    })
}

/// Create the token directory (and parents) with mode 0700.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::device(format_args!("create {}: {e}", dir.display())))
}
