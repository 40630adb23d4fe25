//! The DES family through the built module (PKCS#11 v3.0 Current Mechanisms, Triple-DES and
//! DES3-CMAC; CKM_DES_* of the historical mechanisms document): C_GenerateKey with
//! CKM_DES_KEY_GEN/DES2/DES3 (odd parity, CKA_CHECK_VALUE), C_Encrypt*/C_Decrypt* with
//! DES_ECB/CBC/CBC_PAD and DES3_ECB/CBC/CBC_PAD single- and multi-part, C_Sign/C_Verify with
//! DES3_CMAC(_GENERAL), C_WrapKey/C_UnwrapKey with DES3 and of DES keys under AES key wrap, and
//! C_GetMechanismInfo. Known answers: FIPS 81, SP 800-67 Rev. 1 Appendix B, SP 800-38B D.2;
//! CBC results cross-checked with `openssl enc` (inline, and live when `openssl` is present).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::p11::*;
use cryptoki_sys::*;

const NOW_IS: &str = "4e6f772069732074 68652074696d6520 666f7220616c6c20";
const K1: &str = "0123456789abcdef";
const K2: &str = "0123456789ABCDEF 23456789ABCDEF01";
const K3: &str = "0123456789ABCDEF 23456789ABCDEF01 456789ABCDEF0123";
const FOX: &str = "5468652071756663 6B2062726F776E20 666F78206A756D70";
const FOX_IV: &str = "F69F2445DF4F9B17";

fn des_key(t: &Tok, kt: CK_KEY_TYPE, value: &str) -> CK_OBJECT_HANDLE {
    t.obj(&secret(kt, &hx(value)))
}

/// Single-part and multi-part (chunks of 1, 7, 8, 9 ... bytes) both ways.
#[track_caller]
fn kat(t: &Tok, what: &str, mech: impl Fn() -> Mech, k: CK_OBJECT_HANDLE, pt: &str, ct: &str) {
    let (plain, cipher) = (hx(pt), hx(ct));
    let got = t.encrypt(&mech(), k, &plain).ok_or_panic(what);
    assert_bytes(&format!("{what}: C_Encrypt"), &got, &cipher);
    let got = t.decrypt(&mech(), k, &cipher).ok_or_panic(what);
    assert_bytes(&format!("{what}: C_Decrypt"), &got, &plain);
    for n in [1, 7, 8, 9, 15] {
        let parts: Vec<&[u8]> = plain.chunks(n).collect();
        let got = t.encrypt_multi(&mech(), k, &parts).ok_or_panic(what);
        assert_bytes(
            &format!("{what}: multi-part encryption by {n}"),
            &got,
            &cipher,
        );
        let parts: Vec<&[u8]> = cipher.chunks(n).collect();
        let got = t.decrypt_multi(&mech(), k, &parts).ok_or_panic(what);
        assert_bytes(
            &format!("{what}: multi-part decryption by {n}"),
            &got,
            &plain,
        );
    }
}

#[test]
fn des_ecb_and_cbc_fips81() {
    let t = token("des-fips81");
    let k = des_key(&t, CKK_DES, K1);
    kat(
        &t,
        "DES-ECB",
        || Mech::new(CKM_DES_ECB),
        k,
        NOW_IS,
        "3fa40e8a984d4815 6a271787ab8883f9 893d51ec4b563b53",
    );
    kat(
        &t,
        "DES-CBC",
        || Mech::bytes(CKM_DES_CBC, &hx("1234567890abcdef")),
        k,
        NOW_IS,
        "e5c7cdde872bf27c 43e934008c389c0f 683788499a7c05f6",
    );
}

#[test]
fn des3_ecb_sp800_67_and_cbc() {
    let t = token("des3-kat");
    let k3 = des_key(&t, CKK_DES3, K3);
    kat(
        &t,
        "DES3-ECB SP 800-67",
        || Mech::new(CKM_DES3_ECB),
        k3,
        FOX,
        "A826FD8CE53B855F CCE21C8112256FE6 68D5C05DD9B6B900",
    );
    kat(
        &t,
        "DES3-CBC",
        || Mech::bytes(CKM_DES3_CBC, &hx(FOX_IV)),
        k3,
        FOX,
        "a5c282bad0de3774becd2e04386b589fb5057d8552fc4336",
    );
    kat(
        &t,
        "DES3-CBC-PAD",
        || Mech::bytes(CKM_DES3_CBC_PAD, &hx(FOX_IV)),
        k3,
        FOX,
        "a5c282bad0de3774becd2e04386b589fb5057d8552fc4336af45148b1b044b00",
    );
    // A DES2 key is K1, K2, K1 under the DES3 mechanisms.
    let k2 = des_key(&t, CKK_DES2, K2);
    kat(
        &t,
        "DES2-ECB",
        || Mech::new(CKM_DES3_ECB),
        k2,
        FOX,
        "c44862f70cf2fbdc9077d0909fa91b884cabd61fc58e0cbb",
    );
    kat(
        &t,
        "DES2-CBC",
        || Mech::bytes(CKM_DES3_CBC, &hx(FOX_IV)),
        k2,
        FOX,
        "acd5699dd6060a430dedd74525b7870297202cf5ed176718",
    );
}

#[test]
fn cbc_pad_round_trips_every_length_and_refuses_bad_padding() {
    let t = token("des3-pad");
    let k = des_key(&t, CKK_DES3, K3);
    let m = || Mech::bytes(CKM_DES3_CBC_PAD, &hx(FOX_IV));
    for n in 0..=25 {
        let data = t.random(n);
        let ct = t.encrypt(&m(), k, &data).ok_or_panic("encrypt");
        assert_eq!(ct.len(), (n / 8 + 1) * 8, "padded length of {n}");
        assert_eq!(t.decrypt(&m(), k, &ct).ok_or_panic("decrypt"), data);
    }
    // A last block whose padding is wrong.
    let junk = t
        .encrypt(&Mech::bytes(CKM_DES3_CBC, &hx(FOX_IV)), k, &[0x09; 16])
        .ok_or_panic("encrypt");
    expect_err(
        "bad padding",
        t.decrypt(&m(), k, &junk),
        CKR_ENCRYPTED_DATA_INVALID,
    );
    expect_err(
        "not a whole block",
        t.decrypt(&m(), k, &junk[..12]),
        CKR_ENCRYPTED_DATA_LEN_RANGE,
    );
}

#[test]
fn bad_lengths_parameters_and_key_types() {
    let t = token("des-bad");
    let k1 = des_key(&t, CKK_DES, K1);
    let k3 = des_key(&t, CKK_DES3, K3);
    let aes = t.obj(&aes(&[7; 16]));
    expect_err(
        "DES-ECB of 9 bytes",
        t.encrypt(&Mech::new(CKM_DES_ECB), k1, &[0; 9]),
        CKR_DATA_LEN_RANGE,
    );
    expect_err(
        "DES3-CBC of 7 bytes",
        t.decrypt(&Mech::bytes(CKM_DES3_CBC, &[0; 8]), k3, &[0; 7]),
        CKR_ENCRYPTED_DATA_LEN_RANGE,
    );
    expect_err(
        "a 16-byte IV",
        t.encrypt_init(&Mech::bytes(CKM_DES3_CBC, &[0; 16]), k3),
        CKR_MECHANISM_PARAM_INVALID,
    );
    expect_err(
        "a parameter for ECB",
        t.encrypt_init(&Mech::bytes(CKM_DES3_ECB, &[0; 8]), k3),
        CKR_MECHANISM_PARAM_INVALID,
    );
    for (what, m, k) in [
        ("DES3-ECB with a DES key", CKM_DES3_ECB, k1),
        ("DES-ECB with a DES3 key", CKM_DES_ECB, k3),
        ("DES3-ECB with an AES key", CKM_DES3_ECB, aes),
    ] {
        expect_err(
            what,
            t.encrypt_init(&Mech::new(m), k),
            CKR_KEY_TYPE_INCONSISTENT,
        );
    }
    expect_err(
        "AES-ECB with a DES3 key",
        t.encrypt_init(&Mech::new(CKM_AES_ECB), k3),
        CKR_KEY_TYPE_INCONSISTENT,
    );
    // Fixed value lengths per key type.
    for (kt, n) in [(CKK_DES, 16), (CKK_DES2, 24), (CKK_DES3, 16), (CKK_DES3, 8)] {
        expect_err(
            &format!("key type {kt:#x} with {n} bytes"),
            t.create(&secret(kt, &vec![1u8; n])),
            CKR_ATTRIBUTE_VALUE_INVALID,
        );
    }
    // A check value given on import must be the key's.
    let good = t.get(k3, CKA_CHECK_VALUE);
    let with = |cv: &[u8]| t.create(&secret(CKK_DES3, &hx(K3)).bytes(CKA_CHECK_VALUE, cv));
    with(&good).ok_or_panic("the right check value");
    expect_err(
        "a wrong check value",
        with(&[1, 2, 3]),
        CKR_ATTRIBUTE_VALUE_INVALID,
    );
}

#[test]
fn key_generation_sets_odd_parity_and_the_check_value() {
    let t = token("des-gen");
    for (m, kt, len) in [
        (CKM_DES_KEY_GEN, CKK_DES, 8),
        (CKM_DES2_KEY_GEN, CKK_DES2, 16),
        (CKM_DES3_KEY_GEN, CKK_DES3, 24),
    ] {
        for _ in 0..4 {
            let k = t
                .generate_key(&Mech::new(m), &new_secret(kt, None))
                .ok_or_panic("C_GenerateKey");
            let v = t.get(k, CKA_VALUE);
            assert_eq!(v.len(), len);
            assert!(
                v.iter().all(|b| b.count_ones() % 2 == 1),
                "{m:#x}: parity of {}",
                hex(&v)
            );
            assert_eq!(t.get_ulong(k, CKA_KEY_TYPE), kt);
            assert_eq!(t.get_ulong(k, CKA_KEY_GEN_MECHANISM), m);
            assert!(t.get_bool(k, CKA_LOCAL));
            let ecb = if kt == CKK_DES {
                CKM_DES_ECB
            } else {
                CKM_DES3_ECB
            };
            let e0 = t.encrypt(&Mech::new(ecb), k, &[0; 8]).ok_or_panic("E(0)");
            assert_bytes("CKA_CHECK_VALUE", &t.get(k, CKA_CHECK_VALUE), &e0[..3]);
            // The key works: CBC-PAD round trip.
            let cbc = if kt == CKK_DES {
                CKM_DES_CBC_PAD
            } else {
                CKM_DES3_CBC_PAD
            };
            let ct = t
                .encrypt(&Mech::bytes(cbc, &[3; 8]), k, b"seventeen bytes!!")
                .ok_or_panic("encrypt");
            assert_eq!(
                t.decrypt(&Mech::bytes(cbc, &[3; 8]), k, &ct)
                    .ok_or_panic("decrypt"),
                b"seventeen bytes!!"
            );
        }
        // A key type other than the mechanism's, or a CKA_VALUE_LEN (DES keys have none).
        expect_err(
            "another key type",
            t.generate_key(&Mech::new(m), &new_secret(CKK_AES, None)),
            CKR_TEMPLATE_INCONSISTENT,
        );
        expect_err_in(
            "CKA_VALUE_LEN",
            t.generate_key(&Mech::new(m), &new_secret(kt, Some(len))),
            &[CKR_ATTRIBUTE_TYPE_INVALID, CKR_TEMPLATE_INCONSISTENT],
        );
    }
    // A stored check value of a created key is computed too.
    let k = des_key(&t, CKK_DES, "133457799BBCDFF1");
    let e0 = t
        .encrypt(&Mech::new(CKM_DES_ECB), k, &[0; 8])
        .ok_or_panic("E(0)");
    assert_bytes(
        "created key's CKA_CHECK_VALUE",
        &t.get(k, CKA_CHECK_VALUE),
        &e0[..3],
    );
}

#[test]
fn des3_cmac_sp800_38b() {
    let t = token("des3-cmac");
    let k = des_key(
        &t,
        CKK_DES3,
        "8aa83bf8cbda1062 0bc1bf19fbb6cd58 bc313d4a371ca8b5",
    );
    for (m, tag) in [
        ("", "b7a688e122ffaf95"),
        ("6bc1bee22e409f96", "8e8f293136283797"),
        (
            "6bc1bee22e409f96e93d7e117393172aae2d8a57",
            "743ddbe0ce2dc2ed",
        ),
    ] {
        let data = hx(m);
        let got = t
            .sign(&Mech::new(CKM_DES3_CMAC), k, &data)
            .ok_or_panic("C_Sign");
        assert_bytes(&format!("CMAC of {m}"), &got, &hx(tag));
        let parts: Vec<&[u8]> = data.chunks(3).collect();
        let got = t
            .sign_multi(&Mech::new(CKM_DES3_CMAC), k, &parts)
            .ok_or_panic("C_SignUpdate");
        assert_bytes(&format!("multi-part CMAC of {m}"), &got, &hx(tag));
        t.verify(&Mech::new(CKM_DES3_CMAC), k, &data, &hx(tag))
            .ok_or_panic("C_Verify");
        let general = Mech::ulong(CKM_DES3_CMAC_GENERAL, 5);
        let got = t.sign(&general, k, &data).ok_or_panic("CMAC_GENERAL");
        assert_bytes("truncated", &got, &hx(tag)[..5]);
    }
    let mut bad = hx("b7a688e122ffaf95");
    bad[0] ^= 1;
    expect_err(
        "a wrong tag",
        t.verify(&Mech::new(CKM_DES3_CMAC), k, &[], &bad),
        CKR_SIGNATURE_INVALID,
    );
    expect_err(
        "a 9-byte CMAC_GENERAL",
        t.sign_init(&Mech::ulong(CKM_DES3_CMAC_GENERAL, 9), k),
        CKR_MECHANISM_PARAM_INVALID,
    );
    let k1 = des_key(&t, CKK_DES, K1);
    expect_err(
        "CMAC with a single DES key",
        t.sign_init(&Mech::new(CKM_DES3_CMAC), k1),
        CKR_KEY_TYPE_INCONSISTENT,
    );
}

#[test]
fn wrapping_des_keys_and_wrapping_with_des3() {
    let t = token("des-wrap");
    let unwrap_tmpl = |kt| new_secret(kt, None);
    // DES keys under AES key wrap: RFC 3394 takes the 16 and 24 bytes of DES2 and DES3 keys
    // (it needs two 8-byte blocks at least, so single DES is CKR_KEY_SIZE_RANGE), RFC 5649
    // takes all three.
    let kek = t.obj(&aes(&[0x42; 32]));
    let single = des_key(&t, CKK_DES, K1);
    expect_err(
        "a DES key under RFC 3394",
        t.wrap(&Mech::new(CKM_AES_KEY_WRAP), kek, single),
        CKR_KEY_SIZE_RANGE,
    );
    for (kt, v) in [(CKK_DES, K1), (CKK_DES2, K2), (CKK_DES3, K3)] {
        let k = des_key(&t, kt, v);
        let mechs: &[CK_MECHANISM_TYPE] = if kt == CKK_DES {
            &[CKM_AES_KEY_WRAP_KWP]
        } else {
            &[CKM_AES_KEY_WRAP, CKM_AES_KEY_WRAP_KWP]
        };
        for &m in mechs {
            let w = t.wrap(&Mech::new(m), kek, k).ok_or_panic("C_WrapKey");
            let u = t
                .unwrap(&Mech::new(m), kek, &w, &unwrap_tmpl(kt))
                .ok_or_panic("C_UnwrapKey");
            assert_bytes("unwrapped value", &t.get(u, CKA_VALUE), &hx(v));
            assert_bytes(
                "unwrapped check value",
                &t.get(u, CKA_CHECK_VALUE),
                &t.get(k, CKA_CHECK_VALUE),
            );
        }
    }
    // DES3 as the wrapping key: ECB and CBC for whole blocks, CBC-PAD for anything.
    let w3 = des_key(&t, CKK_DES3, K3);
    let aes_key = t.obj(&aes(&[0x24; 32]));
    for m in [
        Mech::new(CKM_DES3_ECB),
        Mech::bytes(CKM_DES3_CBC, &[1; 8]),
        Mech::bytes(CKM_DES3_CBC_PAD, &[1; 8]),
    ] {
        let w = t.wrap(&m, w3, aes_key).ok_or_panic("C_WrapKey");
        let u = t
            .unwrap(&m, w3, &w, &new_secret(CKK_AES, None))
            .ok_or_panic("C_UnwrapKey");
        assert_bytes("AES key through DES3", &t.get(u, CKA_VALUE), &[0x24; 32]);
    }
    let hmac = t.obj(&secret(CKK_GENERIC_SECRET, &[5u8; 13]));
    expect_err(
        "13 bytes under DES3-CBC (no padding)",
        t.wrap(&Mech::bytes(CKM_DES3_CBC, &[1; 8]), w3, hmac),
        CKR_KEY_SIZE_RANGE,
    );
    let m = Mech::bytes(CKM_DES3_CBC_PAD, &[1; 8]);
    let w = t.wrap(&m, w3, hmac).ok_or_panic("CBC-PAD wrap of 13 bytes");
    assert_eq!(w.len(), 16);
    let u = t
        .unwrap(&m, w3, &w, &new_secret(CKK_GENERIC_SECRET, None))
        .ok_or_panic("unwrap");
    assert_bytes("13-byte secret", &t.get(u, CKA_VALUE), &[5; 13]);
    // A wrapped blob that unwraps to the wrong length for its declared type.
    expect_err(
        "a 32-byte value as a DES3 key",
        t.unwrap(
            &Mech::new(CKM_DES3_ECB),
            w3,
            &t.wrap(&Mech::new(CKM_DES3_ECB), w3, aes_key).unwrap(),
            &new_secret(CKK_DES3, None),
        ),
        CKR_WRAPPED_KEY_INVALID,
    );
}

#[test]
fn mechanism_info_reports_key_sizes_in_bytes() {
    let t = token("des-info");
    let ed = CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP;
    for (m, min, max, flags) in [
        (CKM_DES_KEY_GEN, 8, 8, CKF_GENERATE),
        (CKM_DES2_KEY_GEN, 16, 16, CKF_GENERATE),
        (CKM_DES3_KEY_GEN, 24, 24, CKF_GENERATE),
        (CKM_DES_ECB, 8, 8, ed),
        (CKM_DES_CBC, 8, 8, ed),
        (CKM_DES_CBC_PAD, 8, 8, ed),
        (CKM_DES3_ECB, 16, 24, ed),
        (CKM_DES3_CBC, 16, 24, ed),
        (CKM_DES3_CBC_PAD, 16, 24, ed),
        (CKM_DES3_CMAC, 16, 24, CKF_SIGN | CKF_VERIFY),
        (CKM_DES3_CMAC_GENERAL, 16, 24, CKF_SIGN | CKF_VERIFY),
    ] {
        let info = t.mechanism_info(m).ok_or_panic("C_GetMechanismInfo");
        assert_eq!(
            (info.ulMinKeySize, info.ulMaxKeySize, info.flags),
            (min, max, flags),
            "{m:#x}"
        );
        assert!(t.mechanism_list().unwrap().contains(&m), "{m:#x} listed");
    }
}

/// Random keys, IVs and data through the module against `openssl enc`, when it is installed.
#[test]
fn des3_and_des_cbc_agree_with_openssl() {
    let t = token("des-openssl");
    for (kt, m, cipher, len, legacy) in [
        (CKK_DES3, CKM_DES3_CBC, "-des-ede3-cbc", 24, false),
        (CKK_DES2, CKM_DES3_CBC, "-des-ede-cbc", 16, false),
        (CKK_DES, CKM_DES_CBC, "-des-cbc", 8, true),
    ] {
        let key = odd_parity(t.random(len));
        let iv = t.random(8);
        let data = t.random(8 * 37);
        let k = t.obj(&secret(kt, &key));
        let ours = t
            .encrypt(&Mech::bytes(m, &iv), k, &data)
            .ok_or_panic("encrypt");
        let mut cmd = std::process::Command::new("openssl");
        cmd.arg("enc");
        if legacy {
            cmd.args(["-provider", "legacy", "-provider", "default"]);
        }
        cmd.args([cipher, "-K", &hex(&key), "-iv", &hex(&iv), "-nopad"]);
        let Some(theirs) = run_with_input(cmd, &data) else {
            eprintln!("openssl {cipher} not available: cross-check skipped");
            continue;
        };
        assert_bytes(&format!("{cipher} against openssl"), &ours, &theirs);
    }
}

/// Each byte with its low bit set for odd parity, as DES keys must have.
fn odd_parity(mut v: Vec<u8>) -> Vec<u8> {
    for b in &mut v {
        *b = (*b & 0xfe) | u8::from((*b >> 1).count_ones() % 2 == 0);
    }
    v
}

/// Current Mechanisms, DES2/DES3 secret key objects: "Attempting to create or unwrap a DES3 key
/// with incorrect parity MUST return an error"; derived DES keys get their parity set.
#[test]
fn parity_is_required_on_create_and_unwrap_and_set_on_derive() {
    let t = token("des-parity");
    let mut bad = hx(K3);
    bad[5] ^= 1;
    for (kt, v) in [
        (CKK_DES, &bad[..8]),
        (CKK_DES2, &bad[..16]),
        (CKK_DES3, &bad[..]),
    ] {
        expect_err(
            &format!("C_CreateObject of key type {kt:#x} with a byte of even parity"),
            t.create(&secret(kt, v)),
            CKR_ATTRIBUTE_VALUE_INVALID,
        );
    }
    let kek = t.obj(&aes(&[0x42; 32]));
    let blob = t
        .encrypt(&Mech::new(CKM_AES_KEY_WRAP_KWP), kek, &bad)
        .ok_or_panic("C_Encrypt");
    expect_err(
        "C_UnwrapKey of a DES3 key with a byte of even parity",
        t.unwrap(
            &Mech::new(CKM_AES_KEY_WRAP_KWP),
            kek,
            &blob,
            &new_secret(CKK_DES3, None),
        ),
        CKR_WRAPPED_KEY_INVALID,
    );
    // The same bytes as a generic secret are fine.
    t.unwrap(
        &Mech::new(CKM_AES_KEY_WRAP_KWP),
        kek,
        &blob,
        &new_secret(CKK_GENERIC_SECRET, None),
    )
    .ok_or_panic("generic secret");
    // HKDF into a DES3 key: 24 bytes (the type's one length), parity set, usable.
    let ikm = t.obj(&secret(CKK_GENERIC_SECRET, &[0x0b; 22]));
    let d = t
        .derive(
            &hkdf(true, true, CKM_SHA256, b"salt", b"info"),
            ikm,
            &new_secret(CKK_DES3, None),
        )
        .ok_or_panic("C_DeriveKey");
    let v = t.get(d, CKA_VALUE);
    assert_eq!(v.len(), 24);
    assert!(v.iter().all(|b| b.count_ones() % 2 == 1), "{}", hex(&v));
    let e0 = t
        .encrypt(&Mech::new(CKM_DES3_ECB), d, &[0; 8])
        .ok_or_panic("E(0)");
    assert_bytes(
        "derived key's check value",
        &t.get(d, CKA_CHECK_VALUE),
        &e0[..3],
    );
}

fn run_with_input(mut cmd: std::process::Command, input: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(input).ok()?;
    let out = child.wait_with_output().ok()?;
    out.status.success().then_some(out.stdout)
}
