//! Making objects (PKCS#11 v3.0 §5.7 C_CreateObject, §5.14 C_GenerateKey(Pair), C_UnwrapKey,
//! C_DeriveKey; footnotes 1-6 of Table 10 and §4.7-4.9 on a key's origin): a template checked
//! against its class's rows, the defaults filled in, the origin stamped.

use super::table::*;
use super::verdict::{unique, Verdict};
use super::Ctx;
use crate::error::{fail, Error, Result};
use crate::object::attr::{check_shape, AttrValue, Attribute, Attributes};
use cryptoki_sys::*;
use std::collections::btree_map::Entry;
use std::collections::BTreeMap;

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
    let check = schema.find(CKA_VALUE).map(|rule| rule.check);
    // A key type of one length and no CKA_VALUE_LEN (DES, DES2, DES3) has that length.
    let len = match (out.ulong(CKA_VALUE_LEN), check) {
        (Some(len), _) => len,
        (None, Some(Check::Lengths(&[only]) | Check::DesKey(only)))
            if schema.find(CKA_VALUE_LEN).is_none() =>
        {
            only as u64
        }
        (None, _) => return None,
    };
    let fits = match check {
        Some(Check::Lengths(lens)) => lens.iter().any(|&l| l as u64 == len),
        Some(Check::DesKey(n)) => n as u64 == len,
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
