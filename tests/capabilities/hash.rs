//! The exercisers of the hash-based families (Current Mechanisms §2.16-§2.26 SHA-1/SHA-2/SHA-3
//! digests and HMACs, §2.41 generic secret key generation, §2.43 HKDF, §2.44 PBKDF2), checked
//! against Python `hashlib`/`hmac` and `cryptography`'s HKDF.

use crate::common::p11::*;
use crate::oracle::w;
use crate::{ck, no_exerciser, random, refuses, same, Case, Cx, Exerciser, Outcome};
use cryptoki_sys::*;

/// The `hashlib` name and output length of a hash named by any mechanism built on it.
fn hash_of(m: CK_MECHANISM_TYPE) -> Option<(&'static str, usize)> {
    Some(match m {
        CKM_SHA_1 | CKM_SHA_1_HMAC | CKM_SHA_1_HMAC_GENERAL => ("sha1", 20),
        CKM_SHA224 | CKM_SHA224_HMAC | CKM_SHA224_HMAC_GENERAL => ("sha224", 28),
        CKM_SHA256 | CKM_SHA256_HMAC | CKM_SHA256_HMAC_GENERAL => ("sha256", 32),
        CKM_SHA384 | CKM_SHA384_HMAC | CKM_SHA384_HMAC_GENERAL => ("sha384", 48),
        CKM_SHA512 | CKM_SHA512_HMAC | CKM_SHA512_HMAC_GENERAL => ("sha512", 64),
        CKM_SHA3_224 => ("sha3_224", 28),
        CKM_SHA3_256 | CKM_SHA3_256_HMAC | CKM_SHA3_256_HMAC_GENERAL => ("sha3_256", 32),
        CKM_SHA3_384 | CKM_SHA3_384_HMAC | CKM_SHA3_384_HMAC_GENERAL => ("sha3_384", 48),
        CKM_SHA3_512 | CKM_SHA3_512_HMAC | CKM_SHA3_512_HMAC_GENERAL => ("sha3_512", 64),
        CKM_MD5 | CKM_MD5_HMAC | CKM_MD5_HMAC_GENERAL => ("md5", 16),
        _ => return None,
    })
}

fn is_general(m: CK_MECHANISM_TYPE) -> bool {
    matches!(
        m,
        CKM_SHA_1_HMAC_GENERAL
            | CKM_SHA224_HMAC_GENERAL
            | CKM_SHA256_HMAC_GENERAL
            | CKM_SHA384_HMAC_GENERAL
            | CKM_SHA512_HMAC_GENERAL
            | CKM_SHA3_256_HMAC_GENERAL
            | CKM_SHA3_384_HMAC_GENERAL
            | CKM_SHA3_512_HMAC_GENERAL
            | CKM_MD5_HMAC_GENERAL
    )
}

/// A generic secret of known value that may sign, verify and derive.
fn generic(value: &[u8]) -> Tmpl {
    secret(CKK_GENERIC_SECRET, value)
        .without(CKA_ENCRYPT)
        .without(CKA_DECRYPT)
        .without(CKA_WRAP)
        .without(CKA_UNWRAP)
}

pub struct Digest;

impl Exerciser for Digest {
    /// Digests take no key: one case per flag.
    fn sizes(&self, _m: CK_MECHANISM_TYPE, _info: &CK_MECHANISM_INFO) -> Vec<CK_ULONG> {
        vec![0]
    }

    fn exercise(&mut self, cx: &mut Cx, c: &Case) -> Outcome {
        let (name, _) = hash_of(c.m).ok_or_else(no_exerciser)?;
        if c.flag != CKF_DIGEST {
            return Err(no_exerciser());
        }
        let data = random(cx, 200);
        let want = cx.py.bytes("digest", &[name.into(), w(&data)])?;
        let got = ck("C_Digest", cx.t.digest(&Mech::new(c.m), &data))?;
        same("digest", &got, &want)?;
        let got = ck(
            "C_DigestUpdate/C_DigestFinal",
            cx.t.digest_multi(&Mech::new(c.m), &[&data[..77], &data[77..]]),
        )?;
        same("multi-part digest", &got, &want)
    }
}

/// HMAC key sizes: the Current Mechanisms specification gives no unit for the HMAC mechanisms;
/// the module's catalog documents bytes, and CKA_VALUE_LEN counts bytes, so bytes it is.
pub struct Hmac;

impl Exerciser for Hmac {
    fn exercise(&mut self, cx: &mut Cx, c: &Case) -> Outcome {
        let (name, out) = hash_of(c.m).ok_or_else(no_exerciser)?;
        let key = random(cx, c.size as usize);
        let h = ck(
            "C_CreateObject(generic secret)",
            cx.t.create(&generic(&key)),
        )?;
        let data = random(cx, 150);
        let (mech, len) = if is_general(c.m) {
            (Mech::ulong(c.m, (out / 2) as CK_ULONG), out / 2)
        } else {
            (Mech::new(c.m), out)
        };
        let mut want = cx.py.bytes("hmac", &[name.into(), w(&key), w(&data)])?;
        want.truncate(len);
        match c.flag {
            CKF_SIGN => {
                let got = ck("C_Sign", cx.t.sign(&mech, h, &data))?;
                same("HMAC", &got, &want)
            }
            CKF_VERIFY => {
                ck("C_Verify", cx.t.verify(&mech, h, &data, &want))?;
                want[len - 1] ^= 0x80;
                refuses("C_Verify", cx.t.verify(&mech, h, &data, &want))
            }
            _ => Err(no_exerciser()),
        }
    }
}

pub struct Kdf;

impl Exerciser for Kdf {
    /// Generic secret key generation gives its sizes in bits (Current Mechanisms, "Generic
    /// secret key generation"), CKA_VALUE_LEN in bytes: the advertised minimum and maximum read
    /// as bits, rounded up to bytes, and as bytes (the module's catalog reading) are all used.
    /// The other mechanisms here count bytes (derived or generated key lengths).
    fn sizes(&self, m: CK_MECHANISM_TYPE, info: &CK_MECHANISM_INFO) -> Vec<CK_ULONG> {
        let mut v = vec![info.ulMinKeySize, info.ulMaxKeySize];
        if m == CKM_GENERIC_SECRET_KEY_GEN {
            v.push(info.ulMinKeySize.div_ceil(8));
            v.push(info.ulMaxKeySize.div_ceil(8));
        }
        v.sort_unstable();
        v.dedup();
        v
    }

    fn exercise(&mut self, cx: &mut Cx, c: &Case) -> Outcome {
        let size = c.size as usize;
        match (c.m, c.flag) {
            (CKM_GENERIC_SECRET_KEY_GEN, CKF_GENERATE) => {
                let g = ck(
                    "C_GenerateKey",
                    cx.t.generate_key(
                        &Mech::new(c.m),
                        &new_secret(CKK_GENERIC_SECRET, Some(size))
                            .without(CKA_ENCRYPT)
                            .without(CKA_DECRYPT)
                            .without(CKA_WRAP)
                            .without(CKA_UNWRAP),
                    ),
                )?;
                let value = ck("CKA_VALUE", cx.t.attr(g, CKA_VALUE))?;
                if value.len() != size {
                    return Err(format!("generated {} bytes", value.len()));
                }
                let data = random(cx, 40);
                let got = ck(
                    "HMAC-SHA256 with the generated key",
                    cx.t.sign(&Mech::new(CKM_SHA256_HMAC), g, &data),
                )?;
                let want = cx
                    .py
                    .bytes("hmac", &["sha256".into(), w(&value), w(&data)])?;
                same("HMAC-SHA256 with the generated key", &got, &want)
            }
            // Issue 12: CKM_SHA*_KEY_GEN make a key of their HMAC type, which HMAC takes.
            (m, CKF_GENERATE) if hmac_key_gen(m).is_some() => {
                let (kt, mac, hn) = hmac_key_gen(m).ok_or_else(no_exerciser)?;
                let g = ck(
                    "C_GenerateKey",
                    cx.t.generate_key(&Mech::new(m), &new_secret(kt, Some(size))),
                )?;
                let value = ck("CKA_VALUE", cx.t.attr(g, CKA_VALUE))?;
                if value.len() != size {
                    return Err(format!("generated {} bytes", value.len()));
                }
                let data = random(cx, 40);
                let got = ck(
                    "HMAC with the generated key",
                    cx.t.sign(&Mech::new(mac), g, &data),
                )?;
                let want = cx.py.bytes("hmac", &[hn.into(), w(&value), w(&data)])?;
                same("HMAC with the generated key", &got, &want)
            }
            (CKM_HKDF_KEY_GEN, CKF_GENERATE) => {
                let g = ck(
                    "C_GenerateKey",
                    cx.t.generate_key(
                        &Mech::new(c.m),
                        &Tmpl::new()
                            .u(CKA_CLASS, CKO_SECRET_KEY)
                            .u(CKA_KEY_TYPE, CKK_HKDF)
                            .b(CKA_TOKEN, false)
                            .b(CKA_SENSITIVE, false)
                            .b(CKA_EXTRACTABLE, true)
                            .b(CKA_DERIVE, true)
                            .u(CKA_VALUE_LEN, size as CK_ULONG),
                    ),
                )?;
                let value = ck("CKA_VALUE", cx.t.attr(g, CKA_VALUE))?;
                if value.len() != size {
                    return Err(format!("generated {} bytes", value.len()));
                }
                hkdf_check(cx, g, &value)
            }
            (CKM_HKDF_DERIVE, CKF_DERIVE) => {
                let ikm = random(cx, size);
                let h = ck("C_CreateObject(base key)", cx.t.create(&generic(&ikm)))?;
                hkdf_check(cx, h, &ikm)?;
                // Expand only, with the base key as the PRK.
                let info = random(cx, 20);
                let m = hkdf(false, true, CKM_SHA384, &[], &info);
                let d = ck(
                    "C_DeriveKey(HKDF expand)",
                    cx.t.derive(&m, h, &new_secret(CKK_GENERIC_SECRET, Some(100))),
                )?;
                let got = ck("CKA_VALUE", cx.t.attr(d, CKA_VALUE))?;
                let want = cx.py.bytes(
                    "hkdf_expand",
                    &["sha384".into(), w(&ikm), w(&info), "100".into()],
                )?;
                same("HKDF-Expand-SHA384", &got, &want)
            }
            (CKM_PKCS5_PBKD2, CKF_GENERATE) => {
                let salt = random(cx, 16);
                let password = b"capability password";
                let m = pbkdf2(CKP_PKCS5_PBKD2_HMAC_SHA256, password, &salt, 1000);
                let g = ck(
                    "C_GenerateKey(PBKDF2)",
                    cx.t.generate_key(&m, &new_secret(CKK_GENERIC_SECRET, Some(size))),
                )?;
                let got = ck("CKA_VALUE", cx.t.attr(g, CKA_VALUE))?;
                let want = cx.py.bytes(
                    "pbkdf2",
                    &[
                        "sha256".into(),
                        w(password),
                        w(&salt),
                        "1000".into(),
                        size.to_string(),
                    ],
                )?;
                same("PBKDF2-HMAC-SHA256", &got, &want)
            }
            _ => Err(no_exerciser()),
        }
    }
}

/// HKDF extract-and-expand (SHA-256, salt and info given) from the key `h` of value `ikm`.
fn hkdf_check(cx: &mut Cx, h: CK_OBJECT_HANDLE, ikm: &[u8]) -> Outcome {
    let salt = random(cx, 16);
    let info = random(cx, 10);
    let m = hkdf(true, true, CKM_SHA256, &salt, &info);
    let d = ck(
        "C_DeriveKey(HKDF)",
        cx.t.derive(&m, h, &new_secret(CKK_GENERIC_SECRET, Some(42))),
    )?;
    let got = ck("CKA_VALUE of the derived key", cx.t.attr(d, CKA_VALUE))?;
    let want = cx.py.bytes(
        "hkdf",
        &["sha256".into(), w(&salt), w(ikm), w(&info), "42".into()],
    )?;
    same("HKDF-SHA256", &got, &want)
}

/// Issue 12: the key type, an HMAC that takes it and its hashlib name, of a
/// `CKM_SHA*_KEY_GEN` mechanism.
fn hmac_key_gen(m: CK_MECHANISM_TYPE) -> Option<(CK_KEY_TYPE, CK_MECHANISM_TYPE, &'static str)> {
    Some(match m {
        CKM_SHA_1_KEY_GEN => (CKK_SHA_1_HMAC, CKM_SHA_1_HMAC, "sha1"),
        CKM_SHA224_KEY_GEN => (CKK_SHA224_HMAC, CKM_SHA224_HMAC, "sha224"),
        CKM_SHA256_KEY_GEN => (CKK_SHA256_HMAC, CKM_SHA256_HMAC, "sha256"),
        CKM_SHA384_KEY_GEN => (CKK_SHA384_HMAC, CKM_SHA384_HMAC, "sha384"),
        CKM_SHA512_KEY_GEN => (CKK_SHA512_HMAC, CKM_SHA512_HMAC, "sha512"),
        CKM_SHA3_224_KEY_GEN => (CKK_SHA3_224_HMAC, CKM_SHA3_256_HMAC, "sha3_256"),
        CKM_SHA3_256_KEY_GEN => (CKK_SHA3_256_HMAC, CKM_SHA3_256_HMAC, "sha3_256"),
        CKM_SHA3_384_KEY_GEN => (CKK_SHA3_384_HMAC, CKM_SHA3_384_HMAC, "sha3_384"),
        CKM_SHA3_512_KEY_GEN => (CKK_SHA3_512_HMAC, CKM_SHA3_512_HMAC, "sha3_512"),
        _ => return None,
    })
}
