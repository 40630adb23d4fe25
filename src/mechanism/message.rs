//! Message-based encryption and decryption with AES-GCM and AES-CCM: one key set up once,
//! then many messages, each with its own IV/nonce, AAD and tag (PKCS#11 v3.0 §5.11 and §5.13;
//! parameters CK_GCM_MESSAGE_PARAMS and CK_CCM_MESSAGE_PARAMS, Current Mechanisms §2.14.4).

use crate::crypto::aes;
use crate::error::{fail, Error, Result};
use cryptoki_sys::*;
use zeroize::Zeroizing;

/// Which AEAD a message operation uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aead {
    Gcm,
    Ccm,
}

impl Aead {
    pub fn from_ckm(m: CK_MECHANISM_TYPE) -> Option<Self> {
        match m {
            CKM_AES_GCM => Some(Aead::Gcm),
            CKM_AES_CCM => Some(Aead::Ccm),
            _ => None,
        }
    }
}

/// One message's parameters, copied out of the caller's structure. For encryption `tag` is
/// only its length (the module writes it); for decryption it is the tag to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageParams {
    pub aead: Aead,
    /// The IV (GCM) or nonce (CCM) as the caller passed it.
    pub iv: Vec<u8>,
    /// How many leading bits of `iv` a generator keeps.
    pub fixed_bits: CK_ULONG,
    pub generator: CK_GENERATOR_FUNCTION,
    /// The tag (decryption) or zeros of the tag's length (encryption).
    pub tag: Vec<u8>,
    /// CCM only: the message length announced up front.
    pub data_len: Option<usize>,
}

/// What encrypting one message gives: the ciphertext, the IV actually used (to be written
/// back when the module generated it) and the tag.
#[derive(Debug)]
pub struct Sealed {
    pub ciphertext: Vec<u8>,
    pub iv: Option<Vec<u8>>,
    pub tag: Vec<u8>,
}

/// After an encryption: the IV to write back (when the module generated it) and the tag.
pub type Sealing = Option<(Option<Vec<u8>>, Vec<u8>)>;

/// A message split over `C_EncryptMessageBegin`/`Next`: the whole message is gathered and
/// processed at the part flagged `CKF_END_OF_MESSAGE` (GCM decryption must not release
/// plaintext before the tag is checked, and CCM needs the whole message anyway).
struct Partial {
    params: MessageParams,
    aad: Vec<u8>,
    data: Zeroizing<Vec<u8>>,
}

/// An active message-based encryption or decryption.
pub struct MessageOp {
    aead: Aead,
    key: Zeroizing<Vec<u8>>,
    encrypt: bool,
    /// The key's entry in the table of generated IVs (encryption only).
    key_id: Option<super::iv::KeyId>,
    /// Where the key's counter values come from (see [`super::iv`]).
    pub iv_source: super::iv::Source,
    partial: Option<Partial>,
    /// Needs `C_Login(CKU_CONTEXT_SPECIFIC)` before the next message (CKA_ALWAYS_AUTHENTICATE).
    pub needs_login: bool,
}

impl std::fmt::Debug for MessageOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MessageOp({:?}, encrypt={})", self.aead, self.encrypt)
    }
}

fn param_invalid<T>() -> Result<T> {
    fail(CKR_MECHANISM_PARAM_INVALID)
}

impl MessageOp {
    pub fn new(aead: Aead, key: &[u8], encrypt: bool) -> Result<Self> {
        // Checks the key length now rather than at the first message.
        aes::AesKey::new(key)?;
        Ok(MessageOp {
            aead,
            key: Zeroizing::new(key.to_vec()),
            encrypt,
            key_id: if encrypt {
                Some(super::iv::KeyId::of(key)?)
            } else {
                None
            },
            iv_source: super::iv::Source::Process,
            partial: None,
            needs_login: false,
        })
    }

    pub fn aead(&self) -> Aead {
        self.aead
    }

    /// End the message in parts under way, if any (a failed call ends its message).
    pub fn end_message(&mut self) {
        self.partial = None;
    }

    /// A multi-part message is under way (single-part calls are refused meanwhile).
    pub fn in_message(&self) -> bool {
        self.partial.is_some()
    }

    /// The IV to use: the caller's, or one generated as the parameters ask (see
    /// [`super::iv`] for the rules that keep generated IVs unique per key).
    fn iv_for(&self, p: &MessageParams) -> Result<(Vec<u8>, bool)> {
        let key_id = match self.key_id {
            Some(k) if self.encrypt && p.generator != CKG_NO_GENERATE => k,
            _ => return Ok((p.iv.clone(), false)),
        };
        let iv = super::iv::generate(key_id, self.iv_source, p.generator, p.fixed_bits, &p.iv)?;
        Ok((iv, true))
    }

    /// After `iv::NEED_BLOCK`: reserve counter values through `reserve` for the message of
    /// `p`, or for the message in parts under way when `p` is `None`.
    pub fn refill_ivs(
        &self,
        p: Option<&MessageParams>,
        reserve: impl FnOnce(u64, u64, u64) -> Result<Option<crate::store::IvBlock>>,
    ) -> Result<()> {
        let p = p
            .or(self.partial.as_ref().map(|part| &part.params))
            .ok_or(Error::new(CKR_OPERATION_NOT_INITIALIZED))?;
        match (self.key_id, self.iv_source) {
            (Some(k), super::iv::Source::Token(tag)) => {
                super::iv::refill(k, tag, p.generator, p.fixed_bits, &p.iv, reserve)
            }
            _ => Ok(()),
        }
    }

    fn check(&self, p: &MessageParams) -> Result<()> {
        if p.aead != self.aead {
            return param_invalid();
        }
        Ok(())
    }

    /// Output length for this much input (GCM and CCM keep the tag apart).
    pub fn out_len(&self, input_len: usize) -> usize {
        input_len
    }

    /// Encrypt one whole message.
    pub fn encrypt(&mut self, p: &MessageParams, aad: &[u8], data: &[u8]) -> Result<Sealed> {
        self.check(p)?;
        if !self.encrypt {
            return fail(CKR_OPERATION_NOT_INITIALIZED);
        }
        if p.data_len.is_some_and(|l| l != data.len()) {
            return fail(CKR_DATA_LEN_RANGE);
        }
        let iv = self.iv_for(p)?;
        self.seal(p, iv, aad, data)
    }

    fn seal(
        &self,
        p: &MessageParams,
        (iv, generated): (Vec<u8>, bool),
        aad: &[u8],
        data: &[u8],
    ) -> Result<Sealed> {
        let tag_len = p.tag.len();
        let mut out = match self.aead {
            Aead::Gcm => aes::gcm_encrypt(&self.key, &iv, aad, tag_len, data)?,
            Aead::Ccm => aes::ccm_encrypt(&self.key, &iv, aad, tag_len, data)?,
        };
        let tag = out.split_off(out.len().saturating_sub(tag_len));
        Ok(Sealed {
            ciphertext: out,
            iv: generated.then_some(iv),
            tag,
        })
    }

    /// Decrypt one whole message, checking its tag.
    pub fn decrypt(
        &mut self,
        p: &MessageParams,
        aad: &[u8],
        data: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        self.check(p)?;
        if self.encrypt {
            return fail(CKR_OPERATION_NOT_INITIALIZED);
        }
        if p.data_len.is_some_and(|l| l != data.len()) {
            return fail(CKR_ENCRYPTED_DATA_LEN_RANGE);
        }
        let mut input = Zeroizing::new(Vec::with_capacity(data.len() + p.tag.len()));
        input.extend_from_slice(data);
        input.extend_from_slice(&p.tag);
        match self.aead {
            Aead::Gcm => aes::gcm_decrypt(&self.key, &p.iv, aad, p.tag.len(), &input),
            Aead::Ccm => aes::ccm_decrypt(&self.key, &p.iv, aad, p.tag.len(), &input),
        }
    }

    /// `C_*MessageBegin`: remember the parameters and AAD of a message sent in parts.
    pub fn begin(&mut self, p: MessageParams, aad: &[u8]) -> Result<()> {
        self.check(&p)?;
        if self.partial.is_some() {
            return fail(CKR_OPERATION_ACTIVE);
        }
        self.partial = Some(Partial {
            params: p,
            aad: aad.to_vec(),
            data: Zeroizing::new(Vec::new()),
        });
        Ok(())
    }

    /// The output length of a `C_*MessageNext` call with this much input.
    pub fn next_len(&self, input_len: usize, last: bool) -> Result<usize> {
        let part = self
            .partial
            .as_ref()
            .ok_or(Error::new(CKR_OPERATION_NOT_INITIALIZED))?;
        Ok(if last {
            part.data.len().saturating_add(input_len)
        } else {
            0
        })
    }

    /// `C_*MessageNext`: gather a part; at the last part process the whole message. Gives the
    /// output for this call, and for encryption the sealed message's IV and tag at the end.
    /// For decryption the tag is taken from the last part's parameters.
    pub fn next(
        &mut self,
        p: &MessageParams,
        data: &[u8],
        last: bool,
    ) -> Result<(Zeroizing<Vec<u8>>, Sealing)> {
        self.check(p)?;
        let encrypt = self.encrypt;
        // The IV comes first, before this part is gathered: a `NEED_BLOCK` leaves everything
        // as it was, so the call can be made again once counter values are reserved.
        let iv = match (&self.partial, last && encrypt) {
            (Some(part), true) => match self.iv_for(&part.params) {
                Ok(iv) => Some(iv),
                Err(e) if e.rv() == super::iv::NEED_BLOCK => return Err(e),
                Err(e) => {
                    self.partial = None;
                    return Err(e);
                }
            },
            _ => None,
        };
        let part = self
            .partial
            .as_mut()
            .ok_or(Error::new(CKR_OPERATION_NOT_INITIALIZED))?;
        part.data.extend_from_slice(data);
        if !last {
            return Ok((Zeroizing::new(Vec::new()), None));
        }
        if !encrypt {
            part.params.tag.clone_from(&p.tag);
        }
        let Some(Partial {
            params,
            aad,
            data: whole,
        }) = self.partial.take()
        else {
            return fail(CKR_OPERATION_NOT_INITIALIZED);
        };
        if let Some(iv) = iv {
            if params.data_len.is_some_and(|l| l != whole.len()) {
                return fail(CKR_DATA_LEN_RANGE);
            }
            let s = self.seal(&params, iv, &aad, &whole)?;
            Ok((Zeroizing::new(s.ciphertext), Some((s.iv, s.tag))))
        } else {
            Ok((self.decrypt(&params, &aad, &whole)?, None))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn params(generator: CK_GENERATOR_FUNCTION, fixed_bits: CK_ULONG) -> MessageParams {
        MessageParams {
            aead: Aead::Gcm,
            iv: vec![0xab; 12],
            fixed_bits,
            generator,
            tag: vec![0; 16],
            data_len: None,
        }
    }

    #[test]
    fn generated_ivs_keep_the_fixed_bits_and_differ() -> Result<()> {
        let mut op = MessageOp::new(Aead::Gcm, &[0x3c; 16], true)?;
        let a = op.encrypt(&params(CKG_GENERATE_RANDOM, 4), b"", b"x")?;
        let b = op.encrypt(&params(CKG_GENERATE_RANDOM, 4), b"", b"x")?;
        let (a, b) = (a.iv.unwrap_or_default(), b.iv.unwrap_or_default());
        assert_eq!(a.len(), 12);
        assert_ne!(a, b);
        for iv in [&a, &b] {
            assert_eq!(iv[0] & 0xf0, 0xa0);
        }
        let c1 = op.encrypt(&params(CKG_GENERATE_COUNTER, 32), b"", b"x")?;
        let c2 = op.encrypt(&params(CKG_GENERATE_COUNTER, 32), b"", b"x")?;
        assert_eq!(c1.iv.unwrap_or_default()[4..], [0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(c2.iv.unwrap_or_default()[4..], [0, 0, 0, 0, 0, 0, 0, 2]);
        // A new operation on the same key continues the sequence.
        let mut again = MessageOp::new(Aead::Gcm, &[0x3c; 16], true)?;
        let c3 = again.encrypt(&params(CKG_GENERATE_COUNTER, 32), b"", b"x")?;
        assert_eq!(c3.iv.unwrap_or_default()[4..], [0, 0, 0, 0, 0, 0, 0, 3]);
        assert!(op
            .encrypt(&params(CKG_GENERATE_RANDOM, 97), b"", b"x")
            .is_err());
        Ok(())
    }

    #[test]
    fn a_message_in_parts_equals_the_single_call() -> Result<()> {
        let mut op = MessageOp::new(Aead::Gcm, &[7u8; 16], true)?;
        let one = op.encrypt(&params(CKG_NO_GENERATE, 0), b"aad", b"hello world")?;
        op.begin(params(CKG_NO_GENERATE, 0), b"aad")?;
        let p = params(CKG_NO_GENERATE, 0);
        assert_eq!(op.next(&p, b"hello ", false)?.0.len(), 0);
        let (ct, sealed) = op.next(&p, b"world", true)?;
        assert_eq!(ct.as_slice(), one.ciphertext.as_slice());
        assert_eq!(sealed.map(|s| s.1), Some(one.tag.clone()));
        assert!(!op.in_message());
        // Both forms against a known answer (Python cryptography's AESGCM, same key, IV, AAD),
        // not only against each other.
        assert_eq!(
            hex(&one.ciphertext),
            "ac20e6f7a770bc0f52ad67",
            "ciphertext differs from AESGCM's"
        );
        assert_eq!(hex(&one.tag), "bd674267dfd987f663b134f80ae009ea");
        Ok(())
    }
}
