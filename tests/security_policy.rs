//! Issue 10, findings 2 and 4 and the single policy table: PKCS#11 v3.0 §4.4 (CKA_MODIFIABLE,
//! CKA_COPYABLE, CKA_DESTROYABLE), §4.9-4.10 with the footnotes 10-12 of Table 10 (CKA_TRUSTED,
//! the one-way attributes), §5.7 (C_CopyObject, C_SetAttributeValue) and §5.18 (C_UnwrapKey,
//! C_DeriveKey with CKA_ALWAYS_AUTHENTICATE), through the built module.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::keys::*;
use common::p11::*;
use common::vectors::*;
use common::*;
use cryptoki_sys::*;

fn kw() -> Mech {
    Mech::new(CKM_AES_KEY_WRAP)
}

/// Log the token's user out, run `f` as the SO, then log the user back in.
fn as_so<T>(t: &Tok, f: impl FnOnce() -> T) -> T {
    expect_rv_raw("C_Logout user", t.logout(t.h), CKR_OK);
    expect_rv_raw("C_Login SO", t.login(t.h, CKU_SO, SO_PIN), CKR_OK);
    let out = f();
    expect_rv_raw("C_Logout SO", t.logout(t.h), CKR_OK);
    expect_rv_raw("C_Login user", t.login(t.h, CKU_USER, USER_PIN), CKR_OK);
    out
}

/// A public token AES key-wrapping key made by the SO with CKA_TRUSTED, adjusted by `f`.
fn trusted_kek(t: &Tok, label: &str, f: impl FnOnce(Tmpl) -> Tmpl) -> CK_OBJECT_HANDLE {
    let tmpl = f(Tmpl::new()
        .u(CKA_CLASS, CKO_SECRET_KEY)
        .u(CKA_KEY_TYPE, CKK_AES)
        .b(CKA_TOKEN, true)
        .b(CKA_PRIVATE, false)
        .b(CKA_WRAP, true)
        .b(CKA_UNWRAP, false)
        .b(CKA_ENCRYPT, false)
        .b(CKA_DECRYPT, false)
        .b(CKA_TRUSTED, true)
        .bytes(CKA_LABEL, label.as_bytes())
        .bytes(CKA_VALUE, hx(KW41_KEK)));
    as_so(t, || {
        t.create(&tmpl)
            .ok_or_panic("the SO creates a CKA_TRUSTED key")
    })
}

/// Every handle the user's session can see.
fn all_objects(t: &Tok) -> Vec<CK_OBJECT_HANDLE> {
    t.session
        .find_objects(&[])
        .expect("C_FindObjects")
        .into_iter()
        .map(|o| o.handle())
        .collect()
}

/// Finding 2 as reported: the user copies the SO's non-modifiable trusted KEK as modifiable,
/// turns on CKA_DECRYPT and decrypts the wrapped CKA_WRAP_WITH_TRUSTED key. A user's copy of a
/// trusted object is refused outright; the SO may still copy it.
#[test]
fn user_copy_of_a_trusted_key_is_refused() {
    let t = token("sp-trusted-copy");
    let trusted = trusted_kek(&t, "trusted kek", |x| x.b(CKA_MODIFIABLE, false));
    let secret = t.obj(
        &aes(&hx(KW41_KEY))
            .b(CKA_SENSITIVE, true)
            .b(CKA_WRAP_WITH_TRUSTED, true),
    );
    let before = all_objects(&t).len();
    for (what, tmpl) in [
        (
            "copy {MODIFIABLE=true, TOKEN=false}",
            Tmpl::new().b(CKA_MODIFIABLE, true).b(CKA_TOKEN, false),
        ),
        ("copy {TOKEN=false}", Tmpl::new().b(CKA_TOKEN, false)),
        ("copy {}", Tmpl::new()),
        ("copy {TRUSTED=false}", Tmpl::new().b(CKA_TRUSTED, false)),
    ] {
        expect_err_in(
            &format!("the user's {what} of a trusted key"),
            t.copy(trusted, &tmpl),
            &[CKR_ACTION_PROHIBITED, CKR_ATTRIBUTE_READ_ONLY],
        );
    }
    assert_eq!(
        all_objects(&t).len(),
        before,
        "a refused copy left an object"
    );

    // Whatever the user holds, nothing decrypts the trusted wrap of the secret.
    let wrapped = t
        .wrap(&kw(), trusted, secret)
        .ok_or_panic("wrap with the trusted key");
    for h in all_objects(&t) {
        if let Ok(plain) = t.decrypt(&kw(), h, &wrapped) {
            panic!("handle {h} decrypted the trusted wrap: {}", hex(&plain));
        }
    }

    // The SO may copy its own key: the copy stays trusted and keeps CKA_MODIFIABLE false.
    let so_copy = as_so(&t, || {
        t.copy(trusted, &Tmpl::new().b(CKA_TOKEN, false))
            .ok_or_panic("the SO copies a trusted key")
    });
    assert!(t.get_bool(so_copy, CKA_TRUSTED));
    assert!(!t.get_bool(so_copy, CKA_MODIFIABLE));
}

/// No copy makes an attribute go back the way the table says it cannot: CKA_MODIFIABLE and
/// CKA_DESTROYABLE false→true, CKA_SENSITIVE true→false, CKA_EXTRACTABLE false→true,
/// CKA_WRAP_WITH_TRUSTED and CKA_ALWAYS_AUTHENTICATE true→false; the history attributes are the
/// token's; the usage of a non-modifiable key is fixed in its copies.
#[test]
fn copy_keeps_one_way_attributes() {
    let t = token("sp-copy-oneway");
    let fixed = t.obj(
        &aes(&hx(KW41_KEY))
            .b(CKA_DECRYPT, false)
            .b(CKA_MODIFIABLE, false)
            .b(CKA_DESTROYABLE, false),
    );
    for (what, tmpl) in [
        (
            "MODIFIABLE false -> true",
            Tmpl::new().b(CKA_MODIFIABLE, true),
        ),
        (
            "MODIFIABLE false -> true with TOKEN false",
            Tmpl::new().b(CKA_MODIFIABLE, true).b(CKA_TOKEN, false),
        ),
        (
            "DESTROYABLE false -> true",
            Tmpl::new().b(CKA_DESTROYABLE, true),
        ),
        (
            "DECRYPT on a non-modifiable key",
            Tmpl::new().b(CKA_DECRYPT, true),
        ),
    ] {
        expect_err(
            &format!("copy {what}"),
            t.copy(fixed, &tmpl),
            CKR_ATTRIBUTE_READ_ONLY,
        );
    }
    // The copy of a non-modifiable key is non-modifiable, however it is asked for.
    let c = t
        .copy(fixed, &Tmpl::new().b(CKA_TOKEN, false))
        .ok_or_panic("plain copy");
    assert!(!t.get_bool(c, CKA_MODIFIABLE));
    assert!(!t.get_bool(c, CKA_DECRYPT));
    expect_err(
        "C_SetAttributeValue DECRYPT on the copy",
        t.set(c, &Tmpl::new().b(CKA_DECRYPT, true)),
        CKR_ACTION_PROHIBITED,
    );

    let generated = t
        .generate_key(
            &Mech::new(CKM_AES_KEY_GEN),
            &new_secret(CKK_AES, Some(16))
                .b(CKA_SENSITIVE, true)
                .b(CKA_EXTRACTABLE, false)
                .b(CKA_WRAP_WITH_TRUSTED, true),
        )
        .ok_or_panic("C_GenerateKey");
    for (what, tmpl) in [
        (
            "SENSITIVE true -> false",
            Tmpl::new().b(CKA_SENSITIVE, false),
        ),
        (
            "EXTRACTABLE false -> true",
            Tmpl::new().b(CKA_EXTRACTABLE, true),
        ),
        (
            "WRAP_WITH_TRUSTED true -> false",
            Tmpl::new().b(CKA_WRAP_WITH_TRUSTED, false),
        ),
        (
            "ALWAYS_SENSITIVE given",
            Tmpl::new().b(CKA_ALWAYS_SENSITIVE, true),
        ),
        (
            "NEVER_EXTRACTABLE given",
            Tmpl::new().b(CKA_NEVER_EXTRACTABLE, true),
        ),
    ] {
        expect_err(
            &format!("copy {what}"),
            t.copy(generated, &tmpl),
            CKR_ATTRIBUTE_READ_ONLY,
        );
    }
    let c = t
        .copy(generated, &Tmpl::new())
        .ok_or_panic("copy of the generated key");
    assert!(t.get_bool(c, CKA_ALWAYS_SENSITIVE), "history is copied");
    assert!(t.get_bool(c, CKA_NEVER_EXTRACTABLE), "history is copied");
    assert!(t.get_bool(c, CKA_WRAP_WITH_TRUSTED));
    expect_err(
        "value of the copy",
        t.attr(c, CKA_VALUE),
        CKR_ATTRIBUTE_SENSITIVE,
    );

    // A key made sensitive by the copy was not always sensitive.
    let readable = t.obj(&aes(&hx(KW41_KEY)));
    let c = t
        .copy(readable, &Tmpl::new().b(CKA_SENSITIVE, true))
        .ok_or_panic("copy to sensitive");
    assert!(!t.get_bool(c, CKA_ALWAYS_SENSITIVE));

    let rsa = t.obj(&rsa_private_fixed().b(CKA_ALWAYS_AUTHENTICATE, true));
    expect_err(
        "copy ALWAYS_AUTHENTICATE true -> false",
        t.copy(rsa, &Tmpl::new().b(CKA_ALWAYS_AUTHENTICATE, false)),
        CKR_ATTRIBUTE_READ_ONLY,
    );
}

/// Only the SO changes what a trusted key may do: the user may not turn its usage flags on
/// (nor off), nor its trust off, through C_SetAttributeValue, even where the key is modifiable.
#[test]
fn only_the_so_changes_the_usage_of_a_trusted_key() {
    let t = token("sp-trusted-usage");
    let trusted = trusted_kek(&t, "modifiable trusted kek", |x| x.b(CKA_MODIFIABLE, true));
    for ty in [CKA_DECRYPT, CKA_ENCRYPT, CKA_UNWRAP, CKA_SIGN, CKA_DERIVE] {
        expect_err(
            &format!("user sets 0x{ty:x} true on a trusted key"),
            t.set(trusted, &Tmpl::new().b(ty, true)),
            CKR_ATTRIBUTE_READ_ONLY,
        );
    }
    assert!(!t.get_bool(trusted, CKA_DECRYPT));
    // Nor take the trust away and then widen the now ordinary key.
    expect_err(
        "user sets CKA_TRUSTED false on a trusted key",
        t.set(trusted, &Tmpl::new().b(CKA_TRUSTED, false)),
        CKR_ATTRIBUTE_READ_ONLY,
    );
    assert!(t.get_bool(trusted, CKA_TRUSTED));
    t.set(trusted, &Tmpl::new().bytes(CKA_LABEL, b"renamed"))
        .ok_or_panic("the user renames a trusted key");
    as_so(&t, || {
        t.set(trusted, &Tmpl::new().b(CKA_UNWRAP, true))
            .ok_or_panic("the SO changes a trusted key's usage");
    });
    assert!(t.get_bool(trusted, CKA_UNWRAP));
}

/// CKA_TRUSTED is the SO's on every path that makes or changes an object.
#[test]
fn only_the_so_sets_trusted_on_every_path() {
    let t = token("sp-trusted-paths");
    let kek = t.obj(&aes(&hx(KW41_KEK)));
    let base = t.obj(&secret(CKK_GENERIC_SECRET, &[7; 32]));
    let wrapped = t
        .wrap(&kw(), kek, t.obj(&aes(&hx(KW41_KEY))))
        .ok_or_panic("wrap");
    let trusted = || Tmpl::new().b(CKA_TRUSTED, true);
    expect_err(
        "C_CreateObject",
        t.create(&aes(&hx(KW41_KEK)).b(CKA_TRUSTED, true)),
        CKR_ATTRIBUTE_READ_ONLY,
    );
    expect_err(
        "C_GenerateKey",
        t.generate_key(
            &Mech::new(CKM_AES_KEY_GEN),
            &new_secret(CKK_AES, Some(16)).b(CKA_TRUSTED, true),
        ),
        CKR_ATTRIBUTE_READ_ONLY,
    );
    let (public, private) = rsa_pair_templates(2048, &[1, 0, 1]);
    expect_err(
        "C_GenerateKeyPair",
        t.generate_pair(
            &Mech::new(CKM_RSA_PKCS_KEY_PAIR_GEN),
            &public.b(CKA_TRUSTED, true),
            &private,
        ),
        CKR_ATTRIBUTE_READ_ONLY,
    );
    expect_err(
        "C_UnwrapKey",
        t.unwrap(
            &kw(),
            kek,
            &wrapped,
            &new_secret(CKK_AES, None).b(CKA_TRUSTED, true),
        ),
        CKR_ATTRIBUTE_READ_ONLY,
    );
    expect_err(
        "C_DeriveKey",
        t.derive(
            &hkdf(true, true, CKM_SHA256, b"salt", b"info"),
            base,
            &new_secret(CKK_AES, Some(16)).b(CKA_TRUSTED, true),
        ),
        CKR_ATTRIBUTE_READ_ONLY,
    );
    expect_err(
        "C_CopyObject",
        t.copy(kek, &trusted()),
        CKR_ATTRIBUTE_READ_ONLY,
    );
    expect_err(
        "C_SetAttributeValue",
        t.set(kek, &trusted()),
        CKR_ATTRIBUTE_READ_ONLY,
    );
    for h in all_objects(&t) {
        if let Ok(v) = t.attr(h, CKA_TRUSTED) {
            assert_eq!(v, [0], "handle {h} became trusted");
        }
    }
}

/// The one-way attributes stay one-way on C_SetAttributeValue as on C_CopyObject, and a made
/// key's template may ask for CKA_WRAP_WITH_TRUSTED on every path that makes one.
#[test]
fn one_way_attributes_on_set_and_wrap_with_trusted_on_every_path() {
    let t = token("sp-oneway-set");
    let k = t.obj(
        &aes(&hx(KW41_KEY))
            .b(CKA_SENSITIVE, true)
            .b(CKA_EXTRACTABLE, false)
            .b(CKA_WRAP_WITH_TRUSTED, true),
    );
    for (what, tmpl) in [
        (
            "SENSITIVE true -> false",
            Tmpl::new().b(CKA_SENSITIVE, false),
        ),
        (
            "EXTRACTABLE false -> true",
            Tmpl::new().b(CKA_EXTRACTABLE, true),
        ),
        (
            "WRAP_WITH_TRUSTED true -> false",
            Tmpl::new().b(CKA_WRAP_WITH_TRUSTED, false),
        ),
        ("MODIFIABLE", Tmpl::new().b(CKA_MODIFIABLE, false)),
    ] {
        expect_err(
            &format!("set {what}"),
            t.set(k, &tmpl),
            CKR_ATTRIBUTE_READ_ONLY,
        );
    }

    let kek = t.obj(&aes(&hx(KW41_KEK)));
    let g = t
        .generate_key(
            &Mech::new(CKM_AES_KEY_GEN),
            &new_secret(CKK_AES, Some(16)).b(CKA_WRAP_WITH_TRUSTED, true),
        )
        .ok_or_panic("C_GenerateKey WRAP_WITH_TRUSTED");
    let wrapped = t
        .wrap(&kw(), kek, t.obj(&aes(&hx(KW41_KEY))))
        .ok_or_panic("wrap");
    let u = t
        .unwrap(
            &kw(),
            kek,
            &wrapped,
            &new_secret(CKK_AES, None).b(CKA_WRAP_WITH_TRUSTED, true),
        )
        .ok_or_panic("C_UnwrapKey WRAP_WITH_TRUSTED");
    let d = t
        .derive(
            &hkdf(true, true, CKM_SHA256, b"salt", b"info"),
            t.obj(&secret(CKK_GENERIC_SECRET, &[7; 32])),
            &new_secret(CKK_AES, Some(16)).b(CKA_WRAP_WITH_TRUSTED, true),
        )
        .ok_or_panic("C_DeriveKey WRAP_WITH_TRUSTED");
    for (what, h) in [("generated", g), ("unwrapped", u), ("derived", d)] {
        assert!(t.get_bool(h, CKA_WRAP_WITH_TRUSTED), "{what}");
        expect_err(
            &format!("{what}: wrap with an untrusted key"),
            t.wrap(&kw(), kek, h),
            CKR_KEY_NOT_WRAPPABLE,
        );
        expect_err(
            &format!("{what}: set WRAP_WITH_TRUSTED false"),
            t.set(h, &Tmpl::new().b(CKA_WRAP_WITH_TRUSTED, false)),
            CKR_ATTRIBUTE_READ_ONLY,
        );
        expect_err(
            &format!("{what}: copy WRAP_WITH_TRUSTED false"),
            t.copy(h, &Tmpl::new().b(CKA_WRAP_WITH_TRUSTED, false)),
            CKR_ATTRIBUTE_READ_ONLY,
        );
    }
}

/// What a trusted key has wrapped may be a CKA_WRAP_WITH_TRUSTED key, so what a trusted key
/// unwraps keeps that protection: it is sensitive and CKA_WRAP_WITH_TRUSTED, and a template
/// asking otherwise is refused. Without this, wrap-then-unwrap with the SO's trusted key
/// would hand out any CKA_WRAP_WITH_TRUSTED key in the clear.
#[test]
fn a_trusted_key_unwraps_only_protected_keys() {
    let t = token("sp-trusted-unwrap");
    let trusted = trusted_kek(&t, "trusted kek wu", |x| x.b(CKA_UNWRAP, true));
    let secret = t.obj(
        &aes(&hx(KW41_KEY))
            .b(CKA_SENSITIVE, true)
            .b(CKA_WRAP_WITH_TRUSTED, true),
    );
    let wrapped = t
        .wrap(&kw(), trusted, secret)
        .ok_or_panic("wrap with the trusted key");
    for (what, tmpl) in [
        ("readable", new_secret(CKK_AES, None)),
        (
            "sensitive, WRAP_WITH_TRUSTED false",
            new_secret(CKK_AES, None)
                .b(CKA_SENSITIVE, true)
                .b(CKA_WRAP_WITH_TRUSTED, false),
        ),
        (
            "WRAP_WITH_TRUSTED, not sensitive",
            new_secret(CKK_AES, None).b(CKA_WRAP_WITH_TRUSTED, true),
        ),
    ] {
        expect_err(
            &format!("unwrap {what} with a trusted key"),
            t.unwrap(&kw(), trusted, &wrapped, &tmpl),
            CKR_TEMPLATE_INCONSISTENT,
        );
    }
    let u = t
        .unwrap(
            &kw(),
            trusted,
            &wrapped,
            &new_secret(CKK_AES, None)
                .without(CKA_SENSITIVE)
                .without(CKA_EXTRACTABLE),
        )
        .ok_or_panic("unwrap with the template's defaults");
    assert!(t.get_bool(u, CKA_SENSITIVE));
    assert!(t.get_bool(u, CKA_WRAP_WITH_TRUSTED));
    expect_err(
        "unwrapped value",
        t.attr(u, CKA_VALUE),
        CKR_ATTRIBUTE_SENSITIVE,
    );
}

/// Finding 4 as reported: an RSA key that may neither sign nor decrypt and needs a context
/// login for every use gives c^d mod n through C_UnwrapKey(CKM_RSA_X_509). Raw RSA unwrap is
/// refused for every key (CKR_MECHANISM_INVALID) and C_GetMechanismInfo does not offer it.
#[test]
fn raw_rsa_unwrap_is_no_private_key_oracle() {
    let t = token("sp-rsa-x509");
    let rsa = t.obj(
        &rsa_private_fixed()
            .b(CKA_SIGN, false)
            .b(CKA_DECRYPT, false)
            .b(CKA_SIGN_RECOVER, false)
            .b(CKA_UNWRAP, true)
            .b(CKA_ALWAYS_AUTHENTICATE, true),
    );
    expect_err(
        "C_SignInit",
        t.sign_init(&Mech::new(CKM_RSA_X_509), rsa),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
    );
    let mut c = vec![0u8; 256];
    c[255] = 2;
    let oracle = new_secret(CKK_GENERIC_SECRET, None);
    let got = t.unwrap(&Mech::new(CKM_RSA_X_509), rsa, &c, &oracle);
    if let Ok(h) = got {
        panic!(
            "raw RSA unwrap made a key: value {:?}",
            t.attr(h, CKA_VALUE).map(|v| hex(&v))
        );
    }
    // The same for a key that could decrypt: raw RSA unwrap is gone, not just guarded.
    let plain = t.obj(&rsa_private_fixed());
    expect_err(
        "C_UnwrapKey CKM_RSA_X_509, ordinary key",
        t.unwrap(&Mech::new(CKM_RSA_X_509), plain, &c, &oracle),
        CKR_MECHANISM_INVALID,
    );
    let info = t
        .mechanism_info(CKM_RSA_X_509)
        .ok_or_panic("C_GetMechanismInfo");
    assert_eq!(
        info.flags & (CKF_UNWRAP | CKF_WRAP),
        0,
        "RSA_X_509 offers wrapping"
    );
}

/// C_UnwrapKey and C_DeriveKey honour CKA_ALWAYS_AUTHENTICATE: being single calls, they have
/// no operation for C_Login(CKU_CONTEXT_SPECIFIC) to authorize, so such a key is refused
/// (CKR_USER_NOT_LOGGED_IN) for them, before and after a context login attempt.
#[test]
fn always_authenticate_keys_do_not_unwrap_or_derive() {
    let t = token("sp-always-auth");
    let rsa = t.obj(
        &rsa_private_fixed()
            .b(CKA_SIGN, false)
            .b(CKA_DECRYPT, false)
            .b(CKA_UNWRAP, true)
            .b(CKA_ALWAYS_AUTHENTICATE, true),
    );
    let public = t.obj(&rsa_public_fixed());
    let k = t.obj(&aes(&hx(KW41_KEY)));
    let wrapped = t
        .wrap(&Mech::new(CKM_RSA_PKCS), public, k)
        .ok_or_panic("wrap with the public key");
    for round in ["before", "after"] {
        expect_err(
            &format!("C_UnwrapKey RSA_PKCS {round} a context login"),
            t.unwrap(
                &Mech::new(CKM_RSA_PKCS),
                rsa,
                &wrapped,
                &new_secret(CKK_AES, None),
            ),
            CKR_USER_NOT_LOGGED_IN,
        );
        let _ = t.login_context(None);
    }

    let ec = t.obj(
        &ec_private(&hx(EC_PARAMS_P256), &hx(EC_PRIVATE_VALUE))
            .b(CKA_DERIVE, true)
            .b(CKA_ALWAYS_AUTHENTICATE, true),
    );
    let point = common::der::unwrap_octet_string(&hx(EC_POINT));
    for round in ["before", "after"] {
        expect_err(
            &format!("C_DeriveKey ECDH {round} a context login"),
            t.derive(
                &ecdh(CKM_ECDH1_DERIVE, CKD_NULL, &[], &point),
                ec,
                &new_secret(CKK_GENERIC_SECRET, Some(32)),
            ),
            CKR_USER_NOT_LOGGED_IN,
        );
        let _ = t.login_context(None);
    }
    // Without the flag both work, so the refusal is the flag's.
    let ec_plain =
        t.obj(&ec_private(&hx(EC_PARAMS_P256), &hx(EC_PRIVATE_VALUE)).b(CKA_DERIVE, true));
    t.derive(
        &ecdh(CKM_ECDH1_DERIVE, CKD_NULL, &[], &point),
        ec_plain,
        &new_secret(CKK_GENERIC_SECRET, Some(32)),
    )
    .ok_or_panic("ECDH without ALWAYS_AUTHENTICATE");
}

/// C_WrapKey, C_UnwrapKey and C_DeriveKey take only mechanisms whose C_GetMechanismInfo flags
/// offer that function: an encryption-only mode (CTR, CTS, CCM) unwrapping to a readable key
/// would be a decryption oracle, PBKDF2 is a generation mechanism.
#[test]
fn key_functions_only_with_mechanisms_that_offer_them() {
    let t = token("sp-mech-flags");
    let kek = t.obj(&aes(&hx(KW41_KEK)));
    let k = t.obj(&aes(&hx(KW41_KEY)));
    let mut cb = [0u8; 16];
    cb[15] = 1;
    let mechs = t.mechanism_list().ok_or_panic("C_GetMechanismList");
    let ctr = ctr(128, cb);
    for (what, m) in [("CTR", &ctr), ("CTS", &Mech::bytes(CKM_AES_CTS, &[0; 16]))] {
        let info = t.mechanism_info(m.ty()).ok_or_panic("info");
        assert_eq!(
            info.flags & (CKF_WRAP | CKF_UNWRAP),
            0,
            "{what} offers wrapping"
        );
        expect_err(
            &format!("C_UnwrapKey AES {what}"),
            t.unwrap(m, kek, &[0x5a; 16], &new_secret(CKK_GENERIC_SECRET, None)),
            CKR_MECHANISM_INVALID,
        );
        expect_err(
            &format!("C_WrapKey AES {what}"),
            t.wrap(m, kek, k),
            CKR_MECHANISM_INVALID,
        );
    }
    assert!(mechs.contains(&CKM_PKCS5_PBKD2));
    expect_err(
        "C_DeriveKey CKM_PKCS5_PBKD2",
        t.derive(
            &pbkdf2(CKP_PKCS5_PBKD2_HMAC_SHA256, b"password", b"salt", 1),
            k,
            &new_secret(CKK_GENERIC_SECRET, Some(16)),
        ),
        CKR_MECHANISM_INVALID,
    );
}

/// CKM_HKDF_DERIVE extracting with a salt key (CKF_HKDF_SALT_KEY) and expanding.
fn hkdf_with_salt_key(salt_key: CK_OBJECT_HANDLE) -> Mech {
    let mut m = Mech::new(CKM_HKDF_DERIVE);
    let pi = m.keep(b"info");
    m.set_param(CK_HKDF_PARAMS {
        bExtract: 1,
        bExpand: 1,
        prfHashMechanism: CKM_SHA256,
        ulSaltType: CKF_HKDF_SALT_KEY,
        pSalt: std::ptr::null_mut(),
        ulSaltLen: 0,
        hSaltKey: salt_key,
        pInfo: pi,
        ulInfoLen: 4,
    });
    m
}

/// The history of a derived key (CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE) is that of every
/// key that went into it: the base key and HKDF's salt key, decided in one place.
#[test]
fn derived_keys_inherit_history_from_every_key_used() {
    let t = token("sp-derive-history");
    let protected = || {
        new_secret(CKK_GENERIC_SECRET, Some(32))
            .b(CKA_SENSITIVE, true)
            .b(CKA_EXTRACTABLE, false)
    };
    let gen = |tmpl: Tmpl| {
        t.generate_key(&Mech::new(CKM_GENERIC_SECRET_KEY_GEN), &tmpl)
            .ok_or_panic("generate")
    };
    let base = gen(protected());
    let clean_salt = gen(protected());
    let known_salt = t.obj(&secret(CKK_GENERIC_SECRET, &[9; 32]));
    assert!(t.get_bool(base, CKA_ALWAYS_SENSITIVE));
    let new_key = || {
        new_secret(CKK_AES, Some(16))
            .b(CKA_SENSITIVE, true)
            .b(CKA_EXTRACTABLE, false)
    };
    let d = t
        .derive(
            &hkdf(true, true, CKM_SHA256, b"salt", b"info"),
            base,
            &new_key(),
        )
        .ok_or_panic("derive with salt data");
    assert!(t.get_bool(d, CKA_ALWAYS_SENSITIVE));
    assert!(t.get_bool(d, CKA_NEVER_EXTRACTABLE));
    let d = t
        .derive(&hkdf_with_salt_key(clean_salt), base, &new_key())
        .ok_or_panic("derive with a clean salt key");
    assert!(t.get_bool(d, CKA_ALWAYS_SENSITIVE));
    assert!(t.get_bool(d, CKA_NEVER_EXTRACTABLE));
    let d = t
        .derive(&hkdf_with_salt_key(known_salt), base, &new_key())
        .ok_or_panic("derive with a known salt key");
    assert!(
        !t.get_bool(d, CKA_ALWAYS_SENSITIVE),
        "the salt key was known"
    );
    assert!(
        !t.get_bool(d, CKA_NEVER_EXTRACTABLE),
        "the salt key was known"
    );
}

/// The history attributes (CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE, CKA_LOCAL) are the
/// token's on every path that makes a key, and a key that existed outside the token (created,
/// unwrapped, derived from a known key) is never "always sensitive" nor "never extractable".
#[test]
fn history_attributes_are_the_tokens_on_every_path() {
    let t = token("sp-history-paths");
    let kek = t.obj(&aes(&hx(KW41_KEK)));
    let known = t.obj(&secret(CKK_GENERIC_SECRET, &[7; 32]));
    let wrapped = t
        .wrap(&kw(), kek, t.obj(&aes(&hx(KW41_KEY))))
        .ok_or_panic("wrap");
    let protected = |tmpl: Tmpl| tmpl.b(CKA_SENSITIVE, true).b(CKA_EXTRACTABLE, false);
    for ty in [CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE, CKA_LOCAL] {
        let claim = |tmpl: Tmpl| tmpl.b(ty, true);
        expect_err(
            &format!("C_CreateObject with 0x{ty:x}"),
            t.create(&claim(protected(aes(&hx(KW41_KEY))))),
            CKR_ATTRIBUTE_READ_ONLY,
        );
        expect_err(
            &format!("C_GenerateKey with 0x{ty:x}"),
            t.generate_key(
                &Mech::new(CKM_AES_KEY_GEN),
                &claim(protected(new_secret(CKK_AES, Some(16)))),
            ),
            CKR_ATTRIBUTE_READ_ONLY,
        );
        expect_err(
            &format!("C_UnwrapKey with 0x{ty:x}"),
            t.unwrap(
                &kw(),
                kek,
                &wrapped,
                &claim(protected(new_secret(CKK_AES, None))),
            ),
            CKR_ATTRIBUTE_READ_ONLY,
        );
        expect_err(
            &format!("C_DeriveKey with 0x{ty:x}"),
            t.derive(
                &hkdf(true, true, CKM_SHA256, b"salt", b"info"),
                known,
                &claim(protected(new_secret(CKK_AES, Some(16)))),
            ),
            CKR_ATTRIBUTE_READ_ONLY,
        );
    }
    let created = t.obj(&protected(aes(&hx(KW41_KEY))));
    let unwrapped = t
        .unwrap(&kw(), kek, &wrapped, &protected(new_secret(CKK_AES, None)))
        .ok_or_panic("unwrap");
    let derived = t
        .derive(
            &hkdf(true, true, CKM_SHA256, b"salt", b"info"),
            known,
            &protected(new_secret(CKK_AES, Some(16))),
        )
        .ok_or_panic("derive");
    for (what, h) in [
        ("created", created),
        ("unwrapped", unwrapped),
        ("derived from a known key", derived),
    ] {
        assert!(!t.get_bool(h, CKA_ALWAYS_SENSITIVE), "{what}");
        assert!(!t.get_bool(h, CKA_NEVER_EXTRACTABLE), "{what}");
        assert!(!t.get_bool(h, CKA_LOCAL), "{what}");
    }
}

/// An unwrap whose result the unwrapping key forces to stay secret (a CKA_TRUSTED key, or a
/// CKA_UNWRAP_TEMPLATE asking for CKA_SENSITIVE or not CKA_EXTRACTABLE) must not answer "good
/// padding / bad padding": with CKM_AES_CBC_PAD that is Vaudenay's oracle, with CKM_RSA_PKCS
/// Bleichenbacher's, and either decrypts the protected blob byte by byte. Such unwraps take only
/// the mechanisms that authenticate the blob (AES key wrap, KWP, GCM, RSA-OAEP); the others
/// are CKR_MECHANISM_INVALID, whatever the blob holds.
#[test]
fn protected_unwraps_give_no_padding_oracle() {
    let t = token("sp-padding-oracle");
    let cbc_pad = Mech::bytes(CKM_AES_CBC_PAD, &[0x11; 16]);
    let trusted = trusted_kek(&t, "trusted kek cbc", |x| x.b(CKA_UNWRAP, true));
    let restricting =
        t.obj(&aes(&hx(KW41_KEK)).nested(CKA_UNWRAP_TEMPLATE, Tmpl::new().b(CKA_SENSITIVE, true)));
    let secret = t.obj(
        &aes(&hx(KW41_KEY))
            .b(CKA_SENSITIVE, true)
            .b(CKA_WRAP_WITH_TRUSTED, true),
    );
    let protected = new_secret(CKK_GENERIC_SECRET, None)
        .b(CKA_SENSITIVE, true)
        .b(CKA_EXTRACTABLE, false)
        .b(CKA_WRAP_WITH_TRUSTED, true);
    let plain_secret = t.obj(&aes(&hx(KW41_KEY)).b(CKA_SENSITIVE, true));
    for (what, kek, secret) in [
        ("trusted", trusted, secret),
        ("unwrap-template", restricting, plain_secret),
    ] {
        let good = t.wrap(&cbc_pad, kek, secret).ok_or_panic("CBC_PAD wrap");
        let mut bad = good.clone();
        let n = bad.len();
        bad[n - 17] ^= 0x01; // flips the last plaintext byte: the padding breaks
        for (blob_what, blob) in [("well padded", &good), ("badly padded", &bad)] {
            expect_err(
                &format!("{what} key, CBC_PAD unwrap of a {blob_what} blob"),
                t.unwrap(&cbc_pad, kek, blob, &protected),
                CKR_MECHANISM_INVALID,
            );
        }
        expect_err(
            &format!("{what} key, ECB unwrap"),
            t.unwrap(&Mech::new(CKM_AES_ECB), kek, &good[..16], &protected),
            CKR_MECHANISM_INVALID,
        );
        t.unwrap(
            &kw(),
            kek,
            &t.wrap(&kw(), kek, secret).ok_or_panic("kw"),
            &protected,
        )
        .ok_or_panic("AES key wrap stays available");
    }

    let rsa = t.obj(
        &rsa_private_fixed()
            .b(CKA_DECRYPT, false)
            .nested(CKA_UNWRAP_TEMPLATE, Tmpl::new().b(CKA_EXTRACTABLE, false)),
    );
    let public = t.obj(&rsa_public_fixed());
    let k = t.obj(&aes(&hx(KW41_KEY)));
    let good = t
        .wrap(&Mech::new(CKM_RSA_PKCS), public, k)
        .ok_or_panic("RSA PKCS wrap");
    let bad = vec![0x42; good.len()];
    for (blob_what, blob) in [("well padded", &good), ("garbage", &bad)] {
        expect_err(
            &format!("RSA_PKCS unwrap of a {blob_what} blob under CKA_UNWRAP_TEMPLATE"),
            t.unwrap(
                &Mech::new(CKM_RSA_PKCS),
                rsa,
                blob,
                &new_secret(CKK_AES, None)
                    .b(CKA_SENSITIVE, true)
                    .b(CKA_EXTRACTABLE, false),
            ),
            CKR_MECHANISM_INVALID,
        );
    }
    let wrapped = t
        .wrap(&oaep(CKM_SHA256, CKG_MGF1_SHA256, &[]), public, k)
        .ok_or_panic("OAEP wrap");
    t.unwrap(
        &oaep(CKM_SHA256, CKG_MGF1_SHA256, &[]),
        rsa,
        &wrapped,
        &new_secret(CKK_AES, None)
            .b(CKA_SENSITIVE, true)
            .b(CKA_EXTRACTABLE, false),
    )
    .ok_or_panic("OAEP unwrap stays available");
}

/// C_DeriveKey with AES_ECB_ENCRYPT_DATA is AES encryption under the base key. From the SO's
/// trusted key (which may wrap CKA_WRAP_WITH_TRUSTED keys) it would give the GCM keystream of
/// its wraps: E_K(IV || 2) XOR the wrapped blob is the protected key. A trusted secret key is a
/// wrapping key only: C_DeriveKey refuses it as base (CKR_KEY_FUNCTION_NOT_PERMITTED).
#[test]
fn a_trusted_key_is_no_derivation_base() {
    let t = token("sp-trusted-derive");
    let trusted = trusted_kek(&t, "trusted kek derive", |x| x.b(CKA_DERIVE, true));
    let value = hx(KW41_KEY);
    let protected_key = t.obj(
        &aes(&value)
            .b(CKA_SENSITIVE, true)
            .b(CKA_WRAP_WITH_TRUSTED, true),
    );
    let iv = [0x24u8; 12];
    let blob = t
        .wrap(&gcm(&iv, &[], 128), trusted, protected_key)
        .ok_or_panic("GCM wrap with the trusted key");
    let mut counter = [0u8; 16];
    counter[..12].copy_from_slice(&iv);
    counter[15] = 2;
    let got = t.derive(
        &aes_ecb_encrypt_data(&counter),
        trusted,
        &new_secret(CKK_GENERIC_SECRET, Some(16)),
    );
    if let Ok(h) = got {
        let stream = t.attr(h, CKA_VALUE).unwrap_or_default();
        let recovered: Vec<u8> = stream.iter().zip(&blob).map(|(a, b)| a ^ b).collect();
        assert_ne!(
            recovered, value,
            "the trusted wrap was decrypted through C_DeriveKey"
        );
        panic!("C_DeriveKey from a trusted key succeeded");
    }
    expect_err(
        "C_DeriveKey from a trusted key",
        got,
        CKR_KEY_FUNCTION_NOT_PERMITTED,
    );
}

/// The same keystream through C_Encrypt: a trusted secret key that the SO left CKA_ENCRYPT true
/// (the default) encrypts E_K(IV || 2) with CKM_AES_ECB, and C_Decrypt with CKM_AES_KEY_WRAP
/// simply unwraps. A trusted secret key does nothing but wrap and unwrap
/// (CKR_KEY_FUNCTION_NOT_PERMITTED for encryption, decryption, MACs and derivation, whatever
/// its usage flags say).
#[test]
fn a_trusted_secret_key_only_wraps_and_unwraps() {
    let t = token("sp-trusted-encrypt");
    let trusted = trusted_kek(&t, "trusted kek all usages", |x| {
        x.b(CKA_ENCRYPT, true)
            .b(CKA_DECRYPT, true)
            .b(CKA_SIGN, true)
            .b(CKA_VERIFY, true)
    });
    let value = hx(KW41_KEY);
    let protected_key = t.obj(
        &aes(&value)
            .b(CKA_SENSITIVE, true)
            .b(CKA_WRAP_WITH_TRUSTED, true),
    );
    let iv = [0x24u8; 12];
    let blob = t
        .wrap(&gcm(&iv, &[], 128), trusted, protected_key)
        .ok_or_panic("GCM wrap with the trusted key");
    let mut counter = [0u8; 16];
    counter[..12].copy_from_slice(&iv);
    counter[15] = 2;
    if let Ok(stream) = t.encrypt(&Mech::new(CKM_AES_ECB), trusted, &counter) {
        let recovered: Vec<u8> = stream.iter().zip(&blob).map(|(a, b)| a ^ b).collect();
        assert_ne!(
            recovered, value,
            "the trusted wrap was decrypted through C_Encrypt"
        );
        panic!("C_Encrypt with a trusted key succeeded");
    }
    for (what, got) in [
        (
            "C_EncryptInit AES_ECB",
            t.encrypt_init(&Mech::new(CKM_AES_ECB), trusted),
        ),
        ("C_DecryptInit AES_KEY_WRAP", t.decrypt_init(&kw(), trusted)),
        (
            "C_SignInit AES_CMAC",
            t.sign_init(&Mech::new(CKM_AES_CMAC), trusted),
        ),
        (
            "C_VerifyInit AES_CMAC",
            t.verify_init(&Mech::new(CKM_AES_CMAC), trusted),
        ),
        (
            "C_MessageEncryptInit AES_GCM",
            t.message_encrypt_init(&Mech::new(CKM_AES_GCM), trusted),
        ),
    ] {
        expect_err(
            &format!("{what} with a trusted key"),
            got,
            CKR_KEY_FUNCTION_NOT_PERMITTED,
        );
    }
}
