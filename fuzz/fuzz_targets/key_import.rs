//! Key import: fuzzed key material through every path that parses it.
//! - The engine's parsers called directly (no panic guard: a panic here is a finding): PKCS#8
//!   (`crypto::pkcs8::decode`, `mechanism::build::private_key_type`/`key_from_bytes`), EC
//!   parameters and points, Ed25519 keys, RSA public keys, and `validate_import` (what
//!   C_CreateObject checks) on attribute sets built from the input.
//! - The admin tool's key-file parser (PEM, DER, PKCS#1, SEC1, PKCS#8, SPKI, X.509):
//!   `ferrohsm_util::keyfile` (tools/ferrohsm-util/src/keyfile.rs).
//! - The C ABI: C_CreateObject of RSA/EC/Ed25519/AES keys with fuzzed values, and C_UnwrapKey
//!   of the input wrapped with AES-KWP under a known key, so the module's PKCS#8 parser sees
//!   arbitrary bytes.
#![no_main]

use aes_kw::KeyInit;
use ferrohsm::crypto::{ec, pkcs8, rsa};
use ferrohsm::mechanism::build;
use ferrohsm::mechanism::policy::Policy;
use ferrohsm::object::attr::{AttrValue, Attributes};
use ferrohsm_fuzz::*;
use ferrohsm_util::keyfile;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const KEK: [u8; 32] = [0x4b; 32];

const CURVES: &[ec::Curve] = &ec::Curve::ALL;

/// The unwrapping key: an AES-256 key with the known value `KEK`.
fn kek() -> CK_OBJECT_HANDLE {
    static K: OnceLock<CK_OBJECT_HANDLE> = OnceLock::new();
    *K.get_or_init(|| {
        create(
            session(),
            Fixed::new()
                .ulong(CKA_CLASS, CKO_SECRET_KEY)
                .ulong(CKA_KEY_TYPE, CKK_AES)
                .bytes(CKA_VALUE, &KEK)
                .bool(CKA_UNWRAP, true)
                .bool(CKA_WRAP, true),
        )
    })
}

/// Attribute types that carry key material, and the class/key-type pairs they go with.
const MATERIAL: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_MODULUS,
    CKA_PUBLIC_EXPONENT,
    CKA_PRIVATE_EXPONENT,
    CKA_PRIME_1,
    CKA_PRIME_2,
    CKA_EXPONENT_1,
    CKA_EXPONENT_2,
    CKA_COEFFICIENT,
    CKA_EC_PARAMS,
    CKA_EC_POINT,
    CKA_VALUE,
    CKA_CHECK_VALUE,
    CKA_VALUE_LEN,
    CKA_PUBLIC_KEY_INFO,
];
const KINDS: &[(CK_OBJECT_CLASS, CK_KEY_TYPE)] = &[
    (CKO_PUBLIC_KEY, CKK_RSA),
    (CKO_PRIVATE_KEY, CKK_RSA),
    (CKO_PUBLIC_KEY, CKK_EC),
    (CKO_PRIVATE_KEY, CKK_EC),
    (CKO_PUBLIC_KEY, CKK_EC_EDWARDS),
    (CKO_PRIVATE_KEY, CKK_EC_EDWARDS),
    (CKO_SECRET_KEY, CKK_AES),
    (CKO_SECRET_KEY, CKK_GENERIC_SECRET),
];
const EC_PARAMS: &[&[u8]] = &[
    P256_PARAMS,
    P384_PARAMS,
    P521_PARAMS,
    ED25519_PARAMS,
    ED25519_NAME,
];

/// Material attributes from the input: (type, value) pairs, the curve parameters often valid.
fn material(input: &mut Input<'_>) -> Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)> {
    let n = usize::from(input.u8() % 9);
    let mut out = Vec::new();
    for _ in 0..n {
        let ty = input.pick(MATERIAL);
        let v = if ty == CKA_EC_PARAMS && input.u8() < 0xc0 {
            input.pick(EC_PARAMS).to_vec()
        } else if ty == CKA_VALUE_LEN {
            input.ulong(&[16, 24, 32, 64]).to_ne_bytes().to_vec()
        } else {
            input.blob().to_vec()
        };
        out.push((ty, v));
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    match input.u8() % 7 {
        0 => {
            // PKCS#8 as the engine reads it (C_UnwrapKey's parser), with no guard around it.
            let der = input.rest();
            let _ = pkcs8::algorithm(der);
            let _ = pkcs8::decode(der);
            let _ = build::private_key_type(der);
            for kt in [CKK_RSA, CKK_EC, CKK_EC_EDWARDS] {
                let _ = build::key_from_bytes(CKO_PRIVATE_KEY, kt, der);
            }
            let _ = build::key_from_bytes(CKO_SECRET_KEY, CKK_AES, der);
            let _ = build::key_from_bytes(CKO_SECRET_KEY, CKK_GENERIC_SECRET, der);
        }
        1 => {
            // validate_import on an attribute set: what C_CreateObject checks of imported keys.
            let (class, kt) = input.pick(KINDS);
            let mut a = Attributes::new();
            a.set(CKA_CLASS, AttrValue::Ulong(class as u64));
            a.set(CKA_KEY_TYPE, AttrValue::Ulong(kt as u64));
            for (ty, v) in material(&mut input) {
                if ty == CKA_VALUE_LEN {
                    continue;
                }
                a.set(ty, AttrValue::Bytes(v));
            }
            // Both policies: strict refuses more, and must refuse it cleanly.
            let _ = build::validate_import(&a, Policy::Compat);
            let _ = build::validate_import(&a, Policy::Strict);
            let _ = build::public_key_info(&a);
        }
        2 => {
            // The admin tool's key files.
            let ty = input.pick(&[
                keyfile::FileType::Auto,
                keyfile::FileType::Private,
                keyfile::FileType::Public,
                keyfile::FileType::Cert,
                keyfile::FileType::Aes,
            ]);
            let bytes = input.rest();
            if let Ok(parsed) = keyfile::parse(bytes, ty) {
                let _ = parsed.material.describe();
            }
            let _ = keyfile::parse_pkcs8(bytes);
            let _ = keyfile::parse_spki(bytes);
            let _ = keyfile::parse_sec1(bytes, None);
            let _ = keyfile::parse_pkcs1_private(bytes);
            let _ = keyfile::parse_pkcs1_public(bytes);
            let _ = keyfile::parse_certificate(bytes);
            let _ = keyfile::ec_point_attr(bytes);
        }
        3 => {
            // EC, Edwards and Montgomery key parsing in the engine.
            let which = input.u8();
            let bytes = input.rest();
            let _ = ec::EcParams::parse(bytes);
            let _ = ec::Curve::from_oid_der(bytes);
            let curve = CURVES[usize::from(which) % CURVES.len()];
            let _ = ec::validate_point(curve, bytes);
            let _ = ec::public_from_private(curve, bytes);
            let _ = ec::private_from_pkcs8(curve, bytes);
            let _ = ec::EcPublic::new(curve, bytes);
            let _ = ec::ed25519_validate_public(bytes);
            let _ = ec::ed25519_public_from_private(bytes);
            let _ = ec::ed448_validate_public(bytes);
            let _ = ec::ed448_public_from_private(bytes);
            for m in [ec::Montgomery::X25519, ec::Montgomery::X448] {
                let _ = ec::montgomery_validate_public(m, bytes);
                let _ = ec::montgomery_public_from_private(m, bytes);
            }
        }
        4 => {
            // RSA public and private keys from components.
            let n = input.blob();
            let e = input.blob();
            if input.bool() {
                let _ = rsa::RsaPublic::new(n, e);
            } else {
                let d = input.blob();
                let mut opt = || {
                    let b = input.blob();
                    (!b.is_empty()).then_some(b)
                };
                let (p, q, dp, dq, qi) = (opt(), opt(), opt(), opt(), opt());
                let _ = rsa::RsaPrivate::from_components(n, e, d, p, q, dp, dq, qi);
            }
        }
        5 => {
            // C_CreateObject of a key with fuzzed material.
            let s = session();
            let (class, kt) = input.pick(KINDS);
            let mut t = Template::default();
            t.push(CKA_CLASS, &class.to_ne_bytes());
            t.push(CKA_KEY_TYPE, &kt.to_ne_bytes());
            for (ty, v) in material(&mut input) {
                t.push(ty, &v);
            }
            let mut h = 0;
            // SAFETY: the template's pointers are valid for their lengths.
            if unsafe { C_CreateObject(s, t.ptr(), t.len(), &mut h) } == CKR_OK {
                C_DestroyObject(s, h);
            }
        }
        _ => {
            // C_UnwrapKey of arbitrary PKCS#8 (or secret) bytes, wrapped with AES-KWP.
            let s = session();
            let kek = kek();
            let (class, kt) = input.pick(&[
                (CKO_PRIVATE_KEY, Some(CKK_RSA)),
                (CKO_PRIVATE_KEY, Some(CKK_EC)),
                (CKO_PRIVATE_KEY, Some(CKK_EC_EDWARDS)),
                (CKO_PRIVATE_KEY, None),
                (CKO_SECRET_KEY, Some(CKK_AES)),
                (CKO_SECRET_KEY, Some(CKK_GENERIC_SECRET)),
            ]);
            let key = input.rest();
            if key.is_empty() {
                return;
            }
            let kw = aes_kw::KwpAes256::new(&KEK.into());
            let mut wrapped = vec![0u8; key.len().div_ceil(8) * 8 + 8];
            let Ok(w) = kw.wrap_key(key, &mut wrapped) else {
                return;
            };
            let mut wrapped = w.to_vec();
            let mut t = Template::default();
            t.push(CKA_CLASS, &class.to_ne_bytes());
            if let Some(kt) = kt {
                t.push(CKA_KEY_TYPE, &kt.to_ne_bytes());
            }
            t.push(CKA_TOKEN, &[0]);
            let mut m = CK_MECHANISM {
                mechanism: CKM_AES_KEY_WRAP_KWP,
                pParameter: std::ptr::null_mut(),
                ulParameterLen: 0,
            };
            let mut h = 0;
            // SAFETY: valid mechanism, wrapped bytes, template and output pointer.
            let rv = unsafe {
                C_UnwrapKey(
                    s,
                    &mut m,
                    kek,
                    wrapped.as_mut_ptr(),
                    wrapped.len() as CK_ULONG,
                    t.ptr(),
                    t.len(),
                    &mut h,
                )
            };
            if rv == CKR_OK {
                C_DestroyObject(s, h);
            }
        }
    }
});
