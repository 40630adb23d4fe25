//! The IVs and nonces the module generates for message-based AES-GCM and AES-CCM encryption
//! (PKCS#11 v3.0 §5.11 C_EncryptMessage; `ivGenerator`/`nonceGenerator` of
//! CK_GCM_MESSAGE_PARAMS and CK_CCM_MESSAGE_PARAMS, Current Mechanisms §2.14.4). One rule:
//! the module never generates the same IV twice for one key value in a process.
//!
//! - Counters belong to the key value, not to an operation, session or object: every
//!   `C_MessageEncryptInit`, every session and every copy of a key continue one sequence, kept
//!   for the life of the process (across `C_Finalize`/`C_Initialize` too). The table is keyed
//!   by an HMAC of the key under a random per-process key, so it holds nothing about the key
//!   a reader could use. Keying by value rather than by `CKA_UNIQUE_ID` covers copies,
//!   re-imports and unwraps of the same key, which an object id would not.
//! - When the free bits (IV length minus `ulIvFixedBits`) cannot hold the next counter value,
//!   the key is exhausted for that IV layout: `CKR_KEY_EXHAUSTED`. PKCS#11 v3.0 names no code
//!   for an exhausted generator; this one (defined in v3.1, in every cryptoki header) says
//!   what happened, and the caller can go on with more free bits or a new key.
//! - No free bits at all can never give a new IV: `CKR_MECHANISM_PARAM_INVALID`.
//! - `CKG_GENERATE_RANDOM` needs at least 64 random bits, and each key gets at most
//!   2^((free - 32) / 2) random IVs (2^16 for 64 bits, 2^32 from 96 bits on, the SP 800-38D
//!   §8.3 limit), which keeps the chance of any repeat below 2^-32.
//! - `CKG_GENERATE` ("the token chooses") is random from 96 free bits on (which also keeps
//!   other processes using the key apart) and the counter below that.
//!
//! What this cannot do: a counter lives in one process. Two processes (or a restarted one)
//! encrypting under one key with the same fixed part restart the sequence; as SP 800-38D
//! §8.2.1 asks, the fixed field must then name the process (or use random IVs with 96 free
//! bits). IVs the caller gives (`CKG_NO_GENERATE`) are the caller's responsibility.

use crate::error::{fail, Error, Result};
use cryptoki_sys::*;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::OnceLock;
use zeroize::Zeroizing;

/// The table key of one key value: HMAC-SHA256 of the key under the process key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId([u8; 32]);

/// What the process has generated under one key value.
#[derive(Debug, Default)]
struct Used {
    /// The last counter value handed out (0: none yet; the first IV gets 1).
    counter: u64,
    /// How many random IVs were handed out.
    random: u64,
}

static USED: Mutex<Option<HashMap<KeyId, Used>>> = Mutex::new(None);
static PROCESS_KEY: OnceLock<Zeroizing<[u8; 32]>> = OnceLock::new();

impl KeyId {
    pub fn of(key: &[u8]) -> Result<KeyId> {
        let pk = match PROCESS_KEY.get() {
            Some(k) => k,
            None => {
                let fresh = Zeroizing::new(crate::crypto::random_array()?);
                PROCESS_KEY.get_or_init(|| fresh)
            }
        };
        Ok(KeyId(crate::crypto::hmac_sha256(&pk[..], &[key])))
    }
}

/// How the free bits get filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fill {
    Counter { xor: bool },
    Random,
}

const MIN_RANDOM_BITS: usize = 64;

/// The most random IVs one key may have with `free` random bits.
fn random_limit(free: usize) -> u64 {
    1u64 << (free.saturating_sub(32) / 2).min(32)
}

/// The next IV for `key`: the first `fixed_bits` bits of `base`, the rest generated as
/// `generator` asks.
pub fn generate(
    key: KeyId,
    generator: CK_GENERATOR_FUNCTION,
    fixed_bits: CK_ULONG,
    base: &[u8],
) -> Result<Vec<u8>> {
    let invalid = || Error::new(CKR_MECHANISM_PARAM_INVALID);
    let total = base.len().checked_mul(8).ok_or_else(invalid)?;
    let fixed = usize::try_from(fixed_bits).map_err(|_| invalid())?;
    let free = total.checked_sub(fixed).ok_or_else(invalid)?;
    if free == 0 {
        return Err(invalid());
    }
    let fill = match generator {
        CKG_GENERATE_COUNTER => Fill::Counter { xor: false },
        CKG_GENERATE_COUNTER_XOR => Fill::Counter { xor: true },
        CKG_GENERATE_RANDOM if free >= MIN_RANDOM_BITS => Fill::Random,
        CKG_GENERATE if free >= 96 => Fill::Random,
        CKG_GENERATE => Fill::Counter { xor: false },
        _ => return Err(invalid()),
    };
    let mut fresh = vec![0u8; base.len()];
    match fill {
        Fill::Counter { xor } => {
            let next = take(key, |u| {
                let next = u.counter.checked_add(1)?;
                // The value must fit the free bits, or it would wrap onto an earlier IV.
                if free < 64 && next >> free != 0 {
                    return None;
                }
                u.counter = next;
                Some(next)
            })?;
            let c = next.to_be_bytes();
            let n = c.len().min(fresh.len());
            let at = fresh.len() - n;
            fresh[at..].copy_from_slice(&c[c.len() - n..]);
            if xor {
                for (f, b) in fresh.iter_mut().zip(base) {
                    *f ^= b;
                }
            }
        }
        Fill::Random => {
            take(key, |u| {
                if u.random >= random_limit(free) {
                    return None;
                }
                u.random += 1;
                Some(())
            })?;
            crate::crypto::random_fill(&mut fresh)?;
        }
    }
    // Keep the first `fixed` bits of the caller's IV, take the rest from `fresh`.
    let mut iv = base.to_vec();
    for (i, (b, f)) in iv.iter_mut().zip(&fresh).enumerate() {
        let keep = fixed.saturating_sub(i * 8).min(8);
        let mask = (0xffu16 << (8 - keep)) as u8;
        *b = (*b & mask) | (f & !mask);
    }
    Ok(iv)
}

/// Update the key's record under the lock; `None` from `f` means the key is exhausted.
fn take<T>(key: KeyId, f: impl FnOnce(&mut Used) -> Option<T>) -> Result<T> {
    let mut all = USED.lock();
    let used = all.get_or_insert_with(HashMap::new).entry(key).or_default();
    match f(used) {
        Some(v) => Ok(v),
        None => fail(CKR_KEY_EXHAUSTED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(tag: &[u8]) -> KeyId {
        KeyId::of(tag).unwrap_or(KeyId([0; 32]))
    }

    #[test]
    fn counters_fill_the_free_bits_and_stop_before_wrapping() -> Result<()> {
        let k = key(b"iv unit test: counter");
        let base = [0xab; 12];
        let a = generate(k, CKG_GENERATE_COUNTER, 32, &base)?;
        let b = generate(k, CKG_GENERATE_COUNTER, 32, &base)?;
        assert_eq!(a[..4], [0xab; 4]);
        assert_eq!(a[4..], [0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(b[4..], [0, 0, 0, 0, 0, 0, 0, 2]);
        // 4 free bits: counter values 1..=15, then the key is exhausted for this layout.
        let k4 = key(b"iv unit test: 4 bits");
        for i in 1..16u8 {
            let iv = generate(k4, CKG_GENERATE_COUNTER, 92, &base)?;
            assert_eq!(iv[11], 0xa0 | i);
        }
        let e = generate(k4, CKG_GENERATE_COUNTER, 92, &base).err();
        assert_eq!(e.map(|e| e.rv()), Some(CKR_KEY_EXHAUSTED));
        Ok(())
    }

    #[test]
    fn bad_layouts_are_refused() {
        let k = key(b"iv unit test: layouts");
        for (g, fixed) in [
            (CKG_GENERATE_COUNTER, 96),
            (CKG_GENERATE_COUNTER, 97),
            (CKG_GENERATE_RANDOM, 33),
            (CKG_GENERATE, 96),
            (CKG_NO_GENERATE, 0),
        ] {
            let e = generate(k, g, fixed, &[0; 12]).err();
            assert_eq!(
                e.map(|e| e.rv()),
                Some(CKR_MECHANISM_PARAM_INVALID),
                "{g} {fixed}"
            );
        }
    }

    #[test]
    fn random_ivs_are_bounded() {
        assert_eq!(random_limit(64), 1 << 16);
        assert_eq!(random_limit(96), 1 << 32);
        assert_eq!(random_limit(128), 1 << 32);
    }
}
