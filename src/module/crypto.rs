//! The safe core of the cryptographic functions: encryption, decryption, digests, signatures and
//! verification, single- and multi-part, with the key-usage policy checked at `Init`
//! (PKCS#11 v3.0 §5.8-5.13). Size queries and short buffers keep the operation; any other error
//! ends it.

use super::Module;
use crate::error::{fail, Error, Result};
use crate::mechanism::build;
use crate::mechanism::ops::{Active, Out};
use crate::mechanism::Mechanism;
use crate::object::attr::AttrValue;
use crate::session::Session;
use crate::token::Ready;
use cryptoki_sys::*;
use zeroize::Zeroizing;

/// Encryption or decryption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptKind {
    Encrypt,
    Decrypt,
}

/// The part of a call that produces output: the pending output of an earlier short buffer comes
/// first; a size query answers with `bound`; otherwise `compute` runs. `ends` says whether a
/// delivered output ends the operation.
fn produce<T: ?Sized>(
    slot: &mut Option<Active<T>>,
    cap: Option<usize>,
    ends: bool,
    bound: impl FnOnce(&T) -> usize,
    compute: impl FnOnce(&mut T) -> Result<Zeroizing<Vec<u8>>>,
) -> Result<Out> {
    let act = slot
        .as_mut()
        .ok_or(Error::new(CKR_OPERATION_NOT_INITIALIZED))?;
    let out = if let Some(p) = act.pending.take() {
        p
    } else {
        let Some(_) = cap else {
            return Ok(Out::Len(bound(&act.op)));
        };
        // Without the context-specific login this is a failed call, and a failed C_Sign or
        // C_Decrypt ends its operation (v3.0 §5.13, §5.10): the caller starts again with Init.
        if act.needs_login {
            *slot = None;
            return fail(CKR_USER_NOT_LOGGED_IN);
        }
        match compute(&mut act.op) {
            Ok(v) => v,
            Err(e) => {
                *slot = None;
                return Err(e);
            }
        }
    };
    match cap {
        None => {
            let n = out.len();
            act.pending = Some(out);
            Ok(Out::Len(n))
        }
        Some(c) if c < out.len() => {
            let n = out.len();
            act.pending = Some(out);
            Ok(Out::TooSmall(n))
        }
        Some(_) => {
            if ends {
                *slot = None;
            }
            Ok(Out::Data(out))
        }
    }
}

fn concat(mut a: Zeroizing<Vec<u8>>, b: Zeroizing<Vec<u8>>) -> Zeroizing<Vec<u8>> {
    a.extend_from_slice(&b);
    a
}

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

    pub fn crypt_init(
        &self,
        sh: CK_SESSION_HANDLE,
        kind: CryptKind,
        mech_type: CK_MECHANISM_TYPE,
        mech: &Mechanism,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        self.with_token(sh, |s, r| {
            let slot = match kind {
                CryptKind::Encrypt => &s.ops.encrypt,
                CryptKind::Decrypt => &s.ops.decrypt,
            };
            if slot.is_some() {
                return fail(CKR_OPERATION_ACTIVE);
            }
            let usage = match kind {
                CryptKind::Encrypt => CKA_ENCRYPT,
                CryptKind::Decrypt => CKA_DECRYPT,
            };
            let attrs = self.key_for(s, r, key, usage, mech_type)?;
            let op = build::cipher(mech, &attrs, kind == CryptKind::Encrypt)?;
            let act = Some(Active::new(op, mech_type).login_if(&attrs));
            match kind {
                CryptKind::Encrypt => s.ops.encrypt = act,
                CryptKind::Decrypt => s.ops.decrypt = act,
            }
            Ok(())
        })
    }

    fn crypt_slot(
        s: &mut Session,
        kind: CryptKind,
    ) -> &mut Option<Active<dyn crate::mechanism::ops::Cipher>> {
        match kind {
            CryptKind::Encrypt => &mut s.ops.encrypt,
            CryptKind::Decrypt => &mut s.ops.decrypt,
        }
    }

    pub fn crypt(
        &self,
        sh: CK_SESSION_HANDLE,
        kind: CryptKind,
        data: &[u8],
        cap: Option<usize>,
    ) -> Result<Out> {
        self.with_session(sh, |s| {
            let slot = Self::crypt_slot(s, kind);
            if slot.as_ref().is_some_and(|a| a.multi) {
                *slot = None;
                return fail(CKR_OPERATION_ACTIVE);
            }
            produce(
                slot,
                cap,
                true,
                |op| op.one_shot_len(data.len()),
                |op| {
                    let a = op.update(data)?;
                    Ok(concat(a, op.finish()?))
                },
            )
        })
    }

    pub fn crypt_update(
        &self,
        sh: CK_SESSION_HANDLE,
        kind: CryptKind,
        data: &[u8],
        cap: Option<usize>,
    ) -> Result<Out> {
        self.with_session(sh, |s| {
            let slot = Self::crypt_slot(s, kind);
            if let Some(a) = slot.as_mut() {
                if a.op.single_part_only() {
                    *slot = None;
                    return fail(CKR_MECHANISM_INVALID);
                }
                if a.needs_login && cap.is_some() {
                    *slot = None;
                    return fail(CKR_USER_NOT_LOGGED_IN);
                }
                a.multi = true;
            }
            produce(
                slot,
                cap,
                false,
                |op| op.update_len(data.len()),
                |op| op.update(data),
            )
        })
    }

    pub fn crypt_final(
        &self,
        sh: CK_SESSION_HANDLE,
        kind: CryptKind,
        cap: Option<usize>,
    ) -> Result<Out> {
        self.with_session(sh, |s| {
            let slot = Self::crypt_slot(s, kind);
            produce(slot, cap, true, |op| op.finish_len(), |op| op.finish())
        })
    }

    pub fn digest_init(
        &self,
        sh: CK_SESSION_HANDLE,
        mech_type: CK_MECHANISM_TYPE,
        mech: &Mechanism,
    ) -> Result<()> {
        self.with_session(sh, |s| {
            if s.ops.digest.is_some() {
                return fail(CKR_OPERATION_ACTIVE);
            }
            s.ops.digest = Some(Active::new(build::digester(mech)?, mech_type));
            Ok(())
        })
    }

    pub fn digest(&self, sh: CK_SESSION_HANDLE, data: &[u8], cap: Option<usize>) -> Result<Out> {
        self.with_session(sh, |s| {
            if s.ops.digest.as_ref().is_some_and(|a| a.multi) {
                s.ops.digest = None;
                return fail(CKR_OPERATION_ACTIVE);
            }
            produce(
                &mut s.ops.digest,
                cap,
                true,
                |op| op.out_len(),
                |op| {
                    op.update(data)?;
                    op.finish()
                },
            )
        })
    }

    pub fn digest_update(&self, sh: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        self.with_session(sh, |s| {
            let act = s
                .ops
                .digest
                .as_mut()
                .ok_or(Error::new(CKR_OPERATION_NOT_INITIALIZED))?;
            act.multi = true;
            act.op.update(data).inspect_err(|_| s.ops.digest = None)
        })
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
            act.multi = true;
            // Before the update: a state that holds any of the key is never saved.
            act.keyed = true;
            act.op.update(value).inspect_err(|_| s.ops.digest = None)
        })
    }

    pub fn digest_final(&self, sh: CK_SESSION_HANDLE, cap: Option<usize>) -> Result<Out> {
        self.with_session(sh, |s| {
            produce(
                &mut s.ops.digest,
                cap,
                true,
                |op| op.out_len(),
                |op| op.finish(),
            )
        })
    }

    pub fn sign_init(
        &self,
        sh: CK_SESSION_HANDLE,
        mech_type: CK_MECHANISM_TYPE,
        mech: &Mechanism,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        self.with_token(sh, |s, r| {
            if s.ops.sign.is_some() {
                return fail(CKR_OPERATION_ACTIVE);
            }
            let attrs = self.key_for(s, r, key, CKA_SIGN, mech_type)?;
            s.ops.sign =
                Some(Active::new(build::signer(mech, &attrs)?, mech_type).login_if(&attrs));
            Ok(())
        })
    }

    pub fn sign(&self, sh: CK_SESSION_HANDLE, data: &[u8], cap: Option<usize>) -> Result<Out> {
        self.with_session(sh, |s| {
            if s.ops.sign.as_ref().is_some_and(|a| a.multi) {
                s.ops.sign = None;
                return fail(CKR_OPERATION_ACTIVE);
            }
            produce(
                &mut s.ops.sign,
                cap,
                true,
                |op| op.out_len(),
                |op| {
                    op.update(data)?;
                    op.finish()
                },
            )
        })
    }

    pub fn sign_update(&self, sh: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        self.with_session(sh, |s| {
            let act = s
                .ops
                .sign
                .as_mut()
                .ok_or(Error::new(CKR_OPERATION_NOT_INITIALIZED))?;
            if act.op.single_part_only() {
                s.ops.sign = None;
                return fail(CKR_MECHANISM_INVALID);
            }
            if act.needs_login {
                s.ops.sign = None;
                return fail(CKR_USER_NOT_LOGGED_IN);
            }
            act.multi = true;
            act.op.update(data).inspect_err(|_| s.ops.sign = None)
        })
    }

    pub fn sign_final(&self, sh: CK_SESSION_HANDLE, cap: Option<usize>) -> Result<Out> {
        self.with_session(sh, |s| {
            produce(
                &mut s.ops.sign,
                cap,
                true,
                |op| op.out_len(),
                |op| op.finish(),
            )
        })
    }

    pub fn verify_init(
        &self,
        sh: CK_SESSION_HANDLE,
        mech_type: CK_MECHANISM_TYPE,
        mech: &Mechanism,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        self.with_token(sh, |s, r| {
            if s.ops.verify.is_some() {
                return fail(CKR_OPERATION_ACTIVE);
            }
            let attrs = self.key_for(s, r, key, CKA_VERIFY, mech_type)?;
            s.ops.verify = Some(Active::new(build::verifier(mech, &attrs)?, mech_type));
            Ok(())
        })
    }

    pub fn verify(&self, sh: CK_SESSION_HANDLE, data: &[u8], signature: &[u8]) -> Result<()> {
        self.with_session(sh, |s| {
            let mut act = s
                .ops
                .verify
                .take()
                .ok_or(Error::new(CKR_OPERATION_NOT_INITIALIZED))?;
            if act.multi {
                return fail(CKR_OPERATION_ACTIVE);
            }
            act.op.update(data)?;
            act.op.finish(signature)
        })
    }

    pub fn verify_update(&self, sh: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        self.with_session(sh, |s| {
            let act = s
                .ops
                .verify
                .as_mut()
                .ok_or(Error::new(CKR_OPERATION_NOT_INITIALIZED))?;
            if act.op.single_part_only() {
                s.ops.verify = None;
                return fail(CKR_MECHANISM_INVALID);
            }
            act.multi = true;
            act.op.update(data).inspect_err(|_| s.ops.verify = None)
        })
    }

    pub fn verify_final(&self, sh: CK_SESSION_HANDLE, signature: &[u8]) -> Result<()> {
        self.with_session(sh, |s| {
            let mut act = s
                .ops
                .verify
                .take()
                .ok_or(Error::new(CKR_OPERATION_NOT_INITIALIZED))?;
            act.op.finish(signature)
        })
    }

    pub fn sign_recover_init(
        &self,
        sh: CK_SESSION_HANDLE,
        mech_type: CK_MECHANISM_TYPE,
        mech: &Mechanism,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        self.with_token(sh, |s, r| {
            if s.ops.sign_recover.is_some() {
                return fail(CKR_OPERATION_ACTIVE);
            }
            let attrs = self.key_for(s, r, key, CKA_SIGN_RECOVER, mech_type)?;
            let op = build::sign_recoverer(mech, &attrs)?;
            s.ops.sign_recover = Some(Active::new(op, mech_type).login_if(&attrs));
            Ok(())
        })
    }

    /// `C_SignRecover`: single-part only.
    pub fn sign_recover(
        &self,
        sh: CK_SESSION_HANDLE,
        data: &[u8],
        cap: Option<usize>,
    ) -> Result<Out> {
        self.with_session(sh, |s| {
            produce(
                &mut s.ops.sign_recover,
                cap,
                true,
                |op| op.out_len(),
                |op| {
                    op.update(data)?;
                    op.finish()
                },
            )
        })
    }

    pub fn verify_recover_init(
        &self,
        sh: CK_SESSION_HANDLE,
        mech_type: CK_MECHANISM_TYPE,
        mech: &Mechanism,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        self.with_token(sh, |s, r| {
            if s.ops.verify_recover.is_some() {
                return fail(CKR_OPERATION_ACTIVE);
            }
            let attrs = self.key_for(s, r, key, CKA_VERIFY_RECOVER, mech_type)?;
            let op = build::verify_recoverer(mech, &attrs)?;
            s.ops.verify_recover = Some(Active::new(op, mech_type));
            Ok(())
        })
    }

    /// `C_VerifyRecover`: the signature in, the data out (single-part).
    pub fn verify_recover(
        &self,
        sh: CK_SESSION_HANDLE,
        signature: &[u8],
        cap: Option<usize>,
    ) -> Result<Out> {
        self.with_session(sh, |s| {
            produce(
                &mut s.ops.verify_recover,
                cap,
                true,
                |op| op.one_shot_len(signature.len()),
                |op| {
                    let a = op.update(signature)?;
                    Ok(concat(a, op.finish()?))
                },
            )
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
