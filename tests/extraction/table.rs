//! The battery's mechanism table (PKCS#11 v3.0 §5.2 C_GetMechanismList / C_GetMechanismInfo and
//! the Current Mechanisms spec): for each mechanism the module may list, its family, which
//! functions (CKF_* flags) the battery tries it with, and the parameters it passes. A listed
//! mechanism missing here, or a flag its family does not cover, fails the battery: a new
//! mechanism must come with its extraction tries.

use crate::common::p11::*;
use cryptoki_sys::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fam {
    Digest,
    /// AES block modes, AEADs and key wraps.
    AesCipher,
    AesMac,
    /// CKM_AES_{ECB,CBC}_ENCRYPT_DATA.
    AesDerive,
    Hmac,
    Hkdf,
    /// CKM_RSA_PKCS, CKM_RSA_X_509, CKM_RSA_PKCS_OAEP.
    RsaCipher,
    RsaSign,
    EcSign,
    EdSign,
    EcDerive,
    /// Secret key generation (AES, generic, HKDF, PBKDF2): no key in, a sensitive key out.
    KeyGen,
    PairGen,
    /// §2.43 derivations that copy the base's bytes (concatenations, XOR, extraction).
    CopyDerive,
    /// SP 800-108 KDFs.
    Kbkdf,
    /// CKM_PUB_KEY_FROM_PRIV_KEY.
    PubFromPriv,
}

/// The function flags of C_GetMechanismInfo a family's tries cover.
pub fn covered(f: Fam) -> CK_FLAGS {
    let enc = CKF_ENCRYPT | CKF_DECRYPT;
    let sv = CKF_SIGN | CKF_VERIFY;
    let wu = CKF_WRAP | CKF_UNWRAP;
    match f {
        Fam::Digest => CKF_DIGEST,
        Fam::AesCipher => enc | wu | CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT,
        Fam::AesMac | Fam::Hmac | Fam::RsaSign | Fam::EcSign | Fam::EdSign => sv,
        Fam::AesDerive | Fam::Hkdf | Fam::EcDerive => CKF_DERIVE,
        Fam::RsaCipher => enc | sv | wu | CKF_SIGN_RECOVER | CKF_VERIFY_RECOVER,
        Fam::KeyGen => CKF_GENERATE,
        Fam::PairGen => CKF_GENERATE_KEY_PAIR,
        Fam::CopyDerive | Fam::Kbkdf | Fam::PubFromPriv => CKF_DERIVE,
    }
}

/// Every function flag of CK_MECHANISM_INFO (the EC capability bits are not functions).
pub const FUNCTION_FLAGS: CK_FLAGS = CKF_ENCRYPT
    | CKF_DECRYPT
    | CKF_DIGEST
    | CKF_SIGN
    | CKF_SIGN_RECOVER
    | CKF_VERIFY
    | CKF_VERIFY_RECOVER
    | CKF_GENERATE
    | CKF_GENERATE_KEY_PAIR
    | CKF_WRAP
    | CKF_UNWRAP
    | CKF_DERIVE
    | CKF_MESSAGE_ENCRYPT
    | CKF_MESSAGE_DECRYPT
    | CKF_MESSAGE_SIGN
    | CKF_MESSAGE_VERIFY
    | CKF_MULTI_MESSAGE
    | CKF_FIND_OBJECTS
    | CKF_ENCAPSULATE
    | CKF_DECAPSULATE;

/// The family of a mechanism; None: the battery has no case for it.
pub fn family(m: CK_MECHANISM_TYPE) -> Option<Fam> {
    Some(match m {
        CKM_SHA_1 | CKM_SHA224 | CKM_SHA256 | CKM_SHA384 | CKM_SHA512 | CKM_SHA3_224
        | CKM_SHA3_256 | CKM_SHA3_384 | CKM_SHA3_512 => Fam::Digest,
        CKM_AES_ECB | CKM_AES_CBC | CKM_AES_CBC_PAD | CKM_AES_CTR | CKM_AES_GCM | CKM_AES_CCM
        | CKM_AES_CTS | CKM_AES_KEY_WRAP | CKM_AES_KEY_WRAP_KWP => Fam::AesCipher,
        CKM_AES_CMAC | CKM_AES_CMAC_GENERAL => Fam::AesMac,
        // issue 12: the further AES modes and MACs, RSA-AES key wrap.
        CKM_AES_OFB | CKM_AES_CFB8 | CKM_AES_CFB64 | CKM_AES_CFB128 | CKM_AES_XTS => Fam::AesCipher,
        CKM_AES_MAC | CKM_AES_MAC_GENERAL | CKM_AES_GMAC => Fam::AesMac,
        CKM_AES_XTS_KEY_GEN => Fam::KeyGen,
        CKM_RSA_AES_KEY_WRAP => Fam::RsaCipher,
        CKM_AES_ECB_ENCRYPT_DATA | CKM_AES_CBC_ENCRYPT_DATA => Fam::AesDerive,
        CKM_SHA_1_HMAC
        | CKM_SHA224_HMAC
        | CKM_SHA256_HMAC
        | CKM_SHA384_HMAC
        | CKM_SHA512_HMAC
        | CKM_SHA3_224_HMAC
        | CKM_SHA3_256_HMAC
        | CKM_SHA3_384_HMAC
        | CKM_SHA3_512_HMAC
        | CKM_SHA_1_HMAC_GENERAL
        | CKM_SHA224_HMAC_GENERAL
        | CKM_SHA256_HMAC_GENERAL
        | CKM_SHA384_HMAC_GENERAL
        | CKM_SHA512_HMAC_GENERAL
        | CKM_SHA3_224_HMAC_GENERAL
        | CKM_SHA3_256_HMAC_GENERAL
        | CKM_SHA3_384_HMAC_GENERAL
        | CKM_SHA3_512_HMAC_GENERAL => Fam::Hmac,
        CKM_HKDF_DERIVE => Fam::Hkdf,
        CKM_RSA_PKCS | CKM_RSA_X_509 | CKM_RSA_PKCS_OAEP => Fam::RsaCipher,
        CKM_RSA_PKCS_PSS
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
        | CKM_SHA512_RSA_PKCS_PSS => Fam::RsaSign,
        CKM_ECDSA | CKM_ECDSA_SHA1 | CKM_ECDSA_SHA224 | CKM_ECDSA_SHA256 | CKM_ECDSA_SHA384
        | CKM_ECDSA_SHA512 => Fam::EcSign,
        CKM_ECDSA_SHA3_224 | CKM_ECDSA_SHA3_256 | CKM_ECDSA_SHA3_384 | CKM_ECDSA_SHA3_512 => {
            Fam::EcSign
        }
        CKM_EDDSA => Fam::EdSign,
        CKM_ECDH1_DERIVE | CKM_ECDH1_COFACTOR_DERIVE => Fam::EcDerive,
        CKM_AES_KEY_GEN | CKM_GENERIC_SECRET_KEY_GEN | CKM_HKDF_KEY_GEN | CKM_PKCS5_PBKD2 => {
            Fam::KeyGen
        }
        CKM_RSA_PKCS_KEY_PAIR_GEN | CKM_EC_KEY_PAIR_GEN | CKM_EC_EDWARDS_KEY_PAIR_GEN => {
            Fam::PairGen
        }
        CKM_CONCATENATE_BASE_AND_KEY
        | CKM_CONCATENATE_BASE_AND_DATA
        | CKM_CONCATENATE_DATA_AND_BASE
        | CKM_XOR_BASE_AND_DATA
        | CKM_EXTRACT_KEY_FROM_KEY => Fam::CopyDerive,
        CKM_SP800_108_COUNTER_KDF
        | CKM_SP800_108_FEEDBACK_KDF
        | CKM_SP800_108_DOUBLE_PIPELINE_KDF => Fam::Kbkdf,
        CKM_PUB_KEY_FROM_PRIV_KEY => Fam::PubFromPriv,
        // Issue 12: DES, MD5 and the HMAC key generations (block ciphers share the AES tries).
        CKM_DES_ECB | CKM_DES_CBC | CKM_DES_CBC_PAD | CKM_DES3_ECB | CKM_DES3_CBC
        | CKM_DES3_CBC_PAD => Fam::AesCipher,
        CKM_DES3_CMAC | CKM_DES3_CMAC_GENERAL => Fam::AesMac,
        CKM_MD5 => Fam::Digest,
        CKM_MD5_HMAC | CKM_MD5_HMAC_GENERAL => Fam::Hmac,
        CKM_MD5_RSA_PKCS => Fam::RsaSign,
        CKM_DES_KEY_GEN | CKM_DES2_KEY_GEN | CKM_DES3_KEY_GEN | CKM_SHA_1_KEY_GEN
        | CKM_SHA224_KEY_GEN | CKM_SHA256_KEY_GEN | CKM_SHA384_KEY_GEN | CKM_SHA512_KEY_GEN
        | CKM_SHA3_224_KEY_GEN | CKM_SHA3_256_KEY_GEN | CKM_SHA3_384_KEY_GEN
        | CKM_SHA3_512_KEY_GEN => Fam::KeyGen,
        CKM_EC_MONTGOMERY_KEY_PAIR_GEN => Fam::PairGen,
        _ => return None,
    })
}

/// The name of a mechanism for messages (cryptoki's, else hex).
pub fn name(m: CK_MECHANISM_TYPE) -> String {
    format!(
        "{} (0x{m:x})",
        cryptoki::mechanism::MechanismType::try_from(m)
            .map(|t| t.to_string())
            .unwrap_or_else(|_| "?".into())
    )
}

/// The hash of a PSS mechanism with a hash in its name.
fn pss_hash(m: CK_MECHANISM_TYPE) -> (CK_MECHANISM_TYPE, CK_RSA_PKCS_MGF_TYPE, CK_ULONG) {
    match m {
        CKM_SHA1_RSA_PKCS_PSS => (CKM_SHA_1, CKG_MGF1_SHA1, 20),
        CKM_SHA224_RSA_PKCS_PSS => (CKM_SHA224, CKG_MGF1_SHA224, 28),
        CKM_SHA384_RSA_PKCS_PSS => (CKM_SHA384, CKG_MGF1_SHA384, 48),
        CKM_SHA512_RSA_PKCS_PSS => (CKM_SHA512, CKG_MGF1_SHA512, 64),
        _ => (CKM_SHA256, CKG_MGF1_SHA256, 32),
    }
}

/// The parameter sets a cipher, MAC, signature or wrap try uses with `m` (`len`: the data
/// length, which CCM's parameters name).
pub fn params(m: CK_MECHANISM_TYPE, len: usize) -> Vec<Mech> {
    const IV: [u8; 16] = [0x42; 16];
    match m {
        CKM_AES_CBC | CKM_AES_CBC_PAD | CKM_AES_CTS => vec![Mech::bytes(m, &IV)],
        CKM_AES_CTR => vec![ctr(128, IV)],
        CKM_AES_GCM => vec![gcm(&IV[..12], b"aad", 128)],
        CKM_AES_CCM => vec![ccm(len, &IV[..12], b"aad", 16)],
        CKM_AES_CMAC_GENERAL => vec![Mech::ulong(m, 8)],
        // issue 12
        CKM_AES_OFB | CKM_AES_CFB8 | CKM_AES_CFB64 | CKM_AES_CFB128 | CKM_AES_XTS => {
            vec![Mech::bytes(m, &IV)]
        }
        CKM_AES_MAC_GENERAL => vec![Mech::ulong(m, 8)],
        CKM_AES_GMAC => vec![gmac_params(&IV[..12], 128)],
        CKM_RSA_AES_KEY_WRAP => vec![rsa_aes_key_wrap(256, CKM_SHA256, CKG_MGF1_SHA256)],
        CKM_SHA_1_HMAC_GENERAL
        | CKM_SHA224_HMAC_GENERAL
        | CKM_SHA256_HMAC_GENERAL
        | CKM_SHA384_HMAC_GENERAL
        | CKM_SHA512_HMAC_GENERAL
        | CKM_SHA3_224_HMAC_GENERAL
        | CKM_SHA3_256_HMAC_GENERAL
        | CKM_SHA3_384_HMAC_GENERAL
        | CKM_SHA3_512_HMAC_GENERAL => {
            vec![Mech::ulong(m, 16)]
        }
        CKM_RSA_PKCS_OAEP => vec![oaep(CKM_SHA256, CKG_MGF1_SHA256, b"")],
        // Issue 12: the DES modes' 8-byte IV, the truncated DES3-CMAC and HMAC-MD5.
        CKM_DES_CBC | CKM_DES_CBC_PAD | CKM_DES3_CBC | CKM_DES3_CBC_PAD => {
            vec![Mech::bytes(m, &IV[..8])]
        }
        CKM_DES3_CMAC_GENERAL => vec![Mech::ulong(m, 4)],
        CKM_MD5_HMAC_GENERAL => vec![Mech::ulong(m, 8)],
        CKM_RSA_PKCS_PSS
        | CKM_SHA1_RSA_PKCS_PSS
        | CKM_SHA224_RSA_PKCS_PSS
        | CKM_SHA256_RSA_PKCS_PSS
        | CKM_SHA384_RSA_PKCS_PSS
        | CKM_SHA512_RSA_PKCS_PSS => {
            let (h, g, s) = pss_hash(m);
            vec![pss(m, h, g, s)]
        }
        _ => vec![Mech::new(m)],
    }
}

/// The per-message parameters of a message-API try.
pub fn message_params(m: CK_MECHANISM_TYPE, len: usize) -> Option<Mech> {
    match m {
        CKM_AES_GCM => Some(gcm_message_params(
            &[0; 12],
            CKG_GENERATE_RANDOM,
            0,
            &[0; 16],
        )),
        CKM_AES_CCM => Some(ccm_message_params(len, &[0x24; 12], &[0; 16])),
        _ => None,
    }
}

/// The derivations a derive try makes with `m` (and what each is), given the EC public point
/// of the targets (a peer whose private key the caller knows).
pub fn derive_params(m: CK_MECHANISM_TYPE, ec_point: &[u8]) -> Vec<(String, Mech)> {
    match m {
        CKM_AES_ECB_ENCRYPT_DATA => vec![
            ("32 bytes of data".into(), aes_ecb_encrypt_data(&[0x11; 32])),
            ("16 zero bytes".into(), aes_ecb_encrypt_data(&[0; 16])),
        ],
        CKM_AES_CBC_ENCRYPT_DATA => vec![
            (
                "32 bytes of data".into(),
                aes_cbc_encrypt_data([0x22; 16], &[0x11; 32]),
            ),
            (
                "16 zero bytes, zero IV".into(),
                aes_cbc_encrypt_data([0; 16], &[0; 16]),
            ),
        ],
        CKM_HKDF_DERIVE => {
            let mut v = Vec::new();
            for (e, x) in [(true, true), (true, false), (false, true), (false, false)] {
                for salt in [&b""[..], b"salt"] {
                    v.push((
                        format!("extract={e} expand={x} salt={}", salt.len()),
                        hkdf(e, x, CKM_SHA256, salt, b"info"),
                    ));
                }
            }
            v
        }
        CKM_ECDH1_DERIVE | CKM_ECDH1_COFACTOR_DERIVE => vec![
            (
                "CKD_NULL, own public point".into(),
                ecdh(m, CKD_NULL, &[], ec_point),
            ),
            (
                "CKD_SHA256_KDF".into(),
                ecdh(m, CKD_SHA256_KDF, b"shared", ec_point),
            ),
        ],
        // The copying derivations (§2.43): each result would hold the base as it is.
        CKM_CONCATENATE_BASE_AND_DATA | CKM_CONCATENATE_DATA_AND_BASE | CKM_XOR_BASE_AND_DATA => {
            vec![
                ("16 zero bytes".into(), key_derivation_data(m, &[0; 16])),
                ("64 zero bytes".into(), key_derivation_data(m, &[0; 64])),
            ]
        }
        CKM_EXTRACT_KEY_FROM_KEY => vec![
            ("bit 0".into(), Mech::ulong(m, 0)),
            ("bit 13".into(), Mech::ulong(m, 13)),
        ],
        CKM_SP800_108_COUNTER_KDF | CKM_SP800_108_DOUBLE_PIPELINE_KDF => vec![
            (
                "CMAC, 32-bit counter".into(),
                kbkdf(m, CKM_AES_CMAC, Some(32), b"label", &[]),
            ),
            (
                "HMAC-SHA256, 8-bit counter".into(),
                kbkdf(m, CKM_SHA256_HMAC, Some(8), b"l", &[]),
            ),
        ],
        CKM_SP800_108_FEEDBACK_KDF => vec![
            (
                "CMAC, zero IV".into(),
                kbkdf(m, CKM_AES_CMAC, Some(32), b"label", &[0; 16]),
            ),
            (
                "HMAC-SHA256, no IV".into(),
                kbkdf(m, CKM_SHA256_HMAC, None, b"", &[]),
            ),
        ],
        _ => Vec::new(),
    }
}

/// A CK_KEY_DERIVATION_STRING_DATA mechanism.
pub fn key_derivation_data(m: CK_MECHANISM_TYPE, data: &[u8]) -> Mech {
    let mut mech = Mech::new(m);
    let p = mech.keep(data);
    mech.set_param(CK_KEY_DERIVATION_STRING_DATA {
        pData: p,
        ulLen: data.len() as CK_ULONG,
    });
    mech
}
