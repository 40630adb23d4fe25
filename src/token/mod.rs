//! Slots and tokens: one slot per token file plus one free slot for `C_InitToken`, the login
//! state each application holds, the PIN policy and the object cache
//! (PKCS#11 v3.0 §5.5 slot and token management, §5.6 session/login).

use crate::config::Config;
use crate::crypto::{self, KdfParams};
use crate::error::{fail, Error, Result};
use crate::mechanism::policy::Policy;
use crate::object::attr::{AttrValue, Attributes};
use crate::object::rules;
use crate::store::{
    self, codec::Decoded, Column, IndexCols, MasterKey, Replacement, Role, TokenDb,
};
use cryptoki_sys::*;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;

/// Who is logged in to a token, for this application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    Public,
    User,
    So,
}

/// An object read from the token, as cached.
#[derive(Debug)]
pub struct StoredObject {
    pub gen: i64,
    pub private: bool,
    pub data: Decoded,
}

/// A token that opened: its database, who is logged in, and decoded objects.
pub struct Ready {
    pub db: TokenDb,
    pub login: Login,
    master: Option<MasterKey>,
    cache: HashMap<u64, Arc<StoredObject>>,
    data_version: i64,
    /// The token epoch seen at open or last sync: a new one means another process ran
    /// C_InitToken.
    epoch: Option<Vec<u8>>,
    /// The last whole-token check failed: keep checking (and failing) until it passes.
    tainted: bool,
    /// Objects read during the current call, at the generation read: every write of the call
    /// is conditional on them (`TokenDb::check_expected`).
    reads: Vec<(u64, i64)>,
    /// The token's algorithm policy, re-read with everything else when the file changed.
    policy: Policy,
}

impl std::fmt::Debug for Ready {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ready({:?}, {:?})", self.db, self.login)
    }
}

/// What sits in a slot.
#[derive(Debug)]
pub enum TokenState {
    /// The free slot: a token that `C_InitToken` will create.
    Free,
    /// A token (file, or serial in the database) that is not usable: its key.
    Broken(String),
    Ready(Box<Ready>),
}

#[derive(Debug)]
pub struct Slot {
    pub id: CK_SLOT_ID,
    /// The serial of the token in this slot (for the free slot: of the token it will create).
    pub serial: String,
    pub state: Mutex<TokenState>,
}

pub fn kdf_params(cfg: &Config) -> KdfParams {
    KdfParams {
        memory_kib: cfg.kdf.memory_kib,
        iterations: cfg.kdf.iterations,
        parallelism: cfg.kdf.parallelism,
    }
}

/// A new random serial (16 hex digits) and the slot id derived from it. Deriving the id from the
/// serial keeps it stable across restarts and independent of which other tokens exist.
pub fn new_serial(taken: &dyn Fn(CK_SLOT_ID) -> bool) -> Result<(String, CK_SLOT_ID)> {
    loop {
        let b: [u8; 8] = crypto::random_array()?;
        let serial: String = b.iter().map(|x| format!("{x:02x}")).collect();
        let id = slot_id_for(&serial);
        if !taken(id) {
            return Ok((serial, id));
        }
    }
}

/// The serial (and slot id) of the token the free slot will create, agreed on by every process
/// using the same store (`Location::pending_serial`).
pub fn pending_serial(
    loc: &store::location::Location,
    taken: &dyn Fn(CK_SLOT_ID) -> bool,
) -> Result<(String, CK_SLOT_ID)> {
    let s = loc.pending_serial(
        &|id| taken(id as CK_SLOT_ID),
        &|| Ok(new_serial(taken)?.0),
        &|s| slot_id_for(s) as u64,
    )?;
    let id = slot_id_for(&s);
    Ok((s, id))
}

pub fn slot_id_for(name: &str) -> CK_SLOT_ID {
    let h = crypto::sha256(&[name.as_bytes()]);
    // 31 bits: some clients keep slot ids in a signed 32-bit int.
    (u32::from_le_bytes([h[0], h[1], h[2], h[3]]) & 0x7fff_ffff) as CK_SLOT_ID
}

impl Ready {
    pub fn new(mut db: TokenDb) -> Result<Ready> {
        let data_version = db.data_version()?;
        let epoch = db.epoch()?;
        let policy = db.policy()?;
        Ok(Ready {
            db,
            login: Login::Public,
            master: None,
            cache: HashMap::new(),
            data_version,
            epoch,
            tainted: false,
            reads: Vec::new(),
            policy,
        })
    }

    /// Catch up with commits of other processes since we last looked: forget cached objects,
    /// log out if the token was re-initialized (returns true: the caller drops the slot's
    /// object handles), and re-check the whole token while logged in. Most calls end at the
    /// first look (the WAL index header unchanged: no commit since); our own commits do not
    /// move `data_version`, so after one of them the check costs one statement.
    pub fn sync(&mut self) -> Result<bool> {
        if !self.tainted && self.db.unchanged() {
            return Ok(false);
        }
        let v = self.db.data_version()?;
        if v == self.data_version && !self.tainted {
            return Ok(false);
        }
        self.cache.clear();
        self.data_version = v;
        let (policy, epoch) = self.db.reread()?;
        self.policy = policy;
        // A schema-1 file has no epoch; its migration adds one, which is no re-initialization.
        let reinitialized = self.epoch.is_some() && epoch != self.epoch;
        self.epoch = epoch;
        if reinitialized {
            crate::log::info(format_args!(
                "token {} re-initialized by another process: logged out",
                self.db.location()
            ));
            self.set_login(Login::Public, None);
            self.tainted = false;
            return Ok(true);
        }
        if let Some(m) = &self.master {
            match self.db.verify(m) {
                Ok(()) => self.tainted = false,
                Err(e) => {
                    self.tainted = true;
                    return Err(e);
                }
            }
        }
        Ok(false)
    }

    /// A call starts: nothing read yet.
    pub fn begin_call(&mut self) {
        self.reads.clear();
    }

    /// Another process changed something this call depended on: read everything afresh.
    pub fn invalidate(&mut self) {
        self.cache.clear();
        self.reads.clear();
    }

    /// The token's algorithm policy (`mechanism::policy`).
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Read the policy again after this process re-initialized the token: its own commits do
    /// not show in [`Ready::sync`].
    pub fn reload_policy(&mut self) -> Result<()> {
        self.policy = self.db.policy()?;
        Ok(())
    }

    pub fn master(&self) -> Option<&MasterKey> {
        self.master.as_ref()
    }

    /// The database with the master key beside it, for a write that needs the key (IV
    /// reservations, `store::ivs`).
    pub fn db_and_master(&mut self) -> (&mut TokenDb, Option<&MasterKey>) {
        (&mut self.db, self.master.as_ref())
    }

    /// Wrap the master key (held since login) under a new PIN for `role`.
    pub fn set_pin(&mut self, role: Role, pin: &[u8], kdf: KdfParams) -> Result<()> {
        let master = self
            .master
            .as_ref()
            .ok_or(Error::new(CKR_USER_NOT_LOGGED_IN))?;
        self.db.set_pin(role, pin, master, kdf)
    }

    pub fn set_login(&mut self, login: Login, master: Option<MasterKey>) {
        self.login = login;
        self.master = master;
        // Decoded values depend on whether the key was there: start afresh.
        self.cache.clear();
    }

    /// The keyed index for private objects exists only while the user is logged in.
    fn user_key(&self) -> Option<&MasterKey> {
        if self.login == Login::User {
            self.master.as_ref()
        } else {
            None
        }
    }

    pub fn index_cols(&self, attrs: &Attributes, private: bool) -> IndexCols {
        cols_for(self.master.as_ref(), attrs, private)
    }

    /// Load an object (from the cache when it is current).
    pub fn load(&mut self, id: u64) -> Result<Arc<StoredObject>> {
        let o = self.load_uncounted(id)?;
        if !self.reads.iter().any(|(i, _)| *i == id) {
            self.reads.push((id, o.gen));
        }
        Ok(o)
    }

    fn load_uncounted(&mut self, id: u64) -> Result<Arc<StoredObject>> {
        if let Some(o) = self.cache.get(&id) {
            return Ok(o.clone());
        }
        let Some(row) = self.db.row(id)? else {
            return fail(CKR_OBJECT_HANDLE_INVALID);
        };
        self.admit(row)
    }

    /// Read the uncached ones of `ids` into the cache together: one round trip, where loading
    /// them one by one would cost one each (a search after login, when the cache is empty).
    /// An object that cannot be admitted is left out: its own [`Ready::load`] reports why.
    pub fn prefetch(&mut self, ids: impl IntoIterator<Item = u64>) -> Result<()> {
        let missing: Vec<u64> = ids
            .into_iter()
            .filter(|id| !self.cache.contains_key(id))
            .collect();
        if missing.len() < 2 {
            return Ok(());
        }
        for row in self.db.rows_of(&missing)? {
            let _ = self.admit(row);
        }
        Ok(())
    }

    /// Check and unseal a row just read, and cache the object.
    fn admit(&mut self, row: store::Row) -> Result<Arc<StoredObject>> {
        let id = row.id;
        let key = if row.private {
            self.user_key()
        } else {
            self.master.as_ref()
        };
        if row.private && key.is_none() {
            return fail(CKR_OBJECT_HANDLE_INVALID);
        }
        // Once logged in, every object is checked as a whole before it is used; before login
        // there is no key to check public objects with (README, threat model).
        let pending = store::is_pending(&row);
        if let (Some(m), false) = (&self.master, pending) {
            store::integrity::verify_row(m, &row)?;
        }
        // Unsealing runs the master key and the object's values through the stack.
        crate::wipe::mark();
        let data = store::decode_row(&row, key)?;
        if pending && self.master.is_some() {
            pending_acceptable(&row, &data)?;
        }
        let obj = Arc::new(StoredObject {
            gen: row.gen,
            private: row.private,
            data,
        });
        self.cache.insert(id, obj.clone());
        Ok(obj)
    }

    pub fn insert(&mut self, attrs: Attributes) -> Result<u64> {
        let private = attrs.flag(CKA_PRIVATE);
        let class = attrs.class().unwrap_or(CKO_DATA);
        let cols = cols_for(self.master.as_ref(), &attrs, private);
        let data = Decoded {
            attrs,
            withheld: vec![],
        };
        let is_secret = |t| rules::is_secret(class, t);
        let id = match &self.master {
            Some(m) => self
                .db
                .insert(&data, private, cols, is_secret, m, &self.reads)?,
            // Before login: a pending row (see `TokenDb::insert_pending`); private objects and
            // secret values were refused before, and encoding refuses them again.
            None if !private => self
                .db
                .insert_pending(&data, cols, is_secret, &self.reads)?,
            None => return fail(CKR_USER_NOT_LOGGED_IN),
        };
        self.cache.insert(
            id,
            Arc::new(StoredObject {
                gen: 1,
                private,
                data,
            }),
        );
        Ok(id)
    }

    /// Change a token object as it is in the file now (re-read inside the write transaction),
    /// so a change another process committed meanwhile is kept: `change` gets the current
    /// attributes and applies the caller's rules to them.
    pub fn modify(
        &mut self,
        id: u64,
        change: impl FnOnce(&Attributes) -> Result<Attributes>,
    ) -> Result<()> {
        let master = self.master.as_ref();
        let with_private = self.login == Login::User;
        let mut kept: Option<(Attributes, bool)> = None;
        let others: Vec<(u64, i64)> = self
            .reads
            .iter()
            .filter(|(i, _)| *i != id)
            .copied()
            .collect();
        let gen = self
            .db
            .modify(id, master, with_private, &others, |current| {
                let attrs = change(&current.attrs)?;
                let private = attrs.flag(CKA_PRIVATE);
                let class = attrs.class().unwrap_or(CKO_DATA);
                let cols = cols_for(master, &attrs, private);
                kept = Some((attrs.clone(), private));
                Ok(Replacement {
                    data: Decoded {
                        attrs,
                        withheld: vec![],
                    },
                    private,
                    cols,
                    is_secret: Box::new(move |t| rules::is_secret(class, t)),
                })
            })?;
        if let Some((attrs, private)) = kept {
            let data = Decoded {
                attrs,
                withheld: vec![],
            };
            self.cache
                .insert(id, Arc::new(StoredObject { gen, private, data }));
        }
        self.reads.retain(|(i, _)| *i != id);
        self.reads.push((id, gen));
        Ok(())
    }

    pub fn delete(&mut self, id: u64) -> Result<()> {
        self.cache.remove(&id);
        // A delete decided on a copy read in this call (CKA_DESTROYABLE) needs that copy current.
        if !self.db.delete(id, self.master.as_ref(), &self.reads)? {
            return fail(CKR_OBJECT_HANDLE_INVALID);
        }
        self.reads.retain(|(i, _)| *i != id);
        Ok(())
    }

    /// Token objects whose indexed columns may match `template`: the most selective indexed
    /// attribute decides, so a search by id or label never decodes the whole token.
    pub fn candidates(
        &mut self,
        template: &[crate::object::attr::Attribute],
    ) -> Result<Vec<(u64, bool)>> {
        let with_private = self.login == Login::User;
        let pick = [CKA_ID, CKA_LABEL, CKA_CLASS]
            .into_iter()
            .find_map(|ty| template.iter().find(|a| a.ty == ty));
        let Some(attr) = pick else {
            return self.db.candidates(None, with_private);
        };
        let col = match attr.ty {
            CKA_ID => Column::Id,
            CKA_LABEL => Column::Label,
            _ => Column::Class,
        };
        let mut hashes = vec![store::index_hash(None, attr.ty, &attr.value)];
        if let Some(k) = self.user_key() {
            hashes.push(store::index_hash(Some(k), attr.ty, &attr.value));
        }
        self.db.candidates(Some((col, &hashes)), with_private)
    }
}

/// A row written before any login may hold only what a caller without a PIN can store: public,
/// no value the rules keep secret, not CKA_TRUSTED. Anything else in a MAC-less row was put
/// there behind the module's back.
fn pending_acceptable(row: &store::Row, data: &Decoded) -> Result<()> {
    let class = data.attrs.class().unwrap_or(CKO_DATA);
    let secret = data.attrs.iter().any(|(t, _)| rules::is_secret(class, t));
    if row.private
        || data.attrs.flag(CKA_PRIVATE)
        || data.attrs.flag(CKA_TRUSTED)
        || secret
        || !data.withheld.is_empty()
    {
        return Err(Error::device(format_args!(
            "object {} has no MAC but holds what needs a login (forged)",
            row.id
        )));
    }
    Ok(())
}

/// The index columns of an object: keyed by the master key for private objects, so the file
/// reveals nothing of them; plain hashes for public ones, searchable before login.
fn cols_for(master: Option<&MasterKey>, attrs: &Attributes, private: bool) -> IndexCols {
    let key = if private { master } else { None };
    let h = |ty| attrs.get(ty).map(|v| store::index_hash(key, ty, v));
    IndexCols {
        class: h(CKA_CLASS).unwrap_or(0),
        id: h(CKA_ID),
        label: h(CKA_LABEL),
    }
}

/// Check a PIN's length against the policy.
pub fn check_pin_len(cfg: &Config, pin: &[u8]) -> Result<()> {
    let n = pin.len() as u64;
    if n < u64::from(cfg.min_pin_len) || n > u64::from(cfg.max_pin_len) {
        return fail(CKR_PIN_LEN_RANGE);
    }
    Ok(())
}

/// Pad a label to the 32 blank-padded bytes of `CK_TOKEN_INFO.label`.
pub fn pad32(s: &[u8]) -> [u8; 32] {
    let mut a = [b' '; 32];
    let n = s.len().min(32);
    a[..n].copy_from_slice(&s[..n]);
    a
}

pub fn role_of(user: CK_USER_TYPE) -> Result<Role> {
    match user {
        CKU_SO => Ok(Role::So),
        CKU_USER => Ok(Role::User),
        _ => fail(CKR_USER_TYPE_INVALID),
    }
}

/// Flags of `CK_TOKEN_INFO` for a ready token.
pub fn token_flags(meta: &store::TokenMeta, max: u32) -> CK_FLAGS {
    let mut f = CKF_RNG | CKF_LOGIN_REQUIRED | CKF_TOKEN_INITIALIZED | CKF_CLOCK_ON_TOKEN;
    if meta.user_pin_set {
        f |= CKF_USER_PIN_INITIALIZED;
    }
    let pin_flags = |fails: u32, low, last, locked| {
        if fails >= max {
            locked
        } else if fails + 1 == max {
            low | last
        } else if fails > 0 {
            low
        } else {
            0
        }
    };
    f |= pin_flags(
        meta.user_failures,
        CKF_USER_PIN_COUNT_LOW,
        CKF_USER_PIN_FINAL_TRY,
        CKF_USER_PIN_LOCKED,
    );
    f |= pin_flags(
        meta.so_failures,
        CKF_SO_PIN_COUNT_LOW,
        CKF_SO_PIN_FINAL_TRY,
        CKF_SO_PIN_LOCKED,
    );
    f
}

/// A fresh `CKA_UNIQUE_ID`: 32 hex digits of randomness, unique per token in practice.
pub fn unique_id() -> Result<AttrValue> {
    let b: [u8; 16] = crypto::random_array()?;
    Ok(AttrValue::Bytes(
        b.iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
            .into_bytes(),
    ))
}

#[cfg(test)]
mod tests;
