//! The attribute table itself (PKCS#11 v3.0 Table 10 footnotes; the class tables of §4.4-4.10):
//! rows `(attribute, flags, default, value check)` grouped as the specification groups them,
//! and the schema a class and sub-type select. The one place that says what each attribute of
//! each kind of object may be; the sibling modules only ask it.

use super::Ctx;
use crate::error::{fail, Result};
use crate::object::attr::{AttrValue, Attributes};
use cryptoki_sys::*;
use std::collections::BTreeMap;

// Row flags, named after the footnotes they encode.

/// Footnote 1: the C_CreateObject template must give it.
pub(super) const REQUIRED: u16 = 1 << 0;
/// Footnote 2: the token sets it; a template that gives it is refused with CKR_ATTRIBUTE_READ_ONLY.
pub(super) const COMPUTED: u16 = 1 << 1;
/// Footnote 7: hidden while CKA_SENSITIVE is true or CKA_EXTRACTABLE is false; always sealed.
pub(super) const SECRET: u16 = 1 << 2;
/// Footnote 8: C_SetAttributeValue and C_CopyObject may change it.
pub(super) const SETTABLE: u16 = 1 << 3;
/// Storage attributes only C_CopyObject may change (§4.4 and the C_CopyObject text).
pub(super) const ON_COPY: u16 = 1 << 4;
/// Footnote 10: only the SO may set it to true.
pub(super) const SO_TRUE: u16 = 1 << 5;
/// Footnote 11: once true it stays true.
pub(super) const STAYS_TRUE: u16 = 1 << 6;
/// Footnote 12: once false it stays false.
pub(super) const STAYS_FALSE: u16 = 1 << 7;
/// Footnote 3: a C_GenerateKey or C_GenerateKeyPair template must give it.
pub(super) const GEN_REQUIRED: u16 = 1 << 8;
/// Footnote 4: the generating mechanism makes it, so a generation template may not give it.
pub(super) const NOT_GENERATED: u16 = 1 << 9;
/// Footnote 6: it comes out of the wrapped key, so an unwrapping template may not give it.
pub(super) const NOT_UNWRAPPED: u16 = 1 << 10;
/// Footnotes 2, 4 and 6: however the object is made, only the token sets it.
pub(super) const TOKEN_SET: u16 = COMPUTED | NOT_GENERATED | NOT_UNWRAPPED;
/// What the SO vouches for when it makes an object CKA_TRUSTED: the usage flags and the trust
/// itself. On a trusted object only the SO changes them (footnote 10 read with §4.9's
/// CKA_WRAP_WITH_TRUSTED: a user turning CKA_DECRYPT on, or CKA_TRUSTED off and then CKA_DECRYPT
/// on, would decrypt what the key wrapped while it was trusted).
pub(super) const VOUCHED: u16 = 1 << 11;

/// The value an attribute takes when the creating template leaves it out.
#[derive(Debug, Clone, Copy)]
pub(super) enum Def {
    /// No value: required, optional (present only when given), or assigned by the store.
    None,
    Bool(bool),
    Ulong(u64),
    /// Never applies on C_CreateObject, where the row is required; generation falls back to it.
    Bytes(&'static [u8]),
    Empty,
    NoAttributes,
    NoMechanisms,
    /// CKA_PRIVATE: keys that hold secrets are private unless the caller says otherwise.
    PrivateIfKeyHoldsSecret,
    /// The byte length of another attribute (CKA_VALUE_LEN).
    LenOf(CK_ATTRIBUTE_TYPE),
    /// The bit length of a big-endian integer attribute (CKA_MODULUS_BITS).
    BitsOf(CK_ATTRIBUTE_TYPE),
}

/// What a caller-supplied value must satisfy beyond its shape.
#[derive(Debug, Clone, Copy)]
pub(super) enum Check {
    Any,
    NonEmpty,
    /// A byte string of one of these lengths (AES keys).
    Lengths(&'static [usize]),
    /// A DES key of this many bytes, each with odd parity: a DES, DES2 or DES3 key "MUST have
    /// its parity bits properly set" (FIPS 46-3), and creating or unwrapping one that does not
    /// is an error (Current Mechanisms, DES2 and DES3 secret key objects).
    DesKey(usize),
    /// An enumerated ulong whose known values run from 0 to this one.
    AtMost(u64),
}

#[derive(Debug)]
pub(super) struct Rule {
    pub(super) ty: CK_ATTRIBUTE_TYPE,
    flags: u16,
    pub(super) def: Def,
    pub(super) check: Check,
}

impl Rule {
    /// Footnote 10: a caller other than the SO giving this attribute the value true. Asked by
    /// every path that makes or changes an object, so CKA_TRUSTED is the SO's everywhere.
    pub(super) fn so_only(&self, value: &AttrValue, ctx: &Ctx) -> bool {
        self.has(SO_TRUE) && value.as_bool() == Some(true) && !ctx.so
    }

    /// Footnotes 11 and 12 (and CKA_MODIFIABLE, CKA_DESTROYABLE on copy): would `new` turn the
    /// attribute back from `old`?
    pub(super) fn goes_back(&self, old: Option<bool>, new: Option<bool>) -> bool {
        (self.has(STAYS_TRUE) && old == Some(true) && new == Some(false))
            || (self.has(STAYS_FALSE) && old == Some(false) && new == Some(true))
    }
}

pub(super) const fn rule(ty: CK_ATTRIBUTE_TYPE, flags: u16, def: Def) -> Rule {
    Rule {
        ty,
        flags,
        def,
        check: Check::Any,
    }
}

pub(super) const fn checked(ty: CK_ATTRIBUTE_TYPE, flags: u16, def: Def, check: Check) -> Rule {
    Rule {
        ty,
        flags,
        def,
        check,
    }
}

pub(super) static NONE: &[Rule] = &[];

pub(super) static OBJECT: &[Rule] = &[rule(CKA_CLASS, REQUIRED, Def::None)];

pub(super) static STORAGE: &[Rule] = &[
    rule(CKA_TOKEN, ON_COPY, Def::Bool(false)),
    rule(CKA_PRIVATE, ON_COPY, Def::PrivateIfKeyHoldsSecret),
    // C_CopyObject may change these, but never back to true: a copy that became modifiable or
    // destroyable would undo what the object's owner fixed (§4.4 gives COPYABLE this rule; the
    // same reasoning holds for the other two).
    rule(CKA_MODIFIABLE, ON_COPY | STAYS_FALSE, Def::Bool(true)),
    rule(CKA_COPYABLE, ON_COPY | STAYS_FALSE, Def::Bool(true)),
    rule(CKA_DESTROYABLE, ON_COPY | STAYS_FALSE, Def::Bool(true)),
    rule(CKA_LABEL, SETTABLE, Def::Empty),
    // Footnotes 2, 4, 6: the store assigns it after the rules have passed.
    rule(CKA_UNIQUE_ID, TOKEN_SET, Def::None),
];

// The spec gives data attributes no footnote 8; SoftHSMv2 keeps CKA_VALUE fixed, but data
// objects exist to be application-managed, so all three stay changeable here.
pub(super) static DATA: &[Rule] = &[
    rule(CKA_APPLICATION, SETTABLE, Def::Empty),
    rule(CKA_OBJECT_ID, SETTABLE, Def::Empty),
    rule(CKA_VALUE, SETTABLE, Def::Empty),
];

// §4.6.2: the type and category "may not be modified after an object is created"; the dates
// carry no footnote 8 for certificates (unlike keys), so they are fixed too.
pub(super) static CERTIFICATE: &[Rule] = &[
    rule(CKA_CERTIFICATE_TYPE, REQUIRED, Def::None),
    rule(CKA_TRUSTED, SO_TRUE | SETTABLE | VOUCHED, Def::Bool(false)),
    checked(
        CKA_CERTIFICATE_CATEGORY,
        0,
        Def::Ulong(CK_CERTIFICATE_CATEGORY_UNSPECIFIED),
        Check::AtMost(CK_CERTIFICATE_CATEGORY_OTHER_ENTITY),
    ),
    // SHA-1 based per the spec; without a SHA-1 engine it stays empty unless the caller gives it.
    rule(CKA_CHECK_VALUE, 0, Def::Empty),
    rule(CKA_START_DATE, 0, Def::Empty),
    rule(CKA_END_DATE, 0, Def::Empty),
    rule(CKA_PUBLIC_KEY_INFO, 0, Def::Empty),
];

// §4.6.3: "only CKA_ID, CKA_ISSUER and CKA_SERIAL_NUMBER may be modified". CKA_VALUE is required
// outright, which also satisfies its pairing with CKA_URL.
pub(super) static X509: &[Rule] = &[
    rule(CKA_SUBJECT, REQUIRED, Def::None),
    rule(CKA_ID, SETTABLE, Def::Empty),
    rule(CKA_ISSUER, SETTABLE, Def::Empty),
    rule(CKA_SERIAL_NUMBER, SETTABLE, Def::Empty),
    checked(CKA_VALUE, REQUIRED, Def::None, Check::NonEmpty),
    rule(CKA_URL, 0, Def::Empty),
    rule(CKA_HASH_OF_SUBJECT_PUBLIC_KEY, 0, Def::Empty),
    rule(CKA_HASH_OF_ISSUER_PUBLIC_KEY, 0, Def::Empty),
    checked(
        CKA_JAVA_MIDP_SECURITY_DOMAIN,
        0,
        Def::Ulong(CK_SECURITY_DOMAIN_UNSPECIFIED),
        Check::AtMost(CK_SECURITY_DOMAIN_THIRD_PARTY),
    ),
    // The spec's stated default when the attribute is absent.
    rule(CKA_NAME_HASH_ALGORITHM, 0, Def::Ulong(CKM_SHA_1)),
];

// A created key came from outside the token: not local, no known generation mechanism.
pub(super) static KEY: &[Rule] = &[
    rule(CKA_KEY_TYPE, REQUIRED, Def::None),
    rule(CKA_ID, SETTABLE, Def::Empty),
    rule(CKA_START_DATE, SETTABLE, Def::Empty),
    rule(CKA_END_DATE, SETTABLE, Def::Empty),
    rule(CKA_DERIVE, SETTABLE | VOUCHED, Def::Bool(false)),
    rule(CKA_LOCAL, TOKEN_SET, Def::Bool(false)),
    rule(
        CKA_KEY_GEN_MECHANISM,
        TOKEN_SET,
        Def::Ulong(CK_UNAVAILABLE_INFORMATION),
    ),
    // No footnote 8: widening a key's mechanisms later would defeat the restriction.
    rule(CKA_ALLOWED_MECHANISMS, 0, Def::NoMechanisms),
];

// Usage flags default to true (footnote 9 leaves it to the token), as in SoftHSMv2.
pub(super) static PUBLIC_KEY: &[Rule] = &[
    rule(CKA_SUBJECT, SETTABLE, Def::Empty),
    rule(CKA_ENCRYPT, SETTABLE | VOUCHED, Def::Bool(true)),
    rule(CKA_VERIFY, SETTABLE | VOUCHED, Def::Bool(true)),
    rule(CKA_VERIFY_RECOVER, SETTABLE | VOUCHED, Def::Bool(true)),
    rule(CKA_WRAP, SETTABLE | VOUCHED, Def::Bool(true)),
    rule(CKA_TRUSTED, SO_TRUE | SETTABLE | VOUCHED, Def::Bool(false)),
    rule(CKA_WRAP_TEMPLATE, 0, Def::NoAttributes),
    rule(CKA_PUBLIC_KEY_INFO, 0, Def::Empty),
];

// A key that arrives in a template was known outside the token, so it was never "always
// sensitive" nor "never extractable".
pub(super) static PRIVATE_KEY: &[Rule] = &[
    rule(CKA_SUBJECT, SETTABLE, Def::Empty),
    rule(CKA_SENSITIVE, SETTABLE | STAYS_TRUE, Def::Bool(true)),
    rule(CKA_DECRYPT, SETTABLE | VOUCHED, Def::Bool(true)),
    rule(CKA_SIGN, SETTABLE | VOUCHED, Def::Bool(true)),
    rule(CKA_SIGN_RECOVER, SETTABLE | VOUCHED, Def::Bool(true)),
    rule(CKA_UNWRAP, SETTABLE | VOUCHED, Def::Bool(true)),
    rule(CKA_EXTRACTABLE, SETTABLE | STAYS_FALSE, Def::Bool(false)),
    rule(CKA_ALWAYS_SENSITIVE, TOKEN_SET, Def::Bool(false)),
    rule(CKA_NEVER_EXTRACTABLE, TOKEN_SET, Def::Bool(false)),
    rule(
        CKA_WRAP_WITH_TRUSTED,
        SETTABLE | STAYS_TRUE,
        Def::Bool(false),
    ),
    rule(CKA_UNWRAP_TEMPLATE, 0, Def::NoAttributes),
    // The spec table gives no footnote; turning re-authentication off would weaken a key, so
    // only the tightening direction is allowed.
    rule(
        CKA_ALWAYS_AUTHENTICATE,
        SETTABLE | STAYS_TRUE,
        Def::Bool(false),
    ),
    rule(CKA_PUBLIC_KEY_INFO, 0, Def::Empty),
];

pub(super) static SECRET_KEY: &[Rule] = &[
    rule(CKA_SENSITIVE, SETTABLE | STAYS_TRUE, Def::Bool(true)),
    rule(CKA_ENCRYPT, SETTABLE | VOUCHED, Def::Bool(true)),
    rule(CKA_DECRYPT, SETTABLE | VOUCHED, Def::Bool(true)),
    rule(CKA_SIGN, SETTABLE | VOUCHED, Def::Bool(true)),
    rule(CKA_VERIFY, SETTABLE | VOUCHED, Def::Bool(true)),
    rule(CKA_WRAP, SETTABLE | VOUCHED, Def::Bool(true)),
    rule(CKA_UNWRAP, SETTABLE | VOUCHED, Def::Bool(true)),
    rule(CKA_EXTRACTABLE, SETTABLE | STAYS_FALSE, Def::Bool(false)),
    rule(CKA_ALWAYS_SENSITIVE, TOKEN_SET, Def::Bool(false)),
    rule(CKA_NEVER_EXTRACTABLE, TOKEN_SET, Def::Bool(false)),
    // Accepted as given; the key manager may compute and verify it where an engine exists.
    rule(CKA_CHECK_VALUE, 0, Def::Empty),
    rule(
        CKA_WRAP_WITH_TRUSTED,
        SETTABLE | STAYS_TRUE,
        Def::Bool(false),
    ),
    rule(CKA_TRUSTED, SO_TRUE | SETTABLE | VOUCHED, Def::Bool(false)),
    rule(CKA_WRAP_TEMPLATE, 0, Def::NoAttributes),
    rule(CKA_UNWRAP_TEMPLATE, 0, Def::NoAttributes),
    rule(CKA_DERIVE_TEMPLATE, 0, Def::NoAttributes),
];

/// The key material of every key type: footnotes 4 and 6.
pub(super) const MATERIAL: u16 = NOT_GENERATED | NOT_UNWRAPPED;

// CKA_VALUE_LEN has footnote 2: C_CreateObject must not be given it (CKR_ATTRIBUTE_READ_ONLY,
// as SoftHSMv2 answers too); the token computes it from CKA_VALUE. The table also gives it
// footnote 6, but the unwrap and derive mechanisms (AES_ECB/CBC unwrap, ECDH1_DERIVE, HKDF)
// read CKA_VALUE_LEN from the template to truncate or size the key, so it is accepted there, as
// SoftHSMv2 does; the caller compares it with the material it produces (`check`).
pub(super) static GENERIC_SECRET: &[Rule] = &[
    checked(
        CKA_VALUE,
        REQUIRED | SECRET | MATERIAL,
        Def::None,
        Check::NonEmpty,
    ),
    rule(
        CKA_VALUE_LEN,
        COMPUTED | GEN_REQUIRED,
        Def::LenOf(CKA_VALUE),
    ),
];

pub(super) static AES: &[Rule] = &[
    checked(
        CKA_VALUE,
        REQUIRED | SECRET | MATERIAL,
        Def::None,
        Check::Lengths(&[16, 24, 32]),
    ),
    rule(
        CKA_VALUE_LEN,
        COMPUTED | GEN_REQUIRED,
        Def::LenOf(CKA_VALUE),
    ),
];

// AES-XTS keys (issue 12): two AES keys of 16 or 32 bytes, data key then tweak key.
pub(super) static AES_XTS: &[Rule] = &[
    checked(
        CKA_VALUE,
        REQUIRED | SECRET | MATERIAL,
        Def::None,
        Check::Lengths(&[32, 64]),
    ),
    rule(
        CKA_VALUE_LEN,
        COMPUTED | GEN_REQUIRED,
        Def::LenOf(CKA_VALUE),
    ),
];
// DES keys have a fixed length per type and, as in the specification's DES tables (and
// SoftHSMv2), no CKA_VALUE_LEN: generation makes the one length the type has.
pub(super) static DES: &[Rule] = &[checked(
    CKA_VALUE,
    REQUIRED | SECRET | MATERIAL,
    Def::None,
    Check::DesKey(8),
)];

pub(super) static DES2: &[Rule] = &[checked(
    CKA_VALUE,
    REQUIRED | SECRET | MATERIAL,
    Def::None,
    Check::DesKey(16),
)];

pub(super) static DES3: &[Rule] = &[checked(
    CKA_VALUE,
    REQUIRED | SECRET | MATERIAL,
    Def::None,
    Check::DesKey(24),
)];

// A generation template may choose the public exponent (no footnote 4); F4 is what every
// client expects when it does not.
pub(super) static RSA_PUBLIC: &[Rule] = &[
    checked(
        CKA_MODULUS,
        REQUIRED | NOT_GENERATED,
        Def::None,
        Check::NonEmpty,
    ),
    rule(
        CKA_MODULUS_BITS,
        COMPUTED | GEN_REQUIRED,
        Def::BitsOf(CKA_MODULUS),
    ),
    checked(
        CKA_PUBLIC_EXPONENT,
        REQUIRED,
        Def::Bytes(&[0x01, 0x00, 0x01]),
        Check::NonEmpty,
    ),
];

// The CRT components are optional: absent ones stay absent rather than appearing empty.
pub(super) static RSA_PRIVATE: &[Rule] = &[
    checked(CKA_MODULUS, REQUIRED | MATERIAL, Def::None, Check::NonEmpty),
    rule(CKA_PUBLIC_EXPONENT, MATERIAL, Def::None),
    checked(
        CKA_PRIVATE_EXPONENT,
        REQUIRED | SECRET | MATERIAL,
        Def::None,
        Check::NonEmpty,
    ),
    rule(CKA_PRIME_1, SECRET | MATERIAL, Def::None),
    rule(CKA_PRIME_2, SECRET | MATERIAL, Def::None),
    rule(CKA_EXPONENT_1, SECRET | MATERIAL, Def::None),
    rule(CKA_EXPONENT_2, SECRET | MATERIAL, Def::None),
    rule(CKA_COEFFICIENT, SECRET | MATERIAL, Def::None),
];

// Shared by CKK_EC, CKK_EC_EDWARDS and CKK_EC_MONTGOMERY, whose tables are the same. The private
// key's curve is footnote 4: generation copies it from the public template (`generate_pair`).
pub(super) static EC_PUBLIC: &[Rule] = &[
    checked(
        CKA_EC_PARAMS,
        REQUIRED | GEN_REQUIRED,
        Def::None,
        Check::NonEmpty,
    ),
    checked(
        CKA_EC_POINT,
        REQUIRED | NOT_GENERATED,
        Def::None,
        Check::NonEmpty,
    ),
];

pub(super) static EC_PRIVATE: &[Rule] = &[
    checked(
        CKA_EC_PARAMS,
        REQUIRED | MATERIAL,
        Def::None,
        Check::NonEmpty,
    ),
    checked(
        CKA_VALUE,
        REQUIRED | SECRET | MATERIAL,
        Def::None,
        Check::NonEmpty,
    ),
];

/// Every key type this phase supports, across the three key classes.
pub(super) const KEY_TYPES: &[CK_KEY_TYPE] = &[
    CKK_GENERIC_SECRET,
    CKK_AES,
    CKK_SHA_1_HMAC,
    CKK_SHA224_HMAC,
    CKK_SHA256_HMAC,
    CKK_SHA384_HMAC,
    CKK_SHA512_HMAC,
    CKK_HKDF,
    CKK_DES,
    CKK_DES2,
    CKK_DES3,
    CKK_MD5_HMAC,
    CKK_SHA3_224_HMAC,
    CKK_SHA3_256_HMAC,
    CKK_SHA3_384_HMAC,
    CKK_SHA3_512_HMAC,
    CKK_RSA,
    CKK_EC,
    CKK_EC_EDWARDS,
    // issue 12: AES modes
    CKK_AES_XTS,
    CKK_EC_MONTGOMERY,
];

/// The attribute naming the sub-type whose table extends the class table.
pub(super) fn subtype_attr(class: CK_OBJECT_CLASS) -> Option<CK_ATTRIBUTE_TYPE> {
    match class {
        CKO_CERTIFICATE => Some(CKA_CERTIFICATE_TYPE),
        CKO_PUBLIC_KEY | CKO_PRIVATE_KEY | CKO_SECRET_KEY => Some(CKA_KEY_TYPE),
        _ => None,
    }
}

/// The rows of one kind of object: a class and, where the class has one, its sub-type.
#[derive(Debug)]
pub(super) struct Schema {
    pub(super) class: CK_OBJECT_CLASS,
    groups: [&'static [Rule]; 5],
}

impl Schema {
    /// `None` when this module does not support the class or the sub-type.
    pub(super) fn new(class: CK_OBJECT_CLASS, sub: Option<CK_ULONG>) -> Option<Schema> {
        let (a, b, c) = match class {
            CKO_DATA => (DATA, NONE, NONE),
            CKO_CERTIFICATE => match sub? {
                CKC_X_509 => (CERTIFICATE, X509, NONE),
                _ => return None,
            },
            CKO_PUBLIC_KEY => match sub? {
                CKK_RSA => (KEY, PUBLIC_KEY, RSA_PUBLIC),
                CKK_EC | CKK_EC_EDWARDS | CKK_EC_MONTGOMERY => (KEY, PUBLIC_KEY, EC_PUBLIC),
                _ => return None,
            },
            CKO_PRIVATE_KEY => match sub? {
                CKK_RSA => (KEY, PRIVATE_KEY, RSA_PRIVATE),
                CKK_EC | CKK_EC_EDWARDS | CKK_EC_MONTGOMERY => (KEY, PRIVATE_KEY, EC_PRIVATE),
                _ => return None,
            },
            CKO_SECRET_KEY => match sub? {
                CKK_AES => (KEY, SECRET_KEY, AES),
                CKK_AES_XTS => (KEY, SECRET_KEY, AES_XTS),
                CKK_DES => (KEY, SECRET_KEY, DES),
                CKK_DES2 => (KEY, SECRET_KEY, DES2),
                CKK_DES3 => (KEY, SECRET_KEY, DES3),
                CKK_MD5_HMAC | CKK_SHA3_224_HMAC | CKK_SHA3_256_HMAC | CKK_SHA3_384_HMAC
                | CKK_SHA3_512_HMAC => (KEY, SECRET_KEY, GENERIC_SECRET),
                CKK_GENERIC_SECRET | CKK_SHA_1_HMAC | CKK_SHA224_HMAC | CKK_SHA256_HMAC
                | CKK_SHA384_HMAC | CKK_SHA512_HMAC | CKK_HKDF => (KEY, SECRET_KEY, GENERIC_SECRET),
                _ => return None,
            },
            _ => return None,
        };
        Some(Schema {
            class,
            groups: [OBJECT, STORAGE, a, b, c],
        })
    }

    /// The schema of a stored object.
    pub(super) fn of(obj: &Attributes) -> Option<Schema> {
        let class = obj.class()?;
        let sub = match subtype_attr(class) {
            Some(ty) => Some(obj.ulong(ty)?),
            None => None,
        };
        Schema::new(class, sub)
    }

    /// The schema a creation template asks for, or the code that explains why there is none.
    pub(super) fn of_template(
        given: &BTreeMap<CK_ATTRIBUTE_TYPE, &AttrValue>,
    ) -> std::result::Result<Schema, CK_RV> {
        let ulong = |ty| -> std::result::Result<CK_ULONG, CK_RV> {
            let value = given.get(&ty).ok_or(CKR_TEMPLATE_INCOMPLETE)?;
            value.as_ulong().ok_or(CKR_ATTRIBUTE_VALUE_INVALID)
        };
        let class = ulong(CKA_CLASS)?;
        let sub = match subtype_attr(class) {
            Some(ty) => Some(ulong(ty)?),
            None => None,
        };
        Schema::new(class, sub).ok_or(CKR_ATTRIBUTE_VALUE_INVALID)
    }

    pub(super) fn rules(&self) -> impl Iterator<Item = &'static Rule> + '_ {
        self.groups.iter().flat_map(|group| group.iter())
    }

    pub(super) fn find(&self, ty: CK_ATTRIBUTE_TYPE) -> Option<&'static Rule> {
        self.rules().find(|rule| rule.ty == ty)
    }
}

impl Rule {
    pub(super) fn has(&self, flag: u16) -> bool {
        self.flags & flag != 0
    }
}

impl Def {
    /// A default that does not depend on other attributes.
    pub(super) fn plain(self, class: CK_OBJECT_CLASS) -> Option<AttrValue> {
        Some(match self {
            Def::None | Def::LenOf(_) | Def::BitsOf(_) => return None,
            Def::Bool(b) => AttrValue::Bool(b),
            Def::Ulong(v) => AttrValue::Ulong(v),
            Def::Bytes(b) => AttrValue::Bytes(b.to_vec()),
            Def::Empty => AttrValue::Bytes(Vec::new()),
            Def::NoAttributes => AttrValue::Template(Vec::new()),
            Def::NoMechanisms => AttrValue::Mechanisms(Vec::new()),
            Def::PrivateIfKeyHoldsSecret => {
                AttrValue::Bool(matches!(class, CKO_PRIVATE_KEY | CKO_SECRET_KEY))
            }
        })
    }

    /// A value computed from the other attributes of the new object.
    pub(super) fn derived(self, attrs: &Attributes) -> Option<AttrValue> {
        match self {
            Def::LenOf(src) => attrs.bytes(src).map(|b| AttrValue::Ulong(b.len() as u64)),
            Def::BitsOf(src) => attrs.bytes(src).map(|b| AttrValue::Ulong(bit_len(b))),
            _ => None,
        }
    }
}

/// Bits of a big-endian unsigned integer, ignoring leading zero bytes.
pub(super) fn bit_len(be: &[u8]) -> u64 {
    match be.iter().position(|&b| b != 0) {
        Some(i) => (be.len() - i - 1) as u64 * 8 + u64::from(8 - be[i].leading_zeros()),
        None => 0,
    }
}

impl Check {
    pub(super) fn test(self, value: &AttrValue) -> Result<()> {
        let ok = match (self, value) {
            (Check::Any, _) => true,
            (Check::NonEmpty, AttrValue::Bytes(b)) => !b.is_empty(),
            (Check::Lengths(lens), AttrValue::Bytes(b)) => lens.contains(&b.len()),
            (Check::DesKey(n), AttrValue::Bytes(b)) => {
                b.len() == n && b.iter().all(|x| x.count_ones() % 2 == 1)
            }
            (Check::AtMost(max), AttrValue::Ulong(v)) => *v <= max,
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            fail(CKR_ATTRIBUTE_VALUE_INVALID)
        }
    }
}

/// Every kind of object the table describes: data, X.509 certificates and each key class with
/// each key type.
fn schemas() -> impl Iterator<Item = Schema> {
    let keys = [CKO_PUBLIC_KEY, CKO_PRIVATE_KEY, CKO_SECRET_KEY]
        .into_iter()
        .flat_map(|class| {
            KEY_TYPES
                .iter()
                .filter_map(move |&kt| Schema::new(class, Some(kt)))
        });
    [
        Schema::new(CKO_DATA, None),
        Schema::new(CKO_CERTIFICATE, Some(CKC_X_509)),
    ]
    .into_iter()
    .flatten()
    .chain(keys)
}

/// Every attribute type some row of the table describes, once each, in numerical order (so the
/// order of the rows does not change what a fuzz input means). For the fuzz targets in fuzz/,
/// which draw their template attributes from the table instead of keeping a copy of it.
#[doc(hidden)]
pub fn attribute_types() -> Vec<CK_ATTRIBUTE_TYPE> {
    let mut types: Vec<CK_ATTRIBUTE_TYPE> = schemas()
        .flat_map(|schema| schema.rules().map(|rule| rule.ty).collect::<Vec<_>>())
        .collect();
    types.sort_unstable();
    types.dedup();
    types
}
