//! The attribute table: per-class rules for creating, copying, changing and reading objects
//! (PKCS#11 v3.0 §4.2-4.10 with the footnotes of Table 10, "Common footnotes for object attribute
//! tables"; §4.1.1-4.1.3 and §5.7 for the return codes).
//!
//! The same rows serve the functions that make keys inside the token (C_GenerateKey,
//! C_GenerateKeyPair, C_UnwrapKey, C_DeriveKey): footnotes 3, 4 and 6 say what their templates
//! must and must not give, and §4.7-4.9 what the token records about the key's origin.
//!
//! Each class is described by rows `(attribute, flags, default, value check)`, grouped as the
//! specification groups them (common, storage, certificate, X.509, key, public key, RSA, ...).
//! A class and key or certificate type select a list of groups; every decision below is a lookup
//! in that list, so adding a key type means adding a group, not code.

use crate::error::{fail, Error, Result};
use crate::object::attr::{check_shape, AttrValue, Attribute, Attributes};
use cryptoki_sys::*;
use std::collections::btree_map::Entry;
use std::collections::BTreeMap;

/// Who is asking.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ctx {
    /// An SO session is doing this (footnote 10: only the SO may set `CKA_TRUSTED`).
    pub so: bool,
}

/// C_GetAttributeValue: may this attribute's value be revealed?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    Ok,
    Sensitive,
    Invalid,
}

// Row flags, named after the footnotes they encode.

/// Footnote 1: the C_CreateObject template must give it.
const REQUIRED: u16 = 1 << 0;
/// Footnote 2: the token sets it; a template that gives it is refused with CKR_ATTRIBUTE_READ_ONLY.
const COMPUTED: u16 = 1 << 1;
/// Footnote 7: hidden while CKA_SENSITIVE is true or CKA_EXTRACTABLE is false; always sealed.
const SECRET: u16 = 1 << 2;
/// Footnote 8: C_SetAttributeValue and C_CopyObject may change it.
const SETTABLE: u16 = 1 << 3;
/// Storage attributes only C_CopyObject may change (§4.4 and the C_CopyObject text).
const ON_COPY: u16 = 1 << 4;
/// Footnote 10: only the SO may set it to true.
const SO_TRUE: u16 = 1 << 5;
/// Footnote 11: once true it stays true.
const STAYS_TRUE: u16 = 1 << 6;
/// Footnote 12: once false it stays false.
const STAYS_FALSE: u16 = 1 << 7;
/// Footnote 3: a C_GenerateKey or C_GenerateKeyPair template must give it.
const GEN_REQUIRED: u16 = 1 << 8;
/// Footnote 4: the generating mechanism makes it, so a generation template may not give it.
const NOT_GENERATED: u16 = 1 << 9;
/// Footnote 6: it comes out of the wrapped key, so an unwrapping template may not give it.
const NOT_UNWRAPPED: u16 = 1 << 10;
/// Footnotes 2, 4 and 6: however the object is made, only the token sets it.
const TOKEN_SET: u16 = COMPUTED | NOT_GENERATED | NOT_UNWRAPPED;
/// What the SO vouches for when it makes an object CKA_TRUSTED: the usage flags and the trust
/// itself. On a trusted object only the SO changes them (footnote 10 read with §4.9's
/// CKA_WRAP_WITH_TRUSTED: a user turning CKA_DECRYPT on, or CKA_TRUSTED off and then CKA_DECRYPT
/// on, would decrypt what the key wrapped while it was trusted).
const VOUCHED: u16 = 1 << 11;

/// The value an attribute takes when the creating template leaves it out.
#[derive(Debug, Clone, Copy)]
enum Def {
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
enum Check {
    Any,
    NonEmpty,
    /// A byte string of one of these lengths (AES keys).
    Lengths(&'static [usize]),
    /// An enumerated ulong whose known values run from 0 to this one.
    AtMost(u64),
}

#[derive(Debug)]
struct Rule {
    ty: CK_ATTRIBUTE_TYPE,
    flags: u16,
    def: Def,
    check: Check,
}

impl Rule {
    /// Footnote 10: a caller other than the SO giving this attribute the value true. Asked by
    /// every path that makes or changes an object, so CKA_TRUSTED is the SO's everywhere.
    fn so_only(&self, value: &AttrValue, ctx: &Ctx) -> bool {
        self.has(SO_TRUE) && value.as_bool() == Some(true) && !ctx.so
    }

    /// Footnotes 11 and 12 (and CKA_MODIFIABLE, CKA_DESTROYABLE on copy): would `new` turn the
    /// attribute back from `old`?
    fn goes_back(&self, old: Option<bool>, new: Option<bool>) -> bool {
        (self.has(STAYS_TRUE) && old == Some(true) && new == Some(false))
            || (self.has(STAYS_FALSE) && old == Some(false) && new == Some(true))
    }
}

const fn rule(ty: CK_ATTRIBUTE_TYPE, flags: u16, def: Def) -> Rule {
    Rule {
        ty,
        flags,
        def,
        check: Check::Any,
    }
}

const fn checked(ty: CK_ATTRIBUTE_TYPE, flags: u16, def: Def, check: Check) -> Rule {
    Rule {
        ty,
        flags,
        def,
        check,
    }
}

static NONE: &[Rule] = &[];

static OBJECT: &[Rule] = &[rule(CKA_CLASS, REQUIRED, Def::None)];

static STORAGE: &[Rule] = &[
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
static DATA: &[Rule] = &[
    rule(CKA_APPLICATION, SETTABLE, Def::Empty),
    rule(CKA_OBJECT_ID, SETTABLE, Def::Empty),
    rule(CKA_VALUE, SETTABLE, Def::Empty),
];

// §4.6.2: the type and category "may not be modified after an object is created"; the dates
// carry no footnote 8 for certificates (unlike keys), so they are fixed too.
static CERTIFICATE: &[Rule] = &[
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
static X509: &[Rule] = &[
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
static KEY: &[Rule] = &[
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
static PUBLIC_KEY: &[Rule] = &[
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
static PRIVATE_KEY: &[Rule] = &[
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

static SECRET_KEY: &[Rule] = &[
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
const MATERIAL: u16 = NOT_GENERATED | NOT_UNWRAPPED;

// CKA_VALUE_LEN has footnote 2: C_CreateObject must not be given it (CKR_ATTRIBUTE_READ_ONLY,
// as SoftHSMv2 answers too); the token computes it from CKA_VALUE. The table also gives it
// footnote 6, but the unwrap and derive mechanisms (AES_ECB/CBC unwrap, ECDH1_DERIVE, HKDF)
// read CKA_VALUE_LEN from the template to truncate or size the key, so it is accepted there, as
// SoftHSMv2 does; the caller compares it with the material it produces (`check`).
static GENERIC_SECRET: &[Rule] = &[
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

static AES: &[Rule] = &[
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

// A generation template may choose the public exponent (no footnote 4); F4 is what every
// client expects when it does not.
static RSA_PUBLIC: &[Rule] = &[
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
static RSA_PRIVATE: &[Rule] = &[
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

// Shared by CKK_EC and CKK_EC_EDWARDS, whose tables are the same. The private key's curve is
// footnote 4: generation copies it from the public template (`generate_pair`).
static EC_PUBLIC: &[Rule] = &[
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

static EC_PRIVATE: &[Rule] = &[
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
const KEY_TYPES: &[CK_KEY_TYPE] = &[
    CKK_GENERIC_SECRET,
    CKK_AES,
    CKK_SHA_1_HMAC,
    CKK_SHA224_HMAC,
    CKK_SHA256_HMAC,
    CKK_SHA384_HMAC,
    CKK_SHA512_HMAC,
    CKK_HKDF,
    CKK_RSA,
    CKK_EC,
    CKK_EC_EDWARDS,
];

/// The attribute naming the sub-type whose table extends the class table.
fn subtype_attr(class: CK_OBJECT_CLASS) -> Option<CK_ATTRIBUTE_TYPE> {
    match class {
        CKO_CERTIFICATE => Some(CKA_CERTIFICATE_TYPE),
        CKO_PUBLIC_KEY | CKO_PRIVATE_KEY | CKO_SECRET_KEY => Some(CKA_KEY_TYPE),
        _ => None,
    }
}

/// The rows of one kind of object: a class and, where the class has one, its sub-type.
#[derive(Debug)]
struct Schema {
    class: CK_OBJECT_CLASS,
    groups: [&'static [Rule]; 5],
}

impl Schema {
    /// `None` when this module does not support the class or the sub-type.
    fn new(class: CK_OBJECT_CLASS, sub: Option<CK_ULONG>) -> Option<Schema> {
        let (a, b, c) = match class {
            CKO_DATA => (DATA, NONE, NONE),
            CKO_CERTIFICATE => match sub? {
                CKC_X_509 => (CERTIFICATE, X509, NONE),
                _ => return None,
            },
            CKO_PUBLIC_KEY => match sub? {
                CKK_RSA => (KEY, PUBLIC_KEY, RSA_PUBLIC),
                CKK_EC | CKK_EC_EDWARDS => (KEY, PUBLIC_KEY, EC_PUBLIC),
                _ => return None,
            },
            CKO_PRIVATE_KEY => match sub? {
                CKK_RSA => (KEY, PRIVATE_KEY, RSA_PRIVATE),
                CKK_EC | CKK_EC_EDWARDS => (KEY, PRIVATE_KEY, EC_PRIVATE),
                _ => return None,
            },
            CKO_SECRET_KEY => match sub? {
                CKK_AES => (KEY, SECRET_KEY, AES),
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
    fn of(obj: &Attributes) -> Option<Schema> {
        let class = obj.class()?;
        let sub = match subtype_attr(class) {
            Some(ty) => Some(obj.ulong(ty)?),
            None => None,
        };
        Schema::new(class, sub)
    }

    /// The schema a creation template asks for, or the code that explains why there is none.
    fn of_template(
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

    fn rules(&self) -> impl Iterator<Item = &'static Rule> + '_ {
        self.groups.iter().flat_map(|group| group.iter())
    }

    fn find(&self, ty: CK_ATTRIBUTE_TYPE) -> Option<&'static Rule> {
        self.rules().find(|rule| rule.ty == ty)
    }
}

impl Rule {
    fn has(&self, flag: u16) -> bool {
        self.flags & flag != 0
    }
}

impl Def {
    /// A default that does not depend on other attributes.
    fn plain(self, class: CK_OBJECT_CLASS) -> Option<AttrValue> {
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
    fn derived(self, attrs: &Attributes) -> Option<AttrValue> {
        match self {
            Def::LenOf(src) => attrs.bytes(src).map(|b| AttrValue::Ulong(b.len() as u64)),
            Def::BitsOf(src) => attrs.bytes(src).map(|b| AttrValue::Ulong(bit_len(b))),
            _ => None,
        }
    }
}

/// Bits of a big-endian unsigned integer, ignoring leading zero bytes.
fn bit_len(be: &[u8]) -> u64 {
    match be.iter().position(|&b| b != 0) {
        Some(i) => (be.len() - i - 1) as u64 * 8 + u64::from(8 - be[i].leading_zeros()),
        None => 0,
    }
}

impl Check {
    fn test(self, value: &AttrValue) -> Result<()> {
        let ok = match (self, value) {
            (Check::Any, _) => true,
            (Check::NonEmpty, AttrValue::Bytes(b)) => !b.is_empty(),
            (Check::Lengths(lens), AttrValue::Bytes(b)) => lens.contains(&b.len()),
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

/// When a template breaks several rules, the code reported is the one listed first among the
/// function's return values (§5.7 lists them alphabetically), as design.md asks, so the answer
/// does not depend on the order of the template.
const PRECEDENCE: [CK_RV; 6] = [
    CKR_ATTRIBUTE_READ_ONLY,
    CKR_ATTRIBUTE_TYPE_INVALID,
    CKR_ATTRIBUTE_VALUE_INVALID,
    CKR_KEY_SIZE_RANGE,
    CKR_TEMPLATE_INCOMPLETE,
    CKR_TEMPLATE_INCONSISTENT,
];

#[derive(Debug, Default)]
struct Verdict(Option<CK_RV>);

impl Verdict {
    fn note(&mut self, rv: CK_RV) {
        let rank = |rv| {
            PRECEDENCE
                .iter()
                .position(|&r| r == rv)
                .unwrap_or(PRECEDENCE.len())
        };
        if self.0.is_none_or(|current| rank(rv) < rank(current)) {
            self.0 = Some(rv);
        }
    }

    fn note_result(&mut self, result: Result<()>) {
        if let Err(e) = result {
            self.note(e.rv());
        }
    }

    fn check(self) -> Result<()> {
        match self.0 {
            Some(rv) => fail(rv),
            None => Ok(()),
        }
    }
}

/// The template by type; a type given twice must carry the same value both times.
fn unique<'a>(
    template: &'a [Attribute],
    verdict: &mut Verdict,
) -> BTreeMap<CK_ATTRIBUTE_TYPE, &'a AttrValue> {
    let mut map = BTreeMap::new();
    for a in template {
        match map.entry(a.ty) {
            Entry::Vacant(e) => {
                e.insert(&a.value);
            }
            Entry::Occupied(e) => {
                if **e.get() != a.value {
                    verdict.note(CKR_TEMPLATE_INCONSISTENT);
                }
            }
        }
    }
    map
}

fn flag_or(obj: &Attributes, ty: CK_ATTRIBUTE_TYPE, absent: bool) -> bool {
    obj.get(ty).and_then(AttrValue::as_bool).unwrap_or(absent)
}

/// How a new object comes into being; each way has its own footnotes in the attribute tables.
#[derive(Debug, Clone, Copy)]
enum Make<'a> {
    /// C_CreateObject: the template carries everything.
    Create,
    /// C_GenerateKey or C_GenerateKeyPair with this mechanism.
    Generate(CK_MECHANISM_TYPE),
    Unwrap,
    /// C_DeriveKey from these keys: the base key and any other key the mechanism feeds in
    /// (HKDF's salt key).
    Derive(&'a [&'a Attributes]),
}

impl Make<'_> {
    /// Rows a template may not give (CKR_ATTRIBUTE_READ_ONLY).
    fn forbidden(self) -> u16 {
        match self {
            Make::Create => COMPUTED,
            Make::Generate(_) => NOT_GENERATED,
            // The tables have no footnote for derivation; a derived key's material is made by the
            // mechanism out of sight of the caller, as an unwrapped key's is, so footnote 6 fits.
            Make::Unwrap | Make::Derive(_) => NOT_UNWRAPPED,
        }
    }

    /// Rows a template must give (CKR_TEMPLATE_INCOMPLETE).
    fn required(self) -> u16 {
        match self {
            Make::Create => REQUIRED,
            Make::Generate(_) => GEN_REQUIRED,
            // Footnote 5 marks no row this module supports; the material the mechanism adds later
            // is checked by `check` once it is there.
            Make::Unwrap | Make::Derive(_) => 0,
        }
    }

    /// The attributes recording where a key came from: §4.7 (CKA_LOCAL, CKA_KEY_GEN_MECHANISM,
    /// which is only known for local keys) and §4.8-4.9 with the C_DeriveKey text (a derived key
    /// is only "always sensitive" or "never extractable" if its base key was too).
    fn stamp(self, out: &mut Attributes, schema: &Schema) {
        let sensitive = out.flag(CKA_SENSITIVE);
        let extractable = out.flag(CKA_EXTRACTABLE);
        let unknown = CK_UNAVAILABLE_INFORMATION;
        let (local, mechanism, always_sensitive, never_extractable) = match self {
            // Table defaults: a created key was known outside the token.
            Make::Create => return,
            Make::Generate(m) => (true, m, sensitive, !extractable),
            // The key existed outside the token, in the clear or under a key we cannot vouch for.
            Make::Unwrap => (false, unknown, false, false),
            // Every key that went into the value must have been so, not just the base key.
            Make::Derive(keys) => (
                false,
                unknown,
                keys.iter().all(|k| k.flag(CKA_ALWAYS_SENSITIVE)) && sensitive,
                keys.iter().all(|k| k.flag(CKA_NEVER_EXTRACTABLE)) && !extractable,
            ),
        };
        let origin = [
            (CKA_LOCAL, AttrValue::Bool(local)),
            (CKA_KEY_GEN_MECHANISM, AttrValue::Ulong(mechanism)),
            (CKA_ALWAYS_SENSITIVE, AttrValue::Bool(always_sensitive)),
            (CKA_NEVER_EXTRACTABLE, AttrValue::Bool(never_extractable)),
        ];
        for (ty, value) in origin {
            // Public keys have no sensitivity history.
            if schema.find(ty).is_some() {
                out.set(ty, value);
            }
        }
    }
}

/// The core of every way of making an object: check `template` against the rows of its class,
/// fill in the defaults and stamp the key's origin. `contributed` holds what the calling function
/// itself supplies (the class and key type a mechanism makes, for instance): the template may
/// repeat those values but not contradict them, and the footnotes do not forbid them. `None` when
/// no schema applies, with the reason noted in `verdict`.
fn build(
    template: &[Attribute],
    contributed: &[Attribute],
    make: Make,
    ctx: &Ctx,
    verdict: &mut Verdict,
) -> Option<(Schema, Attributes)> {
    let mut given = unique(template, verdict);
    for a in contributed {
        match given.entry(a.ty) {
            Entry::Vacant(e) => {
                e.insert(&a.value);
            }
            Entry::Occupied(mut e) => {
                if **e.get() != a.value {
                    verdict.note(CKR_TEMPLATE_INCONSISTENT);
                    // Judge the rest against what the function makes, not what was asked for.
                    e.insert(&a.value);
                }
            }
        }
    }
    let schema = match Schema::of_template(&given) {
        Ok(schema) => schema,
        Err(rv) => {
            verdict.note(rv);
            return None;
        }
    };

    for (&ty, &value) in &given {
        if let Err(e) = check_shape(ty, value) {
            verdict.note(e.rv());
            continue;
        }
        let Some(rule) = schema.find(ty) else {
            // §4.1.1: an attribute of another class or key type makes the template inconsistent.
            verdict.note(CKR_TEMPLATE_INCONSISTENT);
            continue;
        };
        let from_caller = !contributed.iter().any(|a| a.ty == ty);
        if from_caller && (rule.has(make.forbidden()) || rule.so_only(value, ctx)) {
            verdict.note(CKR_ATTRIBUTE_READ_ONLY);
            continue;
        }
        verdict.note_result(rule.check.test(value));
    }

    let mut out = Attributes::new();
    for rule in schema.rules() {
        if let Some(&value) = given.get(&rule.ty) {
            out.set(rule.ty, value.clone());
        } else if rule.has(make.required()) {
            verdict.note(CKR_TEMPLATE_INCOMPLETE);
        } else if let Some(value) = rule.def.plain(schema.class) {
            out.set(rule.ty, value);
        }
    }
    // Computed values need the given ones in place; a caller that states one must agree with it.
    for rule in schema.rules() {
        let Some(value) = rule.def.derived(&out) else {
            continue;
        };
        match given.get(&rule.ty) {
            Some(&stated) if *stated != value => verdict.note(CKR_TEMPLATE_INCONSISTENT),
            _ => out.set(rule.ty, value),
        }
    }
    make.stamp(&mut out, &schema);
    Some((schema, out))
}

/// The result of `build` once the verdict is clean.
fn built<T>(verdict: Verdict, built: Option<T>) -> Result<T> {
    verdict.check()?;
    // `build` notes a reason whenever it returns None, so this is a bug if it happens.
    built.ok_or(Error::new(CKR_GENERAL_ERROR))
}

/// Generated generic secrets (HMAC, HKDF keys) are capped at the 512 bytes the mechanism catalog
/// advertises for CKM_GENERIC_SECRET_KEY_GEN and CKM_HKDF_KEY_GEN.
const MAX_GENERATED_SECRET: u64 = 512;

/// CKA_VALUE_LEN of a key about to be made, when the template gives one, checked against the
/// lengths its key type can have (the CKA_VALUE row's check). A length the token cannot make is
/// CKR_KEY_SIZE_RANGE: the spec would also allow CKR_ATTRIBUTE_VALUE_INVALID, but KEY_SIZE_RANGE
/// names the actual problem and matches the key sizes C_GetMechanismInfo reports.
fn value_len(
    schema: &Schema,
    out: &Attributes,
    cap: Option<u64>,
    verdict: &mut Verdict,
) -> Option<usize> {
    let len = out.ulong(CKA_VALUE_LEN)?;
    let fits = match schema.find(CKA_VALUE).map(|rule| rule.check) {
        Some(Check::Lengths(lens)) => lens.iter().any(|&l| l as u64 == len),
        _ => len >= 1 && cap.is_none_or(|cap| len <= cap),
    };
    match usize::try_from(len) {
        Ok(len) if fits => Some(len),
        _ => {
            verdict.note(CKR_KEY_SIZE_RANGE);
            None
        }
    }
}

/// C_CreateObject: check the template for its class and return the full attribute set with every
/// default of the class filled in (so that an attribute absent from the result means "not an
/// attribute of this object").
pub fn create(template: &[Attribute], ctx: &Ctx) -> Result<Attributes> {
    let mut verdict = Verdict::default();
    let out = build(template, &[], Make::Create, ctx, &mut verdict);
    built(verdict, out).map(|(_, out)| out)
}

/// C_GenerateKey: the new secret key's attributes from the caller's template, before the value
/// exists. `key_type` is what the mechanism makes (CKK_AES for CKM_AES_KEY_GEN, CKK_GENERIC_SECRET
/// for CKM_GENERIC_SECRET_KEY_GEN, CKK_HKDF for CKM_HKDF_KEY_GEN...). Returns the attribute set
/// WITHOUT CKA_VALUE (it holds CKA_VALUE_LEN) and the key length in bytes the engine must
/// generate; add the value with `add_computed`, then `check`.
///
/// The template must give CKA_VALUE_LEN (footnote 3); CKA_VALUE and the origin attributes are the
/// token's (CKR_ATTRIBUTE_READ_ONLY); a CKA_CLASS or CKA_KEY_TYPE other than what the mechanism
/// makes is CKR_TEMPLATE_INCONSISTENT. A key type the module has no table for gives
/// CKR_MECHANISM_INVALID: the mechanism cannot make keys here.
pub fn generate_secret(
    template: &[Attribute],
    key_type: CK_KEY_TYPE,
    mechanism: CK_MECHANISM_TYPE,
    ctx: &Ctx,
) -> Result<(Attributes, usize)> {
    if Schema::new(CKO_SECRET_KEY, Some(key_type)).is_none() {
        return fail(CKR_MECHANISM_INVALID);
    }
    let contributed = [
        Attribute::ulong(CKA_CLASS, CKO_SECRET_KEY),
        Attribute::ulong(CKA_KEY_TYPE, key_type),
    ];
    let mut verdict = Verdict::default();
    let out = build(
        template,
        &contributed,
        Make::Generate(mechanism),
        ctx,
        &mut verdict,
    );
    let len = out
        .as_ref()
        .and_then(|(schema, out)| value_len(schema, out, Some(MAX_GENERATED_SECRET), &mut verdict));
    let (_, out) = built(verdict, out)?;
    match len {
        Some(len) => Ok((out, len)),
        None => fail(CKR_TEMPLATE_INCOMPLETE),
    }
}

/// C_GenerateKeyPair: both halves' attributes before the key material exists, as
/// (public, private).
///
/// RSA: CKA_MODULUS_BITS is required in the public template (CKR_TEMPLATE_INCOMPLETE) and
/// CKA_PUBLIC_EXPONENT optional (default 65537 = 01 00 01); the public set carries the exponent
/// the engine must use. EC and EC_EDWARDS: CKA_EC_PARAMS is required in the public template; the
/// private template may repeat it with the same value, and the private set gets it either way.
/// Key material in a template is CKR_ATTRIBUTE_READ_ONLY; attributes of the other half (such as
/// CKA_MODULUS_BITS in the private template) are CKR_TEMPLATE_INCONSISTENT. The caller adds
/// CKA_MODULUS, CKA_PUBLIC_EXPONENT and the private components, CKA_EC_POINT, CKA_VALUE with
/// `add_computed`, then `check`s both.
pub fn generate_pair(
    public: &[Attribute],
    private: &[Attribute],
    key_type: CK_KEY_TYPE,
    mechanism: CK_MECHANISM_TYPE,
    ctx: &Ctx,
) -> Result<(Attributes, Attributes)> {
    let (Some(public_schema), Some(private_schema)) = (
        Schema::new(CKO_PUBLIC_KEY, Some(key_type)),
        Schema::new(CKO_PRIVATE_KEY, Some(key_type)),
    ) else {
        return fail(CKR_MECHANISM_INVALID);
    };
    let make = Make::Generate(mechanism);
    let mut verdict = Verdict::default();
    let contributed = |class| {
        vec![
            Attribute::ulong(CKA_CLASS, class),
            Attribute::ulong(CKA_KEY_TYPE, key_type),
        ]
    };
    let public_out = build(
        public,
        &contributed(CKO_PUBLIC_KEY),
        make,
        ctx,
        &mut verdict,
    );

    // Domain parameters the public template must give (footnote 3) are the private key's too,
    // where its table has them; taking them from the public half is what footnote 4 means there.
    let mut private_contributed = contributed(CKO_PRIVATE_KEY);
    for rule in private_schema.rules() {
        if !public_schema
            .find(rule.ty)
            .is_some_and(|r| r.has(GEN_REQUIRED))
        {
            continue;
        }
        let from_public = public_out.as_ref().and_then(|(_, p)| p.get(rule.ty));
        // Without a public value the public half already fails as incomplete; taking the
        // private template's value keeps that the reported error rather than READ_ONLY.
        let from_private = private.iter().find(|a| a.ty == rule.ty).map(|a| &a.value);
        if let Some(value) = from_public.or(from_private) {
            private_contributed.push(Attribute::new(rule.ty, value.clone()));
        }
    }
    let private_out = build(private, &private_contributed, make, ctx, &mut verdict);

    verdict.check()?;
    match (public_out, private_out) {
        (Some((_, public)), Some((_, private))) => Ok((public, private)),
        // `build` notes a reason whenever it returns None.
        _ => fail(CKR_GENERAL_ERROR),
    }
}

/// C_UnwrapKey: the unwrapped key's attributes from the caller's template, before the key
/// material is added. CKA_CLASS and CKA_KEY_TYPE come from the template, or else from the
/// defaults `class` and `key_type` (what the mechanism implies); with neither,
/// CKR_TEMPLATE_INCOMPLETE. The key is not local, never "always sensitive" nor "never
/// extractable". Key material in the template is CKR_ATTRIBUTE_READ_ONLY; CKA_VALUE_LEN may be
/// given (see the GENERIC_SECRET table) and must fit the key type (CKR_KEY_SIZE_RANGE). The caller
/// adds the material with `add_computed` and then calls `check`, which also holds a given
/// CKA_VALUE_LEN against the unwrapped length.
pub fn unwrapped(
    template: &[Attribute],
    class: Option<CK_OBJECT_CLASS>,
    key_type: Option<CK_KEY_TYPE>,
    ctx: &Ctx,
) -> Result<Attributes> {
    let absent = |ty| !template.iter().any(|a| a.ty == ty);
    let defaults: Vec<Attribute> = [(CKA_CLASS, class), (CKA_KEY_TYPE, key_type)]
        .into_iter()
        .filter_map(|(ty, value)| {
            value
                .filter(|_| absent(ty))
                .map(|v| Attribute::ulong(ty, v))
        })
        .collect();
    let mut verdict = Verdict::default();
    let out = build(template, &defaults, Make::Unwrap, ctx, &mut verdict);
    if let Some((schema, out)) = &out {
        value_len(schema, out, None, &mut verdict);
    }
    built(verdict, out).map(|(_, out)| out)
}

/// C_DeriveKey: the derived key's attributes, before its value exists; `keys` are the attribute
/// sets of the base key and of any other key the mechanism uses (HKDF's salt key). The result is a secret key (another CKA_CLASS in the template is
/// CKR_TEMPLATE_INCONSISTENT) of the template's CKA_KEY_TYPE, or `default_key_type`. It is not
/// local; it is "always sensitive" only if the base key was and the new one is sensitive, "never
/// extractable" only if the base key was and the new one is not extractable. Returns the
/// template's CKA_VALUE_LEN, when given, as the length to derive. Merge the base key's
/// CKA_DERIVE_TEMPLATE into `template` first (`merge_template`).
pub fn derived(
    keys: &[&Attributes],
    template: &[Attribute],
    default_key_type: CK_KEY_TYPE,
    mechanism: CK_MECHANISM_TYPE,
    ctx: &Ctx,
) -> Result<(Attributes, Option<usize>)> {
    // §4.7: CKA_KEY_GEN_MECHANISM names a mechanism only for local keys, which derived keys are
    // not, and no derivation mechanism of this module has rules of its own here.
    let _ = mechanism;
    let mut contributed = vec![Attribute::ulong(CKA_CLASS, CKO_SECRET_KEY)];
    if !template.iter().any(|a| a.ty == CKA_KEY_TYPE) {
        contributed.push(Attribute::ulong(CKA_KEY_TYPE, default_key_type));
    }
    let mut verdict = Verdict::default();
    let out = build(
        template,
        &contributed,
        Make::Derive(keys),
        ctx,
        &mut verdict,
    );
    let len = out
        .as_ref()
        .and_then(|(schema, out)| value_len(schema, out, None, &mut verdict));
    built(verdict, out).map(|(_, out)| (out, len))
}

/// Put a value the token computed (key material, CKA_PUBLIC_KEY_INFO, CKA_CHECK_VALUE...) into a
/// set made by `generate_secret`, `generate_pair`, `unwrapped` or `derived`. Lengths computed from
/// it (CKA_VALUE_LEN, CKA_MODULUS_BITS) are filled in where the template did not state them;
/// stated ones are left for `check` to compare.
pub fn add_computed(attrs: &mut Attributes, ty: CK_ATTRIBUTE_TYPE, value: AttrValue) {
    attrs.set(ty, value);
    let Some(schema) = Schema::of(attrs) else {
        return;
    };
    for rule in schema.rules() {
        let follows = matches!(rule.def, Def::LenOf(src) | Def::BitsOf(src) if src == ty);
        if !follows || attrs.contains(rule.ty) {
            continue;
        }
        if let Some(value) = rule.def.derived(attrs) {
            attrs.set(rule.ty, value);
        }
    }
}

/// A made key once its material is in: what C_CreateObject demands of a template holds for it
/// too. Required rows missing → CKR_TEMPLATE_INCOMPLETE; a value its row refuses (an AES key of 20
/// bytes) → CKR_ATTRIBUTE_VALUE_INVALID; a stated length that the material contradicts (unwrapped
/// CKA_VALUE_LEN, generated CKA_MODULUS_BITS) → CKR_TEMPLATE_INCONSISTENT.
pub fn check(attrs: &Attributes) -> Result<()> {
    let given: BTreeMap<CK_ATTRIBUTE_TYPE, &AttrValue> = attrs.iter().collect();
    let schema = match Schema::of_template(&given) {
        Ok(schema) => schema,
        Err(rv) => return fail(rv),
    };
    let mut verdict = Verdict::default();
    for (ty, value) in attrs.iter() {
        if let Err(e) = check_shape(ty, value) {
            verdict.note(e.rv());
            continue;
        }
        match schema.find(ty) {
            Some(rule) => verdict.note_result(rule.check.test(value)),
            None => verdict.note(CKR_TEMPLATE_INCONSISTENT),
        }
    }
    for rule in schema.rules() {
        if rule.has(REQUIRED) && !attrs.contains(rule.ty) {
            verdict.note(CKR_TEMPLATE_INCOMPLETE);
        }
        if let Some(value) = rule.def.derived(attrs) {
            match attrs.get(rule.ty) {
                Some(stated) if *stated != value => verdict.note(CKR_TEMPLATE_INCONSISTENT),
                Some(_) => {}
                None => verdict.note(CKR_TEMPLATE_INCOMPLETE),
            }
        }
    }
    verdict.check()
}

/// Does `obj` satisfy a CKA_WRAP_TEMPLATE, CKA_UNWRAP_TEMPLATE or CKA_DERIVE_TEMPLATE: is every
/// attribute of the template present in `obj` with the same value? C_WrapKey refuses a key that
/// does not match its wrapping key's CKA_WRAP_TEMPLATE.
pub fn matches_template(obj: &Attributes, template: &[Attribute]) -> bool {
    obj.matches(template)
}

/// The caller's template for an unwrapped or derived key with the unwrapping key's
/// CKA_UNWRAP_TEMPLATE or the base key's CKA_DERIVE_TEMPLATE (`enforced`) added. The spec gives
/// the new key the enforced attributes; a caller asking for another value of one of them is
/// CKR_TEMPLATE_INCONSISTENT rather than silently overruled.
pub fn merge_template(caller: &[Attribute], enforced: &[Attribute]) -> Result<Vec<Attribute>> {
    let mut verdict = Verdict::default();
    let wanted = unique(caller, &mut verdict);
    unique(enforced, &mut verdict);
    let mut out = caller.to_vec();
    for a in enforced {
        match wanted.get(&a.ty) {
            Some(&asked) if *asked != a.value => verdict.note(CKR_TEMPLATE_INCONSISTENT),
            Some(_) => {}
            None if out.iter().any(|b| b.ty == a.ty) => {}
            None => out.push(a.clone()),
        }
    }
    verdict.check()?;
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Set,
    Copy,
}

/// May `op` give attribute `ty` of `obj` this value?
fn may_change(
    obj: &Attributes,
    schema: Option<&Schema>,
    ty: CK_ATTRIBUTE_TYPE,
    value: &AttrValue,
    ctx: &Ctx,
    op: Op,
) -> Result<()> {
    check_shape(ty, value)?;
    let Some(rule) = schema.and_then(|s| s.find(ty)) else {
        // An object of a class this table does not describe is never changed here.
        return fail(if obj.contains(ty) {
            CKR_ATTRIBUTE_READ_ONLY
        } else {
            CKR_ATTRIBUTE_TYPE_INVALID
        });
    };
    if !(op == Op::Copy && rule.has(ON_COPY)) {
        // §4.6.2: "trusted certificates cannot be modified"; SoftHSMv2 reads this as every
        // attribute, which we follow for C_SetAttributeValue and for the copy's content.
        let trusted_cert = obj.class() == Some(CKO_CERTIFICATE) && obj.flag(CKA_TRUSTED);
        // C_CopyObject may change what "can ordinarily be modified", which nothing is on an
        // unmodifiable object (C_SetAttributeValue has already refused it).
        if !rule.has(SETTABLE) || trusted_cert || !flag_or(obj, CKA_MODIFIABLE, true) {
            return fail(CKR_ATTRIBUTE_READ_ONLY);
        }
    }
    let old = obj.get(ty).and_then(AttrValue::as_bool);
    let trusted_usage = rule.has(VOUCHED) && obj.flag(CKA_TRUSTED) && !ctx.so;
    if rule.goes_back(old, value.as_bool()) || rule.so_only(value, ctx) || trusted_usage {
        return fail(CKR_ATTRIBUTE_READ_ONLY);
    }
    rule.check.test(value)
}

fn apply(obj: &Attributes, changes: &[Attribute], ctx: &Ctx, op: Op) -> Result<Attributes> {
    let mut verdict = Verdict::default();
    let given = unique(changes, &mut verdict);
    let schema = Schema::of(obj);
    for (&ty, &value) in &given {
        verdict.note_result(may_change(obj, schema.as_ref(), ty, value, ctx, op));
    }
    verdict.check()?;
    let mut out = obj.clone();
    for (ty, value) in given {
        out.set(ty, value.clone());
    }
    Ok(out)
}

/// C_CopyObject: the copy's full attribute set. `CKA_COPYABLE` false → CKR_ACTION_PROHIBITED.
/// The template may only set CKA_TOKEN, CKA_PRIVATE, CKA_MODIFIABLE, CKA_DESTROYABLE, CKA_COPYABLE
/// (true→false only) and what C_SetAttributeValue could change (same rules as `set`); others →
/// CKR_ATTRIBUTE_READ_ONLY.
///
/// A CKA_TRUSTED key is copied by the SO only (CKR_ACTION_PROHIBITED otherwise). Footnote 10
/// lets only the SO set CKA_TRUSTED to true, and a copy that kept it would be a trusted key the
/// SO never made; a copy that dropped it would still hold the trusted key's value under usage
/// flags the user controls, a second, unvouched-for handle on what the trusted key wraps
/// (decrypt the CKA_WRAP_WITH_TRUSTED blobs it made). Neither is a copy the user may have. A
/// trusted certificate holds no secret and its copy is as frozen as it is (§4.6.2), so anyone
/// may copy it.
pub fn copy(obj: &Attributes, template: &[Attribute], ctx: &Ctx) -> Result<Attributes> {
    let trusted_key = obj.flag(CKA_TRUSTED) && obj.class() != Some(CKO_CERTIFICATE);
    if !flag_or(obj, CKA_COPYABLE, true) || (trusted_key && !ctx.so) {
        return fail(CKR_ACTION_PROHIBITED);
    }
    let mut out = apply(obj, template, ctx, Op::Copy)?;
    // The copy is a new object: the store gives it its own identifier.
    out.remove(CKA_UNIQUE_ID);
    Ok(out)
}

/// C_SetAttributeValue: the object's new attribute set. CKA_MODIFIABLE false →
/// CKR_ACTION_PROHIBITED.
pub fn set(obj: &Attributes, changes: &[Attribute], ctx: &Ctx) -> Result<Attributes> {
    if !flag_or(obj, CKA_MODIFIABLE, true) {
        return fail(CKR_ACTION_PROHIBITED);
    }
    apply(obj, changes, ctx, Op::Set)
}

/// C_GetAttributeValue: may this attribute's value be revealed?
pub fn readable(obj: &Attributes, ty: CK_ATTRIBUTE_TYPE) -> Read {
    if !obj.contains(ty) {
        return Read::Invalid;
    }
    let secret = obj.class().is_some_and(|class| is_secret(class, ty));
    // Footnote 7. A missing CKA_EXTRACTABLE reads as false, so a malformed key stays hidden.
    if secret && (obj.flag(CKA_SENSITIVE) || !obj.flag(CKA_EXTRACTABLE)) {
        Read::Sensitive
    } else {
        Read::Ok
    }
}

/// C_FindObjectsInit: does the object match the template? An attribute C_GetAttributeValue
/// would not reveal never matches: otherwise a search would confirm a guessed key value.
pub fn search_matches(obj: &Attributes, template: &[Attribute]) -> bool {
    obj.matches(template)
        && template
            .iter()
            .all(|a| matches!(readable(obj, a.ty), Read::Ok))
}

/// Attributes holding secret material, which the store always seals, even for public objects:
/// CKA_VALUE of secret keys and private keys, the RSA private components, and similar.
pub fn is_secret(class: CK_OBJECT_CLASS, ty: CK_ATTRIBUTE_TYPE) -> bool {
    KEY_TYPES
        .iter()
        .filter_map(|&kt| Schema::new(class, Some(kt)))
        .any(|schema| schema.find(ty).is_some_and(|rule| rule.has(SECRET)))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(kinds.len(), 2 + 3 + 3 + 8);
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
        t[1] = key_type(CKK_DES3);
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
        let k = unwrapped(&sensitive, Some(CKO_SECRET_KEY), Some(CKK_AES), &USER)
            .or_fail("unwrapped AES");
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
        let k = unwrapped(&[key_type(CKK_EC)], Some(CKO_PRIVATE_KEY), None, &USER)
            .or_fail("private key");
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
                &[key_type(CKK_DES3)],
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
}
