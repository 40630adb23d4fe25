//! The mechanism registry: what each `CKM_*` is, its parameters as typed values, and what
//! `C_GetMechanismList`/`C_GetMechanismInfo` report (PKCS#11 v3.0 §5.5; the parameter structures
//! of the Current Mechanisms specification §2).

use cryptoki_sys::*;

mod aes;
pub mod build;
mod concat;
mod des;
mod ec;
mod edwards;
mod generate;
mod import;
pub mod iv;
mod kdf;
mod keys;
mod mac;
pub mod message;
mod montgomery;
pub mod ops;
pub mod policy;
mod pubkey;
mod rsa;
mod shapes;
mod sp800_108;
mod spki;
mod wrap;

use crate::crypto::digest::HashAlg;
use crate::error::{fail, Result};
use crate::ffi::mech::Param;
use crate::object::attr::Attributes;
use ops::{Accumulate, Check, Cipher};
use zeroize::Zeroizing;

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
    /// Named only by the MD5 mechanisms themselves (`CKM_MD5`, `CKM_MD5_HMAC(_GENERAL)`,
    /// `CKM_MD5_RSA_PKCS`), never as the hash of a parameter: [`Hash::from_ckm`] and
    /// [`Hash::from_mgf`] do not return it.
    Md5,
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

    /// The engine's name for this hash.
    pub(crate) fn engine(self) -> HashAlg {
        match self {
            Hash::Sha1 => HashAlg::Sha1,
            Hash::Sha224 => HashAlg::Sha224,
            Hash::Sha256 => HashAlg::Sha256,
            Hash::Sha384 => HashAlg::Sha384,
            Hash::Sha512 => HashAlg::Sha512,
            Hash::Sha3_224 => HashAlg::Sha3_224,
            Hash::Sha3_256 => HashAlg::Sha3_256,
            Hash::Sha3_384 => HashAlg::Sha3_384,
            Hash::Sha3_512 => HashAlg::Sha3_512,
            Hash::Md5 => HashAlg::Md5,
        }
    }

    pub fn output_len(self) -> usize {
        match self {
            Hash::Sha1 => 20,
            Hash::Sha224 | Hash::Sha3_224 => 28,
            Hash::Sha256 | Hash::Sha3_256 => 32,
            Hash::Sha384 | Hash::Sha3_384 => 48,
            Hash::Sha512 | Hash::Sha3_512 => 64,
            Hash::Md5 => 16,
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
    /// `CKM_EDDSA` with a `CK_EDDSA_PARAMS` that asks for a prehash or a context.
    EdDsaParams {
        prehash: bool,
        context: Vec<u8>,
    },
    MontgomeryKeyPairGen,
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
    // issue 12: the further AES modes and MACs, RSA-AES key wrap
    AesOfb {
        iv: [u8; 16],
    },
    AesCfb8 {
        iv: [u8; 16],
    },
    AesCfb64 {
        iv: [u8; 16],
    },
    AesCfb128 {
        iv: [u8; 16],
    },
    AesXtsKeyGen,
    AesXts {
        tweak: [u8; 16],
    },
    AesMac,
    AesMacGeneral {
        len: u64,
    },
    AesGmac {
        iv: Vec<u8>,
        tag_bits: u64,
    },
    RsaAesKeyWrap {
        aes_bits: u64,
        hash: Hash,
        mgf: Hash,
        label: Vec<u8>,
    },
    // Issue 12, derivation: §2.43 simple derivations, §2.42 SP 800-108, PUB_KEY_FROM_PRIV_KEY.
    ConcatenateBaseAndKey {
        other: CK_OBJECT_HANDLE,
    },
    ConcatenateBaseAndData {
        data: Vec<u8>,
    },
    ConcatenateDataAndBase {
        data: Vec<u8>,
    },
    XorBaseAndData {
        data: Vec<u8>,
    },
    ExtractKeyFromKey {
        bit: CK_ULONG,
    },
    Sp800108(Box<sp800_108::Kbkdf>),
    PubKeyFromPrivKey,
    /// `CKM_DES_KEY_GEN`, `CKM_DES2_KEY_GEN`, `CKM_DES3_KEY_GEN`: the key type made.
    DesKeyGen(CK_KEY_TYPE),
    /// `CKM_DES_ECB/CBC/CBC_PAD` (`triple` false) and `CKM_DES3_ECB/CBC/CBC_PAD`; the 8-byte
    /// IV sits in the first half of the mode's.
    DesCipher {
        triple: bool,
        mode: crate::crypto::aes::Mode,
    },
    /// `CKM_DES3_CMAC` (8 bytes) and `CKM_DES3_CMAC_GENERAL`.
    Des3Cmac {
        len: u64,
    },
    /// `CKM_SHA_1_KEY_GEN` ... `CKM_SHA3_512_KEY_GEN`: the HMAC key type made.
    HmacKeyGen(CK_KEY_TYPE),
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

/// A family of mechanisms: the mechanisms it lists (only those that work end to end), how it
/// reads their parameters, and the operations it builds. A builder answers `None` for a
/// mechanism of another family; the facade in [`build`] asks each family in turn.
trait Family: Sync {
    /// What `C_GetMechanismList`/`C_GetMechanismInfo` report of the family's mechanisms.
    fn entries(&self) -> &'static [Entry];
    /// The typed mechanism of `ty`, one of [`Family::entries`], from the caller's parameter.
    fn parse(&self, ty: CK_MECHANISM_TYPE, p: &Param) -> Result<Mechanism>;
    fn cipher(
        &self,
        _mech: &Mechanism,
        _key: &Attributes,
        _encrypt: bool,
    ) -> Option<Result<Box<dyn Cipher>>> {
        None
    }
    fn signer(&self, _mech: &Mechanism, _key: &Attributes) -> Option<Result<Box<dyn Accumulate>>> {
        None
    }
    fn verifier(&self, _mech: &Mechanism, _key: &Attributes) -> Option<Result<Box<dyn Check>>> {
        None
    }
    fn digester(&self, _mech: &Mechanism) -> Option<Result<Box<dyn Accumulate>>> {
        None
    }
    /// `C_DeriveKey`: see [`build::derive`].
    fn derive(
        &self,
        _mech: &Mechanism,
        _base: &Attributes,
        _salt_key: Option<&Attributes>,
        _len: Option<usize>,
    ) -> Option<Result<Zeroizing<Vec<u8>>>> {
        None
    }
}

/// Every family the module has. A new family is one line here; a new mechanism of a family is
/// its variant of [`Mechanism`] and its lines in the family's file.
static FAMILIES: &[&dyn Family] = &[
    &aes::Aes,
    &des::Des,
    &wrap::KeyWrap,
    &rsa::Rsa,
    &ec::Ec,
    &edwards::Edwards,
    &montgomery::Montgomery,
    &mac::DigestMac,
    &kdf::Kdf,
    &concat::SimpleDerive,
    &sp800_108::Sp800108,
    &pubkey::PubFromPriv,
];

fn entries() -> impl Iterator<Item = &'static Entry> {
    FAMILIES.iter().flat_map(|f| f.entries().iter())
}

fn families() -> impl Iterator<Item = &'static dyn Family> {
    FAMILIES.iter().copied()
}

/// What a token of `policy` lists (`C_GetMechanismList`).
pub fn list(policy: policy::Policy) -> Vec<CK_MECHANISM_TYPE> {
    entries()
        .filter_map(|e| policy::entry(policy, e))
        .map(|e| e.0)
        .collect()
}

/// What a token of `policy` reports of a mechanism (`C_GetMechanismInfo`); `None` for one it
/// does not list.
pub fn info(policy: policy::Policy, m: CK_MECHANISM_TYPE) -> Option<CK_MECHANISM_INFO> {
    entries()
        .find(|e| e.0 == m)
        .and_then(|e| policy::entry(policy, e))
        .map(|e| CK_MECHANISM_INFO {
            ulMinKeySize: e.1,
            ulMaxKeySize: e.2,
            flags: e.3,
        })
}

/// A caller's mechanism, typed by the family that lists it; a type no family lists is
/// `CKR_MECHANISM_INVALID`.
pub fn parse(ty: CK_MECHANISM_TYPE, p: &Param) -> Result<Mechanism> {
    match families().find(|f| f.entries().iter().any(|e| e.0 == ty)) {
        Some(f) => f.parse(ty, p),
        None => fail(CKR_MECHANISM_INVALID),
    }
}

/// `CKR_MECHANISM_PARAM_INVALID`, the answer to any parameter a family cannot take.
fn bad_param() -> crate::error::Error {
    crate::error::Error::new(CKR_MECHANISM_PARAM_INVALID)
}

/// Whether an operation with this mechanism and key leaves secrets on the stack, so each call
/// that computes must have the stack overwritten afterwards (`crate::wipe`). Public keys hold
/// no secret. The AES modes of the aws-lc build keep the key schedule and GHASH key in the
/// engine's heap context and compute in registers; everything else (private-key operations,
/// whose nonces and blinded values aws-lc keeps on the stack; HMAC, CMAC and key wrap on the
/// RustCrypto crates; every mechanism of the RustCrypto build) counts as leaving them.
pub fn secrets_on_stack(ty: CK_MECHANISM_TYPE, key: &crate::object::attr::Attributes) -> bool {
    let aes_in_engine = cfg!(feature = "aws-lc")
        && matches!(
            ty,
            CKM_AES_ECB
                | CKM_AES_CBC
                | CKM_AES_CBC_PAD
                | CKM_AES_CTR
                | CKM_AES_CTS
                | CKM_AES_GCM
                | CKM_AES_CCM
        );
    match key.class() {
        Some(CKO_PUBLIC_KEY) => false,
        Some(CKO_SECRET_KEY) => !aes_in_engine,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mechanism_is_listed_once() {
        let mut seen = std::collections::HashSet::new();
        assert!(entries().all(|e| seen.insert(e.0)), "duplicate entry");
        assert_eq!(list(policy::Policy::Compat).len(), seen.len());
    }
}
