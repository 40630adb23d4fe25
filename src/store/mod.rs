//! The token database: a random master key wrapped under Argon2id keys derived from the SO and
//! user PINs, objects sealed under that key, the integrity checks over them, in one of two
//! stores behind `backend` (an SQLite file per token, or a PostgreSQL database shared by
//! several hosts) with a versioned schema (design.md "Storage"; PKCS#11 v3.0 §4.4 token objects).

pub mod backend;
pub mod codec;
pub mod integrity;
mod ivs;
pub mod location;
pub mod pg;
pub mod sqlite;
mod sqlite_audit;
pub use ivs::Block as IvBlock;
mod migrate;
mod objects;
pub use objects::{is_pending, PENDING_BASE};
mod pin;
mod watch;

use crate::crypto::{self, Aead256, KdfParams};
use crate::error::{fail, Error, Result};
use crate::mechanism::policy::Policy;
use backend::{Conn, Mode, Txn};
use codec::{DecodeError, Decoded, EncodeError};
use cryptoki_sys::*;
use std::path::Path;
use zeroize::Zeroizing;

pub const SCHEMA_VERSION: u32 = 2;
/// A write found that an object it depends on changed since it was read (another process
/// committed in between): internal only, the module re-reads and re-applies its rules.
pub const CONFLICT: CK_RV = CKR_VENDOR_DEFINED | 0x4648_0001;

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
#[derive(Debug, Clone)]
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

/// An open token: its rows in one of the stores, and the schema they are at.
pub struct TokenDb {
    conn: Box<dyn Conn>,
    schema: u32,
    /// The audit record of the call under way, appended by the write that makes its change.
    pub audit: crate::audit::Pending,
}

impl std::fmt::Debug for TokenDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenDb({})", self.conn.location())
    }
}

fn u32_meta(v: Option<Vec<u8>>) -> u32 {
    match v.as_deref() {
        Some([a, b, c, d]) => u32::from_le_bytes([*a, *b, *c, *d]),
        _ => 0,
    }
}

fn u64_meta(v: Option<&[u8]>) -> Option<u64> {
    let a: [u8; 8] = v?.try_into().ok()?;
    Some(u64::from_le_bytes(a))
}

impl TokenDb {
    /// Create a new token (its rows must not exist yet) with the SO PIN, label and algorithm
    /// policy, in one transaction: nobody sees it half made.
    #[allow(clippy::too_many_arguments)]
    pub fn create(
        mut conn: Box<dyn Conn>,
        serial: &str,
        slot_id: u64,
        label: &[u8; 32],
        so_pin: &[u8],
        kdf: KdfParams,
        policy: Policy,
    ) -> Result<(TokenDb, MasterKey)> {
        let master = MasterKey::generate()?;
        let wrap = pin::wrap_master(&master, Role::So, so_pin, kdf)?;
        {
            let tx = Txn::new(conn.begin(Mode::Create)?);
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as i64)
                .unwrap_or(0);
            tx.set_meta("schema_version", &SCHEMA_VERSION.to_le_bytes())?;
            tx.set_meta("serial", serial.as_bytes())?;
            tx.set_meta("slot_id", &slot_id.to_le_bytes())?;
            tx.set_meta("created", &now.to_le_bytes())?;
            tx.set_meta("label", label)?;
            tx.set_meta(POLICY_KEY, policy.name().as_bytes())?;
            tx.set_meta("next_object_id", &1u64.to_le_bytes())?;
            tx.set_meta("epoch", &crypto::random_array::<16>()?)?;
            tx.set_meta(Role::So.wrap_key(), &wrap)?;
            integrity::put_object_set(&tx, &master, &[0u8; 32])?;
            integrity::seal_meta(&tx, &master)?;
            // The token's first audit record is its creation, in the same transaction.
            let mut rec = crate::audit::Record::new("C_InitToken", serial);
            rec.user_type = "CKU_SO";
            crate::audit::append(&*tx, serial, &[(rec.time_us, rec.encode())])?;
            tx.commit()?;
        }
        Ok((
            TokenDb {
                conn,
                schema: SCHEMA_VERSION,
                audit: Default::default(),
            },
            master,
        ))
    }

    /// Open an existing token; anything that is not a ferrohsm token of a known schema gives
    /// `CKR_TOKEN_NOT_RECOGNIZED`.
    pub fn open(conn: Box<dyn Conn>) -> Result<TokenDb> {
        let mut db = TokenDb {
            conn,
            schema: 0,
            audit: Default::default(),
        };
        let where_ = db.conn.location();
        let not_recognized = |why: &dyn std::fmt::Display| {
            crate::log::warn(format_args!("token {where_} not recognized: {why}"));
            Error::new(CKR_TOKEN_NOT_RECOGNIZED)
        };
        let version = u32_meta(db.meta("schema_version").map_err(|e| not_recognized(&e))?);
        db.schema = version;
        // Schema 1 opens as it is and is migrated at the first login (see `migrate`).
        if !(1..=SCHEMA_VERSION).contains(&version) {
            return Err(not_recognized(&format_args!("schema version {version}")));
        }
        db.meta_info()
            .map_err(|e| not_recognized(&format_args!("{e:?}")))?;
        Ok(db)
    }

    /// Where the token lives (a file path, or the database and serial), for logs.
    pub fn location(&self) -> String {
        self.conn.location()
    }

    /// Re-read what another process may have changed: the schema (a migration).
    pub fn refresh(&mut self) -> Result<()> {
        self.schema = u32_meta(self.meta("schema_version")?);
        Ok(())
    }

    /// After another process's commit: the schema (a migration), the policy and the epoch,
    /// read together (one round trip on a remote store, not three).
    pub fn reread(&mut self) -> Result<(Policy, Option<Vec<u8>>)> {
        let tx = Txn::new(self.conn.begin(Mode::Read)?);
        self.schema = u32_meta(tx.meta("schema_version")?);
        Ok((policy_of(tx.meta(POLICY_KEY)?)?, tx.meta("epoch")?))
    }

    /// The token epoch: new at every `C_InitToken`, so other processes see a re-initialization.
    pub fn epoch(&mut self) -> Result<Option<Vec<u8>>> {
        self.meta("epoch")
    }

    /// Check the whole token (meta rows, the set of object rows) in one read snapshot.
    pub fn verify(&mut self, master: &MasterKey) -> Result<()> {
        let tx = Txn::new(self.conn.begin(Mode::Snapshot)?);
        integrity::verify_token(&tx, master)?;
        tx.commit()
    }

    /// The token cannot be written (opened read-only).
    pub fn read_only(&self) -> bool {
        self.conn.read_only()
    }

    fn meta(&mut self, key: &str) -> Result<Option<Vec<u8>>> {
        Txn::new(self.conn.begin(Mode::Read)?).meta(key)
    }

    pub fn meta_info(&mut self) -> Result<TokenMeta> {
        let tx = Txn::new(self.conn.begin(Mode::Read)?);
        let label_v = tx.meta("label")?.unwrap_or_default();
        let mut label = [b' '; 32];
        let n = label_v.len().min(32);
        label[..n].copy_from_slice(&label_v[..n]);
        let serial = String::from_utf8(tx.meta("serial")?.unwrap_or_default())
            .map_err(|_| Error::device("serial is not text"))?;
        let slot_id = u64_meta(tx.meta("slot_id")?.as_deref())
            .ok_or_else(|| Error::device("slot id missing"))?;
        let created = u64_meta(tx.meta("created")?.as_deref()).unwrap_or(0) as i64;
        Ok(TokenMeta {
            label,
            serial,
            slot_id,
            created,
            user_pin_set: tx.meta(Role::User.wrap_key())?.is_some(),
            so_failures: u32_meta(tx.meta(Role::So.failures_key())?),
            user_failures: u32_meta(tx.meta(Role::User.failures_key())?),
            policy: policy_of(tx.meta(POLICY_KEY)?)?,
        })
    }

    /// The token's algorithm policy; a token written before policies existed is `compat`. The
    /// row is under the meta MAC (`integrity::OPTIONAL_META`), so an edit shows at login.
    pub fn policy(&mut self) -> Result<Policy> {
        policy_of(self.meta(POLICY_KEY)?)
    }

    /// A counter of commits by others: when it moves, cached objects may be stale.
    pub fn data_version(&mut self) -> Result<i64> {
        self.conn.data_version()
    }

    /// Whether certainly nobody else committed since the last [`Self::data_version`]. False
    /// when unsure; then ask `data_version`.
    pub fn unchanged(&mut self) -> bool {
        self.conn.unchanged()
    }

    /// Check a PIN and return the master key. The failure count is raised before the (slow)
    /// derivation and lowered again on success, so neither a crash nor a parallel guess in another
    /// process or host gets a free try: each count is one write transaction, serialized with
    /// every other writer of the token. A schema-1 file is migrated here, the first time the
    /// master key is known; then the whole token is checked.
    pub fn login(&mut self, role: Role, pin: &[u8], max_failures: u32) -> Result<MasterKey> {
        self.check_pin(role, pin, max_failures, true)
    }

    /// [`Self::login`]; `audited`: the pending audit record (`C_Login`) goes with the
    /// successful login's write. A PIN checked for another call (`verify_pin`) leaves it to
    /// that call's change.
    fn check_pin(
        &mut self,
        role: Role,
        pin: &[u8],
        max_failures: u32,
        audited: bool,
    ) -> Result<MasterKey> {
        // A read-only token cannot count failures; whoever can read its file can guess
        // offline anyway, so the count protects nothing there.
        let counted = !self.read_only();
        let wrap = {
            let tx =
                Txn::new(
                    self.conn
                        .begin(if counted { Mode::Write } else { Mode::Snapshot })?,
                );
            let Some(wrap) = tx.meta(role.wrap_key())? else {
                return fail(CKR_USER_PIN_NOT_INITIALIZED);
            };
            // A damaged wrap, or one asking for more Argon2 work than allowed, costs no try.
            let wrap = pin::Wrap::parse(&wrap)?;
            let failures = u32_meta(tx.meta(role.failures_key())?);
            if failures >= max_failures {
                return fail(CKR_PIN_LOCKED);
            }
            if counted {
                tx.set_meta(role.failures_key(), &(failures + 1).to_le_bytes())?;
            }
            tx.commit()?;
            wrap
        };
        let k = wrap.derive(pin)?;
        // The attempt that uses up the last try is still reported as a wrong PIN; the lock
        // shows in the token flags and in the next attempt.
        let master = wrap.open(role, &k)?.ok_or(Error::new(CKR_PIN_INCORRECT))?;
        if counted {
            let tx = Txn::new(self.conn.begin(Mode::Write)?);
            tx.set_meta(role.failures_key(), &0u32.to_le_bytes())?;
            let schema = u32_meta(tx.meta("schema_version")?);
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
                tx.set_meta(role.wrap_key(), &wrap.upgraded(role, &k, &master)?)?;
                integrity::seal_meta(&tx, &master)?;
            }
            if audited {
                crate::audit::commit(&mut self.audit, tx)?;
            } else {
                tx.commit()?;
            }
            self.refresh()?;
        } else if self.schema < 2 {
            return Err(Error::device(format_args!(
                "token file {} is in the schema-1 format, which is converted at the first login; \
                 it cannot be written here: log in once with the file writable",
                self.conn.location()
            )));
        }
        self.verify(&master)?;
        Ok(master)
    }

    /// Check a PIN without logging in (`C_InitToken` on an initialized token, `C_SetPIN`).
    pub fn verify_pin(&mut self, role: Role, pin: &[u8], max_failures: u32) -> Result<MasterKey> {
        self.check_pin(role, pin, max_failures, false)
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
        let tx = Txn::new(self.conn.begin(Mode::Write)?);
        integrity::check_meta(&tx, master)?;
        tx.set_meta(role.wrap_key(), &wrap)?;
        tx.set_meta(role.failures_key(), &0u32.to_le_bytes())?;
        integrity::seal_meta(&tx, master)?;
        crate::audit::commit(&mut self.audit, tx)
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
        {
            let tx = Txn::new(self.conn.begin(Mode::Write)?);
            tx.clear()?;
            for k in ["user_wrap", "user_failures", "so_failures"] {
                tx.delete_meta(k)?;
            }
            tx.set_meta("label", label)?;
            tx.set_meta(POLICY_KEY, policy.name().as_bytes())?;
            tx.set_meta(Role::So.wrap_key(), &wrap)?;
            tx.set_meta("schema_version", &SCHEMA_VERSION.to_le_bytes())?;
            // Other processes see the new epoch and log out of the old token.
            tx.set_meta("epoch", &crypto::random_array::<16>()?)?;
            integrity::put_object_set(&tx, &master, &[0u8; 32])?;
            integrity::seal_meta(&tx, &master)?;
            // The audit trail stays: it records the re-initialization too.
            crate::audit::commit(&mut self.audit, tx)?;
        }
        self.schema = SCHEMA_VERSION;
        self.conn.compact();
        Ok(master)
    }

    pub fn row(&mut self, id: u64) -> Result<Option<Row>> {
        self.conn.begin(Mode::Read)?.row(id)
    }

    /// The rows of those of `ids` that exist, read together (`RawTx::rows_of`).
    pub fn rows_of(&mut self, ids: &[u64]) -> Result<Vec<Row>> {
        self.conn.begin(Mode::Read)?.rows_of(ids)
    }

    /// The generation of an object (bumped on each change), `None` when it no longer exists.
    pub fn gen(&mut self, id: u64) -> Result<Option<i64>> {
        self.conn.begin(Mode::Read)?.gen(id)
    }

    /// Ids of objects that may match: `column` is one of the indexed hash columns, or `None` for
    /// every object. Private objects are included only when `with_private`.
    pub fn candidates(
        &mut self,
        by: Option<(Column, &[i64])>,
        with_private: bool,
    ) -> Result<Vec<(u64, bool)>> {
        self.conn.begin(Mode::Read)?.candidates(by, with_private)
    }

    pub fn count(&mut self) -> Result<u64> {
        self.conn.begin(Mode::Read)?.count()
    }

    /// End the recorded call under way with `rv`: its record, unless it went with a change
    /// already, is written in a transaction of its own. A record that cannot be written is
    /// logged; the call's result stands (its change, if any, committed with its record).
    pub fn audit_finish(&mut self, rv: CK_RV) {
        let Some((serial, rec)) = self.audit.finish(rv) else {
            return;
        };
        if self.read_only() {
            return;
        }
        let r = (|| {
            let tx = Txn::new(self.conn.begin(Mode::Write)?);
            crate::audit::append(&*tx, &serial, &[rec])?;
            tx.commit()
        })();
        if let Err(e) = r {
            crate::log::warn(format_args!("audit record not written: {e:?}"));
        }
    }

    /// Up to `limit` audit rows after `after`, read as committed.
    pub fn audit_rows(&mut self, after: u64, limit: u64) -> Result<Vec<backend::AuditRow>> {
        self.conn.begin(Mode::Read)?.audit_range(after, limit)
    }

    /// Every audit checkpoint.
    pub fn audit_checkpoints(&mut self) -> Result<Vec<backend::Checkpoint>> {
        self.conn.begin(Mode::Read)?.audit_checkpoints()
    }

    /// Every row of the token as stored, sealed values and all, from one snapshot: what
    /// `ferrohsm-util migrate` moves. Nothing is decrypted.
    pub fn export(&mut self) -> Result<Export> {
        let tx = Txn::new(self.conn.begin(Mode::Snapshot)?);
        let out = Export {
            meta: tx.meta_all()?,
            objects: tx.rows(true)?,
            deleted: tx.deleted()?,
            ivs: tx.ivs()?,
            audit: tx.audit_range(0, u64::MAX)?,
            checkpoints: tx.audit_checkpoints()?,
        };
        tx.commit()?;
        Ok(out)
    }

    /// Write an exported token into a new, empty store location in one transaction.
    pub fn import(mut conn: Box<dyn Conn>, rows: &Export) -> Result<TokenDb> {
        {
            let tx = conn.begin(Mode::Create)?;
            let meta: Vec<(String, Option<Vec<u8>>)> = rows
                .meta
                .iter()
                .map(|(k, v)| (k.clone(), Some(v.clone())))
                .collect();
            tx.meta_put(&meta)?;
            for r in &rows.objects {
                tx.insert_row(r)?;
            }
            for r in &rows.deleted {
                tx.insert_deleted(r)?;
            }
            for (t, n, m) in &rows.ivs {
                tx.put_iv(t, n, m)?;
            }
            // The trail moves with the token, rows and hashes as they are: it still verifies.
            for chunk in rows.audit.chunks(1000) {
                tx.audit_put(chunk)?;
            }
            for c in &rows.checkpoints {
                tx.audit_put_checkpoint(c)?;
            }
            tx.commit()?;
        }
        TokenDb::open(conn)
    }
}

/// A token's rows as stored (see [`TokenDb::export`]).
#[derive(Debug)]
pub struct Export {
    pub meta: Vec<(String, Vec<u8>)>,
    pub objects: Vec<Row>,
    pub deleted: Vec<Row>,
    pub ivs: Vec<backend::IvRow>,
    pub audit: Vec<backend::AuditRow>,
    pub checkpoints: Vec<backend::Checkpoint>,
}

impl Export {
    pub fn serial(&self) -> Option<String> {
        self.meta
            .iter()
            .find(|(k, _)| k == "serial")
            .and_then(|(_, v)| String::from_utf8(v.clone()).ok())
    }
}

fn policy_of(v: Option<Vec<u8>>) -> Result<Policy> {
    match v {
        Some(v) => crate::mechanism::policy::from_stored(&v),
        None => Ok(Policy::Compat),
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
    pub(crate) fn name(self) -> &'static str {
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
