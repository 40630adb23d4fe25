//! Which engine call serves each mechanism: builds the operation objects of [`super::ops`] from a
//! typed mechanism and a key's attributes (Current Mechanisms spec, per mechanism). This is the
//! only mechanism code that calls the engine (`crate::crypto`).

use super::ops::{Accumulate, Check, Cipher};
use super::{Hash, Mechanism};
use crate::crypto::aes::{self, AesCipher, Direction, Gcm, Mode};
use crate::crypto::digest::{HashAlg, Hasher, Hmac};
use crate::crypto::rsa::{RsaPrivate, RsaPublic};
use crate::error::{fail, Error, Result};
use crate::object::attr::Attributes;
use cryptoki_sys::*;
use zeroize::Zeroizing;

fn alg(h: Hash) -> HashAlg {
    match h {
        Hash::Sha1 => HashAlg::Sha1,
        Hash::Sha224 => HashAlg::Sha224,
        Hash::Sha256 => HashAlg::Sha256,
        Hash::Sha384 => HashAlg::Sha384,
        Hash::Sha512 => HashAlg::Sha512,
        Hash::Sha3_224 => HashAlg::Sha3_224,
        Hash::Sha3_256 => HashAlg::Sha3_256,
        Hash::Sha3_384 => HashAlg::Sha3_384,
        Hash::Sha3_512 => HashAlg::Sha3_512,
    }
}

fn inconsistent<T>() -> Result<T> {
    fail(CKR_KEY_TYPE_INCONSISTENT)
}

/// The value of a secret key of one of `types`.
fn secret<'a>(key: &'a Attributes, types: &[CK_KEY_TYPE]) -> Result<&'a [u8]> {
    if key.class() != Some(CKO_SECRET_KEY) || !key.key_type().is_some_and(|t| types.contains(&t)) {
        return inconsistent();
    }
    key.bytes(CKA_VALUE)
        .ok_or(Error::new(CKR_KEY_TYPE_INCONSISTENT))
}

pub fn aes_key(key: &Attributes) -> Result<&[u8]> {
    secret(key, &[CKK_AES])
}

/// Secret keys HMAC accepts: generic secrets and the HMAC key types.
const HMAC_KEYS: &[CK_KEY_TYPE] = &[
    CKK_GENERIC_SECRET,
    CKK_SHA_1_HMAC,
    CKK_SHA224_HMAC,
    CKK_SHA256_HMAC,
    CKK_SHA384_HMAC,
    CKK_SHA512_HMAC,
    CKK_SHA3_256_HMAC,
    CKK_SHA3_384_HMAC,
    CKK_SHA3_512_HMAC,
];

/// The engine's RSA private key for these attributes, parsed once per object.
fn rsa_private(key: &Attributes) -> Result<RsaPrivate> {
    if key.class() != Some(CKO_PRIVATE_KEY) || key.key_type() != Some(CKK_RSA) {
        return inconsistent();
    }
    key.parsed(|key| {
        let b = |t| key.bytes(t);
        let need = |t| b(t).ok_or(Error::new(CKR_KEY_TYPE_INCONSISTENT));
        // A private key imported without its public exponent could still use the CRT parts;
        // the engine requires e, so such keys are refused here.
        RsaPrivate::from_components(
            need(CKA_MODULUS)?,
            need(CKA_PUBLIC_EXPONENT)?,
            need(CKA_PRIVATE_EXPONENT)?,
            b(CKA_PRIME_1),
            b(CKA_PRIME_2),
            b(CKA_EXPONENT_1),
            b(CKA_EXPONENT_2),
            b(CKA_COEFFICIENT),
        )
    })
}

/// The engine's RSA public key (of a public or private key object), parsed once per object.
fn rsa_public(key: &Attributes) -> Result<RsaPublic> {
    if !matches!(key.class(), Some(CKO_PUBLIC_KEY | CKO_PRIVATE_KEY))
        || key.key_type() != Some(CKK_RSA)
    {
        return inconsistent();
    }
    key.parsed(|key| {
        let need = |t| key.bytes(t).ok_or(Error::new(CKR_KEY_TYPE_INCONSISTENT));
        RsaPublic::new(need(CKA_MODULUS)?, need(CKA_PUBLIC_EXPONENT)?)
    })
}

use crate::crypto::ec::{self, Curve, EcParams};

fn ec_params(key: &Attributes) -> Result<EcParams> {
    let p = key
        .bytes(CKA_EC_PARAMS)
        .ok_or(Error::new(CKR_KEY_TYPE_INCONSISTENT))?;
    EcParams::parse(p).map_err(|_| Error::new(CKR_KEY_TYPE_INCONSISTENT))
}

/// The raw point of an EC public key (`CKA_EC_POINT` is a DER OCTET STRING; raw is accepted).
fn ec_point(curve: Curve, key: &Attributes) -> Result<Vec<u8>> {
    let p = key
        .bytes(CKA_EC_POINT)
        .ok_or(Error::new(CKR_KEY_TYPE_INCONSISTENT))?;
    ec::validate_point(curve, p).map_err(|_| Error::new(CKR_KEY_TYPE_INCONSISTENT))
}

/// The engine's EC private key, parsed once per object.
fn ec_private(key: &Attributes) -> Result<ec::EcPrivate> {
    let curve = nist(key, CKO_PRIVATE_KEY)?;
    key.parsed(|key| {
        let d = key
            .bytes(CKA_VALUE)
            .ok_or(Error::new(CKR_KEY_TYPE_INCONSISTENT))?;
        ec::EcPrivate::new(curve, d).map_err(|_| Error::new(CKR_KEY_TYPE_INCONSISTENT))
    })
}

/// The engine's EC public key, parsed and checked once per object.
fn ec_public(key: &Attributes) -> Result<ec::EcPublic> {
    let curve = nist(key, CKO_PUBLIC_KEY)?;
    key.parsed(|key| {
        let point = ec_point(curve, key)?;
        ec::EcPublic::new(curve, &point).map_err(|_| Error::new(CKR_KEY_TYPE_INCONSISTENT))
    })
}

/// A NIST-curve EC key of `class`: its curve.
fn nist(key: &Attributes, class: CK_OBJECT_CLASS) -> Result<Curve> {
    if key.class() != Some(class) || key.key_type() != Some(CKK_EC) {
        return inconsistent();
    }
    match ec_params(key)? {
        EcParams::Nist(c) => Ok(c),
        EcParams::Ed25519 => inconsistent(),
    }
}

fn edwards(key: &Attributes, class: CK_OBJECT_CLASS) -> Result<()> {
    if key.class() != Some(class) || key.key_type() != Some(CKK_EC_EDWARDS) {
        return inconsistent();
    }
    match ec_params(key)? {
        EcParams::Ed25519 => Ok(()),
        EcParams::Nist(_) => inconsistent(),
    }
}

fn ed_public(key: &Attributes) -> Result<Vec<u8>> {
    let p = key
        .bytes(CKA_EC_POINT)
        .ok_or(Error::new(CKR_KEY_TYPE_INCONSISTENT))?;
    // Stored as a DER OCTET STRING of the 32 bytes; raw 32 bytes are accepted too.
    let raw = if p.len() == 34 && p[0] == 0x04 && p[1] == 32 {
        &p[2..]
    } else {
        p
    };
    ec::ed25519_validate_public(raw).map_err(|_| Error::new(CKR_KEY_TYPE_INCONSISTENT))
}

/// Check key material a caller imports with `C_CreateObject`: parts that do not belong together,
/// a point off its curve or a wrong check value are `CKR_ATTRIBUTE_VALUE_INVALID`.
pub fn validate_import(a: &Attributes) -> Result<()> {
    let bad = |_| Error::new(CKR_ATTRIBUTE_VALUE_INVALID);
    let b = |t| a.bytes(t);
    match (a.class(), a.key_type()) {
        (Some(CKO_PRIVATE_KEY), Some(CKK_RSA)) => {
            if let (Some(n), Some(e), Some(d)) = (
                b(CKA_MODULUS),
                b(CKA_PUBLIC_EXPONENT),
                b(CKA_PRIVATE_EXPONENT),
            ) {
                RsaPrivate::from_components(
                    n,
                    e,
                    d,
                    b(CKA_PRIME_1),
                    b(CKA_PRIME_2),
                    b(CKA_EXPONENT_1),
                    b(CKA_EXPONENT_2),
                    b(CKA_COEFFICIENT),
                )
                .map_err(bad)?;
            }
        }
        (Some(CKO_PUBLIC_KEY), Some(CKK_RSA)) => {
            if let (Some(n), Some(e)) = (b(CKA_MODULUS), b(CKA_PUBLIC_EXPONENT)) {
                RsaPublic::new(n, e).map_err(bad)?;
            }
        }
        (Some(class), Some(CKK_EC)) => {
            let params = b(CKA_EC_PARAMS).ok_or(Error::new(CKR_ATTRIBUTE_VALUE_INVALID))?;
            let EcParams::Nist(curve) = EcParams::parse(params).map_err(bad)? else {
                return fail(CKR_ATTRIBUTE_VALUE_INVALID);
            };
            if class == CKO_PUBLIC_KEY {
                ec::validate_point(curve, b(CKA_EC_POINT).unwrap_or(&[])).map_err(bad)?;
            } else if let Some(d) = b(CKA_VALUE) {
                ec::public_from_private(curve, d).map_err(bad)?;
            }
        }
        (Some(class), Some(CKK_EC_EDWARDS)) => {
            let params = b(CKA_EC_PARAMS).ok_or(Error::new(CKR_ATTRIBUTE_VALUE_INVALID))?;
            if EcParams::parse(params).map_err(bad)? != EcParams::Ed25519 {
                return fail(CKR_ATTRIBUTE_VALUE_INVALID);
            }
            if class == CKO_PUBLIC_KEY {
                ed_public(a).map_err(bad)?;
            } else if let Some(d) = b(CKA_VALUE) {
                ec::ed25519_public_from_private(d).map_err(bad)?;
            }
        }
        (Some(CKO_SECRET_KEY), Some(CKK_AES)) => {
            if let (Some(v), Some(cv)) = (b(CKA_VALUE), b(CKA_CHECK_VALUE)) {
                if !cv.is_empty() && aes::check_value(v).map_err(bad)?.as_slice() != cv {
                    return fail(CKR_ATTRIBUTE_VALUE_INVALID);
                }
            }
        }
        _ => {}
    }
    Ok(())
}

// ---- ciphers ----

/// The engine's streaming ciphers already have the shape of [`Cipher`]: forward to them.
macro_rules! streaming_cipher {
    ($name:ident, $inner:ty) => {
        struct $name($inner);

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
        }
    };
}

streaming_cipher!(Stream, AesCipher);
streaming_cipher!(GcmOp, Gcm);

type OneShot = Box<dyn FnMut(&[u8]) -> Result<Zeroizing<Vec<u8>>> + Send>;

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
    fn update_len(&self, _n: usize) -> usize {
        0
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
fn buffered(bound: impl Fn(usize) -> usize + Send + 'static, run: OneShot) -> Box<dyn Cipher> {
    Box::new(Buffered {
        data: Zeroizing::new(Vec::new()),
        run,
        bound: Box::new(bound),
    })
}

fn zero_out(v: Vec<u8>) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(v)
}

/// An encryption (`encrypt`) or decryption with this key.
pub fn cipher(mech: &Mechanism, key: &Attributes, encrypt: bool) -> Result<Box<dyn Cipher>> {
    let dir = if encrypt {
        Direction::Encrypt
    } else {
        Direction::Decrypt
    };
    let stream = |mode| -> Result<Box<dyn Cipher>> {
        Ok(Box::new(Stream(AesCipher::new(aes_key(key)?, mode, dir)?)))
    };
    match mech {
        Mechanism::AesEcb => stream(Mode::Ecb),
        Mechanism::AesCbc { iv } => stream(Mode::Cbc { iv: *iv }),
        Mechanism::AesCbcPad { iv } => stream(Mode::CbcPad { iv: *iv }),
        Mechanism::AesCtr {
            counter_bits,
            block,
        } => stream(Mode::Ctr {
            counter_bits: *counter_bits,
            block: *block,
        }),
        Mechanism::AesCts { iv } => stream(Mode::Cts { iv: *iv }),
        Mechanism::AesGcm { iv, aad, tag_bits } => {
            if tag_bits % 8 != 0 {
                return fail(CKR_MECHANISM_PARAM_INVALID);
            }
            let tag_len = usize::try_from(tag_bits / 8)
                .map_err(|_| Error::new(CKR_MECHANISM_PARAM_INVALID))?;
            Ok(Box::new(GcmOp(Gcm::new(
                aes_key(key)?,
                dir,
                iv,
                aad,
                tag_len,
            )?)))
        }
        Mechanism::AesCcm {
            data_len,
            nonce,
            aad,
            mac_len,
        } => {
            let k = Zeroizing::new(aes_key(key)?.to_vec());
            let (nonce, aad) = (nonce.clone(), aad.clone());
            let tag =
                usize::try_from(*mac_len).map_err(|_| Error::new(CKR_MECHANISM_PARAM_INVALID))?;
            let expect = *data_len;
            // Bad parameters are reported at Init, not when the data arrives.
            if !(4..=16).contains(&tag) || tag % 2 != 0 || !(7..=13).contains(&nonce.len()) {
                return fail(CKR_MECHANISM_PARAM_INVALID);
            }
            Ok(buffered(
                move |n| if encrypt { n + tag } else { n },
                Box::new(move |d| {
                    let plain_len = if encrypt {
                        d.len()
                    } else {
                        d.len().saturating_sub(tag)
                    };
                    if plain_len as u64 != expect {
                        return fail(if encrypt {
                            CKR_DATA_LEN_RANGE
                        } else {
                            CKR_ENCRYPTED_DATA_LEN_RANGE
                        });
                    }
                    if encrypt {
                        aes::ccm_encrypt(&k, &nonce, &aad, tag, d).map(zero_out)
                    } else {
                        aes::ccm_decrypt(&k, &nonce, &aad, tag, d)
                    }
                }),
            ))
        }
        Mechanism::AesKeyWrap { iv } | Mechanism::AesKeyWrapKwp { iv } => {
            let kwp = matches!(mech, Mechanism::AesKeyWrapKwp { .. });
            let k = Zeroizing::new(aes_key(key)?.to_vec());
            let iv = iv.clone();
            Ok(buffered(
                move |n| if encrypt { n.div_ceil(8) * 8 + 8 } else { n },
                Box::new(move |d| match (kwp, encrypt) {
                    (false, true) => aes::kw_wrap(&k, iv.as_deref(), d).map(zero_out),
                    (false, false) => aes::kw_unwrap(&k, iv.as_deref(), d),
                    (true, true) => aes::kwp_wrap(&k, iv.as_deref(), d).map(zero_out),
                    (true, false) => aes::kwp_unwrap(&k, iv.as_deref(), d),
                }),
            ))
        }
        Mechanism::RsaPkcs | Mechanism::RsaX509 | Mechanism::RsaOaep { .. } => {
            let mech = mech.clone();
            if encrypt {
                let pk = rsa_public(key)?;
                let k = pk.size();
                Ok(buffered(
                    move |_| k,
                    Box::new(move |d| {
                        match &mech {
                            Mechanism::RsaPkcs => pk.encrypt_pkcs1v15(d),
                            Mechanism::RsaX509 => pk.raw_public(d),
                            Mechanism::RsaOaep { hash, mgf, label } => {
                                pk.encrypt_oaep(alg(*hash), alg(*mgf), label, d)
                            }
                            _ => fail(CKR_MECHANISM_INVALID),
                        }
                        .map(zero_out)
                    }),
                ))
            } else {
                let sk = rsa_private(key)?;
                let k = sk.public().size();
                Ok(buffered(
                    move |_| k,
                    Box::new(move |d| match &mech {
                        Mechanism::RsaPkcs => sk.decrypt_pkcs1v15(d),
                        Mechanism::RsaX509 => sk.decrypt_raw(d),
                        Mechanism::RsaOaep { hash, mgf, label } => {
                            sk.decrypt_oaep(alg(*hash), alg(*mgf), label, d)
                        }
                        _ => fail(CKR_MECHANISM_INVALID),
                    }),
                ))
            }
        }
        _ => fail(CKR_MECHANISM_INVALID),
    }
}

// ---- digests, MACs, signatures ----

struct Digest(Option<Hasher>, usize);

impl Accumulate for Digest {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.0
            .as_mut()
            .ok_or(Error::new(CKR_OPERATION_NOT_INITIALIZED))?
            .update(data);
        Ok(())
    }
    fn finish(&mut self) -> Result<Zeroizing<Vec<u8>>> {
        let h = self
            .0
            .take()
            .ok_or(Error::new(CKR_OPERATION_NOT_INITIALIZED))?;
        Ok(Zeroizing::new(h.finalize()))
    }
    fn out_len(&self) -> usize {
        self.1
    }
    fn save(&self) -> Option<Zeroizing<Vec<u8>>> {
        self.0.as_ref().map(Hasher::save_state)
    }
}

/// A digest resumed from [`Accumulate::save`] output.
pub fn restore_digester(saved: &[u8]) -> Result<Box<dyn Accumulate>> {
    let h = Hasher::restore_state(saved)?;
    let len = h.alg().output_len();
    Ok(Box::new(Digest(Some(h), len)))
}

/// A digest.
pub fn digester(mech: &Mechanism) -> Result<Box<dyn Accumulate>> {
    match mech {
        Mechanism::Digest(h) => Ok(Box::new(Digest(Some(Hasher::new(alg(*h))), h.output_len()))),
        _ => fail(CKR_MECHANISM_INVALID),
    }
}

enum MacState {
    Hmac(Hmac),
    Cmac(aes::AesCmac),
}

impl MacState {
    fn update(&mut self, d: &[u8]) {
        match self {
            MacState::Hmac(m) => m.update(d),
            MacState::Cmac(m) => m.update(d),
        }
    }
    fn finish(self) -> Zeroizing<Vec<u8>> {
        match self {
            MacState::Hmac(m) => m.finalize(),
            MacState::Cmac(m) => Zeroizing::new(m.finalize()),
        }
    }
    fn verify(self, tag: &[u8]) -> Result<()> {
        match self {
            MacState::Hmac(m) => m.verify(tag),
            MacState::Cmac(m) => m.verify(tag),
        }
    }
    fn len(&self) -> usize {
        match self {
            MacState::Hmac(m) => m.mac_len(),
            MacState::Cmac(m) => m.mac_len(),
        }
    }
}

struct MacOp(Option<MacState>, usize);

impl Accumulate for MacOp {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.0
            .as_mut()
            .ok_or(Error::new(CKR_OPERATION_NOT_INITIALIZED))?
            .update(data);
        Ok(())
    }
    fn finish(&mut self) -> Result<Zeroizing<Vec<u8>>> {
        Ok(self
            .0
            .take()
            .ok_or(Error::new(CKR_OPERATION_NOT_INITIALIZED))?
            .finish())
    }
    fn out_len(&self) -> usize {
        self.1
    }
}

impl Check for MacOp {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        Accumulate::update(self, data)
    }
    fn finish(&mut self, signature: &[u8]) -> Result<()> {
        self.0
            .take()
            .ok_or(Error::new(CKR_OPERATION_NOT_INITIALIZED))?
            .verify(signature)
    }
}

fn mac(mech: &Mechanism, key: &Attributes) -> Result<Option<MacOp>> {
    let len = |l: u64| usize::try_from(l).map_err(|_| Error::new(CKR_MECHANISM_PARAM_INVALID));
    let state = match mech {
        Mechanism::Hmac(h) => MacState::Hmac(Hmac::new(alg(*h), secret(key, HMAC_KEYS)?)?),
        Mechanism::HmacGeneral(h, l) => MacState::Hmac(Hmac::new_truncated(
            alg(*h),
            secret(key, HMAC_KEYS)?,
            len(*l)?,
        )?),
        Mechanism::AesCmac => MacState::Cmac(aes::AesCmac::new(aes_key(key)?, aes::BLOCK_LEN)?),
        Mechanism::AesCmacGeneral { len: l } => {
            MacState::Cmac(aes::AesCmac::new(aes_key(key)?, len(*l)?)?)
        }
        _ => return Ok(None),
    };
    let n = state.len();
    Ok(Some(MacOp(Some(state), n)))
}

type SignFn = Box<dyn Fn(&[u8]) -> Result<Vec<u8>> + Send>;
type VerifyFn = Box<dyn Fn(&[u8], &[u8]) -> Result<()> + Send>;

/// What a signature mechanism feeds its key: a running hash, or the raw input (single-part).
enum Input {
    Hash(Option<Box<Hasher>>),
    Raw(Zeroizing<Vec<u8>>),
}

impl Input {
    fn new(hash: Option<Hash>) -> Input {
        match hash {
            Some(h) => Input::Hash(Some(Box::new(Hasher::new(alg(h))))),
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

fn salt(l: u64) -> Result<usize> {
    usize::try_from(l).map_err(|_| Error::new(CKR_MECHANISM_PARAM_INVALID))
}

/// A signature or MAC with this key.
pub fn signer(mech: &Mechanism, key: &Attributes) -> Result<Box<dyn Accumulate>> {
    if let Some(m) = mac(mech, key)? {
        return Ok(Box::new(m));
    }
    let (hash, sign): (Option<Hash>, SignFn) = match mech.clone() {
        Mechanism::RsaPkcs => {
            let k = rsa_private(key)?;
            (None, Box::new(move |d| k.sign_pkcs1v15_raw(d)))
        }
        Mechanism::RsaX509 => {
            let k = rsa_private(key)?;
            (None, Box::new(move |d| k.raw_private(d)))
        }
        Mechanism::HashRsaPkcs(h) => {
            let k = rsa_private(key)?;
            (Some(h), Box::new(move |d| k.sign_pkcs1v15(alg(h), d)))
        }
        Mechanism::RsaPss {
            hash,
            mgf,
            salt_len,
        } => {
            let k = rsa_private(key)?;
            let s = salt(salt_len)?;
            (
                None,
                Box::new(move |d| k.sign_pss(alg(hash), alg(mgf), s, d)),
            )
        }
        Mechanism::HashRsaPss {
            hash,
            mgf,
            salt_len,
        } => {
            let k = rsa_private(key)?;
            let s = salt(salt_len)?;
            (
                Some(hash),
                Box::new(move |d| k.sign_pss(alg(hash), alg(mgf), s, d)),
            )
        }
        Mechanism::Ecdsa | Mechanism::EcdsaHash(_) => {
            let curve = nist(key, CKO_PRIVATE_KEY)?;
            let k = ec_private(key)?;
            let hash = match mech {
                Mechanism::EcdsaHash(h) => Some(*h),
                _ => None,
            };
            let sign: SignFn = Box::new(move |h| k.sign_prehash(h));
            return Ok(Box::new(SignOp {
                input: Input::new(hash),
                sign,
                len: curve.signature_len(),
            }));
        }
        Mechanism::EdDsa => {
            edwards(key, CKO_PRIVATE_KEY)?;
            let d = Zeroizing::new(
                key.bytes(CKA_VALUE)
                    .ok_or(Error::new(CKR_KEY_TYPE_INCONSISTENT))?
                    .to_vec(),
            );
            let sign: SignFn = Box::new(move |m| ec::ed25519_sign(&d, m));
            return Ok(Box::new(SignOp {
                input: Input::new(None),
                sign,
                len: ec::ED25519_SIGNATURE_LEN,
            }));
        }
        _ => return fail(CKR_MECHANISM_INVALID),
    };
    let len = rsa_public(key)?.size();
    Ok(Box::new(SignOp {
        input: Input::new(hash),
        sign,
        len,
    }))
}

/// `C_VerifyRecover` with this public key: the signature in, the signed data out. Only the
/// raw RSA mechanisms can recover data; the rest give `CKR_MECHANISM_INVALID`.
pub fn verify_recoverer(mech: &Mechanism, key: &Attributes) -> Result<Box<dyn Cipher>> {
    let pk = rsa_public(key)?;
    let k = pk.size();
    let raw = match mech {
        Mechanism::RsaX509 => true,
        Mechanism::RsaPkcs => false,
        _ => return fail(CKR_MECHANISM_INVALID),
    };
    // A signature that does not open is CKR_SIGNATURE_INVALID, as for C_Verify.
    Ok(buffered(
        move |_| k,
        Box::new(move |s| {
            if raw {
                pk.recover_raw(s)
            } else {
                pk.recover_pkcs1v15(s)
            }
            .map(zero_out)
        }),
    ))
}

/// `C_SignRecover` with this private key: the raw RSA mechanisms only.
pub fn sign_recoverer(mech: &Mechanism, key: &Attributes) -> Result<Box<dyn Accumulate>> {
    match mech {
        Mechanism::RsaX509 | Mechanism::RsaPkcs => signer(mech, key),
        _ => fail(CKR_MECHANISM_INVALID),
    }
}

/// A verification with this key.
pub fn verifier(mech: &Mechanism, key: &Attributes) -> Result<Box<dyn Check>> {
    if let Some(m) = mac(mech, key)? {
        return Ok(Box::new(m));
    }
    let (hash, verify): (Option<Hash>, VerifyFn) = match mech.clone() {
        Mechanism::RsaPkcs => {
            let k = rsa_public(key)?;
            (None, Box::new(move |d, s| k.verify_pkcs1v15_raw(d, s)))
        }
        Mechanism::RsaX509 => {
            let k = rsa_public(key)?;
            (None, Box::new(move |d, s| k.verify_raw(d, s)))
        }
        Mechanism::HashRsaPkcs(h) => {
            let k = rsa_public(key)?;
            (
                Some(h),
                Box::new(move |d, s| k.verify_pkcs1v15(alg(h), d, s)),
            )
        }
        Mechanism::RsaPss {
            hash,
            mgf,
            salt_len,
        } => {
            let k = rsa_public(key)?;
            let sl = salt(salt_len)?;
            (
                None,
                Box::new(move |d, s| k.verify_pss(alg(hash), alg(mgf), sl, d, s)),
            )
        }
        Mechanism::HashRsaPss {
            hash,
            mgf,
            salt_len,
        } => {
            let k = rsa_public(key)?;
            let sl = salt(salt_len)?;
            (
                Some(hash),
                Box::new(move |d, s| k.verify_pss(alg(hash), alg(mgf), sl, d, s)),
            )
        }
        Mechanism::Ecdsa | Mechanism::EcdsaHash(_) => {
            let k = ec_public(key)?;
            let hash = match mech {
                Mechanism::EcdsaHash(h) => Some(*h),
                _ => None,
            };
            (hash, Box::new(move |h, s| k.verify_prehash(h, s)))
        }
        Mechanism::EdDsa => {
            edwards(key, CKO_PUBLIC_KEY)?;
            let pk = ed_public(key)?;
            (None, Box::new(move |m, s| ec::ed25519_verify(&pk, m, s)))
        }
        _ => return fail(CKR_MECHANISM_INVALID),
    };
    Ok(Box::new(VerifyOp {
        input: Input::new(hash),
        verify,
    }))
}

fn der(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = body.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let len = n.to_be_bytes();
        let skip = len.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (len.len() - skip) as u8);
        out.extend_from_slice(&len[skip..]);
    }
    out.extend_from_slice(body);
    out
}

fn der_uint(be: &[u8]) -> Vec<u8> {
    let t: Vec<u8> = be.iter().copied().skip_while(|b| *b == 0).collect();
    let mut body = Vec::with_capacity(t.len() + 1);
    if t.first().is_none_or(|b| b & 0x80 != 0) {
        body.push(0);
    }
    body.extend_from_slice(&t);
    der(0x02, &body)
}

/// `CKA_PUBLIC_KEY_INFO`: the DER SubjectPublicKeyInfo of a key's public part (RFC 5280, RFC 8017
/// A.1, RFC 5480, RFC 8410), or `None` when the attributes do not hold it.
pub fn public_key_info(a: &Attributes) -> Option<Vec<u8>> {
    let bits = |k: &[u8]| {
        let mut b = vec![0u8];
        b.extend_from_slice(k);
        der(0x03, &b)
    };
    let (alg, key) = match a.key_type()? {
        CKK_RSA => {
            let mut k = der_uint(a.bytes(CKA_MODULUS)?);
            k.extend(der_uint(a.bytes(CKA_PUBLIC_EXPONENT)?));
            let alg = der(
                0x30,
                &[&[
                    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
                ][..]]
                .concat(),
            );
            (alg, der(0x30, &k))
        }
        CKK_EC => {
            let params = a.bytes(CKA_EC_PARAMS)?;
            let EcParams::Nist(curve) = EcParams::parse(params).ok()? else {
                return None;
            };
            let point = match a.bytes(CKA_EC_POINT) {
                Some(p) => ec::validate_point(curve, p).ok()?,
                None => ec::public_from_private(curve, a.bytes(CKA_VALUE)?).ok()?,
            };
            let mut alg = vec![0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
            alg.extend_from_slice(params);
            (der(0x30, &alg), point)
        }
        CKK_EC_EDWARDS => {
            let point = match a.bytes(CKA_EC_POINT) {
                Some(_) => ed_public(a).ok()?,
                None => ec::ed25519_public_from_private(a.bytes(CKA_VALUE)?).ok()?,
            };
            (der(0x30, &[0x06, 0x03, 0x2b, 0x65, 0x70]), point)
        }
        _ => return None,
    };
    let mut body = alg;
    body.extend(bits(&key));
    Some(der(0x30, &body))
}

/// Generated material of a key pair: attributes to add to each half.
#[derive(Debug, Default)]
pub struct PairMaterial {
    pub public: Vec<crate::object::attr::Attribute>,
    pub private: Vec<crate::object::attr::Attribute>,
}

/// A fresh random secret of `len` bytes.
pub fn random_key(len: usize) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    let mut v = zeroize::Zeroizing::new(vec![0u8; len]);
    crate::crypto::random_fill(&mut v)?;
    Ok(v)
}

/// `CKA_CHECK_VALUE` of an AES key: the first 3 bytes of the key's encryption of a zero block.
pub fn aes_check_value(key: &[u8]) -> Result<Vec<u8>> {
    aes::check_value(key).map(|c| c.to_vec())
}

/// Key material for a key-pair mechanism, from the public template (modulus bits, exponent,
/// curve parameters).
pub fn generate_pair(mech: &Mechanism, public: &Attributes) -> Result<PairMaterial> {
    use crate::object::attr::Attribute as A;
    match mech {
        Mechanism::RsaKeyPairGen => {
            let bits = public
                .ulong(CKA_MODULUS_BITS)
                .ok_or(Error::new(CKR_TEMPLATE_INCOMPLETE))?;
            let bits = usize::try_from(bits).map_err(|_| Error::new(CKR_KEY_SIZE_RANGE))?;
            // The catalog promises 2048..=4096; smaller keys are no longer safe to make.
            if !(2048..=4096).contains(&bits) {
                return fail(CKR_KEY_SIZE_RANGE);
            }
            let e = public.bytes(CKA_PUBLIC_EXPONENT).unwrap_or(&[1, 0, 1]);
            let c = crate::crypto::rsa::generate(bits, e)?;
            Ok(PairMaterial {
                public: vec![
                    A::bytes(CKA_MODULUS, c.modulus.clone()),
                    A::bytes(CKA_PUBLIC_EXPONENT, c.public_exponent.clone()),
                ],
                private: vec![
                    A::bytes(CKA_MODULUS, c.modulus.clone()),
                    A::bytes(CKA_PUBLIC_EXPONENT, c.public_exponent.clone()),
                    A::bytes(CKA_PRIVATE_EXPONENT, c.private_exponent.to_vec()),
                    A::bytes(CKA_PRIME_1, c.prime_1.to_vec()),
                    A::bytes(CKA_PRIME_2, c.prime_2.to_vec()),
                    A::bytes(CKA_EXPONENT_1, c.exponent_1.to_vec()),
                    A::bytes(CKA_EXPONENT_2, c.exponent_2.to_vec()),
                    A::bytes(CKA_COEFFICIENT, c.coefficient.to_vec()),
                ],
            })
        }
        Mechanism::EcKeyPairGen | Mechanism::EdwardsKeyPairGen => {
            let params = public
                .bytes(CKA_EC_PARAMS)
                .ok_or(Error::new(CKR_TEMPLATE_INCOMPLETE))?;
            let (d, point) = match (mech, EcParams::parse(params)?) {
                (Mechanism::EcKeyPairGen, EcParams::Nist(c)) => ec::generate(c)?,
                (Mechanism::EdwardsKeyPairGen, EcParams::Ed25519) => ec::ed25519_generate()?,
                _ => return fail(CKR_TEMPLATE_INCONSISTENT),
            };
            Ok(PairMaterial {
                public: vec![A::bytes(CKA_EC_POINT, ec::point_to_der(&point))],
                private: vec![A::bytes(CKA_VALUE, d.to_vec())],
            })
        }
        _ => fail(CKR_MECHANISM_INVALID),
    }
}

/// The bytes a key is wrapped as: a secret key's value, a private key's PKCS#8 `PrivateKeyInfo`
/// (RSA, NIST-curve EC, Ed25519). Other keys, and stored material that does not make a key, are
/// `CKR_KEY_NOT_WRAPPABLE`.
pub fn key_bytes_for_wrap(key: &Attributes) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    use crate::crypto::pkcs8;
    let not_wrappable = |e: Error| {
        if e.rv() == CKR_KEY_TYPE_INCONSISTENT {
            Error::new(CKR_KEY_NOT_WRAPPABLE)
        } else {
            e
        }
    };
    let value = || {
        key.bytes(CKA_VALUE)
            .ok_or(Error::new(CKR_KEY_NOT_WRAPPABLE))
    };
    match (key.class(), key.key_type()) {
        (Some(CKO_SECRET_KEY), _) => value().map(|v| Zeroizing::new(v.to_vec())),
        (Some(CKO_PRIVATE_KEY), Some(CKK_RSA)) => {
            pkcs8::encode_rsa(&rsa_private(key).map_err(not_wrappable)?).map_err(not_wrappable)
        }
        (Some(CKO_PRIVATE_KEY), Some(CKK_EC)) => {
            let curve = nist(key, CKO_PRIVATE_KEY).map_err(not_wrappable)?;
            pkcs8::encode_ec(curve, value()?).map_err(not_wrappable)
        }
        (Some(CKO_PRIVATE_KEY), Some(CKK_EC_EDWARDS)) => {
            edwards(key, CKO_PRIVATE_KEY).map_err(not_wrappable)?;
            pkcs8::encode_ed25519(value()?).map_err(not_wrappable)
        }
        _ => fail(CKR_KEY_NOT_WRAPPABLE),
    }
}

/// Wrap `bytes` under the wrapping key.
pub fn wrap(mech: &Mechanism, wrapping: &Attributes, bytes: &[u8]) -> Result<Vec<u8>> {
    let wrong_key = |e: Error| {
        if e.rv() == CKR_KEY_TYPE_INCONSISTENT {
            Error::new(CKR_WRAPPING_KEY_TYPE_INCONSISTENT)
        } else {
            e
        }
    };
    let mut c = cipher(mech, wrapping, true).map_err(wrong_key)?;
    // A key the mechanism cannot take as it is (CKM_AES_KEY_WRAP, which does not pad, of a
    // length that is not a multiple of 8 such as most PKCS#8 encodings; a block mode without
    // padding; a key too long for RSA-OAEP) is the key's size, as C_WrapKey reports it.
    let size = |e: Error| {
        if e.rv() == CKR_DATA_LEN_RANGE {
            Error::new(CKR_KEY_SIZE_RANGE)
        } else {
            e
        }
    };
    let mut out = c.update(bytes).map_err(size)?;
    out.extend_from_slice(&c.finish().map_err(size)?);
    Ok(out.to_vec())
}

/// Unwrap to the key bytes.
pub fn unwrap(
    mech: &Mechanism,
    unwrapping: &Attributes,
    wrapped: &[u8],
) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    let wrong_key = |e: Error| {
        if e.rv() == CKR_KEY_TYPE_INCONSISTENT {
            Error::new(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT)
        } else {
            e
        }
    };
    let mut c = cipher(mech, unwrapping, false).map_err(wrong_key)?;
    // Whatever fails in the unwrapping itself (tag, padding, length) is a bad wrapped key.
    let bad = |e: Error| match e.rv() {
        CKR_ENCRYPTED_DATA_INVALID | CKR_ENCRYPTED_DATA_LEN_RANGE => {
            Error::new(CKR_WRAPPED_KEY_INVALID)
        }
        _ => e,
    };
    let mut out = c.update(wrapped).map_err(bad)?;
    out.extend_from_slice(&c.finish().map_err(bad)?);
    Ok(out)
}

/// The key type named by the PKCS#8 `PrivateKeyInfo` an unwrapped private key arrived as, for a
/// template that leaves `CKA_KEY_TYPE` out. Garbage is `CKR_WRAPPED_KEY_INVALID`.
pub fn private_key_type(bytes: &[u8]) -> Result<CK_KEY_TYPE> {
    use crate::crypto::pkcs8::{self, Algorithm};
    Ok(match pkcs8::algorithm(bytes)? {
        Algorithm::Rsa => CKK_RSA,
        Algorithm::Ec(_) => CKK_EC,
        Algorithm::Ed25519 => CKK_EC_EDWARDS,
    })
}

/// The attributes an unwrapped key gets from its bytes: a secret key's `CKA_VALUE`, a private
/// key's components parsed from PKCS#8 (RSA: modulus, exponents, primes and CRT values; EC and
/// Ed25519: `CKA_EC_PARAMS` and `CKA_VALUE`). A `PrivateKeyInfo` that does not parse or whose
/// key does not hold together is `CKR_WRAPPED_KEY_INVALID`; one of another algorithm than
/// `key_type` is `CKR_TEMPLATE_INCONSISTENT`.
pub fn key_from_bytes(
    class: CK_OBJECT_CLASS,
    key_type: CK_KEY_TYPE,
    bytes: &[u8],
) -> Result<Vec<crate::object::attr::Attribute>> {
    use crate::crypto::pkcs8::{self, Algorithm, PrivateKey};
    use crate::object::attr::Attribute as A;
    match class {
        CKO_SECRET_KEY => Ok(vec![A::bytes(CKA_VALUE, bytes.to_vec())]),
        CKO_PRIVATE_KEY => {
            let matches = matches!(
                (key_type, pkcs8::algorithm(bytes)?),
                (CKK_RSA, Algorithm::Rsa)
                    | (CKK_EC, Algorithm::Ec(_))
                    | (CKK_EC_EDWARDS, Algorithm::Ed25519)
            );
            if !matches {
                return fail(CKR_TEMPLATE_INCONSISTENT);
            }
            Ok(match pkcs8::decode(bytes)? {
                PrivateKey::Rsa(k) => {
                    let c = k.components();
                    vec![
                        A::bytes(CKA_MODULUS, c.modulus.clone()),
                        A::bytes(CKA_PUBLIC_EXPONENT, c.public_exponent.clone()),
                        A::bytes(CKA_PRIVATE_EXPONENT, c.private_exponent.to_vec()),
                        A::bytes(CKA_PRIME_1, c.prime_1.to_vec()),
                        A::bytes(CKA_PRIME_2, c.prime_2.to_vec()),
                        A::bytes(CKA_EXPONENT_1, c.exponent_1.to_vec()),
                        A::bytes(CKA_EXPONENT_2, c.exponent_2.to_vec()),
                        A::bytes(CKA_COEFFICIENT, c.coefficient.to_vec()),
                    ]
                }
                PrivateKey::Ec { curve, d } => vec![
                    A::bytes(CKA_EC_PARAMS, curve.oid_der().to_vec()),
                    A::bytes(CKA_VALUE, d.to_vec()),
                ],
                PrivateKey::Ed25519(d) => vec![
                    A::bytes(CKA_EC_PARAMS, ec::ED25519_OID_DER.to_vec()),
                    A::bytes(CKA_VALUE, d.to_vec()),
                ],
            })
        }
        _ => fail(CKR_TEMPLATE_INCONSISTENT),
    }
}

/// Derive `len` bytes (when the mechanism needs a length) from the base key. `salt_key` is the
/// key object named by a mechanism parameter (HKDF's `hSaltKey` with `CKF_HKDF_SALT_KEY`), loaded
/// by the caller with the same checks as the base key.
pub fn derive(
    mech: &Mechanism,
    base: &Attributes,
    salt_key: Option<&Attributes>,
    len: Option<usize>,
) -> Result<Zeroizing<Vec<u8>>> {
    use crate::crypto::kdf;
    let cut = |mut v: Zeroizing<Vec<u8>>| -> Result<Zeroizing<Vec<u8>>> {
        if let Some(l) = len {
            if l > v.len() {
                return fail(CKR_TEMPLATE_INCONSISTENT);
            }
            v.truncate(l);
        }
        Ok(v)
    };
    match mech {
        Mechanism::Ecdh1 {
            kdf: f,
            shared,
            public,
            ..
        } => {
            let z = ec_private(base)?.derive(public)?;
            let h = match *f {
                CKD_NULL => {
                    if !shared.is_empty() {
                        return fail(CKR_MECHANISM_PARAM_INVALID);
                    }
                    return cut(z);
                }
                CKD_SHA1_KDF => HashAlg::Sha1,
                CKD_SHA224_KDF => HashAlg::Sha224,
                CKD_SHA256_KDF => HashAlg::Sha256,
                CKD_SHA384_KDF => HashAlg::Sha384,
                CKD_SHA512_KDF => HashAlg::Sha512,
                _ => return fail(CKR_MECHANISM_PARAM_INVALID),
            };
            let l = len.ok_or(Error::new(CKR_TEMPLATE_INCOMPLETE))?;
            kdf::x963_kdf(h, &z, shared, l)
        }
        Mechanism::HkdfDerive {
            extract,
            expand,
            prf,
            salt_type,
            salt,
            info,
            ..
        } => {
            let ikm = secret(base, &[CKK_GENERIC_SECRET, CKK_HKDF, CKK_AES])?;
            let salt = match *salt_type {
                CKF_HKDF_SALT_NULL => None,
                CKF_HKDF_SALT_DATA => Some(salt.as_slice()),
                // The salt is the value of a generic secret or HKDF key; the spec says the salt
                // is ignored without extraction, so no key is needed then.
                CKF_HKDF_SALT_KEY if *extract => {
                    let k = salt_key.ok_or(Error::new(CKR_MECHANISM_PARAM_INVALID))?;
                    Some(secret(k, &[CKK_GENERIC_SECRET, CKK_HKDF])?)
                }
                CKF_HKDF_SALT_KEY => None,
                _ => return fail(CKR_MECHANISM_PARAM_INVALID),
            };
            let l = match (len, *expand) {
                (Some(l), _) => l,
                (None, false) => prf.output_len(),
                (None, true) => return fail(CKR_TEMPLATE_INCOMPLETE),
            };
            kdf::hkdf_derive(alg(*prf), *extract, *expand, salt, ikm, info, l)
        }
        Mechanism::AesEcbEncryptData { data } => cut(aes::ecb_encrypt(aes_key(base)?, data)?),
        Mechanism::AesCbcEncryptData { iv, data } => {
            cut(aes::cbc_encrypt(aes_key(base)?, iv, data)?)
        }
        Mechanism::Pbkdf2 {
            salt,
            iterations,
            prf,
            password,
        } => {
            let l = len.ok_or(Error::new(CKR_TEMPLATE_INCOMPLETE))?;
            kdf::pbkdf2(alg(*prf), &password.0, salt, *iterations, l)
        }
        _ => fail(CKR_MECHANISM_INVALID),
    }
}
