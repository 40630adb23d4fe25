//! PKCS#11 v3.0 base §5.18 (C_WrapKey, C_UnwrapKey) with Current Mechanisms §2.14 (AES key
//! wrap: CKM_AES_KEY_WRAP per RFC 3394, CKM_AES_KEY_WRAP_KWP per RFC 5649, and private keys
//! wrapped as PKCS#8), §2.12 (AES-GCM as a wrapping mechanism) and §2.1.8 (RSA-OAEP wrapping):
//! RFC 3394 §4.1/§4.6 and RFC 5649 §6 known answers, private-key wrapping checked with Python
//! `cryptography` and OpenSSL, and envelope encryption as a KMS does it (a non-extractable
//! master key wrapping per-message data keys).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::der::*;
use common::p11::*;
use common::vectors::*;
use cryptoki_sys::*;

/// RFC 3394 §4.1 and §4.6 through C_WrapKey/C_UnwrapKey; C_Encrypt with CKM_AES_KEY_WRAP on
/// raw data when the mechanism info says it encrypts.
#[test]
fn aes_key_wrap_rfc3394() {
    let t = token("kw-3394");
    for (what, kek, key, wrapped) in [
        ("RFC 3394 4.1", KW41_KEK, KW41_KEY, KW41_WRAPPED),
        (
            "RFC 3394 4.6",
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            KW46_KEY,
            KW46_WRAPPED,
        ),
    ] {
        let kek = t.obj(&aes(&hx(kek)));
        let k = t.obj(&aes(&hx(key)));
        let got = t
            .wrap(&Mech::new(CKM_AES_KEY_WRAP), kek, k)
            .ok_or_panic(&format!("{what}: C_WrapKey"));
        assert_bytes(&format!("{what}: wrapped key"), &got, &hx(wrapped));
        let u = t
            .unwrap(
                &Mech::new(CKM_AES_KEY_WRAP),
                kek,
                &hx(wrapped),
                &new_secret(CKK_AES, None),
            )
            .ok_or_panic(&format!("{what}: C_UnwrapKey"));
        assert_bytes(
            &format!("{what}: unwrapped value"),
            &t.get(u, CKA_VALUE),
            &hx(key),
        );
        assert_eq!(t.get_ulong(u, CKA_VALUE_LEN), hx(key).len() as CK_ULONG);
        assert!(
            !t.get_bool(u, CKA_LOCAL),
            "{what}: an unwrapped key is not CKA_LOCAL"
        );

        let info = t
            .mechanism_info(CKM_AES_KEY_WRAP)
            .ok_or_panic("C_GetMechanismInfo");
        if info.flags & CKF_ENCRYPT != 0 {
            let c = t
                .encrypt(&Mech::new(CKM_AES_KEY_WRAP), kek, &hx(key))
                .ok_or_panic(&format!("{what}: C_Encrypt CKM_AES_KEY_WRAP"));
            assert_bytes(&format!("{what}: C_Encrypt"), &c, &hx(wrapped));
            let p = t
                .decrypt(&Mech::new(CKM_AES_KEY_WRAP), kek, &hx(wrapped))
                .ok_or_panic(&format!("{what}: C_Decrypt CKM_AES_KEY_WRAP"));
            assert_bytes(&format!("{what}: C_Decrypt"), &p, &hx(key));
        }
        let mut bad = hx(wrapped);
        bad[5] ^= 1;
        expect_err(
            &format!("{what}: unwrap of a corrupted blob"),
            t.unwrap(
                &Mech::new(CKM_AES_KEY_WRAP),
                kek,
                &bad,
                &new_secret(CKK_AES, None),
            ),
            CKR_WRAPPED_KEY_INVALID,
        );
        expect_err(
            &format!("{what}: unwrap of a blob of 23 bytes"),
            t.unwrap(
                &Mech::new(CKM_AES_KEY_WRAP),
                kek,
                &hx(wrapped)[..23],
                &new_secret(CKK_AES, None),
            ),
            CKR_WRAPPED_KEY_LEN_RANGE,
        );
    }
}

/// RFC 5649 §6: a 20-octet and a 7-octet key (generic secrets) under a 192-bit KEK.
#[test]
fn aes_key_wrap_kwp_rfc5649() {
    let t = token("kwp-5649");
    let kek = t.obj(&aes(&hx(KWP_KEK)));
    for (what, key, wrapped) in [
        ("RFC 5649 20 octets", KWP_KEY20, KWP_WRAPPED20),
        ("RFC 5649 7 octets", KWP_KEY7, KWP_WRAPPED7),
    ] {
        let k = t.obj(&secret(CKK_GENERIC_SECRET, &hx(key)));
        let got = t
            .wrap(&Mech::new(CKM_AES_KEY_WRAP_KWP), kek, k)
            .ok_or_panic(&format!("{what}: C_WrapKey"));
        assert_bytes(&format!("{what}: wrapped key"), &got, &hx(wrapped));
        let u = t
            .unwrap(
                &Mech::new(CKM_AES_KEY_WRAP_KWP),
                kek,
                &hx(wrapped),
                &new_secret(CKK_GENERIC_SECRET, None),
            )
            .ok_or_panic(&format!("{what}: C_UnwrapKey"));
        assert_bytes(
            &format!("{what}: unwrapped value"),
            &t.get(u, CKA_VALUE),
            &hx(key),
        );
        let mut bad = hx(wrapped);
        bad[0] ^= 1;
        expect_err(
            &format!("{what}: unwrap of a corrupted blob"),
            t.unwrap(
                &Mech::new(CKM_AES_KEY_WRAP_KWP),
                kek,
                &bad,
                &new_secret(CKK_GENERIC_SECRET, None),
            ),
            CKR_WRAPPED_KEY_INVALID,
        );
    }
}

const PY_KWP_UNWRAP: &str = "import sys; from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding as u; print(u(bytes.fromhex(sys.argv[1]), bytes.fromhex(sys.argv[2])).hex())";

/// Private keys wrapped with CKM_AES_KEY_WRAP_KWP are PKCS#8 PrivateKeyInfo (checked by
/// unwrapping with Python and reading with OpenSSL), and unwrap into working keys.
#[test]
fn private_keys_wrap_as_pkcs8_and_unwrap_into_working_keys() {
    let t = token("wrap-private");
    let kek_value = t.random(32);
    let kek = t.obj(&aes(&kek_value));
    // An EC P-256 key pair generated extractable.
    let (pt, st) = ec_pair_templates(&hx(OID_P256));
    let (public, private) = t
        .generate_pair(
            &Mech::new(CKM_EC_KEY_PAIR_GEN),
            &pt,
            &st.b(CKA_EXTRACTABLE, true),
        )
        .ok_or_panic("C_GenerateKeyPair P-256 extractable");
    let wrapped = t
        .wrap(&Mech::new(CKM_AES_KEY_WRAP_KWP), kek, private)
        .ok_or_panic("C_WrapKey of an EC private key with KWP");
    let unwrapped_tmpl = Tmpl::new()
        .u(CKA_CLASS, CKO_PRIVATE_KEY)
        .u(CKA_KEY_TYPE, CKK_EC)
        .b(CKA_TOKEN, false)
        .b(CKA_PRIVATE, true)
        .b(CKA_SENSITIVE, true)
        .b(CKA_SIGN, true);
    let u = t
        .unwrap(
            &Mech::new(CKM_AES_KEY_WRAP_KWP),
            kek,
            &wrapped,
            &unwrapped_tmpl,
        )
        .ok_or_panic("C_UnwrapKey of the EC private key");
    assert_bytes(
        "unwrapped CKA_EC_PARAMS",
        &t.get(u, CKA_EC_PARAMS),
        &hx(OID_P256),
    );
    let sig = t
        .sign(&Mech::new(CKM_ECDSA_SHA256), u, b"m")
        .ok_or_panic("sign with the unwrapped key");
    t.verify(&Mech::new(CKM_ECDSA_SHA256), public, b"m", &sig)
        .ok_or_panic("the unwrapped key is the original");
    let point = unwrap_octet_string(&t.get(public, CKA_EC_POINT));

    // The fixed RSA key, imported extractable.
    let rsa = t.obj(&rsa_private_fixed().b(CKA_EXTRACTABLE, true));
    let rsa_wrapped = t
        .wrap(&Mech::new(CKM_AES_KEY_WRAP_KWP), kek, rsa)
        .ok_or_panic("C_WrapKey of an RSA private key with KWP");
    let ru = t
        .unwrap(
            &Mech::new(CKM_AES_KEY_WRAP_KWP),
            kek,
            &rsa_wrapped,
            &unwrapped_tmpl.clone().u(CKA_KEY_TYPE, CKK_RSA),
        )
        .ok_or_panic("C_UnwrapKey of the RSA private key");
    assert_bytes(
        "unwrapped RSA key signs like the original",
        &t.sign(&Mech::new(CKM_SHA256_RSA_PKCS), ru, RSA_KAT_MESSAGE)
            .ok_or_panic("sign"),
        &hx(RSA_KAT_SHA256_PKCS1_SIG),
    );

    require_python_cryptography();
    let s = Scratch::new();
    for (what, blob, want_spki) in [
        ("EC", &wrapped, ec_spki(&hx(OID_P256), &point)),
        (
            "RSA",
            &rsa_wrapped,
            rsa_spki(
                &common::keys::unhex(common::keys::RSA_MODULUS),
                &common::keys::unhex(common::keys::RSA_PUBLIC_EXPONENT),
            ),
        ),
    ] {
        let p8 = hx(&python(PY_KWP_UNWRAP, &[hex(&kek_value), hex(blob)]));
        s.write("p8.der", &p8);
        openssl(&[
            "pkey",
            "-inform",
            "DER",
            "-in",
            &s.p("p8.der"),
            "-pubout",
            "-outform",
            "DER",
            "-out",
            &s.p("spki.der"),
        ]);
        assert_bytes(
            &format!("{what}: public key of the wrapped PKCS#8"),
            &s.read("spki.der"),
            &want_spki,
        );
        // PrivateKeyInfo: SEQUENCE { INTEGER 0, AlgorithmIdentifier, OCTET STRING } (RFC 5208).
        let (tag, body, _) = parse_tlv(&p8);
        assert_eq!(tag, 0x30, "{what}: PKCS#8 is a SEQUENCE");
        let (tag, version, _) = parse_tlv(body);
        assert_eq!(
            (tag, version),
            (0x02, &[0u8][..]),
            "{what}: PKCS#8 version 0"
        );
    }
}

/// RSA-OAEP wraps an AES key (the wrapped bytes decrypt in OpenSSL to the key value) and
/// unwraps it back.
#[test]
fn rsa_oaep_wraps_and_unwraps_an_aes_key() {
    let t = token("wrap-oaep");
    let public = t.obj(&rsa_public_fixed());
    let private = t.obj(&rsa_private_fixed());
    let value = t.random(32);
    let k = t.obj(&aes(&value));
    let m = || oaep(CKM_SHA256, CKG_MGF1_SHA256, &[]);
    let wrapped = t.wrap(&m(), public, k).ok_or_panic("C_WrapKey RSA-OAEP");
    assert_eq!(wrapped.len(), 256);
    let s = Scratch::new();
    s.write("priv.der", &fixed_rsa_private_der());
    s.write("w.bin", &wrapped);
    let out = openssl(&[
        "pkeyutl",
        "-decrypt",
        "-inkey",
        &s.p("priv.der"),
        "-keyform",
        "DER",
        "-in",
        &s.p("w.bin"),
        "-pkeyopt",
        "rsa_padding_mode:oaep",
        "-pkeyopt",
        "rsa_oaep_md:sha256",
        "-pkeyopt",
        "rsa_mgf1_md:sha256",
    ]);
    assert_bytes("OAEP-wrapped key decrypted by openssl", &out, &value);
    let u = t
        .unwrap(&m(), private, &wrapped, &new_secret(CKK_AES, None))
        .ok_or_panic("C_UnwrapKey RSA-OAEP");
    assert_bytes("OAEP-unwrapped value", &t.get(u, CKA_VALUE), &value);
    assert_eq!(t.get_ulong(u, CKA_VALUE_LEN), 32);
}

/// AES-GCM as a wrapping mechanism: the output is ciphertext || tag (Python decrypts it) and
/// unwraps back.
#[test]
fn aes_gcm_wraps_and_unwraps() {
    let t = token("wrap-gcm");
    let kek_value = t.random(32);
    let kek = t.obj(&aes(&kek_value));
    let value = t.random(16);
    let k = t.obj(&aes(&value));
    let iv = t.random(12);
    let wrapped = t
        .wrap(&gcm(&iv, b"wrap", 128), kek, k)
        .ok_or_panic("C_WrapKey AES-GCM");
    assert_eq!(wrapped.len(), 32, "16-byte key plus 16-byte tag");
    let u = t
        .unwrap(
            &gcm(&iv, b"wrap", 128),
            kek,
            &wrapped,
            &new_secret(CKK_AES, None),
        )
        .ok_or_panic("C_UnwrapKey AES-GCM");
    assert_bytes("GCM-unwrapped value", &t.get(u, CKA_VALUE), &value);
    let mut bad = wrapped.clone();
    bad[31] ^= 1;
    expect_err_in(
        "GCM unwrap with a bad tag",
        t.unwrap(
            &gcm(&iv, b"wrap", 128),
            kek,
            &bad,
            &new_secret(CKK_AES, None),
        ),
        &[CKR_WRAPPED_KEY_INVALID, CKR_ENCRYPTED_DATA_INVALID],
    );
    require_python_cryptography();
    let py = python(
        "import sys; from cryptography.hazmat.primitives.ciphers.aead import AESGCM; a=[bytes.fromhex(x) for x in sys.argv[1:]]; print(AESGCM(a[0]).decrypt(a[1], a[2], b'wrap').hex())",
        &[hex(&kek_value), hex(&iv), hex(&wrapped)],
    );
    assert_eq!(
        py,
        hex(&value),
        "Python AESGCM decryption of the wrapped key"
    );
}

/// Envelope encryption: a sensitive, non-extractable AES-256 master key (wrap/unwrap only) on
/// the token; per message a fresh extractable AES-256 data key, wrapped with KWP, data
/// encrypted with AES-GCM, data key destroyed; later each data key is unwrapped and the data
/// decrypted. The master key's value can never be read, wrapped, or used on data.
#[test]
fn envelope_encryption_with_a_non_extractable_master_key() {
    let t = token("envelope");
    let master = t
        .generate_key(
            &Mech::new(CKM_AES_KEY_GEN),
            &Tmpl::new()
                .u(CKA_CLASS, CKO_SECRET_KEY)
                .u(CKA_KEY_TYPE, CKK_AES)
                .u(CKA_VALUE_LEN, 32)
                .b(CKA_TOKEN, true)
                .b(CKA_PRIVATE, true)
                .b(CKA_SENSITIVE, true)
                .b(CKA_EXTRACTABLE, false)
                .b(CKA_WRAP, true)
                .b(CKA_UNWRAP, true)
                .b(CKA_ENCRYPT, false)
                .b(CKA_DECRYPT, false)
                .bytes(CKA_LABEL, b"kms master"),
        )
        .ok_or_panic("generate the master key");
    let data_key_tmpl = Tmpl::new()
        .u(CKA_CLASS, CKO_SECRET_KEY)
        .u(CKA_KEY_TYPE, CKK_AES)
        .u(CKA_VALUE_LEN, 32)
        .b(CKA_TOKEN, false)
        .b(CKA_EXTRACTABLE, true)
        .b(CKA_ENCRYPT, true)
        .b(CKA_DECRYPT, true);
    let messages: Vec<Vec<u8>> = (0..3)
        .map(|i| format!("customer record {i}: {}", "x".repeat(i * 50)).into_bytes())
        .collect();
    let mut stored = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let dk = t
            .generate_key(&Mech::new(CKM_AES_KEY_GEN), &data_key_tmpl)
            .ok_or_panic("generate a data key");
        let wrapped = t
            .wrap(&Mech::new(CKM_AES_KEY_WRAP_KWP), master, dk)
            .ok_or_panic("wrap the data key under the master key");
        assert_eq!(wrapped.len(), 40, "KWP of 32 bytes is 40 bytes");
        let iv = t.random(12);
        let aad = format!("message {i}").into_bytes();
        let ct = t
            .encrypt(&gcm(&iv, &aad, 128), dk, m)
            .ok_or_panic("encrypt with the data key");
        t.destroy(dk).ok_or_panic("destroy the data key");
        stored.push((wrapped, iv, aad, ct));
    }
    // Later, in another session: unwrap each data key and decrypt.
    let s2 = t.open_session();
    assert_ne!(s2, t.h);
    for ((wrapped, iv, aad, ct), m) in stored.iter().zip(&messages) {
        let dk = t
            .unwrap(
                &Mech::new(CKM_AES_KEY_WRAP_KWP),
                master,
                wrapped,
                &Tmpl::new()
                    .u(CKA_CLASS, CKO_SECRET_KEY)
                    .u(CKA_KEY_TYPE, CKK_AES)
                    .b(CKA_TOKEN, false)
                    .b(CKA_SENSITIVE, true)
                    .b(CKA_EXTRACTABLE, false)
                    .b(CKA_DECRYPT, true),
            )
            .ok_or_panic("unwrap the data key");
        let plain = t
            .decrypt(&gcm(iv, aad, 128), dk, ct)
            .ok_or_panic("decrypt with the data key");
        assert_bytes("envelope round trip", &plain, m);
        t.destroy(dk).ok_or_panic("destroy the unwrapped data key");
    }
    // The master key stays inside.
    expect_err(
        "read the master key's CKA_VALUE",
        t.attr(master, CKA_VALUE),
        CKR_ATTRIBUTE_SENSITIVE,
    );
    let other_kek = t.obj(&aes(&[9u8; 32]));
    expect_err(
        "wrap the master key",
        t.wrap(&Mech::new(CKM_AES_KEY_WRAP_KWP), other_kek, master),
        CKR_KEY_UNEXTRACTABLE,
    );
    expect_err(
        "wrap the master key with itself",
        t.wrap(&Mech::new(CKM_AES_KEY_WRAP_KWP), master, master),
        CKR_KEY_UNEXTRACTABLE,
    );
    expect_err(
        "encrypt data with the master key",
        t.encrypt_init(&gcm(&[0u8; 12], &[], 128), master),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
    );
    expect_err(
        "make the master key extractable",
        t.set(master, &Tmpl::new().b(CKA_EXTRACTABLE, true)),
        CKR_ATTRIBUTE_READ_ONLY,
    );
    expect_err(
        "make the master key non-sensitive",
        t.set(master, &Tmpl::new().b(CKA_SENSITIVE, false)),
        CKR_ATTRIBUTE_READ_ONLY,
    );
    assert!(t.get_bool(master, CKA_NEVER_EXTRACTABLE));
    assert!(t.get_bool(master, CKA_ALWAYS_SENSITIVE));
}

/// RFC 8410 §10.3: an Ed25519 private key and its public key.
const RFC8410_SEED: &str = "d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842";
const RFC8410_PUBLIC: &str = "19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1";
const RFC8410_PKCS8: &str = "302e020100300506032b657004220420";

/// The PKCS#8 PrivateKeyInfo (v1) of an RSA key (RFC 5208, RFC 8017 A.1).
fn rsa_pkcs8(pkcs1: &[u8]) -> Vec<u8> {
    seq(&[
        uint(&[0]),
        seq(&[OID_RSA_ENCRYPTION.to_vec(), null()]),
        octet_string(pkcs1),
    ])
}

/// The PKCS#8 PrivateKeyInfo of a P-256 scalar, as OpenSSL writes it (RFC 5915 inside).
fn p256_pkcs8(d: &[u8]) -> Vec<u8> {
    seq(&[
        uint(&[0]),
        seq(&[OID_EC_PUBLIC_KEY.to_vec(), hx(OID_P256)]),
        octet_string(&seq(&[uint(&[1]), octet_string(d)])),
    ])
}

fn ed25519_private(seed: &[u8]) -> Tmpl {
    Tmpl::new()
        .u(CKA_CLASS, CKO_PRIVATE_KEY)
        .u(CKA_KEY_TYPE, CKK_EC_EDWARDS)
        .b(CKA_TOKEN, false)
        .b(CKA_PRIVATE, true)
        .b(CKA_SIGN, true)
        .b(CKA_EXTRACTABLE, true)
        .bytes(CKA_EC_PARAMS, hx(OID_ED25519))
        .bytes(CKA_VALUE, seed)
}

fn private_template(key_type: Option<CK_KEY_TYPE>) -> Tmpl {
    let t = Tmpl::new()
        .u(CKA_CLASS, CKO_PRIVATE_KEY)
        .b(CKA_TOKEN, false)
        .b(CKA_PRIVATE, true)
        .b(CKA_SIGN, true);
    match key_type {
        Some(k) => t.u(CKA_KEY_TYPE, k),
        None => t,
    }
}

fn count_private_keys(t: &Tok) -> usize {
    use cryptoki::object::{Attribute, ObjectClass};
    t.session
        .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])
        .expect("C_FindObjects")
        .len()
}

/// The wrapped bytes are exactly the PKCS#8 encodings (RFC 8410 §10.3 for Ed25519, the PKCS#1
/// key of tests/common for RSA): wrapped with CKM_AES_CBC_PAD and decrypted with C_Decrypt.
/// Unwrapping infers CKA_KEY_TYPE from the PKCS#8 algorithm when the template leaves it out, and
/// the new key gets CKA_PUBLIC_KEY_INFO and the origin of an unwrapped key.
#[test]
fn private_key_pkcs8_known_answers_with_aes_cbc_pad() {
    let t = token("wrap-pkcs8-kat");
    let kek = t.obj(&aes(&hx(KW46_KEY)));
    let iv = hx("000102030405060708090a0b0c0d0e0f");
    let cbc = || Mech::bytes(CKM_AES_CBC_PAD, &iv);

    let ed = t.obj(&ed25519_private(&hx(RFC8410_SEED)));
    let wrapped = t
        .wrap(&cbc(), kek, ed)
        .ok_or_panic("C_WrapKey Ed25519 CBC_PAD");
    let p8 = t
        .decrypt(&cbc(), kek, &wrapped)
        .ok_or_panic("C_Decrypt of the wrapped Ed25519 key");
    assert_bytes(
        "Ed25519 PKCS#8 (RFC 8410 §10.3)",
        &p8,
        &hx(&format!("{RFC8410_PKCS8}{RFC8410_SEED}")),
    );
    let u = t
        .unwrap(&cbc(), kek, &wrapped, &private_template(None))
        .ok_or_panic("C_UnwrapKey Ed25519 without CKA_KEY_TYPE");
    assert_eq!(t.get_ulong(u, CKA_KEY_TYPE), CKK_EC_EDWARDS);
    assert_bytes(
        "Ed25519 CKA_EC_PARAMS",
        &t.get(u, CKA_EC_PARAMS),
        &hx(OID_ED25519),
    );
    assert_bytes(
        "Ed25519 CKA_PUBLIC_KEY_INFO",
        &t.get(u, CKA_PUBLIC_KEY_INFO),
        &ed25519_spki(&hx(RFC8410_PUBLIC)),
    );
    assert_bytes(
        "Ed25519 signature of the unwrapped key",
        &t.sign(&Mech::new(CKM_EDDSA), u, b"m").ok_or_panic("sign"),
        &t.sign(&Mech::new(CKM_EDDSA), ed, b"m").ok_or_panic("sign"),
    );
    for (ty, want) in [
        (CKA_LOCAL, false),
        (CKA_ALWAYS_SENSITIVE, false),
        (CKA_NEVER_EXTRACTABLE, false),
        (CKA_SENSITIVE, true),
        (CKA_EXTRACTABLE, false),
    ] {
        assert_eq!(
            t.get_bool(u, ty),
            want,
            "unwrapped Ed25519 attribute {ty:#x}"
        );
    }
    expect_err(
        "read the unwrapped Ed25519 CKA_VALUE",
        t.attr(u, CKA_VALUE),
        CKR_ATTRIBUTE_SENSITIVE,
    );

    let rsa = t.obj(&rsa_private_fixed().b(CKA_EXTRACTABLE, true));
    let wrapped = t
        .wrap(&cbc(), kek, rsa)
        .ok_or_panic("C_WrapKey RSA CBC_PAD");
    let p8 = t
        .decrypt(&cbc(), kek, &wrapped)
        .ok_or_panic("C_Decrypt of the wrapped RSA key");
    assert_bytes(
        "RSA PKCS#8 (RFC 5208 with the PKCS#1 RSAPrivateKey)",
        &p8,
        &rsa_pkcs8(&fixed_rsa_private_der()),
    );
    let u = t
        .unwrap(&cbc(), kek, &wrapped, &private_template(None))
        .ok_or_panic("C_UnwrapKey RSA without CKA_KEY_TYPE");
    assert_eq!(t.get_ulong(u, CKA_KEY_TYPE), CKK_RSA);
    assert_bytes(
        "unwrapped CKA_MODULUS",
        &t.get(u, CKA_MODULUS),
        &common::keys::unhex(common::keys::RSA_MODULUS),
    );
    assert_bytes(
        "unwrapped RSA CKA_PUBLIC_KEY_INFO",
        &t.get(u, CKA_PUBLIC_KEY_INFO),
        &rsa_spki(
            &common::keys::unhex(common::keys::RSA_MODULUS),
            &common::keys::unhex(common::keys::RSA_PUBLIC_EXPONENT),
        ),
    );
    for ty in [CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_COEFFICIENT] {
        expect_err(
            &format!("read unwrapped RSA attribute {ty:#x}"),
            t.attr(u, ty),
            CKR_ATTRIBUTE_SENSITIVE,
        );
    }
    assert_bytes(
        "unwrapped RSA key signs like the original",
        &t.sign(&Mech::new(CKM_SHA256_RSA_PKCS), u, RSA_KAT_MESSAGE)
            .ok_or_panic("sign"),
        &hx(RSA_KAT_SHA256_PKCS1_SIG),
    );
}

/// P-384 and P-521 keys under AES-GCM, Ed25519 under CKM_AES_KEY_WRAP (its PKCS#8 is 48 bytes).
/// CKM_AES_KEY_WRAP does not pad: a P-256 PKCS#8 (138 bytes) is CKR_KEY_SIZE_RANGE.
#[test]
fn private_keys_wrap_under_gcm_and_key_wrap() {
    let t = token("wrap-private-modes");
    let kek = t.obj(&aes(&t.random(32)));
    for oid in [OID_P384, OID_P521] {
        let (pt, st) = ec_pair_templates(&hx(oid));
        let (public, private) = t
            .generate_pair(
                &Mech::new(CKM_EC_KEY_PAIR_GEN),
                &pt,
                &st.b(CKA_EXTRACTABLE, true),
            )
            .ok_or_panic("C_GenerateKeyPair");
        let iv = t.random(12);
        let wrapped = t
            .wrap(&gcm(&iv, b"ec", 128), kek, private)
            .ok_or_panic(&format!("C_WrapKey {oid} with AES-GCM"));
        let u = t
            .unwrap(
                &gcm(&iv, b"ec", 128),
                kek,
                &wrapped,
                &private_template(Some(CKK_EC)),
            )
            .ok_or_panic(&format!("C_UnwrapKey {oid} with AES-GCM"));
        assert_bytes("CKA_EC_PARAMS", &t.get(u, CKA_EC_PARAMS), &hx(oid));
        assert_bytes(
            "CKA_PUBLIC_KEY_INFO of the unwrapped key",
            &t.get(u, CKA_PUBLIC_KEY_INFO),
            &t.get(public, CKA_PUBLIC_KEY_INFO),
        );
        let sig = t
            .sign(&Mech::new(CKM_ECDSA_SHA384), u, b"m")
            .ok_or_panic("sign with the unwrapped key");
        t.verify(&Mech::new(CKM_ECDSA_SHA384), public, b"m", &sig)
            .ok_or_panic("the unwrapped key is the original");
        let mut bad = wrapped.clone();
        bad[3] ^= 1;
        expect_err_in(
            "GCM unwrap of a damaged private key",
            t.unwrap(
                &gcm(&iv, b"ec", 128),
                kek,
                &bad,
                &private_template(Some(CKK_EC)),
            ),
            &[CKR_WRAPPED_KEY_INVALID, CKR_ENCRYPTED_DATA_INVALID],
        );
    }

    let ed = t.obj(&ed25519_private(&hx(RFC8410_SEED)));
    let wrapped = t
        .wrap(&Mech::new(CKM_AES_KEY_WRAP), kek, ed)
        .ok_or_panic("C_WrapKey Ed25519 with CKM_AES_KEY_WRAP");
    assert_eq!(wrapped.len(), 56, "48 bytes of PKCS#8 plus 8");
    let u = t
        .unwrap(
            &Mech::new(CKM_AES_KEY_WRAP),
            kek,
            &wrapped,
            &private_template(Some(CKK_EC_EDWARDS)),
        )
        .ok_or_panic("C_UnwrapKey Ed25519 with CKM_AES_KEY_WRAP");
    assert_bytes(
        "Ed25519 signature of the unwrapped key",
        &t.sign(&Mech::new(CKM_EDDSA), u, b"m").ok_or_panic("sign"),
        &t.sign(&Mech::new(CKM_EDDSA), ed, b"m").ok_or_panic("sign"),
    );

    let (pt, st) = ec_pair_templates(&hx(OID_P256));
    let (_, p256) = t
        .generate_pair(
            &Mech::new(CKM_EC_KEY_PAIR_GEN),
            &pt,
            &st.b(CKA_EXTRACTABLE, true),
        )
        .ok_or_panic("C_GenerateKeyPair P-256");
    expect_err(
        "CKM_AES_KEY_WRAP of a P-256 PKCS#8 (not a multiple of 8 bytes)",
        t.wrap(&Mech::new(CKM_AES_KEY_WRAP), kek, p256),
        CKR_KEY_SIZE_RANGE,
    );
}

/// Unwrapping what is not a good PKCS#8 private key: garbage, an RSA key whose CRT coefficient
/// is wrong, a P-256 scalar equal to the group order, a key of another type than the template
/// names. Each fails and leaves no object behind.
#[test]
fn bad_pkcs8_does_not_unwrap() {
    let t = token("wrap-pkcs8-bad");
    let kek = t.obj(&aes(&t.random(32)));
    let iv = t.random(16);
    let cbc = || Mech::bytes(CKM_AES_CBC_PAD, &iv);
    let before = count_private_keys(&t);

    // Garbage through KWP: a random "key" unwrapped as a private key, with and without a type.
    let junk = t.obj(&secret(CKK_GENERIC_SECRET, &t.random(70)));
    let wrapped = t
        .wrap(&Mech::new(CKM_AES_KEY_WRAP_KWP), kek, junk)
        .ok_or_panic("wrap 70 random bytes");
    for kt in [Some(CKK_EC), Some(CKK_RSA), None] {
        expect_err(
            &format!("unwrap garbage as a private key of type {kt:?}"),
            t.unwrap(
                &Mech::new(CKM_AES_KEY_WRAP_KWP),
                kek,
                &wrapped,
                &private_template(kt),
            ),
            CKR_WRAPPED_KEY_INVALID,
        );
    }

    use common::keys::*;
    let bad_rsa = rsa_pkcs8(&rsa_private_pkcs1(
        &unhex(RSA_MODULUS),
        &unhex(RSA_PUBLIC_EXPONENT),
        &unhex(RSA_PRIVATE_EXPONENT),
        &unhex(RSA_PRIME_1),
        &unhex(RSA_PRIME_2),
        &unhex(RSA_EXPONENT_1),
        &unhex(RSA_EXPONENT_2),
        // The coefficient replaced by another CRT value.
        &unhex(RSA_EXPONENT_1),
    ));
    let order = hx("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
    let mut trailing = rsa_pkcs8(&fixed_rsa_private_der());
    trailing.push(0);
    for (what, p8, kt) in [
        ("RSA with a wrong coefficient", bad_rsa, CKK_RSA),
        ("RSA with a trailing byte", trailing, CKK_RSA),
        (
            "P-256 scalar equal to the order",
            p256_pkcs8(&order),
            CKK_EC,
        ),
        ("P-256 scalar zero", p256_pkcs8(&[0u8; 32]), CKK_EC),
    ] {
        let c = t.encrypt(&cbc(), kek, &p8).ok_or_panic("C_Encrypt CBC_PAD");
        expect_err(
            &format!("unwrap {what}"),
            t.unwrap(&cbc(), kek, &c, &private_template(Some(kt))),
            CKR_WRAPPED_KEY_INVALID,
        );
    }
    // The good P-256 encoding unwraps (so the failures above are the values, not the form).
    let good = p256_pkcs8(&hx(EC_PRIVATE_VALUE));
    let c = t
        .encrypt(&cbc(), kek, &good)
        .ok_or_panic("C_Encrypt CBC_PAD");
    let u = t
        .unwrap(&cbc(), kek, &c, &private_template(Some(CKK_EC)))
        .ok_or_panic("unwrap a hand-made P-256 PKCS#8");
    t.destroy(u).ok_or_panic("destroy");

    // A good RSA key unwrapped as an EC key: the template contradicts the key.
    let rsa = t.obj(&rsa_private_fixed().b(CKA_EXTRACTABLE, true));
    let wrapped = t
        .wrap(&Mech::new(CKM_AES_KEY_WRAP_KWP), kek, rsa)
        .ok_or_panic("wrap the RSA key");
    let with_rsa = count_private_keys(&t);
    for kt in [CKK_EC, CKK_EC_EDWARDS] {
        expect_err(
            &format!("unwrap an RSA PKCS#8 with CKA_KEY_TYPE {kt:#x}"),
            t.unwrap(
                &Mech::new(CKM_AES_KEY_WRAP_KWP),
                kek,
                &wrapped,
                &private_template(Some(kt)),
            ),
            CKR_TEMPLATE_INCONSISTENT,
        );
    }
    assert_eq!(
        count_private_keys(&t),
        with_rsa,
        "a failed unwrap creates nothing"
    );
    assert_eq!(with_rsa, before + 1);
}

/// The extractability policy holds for private keys: CKA_EXTRACTABLE false is
/// CKR_KEY_UNEXTRACTABLE, CKA_WRAP_WITH_TRUSTED under an untrusted key is
/// CKR_KEY_NOT_WRAPPABLE; CKA_UNWRAP_TEMPLATE of the unwrapping key is imposed on the new key.
#[test]
fn private_key_wrap_policy() {
    let t = token("wrap-private-policy");
    let kek = t.obj(&aes(&t.random(32)));
    let kwp = || Mech::new(CKM_AES_KEY_WRAP_KWP);
    let rsa = t.obj(&rsa_private_fixed());
    expect_err(
        "wrap a private key imported without CKA_EXTRACTABLE",
        t.wrap(&kwp(), kek, rsa),
        CKR_KEY_UNEXTRACTABLE,
    );
    let ed = t.obj(&ed25519_private(&hx(RFC8410_SEED)).b(CKA_EXTRACTABLE, false));
    expect_err(
        "wrap a non-extractable Ed25519 key",
        t.wrap(&kwp(), kek, ed),
        CKR_KEY_UNEXTRACTABLE,
    );
    let trusted_only = t.obj(&ed25519_private(&hx(RFC8410_SEED)).b(CKA_WRAP_WITH_TRUSTED, true));
    expect_err(
        "wrap a CKA_WRAP_WITH_TRUSTED key under an untrusted key",
        t.wrap(&kwp(), kek, trusted_only),
        CKR_KEY_NOT_WRAPPABLE,
    );

    let value = t.random(32);
    let restricting = t.obj(&aes(&value).nested(
        CKA_UNWRAP_TEMPLATE,
        Tmpl::new().b(CKA_DECRYPT, false).b(CKA_SENSITIVE, true),
    ));
    let rsa = t.obj(&rsa_private_fixed().b(CKA_EXTRACTABLE, true));
    let wrapped = t
        .wrap(&kwp(), restricting, rsa)
        .ok_or_panic("wrap the RSA key");
    let u = t
        .unwrap(
            &kwp(),
            restricting,
            &wrapped,
            &private_template(Some(CKK_RSA)),
        )
        .ok_or_panic("unwrap under CKA_UNWRAP_TEMPLATE");
    assert!(!t.get_bool(u, CKA_DECRYPT), "CKA_UNWRAP_TEMPLATE imposed");
    expect_err(
        "unwrap with a template that contradicts CKA_UNWRAP_TEMPLATE",
        t.unwrap(
            &kwp(),
            restricting,
            &wrapped,
            &private_template(Some(CKK_RSA)).b(CKA_DECRYPT, true),
        ),
        CKR_TEMPLATE_INCONSISTENT,
    );
}
