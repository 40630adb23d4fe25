use super::table::*;
use super::*;
use crate::error::Result;
use crate::object::attr::{check_shape, AttrValue, Attribute, Attributes};
use cryptoki_sys::*;

const USER: Ctx = Ctx { so: false };
const SO: Ctx = Ctx { so: true };

fn class(c: CK_OBJECT_CLASS) -> Attribute {
    Attribute::ulong(CKA_CLASS, c)
}
fn key_type(k: CK_KEY_TYPE) -> Attribute {
    Attribute::ulong(CKA_KEY_TYPE, k)
}

fn data() -> Vec<Attribute> {
    vec![class(CKO_DATA)]
}
fn cert() -> Vec<Attribute> {
    vec![
        class(CKO_CERTIFICATE),
        Attribute::ulong(CKA_CERTIFICATE_TYPE, CKC_X_509),
        Attribute::bytes(CKA_SUBJECT, b"subject".to_vec()),
        Attribute::bytes(CKA_VALUE, b"certificate".to_vec()),
    ]
}
fn aes() -> Vec<Attribute> {
    vec![
        class(CKO_SECRET_KEY),
        key_type(CKK_AES),
        Attribute::bytes(CKA_VALUE, vec![7; 16]),
    ]
}
fn generic() -> Vec<Attribute> {
    vec![
        class(CKO_SECRET_KEY),
        key_type(CKK_GENERIC_SECRET),
        Attribute::bytes(CKA_VALUE, vec![7; 20]),
    ]
}
fn rsa_public() -> Vec<Attribute> {
    vec![
        class(CKO_PUBLIC_KEY),
        key_type(CKK_RSA),
        Attribute::bytes(CKA_MODULUS, vec![0x00, 0x01, 0xff, 0xff]),
        Attribute::bytes(CKA_PUBLIC_EXPONENT, vec![1, 0, 1]),
    ]
}
fn rsa_private() -> Vec<Attribute> {
    vec![
        class(CKO_PRIVATE_KEY),
        key_type(CKK_RSA),
        Attribute::bytes(CKA_MODULUS, vec![0xc5; 256]),
        Attribute::bytes(CKA_PRIVATE_EXPONENT, vec![0x33; 256]),
    ]
}
fn ec_public(kt: CK_KEY_TYPE) -> Vec<Attribute> {
    vec![
        class(CKO_PUBLIC_KEY),
        key_type(kt),
        Attribute::bytes(CKA_EC_PARAMS, b"params".to_vec()),
        Attribute::bytes(CKA_EC_POINT, b"point".to_vec()),
    ]
}
fn ec_private(kt: CK_KEY_TYPE) -> Vec<Attribute> {
    vec![
        class(CKO_PRIVATE_KEY),
        key_type(kt),
        Attribute::bytes(CKA_EC_PARAMS, b"params".to_vec()),
        Attribute::bytes(CKA_VALUE, vec![9; 32]),
    ]
}

/// One template per supported kind, holding exactly the required attributes.
fn minimal_templates() -> Vec<Vec<Attribute>> {
    vec![
        data(),
        cert(),
        aes(),
        generic(),
        rsa_public(),
        rsa_private(),
        ec_public(CKK_EC),
        ec_private(CKK_EC),
        ec_public(CKK_EC_EDWARDS),
        ec_private(CKK_EC_EDWARDS),
        ec_public(CKK_EC_MONTGOMERY),
        ec_private(CKK_EC_MONTGOMERY),
    ]
}

fn with(mut t: Vec<Attribute>, extra: Attribute) -> Vec<Attribute> {
    t.push(extra);
    t
}

fn rv<T: std::fmt::Debug>(r: Result<T>) -> CK_RV {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.rv(),
    }
}

fn made(t: &[Attribute]) -> Attributes {
    match create(t, &USER) {
        Ok(a) => a,
        Err(e) => panic!("create failed: {e:?}"),
    }
}

trait OrFail<T> {
    fn or_fail(self, why: &str) -> T;
}
impl<T> OrFail<T> for Result<T> {
    fn or_fail(self, why: &str) -> T {
        match self {
            Ok(v) => v,
            Err(e) => panic!("{why}: {e:?}"),
        }
    }
}
impl<T> OrFail<T> for Option<T> {
    fn or_fail(self, why: &str) -> T {
        match self {
            Some(v) => v,
            None => panic!("{why}"),
        }
    }
}

fn bool_of(a: &Attributes, ty: CK_ATTRIBUTE_TYPE) -> Option<bool> {
    a.get(ty).and_then(AttrValue::as_bool)
}

#[test]
fn tables_are_well_formed() {
    let mut kinds: Vec<Schema> = vec![];
    kinds.extend(Schema::new(CKO_DATA, None));
    kinds.extend(Schema::new(CKO_CERTIFICATE, Some(CKC_X_509)));
    for &class in &[CKO_PUBLIC_KEY, CKO_PRIVATE_KEY, CKO_SECRET_KEY] {
        kinds.extend(
            KEY_TYPES
                .iter()
                .filter_map(|&kt| Schema::new(class, Some(kt))),
        );
    }
    // Data, certificate; RSA, EC, Edwards, Montgomery public and private; 17 secret key types
    // (generic, AES, AES-XTS, HKDF, DES, DES2, DES3 and ten HMAC types).
    assert_eq!(kinds.len(), 2 + 4 + 4 + 17);
    for schema in &kinds {
        let tys: Vec<_> = schema.rules().map(|r| r.ty).collect();
        for (i, ty) in tys.iter().enumerate() {
            assert!(!tys[i + 1..].contains(ty), "{schema:?}: duplicate row");
            assert!(crate::object::attr::kind_of(*ty).is_some());
        }
        for rule in schema.rules() {
            // A plain default must have the shape of its attribute.
            if let Some(v) = rule.def.plain(schema.class) {
                assert!(check_shape(rule.ty, &v).is_ok(), "{rule:?}");
            }
            assert!(!(rule.has(REQUIRED) && rule.has(COMPUTED)), "{rule:?}");
            assert!(
                !(rule.has(GEN_REQUIRED) && rule.has(NOT_GENERATED)),
                "{rule:?}"
            );
            // What only the token sets on create it also sets when it makes keys itself.
            if rule.has(COMPUTED) && !rule.has(GEN_REQUIRED) {
                assert!(
                    rule.has(NOT_GENERATED) && rule.has(NOT_UNWRAPPED),
                    "{rule:?}"
                );
            }
        }
    }
}

#[test]
fn minimal_templates_create() {
    for t in minimal_templates() {
        let out = made(&t);
        for a in &t {
            assert_eq!(out.get(a.ty), Some(&a.value));
        }
    }
}

#[test]
fn every_default_is_filled() {
    for t in minimal_templates() {
        let out = made(&t);
        let schema = Schema::of(&out).or_fail("schema of a created object");
        for rule in schema.rules() {
            let optional = matches!(rule.def, Def::None) && !rule.has(REQUIRED);
            assert_eq!(out.contains(rule.ty), !optional, "{rule:?}");
        }
    }
}

#[test]
fn storage_defaults() {
    let d = made(&data());
    assert_eq!(bool_of(&d, CKA_TOKEN), Some(false));
    assert_eq!(bool_of(&d, CKA_PRIVATE), Some(false));
    assert_eq!(bool_of(&d, CKA_MODIFIABLE), Some(true));
    assert_eq!(bool_of(&d, CKA_COPYABLE), Some(true));
    assert_eq!(bool_of(&d, CKA_DESTROYABLE), Some(true));
    assert_eq!(d.bytes(CKA_LABEL), Some(&[][..]));
    assert_eq!(d.bytes(CKA_APPLICATION), Some(&[][..]));
    assert_eq!(d.bytes(CKA_OBJECT_ID), Some(&[][..]));
    assert_eq!(d.bytes(CKA_VALUE), Some(&[][..]));
    assert!(!d.contains(CKA_UNIQUE_ID));
    assert!(!d.contains(CKA_KEY_TYPE));

    assert_eq!(bool_of(&made(&aes()), CKA_PRIVATE), Some(true));
    assert_eq!(bool_of(&made(&rsa_private()), CKA_PRIVATE), Some(true));
    assert_eq!(bool_of(&made(&rsa_public()), CKA_PRIVATE), Some(false));
    assert_eq!(bool_of(&made(&cert()), CKA_PRIVATE), Some(false));
    let public_key = made(&with(aes(), Attribute::bool(CKA_PRIVATE, false)));
    assert_eq!(bool_of(&public_key, CKA_PRIVATE), Some(false));
}

#[test]
fn secret_key_defaults() {
    let k = made(&aes());
    for ty in [
        CKA_SENSITIVE,
        CKA_ENCRYPT,
        CKA_DECRYPT,
        CKA_SIGN,
        CKA_VERIFY,
        CKA_WRAP,
        CKA_UNWRAP,
    ] {
        assert_eq!(bool_of(&k, ty), Some(true), "{ty:#x}");
    }
    for ty in [
        CKA_EXTRACTABLE,
        CKA_DERIVE,
        CKA_LOCAL,
        CKA_ALWAYS_SENSITIVE,
        CKA_NEVER_EXTRACTABLE,
        CKA_WRAP_WITH_TRUSTED,
        CKA_TRUSTED,
    ] {
        assert_eq!(bool_of(&k, ty), Some(false), "{ty:#x}");
    }
    assert_eq!(
        k.ulong(CKA_KEY_GEN_MECHANISM),
        Some(CK_UNAVAILABLE_INFORMATION)
    );
    assert_eq!(k.ulong(CKA_VALUE_LEN), Some(16));
    assert_eq!(
        k.get(CKA_ALLOWED_MECHANISMS),
        Some(&AttrValue::Mechanisms(vec![]))
    );
    assert_eq!(
        k.get(CKA_DERIVE_TEMPLATE),
        Some(&AttrValue::Template(vec![]))
    );
    assert!(!k.contains(CKA_SUBJECT));
    assert_eq!(made(&generic()).ulong(CKA_VALUE_LEN), Some(20));
}

#[test]
fn key_pair_defaults() {
    let p = made(&rsa_public());
    assert_eq!(p.ulong(CKA_MODULUS_BITS), Some(17));
    for ty in [CKA_ENCRYPT, CKA_VERIFY, CKA_VERIFY_RECOVER, CKA_WRAP] {
        assert_eq!(bool_of(&p, ty), Some(true));
    }
    assert!(!p.contains(CKA_SENSITIVE));

    let k = made(&rsa_private());
    assert_eq!(bool_of(&k, CKA_SENSITIVE), Some(true));
    assert_eq!(bool_of(&k, CKA_EXTRACTABLE), Some(false));
    assert_eq!(bool_of(&k, CKA_ALWAYS_AUTHENTICATE), Some(false));
    assert_eq!(bool_of(&k, CKA_SIGN_RECOVER), Some(true));
    assert!(!k.contains(CKA_MODULUS_BITS));
    // Optional CRT components appear only when given.
    assert!(!k.contains(CKA_PRIME_1) && !k.contains(CKA_PUBLIC_EXPONENT));
    let k = made(&with(
        rsa_private(),
        Attribute::bytes(CKA_PRIME_1, vec![3; 128]),
    ));
    assert!(k.contains(CKA_PRIME_1) && !k.contains(CKA_PRIME_2));
}

#[test]
fn certificate_defaults() {
    let c = made(&cert());
    assert_eq!(c.ulong(CKA_CERTIFICATE_CATEGORY), Some(0));
    assert_eq!(c.ulong(CKA_JAVA_MIDP_SECURITY_DOMAIN), Some(0));
    assert_eq!(c.ulong(CKA_NAME_HASH_ALGORITHM), Some(CKM_SHA_1));
    assert_eq!(bool_of(&c, CKA_TRUSTED), Some(false));
    assert_eq!(c.bytes(CKA_ID), Some(&[][..]));
}

#[test]
fn each_required_attribute_missing_is_incomplete() {
    for t in minimal_templates() {
        for i in 0..t.len() {
            let mut short = t.clone();
            let gone = short.remove(i);
            assert_eq!(
                rv(create(&short, &USER)),
                CKR_TEMPLATE_INCOMPLETE,
                "without {gone:?}"
            );
        }
    }
    assert_eq!(rv(create(&[], &USER)), CKR_TEMPLATE_INCOMPLETE);
}

#[test]
fn unsupported_classes_and_types_are_invalid_values() {
    for c in [
        CKO_MECHANISM,
        CKO_HW_FEATURE,
        CKO_DOMAIN_PARAMETERS,
        CKO_PROFILE,
        CKO_OTP_KEY,
    ] {
        assert_eq!(rv(create(&[class(c)], &USER)), CKR_ATTRIBUTE_VALUE_INVALID);
    }
    let mut t = cert();
    t[1] = Attribute::ulong(CKA_CERTIFICATE_TYPE, CKC_WTLS);
    assert_eq!(rv(create(&t, &USER)), CKR_ATTRIBUTE_VALUE_INVALID);
    let mut t = rsa_public();
    t[1] = key_type(CKK_AES);
    assert_eq!(rv(create(&t, &USER)), CKR_ATTRIBUTE_VALUE_INVALID);
    let mut t = aes();
    t[1] = key_type(CKK_BLOWFISH);
    assert_eq!(rv(create(&t, &USER)), CKR_ATTRIBUTE_VALUE_INVALID);
}

#[test]
fn attribute_of_another_class_is_inconsistent() {
    let cases = [
        with(aes(), Attribute::bytes(CKA_MODULUS, vec![1])),
        with(rsa_public(), Attribute::bool(CKA_SENSITIVE, true)),
        with(rsa_private(), Attribute::ulong(CKA_VALUE_LEN, 256)),
        with(data(), Attribute::bool(CKA_ENCRYPT, true)),
        with(cert(), Attribute::bool(CKA_SIGN, true)),
        with(ec_public(CKK_EC), Attribute::bytes(CKA_VALUE, vec![1])),
    ];
    for t in cases {
        assert_eq!(rv(create(&t, &USER)), CKR_TEMPLATE_INCONSISTENT, "{t:?}");
    }
}

#[test]
fn token_computed_attributes_are_read_only_on_create() {
    let cases = [
        with(data(), Attribute::bytes(CKA_UNIQUE_ID, b"1".to_vec())),
        with(aes(), Attribute::bool(CKA_LOCAL, false)),
        with(
            aes(),
            Attribute::ulong(CKA_KEY_GEN_MECHANISM, CKM_AES_KEY_GEN),
        ),
        with(aes(), Attribute::bool(CKA_ALWAYS_SENSITIVE, true)),
        with(rsa_private(), Attribute::bool(CKA_NEVER_EXTRACTABLE, true)),
        with(rsa_public(), Attribute::ulong(CKA_MODULUS_BITS, 17)),
    ];
    for t in cases {
        assert_eq!(rv(create(&t, &USER)), CKR_ATTRIBUTE_READ_ONLY, "{t:?}");
    }
}

#[test]
fn duplicates_must_agree() {
    let same = with(aes(), Attribute::bytes(CKA_VALUE, vec![7; 16]));
    assert!(create(&same, &USER).is_ok());
    let differ = with(aes(), Attribute::bytes(CKA_VALUE, vec![8; 16]));
    assert_eq!(rv(create(&differ, &USER)), CKR_TEMPLATE_INCONSISTENT);
    let label = |l: &[u8]| Attribute::bytes(CKA_LABEL, l.to_vec());
    let k = made(&aes());
    assert!(set(&k, &[label(b"a"), label(b"a")], &USER).is_ok());
    assert_eq!(
        rv(set(&k, &[label(b"a"), label(b"b")], &USER)),
        CKR_TEMPLATE_INCONSISTENT
    );
}

#[test]
fn aes_key_length() {
    for len in [16, 24, 32] {
        let mut t = aes();
        t[2] = Attribute::bytes(CKA_VALUE, vec![1; len]);
        assert_eq!(made(&t).ulong(CKA_VALUE_LEN), Some(len as u64));
    }
    for len in [0, 1, 15, 17, 31, 33, 64] {
        let mut t = aes();
        t[2] = Attribute::bytes(CKA_VALUE, vec![1; len]);
        assert_eq!(rv(create(&t, &USER)), CKR_ATTRIBUTE_VALUE_INVALID, "{len}");
    }
    let mut t = generic();
    t[2] = Attribute::bytes(CKA_VALUE, vec![]);
    assert_eq!(rv(create(&t, &USER)), CKR_ATTRIBUTE_VALUE_INVALID);
}

#[test]
fn value_len_is_computed_not_given() {
    let t = with(aes(), Attribute::ulong(CKA_VALUE_LEN, 16));
    assert_eq!(rv(create(&t, &USER)), CKR_ATTRIBUTE_READ_ONLY);
    let t = with(generic(), Attribute::ulong(CKA_VALUE_LEN, 19));
    assert_eq!(rv(create(&t, &USER)), CKR_ATTRIBUTE_READ_ONLY);
}

#[test]
fn certificate_values() {
    for cat in 0..=3 {
        let t = with(cert(), Attribute::ulong(CKA_CERTIFICATE_CATEGORY, cat));
        assert_eq!(made(&t).ulong(CKA_CERTIFICATE_CATEGORY), Some(cat));
    }
    let t = with(cert(), Attribute::ulong(CKA_CERTIFICATE_CATEGORY, 4));
    assert_eq!(rv(create(&t, &USER)), CKR_ATTRIBUTE_VALUE_INVALID);
    let t = with(cert(), Attribute::ulong(CKA_JAVA_MIDP_SECURITY_DOMAIN, 9));
    assert_eq!(rv(create(&t, &USER)), CKR_ATTRIBUTE_VALUE_INVALID);
    let mut t = cert();
    t[3] = Attribute::bytes(CKA_VALUE, vec![]);
    assert_eq!(rv(create(&t, &USER)), CKR_ATTRIBUTE_VALUE_INVALID);
}

#[test]
fn precedence_follows_the_return_value_list() {
    let t = vec![
        class(CKO_SECRET_KEY),
        key_type(CKK_AES),
        Attribute::bytes(CKA_MODULUS, vec![1]),
        Attribute::bytes(CKA_VALUE, vec![1; 15]),
        Attribute::bool(CKA_LOCAL, false),
    ];
    assert_eq!(rv(create(&t, &USER)), CKR_ATTRIBUTE_READ_ONLY);
    assert_eq!(rv(create(&t[..4], &USER)), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_eq!(rv(create(&t[..3], &USER)), CKR_TEMPLATE_INCOMPLETE);
    // The template's order does not matter.
    let reversed: Vec<_> = t.iter().rev().cloned().collect();
    assert_eq!(rv(create(&reversed, &USER)), CKR_ATTRIBUTE_READ_ONLY);
}

#[test]
fn trusted_needs_the_so() {
    for t in [aes(), rsa_public(), cert()] {
        let trusted = with(t.clone(), Attribute::bool(CKA_TRUSTED, true));
        assert_eq!(rv(create(&trusted, &USER)), CKR_ATTRIBUTE_READ_ONLY);
        let made_by_so = create(&trusted, &SO).or_fail("the SO may create trusted objects");
        assert_eq!(bool_of(&made_by_so, CKA_TRUSTED), Some(true));
        assert!(create(&with(t, Attribute::bool(CKA_TRUSTED, false)), &USER).is_ok());
    }
    let k = made(&rsa_public());
    let to_true = [Attribute::bool(CKA_TRUSTED, true)];
    assert_eq!(rv(set(&k, &to_true, &USER)), CKR_ATTRIBUTE_READ_ONLY);
    assert_eq!(rv(copy(&k, &to_true, &USER)), CKR_ATTRIBUTE_READ_ONLY);
    let k = set(&k, &to_true, &SO).or_fail("the SO may trust a key");
    assert_eq!(bool_of(&k, CKA_TRUSTED), Some(true));
    // Issue 10: distrusting is the SO's too, or the user could distrust, then widen usage.
    let distrust = [Attribute::bool(CKA_TRUSTED, false)];
    assert_eq!(rv(set(&k, &distrust, &USER)), CKR_ATTRIBUTE_READ_ONLY);
    let k = set(&k, &distrust, &SO).or_fail("distrust");
    assert_eq!(bool_of(&k, CKA_TRUSTED), Some(false));
}

#[test]
fn set_refused_on_unmodifiable_object() {
    let k = made(&with(aes(), Attribute::bool(CKA_MODIFIABLE, false)));
    let change = [Attribute::bytes(CKA_LABEL, b"x".to_vec())];
    assert_eq!(rv(set(&k, &change, &USER)), CKR_ACTION_PROHIBITED);
    assert_eq!(rv(set(&k, &[], &SO)), CKR_ACTION_PROHIBITED);
}

#[test]
fn set_read_only_attributes() {
    let k = made(&aes());
    let same_value: Vec<Attribute> = [
        CKA_CLASS,
        CKA_KEY_TYPE,
        CKA_VALUE,
        CKA_VALUE_LEN,
        CKA_LOCAL,
        CKA_ALWAYS_SENSITIVE,
        CKA_NEVER_EXTRACTABLE,
        CKA_KEY_GEN_MECHANISM,
        CKA_TOKEN,
        CKA_PRIVATE,
        CKA_MODIFIABLE,
        CKA_COPYABLE,
        CKA_DESTROYABLE,
        CKA_ALLOWED_MECHANISMS,
        CKA_CHECK_VALUE,
    ]
    .iter()
    .filter_map(|&ty| k.get(ty).map(|v| Attribute::new(ty, v.clone())))
    .collect();
    assert_eq!(same_value.len(), 15);
    for a in same_value {
        assert_eq!(
            rv(set(&k, std::slice::from_ref(&a), &SO)),
            CKR_ATTRIBUTE_READ_ONLY,
            "{a:?}"
        );
    }
    let mut stored = k.clone();
    stored.set(CKA_UNIQUE_ID, AttrValue::Bytes(b"id".to_vec()));
    let a = Attribute::bytes(CKA_UNIQUE_ID, b"other".to_vec());
    assert_eq!(rv(set(&stored, &[a], &USER)), CKR_ATTRIBUTE_READ_ONLY);

    let p = made(&rsa_public());
    for a in [
        Attribute::bytes(CKA_MODULUS, vec![1, 2]),
        Attribute::ulong(CKA_MODULUS_BITS, 9),
        Attribute::bytes(CKA_PUBLIC_EXPONENT, vec![3]),
    ] {
        assert_eq!(rv(set(&p, &[a], &USER)), CKR_ATTRIBUTE_READ_ONLY);
    }
    let r = made(&rsa_private());
    // Read-only even where the optional component is absent.
    let a = Attribute::bytes(CKA_PRIME_1, vec![5]);
    assert_eq!(rv(set(&r, &[a], &USER)), CKR_ATTRIBUTE_READ_ONLY);

    let c = made(&cert());
    for a in [
        Attribute::bytes(CKA_VALUE, b"other".to_vec()),
        Attribute::bytes(CKA_SUBJECT, b"other".to_vec()),
        Attribute::ulong(CKA_CERTIFICATE_TYPE, CKC_X_509),
        Attribute::ulong(CKA_CERTIFICATE_CATEGORY, 2),
    ] {
        assert_eq!(rv(set(&c, &[a], &USER)), CKR_ATTRIBUTE_READ_ONLY);
    }
}

#[test]
fn set_modifiable_attributes() {
    let k = made(&rsa_private());
    let changes = [
        Attribute::bytes(CKA_LABEL, b"label".to_vec()),
        Attribute::bytes(CKA_ID, b"id".to_vec()),
        Attribute::bytes(CKA_SUBJECT, b"subject".to_vec()),
        Attribute::bytes(CKA_START_DATE, b"20240101".to_vec()),
        Attribute::bytes(CKA_END_DATE, b"20301231".to_vec()),
        Attribute::bool(CKA_SIGN, false),
        Attribute::bool(CKA_DECRYPT, false),
        Attribute::bool(CKA_DERIVE, true),
    ];
    let out = set(&k, &changes, &USER).or_fail("footnote 8 attributes");
    for a in &changes {
        assert_eq!(out.get(a.ty), Some(&a.value));
    }
    assert_eq!(out.len(), k.len());

    let d = made(&data());
    let changes = [
        Attribute::bytes(CKA_VALUE, b"v".to_vec()),
        Attribute::bytes(CKA_APPLICATION, b"app".to_vec()),
        Attribute::bytes(CKA_OBJECT_ID, b"oid".to_vec()),
    ];
    let out = set(&d, &changes, &USER).or_fail("data objects are application-managed");
    assert_eq!(out.bytes(CKA_VALUE), Some(&b"v"[..]));

    let c = made(&cert());
    for a in [
        Attribute::bytes(CKA_ID, b"id".to_vec()),
        Attribute::bytes(CKA_ISSUER, b"issuer".to_vec()),
        Attribute::bytes(CKA_SERIAL_NUMBER, b"42".to_vec()),
        Attribute::bytes(CKA_LABEL, b"l".to_vec()),
    ] {
        assert!(set(&c, &[a], &USER).is_ok());
    }
}

#[test]
fn one_way_attributes() {
    let flip = |obj: &Attributes, ty, v| set(obj, &[Attribute::bool(ty, v)], &USER);
    for t in [aes(), rsa_private()] {
        let loose = made(&with(
            with(t, Attribute::bool(CKA_SENSITIVE, false)),
            Attribute::bool(CKA_EXTRACTABLE, true),
        ));
        // Sensitive: false -> true only.
        let tight = flip(&loose, CKA_SENSITIVE, true).or_fail("false -> true");
        assert_eq!(
            rv(flip(&tight, CKA_SENSITIVE, false)),
            CKR_ATTRIBUTE_READ_ONLY
        );
        assert!(flip(&tight, CKA_SENSITIVE, true).is_ok());
        // Extractable: true -> false only.
        let tight = flip(&loose, CKA_EXTRACTABLE, false).or_fail("true -> false");
        assert_eq!(
            rv(flip(&tight, CKA_EXTRACTABLE, true)),
            CKR_ATTRIBUTE_READ_ONLY
        );
        assert!(flip(&tight, CKA_EXTRACTABLE, false).is_ok());
        // Wrap-with-trusted: false -> true only.
        let tight = flip(&loose, CKA_WRAP_WITH_TRUSTED, true).or_fail("false -> true");
        assert_eq!(
            rv(flip(&tight, CKA_WRAP_WITH_TRUSTED, false)),
            CKR_ATTRIBUTE_READ_ONLY
        );
    }
    let k = made(&rsa_private());
    let tight = flip(&k, CKA_ALWAYS_AUTHENTICATE, true).or_fail("false -> true");
    assert_eq!(
        rv(flip(&tight, CKA_ALWAYS_AUTHENTICATE, false)),
        CKR_ATTRIBUTE_READ_ONLY
    );
}

#[test]
fn set_attribute_not_of_the_object() {
    let k = made(&aes());
    let a = Attribute::bytes(CKA_MODULUS, vec![1]);
    assert_eq!(rv(set(&k, &[a], &USER)), CKR_ATTRIBUTE_TYPE_INVALID);
    let a = Attribute::bool(CKA_SIGN_RECOVER, true);
    assert_eq!(
        rv(set(&k, std::slice::from_ref(&a), &USER)),
        CKR_ATTRIBUTE_TYPE_INVALID
    );
    assert_eq!(rv(copy(&k, &[a], &USER)), CKR_ATTRIBUTE_TYPE_INVALID);
}

#[test]
fn trusted_certificate_is_frozen() {
    let c = create(&with(cert(), Attribute::bool(CKA_TRUSTED, true)), &SO).or_fail("SO");
    for a in [
        Attribute::bytes(CKA_ID, b"id".to_vec()),
        Attribute::bytes(CKA_LABEL, b"l".to_vec()),
        Attribute::bool(CKA_TRUSTED, false),
    ] {
        assert_eq!(
            rv(set(&c, std::slice::from_ref(&a), &SO)),
            CKR_ATTRIBUTE_READ_ONLY,
            "{a:?}"
        );
        assert_eq!(rv(copy(&c, &[a], &SO)), CKR_ATTRIBUTE_READ_ONLY);
    }
    // Copying it to the token changes where it lives, not what it says.
    let copied = copy(&c, &[Attribute::bool(CKA_TOKEN, true)], &USER).or_fail("copy");
    assert_eq!(bool_of(&copied, CKA_TRUSTED), Some(true));
}

#[test]
fn copy_rules() {
    let mut k = made(&aes());
    k.set(CKA_UNIQUE_ID, AttrValue::Bytes(b"original".to_vec()));
    let storage = [
        Attribute::bool(CKA_TOKEN, true),
        Attribute::bool(CKA_PRIVATE, false),
        Attribute::bool(CKA_MODIFIABLE, false),
        Attribute::bool(CKA_DESTROYABLE, false),
        Attribute::bool(CKA_COPYABLE, false),
        Attribute::bytes(CKA_LABEL, b"copy".to_vec()),
        Attribute::bool(CKA_EXTRACTABLE, false),
    ];
    let c = copy(&k, &storage, &USER).or_fail("copy may set storage attributes");
    for a in &storage {
        assert_eq!(c.get(a.ty), Some(&a.value));
    }
    assert!(!c.contains(CKA_UNIQUE_ID));
    assert_eq!(c.get(CKA_VALUE), k.get(CKA_VALUE));
    // The copy is not copyable again, and COPYABLE cannot come back.
    assert_eq!(rv(copy(&c, &[], &USER)), CKR_ACTION_PROHIBITED);
    assert_eq!(
        rv(copy(&c, &[Attribute::bool(CKA_COPYABLE, true)], &USER)),
        CKR_ACTION_PROHIBITED
    );

    for a in [
        Attribute::bytes(CKA_VALUE, vec![1; 16]),
        Attribute::ulong(CKA_VALUE_LEN, 16),
        Attribute::bool(CKA_LOCAL, true),
        Attribute::bytes(CKA_UNIQUE_ID, b"x".to_vec()),
        Attribute::bool(CKA_SENSITIVE, false),
        Attribute::bool(CKA_EXTRACTABLE, true),
    ] {
        assert_eq!(
            rv(copy(&k, std::slice::from_ref(&a), &USER)),
            CKR_ATTRIBUTE_READ_ONLY,
            "{a:?}"
        );
    }
}

#[test]
fn copy_of_unmodifiable_object() {
    let k = made(&with(aes(), Attribute::bool(CKA_MODIFIABLE, false)));
    let label = [Attribute::bytes(CKA_LABEL, b"x".to_vec())];
    assert_eq!(rv(copy(&k, &label, &USER)), CKR_ATTRIBUTE_READ_ONLY);
    // Issue 10: a copy may not become modifiable (nor destroyable) again.
    for ty in [CKA_MODIFIABLE, CKA_DESTROYABLE] {
        let k = made(&with(aes(), Attribute::bool(ty, false)));
        assert_eq!(
            rv(copy(&k, &[Attribute::bool(ty, true)], &USER)),
            CKR_ATTRIBUTE_READ_ONLY
        );
    }
    let c = copy(&k, &[Attribute::bool(CKA_TOKEN, true)], &USER).or_fail("storage");
    assert_eq!(bool_of(&c, CKA_MODIFIABLE), Some(false));
    let m = made(&aes());
    let c = copy(&m, &[Attribute::bool(CKA_MODIFIABLE, false)], &USER).or_fail("to false");
    assert_eq!(bool_of(&c, CKA_MODIFIABLE), Some(false));
}

#[test]
fn trusted_objects_are_the_sos() {
    let mut k = made(&aes());
    k.set(CKA_TRUSTED, AttrValue::Bool(true));
    assert_eq!(rv(copy(&k, &[], &USER)), CKR_ACTION_PROHIBITED);
    assert!(copy(&k, &[], &SO).is_ok());
    let decrypt = [Attribute::bool(CKA_DECRYPT, false)];
    assert_eq!(rv(set(&k, &decrypt, &USER)), CKR_ATTRIBUTE_READ_ONLY);
    assert!(set(&k, &decrypt, &SO).is_ok());
    let label = [Attribute::bytes(CKA_LABEL, b"x".to_vec())];
    assert!(set(&k, &label, &USER).is_ok());
    let untrust = [Attribute::bool(CKA_TRUSTED, false)];
    assert_eq!(rv(set(&k, &untrust, &USER)), CKR_ATTRIBUTE_READ_ONLY);
    assert!(set(&k, &untrust, &SO).is_ok());
}

#[test]
fn readable_rules() {
    let k = made(&aes());
    assert_eq!(readable(&k, CKA_VALUE), Read::Sensitive);
    assert_eq!(readable(&k, CKA_LABEL), Read::Ok);
    assert_eq!(readable(&k, CKA_VALUE_LEN), Read::Ok);
    assert_eq!(readable(&k, CKA_MODULUS), Read::Invalid);
    assert_eq!(readable(&k, CKA_UNIQUE_ID), Read::Invalid);

    let not_sensitive = made(&with(aes(), Attribute::bool(CKA_SENSITIVE, false)));
    assert_eq!(
        readable(&not_sensitive, CKA_VALUE),
        Read::Sensitive,
        "not extractable"
    );
    let open = made(&with(
        with(aes(), Attribute::bool(CKA_SENSITIVE, false)),
        Attribute::bool(CKA_EXTRACTABLE, true),
    ));
    assert_eq!(readable(&open, CKA_VALUE), Read::Ok);
    let extractable = made(&with(aes(), Attribute::bool(CKA_EXTRACTABLE, true)));
    assert_eq!(
        readable(&extractable, CKA_VALUE),
        Read::Sensitive,
        "sensitive"
    );

    let r = made(&with(
        rsa_private(),
        Attribute::bytes(CKA_COEFFICIENT, vec![4]),
    ));
    assert_eq!(readable(&r, CKA_PRIVATE_EXPONENT), Read::Sensitive);
    assert_eq!(readable(&r, CKA_COEFFICIENT), Read::Sensitive);
    assert_eq!(readable(&r, CKA_MODULUS), Read::Ok);
    assert_eq!(readable(&r, CKA_PRIME_1), Read::Invalid);
    assert_eq!(
        readable(&made(&ec_private(CKK_EC)), CKA_VALUE),
        Read::Sensitive
    );

    let d = made(&data());
    assert_eq!(readable(&d, CKA_VALUE), Read::Ok);
    let c = made(&cert());
    assert_eq!(readable(&c, CKA_VALUE), Read::Ok);
    assert_eq!(readable(&made(&rsa_public()), CKA_MODULUS), Read::Ok);
}

#[test]
fn secret_attributes() {
    assert!(is_secret(CKO_SECRET_KEY, CKA_VALUE));
    assert!(is_secret(CKO_PRIVATE_KEY, CKA_VALUE));
    for ty in [
        CKA_PRIVATE_EXPONENT,
        CKA_PRIME_1,
        CKA_PRIME_2,
        CKA_EXPONENT_1,
        CKA_EXPONENT_2,
        CKA_COEFFICIENT,
    ] {
        assert!(is_secret(CKO_PRIVATE_KEY, ty));
        assert!(!is_secret(CKO_PUBLIC_KEY, ty));
    }
    assert!(!is_secret(CKO_PRIVATE_KEY, CKA_MODULUS));
    assert!(!is_secret(CKO_PRIVATE_KEY, CKA_PUBLIC_EXPONENT));
    assert!(!is_secret(CKO_PRIVATE_KEY, CKA_EC_PARAMS));
    assert!(!is_secret(CKO_SECRET_KEY, CKA_VALUE_LEN));
    assert!(!is_secret(CKO_SECRET_KEY, CKA_LABEL));
    assert!(!is_secret(CKO_DATA, CKA_VALUE));
    assert!(!is_secret(CKO_CERTIFICATE, CKA_VALUE));
    assert!(!is_secret(CKO_PUBLIC_KEY, CKA_VALUE));
}

// Making keys inside the token: C_GenerateKey, C_GenerateKeyPair, C_UnwrapKey, C_DeriveKey.

fn value_len(n: u64) -> Attribute {
    Attribute::ulong(CKA_VALUE_LEN, n)
}

fn generated(t: &[Attribute], kt: CK_KEY_TYPE, mech: CK_MECHANISM_TYPE) -> (Attributes, usize) {
    generate_secret(t, kt, mech, &USER).or_fail("generate_secret")
}

#[test]
fn generated_aes_key_flags() {
    let (k, len) = generated(&[value_len(32)], CKK_AES, CKM_AES_KEY_GEN);
    assert_eq!(len, 32);
    assert_eq!(k.ulong(CKA_VALUE_LEN), Some(32));
    assert!(!k.contains(CKA_VALUE));
    assert_eq!(k.class(), Some(CKO_SECRET_KEY));
    assert_eq!(k.ulong(CKA_KEY_TYPE), Some(CKK_AES));
    assert_eq!(bool_of(&k, CKA_LOCAL), Some(true));
    assert_eq!(k.ulong(CKA_KEY_GEN_MECHANISM), Some(CKM_AES_KEY_GEN));
    // The issue's defaults: sensitive, not extractable, private.
    assert_eq!(bool_of(&k, CKA_SENSITIVE), Some(true));
    assert_eq!(bool_of(&k, CKA_EXTRACTABLE), Some(false));
    assert_eq!(bool_of(&k, CKA_PRIVATE), Some(true));
    assert_eq!(bool_of(&k, CKA_ALWAYS_SENSITIVE), Some(true));
    assert_eq!(bool_of(&k, CKA_NEVER_EXTRACTABLE), Some(true));

    let loose = [
        value_len(16),
        Attribute::bool(CKA_SENSITIVE, false),
        Attribute::bool(CKA_EXTRACTABLE, true),
        Attribute::bytes(CKA_LABEL, b"k".to_vec()),
        Attribute::bool(CKA_TOKEN, true),
    ];
    let (k, len) = generated(&loose, CKK_AES, CKM_AES_KEY_GEN);
    assert_eq!(len, 16);
    assert_eq!(bool_of(&k, CKA_ALWAYS_SENSITIVE), Some(false));
    assert_eq!(bool_of(&k, CKA_NEVER_EXTRACTABLE), Some(false));
    assert_eq!(bool_of(&k, CKA_LOCAL), Some(true));
    assert_eq!(k.bytes(CKA_LABEL), Some(&b"k"[..]));
    assert_eq!(bool_of(&k, CKA_TOKEN), Some(true));
}

#[test]
fn generated_key_is_complete_once_its_value_is_added() {
    let (k, len) = generated(&[value_len(24)], CKK_AES, CKM_AES_KEY_GEN);
    assert_eq!(rv(check(&k)), CKR_TEMPLATE_INCOMPLETE);
    let mut done = k.clone();
    add_computed(&mut done, CKA_VALUE, AttrValue::Bytes(vec![5; len]));
    assert!(check(&done).is_ok());
    let mut short = k;
    add_computed(&mut short, CKA_VALUE, AttrValue::Bytes(vec![5; 16]));
    assert_eq!(rv(check(&short)), CKR_TEMPLATE_INCONSISTENT);
}

#[test]
fn generated_secret_needs_value_len() {
    for (kt, mech) in [
        (CKK_AES, CKM_AES_KEY_GEN),
        (CKK_GENERIC_SECRET, CKM_GENERIC_SECRET_KEY_GEN),
        (CKK_HKDF, CKM_HKDF_KEY_GEN),
    ] {
        let label = [Attribute::bytes(CKA_LABEL, b"k".to_vec())];
        assert_eq!(
            rv(generate_secret(&label, kt, mech, &USER)),
            CKR_TEMPLATE_INCOMPLETE,
            "{kt:#x}"
        );
        assert_eq!(
            rv(generate_secret(&[], kt, mech, &USER)),
            CKR_TEMPLATE_INCOMPLETE
        );
    }
    let (k, len) = generated(&[value_len(48)], CKK_HKDF, CKM_HKDF_KEY_GEN);
    assert_eq!((k.ulong(CKA_KEY_TYPE), len), (Some(CKK_HKDF), 48));
}

#[test]
fn generated_secret_refuses_token_attributes() {
    for a in [
        Attribute::bytes(CKA_VALUE, vec![1; 32]),
        Attribute::bool(CKA_LOCAL, true),
        Attribute::ulong(CKA_KEY_GEN_MECHANISM, CKM_AES_KEY_GEN),
        Attribute::bool(CKA_ALWAYS_SENSITIVE, true),
        Attribute::bool(CKA_NEVER_EXTRACTABLE, true),
        Attribute::bytes(CKA_UNIQUE_ID, b"1".to_vec()),
        Attribute::bool(CKA_TRUSTED, true),
    ] {
        let t = [value_len(32), a.clone()];
        assert_eq!(
            rv(generate_secret(&t, CKK_AES, CKM_AES_KEY_GEN, &USER)),
            CKR_ATTRIBUTE_READ_ONLY,
            "{a:?}"
        );
    }
    // Read-only outranks the missing length.
    let t = [Attribute::bytes(CKA_VALUE, vec![1; 32])];
    assert_eq!(
        rv(generate_secret(&t, CKK_AES, CKM_AES_KEY_GEN, &USER)),
        CKR_ATTRIBUTE_READ_ONLY
    );
    let t = [value_len(32), Attribute::bool(CKA_TRUSTED, true)];
    let (k, _) = generate_secret(&t, CKK_AES, CKM_AES_KEY_GEN, &SO).or_fail("SO");
    assert_eq!(bool_of(&k, CKA_TRUSTED), Some(true));
}

#[test]
fn generated_secret_lengths() {
    for len in [16, 24, 32] {
        let (_, n) = generated(&[value_len(len)], CKK_AES, CKM_AES_KEY_GEN);
        assert_eq!(n as u64, len);
    }
    for len in [0, 1, 15, 20, 33, 64] {
        assert_eq!(
            rv(generate_secret(
                &[value_len(len)],
                CKK_AES,
                CKM_AES_KEY_GEN,
                &USER
            )),
            CKR_KEY_SIZE_RANGE,
            "{len}"
        );
    }
    let mech = CKM_GENERIC_SECRET_KEY_GEN;
    for len in [1, 20, 512] {
        let (_, n) = generated(&[value_len(len)], CKK_GENERIC_SECRET, mech);
        assert_eq!(n as u64, len);
    }
    for len in [0, 513, u64::MAX] {
        assert_eq!(
            rv(generate_secret(
                &[value_len(len)],
                CKK_GENERIC_SECRET,
                mech,
                &USER
            )),
            CKR_KEY_SIZE_RANGE,
            "{len}"
        );
    }
    let wrong_shape = [Attribute::bytes(CKA_VALUE_LEN, vec![32])];
    assert_eq!(
        rv(generate_secret(
            &wrong_shape,
            CKK_AES,
            CKM_AES_KEY_GEN,
            &USER
        )),
        CKR_ATTRIBUTE_VALUE_INVALID
    );
}

#[test]
fn generated_secret_class_and_type_follow_the_mechanism() {
    let agree = [class(CKO_SECRET_KEY), key_type(CKK_AES), value_len(16)];
    assert!(generate_secret(&agree, CKK_AES, CKM_AES_KEY_GEN, &USER).is_ok());
    for t in [
        vec![key_type(CKK_GENERIC_SECRET), value_len(16)],
        vec![key_type(CKK_DES3), value_len(16)],
        vec![class(CKO_PUBLIC_KEY), value_len(16)],
        vec![class(CKO_DATA), value_len(16)],
        vec![value_len(16), Attribute::bytes(CKA_MODULUS, vec![1])],
    ] {
        assert_eq!(
            rv(generate_secret(&t, CKK_AES, CKM_AES_KEY_GEN, &USER)),
            CKR_TEMPLATE_INCONSISTENT,
            "{t:?}"
        );
    }
    assert_eq!(
        rv(generate_secret(
            &[value_len(16)],
            CKK_RSA,
            CKM_AES_KEY_GEN,
            &USER
        )),
        CKR_MECHANISM_INVALID
    );
    let unknown = [value_len(16), Attribute::ulong(0x8000_1234, 1)];
    assert_eq!(
        rv(generate_secret(&unknown, CKK_AES, CKM_AES_KEY_GEN, &USER)),
        CKR_ATTRIBUTE_TYPE_INVALID
    );
}

fn rsa_pair(public: &[Attribute], private: &[Attribute]) -> Result<(Attributes, Attributes)> {
    generate_pair(public, private, CKK_RSA, CKM_RSA_PKCS_KEY_PAIR_GEN, &USER)
}

#[test]
fn generated_rsa_pair() {
    let id = Attribute::bytes(CKA_ID, b"id".to_vec());
    let public = [Attribute::ulong(CKA_MODULUS_BITS, 2048), id.clone()];
    let private = [id, Attribute::bytes(CKA_LABEL, b"rsa".to_vec())];
    let (p, k) = rsa_pair(&public, &private).or_fail("RSA pair");

    assert_eq!(p.class(), Some(CKO_PUBLIC_KEY));
    assert_eq!(p.ulong(CKA_MODULUS_BITS), Some(2048));
    assert_eq!(p.bytes(CKA_PUBLIC_EXPONENT), Some(&[1, 0, 1][..]));
    assert!(!p.contains(CKA_MODULUS));
    assert_eq!(bool_of(&p, CKA_PRIVATE), Some(false));
    assert_eq!(bool_of(&p, CKA_LOCAL), Some(true));
    assert_eq!(
        p.ulong(CKA_KEY_GEN_MECHANISM),
        Some(CKM_RSA_PKCS_KEY_PAIR_GEN)
    );
    assert!(!p.contains(CKA_ALWAYS_SENSITIVE) && !p.contains(CKA_NEVER_EXTRACTABLE));
    assert_eq!(p.bytes(CKA_ID), Some(&b"id"[..]));

    assert_eq!(k.class(), Some(CKO_PRIVATE_KEY));
    assert!(!k.contains(CKA_MODULUS) && !k.contains(CKA_PRIVATE_EXPONENT));
    assert_eq!(bool_of(&k, CKA_PRIVATE), Some(true));
    assert_eq!(bool_of(&k, CKA_LOCAL), Some(true));
    assert_eq!(
        k.ulong(CKA_KEY_GEN_MECHANISM),
        Some(CKM_RSA_PKCS_KEY_PAIR_GEN)
    );
    assert_eq!(bool_of(&k, CKA_ALWAYS_SENSITIVE), Some(true));
    assert_eq!(bool_of(&k, CKA_NEVER_EXTRACTABLE), Some(true));
    assert_eq!(k.bytes(CKA_LABEL), Some(&b"rsa"[..]));
    assert_eq!(k.bytes(CKA_ID), Some(&b"id"[..]));

    let open = [
        Attribute::bool(CKA_SENSITIVE, false),
        Attribute::bool(CKA_EXTRACTABLE, true),
    ];
    let (_, k) = rsa_pair(&public, &open).or_fail("loose private key");
    assert_eq!(bool_of(&k, CKA_ALWAYS_SENSITIVE), Some(false));
    assert_eq!(bool_of(&k, CKA_NEVER_EXTRACTABLE), Some(false));

    let e3 = [
        Attribute::ulong(CKA_MODULUS_BITS, 2048),
        Attribute::bytes(CKA_PUBLIC_EXPONENT, vec![3]),
    ];
    let (p, _) = rsa_pair(&e3, &[]).or_fail("exponent 3");
    assert_eq!(p.bytes(CKA_PUBLIC_EXPONENT), Some(&[3][..]));
}

#[test]
fn generated_rsa_pair_rules() {
    let bits = Attribute::ulong(CKA_MODULUS_BITS, 2048);
    assert_eq!(rv(rsa_pair(&[], &[])), CKR_TEMPLATE_INCOMPLETE);
    let label = [Attribute::bytes(CKA_LABEL, b"x".to_vec())];
    assert_eq!(rv(rsa_pair(&label, &label)), CKR_TEMPLATE_INCOMPLETE);
    assert_eq!(
        rv(rsa_pair(&[], std::slice::from_ref(&bits))),
        CKR_TEMPLATE_INCOMPLETE,
        "the missing public length is reported before the misplaced one"
    );
    let public = [bits.clone()];
    assert_eq!(
        rv(rsa_pair(&public, std::slice::from_ref(&bits))),
        CKR_TEMPLATE_INCONSISTENT
    );
    assert_eq!(
        rv(rsa_pair(
            &[bits.clone(), Attribute::bytes(CKA_MODULUS, vec![1; 256])],
            &[]
        )),
        CKR_ATTRIBUTE_READ_ONLY
    );
    for a in [
        Attribute::bytes(CKA_MODULUS, vec![1; 256]),
        Attribute::bytes(CKA_PUBLIC_EXPONENT, vec![1, 0, 1]),
        Attribute::bytes(CKA_PRIVATE_EXPONENT, vec![1; 256]),
        Attribute::bytes(CKA_PRIME_1, vec![1; 128]),
        Attribute::bytes(CKA_COEFFICIENT, vec![1; 128]),
        Attribute::bool(CKA_ALWAYS_SENSITIVE, true),
    ] {
        assert_eq!(
            rv(rsa_pair(&public, std::slice::from_ref(&a))),
            CKR_ATTRIBUTE_READ_ONLY,
            "{a:?}"
        );
    }
    assert_eq!(
        rv(rsa_pair(&[bits.clone(), class(CKO_PRIVATE_KEY)], &[])),
        CKR_TEMPLATE_INCONSISTENT
    );
    assert_eq!(
        rv(rsa_pair(&public, &[key_type(CKK_EC)])),
        CKR_TEMPLATE_INCONSISTENT
    );
    assert_eq!(
        rv(rsa_pair(&public, &[Attribute::bool(CKA_TRUSTED, true)])),
        CKR_TEMPLATE_INCONSISTENT,
        "private keys have no CKA_TRUSTED"
    );
    assert_eq!(
        rv(rsa_pair(&[bits, Attribute::bool(CKA_TRUSTED, true)], &[])),
        CKR_ATTRIBUTE_READ_ONLY
    );
}

#[test]
fn generated_rsa_pair_is_complete_once_its_material_is_added() {
    let public = [Attribute::ulong(CKA_MODULUS_BITS, 2048)];
    let (p, k) = rsa_pair(&public, &[]).or_fail("RSA pair");
    let mut modulus = vec![0xc5; 256];
    let mut p2 = p.clone();
    add_computed(&mut p2, CKA_MODULUS, AttrValue::Bytes(modulus.clone()));
    assert!(check(&p2).is_ok());
    let mut k2 = k.clone();
    assert_eq!(rv(check(&k2)), CKR_TEMPLATE_INCOMPLETE);
    add_computed(&mut k2, CKA_MODULUS, AttrValue::Bytes(modulus.clone()));
    add_computed(
        &mut k2,
        CKA_PRIVATE_EXPONENT,
        AttrValue::Bytes(vec![7; 256]),
    );
    add_computed(
        &mut k2,
        CKA_PUBLIC_EXPONENT,
        AttrValue::Bytes(vec![1, 0, 1]),
    );
    assert!(check(&k2).is_ok());
    // A 2047-bit modulus contradicts the 2048 bits asked for.
    modulus[0] = 0x45;
    let mut p3 = p;
    add_computed(&mut p3, CKA_MODULUS, AttrValue::Bytes(modulus));
    assert_eq!(rv(check(&p3)), CKR_TEMPLATE_INCONSISTENT);
}

#[test]
fn generated_ec_pair() {
    let params = Attribute::bytes(CKA_EC_PARAMS, b"prime256v1".to_vec());
    for (kt, mech) in [
        (CKK_EC, CKM_EC_KEY_PAIR_GEN),
        (CKK_EC_EDWARDS, CKM_EC_EDWARDS_KEY_PAIR_GEN),
    ] {
        let pair = |public: &[Attribute], private: &[Attribute]| {
            generate_pair(public, private, kt, mech, &USER)
        };
        assert_eq!(rv(pair(&[], &[])), CKR_TEMPLATE_INCOMPLETE);
        // Only in the private template is still a missing public curve.
        assert_eq!(
            rv(pair(&[], std::slice::from_ref(&params))),
            CKR_TEMPLATE_INCOMPLETE
        );

        let public = [params.clone()];
        let (p, k) = pair(&public, &[]).or_fail("EC pair");
        assert_eq!(p.get(CKA_EC_PARAMS), Some(&params.value));
        assert_eq!(k.get(CKA_EC_PARAMS), Some(&params.value));
        assert!(!p.contains(CKA_EC_POINT) && !k.contains(CKA_VALUE));
        assert_eq!(p.ulong(CKA_KEY_GEN_MECHANISM), Some(mech));
        assert_eq!(bool_of(&k, CKA_LOCAL), Some(true));
        assert_eq!(bool_of(&k, CKA_ALWAYS_SENSITIVE), Some(true));
        assert_eq!(bool_of(&k, CKA_NEVER_EXTRACTABLE), Some(true));
        assert_eq!(bool_of(&p, CKA_PRIVATE), Some(false));

        assert!(pair(&public, std::slice::from_ref(&params)).is_ok());
        let other = Attribute::bytes(CKA_EC_PARAMS, b"secp384r1".to_vec());
        assert_eq!(rv(pair(&public, &[other])), CKR_TEMPLATE_INCONSISTENT);
        let point = Attribute::bytes(CKA_EC_POINT, vec![4; 65]);
        assert_eq!(
            rv(pair(&[params.clone(), point], &[])),
            CKR_ATTRIBUTE_READ_ONLY
        );
        let value = Attribute::bytes(CKA_VALUE, vec![1; 32]);
        assert_eq!(rv(pair(&public, &[value])), CKR_ATTRIBUTE_READ_ONLY);

        let mut k2 = k;
        add_computed(&mut k2, CKA_VALUE, AttrValue::Bytes(vec![1; 32]));
        assert!(check(&k2).is_ok());
        let mut p2 = p;
        add_computed(&mut p2, CKA_EC_POINT, AttrValue::Bytes(vec![4; 65]));
        assert!(check(&p2).is_ok());
    }
    assert_eq!(
        rv(generate_pair(&[], &[], CKK_AES, CKM_EC_KEY_PAIR_GEN, &USER)),
        CKR_MECHANISM_INVALID
    );
}

#[test]
fn unwrapped_key_flags() {
    let sensitive = [
        Attribute::bool(CKA_SENSITIVE, true),
        Attribute::bool(CKA_EXTRACTABLE, false),
    ];
    let k =
        unwrapped(&sensitive, Some(CKO_SECRET_KEY), Some(CKK_AES), &USER).or_fail("unwrapped AES");
    assert_eq!(k.class(), Some(CKO_SECRET_KEY));
    assert_eq!(k.ulong(CKA_KEY_TYPE), Some(CKK_AES));
    assert_eq!(bool_of(&k, CKA_LOCAL), Some(false));
    assert_eq!(bool_of(&k, CKA_ALWAYS_SENSITIVE), Some(false));
    assert_eq!(bool_of(&k, CKA_NEVER_EXTRACTABLE), Some(false));
    assert_eq!(
        k.ulong(CKA_KEY_GEN_MECHANISM),
        Some(CK_UNAVAILABLE_INFORMATION)
    );
    assert!(!k.contains(CKA_VALUE) && !k.contains(CKA_VALUE_LEN));
    assert_eq!(rv(check(&k)), CKR_TEMPLATE_INCOMPLETE);
    let mut done = k;
    add_computed(&mut done, CKA_VALUE, AttrValue::Bytes(vec![3; 32]));
    assert_eq!(done.ulong(CKA_VALUE_LEN), Some(32));
    assert!(check(&done).is_ok());

    let mut bad = unwrapped(&[], Some(CKO_SECRET_KEY), Some(CKK_AES), &USER).or_fail("AES");
    add_computed(&mut bad, CKA_VALUE, AttrValue::Bytes(vec![3; 20]));
    assert_eq!(rv(check(&bad)), CKR_ATTRIBUTE_VALUE_INVALID);
}

#[test]
fn unwrapped_class_and_type() {
    // The template wins over the mechanism's defaults.
    let t = [key_type(CKK_GENERIC_SECRET)];
    let k = unwrapped(&t, Some(CKO_SECRET_KEY), Some(CKK_AES), &USER).or_fail("generic");
    assert_eq!(k.ulong(CKA_KEY_TYPE), Some(CKK_GENERIC_SECRET));
    let t = [class(CKO_SECRET_KEY), key_type(CKK_AES)];
    let k = unwrapped(&t, None, None, &USER).or_fail("from the template");
    assert_eq!(k.ulong(CKA_KEY_TYPE), Some(CKK_AES));
    let k =
        unwrapped(&[key_type(CKK_EC)], Some(CKO_PRIVATE_KEY), None, &USER).or_fail("private key");
    assert_eq!(k.class(), Some(CKO_PRIVATE_KEY));
    assert_eq!(bool_of(&k, CKA_SENSITIVE), Some(true));

    assert_eq!(
        rv(unwrapped(&[], None, None, &USER)),
        CKR_TEMPLATE_INCOMPLETE
    );
    assert_eq!(
        rv(unwrapped(&[], Some(CKO_SECRET_KEY), None, &USER)),
        CKR_TEMPLATE_INCOMPLETE
    );
    assert_eq!(
        rv(unwrapped(
            &[key_type(CKK_BLOWFISH)],
            Some(CKO_SECRET_KEY),
            None,
            &USER
        )),
        CKR_ATTRIBUTE_VALUE_INVALID
    );
}

#[test]
fn unwrapped_template_rules() {
    let secret = (Some(CKO_SECRET_KEY), Some(CKK_GENERIC_SECRET));
    let unwrap = |t: &[Attribute]| unwrapped(t, secret.0, secret.1, &USER);
    for a in [
        Attribute::bytes(CKA_VALUE, vec![1; 32]),
        Attribute::bool(CKA_LOCAL, false),
        Attribute::bool(CKA_NEVER_EXTRACTABLE, true),
        Attribute::bool(CKA_TRUSTED, true),
    ] {
        assert_eq!(
            rv(unwrap(std::slice::from_ref(&a))),
            CKR_ATTRIBUTE_READ_ONLY,
            "{a:?}"
        );
    }
    assert_eq!(
        rv(unwrap(&[Attribute::bytes(CKA_MODULUS, vec![1])])),
        CKR_TEMPLATE_INCONSISTENT
    );
    // A length may be asked for; the material then has to agree with it.
    let k = unwrap(&[value_len(20)]).or_fail("with a length");
    assert_eq!(k.ulong(CKA_VALUE_LEN), Some(20));
    let mut right = k.clone();
    add_computed(&mut right, CKA_VALUE, AttrValue::Bytes(vec![1; 20]));
    assert!(check(&right).is_ok());
    let mut wrong = k;
    add_computed(&mut wrong, CKA_VALUE, AttrValue::Bytes(vec![1; 24]));
    assert_eq!(rv(check(&wrong)), CKR_TEMPLATE_INCONSISTENT);
    assert_eq!(
        rv(unwrapped(
            &[value_len(20)],
            Some(CKO_SECRET_KEY),
            Some(CKK_AES),
            &USER
        )),
        CKR_KEY_SIZE_RANGE
    );
    let pkcs8 = [Attribute::bytes(CKA_PRIVATE_EXPONENT, vec![1; 256])];
    assert_eq!(
        rv(unwrapped(
            &pkcs8,
            Some(CKO_PRIVATE_KEY),
            Some(CKK_RSA),
            &USER
        )),
        CKR_ATTRIBUTE_READ_ONLY
    );
}

fn base_key(always_sensitive: bool, never_extractable: bool) -> Attributes {
    let mut k = made(&generic());
    k.set(CKA_DERIVE, AttrValue::Bool(true));
    k.set(CKA_ALWAYS_SENSITIVE, AttrValue::Bool(always_sensitive));
    k.set(CKA_NEVER_EXTRACTABLE, AttrValue::Bool(never_extractable));
    k
}

fn derive(base: &Attributes, t: &[Attribute]) -> (Attributes, Option<usize>) {
    derived(&[base], t, CKK_GENERIC_SECRET, CKM_ECDH1_DERIVE, &USER).or_fail("derived")
}

#[test]
fn derived_key_inherits_sensitivity() {
    let loose = [
        Attribute::bool(CKA_SENSITIVE, false),
        Attribute::bool(CKA_EXTRACTABLE, true),
    ];
    let strict_base = base_key(true, true);
    let (k, _) = derive(&strict_base, &[]);
    assert_eq!(bool_of(&k, CKA_ALWAYS_SENSITIVE), Some(true));
    assert_eq!(bool_of(&k, CKA_NEVER_EXTRACTABLE), Some(true));
    let (k, _) = derive(&strict_base, &loose);
    assert_eq!(bool_of(&k, CKA_ALWAYS_SENSITIVE), Some(false));
    assert_eq!(bool_of(&k, CKA_NEVER_EXTRACTABLE), Some(false));

    let loose_base = base_key(false, false);
    let (k, _) = derive(&loose_base, &[]);
    assert_eq!(bool_of(&k, CKA_SENSITIVE), Some(true));
    assert_eq!(bool_of(&k, CKA_ALWAYS_SENSITIVE), Some(false));
    assert_eq!(bool_of(&k, CKA_NEVER_EXTRACTABLE), Some(false));

    // Each flag follows its own history.
    let (k, _) = derive(&base_key(true, false), &[]);
    assert_eq!(bool_of(&k, CKA_ALWAYS_SENSITIVE), Some(true));
    assert_eq!(bool_of(&k, CKA_NEVER_EXTRACTABLE), Some(false));
    let (k, _) = derive(&base_key(false, true), &[]);
    assert_eq!(bool_of(&k, CKA_ALWAYS_SENSITIVE), Some(false));
    assert_eq!(bool_of(&k, CKA_NEVER_EXTRACTABLE), Some(true));
}

#[test]
fn derived_key_attributes() {
    let base = base_key(true, true);
    let (k, len) = derive(&base, &[]);
    assert_eq!(len, None);
    assert_eq!(k.class(), Some(CKO_SECRET_KEY));
    assert_eq!(k.ulong(CKA_KEY_TYPE), Some(CKK_GENERIC_SECRET));
    assert_eq!(bool_of(&k, CKA_LOCAL), Some(false));
    assert_eq!(
        k.ulong(CKA_KEY_GEN_MECHANISM),
        Some(CK_UNAVAILABLE_INFORMATION)
    );
    let (k, len) = derive(&base, &[key_type(CKK_AES), value_len(32)]);
    assert_eq!(len, Some(32));
    assert_eq!(k.ulong(CKA_KEY_TYPE), Some(CKK_AES));
    let mut done = k;
    add_computed(&mut done, CKA_VALUE, AttrValue::Bytes(vec![2; 32]));
    assert!(check(&done).is_ok());

    let d = |t: &[Attribute]| derived(&[&base], t, CKK_GENERIC_SECRET, CKM_ECDH1_DERIVE, &USER);
    assert_eq!(
        rv(d(&[key_type(CKK_AES), value_len(20)])),
        CKR_KEY_SIZE_RANGE
    );
    assert_eq!(rv(d(&[value_len(0)])), CKR_KEY_SIZE_RANGE);
    assert_eq!(rv(d(&[class(CKO_PRIVATE_KEY)])), CKR_TEMPLATE_INCONSISTENT);
    assert_eq!(
        rv(d(&[Attribute::bytes(CKA_VALUE, vec![1; 16])])),
        CKR_ATTRIBUTE_READ_ONLY
    );
    assert_eq!(
        rv(d(&[Attribute::bool(CKA_LOCAL, true)])),
        CKR_ATTRIBUTE_READ_ONLY
    );
    assert_eq!(
        rv(d(&[Attribute::bool(CKA_SIGN_RECOVER, true)])),
        CKR_TEMPLATE_INCONSISTENT
    );
}

#[test]
fn merge_template_rules() {
    let enforced = [
        Attribute::bool(CKA_EXTRACTABLE, false),
        Attribute::bool(CKA_SENSITIVE, true),
    ];
    let caller = [
        Attribute::bytes(CKA_LABEL, b"k".to_vec()),
        Attribute::bool(CKA_SENSITIVE, true),
    ];
    let merged = merge_template(&caller, &enforced).or_fail("compatible templates");
    let set: Attributes = merged.iter().cloned().collect();
    assert_eq!(set.len(), 3);
    assert!(set.matches(&caller) && set.matches(&enforced));

    let conflicting = [Attribute::bool(CKA_EXTRACTABLE, true)];
    assert_eq!(
        rv(merge_template(&conflicting, &enforced)),
        CKR_TEMPLATE_INCONSISTENT
    );
    assert_eq!(
        merge_template(&caller, &[]).or_fail("nothing enforced"),
        caller
    );
    let merged = merge_template(&[], &enforced).or_fail("nothing asked");
    assert_eq!(merged, enforced);

    // The merged template then drives the unwrapped key.
    let k = unwrapped(
        &merge_template(&[], &enforced).or_fail("merge"),
        Some(CKO_SECRET_KEY),
        Some(CKK_AES),
        &USER,
    )
    .or_fail("unwrap");
    assert!(matches_template(&k, &enforced));
}

#[test]
fn matches_template_rules() {
    let k = made(&with(aes(), Attribute::bool(CKA_EXTRACTABLE, true)));
    assert!(matches_template(&k, &[]));
    assert!(matches_template(
        &k,
        &[key_type(CKK_AES), Attribute::bool(CKA_EXTRACTABLE, true)]
    ));
    assert!(!matches_template(&k, &[key_type(CKK_GENERIC_SECRET)]));
    assert!(!matches_template(
        &k,
        &[key_type(CKK_AES), Attribute::bool(CKA_EXTRACTABLE, false)]
    ));
    // An attribute the key does not have cannot match.
    assert!(!matches_template(
        &k,
        &[Attribute::bytes(CKA_MODULUS, vec![1])]
    ));
}

#[test]
fn hkdf_keys_can_be_created() {
    let mut t = generic();
    t[1] = key_type(CKK_HKDF);
    assert_eq!(made(&t).ulong(CKA_VALUE_LEN), Some(20));
    assert!(is_secret(CKO_SECRET_KEY, CKA_VALUE));
}

#[test]
fn attribute_types_lists_each_row_type_once_with_a_known_shape() {
    let types = attribute_types();
    assert!(types.windows(2).all(|w| w[0] < w[1]), "sorted, no repeats");
    for ty in [
        CKA_CLASS,
        CKA_VALUE,
        CKA_EC_POINT,
        CKA_DERIVE_TEMPLATE,
        CKA_UNIQUE_ID,
    ] {
        assert!(types.contains(&ty), "{ty:#x}");
    }
    for ty in types {
        assert!(crate::object::attr::kind_of(ty).is_some(), "{ty:#x}");
    }
}
