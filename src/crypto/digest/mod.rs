//! Message digests and HMAC: SHA-1, SHA-2 and SHA-3, streaming and one-shot, with the DER
//! DigestInfo prefixes PKCS#1 v1.5 signatures need. Serves `CKM_SHA_1`, `CKM_SHA224/256/384/512`,
//! `CKM_SHA3_*` and their `_HMAC`/`_HMAC_GENERAL` forms (Current Mechanisms v3.0 §2.9 HMAC,
//! §2.20-2.24 SHA-1/SHA-2, §2.28-2.31 SHA-3), and is the hash behind the RSA, ECDSA and KDF
//! code of this module.
//!
//! Files: this one the hashes; `mac.rs` HMAC; `tests.rs` their known answers (the Wycheproof
//! suite of the whole engine hangs off here too).

mod mac;
pub use mac::{hmac, Hmac};

use crate::error::{Error, Result};
use cryptoki_sys::{
    CKR_MECHANISM_PARAM_INVALID, CKR_SAVED_STATE_INVALID, CKR_SIGNATURE_INVALID,
    CKR_SIGNATURE_LEN_RANGE,
};
use sha2::digest::common::hazmat::SerializableState;
use sha2::Digest;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A hash function the engine offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlg {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
    Sha3_224,
    Sha3_256,
    Sha3_384,
    Sha3_512,
    /// MD5 (RFC 1321), for `CKM_MD5`, `CKM_MD5_HMAC(_GENERAL)` and `CKM_MD5_RSA_PKCS` only:
    /// broken for collisions, kept for SoftHSMv2 compatibility, and not in [`HashAlg::ALL`].
    Md5,
}

impl HashAlg {
    /// The SHA family: every hash but the legacy MD5.
    pub const ALL: [HashAlg; 9] = [
        HashAlg::Sha1,
        HashAlg::Sha224,
        HashAlg::Sha256,
        HashAlg::Sha384,
        HashAlg::Sha512,
        HashAlg::Sha3_224,
        HashAlg::Sha3_256,
        HashAlg::Sha3_384,
        HashAlg::Sha3_512,
    ];

    /// Digest length in bytes.
    pub const fn output_len(self) -> usize {
        match self {
            HashAlg::Sha1 => 20,
            HashAlg::Sha224 | HashAlg::Sha3_224 => 28,
            HashAlg::Sha256 | HashAlg::Sha3_256 => 32,
            HashAlg::Sha384 | HashAlg::Sha3_384 => 48,
            HashAlg::Sha512 | HashAlg::Sha3_512 => 64,
            HashAlg::Md5 => 16,
        }
    }

    /// Input block length in bytes (the HMAC block size; the sponge rate for SHA-3).
    pub const fn block_len(self) -> usize {
        match self {
            HashAlg::Sha1 | HashAlg::Sha224 | HashAlg::Sha256 | HashAlg::Md5 => 64,
            HashAlg::Sha384 | HashAlg::Sha512 => 128,
            HashAlg::Sha3_224 => 144,
            HashAlg::Sha3_256 => 136,
            HashAlg::Sha3_384 => 104,
            HashAlg::Sha3_512 => 72,
        }
    }

    /// The algorithm's object identifier, DER-encoded (tag, length, value).
    pub const fn oid_der(self) -> &'static [u8] {
        match self {
            HashAlg::Sha1 => &[0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a],
            HashAlg::Sha224 => &NIST_HASH_OID[4],
            HashAlg::Sha256 => &NIST_HASH_OID[1],
            HashAlg::Sha384 => &NIST_HASH_OID[2],
            HashAlg::Sha512 => &NIST_HASH_OID[3],
            HashAlg::Sha3_224 => &NIST_HASH_OID[7],
            HashAlg::Sha3_256 => &NIST_HASH_OID[8],
            HashAlg::Sha3_384 => &NIST_HASH_OID[9],
            HashAlg::Sha3_512 => &NIST_HASH_OID[10],
            // 1.2.840.113549.2.5
            HashAlg::Md5 => &[0x06, 0x08, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x05],
        }
    }

    /// The DER `DigestInfo` that precedes the hash value in an EMSA-PKCS1-v1_5 encoding
    /// (RFC 8017 §9.2 note 1; the SHA-3 entries use the NIST OIDs 2.16.840.1.101.3.4.2.7-10).
    pub const fn digest_info_prefix(self) -> &'static [u8] {
        match self {
            HashAlg::Sha1 => &[
                0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04,
                0x14,
            ],
            HashAlg::Sha224 => &DIGEST_INFO[4],
            HashAlg::Sha256 => &DIGEST_INFO[1],
            HashAlg::Sha384 => &DIGEST_INFO[2],
            HashAlg::Sha512 => &DIGEST_INFO[3],
            HashAlg::Sha3_224 => &DIGEST_INFO[7],
            HashAlg::Sha3_256 => &DIGEST_INFO[8],
            HashAlg::Sha3_384 => &DIGEST_INFO[9],
            HashAlg::Sha3_512 => &DIGEST_INFO[10],
            HashAlg::Md5 => &[
                0x30, 0x20, 0x30, 0x0c, 0x06, 0x08, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x05,
                0x05, 0x00, 0x04, 0x10,
            ],
        }
    }

    const fn tag(self) -> u8 {
        match self {
            HashAlg::Sha1 => 1,
            HashAlg::Sha224 => 2,
            HashAlg::Sha256 => 3,
            HashAlg::Sha384 => 4,
            HashAlg::Sha512 => 5,
            HashAlg::Sha3_224 => 6,
            HashAlg::Sha3_256 => 7,
            HashAlg::Sha3_384 => 8,
            HashAlg::Sha3_512 => 9,
            HashAlg::Md5 => 10,
        }
    }

    fn from_tag(t: u8) -> Option<HashAlg> {
        HashAlg::ALL
            .into_iter()
            .chain([HashAlg::Md5])
            .find(|a| a.tag() == t)
    }
}

/// The NIST hash OIDs 2.16.840.1.101.3.4.2.N, indexed by N (index 0 and 5, 6 unused here).
const NIST_HASH_OID: [[u8; 11]; 11] = {
    let mut t = [[0u8; 11]; 11];
    let mut i = 0;
    while i < 11 {
        t[i] = [
            0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, i as u8,
        ];
        i += 1;
    }
    t
};

/// `SEQUENCE { SEQUENCE { oid, NULL }, OCTET STRING (len) }` headers for the NIST hashes,
/// indexed like [`NIST_HASH_OID`]; built once from the OID so each entry has one source.
const DIGEST_INFO: [[u8; 19]; 11] = {
    let mut t = [[0u8; 19]; 11];
    let mut i = 0;
    while i < 11 {
        let hlen: u8 = match i {
            1 | 8 => 32,
            2 | 9 => 48,
            3 | 10 => 64,
            4 | 7 => 28,
            _ => 0,
        };
        t[i] = [
            0x30,
            0x0f + 2 + hlen,
            0x30,
            0x0d,
            0x06,
            0x09,
            0x60,
            0x86,
            0x48,
            0x01,
            0x65,
            0x03,
            0x04,
            0x02,
            i as u8,
            0x05,
            0x00,
            0x04,
            hlen,
        ];
        i += 1;
    }
    t
};

/// Runs `$body` with `$h` bound to the concrete hasher type of `$alg`.
macro_rules! with_hash {
    ($alg:expr, $h:ident => $body:expr) => {
        match $alg {
            HashAlg::Sha1 => {
                type $h = sha1::Sha1;
                $body
            }
            HashAlg::Sha224 => {
                type $h = sha2::Sha224;
                $body
            }
            HashAlg::Sha256 => {
                type $h = sha2::Sha256;
                $body
            }
            HashAlg::Sha384 => {
                type $h = sha2::Sha384;
                $body
            }
            HashAlg::Sha512 => {
                type $h = sha2::Sha512;
                $body
            }
            HashAlg::Sha3_224 => {
                type $h = sha3::Sha3_224;
                $body
            }
            HashAlg::Sha3_256 => {
                type $h = sha3::Sha3_256;
                $body
            }
            HashAlg::Sha3_384 => {
                type $h = sha3::Sha3_384;
                $body
            }
            HashAlg::Sha3_512 => {
                type $h = sha3::Sha3_512;
                $body
            }
            HashAlg::Md5 => {
                type $h = md5::Md5;
                $body
            }
        }
    };
}

#[derive(Clone)]
enum HashState {
    Sha1(sha1::Sha1),
    Sha224(sha2::Sha224),
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
    Sha3_224(sha3::Sha3_224),
    Sha3_256(sha3::Sha3_256),
    Sha3_384(sha3::Sha3_384),
    Sha3_512(sha3::Sha3_512),
    Md5(md5::Md5),
}

macro_rules! each_state {
    ($s:expr, $v:ident => $body:expr) => {
        match $s {
            HashState::Sha1($v) => $body,
            HashState::Sha224($v) => $body,
            HashState::Sha256($v) => $body,
            HashState::Sha384($v) => $body,
            HashState::Sha512($v) => $body,
            HashState::Sha3_224($v) => $body,
            HashState::Sha3_256($v) => $body,
            HashState::Sha3_384($v) => $body,
            HashState::Sha3_512($v) => $body,
            HashState::Md5($v) => $body,
        }
    };
}

/// A streaming hash. `Clone` snapshots it; [`Hasher::save_state`] serializes it for
/// `C_GetOperationState`.
#[derive(Clone)]
pub struct Hasher {
    alg: HashAlg,
    state: HashState,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hasher({:?})", self.alg)
    }
}

/// Version byte of the saved-state format, so a future layout change is detected.
const STATE_VERSION: u8 = 1;

impl Hasher {
    pub fn new(alg: HashAlg) -> Self {
        let state = match alg {
            HashAlg::Sha1 => HashState::Sha1(Default::default()),
            HashAlg::Sha224 => HashState::Sha224(Default::default()),
            HashAlg::Sha256 => HashState::Sha256(Default::default()),
            HashAlg::Sha384 => HashState::Sha384(Default::default()),
            HashAlg::Sha512 => HashState::Sha512(Default::default()),
            HashAlg::Sha3_224 => HashState::Sha3_224(Default::default()),
            HashAlg::Sha3_256 => HashState::Sha3_256(Default::default()),
            HashAlg::Sha3_384 => HashState::Sha3_384(Default::default()),
            HashAlg::Sha3_512 => HashState::Sha3_512(Default::default()),
            HashAlg::Md5 => HashState::Md5(Default::default()),
        };
        Hasher { alg, state }
    }

    pub fn alg(&self) -> HashAlg {
        self.alg
    }

    pub fn update(&mut self, data: &[u8]) {
        each_state!(&mut self.state, h => Digest::update(h, data))
    }

    pub fn finalize(self) -> Vec<u8> {
        each_state!(self.state, h => h.finalize().to_vec())
    }

    /// The internal state as bytes: a version, the algorithm, then the hash crate's own
    /// serialization (which includes the partial block), so `C_SetOperationState` can resume it.
    pub fn save_state(&self) -> Zeroizing<Vec<u8>> {
        each_state!(&self.state, h => {
            // The serialization (a stack array) holds the partial block: wiped after copying.
            let raw = Zeroizing::new(SerializableState::serialize(h));
            let mut out = Zeroizing::new(Vec::with_capacity(2 + raw.len()));
            out.extend_from_slice(&[STATE_VERSION, self.alg.tag()]);
            out.extend_from_slice(&raw);
            out
        })
    }

    /// Rebuild a hasher from [`Hasher::save_state`] output; anything else is
    /// `CKR_SAVED_STATE_INVALID`.
    pub fn restore_state(saved: &[u8]) -> Result<Hasher> {
        let bad = || Error::new(CKR_SAVED_STATE_INVALID);
        let (head, body) = saved.split_first_chunk::<2>().ok_or_else(bad)?;
        if head[0] != STATE_VERSION {
            return Err(bad());
        }
        let alg = HashAlg::from_tag(head[1]).ok_or_else(bad)?;
        let state = with_hash!(alg, H => {
            let arr = body.try_into().map_err(|_| bad())?;
            let h = <H as SerializableState>::deserialize(arr).map_err(|_| bad())?;
            HashState::from(h)
        });
        Ok(Hasher { alg, state })
    }
}

macro_rules! state_from {
    ($($v:ident: $t:ty),*) => {
        $(impl From<$t> for HashState {
            fn from(h: $t) -> Self {
                HashState::$v(h)
            }
        })*
    };
}
state_from!(
    Sha1: sha1::Sha1,
    Sha224: sha2::Sha224,
    Sha256: sha2::Sha256,
    Sha384: sha2::Sha384,
    Sha512: sha2::Sha512,
    Sha3_224: sha3::Sha3_224,
    Sha3_256: sha3::Sha3_256,
    Sha3_384: sha3::Sha3_384,
    Sha3_512: sha3::Sha3_512,
    Md5: md5::Md5
);

/// One-shot hash.
pub fn digest(alg: HashAlg, data: &[u8]) -> Vec<u8> {
    digest_parts(alg, &[data])
}

/// One-shot hash of the concatenation of `parts`.
pub fn digest_parts(alg: HashAlg, parts: &[&[u8]]) -> Vec<u8> {
    let mut h = Hasher::new(alg);
    for p in parts {
        h.update(p);
    }
    h.finalize()
}

// The Wycheproof suite covers the whole engine; it lives beside the per-file tests.
#[cfg(test)]
#[path = "../tests/wycheproof.rs"]
mod wycheproof;

/// Hex decoding for the known-answer tests of the engine.
#[cfg(test)]
pub(crate) fn hex(s: &str) -> Vec<u8> {
    let s: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    s.chunks(2)
        .map(|p| {
            let d = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
            d(p[0]) << 4 | d(p.get(1).copied().unwrap_or(b'0'))
        })
        .collect()
}

#[cfg(test)]
mod tests;
