//! The key-extraction battery's fixture (PKCS#11 v3.0 §4.7 sensitive and extractable keys):
//! target keys of known value, marked sensitive and non-extractable, the raw calls the tries make
//! on a work session that can be closed between tries, the scan of every returned byte for the
//! targets' secrets, and the case counters behind the summary line.

use crate::common::p11::*;
use crate::common::{keys, USER_PIN};
use cryptoki_sys::*;
use std::collections::HashMap;
use std::ptr::null_mut;

/// Length of the windows the scan looks for: any 8 consecutive bytes of a secret.
pub const WINDOW: usize = 8;

/// What a target key is, for the mechanism table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Aes,
    Generic,
    Rsa,
    Ec,
    Ed,
}

/// A key of known value under attack.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub kind: Kind,
    pub h: CK_OBJECT_HANDLE,
    /// False for the extractable-but-sensitive twins of the wrap tries.
    pub non_extractable: bool,
}

/// Fixed secret values: arbitrary bytes no module would produce by chance.
pub const AES16: &str = "5f3c9a1e7b20d4c68e11a7f2093bd5e4";
pub const AES24: &str = "c41d8e7a2f9b6035e1a8d7c49f02b36e5d1c7a8e94f0b2c3";
pub const AES32: &str = "9e2b7c14d8f36a05b1e49c72a3d85f6e0c17b9a4e2d8f35c61a0b7e49d2c8f13";
pub const AES32_UNWRAPPED: &str =
    "27e8c1a94d5f03b6e9a27c48d1f5b03e86c2a7d94e1b05f3a8c6d2e7914b0f5a";
/// Issue 12: the DES3 target (odd parity, as generated DES keys have).
pub const DES3_24: &str = "e93b1a4f7c2c5b8698a1c7e3f4b02c6ec8194a7f5e3b2c0d";
pub const GENERIC48: &str = concat!(
    "b7a2e9c41f8d36057ae1c94b2d8f603e",
    "a5c71e9d42b8f6031c7ae5d94b2f8e60",
    "3d9a7c1e5b8f2406e1c3a9d75b0f4e82"
);
pub const ED25519_SEED: &str = "8c1f5e9a2d7b4063c9e1a5f72b8d4e06a3c91f7e5d2b8a046e1c9f3a7d5b2e08";

fn hxs(s: &str) -> Vec<u8> {
    hx(s)
}

/// The battery: a token, its targets, the needles of the scan and the counters.
pub struct Battery {
    pub t: Tok,
    /// The session tries run in; replaced by `recycle` so no operation outlives its try.
    pub w: CK_SESSION_HANDLE,
    pub targets: Vec<Target>,
    /// Every 8-byte window of every secret (and of its reversed, ipad- and opad-XORed forms,
    /// as an HMAC or a little-endian bignum would hold it), with the secret's name.
    needles: HashMap<[u8; WINDOW], String>,
    pub secrets: HashMap<String, Vec<u8>>,
    area: &'static str,
    pub tried: usize,
    pub refused: usize,
    pub clean: usize,
    pub failures: Vec<String>,
}

macro_rules! call {
    ($b:expr, $name:ident($($arg:expr),* $(,)?)) => {{
        let f = $b.t.fl().$name.expect(concat!(stringify!($name), " is NULL"));
        // SAFETY: a PKCS#11 entry point called with pointers to live locals of the caller
        // (or NULL where the specification allows it) for the whole call.
        unsafe { f($($arg),*) }
    }};
}
pub(crate) use call;

fn res(rv: CK_RV) -> Result<(), CK_RV> {
    if rv == CKR_OK {
        Ok(())
    } else {
        Err(rv)
    }
}

/// Output buffer of the tries: larger than anything the module returns.
const OUT: usize = 16384;

impl Battery {
    /// A fresh token with every target key. `area` names the summary line.
    pub fn new(area: &'static str) -> Battery {
        let t = token("extraction");
        let w = t.open_session();
        let mut b = Battery {
            t,
            w,
            targets: Vec::new(),
            needles: HashMap::new(),
            secrets: HashMap::new(),
            area,
            tried: 0,
            refused: 0,
            clean: 0,
            failures: Vec::new(),
        };
        b.make_targets();
        b
    }

    /// Register a secret value for the scan.
    pub fn secret(&mut self, name: &str, value: &[u8]) {
        self.secrets.insert(name.to_owned(), value.to_vec());
        let rev: Vec<u8> = value.iter().rev().copied().collect();
        let ipad: Vec<u8> = value.iter().map(|x| x ^ 0x36).collect();
        let opad: Vec<u8> = value.iter().map(|x| x ^ 0x5c).collect();
        for (form, v) in [
            ("", value),
            (" reversed", &rev),
            (" ^ipad", &ipad),
            (" ^opad", &opad),
        ] {
            for w in v.windows(WINDOW) {
                let mut k = [0u8; WINDOW];
                k.copy_from_slice(w);
                self.needles.insert(k, format!("{name}{form}"));
            }
        }
    }

    /// Which secret (if any) `bytes` contains a window of, and where.
    pub fn find_secret(&self, bytes: &[u8]) -> Option<(String, usize)> {
        bytes.windows(WINDOW).enumerate().find_map(|(i, w)| {
            let mut k = [0u8; WINDOW];
            k.copy_from_slice(w);
            self.needles.get(&k).map(|n| (n.clone(), i))
        })
    }

    fn usage(t: Tmpl) -> Tmpl {
        t.b(CKA_ENCRYPT, true)
            .b(CKA_DECRYPT, true)
            .b(CKA_SIGN, true)
            .b(CKA_VERIFY, true)
            .b(CKA_WRAP, true)
            .b(CKA_UNWRAP, true)
            .b(CKA_DERIVE, true)
    }

    /// Create a key readable and extractable, then mark it sensitive and non-extractable (or
    /// only sensitive, for a twin) with C_SetAttributeValue, as the brief of the battery says.
    fn add(&mut self, name: &str, kind: Kind, t: Tmpl, non_extractable: bool) {
        let t = t.b(CKA_SENSITIVE, false).b(CKA_EXTRACTABLE, true);
        let h = match self.t.create(&t) {
            Ok(h) => h,
            Err(rv) => {
                self.fail(&format!("set-up: C_CreateObject of target {name}"), rvn(rv));
                return;
            }
        };
        let mark = Tmpl::new()
            .b(CKA_SENSITIVE, true)
            .b(CKA_EXTRACTABLE, !non_extractable);
        if let Err(rv) = self.t.set(h, &mark) {
            self.fail(&format!("set-up: marking {name} sensitive"), rvn(rv));
        }
        self.targets.push(Target {
            name: name.to_owned(),
            kind,
            h,
            non_extractable,
        });
    }

    fn make_targets(&mut self) {
        for (name, v) in [("AES-128", AES16), ("AES-192", AES24), ("AES-256", AES32)] {
            let v = hxs(v);
            self.secret(name, &v);
            for twin in [false, true] {
                let n = if twin {
                    format!("{name} (extractable twin)")
                } else {
                    name.to_owned()
                };
                // One token object among the targets: the stored (sealed) path too.
                let tok = name == "AES-256" && !twin;
                let t = Self::usage(aes(&v)).b(CKA_TOKEN, tok);
                self.add(&n, Kind::Aes, t, !twin);
            }
        }
        let g = hxs(GENERIC48);
        self.secret("generic secret", &g);
        for twin in [false, true] {
            let n = if twin {
                "generic secret (extractable twin)"
            } else {
                "generic secret"
            };
            self.add(
                n,
                Kind::Generic,
                Self::usage(secret(CKK_GENERIC_SECRET, &g)),
                !twin,
            );
        }
        // Issue 12: a DES3 key, the DES family's target (its tries are the block ciphers').
        let d = hxs(DES3_24);
        self.secret("DES3", &d);
        for twin in [false, true] {
            let n = if twin {
                "DES3 (extractable twin)"
            } else {
                "DES3"
            };
            self.add(n, Kind::Generic, Self::usage(secret(CKK_DES3, &d)), !twin);
        }
        self.unwrapped_target();
        for (n, v) in [
            ("RSA d", keys::RSA_PRIVATE_EXPONENT),
            ("RSA p", keys::RSA_PRIME_1),
            ("RSA q", keys::RSA_PRIME_2),
            ("RSA dp", keys::RSA_EXPONENT_1),
            ("RSA dq", keys::RSA_EXPONENT_2),
            ("RSA qinv", keys::RSA_COEFFICIENT),
        ] {
            self.secret(n, &hxs(v));
        }
        for twin in [false, true] {
            let n = if twin {
                "RSA-2048 (extractable twin)"
            } else {
                "RSA-2048"
            };
            let t = rsa_private_fixed();
            self.add(n, Kind::Rsa, t, !twin);
        }
        let ec = hxs(keys::EC_PRIVATE_VALUE);
        self.secret("EC P-256 scalar", &ec);
        for twin in [false, true] {
            let n = if twin {
                "EC P-256 (extractable twin)"
            } else {
                "EC P-256"
            };
            self.add(n, Kind::Ec, ec_private(&hx(OID_P256), &ec), !twin);
        }
        let ed = hxs(ED25519_SEED);
        self.secret("Ed25519 seed", &ed);
        let t = Tmpl::new()
            .u(CKA_CLASS, CKO_PRIVATE_KEY)
            .u(CKA_KEY_TYPE, CKK_EC_EDWARDS)
            .b(CKA_TOKEN, false)
            .b(CKA_PRIVATE, true)
            .b(CKA_SIGN, true)
            .b(CKA_DERIVE, true)
            .bytes(CKA_EC_PARAMS, hx(OID_ED25519))
            .bytes(CKA_VALUE, &ed);
        self.add("Ed25519", Kind::Ed, t, true);
    }

    /// An AES-256 target brought in by C_UnwrapKey (AES-KWP under a KEK of known value)
    /// straight as sensitive and non-extractable.
    fn unwrapped_target(&mut self) {
        let v = hxs(AES32_UNWRAPPED);
        self.secret("AES-256 (unwrapped)", &v);
        let kek_value = [0x4bu8; 32];
        let kek = self.t.obj(&aes(&kek_value));
        let kwp = Mech::new(CKM_AES_KEY_WRAP_KWP);
        let blob = match self.t.encrypt(&kwp, kek, &v) {
            Ok(b) => b,
            Err(rv) => return self.fail("set-up: AES-KWP of the unwrapped target", rvn(rv)),
        };
        let t = Self::usage(new_secret(CKK_AES, None))
            .b(CKA_SENSITIVE, true)
            .b(CKA_EXTRACTABLE, false);
        match self.t.unwrap(&kwp, kek, &blob, &t) {
            Ok(h) => self.targets.push(Target {
                name: "AES-256 (unwrapped)".into(),
                kind: Kind::Aes,
                h,
                non_extractable: true,
            }),
            Err(rv) => self.fail("set-up: C_UnwrapKey of the unwrapped target", rvn(rv)),
        }
    }

    /// The targets of a kind, or all of them.
    pub fn of(&self, kind: Option<Kind>) -> Vec<Target> {
        self.targets
            .iter()
            .filter(|t| kind.is_none_or(|k| t.kind == k))
            .cloned()
            .collect()
    }

    // --- outcomes ----------------------------------------------------------------------------

    /// A policy failure (or a set-up failure) of the case `what`.
    pub fn fail(&mut self, what: &str, detail: String) {
        self.failures.push(format!("{what}: {detail}"));
    }

    /// One try: refused, or allowed with these returned bytes (scanned).
    pub fn outcome(&mut self, what: &str, r: Result<Vec<u8>, CK_RV>) -> Option<Vec<u8>> {
        self.tried += 1;
        match r {
            Err(_) => {
                self.refused += 1;
                None
            }
            Ok(bytes) => {
                if self.scan(what, &bytes) {
                    self.clean += 1;
                }
                Some(bytes)
            }
        }
    }

    /// Scan returned bytes; records a failure and returns false on a hit.
    pub fn scan(&mut self, what: &str, bytes: &[u8]) -> bool {
        match self.find_secret(bytes) {
            None => true,
            Some((name, at)) => {
                self.fail(
                    what,
                    format!(
                        "LEAK: the {} returned bytes hold 8 bytes of {name} at offset {at}",
                        bytes.len()
                    ),
                );
                false
            }
        }
    }

    /// Every attribute of an object the module created (derived, unwrapped, copied), scanned
    /// as one try, then the object is destroyed.
    pub fn dump_and_destroy(&mut self, what: &str, h: CK_OBJECT_HANDLE) -> Vec<u8> {
        let mut all = Vec::new();
        for &a in DUMPED {
            if let Ok(v) = self.attr(h, a) {
                all.extend_from_slice(&v);
            }
        }
        self.outcome(
            &format!("{what}: attributes of the new object"),
            Ok(all.clone()),
        );
        call!(self, C_DestroyObject(self.w, h));
        all
    }

    /// Close the work session (ending whatever operation a try left) and open another.
    pub fn recycle(&mut self) {
        let _ = self.t.close(self.w);
        self.w = self.t.open_session();
    }

    /// Print the summary line and fail with every failure of the area, grouped (function, stage
    /// and kind of failure, numbers left out) with a count and the first instance of each.
    pub fn finish(self) {
        let failed = self.failures.len();
        println!(
            "extraction battery [{}]: {} cases tried, {} refused, {} allowed-and-clean, {} failures",
            self.area, self.tried, self.refused, self.clean, failed
        );
        let mut groups: Vec<(String, usize, String)> = Vec::new();
        for f in &self.failures {
            let key = group_key(f);
            match groups.iter_mut().find(|g| g.0 == key) {
                Some(g) => g.1 += 1,
                None => groups.push((key, 1, f.clone())),
            }
        }
        let report: Vec<String> = groups
            .iter()
            .map(|(_, n, first)| format!("{n} x, first: {first}"))
            .collect();
        assert!(
            self.failures.is_empty(),
            "extraction battery [{}]: {failed} failure(s) in {} group(s):\n  {}",
            self.area,
            groups.len(),
            report.join("\n  ")
        );
    }

    // --- raw calls on the work session -------------------------------------------------------

    /// A call that writes a variable-length output.
    pub fn out(&self, f: impl FnOnce(*mut u8, *mut CK_ULONG) -> CK_RV) -> Result<Vec<u8>, CK_RV> {
        let mut buf = vec![0u8; OUT];
        let mut len = OUT as CK_ULONG;
        res(f(buf.as_mut_ptr(), &mut len))?;
        buf.truncate(len as usize);
        Ok(buf)
    }

    pub fn attr(&self, o: CK_OBJECT_HANDLE, ty: CK_ATTRIBUTE_TYPE) -> Result<Vec<u8>, CK_RV> {
        let mut buf = vec![0u8; OUT];
        let mut a = [CK_ATTRIBUTE {
            type_: ty,
            pValue: buf.as_mut_ptr().cast(),
            ulValueLen: OUT as CK_ULONG,
        }];
        res(call!(
            self,
            C_GetAttributeValue(self.w, o, a.as_mut_ptr(), 1)
        ))?;
        buf.truncate(a[0].ulValueLen as usize);
        Ok(buf)
    }

    pub fn init(&self, which: Init, m: &Mech, key: CK_OBJECT_HANDLE) -> Result<(), CK_RV> {
        let mut ck = m.ck();
        let s = self.w;
        res(match which {
            Init::Encrypt => call!(self, C_EncryptInit(s, &mut ck, key)),
            Init::Decrypt => call!(self, C_DecryptInit(s, &mut ck, key)),
            Init::Sign => call!(self, C_SignInit(s, &mut ck, key)),
            Init::Verify => call!(self, C_VerifyInit(s, &mut ck, key)),
            Init::SignRecover => call!(self, C_SignRecoverInit(s, &mut ck, key)),
            Init::VerifyRecover => call!(self, C_VerifyRecoverInit(s, &mut ck, key)),
            Init::Digest => call!(self, C_DigestInit(s, &mut ck)),
            Init::MessageEncrypt => call!(self, C_MessageEncryptInit(s, &mut ck, key)),
            Init::MessageDecrypt => call!(self, C_MessageDecryptInit(s, &mut ck, key)),
        })
    }

    /// The single-part call of an operation started by `init`.
    pub fn single(&self, which: Init, data: &[u8]) -> Result<Vec<u8>, CK_RV> {
        let mut d = data.to_vec();
        let (dp, dl) = (d.as_mut_ptr(), d.len() as CK_ULONG);
        let s = self.w;
        match which {
            Init::Encrypt => self.out(|p, l| call!(self, C_Encrypt(s, dp, dl, p, l))),
            Init::Decrypt => self.out(|p, l| call!(self, C_Decrypt(s, dp, dl, p, l))),
            Init::Sign => self.out(|p, l| call!(self, C_Sign(s, dp, dl, p, l))),
            Init::SignRecover => self.out(|p, l| call!(self, C_SignRecover(s, dp, dl, p, l))),
            Init::VerifyRecover => self.out(|p, l| call!(self, C_VerifyRecover(s, dp, dl, p, l))),
            Init::Digest => self.out(|p, l| call!(self, C_Digest(s, dp, dl, p, l))),
            Init::Verify => {
                let mut sig = vec![0u8; 256];
                res(call!(
                    self,
                    C_Verify(s, dp, dl, sig.as_mut_ptr(), sig.len() as CK_ULONG)
                ))
                .map(|()| Vec::new())
            }
            Init::MessageEncrypt | Init::MessageDecrypt => Err(CKR_GENERAL_ERROR),
        }
    }

    /// The update call of a multi-part operation (its output, empty for sign/verify/digest).
    pub fn update(&self, which: Init, data: &[u8]) -> Result<Vec<u8>, CK_RV> {
        let mut d = data.to_vec();
        let (dp, dl) = (d.as_mut_ptr(), d.len() as CK_ULONG);
        let s = self.w;
        match which {
            Init::Encrypt => self.out(|p, l| call!(self, C_EncryptUpdate(s, dp, dl, p, l))),
            Init::Decrypt => self.out(|p, l| call!(self, C_DecryptUpdate(s, dp, dl, p, l))),
            Init::Sign => res(call!(self, C_SignUpdate(s, dp, dl))).map(|()| Vec::new()),
            Init::Verify => res(call!(self, C_VerifyUpdate(s, dp, dl))).map(|()| Vec::new()),
            Init::Digest => res(call!(self, C_DigestUpdate(s, dp, dl))).map(|()| Vec::new()),
            _ => Err(CKR_FUNCTION_NOT_SUPPORTED),
        }
    }

    /// The final call of a multi-part operation.
    pub fn final_(&self, which: Init) -> Result<Vec<u8>, CK_RV> {
        let s = self.w;
        match which {
            Init::Encrypt => self.out(|p, l| call!(self, C_EncryptFinal(s, p, l))),
            Init::Decrypt => self.out(|p, l| call!(self, C_DecryptFinal(s, p, l))),
            Init::Sign => self.out(|p, l| call!(self, C_SignFinal(s, p, l))),
            Init::Digest => self.out(|p, l| call!(self, C_DigestFinal(s, p, l))),
            Init::Verify => {
                let mut sig = vec![0u8; 256];
                res(call!(
                    self,
                    C_VerifyFinal(s, sig.as_mut_ptr(), sig.len() as CK_ULONG)
                ))
                .map(|()| Vec::new())
            }
            _ => Err(CKR_FUNCTION_NOT_SUPPORTED),
        }
    }

    pub fn digest_key(&self, key: CK_OBJECT_HANDLE) -> Result<(), CK_RV> {
        res(call!(self, C_DigestKey(self.w, key)))
    }

    /// C_GetOperationState of the work session (size query first, as a client does).
    pub fn state(&self) -> Result<Vec<u8>, CK_RV> {
        let mut len: CK_ULONG = 0;
        res(call!(
            self,
            C_GetOperationState(self.w, null_mut(), &mut len)
        ))?;
        let mut buf = vec![0u8; len as usize];
        res(call!(
            self,
            C_GetOperationState(self.w, buf.as_mut_ptr(), &mut len)
        ))?;
        buf.truncate(len as usize);
        Ok(buf)
    }

    /// C_EncryptMessage with the per-message parameter `p`; returns the ciphertext followed
    /// by the parameter's buffers (IV and tag), which the module writes too.
    pub fn encrypt_message(&self, p: &Mech, data: &[u8]) -> Result<Vec<u8>, CK_RV> {
        let (pp, pl) = p.param_ptr();
        let mut d = data.to_vec();
        let s = self.w;
        let mut out = self.out(|o, l| {
            call!(
                self,
                C_EncryptMessage(
                    s,
                    pp,
                    pl,
                    null_mut(),
                    0,
                    d.as_mut_ptr(),
                    d.len() as CK_ULONG,
                    o,
                    l
                )
            )
        })?;
        out.extend(p.kept(0));
        out.extend(p.kept(1));
        Ok(out)
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
        res(call!(
            self,
            C_DeriveKey(self.w, &mut ck, base, r.ptr(), r.len(), &mut o)
        ))?;
        Ok(o)
    }

    pub fn wrap(
        &self,
        m: &Mech,
        wrapping: CK_OBJECT_HANDLE,
        key: CK_OBJECT_HANDLE,
    ) -> Result<Vec<u8>, CK_RV> {
        let mut ck = m.ck();
        let s = self.w;
        self.out(|p, l| call!(self, C_WrapKey(s, &mut ck, wrapping, key, p, l)))
    }

    pub fn unwrap(
        &self,
        m: &Mech,
        key: CK_OBJECT_HANDLE,
        blob: &[u8],
        t: &Tmpl,
    ) -> Result<CK_OBJECT_HANDLE, CK_RV> {
        let mut ck = m.ck();
        let mut r = t.raw();
        let mut w = blob.to_vec();
        let mut o = CK_INVALID_HANDLE;
        res(call!(
            self,
            C_UnwrapKey(
                self.w,
                &mut ck,
                key,
                w.as_mut_ptr(),
                w.len() as CK_ULONG,
                r.ptr(),
                r.len(),
                &mut o
            )
        ))?;
        Ok(o)
    }

    pub fn copy(&self, o: CK_OBJECT_HANDLE, t: &Tmpl) -> Result<CK_OBJECT_HANDLE, CK_RV> {
        let mut r = t.raw();
        let mut n = CK_INVALID_HANDLE;
        res(call!(
            self,
            C_CopyObject(self.w, o, r.ptr(), r.len(), &mut n)
        ))?;
        Ok(n)
    }

    pub fn set(&self, o: CK_OBJECT_HANDLE, t: &Tmpl) -> Result<(), CK_RV> {
        let mut r = t.raw();
        res(call!(
            self,
            C_SetAttributeValue(self.w, o, r.ptr(), r.len())
        ))
    }

    /// C_FindObjects* with a template, every handle found.
    pub fn find(&self, t: &Tmpl) -> Result<Vec<CK_OBJECT_HANDLE>, CK_RV> {
        let mut r = t.raw();
        res(call!(self, C_FindObjectsInit(self.w, r.ptr(), r.len())))?;
        let mut out = Vec::new();
        loop {
            let mut hs = [CK_INVALID_HANDLE; 32];
            let mut n: CK_ULONG = 0;
            let rv = call!(self, C_FindObjects(self.w, hs.as_mut_ptr(), 32, &mut n));
            if rv != CKR_OK || n == 0 {
                break;
            }
            out.extend_from_slice(&hs[..n as usize]);
        }
        call!(self, C_FindObjectsFinal(self.w));
        Ok(out)
    }

    /// C_Login(CKU_CONTEXT_SPECIFIC) on the work session.
    pub fn context_login(&self) -> CK_RV {
        self.t.login(self.w, CKU_CONTEXT_SPECIFIC, USER_PIN)
    }
}

/// A failure's group: the function called, the stage after the last "): ", and the failure
/// text without numbers or the secret's name.
fn group_key(f: &str) -> String {
    let func = f.split('(').next().unwrap_or("");
    let (what, detail) = f.split_once("): ").map_or((f, ""), |(a, b)| (a, b));
    let _ = what;
    let detail = detail.split(" hold 8 bytes of ").next().unwrap_or(detail);
    let detail: String = detail.chars().filter(|c| !c.is_ascii_digit()).collect();
    format!("{func} | {detail}")
}

/// The operations a try starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    Encrypt,
    Decrypt,
    Sign,
    Verify,
    SignRecover,
    VerifyRecover,
    Digest,
    MessageEncrypt,
    MessageDecrypt,
}

/// The attributes read back from every object the module creates during a try.
pub const DUMPED: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_VALUE,
    CKA_LABEL,
    CKA_ID,
    CKA_CHECK_VALUE,
    CKA_MODULUS,
    CKA_PUBLIC_EXPONENT,
    CKA_PRIVATE_EXPONENT,
    CKA_PRIME_1,
    CKA_PRIME_2,
    CKA_EXPONENT_1,
    CKA_EXPONENT_2,
    CKA_COEFFICIENT,
    CKA_EC_PARAMS,
    CKA_EC_POINT,
    CKA_PUBLIC_KEY_INFO,
    CKA_UNIQUE_ID,
    CKA_START_DATE,
    CKA_END_DATE,
    CKA_SUBJECT,
    CKA_APPLICATION,
    CKA_OBJECT_ID,
];
