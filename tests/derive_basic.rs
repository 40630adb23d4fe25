//! The miscellaneous simple key derivations of the Current Mechanisms spec v3.0 §2.43
//! (CKM_CONCATENATE_BASE_AND_KEY, CKM_CONCATENATE_BASE_AND_DATA, CKM_CONCATENATE_DATA_AND_BASE,
//! CKM_XOR_BASE_AND_DATA, CKM_EXTRACT_KEY_FROM_KEY) with their rules on the derived key's
//! CKA_SENSITIVE / CKA_EXTRACTABLE / CKA_ALWAYS_SENSITIVE / CKA_NEVER_EXTRACTABLE, and
//! CKM_PUB_KEY_FROM_PRIV_KEY (RSA, EC P-256, Ed25519), through the built module.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::keys::*;
use common::p11::*;
use cryptoki_sys::*;

fn data(ty: CK_MECHANISM_TYPE, d: &[u8]) -> Mech {
    let mut m = Mech::new(ty);
    let p = m.keep(d);
    m.set_param(CK_KEY_DERIVATION_STRING_DATA {
        pData: p,
        ulLen: d.len() as CK_ULONG,
    });
    m
}

fn and_key(other: CK_OBJECT_HANDLE) -> Mech {
    Mech::ulong(CKM_CONCATENATE_BASE_AND_KEY, other)
}

fn extract(bit: CK_ULONG) -> Mech {
    Mech::ulong(CKM_EXTRACT_KEY_FROM_KEY, bit)
}

/// A readable generic secret to derive (session object).
fn readable(len: Option<usize>) -> Tmpl {
    new_secret(CKK_GENERIC_SECRET, len)
}

/// A generic secret base key of known value with the given protection.
fn base(t: &Tok, v: &[u8], sensitive: bool, extractable: bool) -> CK_OBJECT_HANDLE {
    t.obj(
        &secret(CKK_GENERIC_SECRET, v)
            .b(CKA_SENSITIVE, sensitive)
            .b(CKA_EXTRACTABLE, extractable),
    )
}

#[test]
fn values_follow_the_spec() {
    let t = token("derive-values");
    let k1 = base(&t, &[0x12, 0x34, 0x56], false, true);
    let k2 = base(&t, &[0x78, 0x90, 0x01], false, true);
    let got =
        |m: &Mech, b, tm: &Tmpl| t.get(t.derive(m, b, tm).ok_or_panic("C_DeriveKey"), CKA_VALUE);
    assert_bytes(
        "BASE_AND_KEY",
        &got(&and_key(k2), k1, &readable(None)),
        &[0x12, 0x34, 0x56, 0x78, 0x90, 0x01],
    );
    assert_bytes(
        "BASE_AND_KEY cut to 4",
        &got(&and_key(k2), k1, &readable(Some(4))),
        &[0x12, 0x34, 0x56, 0x78],
    );
    assert_bytes(
        "BASE_AND_DATA",
        &got(
            &data(CKM_CONCATENATE_BASE_AND_DATA, &[0xaa, 0xbb]),
            k1,
            &readable(None),
        ),
        &[0x12, 0x34, 0x56, 0xaa, 0xbb],
    );
    assert_bytes(
        "DATA_AND_BASE",
        &got(
            &data(CKM_CONCATENATE_DATA_AND_BASE, &[0xaa, 0xbb]),
            k1,
            &readable(None),
        ),
        &[0xaa, 0xbb, 0x12, 0x34, 0x56],
    );
    // XOR: as long as the shorter of key and data.
    assert_bytes(
        "XOR_BASE_AND_DATA",
        &got(
            &data(CKM_XOR_BASE_AND_DATA, &[0xff, 0x0f, 0xf0, 0x55]),
            k1,
            &readable(None),
        ),
        &[0xed, 0x3b, 0xa6],
    );
    // §2.43.6's example: 0x329F84A9 from bit 21, two bytes: 0x9526.
    let e = base(&t, &[0x32, 0x9f, 0x84, 0xa9], false, true);
    assert_bytes(
        "EXTRACT example",
        &got(&extract(21), e, &readable(Some(2))),
        &[0x95, 0x26],
    );
    // The cryptoki crate's own case: bit 3, two bytes of 0x123456789001.
    let c = base(&t, &[0x12, 0x34, 0x56, 0x78, 0x90, 0x01], false, true);
    let want = ((u32::from_be_bytes([0x12, 0x34, 0x56, 0x78]) << 3) >> 16) as u16;
    assert_bytes(
        "EXTRACT bit 3",
        &got(&extract(3), c, &readable(Some(2))),
        &want.to_be_bytes(),
    );
    // Typed results: AES of a valid length, else the spec's errors.
    let k16 = base(&t, &[7; 16], false, true);
    let aes = got(
        &data(CKM_CONCATENATE_BASE_AND_DATA, &[9; 16]),
        k16,
        &new_secret(CKK_AES, None),
    );
    assert_eq!(aes.len(), 32);
    expect_err(
        "an AES key of 20 bytes",
        t.derive(
            &data(CKM_CONCATENATE_BASE_AND_DATA, &[9; 4]),
            k16,
            &new_secret(CKK_AES, None),
        ),
        CKR_ATTRIBUTE_VALUE_INVALID,
    );
    expect_err(
        "more bytes than key and data hold",
        t.derive(
            &data(CKM_CONCATENATE_BASE_AND_DATA, &[9; 4]),
            k16,
            &readable(Some(21)),
        ),
        CKR_TEMPLATE_INCONSISTENT,
    );
    expect_err(
        "EXTRACT without a length",
        t.derive(&extract(0), k16, &readable(None)),
        CKR_TEMPLATE_INCOMPLETE,
    );
    expect_err(
        "EXTRACT longer than the key",
        t.derive(&extract(0), k16, &readable(Some(17))),
        CKR_TEMPLATE_INCONSISTENT,
    );
    // Derived keys are not local and have no generation mechanism (§4.7).
    let d = t.derive(&and_key(k2), k1, &readable(None)).unwrap();
    assert!(!t.get_bool(d, CKA_LOCAL));
    assert_eq!(
        t.get_ulong(d, CKA_KEY_GEN_MECHANISM),
        CK_UNAVAILABLE_INFORMATION
    );
}

#[test]
fn parameters_and_keys_are_checked() {
    let t = token("derive-params");
    let k = base(&t, &[1; 16], false, true);
    let no_derive = t.obj(&secret(CKK_GENERIC_SECRET, &[2; 16]).b(CKA_DERIVE, false));
    expect_err(
        "a base without CKA_DERIVE",
        t.derive(
            &data(CKM_CONCATENATE_BASE_AND_DATA, &[1]),
            no_derive,
            &readable(None),
        ),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
    );
    expect_err(
        "an other key without CKA_DERIVE",
        t.derive(&and_key(no_derive), k, &readable(None)),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
    );
    expect_err(
        "an other key that is no key",
        t.derive(&and_key(0xdead_beef), k, &readable(None)),
        CKR_KEY_HANDLE_INVALID,
    );
    expect_err(
        "BASE_AND_KEY without a parameter",
        t.derive(&Mech::new(CKM_CONCATENATE_BASE_AND_KEY), k, &readable(None)),
        CKR_MECHANISM_PARAM_INVALID,
    );
    expect_err(
        "BASE_AND_DATA with a short parameter",
        t.derive(
            &Mech::bytes(CKM_CONCATENATE_BASE_AND_DATA, &[0; 4]),
            k,
            &readable(None),
        ),
        CKR_MECHANISM_PARAM_INVALID,
    );
    let private = t.obj(&rsa_private_fixed().b(CKA_DERIVE, true));
    expect_err(
        "a private key as the base",
        t.derive(
            &data(CKM_CONCATENATE_BASE_AND_DATA, &[1]),
            private,
            &readable(None)
                .without(CKA_SENSITIVE)
                .without(CKA_EXTRACTABLE),
        ),
        CKR_KEY_TYPE_INCONSISTENT,
    );
    for m in [
        CKM_CONCATENATE_BASE_AND_KEY,
        CKM_CONCATENATE_BASE_AND_DATA,
        CKM_CONCATENATE_DATA_AND_BASE,
        CKM_XOR_BASE_AND_DATA,
        CKM_EXTRACT_KEY_FROM_KEY,
    ] {
        let info = t.mechanism_info(m).ok_or_panic("C_GetMechanismInfo");
        assert_eq!(info.flags, CKF_DERIVE, "flags of {m:#x}");
        assert_eq!(
            (info.ulMinKeySize, info.ulMaxKeySize),
            (1, 512),
            "sizes of {m:#x}"
        );
    }
}

/// §2.43, each mechanism: a sensitive base makes a sensitive key, a non-extractable base a
/// non-extractable key; ALWAYS_SENSITIVE / NEVER_EXTRACTABLE hold only if they hold for every
/// base. A template asking for less is refused.
#[test]
fn protection_is_inherited() {
    let t = token("derive-inherit");
    let open = base(&t, &[1; 16], false, true);
    let sensitive = base(&t, &[2; 16], true, true);
    let fixed = base(&t, &[3; 16], false, false);
    let cases: Vec<(&str, Mech, CK_OBJECT_HANDLE)> = vec![
        (
            "BASE_AND_DATA",
            data(CKM_CONCATENATE_BASE_AND_DATA, &[0; 4]),
            sensitive,
        ),
        (
            "DATA_AND_BASE",
            data(CKM_CONCATENATE_DATA_AND_BASE, &[0; 4]),
            sensitive,
        ),
        ("XOR", data(CKM_XOR_BASE_AND_DATA, &[0; 16]), sensitive),
        ("EXTRACT", extract(5), sensitive),
        ("BASE_AND_KEY, sensitive other", and_key(sensitive), open),
        ("BASE_AND_KEY, sensitive base", and_key(open), sensitive),
    ];
    for (what, m, b) in &cases {
        let len = if what.starts_with("EXTRACT") {
            Some(16)
        } else {
            None
        };
        expect_err(
            &format!("{what}: CKA_SENSITIVE false asked"),
            t.derive(m, *b, &readable(len)),
            CKR_TEMPLATE_INCONSISTENT,
        );
        let d = t
            .derive(m, *b, &readable(len).without(CKA_SENSITIVE))
            .ok_or_panic(what);
        assert!(t.get_bool(d, CKA_SENSITIVE), "{what}: sensitive");
        expect_err(
            &format!("{what}: CKA_VALUE"),
            t.attr(d, CKA_VALUE),
            CKR_ATTRIBUTE_SENSITIVE,
        );
        // The base was made readable, then marked: never "always sensitive".
        assert!(
            !t.get_bool(d, CKA_ALWAYS_SENSITIVE),
            "{what}: always sensitive"
        );
    }
    expect_err(
        "non-extractable base, CKA_EXTRACTABLE true asked",
        t.derive(
            &data(CKM_CONCATENATE_BASE_AND_DATA, &[0; 4]),
            fixed,
            &readable(None),
        ),
        CKR_TEMPLATE_INCONSISTENT,
    );
    let d = t
        .derive(
            &and_key(open),
            fixed,
            &readable(None)
                .without(CKA_EXTRACTABLE)
                .b(CKA_SENSITIVE, true),
        )
        .ok_or_panic("non-extractable base");
    assert!(!t.get_bool(d, CKA_EXTRACTABLE));
    assert!(
        !t.get_bool(d, CKA_NEVER_EXTRACTABLE),
        "the other base was extractable"
    );

    // Generated keys are always sensitive and never extractable; so is a concatenation of two.
    let gen = |l| {
        t.generate_key(
            &Mech::new(CKM_GENERIC_SECRET_KEY_GEN),
            &Tmpl::new()
                .u(CKA_CLASS, CKO_SECRET_KEY)
                .u(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
                .u(CKA_VALUE_LEN, l)
                .b(CKA_TOKEN, false)
                .b(CKA_DERIVE, true),
        )
        .ok_or_panic("C_GenerateKey")
    };
    let (g1, g2) = (gen(16), gen(16));
    let d = t
        .derive(&and_key(g2), g1, &Tmpl::new().b(CKA_TOKEN, false))
        .unwrap();
    assert!(t.get_bool(d, CKA_ALWAYS_SENSITIVE) && t.get_bool(d, CKA_NEVER_EXTRACTABLE));
    let d = t
        .derive(&and_key(open), g1, &Tmpl::new().b(CKA_TOKEN, false))
        .unwrap();
    assert!(!t.get_bool(d, CKA_ALWAYS_SENSITIVE) && !t.get_bool(d, CKA_NEVER_EXTRACTABLE));
    assert!(t.get_bool(d, CKA_SENSITIVE) && !t.get_bool(d, CKA_EXTRACTABLE));
}

/// A protected key is never cut into pieces: one unknown byte is a search of 256 HMACs.
#[test]
fn protected_bases_are_not_cut_short() {
    let t = token("derive-cut");
    let secret_key = base(&t, &[0x5c; 16], true, false);
    let hidden = || {
        readable(None)
            .without(CKA_SENSITIVE)
            .without(CKA_EXTRACTABLE)
    };
    let hidden_len = |l| hidden().u(CKA_VALUE_LEN, l);
    let cases: Vec<(&str, Mech, Tmpl)> = vec![
        ("EXTRACT one byte", extract(8), hidden_len(1)),
        ("EXTRACT 15 bytes", extract(0), hidden_len(15)),
        (
            "DATA_AND_BASE, all but one byte known",
            data(CKM_CONCATENATE_DATA_AND_BASE, &[0; 15]),
            hidden_len(16),
        ),
        (
            "BASE_AND_DATA cut",
            data(CKM_CONCATENATE_BASE_AND_DATA, &[0; 4]),
            hidden_len(8),
        ),
        (
            "XOR with shorter data",
            data(CKM_XOR_BASE_AND_DATA, &[0; 4]),
            hidden(),
        ),
    ];
    for (what, m, tm) in cases {
        expect_err(
            what,
            t.derive(&m, secret_key, &tm),
            CKR_KEY_FUNCTION_NOT_PERMITTED,
        );
    }
    // Whole copies keep every unknown bit, so they stay allowed (and protected).
    t.derive(&extract(13), secret_key, &hidden_len(16))
        .ok_or_panic("rotation");
    t.derive(
        &data(CKM_XOR_BASE_AND_DATA, &[0; 16]),
        secret_key,
        &hidden(),
    )
    .ok_or_panic("XOR");
    // A readable base may be cut: its value is the caller's already.
    let open = base(&t, &[1; 16], false, true);
    t.derive(&extract(8), open, &readable(Some(1)))
        .ok_or_panic("readable base");
    // CKA_WRAP_WITH_TRUSTED stays on the copy.
    let wwt = t.obj(&secret(CKK_GENERIC_SECRET, &[4; 16]).b(CKA_WRAP_WITH_TRUSTED, true));
    expect_err(
        "copy of a WRAP_WITH_TRUSTED key without it",
        t.derive(
            &data(CKM_XOR_BASE_AND_DATA, &[0; 16]),
            wwt,
            &readable(None).b(CKA_WRAP_WITH_TRUSTED, false),
        ),
        CKR_TEMPLATE_INCONSISTENT,
    );
    let d = t
        .derive(&data(CKM_XOR_BASE_AND_DATA, &[0; 16]), wwt, &readable(None))
        .ok_or_panic("copy of a WRAP_WITH_TRUSTED key");
    assert!(t.get_bool(d, CKA_WRAP_WITH_TRUSTED));
}

fn pub_from_priv() -> Mech {
    Mech::new(CKM_PUB_KEY_FROM_PRIV_KEY)
}

fn public_template() -> Tmpl {
    Tmpl::new().b(CKA_TOKEN, false).b(CKA_VERIFY, true)
}

#[test]
fn public_key_from_private_key() {
    let t = token("derive-pub");
    // RSA: n and e, and the public key verifies what the private key signs.
    let rsa = t.obj(&rsa_private_fixed().b(CKA_DERIVE, true));
    let p = t
        .derive(&pub_from_priv(), rsa, &public_template())
        .ok_or_panic("RSA");
    assert_eq!(t.get_ulong(p, CKA_CLASS), CKO_PUBLIC_KEY);
    assert_eq!(t.get_ulong(p, CKA_KEY_TYPE), CKK_RSA);
    assert_bytes("modulus", &t.get(p, CKA_MODULUS), &unhex(RSA_MODULUS));
    assert_bytes(
        "exponent",
        &t.get(p, CKA_PUBLIC_EXPONENT),
        &unhex(RSA_PUBLIC_EXPONENT),
    );
    assert!(!t.get_bool(p, CKA_LOCAL));
    let m = Mech::new(CKM_SHA256_RSA_PKCS);
    let sig = t.sign(&m, rsa, b"message").ok_or_panic("C_Sign");
    t.verify(&m, p, b"message", &sig).ok_or_panic("C_Verify");
    assert!(
        t.attr(p, CKA_PRIVATE_EXPONENT).is_err(),
        "no private part on the public key"
    );

    // EC P-256: the point of the fixed scalar.
    let ec = t.obj(&ec_private(
        &unhex(EC_PARAMS_P256),
        &unhex(EC_PRIVATE_VALUE),
    ));
    let p = t
        .derive(&pub_from_priv(), ec, &public_template())
        .ok_or_panic("EC");
    assert_bytes("EC point", &t.get(p, CKA_EC_POINT), &unhex(EC_POINT));
    assert_bytes(
        "EC params",
        &t.get(p, CKA_EC_PARAMS),
        &unhex(EC_PARAMS_P256),
    );

    // Ed25519: RFC 8032 §7.1 test 1.
    let ed = t.obj(
        &Tmpl::new()
            .u(CKA_CLASS, CKO_PRIVATE_KEY)
            .u(CKA_KEY_TYPE, CKK_EC_EDWARDS)
            .b(CKA_TOKEN, false)
            .b(CKA_DERIVE, true)
            .b(CKA_SIGN, true)
            .bytes(CKA_EC_PARAMS, hx(OID_ED25519))
            .bytes(
                CKA_VALUE,
                hx("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"),
            ),
    );
    let p = t
        .derive(&pub_from_priv(), ed, &public_template())
        .ok_or_panic("Ed25519");
    let mut want = vec![0x04, 0x20];
    want.extend(hx(
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    ));
    assert_bytes("Ed25519 point", &t.get(p, CKA_EC_POINT), &want);
    let sig = t
        .sign(&Mech::new(CKM_EDDSA), ed, b"")
        .ok_or_panic("EdDSA sign");
    t.verify(&Mech::new(CKM_EDDSA), p, b"", &sig)
        .ok_or_panic("EdDSA verify");

    // C_DeriveKey's rules: CKA_DERIVE on the base, a private key, a public-key template.
    let no_derive = t.obj(&rsa_private_fixed());
    expect_err(
        "private key without CKA_DERIVE",
        t.derive(&pub_from_priv(), no_derive, &public_template()),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
    );
    let sk = base(&t, &[1; 16], false, true);
    expect_err(
        "a secret key as the base",
        t.derive(&pub_from_priv(), sk, &public_template()),
        CKR_KEY_TYPE_INCONSISTENT,
    );
    expect_err(
        "a secret-key class in the template",
        t.derive(
            &pub_from_priv(),
            rsa,
            &public_template().u(CKA_CLASS, CKO_SECRET_KEY),
        ),
        CKR_TEMPLATE_INCONSISTENT,
    );
    expect_err(
        "a parameter",
        t.derive(
            &Mech::bytes(CKM_PUB_KEY_FROM_PRIV_KEY, &[1]),
            rsa,
            &public_template(),
        ),
        CKR_MECHANISM_PARAM_INVALID,
    );
    let info = t
        .mechanism_info(CKM_PUB_KEY_FROM_PRIV_KEY)
        .ok_or_panic("info");
    assert_eq!(info.flags, CKF_DERIVE);
}
