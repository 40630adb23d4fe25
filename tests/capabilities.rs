//! What the module claims, tested (issue 17 item 4): PKCS#11 v3.0 base §5.5 (C_GetMechanismList,
//! C_GetMechanismInfo) and the CK_MECHANISM_INFO flags of §3.4, walked on a fresh token. For every
//! listed mechanism and every flag its info advertises, the operation the flag promises is
//! performed through the built module at the minimum and the maximum advertised key size (in the
//! unit the Current Mechanisms specification gives for the mechanism) and its result is checked
//! against an independent implementation (Python `cryptography`/`hashlib`, see `oracle`).
//!
//! The test fails for a listed mechanism absent from `TABLE`, and for an advertised flag the
//! mechanism's family has no exerciser for: a capability cannot be advertised untested.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[path = "capabilities/aes.rs"]
mod aes;
#[path = "capabilities/asym.rs"]
mod asym;
#[path = "capabilities/derive.rs"]
mod derive;
#[path = "capabilities/des.rs"]
mod des;
#[path = "capabilities/hash.rs"]
mod hash;
#[path = "capabilities/oracle.rs"]
mod oracle;

use common::p11::*;
use cryptoki_sys::*;
use oracle::Oracle;

/// Who exercises a mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Aes,
    Rsa,
    Ec,
    Edwards,
    Montgomery,
    Digest,
    Hmac,
    Kdf,
    Derive,
    Des,
}

/// Every mechanism the test knows how to exercise: (type, name, family). A mechanism the module
/// lists and this table lacks fails `every_listed_mechanism_has_an_exerciser`.
pub const TABLE: &[(CK_MECHANISM_TYPE, &str, Family)] = &[
    (CKM_AES_KEY_GEN, "CKM_AES_KEY_GEN", Family::Aes),
    (CKM_AES_ECB, "CKM_AES_ECB", Family::Aes),
    (CKM_AES_CBC, "CKM_AES_CBC", Family::Aes),
    (CKM_AES_CBC_PAD, "CKM_AES_CBC_PAD", Family::Aes),
    (CKM_AES_CTR, "CKM_AES_CTR", Family::Aes),
    (CKM_AES_GCM, "CKM_AES_GCM", Family::Aes),
    (CKM_AES_CCM, "CKM_AES_CCM", Family::Aes),
    (CKM_AES_CTS, "CKM_AES_CTS", Family::Aes),
    (CKM_AES_KEY_WRAP, "CKM_AES_KEY_WRAP", Family::Aes),
    (CKM_AES_KEY_WRAP_KWP, "CKM_AES_KEY_WRAP_KWP", Family::Aes),
    (CKM_AES_CMAC, "CKM_AES_CMAC", Family::Aes),
    (CKM_AES_CMAC_GENERAL, "CKM_AES_CMAC_GENERAL", Family::Aes),
    (
        CKM_AES_ECB_ENCRYPT_DATA,
        "CKM_AES_ECB_ENCRYPT_DATA",
        Family::Aes,
    ),
    (
        CKM_AES_CBC_ENCRYPT_DATA,
        "CKM_AES_CBC_ENCRYPT_DATA",
        Family::Aes,
    ),
    (
        CKM_RSA_PKCS_KEY_PAIR_GEN,
        "CKM_RSA_PKCS_KEY_PAIR_GEN",
        Family::Rsa,
    ),
    (CKM_RSA_PKCS, "CKM_RSA_PKCS", Family::Rsa),
    (CKM_RSA_X_509, "CKM_RSA_X_509", Family::Rsa),
    (CKM_RSA_PKCS_OAEP, "CKM_RSA_PKCS_OAEP", Family::Rsa),
    (CKM_RSA_PKCS_PSS, "CKM_RSA_PKCS_PSS", Family::Rsa),
    (CKM_SHA1_RSA_PKCS, "CKM_SHA1_RSA_PKCS", Family::Rsa),
    (CKM_SHA224_RSA_PKCS, "CKM_SHA224_RSA_PKCS", Family::Rsa),
    (CKM_SHA256_RSA_PKCS, "CKM_SHA256_RSA_PKCS", Family::Rsa),
    (CKM_SHA384_RSA_PKCS, "CKM_SHA384_RSA_PKCS", Family::Rsa),
    (CKM_SHA512_RSA_PKCS, "CKM_SHA512_RSA_PKCS", Family::Rsa),
    (CKM_SHA3_256_RSA_PKCS, "CKM_SHA3_256_RSA_PKCS", Family::Rsa),
    (CKM_SHA3_384_RSA_PKCS, "CKM_SHA3_384_RSA_PKCS", Family::Rsa),
    (CKM_SHA3_512_RSA_PKCS, "CKM_SHA3_512_RSA_PKCS", Family::Rsa),
    (CKM_SHA1_RSA_PKCS_PSS, "CKM_SHA1_RSA_PKCS_PSS", Family::Rsa),
    (
        CKM_SHA224_RSA_PKCS_PSS,
        "CKM_SHA224_RSA_PKCS_PSS",
        Family::Rsa,
    ),
    (
        CKM_SHA256_RSA_PKCS_PSS,
        "CKM_SHA256_RSA_PKCS_PSS",
        Family::Rsa,
    ),
    (
        CKM_SHA384_RSA_PKCS_PSS,
        "CKM_SHA384_RSA_PKCS_PSS",
        Family::Rsa,
    ),
    (
        CKM_SHA512_RSA_PKCS_PSS,
        "CKM_SHA512_RSA_PKCS_PSS",
        Family::Rsa,
    ),
    (CKM_EC_KEY_PAIR_GEN, "CKM_EC_KEY_PAIR_GEN", Family::Ec),
    (CKM_ECDSA, "CKM_ECDSA", Family::Ec),
    (CKM_ECDSA_SHA1, "CKM_ECDSA_SHA1", Family::Ec),
    (CKM_ECDSA_SHA224, "CKM_ECDSA_SHA224", Family::Ec),
    (CKM_ECDSA_SHA256, "CKM_ECDSA_SHA256", Family::Ec),
    (CKM_ECDSA_SHA384, "CKM_ECDSA_SHA384", Family::Ec),
    (CKM_ECDSA_SHA512, "CKM_ECDSA_SHA512", Family::Ec),
    (CKM_ECDSA_SHA3_224, "CKM_ECDSA_SHA3_224", Family::Ec),
    (CKM_ECDSA_SHA3_256, "CKM_ECDSA_SHA3_256", Family::Ec),
    (CKM_ECDSA_SHA3_384, "CKM_ECDSA_SHA3_384", Family::Ec),
    (CKM_ECDSA_SHA3_512, "CKM_ECDSA_SHA3_512", Family::Ec),
    (CKM_ECDH1_DERIVE, "CKM_ECDH1_DERIVE", Family::Ec),
    (
        CKM_ECDH1_COFACTOR_DERIVE,
        "CKM_ECDH1_COFACTOR_DERIVE",
        Family::Ec,
    ),
    (
        CKM_EC_EDWARDS_KEY_PAIR_GEN,
        "CKM_EC_EDWARDS_KEY_PAIR_GEN",
        Family::Edwards,
    ),
    (CKM_EDDSA, "CKM_EDDSA", Family::Edwards),
    (
        CKM_EC_MONTGOMERY_KEY_PAIR_GEN,
        "CKM_EC_MONTGOMERY_KEY_PAIR_GEN",
        Family::Montgomery,
    ),
    (CKM_SHA_1, "CKM_SHA_1", Family::Digest),
    (CKM_SHA224, "CKM_SHA224", Family::Digest),
    (CKM_SHA256, "CKM_SHA256", Family::Digest),
    (CKM_SHA384, "CKM_SHA384", Family::Digest),
    (CKM_SHA512, "CKM_SHA512", Family::Digest),
    (CKM_SHA3_224, "CKM_SHA3_224", Family::Digest),
    (CKM_SHA3_256, "CKM_SHA3_256", Family::Digest),
    (CKM_SHA3_384, "CKM_SHA3_384", Family::Digest),
    (CKM_SHA3_512, "CKM_SHA3_512", Family::Digest),
    (CKM_SHA_1_HMAC, "CKM_SHA_1_HMAC", Family::Hmac),
    (CKM_SHA224_HMAC, "CKM_SHA224_HMAC", Family::Hmac),
    (CKM_SHA256_HMAC, "CKM_SHA256_HMAC", Family::Hmac),
    (CKM_SHA384_HMAC, "CKM_SHA384_HMAC", Family::Hmac),
    (CKM_SHA512_HMAC, "CKM_SHA512_HMAC", Family::Hmac),
    (CKM_SHA3_256_HMAC, "CKM_SHA3_256_HMAC", Family::Hmac),
    (CKM_SHA3_384_HMAC, "CKM_SHA3_384_HMAC", Family::Hmac),
    (CKM_SHA3_512_HMAC, "CKM_SHA3_512_HMAC", Family::Hmac),
    (
        CKM_SHA_1_HMAC_GENERAL,
        "CKM_SHA_1_HMAC_GENERAL",
        Family::Hmac,
    ),
    (
        CKM_SHA224_HMAC_GENERAL,
        "CKM_SHA224_HMAC_GENERAL",
        Family::Hmac,
    ),
    (
        CKM_SHA256_HMAC_GENERAL,
        "CKM_SHA256_HMAC_GENERAL",
        Family::Hmac,
    ),
    (
        CKM_SHA384_HMAC_GENERAL,
        "CKM_SHA384_HMAC_GENERAL",
        Family::Hmac,
    ),
    (
        CKM_SHA512_HMAC_GENERAL,
        "CKM_SHA512_HMAC_GENERAL",
        Family::Hmac,
    ),
    (
        CKM_SHA3_256_HMAC_GENERAL,
        "CKM_SHA3_256_HMAC_GENERAL",
        Family::Hmac,
    ),
    (
        CKM_SHA3_384_HMAC_GENERAL,
        "CKM_SHA3_384_HMAC_GENERAL",
        Family::Hmac,
    ),
    (
        CKM_SHA3_512_HMAC_GENERAL,
        "CKM_SHA3_512_HMAC_GENERAL",
        Family::Hmac,
    ),
    (
        CKM_GENERIC_SECRET_KEY_GEN,
        "CKM_GENERIC_SECRET_KEY_GEN",
        Family::Kdf,
    ),
    (CKM_HKDF_KEY_GEN, "CKM_HKDF_KEY_GEN", Family::Kdf),
    (CKM_HKDF_DERIVE, "CKM_HKDF_DERIVE", Family::Kdf),
    (CKM_PKCS5_PBKD2, "CKM_PKCS5_PBKD2", Family::Kdf),
    // issue 12: the further AES modes and MACs, RSA-AES key wrap.
    (CKM_AES_OFB, "CKM_AES_OFB", Family::Aes),
    (CKM_AES_CFB8, "CKM_AES_CFB8", Family::Aes),
    (CKM_AES_CFB64, "CKM_AES_CFB64", Family::Aes),
    (CKM_AES_CFB128, "CKM_AES_CFB128", Family::Aes),
    (CKM_AES_XTS, "CKM_AES_XTS", Family::Aes),
    (CKM_AES_XTS_KEY_GEN, "CKM_AES_XTS_KEY_GEN", Family::Aes),
    (CKM_AES_MAC, "CKM_AES_MAC", Family::Aes),
    (CKM_AES_MAC_GENERAL, "CKM_AES_MAC_GENERAL", Family::Aes),
    (CKM_AES_GMAC, "CKM_AES_GMAC", Family::Aes),
    (CKM_RSA_AES_KEY_WRAP, "CKM_RSA_AES_KEY_WRAP", Family::Rsa),
    (
        CKM_CONCATENATE_BASE_AND_KEY,
        "CKM_CONCATENATE_BASE_AND_KEY",
        Family::Derive,
    ),
    (
        CKM_CONCATENATE_BASE_AND_DATA,
        "CKM_CONCATENATE_BASE_AND_DATA",
        Family::Derive,
    ),
    (
        CKM_CONCATENATE_DATA_AND_BASE,
        "CKM_CONCATENATE_DATA_AND_BASE",
        Family::Derive,
    ),
    (
        CKM_XOR_BASE_AND_DATA,
        "CKM_XOR_BASE_AND_DATA",
        Family::Derive,
    ),
    (
        CKM_EXTRACT_KEY_FROM_KEY,
        "CKM_EXTRACT_KEY_FROM_KEY",
        Family::Derive,
    ),
    (
        CKM_SP800_108_COUNTER_KDF,
        "CKM_SP800_108_COUNTER_KDF",
        Family::Derive,
    ),
    (
        CKM_SP800_108_FEEDBACK_KDF,
        "CKM_SP800_108_FEEDBACK_KDF",
        Family::Derive,
    ),
    (
        CKM_SP800_108_DOUBLE_PIPELINE_KDF,
        "CKM_SP800_108_DOUBLE_PIPELINE_KDF",
        Family::Derive,
    ),
    (
        CKM_PUB_KEY_FROM_PRIV_KEY,
        "CKM_PUB_KEY_FROM_PRIV_KEY",
        Family::Derive,
    ),
    // Issue 12: DES, MD5 and the HMAC key generations.
    (CKM_DES_KEY_GEN, "CKM_DES_KEY_GEN", Family::Des),
    (CKM_DES2_KEY_GEN, "CKM_DES2_KEY_GEN", Family::Des),
    (CKM_DES3_KEY_GEN, "CKM_DES3_KEY_GEN", Family::Des),
    (CKM_DES_ECB, "CKM_DES_ECB", Family::Des),
    (CKM_DES_CBC, "CKM_DES_CBC", Family::Des),
    (CKM_DES_CBC_PAD, "CKM_DES_CBC_PAD", Family::Des),
    (CKM_DES3_ECB, "CKM_DES3_ECB", Family::Des),
    (CKM_DES3_CBC, "CKM_DES3_CBC", Family::Des),
    (CKM_DES3_CBC_PAD, "CKM_DES3_CBC_PAD", Family::Des),
    (CKM_DES3_CMAC, "CKM_DES3_CMAC", Family::Des),
    (CKM_DES3_CMAC_GENERAL, "CKM_DES3_CMAC_GENERAL", Family::Des),
    (CKM_MD5, "CKM_MD5", Family::Digest),
    (CKM_MD5_HMAC, "CKM_MD5_HMAC", Family::Hmac),
    (CKM_MD5_HMAC_GENERAL, "CKM_MD5_HMAC_GENERAL", Family::Hmac),
    (CKM_MD5_RSA_PKCS, "CKM_MD5_RSA_PKCS", Family::Rsa),
    (CKM_SHA_1_KEY_GEN, "CKM_SHA_1_KEY_GEN", Family::Kdf),
    (CKM_SHA224_KEY_GEN, "CKM_SHA224_KEY_GEN", Family::Kdf),
    (CKM_SHA256_KEY_GEN, "CKM_SHA256_KEY_GEN", Family::Kdf),
    (CKM_SHA384_KEY_GEN, "CKM_SHA384_KEY_GEN", Family::Kdf),
    (CKM_SHA512_KEY_GEN, "CKM_SHA512_KEY_GEN", Family::Kdf),
    (CKM_SHA3_224_KEY_GEN, "CKM_SHA3_224_KEY_GEN", Family::Kdf),
    (CKM_SHA3_256_KEY_GEN, "CKM_SHA3_256_KEY_GEN", Family::Kdf),
    (CKM_SHA3_384_KEY_GEN, "CKM_SHA3_384_KEY_GEN", Family::Kdf),
    (CKM_SHA3_512_KEY_GEN, "CKM_SHA3_512_KEY_GEN", Family::Kdf),
];

/// Every CK_MECHANISM_INFO flag of base §3.4 (Table 8), by name. A set bit outside this list
/// fails the walk.
const FLAGS: &[(CK_FLAGS, &str)] = &[
    (CKF_HW, "CKF_HW"),
    (CKF_MESSAGE_ENCRYPT, "CKF_MESSAGE_ENCRYPT"),
    (CKF_MESSAGE_DECRYPT, "CKF_MESSAGE_DECRYPT"),
    (CKF_MESSAGE_SIGN, "CKF_MESSAGE_SIGN"),
    (CKF_MESSAGE_VERIFY, "CKF_MESSAGE_VERIFY"),
    (CKF_MULTI_MESSAGE, "CKF_MULTI_MESSAGE"),
    (CKF_FIND_OBJECTS, "CKF_FIND_OBJECTS"),
    (CKF_ENCRYPT, "CKF_ENCRYPT"),
    (CKF_DECRYPT, "CKF_DECRYPT"),
    (CKF_DIGEST, "CKF_DIGEST"),
    (CKF_SIGN, "CKF_SIGN"),
    (CKF_SIGN_RECOVER, "CKF_SIGN_RECOVER"),
    (CKF_VERIFY, "CKF_VERIFY"),
    (CKF_VERIFY_RECOVER, "CKF_VERIFY_RECOVER"),
    (CKF_GENERATE, "CKF_GENERATE"),
    (CKF_GENERATE_KEY_PAIR, "CKF_GENERATE_KEY_PAIR"),
    (CKF_WRAP, "CKF_WRAP"),
    (CKF_UNWRAP, "CKF_UNWRAP"),
    (CKF_DERIVE, "CKF_DERIVE"),
    (CKF_EC_F_P, "CKF_EC_F_P"),
    (CKF_EC_F_2M, "CKF_EC_F_2M"),
    (CKF_EC_ECPARAMETERS, "CKF_EC_ECPARAMETERS"),
    (CKF_EC_NAMEDCURVE, "CKF_EC_NAMEDCURVE"),
    (CKF_EC_UNCOMPRESS, "CKF_EC_UNCOMPRESS"),
    (CKF_EC_COMPRESS, "CKF_EC_COMPRESS"),
    (CKF_EC_CURVENAME, "CKF_EC_CURVENAME"),
    (CKF_EXTENSION, "CKF_EXTENSION"),
];

pub fn flag_name(f: CK_FLAGS) -> String {
    FLAGS
        .iter()
        .find(|(v, _)| *v == f)
        .map(|(_, n)| (*n).to_owned())
        .unwrap_or_else(|| format!("flag 0x{f:x}"))
}

/// One exercise: mechanism `m` (its table name `name`), flag `flag`, key size `size` in the
/// unit of the mechanism. `Err` says what went wrong; an exerciser returns
/// `Err(no_exerciser())` for a flag it does not know.
#[derive(Debug)]
pub struct Case<'a> {
    pub m: CK_MECHANISM_TYPE,
    pub name: &'a str,
    pub flag: CK_FLAGS,
    pub size: CK_ULONG,
}

pub type Outcome = Result<(), String>;

pub fn no_exerciser() -> String {
    "advertised, but the capability test has no exerciser for it".into()
}

/// A family's exerciser, holding whatever it caches between cases (generated RSA keys …).
pub trait Exerciser {
    fn exercise(&mut self, cx: &mut Cx, c: &Case) -> Outcome;

    /// The key sizes to use for a mechanism, from its info: by default the minimum and maximum.
    fn sizes(&self, _m: CK_MECHANISM_TYPE, info: &CK_MECHANISM_INFO) -> Vec<CK_ULONG> {
        let mut v = vec![info.ulMinKeySize, info.ulMaxKeySize];
        v.dedup();
        v
    }
}

/// The token and the independent implementation a family test runs against.
#[derive(Debug)]
pub struct Cx {
    pub t: Tok,
    pub py: Oracle,
}

/// A module call's error as an outcome message.
pub fn ck<T>(what: &str, r: Result<T, CK_RV>) -> Result<T, String> {
    r.map_err(|rv| format!("{what}: {}", rvn(rv)))
}

/// Equal bytes, or a message with both in hex.
pub fn same(what: &str, got: &[u8], want: &[u8]) -> Outcome {
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "{what}: the module gives {} ({} bytes), the independent implementation {} ({} bytes)",
            hex(got),
            got.len(),
            hex(want),
            want.len()
        ))
    }
}

/// A verification that must refuse a corrupted signature or MAC with CKR_SIGNATURE_INVALID.
pub fn refuses(what: &str, r: Result<(), CK_RV>) -> Outcome {
    match r {
        Err(CKR_SIGNATURE_INVALID) => Ok(()),
        Err(rv) => Err(format!(
            "{what}: a corrupted signature gives {}, not CKR_SIGNATURE_INVALID",
            rvn(rv)
        )),
        Ok(()) => Err(format!("{what}: a corrupted signature verifies")),
    }
}

/// `n` bytes from the module's generator (test data, known key values).
pub fn random(cx: &Cx, n: usize) -> Vec<u8> {
    cx.t.random(n)
}

/// Walk the token's mechanism list and exercise every advertised flag of every mechanism of
/// `family` at each size; fail listing every case that went wrong.
fn walk(family: Family, ex: &mut dyn Exerciser) {
    let t = token(&format!("caps-{family:?}").to_lowercase());
    let mut cx = Cx {
        t,
        py: Oracle::start(),
    };
    let list = cx.t.mechanism_list().ok_or_panic("C_GetMechanismList");
    let mut failures = Vec::new();
    let mut done = 0usize;
    let start = std::time::Instant::now();
    for m in list {
        let Some(&(_, name, fam)) = TABLE.iter().find(|e| e.0 == m) else {
            continue; // every_listed_mechanism_has_an_exerciser names it
        };
        if fam != family {
            continue;
        }
        let info =
            cx.t.mechanism_info(m)
                .ok_or_panic(&format!("C_GetMechanismInfo({name})"));
        let unknown = FLAGS.iter().fold(info.flags, |rest, (f, _)| rest & !f);
        if unknown != 0 {
            failures.push(format!("{name}: unknown flag bits 0x{unknown:x}"));
        }
        for &(flag, _) in FLAGS.iter().filter(|(f, _)| info.flags & f != 0) {
            for size in ex.sizes(m, &info) {
                let case = Case {
                    m,
                    name,
                    flag,
                    size,
                };
                let t0 = std::time::Instant::now();
                match ex.exercise(&mut cx, &case) {
                    Ok(()) => done += 1,
                    Err(e) => failures.push(format!("{name} {} size {size}: {e}", flag_name(flag))),
                }
                let took = t0.elapsed();
                if took.as_secs_f64() > 2.0 {
                    eprintln!("{name} {} size {size}: {took:?}", flag_name(flag));
                }
            }
        }
    }
    eprintln!(
        "{family:?}: {done} capability cases passed, {} failed, in {:?}",
        failures.len(),
        start.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} advertised capabilities fail:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
    assert!(
        done > 0,
        "the token advertises no mechanism of family {family:?}: remove its test with the family"
    );
}

/// Every listed mechanism has an entry in `TABLE`, so a mechanism added to the module later
/// cannot be advertised without an exerciser.
#[test]
fn every_listed_mechanism_has_an_exerciser() {
    let t = token("caps-table");
    let list = t.mechanism_list().ok_or_panic("C_GetMechanismList");
    let missing: Vec<String> = list
        .iter()
        .filter(|m| !TABLE.iter().any(|e| e.0 == **m))
        .map(|m| match cryptoki::mechanism::MechanismType::try_from(*m) {
            Ok(t) => format!("{t} (0x{m:08x})"),
            Err(_) => format!("0x{m:08x}"),
        })
        .collect();
    assert!(
        missing.is_empty(),
        "listed mechanisms the capability test cannot exercise: {}",
        missing.join(", ")
    );
    assert!(!list.is_empty(), "C_GetMechanismList lists nothing");
}

#[test]
fn aes_capabilities() {
    walk(Family::Aes, &mut aes::Aes);
}

#[test]
fn rsa_capabilities() {
    walk(Family::Rsa, &mut asym::Rsa::default());
}

#[test]
fn ec_capabilities() {
    walk(Family::Ec, &mut asym::Ec::default());
}

#[test]
fn edwards_capabilities() {
    walk(Family::Edwards, &mut asym::Edwards);
}

#[test]
fn montgomery_capabilities() {
    walk(Family::Montgomery, &mut asym::Montgomery);
}

#[test]
fn digest_capabilities() {
    walk(Family::Digest, &mut hash::Digest);
}

#[test]
fn hmac_capabilities() {
    walk(Family::Hmac, &mut hash::Hmac);
}

#[test]
fn kdf_capabilities() {
    walk(Family::Kdf, &mut hash::Kdf);
}

#[test]
fn derive_capabilities() {
    walk(Family::Derive, &mut derive::Derive);
}

#[test]
fn des_capabilities() {
    walk(Family::Des, &mut des::Des);
}
