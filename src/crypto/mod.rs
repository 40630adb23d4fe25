//! The crypto engine: the only code that calls the crypto crates. The rest of the module asks it
//! for narrow operations, so a second backend can replace it without touching callers.
//! This part serves the token store (PKCS#11 v3.0 leaves object protection to the token).
//!
//! Two backends, chosen at build time by the cargo feature `aws-lc` (on by default):
//! - default: aws-lc, through `aws-lc-sys`, with every call in `awslc.rs` (the one file here
//!   with `unsafe` code): RSA (raw private and public operations, key generation), ECDSA, ECDH
//!   and key generation on P-256/P-384/P-521, the AES block cipher (so also CTR, CTS and CCM,
//!   built here on it), bulk CBC and AES-GCM;
//! - `--no-default-features`: the same operations on the RustCrypto crates alone.
//!
//! Both builds share the PKCS#11 layer above the primitives (padding schemes, range checks,
//! return codes), and keep on RustCrypto what aws-lc would not speed up: SHA-1/2/3 and HMAC
//! (the `sha2` crate uses the SHA extensions too), Ed25519, CMAC, key wrap, HKDF,
//! PBKDF2, PKCS#8, and the store's Argon2id and AES-256-GCM.
//!
//! Keys are parsed, and cipher contexts set up, once: [`aes::AesKey`], [`aes::GcmKey`],
//! [`rsa::RsaPrivate`], [`rsa::RsaPublic`], [`ec::EcPrivate`], [`ec::EcPublic`],
//! [`ec::Ed25519Private`] and [`ec::Ed25519Public`] are `Send + Sync` and used through `&self`,
//! so one `Arc` of each serves every operation on its key object, from any thread; each wipes
//! its key material on drop. The streaming ciphers also write into the caller's buffer
//! (`update_into`, `finish_into`, `one_shot_into`), so bulk data is not copied on the way.

pub mod aes;
#[cfg(feature = "aws-lc")]
mod awslc;
#[cfg(feature = "aws-lc")]
mod awslc_des;
pub mod block;
pub mod des;
pub mod digest;
pub mod ec;
pub mod kdf;
// SP 800-108 KBKDF (issue 12, derive).
pub mod kbkdf;
pub mod pkcs8;
pub mod rsa;

use crate::error::{Error, Result};
use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

pub const GCM_NONCE_LEN: usize = 12;
pub const GCM_TAG_LEN: usize = 16;

/// Fill `out` with random bytes from the operating system's generator; in the default build,
/// requests of 4 KiB and more come from aws-lc's DRBG (seeded by the operating system,
/// reseeded after a fork), which is faster for bulk. Small requests stay on the system call
/// so that a process which only needs a few bytes (a C_Initialize, an object's IV) does not pay
/// aws-lc's one-time entropy set-up (about 40 ms: it runs its jitter entropy source).
pub fn random_fill(out: &mut [u8]) -> Result<()> {
    #[cfg(feature = "aws-lc")]
    if out.len() >= 4096 {
        return awslc::rand_bytes(out)
            .ok_or_else(|| Error::device(format_args!("aws-lc RAND_bytes failed")));
    }
    getrandom::fill(out).map_err(|e| Error::device(format_args!("system RNG failed: {e}")))
}

/// What `C_SeedRandom` gave, folded into one 256-bit pool (SHA-256 of the old pool and the
/// seed). `None` until a caller seeds.
static SEED_POOL: parking_lot::Mutex<Option<Zeroizing<[u8; 32]>>> = parking_lot::Mutex::new(None);

/// `C_SeedRandom`: mix caller material into the pool that `random_fill_seeded` adds to the
/// system generator's output. A seed can add to the randomness, never replace it.
pub fn add_seed(seed: &[u8]) {
    let mut pool = SEED_POOL.lock();
    let old = pool.as_deref().copied().unwrap_or([0; 32]);
    *pool = Some(Zeroizing::new(sha256(&[
        b"ferrohsm seed pool v1",
        &old,
        seed,
    ])));
}

/// `C_GenerateRandom`: the system generator's bytes, XORed with a stream from the seed pool
/// when a caller has seeded. XOR with an independent stream leaves uniform bytes uniform, so
/// even a seed chosen by an attacker weakens nothing; the pool ratchets with every call, so no
/// stream repeats.
pub fn random_fill_seeded(out: &mut [u8]) -> Result<()> {
    random_fill(out)?;
    let mut pool = SEED_POOL.lock();
    let Some(key) = pool.as_mut() else {
        return Ok(());
    };
    for (i, chunk) in out.chunks_mut(32).enumerate() {
        let mut block = hmac_sha256(key.as_ref(), &[b"stream", &(i as u64).to_le_bytes()]);
        for (o, b) in chunk.iter_mut().zip(block.iter()) {
            *o ^= b;
        }
        block.zeroize();
    }
    let next = hmac_sha256(key.as_ref(), &[b"ratchet"]);
    key.copy_from_slice(&next);
    Ok(())
}

pub fn random_array<const N: usize>() -> Result<[u8; N]> {
    let mut a = [0u8; N];
    random_fill(&mut a)?;
    Ok(a)
}

pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail; fall back to a plain hash regardless.
    let Ok(mut m) = <Hmac<Sha256>>::new_from_slice(key) else {
        return sha256(parts);
    };
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// Argon2id cost parameters, stored beside each PIN wrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

/// The largest Argon2id costs accepted, from the configuration or a token file: 1 GiB, 64
/// passes, 16 lanes. A token file is not trusted to choose a cost that hangs or exhausts memory.
pub const KDF_MAX: KdfParams = KdfParams {
    memory_kib: 1 << 20,
    iterations: 64,
    parallelism: 16,
};

/// Derive a 256-bit key from a PIN with Argon2id.
pub fn argon2id(pin: &[u8], salt: &[u8], p: KdfParams) -> Result<Zeroizing<[u8; 32]>> {
    use argon2::{Algorithm, Argon2, Params, Version};
    if p.memory_kib > KDF_MAX.memory_kib
        || p.iterations > KDF_MAX.iterations
        || p.parallelism > KDF_MAX.parallelism
    {
        return Err(Error::device(format_args!(
            "Argon2 parameters out of range: {p:?}"
        )));
    }
    let params = Params::new(p.memory_kib, p.iterations, p.parallelism, Some(32))
        .map_err(|e| Error::device(format_args!("bad Argon2 parameters: {e}")))?;
    let mut out = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(pin, salt, out.as_mut())
        .map_err(|e| Error::device(format_args!("Argon2 failed: {e}")))?;
    Ok(out)
}

/// AES-256-GCM with a key held for the lifetime of this value (the key schedule is computed
/// once; `aes-gcm` wipes it on drop through its `zeroize` feature).
pub struct Aead256(Aes256Gcm);

impl std::fmt::Debug for Aead256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Aead256(..)")
    }
}

impl Aead256 {
    pub fn new(key: &[u8; 32]) -> Self {
        Aead256(Aes256Gcm::new(key.into()))
    }

    /// `nonce || ciphertext || tag`, with a fresh random nonce.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        let nonce_bytes: [u8; GCM_NONCE_LEN] = random_array()?;
        let nonce = Nonce::from(nonce_bytes);
        let ct = self
            .0
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| Error::device("AES-GCM seal failed"))?;
        let mut out = Vec::with_capacity(GCM_NONCE_LEN + ct.len());
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Open a blob made by [`Aead256::seal`]; `None` when it was damaged, moved or made under
    /// another key.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if sealed.len() < GCM_NONCE_LEN + GCM_TAG_LEN {
            return None;
        }
        let (n, ct) = sealed.split_at(GCM_NONCE_LEN);
        let nonce_bytes: [u8; GCM_NONCE_LEN] = n.try_into().ok()?;
        let nonce = Nonce::from(nonce_bytes);
        self.0
            .decrypt(&nonce, Payload { msg: ct, aad })
            .ok()
            .map(Zeroizing::new)
    }
}

/// Wipe a byte vector in place (for buffers that are not `Zeroizing`).
pub fn wipe(v: &mut Vec<u8>) {
    v.zeroize();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_roundtrip_and_aad_binding() {
        let k = Aead256::new(&[7u8; 32]);
        let s = k.seal(b"a", b"secret").unwrap_or_default();
        assert_eq!(
            k.open(b"a", &s).as_deref().map(|v| v.as_slice()),
            Some(&b"secret"[..])
        );
        assert!(k.open(b"b", &s).is_none());
        let mut t = s.clone();
        t[GCM_NONCE_LEN] ^= 1;
        assert!(k.open(b"a", &t).is_none());
    }

    #[test]
    fn argon2_is_deterministic_per_salt() {
        let p = KdfParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        };
        let a = argon2id(b"1234", b"saltsaltsaltsalt", p).map(|k| *k).ok();
        let b = argon2id(b"1234", b"saltsaltsaltsalt", p).map(|k| *k).ok();
        let c = argon2id(b"1235", b"saltsaltsaltsalt", p).map(|k| *k).ok();
        assert!(a.is_some());
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}

#[cfg(test)]
mod kdf_limit_tests {
    use super::*;

    /// A token file's Argon2 parameters are not trusted: costs beyond KDF_MAX are refused
    /// instead of hanging C_Login or aborting on a huge allocation (found by fuzzing).
    #[test]
    fn argon2_costs_beyond_the_limits_are_refused() {
        let ok = KdfParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        };
        assert!(argon2id(b"pin", &[0u8; 16], ok).is_ok());
        for bad in [
            KdfParams {
                iterations: 0xff00_0001,
                ..ok
            },
            KdfParams {
                memory_kib: 0x7fff_ffff,
                ..ok
            },
            KdfParams {
                parallelism: 1000,
                ..ok
            },
        ] {
            let e = argon2id(b"pin", &[0u8; 16], bad).err().map(|e| e.rv());
            assert_eq!(e, Some(cryptoki_sys::CKR_DEVICE_ERROR), "{bad:?}");
        }
    }
}
