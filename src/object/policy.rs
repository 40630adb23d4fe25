//! The key policy that involves more than one object or the mechanism: which key may wrap,
//! unwrap or derive, with which mechanism, what a trusted key may do, and what a key made from
//! other keys must keep of their protection (PKCS#11 v3.0 §4.9-4.10 CKA_WRAP_WITH_TRUSTED,
//! CKA_TRUSTED, CKA_ALWAYS_AUTHENTICATE and the CKA_*_TEMPLATE attributes; §5.18 C_WrapKey,
//! C_UnwrapKey, C_DeriveKey).
//!
//! The per-attribute rules (who may set what, one-way attributes) are the table in `rules`;
//! `module::keys` (and `Module::key_for` for every key a function uses) asks this file, and
//! nothing else, whether a key function may go ahead.

use crate::error::{fail, Result};
use crate::object::attr::{AttrValue, Attribute, Attributes};
use crate::object::rules;
use cryptoki_sys::*;

/// A key function, named by the C_GetMechanismInfo flag that offers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFunction {
    Wrap,
    Unwrap,
    Derive,
}

impl KeyFunction {
    fn flag(self) -> CK_FLAGS {
        match self {
            KeyFunction::Wrap => CKF_WRAP,
            KeyFunction::Unwrap => CKF_UNWRAP,
            KeyFunction::Derive => CKF_DERIVE,
        }
    }
}

/// The mechanism must offer the function in its C_GetMechanismInfo flags, so what the module
/// advertises is what it does. This is what keeps raw RSA (CKM_RSA_X_509) out of C_UnwrapKey:
/// unwrapping c into a readable secret returns c^d mod n, a private-key operation on a key that
/// may neither decrypt nor sign. Forcing the result sensitive would not make it safe: with no
/// padding nothing tells a wrapped key from a chosen ciphertext, so the token would still make
/// keys of value c^d for any c (malleable: c·r^e gives m·r), usable as MAC or encryption keys
/// whose outputs test guesses. Raw RSA is no wrapping scheme, so it gets no unwrap at all
/// (SoftHSMv2 allows it; the README lists the difference). Likewise the encryption-only AES
/// modes (CTR, CTS, CCM) and generation mechanisms that a C_DeriveKey parser would otherwise
/// accept (PBKDF2) are refused: CKR_MECHANISM_INVALID.
pub fn mechanism_offers(mech_type: CK_MECHANISM_TYPE, function: KeyFunction) -> Result<()> {
    // What the module can do; what the token's policy allows of it is asked with the key.
    match crate::mechanism::info(crate::mechanism::policy::Policy::Compat, mech_type) {
        Some(info) if info.flags & function.flag() != 0 => Ok(()),
        _ => fail(CKR_MECHANISM_INVALID),
    }
}

/// A key used by a single-call function (C_UnwrapKey's unwrapping key, C_DeriveKey's base and
/// salt keys). CKA_ALWAYS_AUTHENTICATE asks for the PIN before each use, which
/// C_Login(CKU_CONTEXT_SPECIFIC) gives to a pending operation; these functions have none (the
/// login has nothing to attach to and answers CKR_OPERATION_NOT_INITIALIZED), so such a key is
/// refused for them with CKR_USER_NOT_LOGGED_IN, as a hardware token without a protected
/// authentication path does. A "previous call was a context login" rule would let any other
/// call in between authorize the key, so it is not offered.
pub fn single_call_key(key: &Attributes) -> Result<()> {
    if key.flag(CKA_ALWAYS_AUTHENTICATE) {
        return fail(CKR_USER_NOT_LOGGED_IN);
    }
    Ok(())
}

/// May `key` be used for `usage` (CKA_ENCRYPT, CKA_SIGN, CKA_WRAP...) beyond what its own usage
/// flag says? Asked for every key a function uses (`Module::key_for`). A CKA_TRUSTED secret key
/// may wrap CKA_WRAP_WITH_TRUSTED keys, so it does nothing but wrap and unwrap: encrypting
/// E_K(IV || 2) with CKM_AES_ECB (or deriving it with AES_ECB_ENCRYPT_DATA) is the keystream of
/// its GCM wraps, which XORed with the blob gives the protected key; decrypting with
/// CKM_AES_KEY_WRAP is unwrapping into the clear; a MAC under it is one more oracle. Its usage
/// flags were set by the SO, but one left at its default (true) must not undo the trust:
/// CKR_KEY_FUNCTION_NOT_PERMITTED. Trusted public keys only encrypt and verify, which reveal
/// nothing, so they keep their flags.
pub fn usable_for(key: &Attributes, usage: CK_ATTRIBUTE_TYPE) -> Result<()> {
    let wrapping_only = key.class() == Some(CKO_SECRET_KEY) && key.flag(CKA_TRUSTED);
    if wrapping_only && !matches!(usage, CKA_WRAP | CKA_UNWRAP) {
        return fail(CKR_KEY_FUNCTION_NOT_PERMITTED);
    }
    Ok(())
}

fn enforced(key: &Attributes, ty: CK_ATTRIBUTE_TYPE) -> Vec<Attribute> {
    match key.get(ty) {
        Some(AttrValue::Template(t)) => t.clone(),
        _ => Vec::new(),
    }
}

/// C_WrapKey: may `wrapping` wrap `target`? Only secret and private keys are wrapped; a
/// non-extractable one is CKR_KEY_UNEXTRACTABLE; a CKA_WRAP_WITH_TRUSTED one needs a CKA_TRUSTED
/// wrapping key, and the wrapping key's CKA_WRAP_TEMPLATE must match (CKR_KEY_NOT_WRAPPABLE).
pub fn may_wrap(wrapping: &Attributes, target: &Attributes) -> Result<()> {
    if !matches!(target.class(), Some(CKO_SECRET_KEY | CKO_PRIVATE_KEY)) {
        return fail(CKR_KEY_NOT_WRAPPABLE);
    }
    if !target.flag(CKA_EXTRACTABLE) {
        return fail(CKR_KEY_UNEXTRACTABLE);
    }
    if target.flag(CKA_WRAP_WITH_TRUSTED) && !wrapping.flag(CKA_TRUSTED) {
        return fail(CKR_KEY_NOT_WRAPPABLE);
    }
    if !rules::matches_template(target, &enforced(wrapping, CKA_WRAP_TEMPLATE)) {
        return fail(CKR_KEY_NOT_WRAPPABLE);
    }
    Ok(())
}

/// Unwrapping mechanisms that authenticate the blob, so a changed blob fails as a whole and
/// its failure says nothing about the plaintext: RFC 3394/5649 key wrap, GCM, OAEP.
fn authenticates(mech_type: CK_MECHANISM_TYPE) -> bool {
    matches!(
        mech_type,
        CKM_AES_KEY_WRAP
            | CKM_AES_KEY_WRAP_KWP
            | CKM_AES_GCM
            | CKM_RSA_PKCS_OAEP
            | CKM_RSA_AES_KEY_WRAP
    )
}

/// Does an imposed template keep the new key's value secret?
fn keeps_secret(imposed: &[Attribute]) -> bool {
    imposed.iter().any(|a| {
        matches!(
            (a.ty, a.value.as_bool()),
            (CKA_SENSITIVE, Some(true))
                | (CKA_EXTRACTABLE, Some(false))
                | (CKA_WRAP_WITH_TRUSTED, Some(true))
        )
    })
}

/// C_UnwrapKey: the caller's template with what the unwrapping key imposes. Its
/// CKA_UNWRAP_TEMPLATE applies (§4.10); and a CKA_TRUSTED key is the only kind that may have
/// wrapped a CKA_WRAP_WITH_TRUSTED key, so whatever it unwraps is treated as such a key: it
/// comes out CKA_SENSITIVE and CKA_WRAP_WITH_TRUSTED. Without that, wrapping a protected key
/// with the SO's trusted key and unwrapping the blob with the same key as a readable key would
/// hand out every CKA_WRAP_WITH_TRUSTED key. A template asking otherwise is
/// CKR_TEMPLATE_INCONSISTENT.
///
/// Where the unwrapping key keeps the result secret, the mechanism must authenticate the blob
/// (CKR_MECHANISM_INVALID otherwise): with CBC_PAD or PKCS#1 v1.5 the success or failure of
/// unwrapping a changed blob is a padding oracle (Vaudenay, Bleichenbacher; Bardou et al. ran
/// both against C_UnwrapKey of real tokens) that decrypts the protected blob without ever
/// reading the new key; ECB and CBC without padding let blobs be cut and spliced into keys of
/// chosen structure. Where nothing is imposed the caller may unwrap to a readable key anyway,
/// so the unauthenticated mechanisms stay available there.
pub fn unwrap_template(
    unwrapping: &Attributes,
    mech_type: CK_MECHANISM_TYPE,
    caller: &[Attribute],
) -> Result<Vec<Attribute>> {
    let mut imposed = enforced(unwrapping, CKA_UNWRAP_TEMPLATE);
    if unwrapping.flag(CKA_TRUSTED) {
        imposed.push(Attribute::bool(CKA_SENSITIVE, true));
        imposed.push(Attribute::bool(CKA_WRAP_WITH_TRUSTED, true));
    }
    if keeps_secret(&imposed) && !authenticates(mech_type) {
        return fail(CKR_MECHANISM_INVALID);
    }
    rules::merge_template(caller, &imposed)
}

/// Derivation mechanisms whose new key holds its base keys' bytes as they are (Current
/// Mechanisms v3.0 §2.43): concatenations, XOR with data, bit extraction.
fn copies_material(mech_type: CK_MECHANISM_TYPE) -> bool {
    matches!(
        mech_type,
        CKM_CONCATENATE_BASE_AND_KEY
            | CKM_CONCATENATE_BASE_AND_DATA
            | CKM_CONCATENATE_DATA_AND_BASE
            | CKM_XOR_BASE_AND_DATA
            | CKM_EXTRACT_KEY_FROM_KEY
    )
}

/// A key whose value the caller may not read or take out in the clear.
fn protected(key: &Attributes) -> bool {
    key.flag(CKA_SENSITIVE) || !key.flag(CKA_EXTRACTABLE) || key.flag(CKA_WRAP_WITH_TRUSTED)
}

/// C_DeriveKey: the caller's template with the CKA_DERIVE_TEMPLATE of every key that goes
/// into the value (`keys`, the base key first). For the mechanisms that copy their bases'
/// bytes (§2.43) the new key also keeps its bases' protection, as each of those mechanisms'
/// rules say: if any base is CKA_SENSITIVE so is the new key, if any is not CKA_EXTRACTABLE
/// neither is the new key (CKA_ALWAYS_SENSITIVE / CKA_NEVER_EXTRACTABLE follow all the bases,
/// `rules::derived`). CKA_WRAP_WITH_TRUSTED is kept the same way: otherwise a copy would be
/// wrappable under any key. A template asking otherwise is CKR_TEMPLATE_INCONSISTENT.
pub fn derive_template(
    keys: &[&Attributes],
    mech_type: CK_MECHANISM_TYPE,
    caller: &[Attribute],
) -> Result<Vec<Attribute>> {
    let mut merged = caller.to_vec();
    for k in keys {
        merged = rules::merge_template(&merged, &enforced(k, CKA_DERIVE_TEMPLATE))?;
    }
    if copies_material(mech_type) {
        let mut imposed = Vec::new();
        if keys.iter().any(|k| k.flag(CKA_SENSITIVE)) {
            imposed.push(Attribute::bool(CKA_SENSITIVE, true));
        }
        if keys.iter().any(|k| !k.flag(CKA_EXTRACTABLE)) {
            imposed.push(Attribute::bool(CKA_EXTRACTABLE, false));
        }
        if keys.iter().any(|k| k.flag(CKA_WRAP_WITH_TRUSTED)) {
            imposed.push(Attribute::bool(CKA_WRAP_WITH_TRUSTED, true));
        }
        merged = rules::merge_template(&merged, &imposed)?;
    }
    Ok(merged)
}

/// May a material-copying derivation (§2.43) leave out part of these keys' values (a
/// truncated concatenation, an XOR with shorter data, an extraction of fewer bytes than the
/// key)? Not from a protected key: the new key would be protected too, but a key of a few
/// unknown bytes is a small search, which any MAC or encryption under it answers
/// (CKM_EXTRACT_KEY_FROM_KEY of one byte at each offset, then HMAC with each one-byte key,
/// recovers the base a byte at a time; so would DATA_AND_BASE with all but one byte known).
/// Whole copies (a rotation, an XOR with data as long as the key) keep every unknown bit.
/// CKR_KEY_FUNCTION_NOT_PERMITTED.
pub fn may_shorten(keys: &[&Attributes]) -> Result<()> {
    if keys.iter().any(|k| protected(k)) {
        return fail(CKR_KEY_FUNCTION_NOT_PERMITTED);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(attrs: &[(CK_ATTRIBUTE_TYPE, bool)]) -> Attributes {
        let mut a = Attributes::new();
        a.set(CKA_CLASS, AttrValue::Ulong(CKO_SECRET_KEY));
        for &(ty, v) in attrs {
            a.set(ty, AttrValue::Bool(v));
        }
        a
    }

    fn rv(r: Result<impl std::fmt::Debug>) -> CK_RV {
        match r {
            Ok(v) => panic!("expected an error, got {v:?}"),
            Err(e) => e.rv(),
        }
    }

    #[test]
    fn raw_rsa_has_no_unwrap_and_kdfs_derive() {
        assert_eq!(
            rv(mechanism_offers(CKM_RSA_X_509, KeyFunction::Unwrap)),
            CKR_MECHANISM_INVALID
        );
        assert_eq!(
            rv(mechanism_offers(CKM_PKCS5_PBKD2, KeyFunction::Derive)),
            CKR_MECHANISM_INVALID
        );
        assert!(mechanism_offers(CKM_AES_KEY_WRAP, KeyFunction::Unwrap).is_ok());
        assert!(mechanism_offers(CKM_HKDF_DERIVE, KeyFunction::Derive).is_ok());
    }

    #[test]
    fn trusted_secret_keys_only_wrap() {
        let trusted = key(&[(CKA_TRUSTED, true)]);
        for usage in [CKA_ENCRYPT, CKA_DECRYPT, CKA_SIGN, CKA_VERIFY, CKA_DERIVE] {
            assert_eq!(
                rv(usable_for(&trusted, usage)),
                CKR_KEY_FUNCTION_NOT_PERMITTED
            );
            assert!(usable_for(&key(&[]), usage).is_ok());
        }
        assert!(usable_for(&trusted, CKA_WRAP).is_ok());
        assert!(usable_for(&trusted, CKA_UNWRAP).is_ok());
        let mut public = key(&[(CKA_TRUSTED, true)]);
        public.set(CKA_CLASS, AttrValue::Ulong(CKO_PUBLIC_KEY));
        assert!(usable_for(&public, CKA_ENCRYPT).is_ok());
    }

    #[test]
    fn always_authenticate_refuses_single_calls() {
        assert_eq!(
            rv(single_call_key(&key(&[(CKA_ALWAYS_AUTHENTICATE, true)]))),
            CKR_USER_NOT_LOGGED_IN
        );
        assert!(single_call_key(&key(&[(CKA_ALWAYS_AUTHENTICATE, false)])).is_ok());
    }

    #[test]
    fn trusted_unwrap_imposes_protection() {
        let trusted = key(&[(CKA_TRUSTED, true)]);
        let t = unwrap_template(&trusted, CKM_AES_KEY_WRAP, &[]).unwrap_or_default();
        assert!(t.contains(&Attribute::bool(CKA_SENSITIVE, true)));
        assert!(t.contains(&Attribute::bool(CKA_WRAP_WITH_TRUSTED, true)));
        assert_eq!(
            rv(unwrap_template(
                &trusted,
                CKM_AES_KEY_WRAP,
                &[Attribute::bool(CKA_SENSITIVE, false)]
            )),
            CKR_TEMPLATE_INCONSISTENT
        );
        for m in [CKM_AES_CBC_PAD, CKM_AES_ECB, CKM_AES_CBC, CKM_RSA_PKCS] {
            assert_eq!(rv(unwrap_template(&trusted, m, &[])), CKR_MECHANISM_INVALID);
        }
        let plain = key(&[]);
        let t = unwrap_template(&plain, CKM_AES_CBC_PAD, &[]).unwrap_or_default();
        assert_eq!(t, vec![]);
    }

    #[test]
    fn copies_keep_their_bases_protection() {
        let open = key(&[(CKA_SENSITIVE, false), (CKA_EXTRACTABLE, true)]);
        let hidden = key(&[(CKA_SENSITIVE, true), (CKA_EXTRACTABLE, false)]);
        let t = derive_template(&[&open, &hidden], CKM_CONCATENATE_BASE_AND_KEY, &[])
            .unwrap_or_default();
        assert!(t.contains(&Attribute::bool(CKA_SENSITIVE, true)));
        assert!(t.contains(&Attribute::bool(CKA_EXTRACTABLE, false)));
        assert_eq!(
            rv(derive_template(
                &[&hidden],
                CKM_XOR_BASE_AND_DATA,
                &[Attribute::bool(CKA_SENSITIVE, false)]
            )),
            CKR_TEMPLATE_INCONSISTENT
        );
        // A KDF's output reveals nothing of the base: nothing is imposed.
        let t = derive_template(&[&hidden], CKM_SP800_108_COUNTER_KDF, &[]).unwrap_or_default();
        assert!(t.is_empty());
        assert!(may_shorten(&[&open]).is_ok());
        assert_eq!(
            rv(may_shorten(&[&open, &hidden])),
            CKR_KEY_FUNCTION_NOT_PERMITTED
        );
    }

    #[test]
    fn wrap_needs_extractable_and_trusted() {
        let wk = key(&[]);
        assert_eq!(
            rv(may_wrap(&wk, &key(&[(CKA_EXTRACTABLE, false)]))),
            CKR_KEY_UNEXTRACTABLE
        );
        let wwt = key(&[(CKA_EXTRACTABLE, true), (CKA_WRAP_WITH_TRUSTED, true)]);
        assert_eq!(rv(may_wrap(&wk, &wwt)), CKR_KEY_NOT_WRAPPABLE);
        assert!(may_wrap(&key(&[(CKA_TRUSTED, true)]), &wwt).is_ok());
    }
}
