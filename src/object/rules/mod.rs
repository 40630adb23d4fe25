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
//!
//! `table` holds the rows and the schema lookup, the one place each rule is written; `make`
//! (creating, generating, unwrapping, deriving), `change` (copying, setting), `read` (reading,
//! searching, sealing) ask it, and `verdict` picks the return code when several rules are broken.

mod change;
mod make;
mod read;
mod table;
mod verdict;

pub use change::{copy, set};
pub use make::{
    add_computed, check, create, derived, generate_pair, generate_secret, matches_template,
    merge_template, unwrapped,
};
pub use read::{is_secret, readable, search_matches};
#[doc(hidden)]
pub use table::attribute_types;

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

#[cfg(test)]
mod tests;
