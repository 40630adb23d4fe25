//! The safe core of session management: opening and closing sessions, login and logout, and
//! what the end of a login invalidates (PKCS#11 v3.0 §5.6 session management).

use super::{ready, Module, ObjEntry};
use crate::error::{fail, Error, Result};
use crate::session::{Entry, Session};
use crate::store::Role;
use crate::token::{self, Login, Ready, TokenState};
use cryptoki_sys::*;
use std::collections::HashSet;
use std::sync::Arc;

impl Module {
    pub fn open_session(&self, slot_id: CK_SLOT_ID, flags: CK_FLAGS) -> Result<CK_SESSION_HANDLE> {
        let slot = self.slot(slot_id)?;
        if flags & CKF_SERIAL_SESSION == 0 {
            return fail(CKR_SESSION_PARALLEL_NOT_SUPPORTED);
        }
        let rw = flags & CKF_RW_SESSION != 0;
        // The check and the new session are one step under the slot's lock, as C_Login's
        // check for R/O sessions is: an SO login cannot come between them.
        let mut state = slot.state.lock();
        let r = ready(&mut state)?;
        if !rw && r.login == Login::So {
            return fail(CKR_SESSION_READ_WRITE_SO_EXISTS);
        }
        // A token file this process could only open read-only is write-protected: no R/W
        // session, so no token object, PIN or re-initialization can be attempted (§5.6.1).
        if rw && r.db.read_only() {
            return fail(CKR_TOKEN_WRITE_PROTECTED);
        }
        let h = self.new_handle();
        let session = Session {
            handle: h,
            slot: slot.clone(),
            rw,
            find: None,
            ops: Default::default(),
        };
        self.sessions
            .write()
            .insert(h, Arc::new(Entry::new(session)));
        Ok(h)
    }

    pub fn close_session(&self, sh: CK_SESSION_HANDLE) -> Result<()> {
        let slot = self.session(sh)?.slot.clone();
        let mut state = slot.state.lock();
        self.sessions
            .write()
            .remove(&sh)
            .ok_or(Error::new(CKR_SESSION_HANDLE_INVALID))?;
        self.after_close(slot.id, &mut state, &[sh]);
        Ok(())
    }

    pub fn close_all_sessions(&self, slot_id: CK_SLOT_ID) -> Result<()> {
        let slot = self.slot(slot_id)?;
        let mut state = slot.state.lock();
        let closed: Vec<CK_SESSION_HANDLE> = {
            let mut sessions = self.sessions.write();
            let hs: Vec<_> = sessions
                .iter()
                .filter(|(_, s)| s.slot.id == slot_id)
                .map(|(h, _)| *h)
                .collect();
            for h in &hs {
                sessions.remove(h);
            }
            hs
        };
        self.after_close(slot_id, &mut state, &closed);
        Ok(())
    }

    /// Session objects die with their session; the last session's end logs the application out.
    /// Called under the slot's lock, so no session opens between the count and the logout.
    fn after_close(&self, slot: CK_SLOT_ID, state: &mut TokenState, closed: &[CK_SESSION_HANDLE]) {
        self.objects.write().retain(|e| match e {
            ObjEntry::Session { owner, .. } => !closed.contains(owner),
            _ => true,
        });
        if self.session_counts(slot).0 == 0 {
            if let TokenState::Ready(r) = state {
                if r.login != Login::Public {
                    self.end_login(slot, r);
                }
            }
        }
    }

    /// The end of the application's login to a token, by C_Logout or by the close of its last
    /// session (PKCS#11 v3.0 §5.6.6 C_Logout): its handles to private objects become invalid for
    /// good (a private token object gets a new handle after the next login), its private session
    /// objects are destroyed, and the operations and searches of its sessions on the token end
    /// (the specification leaves open whether they stay active; they held keys of the login).
    /// Called under the slot's lock.
    pub(super) fn end_login(&self, slot: CK_SLOT_ID, r: &mut Ready) {
        // The token objects whose handles stay, read before the key goes. If the file cannot
        // say, no handle stays: a handle the application must look up again is the safe side.
        let public: HashSet<u64> =
            r.db.candidates(None, false)
                .map(|v| v.into_iter().map(|(id, _)| id).collect())
                .unwrap_or_default();
        r.set_login(Login::Public, None);
        for s in self.sessions.read().values().filter(|s| s.slot.id == slot) {
            s.end_operations();
        }
        let mut objs = self.objects.write();
        objs.retain(|e| match e {
            ObjEntry::Token { slot: s, id } => *s != slot || public.contains(id),
            ObjEntry::Session { slot: s, obj, .. } => *s != slot || !obj.lock().flag(CKA_PRIVATE),
        });
    }

    pub fn session_info(&self, sh: CK_SESSION_HANDLE) -> Result<CK_SESSION_INFO> {
        let s = self.session(sh)?;
        let s = s.lock();
        let login = match &*s.slot.state.lock() {
            TokenState::Ready(r) => r.login,
            _ => Login::Public,
        };
        Ok(CK_SESSION_INFO {
            slotID: s.slot.id,
            state: s.state(login),
            flags: s.flags(),
            ulDeviceError: 0,
        })
    }

    pub fn login(&self, sh: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: &[u8]) -> Result<()> {
        let slot = self.session(sh)?.slot.clone();
        if user == CKU_CONTEXT_SPECIFIC {
            return self.login_context(sh, pin);
        }
        let role = token::role_of(user)?;
        let mut state = slot.state.lock();
        let r = ready(&mut state)?;
        let who = match role {
            Role::So => "CKU_SO",
            Role::User => "CKU_USER",
        };
        // Failures too (a wrong PIN, a lock): the record says who tried, not who got in.
        super::audit_start(r, &slot.serial, "C_Login", Some(sh), who);
        let out = self.login_on(slot.id, r, role, pin);
        r.db.audit_finish(super::rv_of(&out));
        out
    }

    fn login_on(&self, slot: CK_SLOT_ID, r: &mut Ready, role: Role, pin: &[u8]) -> Result<()> {
        match (r.login, role) {
            (Login::User, Role::User) | (Login::So, Role::So) => {
                return fail(CKR_USER_ALREADY_LOGGED_IN)
            }
            (Login::User, Role::So) | (Login::So, Role::User) => {
                return fail(CKR_USER_ANOTHER_ALREADY_LOGGED_IN)
            }
            _ => {}
        }
        // Under the slot's lock, which C_OpenSession takes: no R/O session opens meanwhile.
        if role == Role::So && self.has_ro_session(slot) {
            return fail(CKR_SESSION_READ_ONLY_EXISTS);
        }
        let master = r.db.login(role, pin, self.cfg.max_login_attempts)?;
        r.set_login(
            if role == Role::So {
                Login::So
            } else {
                Login::User
            },
            Some(master),
        );
        Ok(())
    }

    fn has_ro_session(&self, slot: CK_SLOT_ID) -> bool {
        self.sessions
            .read()
            .values()
            .any(|s| s.slot.id == slot && !s.rw)
    }

    pub fn logout(&self, sh: CK_SESSION_HANDLE) -> Result<()> {
        let slot = self.session(sh)?.slot.clone();
        let mut state = slot.state.lock();
        let r = ready(&mut state)?;
        super::audit_start(
            r,
            &slot.serial,
            "C_Logout",
            Some(sh),
            crate::audit::record::user_type(r.login),
        );
        let out = if r.login == Login::Public {
            fail(CKR_USER_NOT_LOGGED_IN)
        } else {
            self.end_login(slot.id, r);
            Ok(())
        };
        r.db.audit_finish(super::rv_of(&out));
        out
    }
}
