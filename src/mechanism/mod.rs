//! The mechanism registry: what each `CKM_*` is, its parameters as typed values, and what
//! `C_GetMechanismList`/`C_GetMechanismInfo` report (PKCS#11 v3.0 §5.5; the parameter structures
//! of the Current Mechanisms specification §2).

use cryptoki_sys::*;

pub mod build;
pub mod iv;
pub mod message;
pub mod ops;

/// A hash named by a `CKM_SHA*` mechanism type (in OAEP/PSS/HKDF parameters and in the
/// hash-and-sign mechanisms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
    Sha3_224,
    Sha3_256,
    Sha3_384,
    Sha3_512,
}

impl Hash {
    /// The hash of a digest mechanism type (`CKM_SHA256` …).
    pub fn from_ckm(m: CK_MECHANISM_TYPE) -> Option<Hash> {
        Some(match m {
            CKM_SHA_1 => Hash::Sha1,
            CKM_SHA224 => Hash::Sha224,
            CKM_SHA256 => Hash::Sha256,
            CKM_SHA384 => Hash::Sha384,
            CKM_SHA512 => Hash::Sha512,
            CKM_SHA3_224 => Hash::Sha3_224,
            CKM_SHA3_256 => Hash::Sha3_256,
            CKM_SHA3_384 => Hash::Sha3_384,
            CKM_SHA3_512 => Hash::Sha3_512,
            _ => return None,
        })
    }

    /// The hash of an MGF1 type (`CKG_MGF1_SHA256` …).
    pub fn from_mgf(g: CK_RSA_PKCS_MGF_TYPE) -> Option<Hash> {
        Some(match g {
            CKG_MGF1_SHA1 => Hash::Sha1,
            CKG_MGF1_SHA224 => Hash::Sha224,
            CKG_MGF1_SHA256 => Hash::Sha256,
            CKG_MGF1_SHA384 => Hash::Sha384,
            CKG_MGF1_SHA512 => Hash::Sha512,
            CKG_MGF1_SHA3_224 => Hash::Sha3_224,
            CKG_MGF1_SHA3_256 => Hash::Sha3_256,
            CKG_MGF1_SHA3_384 => Hash::Sha3_384,
            CKG_MGF1_SHA3_512 => Hash::Sha3_512,
            _ => return None,
        })
    }

    pub fn output_len(self) -> usize {
        match self {
            Hash::Sha1 => 20,
            Hash::Sha224 | Hash::Sha3_224 => 28,
            Hash::Sha256 | Hash::Sha3_256 => 32,
            Hash::Sha384 | Hash::Sha3_384 => 48,
            Hash::Sha512 | Hash::Sha3_512 => 64,
        }
    }
}

/// A mechanism with its parameters, parsed once at the C boundary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mechanism {
    AesKeyGen,
    AesEcb,
    AesCbc {
        iv: [u8; 16],
    },
    AesCbcPad {
        iv: [u8; 16],
    },
    AesCtr {
        counter_bits: u64,
        block: [u8; 16],
    },
    AesGcm {
        iv: Vec<u8>,
        aad: Vec<u8>,
        tag_bits: u64,
    },
    AesCcm {
        data_len: u64,
        nonce: Vec<u8>,
        aad: Vec<u8>,
        mac_len: u64,
    },
    AesCts {
        iv: [u8; 16],
    },
    AesKeyWrap {
        iv: Option<Vec<u8>>,
    },
    AesKeyWrapKwp {
        iv: Option<Vec<u8>>,
    },
    AesCmac,
    AesCmacGeneral {
        len: u64,
    },
    AesEcbEncryptData {
        data: Vec<u8>,
    },
    AesCbcEncryptData {
        iv: [u8; 16],
        data: Vec<u8>,
    },
    RsaKeyPairGen,
    RsaPkcs,
    RsaX509,
    RsaOaep {
        hash: Hash,
        mgf: Hash,
        label: Vec<u8>,
    },
    RsaPss {
        hash: Hash,
        mgf: Hash,
        salt_len: u64,
    },
    /// `CKM_SHA*_RSA_PKCS`.
    HashRsaPkcs(Hash),
    /// `CKM_SHA*_RSA_PKCS_PSS`: the parameter's hash must equal the mechanism's.
    HashRsaPss {
        hash: Hash,
        mgf: Hash,
        salt_len: u64,
    },
    EcKeyPairGen,
    Ecdsa,
    EcdsaHash(Hash),
    Ecdh1 {
        cofactor: bool,
        kdf: CK_EC_KDF_TYPE,
        shared: Vec<u8>,
        public: Vec<u8>,
    },
    EdwardsKeyPairGen,
    EdDsa,
    Digest(Hash),
    Hmac(Hash),
    HmacGeneral(Hash, u64),
    GenericSecretKeyGen,
    HkdfKeyGen,
    HkdfDerive {
        extract: bool,
        expand: bool,
        prf: Hash,
        salt_type: CK_ULONG,
        salt: Vec<u8>,
        salt_key: CK_OBJECT_HANDLE,
        info: Vec<u8>,
    },
    Pbkdf2 {
        salt: Vec<u8>,
        iterations: u64,
        prf: Hash,
        password: Secret,
    },
}

/// A secret mechanism parameter (a PBKDF2 password): wiped on drop, never printed.
#[derive(Clone, PartialEq, Eq, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct Secret(pub Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret[{}]", self.0.len())
    }
}

/// `(type, min key size, max key size, flags)`: sizes in bits for RSA and EC, in bytes for AES,
/// HMAC and generic secrets, as the Current Mechanisms spec says per mechanism.
pub type Entry = (CK_MECHANISM_TYPE, CK_ULONG, CK_ULONG, CK_FLAGS);

const ENC: CK_FLAGS = CKF_ENCRYPT | CKF_DECRYPT;
const SV: CK_FLAGS = CKF_SIGN | CKF_VERIFY;
const WU: CK_FLAGS = CKF_WRAP | CKF_UNWRAP;
const EC_CAPS: CK_FLAGS = CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS | CKF_EC_COMPRESS;

/// Every mechanism the module knows, with what `C_GetMechanismInfo` says of it.
static CATALOG: &[Entry] = &[
    (CKM_AES_KEY_GEN, 16, 32, CKF_GENERATE),
    (CKM_AES_ECB, 16, 32, ENC | WU),
    (CKM_AES_CBC, 16, 32, ENC | WU),
    (CKM_AES_CBC_PAD, 16, 32, ENC | WU),
    (CKM_AES_CTR, 16, 32, ENC),
    (
        CKM_AES_GCM,
        16,
        32,
        ENC | WU | CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT,
    ),
    (
        CKM_AES_CCM,
        16,
        32,
        ENC | CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT,
    ),
    (CKM_AES_CTS, 16, 32, ENC),
    (CKM_AES_KEY_WRAP, 16, 32, ENC | WU),
    (CKM_AES_KEY_WRAP_KWP, 16, 32, ENC | WU),
    (CKM_AES_CMAC, 16, 32, SV),
    (CKM_AES_CMAC_GENERAL, 16, 32, SV),
    (CKM_AES_ECB_ENCRYPT_DATA, 16, 32, CKF_DERIVE),
    (CKM_AES_CBC_ENCRYPT_DATA, 16, 32, CKF_DERIVE),
    (CKM_RSA_PKCS_KEY_PAIR_GEN, 2048, 4096, CKF_GENERATE_KEY_PAIR),
    (
        CKM_RSA_PKCS,
        2048,
        4096,
        ENC | SV | CKF_SIGN_RECOVER | CKF_VERIFY_RECOVER | WU,
    ),
    (
        CKM_RSA_X_509,
        2048,
        4096,
        ENC | SV | CKF_SIGN_RECOVER | CKF_VERIFY_RECOVER,
    ),
    (CKM_RSA_PKCS_OAEP, 2048, 4096, ENC | WU),
    (CKM_RSA_PKCS_PSS, 2048, 4096, SV),
    (CKM_SHA1_RSA_PKCS, 2048, 4096, SV),
    (CKM_SHA224_RSA_PKCS, 2048, 4096, SV),
    (CKM_SHA256_RSA_PKCS, 2048, 4096, SV),
    (CKM_SHA384_RSA_PKCS, 2048, 4096, SV),
    (CKM_SHA512_RSA_PKCS, 2048, 4096, SV),
    (CKM_SHA3_256_RSA_PKCS, 2048, 4096, SV),
    (CKM_SHA3_384_RSA_PKCS, 2048, 4096, SV),
    (CKM_SHA3_512_RSA_PKCS, 2048, 4096, SV),
    (CKM_SHA1_RSA_PKCS_PSS, 2048, 4096, SV),
    (CKM_SHA224_RSA_PKCS_PSS, 2048, 4096, SV),
    (CKM_SHA256_RSA_PKCS_PSS, 2048, 4096, SV),
    (CKM_SHA384_RSA_PKCS_PSS, 2048, 4096, SV),
    (CKM_SHA512_RSA_PKCS_PSS, 2048, 4096, SV),
    (
        CKM_EC_KEY_PAIR_GEN,
        256,
        521,
        CKF_GENERATE_KEY_PAIR | EC_CAPS,
    ),
    (CKM_ECDSA, 256, 521, SV | EC_CAPS),
    (CKM_ECDSA_SHA1, 256, 521, SV | EC_CAPS),
    (CKM_ECDSA_SHA224, 256, 521, SV | EC_CAPS),
    (CKM_ECDSA_SHA256, 256, 521, SV | EC_CAPS),
    (CKM_ECDSA_SHA384, 256, 521, SV | EC_CAPS),
    (CKM_ECDSA_SHA512, 256, 521, SV | EC_CAPS),
    (CKM_ECDH1_DERIVE, 256, 521, CKF_DERIVE | EC_CAPS),
    (CKM_ECDH1_COFACTOR_DERIVE, 256, 521, CKF_DERIVE | EC_CAPS),
    (CKM_EC_EDWARDS_KEY_PAIR_GEN, 255, 255, CKF_GENERATE_KEY_PAIR),
    (CKM_EDDSA, 255, 255, SV),
    (CKM_SHA_1, 0, 0, CKF_DIGEST),
    (CKM_SHA224, 0, 0, CKF_DIGEST),
    (CKM_SHA256, 0, 0, CKF_DIGEST),
    (CKM_SHA384, 0, 0, CKF_DIGEST),
    (CKM_SHA512, 0, 0, CKF_DIGEST),
    (CKM_SHA3_256, 0, 0, CKF_DIGEST),
    (CKM_SHA3_384, 0, 0, CKF_DIGEST),
    (CKM_SHA3_512, 0, 0, CKF_DIGEST),
    (CKM_SHA_1_HMAC, 1, 512, SV),
    (CKM_SHA224_HMAC, 1, 512, SV),
    (CKM_SHA256_HMAC, 1, 512, SV),
    (CKM_SHA384_HMAC, 1, 512, SV),
    (CKM_SHA512_HMAC, 1, 512, SV),
    (CKM_SHA3_256_HMAC, 1, 512, SV),
    (CKM_SHA3_384_HMAC, 1, 512, SV),
    (CKM_SHA3_512_HMAC, 1, 512, SV),
    (CKM_SHA_1_HMAC_GENERAL, 1, 512, SV),
    (CKM_SHA224_HMAC_GENERAL, 1, 512, SV),
    (CKM_SHA256_HMAC_GENERAL, 1, 512, SV),
    (CKM_SHA384_HMAC_GENERAL, 1, 512, SV),
    (CKM_SHA512_HMAC_GENERAL, 1, 512, SV),
    (CKM_SHA3_256_HMAC_GENERAL, 1, 512, SV),
    (CKM_SHA3_384_HMAC_GENERAL, 1, 512, SV),
    (CKM_SHA3_512_HMAC_GENERAL, 1, 512, SV),
    (CKM_GENERIC_SECRET_KEY_GEN, 1, 512, CKF_GENERATE),
    (CKM_HKDF_KEY_GEN, 1, 512, CKF_GENERATE),
    (CKM_HKDF_DERIVE, 1, 512, CKF_DERIVE),
    (CKM_PKCS5_PBKD2, 1, 512, CKF_GENERATE),
];

/// Mechanisms whose implementation exists end to end; only these are listed. A mechanism joins
/// this list in the commit that makes it work.
static IMPLEMENTED: &[CK_MECHANISM_TYPE] = &[
    CKM_AES_KEY_GEN,
    CKM_AES_ECB,
    CKM_AES_CBC,
    CKM_AES_CBC_PAD,
    CKM_AES_CTR,
    CKM_AES_GCM,
    CKM_AES_CCM,
    CKM_AES_CTS,
    CKM_AES_KEY_WRAP,
    CKM_AES_KEY_WRAP_KWP,
    CKM_AES_CMAC,
    CKM_AES_CMAC_GENERAL,
    CKM_RSA_PKCS_KEY_PAIR_GEN,
    CKM_RSA_PKCS,
    CKM_RSA_X_509,
    CKM_RSA_PKCS_OAEP,
    CKM_RSA_PKCS_PSS,
    CKM_SHA1_RSA_PKCS,
    CKM_SHA224_RSA_PKCS,
    CKM_SHA256_RSA_PKCS,
    CKM_SHA384_RSA_PKCS,
    CKM_SHA512_RSA_PKCS,
    CKM_SHA3_256_RSA_PKCS,
    CKM_SHA3_384_RSA_PKCS,
    CKM_SHA3_512_RSA_PKCS,
    CKM_SHA1_RSA_PKCS_PSS,
    CKM_SHA224_RSA_PKCS_PSS,
    CKM_SHA256_RSA_PKCS_PSS,
    CKM_SHA384_RSA_PKCS_PSS,
    CKM_SHA512_RSA_PKCS_PSS,
    CKM_SHA_1,
    CKM_SHA224,
    CKM_SHA256,
    CKM_SHA384,
    CKM_SHA512,
    CKM_SHA3_256,
    CKM_SHA3_384,
    CKM_SHA3_512,
    CKM_SHA_1_HMAC,
    CKM_SHA224_HMAC,
    CKM_SHA256_HMAC,
    CKM_SHA384_HMAC,
    CKM_SHA512_HMAC,
    CKM_SHA3_256_HMAC,
    CKM_SHA3_384_HMAC,
    CKM_SHA3_512_HMAC,
    CKM_SHA_1_HMAC_GENERAL,
    CKM_SHA224_HMAC_GENERAL,
    CKM_SHA256_HMAC_GENERAL,
    CKM_SHA384_HMAC_GENERAL,
    CKM_SHA512_HMAC_GENERAL,
    CKM_SHA3_256_HMAC_GENERAL,
    CKM_SHA3_384_HMAC_GENERAL,
    CKM_SHA3_512_HMAC_GENERAL,
    CKM_GENERIC_SECRET_KEY_GEN,
    CKM_AES_ECB_ENCRYPT_DATA,
    CKM_AES_CBC_ENCRYPT_DATA,
    CKM_EC_KEY_PAIR_GEN,
    CKM_ECDSA,
    CKM_ECDSA_SHA1,
    CKM_ECDSA_SHA224,
    CKM_ECDSA_SHA256,
    CKM_ECDSA_SHA384,
    CKM_ECDSA_SHA512,
    CKM_ECDH1_DERIVE,
    CKM_ECDH1_COFACTOR_DERIVE,
    CKM_EC_EDWARDS_KEY_PAIR_GEN,
    CKM_EDDSA,
    CKM_HKDF_KEY_GEN,
    CKM_HKDF_DERIVE,
    CKM_PKCS5_PBKD2,
];

fn registry() -> impl Iterator<Item = &'static Entry> {
    CATALOG.iter().filter(|e| IMPLEMENTED.contains(&e.0))
}

pub fn list() -> Vec<CK_MECHANISM_TYPE> {
    registry().map(|e| e.0).collect()
}

pub fn info(m: CK_MECHANISM_TYPE) -> Option<CK_MECHANISM_INFO> {
    registry().find(|e| e.0 == m).map(|e| CK_MECHANISM_INFO {
        ulMinKeySize: e.1,
        ulMaxKeySize: e.2,
        flags: e.3,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_implemented_mechanism_is_in_the_catalog_once() {
        for m in IMPLEMENTED {
            assert_eq!(CATALOG.iter().filter(|e| e.0 == *m).count(), 1, "{m:#x}");
        }
        let mut seen = std::collections::HashSet::new();
        assert!(
            CATALOG.iter().all(|e| seen.insert(e.0)),
            "duplicate catalog entry"
        );
    }
}
