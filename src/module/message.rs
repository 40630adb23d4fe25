//! The safe core of the message-based encryption functions (PKCS#11 v3.0 §5.11 and §5.13):
//! `C_MessageEncryptInit`/`C_MessageDecryptInit`, one call per message or a message in parts,
//! and the final call that ends the operation.
//!
//! Counter IVs of a token's keys come from blocks reserved in the token file (`mechanism::iv`,
//! `store::ivs`): a message call runs on the session alone, and only when the key's block is
//! used up (`iv::NEED_BLOCK`) does the module take the token to reserve the next one and
//! make the call again.

use super::op::room;
use super::{CryptKind, Module};
use crate::error::{fail, Error, Result};
use crate::mechanism::build;
use crate::mechanism::iv::{self, Source};
use crate::mechanism::message::{Aead, MessageOp, MessageParams, Sealing};
use crate::mechanism::ops::{self, Out};
use crate::session::Session;
use cryptoki_sys::*;

fn slot(s: &mut Session, kind: CryptKind) -> &mut Option<MessageOp> {
    match kind {
        CryptKind::Encrypt => &mut s.ops.message_encrypt,
        CryptKind::Decrypt => &mut s.ops.message_decrypt,
    }
}

fn active(s: &mut Session, kind: CryptKind) -> Result<&mut MessageOp> {
    let op = slot(s, kind)
        .as_mut()
        .ok_or(Error::new(CKR_OPERATION_NOT_INITIALIZED))?;
    if op.needs_login {
        return fail(CKR_USER_NOT_LOGGED_IN);
    }
    Ok(op)
}

impl Module {
    pub fn message_init(
        &self,
        sh: CK_SESSION_HANDLE,
        kind: CryptKind,
        mech_type: CK_MECHANISM_TYPE,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        self.with_token(sh, |s, r| {
            if slot(s, kind).is_some() {
                return fail(CKR_OPERATION_ACTIVE);
            }
            let aead = Aead::from_ckm(mech_type).ok_or(Error::new(CKR_MECHANISM_INVALID))?;
            let attrs = self.key_for(s, r, key, kind.usage(), mech_type)?;
            let value = build::aes_key(&attrs)?;
            let mut op = MessageOp::new(aead, value, kind == CryptKind::Encrypt)?;
            op.needs_login = ops::context_login(&attrs);
            if let (Some(m), false) = (r.master(), r.db.read_only()) {
                op.iv_source = Source::Token(m.iv_tag(value));
            }
            *slot(s, kind) = Some(op);
            Ok(())
        })
    }

    /// Run `f` on the session; when it needs counter values reserved first, reserve them in
    /// the token file and run it again. `p`: the message's parameters, `None` for the message
    /// in parts under way.
    fn with_ivs<T>(
        &self,
        sh: CK_SESSION_HANDLE,
        kind: CryptKind,
        p: Option<&MessageParams>,
        mut f: impl FnMut(&mut Session) -> Result<T>,
    ) -> Result<T> {
        // Another thread of this process may take the new block first; it cannot go on for
        // long, as every reservation moves the file's counter on.
        const ATTEMPTS: usize = 8;
        for _ in 0..ATTEMPTS {
            match self.with_session(sh, &mut f) {
                Err(e) if e.rv() == iv::NEED_BLOCK => {
                    if let Err(e) = self.reserve_ivs(sh, kind, p) {
                        // As any failed call, this one ends its message in parts.
                        if p.is_none() {
                            self.with_session(sh, |s| {
                                slot(s, kind).as_mut().map(MessageOp::end_message);
                                Ok(())
                            })?;
                        }
                        return Err(e);
                    }
                }
                other => return other,
            }
        }
        fail(CKR_FUNCTION_FAILED)
    }

    fn reserve_ivs(
        &self,
        sh: CK_SESSION_HANDLE,
        kind: CryptKind,
        p: Option<&MessageParams>,
    ) -> Result<()> {
        self.with_token(sh, |s, r| {
            let op = slot(s, kind)
                .as_mut()
                .ok_or(Error::new(CKR_OPERATION_NOT_INITIALIZED))?;
            let (db, master) = r.db_and_master();
            match (master, db.read_only()) {
                (Some(m), false) => {
                    if let Source::Token(tag) = op.iv_source {
                        op.refill_ivs(p, |floor, max, want| {
                            db.reserve_ivs(m, &tag, floor, max, want)
                        })?;
                    }
                }
                // Logged out since C_MessageEncryptInit: the process's own counter goes on
                // (see `mechanism::iv` for what that cannot promise).
                _ => op.iv_source = Source::Process,
            }
            Ok(())
        })
    }

    /// `C_EncryptMessage` / `C_DecryptMessage`: one whole message. An error ends the message,
    /// not the operation.
    pub fn message(
        &self,
        sh: CK_SESSION_HANDLE,
        kind: CryptKind,
        p: &MessageParams,
        aad: &[u8],
        data: &[u8],
        cap: Option<usize>,
    ) -> Result<(Out, Sealing)> {
        self.with_ivs(sh, kind, Some(p), |s| {
            let op = active(s, kind)?;
            if op.in_message() {
                return fail(CKR_OPERATION_ACTIVE);
            }
            if let Some(o) = room(cap, op.out_len(data.len())) {
                return Ok((o, None));
            }
            match kind {
                CryptKind::Encrypt => {
                    let sealed = op.encrypt(p, aad, data)?;
                    Ok((
                        Out::Data(zeroize::Zeroizing::new(sealed.ciphertext)),
                        Some((sealed.iv, sealed.tag)),
                    ))
                }
                CryptKind::Decrypt => Ok((Out::Data(op.decrypt(p, aad, data)?), None)),
            }
        })
    }

    pub fn message_begin(
        &self,
        sh: CK_SESSION_HANDLE,
        kind: CryptKind,
        p: MessageParams,
        aad: &[u8],
    ) -> Result<()> {
        self.with_session(sh, |s| active(s, kind)?.begin(p, aad))
    }

    pub fn message_next(
        &self,
        sh: CK_SESSION_HANDLE,
        kind: CryptKind,
        p: &MessageParams,
        data: &[u8],
        last: bool,
        cap: Option<usize>,
    ) -> Result<(Out, Sealing)> {
        self.with_ivs(sh, kind, None, |s| {
            let op = active(s, kind)?;
            if let Some(o) = room(cap, op.next_len(data.len(), last)?) {
                return Ok((o, None));
            }
            let (out, sealing) = op.next(p, data, last)?;
            Ok((Out::Data(out), sealing))
        })
    }

    /// The AEAD of the session's active message operation, which says how to read the
    /// per-message parameter.
    pub fn message_aead(&self, sh: CK_SESSION_HANDLE, kind: CryptKind) -> Result<Aead> {
        self.with_session(sh, |s| {
            slot(s, kind)
                .as_ref()
                .map(MessageOp::aead)
                .ok_or(Error::new(CKR_OPERATION_NOT_INITIALIZED))
        })
    }

    pub fn message_final(&self, sh: CK_SESSION_HANDLE, kind: CryptKind) -> Result<()> {
        self.with_session(sh, |s| {
            slot(s, kind)
                .take()
                .map(|_| ())
                .ok_or(Error::new(CKR_OPERATION_NOT_INITIALIZED))
        })
    }
}
