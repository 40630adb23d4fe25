//! The module's state between `C_Initialize` and `C_Finalize`, and the safe core of every
//! implemented function: the FFI layer converts arguments and calls these
//! (PKCS#11 v3.0 §5.4-5.7: general, slot and token, session, object management).

use crate::config::Config;
use crate::error::{fail, Error, Result};
use crate::object::attr::{AttrValue, Attribute, Attributes};
use crate::object::rules::{self, Ctx, Read};
use crate::session::{Entry, FindState, Session};
use crate::store::Role;
use crate::token::{self, Login, Ready, Slot, TokenState};
use cryptoki_sys::*;
use parking_lot::{Mutex, RwLock};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

mod crypto;
mod keys;
mod message;
pub mod op;
mod policy;
mod session;
pub use crate::mechanism::message::Sealing;
pub use op::CryptKind;

/// What an object handle names.
#[derive(Debug, Clone)]
enum ObjEntry {
    Token {
        slot: CK_SLOT_ID,
        id: u64,
    },
    Session {
        slot: CK_SLOT_ID,
        owner: CK_SESSION_HANDLE,
        obj: Arc<Mutex<Attributes>>,
    },
}

impl ObjEntry {
    fn slot(&self) -> CK_SLOT_ID {
        match self {
            ObjEntry::Token { slot, .. } | ObjEntry::Session { slot, .. } => *slot,
        }
    }
}

#[derive(Debug, Default)]
struct ObjMaps {
    by_handle: HashMap<CK_OBJECT_HANDLE, ObjEntry>,
    token: HashMap<(CK_SLOT_ID, u64), CK_OBJECT_HANDLE>,
    /// The session objects' handles, in order: a search walks these, not every handle the
    /// process ever gave out (a process that created 100,000 token objects holds as many).
    session: std::collections::BTreeSet<CK_OBJECT_HANDLE>,
}

impl ObjMaps {
    fn insert_session(&mut self, h: CK_OBJECT_HANDLE, e: ObjEntry) {
        self.session.insert(h);
        self.by_handle.insert(h, e);
    }

    fn remove(&mut self, h: CK_OBJECT_HANDLE) {
        self.session.remove(&h);
        if let Some(ObjEntry::Token { slot, id }) = self.by_handle.remove(&h) {
            self.token.remove(&(slot, id));
        }
    }

    /// Keep the handles `keep` accepts, in every map.
    fn retain(&mut self, mut keep: impl FnMut(&ObjEntry) -> bool) {
        let ObjMaps {
            by_handle,
            token,
            session,
        } = self;
        by_handle.retain(|h, e| {
            let k = keep(e);
            if !k {
                session.remove(h);
                if let ObjEntry::Token { slot, id } = e {
                    token.remove(&(*slot, *id));
                }
            }
            k
        });
    }
}

/// An object's attributes as a call reads them: a token object's shared decoded copy, or a
/// snapshot of a session object's.
#[derive(Debug)]
pub(crate) enum ObjView {
    Token(Arc<token::StoredObject>),
    Session(Attributes),
}

impl std::ops::Deref for ObjView {
    type Target = Attributes;
    fn deref(&self) -> &Attributes {
        match self {
            ObjView::Token(o) => &o.data.attrs,
            ObjView::Session(a) => a,
        }
    }
}

/// What `C_GetAttributeValue` may say of one attribute.
#[derive(Debug)]
pub enum AttrRead {
    Value(AttrValue),
    Sensitive,
    Invalid,
}

/// The initialized module.
///
/// Lock order: a thread that holds one of these locks takes only locks further down the list,
/// and never two of one kind at once.
/// 1. `slots`
/// 2. `known`
/// 3. a session's lock ([`Entry::lock`])
/// 4. a slot's `state` (`Slot::state`)
/// 5. `sessions`
/// 6. `objects`
/// 7. a session object's attributes
///
/// Above them all are the locks of the FFI layer, held for a whole call (the fork lock and the
/// application's mutex of `C_Initialize`). A call works under its session's lock and then its
/// token's (`with_token`), so what must be decided atomically for a whole token (who is logged
/// in, which sessions exist) is decided under the slot's `state` and reads `sessions` there,
/// never a session's lock.
#[derive(Debug)]
pub struct Module {
    pub cfg: Config,
    slots: RwLock<Vec<Arc<Slot>>>,
    /// Where the tokens are: a directory of files or a PostgreSQL database.
    pub location: crate::store::location::Location,
    /// The tokens (by their `Location` key) that have a slot.
    known: Mutex<HashSet<String>>,
    sessions: RwLock<HashMap<CK_SESSION_HANDLE, Arc<Entry>>>,
    next_handle: AtomicU64,
    objects: RwLock<ObjMaps>,
    /// Authenticates the states `C_GetOperationState` hands out, so a damaged or forged one is
    /// refused; random per `C_Initialize`, so a state is only good in the process that made it.
    state_key: zeroize::Zeroizing<[u8; 32]>,
}

fn ready(state: &mut TokenState) -> Result<&mut Ready> {
    match state {
        TokenState::Ready(r) => Ok(r),
        _ => fail(CKR_TOKEN_NOT_RECOGNIZED),
    }
}

impl Module {
    pub fn new(cfg: Config) -> Result<Module> {
        let m = Module {
            cfg: cfg.clone(),
            slots: RwLock::new(Vec::new()),
            location: crate::store::location::Location::of(&cfg)?,
            known: Mutex::new(HashSet::new()),
            sessions: RwLock::new(HashMap::new()),
            // Session and object handles share one counter, so neither is ever reused and a
            // handle of one kind is never valid as the other.
            next_handle: AtomicU64::new(1),
            objects: RwLock::new(ObjMaps::default()),
            state_key: zeroize::Zeroizing::new(crate::crypto::random_array()?),
        };
        // A database that cannot be reached now fails the calls that need it, not C_Initialize:
        // applications initialize once at start, and the server may come back.
        if let Err(e) = m.rescan() {
            if m.cfg.store_url.is_none() {
                return Err(e);
            }
            crate::log::warn(format_args!("C_Initialize: token store unreachable: {e:?}"));
        }
        Ok(m)
    }

    fn new_handle(&self) -> CK_ULONG {
        self.next_handle.fetch_add(1, Ordering::Relaxed) as CK_ULONG
    }

    /// Pick up token files created since the last look (by this or another process), and make
    /// sure exactly one free slot exists.
    pub fn rescan(&self) -> Result<()> {
        let found: Vec<String> = {
            let listed = self.location.list()?;
            let known = self.known.lock();
            listed.into_iter().filter(|k| !known.contains(k)).collect()
        };
        if !found.is_empty() {
            let mut new_slots = Vec::new();
            for p in found {
                let name = self.location.name_of(&p);
                let slot = match self
                    .location
                    .open(&p)
                    .and_then(|mut db| Ok((db.meta_info()?, db)))
                {
                    Ok((meta, db)) => (
                        meta.created,
                        Slot {
                            id: meta.slot_id as CK_SLOT_ID,
                            serial: meta.serial.clone(),
                            state: Mutex::new(TokenState::Ready(Box::new(Ready::new(db)?))),
                        },
                    ),
                    Err(_) => (
                        i64::MAX,
                        Slot {
                            id: token::slot_id_for(&name),
                            serial: name,
                            state: Mutex::new(TokenState::Broken(p.clone())),
                        },
                    ),
                };
                new_slots.push((p, slot));
            }
            new_slots.sort_by_key(|(_, (created, _))| *created);
            let mut slots = self.slots.write();
            let mut known = self.known.lock();
            for (p, (_, mut slot)) in new_slots {
                if known.contains(&p) {
                    continue;
                }
                // A file that does not open may be a token another process is still creating
                // (the file exists before its first commit): it is looked at again next time.
                let opened = matches!(slot.state.get_mut(), TokenState::Ready(_));
                if opened {
                    known.insert(p);
                }
                if let Some(existing) = slots.iter().find(|s| s.id == slot.id) {
                    // Another process initialized the token our free slot stood for, or
                    // finished the one we saw half made: the slot keeps its id and now holds
                    // that token.
                    let mut st = existing.state.lock();
                    let take = match &*st {
                        TokenState::Free => existing.serial == slot.serial,
                        TokenState::Broken(_) => opened,
                        TokenState::Ready(_) => false,
                    };
                    if take {
                        *st = std::mem::replace(slot.state.get_mut(), TokenState::Free);
                    }
                    continue;
                }
                let pos = slots
                    .iter()
                    .position(|s| matches!(*s.state.lock(), TokenState::Free));
                match pos {
                    Some(i) => slots.insert(i, Arc::new(slot)),
                    None => slots.push(Arc::new(slot)),
                }
            }
        }
        self.ensure_free_slot()
    }

    fn ensure_free_slot(&self) -> Result<()> {
        let mut slots = self.slots.write();
        if slots
            .iter()
            .any(|s| matches!(*s.state.lock(), TokenState::Free))
        {
            return Ok(());
        }
        let (serial, id) =
            token::pending_serial(&self.location, &|id| slots.iter().any(|s| s.id == id))?;
        slots.push(Arc::new(Slot {
            id,
            serial,
            state: Mutex::new(TokenState::Free),
        }));
        Ok(())
    }

    pub fn slot_ids(&self) -> Result<Vec<CK_SLOT_ID>> {
        self.rescan()?;
        Ok(self.slots.read().iter().map(|s| s.id).collect())
    }

    pub fn slot(&self, id: CK_SLOT_ID) -> Result<Arc<Slot>> {
        let find = |slots: &Vec<Arc<Slot>>| slots.iter().find(|s| s.id == id).cloned();
        if let Some(s) = find(&self.slots.read()) {
            return Ok(s);
        }
        // A token another process created since our last look.
        self.rescan()?;
        find(&self.slots.read()).ok_or(Error::new(CKR_SLOT_ID_INVALID))
    }

    fn session(&self, h: CK_SESSION_HANDLE) -> Result<Arc<Entry>> {
        self.sessions
            .read()
            .get(&h)
            .cloned()
            .ok_or(Error::new(CKR_SESSION_HANDLE_INVALID))
    }

    /// Sessions of this application on a slot: (all, read-write). Exact under the slot's lock,
    /// which opening and closing a session take.
    pub fn session_counts(&self, slot: CK_SLOT_ID) -> (usize, usize) {
        let sessions = self.sessions.read();
        let mut all = 0;
        let mut rw = 0;
        for s in sessions.values().filter(|s| s.slot.id == slot) {
            all += 1;
            rw += usize::from(s.rw);
        }
        (all, rw)
    }

    // ---- slot and token management (§5.5) ----

    pub fn token_info(&self, slot_id: CK_SLOT_ID) -> Result<CK_TOKEN_INFO> {
        let slot = self.slot(slot_id)?;
        let (all, rw) = self.session_counts(slot_id);
        let mut state = slot.state.lock();
        let (label, flags) = match &mut *state {
            TokenState::Free => (
                [b' '; 32],
                CKF_RNG | CKF_LOGIN_REQUIRED | CKF_CLOCK_ON_TOKEN,
            ),
            TokenState::Broken(_) => return fail(CKR_TOKEN_NOT_RECOGNIZED),
            TokenState::Ready(r) => {
                let meta = r.db.meta_info()?;
                (
                    meta.label,
                    token::token_flags(&meta, self.cfg.max_login_attempts)
                        | if r.db.read_only() {
                            CKF_WRITE_PROTECTED
                        } else {
                            0
                        },
                )
            }
        };
        drop(state);
        let mut serial = [b' '; 16];
        let sb = slot.serial.as_bytes();
        serial[..sb.len().min(16)].copy_from_slice(&sb[..sb.len().min(16)]);
        Ok(CK_TOKEN_INFO {
            label,
            manufacturerID: token::pad32(b"ferrohsm"),
            model: pad16(b"ferrohsm soft"),
            serialNumber: serial,
            flags,
            ulMaxSessionCount: CK_EFFECTIVELY_INFINITE,
            ulSessionCount: all as CK_ULONG,
            ulMaxRwSessionCount: CK_EFFECTIVELY_INFINITE,
            ulRwSessionCount: rw as CK_ULONG,
            ulMaxPinLen: self.cfg.max_pin_len as CK_ULONG,
            ulMinPinLen: self.cfg.min_pin_len as CK_ULONG,
            ulTotalPublicMemory: CK_UNAVAILABLE_INFORMATION,
            ulFreePublicMemory: CK_UNAVAILABLE_INFORMATION,
            ulTotalPrivateMemory: CK_UNAVAILABLE_INFORMATION,
            ulFreePrivateMemory: CK_UNAVAILABLE_INFORMATION,
            hardwareVersion: CK_VERSION { major: 0, minor: 1 },
            firmwareVersion: crate_version(),
            utcTime: utc_time(),
        })
    }

    pub fn init_token(&self, slot_id: CK_SLOT_ID, so_pin: &[u8], label: &[u8; 32]) -> Result<()> {
        let slot = self.slot(slot_id)?;
        token::check_pin_len(&self.cfg, so_pin)?;
        let kdf = token::kdf_params(&self.cfg);
        let policy = self.cfg.default_policy;
        // The new token is in `known` before a rescan of this process can list it, or the
        // rescan would take it for another token.
        let mut known = self.known.lock();
        let mut state = slot.state.lock();
        // Under the slot's lock, which C_OpenSession takes: no session opens meanwhile.
        if self.session_counts(slot_id).0 > 0 {
            return fail(CKR_SESSION_EXISTS);
        }
        match &mut *state {
            TokenState::Free => {
                let (db, _master) =
                    self.location
                        .create(&slot.serial, slot.id, label, so_pin, kdf, policy)?;
                *state = TokenState::Ready(Box::new(Ready::new(db)?));
                known.insert(self.location.key_for(&slot.serial));
                drop(state);
                drop(known);
                self.location.advance_pending(&slot.serial);
                self.ensure_free_slot()?;
                crate::log::info(format_args!(
                    "token {} created in slot {slot_id}",
                    slot.serial
                ));
            }
            TokenState::Broken(_) => return fail(CKR_TOKEN_NOT_RECOGNIZED),
            TokenState::Ready(r) => {
                drop(known);
                if r.db.read_only() {
                    return fail(CKR_TOKEN_WRITE_PROTECTED);
                }
                audit_start(r, &slot.serial, "C_InitToken", None, "CKU_SO");
                let out =
                    r.db.verify_pin(Role::So, so_pin, self.cfg.max_login_attempts)
                        .and_then(|_| r.db.reinitialize(label, so_pin, kdf, policy));
                r.db.audit_finish(rv_of(&out));
                out?;
                r.reload_policy()?;
                r.set_login(Login::Public, None);
                r.sync()?;
                drop(state);
                // Every handle of the old objects is now invalid.
                let mut objs = self.objects.write();
                objs.retain(|e| e.slot() != slot_id);
                crate::log::info(format_args!("token {} re-initialized", slot.serial));
            }
        }
        Ok(())
    }

    pub fn init_pin(&self, sh: CK_SESSION_HANDLE, pin: &[u8]) -> Result<()> {
        let s = self.session(sh)?;
        let s = s.lock();
        let mut state = s.slot.state.lock();
        let r = ready(&mut state)?;
        audit_start(
            r,
            &s.slot.serial,
            "C_InitPIN",
            Some(sh),
            crate::audit::record::user_type(r.login),
        );
        let out = (|| {
            if r.login != Login::So || !s.rw {
                return fail(CKR_USER_NOT_LOGGED_IN);
            }
            token::check_pin_len(&self.cfg, pin)?;
            let kdf = token::kdf_params(&self.cfg);
            r.set_pin(Role::User, pin, kdf)
        })();
        r.db.audit_finish(rv_of(&out));
        out
    }

    pub fn set_pin(&self, sh: CK_SESSION_HANDLE, old: &[u8], new: &[u8]) -> Result<()> {
        let s = self.session(sh)?;
        let s = s.lock();
        if !s.rw {
            return fail(CKR_SESSION_READ_ONLY);
        }
        let mut state = s.slot.state.lock();
        let r = ready(&mut state)?;
        let role = if r.login == Login::So {
            Role::So
        } else {
            Role::User
        };
        audit_start(
            r,
            &s.slot.serial,
            "C_SetPIN",
            Some(sh),
            crate::audit::record::user_type(r.login),
        );
        let out = (|| {
            token::check_pin_len(&self.cfg, new)?;
            let master = r.db.verify_pin(role, old, self.cfg.max_login_attempts)?;
            r.db.set_pin(role, new, &master, token::kdf_params(&self.cfg))
        })();
        r.db.audit_finish(rv_of(&out));
        out
    }

    // ---- objects (§5.7) ----

    fn token_handle(&self, slot: CK_SLOT_ID, id: u64) -> CK_OBJECT_HANDLE {
        if let Some(h) = self.objects.read().token.get(&(slot, id)) {
            return *h;
        }
        let mut objs = self.objects.write();
        if let Some(h) = objs.token.get(&(slot, id)) {
            return *h;
        }
        let h = self.new_handle();
        objs.token.insert((slot, id), h);
        objs.by_handle.insert(h, ObjEntry::Token { slot, id });
        h
    }

    fn entry(&self, slot: CK_SLOT_ID, h: CK_OBJECT_HANDLE) -> Result<ObjEntry> {
        match self.objects.read().by_handle.get(&h) {
            Some(e) if e.slot() == slot => Ok(e.clone()),
            _ => fail(CKR_OBJECT_HANDLE_INVALID),
        }
    }

    fn forget_handle(&self, h: CK_OBJECT_HANDLE) {
        let mut objs = self.objects.write();
        objs.remove(h);
    }

    /// The attributes of a visible object, with the types held sealed (no key before login).
    /// A token object is the cached decoded copy itself, not a copy of it: the operations'
    /// `Init` read their key this way on every call.
    fn read_object(
        &self,
        r: &mut Ready,
        e: &ObjEntry,
    ) -> Result<(ObjView, Vec<CK_ATTRIBUTE_TYPE>)> {
        match e {
            ObjEntry::Token { id, .. } => {
                let o = r.load(*id)?;
                if o.private && r.login != Login::User {
                    return fail(CKR_OBJECT_HANDLE_INVALID);
                }
                let withheld = o.data.withheld.iter().map(|(t, _)| *t).collect();
                Ok((ObjView::Token(o), withheld))
            }
            ObjEntry::Session { obj, .. } => {
                let a = obj.lock().clone();
                if a.flag(CKA_PRIVATE) && r.login != Login::User {
                    return fail(CKR_OBJECT_HANDLE_INVALID);
                }
                Ok((ObjView::Session(a), Vec::new()))
            }
        }
    }

    /// Run `f` with the session, its token and an up-to-date view of the token file. Every
    /// write `f` makes is conditional on the objects it read still being current; when another
    /// process changed one in between, `f` runs again on fresh copies, so its rules are applied
    /// to the committed state (a few times at most, then CKR_FUNCTION_FAILED).
    fn with_token<T>(
        &self,
        sh: CK_SESSION_HANDLE,
        f: impl FnMut(&mut Session, &mut Ready) -> Result<T>,
    ) -> Result<T> {
        self.with_token_as(sh, None, f)
    }

    /// [`Self::with_token`] for a management call the audit trail records (`audit`): its
    /// record goes with the call's change (the write transactions in `store` append it), or,
    /// when the call changed nothing or failed, in a transaction of its own at the end.
    fn with_token_audited<T>(
        &self,
        sh: CK_SESSION_HANDLE,
        function: &'static str,
        mechanism: Option<CK_MECHANISM_TYPE>,
        f: impl FnMut(&mut Session, &mut Ready) -> Result<T>,
    ) -> Result<T> {
        self.with_token_as(sh, Some((function, mechanism)), f)
    }

    fn with_token_as<T>(
        &self,
        sh: CK_SESSION_HANDLE,
        audited: Option<(&'static str, Option<CK_MECHANISM_TYPE>)>,
        mut f: impl FnMut(&mut Session, &mut Ready) -> Result<T>,
    ) -> Result<T> {
        let entry = self.session(sh)?;
        let mut s = entry.lock();
        let slot = s.slot.clone();
        let mut state = slot.state.lock();
        let r = ready(&mut state)?;
        if r.sync()? {
            // Re-initialized by another process: this process's login on it is over, and the
            // old objects' handles are gone for good, public ones too.
            self.end_login(slot.id, r);
            self.objects
                .write()
                .retain(|e| !matches!(e, ObjEntry::Token { slot: sl, .. } if *sl == slot.id));
        }
        // A logout while this call waited for the slot (or the one just above) ended the
        // session's operations.
        entry.catch_up(&mut s);
        let Some((function, mechanism)) = audited else {
            return Self::attempts(&mut s, r, &mut f);
        };
        let mut rec = crate::audit::Record::new(function, &slot.serial);
        rec.session = Some(sh);
        rec.user_type = crate::audit::record::user_type(r.login);
        rec.mechanism = mechanism;
        r.db.audit.start(rec);
        let out = Self::attempts(&mut s, r, &mut f);
        r.db.audit_finish(out.as_ref().map_or_else(|e| e.rv(), |_| CKR_OK));
        out
    }

    /// Run a call, again on fresh copies when another process's commit conflicted with it.
    fn attempts<T>(
        s: &mut Session,
        r: &mut Ready,
        f: &mut impl FnMut(&mut Session, &mut Ready) -> Result<T>,
    ) -> Result<T> {
        const ATTEMPTS: usize = 8;
        for _ in 0..ATTEMPTS {
            r.begin_call();
            match f(s, r) {
                Err(e) if e.rv() == crate::store::CONFLICT => r.invalidate(),
                other => return other,
            }
        }
        crate::log::warn(format_args!(
            "a write kept conflicting with other processes' commits"
        ));
        fail(CKR_FUNCTION_FAILED)
    }

    /// The object a recorded call acts on (the record's keyId, and keyLabel when public).
    fn audit_object(r: &mut Ready, attrs: &Attributes) {
        if let Some(c) = r.db.audit.call() {
            c.set_object(attrs);
        }
    }

    /// The other key a recorded call works with (wrapping, unwrapping, base, copied from).
    fn audit_base(r: &mut Ready, attrs: &Attributes) {
        if let Some(c) = r.db.audit.call() {
            c.base_key_id = crate::audit::record::object_names(attrs).0;
        }
    }

    fn ctx(r: &Ready) -> Ctx {
        Ctx {
            so: r.login == Login::So,
        }
    }

    /// Store a new object that the rules have accepted.
    fn store_new(
        &self,
        s: &Session,
        r: &mut Ready,
        mut attrs: Attributes,
    ) -> Result<CK_OBJECT_HANDLE> {
        let on_token = attrs.flag(CKA_TOKEN);
        if on_token && !s.rw {
            return fail(CKR_SESSION_READ_ONLY);
        }
        if attrs.flag(CKA_PRIVATE) && r.login != Login::User {
            return fail(CKR_USER_NOT_LOGGED_IN);
        }
        attrs.set(CKA_UNIQUE_ID, token::unique_id()?);
        // Every new AES or DES key carries its check value, however it came to be (created,
        // generated, unwrapped, derived); one given in a template was checked by the import
        // validation.
        if attrs.class() == Some(CKO_SECRET_KEY)
            && attrs.bytes(CKA_CHECK_VALUE).is_none_or(<[u8]>::is_empty)
        {
            if let (Some(kt), Some(v)) = (attrs.key_type(), attrs.bytes(CKA_VALUE)) {
                if let Some(cv) = crate::mechanism::build::check_value(kt, v) {
                    attrs.set(CKA_CHECK_VALUE, AttrValue::Bytes(cv?));
                }
            }
        }
        Self::audit_object(r, &attrs);
        if on_token {
            let id = r.insert(attrs)?;
            Ok(self.token_handle(s.slot.id, id))
        } else {
            let h = self.new_handle();
            let e = ObjEntry::Session {
                slot: s.slot.id,
                owner: s.handle,
                obj: Arc::new(Mutex::new(attrs)),
            };
            self.objects.write().insert_session(h, e);
            Ok(h)
        }
    }

    pub fn create_object(
        &self,
        sh: CK_SESSION_HANDLE,
        template: &[Attribute],
    ) -> Result<CK_OBJECT_HANDLE> {
        self.with_token_audited(sh, "C_CreateObject", None, |s, r| {
            let attrs = rules::create(template, &Self::ctx(r))?;
            crate::mechanism::build::validate_import(&attrs, r.policy())?;
            self.store_new(s, r, attrs)
        })
    }

    pub fn copy_object(
        &self,
        sh: CK_SESSION_HANDLE,
        h: CK_OBJECT_HANDLE,
        template: &[Attribute],
    ) -> Result<CK_OBJECT_HANDLE> {
        self.with_token_audited(sh, "C_CopyObject", None, |s, r| {
            let e = self.entry(s.slot.id, h)?;
            let (attrs, withheld) = self.read_object(r, &e)?;
            Self::audit_object(r, &attrs);
            Self::audit_base(r, &attrs);
            if !withheld.is_empty() {
                return fail(CKR_USER_NOT_LOGGED_IN);
            }
            let mut copy = rules::copy(&attrs, template, &Self::ctx(r))?;
            copy.remove(CKA_UNIQUE_ID);
            self.store_new(s, r, copy)
        })
    }

    pub fn destroy_object(&self, sh: CK_SESSION_HANDLE, h: CK_OBJECT_HANDLE) -> Result<()> {
        self.with_token_audited(sh, "C_DestroyObject", None, |s, r| {
            let e = self.entry(s.slot.id, h)?;
            let (attrs, _) = self.read_object(r, &e)?;
            Self::audit_object(r, &attrs);
            if let ObjEntry::Token { id, .. } = e {
                if !s.rw {
                    return fail(CKR_SESSION_READ_ONLY);
                }
                if attrs.get(CKA_DESTROYABLE).and_then(AttrValue::as_bool) == Some(false) {
                    return fail(CKR_ACTION_PROHIBITED);
                }
                r.delete(id)?;
            } else if attrs.get(CKA_DESTROYABLE).and_then(AttrValue::as_bool) == Some(false) {
                return fail(CKR_ACTION_PROHIBITED);
            }
            self.forget_handle(h);
            Ok(())
        })
    }

    pub fn object_size(&self, sh: CK_SESSION_HANDLE, h: CK_OBJECT_HANDLE) -> Result<CK_ULONG> {
        self.with_token(sh, |s, r| {
            let e = self.entry(s.slot.id, h)?;
            let (attrs, _) = self.read_object(r, &e)?;
            // An estimate, as the specification allows: the bytes of every value.
            let n: usize = attrs
                .iter()
                .map(|(_, v)| match v {
                    AttrValue::Bytes(b) => b.len(),
                    AttrValue::Template(t) => 16 * t.len(),
                    AttrValue::Mechanisms(m) => 8 * m.len(),
                    _ => 8,
                })
                .sum();
            Ok(n as CK_ULONG)
        })
    }

    pub fn get_attributes(
        &self,
        sh: CK_SESSION_HANDLE,
        h: CK_OBJECT_HANDLE,
        types: &[CK_ATTRIBUTE_TYPE],
    ) -> Result<Vec<AttrRead>> {
        self.with_token(sh, |s, r| {
            let e = self.entry(s.slot.id, h)?;
            let (attrs, withheld) = self.read_object(r, &e)?;
            Ok(types
                .iter()
                .map(|&t| {
                    if withheld.contains(&t) {
                        return AttrRead::Sensitive;
                    }
                    match rules::readable(&attrs, t) {
                        Read::Sensitive => AttrRead::Sensitive,
                        Read::Invalid => AttrRead::Invalid,
                        Read::Ok => match attrs.get(t) {
                            Some(v) => AttrRead::Value(v.clone()),
                            None => AttrRead::Invalid,
                        },
                    }
                })
                .collect())
        })
    }

    pub fn set_attributes(
        &self,
        sh: CK_SESSION_HANDLE,
        h: CK_OBJECT_HANDLE,
        changes: &[Attribute],
    ) -> Result<()> {
        self.with_token_audited(sh, "C_SetAttributeValue", None, |s, r| {
            let e = self.entry(s.slot.id, h)?;
            let (attrs, _) = self.read_object(r, &e)?;
            Self::audit_object(r, &attrs);
            let ctx = Self::ctx(r);
            let updated = rules::set(&attrs, changes, &ctx)?;
            match e {
                ObjEntry::Token { id, .. } => {
                    if !s.rw {
                        return fail(CKR_SESSION_READ_ONLY);
                    }
                    // The rules judged the copy read at the start of the call; the write
                    // judges the object as committed now, so a one-way change another process
                    // made meanwhile stays.
                    r.modify(id, |current| rules::set(current, changes, &ctx))
                }
                ObjEntry::Session { obj, .. } => {
                    *obj.lock() = updated;
                    Ok(())
                }
            }
        })
    }

    pub fn find_init(&self, sh: CK_SESSION_HANDLE, template: &[Attribute]) -> Result<()> {
        self.with_token(sh, |s, r| {
            if s.find.is_some() {
                return fail(CKR_OPERATION_ACTIVE);
            }
            let slot = s.slot.id;
            let mut handles = Vec::new();
            // With the indexed attribute alone in the template, the index answers by itself.
            let index_only =
                template.len() == 1 && [CKA_ID, CKA_LABEL, CKA_CLASS].contains(&template[0].ty);
            let candidates = r.candidates(template)?;
            if !index_only {
                // The store already left out private objects unless the user is logged in.
                r.prefetch(candidates.iter().map(|(id, _)| *id))?;
            }
            for (id, private) in candidates {
                if private && r.login != Login::User {
                    continue;
                }
                if !index_only {
                    match r.load(id) {
                        Ok(o) if rules::search_matches(&o.data.attrs, template) => {}
                        Ok(_) => continue,
                        // A damaged object is reported when it is read, not by hiding others.
                        Err(e) if e.rv() == CKR_DEVICE_ERROR => {}
                        Err(_) => continue,
                    }
                }
                handles.push(self.token_handle(slot, id));
            }
            let session_objs: Vec<(CK_OBJECT_HANDLE, Arc<Mutex<Attributes>>)> = {
                let objs = self.objects.read();
                objs.session
                    .iter()
                    .filter_map(|h| match objs.by_handle.get(h) {
                        Some(ObjEntry::Session { slot: sl, obj, .. }) if *sl == slot => {
                            Some((*h, obj.clone()))
                        }
                        _ => None,
                    })
                    .collect()
            };
            let extra: Vec<CK_OBJECT_HANDLE> = session_objs
                .into_iter()
                .filter(|(_, o)| {
                    let a = o.lock();
                    (!a.flag(CKA_PRIVATE) || r.login == Login::User)
                        && rules::search_matches(&a, template)
                })
                .map(|(h, _)| h)
                .collect();
            handles.extend(extra);
            s.find = Some(FindState { handles, pos: 0 });
            Ok(())
        })
    }

    /// A search whose template names an attribute no object has: it finds nothing.
    pub fn find_init_nothing(&self, sh: CK_SESSION_HANDLE) -> Result<()> {
        let s = self.session(sh)?;
        let mut s = s.lock();
        if s.find.is_some() {
            return fail(CKR_OPERATION_ACTIVE);
        }
        s.find = Some(FindState::default());
        Ok(())
    }

    pub fn find_next(&self, sh: CK_SESSION_HANDLE, max: usize) -> Result<Vec<CK_OBJECT_HANDLE>> {
        let s = self.session(sh)?;
        let mut s = s.lock();
        let f = s
            .find
            .as_mut()
            .ok_or(Error::new(CKR_OPERATION_NOT_INITIALIZED))?;
        let end = f.handles.len().min(f.pos.saturating_add(max));
        let out = f.handles[f.pos..end].to_vec();
        f.pos = end;
        Ok(out)
    }

    pub fn find_final(&self, sh: CK_SESSION_HANDLE) -> Result<()> {
        let s = self.session(sh)?;
        let mut s = s.lock();
        if s.find.take().is_none() {
            return fail(CKR_OPERATION_NOT_INITIALIZED);
        }
        Ok(())
    }

    pub fn check_session(&self, sh: CK_SESSION_HANDLE) -> Result<()> {
        self.session(sh).map(|_| ())
    }
}

/// Start the audit record of a recorded call that does not run through `with_token` (login,
/// logout, PIN and token management); [`crate::store::TokenDb::audit_finish`] ends it.
fn audit_start(
    r: &mut Ready,
    serial: &str,
    function: &'static str,
    session: Option<CK_SESSION_HANDLE>,
    user_type: &'static str,
) {
    let mut rec = crate::audit::Record::new(function, serial);
    rec.session = session;
    rec.user_type = user_type;
    r.db.audit.start(rec);
}

fn rv_of<T>(r: &Result<T>) -> CK_RV {
    r.as_ref().map_or_else(|e| e.rv(), |_| CKR_OK)
}

fn pad16(s: &[u8]) -> [u8; 16] {
    let mut a = [b' '; 16];
    let n = s.len().min(16);
    a[..n].copy_from_slice(&s[..n]);
    a
}

/// The crate version as a `CK_VERSION`.
pub fn crate_version() -> CK_VERSION {
    let major = env!("CARGO_PKG_VERSION_MAJOR").parse().unwrap_or(0);
    let minor = env!("CARGO_PKG_VERSION_MINOR").parse().unwrap_or(0);
    CK_VERSION { major, minor }
}

/// `YYYYMMDDhhmmss00` in UTC, as `CK_TOKEN_INFO.utcTime` wants.
pub fn utc_time() -> [u8; 16] {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = crate::audit::record::civil(secs.div_euclid(86_400));
    let s = format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    let mut out = [b'0'; 16];
    out.copy_from_slice(&s.as_bytes()[..16]);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_time_has_the_right_shape() {
        let t = super::utc_time();
        assert!(t.iter().all(u8::is_ascii_digit));
        assert!(t.starts_with(b"20"));
        assert_eq!(&t[14..], b"00");
    }
}
