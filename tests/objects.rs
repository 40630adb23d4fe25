//! PKCS#11 v3.0 §5.7 (object management: C_CreateObject, C_CopyObject, C_DestroyObject,
//! C_GetObjectSize, C_GetAttributeValue, C_SetAttributeValue) and §4 (object classes and their
//! attribute tables: data, X.509 certificate, secret, RSA and EC keys; footnotes 1, 2, 7, 8, 11,
//! 12 of the common attribute table; CKA_MODIFIABLE, CKA_COPYABLE, CKA_DESTROYABLE,
//! CKA_UNIQUE_ID).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::keys::*;
use common::*;
use cryptoki::context::Pkcs11;
use cryptoki::error::RvError;
use cryptoki::object::{
    Attribute, AttributeType, CertificateType, KeyType, ObjectClass, ObjectHandle,
};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki_sys::*;
use std::collections::HashSet;
use std::ptr::null_mut;

/// An attribute type no version of PKCS#11 defines (below CKA_VENDOR_DEFINED).
const BOGUS_ATTRIBUTE: CK_ATTRIBUTE_TYPE = 0x0fff_fff0;

/// A token with a user PIN, and a R/W session logged in as that user.
fn setup(label: &str) -> (TestEnv, Pkcs11, Slot, Session) {
    let env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, label);
    let session = user_session(&ctx, slot);
    (env, ctx, slot, session)
}

/// Read one attribute through the raw ABI: size query, then the value.
fn raw_get(
    raw: &Raw,
    session: CK_SESSION_HANDLE,
    object: CK_OBJECT_HANDLE,
    kind: CK_ATTRIBUTE_TYPE,
) -> Result<Vec<u8>, CK_RV> {
    let mut t = [raw_attr(kind, None, 0)];
    let rv = ck!(raw, C_GetAttributeValue(session, object, t.as_mut_ptr(), 1));
    if rv != CKR_OK {
        return Err(rv);
    }
    assert_ne!(t[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    let mut buf = vec![0u8; t[0].ulValueLen as usize];
    let mut t = [raw_attr(kind, Some(&mut buf), 0)];
    let rv = ck!(raw, C_GetAttributeValue(session, object, t.as_mut_ptr(), 1));
    if rv != CKR_OK {
        return Err(rv);
    }
    buf.truncate(t[0].ulValueLen as usize);
    Ok(buf)
}

fn ulong(bytes: &[u8]) -> CK_ULONG {
    CK_ULONG::from_ne_bytes(bytes.try_into().expect("CK_ULONG-sized value"))
}

fn aes_key(label: &str, value: &[u8]) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Value(value.to_vec()),
    ]
}

fn certificate(label: &str) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::CertificateType(CertificateType::X_509),
        Attribute::Token(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(vec![0xce, 0x27]),
        Attribute::Subject(unhex(X509_SUBJECT)),
        Attribute::Issuer(unhex(X509_ISSUER)),
        Attribute::SerialNumber(unhex(X509_SERIAL)),
        Attribute::Value(unhex(X509_CERT)),
    ]
}

fn rsa_public(label: &str) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::KeyType(KeyType::RSA),
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Verify(true),
        Attribute::Modulus(unhex(RSA_MODULUS)),
        Attribute::PublicExponent(unhex(RSA_PUBLIC_EXPONENT)),
    ]
}

fn rsa_private(label: &str) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(KeyType::RSA),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Sign(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Modulus(unhex(RSA_MODULUS)),
        Attribute::PublicExponent(unhex(RSA_PUBLIC_EXPONENT)),
        Attribute::PrivateExponent(unhex(RSA_PRIVATE_EXPONENT)),
        Attribute::Prime1(unhex(RSA_PRIME_1)),
        Attribute::Prime2(unhex(RSA_PRIME_2)),
        Attribute::Exponent1(unhex(RSA_EXPONENT_1)),
        Attribute::Exponent2(unhex(RSA_EXPONENT_2)),
        Attribute::Coefficient(unhex(RSA_COEFFICIENT)),
    ]
}

fn ec_public(label: &str) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::KeyType(KeyType::EC),
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::EcParams(unhex(EC_PARAMS_P256)),
        Attribute::EcPoint(unhex(EC_POINT)),
    ]
}

fn ec_private(label: &str) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(KeyType::EC),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::EcParams(unhex(EC_PARAMS_P256)),
        Attribute::Value(unhex(EC_PRIVATE_VALUE)),
    ]
}

/// The template without attributes of this type.
fn without(template: &[Attribute], kind: AttributeType) -> Vec<Attribute> {
    template
        .iter()
        .filter(|a| a.attribute_type() != kind)
        .cloned()
        .collect()
}

fn with(template: &[Attribute], extra: Attribute) -> Vec<Attribute> {
    let mut t = template.to_vec();
    t.push(extra);
    t
}

#[test]
fn data_object_round_trip_and_defaults() {
    let (_env, _ctx, _slot, s) = setup("data");
    let h = s
        .create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Label(b"data-1".to_vec()),
            Attribute::Value(b"some data".to_vec()),
        ])
        .expect("C_CreateObject data");
    assert_ne!(h.handle(), CK_INVALID_HANDLE);
    let attrs = s.get_attributes(h, &[AttributeType::Class]).expect("class");
    assert_eq!(attrs, vec![Attribute::Class(ObjectClass::DATA)]);
    assert!(read_bool(&s, h, AttributeType::Token).expect("token"));
    // §4.4 defaults: modifiable, copyable and destroyable are CK_TRUE.
    assert!(read_bool(&s, h, AttributeType::Modifiable).expect("modifiable"));
    assert!(read_bool(&s, h, AttributeType::Copyable).expect("copyable"));
    assert!(read_bool(&s, h, AttributeType::Destroyable).expect("destroyable"));
    assert_eq!(
        read_bytes(&s, h, AttributeType::Label).expect("label"),
        b"data-1"
    );
    assert_eq!(
        read_bytes(&s, h, AttributeType::Value).expect("value"),
        b"some data"
    );
    // §4.5: CKA_APPLICATION defaults to empty.
    assert_eq!(
        read_bytes(&s, h, AttributeType::Application).expect("application"),
        b""
    );
    assert!(
        !read_bytes(&s, h, AttributeType::UniqueId)
            .expect("unique id")
            .is_empty(),
        "CKA_UNIQUE_ID assigned"
    );

    // CKA_TOKEN defaults to CK_FALSE: a session object.
    let session_obj = s
        .create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Label(b"data-2".to_vec()),
        ])
        .expect("data object with defaults");
    assert!(!read_bool(&s, session_obj, AttributeType::Token).expect("token"));
    assert_eq!(
        read_bytes(&s, session_obj, AttributeType::Value).expect("value"),
        b"",
        "CKA_VALUE of a data object defaults to empty"
    );
}

#[test]
fn certificate_round_trip_and_required_attributes() {
    let (_env, _ctx, _slot, s) = setup("cert");
    let raw = Raw::load();
    let h = s
        .create_object(&certificate("cert-1"))
        .expect("X.509 certificate");
    assert_eq!(
        s.get_attributes(h, &[AttributeType::CertificateType])
            .expect("type"),
        vec![Attribute::CertificateType(CertificateType::X_509)]
    );
    assert_eq!(
        read_bytes(&s, h, AttributeType::Value).expect("value"),
        unhex(X509_CERT)
    );
    assert_eq!(
        read_bytes(&s, h, AttributeType::Subject).expect("subject"),
        unhex(X509_SUBJECT)
    );
    assert_eq!(
        read_bytes(&s, h, AttributeType::Issuer).expect("issuer"),
        unhex(X509_ISSUER)
    );
    assert_eq!(
        read_bytes(&s, h, AttributeType::SerialNumber).expect("serial"),
        unhex(X509_SERIAL)
    );
    // §4.6 defaults: not trusted, category unspecified.
    assert!(!read_bool(&s, h, AttributeType::Trusted).expect("trusted"));
    let category = raw_get(&raw, s.handle(), h.handle(), CKA_CERTIFICATE_CATEGORY)
        .expect("CKA_CERTIFICATE_CATEGORY");
    assert_eq!(ulong(&category), CK_CERTIFICATE_CATEGORY_UNSPECIFIED);

    for missing in [
        AttributeType::CertificateType,
        AttributeType::Subject,
        AttributeType::Value,
    ] {
        expect_rv_for(
            &format!("certificate without {missing:?}"),
            s.create_object(&without(&certificate("incomplete"), missing)),
            RvError::TemplateIncomplete,
        );
    }
    expect_rv(
        s.create_object(&without(&certificate("no-class"), AttributeType::Class)),
        RvError::TemplateIncomplete,
    );
}

#[test]
fn secret_keys_round_trip() {
    let (_env, _ctx, _slot, s) = setup("secret");
    let generic = s
        .create_object(&generic_secret("generic", &[0x5a; 32], true, false))
        .expect("generic secret");
    assert_eq!(
        s.get_attributes(generic, &[AttributeType::KeyType, AttributeType::ValueLen])
            .expect("attrs"),
        vec![
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::ValueLen(32.into())
        ]
    );
    assert_eq!(
        read_bytes(&s, generic, AttributeType::Value).expect("value"),
        vec![0x5a; 32]
    );
    assert!(
        !read_bool(&s, generic, AttributeType::Local).expect("local"),
        "a key made by C_CreateObject is not CKA_LOCAL"
    );
    for len in [16usize, 24, 32] {
        let value: Vec<u8> = (0..len as u8).collect();
        let h = s
            .create_object(&aes_key(&format!("aes-{len}"), &value))
            .expect("AES key");
        assert_eq!(
            s.get_attributes(h, &[AttributeType::KeyType, AttributeType::ValueLen])
                .expect("attrs"),
            vec![
                Attribute::KeyType(KeyType::AES),
                Attribute::ValueLen((len as u64).into())
            ]
        );
        assert_eq!(
            read_bytes(&s, h, AttributeType::Value).expect("value"),
            value
        );
    }
}

#[test]
fn secret_key_rules() {
    let (_env, _ctx, _slot, s) = setup("secret-rules");
    expect_rv(
        s.create_object(&aes_key("short", &[1; 15])),
        RvError::AttributeValueInvalid,
    );
    expect_rv(
        s.create_object(&aes_key("long", &[1; 33])),
        RvError::AttributeValueInvalid,
    );
    expect_rv(
        s.create_object(&without(
            &aes_key("no-value", &[1; 16]),
            AttributeType::Value,
        )),
        RvError::TemplateIncomplete,
    );
    expect_rv(
        s.create_object(&without(
            &aes_key("no-type", &[1; 16]),
            AttributeType::KeyType,
        )),
        RvError::TemplateIncomplete,
    );
    // Footnote 2 (must not be specified with C_CreateObject) makes these read-only here.
    for extra in [
        Attribute::ValueLen(16.into()),
        Attribute::Local(true),
        Attribute::Local(false),
        Attribute::AlwaysSensitive(false),
        Attribute::NeverExtractable(false),
        Attribute::UniqueId(b"chosen-by-the-caller".to_vec()),
    ] {
        let label = format!("C_CreateObject with {extra:?}");
        expect_rv_for(
            &label,
            s.create_object(&with(&aes_key(&label, &[7; 16]), extra)),
            RvError::AttributeReadOnly,
        );
    }
    // None of the refused templates created anything.
    assert!(
        s.find_objects(&[Attribute::Class(ObjectClass::SECRET_KEY)])
            .expect("find")
            .is_empty(),
        "a refused C_CreateObject left an object"
    );
}

#[test]
fn sensitive_and_unextractable_values_are_not_revealed() {
    let (_env, _ctx, _slot, s) = setup("sensitive");
    let sensitive = s
        .create_object(&generic_secret("sensitive", &[1; 32], true, true))
        .expect("sensitive key");
    let raw = Raw::load();
    assert_eq!(
        raw_get(&raw, s.handle(), sensitive.handle(), CKA_VALUE),
        Err(CKR_ATTRIBUTE_SENSITIVE)
    );
    let mut unextractable = generic_secret("unextractable", &[2; 32], true, false);
    unextractable.retain(|a| a.attribute_type() != AttributeType::Extractable);
    unextractable.push(Attribute::Extractable(false));
    let h = s.create_object(&unextractable).expect("unextractable key");
    assert_eq!(
        raw_get(&raw, s.handle(), h.handle(), CKA_VALUE),
        Err(CKR_ATTRIBUTE_SENSITIVE),
        "footnote 7: CKA_EXTRACTABLE false hides CKA_VALUE"
    );
    // The rest of the key stays readable.
    assert_eq!(
        read_bytes(&s, h, AttributeType::Label).expect("label"),
        b"unextractable"
    );
    assert_eq!(
        ulong(&raw_get(&raw, s.handle(), h.handle(), CKA_VALUE_LEN).expect("len")),
        32
    );
}

#[test]
fn rsa_keys_round_trip() {
    let (_env, _ctx, _slot, s) = setup("rsa");
    let raw = Raw::load();
    let public = s
        .create_object(&rsa_public("rsa-pub"))
        .expect("RSA public key");
    assert_eq!(
        read_bytes(&s, public, AttributeType::Modulus).expect("modulus"),
        unhex(RSA_MODULUS)
    );
    assert_eq!(
        read_bytes(&s, public, AttributeType::PublicExponent).expect("exponent"),
        unhex(RSA_PUBLIC_EXPONENT)
    );
    let bits = raw_get(&raw, s.handle(), public.handle(), CKA_MODULUS_BITS)
        .expect("CKA_MODULUS_BITS of an RSA public key");
    assert_eq!(ulong(&bits), 2048);

    let private = s
        .create_object(&rsa_private("rsa-priv"))
        .expect("RSA private key");
    assert_eq!(
        read_bytes(&s, private, AttributeType::Modulus).expect("modulus is public"),
        unhex(RSA_MODULUS)
    );
    for secret in [
        CKA_PRIVATE_EXPONENT,
        CKA_PRIME_1,
        CKA_PRIME_2,
        CKA_EXPONENT_1,
        CKA_EXPONENT_2,
        CKA_COEFFICIENT,
    ] {
        assert_eq!(
            raw_get(&raw, s.handle(), private.handle(), secret),
            Err(CKR_ATTRIBUTE_SENSITIVE),
            "attribute 0x{secret:x} of a sensitive RSA key"
        );
    }
    assert!(!read_bool(&s, private, AttributeType::Local).expect("local"));

    expect_rv(
        s.create_object(&without(&rsa_public("x"), AttributeType::Modulus)),
        RvError::TemplateIncomplete,
    );
    expect_rv(
        s.create_object(&without(&rsa_public("x"), AttributeType::PublicExponent)),
        RvError::TemplateIncomplete,
    );
    expect_rv(
        s.create_object(&without(&rsa_private("x"), AttributeType::Modulus)),
        RvError::TemplateIncomplete,
    );
    expect_rv(
        s.create_object(&without(&rsa_private("x"), AttributeType::PrivateExponent)),
        RvError::TemplateIncomplete,
    );
    // CKA_MODULUS_BITS carries footnote 2 for RSA public keys.
    expect_rv(
        s.create_object(&with(&rsa_public("x"), Attribute::ModulusBits(2048.into()))),
        RvError::AttributeReadOnly,
    );
}

#[test]
fn ec_keys_round_trip() {
    let (_env, _ctx, _slot, s) = setup("ec");
    let raw = Raw::load();
    let public = s
        .create_object(&ec_public("ec-pub"))
        .expect("EC public key");
    assert_eq!(
        read_bytes(&s, public, AttributeType::EcParams).expect("params"),
        unhex(EC_PARAMS_P256)
    );
    assert_eq!(
        read_bytes(&s, public, AttributeType::EcPoint).expect("point"),
        unhex(EC_POINT)
    );
    let private = s
        .create_object(&ec_private("ec-priv"))
        .expect("EC private key");
    assert_eq!(
        read_bytes(&s, private, AttributeType::EcParams).expect("params"),
        unhex(EC_PARAMS_P256)
    );
    assert_eq!(
        raw_get(&raw, s.handle(), private.handle(), CKA_VALUE),
        Err(CKR_ATTRIBUTE_SENSITIVE)
    );
    expect_rv(
        s.create_object(&without(&ec_public("x"), AttributeType::EcPoint)),
        RvError::TemplateIncomplete,
    );
    expect_rv(
        s.create_object(&without(&ec_public("x"), AttributeType::EcParams)),
        RvError::TemplateIncomplete,
    );
    expect_rv(
        s.create_object(&without(&ec_private("x"), AttributeType::Value)),
        RvError::TemplateIncomplete,
    );
}

/// C_CreateObject with a raw template.
fn raw_create(raw: &Raw, session: CK_SESSION_HANDLE, template: &mut [CK_ATTRIBUTE]) -> CK_RV {
    let mut h = CK_INVALID_HANDLE;
    ck!(
        raw,
        C_CreateObject(
            session,
            template.as_mut_ptr(),
            template.len() as CK_ULONG,
            &mut h
        )
    )
}

#[test]
fn bad_attribute_values_are_attribute_value_invalid() {
    let (_env, _ctx, _slot, s) = setup("bad-values");
    let raw = Raw::load();
    let h = s.handle();
    let mut data = CKO_DATA.to_ne_bytes();

    // CKA_CLASS must be a CK_ULONG: 3 bytes are not one.
    let mut short = [0u8; 3];
    let mut t = [raw_attr(CKA_CLASS, Some(&mut short), 0)];
    assert_rv(raw_create(&raw, h, &mut t), CKR_ATTRIBUTE_VALUE_INVALID);

    // A CK_BBOOL is one byte.
    let mut wide_bool = 1u32.to_ne_bytes();
    let mut t = [
        raw_attr(CKA_CLASS, Some(&mut data), 0),
        raw_attr(CKA_TOKEN, Some(&mut wide_bool), 0),
    ];
    assert_rv(raw_create(&raw, h, &mut t), CKR_ATTRIBUTE_VALUE_INVALID);

    // No such object class.
    let mut unknown_class = (0x1234 as CK_ULONG).to_ne_bytes();
    let mut t = [raw_attr(CKA_CLASS, Some(&mut unknown_class), 0)];
    assert_rv(raw_create(&raw, h, &mut t), CKR_ATTRIBUTE_VALUE_INVALID);

    // No such key type or certificate type.
    let mut secret = CKO_SECRET_KEY.to_ne_bytes();
    let mut unknown_kt = (0x1234 as CK_ULONG).to_ne_bytes();
    let mut value = [9u8; 16];
    let mut t = [
        raw_attr(CKA_CLASS, Some(&mut secret), 0),
        raw_attr(CKA_KEY_TYPE, Some(&mut unknown_kt), 0),
        raw_attr(CKA_VALUE, Some(&mut value), 0),
    ];
    assert_rv_in(
        raw_create(&raw, h, &mut t),
        &[CKR_ATTRIBUTE_VALUE_INVALID, CKR_TEMPLATE_INCONSISTENT],
    );
    let mut cert = CKO_CERTIFICATE.to_ne_bytes();
    let mut unknown_ct = (0x1234 as CK_ULONG).to_ne_bytes();
    let mut t = [
        raw_attr(CKA_CLASS, Some(&mut cert), 0),
        raw_attr(CKA_CERTIFICATE_TYPE, Some(&mut unknown_ct), 0),
        raw_attr(CKA_VALUE, Some(&mut value), 0),
    ];
    assert_rv_in(
        raw_create(&raw, h, &mut t),
        &[CKR_ATTRIBUTE_VALUE_INVALID, CKR_TEMPLATE_INCONSISTENT],
    );

    // NULL value with a length, NULL template with a count, NULL output handle.
    let mut t = [
        raw_attr(CKA_CLASS, Some(&mut data), 0),
        raw_attr(CKA_LABEL, None, 5),
    ];
    assert_rv_in(
        raw_create(&raw, h, &mut t),
        &[CKR_ARGUMENTS_BAD, CKR_ATTRIBUTE_VALUE_INVALID],
    );
    let mut out = CK_INVALID_HANDLE;
    assert_rv(
        ck!(raw, C_CreateObject(h, null_mut(), 1, &mut out)),
        CKR_ARGUMENTS_BAD,
    );
    let mut t = [raw_attr(CKA_CLASS, Some(&mut data), 0)];
    assert_rv(
        ck!(raw, C_CreateObject(h, t.as_mut_ptr(), 1, null_mut())),
        CKR_ARGUMENTS_BAD,
    );
    assert!(
        s.find_objects(&[]).expect("find").is_empty(),
        "a refused template created an object"
    );
}

#[test]
fn unknown_or_foreign_attribute_types_are_refused() {
    let (_env, _ctx, _slot, s) = setup("bad-types");
    let raw = Raw::load();
    let mut data = CKO_DATA.to_ne_bytes();
    let mut junk = [1u8; 4];
    let mut t = [
        raw_attr(CKA_CLASS, Some(&mut data), 0),
        raw_attr(BOGUS_ATTRIBUTE, Some(&mut junk), 0),
    ];
    assert_rv(
        raw_create(&raw, s.handle(), &mut t),
        CKR_ATTRIBUTE_TYPE_INVALID,
    );
    // An RSA attribute on a data object does not belong to the class.
    expect_rv_in(
        s.create_object(&with(
            &data_object("foreign", b"v", false, false),
            Attribute::Modulus(vec![1, 2, 3]),
        )),
        &[RvError::AttributeTypeInvalid, RvError::TemplateInconsistent],
    );
}

#[test]
fn token_objects_need_a_rw_session() {
    let (_env, ctx, slot, _s) = setup("ro-create");
    let ro = ctx.open_ro_session(slot).expect("R/O session, logged in");
    expect_rv(
        ro.create_object(&data_object("token-in-ro", b"v", true, false)),
        RvError::SessionReadOnly,
    );
    expect_rv(
        ro.create_object(&data_object("private-token-in-ro", b"v", true, true)),
        RvError::SessionReadOnly,
    );
    // Session objects are fine in a R/O session.
    ro.create_object(&data_object("session-in-ro", b"v", false, true))
        .expect("session object in a R/O session");
}

#[test]
fn private_objects_and_secret_values_need_login() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "no-login");
    let s = ctx.open_rw_session(slot).expect("R/W public session");
    expect_rv(
        s.create_object(&data_object("private-token", b"v", true, true)),
        RvError::UserNotLoggedIn,
    );
    expect_rv(
        s.create_object(&data_object("private-session", b"v", false, true)),
        RvError::UserNotLoggedIn,
    );
    // A public key object with secret material also needs the user (ferrohsm convention).
    expect_rv(
        s.create_object(&generic_secret("public-secret", &[3; 32], false, false)),
        RvError::UserNotLoggedIn,
    );
    // Public objects without secrets do not.
    s.create_object(&data_object("public-token", b"v", true, false))
        .expect("public token object without login");
    s.create_object(&certificate("public-cert"))
        .expect("certificate without login");
    s.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("login");
    s.create_object(&generic_secret("public-secret", &[3; 32], false, false))
        .expect("public secret key once logged in");
}

#[test]
fn private_objects_are_invisible_after_logout() {
    let (_env, _ctx, _slot, s) = setup("invisible");
    let h = s
        .create_object(&data_object("hidden", b"private value", true, true))
        .expect("private object");
    let public = s
        .create_object(&data_object("shown", b"public value", true, false))
        .expect("public object");
    s.logout().expect("logout");
    assert!(find_by_label(&s, "hidden").is_empty());
    assert_eq!(find_by_label(&s, "shown"), vec![public]);
    expect_rv_in(
        s.get_attributes(h, &[AttributeType::Value]),
        &[RvError::ObjectHandleInvalid, RvError::UserNotLoggedIn],
    );
    expect_rv_in(
        s.destroy_object(h),
        &[RvError::ObjectHandleInvalid, RvError::UserNotLoggedIn],
    );
    s.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("login");
    let again = one_by_label(&s, "hidden");
    assert_eq!(
        read_bytes(&s, again, AttributeType::Value).expect("value"),
        b"private value"
    );
}

#[test]
fn get_attribute_value_answers_each_attribute() {
    let (_env, _ctx, _slot, s) = setup("get-attrs");
    let raw = Raw::load();
    let mut key = generic_secret("mixed-label", &[0x11; 32], true, true);
    key.push(Attribute::Id(vec![1, 2, 3, 4, 5, 6, 7, 8]));
    let obj = s.create_object(&key).expect("sensitive key").handle();
    let sh = s.handle();

    let mut label = vec![0u8; 64];
    let mut value = vec![0u8; 64];
    let mut bogus = vec![0u8; 8];
    let mut id_short = vec![0u8; 2];
    let mut class = vec![0u8; std::mem::size_of::<CK_ULONG>()];
    let mut t = [
        raw_attr(CKA_LABEL, Some(&mut label), 0),
        raw_attr(CKA_VALUE, Some(&mut value), 0),
        raw_attr(BOGUS_ATTRIBUTE, Some(&mut bogus), 0),
        raw_attr(CKA_ID, Some(&mut id_short), 0),
        raw_attr(CKA_CLASS, Some(&mut class), 0),
        raw_attr(CKA_KEY_TYPE, None, 0),
    ];
    let rv = ck!(raw, C_GetAttributeValue(sh, obj, t.as_mut_ptr(), 6));
    // §5.7: with several of these cases, any of their codes may be returned.
    assert_rv_in(
        rv,
        &[
            CKR_ATTRIBUTE_SENSITIVE,
            CKR_ATTRIBUTE_TYPE_INVALID,
            CKR_BUFFER_TOO_SMALL,
        ],
    );
    assert_eq!(t[0].ulValueLen, 11, "label filled in");
    assert_eq!(
        t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION,
        "sensitive value"
    );
    assert_eq!(t[2].ulValueLen, CK_UNAVAILABLE_INFORMATION, "invalid type");
    assert_eq!(
        t[3].ulValueLen, CK_UNAVAILABLE_INFORMATION,
        "buffer too small"
    );
    assert_eq!(t[4].ulValueLen, class.len() as CK_ULONG, "class filled in");
    assert_eq!(
        t[5].ulValueLen,
        std::mem::size_of::<CK_ULONG>() as CK_ULONG,
        "size query answered"
    );
    assert_eq!(&label[..11], b"mixed-label");
    assert_eq!(ulong(&class), CKO_SECRET_KEY);
    assert!(value.iter().all(|&b| b == 0), "sensitive bytes written");

    // One kind of problem at a time gives its own code.
    let mut label = vec![0u8; 64];
    let mut value = vec![0u8; 64];
    let mut t = [
        raw_attr(CKA_LABEL, Some(&mut label), 0),
        raw_attr(CKA_VALUE, Some(&mut value), 0),
    ];
    assert_rv(
        ck!(raw, C_GetAttributeValue(sh, obj, t.as_mut_ptr(), 2)),
        CKR_ATTRIBUTE_SENSITIVE,
    );
    assert_eq!(t[0].ulValueLen, 11);
    assert_eq!(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);

    let mut label = vec![0u8; 64];
    let mut modulus = vec![0u8; 8];
    let mut bogus = vec![0u8; 8];
    let mut t = [
        raw_attr(BOGUS_ATTRIBUTE, Some(&mut bogus), 0),
        // A secret key has no modulus: "the object does not possess such an attribute".
        raw_attr(CKA_MODULUS, Some(&mut modulus), 0),
        raw_attr(CKA_LABEL, Some(&mut label), 0),
    ];
    assert_rv(
        ck!(raw, C_GetAttributeValue(sh, obj, t.as_mut_ptr(), 3)),
        CKR_ATTRIBUTE_TYPE_INVALID,
    );
    assert_eq!(t[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_eq!(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_eq!(
        t[2].ulValueLen, 11,
        "processing went on after the invalid ones"
    );

    let mut id_short = vec![0u8; 7];
    let mut label = vec![0u8; 64];
    let mut t = [
        raw_attr(CKA_ID, Some(&mut id_short), 0),
        raw_attr(CKA_LABEL, Some(&mut label), 0),
    ];
    assert_rv(
        ck!(raw, C_GetAttributeValue(sh, obj, t.as_mut_ptr(), 2)),
        CKR_BUFFER_TOO_SMALL,
    );
    assert_eq!(t[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_eq!(t[1].ulValueLen, 11);

    // Size queries alone: CKR_OK with the exact lengths.
    let mut t = [
        raw_attr(CKA_LABEL, None, 0),
        raw_attr(CKA_ID, None, 0),
        raw_attr(CKA_VALUE_LEN, None, 0),
    ];
    assert_rv(
        ck!(raw, C_GetAttributeValue(sh, obj, t.as_mut_ptr(), 3)),
        CKR_OK,
    );
    assert_eq!(t[0].ulValueLen, 11);
    assert_eq!(t[1].ulValueLen, 8);
    assert_eq!(t[2].ulValueLen, std::mem::size_of::<CK_ULONG>() as CK_ULONG);
    // An exactly sized buffer is enough.
    let mut id = vec![0u8; 8];
    let mut t = [raw_attr(CKA_ID, Some(&mut id), 0)];
    assert_rv(
        ck!(raw, C_GetAttributeValue(sh, obj, t.as_mut_ptr(), 1)),
        CKR_OK,
    );
    assert_eq!(id, vec![1, 2, 3, 4, 5, 6, 7, 8]);

    // Bad handles and pointers.
    let mut t = [raw_attr(CKA_LABEL, None, 0)];
    assert_rv(
        ck!(raw, C_GetAttributeValue(sh, 0x00ba_d0b1, t.as_mut_ptr(), 1)),
        CKR_OBJECT_HANDLE_INVALID,
    );
    assert_rv(
        ck!(raw, C_GetAttributeValue(sh, obj, null_mut(), 1)),
        CKR_ARGUMENTS_BAD,
    );
}

#[test]
fn set_attribute_value_rules() {
    let (_env, ctx, slot, s) = setup("set-attrs");
    let raw = Raw::load();
    let data = s
        .create_object(&data_object("before", b"v", true, false))
        .expect("data");
    s.update_attributes(data, &[Attribute::Label(b"after".to_vec())])
        .expect("CKA_LABEL is modifiable");
    assert_eq!(
        read_bytes(&s, data, AttributeType::Label).expect("label"),
        b"after"
    );

    // Attributes that are not modifiable after creation.
    for attr in [
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::Token(false),
        Attribute::Private(true),
        Attribute::Modifiable(false),
        Attribute::UniqueId(b"mine".to_vec()),
    ] {
        let what = format!("C_SetAttributeValue {:?}", attr.attribute_type());
        expect_rv_for(
            &what,
            s.update_attributes(data, &[attr]),
            RvError::AttributeReadOnly,
        );
    }
    // A failed update changes nothing, not even its valid parts.
    expect_rv(
        s.update_attributes(
            data,
            &[
                Attribute::Label(b"half-done".to_vec()),
                Attribute::Class(ObjectClass::SECRET_KEY),
            ],
        ),
        RvError::AttributeReadOnly,
    );
    assert_eq!(
        read_bytes(&s, data, AttributeType::Label).expect("label"),
        b"after",
        "a refused C_SetAttributeValue applied part of its template"
    );
    let mut junk = [0u8; 4];
    let mut t = [raw_attr(BOGUS_ATTRIBUTE, Some(&mut junk), 0)];
    assert_rv(
        ck!(
            raw,
            C_SetAttributeValue(s.handle(), data.handle(), t.as_mut_ptr(), 1)
        ),
        CKR_ATTRIBUTE_TYPE_INVALID,
    );

    // CKA_MODIFIABLE false: nothing can be changed.
    let frozen = s
        .create_object(&with(
            &data_object("frozen", b"v", true, false),
            Attribute::Modifiable(false),
        ))
        .expect("unmodifiable object");
    expect_rv(
        s.update_attributes(frozen, &[Attribute::Label(b"thawed".to_vec())]),
        RvError::ActionProhibited,
    );
    assert_eq!(
        read_bytes(&s, frozen, AttributeType::Label).expect("label"),
        b"frozen"
    );

    // Footnotes 11 and 12: CKA_SENSITIVE only to true, CKA_EXTRACTABLE only to false.
    let key = s
        .create_object(&generic_secret("key", &[4; 32], true, false))
        .expect("key");
    s.update_attributes(key, &[Attribute::Id(b"new-id".to_vec())])
        .expect("CKA_ID of a key is modifiable");
    expect_rv(
        s.update_attributes(key, &[Attribute::Value(vec![5; 32])]),
        RvError::AttributeReadOnly,
    );
    s.update_attributes(key, &[Attribute::Sensitive(true)])
        .expect("CKA_SENSITIVE false -> true");
    expect_rv(
        s.update_attributes(key, &[Attribute::Sensitive(false)]),
        RvError::AttributeReadOnly,
    );
    assert!(read_bool(&s, key, AttributeType::Sensitive).expect("sensitive"));
    s.update_attributes(key, &[Attribute::Extractable(false)])
        .expect("CKA_EXTRACTABLE true -> false");
    expect_rv(
        s.update_attributes(key, &[Attribute::Extractable(true)]),
        RvError::AttributeReadOnly,
    );
    expect_rv(
        s.update_attributes(key, &[Attribute::KeyType(KeyType::AES)]),
        RvError::AttributeReadOnly,
    );

    // Token objects cannot change in a R/O session; session objects can.
    let ro = ctx.open_ro_session(slot).expect("R/O");
    expect_rv(
        ro.update_attributes(data, &[Attribute::Label(b"from-ro".to_vec())]),
        RvError::SessionReadOnly,
    );
    let session_obj = ro
        .create_object(&data_object("session", b"v", false, false))
        .expect("session object");
    ro.update_attributes(session_obj, &[Attribute::Label(b"renamed".to_vec())])
        .expect("session object modified in a R/O session");
    expect_rv(
        s.update_attributes(
            unsafe_handle(0x00ba_d0b1),
            &[Attribute::Label(b"x".to_vec())],
        ),
        RvError::ObjectHandleInvalid,
    );
}

/// An object handle the module never issued.
fn unsafe_handle(raw: CK_OBJECT_HANDLE) -> ObjectHandle {
    // SAFETY: only used to check that the module rejects unknown handles.
    unsafe { ObjectHandle::new_from_raw(raw) }
}

#[test]
fn copy_object_rules() {
    let (_env, ctx, slot, s) = setup("copy");
    let original = s
        .create_object(&data_object("original", b"copied value", true, true))
        .expect("data");
    let copy = s
        .copy_object(original, &[Attribute::Label(b"the copy".to_vec())])
        .expect("C_CopyObject");
    assert_ne!(copy, original);
    assert_eq!(
        read_bytes(&s, copy, AttributeType::Label).expect("label"),
        b"the copy"
    );
    assert_eq!(
        read_bytes(&s, copy, AttributeType::Value).expect("value"),
        b"copied value"
    );
    assert_eq!(
        read_bytes(&s, original, AttributeType::Label).expect("label"),
        b"original"
    );
    assert_ne!(
        read_bytes(&s, copy, AttributeType::UniqueId).expect("uid"),
        read_bytes(&s, original, AttributeType::UniqueId).expect("uid"),
        "a copy gets its own CKA_UNIQUE_ID"
    );
    // CKA_TOKEN and CKA_MODIFIABLE may change while copying.
    let session_copy = s
        .copy_object(
            original,
            &[Attribute::Token(false), Attribute::Modifiable(false)],
        )
        .expect("copy into a session object");
    assert!(!read_bool(&s, session_copy, AttributeType::Token).expect("token"));
    assert!(!read_bool(&s, session_copy, AttributeType::Modifiable).expect("modifiable"));
    expect_rv_in(
        s.copy_object(original, &[Attribute::Class(ObjectClass::SECRET_KEY)]),
        &[RvError::AttributeReadOnly, RvError::TemplateInconsistent],
    );

    let uncopyable = s
        .create_object(&with(
            &data_object("uncopyable", b"v", true, true),
            Attribute::Copyable(false),
        ))
        .expect("uncopyable");
    expect_rv(s.copy_object(uncopyable, &[]), RvError::ActionProhibited);

    let key = s
        .create_object(&generic_secret("sensitive", &[6; 32], true, true))
        .expect("key");
    expect_rv(
        s.copy_object(key, &[Attribute::Sensitive(false)]),
        RvError::AttributeReadOnly,
    );
    let key_copy = s.copy_object(key, &[]).expect("copy of a key");
    assert!(read_bool(&s, key_copy, AttributeType::Sensitive).expect("sensitive"));

    let ro = ctx.open_ro_session(slot).expect("R/O");
    expect_rv(ro.copy_object(original, &[]), RvError::SessionReadOnly);
    ro.copy_object(original, &[Attribute::Token(false)])
        .expect("session copy from a R/O session");
    expect_rv(
        s.copy_object(unsafe_handle(0x00ba_d0b1), &[]),
        RvError::ObjectHandleInvalid,
    );
}

#[test]
fn destroy_object_rules() {
    let (_env, ctx, slot, s) = setup("destroy");
    let h = s
        .create_object(&data_object("doomed", b"v", true, false))
        .expect("data");
    s.destroy_object(h).expect("C_DestroyObject");
    expect_rv(
        s.get_attributes(h, &[AttributeType::Label]),
        RvError::ObjectHandleInvalid,
    );
    expect_rv(s.destroy_object(h), RvError::ObjectHandleInvalid);
    assert!(find_by_label(&s, "doomed").is_empty());

    let kept = s
        .create_object(&with(
            &data_object("indestructible", b"v", true, false),
            Attribute::Destroyable(false),
        ))
        .expect("indestructible");
    expect_rv(s.destroy_object(kept), RvError::ActionProhibited);
    assert_eq!(find_by_label(&s, "indestructible"), vec![kept]);

    // An unmodifiable object may still be destroyed.
    let frozen = s
        .create_object(&with(
            &data_object("frozen", b"v", true, false),
            Attribute::Modifiable(false),
        ))
        .expect("unmodifiable");
    s.destroy_object(frozen)
        .expect("destroy an unmodifiable object");

    let token_obj = s
        .create_object(&data_object("token", b"v", true, false))
        .expect("data");
    let ro = ctx.open_ro_session(slot).expect("R/O");
    expect_rv(ro.destroy_object(token_obj), RvError::SessionReadOnly);
    let session_obj = ro
        .create_object(&data_object("session", b"v", false, false))
        .expect("session object");
    ro.destroy_object(session_obj)
        .expect("session object destroyed in a R/O session");
}

#[test]
fn get_object_size() {
    let (_env, _ctx, _slot, s) = setup("size");
    let raw = Raw::load();
    let h = s
        .create_object(&data_object("sized", &[0u8; 100], true, false))
        .expect("data");
    let mut size: CK_ULONG = 0;
    assert_rv(
        ck!(raw, C_GetObjectSize(s.handle(), h.handle(), &mut size)),
        CKR_OK,
    );
    assert!(
        size == CK_UNAVAILABLE_INFORMATION || size >= 100,
        "object size {size} smaller than its value"
    );
    assert_rv(
        ck!(raw, C_GetObjectSize(s.handle(), 0x00ba_d0b1, &mut size)),
        CKR_OBJECT_HANDLE_INVALID,
    );
    assert_rv(
        ck!(raw, C_GetObjectSize(s.handle(), h.handle(), null_mut())),
        CKR_ARGUMENTS_BAD,
    );
}

#[test]
fn handles_are_never_reused_and_unique_ids_are_distinct() {
    let (_env, _ctx, _slot, s) = setup("handles");
    let mut seen = HashSet::new();
    let mut uids = HashSet::new();
    for i in 0..60 {
        let token = i % 2 == 0;
        let h = s
            .create_object(&data_object(&format!("h{i}"), b"v", token, i % 3 == 0))
            .expect("create");
        assert_ne!(h.handle(), CK_INVALID_HANDLE);
        assert!(seen.insert(h.handle()), "handle {h} issued twice");
        let uid = read_bytes(&s, h, AttributeType::UniqueId).expect("uid");
        assert!(!uid.is_empty());
        assert!(uids.insert(uid), "CKA_UNIQUE_ID repeated");
        s.destroy_object(h).expect("destroy");
    }
    let copy_src = s
        .create_object(&data_object("src", b"v", true, false))
        .expect("create");
    assert!(seen.insert(copy_src.handle()));
    for _ in 0..10 {
        let c = s.copy_object(copy_src, &[]).expect("copy");
        assert!(seen.insert(c.handle()), "copy handle {c} reused");
        s.destroy_object(c).expect("destroy");
    }
}

#[test]
fn unique_id_is_stable_across_restart() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "uid");
    let before = {
        let s = user_session(&ctx, slot);
        let h = s
            .create_object(&data_object("uid-obj", b"v", true, true))
            .expect("create");
        read_bytes(&s, h, AttributeType::UniqueId).expect("uid")
    };
    let ctx = restart(ctx);
    let s = user_session(&ctx, slot);
    let h = one_by_label(&s, "uid-obj");
    assert_eq!(
        read_bytes(&s, h, AttributeType::UniqueId).expect("uid"),
        before
    );
}

#[test]
fn session_objects_vanish_with_their_session() {
    let (_env, ctx, slot, s) = setup("session-objects");
    let other = ctx.open_rw_session(slot).expect("second session");
    let h = other
        .create_object(&data_object("ephemeral", b"v", false, true))
        .expect("session object");
    // Visible to every session of the application while its session lives.
    assert_eq!(find_by_label(&s, "ephemeral"), vec![h]);
    assert_eq!(
        read_bytes(&s, h, AttributeType::Value).expect("value"),
        b"v"
    );
    other.close().expect("close");
    assert!(find_by_label(&s, "ephemeral").is_empty());
    expect_rv(
        s.get_attributes(h, &[AttributeType::Label]),
        RvError::ObjectHandleInvalid,
    );
    // And they never reach the token.
    s.create_object(&data_object("ephemeral-2", b"v", false, false))
        .expect("session object");
    drop(s);
    let ctx = restart(ctx);
    let s = user_session(&ctx, slot);
    assert!(find_by_label(&s, "ephemeral-2").is_empty());
}

#[test]
fn only_the_so_may_mark_a_certificate_trusted() {
    let (_env, ctx, slot, s) = setup("trusted");
    // Footnote 10: CKA_TRUSTED can only be set to CK_TRUE by the SO.
    // An attribute the caller may not set is CKR_ATTRIBUTE_READ_ONLY (§5.1 return values).
    expect_rv_for(
        "the user creates a trusted certificate",
        s.create_object(&with(&certificate("by-user"), Attribute::Trusted(true))),
        RvError::AttributeReadOnly,
    );
    let cert = s.create_object(&certificate("plain")).expect("certificate");
    expect_rv_for(
        "the user marks a certificate trusted",
        s.update_attributes(cert, &[Attribute::Trusted(true)]),
        RvError::AttributeReadOnly,
    );
    assert!(!read_bool(&s, cert, AttributeType::Trusted).expect("trusted"));
    drop(s);
    let so = ctx.open_rw_session(slot).expect("session");
    so.login(UserType::So, Some(&pin(SO_PIN)))
        .expect("SO login");
    let trusted = so
        .create_object(&with(&certificate("by-so"), Attribute::Trusted(true)))
        .expect("the SO creates a trusted certificate");
    assert!(read_bool(&so, trusted, AttributeType::Trusted).expect("trusted"));
}

#[test]
fn private_session_objects_are_hidden_after_logout() {
    let (_env, _ctx, _slot, s) = setup("private-session");
    let h = s
        .create_object(&data_object("private-session", b"v", false, true))
        .expect("private session object");
    s.logout().expect("logout");
    assert!(find_by_label(&s, "private-session").is_empty());
    expect_rv_in(
        s.get_attributes(h, &[AttributeType::Value]),
        &[RvError::ObjectHandleInvalid, RvError::UserNotLoggedIn],
    );
}
