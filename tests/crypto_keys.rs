//! PKCS#11 v3.0 base §5.18 (C_GenerateKey, C_GenerateKeyPair), §5.7 (C_CreateObject of key
//! objects) and §4.7-§4.10 (key attributes: CKA_LOCAL, CKA_KEY_GEN_MECHANISM, CKA_CHECK_VALUE,
//! CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE, CKA_PUBLIC_KEY_INFO), Current Mechanisms §2.1.4
//! (RSA key pair generation), §2.3.5 (EC key pair generation), §2.3.10 (Edwards), §2.10.2 (AES
//! key generation), §2.43 (generic secret and HKDF key generation), and base §5.19 (random).
//! Generated keys are checked against independent computations (OpenSSL AES for the check
//! value, DER SubjectPublicKeyInfo built from the components); imported keys with inconsistent
//! components must be refused with CKR_ATTRIBUTE_VALUE_INVALID.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::der::*;
use common::p11::*;
use common::vectors::*;
use cryptoki_sys::*;

fn aes_gen_template(len: usize) -> Tmpl {
    // Only what the caller must say: length and usage. Sensitivity and extractability default.
    Tmpl::new()
        .u(CKA_CLASS, CKO_SECRET_KEY)
        .u(CKA_KEY_TYPE, CKK_AES)
        .b(CKA_TOKEN, false)
        .b(CKA_ENCRYPT, true)
        .b(CKA_DECRYPT, true)
        .u(CKA_VALUE_LEN, len as CK_ULONG)
}

#[test]
fn aes_key_generation_attributes_and_defaults() {
    let t = token("aes-gen");
    for len in [16usize, 24, 32] {
        let what = format!("AES-{}", len * 8);
        let k = t
            .generate_key(&Mech::new(CKM_AES_KEY_GEN), &aes_gen_template(len))
            .ok_or_panic(&format!("{what}: C_GenerateKey"));
        assert_eq!(t.get_ulong(k, CKA_CLASS), CKO_SECRET_KEY, "{what}");
        assert_eq!(t.get_ulong(k, CKA_KEY_TYPE), CKK_AES, "{what}");
        assert_eq!(
            t.get_ulong(k, CKA_VALUE_LEN),
            len as CK_ULONG,
            "{what}: CKA_VALUE_LEN"
        );
        assert!(t.get_bool(k, CKA_LOCAL), "{what}: CKA_LOCAL");
        assert_eq!(
            t.get_ulong(k, CKA_KEY_GEN_MECHANISM),
            CKM_AES_KEY_GEN,
            "{what}: CKA_KEY_GEN_MECHANISM"
        );
        assert!(
            t.get_bool(k, CKA_SENSITIVE),
            "{what}: generated secret keys default to sensitive"
        );
        assert!(
            !t.get_bool(k, CKA_EXTRACTABLE),
            "{what}: generated secret keys default to not extractable"
        );
        assert!(
            t.get_bool(k, CKA_ALWAYS_SENSITIVE),
            "{what}: CKA_ALWAYS_SENSITIVE"
        );
        assert!(
            t.get_bool(k, CKA_NEVER_EXTRACTABLE),
            "{what}: CKA_NEVER_EXTRACTABLE"
        );
        expect_err(
            &format!("{what}: read CKA_VALUE"),
            t.attr(k, CKA_VALUE),
            CKR_ATTRIBUTE_SENSITIVE,
        );
        assert_eq!(
            t.get(k, CKA_CHECK_VALUE).len(),
            3,
            "{what}: CKA_CHECK_VALUE is 3 bytes"
        );
        // The key works.
        let c = t
            .encrypt(&Mech::new(CKM_AES_ECB), k, &[0u8; 16])
            .ok_or_panic(&format!("{what}: ECB with the generated key"));
        assert_bytes(
            &format!("{what}: check value is the start of E(0^16)"),
            &t.get(k, CKA_CHECK_VALUE),
            &c[..3],
        );
    }
    // Two generated keys differ (compare check values of extractable copies).
    let a = t
        .generate_key(
            &Mech::new(CKM_AES_KEY_GEN),
            &aes_gen_template(32)
                .b(CKA_SENSITIVE, false)
                .b(CKA_EXTRACTABLE, true),
        )
        .ok_or_panic("gen");
    let b = t
        .generate_key(
            &Mech::new(CKM_AES_KEY_GEN),
            &aes_gen_template(32)
                .b(CKA_SENSITIVE, false)
                .b(CKA_EXTRACTABLE, true),
        )
        .ok_or_panic("gen");
    assert_ne!(
        t.get(a, CKA_VALUE),
        t.get(b, CKA_VALUE),
        "two generated AES keys are equal"
    );
}

/// CKA_CHECK_VALUE = the first 3 bytes of AES-ECB(key, 0^16), checked with OpenSSL on a key
/// generated extractable and not sensitive, and on an imported key; a wrong check value in a
/// C_CreateObject template is refused.
#[test]
fn aes_check_value_matches_openssl() {
    let t = token("aes-kcv");
    let k = t
        .generate_key(
            &Mech::new(CKM_AES_KEY_GEN),
            &aes_gen_template(32)
                .b(CKA_SENSITIVE, false)
                .b(CKA_EXTRACTABLE, true),
        )
        .ok_or_panic("C_GenerateKey");
    let value = t.get(k, CKA_VALUE);
    assert_eq!(value.len(), 32);
    assert!(
        !t.get_bool(k, CKA_ALWAYS_SENSITIVE),
        "generated non-sensitive: ALWAYS_SENSITIVE false"
    );
    assert!(
        !t.get_bool(k, CKA_NEVER_EXTRACTABLE),
        "generated extractable: NEVER_EXTRACTABLE false"
    );
    let want = openssl_aes_ecb(&value, &[0u8; 16])[..3].to_vec();
    assert_bytes(
        "generated key's CKA_CHECK_VALUE",
        &t.get(k, CKA_CHECK_VALUE),
        &want,
    );

    let kv = hx(SP800_38A_KEY128);
    let imported = t.obj(&aes(&kv));
    let want = openssl_aes_ecb(&kv, &[0u8; 16])[..3].to_vec();
    // Imported keys get their check value too, as generated ones do.
    match t.attr(imported, CKA_CHECK_VALUE) {
        Ok(v) => assert_bytes("imported key's CKA_CHECK_VALUE", &v, &want),
        Err(rv) => panic!("imported key's CKA_CHECK_VALUE: {}", rvn(rv)),
    }
    t.create(&aes(&kv).bytes(CKA_CHECK_VALUE, &want))
        .ok_or_panic("C_CreateObject with the right CKA_CHECK_VALUE");
    let mut wrong = want.clone();
    wrong[0] ^= 1;
    expect_err(
        "C_CreateObject with a wrong CKA_CHECK_VALUE",
        t.create(&aes(&kv).bytes(CKA_CHECK_VALUE, &wrong)),
        CKR_ATTRIBUTE_VALUE_INVALID,
    );
}

#[test]
fn aes_key_generation_template_errors() {
    let t = token("aes-gen-bad");
    expect_err(
        "CKM_AES_KEY_GEN without CKA_VALUE_LEN",
        t.generate_key(
            &Mech::new(CKM_AES_KEY_GEN),
            &aes_gen_template(16).without(CKA_VALUE_LEN),
        ),
        CKR_TEMPLATE_INCOMPLETE,
    );
    expect_err_in(
        "CKM_AES_KEY_GEN with CKA_VALUE_LEN 20",
        t.generate_key(&Mech::new(CKM_AES_KEY_GEN), &aes_gen_template(20)),
        &[CKR_KEY_SIZE_RANGE, CKR_ATTRIBUTE_VALUE_INVALID],
    );
    // Footnote 6 of the key attribute tables: not to be specified on generation.
    expect_err_in(
        "CKM_AES_KEY_GEN with CKA_VALUE in the template",
        t.generate_key(
            &Mech::new(CKM_AES_KEY_GEN),
            &aes_gen_template(16).bytes(CKA_VALUE, [0u8; 16]),
        ),
        &[CKR_ATTRIBUTE_READ_ONLY, CKR_TEMPLATE_INCONSISTENT],
    );
    expect_err(
        "CKM_AES_KEY_GEN asked for an RSA key",
        t.generate_key(
            &Mech::new(CKM_AES_KEY_GEN),
            &aes_gen_template(16).u(CKA_KEY_TYPE, CKK_RSA),
        ),
        CKR_TEMPLATE_INCONSISTENT,
    );
    expect_err_in(
        "AES key object with a 20-byte CKA_VALUE",
        t.create(&aes(&[7u8; 20])),
        &[CKR_ATTRIBUTE_VALUE_INVALID, CKR_KEY_SIZE_RANGE],
    );
}

#[test]
fn generic_secret_and_hkdf_key_generation() {
    let t = token("generic-gen");
    let k = t
        .generate_key(
            &Mech::new(CKM_GENERIC_SECRET_KEY_GEN),
            &new_secret(CKK_GENERIC_SECRET, Some(48)),
        )
        .ok_or_panic("CKM_GENERIC_SECRET_KEY_GEN");
    assert_eq!(t.get(k, CKA_VALUE).len(), 48);
    assert_eq!(
        t.get_ulong(k, CKA_KEY_GEN_MECHANISM),
        CKM_GENERIC_SECRET_KEY_GEN
    );
    assert!(t.get_bool(k, CKA_LOCAL));
    // The generated secret works as an HMAC key.
    let mac = t
        .sign(&Mech::new(CKM_SHA256_HMAC), k, b"data")
        .ok_or_panic("HMAC with it");
    assert_eq!(mac.len(), 32);
    let h = t
        .generate_key(
            &Mech::new(CKM_HKDF_KEY_GEN),
            &new_secret(CKK_HKDF, Some(32)),
        )
        .ok_or_panic("CKM_HKDF_KEY_GEN");
    assert_eq!(t.get_ulong(h, CKA_KEY_TYPE), CKK_HKDF);
    assert_eq!(t.get(h, CKA_VALUE).len(), 32);
    assert_eq!(t.get_ulong(h, CKA_KEY_GEN_MECHANISM), CKM_HKDF_KEY_GEN);
}

/// Checks shared by the RSA key-pair generation tests; returns (public, private).
fn check_rsa_pair(t: &Tok, bits: usize, exponent: &[u8]) -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
    let what = format!("RSA-{bits} e={}", hex(exponent));
    let (pt, st) = rsa_pair_templates(bits as CK_ULONG, exponent);
    let (public, private) = t
        .generate_pair(&Mech::new(CKM_RSA_PKCS_KEY_PAIR_GEN), &pt, &st)
        .ok_or_panic(&format!("{what}: C_GenerateKeyPair"));
    let n = t.get(public, CKA_MODULUS);
    assert_eq!(n.len(), bits / 8, "{what}: modulus length");
    assert!(n[0] & 0x80 != 0, "{what}: modulus has exactly {bits} bits");
    assert_eq!(
        t.get_ulong(public, CKA_MODULUS_BITS),
        bits as CK_ULONG,
        "{what}: CKA_MODULUS_BITS"
    );
    assert_bytes(
        &format!("{what}: public CKA_PUBLIC_EXPONENT"),
        &t.get(public, CKA_PUBLIC_EXPONENT),
        exponent,
    );
    assert_bytes(
        &format!("{what}: private CKA_MODULUS"),
        &t.get(private, CKA_MODULUS),
        &n,
    );
    assert_bytes(
        &format!("{what}: private CKA_PUBLIC_EXPONENT"),
        &t.get(private, CKA_PUBLIC_EXPONENT),
        exponent,
    );
    for (o, name) in [(public, "public"), (private, "private")] {
        assert!(t.get_bool(o, CKA_LOCAL), "{what}: {name} CKA_LOCAL");
        assert_eq!(
            t.get_ulong(o, CKA_KEY_GEN_MECHANISM),
            CKM_RSA_PKCS_KEY_PAIR_GEN,
            "{what}: {name} CKA_KEY_GEN_MECHANISM"
        );
        assert_eq!(t.get_ulong(o, CKA_KEY_TYPE), CKK_RSA);
    }
    assert!(
        t.get_bool(private, CKA_SENSITIVE),
        "{what}: private key defaults to sensitive"
    );
    assert!(
        !t.get_bool(private, CKA_EXTRACTABLE),
        "{what}: private key defaults to not extractable"
    );
    assert!(
        t.get_bool(private, CKA_ALWAYS_SENSITIVE),
        "{what}: ALWAYS_SENSITIVE"
    );
    assert!(
        t.get_bool(private, CKA_NEVER_EXTRACTABLE),
        "{what}: NEVER_EXTRACTABLE"
    );
    for a in [
        CKA_PRIVATE_EXPONENT,
        CKA_PRIME_1,
        CKA_PRIME_2,
        CKA_COEFFICIENT,
    ] {
        expect_err(
            &format!("{what}: read 0x{a:x}"),
            t.attr(private, a),
            CKR_ATTRIBUTE_SENSITIVE,
        );
    }
    let spki = rsa_spki(&n, exponent);
    assert_bytes(
        &format!("{what}: public CKA_PUBLIC_KEY_INFO"),
        &t.get(public, CKA_PUBLIC_KEY_INFO),
        &spki,
    );
    let sig = t
        .sign(&Mech::new(CKM_SHA256_RSA_PKCS), private, b"m")
        .ok_or_panic(&format!("{what}: sign"));
    assert_eq!(sig.len(), bits / 8);
    t.verify(&Mech::new(CKM_SHA256_RSA_PKCS), public, b"m", &sig)
        .ok_or_panic(&format!("{what}: verify"));
    (public, private)
}

#[test]
fn rsa2048_key_pair_generation_e65537() {
    let t = token("rsa-gen-2048");
    check_rsa_pair(&t, 2048, &[1, 0, 1]);
}

#[test]
fn rsa2048_key_pair_generation_e3() {
    let t = token("rsa-gen-e3");
    check_rsa_pair(&t, 2048, &[3]);
}

#[test]
fn rsa3072_key_pair_generation() {
    let t = token("rsa-gen-3072");
    check_rsa_pair(&t, 3072, &[1, 0, 1]);
}

#[test]
fn rsa_key_pair_generation_template_errors() {
    let t = token("rsa-gen-bad");
    let gen = Mech::new(CKM_RSA_PKCS_KEY_PAIR_GEN);
    let (pt, st) = rsa_pair_templates(2048, &[1, 0, 1]);
    expect_err(
        "RSA key pair without CKA_MODULUS_BITS",
        t.generate_pair(&gen, &pt.clone().without(CKA_MODULUS_BITS), &st),
        CKR_TEMPLATE_INCOMPLETE,
    );
    // A compat token (the default) makes keys from 1024 bits (tests/policy.rs), as SoftHSMv2.
    let (small, _) = rsa_pair_templates(1016, &[1, 0, 1]);
    expect_err_in(
        "RSA-1016 key pair",
        t.generate_pair(&gen, &small, &st),
        &[CKR_KEY_SIZE_RANGE, CKR_ATTRIBUTE_VALUE_INVALID],
    );
    let (big, _) = rsa_pair_templates(8192, &[1, 0, 1]);
    expect_err_in(
        "RSA-8192 key pair",
        t.generate_pair(&gen, &big, &st),
        &[CKR_KEY_SIZE_RANGE, CKR_ATTRIBUTE_VALUE_INVALID],
    );
    let (even, _) = rsa_pair_templates(2048, &[1, 0, 0]);
    expect_err_in(
        "RSA key pair with an even public exponent",
        t.generate_pair(&gen, &even, &st),
        &[CKR_ATTRIBUTE_VALUE_INVALID, CKR_TEMPLATE_INCONSISTENT],
    );
    expect_err_in(
        "RSA key pair with CKA_MODULUS in the public template",
        t.generate_pair(&gen, &pt.clone().bytes(CKA_MODULUS, [0xc5u8; 256]), &st),
        &[CKR_ATTRIBUTE_READ_ONLY, CKR_TEMPLATE_INCONSISTENT],
    );
}

#[test]
fn ec_key_pair_generation_on_each_curve() {
    let t = token("ec-gen");
    for (curve, oid, coord) in [
        ("P-256", OID_P256, 32usize),
        ("P-384", OID_P384, 48),
        ("P-521", OID_P521, 66),
    ] {
        let (pt, st) = ec_pair_templates(&hx(oid));
        let (public, private) = t
            .generate_pair(&Mech::new(CKM_EC_KEY_PAIR_GEN), &pt, &st)
            .ok_or_panic(&format!("{curve}: C_GenerateKeyPair"));
        let der = t.get(public, CKA_EC_POINT);
        let point = unwrap_octet_string(&der);
        assert_eq!(
            point.len(),
            1 + 2 * coord,
            "{curve}: uncompressed point length"
        );
        assert_eq!(point[0], 4, "{curve}: uncompressed point tag");
        assert_eq!(
            der,
            octet_string(&point),
            "{curve}: CKA_EC_POINT is a DER OCTET STRING"
        );
        assert_bytes(
            &format!("{curve}: private CKA_EC_PARAMS"),
            &t.get(private, CKA_EC_PARAMS),
            &hx(oid),
        );
        assert_eq!(t.get_ulong(public, CKA_KEY_TYPE), CKK_EC);
        assert_eq!(
            t.get_ulong(private, CKA_KEY_GEN_MECHANISM),
            CKM_EC_KEY_PAIR_GEN,
            "{curve}: CKA_KEY_GEN_MECHANISM"
        );
        assert!(
            t.get_bool(private, CKA_LOCAL) && t.get_bool(public, CKA_LOCAL),
            "{curve}: CKA_LOCAL"
        );
        assert!(
            t.get_bool(private, CKA_SENSITIVE),
            "{curve}: private defaults to sensitive"
        );
        assert!(
            !t.get_bool(private, CKA_EXTRACTABLE),
            "{curve}: private defaults to not extractable"
        );
        expect_err(
            &format!("{curve}: read CKA_VALUE"),
            t.attr(private, CKA_VALUE),
            CKR_ATTRIBUTE_SENSITIVE,
        );
        assert_bytes(
            &format!("{curve}: CKA_PUBLIC_KEY_INFO"),
            &t.get(public, CKA_PUBLIC_KEY_INFO),
            &ec_spki(&hx(oid), &point),
        );
    }
    // secp192k1: a named curve the module does not offer (secp256k1 it does, issue 12).
    expect_err_in(
        "EC key pair on secp192k1",
        t.generate_pair(
            &Mech::new(CKM_EC_KEY_PAIR_GEN),
            &ec_pair_templates(&hx("06052b8104001f")).0,
            &ec_pair_templates(&[]).1,
        ),
        &[
            CKR_CURVE_NOT_SUPPORTED,
            CKR_DOMAIN_PARAMS_INVALID,
            CKR_ATTRIBUTE_VALUE_INVALID,
        ],
    );
    expect_err(
        "EC key pair without CKA_EC_PARAMS",
        t.generate_pair(
            &Mech::new(CKM_EC_KEY_PAIR_GEN),
            &ec_pair_templates(&[]).0.without(CKA_EC_PARAMS),
            &ec_pair_templates(&[]).1,
        ),
        CKR_TEMPLATE_INCOMPLETE,
    );
}

#[test]
fn ed25519_key_pair_generation() {
    let t = token("ed-gen");
    let (pt, st) = ec_pair_templates(&hx(OID_ED25519));
    let (public, private) = t
        .generate_pair(&Mech::new(CKM_EC_EDWARDS_KEY_PAIR_GEN), &pt, &st)
        .ok_or_panic("C_GenerateKeyPair Ed25519");
    assert_eq!(t.get_ulong(public, CKA_KEY_TYPE), CKK_EC_EDWARDS);
    assert_eq!(t.get_ulong(private, CKA_KEY_TYPE), CKK_EC_EDWARDS);
    let point = unwrap_octet_string(&t.get(public, CKA_EC_POINT));
    assert_eq!(point.len(), 32);
    assert_eq!(
        t.get_ulong(private, CKA_KEY_GEN_MECHANISM),
        CKM_EC_EDWARDS_KEY_PAIR_GEN
    );
    assert_bytes(
        "Ed25519 CKA_PUBLIC_KEY_INFO",
        &t.get(public, CKA_PUBLIC_KEY_INFO),
        &ed25519_spki(&point),
    );
}

/// An RSA private key whose parts do not belong together is refused (the issue: "an RSA key
/// whose parts don't match ... CKR_ATTRIBUTE_VALUE_INVALID"); the consistent key is accepted.
#[test]
fn import_of_an_inconsistent_rsa_private_key_is_refused() {
    let t = token("rsa-import-bad");
    t.create(&rsa_private_fixed())
        .ok_or_panic("the consistent key");
    use common::keys::*;
    let tweak = |a: CK_ATTRIBUTE_TYPE, hexval: &str| {
        let mut v = unhex(hexval);
        let last = v.len() - 1;
        v[last] ^= 0x02;
        rsa_private_fixed().bytes(a, v)
    };
    for (what, tmpl) in [
        (
            "private exponent changed",
            tweak(CKA_PRIVATE_EXPONENT, RSA_PRIVATE_EXPONENT),
        ),
        ("modulus changed", tweak(CKA_MODULUS, RSA_MODULUS)),
        ("prime 1 changed", tweak(CKA_PRIME_1, RSA_PRIME_1)),
        (
            "coefficient changed",
            tweak(CKA_COEFFICIENT, RSA_COEFFICIENT),
        ),
        (
            "public exponent 3 instead of 65537",
            rsa_private_fixed().bytes(CKA_PUBLIC_EXPONENT, [3u8]),
        ),
    ] {
        expect_err(
            &format!("RSA private key with the {what}"),
            t.create(&tmpl),
            CKR_ATTRIBUTE_VALUE_INVALID,
        );
    }
}

/// An EC public key whose point is not on the curve, and EC private keys out of range, are
/// refused with CKR_ATTRIBUTE_VALUE_INVALID.
#[test]
fn import_of_invalid_ec_keys_is_refused() {
    let t = token("ec-import-bad");
    let good = [vec![4u8], hx(P256_6979_UX), hx(P256_6979_UY)].concat();
    t.create(&ec_public(&hx(OID_P256), &octet_string(&good)))
        .ok_or_panic("the valid point");
    let mut off = good.clone();
    off[64] ^= 1;
    expect_err(
        "EC public key with a point off the curve",
        t.create(&ec_public(&hx(OID_P256), &octet_string(&off))),
        CKR_ATTRIBUTE_VALUE_INVALID,
    );
    expect_err(
        "EC public key with a P-256 point on P-384",
        t.create(&ec_public(&hx(OID_P384), &octet_string(&good))),
        CKR_ATTRIBUTE_VALUE_INVALID,
    );
    expect_err(
        "EC private key with scalar 0",
        t.create(&ec_private(&hx(OID_P256), &[0u8; 32])),
        CKR_ATTRIBUTE_VALUE_INVALID,
    );
    // The order n of P-256 itself is out of range.
    expect_err(
        "EC private key with scalar n",
        t.create(&ec_private(
            &hx(OID_P256),
            &hx("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"),
        )),
        CKR_ATTRIBUTE_VALUE_INVALID,
    );
}

/// C_GenerateRandom returns fresh bytes; C_SeedRandom takes seed material as additional input:
/// after the same seed, outputs still differ between calls, sessions and processes (the seed
/// is mixed in, it does not replace the system generator).
#[test]
fn generate_random_and_seed_random() {
    let t = token("random");
    let a = t.random(64);
    let b = t.random(64);
    assert_ne!(a, b, "two C_GenerateRandom results are equal");
    assert!(a.iter().any(|x| *x != 0), "C_GenerateRandom returned zeros");
    t.session.seed_random(b"some seed").expect("C_SeedRandom");
    let c = t.random(64);
    t.session
        .seed_random(b"some seed")
        .expect("C_SeedRandom again");
    let d = t.random(64);
    assert_ne!(c, d, "the same seed gave the same bytes");
    t.session
        .seed_random(&[])
        .expect("C_SeedRandom with an empty seed");
    // Large requests (aws-lc's DRBG in the default build) still differ after seeding.
    assert_ne!(t.random(8192), t.random(8192));
    // Another process seeded alike gives other bytes: nothing but the system generator is the
    // source of the randomness.
    let child = || {
        let out = std::process::Command::new(std::env::current_exe().expect("exe"))
            .args(["--exact", "seeded_random_child", "--nocapture"])
            .env("FERROHSM_SEED_CHILD", "1")
            .output()
            .expect("child");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines()
            .find_map(|l| l.strip_prefix("RANDOM "))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("child printed no RANDOM line: {text}"))
    };
    assert_ne!(child(), child(), "two processes seeded alike agree");
}

/// The child of `generate_random_and_seed_random`: seeds with a fixed value, prints 32 random
/// bytes. Does nothing unless started by that test.
#[test]
fn seeded_random_child() {
    if std::env::var_os("FERROHSM_SEED_CHILD").is_none() {
        return;
    }
    let t = token("random-child");
    t.session
        .seed_random(b"the same seed")
        .expect("C_SeedRandom");
    let r: String = t.random(32).iter().map(|b| format!("{b:02x}")).collect();
    println!("RANDOM {r}");
}
