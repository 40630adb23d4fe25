//! Message digests and HMAC: SHA-1, SHA-2 and SHA-3, streaming and one-shot, with the DER
//! DigestInfo prefixes PKCS#1 v1.5 signatures need. Serves `CKM_SHA_1`, `CKM_SHA224/256/384/512`,
//! `CKM_SHA3_*` and their `_HMAC`/`_HMAC_GENERAL` forms (Current Mechanisms v3.0 §2.9 HMAC,
//! §2.20-2.24 SHA-1/SHA-2, §2.28-2.31 SHA-3), and is the hash behind the RSA, ECDSA and KDF
//! code of this module.

use crate::error::{Error, Result};
use cryptoki_sys::{
    CKR_MECHANISM_PARAM_INVALID, CKR_SAVED_STATE_INVALID, CKR_SIGNATURE_INVALID,
    CKR_SIGNATURE_LEN_RANGE,
};
use hmac::{Hmac as BlockHmac, KeyInit, Mac, SimpleHmac};
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
}

impl HashAlg {
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
        }
    }

    /// Input block length in bytes (the HMAC block size; the sponge rate for SHA-3).
    pub const fn block_len(self) -> usize {
        match self {
            HashAlg::Sha1 | HashAlg::Sha224 | HashAlg::Sha256 => 64,
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
        }
    }

    fn from_tag(t: u8) -> Option<HashAlg> {
        HashAlg::ALL.into_iter().find(|a| a.tag() == t)
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
    Sha3_512: sha3::Sha3_512
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

// SHA-3 is a sponge without the block-level core `Hmac` needs; `SimpleHmac` computes the same
// RFC 2104 function over the plain digest.
#[derive(Clone)]
enum MacState {
    Sha1(BlockHmac<sha1::Sha1>),
    Sha224(BlockHmac<sha2::Sha224>),
    Sha256(BlockHmac<sha2::Sha256>),
    Sha384(BlockHmac<sha2::Sha384>),
    Sha512(BlockHmac<sha2::Sha512>),
    Sha3_224(SimpleHmac<sha3::Sha3_224>),
    Sha3_256(SimpleHmac<sha3::Sha3_256>),
    Sha3_384(SimpleHmac<sha3::Sha3_384>),
    Sha3_512(SimpleHmac<sha3::Sha3_512>),
}

macro_rules! each_mac {
    ($s:expr, $v:ident => $body:expr) => {
        match $s {
            MacState::Sha1($v) => $body,
            MacState::Sha224($v) => $body,
            MacState::Sha256($v) => $body,
            MacState::Sha384($v) => $body,
            MacState::Sha512($v) => $body,
            MacState::Sha3_224($v) => $body,
            MacState::Sha3_256($v) => $body,
            MacState::Sha3_384($v) => $body,
            MacState::Sha3_512($v) => $body,
        }
    };
}

/// Streaming HMAC (RFC 2104) with a key of any length and an output truncated to `mac_len`
/// bytes (`CKM_*_HMAC_GENERAL`); `mac_len` equals the hash length for `CKM_*_HMAC`.
#[derive(Clone)]
pub struct Hmac {
    alg: HashAlg,
    mac_len: usize,
    state: MacState,
}

impl std::fmt::Debug for Hmac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hmac({:?}, {})", self.alg, self.mac_len)
    }
}

impl Hmac {
    /// Full-length HMAC.
    pub fn new(alg: HashAlg, key: &[u8]) -> Result<Self> {
        Self::new_truncated(alg, key, alg.output_len())
    }

    /// HMAC whose output is the first `mac_len` bytes (1..=hash length, else
    /// `CKR_MECHANISM_PARAM_INVALID`).
    pub fn new_truncated(alg: HashAlg, key: &[u8], mac_len: usize) -> Result<Self> {
        if mac_len == 0 || mac_len > alg.output_len() {
            return Err(Error::new(CKR_MECHANISM_PARAM_INVALID));
        }
        // Keys of any length are valid for HMAC; the error arm is unreachable but must not panic.
        let bad = |_| Error::new(CKR_MECHANISM_PARAM_INVALID);
        let state = match alg {
            HashAlg::Sha1 => MacState::Sha1(KeyInit::new_from_slice(key).map_err(bad)?),
            HashAlg::Sha224 => MacState::Sha224(KeyInit::new_from_slice(key).map_err(bad)?),
            HashAlg::Sha256 => MacState::Sha256(KeyInit::new_from_slice(key).map_err(bad)?),
            HashAlg::Sha384 => MacState::Sha384(KeyInit::new_from_slice(key).map_err(bad)?),
            HashAlg::Sha512 => MacState::Sha512(KeyInit::new_from_slice(key).map_err(bad)?),
            HashAlg::Sha3_224 => MacState::Sha3_224(KeyInit::new_from_slice(key).map_err(bad)?),
            HashAlg::Sha3_256 => MacState::Sha3_256(KeyInit::new_from_slice(key).map_err(bad)?),
            HashAlg::Sha3_384 => MacState::Sha3_384(KeyInit::new_from_slice(key).map_err(bad)?),
            HashAlg::Sha3_512 => MacState::Sha3_512(KeyInit::new_from_slice(key).map_err(bad)?),
        };
        Ok(Hmac {
            alg,
            mac_len,
            state,
        })
    }

    pub fn alg(&self) -> HashAlg {
        self.alg
    }

    /// Output length in bytes.
    pub fn mac_len(&self) -> usize {
        self.mac_len
    }

    pub fn update(&mut self, data: &[u8]) {
        each_mac!(&mut self.state, m => Mac::update(m, data))
    }

    /// The tag (kept in wiped memory: HKDF and PBKDF2 outputs are key material).
    pub fn finalize(self) -> Zeroizing<Vec<u8>> {
        let full = each_mac!(self.state, m => Zeroizing::new(m.finalize().into_bytes().to_vec()));
        Zeroizing::new(full.get(..self.mac_len).unwrap_or(&full).to_vec())
    }

    /// Compare in constant time: `CKR_SIGNATURE_LEN_RANGE` when `tag` is not `mac_len` bytes,
    /// `CKR_SIGNATURE_INVALID` when it differs.
    pub fn verify(self, tag: &[u8]) -> Result<()> {
        if tag.len() != self.mac_len {
            return Err(Error::new(CKR_SIGNATURE_LEN_RANGE));
        }
        let mine = self.finalize();
        if bool::from(mine.as_slice().ct_eq(tag)) {
            Ok(())
        } else {
            Err(Error::new(CKR_SIGNATURE_INVALID))
        }
    }
}

/// One-shot full-length HMAC over the concatenation of `parts`.
pub fn hmac(alg: HashAlg, key: &[u8], parts: &[&[u8]]) -> Result<Zeroizing<Vec<u8>>> {
    let mut m = Hmac::new(alg, key)?;
    for p in parts {
        m.update(p);
    }
    Ok(m.finalize())
}

// The Wycheproof suite covers the whole engine; it lives beside the per-file tests.
#[cfg(test)]
#[path = "tests/wycheproof.rs"]
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
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn fips180_abc() {
        let cases = [
            (HashAlg::Sha1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
            (
                HashAlg::Sha224,
                "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7",
            ),
            (
                HashAlg::Sha256,
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            (
                HashAlg::Sha384,
                "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed\
                 8086072ba1e7cc2358baeca134c825a7",
            ),
            (
                HashAlg::Sha512,
                "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
                 2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            ),
            (
                HashAlg::Sha3_224,
                "e642824c3f8cf24ad09234ee7d3c766fc9a3a5168d0c94ad73b46fdf",
            ),
            (
                HashAlg::Sha3_256,
                "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532",
            ),
            (
                HashAlg::Sha3_384,
                "ec01498288516fc926459f58e2c6ad8df9b473cb0fc08c2596da7cf0e49be4b2\
                 98d88cea927ac7f539f1edf228376d25",
            ),
            (
                HashAlg::Sha3_512,
                "b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d0240d2712e\
                 10e116e9192af3c91a7ec57647e3934057340b4cf408d5a56592f8274eec53f0",
            ),
        ];
        for (alg, want) in cases {
            let got = digest(alg, b"abc");
            assert_eq!(got, hex(want), "{alg:?}");
            assert_eq!(got.len(), alg.output_len());
        }
    }

    #[test]
    fn streaming_equals_one_shot_and_clone_snapshots() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        for alg in HashAlg::ALL {
            let mut h = Hasher::new(alg);
            h.update(&data[..333]);
            let snap = h.clone();
            h.update(&data[333..]);
            assert_eq!(h.finalize(), digest(alg, &data));
            let mut s = snap;
            s.update(&data[333..]);
            assert_eq!(s.finalize(), digest(alg, &data));
        }
    }

    #[test]
    fn saved_state_resumes_and_garbage_is_rejected() {
        let data: Vec<u8> = (0..500u32).map(|i| (i * 13) as u8).collect();
        for alg in HashAlg::ALL {
            let mut h = Hasher::new(alg);
            h.update(&data[..77]);
            let saved = h.save_state();
            let mut r = Hasher::restore_state(&saved).unwrap();
            assert_eq!(r.alg(), alg);
            r.update(&data[77..]);
            assert_eq!(r.finalize(), digest(alg, &data), "{alg:?}");
            let mut short = saved.clone();
            short.pop();
            assert_eq!(
                Hasher::restore_state(&short).unwrap_err().rv(),
                CKR_SAVED_STATE_INVALID
            );
        }
        assert!(Hasher::restore_state(&[]).is_err());
        assert!(Hasher::restore_state(&[STATE_VERSION, 0]).is_err());
        let mut wrong_alg = Hasher::new(HashAlg::Sha256).save_state();
        wrong_alg[1] = HashAlg::Sha512.tag();
        assert!(Hasher::restore_state(&wrong_alg).is_err());
    }

    #[test]
    fn digest_info_prefixes_match_the_oids_and_the_rsa_crate() {
        for alg in HashAlg::ALL {
            let oid = alg.oid_der();
            let p = alg.digest_info_prefix();
            let mut want = vec![
                0x30,
                (oid.len() + 6 + alg.output_len()) as u8,
                0x30,
                (oid.len() + 2) as u8,
            ];
            want.extend_from_slice(oid);
            want.extend_from_slice(&[0x05, 0x00, 0x04, alg.output_len() as u8]);
            assert_eq!(p, want.as_slice(), "{alg:?}");
        }
        // An independent source for the prefixes: the rsa crate builds them from the hash
        // crates' own OIDs.
        macro_rules! crate_prefix {
            ($d:ty) => {
                rsa::Pkcs1v15Sign::new::<$d>().prefix.to_vec()
            };
        }
        assert_eq!(
            crate_prefix!(sha1::Sha1),
            HashAlg::Sha1.digest_info_prefix()
        );
        assert_eq!(
            crate_prefix!(sha2::Sha224),
            HashAlg::Sha224.digest_info_prefix()
        );
        assert_eq!(
            crate_prefix!(sha2::Sha256),
            HashAlg::Sha256.digest_info_prefix()
        );
        assert_eq!(
            crate_prefix!(sha2::Sha384),
            HashAlg::Sha384.digest_info_prefix()
        );
        assert_eq!(
            crate_prefix!(sha2::Sha512),
            HashAlg::Sha512.digest_info_prefix()
        );
        assert_eq!(
            crate_prefix!(sha3::Sha3_224),
            HashAlg::Sha3_224.digest_info_prefix()
        );
        assert_eq!(
            crate_prefix!(sha3::Sha3_256),
            HashAlg::Sha3_256.digest_info_prefix()
        );
        assert_eq!(
            crate_prefix!(sha3::Sha3_384),
            HashAlg::Sha3_384.digest_info_prefix()
        );
        assert_eq!(
            crate_prefix!(sha3::Sha3_512),
            HashAlg::Sha3_512.digest_info_prefix()
        );
    }

    #[test]
    fn block_len_matches_the_hash_crates() {
        use sha2::digest::common::BlockSizeUser;
        for alg in HashAlg::ALL {
            let n = with_hash!(alg, H => <H as BlockSizeUser>::block_size());
            assert_eq!(n, alg.block_len(), "{alg:?}");
        }
    }

    // RFC 4231 test cases 1, 2, 3, 6 (key longer than the block) and 7.
    #[test]
    fn rfc4231_hmac_sha2() {
        let long_key = vec![0xaau8; 131];
        let cases: [(Vec<u8>, &[u8], [&str; 4]); 5] = [
            (
                vec![0x0b; 20],
                b"Hi There",
                [
                    "896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22",
                    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
                    "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c\
                     faea9ea9076ede7f4af152e8b2fa9cb6",
                    "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde\
                     daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
                ],
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?",
                [
                    "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44",
                    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
                    "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e\
                     8e2240ca5e69e2c78b3239ecfab21649",
                    "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
                     9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
                ],
            ),
            (
                vec![0xaa; 20],
                &[0xdd; 50],
                [
                    "7fb3cb3588c6c1f6ffa9694d7d6ad2649365b0c1f65d69d1ec8333ea",
                    "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
                    "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b\
                     2a5ab39dc13814b94e3ab6e101a34f27",
                    "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39\
                     bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb",
                ],
            ),
            (
                long_key.clone(),
                b"Test Using Larger Than Block-Size Key - Hash Key First",
                [
                    "95e9a0db962095adaebe9b2d6f0dbce2d499f112f2d2b7273fa6870e",
                    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
                    "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c6\
                     0c2ef6ab4030fe8296248df163f44952",
                    "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352\
                     6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598",
                ],
            ),
            (
                long_key,
                b"This is a test using a larger than block-size key and a larger than \
                  block-size data. The key needs to be hashed before being used by the \
                  HMAC algorithm.",
                [
                    "3a854166ac5d9f023f54d517d0b39dbd946770db9c2b95c9f6f565d1",
                    "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
                    "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5\
                     a678cc31e799176d3860e6110c46523e",
                    "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944\
                     b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58",
                ],
            ),
        ];
        let algs = [
            HashAlg::Sha224,
            HashAlg::Sha256,
            HashAlg::Sha384,
            HashAlg::Sha512,
        ];
        for (key, data, wants) in &cases {
            for (alg, want) in algs.iter().zip(wants) {
                assert_eq!(*hmac(*alg, key, &[data]).unwrap(), hex(want), "{alg:?}");
                let mut m = Hmac::new(*alg, key).unwrap();
                m.update(&data[..data.len() / 2]);
                m.update(&data[data.len() / 2..]);
                assert!(m.verify(&hex(want)).is_ok());
            }
        }
    }

    #[test]
    fn hmac_truncation_and_verify_failures() {
        // RFC 4231 test case 5: HMAC-SHA-256 truncated to 128 bits.
        let key = [0x0cu8; 20];
        let data = b"Test With Truncation";
        let mut m = Hmac::new_truncated(HashAlg::Sha256, &key, 16).unwrap();
        m.update(data);
        assert_eq!(
            *m.clone().finalize(),
            hex("a3b6167473100ee06e0c796c2955552b")
        );
        assert!(m
            .clone()
            .verify(&hex("a3b6167473100ee06e0c796c2955552b"))
            .is_ok());
        assert_eq!(
            m.clone()
                .verify(&hex("a3b6167473100ee06e0c796c2955552c"))
                .unwrap_err()
                .rv(),
            CKR_SIGNATURE_INVALID
        );
        assert_eq!(
            m.verify(&hex("a3b6167473100ee06e0c796c29"))
                .unwrap_err()
                .rv(),
            CKR_SIGNATURE_LEN_RANGE
        );
        assert_eq!(
            Hmac::new_truncated(HashAlg::Sha256, &key, 0)
                .unwrap_err()
                .rv(),
            CKR_MECHANISM_PARAM_INVALID
        );
        assert_eq!(
            Hmac::new_truncated(HashAlg::Sha256, &key, 33)
                .unwrap_err()
                .rv(),
            CKR_MECHANISM_PARAM_INVALID
        );
        // An empty key is a valid HMAC key.
        assert_eq!(hmac(HashAlg::Sha1, &[], &[b""]).unwrap().len(), 20);
    }

    #[test]
    fn hmac_sha1_and_sha3_known_answers() {
        // RFC 2202 test case 2.
        assert_eq!(
            *hmac(HashAlg::Sha1, b"Jefe", &[b"what do ya want for nothing?"]).unwrap(),
            hex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
        );
        // SHA-3 HMAC: must agree with the RFC 2104 definition built from the plain hash.
        for alg in [
            HashAlg::Sha3_224,
            HashAlg::Sha3_256,
            HashAlg::Sha3_384,
            HashAlg::Sha3_512,
        ] {
            for key in [&b"key"[..], &[0x42u8; 200][..]] {
                let b = alg.block_len();
                let mut k = if key.len() > b {
                    digest(alg, key)
                } else {
                    key.to_vec()
                };
                k.resize(b, 0);
                let ipad: Vec<u8> = k.iter().map(|x| x ^ 0x36).collect();
                let opad: Vec<u8> = k.iter().map(|x| x ^ 0x5c).collect();
                let inner = digest_parts(alg, &[&ipad, b"message"]);
                let want = digest_parts(alg, &[&opad, &inner]);
                assert_eq!(*hmac(alg, key, &[b"message"]).unwrap(), want, "{alg:?}");
            }
        }
    }
}
