//! Objects and their attributes (PKCS#11 v3.0 §4): typed values and the per-class rules.

pub mod attr;
pub mod policy;
pub mod rules;
