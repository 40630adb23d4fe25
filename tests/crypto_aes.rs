//! PKCS#11 v3.0 Current Mechanisms §2.10-§2.14 (AES: ECB, CBC, CBC_PAD, CTR, CTS, GCM, CCM,
//! CMAC, CMAC_GENERAL, ECB/CBC_ENCRYPT_DATA) through base §5.8-§5.9 (C_Encrypt*, C_Decrypt*),
//! §5.12 (C_Sign*, C_Verify*) and §5.18 (C_DeriveKey): known-answer tests with NIST SP 800-38A,
//! McGrew–Viega GCM, RFC 3610, RFC 3962 and RFC 4493 vectors, and a cross-check of AES-GCM and
//! AES-CCM with Python `cryptography`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::der::*;
use common::p11::*;
use common::vectors::*;
use cryptoki_sys::*;

fn key(t: &Tok, value: &str) -> CK_OBJECT_HANDLE {
    t.obj(&aes(&hx(value)))
}

fn iv16(s: &str) -> [u8; 16] {
    hx(s).try_into().expect("16-byte IV")
}

/// Encrypt single-part and multi-part (odd chunk sizes), decrypt both ways, compare all with
/// the expected ciphertext.
#[track_caller]
fn kat_both_ways(
    t: &Tok,
    what: &str,
    mech: impl Fn() -> Mech,
    k: CK_OBJECT_HANDLE,
    plain: &[u8],
    cipher: &[u8],
    chunks: &[usize],
) {
    let got = t
        .encrypt(&mech(), k, plain)
        .ok_or_panic(&format!("{what}: C_Encrypt"));
    assert_bytes(&format!("{what}: C_Encrypt"), &got, cipher);
    let got = t
        .decrypt(&mech(), k, cipher)
        .ok_or_panic(&format!("{what}: C_Decrypt"));
    assert_bytes(&format!("{what}: C_Decrypt"), &got, plain);
    let split = |data: &[u8]| -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut rest = data;
        for n in chunks {
            let n = (*n).min(rest.len());
            out.push(rest[..n].to_vec());
            rest = &rest[n..];
        }
        out.push(rest.to_vec());
        out
    };
    let pc = split(plain);
    let pr: Vec<&[u8]> = pc.iter().map(|v| v.as_slice()).collect();
    let got = t
        .encrypt_multi(&mech(), k, &pr)
        .ok_or_panic(&format!("{what}: C_EncryptUpdate/Final"));
    assert_bytes(&format!("{what}: multi-part encryption"), &got, cipher);
    let cc = split(cipher);
    let cr: Vec<&[u8]> = cc.iter().map(|v| v.as_slice()).collect();
    let got = t
        .decrypt_multi(&mech(), k, &cr)
        .ok_or_panic(&format!("{what}: C_DecryptUpdate/Final"));
    assert_bytes(&format!("{what}: multi-part decryption"), &got, plain);
}

#[test]
fn aes_ecb_sp800_38a_f1() {
    let t = token("aes-ecb");
    let p = hx(SP800_38A_PLAIN);
    let k128 = key(&t, SP800_38A_KEY128);
    kat_both_ways(
        &t,
        "ECB-AES128 F.1.1",
        || Mech::new(CKM_AES_ECB),
        k128,
        &p,
        &hx(F11_ECB128),
        &[16, 32],
    );
    let k256 = key(&t, SP800_38A_KEY256);
    kat_both_ways(
        &t,
        "ECB-AES256 F.1.5",
        || Mech::new(CKM_AES_ECB),
        k256,
        &p,
        &hx(F15_ECB256),
        &[5, 20],
    );
}

#[test]
fn aes_cbc_sp800_38a_f2() {
    let t = token("aes-cbc");
    let p = hx(SP800_38A_PLAIN);
    let iv = hx(SP800_38A_IV);
    let k128 = key(&t, SP800_38A_KEY128);
    kat_both_ways(
        &t,
        "CBC-AES128 F.2.1",
        || Mech::bytes(CKM_AES_CBC, &iv),
        k128,
        &p,
        &hx(F21_CBC128),
        &[16, 16],
    );
    let k192 = key(&t, SP800_38A_KEY192);
    kat_both_ways(
        &t,
        "CBC-AES192 F.2.3",
        || Mech::bytes(CKM_AES_CBC, &iv),
        k192,
        &p,
        &hx(F23_CBC192),
        &[7, 33],
    );
}

#[test]
fn aes_ctr_sp800_38a_f5() {
    let t = token("aes-ctr");
    let p = hx(SP800_38A_PLAIN);
    let cb = iv16(SP800_38A_CTR);
    let k128 = key(&t, SP800_38A_KEY128);
    kat_both_ways(
        &t,
        "CTR-AES128 F.5.1",
        || ctr(128, cb),
        k128,
        &p,
        &hx(F51_CTR128),
        &[5, 27],
    );
    let k256 = key(&t, SP800_38A_KEY256);
    kat_both_ways(
        &t,
        "CTR-AES256 F.5.5",
        || ctr(128, cb),
        k256,
        &p,
        &hx(F55_CTR256),
        &[1, 16, 30],
    );
    // CTR is a stream mode: a partial final block is fine.
    let got = t
        .encrypt(&ctr(128, cb), k128, &p[..37])
        .ok_or_panic("CTR of 37 bytes");
    assert_bytes(
        "CTR-AES128 of a 37-byte prefix",
        &got,
        &hx(F51_CTR128)[..37],
    );
}

#[test]
fn aes_ctr_counter_bits_out_of_range_is_param_invalid() {
    let t = token("aes-ctr-bits");
    let k = key(&t, SP800_38A_KEY128);
    for bits in [0, 129] {
        expect_err(
            &format!("C_EncryptInit CTR ulCounterBits={bits}"),
            t.encrypt_init(&ctr(bits, [0; 16]), k),
            CKR_MECHANISM_PARAM_INVALID,
        );
    }
}

#[test]
fn aes_cbc_pad_round_trip_and_padding_length() {
    let t = token("aes-cbc-pad");
    let kv = hx(SP800_38A_KEY128);
    let k = t.obj(&aes(&kv));
    let iv = hx(SP800_38A_IV);
    let s = Scratch::new();
    for len in [0usize, 1, 15, 16, 17, 31, 32, 33, 64] {
        let plain: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        let c = t
            .encrypt(&Mech::bytes(CKM_AES_CBC_PAD, &iv), k, &plain)
            .ok_or_panic(&format!("CBC_PAD encrypt of {len} bytes"));
        assert_eq!(
            c.len(),
            (len / 16 + 1) * 16,
            "CBC_PAD ciphertext length for {len} bytes"
        );
        // Independent: openssl enc applies the same PKCS#7 padding.
        let input = s.write("p.bin", &plain);
        openssl(&[
            "enc",
            "-aes-128-cbc",
            "-K",
            &hex(&kv),
            "-iv",
            &hex(&iv),
            "-in",
            &input,
            "-out",
            &s.p("c.bin"),
        ]);
        assert_bytes(
            &format!("CBC_PAD of {len} bytes vs openssl enc"),
            &c,
            &s.read("c.bin"),
        );
        let back = t
            .decrypt(&Mech::bytes(CKM_AES_CBC_PAD, &iv), k, &c)
            .ok_or_panic("CBC_PAD decrypt");
        assert_bytes(&format!("CBC_PAD round trip of {len} bytes"), &back, &plain);
        let back = t
            .decrypt_multi(
                &Mech::bytes(CKM_AES_CBC_PAD, &iv),
                k,
                &[&c[..c.len().min(5)], &c[c.len().min(5)..]],
            )
            .ok_or_panic("CBC_PAD multi-part decrypt");
        assert_bytes(
            &format!("CBC_PAD multi-part round trip of {len} bytes"),
            &back,
            &plain,
        );
    }
    // A ciphertext that is not a whole number of blocks.
    expect_err(
        "CBC_PAD decrypt of 17 bytes",
        t.decrypt(&Mech::bytes(CKM_AES_CBC_PAD, &iv), k, &[0u8; 17]),
        CKR_ENCRYPTED_DATA_LEN_RANGE,
    );
    // Bad padding: the CBC encryption of a block ending in 0x00 (not a valid pad byte).
    let bad = t
        .encrypt(&Mech::bytes(CKM_AES_CBC, &iv), k, &[0u8; 16])
        .ok_or_panic("CBC encrypt of a zero block");
    expect_err(
        "CBC_PAD decrypt with invalid padding",
        t.decrypt(&Mech::bytes(CKM_AES_CBC_PAD, &iv), k, &bad),
        CKR_ENCRYPTED_DATA_INVALID,
    );
}

#[test]
fn aes_ecb_and_cbc_refuse_partial_blocks() {
    let t = token("aes-len");
    let k = key(&t, SP800_38A_KEY128);
    expect_err(
        "ECB encrypt of 15 bytes",
        t.encrypt(&Mech::new(CKM_AES_ECB), k, &[0u8; 15]),
        CKR_DATA_LEN_RANGE,
    );
    expect_err(
        "CBC decrypt of 20 bytes",
        t.decrypt(&Mech::bytes(CKM_AES_CBC, &hx(SP800_38A_IV)), k, &[0u8; 20]),
        CKR_ENCRYPTED_DATA_LEN_RANGE,
    );
    expect_err(
        "CBC with a 15-byte IV",
        t.encrypt_init(&Mech::bytes(CKM_AES_CBC, &[0u8; 15]), k),
        CKR_MECHANISM_PARAM_INVALID,
    );
}

#[test]
fn aes_gcm_mcgrew_viega_test_cases_2_3_4() {
    let t = token("aes-gcm");
    // Test case 2: zero key, zero IV, one zero block, no AAD.
    let k0 = t.obj(&aes(&[0u8; 16]));
    let want = [hx(GCM_TC2_CIPHER), hx(GCM_TC2_TAG)].concat();
    kat_both_ways(
        &t,
        "GCM TC2",
        || gcm(&[0u8; 12], &[], 128),
        k0,
        &[0u8; 16],
        &want,
        &[3],
    );

    let k = key(&t, GCM_KEY);
    let iv = hx(GCM_IV);
    // Test case 3: four blocks, no AAD.
    let want = [hx(GCM_TC3_CIPHER), hx(GCM_TC3_TAG)].concat();
    kat_both_ways(
        &t,
        "GCM TC3",
        || gcm(&iv, &[], 128),
        k,
        &hx(GCM_TC3_PLAIN),
        &want,
        &[16, 17],
    );
    // Test case 4: 60 bytes with 20 bytes of AAD.
    let p4 = hx(GCM_TC3_PLAIN)[..60].to_vec();
    let c4 = hx(GCM_TC3_CIPHER)[..60].to_vec();
    let aad = hx(GCM_TC4_AAD);
    let want = [c4.clone(), hx(GCM_TC4_TAG)].concat();
    kat_both_ways(
        &t,
        "GCM TC4 (AAD, 128-bit tag)",
        || gcm(&iv, &aad, 128),
        k,
        &p4,
        &want,
        &[1, 40],
    );
    // The same with a 96-bit tag: the tag is truncated to its leftmost 12 bytes (SP 800-38D).
    let want96 = [c4.clone(), hx(GCM_TC4_TAG)[..12].to_vec()].concat();
    kat_both_ways(
        &t,
        "GCM TC4 (AAD, 96-bit tag)",
        || gcm(&iv, &aad, 96),
        k,
        &p4,
        &want96,
        &[30],
    );
}

#[test]
fn aes_gcm_tampering_is_encrypted_data_invalid() {
    let t = token("aes-gcm-bad");
    let k = key(&t, GCM_KEY);
    let iv = hx(GCM_IV);
    let aad = hx(GCM_TC4_AAD);
    let p4 = hx(GCM_TC3_PLAIN)[..60].to_vec();
    let good = [hx(GCM_TC3_CIPHER)[..60].to_vec(), hx(GCM_TC4_TAG)].concat();
    assert_bytes(
        "GCM TC4 decrypts",
        &t.decrypt(&gcm(&iv, &aad, 128), k, &good)
            .ok_or_panic("GCM decrypt"),
        &p4,
    );
    let mut bad_tag = good.clone();
    *bad_tag.last_mut().unwrap() ^= 1;
    expect_err(
        "GCM with a flipped tag bit",
        t.decrypt(&gcm(&iv, &aad, 128), k, &bad_tag),
        CKR_ENCRYPTED_DATA_INVALID,
    );
    let mut bad_ct = good.clone();
    bad_ct[0] ^= 0x80;
    expect_err(
        "GCM with a flipped ciphertext bit",
        t.decrypt(&gcm(&iv, &aad, 128), k, &bad_ct),
        CKR_ENCRYPTED_DATA_INVALID,
    );
    let mut other_aad = aad.clone();
    other_aad[0] ^= 1;
    expect_err(
        "GCM with other AAD",
        t.decrypt(&gcm(&iv, &other_aad, 128), k, &good),
        CKR_ENCRYPTED_DATA_INVALID,
    );
    expect_err(
        "GCM with a tag length over 128 bits",
        t.encrypt_init(&gcm(&iv, &aad, 136), k),
        CKR_MECHANISM_PARAM_INVALID,
    );
    expect_err_in(
        "GCM ciphertext shorter than the tag",
        t.decrypt(&gcm(&iv, &aad, 128), k, &good[..8]),
        &[CKR_ENCRYPTED_DATA_LEN_RANGE, CKR_ENCRYPTED_DATA_INVALID],
    )
}

/// RFC 3610 packet vector #1: AES-128, 13-byte nonce, 8 bytes of AAD, 23-byte payload, 8-byte MAC.
#[test]
fn aes_ccm_rfc3610_packet_vector_1() {
    let t = token("aes-ccm");
    let k = key(&t, "c0c1c2c3c4c5c6c7c8c9cacbcccdcecf");
    let nonce = hx("00000003020100a0a1a2a3a4a5");
    let aad = hx("0001020304050607");
    let payload: Vec<u8> = (0x08u8..=0x1e).collect();
    let want = hx("588c979a61c663d2f066d0c2c0f989806d5f6b61dac384 17e8d12cfdf926e0");
    let got = t
        .encrypt(&ccm(payload.len(), &nonce, &aad, 8), k, &payload)
        .ok_or_panic("CCM encrypt");
    assert_bytes("RFC 3610 #1 ciphertext || MAC", &got, &want);
    let got = t
        .encrypt_multi(
            &ccm(payload.len(), &nonce, &aad, 8),
            k,
            &[&payload[..10], &payload[10..]],
        )
        .ok_or_panic("CCM multi-part encrypt");
    assert_bytes("RFC 3610 #1 multi-part", &got, &want);
    let back = t
        .decrypt(&ccm(payload.len(), &nonce, &aad, 8), k, &want)
        .ok_or_panic("CCM decrypt");
    assert_bytes("RFC 3610 #1 decrypted", &back, &payload);
    let mut bad = want.clone();
    bad[30] ^= 1;
    expect_err(
        "CCM with a flipped MAC bit",
        t.decrypt(&ccm(payload.len(), &nonce, &aad, 8), k, &bad),
        CKR_ENCRYPTED_DATA_INVALID,
    );
    expect_err(
        "CCM with an odd MAC length (5)",
        t.encrypt_init(&ccm(payload.len(), &nonce, &aad, 5), k),
        CKR_MECHANISM_PARAM_INVALID,
    );
}

/// CKM_AES_CTS. The Current Mechanisms specification cites the SP 800-38A addendum without
/// naming a variant; ferrohsm uses CBC-CS1, as NSS softoken and OpenSSL do. The vectors are
/// RFC 3962's (key "chicken teriyaki", IV zero), published in CS3 order and turned into CS1
/// here: the final partial (or, for whole blocks, full) block moves in front of the one
/// before it.
#[test]
fn aes_cts_rfc3962_vectors() {
    let t = token("aes-cts");
    let k = t.obj(&aes(b"chicken teriyaki"));
    let msg = b"I would like the General Gau's Chicken, please, and wonton soup.";
    let cases: &[(usize, &str)] = &[
        (17, "c6353568f2bf8cb4d8a580362da7ff7f97"),
        (31, "fc00783e0efdb2c1d445d4c8eff7ed2297687268d6ecccc0c07b25e25ecfe5"),
        (32, "39312523a78662d5be7fcbcc98ebf5a897687268d6ecccc0c07b25e25ecfe584"),
        (
            47,
            "97687268d6ecccc0c07b25e25ecfe584b3fffd940c16a18c1b5549d2f838029e39312523a78662d5be7fcbcc98ebf5",
        ),
        (
            48,
            "97687268d6ecccc0c07b25e25ecfe5849dad8bbb96c4cdc03bc103e1a194bbd839312523a78662d5be7fcbcc98ebf5a8",
        ),
        (
            64,
            "97687268d6ecccc0c07b25e25ecfe58439312523a78662d5be7fcbcc98ebf5a84807efe836ee89a526730dbc2f7bc840
             9dad8bbb96c4cdc03bc103e1a194bbd8",
        ),
    ];
    let cs3_to_cs1 = |ct: Vec<u8>| {
        let n = ct.len();
        let d = if n % 16 == 0 { 16 } else { n % 16 };
        let mut out = ct[..n - d - 16].to_vec();
        out.extend_from_slice(&ct[n - d..]);
        out.extend_from_slice(&ct[n - d - 16..n - d]);
        out
    };
    let mut problems = Vec::new();
    for (len, want) in cases {
        let want = cs3_to_cs1(hx(want));
        let plain = &msg[..*len];
        match t.encrypt(&Mech::bytes(CKM_AES_CTS, &[0u8; 16]), k, plain) {
            Ok(got) if got == want => {}
            Ok(got) => problems.push(format!(
                "{len} bytes: got {} want {} (CS1)",
                hex(&got),
                hex(&want)
            )),
            Err(rv) => problems.push(format!("{len} bytes: encrypt {}", rvn(rv))),
        }
        match t.decrypt(&Mech::bytes(CKM_AES_CTS, &[0u8; 16]), k, &want) {
            Ok(got) if got == plain => {}
            Ok(got) => problems.push(format!("{len} bytes: decrypted to {}", hex(&got))),
            Err(rv) => problems.push(format!("{len} bytes: decrypt {}", rvn(rv))),
        }
    }
    assert!(problems.is_empty(), "AES-CTS:\n  {}", problems.join("\n  "));
    expect_err(
        "CTS of less than one block",
        t.encrypt(&Mech::bytes(CKM_AES_CTS, &[0u8; 16]), k, &msg[..15]),
        CKR_DATA_LEN_RANGE,
    );
}

/// CKM_AES_CTS against `openssl enc -aes-256-cbc-cts` (OpenSSL's default variant is CS1) at
/// lengths around the block boundaries, single- and multi-part.
#[test]
fn aes_cts_matches_openssl() {
    let t = token("aes-cts-openssl");
    let kv: Vec<u8> = (0u8..32).map(|i| i.wrapping_mul(7)).collect();
    let k = t.obj(&aes(&kv));
    let iv = [0x5au8; 16];
    let s = Scratch::new();
    for len in [16usize, 17, 31, 32, 33, 47, 48, 63, 64, 65, 100] {
        let plain: Vec<u8> = (0..len).map(|i| (i * 13 + 1) as u8).collect();
        let input = s.write("p.bin", &plain);
        openssl(&[
            "enc",
            "-aes-256-cbc-cts",
            "-K",
            &hex(&kv),
            "-iv",
            &hex(&iv),
            "-in",
            &input,
            "-out",
            &s.p("c.bin"),
        ]);
        let want = s.read("c.bin");
        let c = t
            .encrypt(&Mech::bytes(CKM_AES_CTS, &iv), k, &plain)
            .ok_or_panic(&format!("CTS encrypt of {len} bytes"));
        assert_bytes(&format!("CTS of {len} bytes vs openssl enc"), &c, &want);
        let back = t
            .decrypt_multi(
                &Mech::bytes(CKM_AES_CTS, &iv),
                k,
                &[&c[..len.min(20)], &c[len.min(20)..]],
            )
            .ok_or_panic("CTS multi-part decrypt");
        assert_bytes(&format!("CTS round trip of {len} bytes"), &back, &plain);
    }
}

/// RFC 4493 §4 examples 1-4 (CKM_AES_CMAC) and CKM_AES_CMAC_GENERAL with an 8-byte MAC.
#[test]
fn aes_cmac_rfc4493_examples() {
    let t = token("aes-cmac");
    let k = key(&t, SP800_38A_KEY128);
    let m = hx(SP800_38A_PLAIN);
    let cases: [(usize, &str); 4] = [
        (0, "bb1d6929e95937287fa37d129b756746"),
        (16, "070a16b46b4d4144f79bdd9dd04a287c"),
        (40, "dfa66747de9ae63030ca32611497c827"),
        (64, "51f0bebf7e3b9d92fc49741779363cfe"),
    ];
    for (len, want) in cases {
        let want = hx(want);
        let got = t
            .sign(&Mech::new(CKM_AES_CMAC), k, &m[..len])
            .ok_or_panic("CMAC C_Sign");
        assert_bytes(&format!("AES-CMAC of {len} bytes"), &got, &want);
        if len > 0 {
            let got = t
                .sign_multi(
                    &Mech::new(CKM_AES_CMAC),
                    k,
                    &[&m[..len / 3], &m[len / 3..len]],
                )
                .ok_or_panic("CMAC C_SignUpdate/Final");
            assert_bytes(&format!("AES-CMAC multi-part of {len} bytes"), &got, &want);
        }
        t.verify(&Mech::new(CKM_AES_CMAC), k, &m[..len], &want)
            .ok_or_panic("CMAC C_Verify");
        let got = t
            .sign(&Mech::ulong(CKM_AES_CMAC_GENERAL, 8), k, &m[..len])
            .ok_or_panic("CMAC_GENERAL(8) C_Sign");
        assert_bytes(
            &format!("AES-CMAC_GENERAL(8) of {len} bytes"),
            &got,
            &want[..8],
        );
        t.verify(
            &Mech::ulong(CKM_AES_CMAC_GENERAL, 8),
            k,
            &m[..len],
            &want[..8],
        )
        .ok_or_panic("CMAC_GENERAL C_Verify");
    }
    let mut bad = hx("070a16b46b4d4144f79bdd9dd04a287c");
    bad[15] ^= 1;
    expect_err(
        "CMAC verify of a wrong MAC",
        t.verify(&Mech::new(CKM_AES_CMAC), k, &m[..16], &bad),
        CKR_SIGNATURE_INVALID,
    );
    expect_err(
        "CMAC verify of a truncated MAC",
        t.verify(&Mech::new(CKM_AES_CMAC), k, &m[..16], &bad[..15]),
        CKR_SIGNATURE_LEN_RANGE,
    );
}

/// CKM_AES_ECB_ENCRYPT_DATA and CKM_AES_CBC_ENCRYPT_DATA (§2.15): the derived key's value is
/// the encryption of the data, so SP 800-38A F.1.1 and F.2.1 give the expected values.
#[test]
fn aes_encrypt_data_derivation_kat() {
    let t = token("aes-derive");
    let base = key(&t, SP800_38A_KEY128);
    let p = hx(SP800_38A_PLAIN);
    let tmpl = new_secret(CKK_AES, None);
    let d = t
        .derive(&aes_ecb_encrypt_data(&p[..32]), base, &tmpl)
        .ok_or_panic("C_DeriveKey AES_ECB_ENCRYPT_DATA");
    assert_bytes(
        "ECB_ENCRYPT_DATA derived value",
        &t.get(d, CKA_VALUE),
        &hx(F11_ECB128)[..32],
    );
    assert_eq!(t.get_ulong(d, CKA_VALUE_LEN), 32);
    let d = t
        .derive(
            &aes_cbc_encrypt_data(iv16(SP800_38A_IV), &p[..16]),
            base,
            &tmpl,
        )
        .ok_or_panic("C_DeriveKey AES_CBC_ENCRYPT_DATA");
    assert_bytes(
        "CBC_ENCRYPT_DATA derived value",
        &t.get(d, CKA_VALUE),
        &hx(F21_CBC128)[..16],
    );
}

/// AES-GCM and AES-CCM interoperate with Python `cryptography` (AESGCM/AESCCM) both ways.
#[test]
fn aes_gcm_and_ccm_interoperate_with_python_cryptography() {
    require_python_cryptography();
    let t = token("aes-gcm-py");
    let kv = t.random(32);
    let k = t.obj(&aes(&kv));
    let iv = t.random(12);
    let aad = b"header: ferrohsm".to_vec();
    let plain: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    let c = t
        .encrypt(&gcm(&iv, &aad, 128), k, &plain)
        .ok_or_panic("GCM encrypt");
    let py = python(
        "import sys; from cryptography.hazmat.primitives.ciphers.aead import AESGCM; a=[bytes.fromhex(x) for x in sys.argv[1:]]; print(AESGCM(a[0]).decrypt(a[1], a[3], a[2]).hex())",
        &[hex(&kv), hex(&iv), hex(&aad), hex(&c)],
    );
    assert_eq!(
        py,
        hex(&plain),
        "Python AESGCM decryption of the module's ciphertext"
    );
    let pc = python(
        "import sys; from cryptography.hazmat.primitives.ciphers.aead import AESGCM; a=[bytes.fromhex(x) for x in sys.argv[1:]]; print(AESGCM(a[0]).encrypt(a[1], a[3], a[2]).hex())",
        &[hex(&kv), hex(&iv), hex(&aad), hex(&plain)],
    );
    let back = t
        .decrypt(&gcm(&iv, &aad, 128), k, &hx(&pc))
        .ok_or_panic("GCM decrypt of Python's ciphertext");
    assert_bytes("module decryption of Python AESGCM", &back, &plain);

    let nonce = t.random(11);
    let c = t
        .encrypt(&ccm(plain.len(), &nonce, &aad, 16), k, &plain)
        .ok_or_panic("CCM encrypt");
    let py = python(
        "import sys; from cryptography.hazmat.primitives.ciphers.aead import AESCCM; a=[bytes.fromhex(x) for x in sys.argv[1:]]; print(AESCCM(a[0], tag_length=16).decrypt(a[1], a[3], a[2]).hex())",
        &[hex(&kv), hex(&nonce), hex(&aad), hex(&c)],
    );
    assert_eq!(
        py,
        hex(&plain),
        "Python AESCCM decryption of the module's ciphertext"
    );
}
