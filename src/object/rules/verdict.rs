//! The return code of a template that breaks several rules (PKCS#11 v3.0 §5.7 and §4.1.1-4.1.3):
//! every check notes its code and the first one in the specification's order wins.

use crate::error::{fail, Result};
use crate::object::attr::{AttrValue, Attribute};
use cryptoki_sys::*;
use std::collections::btree_map::Entry;
use std::collections::BTreeMap;

/// When a template breaks several rules, the code reported is the one listed first among the
/// function's return values (§5.7 lists them alphabetically), as design.md asks, so the answer
/// does not depend on the order of the template.
pub(super) const PRECEDENCE: [CK_RV; 6] = [
    CKR_ATTRIBUTE_READ_ONLY,
    CKR_ATTRIBUTE_TYPE_INVALID,
    CKR_ATTRIBUTE_VALUE_INVALID,
    CKR_KEY_SIZE_RANGE,
    CKR_TEMPLATE_INCOMPLETE,
    CKR_TEMPLATE_INCONSISTENT,
];

#[derive(Debug, Default)]
pub(super) struct Verdict(Option<CK_RV>);

impl Verdict {
    pub(super) fn note(&mut self, rv: CK_RV) {
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

    pub(super) fn note_result(&mut self, result: Result<()>) {
        if let Err(e) = result {
            self.note(e.rv());
        }
    }

    pub(super) fn check(self) -> Result<()> {
        match self.0 {
            Some(rv) => fail(rv),
            None => Ok(()),
        }
    }
}

/// The template by type; a type given twice must carry the same value both times.
pub(super) fn unique<'a>(
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
