//! PKCS#11 v3.0 Current Mechanisms §2.10 (AES-OFB, AES-CFB8/64/128, AES-XTS, AES-GMAC,
//! AES-MAC and AES-MAC-GENERAL) through base §5.8-§5.9 (C_Encrypt*, C_Decrypt*) and §5.12
//! (C_Sign*, C_Verify*): known answers from NIST SP 800-38A, IEEE 1619, the NIST GCM test
//! vectors and FIPS 113 (CBC-MAC), cross-checked with OpenSSL where it has the mode. Also the
//! size-query convention of multi-part AES-GCM/CCM decryption (§5.2: a client that always
//! queries first) and the parameter checks of AES_ECB/CBC_ENCRYPT_DATA (§2.10.x, §2.15).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::der::*;
use common::p11::*;
use common::vectors::*;
use cryptoki_sys::*;

fn key(t: &Tok, value: &str) -> CK_OBJECT_HANDLE {
    t.obj(&aes(&hx(value)))
}

/// Multi-part decryption as PyKCS11 does it: each C_DecryptUpdate is asked for its size first
/// (NULL buffer), then called with a buffer of exactly that size (NULL again when the size is
/// 0); C_DecryptFinal the same way.
fn decrypt_querying_first(t: &Tok, parts: &[&[u8]]) -> Result<Vec<u8>, CK_RV> {
    let mut all = Vec::new();
    for p in parts {
        let (rv, _, need) = t.decrypt_update_raw(p, None);
        if rv != CKR_OK {
            return Err(rv);
        }
        let (rv, out, _) = t.decrypt_update_raw(p, Some(need));
        if rv != CKR_OK {
            return Err(rv);
        }
        all.extend_from_slice(&out);
    }
    let (rv, _, need) = t.decrypt_final_raw(None);
    if rv != CKR_OK {
        return Err(rv);
    }
    let (rv, out, _) = t.decrypt_final_raw(Some(need));
    if rv != CKR_OK {
        return Err(rv);
    }
    all.extend_from_slice(&out);
    Ok(all)
}

/// A size-query C_DecryptUpdate answers an upper bound (the data fed so far and this part), so
/// a client that queries first feeds every part exactly once; a real call whose buffer is
/// smaller than that bound is CKR_BUFFER_TOO_SMALL and consumes nothing.
#[track_caller]
fn aead_multipart_decrypt_size_queries(
    t: &Tok,
    mech: impl Fn() -> Mech,
    k: CK_OBJECT_HANDLE,
    ct: &[u8],
    plain: &[u8],
) {
    let (a, b) = ct.split_at(ct.len() / 2);
    t.decrypt_init(&mech(), k).ok_or_panic("C_DecryptInit");
    let got = decrypt_querying_first(t, &[a, b]).ok_or_panic("query-first multi-part decryption");
    assert_bytes("query-first multi-part decryption", &got, plain);

    t.decrypt_init(&mech(), k).ok_or_panic("C_DecryptInit");
    let (rv, _, need) = t.decrypt_update_raw(a, None);
    expect_rv_raw("size query of the first part", rv, CKR_OK);
    assert!(
        need >= a.len(),
        "the bound {need} is below the part ({})",
        a.len()
    );
    let (rv, _, _) = t.decrypt_update_raw(a, Some(need));
    expect_rv_raw("first part", rv, CKR_OK);
    let (rv, _, need) = t.decrypt_update_raw(b, None);
    expect_rv_raw("size query of the second part", rv, CKR_OK);
    assert!(need >= ct.len() - plain.len().min(ct.len()) && need >= b.len());
    let (rv, _, told) = t.decrypt_update_raw(b, Some(1));
    expect_rv_raw("second part into one byte", rv, CKR_BUFFER_TOO_SMALL);
    assert_eq!(told, need, "CKR_BUFFER_TOO_SMALL reports the bound");
    // Nothing was consumed: the part goes in once more, and the result is still right.
    let (rv, _, _) = t.decrypt_update_raw(b, Some(need));
    expect_rv_raw("second part", rv, CKR_OK);
    let (rv, out, _) = t.decrypt_final_raw(Some(plain.len() + 64));
    expect_rv_raw("C_DecryptFinal", rv, CKR_OK);
    assert_bytes("decryption after a refused short buffer", &out, plain);
}

#[test]
fn aes_gcm_multipart_decrypt_answers_size_queries_with_a_bound() {
    let t = token("gcm-sizeq");
    let k = key(&t, GCM_KEY);
    let iv = hx(GCM_IV);
    let ct = [hx(GCM_TC3_CIPHER), hx(GCM_TC3_TAG)].concat();
    aead_multipart_decrypt_size_queries(&t, || gcm(&iv, &[], 128), k, &ct, &hx(GCM_TC3_PLAIN));
}

#[test]
fn aes_ccm_multipart_decrypt_answers_size_queries_with_a_bound() {
    let t = token("ccm-sizeq");
    let k = key(&t, "c0c1c2c3c4c5c6c7c8c9cacbcccdcecf");
    let nonce = hx("00000003020100a0a1a2a3a4a5");
    let aad = hx("0001020304050607");
    let payload: Vec<u8> = (0x08u8..=0x1e).collect();
    let ct = hx("588c979a61c663d2f066d0c2c0f989806d5f6b61dac384 17e8d12cfdf926e0");
    aead_multipart_decrypt_size_queries(
        &t,
        || ccm(payload.len(), &nonce, &aad, 8),
        k,
        &ct,
        &payload,
    );
}

/// Data that is not a whole number of blocks is a bad parameter of the derivation mechanism
/// (CKR_MECHANISM_PARAM_INVALID), not data of an encryption (CKR_DATA_LEN_RANGE); the base key
/// is unchanged and still derives.
#[test]
fn aes_encrypt_data_with_a_bad_length_is_mechanism_param_invalid() {
    let t = token("aes-derive-len");
    let base = key(&t, SP800_38A_KEY128);
    let tmpl = new_secret(CKK_AES, None);
    let p = hx(SP800_38A_PLAIN);
    for n in [0usize, 1, 15, 17, 33] {
        expect_err(
            &format!("ECB_ENCRYPT_DATA of {n} bytes"),
            t.derive(&aes_ecb_encrypt_data(&p[..n]), base, &tmpl),
            CKR_MECHANISM_PARAM_INVALID,
        );
        expect_err(
            &format!("CBC_ENCRYPT_DATA of {n} bytes"),
            t.derive(&aes_cbc_encrypt_data([0; 16], &p[..n]), base, &tmpl),
            CKR_MECHANISM_PARAM_INVALID,
        );
    }
    // Data shorter than the key the template asks for is a parameter too short for it
    // (python-pkcs11's NEGATIVE_256_BIT_SHORT_DATA/SHORT_IV cases expect this code).
    let long = new_secret(CKK_AES, Some(32));
    expect_err(
        "ECB_ENCRYPT_DATA of 16 bytes for a 32-byte key",
        t.derive(&aes_ecb_encrypt_data(&p[..16]), base, &long),
        CKR_MECHANISM_PARAM_INVALID,
    );
    expect_err(
        "CBC_ENCRYPT_DATA of 16 bytes for a 32-byte key",
        t.derive(&aes_cbc_encrypt_data([0; 16], &p[..16]), base, &long),
        CKR_MECHANISM_PARAM_INVALID,
    );
    t.derive(&aes_ecb_encrypt_data(&p[..16]), base, &tmpl)
        .ok_or_panic("ECB_ENCRYPT_DATA of a block after the refusals");
}

// ---------------------------------------------------------------------------------------------
// Known answers

/// SP 800-38A F.4.1 / F.4.5 (OFB), F.3.13 / F.3.17 (CFB128) and F.3.7 / F.3.11 (CFB8), for
/// AES-128 and AES-256 (encryption; the decryption vectors are the same pairs).
const F41_OFB128: &str = "3b3fd92eb72dad20333449f8e83cfb4a 7789508d16918f03f53c52dac54ed825
    9740051e9c5fecf64344f7a82260edcc 304c6528f659c77866a510d9c1d6ae5e";
const F45_OFB256: &str = "dc7e84bfda79164b7ecd8486985d3860 4febdc6740d20b3ac88f6ad82a4fb08d
    71ab47a086e86eedf39d1c5bba97c408 0126141d67f37be8538f5a8be740e484";
const F313_CFB128_128: &str = "3b3fd92eb72dad20333449f8e83cfb4a c8a64537a0b3a93fcde3cdad9f1ce58b
    26751f67a3cbb140b1808cf187a4f4df c04b05357c5d1c0eeac4c66f9ff7f2e6";
const F317_CFB128_256: &str = "dc7e84bfda79164b7ecd8486985d3860 39ffed143b28b1c832113c6331e5407b
    df10132415e54b92a13ed0a8267ae2f9 75a385741ab9cef82031623d55b1e471";
const F37_CFB8_128: &str = "3b79424c9c0dd436bace9e0ed4586a4f32b9";
const F311_CFB8_256: &str = "dc1f1a8520a64db55fcc8ac554844e889700";
/// CFB64 has no SP 800-38A vector: these follow its §6.3 definition (s = 64) on the F.3
/// inputs, computed with Python `cryptography`'s AES-ECB; `aes_cfb64_follows_the_definition`
/// checks them again through the module's own CKM_AES_ECB.
const CFB64_128: &str = "3b3fd92eb72dad20764bc8b40ee0de40 f857ab76f3e7bc33332265ff0594b12e
    6c8bf2f3fc1ba87b2f124a56f7fe88d2 341f1d0535f0d56e58287bbec2952b2a";
const CFB64_256: &str = "dc7e84bfda79164b5354b1128a039ec7 506b65da6782cdfa2eb7f5711565fc14
    19345a7d5eed18808be1d3864ae3e0dc f435ae891b3032834ee359d40e86af01";

fn iv() -> [u8; 16] {
    hx(SP800_38A_IV).try_into().unwrap()
}

/// Single-part both ways, and multi-part both ways in parts of odd sizes (1, 5, 16 and 17
/// bytes: a stream mode releases every byte it is given).
#[track_caller]
fn stream_kat(
    t: &Tok,
    what: &str,
    mech: CK_MECHANISM_TYPE,
    k: CK_OBJECT_HANDLE,
    plain: &[u8],
    want: &[u8],
) {
    let m = || Mech::bytes(mech, &iv());
    assert_bytes(
        &format!("{what}: C_Encrypt"),
        &t.encrypt(&m(), k, plain).ok_or_panic(what),
        want,
    );
    assert_bytes(
        &format!("{what}: C_Decrypt"),
        &t.decrypt(&m(), k, want).ok_or_panic(what),
        plain,
    );
    let parts = |d: &[u8]| -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut rest = d;
        for n in [1usize, 5, 16, 17].iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let n = (*n).min(rest.len());
            out.push(rest[..n].to_vec());
            rest = &rest[n..];
        }
        out
    };
    let p = parts(plain);
    let pr: Vec<&[u8]> = p.iter().map(Vec::as_slice).collect();
    assert_bytes(
        &format!("{what}: multi-part encryption"),
        &t.encrypt_multi(&m(), k, &pr).ok_or_panic(what),
        want,
    );
    let c = parts(want);
    let cr: Vec<&[u8]> = c.iter().map(Vec::as_slice).collect();
    assert_bytes(
        &format!("{what}: multi-part decryption"),
        &t.decrypt_multi(&m(), k, &cr).ok_or_panic(what),
        plain,
    );
    // Any length: a prefix of the data gives the prefix of the output.
    for n in [0usize, 1, 7, 33] {
        let n = n.min(plain.len());
        assert_bytes(
            &format!("{what}: {n} bytes"),
            &t.encrypt(&m(), k, &plain[..n]).ok_or_panic(what),
            &want[..n],
        );
    }
}

#[test]
fn aes_ofb_sp800_38a_f4() {
    let t = token("aes-ofb");
    let p = hx(SP800_38A_PLAIN);
    stream_kat(
        &t,
        "OFB-AES128 F.4.1",
        CKM_AES_OFB,
        key(&t, SP800_38A_KEY128),
        &p,
        &hx(F41_OFB128),
    );
    stream_kat(
        &t,
        "OFB-AES256 F.4.5",
        CKM_AES_OFB,
        key(&t, SP800_38A_KEY256),
        &p,
        &hx(F45_OFB256),
    );
}

#[test]
fn aes_cfb128_sp800_38a_f3() {
    let t = token("aes-cfb128");
    let p = hx(SP800_38A_PLAIN);
    stream_kat(
        &t,
        "CFB128-AES128 F.3.13",
        CKM_AES_CFB128,
        key(&t, SP800_38A_KEY128),
        &p,
        &hx(F313_CFB128_128),
    );
    stream_kat(
        &t,
        "CFB128-AES256 F.3.17",
        CKM_AES_CFB128,
        key(&t, SP800_38A_KEY256),
        &p,
        &hx(F317_CFB128_256),
    );
}

#[test]
fn aes_cfb8_sp800_38a_f3() {
    let t = token("aes-cfb8");
    let p = hx(SP800_38A_PLAIN)[..18].to_vec();
    stream_kat(
        &t,
        "CFB8-AES128 F.3.7",
        CKM_AES_CFB8,
        key(&t, SP800_38A_KEY128),
        &p,
        &hx(F37_CFB8_128),
    );
    stream_kat(
        &t,
        "CFB8-AES256 F.3.11",
        CKM_AES_CFB8,
        key(&t, SP800_38A_KEY256),
        &p,
        &hx(F311_CFB8_256),
    );
}

#[test]
fn aes_cfb64_follows_the_definition() {
    let t = token("aes-cfb64");
    let p = hx(SP800_38A_PLAIN);
    for (kv, want) in [(SP800_38A_KEY128, CFB64_128), (SP800_38A_KEY256, CFB64_256)] {
        let k = key(&t, kv);
        stream_kat(&t, "CFB64", CKM_AES_CFB64, k, &p, &hx(want));
        // SP 800-38A §6.3 with s = 64, on the module's CKM_AES_ECB: O = E(I); C = P ^ MSB64(O);
        // I = LSB64(I) || C.
        let mut reg = iv().to_vec();
        let mut out = Vec::new();
        for seg in p.chunks(8) {
            let o = t
                .encrypt(&Mech::new(CKM_AES_ECB), k, &reg)
                .ok_or_panic("ECB");
            let c: Vec<u8> = seg.iter().zip(&o).map(|(a, b)| a ^ b).collect();
            reg = [&reg[8..], &c[..]].concat();
            out.extend_from_slice(&c);
        }
        assert_bytes(
            "CFB64 from its definition over CKM_AES_ECB",
            &out,
            &hx(want),
        );
    }
}

/// OFB, CFB8 and CFB128 against the openssl CLI, both ways, on a length that is no multiple of
/// 16 (openssl has no CFB64).
#[test]
fn aes_ofb_cfb_interoperate_with_openssl() {
    let t = token("aes-ofb-ossl");
    let kv = t.random(32);
    let k = t.obj(&aes(&kv));
    let ivv = t.random(16);
    let plain: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 256) as u8).collect();
    for (mech, name) in [
        (CKM_AES_OFB, "-aes-256-ofb"),
        (CKM_AES_CFB8, "-aes-256-cfb8"),
        (CKM_AES_CFB128, "-aes-256-cfb"),
    ] {
        let s = Scratch::new();
        let input = s.write("in.bin", &plain);
        openssl(&[
            "enc",
            name,
            "-K",
            &hex(&kv),
            "-iv",
            &hex(&ivv),
            "-in",
            &input,
            "-out",
            &s.p("out.bin"),
        ]);
        let theirs = s.read("out.bin");
        let ours = t
            .encrypt(&Mech::bytes(mech, &ivv), k, &plain)
            .ok_or_panic(name);
        assert_bytes(&format!("{name}: module vs openssl"), &ours, &theirs);
        let back = t
            .decrypt(&Mech::bytes(mech, &ivv), k, &theirs)
            .ok_or_panic(name);
        assert_bytes(&format!("{name}: module decrypts openssl's"), &back, &plain);
    }
}

#[test]
fn aes_stream_modes_take_a_16_byte_iv() {
    let t = token("aes-ofb-iv");
    let k = key(&t, SP800_38A_KEY128);
    for mech in [CKM_AES_OFB, CKM_AES_CFB8, CKM_AES_CFB64, CKM_AES_CFB128] {
        for bad in [
            Mech::new(mech),
            Mech::bytes(mech, &[0; 15]),
            Mech::bytes(mech, &[0; 17]),
        ] {
            expect_err(
                "bad IV",
                t.encrypt_init(&bad, k),
                CKR_MECHANISM_PARAM_INVALID,
            );
        }
    }
}

// --- XTS ---------------------------------------------------------------------------------------

fn xts_key(t: &Tok, value: &[u8]) -> CK_OBJECT_HANDLE {
    t.obj(&secret(CKK_AES_XTS, value))
}

/// IEEE 1619-2007 Annex B: vector 2 (two blocks) and vectors 15-18 (17 to 20 bytes: ciphertext
/// stealing), AES-128-XTS; the tweak is the data unit number, little-endian.
#[test]
fn aes_xts_ieee1619_vectors() {
    let t = token("aes-xts");
    let tweak = |n: &str| -> Vec<u8> { [hx(n), vec![0; 16 - hx(n).len()]].concat() };
    let k = xts_key(&t, &[hx(&"11".repeat(16)), hx(&"22".repeat(16))].concat());
    let m = || Mech::bytes(CKM_AES_XTS, &tweak("3333333333"));
    let p = hx(&"44".repeat(32));
    let want = hx("c454185e6a16936e39334038acef838bfb186fff7480adc4289382ecd6d394f0");
    assert_bytes(
        "vector 2",
        &t.encrypt(&m(), k, &p).ok_or_panic("XTS"),
        &want,
    );
    assert_bytes(
        "vector 2 decrypted",
        &t.decrypt(&m(), k, &want).ok_or_panic("XTS"),
        &p,
    );
    let k = xts_key(
        &t,
        &hx("fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0bfbebdbcbbbab9b8b7b6b5b4b3b2b1b0"),
    );
    let m = || Mech::bytes(CKM_AES_XTS, &tweak("9a78563412"));
    for (n, want) in [
        (17, "6c1625db4671522d3d7599601de7ca09ed"),
        (18, "d069444b7a7e0cab09e24447d24deb1fedbf"),
        (19, "e5df1351c0544ba1350b3363cd8ef4beedbf9d"),
        (20, "9d84c813f719aa2c7be3f66171c7c5c2edbf9dac"),
    ] {
        let p: Vec<u8> = (0..n as u8).collect();
        let want = hx(want);
        assert_bytes(
            &format!("vector {} ({n} bytes)", n - 2),
            &t.encrypt(&m(), k, &p).ok_or_panic("XTS"),
            &want,
        );
        assert_bytes(
            "decrypted",
            &t.decrypt(&m(), k, &want).ok_or_panic("XTS"),
            &p,
        );
        let got = t
            .encrypt_multi(&m(), k, &[&p[..3], &p[3..16], &p[16..]])
            .ok_or_panic("XTS multi");
        assert_bytes("multi-part", &got, &want);
        let got = t
            .decrypt_multi(&m(), k, &[&want[..16], &want[16..]])
            .ok_or_panic("XTS multi");
        assert_bytes("multi-part decrypted", &got, &p);
    }
}

/// AES-256-XTS (64-byte keys) and long data against Python `cryptography`, single- and
/// multi-part, with and without stealing.
#[test]
fn aes_xts_interoperates_with_python_cryptography() {
    require_python_cryptography();
    let t = token("aes-xts-py");
    for key_len in [32usize, 64] {
        let kv = t.random(key_len);
        let k = xts_key(&t, &kv);
        let tw = t.random(16);
        for n in [16usize, 31, 512, 1000] {
            let plain = t.random(n);
            let ours = t
                .encrypt(&Mech::bytes(CKM_AES_XTS, &tw), k, &plain)
                .ok_or_panic("XTS");
            let py = python(
                "import sys, warnings; warnings.simplefilter('ignore'); from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes; a=[bytes.fromhex(x) for x in sys.argv[1:]]; e=Cipher(algorithms.AES(a[0]), modes.XTS(a[1])).encryptor(); print((e.update(a[2])+e.finalize()).hex())",
                &[hex(&kv), hex(&tw), hex(&plain)],
            );
            assert_eq!(hex(&ours), py, "AES-{}-XTS of {n} bytes", key_len * 4);
            let parts: Vec<&[u8]> = plain.chunks(100).collect();
            let multi = t
                .encrypt_multi(&Mech::bytes(CKM_AES_XTS, &tw), k, &parts)
                .ok_or_panic("XTS multi");
            assert_bytes("multi-part", &multi, &ours);
            let back = t
                .decrypt(&Mech::bytes(CKM_AES_XTS, &tw), k, &ours)
                .ok_or_panic("XTS decrypt");
            assert_bytes("decrypted", &back, &plain);
        }
    }
}

/// The key type and its sizes, the data length, and key generation.
#[test]
fn aes_xts_keys_and_lengths() {
    let t = token("aes-xts-keys");
    let kv: Vec<u8> = (0..32u8).collect();
    let k = xts_key(&t, &kv);
    let m = || Mech::bytes(CKM_AES_XTS, &[7; 16]);
    expect_err("15 bytes", t.encrypt(&m(), k, &[0; 15]), CKR_DATA_LEN_RANGE);
    expect_err(
        "15 bytes",
        t.decrypt(&m(), k, &[0; 15]),
        CKR_ENCRYPTED_DATA_LEN_RANGE,
    );
    expect_err("empty", t.encrypt(&m(), k, &[]), CKR_DATA_LEN_RANGE);
    expect_err(
        "tweak of 8 bytes",
        t.encrypt_init(&Mech::bytes(CKM_AES_XTS, &[0; 8]), k),
        CKR_MECHANISM_PARAM_INVALID,
    );
    // An AES key is no XTS key, and an XTS key no AES key.
    let a = t.obj(&aes(&kv));
    expect_err(
        "CKK_AES with XTS",
        t.encrypt_init(&m(), a),
        CKR_KEY_TYPE_INCONSISTENT,
    );
    expect_err(
        "CKK_AES_XTS with ECB",
        t.encrypt_init(&Mech::new(CKM_AES_ECB), k),
        CKR_KEY_TYPE_INCONSISTENT,
    );
    for bad in [16usize, 24, 48, 65] {
        expect_err(
            &format!("XTS key of {bad} bytes"),
            t.create(&secret(CKK_AES_XTS, &vec![1; bad])),
            CKR_ATTRIBUTE_VALUE_INVALID,
        );
    }
    // Equal halves are refused (FIPS 140-3 IG C.I).
    let same = xts_key(&t, &[[9u8; 16], [9u8; 16]].concat());
    expect_err(
        "K1 = K2",
        t.encrypt_init(&m(), same),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
    );
    for len in [32 as CK_ULONG, 64] {
        let g = t
            .generate_key(
                &Mech::new(CKM_AES_XTS_KEY_GEN),
                &new_secret(CKK_AES_XTS, Some(len as usize)).without(CKA_KEY_TYPE),
            )
            .ok_or_panic("CKM_AES_XTS_KEY_GEN");
        assert_eq!(t.get_ulong(g, CKA_KEY_TYPE), CKK_AES_XTS);
        assert_eq!(t.get_ulong(g, CKA_VALUE_LEN), len);
        let c = t
            .encrypt(&m(), g, &[5; 40])
            .ok_or_panic("XTS with a generated key");
        assert_bytes(
            "round trip",
            &t.decrypt(&m(), g, &c).ok_or_panic("XTS"),
            &[5; 40],
        );
    }
    expect_err(
        "XTS key of 48 bytes generated",
        t.generate_key(
            &Mech::new(CKM_AES_XTS_KEY_GEN),
            &new_secret(CKK_AES_XTS, Some(48)).without(CKA_KEY_TYPE),
        ),
        CKR_KEY_SIZE_RANGE,
    );
}

// --- MACs --------------------------------------------------------------------------------------

/// GMAC is GCM with no plaintext: the NIST gcmEncryptExtIV128 vector (PTlen 0, AADlen 128,
/// Count 0) and McGrew–Viega test case 1 (no data at all), single- and multi-part, with the
/// parameter as CK_GCM_PARAMS and as the bare IV.
#[test]
fn aes_gmac_nist_vectors() {
    let t = token("aes-gmac");
    let k = key(&t, "77be63708971c4e240d1cb79e8d77feb");
    let iv = hx("e0e00f19fed7ba0136a797f3");
    let aad = hx("7a43ec1d9c0a5a78a0b16533a6213cab");
    let tag = hx("209fcc8d3675ed938e9c7166709dd946");
    assert_bytes(
        "GMAC",
        &t.sign(&gmac_params(&iv, 128), k, &aad).ok_or_panic("GMAC"),
        &tag,
    );
    assert_bytes(
        "GMAC (IV parameter)",
        &t.sign(&Mech::bytes(CKM_AES_GMAC, &iv), k, &aad)
            .ok_or_panic("GMAC"),
        &tag,
    );
    assert_bytes(
        "GMAC multi-part",
        &t.sign_multi(&gmac_params(&iv, 128), k, &[&aad[..5], &aad[5..]])
            .ok_or_panic("GMAC"),
        &tag,
    );
    assert_bytes(
        "GMAC 96-bit tag",
        &t.sign(&gmac_params(&iv, 96), k, &aad).ok_or_panic("GMAC"),
        &tag[..12],
    );
    t.verify(&gmac_params(&iv, 128), k, &aad, &tag)
        .ok_or_panic("GMAC verify");
    let mut bad = tag.clone();
    bad[0] ^= 1;
    expect_err(
        "GMAC wrong tag",
        t.verify(&gmac_params(&iv, 128), k, &aad, &bad),
        CKR_SIGNATURE_INVALID,
    );
    expect_err(
        "GMAC short tag",
        t.verify(&gmac_params(&iv, 128), k, &aad, &tag[..15]),
        CKR_SIGNATURE_LEN_RANGE,
    );
    let k0 = t.obj(&aes(&[0; 16]));
    assert_bytes(
        "McGrew–Viega TC1",
        &t.sign(&gmac_params(&[0; 12], 128), k0, &[])
            .ok_or_panic("GMAC"),
        &hx("58e2fccefa7e3061367f1d57a4e7455a"),
    );
    // The structure's own AAD must be empty; the tag as GCM allows it.
    let m = gmac_params_aad(&iv, b"x", 128);
    expect_err(
        "GMAC with AAD in the parameter",
        t.sign_init(&m, k),
        CKR_MECHANISM_PARAM_INVALID,
    );
    expect_err(
        "GMAC 20-bit tag",
        t.sign_init(&gmac_params(&iv, 20), k),
        CKR_MECHANISM_PARAM_INVALID,
    );
    expect_err(
        "GMAC no IV",
        t.sign_init(&Mech::new(CKM_AES_GMAC), k),
        CKR_MECHANISM_PARAM_INVALID,
    );
}

/// CBC-MAC by its definition: the first bytes of the last block of a CBC encryption under a
/// zero IV of the data padded with zeros, here through the module's own CKM_AES_CBC and the
/// openssl CLI. CKM_AES_MAC gives half a block; MAC_GENERAL 1-16 bytes.
#[test]
fn aes_mac_and_mac_general_are_cbc_mac() {
    let t = token("aes-mac");
    let p = hx(SP800_38A_PLAIN);
    for kv in [SP800_38A_KEY128, SP800_38A_KEY192, SP800_38A_KEY256] {
        let k = key(&t, kv);
        for n in [1usize, 15, 16, 17, 64] {
            let data = &p[..n];
            let mut padded = data.to_vec();
            padded.resize(n.div_ceil(16) * 16, 0);
            let cbc = t
                .encrypt(&Mech::bytes(CKM_AES_CBC, &[0; 16]), k, &padded)
                .ok_or_panic("CBC");
            let last = &cbc[cbc.len() - 16..];
            let s = Scratch::new();
            let input = s.write("in.bin", &padded);
            openssl(&[
                "enc",
                &format!("-aes-{}-cbc", hx(kv).len() * 8),
                "-nopad",
                "-K",
                kv,
                "-iv",
                &"0".repeat(32),
                "-in",
                &input,
                "-out",
                &s.p("out.bin"),
            ]);
            let o = s.read("out.bin");
            assert_bytes("openssl CBC last block", &o[o.len() - 16..], last);
            let mac = t
                .sign(&Mech::new(CKM_AES_MAC), k, data)
                .ok_or_panic("AES_MAC");
            assert_bytes(&format!("CKM_AES_MAC of {n} bytes"), &mac, &last[..8]);
            t.verify(&Mech::new(CKM_AES_MAC), k, data, &mac)
                .ok_or_panic("AES_MAC verify");
            let multi = t
                .sign_multi(
                    &Mech::new(CKM_AES_MAC),
                    k,
                    &[&data[..n / 2], &data[n / 2..]],
                )
                .ok_or_panic("AES_MAC multi");
            assert_bytes("CKM_AES_MAC multi-part", &multi, &last[..8]);
            for l in [1usize, 4, 13, 16] {
                let m = Mech::ulong(CKM_AES_MAC_GENERAL, l as CK_ULONG);
                let mac = t.sign(&m, k, data).ok_or_panic("AES_MAC_GENERAL");
                assert_bytes(&format!("MAC_GENERAL {l}"), &mac, &last[..l]);
                t.verify(
                    &Mech::ulong(CKM_AES_MAC_GENERAL, l as CK_ULONG),
                    k,
                    data,
                    &mac,
                )
                .ok_or_panic("verify");
            }
        }
        let mac = t
            .sign(&Mech::new(CKM_AES_MAC), k, &p)
            .ok_or_panic("AES_MAC");
        let mut bad = mac.clone();
        bad[7] ^= 0x80;
        expect_err(
            "wrong MAC",
            t.verify(&Mech::new(CKM_AES_MAC), k, &p, &bad),
            CKR_SIGNATURE_INVALID,
        );
        expect_err(
            "MAC of 16 bytes",
            t.verify(&Mech::new(CKM_AES_MAC), k, &p, &[0; 16]),
            CKR_SIGNATURE_LEN_RANGE,
        );
        for l in [0 as CK_ULONG, 17] {
            expect_err(
                &format!("MAC_GENERAL {l}"),
                t.sign_init(&Mech::ulong(CKM_AES_MAC_GENERAL, l), k),
                CKR_MECHANISM_PARAM_INVALID,
            );
        }
        expect_err(
            "AES_MAC with a parameter",
            t.sign_init(&Mech::ulong(CKM_AES_MAC, 8), k),
            CKR_MECHANISM_PARAM_INVALID,
        );
    }
}

/// C_GetMechanismInfo: the key sizes in bytes (AES: 16-32; XTS: the two halves, 32-64) and the
/// functions each mechanism offers.
#[test]
fn aes_modes_mechanism_info() {
    let t = token("aes-modes-info");
    let want: &[(CK_MECHANISM_TYPE, CK_ULONG, CK_ULONG, CK_FLAGS)] = &[
        (
            CKM_AES_OFB,
            16,
            32,
            CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP,
        ),
        (
            CKM_AES_CFB8,
            16,
            32,
            CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP,
        ),
        (
            CKM_AES_CFB64,
            16,
            32,
            CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP,
        ),
        (
            CKM_AES_CFB128,
            16,
            32,
            CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP,
        ),
        (CKM_AES_XTS, 32, 64, CKF_ENCRYPT | CKF_DECRYPT),
        (CKM_AES_XTS_KEY_GEN, 32, 64, CKF_GENERATE),
        (CKM_AES_MAC, 16, 32, CKF_SIGN | CKF_VERIFY),
        (CKM_AES_MAC_GENERAL, 16, 32, CKF_SIGN | CKF_VERIFY),
        (CKM_AES_GMAC, 16, 32, CKF_SIGN | CKF_VERIFY),
    ];
    let list = t.mechanism_list_raw();
    for &(m, min, max, flags) in want {
        assert!(list.contains(&m), "0x{m:x} listed");
        let info = t.mechanism_info_raw(m).ok_or_panic("C_GetMechanismInfo");
        assert_eq!(
            (info.ulMinKeySize, info.ulMaxKeySize),
            (min, max),
            "0x{m:x} sizes"
        );
        assert_eq!(info.flags, flags, "0x{m:x} flags");
    }
}
