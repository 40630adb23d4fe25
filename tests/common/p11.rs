//! Raw PKCS#11 v3.0 helpers for the crypto tests (§5.8-§5.18: encryption, decryption, message
//! encryption, digesting, signing, verifying, key management): owned templates with nested
//! attribute arrays (CKA_WRAP_TEMPLATE …), mechanisms with any parameter structure, and the
//! cryptographic calls through the module's 3.0 function list on a session opened with
//! `cryptoki`. Every call returns `Err(rv)` with the module's own return value.
//!
//! The `cryptoki` 0.12 high-level API lacks many mechanisms of the suite (AES-CTR/CCM/CTS,
//! SHA-3, CMAC_GENERAL, PBKDF2 …) and every template attribute, hence the raw layer.

use super::{init_token, load_module, pin, slot_by_label, user_session, TestEnv, USER_PIN};
use cryptoki::context::Pkcs11;
use cryptoki::session::Session;
use cryptoki::slot::Slot;
use cryptoki_sys::*;
use std::ffi::c_void;
use std::ptr::null_mut;

// ---------------------------------------------------------------------------------------------
// Hex

/// Decode a hex string; whitespace is ignored so long vectors can be split over lines.
#[track_caller]
pub fn hx(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    assert_eq!(s.len() % 2, 0, "odd-length hex constant");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// Lower-case hex of bytes, for assertion messages.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Assert that two byte strings are equal, printing both in hex.
#[track_caller]
pub fn assert_bytes(what: &str, got: &[u8], want: &[u8]) {
    assert!(
        got == want,
        "{what}:\n  got  {} ({} bytes)\n  want {} ({} bytes)",
        hex(got),
        got.len(),
        hex(want),
        want.len()
    );
}

/// The name of a return value, for messages.
pub fn rvn(rv: CK_RV) -> String {
    super::rv_name(rv)
}

/// Unwrap a raw result, failing with the return value's name.
pub trait Ck<T> {
    fn ok_or_panic(self, what: &str) -> T;
}

impl<T> Ck<T> for Result<T, CK_RV> {
    #[track_caller]
    fn ok_or_panic(self, what: &str) -> T {
        match self {
            Ok(v) => v,
            Err(rv) => panic!("{what}: failed with {}", rvn(rv)),
        }
    }
}

/// Assert a raw result is exactly this error.
#[track_caller]
pub fn expect_err<T: std::fmt::Debug>(what: &str, got: Result<T, CK_RV>, want: CK_RV) {
    match got {
        Err(rv) if rv == want => {}
        Err(rv) => panic!("{what}: expected {}, got {}", rvn(want), rvn(rv)),
        Ok(v) => panic!("{what}: expected {}, got CKR_OK ({v:?})", rvn(want)),
    }
}

/// Assert a raw result is one of these errors.
#[track_caller]
pub fn expect_err_in<T: std::fmt::Debug>(what: &str, got: Result<T, CK_RV>, want: &[CK_RV]) {
    let names: Vec<String> = want.iter().map(|r| rvn(*r)).collect();
    match got {
        Err(rv) if want.contains(&rv) => {}
        Err(rv) => panic!("{what}: expected one of {names:?}, got {}", rvn(rv)),
        Ok(v) => panic!("{what}: expected one of {names:?}, got CKR_OK ({v:?})"),
    }
}

/// Assert a return value.
#[track_caller]
pub fn expect_rv_raw(what: &str, got: CK_RV, want: CK_RV) {
    assert!(
        got == want,
        "{what}: expected {}, got {}",
        rvn(want),
        rvn(got)
    );
}

fn res(rv: CK_RV) -> Result<(), CK_RV> {
    if rv == CKR_OK {
        Ok(())
    } else {
        Err(rv)
    }
}

// ---------------------------------------------------------------------------------------------
// Templates

#[derive(Debug, Clone)]
enum Val {
    Bytes(Vec<u8>),
    Nested(Tmpl),
}

/// An owned attribute template. Setting a type twice replaces the first value, so helpers can
/// return a base template that tests then adjust.
#[derive(Debug, Clone, Default)]
pub struct Tmpl(Vec<(CK_ATTRIBUTE_TYPE, Val)>);

impl Tmpl {
    pub fn new() -> Tmpl {
        Tmpl(Vec::new())
    }

    fn put(mut self, t: CK_ATTRIBUTE_TYPE, v: Val) -> Tmpl {
        if let Some(slot) = self.0.iter_mut().find(|(k, _)| *k == t) {
            slot.1 = v;
        } else {
            self.0.push((t, v));
        }
        self
    }

    /// A CK_BBOOL attribute.
    pub fn b(self, t: CK_ATTRIBUTE_TYPE, v: bool) -> Tmpl {
        self.put(t, Val::Bytes(vec![u8::from(v)]))
    }

    /// A CK_ULONG attribute (class, key type, value length, modulus bits …).
    pub fn u(self, t: CK_ATTRIBUTE_TYPE, v: CK_ULONG) -> Tmpl {
        self.put(t, Val::Bytes(v.to_ne_bytes().to_vec()))
    }

    /// A byte-array attribute.
    pub fn bytes(self, t: CK_ATTRIBUTE_TYPE, v: impl AsRef<[u8]>) -> Tmpl {
        self.put(t, Val::Bytes(v.as_ref().to_vec()))
    }

    /// A CK_MECHANISM_TYPE array (CKA_ALLOWED_MECHANISMS).
    pub fn mechs(self, t: CK_ATTRIBUTE_TYPE, v: &[CK_MECHANISM_TYPE]) -> Tmpl {
        let bytes: Vec<u8> = v.iter().flat_map(|m| m.to_ne_bytes()).collect();
        self.put(t, Val::Bytes(bytes))
    }

    /// An attribute array (CKA_WRAP_TEMPLATE, CKA_UNWRAP_TEMPLATE, CKA_DERIVE_TEMPLATE).
    pub fn nested(self, t: CK_ATTRIBUTE_TYPE, v: Tmpl) -> Tmpl {
        self.put(t, Val::Nested(v))
    }

    /// Remove an attribute type.
    pub fn without(mut self, t: CK_ATTRIBUTE_TYPE) -> Tmpl {
        self.0.retain(|(k, _)| *k != t);
        self
    }

    /// The raw CK_ATTRIBUTE array; valid while the returned value lives.
    pub fn raw(&self) -> RawTmpl {
        let mut out = RawTmpl {
            attrs: Vec::with_capacity(self.0.len()),
            bufs: Vec::new(),
            nested: Vec::new(),
        };
        for (t, v) in &self.0 {
            match v {
                Val::Bytes(b) => {
                    let buf = b.clone();
                    let (p, l) = if buf.is_empty() {
                        (null_mut(), 0)
                    } else {
                        (buf.as_ptr() as *mut c_void, buf.len())
                    };
                    out.bufs.push(buf);
                    out.attrs.push(CK_ATTRIBUTE {
                        type_: *t,
                        pValue: p,
                        ulValueLen: l as CK_ULONG,
                    });
                }
                Val::Nested(n) => {
                    let inner = n.raw();
                    let len = inner.attrs.len() * std::mem::size_of::<CK_ATTRIBUTE>();
                    let p = if inner.attrs.is_empty() {
                        null_mut()
                    } else {
                        inner.attrs.as_ptr() as *mut c_void
                    };
                    out.nested.push(inner);
                    out.attrs.push(CK_ATTRIBUTE {
                        type_: *t,
                        pValue: p,
                        ulValueLen: len as CK_ULONG,
                    });
                }
            }
        }
        out
    }
}

/// A raw template: CK_ATTRIBUTEs pointing into buffers owned by the same value (heap buffers do
/// not move when the owning vectors move).
#[derive(Debug)]
pub struct RawTmpl {
    attrs: Vec<CK_ATTRIBUTE>,
    bufs: Vec<Vec<u8>>,
    nested: Vec<RawTmpl>,
}

impl RawTmpl {
    pub fn ptr(&mut self) -> *mut CK_ATTRIBUTE {
        if self.attrs.is_empty() {
            null_mut()
        } else {
            self.attrs.as_mut_ptr()
        }
    }
    pub fn len(&self) -> CK_ULONG {
        self.attrs.len() as CK_ULONG
    }
    pub fn is_empty(&self) -> bool {
        self.attrs.is_empty()
    }
}

// ---------------------------------------------------------------------------------------------
// Mechanisms

/// A mechanism with an owned parameter. Buffers the parameter points to are kept as raw
/// allocations so the module may write into them (message API IVs and tags) and the test can
/// read them back.
#[derive(Debug)]
pub struct Mech {
    ty: CK_MECHANISM_TYPE,
    param: *mut u64,
    words: usize,
    param_len: usize,
    kept: Vec<(*mut u8, usize)>,
}

impl Drop for Mech {
    fn drop(&mut self) {
        if !self.param.is_null() {
            // SAFETY: `param` came from Box::<[u64]>::into_raw with `words` elements.
            drop(unsafe {
                Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.param, self.words))
            });
        }
        for (p, l) in self.kept.drain(..) {
            // SAFETY: each kept buffer came from Box::<[u8]>::into_raw with length `l`.
            drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(p, l)) });
        }
    }
}

impl Mech {
    /// A mechanism without a parameter.
    pub fn new(ty: CK_MECHANISM_TYPE) -> Mech {
        Mech {
            ty,
            param: null_mut(),
            words: 0,
            param_len: 0,
            kept: Vec::new(),
        }
    }

    pub fn ty(&self) -> CK_MECHANISM_TYPE {
        self.ty
    }

    /// A mechanism whose parameter is a byte string (an IV …).
    pub fn bytes(ty: CK_MECHANISM_TYPE, p: &[u8]) -> Mech {
        let mut m = Mech::new(ty);
        m.set_param_bytes(p);
        m
    }

    /// A mechanism whose parameter is a C structure.
    pub fn with<T: Copy>(ty: CK_MECHANISM_TYPE, p: T) -> Mech {
        let mut m = Mech::new(ty);
        m.set_param(p);
        m
    }

    /// A mechanism whose parameter is a CK_ULONG (CK_MAC_GENERAL_PARAMS …).
    pub fn ulong(ty: CK_MECHANISM_TYPE, v: CK_ULONG) -> Mech {
        Mech::with(ty, v)
    }

    fn set_param_bytes(&mut self, p: &[u8]) {
        let words = p.len().div_ceil(8).max(1);
        let b: Box<[u64]> = vec![0u64; words].into_boxed_slice();
        let raw = Box::into_raw(b) as *mut u64;
        // SAFETY: `raw` has room for `words * 8 >= p.len()` bytes.
        unsafe { std::ptr::copy_nonoverlapping(p.as_ptr(), raw as *mut u8, p.len()) };
        self.param = raw;
        self.words = words;
        self.param_len = p.len();
    }

    /// Set the parameter to the bytes of `p` (stored 8-byte aligned).
    pub fn set_param<T: Copy>(&mut self, p: T) {
        let size = std::mem::size_of::<T>();
        // SAFETY: reading the bytes of a plain-old-data C structure.
        let bytes = unsafe { std::slice::from_raw_parts(&p as *const T as *const u8, size) };
        self.set_param_bytes(bytes);
    }

    /// Keep a copy of `data` alive as long as the mechanism; returns a pointer for a parameter
    /// field (NULL for an empty slice).
    pub fn keep(&mut self, data: &[u8]) -> *mut u8 {
        if data.is_empty() {
            return null_mut();
        }
        let b: Box<[u8]> = data.to_vec().into_boxed_slice();
        let l = b.len();
        let p = Box::into_raw(b) as *mut u8;
        self.kept.push((p, l));
        p
    }

    /// The current contents of the `i`-th kept buffer (in `keep` order).
    pub fn kept(&self, i: usize) -> Vec<u8> {
        let (p, l) = self.kept[i];
        // SAFETY: a live allocation of `l` bytes owned by `self`.
        unsafe { std::slice::from_raw_parts(p, l) }.to_vec()
    }

    /// The parameter as a pointer and length (for C_EncryptMessage's pParameter).
    pub fn param_ptr(&self) -> (*mut c_void, CK_ULONG) {
        (self.param as *mut c_void, self.param_len as CK_ULONG)
    }

    /// Read the parameter structure back (after the module wrote into it).
    pub fn param_as<T: Copy>(&self) -> T {
        assert!(std::mem::size_of::<T>() <= self.words * 8);
        // SAFETY: the buffer holds at least size_of::<T>() bytes, 8-byte aligned.
        unsafe { std::ptr::read(self.param as *const T) }
    }

    pub fn ck(&self) -> CK_MECHANISM {
        CK_MECHANISM {
            mechanism: self.ty,
            pParameter: self.param as *mut c_void,
            ulParameterLen: self.param_len as CK_ULONG,
        }
    }
}

/// CKM_AES_GCM with CK_GCM_PARAMS (PKCS#11 v3.0: ulIvBits = 8 * ulIvLen).
pub fn gcm(iv: &[u8], aad: &[u8], tag_bits: CK_ULONG) -> Mech {
    let mut m = Mech::new(CKM_AES_GCM);
    let piv = m.keep(iv);
    let paad = m.keep(aad);
    m.set_param(CK_GCM_PARAMS {
        pIv: piv,
        ulIvLen: iv.len() as CK_ULONG,
        ulIvBits: (iv.len() * 8) as CK_ULONG,
        pAAD: paad,
        ulAADLen: aad.len() as CK_ULONG,
        ulTagBits: tag_bits,
    });
    m
}

/// CKM_AES_CCM with CK_CCM_PARAMS; `data_len` is the plaintext length (without the MAC).
pub fn ccm(data_len: usize, nonce: &[u8], aad: &[u8], mac_len: usize) -> Mech {
    let mut m = Mech::new(CKM_AES_CCM);
    let pn = m.keep(nonce);
    let pa = m.keep(aad);
    m.set_param(CK_CCM_PARAMS {
        ulDataLen: data_len as CK_ULONG,
        pNonce: pn,
        ulNonceLen: nonce.len() as CK_ULONG,
        pAAD: pa,
        ulAADLen: aad.len() as CK_ULONG,
        ulMACLen: mac_len as CK_ULONG,
    });
    m
}

/// CKM_AES_CTR with CK_AES_CTR_PARAMS.
pub fn ctr(counter_bits: CK_ULONG, cb: [u8; 16]) -> Mech {
    Mech::with(
        CKM_AES_CTR,
        CK_AES_CTR_PARAMS {
            ulCounterBits: counter_bits,
            cb,
        },
    )
}

/// CKM_RSA_PKCS_PSS or CKM_SHAx_RSA_PKCS_PSS with CK_RSA_PKCS_PSS_PARAMS.
pub fn pss(
    ty: CK_MECHANISM_TYPE,
    hash: CK_MECHANISM_TYPE,
    mgf: CK_RSA_PKCS_MGF_TYPE,
    salt: CK_ULONG,
) -> Mech {
    Mech::with(
        ty,
        CK_RSA_PKCS_PSS_PARAMS {
            hashAlg: hash,
            mgf,
            sLen: salt,
        },
    )
}

/// CKM_RSA_PKCS_OAEP with CK_RSA_PKCS_OAEP_PARAMS (label as CKZ_DATA_SPECIFIED source data).
pub fn oaep(hash: CK_MECHANISM_TYPE, mgf: CK_RSA_PKCS_MGF_TYPE, label: &[u8]) -> Mech {
    let mut m = Mech::new(CKM_RSA_PKCS_OAEP);
    let pl = m.keep(label);
    m.set_param(CK_RSA_PKCS_OAEP_PARAMS {
        hashAlg: hash,
        mgf,
        source: CKZ_DATA_SPECIFIED,
        pSourceData: pl as *mut c_void,
        ulSourceDataLen: label.len() as CK_ULONG,
    });
    m
}

/// CKM_ECDH1_DERIVE (or the cofactor variant) with CK_ECDH1_DERIVE_PARAMS.
pub fn ecdh(ty: CK_MECHANISM_TYPE, kdf: CK_EC_KDF_TYPE, shared: &[u8], public: &[u8]) -> Mech {
    let mut m = Mech::new(ty);
    let ps = m.keep(shared);
    let pp = m.keep(public);
    m.set_param(CK_ECDH1_DERIVE_PARAMS {
        kdf,
        ulSharedDataLen: shared.len() as CK_ULONG,
        pSharedData: ps,
        ulPublicDataLen: public.len() as CK_ULONG,
        pPublicData: pp,
    });
    m
}

/// CKM_HKDF_DERIVE with CK_HKDF_PARAMS and salt data.
pub fn hkdf(extract: bool, expand: bool, prf: CK_MECHANISM_TYPE, salt: &[u8], info: &[u8]) -> Mech {
    let mut m = Mech::new(CKM_HKDF_DERIVE);
    let ps = m.keep(salt);
    let pi = m.keep(info);
    m.set_param(CK_HKDF_PARAMS {
        bExtract: u8::from(extract),
        bExpand: u8::from(expand),
        prfHashMechanism: prf,
        ulSaltType: if salt.is_empty() {
            CKF_HKDF_SALT_NULL
        } else {
            CKF_HKDF_SALT_DATA
        },
        pSalt: ps,
        ulSaltLen: salt.len() as CK_ULONG,
        hSaltKey: CK_INVALID_HANDLE,
        pInfo: pi,
        ulInfoLen: info.len() as CK_ULONG,
    });
    m
}

/// CKM_PKCS5_PBKD2 with CK_PKCS5_PBKD2_PARAMS2 (v3.0: ulPasswordLen by value).
pub fn pbkdf2(prf: CK_ULONG, password: &[u8], salt: &[u8], iterations: CK_ULONG) -> Mech {
    let mut m = Mech::new(CKM_PKCS5_PBKD2);
    let ps = m.keep(salt);
    let pp = m.keep(password);
    m.set_param(CK_PKCS5_PBKD2_PARAMS2 {
        saltSource: CKZ_SALT_SPECIFIED,
        pSaltSourceData: ps as *mut c_void,
        ulSaltSourceDataLen: salt.len() as CK_ULONG,
        iterations,
        prf,
        pPrfData: null_mut(),
        ulPrfDataLen: 0,
        pPassword: pp,
        ulPasswordLen: password.len() as CK_ULONG,
    });
    m
}

/// CKM_AES_CBC_ENCRYPT_DATA with CK_AES_CBC_ENCRYPT_DATA_PARAMS.
pub fn aes_cbc_encrypt_data(iv: [u8; 16], data: &[u8]) -> Mech {
    let mut m = Mech::new(CKM_AES_CBC_ENCRYPT_DATA);
    let pd = m.keep(data);
    m.set_param(CK_AES_CBC_ENCRYPT_DATA_PARAMS {
        iv,
        pData: pd,
        length: data.len() as CK_ULONG,
    });
    m
}

/// CKM_AES_ECB_ENCRYPT_DATA with CK_KEY_DERIVATION_STRING_DATA.
pub fn aes_ecb_encrypt_data(data: &[u8]) -> Mech {
    let mut m = Mech::new(CKM_AES_ECB_ENCRYPT_DATA);
    let pd = m.keep(data);
    m.set_param(CK_KEY_DERIVATION_STRING_DATA {
        pData: pd,
        ulLen: data.len() as CK_ULONG,
    });
    m
}

/// CK_GCM_MESSAGE_PARAMS for C_EncryptMessage/C_DecryptMessage: kept buffer 0 is the IV,
/// kept buffer 1 the tag.
pub fn gcm_message_params(
    iv: &[u8],
    generator: CK_GENERATOR_FUNCTION,
    fixed_bits: CK_ULONG,
    tag: &[u8],
) -> Mech {
    let mut m = Mech::new(CKM_AES_GCM);
    let piv = m.keep(iv);
    let ptag = m.keep(tag);
    m.set_param(CK_GCM_MESSAGE_PARAMS {
        pIv: piv,
        ulIvLen: iv.len() as CK_ULONG,
        ulIvFixedBits: fixed_bits,
        ivGenerator: generator,
        pTag: ptag,
        ulTagBits: (tag.len() * 8) as CK_ULONG,
    });
    m
}

/// CK_CCM_MESSAGE_PARAMS: kept buffer 0 is the nonce, kept buffer 1 the MAC.
pub fn ccm_message_params(data_len: usize, nonce: &[u8], mac: &[u8]) -> Mech {
    let mut m = Mech::new(CKM_AES_CCM);
    let pn = m.keep(nonce);
    let pm = m.keep(mac);
    m.set_param(CK_CCM_MESSAGE_PARAMS {
        ulDataLen: data_len as CK_ULONG,
        pNonce: pn,
        ulNonceLen: nonce.len() as CK_ULONG,
        ulNonceFixedBits: 0,
        nonceGenerator: CKG_NO_GENERATE,
        pMAC: pm,
        ulMACLen: mac.len() as CK_ULONG,
    });
    m
}

// ---------------------------------------------------------------------------------------------
// Key templates

/// A session secret key with a known value: every usage allowed, readable (not sensitive,
/// extractable). Tests narrow it with further `b(..)` calls.
pub fn secret(key_type: CK_KEY_TYPE, value: &[u8]) -> Tmpl {
    Tmpl::new()
        .u(CKA_CLASS, CKO_SECRET_KEY)
        .u(CKA_KEY_TYPE, key_type)
        .b(CKA_TOKEN, false)
        .b(CKA_PRIVATE, true)
        .b(CKA_SENSITIVE, false)
        .b(CKA_EXTRACTABLE, true)
        .b(CKA_ENCRYPT, true)
        .b(CKA_DECRYPT, true)
        .b(CKA_SIGN, true)
        .b(CKA_VERIFY, true)
        .b(CKA_WRAP, true)
        .b(CKA_UNWRAP, true)
        .b(CKA_DERIVE, true)
        .bytes(CKA_VALUE, value)
}

/// `secret(CKK_AES, value)`.
pub fn aes(value: &[u8]) -> Tmpl {
    secret(CKK_AES, value)
}

/// A template for C_GenerateKey/C_UnwrapKey/C_DeriveKey of a secret key: class, type and the
/// length in bytes when given, readable, every usage allowed.
pub fn new_secret(key_type: CK_KEY_TYPE, len: Option<usize>) -> Tmpl {
    let t = secret(key_type, &[]).without(CKA_VALUE);
    match len {
        Some(l) => t.u(CKA_VALUE_LEN, l as CK_ULONG),
        None => t,
    }
}

/// The RSA-2048 private key of tests/common/keys.rs as a session object.
pub fn rsa_private_fixed() -> Tmpl {
    use super::keys::*;
    Tmpl::new()
        .u(CKA_CLASS, CKO_PRIVATE_KEY)
        .u(CKA_KEY_TYPE, CKK_RSA)
        .b(CKA_TOKEN, false)
        .b(CKA_PRIVATE, true)
        .b(CKA_SENSITIVE, true)
        .b(CKA_SIGN, true)
        .b(CKA_DECRYPT, true)
        .b(CKA_UNWRAP, true)
        .b(CKA_SIGN_RECOVER, true)
        .bytes(CKA_MODULUS, unhex(RSA_MODULUS))
        .bytes(CKA_PUBLIC_EXPONENT, unhex(RSA_PUBLIC_EXPONENT))
        .bytes(CKA_PRIVATE_EXPONENT, unhex(RSA_PRIVATE_EXPONENT))
        .bytes(CKA_PRIME_1, unhex(RSA_PRIME_1))
        .bytes(CKA_PRIME_2, unhex(RSA_PRIME_2))
        .bytes(CKA_EXPONENT_1, unhex(RSA_EXPONENT_1))
        .bytes(CKA_EXPONENT_2, unhex(RSA_EXPONENT_2))
        .bytes(CKA_COEFFICIENT, unhex(RSA_COEFFICIENT))
}

/// The RSA-2048 public key of tests/common/keys.rs as a session object.
pub fn rsa_public_fixed() -> Tmpl {
    use super::keys::*;
    Tmpl::new()
        .u(CKA_CLASS, CKO_PUBLIC_KEY)
        .u(CKA_KEY_TYPE, CKK_RSA)
        .b(CKA_TOKEN, false)
        .b(CKA_VERIFY, true)
        .b(CKA_ENCRYPT, true)
        .b(CKA_WRAP, true)
        .b(CKA_VERIFY_RECOVER, true)
        .bytes(CKA_MODULUS, unhex(RSA_MODULUS))
        .bytes(CKA_PUBLIC_EXPONENT, unhex(RSA_PUBLIC_EXPONENT))
}

/// An EC private key (session object) on the curve named by `params` (DER OID).
pub fn ec_private(params: &[u8], value: &[u8]) -> Tmpl {
    Tmpl::new()
        .u(CKA_CLASS, CKO_PRIVATE_KEY)
        .u(CKA_KEY_TYPE, CKK_EC)
        .b(CKA_TOKEN, false)
        .b(CKA_PRIVATE, true)
        .b(CKA_SENSITIVE, true)
        .b(CKA_SIGN, true)
        .b(CKA_DERIVE, true)
        .bytes(CKA_EC_PARAMS, params)
        .bytes(CKA_VALUE, value)
}

/// An EC public key (session object); `point_der` is the DER OCTET STRING of the point.
pub fn ec_public(params: &[u8], point_der: &[u8]) -> Tmpl {
    Tmpl::new()
        .u(CKA_CLASS, CKO_PUBLIC_KEY)
        .u(CKA_KEY_TYPE, CKK_EC)
        .b(CKA_TOKEN, false)
        .b(CKA_VERIFY, true)
        .bytes(CKA_EC_PARAMS, params)
        .bytes(CKA_EC_POINT, point_der)
}

/// DER OIDs of the named curves (CKA_EC_PARAMS).
pub const OID_P256: &str = "06082a8648ce3d030107";
pub const OID_P384: &str = "06052b81040022";
pub const OID_P521: &str = "06052b81040023";
pub const OID_ED25519: &str = "06032b6570";

/// Public and private templates for C_GenerateKeyPair with CKM_RSA_PKCS_KEY_PAIR_GEN.
pub fn rsa_pair_templates(bits: CK_ULONG, exponent: &[u8]) -> (Tmpl, Tmpl) {
    let public = Tmpl::new()
        .b(CKA_TOKEN, false)
        .b(CKA_VERIFY, true)
        .b(CKA_ENCRYPT, true)
        .b(CKA_WRAP, true)
        .u(CKA_MODULUS_BITS, bits)
        .bytes(CKA_PUBLIC_EXPONENT, exponent);
    let private = Tmpl::new()
        .b(CKA_TOKEN, false)
        .b(CKA_PRIVATE, true)
        .b(CKA_SIGN, true)
        .b(CKA_DECRYPT, true)
        .b(CKA_UNWRAP, true);
    (public, private)
}

/// Public and private templates for C_GenerateKeyPair with CKM_EC_KEY_PAIR_GEN (or the
/// Edwards generator) on the curve named by the DER OID `params`.
pub fn ec_pair_templates(params: &[u8]) -> (Tmpl, Tmpl) {
    let public = Tmpl::new()
        .b(CKA_TOKEN, false)
        .b(CKA_VERIFY, true)
        .bytes(CKA_EC_PARAMS, params);
    let private = Tmpl::new()
        .b(CKA_TOKEN, false)
        .b(CKA_PRIVATE, true)
        .b(CKA_SIGN, true)
        .b(CKA_DERIVE, true);
    (public, private)
}

// ---------------------------------------------------------------------------------------------
// The token fixture and the raw calls

/// Output buffer size for single calls: generous, so known-answer tests never depend on the
/// size-query convention (tested on its own in crypto_ops.rs).
fn cap(input: usize) -> usize {
    input + 4096
}

/// A fresh token with a user PIN, a R/W user session, and the module's 3.0 function list.
/// Fields drop in order: the session closes before the module is finalized and the token
/// directory removed.
pub struct Tok {
    pub session: Session,
    pub h: CK_SESSION_HANDLE,
    pub slot: Slot,
    fl: CK_FUNCTION_LIST_3_0,
    _lib: cryptoki_sys::Pkcs11,
    pub ctx: Pkcs11,
    pub env: TestEnv,
}

/// cryptoki 0.12 does not call C_Finalize when a context drops. On SQLite that went unseen: the
/// dlclose of the last handle unloads the module, and the next test's dlopen starts afresh. The
/// PostgreSQL store's runtime registers thread-local destructors, which keep the module loaded,
/// so the next `token()` in the same process met CKR_CRYPTOKI_ALREADY_INITIALIZED. A `Tok`
/// therefore ends what it began: its sessions, then the module.
impl Drop for Tok {
    fn drop(&mut self) {
        if let Some(close_all) = self.fl.C_CloseAllSessions {
            // SAFETY: a function of the module `_lib` keeps loaded, called with a slot id.
            unsafe { close_all(self.slot.id()) };
        }
        if let Some(finalize) = self.fl.C_Finalize {
            // SAFETY: as above; NULL is the argument C_Finalize requires.
            unsafe { finalize(std::ptr::null_mut()) };
        }
    }
}

impl std::fmt::Debug for Tok {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tok").field("h", &self.h).finish()
    }
}

/// For a dry run of these tests against another module (SoftHSMv2, to check the tests
/// themselves): its path. A SoftHSM configuration for the per-test token directory is written.
pub const OTHER_MODULE_VAR: &str = "FERROHSM_CRYPTO_TESTS_OTHER_MODULE";

fn other_module() -> Option<std::path::PathBuf> {
    std::env::var_os(OTHER_MODULE_VAR)
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
}

/// The module these tests load.
pub fn crypto_module_path() -> std::path::PathBuf {
    other_module().unwrap_or_else(super::module_path)
}

/// Load and initialize the module under test (see `crypto_module_path`).
pub fn load_crypto_module(env: &TestEnv) -> Pkcs11 {
    if other_module().is_some() {
        let conf = env.root().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                env.token_dir().display()
            ),
        )
        .expect("write softhsm2.conf");
        std::env::set_var("SOFTHSM2_CONF", &conf);
        let ctx = Pkcs11::new(crypto_module_path()).expect("load the other module");
        ctx.initialize(cryptoki::context::CInitializeArgs::new(
            cryptoki::context::CInitializeFlags::OS_LOCKING_OK,
        ))
        .expect("C_Initialize");
        ctx
    } else {
        load_module()
    }
}

/// The 3.0 function list of the module (C_GetInterface), or for a 2.x module its
/// C_GetFunctionList copied into a zeroed 3.0 list (the 3.0 entries then are NULL).
fn function_list(lib: &cryptoki_sys::Pkcs11) -> CK_FUNCTION_LIST_3_0 {
    if let Ok(get_interface) = lib.C_GetInterface {
        let mut name = *b"PKCS 11\0";
        let mut version = CK_VERSION { major: 3, minor: 0 };
        let mut iface: *mut CK_INTERFACE = null_mut();
        // SAFETY: name is NUL-terminated; version and iface are valid for writes.
        let rv = unsafe { get_interface(name.as_mut_ptr(), &mut version, &mut iface, 0) };
        expect_rv_raw("C_GetInterface", rv, CKR_OK);
        assert!(!iface.is_null());
        // SAFETY: the module returned a valid interface whose list lives while it is loaded.
        return unsafe { *((*iface).pFunctionList as *const CK_FUNCTION_LIST_3_0) };
    }
    let mut list: *mut CK_FUNCTION_LIST = null_mut();
    // SAFETY: `list` is valid for writes.
    let rv = unsafe { lib.C_GetFunctionList(&mut list) };
    expect_rv_raw("C_GetFunctionList", rv, CKR_OK);
    // SAFETY: CK_FUNCTION_LIST_3_0 begins with the layout of CK_FUNCTION_LIST; an all-zero
    // value is valid (version 0.0, every entry None).
    unsafe {
        let mut out: CK_FUNCTION_LIST_3_0 = std::mem::zeroed();
        std::ptr::copy_nonoverlapping(
            list as *const u8,
            &mut out as *mut CK_FUNCTION_LIST_3_0 as *mut u8,
            std::mem::size_of::<CK_FUNCTION_LIST>(),
        );
        out
    }
}

/// Set up `Tok` for a token labelled `label`.
pub fn token(label: &str) -> Tok {
    let env = TestEnv::new();
    let ctx = load_crypto_module(&env);
    let slot = init_token(&ctx, label);
    tok_on(env, ctx, slot)
}

/// `token` on a token directory whatever FERROHSM_TEST_STORE says, for a test that edits the
/// SQLite file (see `TestEnv::sqlite`).
pub fn sqlite_token(label: &str) -> Tok {
    let env = TestEnv::sqlite();
    let ctx = load_crypto_module(&env);
    let slot = init_token(&ctx, label);
    tok_on(env, ctx, slot)
}

/// `Tok` with a user session on `slot` of the loaded module `ctx`.
fn tok_on(env: TestEnv, ctx: Pkcs11, slot: Slot) -> Tok {
    let session = user_session(&ctx, slot);
    // SAFETY: the module is already loaded by `ctx`; this shares it.
    let lib = unsafe { cryptoki_sys::Pkcs11::new(crypto_module_path()) }.expect("dlopen module");
    let fl = function_list(&lib);
    let h = session.handle();
    Tok {
        session,
        h,
        slot,
        fl,
        _lib: lib,
        ctx,
        env,
    }
}

macro_rules! f {
    ($t:expr, $name:ident) => {
        $t.fl
            .$name
            .expect(concat!(stringify!($name), " is NULL in the function list"))
    };
}

impl Tok {
    /// A second R/W session on the same token (the user is logged in token-wide).
    pub fn open_session(&self) -> CK_SESSION_HANDLE {
        let mut h: CK_SESSION_HANDLE = CK_INVALID_HANDLE;
        // SAFETY: `h` is valid for writes; no notification callback.
        let rv = unsafe {
            f!(self, C_OpenSession)(
                self.slot.id(),
                CKF_SERIAL_SESSION | CKF_RW_SESSION,
                null_mut(),
                None,
                &mut h,
            )
        };
        expect_rv_raw("C_OpenSession", rv, CKR_OK);
        h
    }

    pub fn create(&self, t: &Tmpl) -> Result<CK_OBJECT_HANDLE, CK_RV> {
        self.create_in(self.h, t)
    }

    pub fn create_in(&self, s: CK_SESSION_HANDLE, t: &Tmpl) -> Result<CK_OBJECT_HANDLE, CK_RV> {
        let mut r = t.raw();
        let mut o = CK_INVALID_HANDLE;
        // SAFETY: template and handle pointers live across the call.
        res(unsafe { f!(self, C_CreateObject)(s, r.ptr(), r.len(), &mut o) })?;
        Ok(o)
    }

    /// C_CreateObject that must succeed.
    #[track_caller]
    pub fn obj(&self, t: &Tmpl) -> CK_OBJECT_HANDLE {
        self.create(t).ok_or_panic("C_CreateObject")
    }

    /// C_CopyObject with the changes in `t`.
    pub fn copy(&self, o: CK_OBJECT_HANDLE, t: &Tmpl) -> Result<CK_OBJECT_HANDLE, CK_RV> {
        let mut r = t.raw();
        let mut n = CK_INVALID_HANDLE;
        // SAFETY: template and handle pointers live across the call.
        res(unsafe { f!(self, C_CopyObject)(self.h, o, r.ptr(), r.len(), &mut n) })?;
        Ok(n)
    }

    pub fn destroy(&self, o: CK_OBJECT_HANDLE) -> Result<(), CK_RV> {
        // SAFETY: plain values.
        res(unsafe { f!(self, C_DestroyObject)(self.h, o) })
    }

    /// C_GetAttributeValue of one attribute: size query, then the value.
    pub fn attr(&self, o: CK_OBJECT_HANDLE, t: CK_ATTRIBUTE_TYPE) -> Result<Vec<u8>, CK_RV> {
        self.attr_in(self.h, o, t)
    }

    pub fn attr_in(
        &self,
        s: CK_SESSION_HANDLE,
        o: CK_OBJECT_HANDLE,
        t: CK_ATTRIBUTE_TYPE,
    ) -> Result<Vec<u8>, CK_RV> {
        let mut a = [CK_ATTRIBUTE {
            type_: t,
            pValue: null_mut(),
            ulValueLen: 0,
        }];
        // SAFETY: one attribute, NULL value pointer: a size query.
        res(unsafe { f!(self, C_GetAttributeValue)(s, o, a.as_mut_ptr(), 1) })?;
        assert_ne!(
            a[0].ulValueLen, CK_UNAVAILABLE_INFORMATION,
            "C_GetAttributeValue returned CKR_OK with CK_UNAVAILABLE_INFORMATION"
        );
        let mut buf = vec![0u8; a[0].ulValueLen as usize];
        a[0].pValue = if buf.is_empty() {
            null_mut()
        } else {
            buf.as_mut_ptr() as *mut c_void
        };
        // SAFETY: the buffer has the size the module asked for.
        res(unsafe { f!(self, C_GetAttributeValue)(s, o, a.as_mut_ptr(), 1) })?;
        buf.truncate(a[0].ulValueLen as usize);
        Ok(buf)
    }

    /// A byte attribute that must be readable.
    #[track_caller]
    pub fn get(&self, o: CK_OBJECT_HANDLE, t: CK_ATTRIBUTE_TYPE) -> Vec<u8> {
        self.attr(o, t)
            .ok_or_panic(&format!("C_GetAttributeValue(0x{t:x})"))
    }

    #[track_caller]
    pub fn get_bool(&self, o: CK_OBJECT_HANDLE, t: CK_ATTRIBUTE_TYPE) -> bool {
        let v = self.get(o, t);
        assert_eq!(
            v.len(),
            1,
            "CK_BBOOL attribute 0x{t:x} of length {}",
            v.len()
        );
        v[0] != 0
    }

    #[track_caller]
    pub fn get_ulong(&self, o: CK_OBJECT_HANDLE, t: CK_ATTRIBUTE_TYPE) -> CK_ULONG {
        let v = self.get(o, t);
        CK_ULONG::from_ne_bytes(v.as_slice().try_into().expect("CK_ULONG-sized attribute"))
    }

    pub fn set(&self, o: CK_OBJECT_HANDLE, t: &Tmpl) -> Result<(), CK_RV> {
        let mut r = t.raw();
        // SAFETY: the template lives across the call.
        res(unsafe { f!(self, C_SetAttributeValue)(self.h, o, r.ptr(), r.len()) })
    }

    pub fn generate_key(&self, m: &Mech, t: &Tmpl) -> Result<CK_OBJECT_HANDLE, CK_RV> {
        let mut ck = m.ck();
        let mut r = t.raw();
        let mut o = CK_INVALID_HANDLE;
        // SAFETY: all pointers live across the call.
        res(unsafe { f!(self, C_GenerateKey)(self.h, &mut ck, r.ptr(), r.len(), &mut o) })?;
        Ok(o)
    }

    pub fn generate_pair(
        &self,
        m: &Mech,
        public: &Tmpl,
        private: &Tmpl,
    ) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE), CK_RV> {
        let mut ck = m.ck();
        let mut pu = public.raw();
        let mut pr = private.raw();
        let (mut hp, mut hs) = (CK_INVALID_HANDLE, CK_INVALID_HANDLE);
        // SAFETY: all pointers live across the call.
        res(unsafe {
            f!(self, C_GenerateKeyPair)(
                self.h,
                &mut ck,
                pu.ptr(),
                pu.len(),
                pr.ptr(),
                pr.len(),
                &mut hp,
                &mut hs,
            )
        })?;
        Ok((hp, hs))
    }

    pub fn wrap(
        &self,
        m: &Mech,
        wrapping: CK_OBJECT_HANDLE,
        key: CK_OBJECT_HANDLE,
    ) -> Result<Vec<u8>, CK_RV> {
        let mut ck = m.ck();
        let mut out = vec![0u8; 16384];
        let mut len = out.len() as CK_ULONG;
        // SAFETY: all pointers live across the call.
        res(unsafe {
            f!(self, C_WrapKey)(self.h, &mut ck, wrapping, key, out.as_mut_ptr(), &mut len)
        })?;
        out.truncate(len as usize);
        Ok(out)
    }

    pub fn unwrap(
        &self,
        m: &Mech,
        unwrapping: CK_OBJECT_HANDLE,
        wrapped: &[u8],
        t: &Tmpl,
    ) -> Result<CK_OBJECT_HANDLE, CK_RV> {
        let mut ck = m.ck();
        let mut r = t.raw();
        let mut w = wrapped.to_vec();
        let mut o = CK_INVALID_HANDLE;
        // SAFETY: all pointers live across the call.
        res(unsafe {
            f!(self, C_UnwrapKey)(
                self.h,
                &mut ck,
                unwrapping,
                w.as_mut_ptr(),
                w.len() as CK_ULONG,
                r.ptr(),
                r.len(),
                &mut o,
            )
        })?;
        Ok(o)
    }

    pub fn derive(
        &self,
        m: &Mech,
        base: CK_OBJECT_HANDLE,
        t: &Tmpl,
    ) -> Result<CK_OBJECT_HANDLE, CK_RV> {
        let mut ck = m.ck();
        let mut r = t.raw();
        let mut o = CK_INVALID_HANDLE;
        // SAFETY: all pointers live across the call.
        res(unsafe { f!(self, C_DeriveKey)(self.h, &mut ck, base, r.ptr(), r.len(), &mut o) })?;
        Ok(o)
    }

    // --- encryption -----------------------------------------------------------------------

    pub fn encrypt_init(&self, m: &Mech, key: CK_OBJECT_HANDLE) -> Result<(), CK_RV> {
        let mut ck = m.ck();
        // SAFETY: the mechanism lives across the call.
        res(unsafe { f!(self, C_EncryptInit)(self.h, &mut ck, key) })
    }

    /// C_Encrypt with an output buffer of `out_cap` bytes (None: NULL, a size query). Returns
    /// the return value, the output and the length the module reported.
    pub fn encrypt_call(&self, data: &[u8], out_cap: Option<usize>) -> (CK_RV, Vec<u8>, usize) {
        let mut d = data.to_vec();
        let mut out = vec![0u8; out_cap.unwrap_or(0)];
        let mut len = out.len() as CK_ULONG;
        let p = if out_cap.is_some() {
            out.as_mut_ptr()
        } else {
            null_mut()
        };
        // SAFETY: the buffers live across the call; `len` is the output buffer's size.
        let rv = unsafe {
            f!(self, C_Encrypt)(self.h, d.as_mut_ptr(), d.len() as CK_ULONG, p, &mut len)
        };
        if rv == CKR_OK && out_cap.is_some() {
            out.truncate(len as usize);
        }
        (rv, out, len as usize)
    }

    pub fn decrypt_call(&self, data: &[u8], out_cap: Option<usize>) -> (CK_RV, Vec<u8>, usize) {
        let mut d = data.to_vec();
        let mut out = vec![0u8; out_cap.unwrap_or(0)];
        let mut len = out.len() as CK_ULONG;
        let p = if out_cap.is_some() {
            out.as_mut_ptr()
        } else {
            null_mut()
        };
        // SAFETY: the buffers live across the call; `len` is the output buffer's size.
        let rv = unsafe {
            f!(self, C_Decrypt)(self.h, d.as_mut_ptr(), d.len() as CK_ULONG, p, &mut len)
        };
        if rv == CKR_OK && out_cap.is_some() {
            out.truncate(len as usize);
        }
        (rv, out, len as usize)
    }

    /// Single-part encryption: C_EncryptInit + C_Encrypt.
    pub fn encrypt(&self, m: &Mech, key: CK_OBJECT_HANDLE, data: &[u8]) -> Result<Vec<u8>, CK_RV> {
        self.encrypt_init(m, key)?;
        let (rv, out, _) = self.encrypt_call(data, Some(cap(data.len())));
        res(rv)?;
        Ok(out)
    }

    /// Multi-part encryption: C_EncryptInit, C_EncryptUpdate per chunk, C_EncryptFinal.
    pub fn encrypt_multi(
        &self,
        m: &Mech,
        key: CK_OBJECT_HANDLE,
        chunks: &[&[u8]],
    ) -> Result<Vec<u8>, CK_RV> {
        self.encrypt_init(m, key)?;
        let mut all = Vec::new();
        for c in chunks {
            let mut d = c.to_vec();
            let mut out = vec![0u8; cap(c.len())];
            let mut len = out.len() as CK_ULONG;
            // SAFETY: the buffers live across the call.
            res(unsafe {
                f!(self, C_EncryptUpdate)(
                    self.h,
                    d.as_mut_ptr(),
                    d.len() as CK_ULONG,
                    out.as_mut_ptr(),
                    &mut len,
                )
            })?;
            all.extend_from_slice(&out[..len as usize]);
        }
        let mut out = vec![0u8; 4096];
        let mut len = out.len() as CK_ULONG;
        // SAFETY: the buffer lives across the call.
        res(unsafe { f!(self, C_EncryptFinal)(self.h, out.as_mut_ptr(), &mut len) })?;
        all.extend_from_slice(&out[..len as usize]);
        Ok(all)
    }

    pub fn decrypt_init(&self, m: &Mech, key: CK_OBJECT_HANDLE) -> Result<(), CK_RV> {
        let mut ck = m.ck();
        // SAFETY: the mechanism lives across the call.
        res(unsafe { f!(self, C_DecryptInit)(self.h, &mut ck, key) })
    }

    pub fn decrypt(&self, m: &Mech, key: CK_OBJECT_HANDLE, data: &[u8]) -> Result<Vec<u8>, CK_RV> {
        self.decrypt_init(m, key)?;
        let (rv, out, _) = self.decrypt_call(data, Some(cap(data.len())));
        res(rv)?;
        Ok(out)
    }

    pub fn decrypt_multi(
        &self,
        m: &Mech,
        key: CK_OBJECT_HANDLE,
        chunks: &[&[u8]],
    ) -> Result<Vec<u8>, CK_RV> {
        self.decrypt_init(m, key)?;
        let mut all = Vec::new();
        for c in chunks {
            let mut d = c.to_vec();
            let mut out = vec![0u8; cap(c.len())];
            let mut len = out.len() as CK_ULONG;
            // SAFETY: the buffers live across the call.
            res(unsafe {
                f!(self, C_DecryptUpdate)(
                    self.h,
                    d.as_mut_ptr(),
                    d.len() as CK_ULONG,
                    out.as_mut_ptr(),
                    &mut len,
                )
            })?;
            all.extend_from_slice(&out[..len as usize]);
        }
        let mut out = vec![0u8; 4096];
        let mut len = out.len() as CK_ULONG;
        // SAFETY: the buffer lives across the call.
        res(unsafe { f!(self, C_DecryptFinal)(self.h, out.as_mut_ptr(), &mut len) })?;
        all.extend_from_slice(&out[..len as usize]);
        Ok(all)
    }

    // --- digests --------------------------------------------------------------------------

    pub fn digest_init_in(&self, s: CK_SESSION_HANDLE, m: &Mech) -> Result<(), CK_RV> {
        let mut ck = m.ck();
        // SAFETY: the mechanism lives across the call.
        res(unsafe { f!(self, C_DigestInit)(s, &mut ck) })
    }

    pub fn digest(&self, m: &Mech, data: &[u8]) -> Result<Vec<u8>, CK_RV> {
        self.digest_init_in(self.h, m)?;
        let mut d = data.to_vec();
        let mut out = vec![0u8; 256];
        let mut len = out.len() as CK_ULONG;
        // SAFETY: the buffers live across the call.
        res(unsafe {
            f!(self, C_Digest)(
                self.h,
                d.as_mut_ptr(),
                d.len() as CK_ULONG,
                out.as_mut_ptr(),
                &mut len,
            )
        })?;
        out.truncate(len as usize);
        Ok(out)
    }

    pub fn digest_update_in(&self, s: CK_SESSION_HANDLE, data: &[u8]) -> Result<(), CK_RV> {
        let mut d = data.to_vec();
        // SAFETY: the buffer lives across the call.
        res(unsafe { f!(self, C_DigestUpdate)(s, d.as_mut_ptr(), d.len() as CK_ULONG) })
    }

    pub fn digest_key(&self, key: CK_OBJECT_HANDLE) -> Result<(), CK_RV> {
        // SAFETY: plain values.
        res(unsafe { f!(self, C_DigestKey)(self.h, key) })
    }

    pub fn digest_final_in(&self, s: CK_SESSION_HANDLE) -> Result<Vec<u8>, CK_RV> {
        let mut out = vec![0u8; 256];
        let mut len = out.len() as CK_ULONG;
        // SAFETY: the buffer lives across the call.
        res(unsafe { f!(self, C_DigestFinal)(s, out.as_mut_ptr(), &mut len) })?;
        out.truncate(len as usize);
        Ok(out)
    }

    pub fn digest_multi(&self, m: &Mech, chunks: &[&[u8]]) -> Result<Vec<u8>, CK_RV> {
        self.digest_init_in(self.h, m)?;
        for c in chunks {
            self.digest_update_in(self.h, c)?;
        }
        self.digest_final_in(self.h)
    }

    pub fn get_operation_state(&self, s: CK_SESSION_HANDLE) -> Result<Vec<u8>, CK_RV> {
        let mut len: CK_ULONG = 0;
        // SAFETY: NULL buffer: a size query.
        res(unsafe { f!(self, C_GetOperationState)(s, null_mut(), &mut len) })?;
        let mut out = vec![0u8; len as usize];
        // SAFETY: the buffer has the size the module asked for.
        res(unsafe { f!(self, C_GetOperationState)(s, out.as_mut_ptr(), &mut len) })?;
        out.truncate(len as usize);
        Ok(out)
    }

    pub fn set_operation_state(&self, s: CK_SESSION_HANDLE, state: &[u8]) -> Result<(), CK_RV> {
        self.set_operation_state_keys(s, state, CK_INVALID_HANDLE)
    }

    /// C_SetOperationState with `enc` as the encryption key handle.
    pub fn set_operation_state_keys(
        &self,
        s: CK_SESSION_HANDLE,
        state: &[u8],
        enc: CK_OBJECT_HANDLE,
    ) -> Result<(), CK_RV> {
        let mut st = state.to_vec();
        // SAFETY: the buffer lives across the call.
        res(unsafe {
            f!(self, C_SetOperationState)(
                s,
                st.as_mut_ptr(),
                st.len() as CK_ULONG,
                enc,
                CK_INVALID_HANDLE,
            )
        })
    }

    // --- signatures and MACs --------------------------------------------------------------

    pub fn sign_init(&self, m: &Mech, key: CK_OBJECT_HANDLE) -> Result<(), CK_RV> {
        let mut ck = m.ck();
        // SAFETY: the mechanism lives across the call.
        res(unsafe { f!(self, C_SignInit)(self.h, &mut ck, key) })
    }

    /// C_Sign after C_SignInit.
    pub fn sign_call(&self, data: &[u8]) -> Result<Vec<u8>, CK_RV> {
        let mut d = data.to_vec();
        let mut out = vec![0u8; 4096];
        let mut len = out.len() as CK_ULONG;
        // SAFETY: the buffers live across the call.
        res(unsafe {
            f!(self, C_Sign)(
                self.h,
                d.as_mut_ptr(),
                d.len() as CK_ULONG,
                out.as_mut_ptr(),
                &mut len,
            )
        })?;
        out.truncate(len as usize);
        Ok(out)
    }

    /// C_Sign with an output buffer of `out_cap` bytes (None: NULL, a size query): the return
    /// value, the output, and the length the module reported.
    pub fn sign_raw(&self, data: &[u8], out_cap: Option<usize>) -> (CK_RV, Vec<u8>, usize) {
        let mut d = data.to_vec();
        let mut out = vec![0u8; out_cap.unwrap_or(0)];
        let mut len = out.len() as CK_ULONG;
        let p = if out_cap.is_some() {
            out.as_mut_ptr()
        } else {
            null_mut()
        };
        // SAFETY: the buffers live across the call; `len` is the output buffer's size.
        let rv =
            unsafe { f!(self, C_Sign)(self.h, d.as_mut_ptr(), d.len() as CK_ULONG, p, &mut len) };
        if rv == CKR_OK && out_cap.is_some() {
            out.truncate(len as usize);
        }
        (rv, out, len as usize)
    }

    /// C_Digest with an output buffer of `out_cap` bytes (None: a size query).
    pub fn digest_raw(&self, data: &[u8], out_cap: Option<usize>) -> (CK_RV, Vec<u8>, usize) {
        let mut d = data.to_vec();
        let mut out = vec![0u8; out_cap.unwrap_or(0)];
        let mut len = out.len() as CK_ULONG;
        let p = if out_cap.is_some() {
            out.as_mut_ptr()
        } else {
            null_mut()
        };
        // SAFETY: the buffers live across the call; `len` is the output buffer's size.
        let rv =
            unsafe { f!(self, C_Digest)(self.h, d.as_mut_ptr(), d.len() as CK_ULONG, p, &mut len) };
        if rv == CKR_OK && out_cap.is_some() {
            out.truncate(len as usize);
        }
        (rv, out, len as usize)
    }

    /// C_EncryptUpdate with an output buffer of `out_cap` bytes (None: a size query).
    pub fn encrypt_update_raw(
        &self,
        data: &[u8],
        out_cap: Option<usize>,
    ) -> (CK_RV, Vec<u8>, usize) {
        let mut d = data.to_vec();
        let mut out = vec![0u8; out_cap.unwrap_or(0)];
        let mut len = out.len() as CK_ULONG;
        let p = if out_cap.is_some() {
            out.as_mut_ptr()
        } else {
            null_mut()
        };
        // SAFETY: the buffers live across the call; `len` is the output buffer's size.
        let rv = unsafe {
            f!(self, C_EncryptUpdate)(self.h, d.as_mut_ptr(), d.len() as CK_ULONG, p, &mut len)
        };
        if rv == CKR_OK && out_cap.is_some() {
            out.truncate(len as usize);
        }
        (rv, out, len as usize)
    }

    /// C_EncryptFinal with an output buffer of `out_cap` bytes (None: a size query).
    pub fn encrypt_final_raw(&self, out_cap: Option<usize>) -> (CK_RV, Vec<u8>, usize) {
        let mut out = vec![0u8; out_cap.unwrap_or(0)];
        let mut len = out.len() as CK_ULONG;
        let p = if out_cap.is_some() {
            out.as_mut_ptr()
        } else {
            null_mut()
        };
        // SAFETY: the buffer lives across the call; `len` is its size.
        let rv = unsafe { f!(self, C_EncryptFinal)(self.h, p, &mut len) };
        if rv == CKR_OK && out_cap.is_some() {
            out.truncate(len as usize);
        }
        (rv, out, len as usize)
    }

    /// C_Verify after C_VerifyInit.
    pub fn verify_call(&self, data: &[u8], sig: &[u8]) -> CK_RV {
        let mut d = data.to_vec();
        let mut s = sig.to_vec();
        // SAFETY: the buffers live across the call.
        unsafe {
            f!(self, C_Verify)(
                self.h,
                d.as_mut_ptr(),
                d.len() as CK_ULONG,
                s.as_mut_ptr(),
                s.len() as CK_ULONG,
            )
        }
    }

    pub fn sign(&self, m: &Mech, key: CK_OBJECT_HANDLE, data: &[u8]) -> Result<Vec<u8>, CK_RV> {
        self.sign_init(m, key)?;
        self.sign_call(data)
    }

    pub fn sign_multi(
        &self,
        m: &Mech,
        key: CK_OBJECT_HANDLE,
        chunks: &[&[u8]],
    ) -> Result<Vec<u8>, CK_RV> {
        self.sign_init(m, key)?;
        for c in chunks {
            let mut d = c.to_vec();
            // SAFETY: the buffer lives across the call.
            res(unsafe { f!(self, C_SignUpdate)(self.h, d.as_mut_ptr(), d.len() as CK_ULONG) })?;
        }
        let mut out = vec![0u8; 4096];
        let mut len = out.len() as CK_ULONG;
        // SAFETY: the buffer lives across the call.
        res(unsafe { f!(self, C_SignFinal)(self.h, out.as_mut_ptr(), &mut len) })?;
        out.truncate(len as usize);
        Ok(out)
    }

    pub fn verify_init(&self, m: &Mech, key: CK_OBJECT_HANDLE) -> Result<(), CK_RV> {
        let mut ck = m.ck();
        // SAFETY: the mechanism lives across the call.
        res(unsafe { f!(self, C_VerifyInit)(self.h, &mut ck, key) })
    }

    pub fn verify(
        &self,
        m: &Mech,
        key: CK_OBJECT_HANDLE,
        data: &[u8],
        sig: &[u8],
    ) -> Result<(), CK_RV> {
        self.verify_init(m, key)?;
        let mut d = data.to_vec();
        let mut s = sig.to_vec();
        // SAFETY: the buffers live across the call.
        res(unsafe {
            f!(self, C_Verify)(
                self.h,
                d.as_mut_ptr(),
                d.len() as CK_ULONG,
                s.as_mut_ptr(),
                s.len() as CK_ULONG,
            )
        })
    }

    pub fn verify_multi(
        &self,
        m: &Mech,
        key: CK_OBJECT_HANDLE,
        chunks: &[&[u8]],
        sig: &[u8],
    ) -> Result<(), CK_RV> {
        self.verify_init(m, key)?;
        for c in chunks {
            let mut d = c.to_vec();
            // SAFETY: the buffer lives across the call.
            res(unsafe { f!(self, C_VerifyUpdate)(self.h, d.as_mut_ptr(), d.len() as CK_ULONG) })?;
        }
        let mut s = sig.to_vec();
        // SAFETY: the buffer lives across the call.
        res(unsafe { f!(self, C_VerifyFinal)(self.h, s.as_mut_ptr(), s.len() as CK_ULONG) })
    }

    pub fn sign_recover(
        &self,
        m: &Mech,
        key: CK_OBJECT_HANDLE,
        data: &[u8],
    ) -> Result<Vec<u8>, CK_RV> {
        let mut ck = m.ck();
        // SAFETY: the mechanism lives across the call.
        res(unsafe { f!(self, C_SignRecoverInit)(self.h, &mut ck, key) })?;
        let mut d = data.to_vec();
        let mut out = vec![0u8; 4096];
        let mut len = out.len() as CK_ULONG;
        // SAFETY: the buffers live across the call.
        res(unsafe {
            f!(self, C_SignRecover)(
                self.h,
                d.as_mut_ptr(),
                d.len() as CK_ULONG,
                out.as_mut_ptr(),
                &mut len,
            )
        })?;
        out.truncate(len as usize);
        Ok(out)
    }

    pub fn verify_recover(
        &self,
        m: &Mech,
        key: CK_OBJECT_HANDLE,
        sig: &[u8],
    ) -> Result<Vec<u8>, CK_RV> {
        let mut ck = m.ck();
        // SAFETY: the mechanism lives across the call.
        res(unsafe { f!(self, C_VerifyRecoverInit)(self.h, &mut ck, key) })?;
        let mut s = sig.to_vec();
        let mut out = vec![0u8; 4096];
        let mut len = out.len() as CK_ULONG;
        // SAFETY: the buffers live across the call.
        res(unsafe {
            f!(self, C_VerifyRecover)(
                self.h,
                s.as_mut_ptr(),
                s.len() as CK_ULONG,
                out.as_mut_ptr(),
                &mut len,
            )
        })?;
        out.truncate(len as usize);
        Ok(out)
    }

    /// C_Login(CKU_CONTEXT_SPECIFIC) with the user PIN (or another PIN).
    pub fn login_context(&self, pin_text: Option<&str>) -> CK_RV {
        self.login(self.h, CKU_CONTEXT_SPECIFIC, pin_text.unwrap_or(USER_PIN))
    }

    // --- message-based encryption (v3.0 §5.11, §5.13) --------------------------------------

    pub fn message_encrypt_init(&self, m: &Mech, key: CK_OBJECT_HANDLE) -> Result<(), CK_RV> {
        let mut ck = m.ck();
        // SAFETY: the mechanism lives across the call.
        res(unsafe { f!(self, C_MessageEncryptInit)(self.h, &mut ck, key) })
    }

    /// C_EncryptMessage with the per-message parameter `p` (IV and tag buffers inside it).
    pub fn encrypt_message(&self, p: &Mech, aad: &[u8], plain: &[u8]) -> Result<Vec<u8>, CK_RV> {
        let (pp, pl) = p.param_ptr();
        let mut a = aad.to_vec();
        let mut d = plain.to_vec();
        let mut out = vec![0u8; cap(plain.len())];
        let mut len = out.len() as CK_ULONG;
        let ap = if a.is_empty() {
            null_mut()
        } else {
            a.as_mut_ptr()
        };
        // SAFETY: all buffers live across the call; the parameter's pointers are owned by `p`.
        res(unsafe {
            f!(self, C_EncryptMessage)(
                self.h,
                pp,
                pl,
                ap,
                a.len() as CK_ULONG,
                d.as_mut_ptr(),
                d.len() as CK_ULONG,
                out.as_mut_ptr(),
                &mut len,
            )
        })?;
        out.truncate(len as usize);
        Ok(out)
    }

    pub fn message_encrypt_final(&self) -> Result<(), CK_RV> {
        // SAFETY: plain value.
        res(unsafe { f!(self, C_MessageEncryptFinal)(self.h) })
    }

    pub fn message_decrypt_init(&self, m: &Mech, key: CK_OBJECT_HANDLE) -> Result<(), CK_RV> {
        let mut ck = m.ck();
        // SAFETY: the mechanism lives across the call.
        res(unsafe { f!(self, C_MessageDecryptInit)(self.h, &mut ck, key) })
    }

    pub fn decrypt_message(&self, p: &Mech, aad: &[u8], cipher: &[u8]) -> Result<Vec<u8>, CK_RV> {
        let (pp, pl) = p.param_ptr();
        let mut a = aad.to_vec();
        let mut d = cipher.to_vec();
        let mut out = vec![0u8; cap(cipher.len())];
        let mut len = out.len() as CK_ULONG;
        let ap = if a.is_empty() {
            null_mut()
        } else {
            a.as_mut_ptr()
        };
        let dp = if d.is_empty() {
            null_mut()
        } else {
            d.as_mut_ptr()
        };
        // SAFETY: all buffers live across the call.
        res(unsafe {
            f!(self, C_DecryptMessage)(
                self.h,
                pp,
                pl,
                ap,
                a.len() as CK_ULONG,
                dp,
                d.len() as CK_ULONG,
                out.as_mut_ptr(),
                &mut len,
            )
        })?;
        out.truncate(len as usize);
        Ok(out)
    }

    /// A message in parts: C_EncryptMessageBegin / C_DecryptMessageBegin, then one
    /// `*MessageNext` per part, the last flagged CKF_END_OF_MESSAGE. The outputs concatenated.
    pub fn message_in_parts(
        &self,
        encrypt: bool,
        p: &Mech,
        aad: &[u8],
        parts: &[&[u8]],
    ) -> Result<Vec<u8>, CK_RV> {
        let (pp, pl) = p.param_ptr();
        let mut a = aad.to_vec();
        let ap = if a.is_empty() {
            null_mut()
        } else {
            a.as_mut_ptr()
        };
        // SAFETY: all buffers live across the call; the parameter's pointers are owned by `p`.
        res(unsafe {
            if encrypt {
                f!(self, C_EncryptMessageBegin)(self.h, pp, pl, ap, a.len() as CK_ULONG)
            } else {
                f!(self, C_DecryptMessageBegin)(self.h, pp, pl, ap, a.len() as CK_ULONG)
            }
        })?;
        let mut all = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            let flags = if i + 1 == parts.len() {
                CKF_END_OF_MESSAGE
            } else {
                0
            };
            let mut d = part.to_vec();
            let total: usize = parts.iter().map(|p| p.len()).sum();
            let mut out = vec![0u8; cap(total)];
            let mut len = out.len() as CK_ULONG;
            // SAFETY: all buffers live across the call.
            res(unsafe {
                let next = if encrypt {
                    f!(self, C_EncryptMessageNext)
                } else {
                    f!(self, C_DecryptMessageNext)
                };
                next(
                    self.h,
                    pp,
                    pl,
                    d.as_mut_ptr(),
                    d.len() as CK_ULONG,
                    out.as_mut_ptr(),
                    &mut len,
                    flags,
                )
            })?;
            all.extend_from_slice(&out[..len as usize]);
        }
        Ok(all)
    }

    pub fn message_decrypt_final(&self) -> Result<(), CK_RV> {
        // SAFETY: plain value.
        res(unsafe { f!(self, C_MessageDecryptFinal)(self.h) })
    }

    // --- mechanisms -------------------------------------------------------------------------

    pub fn mechanism_list(&self) -> Result<Vec<CK_MECHANISM_TYPE>, CK_RV> {
        let slot = self.slot.id();
        let mut n: CK_ULONG = 0;
        // SAFETY: NULL list: a size query.
        res(unsafe { f!(self, C_GetMechanismList)(slot, null_mut(), &mut n) })?;
        let mut v = vec![0 as CK_MECHANISM_TYPE; n as usize];
        // SAFETY: the list has room for `n` entries.
        res(unsafe { f!(self, C_GetMechanismList)(slot, v.as_mut_ptr(), &mut n) })?;
        v.truncate(n as usize);
        Ok(v)
    }

    pub fn mechanism_info(&self, m: CK_MECHANISM_TYPE) -> Result<CK_MECHANISM_INFO, CK_RV> {
        let mut info = CK_MECHANISM_INFO::default();
        // SAFETY: `info` is valid for writes.
        res(unsafe { f!(self, C_GetMechanismInfo)(self.slot.id(), m, &mut info) })?;
        Ok(info)
    }

    /// C_GenerateRandom.
    pub fn random(&self, n: usize) -> Vec<u8> {
        let mut out = vec![0u8; n];
        // SAFETY: the buffer lives across the call.
        let rv = unsafe { f!(self, C_GenerateRandom)(self.h, out.as_mut_ptr(), n as CK_ULONG) };
        expect_rv_raw("C_GenerateRandom", rv, CKR_OK);
        out
    }

    /// Log the session in again after a C_Logout (or in another role).
    pub fn login(&self, s: CK_SESSION_HANDLE, user: CK_USER_TYPE, p: &str) -> CK_RV {
        let mut p = p.as_bytes().to_vec();
        // SAFETY: the PIN buffer lives across the call.
        unsafe { f!(self, C_Login)(s, user, p.as_mut_ptr(), p.len() as CK_ULONG) }
    }

    pub fn logout(&self, s: CK_SESSION_HANDLE) -> CK_RV {
        // SAFETY: plain value.
        unsafe { f!(self, C_Logout)(s) }
    }

    pub fn close(&self, s: CK_SESSION_HANDLE) -> CK_RV {
        // SAFETY: plain value.
        unsafe { f!(self, C_CloseSession)(s) }
    }
}

/// The user PIN as an AuthPin, for cryptoki calls.
pub fn user_pin() -> cryptoki::types::AuthPin {
    pin(USER_PIN)
}

impl Tok {
    /// The module's 3.0 function list, for raw calls the helpers above do not cover (NULL
    /// arguments, unaligned templates, calls on another session than `h`).
    pub fn fl(&self) -> &CK_FUNCTION_LIST_3_0 {
        &self.fl
    }

    /// C_SignUpdate in the main session.
    pub fn sign_update(&self, data: &[u8]) -> Result<(), CK_RV> {
        let mut d = data.to_vec();
        // SAFETY: the buffer lives across the call.
        res(unsafe { f!(self, C_SignUpdate)(self.h, d.as_mut_ptr(), d.len() as CK_ULONG) })
    }

    /// C_SignFinal in the main session.
    pub fn sign_final(&self) -> Result<Vec<u8>, CK_RV> {
        let mut out = vec![0u8; 512];
        let mut len = out.len() as CK_ULONG;
        // SAFETY: the buffer lives across the call.
        res(unsafe { f!(self, C_SignFinal)(self.h, out.as_mut_ptr(), &mut len) })?;
        out.truncate(len as usize);
        Ok(out)
    }

    /// C_EncryptMessage with CK_GCM_MESSAGE_PARAMS asking the module to generate the IV; the
    /// IV it wrote back into the parameter.
    pub fn gcm_generated_iv(
        &self,
        iv_len: usize,
        generator: CK_GENERATOR_FUNCTION,
        fixed_bits: CK_ULONG,
    ) -> Result<Vec<u8>, CK_RV> {
        let p = gcm_message_params(&vec![0x5a; iv_len], generator, fixed_bits, &[0u8; 16]);
        self.encrypt_message(&p, b"", b"message")?;
        Ok(p.kept(0))
    }
}

/// `Tok` for an existing token labelled `label` (in a child process: `TestEnv::inherited`).
pub fn attach_token(env: TestEnv, label: &str) -> Tok {
    let ctx = load_crypto_module(&env);
    let slot = slot_by_label(&ctx, label);
    tok_on(env, ctx, slot)
}

impl Tok {
    /// C_DecryptUpdate with an output buffer of `out_cap` bytes; `None` and `Some(0)` both pass
    /// a NULL pointer, as clients that allocate exactly the queried size (PyKCS11) do.
    pub fn decrypt_update_raw(
        &self,
        data: &[u8],
        out_cap: Option<usize>,
    ) -> (CK_RV, Vec<u8>, usize) {
        let mut d = data.to_vec();
        let mut out = vec![0u8; out_cap.unwrap_or(0)];
        let mut len = out.len() as CK_ULONG;
        let p = if out.is_empty() {
            null_mut()
        } else {
            out.as_mut_ptr()
        };
        // SAFETY: the buffers live across the call; `len` is the output buffer's size.
        let rv = unsafe {
            f!(self, C_DecryptUpdate)(self.h, d.as_mut_ptr(), d.len() as CK_ULONG, p, &mut len)
        };
        if rv == CKR_OK && !out.is_empty() {
            out.truncate(len as usize);
        }
        (rv, out, len as usize)
    }

    /// C_DecryptFinal with an output buffer of `out_cap` bytes (None: a size query).
    pub fn decrypt_final_raw(&self, out_cap: Option<usize>) -> (CK_RV, Vec<u8>, usize) {
        let mut out = vec![0u8; out_cap.unwrap_or(0)];
        let mut len = out.len() as CK_ULONG;
        let p = if out_cap.is_some() {
            out.as_mut_ptr()
        } else {
            null_mut()
        };
        // SAFETY: the buffer lives across the call; `len` is its size.
        let rv = unsafe { f!(self, C_DecryptFinal)(self.h, p, &mut len) };
        if rv == CKR_OK && out_cap.is_some() {
            out.truncate(len as usize);
        }
        (rv, out, len as usize)
    }

    /// C_GetMechanismList of the token's slot, raw (types the `cryptoki` crate does not name
    /// included).
    pub fn mechanism_list_raw(&self) -> Vec<CK_MECHANISM_TYPE> {
        let mut n: CK_ULONG = 0;
        // SAFETY: NULL list: a size query into `n`.
        let rv = unsafe { f!(self, C_GetMechanismList)(self.slot.id(), null_mut(), &mut n) };
        expect_rv_raw("C_GetMechanismList (size)", rv, CKR_OK);
        let mut list = vec![0 as CK_MECHANISM_TYPE; n as usize];
        // SAFETY: `list` holds `n` entries.
        let rv = unsafe { f!(self, C_GetMechanismList)(self.slot.id(), list.as_mut_ptr(), &mut n) };
        expect_rv_raw("C_GetMechanismList", rv, CKR_OK);
        list.truncate(n as usize);
        list
    }

    /// C_GetMechanismInfo of the token's slot, raw.
    pub fn mechanism_info_raw(&self, m: CK_MECHANISM_TYPE) -> Result<CK_MECHANISM_INFO, CK_RV> {
        let mut info = CK_MECHANISM_INFO {
            ulMinKeySize: 0,
            ulMaxKeySize: 0,
            flags: 0,
        };
        // SAFETY: `info` is valid for writes.
        res(unsafe { f!(self, C_GetMechanismInfo)(self.slot.id(), m, &mut info) })?;
        Ok(info)
    }
}

/// CKM_RSA_AES_KEY_WRAP with CK_RSA_AES_KEY_WRAP_PARAMS: the ephemeral AES key size and the
/// OAEP parameters (no label), kept in the mechanism.
pub fn rsa_aes_key_wrap(
    aes_bits: CK_ULONG,
    hash: CK_MECHANISM_TYPE,
    mgf: CK_RSA_PKCS_MGF_TYPE,
) -> Mech {
    let mut m = Mech::new(CKM_RSA_AES_KEY_WRAP);
    let o = CK_RSA_PKCS_OAEP_PARAMS {
        hashAlg: hash,
        mgf,
        source: CKZ_DATA_SPECIFIED,
        pSourceData: null_mut(),
        ulSourceDataLen: 0,
    };
    // SAFETY: the bytes of a plain C structure.
    let ob = unsafe {
        std::slice::from_raw_parts(
            &o as *const CK_RSA_PKCS_OAEP_PARAMS as *const u8,
            std::mem::size_of::<CK_RSA_PKCS_OAEP_PARAMS>(),
        )
    }
    .to_vec();
    let po = m.keep(&ob);
    m.set_param(CK_RSA_AES_KEY_WRAP_PARAMS {
        ulAESKeyBits: aes_bits,
        pOAEPParams: po as *mut CK_RSA_PKCS_OAEP_PARAMS,
    });
    m
}

/// CKM_AES_GMAC with CK_GCM_PARAMS: the IV, the tag length, and `aad` (which the module
/// requires empty: the signed data is the AAD).
pub fn gmac_params_aad(iv: &[u8], aad: &[u8], tag_bits: CK_ULONG) -> Mech {
    let mut m = Mech::new(CKM_AES_GMAC);
    let piv = m.keep(iv);
    let paad = m.keep(aad);
    m.set_param(CK_GCM_PARAMS {
        pIv: piv,
        ulIvLen: iv.len() as CK_ULONG,
        ulIvBits: (iv.len() * 8) as CK_ULONG,
        pAAD: paad,
        ulAADLen: aad.len() as CK_ULONG,
        ulTagBits: tag_bits,
    });
    m
}

/// CKM_AES_GMAC with CK_GCM_PARAMS of this IV and tag length.
pub fn gmac_params(iv: &[u8], tag_bits: CK_ULONG) -> Mech {
    gmac_params_aad(iv, &[], tag_bits)
}
/// An SP 800-108 mechanism (Current Mechanisms §2.42) without additional keys: a counter of
/// `counter_bits` (the iteration variable in counter mode, the optional counter otherwise, or
/// none), then `label` as a byte array; `iv` is feedback mode's IV. Nested buffers are kept by
/// the mechanism (byte-aligned copies: the module reads them unaligned).
pub fn kbkdf(
    ty: CK_MECHANISM_TYPE,
    prf: CK_MECHANISM_TYPE,
    counter_bits: Option<CK_ULONG>,
    label: &[u8],
    iv: &[u8],
) -> Mech {
    fn raw<T: Copy>(v: &T) -> Vec<u8> {
        // SAFETY: reading the bytes of a plain C structure.
        unsafe { std::slice::from_raw_parts(v as *const T as *const u8, std::mem::size_of::<T>()) }
            .to_vec()
    }
    let mut m = Mech::new(ty);
    let mut params = Vec::new();
    let counter = counter_bits.map(|bits| {
        let f = CK_SP800_108_COUNTER_FORMAT {
            bLittleEndian: 0,
            ulWidthInBits: bits,
        };
        m.keep(&raw(&f))
    });
    let counter_len = std::mem::size_of::<CK_SP800_108_COUNTER_FORMAT>() as CK_ULONG;
    if ty == CKM_SP800_108_COUNTER_KDF {
        params.push(CK_PRF_DATA_PARAM {
            type_: CK_SP800_108_ITERATION_VARIABLE,
            pValue: counter.unwrap_or(null_mut()) as *mut c_void,
            ulValueLen: if counter.is_some() { counter_len } else { 0 },
        });
    } else {
        params.push(CK_PRF_DATA_PARAM {
            type_: CK_SP800_108_ITERATION_VARIABLE,
            pValue: null_mut(),
            ulValueLen: 0,
        });
        if let Some(c) = counter {
            params.push(CK_PRF_DATA_PARAM {
                type_: CK_SP800_108_COUNTER,
                pValue: c as *mut c_void,
                ulValueLen: counter_len,
            });
        }
    }
    let l = m.keep(label);
    params.push(CK_PRF_DATA_PARAM {
        type_: CK_SP800_108_BYTE_ARRAY,
        pValue: l as *mut c_void,
        ulValueLen: label.len() as CK_ULONG,
    });
    let bytes: Vec<u8> = params.iter().flat_map(raw).collect();
    let pd = m.keep(&bytes) as *mut CK_PRF_DATA_PARAM;
    let n = params.len() as CK_ULONG;
    if ty == CKM_SP800_108_FEEDBACK_KDF {
        let piv = m.keep(iv);
        m.set_param(CK_SP800_108_FEEDBACK_KDF_PARAMS {
            prfType: prf,
            ulNumberOfDataParams: n,
            pDataParams: pd,
            ulIVLen: iv.len() as CK_ULONG,
            pIV: piv,
            ulAdditionalDerivedKeys: 0,
            pAdditionalDerivedKeys: null_mut(),
        });
    } else {
        m.set_param(CK_SP800_108_KDF_PARAMS {
            prfType: prf,
            ulNumberOfDataParams: n,
            pDataParams: pd,
            ulAdditionalDerivedKeys: 0,
            pAdditionalDerivedKeys: null_mut(),
        });
    }
    m
}
