//! PKCS#11 v3.0 Current Mechanisms §2.16-§2.25 (SHA-1, SHA-2, SHA-3 digests and their HMAC and
//! HMAC_GENERAL mechanisms), §2.43.6 (CKM_HKDF_DERIVE) and §2.40.x (CKM_PKCS5_PBKD2 with
//! CK_PKCS5_PBKD2_PARAMS2), through base §5.10 (C_Digest*, C_DigestKey), §5.12-§5.13
//! (C_Sign*, C_Verify*), §5.18 (C_GenerateKey, C_DeriveKey): FIPS 180-4/FIPS 202 "abc",
//! RFC 4231 and RFC 2202 HMAC, RFC 5869 HKDF and RFC 6070 PBKDF2 vectors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::der::*;
use common::p11::*;
use cryptoki_sys::*;

/// FIPS 180-4 and FIPS 202 example digests of "abc".
const ABC: &[(&str, CK_MECHANISM_TYPE, &str)] = &[
    ("SHA-1", CKM_SHA_1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
    ("SHA-224", CKM_SHA224, "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"),
    ("SHA-256", CKM_SHA256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    (
        "SHA-384",
        CKM_SHA384,
        "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
    ),
    (
        "SHA-512",
        CKM_SHA512,
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
    ),
    ("SHA3-256", CKM_SHA3_256, "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532"),
    (
        "SHA3-384",
        CKM_SHA3_384,
        "ec01498288516fc926459f58e2c6ad8df9b473cb0fc08c2596da7cf0e49be4b298d88cea927ac7f539f1edf228376d25",
    ),
    (
        "SHA3-512",
        CKM_SHA3_512,
        "b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d0240d2712e10e116e9192af3c91a7ec57647e3934057340b4cf408d5a56592f8274eec53f0",
    ),
];

/// HMAC with key "Jefe" over "what do ya want for nothing?": RFC 2202 test case 2 (SHA-1),
/// RFC 4231 test case 2 (SHA-2); the SHA-3 values computed with Python `hmac`/`hashlib`.
const JEFE: &[(&str, CK_MECHANISM_TYPE, CK_MECHANISM_TYPE, &str)] = &[
    ("HMAC-SHA-1", CKM_SHA_1_HMAC, CKM_SHA_1_HMAC_GENERAL, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
    (
        "HMAC-SHA-224",
        CKM_SHA224_HMAC,
        CKM_SHA224_HMAC_GENERAL,
        "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44",
    ),
    (
        "HMAC-SHA-256",
        CKM_SHA256_HMAC,
        CKM_SHA256_HMAC_GENERAL,
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ),
    (
        "HMAC-SHA-384",
        CKM_SHA384_HMAC,
        CKM_SHA384_HMAC_GENERAL,
        "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
    ),
    (
        "HMAC-SHA-512",
        CKM_SHA512_HMAC,
        CKM_SHA512_HMAC_GENERAL,
        "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
    ),
    (
        "HMAC-SHA3-256",
        CKM_SHA3_256_HMAC,
        CKM_SHA3_256_HMAC_GENERAL,
        "c7d4072e788877ae3596bbb0da73b887c9171f93095b294ae857fbe2645e1ba5",
    ),
    (
        "HMAC-SHA3-384",
        CKM_SHA3_384_HMAC,
        CKM_SHA3_384_HMAC_GENERAL,
        "f1101f8cbf9766fd6764d2ed61903f21ca9b18f57cf3e1a23ca13508a93243ce48c045dc007f26a21b3f5e0e9df4c20a",
    ),
    (
        "HMAC-SHA3-512",
        CKM_SHA3_512_HMAC,
        CKM_SHA3_512_HMAC_GENERAL,
        "5a4bfeab6166427c7a3647b747292b8384537cdb89afb3bf5665e4c5e709350b287baec921fd7ca0ee7a0c31d022a95e1fc92ba9d77df883960275beb4e62024",
    ),
];

const JEFE_DATA: &[u8] = b"what do ya want for nothing?";

#[test]
fn digests_of_abc_match_fips_180_and_202() {
    let t = token("digest-abc");
    let mut problems = Vec::new();
    for (name, m, want) in ABC {
        match t.digest(&Mech::new(*m), b"abc") {
            Ok(got) if got == hx(want) => {}
            Ok(got) => problems.push(format!("{name}: got {} want {want}", hex(&got))),
            Err(rv) => problems.push(format!("{name}: {}", rvn(rv))),
        }
    }
    assert!(
        problems.is_empty(),
        "digests of \"abc\":\n  {}",
        problems.join("\n  ")
    );
}

/// Multi-part digests equal single-part ones, for data longer than a block and split at odd
/// places (including empty updates); also cross-checked with `openssl dgst` for SHA-2.
#[test]
fn multi_part_digest_equals_single_part() {
    let t = token("digest-multi");
    let data: Vec<u8> = (0..1000u32).map(|i| (i * 31 % 256) as u8).collect();
    for (name, m, _) in ABC {
        let single = t.digest(&Mech::new(*m), &data).ok_or_panic(name);
        let multi = t
            .digest_multi(
                &Mech::new(*m),
                &[&data[..1], &[], &data[1..130], &data[130..]],
            )
            .ok_or_panic(name);
        assert_bytes(
            &format!("{name}: multi-part vs single-part"),
            &multi,
            &single,
        );
        let ossl = match *m {
            CKM_SHA_1 => Some("sha1"),
            CKM_SHA224 => Some("sha224"),
            CKM_SHA256 => Some("sha256"),
            CKM_SHA384 => Some("sha384"),
            CKM_SHA512 => Some("sha512"),
            CKM_SHA3_256 => Some("sha3-256"),
            CKM_SHA3_384 => Some("sha3-384"),
            CKM_SHA3_512 => Some("sha3-512"),
            _ => None,
        };
        if let Some(alg) = ossl {
            assert_bytes(
                &format!("{name}: vs openssl dgst"),
                &single,
                &openssl_digest(alg, &data),
            );
        }
    }
    // The digest of nothing.
    let empty = t
        .digest(&Mech::new(CKM_SHA256), &[])
        .ok_or_panic("SHA-256 of nothing");
    assert_bytes(
        "SHA-256 of the empty string",
        &empty,
        &hx("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    );
}

/// C_DigestKey mixes the key's value into the digest (§5.10): SHA-256(prefix || key value).
#[test]
fn digest_key_includes_the_key_value() {
    let t = token("digest-key");
    let value = hx("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    // Sensitive: C_DigestKey works on keys whose value cannot be read.
    let k = t.obj(&aes(&value).b(CKA_SENSITIVE, true));
    t.digest_init_in(t.h, &Mech::new(CKM_SHA256))
        .ok_or_panic("C_DigestInit");
    t.digest_update_in(t.h, b"prefix")
        .ok_or_panic("C_DigestUpdate");
    t.digest_key(k).ok_or_panic("C_DigestKey");
    let got = t.digest_final_in(t.h).ok_or_panic("C_DigestFinal");
    let want = openssl_digest("sha256", &[b"prefix".as_slice(), &value].concat());
    assert_bytes("SHA-256(prefix || key)", &got, &want);
}

fn hmac_key(t: &Tok, value: &[u8]) -> CK_OBJECT_HANDLE {
    t.obj(&secret(CKK_GENERIC_SECRET, value))
}

#[test]
fn hmac_rfc4231_and_rfc2202_test_case_2() {
    let t = token("hmac");
    let k = hmac_key(&t, b"Jefe");
    let mut problems = Vec::new();
    for (name, m, _, want) in JEFE {
        let want = hx(want);
        match t.sign(&Mech::new(*m), k, JEFE_DATA) {
            Ok(got) if got == want => {}
            Ok(got) => problems.push(format!("{name}: got {} want {}", hex(&got), hex(&want))),
            Err(rv) => {
                problems.push(format!("{name}: C_Sign {}", rvn(rv)));
                continue;
            }
        }
        match t.sign_multi(&Mech::new(*m), k, &[&JEFE_DATA[..5], &JEFE_DATA[5..]]) {
            Ok(got) if got == want => {}
            Ok(got) => problems.push(format!("{name} multi-part: got {}", hex(&got))),
            Err(rv) => problems.push(format!("{name} multi-part: {}", rvn(rv))),
        }
        if let Err(rv) = t.verify(&Mech::new(*m), k, JEFE_DATA, &want) {
            problems.push(format!("{name}: C_Verify of the right MAC: {}", rvn(rv)));
        }
        let mut bad = want.clone();
        bad[0] ^= 1;
        match t.verify(&Mech::new(*m), k, JEFE_DATA, &bad) {
            Err(CKR_SIGNATURE_INVALID) => {}
            other => problems.push(format!(
                "{name}: verify of a wrong MAC gave {:?}",
                other.map_err(rvn)
            )),
        }
    }
    assert!(problems.is_empty(), "HMAC:\n  {}", problems.join("\n  "));
}

/// CKM_*_HMAC_GENERAL with CK_MAC_GENERAL_PARAMS: the MAC truncated to the asked length.
#[test]
fn hmac_general_truncates() {
    let t = token("hmac-general");
    let k = hmac_key(&t, b"Jefe");
    let mut problems = Vec::new();
    for (name, _, general, want) in JEFE {
        let want = hx(want);
        for len in [10usize, 16] {
            match t.sign(&Mech::ulong(*general, len as CK_ULONG), k, JEFE_DATA) {
                Ok(got) if got == want[..len] => {}
                Ok(got) => problems.push(format!("{name}_GENERAL({len}): got {}", hex(&got))),
                Err(rv) => problems.push(format!("{name}_GENERAL({len}): {}", rvn(rv))),
            }
        }
        if let Err(rv) = t.verify(&Mech::ulong(*general, 16), k, JEFE_DATA, &want[..16]) {
            problems.push(format!("{name}_GENERAL verify: {}", rvn(rv)));
        }
    }
    assert!(
        problems.is_empty(),
        "HMAC_GENERAL:\n  {}",
        problems.join("\n  ")
    );
    // Longer than the hash: invalid parameter.
    expect_err(
        "SHA256_HMAC_GENERAL(33)",
        t.sign_init(&Mech::ulong(CKM_SHA256_HMAC_GENERAL, 33), k),
        CKR_MECHANISM_PARAM_INVALID,
    );
}

/// RFC 4231 test case 6: a 131-byte key (longer than the block) is hashed first.
#[test]
fn hmac_sha256_with_a_key_longer_than_the_block() {
    let t = token("hmac-long");
    let k = hmac_key(&t, &[0xaa; 131]);
    let got = t
        .sign(
            &Mech::new(CKM_SHA256_HMAC),
            k,
            b"Test Using Larger Than Block-Size Key - Hash Key First",
        )
        .ok_or_panic("HMAC-SHA-256");
    assert_bytes(
        "RFC 4231 TC6 HMAC-SHA-256",
        &got,
        &hx("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    );
}

/// RFC 5869 test case 1 through C_DeriveKey with CKM_HKDF_DERIVE (extract and expand,
/// CKF_HKDF_SALT_DATA): a CKO_SECRET_KEY of 42 bytes, extractable and not sensitive, whose value
/// is the OKM.
#[test]
fn hkdf_rfc5869_test_case_1() {
    let t = token("hkdf");
    let ikm = t.obj(&secret(CKK_GENERIC_SECRET, &[0x0b; 22]));
    let okm =
        hx("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
    let m = hkdf(
        true,
        true,
        CKM_SHA256,
        &hx("000102030405060708090a0b0c"),
        &hx("f0f1f2f3f4f5f6f7f8f9"),
    );
    let tmpl = new_secret(CKK_GENERIC_SECRET, Some(42));
    let d = t
        .derive(&m, ikm, &tmpl)
        .ok_or_panic("C_DeriveKey CKM_HKDF_DERIVE");
    assert_eq!(t.get_ulong(d, CKA_CLASS), CKO_SECRET_KEY);
    assert_eq!(t.get_ulong(d, CKA_VALUE_LEN), 42);
    assert!(t.get_bool(d, CKA_EXTRACTABLE));
    assert!(!t.get_bool(d, CKA_SENSITIVE));
    assert_bytes("HKDF OKM", &t.get(d, CKA_VALUE), &okm);
    // Extract only: the PRK (RFC 5869 TC1), 32 bytes.
    let m = hkdf(
        true,
        false,
        CKM_SHA256,
        &hx("000102030405060708090a0b0c"),
        &[],
    );
    let d = t
        .derive(&m, ikm, &new_secret(CKK_GENERIC_SECRET, Some(32)))
        .ok_or_panic("HKDF extract only");
    assert_bytes(
        "HKDF PRK",
        &t.get(d, CKA_VALUE),
        &hx("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5"),
    );
    // The base key must allow derivation.
    let no_derive = t.obj(&secret(CKK_GENERIC_SECRET, &[0x0b; 22]).b(CKA_DERIVE, false));
    expect_err(
        "HKDF from a key with CKA_DERIVE false",
        t.derive(
            &hkdf(true, true, CKM_SHA256, b"salt", b"info"),
            no_derive,
            &tmpl,
        ),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
    );
}

/// RFC 6070 (PBKDF2-HMAC-SHA1) and the matching PBKDF2-HMAC-SHA256 value through C_GenerateKey
/// with CKM_PKCS5_PBKD2 and CK_PKCS5_PBKD2_PARAMS2.
#[test]
fn pbkdf2_rfc6070() {
    let t = token("pbkdf2");
    let cases: &[(&str, CK_ULONG, CK_ULONG, usize, &str)] = &[
        (
            "HMAC-SHA1 c=1",
            CKP_PKCS5_PBKD2_HMAC_SHA1,
            1,
            20,
            "0c60c80f961f0e71f3a9b524af6012062fe037a6",
        ),
        (
            "HMAC-SHA1 c=2",
            CKP_PKCS5_PBKD2_HMAC_SHA1,
            2,
            20,
            "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957",
        ),
        (
            "HMAC-SHA256 c=2",
            CKP_PKCS5_PBKD2_HMAC_SHA256,
            2,
            32,
            "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43",
        ),
    ];
    let mut problems = Vec::new();
    for (name, prf, c, len, want) in cases {
        let m = pbkdf2(*prf, b"password", b"salt", *c);
        match t.generate_key(&m, &new_secret(CKK_GENERIC_SECRET, Some(*len))) {
            Ok(k) => {
                let got = t.get(k, CKA_VALUE);
                if got != hx(want) {
                    problems.push(format!("{name}: got {} want {want}", hex(&got)));
                }
            }
            Err(rv) => problems.push(format!("{name}: C_GenerateKey {}", rvn(rv))),
        }
    }
    assert!(problems.is_empty(), "PBKDF2:\n  {}", problems.join("\n  "));
}

/// CKM_HKDF_DERIVE with the salt in a key object (CK_HKDF_PARAMS.ulSaltType =
/// CKF_HKDF_SALT_KEY, hSaltKey).
fn hkdf_salt_key(
    extract: bool,
    expand: bool,
    prf: CK_MECHANISM_TYPE,
    salt_key: CK_OBJECT_HANDLE,
    info: &[u8],
) -> Mech {
    let mut m = Mech::new(CKM_HKDF_DERIVE);
    let pi = m.keep(info);
    m.set_param(CK_HKDF_PARAMS {
        bExtract: u8::from(extract),
        bExpand: u8::from(expand),
        prfHashMechanism: prf,
        ulSaltType: CKF_HKDF_SALT_KEY,
        pSalt: std::ptr::null_mut(),
        ulSaltLen: 0,
        hSaltKey: salt_key,
        pInfo: pi,
        ulInfoLen: info.len() as CK_ULONG,
    });
    m
}

/// RFC 5869 test case 1 with the salt held in a key (a generic secret or an HKDF key): the same
/// OKM and PRK as with CKF_HKDF_SALT_DATA. The salt key must be a generic secret or HKDF key
/// that allows derivation; a bad handle is CKR_KEY_HANDLE_INVALID. Without extraction the salt
/// is ignored, handle and all.
#[test]
fn hkdf_salt_from_a_key() {
    let t = token("hkdf-salt-key");
    let ikm = t.obj(&secret(CKK_GENERIC_SECRET, &[0x0b; 22]));
    let salt = hx("000102030405060708090a0b0c");
    let info = hx("f0f1f2f3f4f5f6f7f8f9");
    let okm =
        hx("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
    let prk = hx("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5");
    let tmpl = new_secret(CKK_GENERIC_SECRET, Some(42));

    let by_data = t
        .derive(&hkdf(true, true, CKM_SHA256, &salt, &info), ikm, &tmpl)
        .ok_or_panic("HKDF with CKF_HKDF_SALT_DATA");
    assert_bytes(
        "OKM with the salt as data",
        &t.get(by_data, CKA_VALUE),
        &okm,
    );
    for kt in [CKK_GENERIC_SECRET, CKK_HKDF] {
        let sk = t.obj(&secret(kt, &salt));
        let d = t
            .derive(
                &hkdf_salt_key(true, true, CKM_SHA256, sk, &info),
                ikm,
                &tmpl,
            )
            .ok_or_panic(&format!("HKDF with a salt key of type {kt:#x}"));
        assert_bytes("OKM with the salt as a key", &t.get(d, CKA_VALUE), &okm);
        let d = t
            .derive(
                &hkdf_salt_key(true, false, CKM_SHA256, sk, &[]),
                ikm,
                &new_secret(CKK_GENERIC_SECRET, Some(32)),
            )
            .ok_or_panic("HKDF extract only with a salt key");
        assert_bytes("PRK with the salt as a key", &t.get(d, CKA_VALUE), &prk);
    }

    for h in [CK_INVALID_HANDLE, 0x7fff_fff0] {
        expect_err(
            &format!("HKDF with salt key handle {h:#x}"),
            t.derive(&hkdf_salt_key(true, true, CKM_SHA256, h, &info), ikm, &tmpl),
            CKR_KEY_HANDLE_INVALID,
        );
    }
    let no_derive = t.obj(&secret(CKK_GENERIC_SECRET, &salt).b(CKA_DERIVE, false));
    expect_err(
        "HKDF with a salt key whose CKA_DERIVE is false",
        t.derive(
            &hkdf_salt_key(true, true, CKM_SHA256, no_derive, &info),
            ikm,
            &tmpl,
        ),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
    );
    let aes_key = t.obj(&aes(&[7u8; 16]));
    expect_err(
        "HKDF with an AES salt key",
        t.derive(
            &hkdf_salt_key(true, true, CKM_SHA256, aes_key, &info),
            ikm,
            &tmpl,
        ),
        CKR_KEY_TYPE_INCONSISTENT,
    );
    let data = t.obj(
        &Tmpl::new()
            .u(CKA_CLASS, CKO_DATA)
            .b(CKA_TOKEN, false)
            .bytes(CKA_VALUE, &salt),
    );
    expect_err(
        "HKDF with a data object as the salt key",
        t.derive(
            &hkdf_salt_key(true, true, CKM_SHA256, data, &info),
            ikm,
            &tmpl,
        ),
        CKR_KEY_HANDLE_INVALID,
    );

    // Expand only: the salt is not used, so its handle is not looked at.
    let prk_key = t.obj(&secret(CKK_GENERIC_SECRET, &prk));
    let d = t
        .derive(
            &hkdf_salt_key(false, true, CKM_SHA256, CK_INVALID_HANDLE, &info),
            prk_key,
            &tmpl,
        )
        .ok_or_panic("HKDF expand only with CKF_HKDF_SALT_KEY");
    assert_bytes("OKM from the PRK", &t.get(d, CKA_VALUE), &okm);
}

/// A key derived with a salt key is "always sensitive" and "never extractable" only if the
/// salt key was too, as for the base key.
#[test]
fn hkdf_salt_key_history_reaches_the_derived_key() {
    let t = token("hkdf-salt-history");
    let kept_inside = |len| {
        t.generate_key(
            &Mech::new(CKM_GENERIC_SECRET_KEY_GEN),
            &new_secret(CKK_GENERIC_SECRET, Some(len))
                .b(CKA_SENSITIVE, true)
                .b(CKA_EXTRACTABLE, false),
        )
        .ok_or_panic("generate a sensitive, non-extractable secret")
    };
    let ikm = kept_inside(32);
    let inside_salt = kept_inside(16);
    let known_salt = t.obj(&secret(CKK_GENERIC_SECRET, &[1u8; 16]));
    let tmpl = new_secret(CKK_GENERIC_SECRET, Some(32))
        .b(CKA_SENSITIVE, true)
        .b(CKA_EXTRACTABLE, false);
    for (salt_key, clean) in [(inside_salt, true), (known_salt, false)] {
        let d = t
            .derive(
                &hkdf_salt_key(true, true, CKM_SHA256, salt_key, b"x"),
                ikm,
                &tmpl,
            )
            .ok_or_panic("HKDF with a salt key");
        assert_eq!(t.get_bool(d, CKA_ALWAYS_SENSITIVE), clean);
        assert_eq!(t.get_bool(d, CKA_NEVER_EXTRACTABLE), clean);
    }
}
