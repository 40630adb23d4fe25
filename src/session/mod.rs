//! Sessions: their read/write mode, the state they show, and the operation each has active
//! (PKCS#11 v3.0 §5.6 session management, §5.7 object search state).

use crate::token::{Login, Slot};
use cryptoki_sys::*;
use parking_lot::{Mutex, MutexGuard};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// An active `C_FindObjects` search: results are fixed at `C_FindObjectsInit`.
#[derive(Debug, Default)]
pub struct FindState {
    pub handles: Vec<CK_OBJECT_HANDLE>,
    pub pos: usize,
}

#[derive(Debug)]
pub struct Session {
    pub handle: CK_SESSION_HANDLE,
    pub slot: Arc<Slot>,
    pub rw: bool,
    pub find: Option<FindState>,
    pub ops: crate::mechanism::ops::Ops,
}

impl Session {
    /// `CK_SESSION_INFO.state` for this session, given who is logged in to its token.
    pub fn state(&self, login: Login) -> CK_STATE {
        match (self.rw, login) {
            (false, Login::Public) => CKS_RO_PUBLIC_SESSION,
            (false, _) => CKS_RO_USER_FUNCTIONS,
            (true, Login::Public) => CKS_RW_PUBLIC_SESSION,
            (true, Login::User) => CKS_RW_USER_FUNCTIONS,
            (true, Login::So) => CKS_RW_SO_FUNCTIONS,
        }
    }

    pub fn flags(&self) -> CK_FLAGS {
        CKF_SERIAL_SESSION | if self.rw { CKF_RW_SESSION } else { 0 }
    }
}

/// A session as the module's session table holds it. The slot and the mode never change, so
/// they are readable without the session's lock: counting sessions (for `C_Login`,
/// `C_InitToken`, `C_GetTokenInfo`) never waits for an operation running in one, and can be
/// done under the slot's lock, which a running operation may be waiting for.
#[derive(Debug)]
pub struct Entry {
    pub slot: Arc<Slot>,
    pub rw: bool,
    /// Set when the login the session's operations were set up under has ended (§5.6 C_Logout
    /// leaves it open whether they stay active; here they end). Setting it needs only the slot's
    /// lock, which `C_Logout` holds and a session's lock must not be taken under; the session's
    /// next [`Entry::lock`] ends the operations, before any call can use them.
    login_ended: AtomicBool,
    session: Mutex<Session>,
}

impl Entry {
    pub fn new(session: Session) -> Entry {
        Entry {
            slot: session.slot.clone(),
            rw: session.rw,
            login_ended: AtomicBool::new(false),
            session: Mutex::new(session),
        }
    }

    /// The session, for one call. Operations from before the end of a login are gone.
    pub fn lock(&self) -> MutexGuard<'_, Session> {
        let mut s = self.session.lock();
        self.catch_up(&mut s);
        s
    }

    /// End the operations if a login ended since the last look. `s` is this entry's session,
    /// locked: a call that then waits for the slot's lock (behind a `C_Logout`) looks again
    /// once it has it, so that what it sets up under the new state stays.
    pub fn catch_up(&self, s: &mut Session) {
        if self.login_ended.swap(false, Ordering::SeqCst) {
            s.find = None;
            s.ops = Default::default();
        }
    }

    /// The login ended: the active operations and searches end with it.
    pub fn end_operations(&self) {
        self.login_ended.store(true, Ordering::SeqCst);
        // An idle session drops its operations' keys now rather than at its next call; a
        // non-blocking attempt cannot break the lock order.
        if let Some(mut s) = self.session.try_lock() {
            self.catch_up(&mut s);
        }
    }
}
