//! PKCS#11 v3.0 Current Mechanisms §2.1.21 CKM_RSA_AES_KEY_WRAP through base §5.18
//! (C_WrapKey, C_UnwrapKey): an RSA-OAEP-wrapped ephemeral AES key followed by the target key
//! under AES key wrap with padding (RFC 5649), the key-import format of AWS KMS and CloudHSM.
//! Cross-checked both ways with the openssl CLI (`pkeyutl` OAEP, `enc -id-aesN-wrap-pad`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::der::*;
use common::p11::*;
use cryptoki_sys::*;

fn rsa_aes(aes_bits: CK_ULONG, hash: CK_MECHANISM_TYPE, mgf: CK_RSA_PKCS_MGF_TYPE) -> Mech {
    rsa_aes_key_wrap(aes_bits, hash, mgf)
}

struct Keys {
    t: Tok,
    public: CK_OBJECT_HANDLE,
    private: CK_OBJECT_HANDLE,
}

fn keys(label: &str) -> Keys {
    let t = token(label);
    let public = t.obj(&rsa_public_fixed());
    let private = t.obj(&rsa_private_fixed());
    Keys { t, public, private }
}

/// `openssl pkeyutl` OAEP of `data` with the fixed key (`decrypt` or `encrypt`).
fn openssl_oaep(s: &Scratch, op: &str, md: &str, data: &[u8]) -> Vec<u8> {
    s.write("priv.der", &fixed_rsa_private_der());
    let input = s.write("oaep-in.bin", data);
    let (mdo, mgfo) = (format!("rsa_oaep_md:{md}"), format!("rsa_mgf1_md:{md}"));
    openssl(&[
        "pkeyutl",
        op,
        "-inkey",
        &s.p("priv.der"),
        "-keyform",
        "DER",
        "-in",
        &input,
        "-pkeyopt",
        "rsa_padding_mode:oaep",
        "-pkeyopt",
        &mdo,
        "-pkeyopt",
        &mgfo,
    ])
}

/// `openssl enc -id-aesN-wrap-pad` (RFC 5649) of `data` under `k` (`-d`: unwrap).
fn openssl_kwp(s: &Scratch, k: &[u8], data: &[u8], decrypt: bool) -> Vec<u8> {
    let input = s.write("kwp-in.bin", data);
    let cipher = format!("-id-aes{}-wrap-pad", k.len() * 8);
    let kh = hex(k);
    let out = s.p("kwp-out.bin");
    let mut args = vec![
        "enc",
        cipher.as_str(),
        "-K",
        &kh,
        "-iv",
        "A65959A6",
        "-in",
        &input,
        "-out",
        &out,
    ];
    if decrypt {
        args.insert(1, "-d");
    }
    openssl(&args);
    s.read("kwp-out.bin")
}

/// The module's blob is `OAEP(K) || KWP_K(key)`: openssl takes it apart, and the module
/// unwraps it back into an equal key.
#[test]
fn rsa_aes_key_wrap_round_trip_opened_by_openssl() {
    let Keys { t, public, private } = keys("rsa-aes-wrap");
    for (bits, hash, mgf, md) in [
        (256, CKM_SHA256, CKG_MGF1_SHA256, "sha256"),
        (128, CKM_SHA_1, CKG_MGF1_SHA1, "sha1"),
        (192, CKM_SHA384, CKG_MGF1_SHA384, "sha384"),
    ] {
        for len in [16usize, 32, 21] {
            let value = t.random(len);
            let k = t.obj(&secret(CKK_GENERIC_SECRET, &value));
            let blob = t
                .wrap(&rsa_aes(bits, hash, mgf), public, k)
                .ok_or_panic("C_WrapKey");
            assert_eq!(
                blob.len(),
                256 + len.div_ceil(8) * 8 + 8,
                "OAEP block, then KWP"
            );
            let s = Scratch::new();
            let eph = openssl_oaep(&s, "-decrypt", md, &blob[..256]);
            assert_eq!(
                eph.len(),
                bits as usize / 8,
                "the ephemeral key has ulAESKeyBits"
            );
            assert_bytes(
                "openssl unwraps the KWP part",
                &openssl_kwp(&s, &eph, &blob[256..], true),
                &value,
            );
            let u = t
                .unwrap(
                    &rsa_aes(bits, hash, mgf),
                    private,
                    &blob,
                    &new_secret(CKK_GENERIC_SECRET, None),
                )
                .ok_or_panic("C_UnwrapKey");
            assert_bytes("unwrapped value", &t.get(u, CKA_VALUE), &value);
            // Two wraps of one key use two ephemeral keys.
            let again = t
                .wrap(&rsa_aes(bits, hash, mgf), public, k)
                .ok_or_panic("C_WrapKey");
            assert_ne!(again[256..], blob[256..], "a fresh AES key per wrap");
        }
    }
}

/// A blob made the way AWS KMS and CloudHSM import material is made (openssl: OAEP of a fresh
/// AES key, then id-aes256-wrap-pad of the key) unwraps into the key, as an AES key whose
/// template the unwrap rules apply to.
#[test]
fn rsa_aes_key_wrap_unwraps_an_openssl_blob() {
    let Keys { t, private, .. } = keys("rsa-aes-ossl");
    for (bits, hash, mgf, md) in [
        (256, CKM_SHA256, CKG_MGF1_SHA256, "sha256"),
        (128, CKM_SHA_1, CKG_MGF1_SHA1, "sha1"),
    ] {
        let s = Scratch::new();
        let eph = t.random(bits as usize / 8);
        let value = t.random(32);
        let blob = [
            openssl_oaep(&s, "-encrypt", md, &eph),
            openssl_kwp(&s, &eph, &value, false),
        ]
        .concat();
        let tmpl = new_secret(CKK_AES, None)
            .b(CKA_SENSITIVE, true)
            .b(CKA_EXTRACTABLE, false);
        let u = t
            .unwrap(&rsa_aes(bits, hash, mgf), private, &blob, &tmpl)
            .ok_or_panic("C_UnwrapKey");
        assert_eq!(t.get_ulong(u, CKA_VALUE_LEN), 32);
        assert!(t.get_bool(u, CKA_SENSITIVE));
        assert!(!t.get_bool(u, CKA_EXTRACTABLE));
        expect_err(
            "CKA_VALUE of the sensitive key",
            t.attr(u, CKA_VALUE),
            CKR_ATTRIBUTE_SENSITIVE,
        );
        // The key works: its ECB of a zero block is the check value openssl computes.
        let c = t
            .encrypt(&Mech::new(CKM_AES_ECB), u, &[0; 16])
            .ok_or_panic("ECB with the key");
        assert_bytes(
            "the unwrapped key encrypts as its value",
            &c,
            &openssl_aes_ecb(&value, &[0; 16]),
        );
    }
}

/// A CKA_UNWRAP_TEMPLATE that keeps the result secret is allowed with this mechanism (OAEP and
/// KWP both authenticate), and is applied.
#[test]
fn rsa_aes_key_wrap_honours_the_unwrap_template() {
    let Keys { t, public, .. } = keys("rsa-aes-tmpl");
    let private =
        t.obj(&rsa_private_fixed().nested(CKA_UNWRAP_TEMPLATE, Tmpl::new().b(CKA_SENSITIVE, true)));
    let k = t.obj(&aes(&t.random(32)));
    let blob = t
        .wrap(&rsa_aes(256, CKM_SHA256, CKG_MGF1_SHA256), public, k)
        .ok_or_panic("C_WrapKey");
    let u = t
        .unwrap(
            &rsa_aes(256, CKM_SHA256, CKG_MGF1_SHA256),
            private,
            &blob,
            &new_secret(CKK_AES, None).without(CKA_SENSITIVE),
        )
        .ok_or_panic("C_UnwrapKey under the template");
    assert!(t.get_bool(u, CKA_SENSITIVE));
    expect_err(
        "the template contradicted",
        t.unwrap(
            &rsa_aes(256, CKM_SHA256, CKG_MGF1_SHA256),
            private,
            &blob,
            &new_secret(CKK_AES, None).b(CKA_SENSITIVE, false),
        ),
        CKR_TEMPLATE_INCONSISTENT,
    );
}

#[test]
fn rsa_aes_key_wrap_refuses_bad_parameters_keys_and_blobs() {
    let Keys { t, public, private } = keys("rsa-aes-bad");
    let k = t.obj(&aes(&t.random(32)));
    let m = || rsa_aes(256, CKM_SHA256, CKG_MGF1_SHA256);
    for bits in [0, 64, 100, 512] {
        expect_err(
            &format!("ulAESKeyBits {bits}"),
            t.wrap(&rsa_aes(bits, CKM_SHA256, CKG_MGF1_SHA256), public, k),
            CKR_MECHANISM_PARAM_INVALID,
        );
    }
    let mut null_oaep = Mech::new(CKM_RSA_AES_KEY_WRAP);
    null_oaep.set_param(CK_RSA_AES_KEY_WRAP_PARAMS {
        ulAESKeyBits: 256,
        pOAEPParams: std::ptr::null_mut(),
    });
    expect_err(
        "NULL OAEP parameters",
        t.wrap(&null_oaep, public, k),
        CKR_MECHANISM_PARAM_INVALID,
    );
    expect_err(
        "no parameter",
        t.wrap(&Mech::new(CKM_RSA_AES_KEY_WRAP), public, k),
        CKR_MECHANISM_PARAM_INVALID,
    );
    expect_err(
        "OAEP with a bad hash",
        t.wrap(&rsa_aes(256, 0x1234, CKG_MGF1_SHA256), public, k),
        CKR_MECHANISM_PARAM_INVALID,
    );
    // Wrap and unwrap only.
    expect_err(
        "C_EncryptInit",
        t.encrypt_init(&m(), public),
        CKR_MECHANISM_INVALID,
    );
    expect_err(
        "C_DecryptInit",
        t.decrypt_init(&m(), private),
        CKR_MECHANISM_INVALID,
    );
    // An AES wrapping key is the wrong type.
    let kek = t.obj(&aes(&t.random(32)));
    expect_err(
        "AES wrapping key",
        t.wrap(&m(), kek, k),
        CKR_WRAPPING_KEY_TYPE_INCONSISTENT,
    );
    expect_err(
        "AES unwrapping key",
        t.unwrap(&m(), kek, &[0; 300], &new_secret(CKK_AES, None)),
        CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT,
    );
    let blob = t.wrap(&m(), public, k).ok_or_panic("C_WrapKey");
    let tmpl = new_secret(CKK_AES, None);
    for at in [0usize, 100, 255, 256, 270, blob.len() - 1] {
        let mut bad = blob.clone();
        bad[at] ^= 0x01;
        expect_err(
            &format!("blob changed at byte {at}"),
            t.unwrap(&m(), private, &bad, &tmpl),
            CKR_WRAPPED_KEY_INVALID,
        );
    }
    for n in [0usize, 255, 256] {
        expect_err(
            &format!("blob of {n} bytes"),
            t.unwrap(&m(), private, &blob[..n.min(blob.len())], &tmpl),
            CKR_WRAPPED_KEY_LEN_RANGE,
        );
    }
    expect_err(
        "KWP part cut short",
        t.unwrap(&m(), private, &blob[..blob.len() - 8], &tmpl),
        CKR_WRAPPED_KEY_INVALID,
    );
    // The parameter's AES key size must be the one the blob carries.
    expect_err(
        "unwrapped with ulAESKeyBits 128",
        t.unwrap(
            &rsa_aes(128, CKM_SHA256, CKG_MGF1_SHA256),
            private,
            &blob,
            &tmpl,
        ),
        CKR_WRAPPED_KEY_INVALID,
    );
    expect_err(
        "other OAEP hash",
        t.unwrap(
            &rsa_aes(256, CKM_SHA_1, CKG_MGF1_SHA1),
            private,
            &blob,
            &tmpl,
        ),
        CKR_WRAPPED_KEY_INVALID,
    );
    // Nothing was stored by the failed calls; the good blob still unwraps.
    t.unwrap(&m(), private, &blob, &tmpl)
        .ok_or_panic("the good blob");
    let info = t
        .mechanism_info_raw(CKM_RSA_AES_KEY_WRAP)
        .ok_or_panic("C_GetMechanismInfo");
    assert_eq!(
        (info.ulMinKeySize, info.ulMaxKeySize, info.flags),
        (1024, 4096, CKF_WRAP | CKF_UNWRAP)
    );
}

/// A private key travels as its PKCS#8 encoding (RSA here, as AWS KMS imports asymmetric
/// material): wrapped, taken apart by openssl into a key openssl reads, and unwrapped into a
/// private key whose components equal the original's.
#[test]
fn rsa_aes_key_wrap_carries_a_private_key() {
    let Keys { t, public, private } = keys("rsa-aes-priv");
    let target = t.obj(
        &rsa_private_fixed()
            .b(CKA_SENSITIVE, false)
            .b(CKA_EXTRACTABLE, true),
    );
    let m = || rsa_aes(256, CKM_SHA256, CKG_MGF1_SHA256);
    let blob = t
        .wrap(&m(), public, target)
        .ok_or_panic("C_WrapKey of a private key");
    let s = Scratch::new();
    let eph = openssl_oaep(&s, "-decrypt", "sha256", &blob[..256]);
    let p8 = openssl_kwp(&s, &eph, &blob[256..], true);
    let der = s.write("p8.der", &p8);
    let text = String::from_utf8_lossy(&openssl(&[
        "pkey", "-inform", "DER", "-in", &der, "-noout", "-text",
    ]))
    .into_owned();
    assert!(
        text.contains("Private-Key: (2048 bit"),
        "openssl reads the PKCS#8 key:\n{text}"
    );
    let tmpl = Tmpl::new()
        .u(CKA_CLASS, CKO_PRIVATE_KEY)
        .b(CKA_TOKEN, false)
        .b(CKA_SENSITIVE, false)
        .b(CKA_SIGN, true);
    let u = t
        .unwrap(&m(), private, &blob, &tmpl)
        .ok_or_panic("C_UnwrapKey of a private key");
    assert_eq!(t.get_ulong(u, CKA_KEY_TYPE), CKK_RSA);
    for a in [CKA_MODULUS, CKA_PUBLIC_EXPONENT] {
        assert_bytes(
            &format!("attribute 0x{a:x}"),
            &t.get(u, a),
            &t.get(target, a),
        );
    }
    // The private half came across too: what it signs, the original's public key verifies.
    let sm = Mech::new(CKM_SHA256_RSA_PKCS);
    let sig = t
        .sign(&sm, u, b"imported")
        .ok_or_panic("C_Sign with the unwrapped key");
    t.verify(&sm, public, b"imported", &sig)
        .ok_or_panic("C_Verify with the original public key");
}
