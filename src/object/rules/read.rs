//! Reading and finding objects (PKCS#11 v3.0 §5.7 C_GetAttributeValue and C_FindObjectsInit;
//! footnote 7 of Table 10): what may be revealed, what a search may match, what the store seals.

use super::table::*;
use super::Read;
use crate::object::attr::{Attribute, Attributes};
use cryptoki_sys::*;

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
