//! A thin client over a module's raw `CK_FUNCTION_LIST`: the benchmark measures the module, so
//! every call goes straight through the C ABI with caller-owned buffers, as a C client would.
//! All the unsafe code of the tool is in this file.

use anyhow::{anyhow, bail, Context, Result};
use cryptoki_sys::*;
use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::ptr;

/// A `CK_RV` other than `CKR_OK`, with the function that returned it.
#[derive(Debug)]
pub struct RvError {
    pub function: &'static str,
    pub rv: CK_RV,
}

impl std::fmt::Display for RvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} returned {} (0x{:x})",
            self.function,
            rv_name(self.rv),
            self.rv
        )
    }
}

impl std::error::Error for RvError {}

fn rv_name(rv: CK_RV) -> &'static str {
    match rv {
        CKR_GENERAL_ERROR => "CKR_GENERAL_ERROR",
        CKR_FUNCTION_FAILED => "CKR_FUNCTION_FAILED",
        CKR_ARGUMENTS_BAD => "CKR_ARGUMENTS_BAD",
        CKR_ATTRIBUTE_TYPE_INVALID => "CKR_ATTRIBUTE_TYPE_INVALID",
        CKR_ATTRIBUTE_VALUE_INVALID => "CKR_ATTRIBUTE_VALUE_INVALID",
        CKR_DEVICE_ERROR => "CKR_DEVICE_ERROR",
        CKR_KEY_TYPE_INCONSISTENT => "CKR_KEY_TYPE_INCONSISTENT",
        CKR_MECHANISM_INVALID => "CKR_MECHANISM_INVALID",
        CKR_MECHANISM_PARAM_INVALID => "CKR_MECHANISM_PARAM_INVALID",
        CKR_OPERATION_ACTIVE => "CKR_OPERATION_ACTIVE",
        CKR_PIN_INCORRECT => "CKR_PIN_INCORRECT",
        CKR_SESSION_HANDLE_INVALID => "CKR_SESSION_HANDLE_INVALID",
        CKR_SIGNATURE_INVALID => "CKR_SIGNATURE_INVALID",
        CKR_TEMPLATE_INCOMPLETE => "CKR_TEMPLATE_INCOMPLETE",
        CKR_TEMPLATE_INCONSISTENT => "CKR_TEMPLATE_INCONSISTENT",
        CKR_TOKEN_NOT_PRESENT => "CKR_TOKEN_NOT_PRESENT",
        CKR_TOKEN_NOT_RECOGNIZED => "CKR_TOKEN_NOT_RECOGNIZED",
        CKR_USER_NOT_LOGGED_IN => "CKR_USER_NOT_LOGGED_IN",
        CKR_USER_ALREADY_LOGGED_IN => "CKR_USER_ALREADY_LOGGED_IN",
        CKR_BUFFER_TOO_SMALL => "CKR_BUFFER_TOO_SMALL",
        CKR_CRYPTOKI_NOT_INITIALIZED => "CKR_CRYPTOKI_NOT_INITIALIZED",
        CKR_CRYPTOKI_ALREADY_INITIALIZED => "CKR_CRYPTOKI_ALREADY_INITIALIZED",
        _ => "CKR_?",
    }
}

/// Calls one function of the list and turns its `CK_RV` into a `Result`.
macro_rules! p11 {
    ($m:expr, $f:ident ( $($arg:expr),* $(,)? )) => {{
        match $m.list.$f {
            None => Err(anyhow!(concat!(stringify!($f), " is not in the function list"))),
            Some(f) => {
                // SAFETY: a function of the module's own list, called with the argument types
                // of its prototype; every pointer argument comes from a live Rust value or
                // buffer of at least the length passed beside it, and the module keeps none of
                // them after the call returns (templates and mechanism parameters are copied
                // by C_*Init, C_CreateObject and C_Generate*).
                let rv = unsafe { f($($arg),*) };
                if rv == CKR_OK {
                    Ok(())
                } else {
                    Err(anyhow::Error::new(RvError { function: stringify!($f), rv }))
                }
            }
        }
    }};
}

/// Length of a slice as `CK_ULONG` (lossless on every platform the tool builds for).
fn ulen(len: usize) -> CK_ULONG {
    len as CK_ULONG
}

/// An attribute template that owns its values.
#[derive(Debug, Clone, Default)]
pub struct Template {
    attrs: Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)>,
}

impl Template {
    pub fn new() -> Template {
        Template::default()
    }

    pub fn bool(mut self, ty: CK_ATTRIBUTE_TYPE, value: bool) -> Template {
        self.attrs.push((ty, vec![CK_BBOOL::from(value)]));
        self
    }

    pub fn ulong(mut self, ty: CK_ATTRIBUTE_TYPE, value: CK_ULONG) -> Template {
        self.attrs.push((ty, value.to_ne_bytes().to_vec()));
        self
    }

    pub fn bytes(mut self, ty: CK_ATTRIBUTE_TYPE, value: &[u8]) -> Template {
        self.attrs.push((ty, value.to_vec()));
        self
    }

    /// The `CK_ATTRIBUTE` array; it points into `self`, which must outlive the call.
    fn raw(&mut self) -> Vec<CK_ATTRIBUTE> {
        self.attrs
            .iter_mut()
            .map(|(ty, v)| CK_ATTRIBUTE {
                type_: *ty,
                pValue: v.as_mut_ptr().cast(),
                ulValueLen: ulen(v.len()),
            })
            .collect()
    }
}

/// A mechanism and its parameter, built on the stack right before each call.
#[derive(Debug, Clone, Copy)]
pub enum Mech<'a> {
    Plain(CK_MECHANISM_TYPE),
    /// `CKM_RSA_PKCS_PSS` and friends: SHA-256, MGF1-SHA-256, salt of 32 bytes.
    PssSha256(CK_MECHANISM_TYPE),
    /// `CKM_RSA_PKCS_OAEP` with SHA-1, MGF1-SHA-1 and no label (SoftHSMv2 2.6 takes only
    /// SHA-1 for OAEP).
    OaepSha1,
    /// `CKM_AES_GCM` with this IV, no AAD, a 128-bit tag.
    Gcm(&'a [u8]),
    /// `CKM_AES_CBC` with this IV.
    Cbc(&'a [u8; 16]),
    /// `CKM_ECDH1_DERIVE`, no KDF, with the peer's public point.
    Ecdh(&'a [u8]),
}

impl Mech<'_> {
    /// Calls `f` with a `CK_MECHANISM` whose parameter lives for the duration of the call.
    fn with<T>(&self, f: impl FnOnce(*mut CK_MECHANISM) -> T) -> T {
        fn mech<P>(ty: CK_MECHANISM_TYPE, p: &mut P) -> CK_MECHANISM {
            CK_MECHANISM {
                mechanism: ty,
                pParameter: (p as *mut P).cast(),
                ulParameterLen: ulen(std::mem::size_of::<P>()),
            }
        }
        match *self {
            Mech::Plain(ty) => {
                let mut m = CK_MECHANISM {
                    mechanism: ty,
                    pParameter: ptr::null_mut(),
                    ulParameterLen: 0,
                };
                f(&mut m)
            }
            Mech::PssSha256(ty) => {
                let mut p = CK_RSA_PKCS_PSS_PARAMS {
                    hashAlg: CKM_SHA256,
                    mgf: CKG_MGF1_SHA256,
                    sLen: 32,
                };
                f(&mut mech(ty, &mut p))
            }
            Mech::OaepSha1 => {
                let mut p = CK_RSA_PKCS_OAEP_PARAMS {
                    hashAlg: CKM_SHA_1,
                    mgf: CKG_MGF1_SHA1,
                    source: CKZ_DATA_SPECIFIED,
                    pSourceData: ptr::null_mut(),
                    ulSourceDataLen: 0,
                };
                f(&mut mech(CKM_RSA_PKCS_OAEP, &mut p))
            }
            Mech::Gcm(iv) => {
                let mut p = CK_GCM_PARAMS {
                    pIv: iv.as_ptr().cast_mut(),
                    ulIvLen: ulen(iv.len()),
                    ulIvBits: ulen(iv.len() * 8),
                    pAAD: ptr::null_mut(),
                    ulAADLen: 0,
                    ulTagBits: 128,
                };
                f(&mut mech(CKM_AES_GCM, &mut p))
            }
            Mech::Cbc(iv) => {
                let mut m = CK_MECHANISM {
                    mechanism: CKM_AES_CBC,
                    pParameter: iv.as_ptr().cast_mut().cast(),
                    ulParameterLen: ulen(iv.len()),
                };
                f(&mut m)
            }
            Mech::Ecdh(public) => {
                let mut p = CK_ECDH1_DERIVE_PARAMS {
                    kdf: CKD_NULL,
                    ulSharedDataLen: 0,
                    pSharedData: ptr::null_mut(),
                    ulPublicDataLen: ulen(public.len()),
                    pPublicData: public.as_ptr().cast_mut(),
                };
                f(&mut mech(CKM_ECDH1_DERIVE, &mut p))
            }
        }
    }
}

/// A loaded module: its function list, copied. The library is never unloaded (SoftHSMv2 and
/// OpenSSL do not like `dlclose`); the process exits instead. A clone is the same loaded
/// instance under another name (for a second token of the instance).
#[derive(Debug, Clone)]
pub struct Module {
    pub name: &'static str,
    pub path: PathBuf,
    list: CK_FUNCTION_LIST,
}

impl Module {
    /// Loads the library and calls `C_GetFunctionList`; does not initialize.
    pub fn load(name: &'static str, path: &Path) -> Result<Module> {
        // SAFETY: loading a PKCS#11 module runs its initializers; that is what the tool is for,
        // and the path is one the user named.
        let lib = unsafe { cryptoki_sys::Pkcs11::new(path) }
            .with_context(|| format!("cannot load the {name} module {}", path.display()))?;
        let get = lib
            .C_GetFunctionList
            .as_ref()
            .map_err(|e| anyhow!("{}: no C_GetFunctionList: {e}", path.display()))?;
        let mut list: *mut CK_FUNCTION_LIST = ptr::null_mut();
        // SAFETY: C_GetFunctionList's prototype; it writes a pointer to a static list.
        let rv = unsafe { get(&mut list) };
        if rv != CKR_OK || list.is_null() {
            bail!("{}: C_GetFunctionList returned 0x{rv:x}", path.display());
        }
        // SAFETY: the module returned a non-null pointer to its function list, which stays valid
        // while the library is loaded (forever: see below).
        let list = unsafe { *list };
        std::mem::forget(lib);
        Ok(Module {
            name,
            path: path.to_owned(),
            list,
        })
    }

    /// The same instance, named `name` in errors and messages.
    pub fn renamed(&self, name: &'static str) -> Module {
        Module {
            name,
            ..self.clone()
        }
    }

    pub fn initialize(&self) -> Result<()> {
        let mut args = CK_C_INITIALIZE_ARGS {
            CreateMutex: None,
            DestroyMutex: None,
            LockMutex: None,
            UnlockMutex: None,
            flags: CKF_OS_LOCKING_OK,
            pReserved: ptr::null_mut(),
        };
        let p: *mut CK_C_INITIALIZE_ARGS = &mut args;
        p11!(self, C_Initialize(p.cast::<c_void>()))
    }

    pub fn finalize(&self) -> Result<()> {
        p11!(self, C_Finalize(ptr::null_mut()))
    }

    /// Slots with a token present.
    pub fn slots(&self) -> Result<Vec<CK_SLOT_ID>> {
        let mut n: CK_ULONG = 0;
        p11!(self, C_GetSlotList(CK_TRUE, ptr::null_mut(), &mut n))?;
        let mut slots = vec![0; n as usize];
        p11!(self, C_GetSlotList(CK_TRUE, slots.as_mut_ptr(), &mut n))?;
        slots.truncate(n as usize);
        Ok(slots)
    }

    /// The token's label (blank padding removed) and flags.
    pub fn token(&self, slot: CK_SLOT_ID) -> Result<(String, CK_FLAGS)> {
        let mut info = CK_TOKEN_INFO::default();
        p11!(self, C_GetTokenInfo(slot, &mut info))?;
        let label = String::from_utf8_lossy(&info.label).trim_end().to_string();
        Ok((label, info.flags))
    }

    /// The slot whose token has this label.
    pub fn find_token(&self, label: &str) -> Result<CK_SLOT_ID> {
        for slot in self.slots()? {
            if let Ok((l, flags)) = self.token(slot) {
                if flags & CKF_TOKEN_INITIALIZED != 0 && l == label {
                    return Ok(slot);
                }
            }
        }
        bail!("{}: no token labelled {label:?}", self.name)
    }

    /// The first slot holding an uninitialized token.
    pub fn free_slot(&self) -> Result<CK_SLOT_ID> {
        for slot in self.slots()? {
            if let Ok((_, flags)) = self.token(slot) {
                if flags & CKF_TOKEN_INITIALIZED == 0 {
                    return Ok(slot);
                }
            }
        }
        bail!("{}: no slot with an uninitialized token", self.name)
    }

    /// Whether the slot's token supports the mechanism (`C_GetMechanismInfo` succeeds).
    pub fn has_mechanism(&self, slot: CK_SLOT_ID, mech: CK_MECHANISM_TYPE) -> bool {
        let mut info = CK_MECHANISM_INFO::default();
        p11!(self, C_GetMechanismInfo(slot, mech, &mut info)).is_ok()
    }

    pub fn init_token(&self, slot: CK_SLOT_ID, so_pin: &str, label: &str) -> Result<()> {
        let mut padded = [b' '; 32];
        let n = label.len().min(32);
        padded[..n].copy_from_slice(&label.as_bytes()[..n]);
        p11!(
            self,
            C_InitToken(
                slot,
                so_pin.as_ptr().cast_mut(),
                ulen(so_pin.len()),
                padded.as_mut_ptr()
            )
        )
    }

    pub fn open_session(&self, slot: CK_SLOT_ID, rw: bool) -> Result<CK_SESSION_HANDLE> {
        let flags = CKF_SERIAL_SESSION | if rw { CKF_RW_SESSION } else { 0 };
        let mut s: CK_SESSION_HANDLE = 0;
        p11!(
            self,
            C_OpenSession(slot, flags, ptr::null_mut(), None, &mut s)
        )?;
        Ok(s)
    }

    pub fn close_session(&self, s: CK_SESSION_HANDLE) -> Result<()> {
        p11!(self, C_CloseSession(s))
    }

    pub fn login(&self, s: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: &str) -> Result<()> {
        p11!(
            self,
            C_Login(s, user, pin.as_ptr().cast_mut(), ulen(pin.len()))
        )
    }

    pub fn logout(&self, s: CK_SESSION_HANDLE) -> Result<()> {
        p11!(self, C_Logout(s))
    }

    pub fn init_pin(&self, s: CK_SESSION_HANDLE, pin: &str) -> Result<()> {
        p11!(self, C_InitPIN(s, pin.as_ptr().cast_mut(), ulen(pin.len())))
    }

    pub fn session_info(&self, s: CK_SESSION_HANDLE) -> Result<CK_SESSION_INFO> {
        let mut info = CK_SESSION_INFO::default();
        p11!(self, C_GetSessionInfo(s, &mut info))?;
        Ok(info)
    }

    pub fn generate_key(
        &self,
        s: CK_SESSION_HANDLE,
        mech: CK_MECHANISM_TYPE,
        mut t: Template,
    ) -> Result<CK_OBJECT_HANDLE> {
        let mut raw = t.raw();
        let mut key: CK_OBJECT_HANDLE = 0;
        Mech::Plain(mech).with(|m| {
            p11!(
                self,
                C_GenerateKey(s, m, raw.as_mut_ptr(), ulen(raw.len()), &mut key)
            )
        })?;
        Ok(key)
    }

    pub fn generate_key_pair(
        &self,
        s: CK_SESSION_HANDLE,
        mech: CK_MECHANISM_TYPE,
        mut public: Template,
        mut private: Template,
    ) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)> {
        let mut pub_raw = public.raw();
        let mut priv_raw = private.raw();
        let (mut pub_key, mut priv_key): (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) = (0, 0);
        Mech::Plain(mech).with(|m| {
            p11!(
                self,
                C_GenerateKeyPair(
                    s,
                    m,
                    pub_raw.as_mut_ptr(),
                    ulen(pub_raw.len()),
                    priv_raw.as_mut_ptr(),
                    ulen(priv_raw.len()),
                    &mut pub_key,
                    &mut priv_key
                )
            )
        })?;
        Ok((pub_key, priv_key))
    }

    pub fn create_object(&self, s: CK_SESSION_HANDLE, mut t: Template) -> Result<CK_OBJECT_HANDLE> {
        let mut raw = t.raw();
        let mut obj: CK_OBJECT_HANDLE = 0;
        p11!(
            self,
            C_CreateObject(s, raw.as_mut_ptr(), ulen(raw.len()), &mut obj)
        )?;
        Ok(obj)
    }

    pub fn destroy_object(&self, s: CK_SESSION_HANDLE, obj: CK_OBJECT_HANDLE) -> Result<()> {
        p11!(self, C_DestroyObject(s, obj))
    }

    /// C_FindObjectsInit, one C_FindObjects of up to `out.len()` handles, C_FindObjectsFinal;
    /// returns how many were found.
    pub fn find(
        &self,
        s: CK_SESSION_HANDLE,
        t: &mut Template,
        out: &mut [CK_OBJECT_HANDLE],
    ) -> Result<usize> {
        let mut raw = t.raw();
        p11!(
            self,
            C_FindObjectsInit(s, raw.as_mut_ptr(), ulen(raw.len()))
        )?;
        let mut n: CK_ULONG = 0;
        let found = p11!(
            self,
            C_FindObjects(s, out.as_mut_ptr(), ulen(out.len()), &mut n)
        );
        let fin = p11!(self, C_FindObjectsFinal(s));
        found?;
        fin?;
        Ok(n as usize)
    }

    /// One attribute's value into `out`; returns its length.
    pub fn get_attribute(
        &self,
        s: CK_SESSION_HANDLE,
        obj: CK_OBJECT_HANDLE,
        ty: CK_ATTRIBUTE_TYPE,
        out: &mut [u8],
    ) -> Result<usize> {
        let mut attr = CK_ATTRIBUTE {
            type_: ty,
            pValue: out.as_mut_ptr().cast(),
            ulValueLen: ulen(out.len()),
        };
        p11!(self, C_GetAttributeValue(s, obj, &mut attr, 1))?;
        Ok(attr.ulValueLen as usize)
    }

    /// One attribute's value, with a size query first.
    pub fn attribute(
        &self,
        s: CK_SESSION_HANDLE,
        obj: CK_OBJECT_HANDLE,
        ty: CK_ATTRIBUTE_TYPE,
    ) -> Result<Vec<u8>> {
        let mut attr = CK_ATTRIBUTE {
            type_: ty,
            pValue: ptr::null_mut(),
            ulValueLen: 0,
        };
        p11!(self, C_GetAttributeValue(s, obj, &mut attr, 1))?;
        let mut v = vec![0u8; attr.ulValueLen as usize];
        let n = self.get_attribute(s, obj, ty, &mut v)?;
        v.truncate(n);
        Ok(v)
    }

    /// C_SignInit + C_Sign into `out`; returns the signature's length.
    pub fn sign(
        &self,
        s: CK_SESSION_HANDLE,
        mech: &Mech,
        key: CK_OBJECT_HANDLE,
        data: &[u8],
        out: &mut [u8],
    ) -> Result<usize> {
        mech.with(|m| p11!(self, C_SignInit(s, m, key)))?;
        let mut n = ulen(out.len());
        p11!(
            self,
            C_Sign(
                s,
                data.as_ptr().cast_mut(),
                ulen(data.len()),
                out.as_mut_ptr(),
                &mut n
            )
        )?;
        Ok(n as usize)
    }

    /// C_VerifyInit + C_Verify; an invalid signature is an error.
    pub fn verify(
        &self,
        s: CK_SESSION_HANDLE,
        mech: &Mech,
        key: CK_OBJECT_HANDLE,
        data: &[u8],
        sig: &[u8],
    ) -> Result<()> {
        mech.with(|m| p11!(self, C_VerifyInit(s, m, key)))?;
        p11!(
            self,
            C_Verify(
                s,
                data.as_ptr().cast_mut(),
                ulen(data.len()),
                sig.as_ptr().cast_mut(),
                ulen(sig.len())
            )
        )
    }

    /// C_EncryptInit + C_Encrypt into `out`; returns the ciphertext's length.
    pub fn encrypt(
        &self,
        s: CK_SESSION_HANDLE,
        mech: &Mech,
        key: CK_OBJECT_HANDLE,
        data: &[u8],
        out: &mut [u8],
    ) -> Result<usize> {
        mech.with(|m| p11!(self, C_EncryptInit(s, m, key)))?;
        let mut n = ulen(out.len());
        p11!(
            self,
            C_Encrypt(
                s,
                data.as_ptr().cast_mut(),
                ulen(data.len()),
                out.as_mut_ptr(),
                &mut n
            )
        )?;
        Ok(n as usize)
    }

    /// C_DecryptInit + C_Decrypt into `out`; returns the plaintext's length.
    pub fn decrypt(
        &self,
        s: CK_SESSION_HANDLE,
        mech: &Mech,
        key: CK_OBJECT_HANDLE,
        data: &[u8],
        out: &mut [u8],
    ) -> Result<usize> {
        mech.with(|m| p11!(self, C_DecryptInit(s, m, key)))?;
        let mut n = ulen(out.len());
        p11!(
            self,
            C_Decrypt(
                s,
                data.as_ptr().cast_mut(),
                ulen(data.len()),
                out.as_mut_ptr(),
                &mut n
            )
        )?;
        Ok(n as usize)
    }

    /// C_DigestInit + C_Digest into `out`; returns the digest's length.
    pub fn digest(
        &self,
        s: CK_SESSION_HANDLE,
        mech: CK_MECHANISM_TYPE,
        data: &[u8],
        out: &mut [u8],
    ) -> Result<usize> {
        Mech::Plain(mech).with(|m| p11!(self, C_DigestInit(s, m)))?;
        let mut n = ulen(out.len());
        p11!(
            self,
            C_Digest(
                s,
                data.as_ptr().cast_mut(),
                ulen(data.len()),
                out.as_mut_ptr(),
                &mut n
            )
        )?;
        Ok(n as usize)
    }

    pub fn derive(
        &self,
        s: CK_SESSION_HANDLE,
        mech: &Mech,
        base: CK_OBJECT_HANDLE,
        mut t: Template,
    ) -> Result<CK_OBJECT_HANDLE> {
        let mut raw = t.raw();
        let mut key: CK_OBJECT_HANDLE = 0;
        mech.with(|m| {
            p11!(
                self,
                C_DeriveKey(s, m, base, raw.as_mut_ptr(), ulen(raw.len()), &mut key)
            )
        })?;
        Ok(key)
    }

    pub fn random(&self, s: CK_SESSION_HANDLE, out: &mut [u8]) -> Result<()> {
        p11!(self, C_GenerateRandom(s, out.as_mut_ptr(), ulen(out.len())))
    }
}
