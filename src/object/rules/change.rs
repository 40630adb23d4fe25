//! Changing objects (PKCS#11 v3.0 §5.7 C_CopyObject and C_SetAttributeValue; footnotes 8, 10-12
//! of Table 10): which attributes a caller may change, in which direction, and who.

use super::table::*;
use super::verdict::{unique, Verdict};
use super::Ctx;
use crate::error::{fail, Result};
use crate::object::attr::{check_shape, AttrValue, Attribute, Attributes};
use cryptoki_sys::*;

fn flag_or(obj: &Attributes, ty: CK_ATTRIBUTE_TYPE, absent: bool) -> bool {
    obj.get(ty).and_then(AttrValue::as_bool).unwrap_or(absent)
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
