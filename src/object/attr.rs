//! Typed attributes: a `CK_ATTRIBUTE` template is parsed once, at the C boundary, into these
//! values (PKCS#11 v3.0 §4.1-4.2, "Common object attributes" and the attribute data types).

use crate::error::{fail, Result};
use cryptoki_sys::*;
use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// How an attribute's value is encoded in `pValue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrKind {
    /// `CK_BBOOL`, one byte, `CK_TRUE` or `CK_FALSE`.
    Bool,
    /// `CK_ULONG` (and the ulong-sized types: class, key type, certificate type, mechanism type).
    Ulong,
    /// Any byte string: big integers, DER, UTF-8 text.
    Bytes,
    /// `CK_DATE`: 8 ASCII digits, or empty.
    Date,
    /// An array of `CK_ATTRIBUTE` (`CKA_WRAP_TEMPLATE`, `CKA_UNWRAP_TEMPLATE`, `CKA_DERIVE_TEMPLATE`).
    Template,
    /// An array of `CK_MECHANISM_TYPE` (`CKA_ALLOWED_MECHANISMS`).
    Mechanisms,
}

/// A typed attribute value. Byte strings are wiped when dropped: they may hold key material.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub enum AttrValue {
    Bool(bool),
    Ulong(u64),
    Bytes(Vec<u8>),
    Template(Vec<Attribute>),
    Mechanisms(Vec<u64>),
}

impl std::fmt::Debug for AttrValue {
    // Values are never printed: a log line shows the shape of an attribute, not its bytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttrValue::Bool(b) => write!(f, "Bool({b})"),
            AttrValue::Ulong(v) => write!(f, "Ulong({v:#x})"),
            AttrValue::Bytes(b) => write!(f, "Bytes[{}]", b.len()),
            AttrValue::Template(t) => write!(f, "Template[{}]", t.len()),
            AttrValue::Mechanisms(m) => write!(f, "Mechanisms[{}]", m.len()),
        }
    }
}

/// One attribute: its type and typed value.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Attribute {
    pub ty: CK_ATTRIBUTE_TYPE,
    pub value: AttrValue,
}

impl std::fmt::Debug for Attribute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={:?}", attr_name(self.ty), self.value)
    }
}

impl Attribute {
    pub fn new(ty: CK_ATTRIBUTE_TYPE, value: AttrValue) -> Self {
        Attribute { ty, value }
    }
    pub fn bool(ty: CK_ATTRIBUTE_TYPE, v: bool) -> Self {
        Attribute::new(ty, AttrValue::Bool(v))
    }
    pub fn ulong(ty: CK_ATTRIBUTE_TYPE, v: u64) -> Self {
        Attribute::new(ty, AttrValue::Ulong(v))
    }
    pub fn bytes(ty: CK_ATTRIBUTE_TYPE, v: impl Into<Vec<u8>>) -> Self {
        Attribute::new(ty, AttrValue::Bytes(v.into()))
    }
}

impl AttrValue {
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            AttrValue::Bool(b) => Some(*b),
            _ => None,
        }
    }
    pub fn as_ulong(&self) -> Option<u64> {
        match self {
            AttrValue::Ulong(v) => Some(*v),
            _ => None,
        }
    }
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            AttrValue::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

/// A full attribute set of an object, ordered by type so encodings are deterministic, and the
/// engine forms of the key it holds (see [`Attributes::prepared`]). Clones share the map until
/// one of them changes it, so handing an object's attributes to an operation costs no copy.
#[derive(Clone, Default)]
pub struct Attributes(Arc<BTreeMap<CK_ATTRIBUTE_TYPE, AttrValue>>, Arc<Prepared>);

/// How many engine forms one attribute set keeps (an RSA private key object uses two: the
/// private key and its public half; an AES key could keep its key schedule and GCM tables).
const FORMS: usize = 4;

/// The prepared-key slot: engine forms of a key (a parsed RSA or EC key), built on first use
/// and shared by every clone of the attribute set they came from, so an object's key is parsed
/// once, not at every operation. Each form is set once and read without a lock. Any change to
/// the set empties its slot (a fresh one when clones share it), so a prepared key always matches
/// the attributes beside it. A form is dropped, and the engine key wipes itself, when the last
/// clone of the set and the last operation holding the form go.
#[derive(Default)]
struct Prepared([OnceLock<Arc<dyn Any + Send + Sync>>; FORMS]);

impl Prepared {
    fn is_empty(&self) -> bool {
        self.0.iter().all(|c| c.get().is_none())
    }
}

impl PartialEq for Attributes {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl Eq for Attributes {}

impl std::fmt::Debug for Attributes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.0
                    .iter()
                    .map(|(t, v)| format!("{}={:?}", attr_name(*t), v)),
            )
            .finish()
    }
}

impl Attributes {
    pub fn new() -> Self {
        Attributes(Arc::new(BTreeMap::new()), Arc::default())
    }
    pub fn get(&self, ty: CK_ATTRIBUTE_TYPE) -> Option<&AttrValue> {
        self.0.get(&ty)
    }
    pub fn contains(&self, ty: CK_ATTRIBUTE_TYPE) -> bool {
        self.0.contains_key(&ty)
    }
    pub fn set(&mut self, ty: CK_ATTRIBUTE_TYPE, value: AttrValue) {
        self.changed();
        Arc::make_mut(&mut self.0).insert(ty, value);
    }
    pub fn remove(&mut self, ty: CK_ATTRIBUTE_TYPE) -> Option<AttrValue> {
        self.changed();
        Arc::make_mut(&mut self.0).remove(&ty)
    }

    /// Every mutation passes here: the prepared forms no longer match the set. A slot no clone
    /// shares is emptied in place (no allocation while a template is built up); a shared one is
    /// left to the clones, which still hold the old values, and this set starts a new one.
    fn changed(&mut self) {
        match Arc::get_mut(&mut self.1) {
            Some(p) => {
                for c in &mut p.0 {
                    c.take();
                }
            }
            None => self.1 = Arc::default(),
        }
    }

    /// The engine form `T` of the key in this set: the one built earlier from this set (or a
    /// clone of it), else `make`'s, which is kept for the next call. Reads take no lock.
    pub fn prepared<T: Any + Send + Sync>(
        &self,
        make: impl FnOnce(&Self) -> Result<T>,
    ) -> Result<Arc<T>> {
        if let Some(t) = self.prepared_form::<T>() {
            return Ok(t);
        }
        // Parsing or expanding a key leaves its material on the stack: the frames below this
        // one are overwritten at once, since whatever is built next in that region and moved to
        // the heap carries their bytes in its padding (tests/secrets.rs found an AES-256
        // schedule's first round keys in a freed ECB operation), and again when the call ends.
        // The key is moved into its `Arc` down there too, so only a pointer comes back up.
        crate::wipe::mark();
        // Built outside any lock: two threads may both build it; the first kept serves both.
        let made = build_shared(self, make);
        crate::wipe::scrub();
        let t = made?;
        for c in &self.1 .0 {
            let erased: Arc<dyn Any + Send + Sync> = t.clone();
            match c.set(erased) {
                Ok(()) => return Ok(t),
                Err(_) => {
                    if let Some(kept) = downcast::<T>(c) {
                        return Ok(kept);
                    }
                }
            }
        }
        // Every form taken by other types: serve this one unkept.
        Ok(t)
    }

    fn prepared_form<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.1 .0.iter().find_map(downcast::<T>)
    }

    /// Does the set hold no prepared key (tests)?
    pub fn nothing_prepared(&self) -> bool {
        self.1.is_empty()
    }

    /// A boolean attribute, `false` when absent.
    pub fn flag(&self, ty: CK_ATTRIBUTE_TYPE) -> bool {
        self.get(ty).and_then(AttrValue::as_bool).unwrap_or(false)
    }
    pub fn ulong(&self, ty: CK_ATTRIBUTE_TYPE) -> Option<u64> {
        self.get(ty).and_then(AttrValue::as_ulong)
    }
    pub fn bytes(&self, ty: CK_ATTRIBUTE_TYPE) -> Option<&[u8]> {
        self.get(ty).and_then(AttrValue::as_bytes)
    }
    pub fn class(&self) -> Option<CK_OBJECT_CLASS> {
        self.ulong(CKA_CLASS).map(|c| c as CK_OBJECT_CLASS)
    }
    pub fn key_type(&self) -> Option<CK_KEY_TYPE> {
        self.ulong(CKA_KEY_TYPE).map(|c| c as CK_KEY_TYPE)
    }
    pub fn iter(&self) -> impl Iterator<Item = (CK_ATTRIBUTE_TYPE, &AttrValue)> {
        self.0.iter().map(|(t, v)| (*t, v))
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Does every attribute of `template` equal this set's value (the `C_FindObjects` match)?
    pub fn matches(&self, template: &[Attribute]) -> bool {
        template.iter().all(|a| self.get(a.ty) == Some(&a.value))
    }
}

/// `make`'s key, already in its `Arc`: not inlined, so every copy of the key value made on the
/// way lies in frames below the caller's, which [`crate::wipe::scrub`] then overwrites.
#[inline(never)]
fn build_shared<T>(
    attrs: &Attributes,
    make: impl FnOnce(&Attributes) -> Result<T>,
) -> Result<Arc<T>> {
    make(attrs).map(Arc::new)
}

/// The form in `c` if it is a `T`.
fn downcast<T: Any + Send + Sync>(c: &OnceLock<Arc<dyn Any + Send + Sync>>) -> Option<Arc<T>> {
    let a = c.get()?;
    if (**a).is::<T>() {
        Arc::clone(a).downcast::<T>().ok()
    } else {
        None
    }
}

impl FromIterator<Attribute> for Attributes {
    fn from_iter<I: IntoIterator<Item = Attribute>>(iter: I) -> Self {
        let mut set = Attributes::new();
        for mut a in iter {
            set.set(
                a.ty,
                std::mem::replace(&mut a.value, AttrValue::Bool(false)),
            );
        }
        set
    }
}

/// The encoding of every attribute type the module knows; `None` for unknown types, which the
/// caller reports as `CKR_ATTRIBUTE_TYPE_INVALID`.
pub fn kind_of(ty: CK_ATTRIBUTE_TYPE) -> Option<AttrKind> {
    use AttrKind::*;
    Some(match ty {
        CKA_TOKEN
        | CKA_PRIVATE
        | CKA_MODIFIABLE
        | CKA_COPYABLE
        | CKA_DESTROYABLE
        | CKA_TRUSTED
        | CKA_SENSITIVE
        | CKA_ENCRYPT
        | CKA_DECRYPT
        | CKA_WRAP
        | CKA_UNWRAP
        | CKA_SIGN
        | CKA_SIGN_RECOVER
        | CKA_VERIFY
        | CKA_VERIFY_RECOVER
        | CKA_DERIVE
        | CKA_EXTRACTABLE
        | CKA_LOCAL
        | CKA_NEVER_EXTRACTABLE
        | CKA_ALWAYS_SENSITIVE
        | CKA_WRAP_WITH_TRUSTED
        | CKA_ALWAYS_AUTHENTICATE
        | CKA_ENCAPSULATE
        | CKA_DECAPSULATE => Bool,
        CKA_CLASS
        | CKA_KEY_TYPE
        | CKA_CERTIFICATE_TYPE
        | CKA_CERTIFICATE_CATEGORY
        | CKA_JAVA_MIDP_SECURITY_DOMAIN
        | CKA_NAME_HASH_ALGORITHM
        | CKA_VALUE_LEN
        | CKA_MODULUS_BITS
        | CKA_KEY_GEN_MECHANISM
        | CKA_PRIME_BITS
        | CKA_SUBPRIME_BITS
        | CKA_VALUE_BITS
        | CKA_PROFILE_ID
        | CKA_PARAMETER_SET => Ulong,
        CKA_START_DATE | CKA_END_DATE => Date,
        CKA_WRAP_TEMPLATE | CKA_UNWRAP_TEMPLATE | CKA_DERIVE_TEMPLATE => Template,
        CKA_ALLOWED_MECHANISMS => Mechanisms,
        CKA_LABEL
        | CKA_APPLICATION
        | CKA_VALUE
        | CKA_OBJECT_ID
        | CKA_ISSUER
        | CKA_SERIAL_NUMBER
        | CKA_AC_ISSUER
        | CKA_OWNER
        | CKA_ATTR_TYPES
        | CKA_URL
        | CKA_HASH_OF_SUBJECT_PUBLIC_KEY
        | CKA_HASH_OF_ISSUER_PUBLIC_KEY
        | CKA_CHECK_VALUE
        | CKA_SUBJECT
        | CKA_ID
        | CKA_MODULUS
        | CKA_PUBLIC_EXPONENT
        | CKA_PRIVATE_EXPONENT
        | CKA_PRIME_1
        | CKA_PRIME_2
        | CKA_EXPONENT_1
        | CKA_EXPONENT_2
        | CKA_COEFFICIENT
        | CKA_PUBLIC_KEY_INFO
        | CKA_PRIME
        | CKA_SUBPRIME
        | CKA_BASE
        | CKA_EC_PARAMS
        | CKA_EC_POINT
        | CKA_UNIQUE_ID => Bytes,
        _ => return None,
    })
}

/// The `CKA_*` name of an attribute type, for logs.
pub fn attr_name(ty: CK_ATTRIBUTE_TYPE) -> String {
    macro_rules! names {
        ($($n:ident),*) => { match ty { $($n => return stringify!($n).to_string(),)* _ => {} } };
    }
    names!(
        CKA_CLASS,
        CKA_TOKEN,
        CKA_PRIVATE,
        CKA_LABEL,
        CKA_APPLICATION,
        CKA_VALUE,
        CKA_OBJECT_ID,
        CKA_CERTIFICATE_TYPE,
        CKA_ISSUER,
        CKA_SERIAL_NUMBER,
        CKA_TRUSTED,
        CKA_CERTIFICATE_CATEGORY,
        CKA_CHECK_VALUE,
        CKA_KEY_TYPE,
        CKA_SUBJECT,
        CKA_ID,
        CKA_SENSITIVE,
        CKA_ENCRYPT,
        CKA_DECRYPT,
        CKA_WRAP,
        CKA_UNWRAP,
        CKA_SIGN,
        CKA_SIGN_RECOVER,
        CKA_VERIFY,
        CKA_VERIFY_RECOVER,
        CKA_DERIVE,
        CKA_START_DATE,
        CKA_END_DATE,
        CKA_MODULUS,
        CKA_MODULUS_BITS,
        CKA_PUBLIC_EXPONENT,
        CKA_PRIVATE_EXPONENT,
        CKA_PRIME_1,
        CKA_PRIME_2,
        CKA_EXPONENT_1,
        CKA_EXPONENT_2,
        CKA_COEFFICIENT,
        CKA_PUBLIC_KEY_INFO,
        CKA_VALUE_LEN,
        CKA_EXTRACTABLE,
        CKA_LOCAL,
        CKA_NEVER_EXTRACTABLE,
        CKA_ALWAYS_SENSITIVE,
        CKA_KEY_GEN_MECHANISM,
        CKA_MODIFIABLE,
        CKA_COPYABLE,
        CKA_DESTROYABLE,
        CKA_EC_PARAMS,
        CKA_EC_POINT,
        CKA_ALWAYS_AUTHENTICATE,
        CKA_WRAP_WITH_TRUSTED,
        CKA_WRAP_TEMPLATE,
        CKA_UNWRAP_TEMPLATE,
        CKA_DERIVE_TEMPLATE,
        CKA_ALLOWED_MECHANISMS,
        CKA_UNIQUE_ID
    );
    format!("CKA_{ty:#x}")
}

/// Check that a value has the shape its kind demands (used for values that come from callers).
pub fn check_shape(ty: CK_ATTRIBUTE_TYPE, value: &AttrValue) -> Result<()> {
    let ok = match (kind_of(ty), value) {
        (None, _) => return fail(CKR_ATTRIBUTE_TYPE_INVALID),
        (Some(AttrKind::Bool), AttrValue::Bool(_)) => true,
        (Some(AttrKind::Ulong), AttrValue::Ulong(_)) => true,
        (Some(AttrKind::Bytes), AttrValue::Bytes(_)) => true,
        (Some(AttrKind::Date), AttrValue::Bytes(b)) => {
            b.is_empty() || (b.len() == 8 && b.iter().all(u8::is_ascii_digit))
        }
        (Some(AttrKind::Template), AttrValue::Template(_)) => true,
        (Some(AttrKind::Mechanisms), AttrValue::Mechanisms(_)) => true,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        fail(CKR_ATTRIBUTE_VALUE_INVALID)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepared_keys_are_built_once_shared_by_clones_and_dropped_on_change() -> Result<()> {
        let mut a = Attributes::new();
        a.set(CKA_VALUE, AttrValue::Bytes(vec![1, 2, 3]));
        let builds = std::cell::Cell::new(0);
        let make = |s: &Attributes| {
            builds.set(builds.get() + 1);
            Ok(s.bytes(CKA_VALUE).map(<[u8]>::len).unwrap_or(0))
        };
        let first = a.prepared(make)?;
        assert_eq!(*first, 3);
        let copy = a.clone();
        let again = copy.prepared(make)?;
        assert_eq!(builds.get(), 1, "a clone rebuilt the prepared key");
        assert!(Arc::ptr_eq(&first, &again), "a clone got another copy");
        // Another type is another form.
        assert_eq!(*a.prepared(|_| Ok(7u8))?, 7);
        a.set(CKA_VALUE, AttrValue::Bytes(vec![1]));
        assert!(a.nothing_prepared(), "a change kept a prepared key");
        assert_eq!(*a.prepared(make)?, 1, "a change kept the old prepared key");
        assert_eq!(builds.get(), 2);
        assert_eq!(
            *copy.prepared(make)?,
            3,
            "the clone's slot followed the change"
        );
        Ok(())
    }

    #[test]
    fn every_mutation_empties_the_slot() -> Result<()> {
        let mut a: Attributes = [Attribute::bool(CKA_SIGN, true)].into_iter().collect();
        a.prepared(|_| Ok(1u32))?;
        a.set(CKA_SIGN, AttrValue::Bool(false));
        assert!(a.nothing_prepared(), "set");
        a.prepared(|_| Ok(1u32))?;
        a.remove(CKA_LABEL);
        assert!(a.nothing_prepared(), "remove of an absent attribute");
        // A slot no clone shares is emptied in place; a shared one is left to the clone.
        a.prepared(|_| Ok(1u32))?;
        let clone = a.clone();
        a.set(CKA_LABEL, AttrValue::Bytes(b"x".to_vec()));
        assert!(a.nothing_prepared() && !clone.nothing_prepared());
        Ok(())
    }

    #[test]
    fn forms_of_several_types_live_side_by_side() -> Result<()> {
        let a = Attributes::new();
        for i in 0..FORMS as u8 + 2 {
            // Types 0..FORMS are kept; the ones beyond are served unkept.
            match i {
                0 => assert_eq!(*a.prepared(|_| Ok(0u8))?, 0),
                1 => assert_eq!(*a.prepared(|_| Ok(1u16))?, 1),
                2 => assert_eq!(*a.prepared(|_| Ok(2u32))?, 2),
                3 => assert_eq!(*a.prepared(|_| Ok(3u64))?, 3),
                _ => assert_eq!(*a.prepared(|_| Ok(i as i8))?, i as i8),
            }
        }
        assert_eq!(*a.prepared(|_| Ok(9u16))?, 1, "kept form replaced");
        Ok(())
    }
}
