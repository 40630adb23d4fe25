//! The shapes operations take, shared by the families: engine ciphers that already stream,
//! single-part mechanisms gathered from parts, and signatures over a running hash or the raw
//! input (PKCS#11 v3.0 §5.8-5.13, the multi-part forms of each function).

use super::ops::{Accumulate, Check, Cipher};
use super::Hash;
use crate::crypto::aes::{AesKey, BlockStream, Gcm};
use crate::crypto::block::BlockKey;
use crate::crypto::digest::Hasher;
use crate::error::{Error, Result};
use cryptoki_sys::*;
use zeroize::Zeroizing;

/// The engine's streaming ciphers already have the shape of [`Cipher`]: forward to them.
macro_rules! streaming_cipher {
    ($vis:vis $name:ident, $inner:ty $(, $extra:item)*) => {
        $vis struct $name(pub(super) $inner);

        impl Cipher for $name {
            fn update(&mut self, input: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
                self.0.update(input)
            }
            fn finish(&mut self) -> Result<Zeroizing<Vec<u8>>> {
                self.0.finish()
            }
            fn update_len(&self, n: usize) -> usize {
                self.0.update_len(n)
            }
            fn finish_len(&self) -> usize {
                self.0.finish_len()
            }
            fn one_shot_len(&self, n: usize) -> usize {
                self.0.one_shot_len(n)
            }
            $($extra)*
        }
    };
}

/// A block-mode stream (ECB, CBC, CBC-PAD, CTR, CTS) of AES or of another block cipher.
pub(super) struct Stream<K: BlockKey = AesKey>(pub(super) BlockStream<K>);

impl<K: BlockKey> Cipher for Stream<K> {
    fn update(&mut self, input: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.0.update(input)
    }
    fn finish(&mut self) -> Result<Zeroizing<Vec<u8>>> {
        self.0.finish()
    }
    fn update_len(&self, n: usize) -> usize {
        self.0.update_len(n)
    }
    fn finish_len(&self) -> usize {
        self.0.finish_len()
    }
    fn one_shot_len(&self, n: usize) -> usize {
        self.0.one_shot_len(n)
    }
    // Whole blocks straight into the caller's buffer (CBC as one bulk call), then the end.
    fn one_shot_into(&mut self, input: &[u8], out: &mut [u8]) -> Option<Result<usize>> {
        let run = |c: &mut BlockStream<K>, out: &mut [u8]| -> Result<usize> {
            let n = c.update_into(input, out)?;
            let last = c.finish()?;
            out.get_mut(n..n + last.len())
                .ok_or(crate::error::Error::new(cryptoki_sys::CKR_BUFFER_TOO_SMALL))?
                .copy_from_slice(&last);
            Ok(n + last.len())
        };
        Some(run(&mut self.0, out))
    }
}

streaming_cipher!(
    pub(super) GcmOp,
    Gcm,
    // One pass from the caller's input into one output buffer.
    fn one_shot(&mut self, input: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(vec![0u8; self.0.one_shot_len(input.len())]);
        let n = self.0.one_shot_into(input, &mut out)?;
        out.truncate(n);
        Ok(out)
    },
    fn one_shot_into(&mut self, input: &[u8], out: &mut [u8]) -> Option<Result<usize>> {
        Some(self.0.one_shot_into(input, out))
    }
);

// issue 12: the AES stream modes (OFB, CFB) and XTS.
streaming_cipher!(pub(super) StreamOp, crate::crypto::aes::StreamMode);
streaming_cipher!(pub(super) XtsOp, crate::crypto::aes::Xts);

pub(super) type OneShot = Box<dyn FnMut(&[u8]) -> Result<Zeroizing<Vec<u8>>> + Send>;

/// A mechanism that needs all input before it can produce anything (CCM, key wrap, RSA): the
/// updates gather, the end computes.
struct Buffered {
    data: Zeroizing<Vec<u8>>,
    run: OneShot,
    bound: Box<dyn Fn(usize) -> usize + Send>,
}

impl Cipher for Buffered {
    fn update(&mut self, input: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.data.extend_from_slice(input);
        Ok(Zeroizing::new(Vec::new()))
    }
    fn finish(&mut self) -> Result<Zeroizing<Vec<u8>>> {
        let data = std::mem::take(&mut *self.data);
        let data = Zeroizing::new(data);
        (self.run)(&data)
    }
    /// Nothing comes out before the end, but the answer is what was fed and this part (as for
    /// AES-GCM decryption): a size query of 0 would make a client that passes NULL for an
    /// empty buffer (PyKCS11) query again instead of feeding the part.
    fn update_len(&self, n: usize) -> usize {
        self.data.len().saturating_add(n)
    }
    fn finish_len(&self) -> usize {
        (self.bound)(self.data.len())
    }
    fn one_shot_len(&self, n: usize) -> usize {
        (self.bound)(self.data.len().saturating_add(n))
    }
}

/// Mechanisms the specification defines as single-part only (raw RSA, CCM, key wrap) still
/// accept multi-part calls here by gathering the parts, as clients such as pkcs11-tool expect.
pub(super) fn buffered(
    bound: impl Fn(usize) -> usize + Send + 'static,
    run: OneShot,
) -> Box<dyn Cipher> {
    Box::new(Buffered {
        data: Zeroizing::new(Vec::new()),
        run,
        bound: Box::new(bound),
    })
}

pub(super) fn zero_out(v: Vec<u8>) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(v)
}

pub(super) type SignFn = Box<dyn Fn(&[u8]) -> Result<Vec<u8>> + Send>;
pub(super) type VerifyFn = Box<dyn Fn(&[u8], &[u8]) -> Result<()> + Send>;

/// What a signature mechanism feeds its key: a running hash, or the raw input (single-part).
enum Input {
    Hash(Option<Box<Hasher>>),
    Raw(Zeroizing<Vec<u8>>),
}

impl Input {
    fn new(hash: Option<Hash>) -> Input {
        match hash {
            Some(h) => Input::Hash(Some(Box::new(Hasher::new(h.engine())))),
            None => Input::Raw(Zeroizing::new(Vec::new())),
        }
    }
    fn update(&mut self, d: &[u8]) -> Result<()> {
        match self {
            Input::Hash(h) => h
                .as_mut()
                .ok_or(Error::new(CKR_OPERATION_NOT_INITIALIZED))?
                .update(d),
            Input::Raw(v) => v.extend_from_slice(d),
        }
        Ok(())
    }
    fn take(&mut self) -> Result<Zeroizing<Vec<u8>>> {
        match self {
            Input::Hash(h) => Ok(Zeroizing::new(
                h.take()
                    .ok_or(Error::new(CKR_OPERATION_NOT_INITIALIZED))?
                    .finalize(),
            )),
            Input::Raw(v) => Ok(Zeroizing::new(std::mem::take(&mut **v))),
        }
    }
}

struct SignOp {
    input: Input,
    sign: SignFn,
    len: usize,
}

impl Accumulate for SignOp {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.input.update(data)
    }
    fn finish(&mut self) -> Result<Zeroizing<Vec<u8>>> {
        let m = self.input.take()?;
        (self.sign)(&m).map(Zeroizing::new)
    }
    fn out_len(&self) -> usize {
        self.len
    }
}

struct VerifyOp {
    input: Input,
    verify: VerifyFn,
}

impl Check for VerifyOp {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.input.update(data)
    }
    fn finish(&mut self, signature: &[u8]) -> Result<()> {
        let m = self.input.take()?;
        (self.verify)(&m, signature)
    }
}

/// A signature over a running `hash` of the input, or over the raw input when `None`.
pub(super) fn sign_op(hash: Option<Hash>, sign: SignFn, len: usize) -> Box<dyn Accumulate> {
    Box::new(SignOp {
        input: Input::new(hash),
        sign,
        len,
    })
}

/// A verification over a running `hash` of the input, or over the raw input when `None`.
pub(super) fn verify_op(hash: Option<Hash>, verify: VerifyFn) -> Box<dyn Check> {
    Box::new(VerifyOp {
        input: Input::new(hash),
        verify,
    })
}
