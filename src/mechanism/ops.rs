//! Operation objects: what a session keeps between `C_*Init` and the end of an encryption,
//! decryption, digest, signature or verification (PKCS#11 v3.0 §5.8-5.13). Each wraps engine
//! state; key material inside is wiped when the operation ends.

use crate::error::Result;
use zeroize::Zeroizing;

/// A multi-part encryption or decryption.
pub trait Cipher: Send {
    fn update(&mut self, input: &[u8]) -> Result<Zeroizing<Vec<u8>>>;
    fn finish(&mut self) -> Result<Zeroizing<Vec<u8>>>;
    /// An upper bound of what `update` returns for this much input (size queries).
    fn update_len(&self, input_len: usize) -> usize;
    /// An upper bound of what `finish` returns.
    fn finish_len(&self) -> usize;
    /// An upper bound of a single-part call's output for this much input.
    fn one_shot_len(&self, input_len: usize) -> usize {
        self.update_len(input_len).saturating_add(self.finish_len())
    }
    /// A single-part call: the whole input, one output. A mechanism that can do it in one step
    /// overrides this (no gathering of the input, one output buffer).
    /// A single-part call written straight into the caller's buffer, which holds at least
    /// `one_shot_len(input.len())` bytes; returns the bytes written. `None` (the default): the
    /// mechanism cannot, and nothing was done; the flow then uses [`Cipher::one_shot`].
    fn one_shot_into(&mut self, _input: &[u8], _out: &mut [u8]) -> Option<Result<usize>> {
        None
    }
    fn one_shot(&mut self, input: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let mut out = self.update(input)?;
        let last = self.finish()?;
        if out.is_empty() {
            return Ok(last);
        }
        if !last.is_empty() {
            if out.capacity() - out.len() < last.len() {
                // Growing `out` in place would leave its first part in a freed, unwiped buffer.
                let mut whole = Zeroizing::new(Vec::with_capacity(out.len() + last.len()));
                whole.extend_from_slice(&out);
                out = whole;
            }
            out.extend_from_slice(&last);
        }
        Ok(out)
    }
    /// Single-part only (AES-GCM/CCM decryption must see the whole input before it releases
    /// anything; AES-CCM needs the data length up front).
    fn single_part_only(&self) -> bool {
        false
    }
}

/// Something that consumes data and produces one value: a digest, a MAC, a signature.
pub trait Accumulate: Send {
    fn update(&mut self, data: &[u8]) -> Result<()>;
    fn finish(&mut self) -> Result<Zeroizing<Vec<u8>>>;
    /// An upper bound of the output length.
    fn out_len(&self) -> usize;
    /// A single-part call; a mechanism that can do it in one step overrides this.
    fn one_shot(&mut self, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.update(data)?;
        self.finish()
    }
    /// Mechanisms that sign raw input (CKM_RSA_PKCS, CKM_ECDSA, CKM_EDDSA) have no multi-part form.
    fn single_part_only(&self) -> bool {
        false
    }
    /// The state as bytes for `C_GetOperationState`; `None` when it cannot be saved (it holds
    /// a key, which must not leave the token this way). Wiped when dropped: it holds what the
    /// caller fed, and (had a key been fed) would hold that too.
    fn save(&self) -> Option<Zeroizing<Vec<u8>>> {
        None
    }
}

/// Verification: data in, then the signature checked.
pub trait Check: Send {
    fn update(&mut self, data: &[u8]) -> Result<()>;
    fn finish(&mut self, signature: &[u8]) -> Result<()>;
    /// A single-part call; a mechanism that can do it in one step overrides this.
    fn one_shot(&mut self, data: &[u8], signature: &[u8]) -> Result<()> {
        self.update(data)?;
        self.finish(signature)
    }
    fn single_part_only(&self) -> bool {
        false
    }
}

/// An active operation and its output held back for a caller whose buffer was too small.
pub struct Active<T: ?Sized> {
    pub op: Box<T>,
    /// Output computed for a call whose buffer was too small; the retry gets it.
    pub pending: Option<Zeroizing<Vec<u8>>>,
    /// A multi-part `Update` was called, so the single-part call is no longer allowed.
    pub multi: bool,
    /// The mechanism type, for logs and saved states.
    pub mechanism: cryptoki_sys::CK_MECHANISM_TYPE,
    /// The key is `CKA_ALWAYS_AUTHENTICATE` and no `C_Login(CKU_CONTEXT_SPECIFIC)` has been
    /// done for this operation yet.
    pub needs_login: bool,
    /// Key material went into the operation's state (`C_DigestKey`): from then on, for the
    /// rest of the operation, its state is unsaveable, since a hash state holds the data of
    /// its partial block in clear (and a SHA-3 state can be run backwards).
    pub keyed: bool,
    /// Its computation puts secrets on the stack ([`crate::mechanism::secrets_on_stack`]):
    /// each call that computes marks itself for the stack overwrite.
    pub secret_stack: bool,
}

impl<T: ?Sized> std::fmt::Debug for Active<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Active({:#x})", self.mechanism)
    }
}

impl<T: ?Sized> Active<T> {
    /// Before a call computes: mark it for the stack overwrite when it handles secrets there.
    pub fn computing(&self) {
        if self.secret_stack || self.keyed {
            crate::wipe::mark();
        }
    }

    pub fn new(op: Box<T>, mechanism: cryptoki_sys::CK_MECHANISM_TYPE) -> Self {
        Active {
            op,
            pending: None,
            multi: false,
            mechanism,
            needs_login: false,
            keyed: false,
            secret_stack: false,
        }
    }

    /// Marks the operation as needing `C_Login(CKU_CONTEXT_SPECIFIC)` when its key is
    /// `CKA_ALWAYS_AUTHENTICATE`.
    pub fn login_if(mut self, key: &crate::object::attr::Attributes) -> Self {
        self.needs_login = context_login(key);
        self
    }
}

/// Whether an operation with this key waits for `C_Login(CKU_CONTEXT_SPECIFIC)` before it may
/// produce anything (v3.0 §4.9 CKA_ALWAYS_AUTHENTICATE).
pub fn context_login(key: &crate::object::attr::Attributes) -> bool {
    key.flag(cryptoki_sys::CKA_ALWAYS_AUTHENTICATE)
}

/// The operations a session may have active at once, one of each kind.
#[derive(Debug, Default)]
pub struct Ops {
    pub encrypt: Option<Active<dyn Cipher>>,
    pub decrypt: Option<Active<dyn Cipher>>,
    pub digest: Option<Active<dyn Accumulate>>,
    pub sign: Option<Active<dyn Accumulate>>,
    pub verify: Option<Active<dyn Check>>,
    /// `C_SignRecover`: the signature is the output.
    pub sign_recover: Option<Active<dyn Accumulate>>,
    /// `C_VerifyRecover`: the signature is the input, the recovered data the output.
    pub verify_recover: Option<Active<dyn Cipher>>,
    pub message_encrypt: Option<super::message::MessageOp>,
    pub message_decrypt: Option<super::message::MessageOp>,
}

impl Ops {
    /// The "needs `C_Login(CKU_CONTEXT_SPECIFIC)`" flag of each active operation that can use
    /// a private or secret key for a protected purpose.
    pub fn login_flags(&mut self) -> [Option<&mut bool>; 6] {
        [
            self.encrypt.as_mut().map(|a| &mut a.needs_login),
            self.decrypt.as_mut().map(|a| &mut a.needs_login),
            self.sign.as_mut().map(|a| &mut a.needs_login),
            self.sign_recover.as_mut().map(|a| &mut a.needs_login),
            self.message_encrypt.as_mut().map(|a| &mut a.needs_login),
            self.message_decrypt.as_mut().map(|a| &mut a.needs_login),
        ]
    }
}

/// What an output-producing call gives back to the C layer.
#[derive(Debug)]
pub enum Out {
    /// A size query (NULL output buffer): the length needed.
    Len(usize),
    /// The output, which fits the caller's buffer.
    Data(Zeroizing<Vec<u8>>),
    /// The buffer was too small: the length needed (the operation stays active).
    TooSmall(usize),
    /// The output was written straight into the caller's buffer: its length.
    Written(usize),
}
