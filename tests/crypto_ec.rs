//! PKCS#11 v3.0 Current Mechanisms §2.3 (elliptic curves: CKM_EC_KEY_PAIR_GEN, CKM_ECDSA,
//! CKM_ECDSA_SHAx, CKM_ECDH1_DERIVE, CKM_ECDH1_COFACTOR_DERIVE with CKD_NULL and CKD_SHA256_KDF,
//! CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA) through base §5.12-§5.13 and §5.18: RFC 6979 A.2.5
//! and RFC 8032 §7.1 known answers, and cross-checks with the openssl CLI (ECDSA both ways,
//! ECDH against an OpenSSL peer, Ed25519).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::der::*;
use common::p11::*;
use common::vectors::*;
use cryptoki_sys::*;

fn point_der(raw: &[u8]) -> Vec<u8> {
    octet_string(raw)
}

/// The RFC 6979 A.2.5 P-256 public key as a session object.
fn rfc6979_public(t: &Tok) -> CK_OBJECT_HANDLE {
    let point = [vec![4u8], hx(P256_6979_UX), hx(P256_6979_UY)].concat();
    t.obj(&ec_public(&hx(OID_P256), &point_der(&point)))
}

#[test]
fn ecdsa_verifies_rfc6979_p256_sha256_sample() {
    let t = token("ecdsa-6979");
    let public = rfc6979_public(&t);
    let sig = hx(P256_6979_SHA256_SAMPLE_SIG);
    t.verify(&Mech::new(CKM_ECDSA_SHA256), public, b"sample", &sig)
        .ok_or_panic("CKM_ECDSA_SHA256 verify of the RFC 6979 signature");
    t.verify_multi(
        &Mech::new(CKM_ECDSA_SHA256),
        public,
        &[b"sam", b"ple"],
        &sig,
    )
    .ok_or_panic("multi-part CKM_ECDSA_SHA256 verify");
    t.verify(
        &Mech::new(CKM_ECDSA),
        public,
        &openssl_digest("sha256", b"sample"),
        &sig,
    )
    .ok_or_panic("CKM_ECDSA verify over SHA-256(\"sample\")");
    let mut bad = sig.clone();
    bad[63] ^= 1;
    expect_err(
        "ECDSA verify of a corrupted s",
        t.verify(&Mech::new(CKM_ECDSA_SHA256), public, b"sample", &bad),
        CKR_SIGNATURE_INVALID,
    );
    expect_err(
        "ECDSA verify of another message",
        t.verify(&Mech::new(CKM_ECDSA_SHA256), public, b"samplf", &sig),
        CKR_SIGNATURE_INVALID,
    );
    expect_err(
        "ECDSA verify of a signature one byte short",
        t.verify(&Mech::new(CKM_ECDSA_SHA256), public, b"sample", &sig[..63]),
        CKR_SIGNATURE_LEN_RANGE,
    );
}

/// The module signs with the imported RFC 6979 private key; the module and OpenSSL verify.
#[test]
fn ecdsa_sign_with_imported_key_verifies_in_openssl() {
    let t = token("ecdsa-sign");
    let private = t.obj(&ec_private(&hx(OID_P256), &hx(P256_6979_X)));
    let public = rfc6979_public(&t);
    let sig = t
        .sign(&Mech::new(CKM_ECDSA_SHA256), private, b"sample")
        .ok_or_panic("CKM_ECDSA_SHA256 sign");
    assert_eq!(sig.len(), 64, "P-256 signature is r||s, 64 bytes");
    t.verify(&Mech::new(CKM_ECDSA_SHA256), public, b"sample", &sig)
        .ok_or_panic("module verify of its own signature");
    let point = [vec![4u8], hx(P256_6979_UX), hx(P256_6979_UY)].concat();
    let s = Scratch::new();
    s.write("pub.der", &ec_spki(&hx(OID_P256), &point));
    s.write("msg.bin", b"sample");
    s.write("sig.der", &ecdsa_raw_to_der(&sig));
    let out = openssl(&[
        "dgst",
        "-sha256",
        "-verify",
        &s.p("pub.der"),
        "-keyform",
        "DER",
        "-signature",
        &s.p("sig.der"),
        &s.p("msg.bin"),
    ]);
    assert!(String::from_utf8_lossy(&out).contains("Verified OK"));
}

/// CKA_EC_POINT given as the raw uncompressed point (not wrapped in an OCTET STRING) is
/// accepted on input, as the issue asks (many clients send it so).
#[test]
fn ec_public_key_with_a_raw_point_is_accepted() {
    let t = token("ec-raw-point");
    let point = [vec![4u8], hx(P256_6979_UX), hx(P256_6979_UY)].concat();
    let public = t
        .create(&ec_public(&hx(OID_P256), &point))
        .ok_or_panic("C_CreateObject with a raw CKA_EC_POINT");
    t.verify(
        &Mech::new(CKM_ECDSA_SHA256),
        public,
        b"sample",
        &hx(P256_6979_SHA256_SAMPLE_SIG),
    )
    .ok_or_panic("verify with the raw-point key");
}

/// Generated P-256/P-384/P-521 keys: signatures verify in OpenSSL with the SPKI built from
/// CKA_EC_POINT; CKM_ECDSA over a hash longer than the curve truncates it as X9.62 says, so it
/// equals CKM_ECDSA_SHA512 on P-256.
#[test]
fn generated_ec_keys_sign_and_openssl_verifies() {
    let t = token("ec-gen-ossl");
    for (curve, oid, m, md, half) in [
        ("P-256", OID_P256, CKM_ECDSA_SHA256, "sha256", 32usize),
        ("P-256", OID_P256, CKM_ECDSA_SHA512, "sha512", 32),
        ("P-384", OID_P384, CKM_ECDSA_SHA384, "sha384", 48),
        ("P-521", OID_P521, CKM_ECDSA_SHA512, "sha512", 66),
        ("P-384", OID_P384, CKM_ECDSA_SHA1, "sha1", 48),
    ] {
        let what = format!("{curve} {md}");
        let (pt, st) = ec_pair_templates(&hx(oid));
        let (public, private) = t
            .generate_pair(&Mech::new(CKM_EC_KEY_PAIR_GEN), &pt, &st)
            .ok_or_panic(&format!("{what}: C_GenerateKeyPair"));
        let point = unwrap_octet_string(&t.get(public, CKA_EC_POINT));
        let msg = format!("message for {what}").into_bytes();
        let sig = t
            .sign(&Mech::new(m), private, &msg)
            .ok_or_panic(&format!("{what}: C_Sign"));
        assert_eq!(sig.len(), 2 * half, "{what}: r||s length");
        t.verify(&Mech::new(m), public, &msg, &sig)
            .ok_or_panic(&format!("{what}: module verify"));
        let digest = openssl_digest(md, &msg);
        t.verify(&Mech::new(CKM_ECDSA), public, &digest, &sig)
            .ok_or_panic(&format!(
                "{what}: CKM_ECDSA verify over the (truncated) hash"
            ));
        let s = Scratch::new();
        s.write("pub.der", &ec_spki(&hx(oid), &point));
        s.write("msg.bin", &msg);
        s.write("sig.der", &ecdsa_raw_to_der(&sig));
        let (ok, out, err) = openssl_run(&[
            "dgst",
            &format!("-{md}"),
            "-verify",
            &s.p("pub.der"),
            "-keyform",
            "DER",
            "-signature",
            &s.p("sig.der"),
            &s.p("msg.bin"),
        ]);
        assert!(
            ok && String::from_utf8_lossy(&out).contains("Verified OK"),
            "{what}: openssl does not verify: {}{err}",
            String::from_utf8_lossy(&out)
        );
    }
}

/// An OpenSSL-made ECDSA signature verifies in the module with the public key taken from
/// OpenSSL's SPKI.
#[test]
fn openssl_ecdsa_signature_verifies_in_the_module() {
    let t = token("ec-ossl-sig");
    let s = Scratch::new();
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-384",
        "-out",
        &s.p("k.pem"),
    ]);
    openssl(&[
        "pkey",
        "-in",
        &s.p("k.pem"),
        "-pubout",
        "-outform",
        "DER",
        "-out",
        &s.p("pub.der"),
    ]);
    s.write("msg.bin", b"signed by openssl");
    openssl(&[
        "dgst",
        "-sha384",
        "-sign",
        &s.p("k.pem"),
        "-out",
        &s.p("sig.der"),
        &s.p("msg.bin"),
    ]);
    let point = spki_key_bits(&s.read("pub.der"));
    let public = t.obj(&ec_public(&hx(OID_P384), &point_der(&point)));
    let sig = ecdsa_der_to_raw(&s.read("sig.der"), 48);
    t.verify(
        &Mech::new(CKM_ECDSA_SHA384),
        public,
        b"signed by openssl",
        &sig,
    )
    .ok_or_panic("verify openssl's P-384 signature");
}

fn derived_secret_template(len: usize) -> Tmpl {
    new_secret(CKK_GENERIC_SECRET, Some(len))
}

/// ECDH1_DERIVE with CKD_NULL against an OpenSSL peer equals `openssl pkeyutl -derive`; the
/// cofactor variant gives the same on prime curves (cofactor 1); CKD_SHA256_KDF is the X9.63
/// KDF: SHA-256(Z || 00000001 || shared info).
#[test]
fn ecdh_matches_openssl_derive() {
    let t = token("ecdh");
    for (curve, oid, zlen) in [("P-256", OID_P256, 32usize), ("P-384", OID_P384, 48)] {
        let (pt, st) = ec_pair_templates(&hx(oid));
        let (public, private) = t
            .generate_pair(&Mech::new(CKM_EC_KEY_PAIR_GEN), &pt, &st)
            .ok_or_panic(&format!("{curve}: C_GenerateKeyPair"));
        let my_point = unwrap_octet_string(&t.get(public, CKA_EC_POINT));
        let s = Scratch::new();
        openssl(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            &format!("ec_paramgen_curve:{curve}"),
            "-out",
            &s.p("peer.pem"),
        ]);
        openssl(&[
            "pkey",
            "-in",
            &s.p("peer.pem"),
            "-pubout",
            "-outform",
            "DER",
            "-out",
            &s.p("peer.der"),
        ]);
        s.write("mine.der", &ec_spki(&hx(oid), &my_point));
        openssl(&[
            "pkeyutl",
            "-derive",
            "-inkey",
            &s.p("peer.pem"),
            "-peerkey",
            &s.p("mine.der"),
            "-peerform",
            "DER",
            "-out",
            &s.p("z.bin"),
        ]);
        let z = s.read("z.bin");
        assert_eq!(z.len(), zlen);
        let peer_point = spki_key_bits(&s.read("peer.der"));

        let d = t
            .derive(
                &ecdh(CKM_ECDH1_DERIVE, CKD_NULL, &[], &peer_point),
                private,
                &derived_secret_template(zlen),
            )
            .ok_or_panic(&format!("{curve}: ECDH1_DERIVE CKD_NULL"));
        assert_bytes(
            &format!("{curve}: ECDH shared secret vs openssl"),
            &t.get(d, CKA_VALUE),
            &z,
        );

        let d = t
            .derive(
                &ecdh(CKM_ECDH1_COFACTOR_DERIVE, CKD_NULL, &[], &peer_point),
                private,
                &derived_secret_template(zlen),
            )
            .ok_or_panic(&format!("{curve}: ECDH1_COFACTOR_DERIVE"));
        assert_bytes(&format!("{curve}: cofactor ECDH"), &t.get(d, CKA_VALUE), &z);

        // A shorter key takes the leftmost bytes (CKA_VALUE_LEN 16).
        let d = t
            .derive(
                &ecdh(CKM_ECDH1_DERIVE, CKD_NULL, &[], &peer_point),
                private,
                &derived_secret_template(16),
            )
            .ok_or_panic(&format!("{curve}: ECDH into 16 bytes"));
        assert_bytes(
            &format!("{curve}: 16-byte ECDH key"),
            &t.get(d, CKA_VALUE),
            &z[..16],
        );

        let info = b"shared info";
        let d = t
            .derive(
                &ecdh(CKM_ECDH1_DERIVE, CKD_SHA256_KDF, info, &peer_point),
                private,
                &derived_secret_template(32),
            )
            .ok_or_panic(&format!("{curve}: ECDH with CKD_SHA256_KDF"));
        let want = openssl_digest(
            "sha256",
            &[z.clone(), vec![0, 0, 0, 1], info.to_vec()].concat(),
        );
        assert_bytes(
            &format!("{curve}: X9.63 SHA-256 KDF"),
            &t.get(d, CKA_VALUE),
            &want,
        );
    }
}

/// A peer point that is not on the curve is refused.
#[test]
fn ecdh_with_a_point_off_the_curve_fails() {
    let t = token("ecdh-bad");
    let (pt, st) = ec_pair_templates(&hx(OID_P256));
    let (_, private) = t
        .generate_pair(&Mech::new(CKM_EC_KEY_PAIR_GEN), &pt, &st)
        .ok_or_panic("C_GenerateKeyPair");
    let mut bad = [vec![4u8], hx(P256_6979_UX), hx(P256_6979_UY)].concat();
    bad[64] ^= 1;
    expect_err_in(
        "ECDH with an off-curve peer point",
        t.derive(
            &ecdh(CKM_ECDH1_DERIVE, CKD_NULL, &[], &bad),
            private,
            &derived_secret_template(32),
        ),
        &[
            CKR_MECHANISM_PARAM_INVALID,
            CKR_DOMAIN_PARAMS_INVALID,
            CKR_ARGUMENTS_BAD,
        ],
    );
}

/// RFC 8032 §7.1 tests 1 and 2 with CKM_EDDSA (pure Ed25519, no parameter): deterministic, so
/// the exact signature; verification with the public key as a DER OCTET STRING.
#[test]
fn ed25519_rfc8032_tests_1_and_2() {
    let t = token("ed25519");
    let cases = [
        (
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        ),
        (
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        ),
    ];
    for (i, (seed, public, msg, sig)) in cases.iter().enumerate() {
        let what = format!("RFC 8032 test {}", i + 1);
        let private = t.obj(
            &Tmpl::new()
                .u(CKA_CLASS, CKO_PRIVATE_KEY)
                .u(CKA_KEY_TYPE, CKK_EC_EDWARDS)
                .b(CKA_TOKEN, false)
                .b(CKA_PRIVATE, true)
                .b(CKA_SIGN, true)
                .bytes(CKA_EC_PARAMS, hx(OID_ED25519))
                .bytes(CKA_VALUE, hx(seed)),
        );
        let pubkey = t.obj(
            &Tmpl::new()
                .u(CKA_CLASS, CKO_PUBLIC_KEY)
                .u(CKA_KEY_TYPE, CKK_EC_EDWARDS)
                .b(CKA_TOKEN, false)
                .b(CKA_VERIFY, true)
                .bytes(CKA_EC_PARAMS, hx(OID_ED25519))
                .bytes(CKA_EC_POINT, point_der(&hx(public))),
        );
        let got = t
            .sign(&Mech::new(CKM_EDDSA), private, &hx(msg))
            .ok_or_panic(&format!("{what}: C_Sign"));
        assert_bytes(&format!("{what}: signature"), &got, &hx(sig));
        t.verify(&Mech::new(CKM_EDDSA), pubkey, &hx(msg), &hx(sig))
            .ok_or_panic(&format!("{what}: C_Verify"));
        let mut bad = hx(sig);
        bad[0] ^= 1;
        expect_err(
            &format!("{what}: corrupted signature"),
            t.verify(&Mech::new(CKM_EDDSA), pubkey, &hx(msg), &bad),
            CKR_SIGNATURE_INVALID,
        );
    }
}

/// A generated Ed25519 key signs; OpenSSL verifies with the SPKI built from CKA_EC_POINT.
#[test]
fn generated_ed25519_verifies_in_openssl() {
    let t = token("ed25519-gen");
    let (pt, st) = ec_pair_templates(&hx(OID_ED25519));
    let (public, private) = t
        .generate_pair(&Mech::new(CKM_EC_EDWARDS_KEY_PAIR_GEN), &pt, &st)
        .ok_or_panic("C_GenerateKeyPair Ed25519");
    let point = unwrap_octet_string(&t.get(public, CKA_EC_POINT));
    assert_eq!(point.len(), 32, "Ed25519 CKA_EC_POINT holds 32 bytes");
    let msg = b"ed25519 message";
    let sig = t
        .sign(&Mech::new(CKM_EDDSA), private, msg)
        .ok_or_panic("C_Sign EdDSA");
    assert_eq!(sig.len(), 64);
    let s = Scratch::new();
    s.write("pub.der", &ed25519_spki(&point));
    s.write("msg.bin", msg);
    s.write("sig.bin", &sig);
    let (ok, out, err) = openssl_run(&[
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        &s.p("pub.der"),
        "-keyform",
        "DER",
        "-rawin",
        "-in",
        &s.p("msg.bin"),
        "-sigfile",
        &s.p("sig.bin"),
    ]);
    assert!(
        ok && String::from_utf8_lossy(&out).contains("Signature Verified Successfully"),
        "openssl does not verify the Ed25519 signature: {}{err}",
        String::from_utf8_lossy(&out)
    );
}
