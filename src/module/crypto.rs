//! What the cryptographic functions need besides their one flow (`op`): the key-usage check
//! every `Init` makes, `C_DigestKey`, the context-specific login of `CKA_ALWAYS_AUTHENTICATE`
//! keys, and saved operation states (PKCS#11 v3.0 §5.6 `C_GetOperationState`,
//! `C_SetOperationState`, `C_Login`; §5.8-5.13).

use super::Module;
use crate::error::{fail, Error, Result};
use crate::mechanism::build;
use crate::mechanism::ops::Active;
use crate::object::attr::AttrValue;
use crate::session::Session;
use crate::token::Ready;
use cryptoki_sys::*;
use zeroize::Zeroizing;

impl Module {
    /// The attributes of a key the session may use for `usage` with mechanism `mech`.
    pub(super) fn key_for(
        &self,
        s: &Session,
        r: &mut Ready,
        h: CK_OBJECT_HANDLE,
        usage: CK_ATTRIBUTE_TYPE,
        mech: CK_MECHANISM_TYPE,
    ) -> Result<super::ObjView> {
        let invalid = |e: Error| {
            if e.rv() == CKR_OBJECT_HANDLE_INVALID {
                Error::new(CKR_KEY_HANDLE_INVALID)
            } else {
                e
            }
        };
        let e = self.entry(s.slot.id, h).map_err(invalid)?;
        let (attrs, withheld) = self.read_object(r, &e).map_err(invalid)?;
        if !matches!(
            attrs.class(),
            Some(CKO_SECRET_KEY | CKO_PUBLIC_KEY | CKO_PRIVATE_KEY)
        ) {
            return fail(CKR_KEY_HANDLE_INVALID);
        }
        if !withheld.is_empty() {
            return fail(CKR_USER_NOT_LOGGED_IN);
        }
        if !attrs.flag(usage) {
            return fail(CKR_KEY_FUNCTION_NOT_PERMITTED);
        }
        Self::policy_allows_use(r.policy(), mech, usage, &attrs)?;
        crate::object::policy::usable_for(&attrs, usage)?;
        if let Some(AttrValue::Mechanisms(allowed)) = attrs.get(CKA_ALLOWED_MECHANISMS) {
            if !allowed.is_empty() && !allowed.contains(&crate::store::codec::widen(mech)) {
                return fail(CKR_MECHANISM_INVALID);
            }
        }
        Ok(attrs)
    }

    pub(super) fn with_session<T>(
        &self,
        sh: CK_SESSION_HANDLE,
        f: impl FnOnce(&mut Session) -> Result<T>,
    ) -> Result<T> {
        let s = self.session(sh)?;
        let mut s = s.lock();
        f(&mut s)
    }

    /// Feed a secret key's value into the digest.
    pub fn digest_key(&self, sh: CK_SESSION_HANDLE, key: CK_OBJECT_HANDLE) -> Result<()> {
        self.with_token(sh, |s, r| {
            if s.ops.digest.is_none() {
                return fail(CKR_OPERATION_NOT_INITIALIZED);
            }
            let e = self
                .entry(s.slot.id, key)
                .map_err(|_| Error::new(CKR_KEY_HANDLE_INVALID))?;
            let (attrs, withheld) = self
                .read_object(r, &e)
                .map_err(|_| Error::new(CKR_KEY_HANDLE_INVALID))?;
            if attrs.class() != Some(CKO_SECRET_KEY) || !withheld.is_empty() {
                s.ops.digest = None;
                return fail(CKR_KEY_INDIGESTIBLE);
            }
            let value = attrs
                .bytes(CKA_VALUE)
                .ok_or(Error::new(CKR_KEY_INDIGESTIBLE))?;
            let act = s
                .ops
                .digest
                .as_mut()
                .ok_or(Error::new(CKR_OPERATION_NOT_INITIALIZED))?;
            // Before the update: a state that holds any of the key is never saved.
            act.keyed = true;
            super::op::update(&mut s.ops.digest, value, Some(0)).map(drop)
        })
    }

    /// `C_Login(CKU_CONTEXT_SPECIFIC)`: the user PIN again, which authorizes the operations of
    /// this session waiting for it (keys with `CKA_ALWAYS_AUTHENTICATE`), once each.
    pub(super) fn login_context(&self, sh: CK_SESSION_HANDLE, pin: &[u8]) -> Result<()> {
        self.with_token(sh, |s, r| {
            let mut waiting = s.ops.login_flags();
            if !waiting.iter().flatten().any(|w| **w) {
                return fail(CKR_OPERATION_NOT_INITIALIZED);
            }
            if r.login != crate::token::Login::User {
                return fail(CKR_USER_NOT_LOGGED_IN);
            }
            // Counts a wrong PIN like any other login; the master key it returns is dropped.
            r.db.login(crate::store::Role::User, pin, self.cfg.max_login_attempts)?;
            for w in waiting.iter_mut().flatten() {
                **w = false;
            }
            Ok(())
        })
    }

    /// `C_GetOperationState`: digests only, and only digests no key went into (every other
    /// operation holds a key, and after `C_DigestKey` the hash state holds key bytes: a key
    /// must not leave the token in a state blob). The blob is authenticated with the module's
    /// state key: `magic | mechanism | flags | hash state | HMAC-SHA256`; the module's copy is
    /// wiped once handed out.
    pub fn get_operation_state(&self, sh: CK_SESSION_HANDLE) -> Result<Zeroizing<Vec<u8>>> {
        self.with_session(sh, |s| {
            let o = &s.ops;
            let others = o.encrypt.is_some()
                || o.decrypt.is_some()
                || o.sign.is_some()
                || o.verify.is_some()
                || o.sign_recover.is_some()
                || o.verify_recover.is_some()
                || o.message_encrypt.is_some()
                || o.message_decrypt.is_some();
            let Some(d) = o.digest.as_ref() else {
                return if others {
                    fail(CKR_STATE_UNSAVEABLE)
                } else {
                    fail(CKR_OPERATION_NOT_INITIALIZED)
                };
            };
            if others || d.pending.is_some() || d.keyed {
                return fail(CKR_STATE_UNSAVEABLE);
            }
            let inner = d.op.save().ok_or(Error::new(CKR_STATE_UNSAVEABLE))?;
            let mut blob = Zeroizing::new(Vec::with_capacity(inner.len() + STATE_OVERHEAD));
            blob.extend_from_slice(STATE_MAGIC);
            blob.extend_from_slice(&crate::store::codec::widen(d.mechanism).to_be_bytes());
            blob.push(u8::from(d.multi));
            blob.extend_from_slice(&inner);
            let tag = crate::crypto::hmac_sha256(&*self.state_key, &[&blob[..]]);
            blob.extend_from_slice(&tag);
            Ok(blob)
        })
    }

    /// `C_SetOperationState`: replaces the session's operations with the saved digest.
    pub fn set_operation_state(
        &self,
        sh: CK_SESSION_HANDLE,
        state: &[u8],
        encryption_key: CK_OBJECT_HANDLE,
        authentication_key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        self.with_session(sh, |s| {
            let bad = || Error::new(CKR_SAVED_STATE_INVALID);
            let split = state.len().checked_sub(32).ok_or_else(bad)?;
            let (blob, tag) = state.split_at(split);
            let want = crate::crypto::hmac_sha256(&*self.state_key, &[blob]);
            if !bool::from(subtle::ConstantTimeEq::ct_eq(&want[..], tag)) {
                return Err(bad());
            }
            let rest = blob.strip_prefix(STATE_MAGIC).ok_or_else(bad)?;
            let (mech, rest) = rest.split_first_chunk::<8>().ok_or_else(bad)?;
            let (multi, inner) = rest.split_first().ok_or_else(bad)?;
            let op = build::restore_digester(inner)?;
            // A digest state needs no key.
            if encryption_key != CK_INVALID_HANDLE || authentication_key != CK_INVALID_HANDLE {
                return fail(CKR_KEY_NOT_NEEDED);
            }
            let mechanism =
                CK_MECHANISM_TYPE::try_from(u64::from_be_bytes(*mech)).map_err(|_| bad())?;
            let mut act = Active::new(op, mechanism);
            act.multi = *multi != 0;
            s.ops = crate::mechanism::ops::Ops {
                digest: Some(act),
                ..Default::default()
            };
            Ok(())
        })
    }
}

/// The first bytes of a saved operation state (format version 1).
const STATE_MAGIC: &[u8] = b"FHOS\x01";

/// What a saved state adds to the hash state: magic, mechanism, flags and the HMAC tag (sized
/// up front, so the blob never reallocates and leaves an unwiped copy behind).
const STATE_OVERHEAD: usize = STATE_MAGIC.len() + 8 + 1 + 32;
