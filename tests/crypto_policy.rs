//! PKCS#11 v3.0 base §4.7-§4.9 (key attribute table: CKA_SENSITIVE, CKA_EXTRACTABLE,
//! CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE, CKA_WRAP_WITH_TRUSTED, CKA_TRUSTED,
//! CKA_WRAP_TEMPLATE, CKA_UNWRAP_TEMPLATE, CKA_DERIVE_TEMPLATE, CKA_ALLOWED_MECHANISMS,
//! CKA_ALWAYS_AUTHENTICATE and the usage flags), §5.7 (C_GetAttributeValue,
//! C_SetAttributeValue, C_CopyObject), §5.6.x (C_Login with CKU_CONTEXT_SPECIFIC) and §5.18
//! (C_WrapKey, C_UnwrapKey, C_DeriveKey return values). One test per rule, each trying to break
//! it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::p11::*;
use common::vectors::*;
use common::{SO_PIN, USER_PIN};
use cryptoki_sys::*;

fn kw() -> Mech {
    Mech::new(CKM_AES_KEY_WRAP)
}

/// A readable AES-128 key to be wrapped.
fn target(t: &Tok) -> CK_OBJECT_HANDLE {
    t.obj(&aes(&hx(KW41_KEY)))
}

fn kek(t: &Tok) -> CK_OBJECT_HANDLE {
    t.obj(&aes(&hx(KW41_KEK)))
}

/// Sensitive values are unreadable, whatever the key type; so are values of keys that are
/// not extractable (base §5.7.5: "sensitive or unextractable").
#[test]
fn sensitive_and_unextractable_values_are_unreadable() {
    let t = token("pol-sensitive");
    let a = t.obj(&aes(&[1u8; 16]).b(CKA_SENSITIVE, true));
    expect_err(
        "AES CKA_VALUE of a sensitive key",
        t.attr(a, CKA_VALUE),
        CKR_ATTRIBUTE_SENSITIVE,
    );
    let b = t.obj(&aes(&[2u8; 16]).b(CKA_EXTRACTABLE, false));
    expect_err(
        "AES CKA_VALUE of an unextractable key",
        t.attr(b, CKA_VALUE),
        CKR_ATTRIBUTE_SENSITIVE,
    );
    let r = t.obj(&rsa_private_fixed());
    for a in [
        CKA_PRIVATE_EXPONENT,
        CKA_PRIME_1,
        CKA_PRIME_2,
        CKA_EXPONENT_1,
        CKA_EXPONENT_2,
        CKA_COEFFICIENT,
    ] {
        expect_err(
            &format!("RSA attribute 0x{a:x}"),
            t.attr(r, a),
            CKR_ATTRIBUTE_SENSITIVE,
        );
    }
    // Public parts stay readable.
    assert_eq!(t.get(r, CKA_MODULUS).len(), 256);
    let e = t.obj(&ec_private(&hx(OID_P256), &hx(P256_6979_X)));
    expect_err(
        "EC CKA_VALUE",
        t.attr(e, CKA_VALUE),
        CKR_ATTRIBUTE_SENSITIVE,
    );
    // Nothing leaks through a copy that asks for less protection.
    expect_err(
        "C_CopyObject of a sensitive key with CKA_SENSITIVE false",
        t.copy(a, &Tmpl::new().b(CKA_SENSITIVE, false)),
        CKR_ATTRIBUTE_READ_ONLY,
    );
}

#[test]
fn sensitive_can_only_become_true() {
    let t = token("pol-sens-flip");
    let k = t.obj(&aes(&[3u8; 16]));
    assert!(!t.get_bool(k, CKA_SENSITIVE));
    t.set(k, &Tmpl::new().b(CKA_SENSITIVE, true))
        .ok_or_panic("CKA_SENSITIVE false -> true");
    expect_err(
        "CKA_VALUE after becoming sensitive",
        t.attr(k, CKA_VALUE),
        CKR_ATTRIBUTE_SENSITIVE,
    );
    expect_err(
        "CKA_SENSITIVE true -> false",
        t.set(k, &Tmpl::new().b(CKA_SENSITIVE, false)),
        CKR_ATTRIBUTE_READ_ONLY,
    );
    assert!(t.get_bool(k, CKA_SENSITIVE));
    assert!(
        !t.get_bool(k, CKA_ALWAYS_SENSITIVE),
        "it was not always sensitive"
    );
    expect_err(
        "set CKA_ALWAYS_SENSITIVE",
        t.set(k, &Tmpl::new().b(CKA_ALWAYS_SENSITIVE, true)),
        CKR_ATTRIBUTE_READ_ONLY,
    );
}

#[test]
fn extractable_can_only_become_false() {
    let t = token("pol-extr-flip");
    let k = t.obj(&aes(&[4u8; 16]));
    t.set(k, &Tmpl::new().b(CKA_EXTRACTABLE, false))
        .ok_or_panic("CKA_EXTRACTABLE true -> false");
    expect_err(
        "CKA_EXTRACTABLE false -> true",
        t.set(k, &Tmpl::new().b(CKA_EXTRACTABLE, true)),
        CKR_ATTRIBUTE_READ_ONLY,
    );
    assert!(!t.get_bool(k, CKA_EXTRACTABLE));
    assert!(
        !t.get_bool(k, CKA_NEVER_EXTRACTABLE),
        "it was extractable once"
    );
    expect_err(
        "C_CopyObject with CKA_EXTRACTABLE true",
        t.copy(k, &Tmpl::new().b(CKA_EXTRACTABLE, true)),
        CKR_ATTRIBUTE_READ_ONLY,
    );
    expect_err(
        "wrap it now",
        t.wrap(&kw(), kek(&t), k),
        CKR_KEY_UNEXTRACTABLE,
    );
}

#[test]
fn wrapping_a_non_extractable_key_is_key_unextractable() {
    let t = token("pol-unextractable");
    let k = t.obj(&aes(&hx(KW41_KEY)).b(CKA_EXTRACTABLE, false));
    let w = kek(&t);
    expect_err(
        "C_WrapKey of a non-extractable key",
        t.wrap(&kw(), w, k),
        CKR_KEY_UNEXTRACTABLE,
    );
    let (pt, st) = ec_pair_templates(&hx(OID_P256));
    let (_, private) = t
        .generate_pair(&Mech::new(CKM_EC_KEY_PAIR_GEN), &pt, &st)
        .ok_or_panic("C_GenerateKeyPair");
    expect_err(
        "C_WrapKey of a generated private key (default not extractable)",
        t.wrap(&Mech::new(CKM_AES_KEY_WRAP_KWP), w, private),
        CKR_KEY_UNEXTRACTABLE,
    );
}

#[test]
fn wrap_and_unwrap_flags_of_the_wrapping_key_are_enforced() {
    let t = token("pol-wrap-flag");
    let k = target(&t);
    let no_wrap = t.obj(&aes(&hx(KW41_KEK)).b(CKA_WRAP, false));
    expect_err(
        "C_WrapKey with a CKA_WRAP false key",
        t.wrap(&kw(), no_wrap, k),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
    );
    let no_unwrap = t.obj(&aes(&hx(KW41_KEK)).b(CKA_UNWRAP, false));
    expect_err(
        "C_UnwrapKey with a CKA_UNWRAP false key",
        t.unwrap(
            &kw(),
            no_unwrap,
            &hx(KW41_WRAPPED),
            &new_secret(CKK_AES, None),
        ),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
    );
}

#[test]
fn sign_and_verify_flags_are_enforced_at_init() {
    let t = token("pol-sign-flag");
    let k = t.obj(
        &secret(CKK_GENERIC_SECRET, b"Jefe")
            .b(CKA_SIGN, false)
            .b(CKA_VERIFY, false),
    );
    expect_err(
        "C_SignInit with CKA_SIGN false",
        t.sign_init(&Mech::new(CKM_SHA256_HMAC), k),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
    );
    expect_err(
        "C_VerifyInit with CKA_VERIFY false",
        t.verify_init(&Mech::new(CKM_SHA256_HMAC), k),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
    );
    let r = t.obj(&rsa_private_fixed().b(CKA_SIGN, false));
    expect_err(
        "C_SignInit RSA with CKA_SIGN false",
        t.sign_init(&Mech::new(CKM_SHA256_RSA_PKCS), r),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
    );
}

#[test]
fn encrypt_and_decrypt_flags_are_enforced_at_init() {
    let t = token("pol-enc-flag");
    let k = t.obj(&aes(&[5u8; 16]).b(CKA_ENCRYPT, false).b(CKA_DECRYPT, false));
    let iv = [0u8; 16];
    expect_err(
        "C_EncryptInit with CKA_ENCRYPT false",
        t.encrypt_init(&Mech::bytes(CKM_AES_CBC_PAD, &iv), k),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
    );
    expect_err(
        "C_DecryptInit with CKA_DECRYPT false",
        t.decrypt_init(&Mech::bytes(CKM_AES_CBC_PAD, &iv), k),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
    );
    let r = t.obj(&rsa_private_fixed().b(CKA_DECRYPT, false));
    expect_err(
        "C_DecryptInit RSA with CKA_DECRYPT false",
        t.decrypt_init(&Mech::new(CKM_RSA_PKCS), r),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
    );
}

#[test]
fn derive_flag_is_enforced() {
    let t = token("pol-derive-flag");
    let k = t.obj(&aes(&hx(SP800_38A_KEY128)).b(CKA_DERIVE, false));
    expect_err(
        "C_DeriveKey from a CKA_DERIVE false key",
        t.derive(
            &aes_ecb_encrypt_data(&[0u8; 16]),
            k,
            &new_secret(CKK_AES, None),
        ),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
    );
    let (pt, st) = ec_pair_templates(&hx(OID_P256));
    let (public, private) = t
        .generate_pair(
            &Mech::new(CKM_EC_KEY_PAIR_GEN),
            &pt,
            &st.b(CKA_DERIVE, false),
        )
        .ok_or_panic("C_GenerateKeyPair");
    let point = common::der::unwrap_octet_string(&t.get(public, CKA_EC_POINT));
    expect_err(
        "ECDH from a CKA_DERIVE false private key",
        t.derive(
            &ecdh(CKM_ECDH1_DERIVE, CKD_NULL, &[], &point),
            private,
            &new_secret(CKK_GENERIC_SECRET, Some(32)),
        ),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
    );
}

#[test]
fn allowed_mechanisms_are_enforced() {
    let t = token("pol-allowed");
    let k = t.obj(
        &aes(&hx(SP800_38A_KEY128)).mechs(CKA_ALLOWED_MECHANISMS, &[CKM_AES_CBC, CKM_AES_CMAC]),
    );
    t.encrypt(&Mech::bytes(CKM_AES_CBC, &hx(SP800_38A_IV)), k, &[0u8; 16])
        .ok_or_panic("an allowed mechanism works");
    t.sign(&Mech::new(CKM_AES_CMAC), k, b"x")
        .ok_or_panic("CMAC is allowed");
    expect_err(
        "C_EncryptInit with CKM_AES_ECB, not allowed",
        t.encrypt_init(&Mech::new(CKM_AES_ECB), k),
        CKR_MECHANISM_INVALID,
    );
    expect_err(
        "C_SignInit with CKM_AES_CMAC_GENERAL, not allowed",
        t.sign_init(&Mech::ulong(CKM_AES_CMAC_GENERAL, 8), k),
        CKR_MECHANISM_INVALID,
    );
    expect_err(
        "C_WrapKey with CKM_AES_KEY_WRAP, not allowed for the wrapping key",
        t.wrap(&kw(), k, target(&t)),
        CKR_MECHANISM_INVALID,
    );
    let r = t.obj(&rsa_private_fixed().mechs(CKA_ALLOWED_MECHANISMS, &[CKM_SHA256_RSA_PKCS_PSS]));
    expect_err(
        "C_SignInit RSA PKCS#1 v1.5 when only PSS is allowed",
        t.sign_init(&Mech::new(CKM_SHA256_RSA_PKCS), r),
        CKR_MECHANISM_INVALID,
    );
}

/// CKA_WRAP_WITH_TRUSTED keys can only be wrapped by CKA_TRUSTED wrapping keys; only the SO
/// makes a key trusted; CKA_WRAP_WITH_TRUSTED can only become true.
#[test]
fn wrap_with_trusted_needs_a_trusted_wrapping_key() {
    let t = token("pol-trusted");
    // The SO creates a trusted, public token KEK (before the user's session objects exist, so
    // no handle has to survive a logout).
    expect_rv_raw("C_Logout user", t.logout(t.h), CKR_OK);
    expect_rv_raw("C_Login SO", t.login(t.h, CKU_SO, SO_PIN), CKR_OK);
    let trusted_tmpl = Tmpl::new()
        .u(CKA_CLASS, CKO_SECRET_KEY)
        .u(CKA_KEY_TYPE, CKK_AES)
        .b(CKA_TOKEN, true)
        .b(CKA_PRIVATE, false)
        .b(CKA_WRAP, true)
        .b(CKA_UNWRAP, true)
        .b(CKA_TRUSTED, true)
        .bytes(CKA_LABEL, b"trusted kek")
        .bytes(CKA_VALUE, hx(KW41_KEK));
    let trusted = t
        .create(&trusted_tmpl)
        .ok_or_panic("the SO creates a CKA_TRUSTED key");
    expect_rv_raw("C_Logout SO", t.logout(t.h), CKR_OK);
    expect_rv_raw("C_Login user", t.login(t.h, CKU_USER, USER_PIN), CKR_OK);
    assert!(t.get_bool(trusted, CKA_TRUSTED));

    let k = t.obj(&aes(&hx(KW41_KEY)).b(CKA_WRAP_WITH_TRUSTED, true));
    let untrusted = kek(&t);
    expect_err(
        "wrap a WRAP_WITH_TRUSTED key with an untrusted KEK",
        t.wrap(&kw(), untrusted, k),
        CKR_KEY_NOT_WRAPPABLE,
    );
    let wrapped = t
        .wrap(&kw(), trusted, k)
        .ok_or_panic("wrap a WRAP_WITH_TRUSTED key with a trusted KEK");
    assert_bytes("wrapped with the trusted KEK", &wrapped, &hx(KW41_WRAPPED));
    expect_err(
        "CKA_WRAP_WITH_TRUSTED true -> false",
        t.set(k, &Tmpl::new().b(CKA_WRAP_WITH_TRUSTED, false)),
        CKR_ATTRIBUTE_READ_ONLY,
    );
    // The user may not make a key trusted: an attribute the caller may not set is
    // CKR_ATTRIBUTE_READ_ONLY (§5.1 return values).
    expect_err(
        "the user creates a CKA_TRUSTED key",
        t.create(&aes(&hx(KW41_KEK)).b(CKA_TRUSTED, true)),
        CKR_ATTRIBUTE_READ_ONLY,
    );
    expect_err(
        "the user sets CKA_TRUSTED on a key",
        t.set(untrusted, &Tmpl::new().b(CKA_TRUSTED, true)),
        CKR_ATTRIBUTE_READ_ONLY,
    );
    expect_err(
        "still not wrappable with the untrusted KEK",
        t.wrap(&kw(), untrusted, k),
        CKR_KEY_NOT_WRAPPABLE,
    );
}

/// CKA_WRAP_TEMPLATE: only keys matching it can be wrapped.
#[test]
fn wrap_template_is_enforced() {
    let t = token("pol-wrap-tmpl");
    let w = t.obj(
        &aes(&hx(KW41_KEK)).nested(
            CKA_WRAP_TEMPLATE,
            Tmpl::new()
                .u(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
                .b(CKA_SIGN, true),
        ),
    );
    expect_err(
        "wrap an AES key with a KEK whose template asks for generic secrets",
        t.wrap(&kw(), w, target(&t)),
        CKR_KEY_NOT_WRAPPABLE,
    );
    let no_sign = t.obj(&secret(CKK_GENERIC_SECRET, &[6u8; 16]).b(CKA_SIGN, false));
    expect_err(
        "wrap a generic secret with CKA_SIGN false",
        t.wrap(&kw(), w, no_sign),
        CKR_KEY_NOT_WRAPPABLE,
    );
    let ok = t.obj(&secret(CKK_GENERIC_SECRET, &hx(KW41_KEY)));
    assert_bytes(
        "a matching key wraps",
        &t.wrap(&kw(), w, ok).ok_or_panic("wrap a matching key"),
        &hx(KW41_WRAPPED),
    );
}

/// CKA_UNWRAP_TEMPLATE: attributes of the unwrapped key are imposed; a conflicting template is
/// CKR_TEMPLATE_INCONSISTENT.
#[test]
fn unwrap_template_is_enforced() {
    let t = token("pol-unwrap-tmpl");
    let w = t.obj(
        &aes(&hx(KW41_KEK)).nested(
            CKA_UNWRAP_TEMPLATE,
            Tmpl::new()
                .u(CKA_KEY_TYPE, CKK_AES)
                .b(CKA_SENSITIVE, true)
                .b(CKA_EXTRACTABLE, false)
                .b(CKA_ENCRYPT, false),
        ),
    );
    let base = Tmpl::new()
        .u(CKA_CLASS, CKO_SECRET_KEY)
        .u(CKA_KEY_TYPE, CKK_AES)
        .b(CKA_TOKEN, false)
        .b(CKA_DECRYPT, true);
    expect_err(
        "unwrap with CKA_SENSITIVE false against the unwrap template",
        t.unwrap(
            &kw(),
            w,
            &hx(KW41_WRAPPED),
            &base.clone().b(CKA_SENSITIVE, false),
        ),
        CKR_TEMPLATE_INCONSISTENT,
    );
    expect_err(
        "unwrap with CKA_ENCRYPT true against the unwrap template",
        t.unwrap(
            &kw(),
            w,
            &hx(KW41_WRAPPED),
            &base.clone().b(CKA_ENCRYPT, true),
        ),
        CKR_TEMPLATE_INCONSISTENT,
    );
    let u = t
        .unwrap(&kw(), w, &hx(KW41_WRAPPED), &base)
        .ok_or_panic("unwrap with a template that leaves the attributes to the unwrap template");
    assert!(
        t.get_bool(u, CKA_SENSITIVE),
        "CKA_SENSITIVE from the unwrap template"
    );
    assert!(
        !t.get_bool(u, CKA_EXTRACTABLE),
        "CKA_EXTRACTABLE from the unwrap template"
    );
    assert!(
        !t.get_bool(u, CKA_ENCRYPT),
        "CKA_ENCRYPT from the unwrap template"
    );
    assert!(t.get_bool(u, CKA_DECRYPT));
    expect_err(
        "read the unwrapped value",
        t.attr(u, CKA_VALUE),
        CKR_ATTRIBUTE_SENSITIVE,
    );
}

/// CKA_DERIVE_TEMPLATE: the same for derived keys.
#[test]
fn derive_template_is_enforced() {
    let t = token("pol-derive-tmpl");
    let base = t.obj(
        &secret(CKK_GENERIC_SECRET, &[0x0b; 22]).nested(
            CKA_DERIVE_TEMPLATE,
            Tmpl::new()
                .b(CKA_SENSITIVE, true)
                .b(CKA_EXTRACTABLE, false)
                .b(CKA_SIGN, false),
        ),
    );
    let m = || hkdf(true, true, CKM_SHA256, b"salt", b"info");
    expect_err(
        "derive with CKA_EXTRACTABLE true against the derive template",
        t.derive(
            &m(),
            base,
            &new_secret(CKK_GENERIC_SECRET, Some(32)).without(CKA_SENSITIVE),
        ),
        CKR_TEMPLATE_INCONSISTENT,
    );
    expect_err(
        "derive with CKA_SENSITIVE false against the derive template",
        t.derive(
            &m(),
            base,
            &new_secret(CKK_GENERIC_SECRET, Some(32))
                .without(CKA_EXTRACTABLE)
                .without(CKA_SIGN),
        ),
        CKR_TEMPLATE_INCONSISTENT,
    );
    let d = t
        .derive(
            &m(),
            base,
            &Tmpl::new()
                .u(CKA_CLASS, CKO_SECRET_KEY)
                .u(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
                .u(CKA_VALUE_LEN, 32)
                .b(CKA_TOKEN, false)
                .b(CKA_VERIFY, true),
        )
        .ok_or_panic("derive with a template that leaves the attributes to the derive template");
    assert!(
        t.get_bool(d, CKA_SENSITIVE),
        "CKA_SENSITIVE from the derive template"
    );
    assert!(
        !t.get_bool(d, CKA_EXTRACTABLE),
        "CKA_EXTRACTABLE from the derive template"
    );
    assert!(
        !t.get_bool(d, CKA_SIGN),
        "CKA_SIGN from the derive template"
    );
}

/// CKA_ALWAYS_AUTHENTICATE: every use needs C_Login(CKU_CONTEXT_SPECIFIC) after the Init.
#[test]
fn always_authenticate_needs_a_context_specific_login_per_use() {
    let t = token("pol-always-auth");
    let private = t.obj(&rsa_private_fixed().b(CKA_ALWAYS_AUTHENTICATE, true));
    let public = t.obj(&rsa_public_fixed());
    let m = || Mech::new(CKM_SHA256_RSA_PKCS);

    expect_rv_raw(
        "C_Login(CKU_CONTEXT_SPECIFIC) with no operation",
        t.login_context(None),
        CKR_OPERATION_NOT_INITIALIZED,
    );
    t.sign_init(&m(), private).ok_or_panic("C_SignInit");
    expect_err(
        "C_Sign without the context login",
        t.sign_call(RSA_KAT_MESSAGE),
        CKR_USER_NOT_LOGGED_IN,
    );
    // A failed C_Sign ends the operation (v3.0 §5.13: only CKR_BUFFER_TOO_SMALL and a size
    // query keep it), so a context login now has nothing to authorize.
    expect_rv_raw(
        "C_Login(CKU_CONTEXT_SPECIFIC) after the refused C_Sign",
        t.login_context(None),
        CKR_OPERATION_NOT_INITIALIZED,
    );
    t.sign_init(&m(), private)
        .ok_or_panic("C_SignInit after the refused C_Sign");
    expect_rv_raw(
        "C_Login(CKU_CONTEXT_SPECIFIC) with a wrong PIN",
        t.login_context(Some("wrong-pin")),
        CKR_PIN_INCORRECT,
    );
    // A failed login ends no operation: the signature is still waiting for the right PIN.
    expect_err(
        "C_SignInit while the operation waits for its login",
        t.sign_init(&m(), private),
        CKR_OPERATION_ACTIVE,
    );
    expect_rv_raw(
        "C_Login(CKU_CONTEXT_SPECIFIC)",
        t.login_context(None),
        CKR_OK,
    );
    let sig = t
        .sign_call(RSA_KAT_MESSAGE)
        .ok_or_panic("C_Sign after the context login");
    assert_bytes("signature", &sig, &hx(RSA_KAT_SHA256_PKCS1_SIG));
    t.verify(&m(), public, RSA_KAT_MESSAGE, &sig)
        .ok_or_panic("verify");
    // The authorization is for one operation only.
    t.sign_init(&m(), private)
        .ok_or_panic("C_SignInit for a second signature");
    expect_err(
        "the second C_Sign without a new context login",
        t.sign_call(RSA_KAT_MESSAGE),
        CKR_USER_NOT_LOGGED_IN,
    );
    assert!(t.get_bool(private, CKA_ALWAYS_AUTHENTICATE));
}

/// Unwrapped keys are never CKA_ALWAYS_SENSITIVE or CKA_NEVER_EXTRACTABLE (their value has been
/// outside the token), nor CKA_LOCAL.
#[test]
fn unwrapped_keys_are_not_always_sensitive_nor_never_extractable() {
    let t = token("pol-unwrapped");
    let u = t
        .unwrap(
            &kw(),
            kek(&t),
            &hx(KW41_WRAPPED),
            &new_secret(CKK_AES, None)
                .b(CKA_SENSITIVE, true)
                .b(CKA_EXTRACTABLE, false),
        )
        .ok_or_panic("C_UnwrapKey");
    assert!(t.get_bool(u, CKA_SENSITIVE));
    assert!(
        !t.get_bool(u, CKA_ALWAYS_SENSITIVE),
        "unwrapped key is CKA_ALWAYS_SENSITIVE"
    );
    assert!(
        !t.get_bool(u, CKA_NEVER_EXTRACTABLE),
        "unwrapped key is CKA_NEVER_EXTRACTABLE"
    );
    assert!(!t.get_bool(u, CKA_LOCAL), "unwrapped key is CKA_LOCAL");
}

/// Derived keys: CKA_ALWAYS_SENSITIVE is true only if the base key was always sensitive and
/// the new key is sensitive; CKA_NEVER_EXTRACTABLE likewise (base §4.9, footnote to
/// C_DeriveKey).
#[test]
fn derived_keys_inherit_always_sensitive_and_never_extractable() {
    let t = token("pol-derived");
    let gen = |sensitive: bool, extractable: bool| {
        t.generate_key(
            &Mech::new(CKM_GENERIC_SECRET_KEY_GEN),
            &new_secret(CKK_GENERIC_SECRET, Some(32))
                .b(CKA_SENSITIVE, sensitive)
                .b(CKA_EXTRACTABLE, extractable),
        )
        .ok_or_panic("CKM_GENERIC_SECRET_KEY_GEN")
    };
    let m = || hkdf(true, true, CKM_SHA256, b"salt", b"info");
    let derived = |base: CK_OBJECT_HANDLE, sensitive: bool, extractable: bool| {
        t.derive(
            &m(),
            base,
            &new_secret(CKK_GENERIC_SECRET, Some(32))
                .b(CKA_SENSITIVE, sensitive)
                .b(CKA_EXTRACTABLE, extractable),
        )
        .ok_or_panic("C_DeriveKey")
    };
    let strong = gen(true, false);
    assert!(t.get_bool(strong, CKA_ALWAYS_SENSITIVE) && t.get_bool(strong, CKA_NEVER_EXTRACTABLE));
    let d = derived(strong, true, false);
    assert!(
        t.get_bool(d, CKA_ALWAYS_SENSITIVE),
        "strong base, sensitive derived: ALWAYS_SENSITIVE"
    );
    assert!(
        t.get_bool(d, CKA_NEVER_EXTRACTABLE),
        "strong base, unextractable derived: NEVER_EXTRACTABLE"
    );
    let d = derived(strong, false, true);
    assert!(
        !t.get_bool(d, CKA_ALWAYS_SENSITIVE),
        "derived non-sensitive: not ALWAYS_SENSITIVE"
    );
    assert!(
        !t.get_bool(d, CKA_NEVER_EXTRACTABLE),
        "derived extractable: not NEVER_EXTRACTABLE"
    );
    let weak = gen(false, true);
    let d = derived(weak, true, false);
    assert!(
        !t.get_bool(d, CKA_ALWAYS_SENSITIVE),
        "weak base: derived not ALWAYS_SENSITIVE"
    );
    assert!(
        !t.get_bool(d, CKA_NEVER_EXTRACTABLE),
        "weak base: derived not NEVER_EXTRACTABLE"
    );
    assert!(!t.get_bool(d, CKA_LOCAL), "derived keys are not CKA_LOCAL");
}

/// CKA_ALWAYS_AUTHENTICATE on decryption: C_Decrypt needs the context login (the size query
/// answers without it), and the login authorizes that one operation only.
#[test]
fn always_authenticate_guards_decryption_too() {
    let t = token("pol-always-auth-dec");
    let private = t.obj(
        &rsa_private_fixed()
            .b(CKA_ALWAYS_AUTHENTICATE, true)
            .b(CKA_DECRYPT, true),
    );
    let public = t.obj(&rsa_public_fixed().b(CKA_ENCRYPT, true));
    let m = || Mech::new(CKM_RSA_PKCS);
    let c = t.encrypt(&m(), public, b"secret").ok_or_panic("C_Encrypt");
    t.decrypt_init(&m(), private).ok_or_panic("C_DecryptInit");
    let (rv, _, need) = t.decrypt_call(&c, None);
    expect_rv_raw("C_Decrypt size query without the context login", rv, CKR_OK);
    assert!(need >= 6, "size query answered {need}");
    let (rv, _, _) = t.decrypt_call(&c, Some(256));
    expect_rv_raw(
        "C_Decrypt without the context login",
        rv,
        CKR_USER_NOT_LOGGED_IN,
    );
    // That failed C_Decrypt ended the operation (v3.0 §5.10).
    let (rv, _, _) = t.decrypt_call(&c, Some(256));
    expect_rv_raw(
        "C_Decrypt after the refused one",
        rv,
        CKR_OPERATION_NOT_INITIALIZED,
    );
    t.decrypt_init(&m(), private)
        .ok_or_panic("C_DecryptInit again");
    expect_rv_raw(
        "C_Login(CKU_CONTEXT_SPECIFIC)",
        t.login_context(None),
        CKR_OK,
    );
    let (rv, out, _) = t.decrypt_call(&c, Some(256));
    expect_rv_raw("C_Decrypt after the context login", rv, CKR_OK);
    assert_bytes("decrypted after the context login", &out, b"secret");
    expect_err(
        "a second C_Decrypt without a new context login",
        t.decrypt(&m(), private, &c),
        CKR_USER_NOT_LOGGED_IN,
    );
}
