//! The per-token algorithm policy (design.md "Key policy"; PKCS#11 v3.0 §5.5 C_GetMechanismList
//! and C_GetMechanismInfo, §5.14 key generation and import, §5.8-5.13 operation init): the one
//! place that decides which mechanisms, RSA sizes and curves a token of each policy allows, and
//! for what.
//!
//! `compat` takes what SoftHSMv2 takes, so suites and legacy applications written against it
//! keep working. `strict` is the FIPS 140-3 approved set (SP 800-131A rev. 2): keys it would
//! not make stay usable for decryption and verification only, the "legacy use" of SP 800-131A.
//! Everything is classified by the `CKM_`/`CKK_` constants and the curves' DER encodings, so
//! mechanisms and curves added later fall under the policy without a change here.

use crate::error::{fail, Error, Result};
use crate::object::attr::Attributes;
use cryptoki_sys::*;

/// A token's algorithm policy, chosen at C_InitToken and kept (authenticated) in the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// What SoftHSMv2 accepts: RSA from 1024 bits (512 for public-key use), DES, MD5, SHA-1
    /// signatures, every curve. Tokens made before policies existed are `compat`.
    #[default]
    Compat,
    /// The FIPS 140-3 approved set.
    Strict,
}

impl Policy {
    /// The name in the configuration, the CLI and the token file.
    pub const fn name(self) -> &'static str {
        match self {
            Policy::Compat => "compat",
            Policy::Strict => "strict",
        }
    }

    pub fn from_name(s: &str) -> Option<Policy> {
        match s {
            "compat" => Some(Policy::Compat),
            "strict" => Some(Policy::Strict),
            _ => None,
        }
    }
}

/// What a key or mechanism is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Encrypt,
    Decrypt,
    Sign,
    Verify,
    SignRecover,
    VerifyRecover,
    Digest,
    Wrap,
    Unwrap,
    Derive,
    /// C_GenerateKey / C_GenerateKeyPair.
    Generate,
    /// Key material from outside: C_CreateObject, C_UnwrapKey's result.
    Import,
}

impl Purpose {
    /// The purpose of an operation that needs this usage attribute set on its key.
    pub fn of_usage(usage: CK_ATTRIBUTE_TYPE) -> Option<Purpose> {
        Some(match usage {
            CKA_ENCRYPT => Purpose::Encrypt,
            CKA_DECRYPT => Purpose::Decrypt,
            CKA_SIGN => Purpose::Sign,
            CKA_VERIFY => Purpose::Verify,
            CKA_SIGN_RECOVER => Purpose::SignRecover,
            CKA_VERIFY_RECOVER => Purpose::VerifyRecover,
            CKA_WRAP => Purpose::Wrap,
            CKA_UNWRAP => Purpose::Unwrap,
            CKA_DERIVE => Purpose::Derive,
            _ => return None,
        })
    }

    /// The `CKF_` flags of `CK_MECHANISM_INFO` that stand for this purpose.
    const fn flags(self) -> CK_FLAGS {
        match self {
            Purpose::Encrypt => CKF_ENCRYPT,
            Purpose::Decrypt => CKF_DECRYPT,
            Purpose::Sign => CKF_SIGN,
            Purpose::Verify => CKF_VERIFY,
            Purpose::SignRecover => CKF_SIGN_RECOVER,
            Purpose::VerifyRecover => CKF_VERIFY_RECOVER,
            Purpose::Digest => CKF_DIGEST,
            Purpose::Wrap => CKF_WRAP,
            Purpose::Unwrap => CKF_UNWRAP,
            Purpose::Derive => CKF_DERIVE,
            Purpose::Generate => CKF_GENERATE | CKF_GENERATE_KEY_PAIR,
            Purpose::Import => 0,
        }
    }

    /// Uses that only process what was protected before (SP 800-131A "legacy use"), which
    /// strict allows with keys it would no longer make.
    const fn legacy(self) -> bool {
        matches!(
            self,
            Purpose::Decrypt | Purpose::Verify | Purpose::VerifyRecover | Purpose::Unwrap
        )
    }

    /// Uses of an asymmetric key's private half.
    const fn private_half(self) -> bool {
        matches!(
            self,
            Purpose::Decrypt | Purpose::Sign | Purpose::SignRecover | Purpose::Unwrap
        )
    }
}

/// DES in every form (single, two- and three-key), which strict does not offer.
fn is_des(ty: CK_MECHANISM_TYPE) -> bool {
    matches!(
        ty,
        CKM_DES_KEY_GEN
            | CKM_DES_ECB
            | CKM_DES_CBC
            | CKM_DES_MAC
            | CKM_DES_MAC_GENERAL
            | CKM_DES_CBC_PAD
            | CKM_DES2_KEY_GEN
            | CKM_DES3_KEY_GEN
            | CKM_DES3_ECB
            | CKM_DES3_CBC
            | CKM_DES3_MAC
            | CKM_DES3_MAC_GENERAL
            | CKM_DES3_CBC_PAD
            | CKM_DES3_CMAC_GENERAL
            | CKM_DES3_CMAC
            | CKM_DES_OFB64
            | CKM_DES_OFB8
            | CKM_DES_CFB64
            | CKM_DES_CFB8
            | CKM_DES_ECB_ENCRYPT_DATA
            | CKM_DES_CBC_ENCRYPT_DATA
            | CKM_DES3_ECB_ENCRYPT_DATA
            | CKM_DES3_CBC_ENCRYPT_DATA
            | CKM_PBE_MD2_DES_CBC
            | CKM_PBE_MD5_DES_CBC
            | CKM_PBE_SHA1_DES2_EDE_CBC
            | CKM_PBE_SHA1_DES3_EDE_CBC
    )
}

/// MD5 (and MD2) in every form, which strict does not offer.
fn is_md5(ty: CK_MECHANISM_TYPE) -> bool {
    matches!(
        ty,
        CKM_MD5
            | CKM_MD5_HMAC
            | CKM_MD5_HMAC_GENERAL
            | CKM_MD5_RSA_PKCS
            | CKM_MD5_KEY_DERIVATION
            | CKM_SSL3_MD5_MAC
            | CKM_PBE_MD5_CAST_CBC
            | CKM_PBE_MD5_CAST3_CBC
            | CKM_PBE_MD5_CAST128_CBC
            | CKM_MD2
            | CKM_MD2_HMAC
            | CKM_MD2_HMAC_GENERAL
            | CKM_MD2_RSA_PKCS
            | CKM_MD2_KEY_DERIVATION
    )
}

/// Signatures over SHA-1: verification is legacy use (allowed), generation is not approved.
/// HMAC-SHA-1 is approved and not here.
fn is_sha1_signature(ty: CK_MECHANISM_TYPE) -> bool {
    matches!(
        ty,
        CKM_SHA1_RSA_PKCS
            | CKM_SHA1_RSA_PKCS_PSS
            | CKM_SHA1_RSA_X9_31
            | CKM_ECDSA_SHA1
            | CKM_DSA_SHA1
    )
}

/// The mechanisms of RSA keys, whose minimum size strict raises.
fn is_rsa(ty: CK_MECHANISM_TYPE) -> bool {
    matches!(
        ty,
        CKM_RSA_PKCS_KEY_PAIR_GEN
            | CKM_RSA_X9_31_KEY_PAIR_GEN
            | CKM_RSA_PKCS
            | CKM_RSA_9796
            | CKM_RSA_X_509
            | CKM_RSA_X9_31
            | CKM_RSA_PKCS_OAEP
            | CKM_RSA_PKCS_PSS
            | CKM_RSA_AES_KEY_WRAP
            | CKM_SHA1_RSA_PKCS
            | CKM_SHA224_RSA_PKCS
            | CKM_SHA256_RSA_PKCS
            | CKM_SHA384_RSA_PKCS
            | CKM_SHA512_RSA_PKCS
            | CKM_SHA3_224_RSA_PKCS
            | CKM_SHA3_256_RSA_PKCS
            | CKM_SHA3_384_RSA_PKCS
            | CKM_SHA3_512_RSA_PKCS
            | CKM_SHA1_RSA_PKCS_PSS
            | CKM_SHA224_RSA_PKCS_PSS
            | CKM_SHA256_RSA_PKCS_PSS
            | CKM_SHA384_RSA_PKCS_PSS
            | CKM_SHA512_RSA_PKCS_PSS
            | CKM_SHA3_224_RSA_PKCS_PSS
            | CKM_SHA3_256_RSA_PKCS_PSS
            | CKM_SHA3_384_RSA_PKCS_PSS
            | CKM_SHA3_512_RSA_PKCS_PSS
    )
}

/// The mechanisms of Weierstrass EC keys (sizes in bits of the curve order), whose smallest
/// curve strict raises to P-224.
fn is_weierstrass(ty: CK_MECHANISM_TYPE) -> bool {
    matches!(
        ty,
        CKM_EC_KEY_PAIR_GEN
            | CKM_ECDSA
            | CKM_ECDSA_SHA1
            | CKM_ECDSA_SHA224
            | CKM_ECDSA_SHA256
            | CKM_ECDSA_SHA384
            | CKM_ECDSA_SHA512
            | CKM_ECDSA_SHA3_224
            | CKM_ECDSA_SHA3_256
            | CKM_ECDSA_SHA3_384
            | CKM_ECDSA_SHA3_512
            | CKM_ECDH1_DERIVE
            | CKM_ECDH1_COFACTOR_DERIVE
            | CKM_ECMQV_DERIVE
            | CKM_ECDH_AES_KEY_WRAP
    )
}

/// RSA sizes: strict's smallest modulus (SP 800-131A: 2048 bits, 112-bit strength).
const STRICT_RSA_BITS: u64 = 2048;
/// Compat's smallest modulus for key generation and private-key use (SoftHSMv2's generator
/// refuses less too).
const COMPAT_RSA_BITS: u64 = 1024;
/// Compat's smallest modulus for import and public-key use (SoftHSMv2's minimum).
const COMPAT_RSA_PUBLIC_BITS: u64 = 512;
/// Strict's smallest curve: P-224.
const STRICT_EC_BITS: CK_ULONG = 224;

/// The `CKF_` flags a policy leaves of a mechanism: 0 means the token does not offer it.
pub fn allowed_flags(policy: Policy, ty: CK_MECHANISM_TYPE) -> CK_FLAGS {
    match policy {
        Policy::Compat => !0,
        Policy::Strict if is_des(ty) || is_md5(ty) => 0,
        Policy::Strict if is_sha1_signature(ty) => !(CKF_SIGN | CKF_SIGN_RECOVER),
        Policy::Strict => !0,
    }
}

/// A mechanism for `purpose` on a token of `policy`: what the policy refuses is
/// `CKR_MECHANISM_INVALID`, as a mechanism the token does not have.
pub fn allows_mechanism(policy: Policy, ty: CK_MECHANISM_TYPE, purpose: Purpose) -> Result<()> {
    let f = allowed_flags(policy, ty);
    let ok = match purpose {
        // Not a mechanism's use: any mechanism the token offers may lead to a key it stores.
        Purpose::Import => f != 0,
        p => f & p.flags() != 0,
    };
    if ok {
        Ok(())
    } else {
        fail(CKR_MECHANISM_INVALID)
    }
}

/// What `C_GetMechanismInfo` reports of a family's entry on a token of `policy`; `None`: the
/// token does not list it.
pub fn entry(policy: Policy, e: &super::Entry) -> Option<super::Entry> {
    let (ty, mut min, max, flags) = *e;
    let flags = flags & allowed_flags(policy, ty);
    if flags == 0 {
        return None;
    }
    if policy == Policy::Strict {
        if is_rsa(ty) {
            min = min.max(STRICT_RSA_BITS as CK_ULONG);
        } else if is_weierstrass(ty) {
            min = min.max(STRICT_EC_BITS);
        }
    }
    Some((ty, min, max, flags))
}

/// The size of a key, as the policy judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size<'a> {
    /// A modulus length in bits.
    Bits(u64),
    /// `CKA_EC_PARAMS` as stored: a curve's DER OID, or a PrintableString name for the Edwards
    /// and Montgomery curves.
    Curve(&'a [u8]),
    /// Nothing the policy looks at (symmetric keys), or not known yet (the rules of the
    /// attribute table ask for what is missing).
    Other,
}

/// The DER OIDs and names of the curves strict allows: P-224 and above, Ed25519/Ed448,
/// X25519/X448 (FIPS 186-5, SP 800-186). Every other encoding, explicit parameters included,
/// is refused.
const STRICT_CURVES: &[&[u8]] = &[
    // secp224r1, prime256v1, secp384r1, secp521r1
    &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x21],
    &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
    &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22],
    &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23],
    // id-X25519, id-X448, id-Ed25519, id-Ed448 (RFC 8410)
    &[0x06, 0x03, 0x2b, 0x65, 0x6e],
    &[0x06, 0x03, 0x2b, 0x65, 0x6f],
    &[0x06, 0x03, 0x2b, 0x65, 0x70],
    &[0x06, 0x03, 0x2b, 0x65, 0x71],
    // The PrintableString names of PKCS#11 v3.0 §2.3.10 / §2.3.11.
    b"\x13\x0cedwards25519",
    b"\x13\x0aedwards448",
    b"\x13\x0acurve25519",
    b"\x13\x08curve448",
];

/// A key of `key_type` and `size` for `purpose` on a token of `policy`. A modulus too small is
/// `CKR_KEY_SIZE_RANGE`, a curve strict refuses `CKR_CURVE_NOT_SUPPORTED`, a DES key on a strict
/// token `CKR_KEY_TYPE_INCONSISTENT` (its mechanisms are refused before).
pub fn allows_key(
    policy: Policy,
    key_type: CK_KEY_TYPE,
    size: Size,
    purpose: Purpose,
) -> Result<()> {
    match (key_type, size) {
        (CKK_RSA, Size::Bits(bits)) => {
            let min = match (policy, purpose) {
                (Policy::Compat, Purpose::Generate) => COMPAT_RSA_BITS,
                (Policy::Compat, p) if p.private_half() => COMPAT_RSA_BITS,
                (Policy::Compat, _) => COMPAT_RSA_PUBLIC_BITS,
                // A key made under compat rules, kept for legacy use: compat's limits apply.
                (Policy::Strict, p) if p.legacy() => COMPAT_RSA_BITS,
                (Policy::Strict, _) => STRICT_RSA_BITS,
            };
            if bits < min {
                return fail(CKR_KEY_SIZE_RANGE);
            }
        }
        (CKK_EC | CKK_EC_EDWARDS | CKK_EC_MONTGOMERY, Size::Curve(params))
            if policy == Policy::Strict
                && !purpose.legacy()
                && !STRICT_CURVES.contains(&params) =>
        {
            return fail(CKR_CURVE_NOT_SUPPORTED);
        }
        (CKK_DES | CKK_DES2 | CKK_DES3, _) if policy == Policy::Strict => {
            return fail(CKR_KEY_TYPE_INCONSISTENT);
        }
        _ => {}
    }
    Ok(())
}

/// The policy's size of a key object or template: the modulus (or `CKA_MODULUS_BITS` before
/// there is one) of RSA keys, the curve of EC keys.
pub fn size_of(a: &Attributes) -> Size<'_> {
    match a.key_type() {
        Some(CKK_RSA) => match a.bytes(CKA_MODULUS) {
            Some(n) => Size::Bits(bit_len(n)),
            None => a.ulong(CKA_MODULUS_BITS).map_or(Size::Other, Size::Bits),
        },
        Some(CKK_EC | CKK_EC_EDWARDS | CKK_EC_MONTGOMERY) => {
            a.bytes(CKA_EC_PARAMS).map_or(Size::Other, Size::Curve)
        }
        _ => Size::Other,
    }
}

/// [`allows_key`] for a key object or template.
pub fn check_key(policy: Policy, a: &Attributes, purpose: Purpose) -> Result<()> {
    match a.key_type() {
        Some(kt) => allows_key(policy, kt, size_of(a), purpose),
        None => Ok(()),
    }
}

/// The length in bits of a big-endian unsigned integer.
fn bit_len(n: &[u8]) -> u64 {
    match n.iter().position(|b| *b != 0) {
        Some(i) => (n.len() - i) as u64 * 8 - u64::from(n[i].leading_zeros()),
        None => 0,
    }
}

/// A stored policy name that is neither known value: the file was not written by this module
/// (or by a newer one), so nothing on it can be judged.
pub fn from_stored(v: &[u8]) -> Result<Policy> {
    std::str::from_utf8(v)
        .ok()
        .and_then(Policy::from_name)
        .ok_or_else(|| Error::device("unknown algorithm policy in the token file"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use Policy::{Compat, Strict};

    const P192: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x01];
    const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    const K256: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];
    const BP256: &[u8] = &[
        0x06, 0x09, 0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x07,
    ];
    const ED448: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x71];

    fn rv(r: Result<()>) -> CK_RV {
        r.err().map_or(CKR_OK, |e| e.rv())
    }

    #[test]
    fn names_round_trip() {
        for p in [Compat, Strict] {
            assert_eq!(Policy::from_name(p.name()), Some(p));
            assert_eq!(from_stored(p.name().as_bytes()).unwrap(), p);
        }
        assert_eq!(Policy::default(), Compat);
        assert!(from_stored(b"lax").is_err());
    }

    #[test]
    fn compat_allows_every_mechanism() {
        for ty in [CKM_DES3_CBC, CKM_MD5, CKM_MD5_RSA_PKCS, CKM_SHA1_RSA_PKCS] {
            assert_eq!(allowed_flags(Compat, ty), !0);
            assert!(allows_mechanism(Compat, ty, Purpose::Sign).is_ok());
        }
    }

    #[test]
    fn strict_refuses_des_md5_and_sha1_signing() {
        for ty in [
            CKM_DES_KEY_GEN,
            CKM_DES2_KEY_GEN,
            CKM_DES3_KEY_GEN,
            CKM_DES3_CBC,
            CKM_DES3_ECB_ENCRYPT_DATA,
            CKM_MD5,
            CKM_MD5_HMAC,
            CKM_MD5_RSA_PKCS,
        ] {
            assert_eq!(allowed_flags(Strict, ty), 0, "{ty:#x}");
            for p in [
                Purpose::Encrypt,
                Purpose::Decrypt,
                Purpose::Generate,
                Purpose::Digest,
            ] {
                assert_eq!(rv(allows_mechanism(Strict, ty, p)), CKR_MECHANISM_INVALID);
            }
        }
        for ty in [CKM_SHA1_RSA_PKCS, CKM_SHA1_RSA_PKCS_PSS, CKM_ECDSA_SHA1] {
            assert_eq!(
                rv(allows_mechanism(Strict, ty, Purpose::Sign)),
                CKR_MECHANISM_INVALID
            );
            assert!(allows_mechanism(Strict, ty, Purpose::Verify).is_ok());
        }
        // Approved: HMAC-SHA-1, SHA-1 digests, SHA-256 signatures, AES.
        for (ty, p) in [
            (CKM_SHA_1_HMAC, Purpose::Sign),
            (CKM_SHA_1, Purpose::Digest),
            (CKM_SHA256_RSA_PKCS, Purpose::Sign),
            (CKM_AES_CBC, Purpose::Encrypt),
        ] {
            assert!(allows_mechanism(Strict, ty, p).is_ok(), "{ty:#x}");
        }
    }

    #[test]
    fn strict_entries_drop_flags_and_raise_minimums() {
        let sha1 = (CKM_SHA1_RSA_PKCS, 512, 8192, CKF_SIGN | CKF_VERIFY);
        assert_eq!(
            entry(Strict, &sha1),
            Some((CKM_SHA1_RSA_PKCS, 2048, 8192, CKF_VERIFY))
        );
        assert_eq!(entry(Compat, &sha1), Some(sha1));
        assert_eq!(entry(Strict, &(CKM_MD5, 0, 0, CKF_DIGEST)), None);
        let ec = (CKM_ECDSA, 192, 521, CKF_SIGN | CKF_VERIFY);
        assert_eq!(entry(Strict, &ec).map(|e| e.1), Some(224));
        let aes = (CKM_AES_ECB, 16, 32, CKF_ENCRYPT);
        assert_eq!(entry(Strict, &aes), Some(aes));
    }

    #[test]
    fn rsa_sizes_by_policy_and_purpose() {
        let k = |p, bits, purpose| rv(allows_key(p, CKK_RSA, Size::Bits(bits), purpose));
        // compat: 1024 to make and for private-key use, 512 to import and for public-key use.
        assert_eq!(k(Compat, 1024, Purpose::Generate), CKR_OK);
        assert_eq!(k(Compat, 1023, Purpose::Generate), CKR_KEY_SIZE_RANGE);
        assert_eq!(k(Compat, 512, Purpose::Import), CKR_OK);
        assert_eq!(k(Compat, 511, Purpose::Import), CKR_KEY_SIZE_RANGE);
        for p in [
            Purpose::Verify,
            Purpose::Encrypt,
            Purpose::Wrap,
            Purpose::VerifyRecover,
        ] {
            assert_eq!(k(Compat, 512, p), CKR_OK);
        }
        for p in [
            Purpose::Sign,
            Purpose::Decrypt,
            Purpose::Unwrap,
            Purpose::SignRecover,
        ] {
            assert_eq!(k(Compat, 512, p), CKR_KEY_SIZE_RANGE);
            assert_eq!(k(Compat, 1024, p), CKR_OK);
        }
        // strict: 2048 to make, import, sign, encrypt; older keys still decrypt and verify.
        for p in [
            Purpose::Generate,
            Purpose::Import,
            Purpose::Sign,
            Purpose::Encrypt,
        ] {
            assert_eq!(k(Strict, 1024, p), CKR_KEY_SIZE_RANGE);
            assert_eq!(k(Strict, 2048, p), CKR_OK);
        }
        for p in [Purpose::Decrypt, Purpose::Verify] {
            assert_eq!(k(Strict, 1024, p), CKR_OK);
            assert_eq!(k(Strict, 512, p), CKR_KEY_SIZE_RANGE);
        }
    }

    #[test]
    fn curves_by_policy() {
        let k = |p, kt, c, purpose| rv(allows_key(p, kt, Size::Curve(c), purpose));
        for c in [P192, K256, BP256, P256, ED448] {
            assert_eq!(k(Compat, CKK_EC, c, Purpose::Generate), CKR_OK);
        }
        for c in [P192, K256, BP256] {
            assert_eq!(
                k(Strict, CKK_EC, c, Purpose::Generate),
                CKR_CURVE_NOT_SUPPORTED
            );
            assert_eq!(
                k(Strict, CKK_EC, c, Purpose::Import),
                CKR_CURVE_NOT_SUPPORTED
            );
            assert_eq!(k(Strict, CKK_EC, c, Purpose::Sign), CKR_CURVE_NOT_SUPPORTED);
            assert_eq!(k(Strict, CKK_EC, c, Purpose::Verify), CKR_OK);
        }
        assert_eq!(k(Strict, CKK_EC, P256, Purpose::Generate), CKR_OK);
        assert_eq!(k(Strict, CKK_EC_EDWARDS, ED448, Purpose::Generate), CKR_OK);
        assert_eq!(
            k(
                Strict,
                CKK_EC_EDWARDS,
                b"\x13\x0cedwards25519",
                Purpose::Sign
            ),
            CKR_OK
        );
        assert_eq!(
            k(
                Strict,
                CKK_EC_MONTGOMERY,
                b"\x13\x0acurve25519",
                Purpose::Derive
            ),
            CKR_OK
        );
    }

    #[test]
    fn des_keys_only_on_compat() {
        for kt in [CKK_DES, CKK_DES2, CKK_DES3] {
            assert_eq!(
                rv(allows_key(Compat, kt, Size::Other, Purpose::Import)),
                CKR_OK
            );
            assert_eq!(
                rv(allows_key(Strict, kt, Size::Other, Purpose::Import)),
                CKR_KEY_TYPE_INCONSISTENT
            );
        }
        assert_eq!(
            rv(allows_key(Strict, CKK_AES, Size::Other, Purpose::Generate)),
            CKR_OK
        );
    }

    #[test]
    fn bit_lengths() {
        assert_eq!(bit_len(&[]), 0);
        assert_eq!(bit_len(&[0, 0, 1]), 1);
        assert_eq!(bit_len(&[0x80, 0]), 16);
        assert_eq!(bit_len(&[0, 0x7f, 0]), 15);
    }
}
