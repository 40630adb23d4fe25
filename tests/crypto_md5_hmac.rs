//! MD5, MD5-HMAC and MD5-RSA-PKCS (the historical mechanisms document; SoftHSMv2 lists them),
//! the HMAC key generation mechanisms CKM_SHA_1_KEY_GEN ... CKM_SHA3_512_KEY_GEN and the
//! CKK_*_HMAC key types (Current Mechanisms v3.0 §2.20-2.31, "... key generation"), through the
//! built module: C_Digest*, C_GetOperationState, C_Sign*/C_Verify*, C_GenerateKey,
//! C_CreateObject and C_GetMechanismInfo. Known answers: RFC 1321 appendix A.5, RFC 2202 §2;
//! the MD5-RSA-PKCS signature is opened with the public key and compared with the RFC 8017
//! §9.2 encoding of the RFC 1321 digest; MD5 is cross-checked with `openssl dgst -md5` when
//! it is installed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::p11::*;
use cryptoki_sys::*;

const RFC1321: &[(&str, &str)] = &[
    ("", "d41d8cd98f00b204e9800998ecf8427e"),
    ("a", "0cc175b9c0f1b6a831c399e269772661"),
    ("abc", "900150983cd24fb0d6963f7d28e17f72"),
    ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
    (
        "abcdefghijklmnopqrstuvwxyz",
        "c3fcd3d76192e4007dfb496cca67e13b",
    ),
    (
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        "d174ab98d277d9f5a5611c2c9f419d9f",
    ),
    (
        "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
        "57edf4a22be3c955ac49da2e2107b67a",
    ),
];

#[test]
fn md5_rfc1321_single_multi_part_and_saved_state() {
    let t = token("md5");
    for (m, want) in RFC1321 {
        let got = t
            .digest(&Mech::new(CKM_MD5), m.as_bytes())
            .ok_or_panic("C_Digest");
        assert_bytes(&format!("MD5({m:?})"), &got, &hx(want));
        let parts: Vec<&[u8]> = m.as_bytes().chunks(7).collect();
        let got = t
            .digest_multi(&Mech::new(CKM_MD5), &parts)
            .ok_or_panic("C_DigestUpdate");
        assert_bytes(&format!("multi-part MD5({m:?})"), &got, &hx(want));
    }
    // An operation saved halfway resumes in another session.
    let (s1, s2) = (t.open_session(), t.open_session());
    t.digest_init_in(s1, &Mech::new(CKM_MD5)).unwrap();
    t.digest_update_in(s1, b"message ").unwrap();
    let state = t.get_operation_state(s1).ok_or_panic("C_GetOperationState");
    t.set_operation_state(s2, &state)
        .ok_or_panic("C_SetOperationState");
    t.digest_update_in(s2, b"digest").unwrap();
    assert_bytes(
        "resumed MD5",
        &t.digest_final_in(s2).unwrap(),
        &hx("f96b697d7cb7938d525a2f31aaf161d0"),
    );
    expect_err(
        "a parameter",
        t.digest(&Mech::bytes(CKM_MD5, &[1]), b""),
        CKR_MECHANISM_PARAM_INVALID,
    );
}

#[test]
fn md5_agrees_with_openssl() {
    let t = token("md5-openssl");
    let data = t.random(1000);
    let ours = t.digest(&Mech::new(CKM_MD5), &data).ok_or_panic("C_Digest");
    let Some(out) = openssl_md5(&data) else {
        eprintln!("openssl not available: cross-check skipped");
        return;
    };
    let text = String::from_utf8_lossy(&out);
    let theirs = text.split_whitespace().next().unwrap_or_default();
    assert_eq!(hex(&ours), theirs);
}

fn openssl_md5(input: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("openssl")
        .args(["dgst", "-md5", "-r"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(input).ok()?;
    let out = child.wait_with_output().ok()?;
    out.status.success().then_some(out.stdout)
}

/// RFC 2202 §2 test cases 1, 2, 3, 5 (truncated to 96 bits) and 6.
#[test]
fn hmac_md5_rfc2202() {
    let t = token("hmac-md5");
    let cases: &[(Vec<u8>, Vec<u8>, &str)] = &[
        (
            vec![0x0b; 16],
            b"Hi There".to_vec(),
            "9294727a3638bb1c13f48ef8158bfc9d",
        ),
        (
            b"Jefe".to_vec(),
            b"what do ya want for nothing?".to_vec(),
            "750c783e6ab0b503eaa86e310a5db738",
        ),
        (
            vec![0xaa; 16],
            vec![0xdd; 50],
            "56be34521d144c88dbb8c733f0e8b3f6",
        ),
        (
            vec![0xaa; 80],
            b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
            "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd",
        ),
    ];
    for kt in [CKK_GENERIC_SECRET, CKK_MD5_HMAC] {
        for (key, data, want) in cases {
            let k = t.obj(&secret(kt, key));
            let m = Mech::new(CKM_MD5_HMAC);
            let got = t.sign(&m, k, data).ok_or_panic("C_Sign");
            assert_bytes("HMAC-MD5", &got, &hx(want));
            let parts: Vec<&[u8]> = data.chunks(5).collect();
            let got = t.sign_multi(&m, k, &parts).ok_or_panic("C_SignUpdate");
            assert_bytes("multi-part HMAC-MD5", &got, &hx(want));
            t.verify(&m, k, data, &hx(want)).ok_or_panic("C_Verify");
        }
    }
    let k = t.obj(&secret(CKK_MD5_HMAC, &[0x0c; 16]));
    let general = Mech::ulong(CKM_MD5_HMAC_GENERAL, 12);
    let got = t
        .sign(&general, k, b"Test With Truncation")
        .ok_or_panic("C_Sign");
    assert_bytes("HMAC-MD5-96", &got, &hx("56461ef2342edc00f9bab995"));
    t.verify(&general, k, b"Test With Truncation", &got)
        .ok_or_panic("C_Verify");
    let mut bad = got.clone();
    bad[0] ^= 1;
    expect_err(
        "a wrong tag",
        t.verify(&general, k, b"Test With Truncation", &bad),
        CKR_SIGNATURE_INVALID,
    );
    expect_err(
        "a 17-byte HMAC-MD5",
        t.sign_init(&Mech::ulong(CKM_MD5_HMAC_GENERAL, 17), k),
        CKR_MECHANISM_PARAM_INVALID,
    );
    let aes = t.obj(&aes(&[1; 16]));
    expect_err(
        "HMAC-MD5 with an AES key",
        t.sign_init(&Mech::new(CKM_MD5_HMAC), aes),
        CKR_KEY_TYPE_INCONSISTENT,
    );
}

/// CKM_MD5_RSA_PKCS: the signature, opened with the public key (CKM_RSA_X_509), is the
/// EMSA-PKCS1-v1_5 encoding of MD5's DigestInfo (RFC 8017 §9.2 note 1) over the RFC 1321
/// digest.
#[test]
fn md5_rsa_pkcs_signature_is_the_pkcs1_encoding_of_the_md5_digest() {
    let t = token("md5-rsa");
    let private = t.obj(&rsa_private_fixed());
    let public = t.obj(&rsa_public_fixed());
    let m = Mech::new(CKM_MD5_RSA_PKCS);
    let data = b"message digest";
    let sig = t.sign(&m, private, data).ok_or_panic("C_Sign");
    assert_eq!(sig.len(), 256);
    let parts: Vec<&[u8]> = data.chunks(4).collect();
    let multi = t
        .sign_multi(&m, private, &parts)
        .ok_or_panic("C_SignUpdate");
    assert_bytes("multi-part signature", &multi, &sig);
    t.verify(&m, public, data, &sig).ok_or_panic("C_Verify");
    expect_err(
        "another message",
        t.verify(&m, public, b"message digesT", &sig),
        CKR_SIGNATURE_INVALID,
    );
    let em = t
        .encrypt(&Mech::new(CKM_RSA_X_509), public, &sig)
        .ok_or_panic("opening the signature");
    let t_der = hx("3020300c06082a864886f70d020505000410 f96b697d7cb7938d525a2f31aaf161d0");
    let mut want = vec![0x00, 0x01];
    want.resize(256 - t_der.len() - 1, 0xff);
    want.push(0x00);
    want.extend_from_slice(&t_der);
    assert_bytes("EMSA-PKCS1-v1_5(MD5)", &em, &want);
}

const KEY_GENS: &[(CK_MECHANISM_TYPE, CK_KEY_TYPE, CK_MECHANISM_TYPE)] = &[
    (CKM_SHA_1_KEY_GEN, CKK_SHA_1_HMAC, CKM_SHA_1_HMAC),
    (CKM_SHA224_KEY_GEN, CKK_SHA224_HMAC, CKM_SHA224_HMAC),
    (CKM_SHA256_KEY_GEN, CKK_SHA256_HMAC, CKM_SHA256_HMAC),
    (CKM_SHA384_KEY_GEN, CKK_SHA384_HMAC, CKM_SHA384_HMAC),
    (CKM_SHA512_KEY_GEN, CKK_SHA512_HMAC, CKM_SHA512_HMAC),
    (CKM_SHA3_224_KEY_GEN, CKK_SHA3_224_HMAC, CKM_SHA3_256_HMAC),
    (CKM_SHA3_256_KEY_GEN, CKK_SHA3_256_HMAC, CKM_SHA3_256_HMAC),
    (CKM_SHA3_384_KEY_GEN, CKK_SHA3_384_HMAC, CKM_SHA3_384_HMAC),
    (CKM_SHA3_512_KEY_GEN, CKK_SHA3_512_HMAC, CKM_SHA3_512_HMAC),
];

#[test]
fn hmac_key_generation_makes_keys_of_the_mechanisms_type() {
    let t = token("hmac-keygen");
    for &(gen, kt, mac) in KEY_GENS {
        let info = t.mechanism_info(gen).ok_or_panic("C_GetMechanismInfo");
        assert_eq!(
            (info.ulMinKeySize, info.ulMaxKeySize, info.flags),
            (1, 512, CKF_GENERATE),
            "{gen:#x}"
        );
        for len in [1, 32, 512] {
            let k = t
                .generate_key(&Mech::new(gen), &new_secret(kt, Some(len)))
                .ok_or_panic("C_GenerateKey");
            assert_eq!(t.get_ulong(k, CKA_KEY_TYPE), kt);
            assert_eq!(t.get_ulong(k, CKA_VALUE_LEN), len as CK_ULONG);
            assert_eq!(t.get(k, CKA_VALUE).len(), len);
            assert_eq!(t.get_ulong(k, CKA_KEY_GEN_MECHANISM), gen);
            assert!(t.get_bool(k, CKA_LOCAL));
            let tag = t.sign(&Mech::new(mac), k, b"data").ok_or_panic("C_Sign");
            t.verify(&Mech::new(mac), k, b"data", &tag)
                .ok_or_panic("C_Verify");
        }
        // The key type may be left out; the mechanism names it.
        let k = t
            .generate_key(
                &Mech::new(gen),
                &new_secret(kt, Some(20)).without(CKA_KEY_TYPE),
            )
            .ok_or_panic("C_GenerateKey without CKA_KEY_TYPE");
        assert_eq!(t.get_ulong(k, CKA_KEY_TYPE), kt);
        expect_err(
            "no CKA_VALUE_LEN",
            t.generate_key(&Mech::new(gen), &new_secret(kt, None)),
            CKR_TEMPLATE_INCOMPLETE,
        );
        expect_err(
            "another key type",
            t.generate_key(&Mech::new(gen), &new_secret(CKK_GENERIC_SECRET, Some(16))),
            CKR_TEMPLATE_INCONSISTENT,
        );
        expect_err(
            "CKA_VALUE_LEN 0",
            t.generate_key(&Mech::new(gen), &new_secret(kt, Some(0))),
            CKR_KEY_SIZE_RANGE,
        );
        expect_err(
            "a parameter",
            t.generate_key(&Mech::bytes(gen, &[0; 4]), &new_secret(kt, Some(16))),
            CKR_MECHANISM_PARAM_INVALID,
        );
    }
}

#[test]
fn every_hmac_key_type_can_be_created_and_used() {
    let t = token("hmac-key-types");
    for kt in [
        CKK_MD5_HMAC,
        CKK_SHA_1_HMAC,
        CKK_SHA224_HMAC,
        CKK_SHA256_HMAC,
        CKK_SHA384_HMAC,
        CKK_SHA512_HMAC,
        CKK_SHA3_224_HMAC,
        CKK_SHA3_256_HMAC,
        CKK_SHA3_384_HMAC,
        CKK_SHA3_512_HMAC,
    ] {
        let k = t
            .create(&secret(kt, b"Jefe"))
            .ok_or_panic(&format!("C_CreateObject of key type {kt:#x}"));
        assert_eq!(t.get_ulong(k, CKA_VALUE_LEN), 4);
        let tag = t
            .sign(&Mech::new(CKM_MD5_HMAC), k, b"what do ya want for nothing?")
            .ok_or_panic("C_Sign");
        assert_bytes("HMAC-MD5", &tag, &hx("750c783e6ab0b503eaa86e310a5db738"));
    }
}

#[test]
fn mechanism_info_of_the_md5_mechanisms() {
    let t = token("md5-info");
    let sv = CKF_SIGN | CKF_VERIFY;
    for (m, min, max, flags) in [
        (CKM_MD5, 0, 0, CKF_DIGEST),
        (CKM_MD5_HMAC, 1, 512, sv),
        (CKM_MD5_HMAC_GENERAL, 1, 512, sv),
    ] {
        let info = t.mechanism_info(m).ok_or_panic("C_GetMechanismInfo");
        assert_eq!(
            (info.ulMinKeySize, info.ulMaxKeySize, info.flags),
            (min, max, flags),
            "{m:#x}"
        );
    }
    // The RSA entry follows the family's key sizes (bits).
    let rsa = t.mechanism_info(CKM_RSA_PKCS).unwrap();
    let md5 = t.mechanism_info(CKM_MD5_RSA_PKCS).unwrap();
    assert_eq!(
        (md5.ulMinKeySize, md5.ulMaxKeySize, md5.flags),
        (rsa.ulMinKeySize, rsa.ulMaxKeySize, sv)
    );
}
