//! The battery's tries through the key and object functions (PKCS#11 v3.0 §5.7 object
//! management, §5.18 key management): derivations into readable keys, wrapping under keys the
//! caller knows, unwrapping chosen blobs, copies and attribute changes that would undo
//! sensitivity, reads of the sensitive attributes, searches on them, and keys that need a
//! context login or forbid the function.

use crate::common::keys as fixed;
use crate::common::p11::*;
use crate::harness::*;
use crate::ops::{listed, rv_name};
use crate::table::*;
use cryptoki_sys::*;

/// What a derivation or unwrap asks for: a readable, extractable generic secret.
fn readable(len: Option<usize>) -> Tmpl {
    new_secret(CKK_GENERIC_SECRET, len)
        .b(CKA_SENSITIVE, false)
        .b(CKA_EXTRACTABLE, true)
}

/// The EC public point of the targets, raw (without the DER OCTET STRING header).
fn ec_point_raw() -> Vec<u8> {
    hx(fixed::EC_POINT)[2..].to_vec()
}

/// Every derive mechanism with every target as the base key, asking for a readable key of
/// several lengths: the new key's value must not hold the base key's bytes.
pub fn derive_all(b: &mut Battery) {
    let point = ec_point_raw();
    for m in listed(
        b,
        &[
            Fam::AesDerive,
            Fam::Hkdf,
            Fam::EcDerive,
            Fam::CopyDerive,
            Fam::Kbkdf,
        ],
    ) {
        for t in b.of(None) {
            for (shape, mech) in derive_params(m, &point) {
                for len in [None, Some(16), Some(32), Some(48), Some(64)] {
                    let what = format!(
                        "C_DeriveKey({}, base {}, {shape}, VALUE_LEN {len:?})",
                        name(m),
                        t.name
                    );
                    b.tried += 1;
                    match b.derive(&mech, t.h, &readable(len)) {
                        Err(_) => b.refused += 1,
                        Ok(h) => {
                            b.tried -= 1; // counted by the dump
                            let value = b.dump_and_destroy(&what, h);
                            let _ = value;
                        }
                    }
                }
            }
        }
        b.recycle();
    }
}

/// Wrapping keys whose value the caller knows: for each wrap mechanism, every target wrapped.
/// A non-extractable target must give CKR_KEY_UNEXTRACTABLE wherever its extractable twin
/// wraps; the twin's blob is fine (the caller can unwrap it: that is what extractable means),
/// but is scanned all the same: a wrap must encrypt.
pub fn wrap_all(b: &mut Battery) {
    let aes_kek = b.t.obj(&aes(&[0x5a; 32]));
    let rsa_kek = b.t.obj(&rsa_public_fixed());
    for m in b.t.mechanism_list().unwrap_or_default() {
        let flags = b.t.mechanism_info(m).map(|i| i.flags).unwrap_or(0);
        let fam = family(m);
        // Every cipher is tried for wrapping, claimed or not: a module that wraps with a mode
        // it does not list must still refuse a non-extractable key.
        if flags & CKF_WRAP == 0 && !matches!(fam, Some(Fam::AesCipher | Fam::RsaCipher)) {
            continue;
        }
        let kek = if fam == Some(Fam::RsaCipher) {
            rsa_kek
        } else {
            aes_kek
        };
        for t in b.of(None) {
            for mech in params(m, 48) {
                let what = format!("C_WrapKey({}, known key, {})", name(m), t.name);
                let r = b.wrap(&mech, kek, t.h);
                if t.non_extractable {
                    match &r {
                        Err(rv) if *rv == CKR_KEY_UNEXTRACTABLE => {}
                        Err(rv) => {
                            let twin = twin_of(b, &t);
                            if let Some(twin) = twin {
                                if b.wrap(&mech, kek, twin).is_ok() {
                                    b.fail(
                                        &what,
                                        format!(
                                            "expected CKR_KEY_UNEXTRACTABLE, got {}",
                                            rv_name(*rv)
                                        ),
                                    );
                                }
                            }
                        }
                        Ok(blob) => b.fail(
                            &what,
                            format!("a non-extractable key was wrapped ({} bytes)", blob.len()),
                        ),
                    }
                }
                b.outcome(&what, r);
                // The target as the wrapping key of a key the caller knows: an output like any.
                let known = b.t.obj(&aes(&[0x77; 32]));
                let r = b.wrap(&mech, t.h, known);
                b.outcome(
                    &format!("C_WrapKey({}, wrapping key {})", name(m), t.name),
                    r,
                );
                let _ = b.t.destroy(known);
            }
        }
        b.recycle();
    }
}

fn twin_of(b: &Battery, t: &Target) -> Option<CK_OBJECT_HANDLE> {
    let want = format!("{} (extractable twin)", t.name);
    b.targets.iter().find(|x| x.name == want).map(|x| x.h)
}

/// C_UnwrapKey with each target as the unwrapping key and chosen blobs, with every
/// mechanism (claimed for unwrap or not). The new key must not be readable if it is a
/// function of a private key that may not be used so (raw RSA: c^d), and must never hold
/// the target's bytes.
pub fn unwrap_chosen(b: &mut Battery) {
    // Chosen blobs: zeros, a pattern, 1 (c^d = 1: harmless), 2 (2^d mod n), and for RSA a
    // full block.
    let mut two = vec![0u8; 256];
    two[255] = 2;
    let blobs: Vec<(&str, Vec<u8>)> = vec![
        ("40 bytes 0xa5", vec![0xa5; 40]),
        ("32 zero bytes", vec![0; 32]),
        ("48 bytes 0x3c", vec![0x3c; 48]),
        ("RSA block 2", two),
        ("RSA block 0x01..", vec![0x01; 256]),
    ];
    for m in b.t.mechanism_list().unwrap_or_default() {
        let flags = b.t.mechanism_info(m).map(|i| i.flags).unwrap_or(0);
        let fam = family(m);
        if flags & CKF_UNWRAP == 0 && !matches!(fam, Some(Fam::AesCipher | Fam::RsaCipher)) {
            continue;
        }
        for t in b.of(None) {
            for (shape, blob) in &blobs {
                for mech in params(m, blob.len()) {
                    let what = format!(
                        "C_UnwrapKey({}, unwrapping key {}, {shape})",
                        name(m),
                        t.name
                    );
                    b.tried += 1;
                    match b.unwrap(&mech, t.h, blob, &readable(None)) {
                        Err(_) => b.refused += 1,
                        Ok(h) => {
                            b.tried -= 1;
                            if m == CKM_RSA_X_509 && t.kind == Kind::Rsa {
                                b.fail(
                                    &what,
                                    "raw RSA unwrap of a chosen block made a readable key (c^d mod n: a private-key oracle)".into(),
                                );
                            }
                            b.dump_and_destroy(&what, h);
                        }
                    }
                }
            }
        }
        b.recycle();
    }
}

/// C_CopyObject asking for SENSITIVE=false / EXTRACTABLE=true, and C_SetAttributeValue
/// turning them back: refused, and the target unchanged.
pub fn copy_and_set(b: &mut Battery) {
    for t in b.of(None) {
        let asks = [
            ("SENSITIVE=false", Tmpl::new().b(CKA_SENSITIVE, false)),
            ("EXTRACTABLE=true", Tmpl::new().b(CKA_EXTRACTABLE, true)),
            (
                "SENSITIVE=false, EXTRACTABLE=true, TOKEN=false",
                Tmpl::new()
                    .b(CKA_SENSITIVE, false)
                    .b(CKA_EXTRACTABLE, true)
                    .b(CKA_TOKEN, false),
            ),
        ];
        for (shape, tmpl) in asks {
            if shape.starts_with("EXTRACTABLE") && !t.non_extractable {
                continue; // the twins are extractable already
            }
            let what = format!("C_CopyObject({}, {shape})", t.name);
            b.tried += 1;
            match b.copy(t.h, &tmpl) {
                Err(_) => b.refused += 1,
                Ok(h) => {
                    b.tried -= 1;
                    b.fail(&what, "the copy was made".into());
                    b.dump_and_destroy(&what, h);
                }
            }
            let what = format!("C_SetAttributeValue({}, {shape})", t.name);
            b.tried += 1;
            match b.set(t.h, &tmpl.clone().without(CKA_TOKEN)) {
                Err(_) => b.refused += 1,
                Ok(()) => b.fail(&what, "the change was accepted".into()),
            }
        }
        // A plain copy keeps the policy: still sensitive, still non-extractable.
        let what = format!("C_CopyObject({}, no change)", t.name);
        if let Ok(h) = b.copy(t.h, &Tmpl::new()) {
            check_flags(b, &what, h, t.non_extractable);
            b.dump_and_destroy(&what, h);
        }
        check_flags(
            b,
            &format!("{} after the tries", t.name),
            t.h,
            t.non_extractable,
        );
    }
    // CKA_MODIFIABLE false stays false on a copy (issue 10 finding 2's shape): a modifiable
    // copy could take back usages its original was made without.
    let fixed = b.t.obj(
        &aes(&hx(AES16))
            .b(CKA_MODIFIABLE, false)
            .b(CKA_DECRYPT, false)
            .b(CKA_SENSITIVE, true)
            .b(CKA_EXTRACTABLE, false),
    );
    let what = "C_CopyObject(AES key with MODIFIABLE=false, MODIFIABLE=true)";
    b.tried += 1;
    match b.copy(fixed, &Tmpl::new().b(CKA_MODIFIABLE, true)) {
        Err(_) => b.refused += 1,
        Ok(h) => {
            b.tried -= 1;
            if b.attr(h, CKA_MODIFIABLE).as_deref() == Ok(&[1u8][..]) {
                b.fail(what, "the copy is modifiable".into());
            }
            b.dump_and_destroy(what, h);
        }
    }
    b.recycle();
}

fn check_flags(b: &mut Battery, what: &str, h: CK_OBJECT_HANDLE, non_extractable: bool) {
    let s = b.attr(h, CKA_SENSITIVE);
    if s.as_deref() != Ok(&[1u8][..]) {
        b.fail(what, format!("CKA_SENSITIVE is {s:?}"));
    }
    let e = b.attr(h, CKA_EXTRACTABLE);
    if non_extractable && e.as_deref() != Ok(&[0u8][..]) {
        b.fail(what, format!("CKA_EXTRACTABLE is {e:?}"));
    }
}

/// The secret attributes of each kind of key.
fn secret_attrs(k: Kind) -> &'static [CK_ATTRIBUTE_TYPE] {
    match k {
        Kind::Rsa => &[
            CKA_PRIVATE_EXPONENT,
            CKA_PRIME_1,
            CKA_PRIME_2,
            CKA_EXPONENT_1,
            CKA_EXPONENT_2,
            CKA_COEFFICIENT,
            CKA_VALUE,
        ],
        _ => &[CKA_VALUE],
    }
}

/// Every attribute of every target read one by one and all together: the secret ones give
/// CKR_ATTRIBUTE_SENSITIVE, the others are scanned.
pub fn read_attributes(b: &mut Battery) {
    for t in b.of(None) {
        for &a in secret_attrs(t.kind) {
            let what = format!("C_GetAttributeValue({}, 0x{a:x})", t.name);
            let r = b.attr(t.h, a);
            match &r {
                Err(rv) if *rv == CKR_ATTRIBUTE_SENSITIVE => {}
                Err(rv)
                    if a == CKA_VALUE
                        && t.kind == Kind::Rsa
                        && *rv == CKR_ATTRIBUTE_TYPE_INVALID => {}
                other => b.fail(
                    &what,
                    format!("expected CKR_ATTRIBUTE_SENSITIVE, got {other:?}"),
                ),
            }
            b.outcome(&what, r);
        }
        let mut all = Vec::new();
        for &a in DUMPED.iter().chain(&[
            CKA_WRAP_TEMPLATE,
            CKA_UNWRAP_TEMPLATE,
            CKA_DERIVE_TEMPLATE,
            CKA_ALLOWED_MECHANISMS,
        ]) {
            if let Ok(v) = b.attr(t.h, a) {
                all.extend(v);
            }
        }
        b.outcome(&format!("every attribute of {}", t.name), Ok(all));
    }
}

/// C_FindObjects with the secret value in the template.
///
/// Decision: a search that matches on a sensitive attribute is a confirmation oracle (a caller
/// who guesses a value learns whether it is right without ever being allowed to read it, and
/// for RSA a guess of one prime is checkable against the public modulus anyway, but for a
/// secret key nothing else confirms it). The module must not find a key by the value of an
/// attribute it refuses to reveal.
pub fn find_by_value(b: &mut Battery) {
    for t in b.of(None) {
        let checks: Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)> = match t.kind {
            Kind::Rsa => vec![
                (CKA_PRIVATE_EXPONENT, hx(fixed::RSA_PRIVATE_EXPONENT)),
                (CKA_PRIME_1, hx(fixed::RSA_PRIME_1)),
            ],
            Kind::Ec => vec![(CKA_VALUE, hx(fixed::EC_PRIVATE_VALUE))],
            Kind::Ed => vec![(CKA_VALUE, hx(ED25519_SEED))],
            _ => {
                let key = secret_of(b, &t);
                vec![(CKA_VALUE, key)]
            }
        };
        for (a, v) in checks {
            let what = format!("C_FindObjects(0x{a:x} = the value of {})", t.name);
            b.tried += 1;
            match b.find(&Tmpl::new().bytes(a, &v)) {
                Err(_) => b.refused += 1,
                Ok(found) if found.contains(&t.h) => b.fail(
                    &what,
                    "found the key: a search confirms a sensitive value".into(),
                ),
                Ok(_) => b.clean += 1,
            }
        }
    }
}

/// The known value of a secret-key target.
fn secret_of(b: &Battery, t: &Target) -> Vec<u8> {
    let base = t.name.trim_end_matches(" (extractable twin)");
    b.secrets.get(base).cloned().unwrap_or_default()
}

/// One try of `always_authenticate`: the new object, if the try makes one.
type Try = Box<dyn Fn(&Battery) -> Result<Option<CK_OBJECT_HANDLE>, CK_RV>>;

/// Keys with CKA_ALWAYS_AUTHENTICATE: no signature, decryption, unwrap or derivation without
/// a C_Login(CKU_CONTEXT_SPECIFIC) first.
pub fn always_authenticate(b: &mut Battery) {
    let rsa = b.t.obj(
        &rsa_private_fixed()
            .b(CKA_ALWAYS_AUTHENTICATE, true)
            .b(CKA_SIGN, true)
            .b(CKA_DECRYPT, true)
            .b(CKA_UNWRAP, true),
    );
    let ec = b.t.obj(
        &ec_private(&hx(OID_P256), &hx(fixed::EC_PRIVATE_VALUE)).b(CKA_ALWAYS_AUTHENTICATE, true),
    );
    let point = ec_point_raw();
    let mut block = vec![0u8; 256];
    block[255] = 2;
    let tries: Vec<(&str, Try)> = vec![
        (
            "C_Sign(RSA_PKCS)",
            Box::new(move |b| {
                b.init(Init::Sign, &Mech::new(CKM_RSA_PKCS), rsa)?;
                b.single(Init::Sign, b"data").map(|_| None)
            }),
        ),
        (
            "C_Decrypt(RSA_X_509)",
            Box::new({
                let block = block.clone();
                move |b| {
                    b.init(Init::Decrypt, &Mech::new(CKM_RSA_X_509), rsa)?;
                    b.single(Init::Decrypt, &block).map(|_| None)
                }
            }),
        ),
        (
            "C_UnwrapKey(RSA_X_509)",
            Box::new({
                let block = block.clone();
                move |b| {
                    b.unwrap(&Mech::new(CKM_RSA_X_509), rsa, &block, &readable(Some(32)))
                        .map(Some)
                }
            }),
        ),
        (
            "C_UnwrapKey(RSA_PKCS)",
            Box::new(move |b| {
                b.unwrap(&Mech::new(CKM_RSA_PKCS), rsa, &block, &readable(None))
                    .map(Some)
            }),
        ),
        (
            "C_Sign(ECDSA)",
            Box::new(move |b| {
                b.init(Init::Sign, &Mech::new(CKM_ECDSA), ec)?;
                b.single(Init::Sign, &[7; 32]).map(|_| None)
            }),
        ),
        (
            "C_DeriveKey(ECDH1_DERIVE)",
            Box::new(move |b| {
                b.derive(
                    &ecdh(CKM_ECDH1_DERIVE, CKD_NULL, &[], &point),
                    ec,
                    &readable(Some(32)),
                )
                .map(Some)
            }),
        ),
    ];
    // The control: with a context login the same key signs, so the refusals above are the
    // login's doing.
    let control = b
        .init(Init::Sign, &Mech::new(CKM_RSA_PKCS), rsa)
        .and_then(|()| {
            crate::common::p11::expect_rv_raw(
                "C_Login(CKU_CONTEXT_SPECIFIC)",
                b.context_login(),
                CKR_OK,
            );
            b.single(Init::Sign, b"data")
        });
    b.outcome(
        "C_Sign(RSA_PKCS) with an ALWAYS_AUTHENTICATE key after a context login",
        control.clone(),
    );
    if let Err(rv) = control {
        b.fail(
            "always-authenticate control",
            format!(
                "the key does not sign even after a context login: {}",
                rv_name(rv)
            ),
        );
    }
    b.recycle();
    for (what, f) in tries {
        let what = format!("{what} with an ALWAYS_AUTHENTICATE key, no context login");
        b.tried += 1;
        match f(b) {
            Err(_) => b.refused += 1,
            Ok(h) => {
                b.tried -= 1;
                b.fail(
                    &what,
                    "allowed without C_Login(CKU_CONTEXT_SPECIFIC)".into(),
                );
                match h {
                    Some(h) => {
                        b.dump_and_destroy(&what, h);
                    }
                    None => b.tried += 1,
                }
            }
        }
        b.recycle();
    }
}

/// Keys that forbid a function: the function is refused (CKR_KEY_FUNCTION_NOT_PERMITTED).
pub fn usage_not_allowed(b: &mut Battery) {
    let v = hx(AES32);
    let none = aes(&v)
        .b(CKA_ENCRYPT, false)
        .b(CKA_DECRYPT, false)
        .b(CKA_SIGN, false)
        .b(CKA_VERIFY, false)
        .b(CKA_WRAP, false)
        .b(CKA_UNWRAP, false)
        .b(CKA_DERIVE, false)
        .b(CKA_SENSITIVE, true)
        .b(CKA_EXTRACTABLE, false);
    let k = b.t.obj(&none);
    let known = b.t.obj(&aes(&[0x66; 32]));
    let iv = [0u8; 16];
    let cases: Vec<(&str, Result<Vec<u8>, CK_RV>)> = vec![
        (
            "C_EncryptInit",
            b.init(Init::Encrypt, &Mech::new(CKM_AES_ECB), k)
                .map(|()| Vec::new()),
        ),
        (
            "C_DecryptInit",
            b.init(Init::Decrypt, &Mech::bytes(CKM_AES_CBC, &iv), k)
                .map(|()| Vec::new()),
        ),
        (
            "C_SignInit",
            b.init(Init::Sign, &Mech::new(CKM_AES_CMAC), k)
                .map(|()| Vec::new()),
        ),
        (
            "C_VerifyInit",
            b.init(Init::Verify, &Mech::new(CKM_AES_CMAC), k)
                .map(|()| Vec::new()),
        ),
        (
            "C_MessageEncryptInit",
            b.init(Init::MessageEncrypt, &Mech::new(CKM_AES_GCM), k)
                .map(|()| Vec::new()),
        ),
        (
            "C_WrapKey (as wrapping key)",
            b.wrap(&Mech::new(CKM_AES_KEY_WRAP), k, known),
        ),
        (
            "C_UnwrapKey (as unwrapping key)",
            b.unwrap(&Mech::new(CKM_AES_ECB), k, &[0x11; 32], &readable(None))
                .map(|h| h.to_ne_bytes().to_vec()),
        ),
        (
            "C_DeriveKey (as base key)",
            b.derive(&aes_ecb_encrypt_data(&[0x11; 32]), k, &readable(None))
                .map(|h| h.to_ne_bytes().to_vec()),
        ),
    ];
    for (what, r) in cases {
        let what = format!("{what} with an AES key that forbids it");
        match &r {
            Err(_) => {}
            Ok(_) => b.fail(&what, "allowed".into()),
        }
        b.outcome(&what, r.map(|_| Vec::new()));
        b.recycle();
    }
}

/// Generated keys (every generation mechanism listed) asked sensitive and non-extractable:
/// their secret attributes stay unreadable and ALWAYS_SENSITIVE / NEVER_EXTRACTABLE are set.
pub fn generated_keys(b: &mut Battery) {
    for m in listed(b, &[Fam::KeyGen, Fam::PairGen]) {
        let what = format!("generation with {}", name(m));
        let private_tmpl = Tmpl::new().b(CKA_SENSITIVE, true).b(CKA_EXTRACTABLE, false);
        let r = match m {
            CKM_RSA_PKCS_KEY_PAIR_GEN
            | CKM_EC_KEY_PAIR_GEN
            | CKM_EC_EDWARDS_KEY_PAIR_GEN
            | CKM_EC_MONTGOMERY_KEY_PAIR_GEN => {
                let (pu, pr) = match m {
                    CKM_RSA_PKCS_KEY_PAIR_GEN => rsa_pair_templates(2048, &[1, 0, 1]),
                    CKM_EC_KEY_PAIR_GEN => ec_pair_templates(&hx(OID_P256)),
                    // X25519 (id-X25519).
                    CKM_EC_MONTGOMERY_KEY_PAIR_GEN => ec_pair_templates(&hx("06032b656e")),
                    _ => ec_pair_templates(&hx(OID_ED25519)),
                };
                let pr = pr.b(CKA_SENSITIVE, true).b(CKA_EXTRACTABLE, false);
                b.t.generate_pair(&Mech::new(m), &pu, &pr)
                    .map(|(_, k)| (k, Kind::Rsa))
            }
            CKM_PKCS5_PBKD2 => {
                b.t.generate_key(
                    &pbkdf2(CKP_PKCS5_PBKD2_HMAC_SHA256, b"password", b"salt", 1),
                    &new_secret(CKK_GENERIC_SECRET, Some(32))
                        .b(CKA_SENSITIVE, true)
                        .b(CKA_EXTRACTABLE, false),
                )
                .map(|k| (k, Kind::Generic))
            }
            _ => {
                // Issue 12: DES keys have one length and no CKA_VALUE_LEN; the HMAC key
                // generations make their own key types.
                let (kt, len) = match m {
                    CKM_AES_KEY_GEN => (CKK_AES, Some(32)),
                    CKM_AES_XTS_KEY_GEN => (CKK_AES_XTS, Some(32)),
                    CKM_HKDF_KEY_GEN => (CKK_HKDF, Some(32)),
                    CKM_DES_KEY_GEN => (CKK_DES, None),
                    CKM_DES2_KEY_GEN => (CKK_DES2, None),
                    CKM_DES3_KEY_GEN => (CKK_DES3, None),
                    CKM_SHA_1_KEY_GEN => (CKK_SHA_1_HMAC, Some(32)),
                    CKM_SHA224_KEY_GEN => (CKK_SHA224_HMAC, Some(32)),
                    CKM_SHA256_KEY_GEN => (CKK_SHA256_HMAC, Some(32)),
                    CKM_SHA384_KEY_GEN => (CKK_SHA384_HMAC, Some(32)),
                    CKM_SHA512_KEY_GEN => (CKK_SHA512_HMAC, Some(32)),
                    CKM_SHA3_224_KEY_GEN => (CKK_SHA3_224_HMAC, Some(32)),
                    CKM_SHA3_256_KEY_GEN => (CKK_SHA3_256_HMAC, Some(32)),
                    CKM_SHA3_384_KEY_GEN => (CKK_SHA3_384_HMAC, Some(32)),
                    CKM_SHA3_512_KEY_GEN => (CKK_SHA3_512_HMAC, Some(32)),
                    _ => (CKK_GENERIC_SECRET, Some(32)),
                };
                b.t.generate_key(
                    &Mech::new(m),
                    &new_secret(kt, len)
                        .b(CKA_SENSITIVE, true)
                        .b(CKA_EXTRACTABLE, false),
                )
                .map(|k| (k, Kind::Generic))
            }
        };
        let _ = private_tmpl;
        match r {
            Err(rv) => b.fail(&what, format!("generation failed: {}", rv_name(rv))),
            Ok((k, kind)) => {
                b.tried += 1;
                let attrs: &[CK_ATTRIBUTE_TYPE] = if m == CKM_RSA_PKCS_KEY_PAIR_GEN {
                    secret_attrs(Kind::Rsa)
                } else {
                    &[CKA_VALUE]
                };
                let _ = kind;
                let mut ok = true;
                for &a in attrs {
                    match b.attr(k, a) {
                        Err(CKR_ATTRIBUTE_SENSITIVE) => {}
                        Err(CKR_ATTRIBUTE_TYPE_INVALID)
                            if a == CKA_VALUE && m == CKM_RSA_PKCS_KEY_PAIR_GEN => {}
                        other => {
                            ok = false;
                            b.fail(&what, format!("attribute 0x{a:x}: expected CKR_ATTRIBUTE_SENSITIVE, got {other:?}"));
                        }
                    }
                }
                for a in [CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE] {
                    if b.attr(k, a).as_deref() != Ok(&[1u8][..]) {
                        ok = false;
                        b.fail(&what, format!("attribute 0x{a:x} is not CK_TRUE"));
                    }
                }
                if ok {
                    b.refused += 1;
                }
                let _ = b.t.destroy(k);
            }
        }
    }
}

/// The copying derivations (§2.43) and CKM_PUB_KEY_FROM_PRIV_KEY against every target, past
/// the readable-key tries of `derive_all`: a copy the module lets the caller make must stay
/// as protected as its base (unreadable, unwrappable when the base is), pieces of a target
/// must be refused (one unknown byte is a search of 256 MACs), a concatenation with a second
/// key is judged like one with data, and a public key made from a private one holds only
/// public bytes.
pub fn derive_copies(b: &mut Battery) {
    let aes_kek = b.t.obj(&aes(&[0x5a; 32]));
    let known = b.t.obj(&secret(CKK_GENERIC_SECRET, &[0x3c; 16]));
    let protected = || Tmpl::new().b(CKA_TOKEN, false).u(CKA_CLASS, CKO_SECRET_KEY);
    for t in b.of(None) {
        let whole: Vec<(String, Mech, Tmpl)> = vec![
            (
                "XOR with zeros".into(),
                key_derivation_data(CKM_XOR_BASE_AND_DATA, &[0; 64]),
                protected(),
            ),
            (
                "BASE_AND_KEY, known other".into(),
                Mech::ulong(CKM_CONCATENATE_BASE_AND_KEY, known),
                protected(),
            ),
            (
                "other key is the target".into(),
                Mech::ulong(CKM_CONCATENATE_BASE_AND_KEY, t.h),
                protected(),
            ),
        ];
        for (shape, m, tm) in whole {
            let base = if shape.starts_with("other") {
                known
            } else {
                t.h
            };
            let what = format!("C_DeriveKey({}, {}, {shape})", name(m.ty()), t.name);
            b.tried += 1;
            let h = match b.derive(&m, base, &tm) {
                Err(_) => {
                    b.refused += 1;
                    continue;
                }
                Ok(h) => h,
            };
            b.tried -= 1;
            if b.attr(h, CKA_VALUE).is_ok() {
                b.fail(&what, "the copy's CKA_VALUE is readable".into());
            }
            if t.non_extractable {
                let r = b.wrap(&Mech::new(CKM_AES_KEY_WRAP_KWP), aes_kek, h);
                if let Ok(blob) = r {
                    b.fail(
                        &what,
                        format!(
                            "the copy of a non-extractable key wrapped ({} bytes)",
                            blob.len()
                        ),
                    );
                }
            }
            b.dump_and_destroy(&what, h);
        }
        // Pieces: each must be refused outright.
        let pieces: Vec<(String, Mech, Tmpl)> = vec![
            (
                "EXTRACT one byte".into(),
                Mech::ulong(CKM_EXTRACT_KEY_FROM_KEY, 8),
                protected().u(CKA_VALUE_LEN, 1),
            ),
            (
                "BASE_AND_DATA cut to 1".into(),
                key_derivation_data(CKM_CONCATENATE_BASE_AND_DATA, &[0; 4]),
                protected().u(CKA_VALUE_LEN, 1),
            ),
            (
                "DATA_AND_BASE, 15 known bytes".into(),
                key_derivation_data(CKM_CONCATENATE_DATA_AND_BASE, &[0; 15]),
                protected().u(CKA_VALUE_LEN, 16),
            ),
            (
                "XOR with one byte".into(),
                key_derivation_data(CKM_XOR_BASE_AND_DATA, &[0]),
                protected(),
            ),
        ];
        for (shape, m, tm) in pieces {
            let what = format!("C_DeriveKey({}, {}, {shape})", name(m.ty()), t.name);
            b.tried += 1;
            match b.derive(&m, t.h, &tm) {
                Err(_) => b.refused += 1,
                Ok(h) => {
                    b.fail(&what, "a piece of a protected key was made".into());
                    b.dump_and_destroy(&what, h);
                }
            }
        }
        // The public half of the private targets.
        let what = format!("C_DeriveKey(CKM_PUB_KEY_FROM_PRIV_KEY, {})", t.name);
        b.tried += 1;
        match b.derive(
            &Mech::new(CKM_PUB_KEY_FROM_PRIV_KEY),
            t.h,
            &Tmpl::new().b(CKA_TOKEN, false),
        ) {
            Err(_) => b.refused += 1,
            Ok(h) => {
                b.tried -= 1;
                b.dump_and_destroy(&what, h);
            }
        }
        b.recycle();
    }
}
