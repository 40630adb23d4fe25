//! PKCS#11 v3.0 base §5.5 (C_GetMechanismList, C_GetMechanismInfo) and §3.4 (CK_MECHANISM_INFO
//! flags, CKF_EC_*), against the mechanisms of issue 3 as the Current Mechanisms specification
//! describes them (key sizes in bytes for AES, in bits for RSA and EC).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::p11::*;
use cryptoki_sys::*;

const ED: CK_FLAGS = CKF_ENCRYPT | CKF_DECRYPT;
const SV: CK_FLAGS = CKF_SIGN | CKF_VERIFY;
const WU: CK_FLAGS = CKF_WRAP | CKF_UNWRAP;
const EC: CK_FLAGS = CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;
const MSG: CK_FLAGS = CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT;

/// (name, mechanism, flags that must be set).
fn required() -> Vec<(&'static str, CK_MECHANISM_TYPE, CK_FLAGS)> {
    vec![
        ("CKM_AES_KEY_GEN", CKM_AES_KEY_GEN, CKF_GENERATE),
        ("CKM_AES_ECB", CKM_AES_ECB, ED),
        ("CKM_AES_CBC", CKM_AES_CBC, ED),
        ("CKM_AES_CBC_PAD", CKM_AES_CBC_PAD, ED),
        ("CKM_AES_CTR", CKM_AES_CTR, ED),
        ("CKM_AES_GCM", CKM_AES_GCM, ED | MSG),
        ("CKM_AES_CCM", CKM_AES_CCM, ED | MSG),
        ("CKM_AES_CTS", CKM_AES_CTS, ED),
        ("CKM_AES_KEY_WRAP", CKM_AES_KEY_WRAP, WU),
        ("CKM_AES_KEY_WRAP_KWP", CKM_AES_KEY_WRAP_KWP, WU),
        ("CKM_AES_CMAC", CKM_AES_CMAC, SV),
        ("CKM_AES_CMAC_GENERAL", CKM_AES_CMAC_GENERAL, SV),
        (
            "CKM_AES_ECB_ENCRYPT_DATA",
            CKM_AES_ECB_ENCRYPT_DATA,
            CKF_DERIVE,
        ),
        (
            "CKM_AES_CBC_ENCRYPT_DATA",
            CKM_AES_CBC_ENCRYPT_DATA,
            CKF_DERIVE,
        ),
        (
            "CKM_RSA_PKCS_KEY_PAIR_GEN",
            CKM_RSA_PKCS_KEY_PAIR_GEN,
            CKF_GENERATE_KEY_PAIR,
        ),
        (
            "CKM_RSA_PKCS",
            CKM_RSA_PKCS,
            ED | SV | CKF_SIGN_RECOVER | CKF_VERIFY_RECOVER | WU,
        ),
        (
            "CKM_RSA_X_509",
            CKM_RSA_X_509,
            ED | SV | CKF_SIGN_RECOVER | CKF_VERIFY_RECOVER,
        ),
        ("CKM_RSA_PKCS_OAEP", CKM_RSA_PKCS_OAEP, ED | WU),
        ("CKM_RSA_PKCS_PSS", CKM_RSA_PKCS_PSS, SV),
        ("CKM_SHA1_RSA_PKCS", CKM_SHA1_RSA_PKCS, SV),
        ("CKM_SHA224_RSA_PKCS", CKM_SHA224_RSA_PKCS, SV),
        ("CKM_SHA256_RSA_PKCS", CKM_SHA256_RSA_PKCS, SV),
        ("CKM_SHA384_RSA_PKCS", CKM_SHA384_RSA_PKCS, SV),
        ("CKM_SHA512_RSA_PKCS", CKM_SHA512_RSA_PKCS, SV),
        ("CKM_SHA1_RSA_PKCS_PSS", CKM_SHA1_RSA_PKCS_PSS, SV),
        ("CKM_SHA224_RSA_PKCS_PSS", CKM_SHA224_RSA_PKCS_PSS, SV),
        ("CKM_SHA256_RSA_PKCS_PSS", CKM_SHA256_RSA_PKCS_PSS, SV),
        ("CKM_SHA384_RSA_PKCS_PSS", CKM_SHA384_RSA_PKCS_PSS, SV),
        ("CKM_SHA512_RSA_PKCS_PSS", CKM_SHA512_RSA_PKCS_PSS, SV),
        ("CKM_SHA3_256_RSA_PKCS", CKM_SHA3_256_RSA_PKCS, SV),
        ("CKM_SHA3_384_RSA_PKCS", CKM_SHA3_384_RSA_PKCS, SV),
        ("CKM_SHA3_512_RSA_PKCS", CKM_SHA3_512_RSA_PKCS, SV),
        (
            "CKM_EC_KEY_PAIR_GEN",
            CKM_EC_KEY_PAIR_GEN,
            CKF_GENERATE_KEY_PAIR | EC,
        ),
        ("CKM_ECDSA", CKM_ECDSA, SV | EC),
        ("CKM_ECDSA_SHA1", CKM_ECDSA_SHA1, SV | EC),
        ("CKM_ECDSA_SHA224", CKM_ECDSA_SHA224, SV | EC),
        ("CKM_ECDSA_SHA256", CKM_ECDSA_SHA256, SV | EC),
        ("CKM_ECDSA_SHA384", CKM_ECDSA_SHA384, SV | EC),
        ("CKM_ECDSA_SHA512", CKM_ECDSA_SHA512, SV | EC),
        ("CKM_ECDH1_DERIVE", CKM_ECDH1_DERIVE, CKF_DERIVE | EC),
        (
            "CKM_ECDH1_COFACTOR_DERIVE",
            CKM_ECDH1_COFACTOR_DERIVE,
            CKF_DERIVE | EC,
        ),
        (
            "CKM_EC_EDWARDS_KEY_PAIR_GEN",
            CKM_EC_EDWARDS_KEY_PAIR_GEN,
            CKF_GENERATE_KEY_PAIR,
        ),
        ("CKM_EDDSA", CKM_EDDSA, SV),
        ("CKM_SHA_1", CKM_SHA_1, CKF_DIGEST),
        ("CKM_SHA224", CKM_SHA224, CKF_DIGEST),
        ("CKM_SHA256", CKM_SHA256, CKF_DIGEST),
        ("CKM_SHA384", CKM_SHA384, CKF_DIGEST),
        ("CKM_SHA512", CKM_SHA512, CKF_DIGEST),
        ("CKM_SHA3_256", CKM_SHA3_256, CKF_DIGEST),
        ("CKM_SHA3_384", CKM_SHA3_384, CKF_DIGEST),
        ("CKM_SHA3_512", CKM_SHA3_512, CKF_DIGEST),
        ("CKM_SHA_1_HMAC", CKM_SHA_1_HMAC, SV),
        ("CKM_SHA224_HMAC", CKM_SHA224_HMAC, SV),
        ("CKM_SHA256_HMAC", CKM_SHA256_HMAC, SV),
        ("CKM_SHA384_HMAC", CKM_SHA384_HMAC, SV),
        ("CKM_SHA512_HMAC", CKM_SHA512_HMAC, SV),
        ("CKM_SHA3_256_HMAC", CKM_SHA3_256_HMAC, SV),
        ("CKM_SHA3_384_HMAC", CKM_SHA3_384_HMAC, SV),
        ("CKM_SHA3_512_HMAC", CKM_SHA3_512_HMAC, SV),
        ("CKM_SHA256_HMAC_GENERAL", CKM_SHA256_HMAC_GENERAL, SV),
        (
            "CKM_GENERIC_SECRET_KEY_GEN",
            CKM_GENERIC_SECRET_KEY_GEN,
            CKF_GENERATE,
        ),
        ("CKM_HKDF_DERIVE", CKM_HKDF_DERIVE, CKF_DERIVE),
        ("CKM_HKDF_KEY_GEN", CKM_HKDF_KEY_GEN, CKF_GENERATE),
        ("CKM_PKCS5_PBKD2", CKM_PKCS5_PBKD2, CKF_GENERATE),
    ]
}

/// Every mechanism of issue 3 is listed, and its C_GetMechanismInfo has the flags the
/// Current Mechanisms specification gives it. One failure names every missing or wrong entry.
#[test]
fn every_issue3_mechanism_is_listed_with_the_right_flags() {
    let t = token("mechs");
    let list = t.mechanism_list().ok_or_panic("C_GetMechanismList");
    let mut problems = Vec::new();
    for (name, m, flags) in required() {
        if !list.contains(&m) {
            problems.push(format!("{name}: not in C_GetMechanismList"));
        }
        match t.mechanism_info(m) {
            Err(rv) => problems.push(format!("{name}: C_GetMechanismInfo -> {}", rvn(rv))),
            Ok(info) => {
                if info.flags & flags != flags {
                    problems.push(format!(
                        "{name}: flags 0x{:x} lack 0x{:x}",
                        info.flags,
                        flags & !info.flags
                    ));
                }
                if info.flags & CKF_HW != 0 {
                    problems.push(format!("{name}: CKF_HW set on a software token"));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} mechanisms wrong:\n  {}",
        problems.len(),
        required().len(),
        problems.join("\n  ")
    );
}

/// Key sizes: AES in bytes (16..32), RSA key-pair generation 1024..4096 bits (a compat token;
/// tests/policy.rs has strict's 2048), EC in bits
/// covering P-256..P-521.
#[test]
fn mechanism_info_key_sizes() {
    let t = token("mech-sizes");
    let mut problems = Vec::new();
    let mut check = |name: &str,
                     m: CK_MECHANISM_TYPE,
                     ok: &dyn Fn(&CK_MECHANISM_INFO) -> bool,
                     want: &str| match t.mechanism_info(m) {
        Ok(i) if ok(&i) => {}
        Ok(i) => problems.push(format!(
            "{name}: min {} max {}, want {want}",
            i.ulMinKeySize, i.ulMaxKeySize
        )),
        Err(rv) => problems.push(format!("{name}: {}", rvn(rv))),
    };
    for (name, m) in [
        ("CKM_AES_KEY_GEN", CKM_AES_KEY_GEN),
        ("CKM_AES_ECB", CKM_AES_ECB),
        ("CKM_AES_GCM", CKM_AES_GCM),
        ("CKM_AES_KEY_WRAP", CKM_AES_KEY_WRAP),
    ] {
        check(
            name,
            m,
            &|i| i.ulMinKeySize == 16 && i.ulMaxKeySize == 32,
            "16..32 bytes",
        );
    }
    check(
        "CKM_RSA_PKCS_KEY_PAIR_GEN",
        CKM_RSA_PKCS_KEY_PAIR_GEN,
        &|i| i.ulMinKeySize == 1024 && i.ulMaxKeySize == 4096,
        "1024..4096 bits",
    );
    for (name, m) in [
        ("CKM_EC_KEY_PAIR_GEN", CKM_EC_KEY_PAIR_GEN),
        ("CKM_ECDSA", CKM_ECDSA),
        ("CKM_ECDH1_DERIVE", CKM_ECDH1_DERIVE),
    ] {
        check(
            name,
            m,
            &|i| i.ulMinKeySize <= 256 && i.ulMaxKeySize >= 521,
            "a range covering 256..521 bits",
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A mechanism the module does not implement: CKR_MECHANISM_INVALID from C_GetMechanismInfo,
/// absent from the list; and every listed mechanism has info.
#[test]
fn unlisted_mechanism_is_invalid_and_listed_ones_have_info() {
    let t = token("mech-invalid");
    expect_err(
        "C_GetMechanismInfo(CKM_BLOWFISH_CBC)",
        t.mechanism_info(CKM_BLOWFISH_CBC),
        CKR_MECHANISM_INVALID,
    );
    let list = t.mechanism_list().ok_or_panic("C_GetMechanismList");
    assert!(!list.contains(&CKM_BLOWFISH_CBC));
    let mut seen = std::collections::HashSet::new();
    for m in &list {
        assert!(seen.insert(*m), "mechanism 0x{m:x} listed twice");
        let info = t
            .mechanism_info(*m)
            .ok_or_panic(&format!("info of listed 0x{m:x}"));
        assert!(
            info.ulMinKeySize <= info.ulMaxKeySize,
            "0x{m:x}: min {} > max {}",
            info.ulMinKeySize,
            info.ulMaxKeySize
        );
        assert_ne!(info.flags, 0, "0x{m:x} listed with no capability flags");
    }
}
