//! The one operation flow of the cryptographic functions (PKCS#11 v3.0 §5.8-5.13): `C_*Init`,
//! the single-part call, `C_*Update` and `C_*Final` of encryption, decryption, digests,
//! signatures, verification and the recover functions. What differs between these families
//! is data: [`Family`] (where the session keeps the operation, the key's usage attribute, the
//! builder, the context login) and [`Shape`] (whether a part has output, what the end takes).
//!
//! The rules, once for all: a size query or a short buffer keeps the operation (and the output
//! already computed, which the retry gets); any other failure of a call that computes ends it;
//! without the context-specific login an operation computes nothing and ends; the single-part
//! call after an `Update` is `CKR_OPERATION_ACTIVE` and ends the operation.

use super::Module;
use crate::error::{fail, Error, Result};
use crate::mechanism::build;
use crate::mechanism::ops::{self, Accumulate, Active, Check, Cipher, Ops, Out};
use crate::mechanism::policy::{self, Purpose};
use crate::mechanism::Mechanism;
use crate::object::attr::Attributes;
use cryptoki_sys::*;
use zeroize::{Zeroize, Zeroizing};

/// Encryption or decryption (the two directions of the cipher and message functions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptKind {
    Encrypt,
    Decrypt,
}

impl CryptKind {
    /// The key attribute that must allow this direction.
    pub const fn usage(self) -> CK_ATTRIBUTE_TYPE {
        match self {
            CryptKind::Encrypt => CKA_ENCRYPT,
            CryptKind::Decrypt => CKA_DECRYPT,
        }
    }
}

/// One function family: where a session keeps its operation.
pub trait Family {
    type Op: ?Sized + Shape;
    fn slot(ops: &mut Ops) -> &mut Option<Active<Self::Op>>;
}

/// A family whose operation runs with a key object.
pub trait Keyed: Family {
    /// The attribute the key must have set.
    const USAGE: CK_ATTRIBUTE_TYPE;
    /// Whether a `CKA_ALWAYS_AUTHENTICATE` key makes the operation wait for
    /// `C_Login(CKU_CONTEXT_SPECIFIC)` (the functions that use a private or secret key).
    const CONTEXT_LOGIN: bool;
    fn build(mech: &Mechanism, key: &Attributes) -> Result<Box<Self::Op>>;
}

/// The calls of an operation as the flow sees them. `tail` is what the end takes besides the
/// data: the signature of a verification, nothing elsewhere.
pub trait Shape {
    /// `C_*Update` produces output (encryption, decryption). Without output an update leaves
    /// the held-back output of a short buffer alone.
    const PART_OUTPUT: bool;
    fn part(&mut self, input: &[u8]) -> Result<Zeroizing<Vec<u8>>>;
    fn part_len(&self, input_len: usize) -> usize;
    fn whole(&mut self, data: &[u8], tail: &[u8]) -> Result<Zeroizing<Vec<u8>>>;
    fn whole_len(&self, input_len: usize) -> usize;
    fn last(&mut self, tail: &[u8]) -> Result<Zeroizing<Vec<u8>>>;
    fn last_len(&self) -> usize;
    fn single_part_only(&self) -> bool;
    /// [`Shape::whole`] into the caller's buffer (at least `whole_len` bytes); `None`: not
    /// possible for this operation, nothing done.
    fn whole_into(&mut self, _data: &[u8], _tail: &[u8], _out: &mut [u8]) -> Option<Result<usize>> {
        None
    }
}

/// No output; allocates nothing.
fn nothing() -> Zeroizing<Vec<u8>> {
    Zeroizing::new(Vec::new())
}

impl Shape for dyn Cipher {
    const PART_OUTPUT: bool = true;
    fn part(&mut self, input: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.update(input)
    }
    fn part_len(&self, n: usize) -> usize {
        self.update_len(n)
    }
    fn whole(&mut self, data: &[u8], _: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.one_shot(data)
    }
    fn whole_len(&self, n: usize) -> usize {
        self.one_shot_len(n)
    }
    fn whole_into(&mut self, data: &[u8], _: &[u8], out: &mut [u8]) -> Option<Result<usize>> {
        self.one_shot_into(data, out)
    }
    fn last(&mut self, _: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.finish()
    }
    fn last_len(&self) -> usize {
        self.finish_len()
    }
    fn single_part_only(&self) -> bool {
        Cipher::single_part_only(self)
    }
}

impl Shape for dyn Accumulate {
    const PART_OUTPUT: bool = false;
    fn part(&mut self, input: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.update(input).map(|()| nothing())
    }
    fn part_len(&self, _: usize) -> usize {
        0
    }
    fn whole(&mut self, data: &[u8], _: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.one_shot(data)
    }
    fn whole_len(&self, _: usize) -> usize {
        self.out_len()
    }
    fn last(&mut self, _: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.finish()
    }
    fn last_len(&self) -> usize {
        self.out_len()
    }
    fn single_part_only(&self) -> bool {
        Accumulate::single_part_only(self)
    }
}

impl Shape for dyn Check {
    const PART_OUTPUT: bool = false;
    fn part(&mut self, input: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.update(input).map(|()| nothing())
    }
    fn part_len(&self, _: usize) -> usize {
        0
    }
    fn whole(&mut self, data: &[u8], signature: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.one_shot(data, signature).map(|()| nothing())
    }
    fn whole_len(&self, _: usize) -> usize {
        0
    }
    fn last(&mut self, signature: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.finish(signature).map(|()| nothing())
    }
    fn last_len(&self) -> usize {
        0
    }
    fn single_part_only(&self) -> bool {
        Check::single_part_only(self)
    }
}

/// The families, each a type: the C entry points name theirs (`op_init::<Sign>`).
macro_rules! families {
    ($($(#[$doc:meta])* $name:ident: $op:ty, $slot:ident, $usage:expr, $login:expr,
        |$mech:ident, $key:ident| $build:expr;)*) => {$(
        $(#[$doc])*
        #[derive(Debug)]
        pub enum $name {}

        impl Family for $name {
            type Op = $op;
            fn slot(ops: &mut Ops) -> &mut Option<Active<$op>> {
                &mut ops.$slot
            }
        }

        impl Keyed for $name {
            const USAGE: CK_ATTRIBUTE_TYPE = $usage;
            const CONTEXT_LOGIN: bool = $login;
            fn build($mech: &Mechanism, $key: &Attributes) -> Result<Box<$op>> {
                $build
            }
        }
    )*};
}

families! {
    /// `C_EncryptInit`, `C_Encrypt`, `C_EncryptUpdate`, `C_EncryptFinal`.
    Encrypt: dyn Cipher, encrypt, CryptKind::Encrypt.usage(), true,
        |m, k| build::cipher(m, k, true);
    /// `C_DecryptInit`, `C_Decrypt`, `C_DecryptUpdate`, `C_DecryptFinal`.
    Decrypt: dyn Cipher, decrypt, CryptKind::Decrypt.usage(), true,
        |m, k| build::cipher(m, k, false);
    /// `C_SignInit`, `C_Sign`, `C_SignUpdate`, `C_SignFinal` (signatures and MACs).
    Sign: dyn Accumulate, sign, CKA_SIGN, true, |m, k| build::signer(m, k);
    /// `C_VerifyInit`, `C_Verify`, `C_VerifyUpdate`, `C_VerifyFinal`.
    Verify: dyn Check, verify, CKA_VERIFY, false, |m, k| build::verifier(m, k);
    /// `C_SignRecoverInit`, `C_SignRecover`.
    SignRecover: dyn Accumulate, sign_recover, CKA_SIGN_RECOVER, true,
        |m, k| build::sign_recoverer(m, k);
    /// `C_VerifyRecoverInit`, `C_VerifyRecover`.
    VerifyRecover: dyn Cipher, verify_recover, CKA_VERIFY_RECOVER, false,
        |m, k| build::verify_recoverer(m, k);
}

/// `C_DigestInit`, `C_Digest`, `C_DigestUpdate`, `C_DigestFinal` (no key: see
/// [`Module::digest_init`]).
#[derive(Debug)]
pub enum Digest {}

impl Family for Digest {
    type Op = dyn Accumulate;
    fn slot(ops: &mut Ops) -> &mut Option<Active<dyn Accumulate>> {
        &mut ops.digest
    }
}

/// The size-query convention for an output of `need` bytes: `None` when the caller's buffer
/// holds it.
pub(super) fn room(cap: Option<usize>, need: usize) -> Option<Out> {
    match cap {
        None => Some(Out::Len(need)),
        Some(c) if c < need => Some(Out::TooSmall(need)),
        Some(_) => None,
    }
}

/// `C_*Init` finds the family's operation idle.
fn idle<T: ?Sized>(slot: &Option<Active<T>>) -> Result<()> {
    match slot {
        Some(_) => fail(CKR_OPERATION_ACTIVE),
        None => Ok(()),
    }
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
        if cap.is_none() {
            return Ok(Out::Len(bound(&act.op)));
        }
        // Without the context-specific login this is a failed call, and a failed C_Sign or
        // C_Decrypt ends its operation (v3.0 §5.13, §5.10): the caller starts again with Init.
        if act.needs_login {
            *slot = None;
            return fail(CKR_USER_NOT_LOGGED_IN);
        }
        act.computing();
        match compute(&mut act.op) {
            Ok(v) => v,
            Err(e) => {
                *slot = None;
                return Err(e);
            }
        }
    };
    if let Some(o) = room(cap, out.len()) {
        act.pending = Some(out);
        return Ok(o);
    }
    if ends {
        *slot = None;
    }
    Ok(Out::Data(out))
}

/// The single-part call. `cap` is the caller's room for output (`None`: a size query); a
/// function without output passes `Some(0)`. `direct` is the caller's output buffer itself when
/// it may be written in place (it does not overlap the input): an operation that can write
/// its whole output there does, with no buffer of its own in between.
fn single<T: Shape + ?Sized>(
    slot: &mut Option<Active<T>>,
    data: &[u8],
    tail: &[u8],
    cap: Option<usize>,
    direct: Option<&mut [u8]>,
) -> Result<Out> {
    if slot.as_ref().is_some_and(|a| a.multi) {
        *slot = None;
        return fail(CKR_OPERATION_ACTIVE);
    }
    if let (Some(out), Some(act)) = (direct, slot.as_mut()) {
        if act.pending.is_none() && !act.needs_login && out.len() >= act.op.whole_len(data.len()) {
            act.computing();
            if let Some(r) = act.op.whole_into(data, tail, &mut *out) {
                // Done either way: a single-part call ends its operation on success, and a
                // failed one (wrong padding, a tag that does not verify) leaves nothing of its
                // output behind in the caller's buffer.
                *slot = None;
                return r.map(Out::Written).inspect_err(|_| out.zeroize());
            }
        }
    }
    produce(
        slot,
        cap,
        true,
        |op| op.whole_len(data.len()),
        |op| op.whole(data, tail),
    )
}

/// `C_*Update` (and `C_DigestKey`'s part); `cap` as for [`single`].
pub(super) fn update<T: Shape + ?Sized>(
    slot: &mut Option<Active<T>>,
    data: &[u8],
    cap: Option<usize>,
) -> Result<Out> {
    let act = slot
        .as_mut()
        .ok_or(Error::new(CKR_OPERATION_NOT_INITIALIZED))?;
    if act.op.single_part_only() {
        *slot = None;
        return fail(CKR_MECHANISM_INVALID);
    }
    if act.needs_login && cap.is_some() {
        *slot = None;
        return fail(CKR_USER_NOT_LOGGED_IN);
    }
    act.multi = true;
    if T::PART_OUTPUT {
        // The bound a size query answers is the room a part needs: a smaller buffer is refused
        // before anything is consumed (as SoftHSMv2 does), so a client that queries first, or
        // retries after CKR_BUFFER_TOO_SMALL, feeds each part exactly once.
        if let (Some(c), None) = (cap, &act.pending) {
            let need = act.op.part_len(data.len());
            if c < need {
                return Ok(Out::TooSmall(need));
            }
        }
    }
    act.computing();
    if T::PART_OUTPUT {
        return produce(
            slot,
            cap,
            false,
            |op| op.part_len(data.len()),
            |op| op.part(data),
        );
    }
    match act.op.part(data) {
        Ok(_) => Ok(Out::Data(nothing())),
        Err(e) => {
            *slot = None;
            Err(e)
        }
    }
}

/// `C_*Final`; `cap` as for [`single`].
fn finish<T: Shape + ?Sized>(
    slot: &mut Option<Active<T>>,
    tail: &[u8],
    cap: Option<usize>,
) -> Result<Out> {
    produce(slot, cap, true, |op| op.last_len(), |op| op.last(tail))
}

impl Module {
    /// `C_*Init` of a family with a key.
    pub fn op_init<F: Keyed>(
        &self,
        sh: CK_SESSION_HANDLE,
        mech_type: CK_MECHANISM_TYPE,
        mech: &Mechanism,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        self.with_token(sh, |s, r| {
            idle(F::slot(&mut s.ops))?;
            let attrs = self.key_for(s, r, key, F::USAGE, mech_type)?;
            let mut act = Active::new(F::build(mech, &attrs)?, mech_type);
            act.needs_login = F::CONTEXT_LOGIN && ops::context_login(&attrs);
            act.secret_stack = crate::mechanism::secrets_on_stack(mech_type, &attrs);
            *F::slot(&mut s.ops) = Some(act);
            Ok(())
        })
    }

    /// `C_DigestInit`: the one family without a key, so without the token.
    pub fn digest_init(
        &self,
        sh: CK_SESSION_HANDLE,
        mech_type: CK_MECHANISM_TYPE,
        mech: &Mechanism,
    ) -> Result<()> {
        self.with_session(sh, |s| {
            let policy = self.slot_policy(s.slot.id)?;
            let slot = Digest::slot(&mut s.ops);
            idle(slot)?;
            policy::allows_mechanism(policy, mech_type, Purpose::Digest)?;
            *slot = Some(Active::new(build::digester(mech)?, mech_type));
            Ok(())
        })
    }

    /// The single-part call (`C_Encrypt`, `C_Sign`, `C_Verify`, `C_SignRecover`, ...): `data`
    /// in, `tail` the signature a verification checks. `cap` is the caller's room for output
    /// (`None`: a size query; `Some(0)` for a function without output).
    pub fn op_single<F: Family>(
        &self,
        sh: CK_SESSION_HANDLE,
        data: &[u8],
        tail: &[u8],
        cap: Option<usize>,
        direct: Option<&mut [u8]>,
    ) -> Result<Out> {
        self.with_session(sh, |s| single(F::slot(&mut s.ops), data, tail, cap, direct))
    }

    /// End the family's operation, if any, after a call that failed before reaching it (its
    /// arguments could not be read).
    pub fn op_end<F: Family>(&self, sh: CK_SESSION_HANDLE) {
        let _ = self.with_session(sh, |s| {
            *F::slot(&mut s.ops) = None;
            Ok(())
        });
    }

    /// `C_*Update`; `cap` as for [`Module::op_single`].
    pub fn op_update<F: Family>(
        &self,
        sh: CK_SESSION_HANDLE,
        data: &[u8],
        cap: Option<usize>,
    ) -> Result<Out> {
        self.with_session(sh, |s| update(F::slot(&mut s.ops), data, cap))
    }

    /// `C_*Final`: `tail` the signature a verification checks; `cap` as for
    /// [`Module::op_single`].
    pub fn op_final<F: Family>(
        &self,
        sh: CK_SESSION_HANDLE,
        tail: &[u8],
        cap: Option<usize>,
    ) -> Result<Out> {
        self.with_session(sh, |s| finish(F::slot(&mut s.ops), tail, cap))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A cipher that counts its computations and outputs its input, then `tail` at the end.
    struct Echo {
        calls: usize,
        tail: &'static [u8],
        fail: bool,
    }

    impl Cipher for Echo {
        fn update(&mut self, input: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
            self.calls += 1;
            if self.fail {
                return fail(CKR_DATA_INVALID);
            }
            Ok(Zeroizing::new(input.to_vec()))
        }
        fn finish(&mut self) -> Result<Zeroizing<Vec<u8>>> {
            Ok(Zeroizing::new(self.tail.to_vec()))
        }
        fn update_len(&self, n: usize) -> usize {
            n
        }
        fn finish_len(&self) -> usize {
            self.tail.len()
        }
    }

    fn echo(tail: &'static [u8], fail: bool) -> Option<Active<dyn Cipher>> {
        let op: Box<dyn Cipher> = Box::new(Echo {
            calls: 0,
            tail,
            fail,
        });
        Some(Active::new(op, CKM_AES_ECB))
    }

    fn data(o: Out) -> Vec<u8> {
        match o {
            Out::Data(d) => d.to_vec(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn one_shot_joins_the_parts() {
        let mut slot = echo(b"!!", false);
        let out = single(&mut slot, b"abc", &[], Some(5), None).unwrap();
        assert_eq!(data(out), b"abc!!");
        assert!(slot.is_none());
    }

    #[test]
    fn a_short_buffer_keeps_the_output_for_the_retry() {
        let mut slot = echo(b"", false);
        assert!(matches!(
            single(&mut slot, b"abcd", &[], Some(2), None),
            Ok(Out::TooSmall(4))
        ));
        // The retry gets the output computed before, whatever data it passes.
        let out = single(&mut slot, b"zz", &[], Some(4), None).unwrap();
        assert_eq!(data(out), b"abcd");
        assert!(slot.is_none());
    }

    #[test]
    fn a_size_query_computes_nothing() {
        let mut slot = echo(b"", false);
        assert!(matches!(
            single(&mut slot, b"abcd", &[], None, None),
            Ok(Out::Len(4))
        ));
        assert!(slot.as_ref().is_some_and(|a| a.pending.is_none()));
    }

    #[test]
    fn single_part_after_update_ends_the_operation() {
        let mut slot = echo(b"", false);
        data(update(&mut slot, b"ab", Some(2)).unwrap());
        let e = single(&mut slot, b"cd", &[], Some(2), None).unwrap_err();
        assert_eq!(e.rv(), CKR_OPERATION_ACTIVE);
        assert!(slot.is_none());
    }

    #[test]
    fn a_failed_call_ends_the_operation() {
        let mut slot = echo(b"", true);
        let e = update(&mut slot, b"ab", Some(2)).unwrap_err();
        assert_eq!(e.rv(), CKR_DATA_INVALID);
        assert!(slot.is_none());
    }

    #[test]
    fn without_the_context_login_nothing_is_computed_and_the_operation_ends() {
        let mut slot = echo(b"", false);
        if let Some(a) = slot.as_mut() {
            a.needs_login = true;
        }
        // A size query is no failed call.
        assert!(matches!(update(&mut slot, b"ab", None), Ok(Out::Len(2))));
        let e = finish(&mut slot, &[], Some(8)).unwrap_err();
        assert_eq!(e.rv(), CKR_USER_NOT_LOGGED_IN);
        assert!(slot.is_none());
    }
}
