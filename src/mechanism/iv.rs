//! The IVs and nonces the module generates for message-based AES-GCM and AES-CCM encryption
//! (PKCS#11 v3.0 §5.11 C_EncryptMessage; `ivGenerator`/`nonceGenerator` of
//! CK_GCM_MESSAGE_PARAMS and CK_CCM_MESSAGE_PARAMS, Current Mechanisms §2.14.4). One rule:
//! the module never generates the same IV twice for one key value: in a process, and for a
//! token's keys across processes and restarts.
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
//! - Counters of a token's keys are unique across processes and restarts too: the token file
//!   keeps, per key value, the next counter value nobody has reserved (`store::ivs`). A process
//!   reserves a block of values in one write transaction when it has none left ([`block_len`]:
//!   2^16, or 1/16 of a small space) and hands out IVs from its block, so a message costs no
//!   store round trip. Values are handed out in increasing order within a process, and a
//!   reservation never starts below what the process already used, so blocks and
//!   process-only counters of one key value never overlap in a process.
//!
//! What this cannot do: when the token has no master key in this process (nobody logged in,
//! a public session key; or the user logged out during the operation) or its file is
//! read-only, the counter is the process's alone, as above: two such processes (or a restarted
//! one) with the same fixed part restart the sequence, and, as SP 800-38D §8.2.1 asks, the
//! fixed field must then name the process (or use random IVs with 96 free bits). A token file
//! rolled back, or its reservation row deleted, hands out reserved values again (nothing in
//! the file can show that). `CKG_GENERATE_COUNTER_XOR` XORs the counter into the caller's
//! IV: its IVs are unique while the caller keeps one IV for the key (as TLS 1.3 does); a
//! caller that changes that IV, or mixes it with `CKG_GENERATE_COUNTER` on one key, can meet
//! an earlier IV, as it could by giving one itself. IVs the caller gives (`CKG_NO_GENERATE`) are the caller's
//! responsibility.

use crate::error::{fail, Error, Result};
use cryptoki_sys::*;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::OnceLock;
use zeroize::Zeroizing;

/// The table key of one key value: HMAC-SHA256 of the key under the process key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId([u8; 32]);

/// Where a key's counter values come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// This process alone (no master key, or a read-only token file).
    Process,
    /// Blocks reserved in the token file, for the key of this tag (`MasterKey::iv_tag`).
    Token([u8; 32]),
}

/// Internal only: the key's counter needs a new block from the token file before the next
/// IV ([`refill`]); no IV was generated and nothing changed.
pub const NEED_BLOCK: CK_RV = CKR_VENDOR_DEFINED | 0x4648_0002;

/// Counter values reserved in the token file and not yet handed out: `counter + 1 .. end`.
#[derive(Debug)]
struct Reserved {
    tag: [u8; 32],
    end: u64,
}

/// What the process has generated under one key value.
#[derive(Debug, Default)]
struct Used {
    /// The last counter value handed out (0: none yet; the first IV gets 1).
    counter: u64,
    /// The block reserved in a token file, if any.
    block: Option<Reserved>,
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

/// The highest counter value `free` bits hold.
fn counter_max(free: usize) -> u64 {
    if free >= 64 {
        u64::MAX
    } else {
        (1u64 << free) - 1
    }
}

/// How many counter values to reserve at a time in a space of `max` values: 2^16 (a
/// reservation is a write transaction, rare at that size), and 1/16 of a small space so that
/// several processes each get a share of it.
pub fn block_len(max: u64) -> u64 {
    (max / 16).clamp(1, 1 << 16)
}

/// The free bits of an IV layout and how they get filled.
fn layout(
    generator: CK_GENERATOR_FUNCTION,
    fixed_bits: CK_ULONG,
    base: &[u8],
) -> Result<(usize, usize, Fill)> {
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
    Ok((fixed, free, fill))
}

/// The next IV for `key`: the first `fixed_bits` bits of `base`, the rest generated as
/// `generator` asks. With `Source::Token` and no reserved value left: `NEED_BLOCK`.
pub fn generate(
    key: KeyId,
    source: Source,
    generator: CK_GENERATOR_FUNCTION,
    fixed_bits: CK_ULONG,
    base: &[u8],
) -> Result<Vec<u8>> {
    let (fixed, free, fill) = layout(generator, fixed_bits, base)?;
    let mut fresh = vec![0u8; base.len()];
    match fill {
        Fill::Counter { xor } => {
            let next = take(key, |u| {
                let Some(next) = u.counter.checked_add(1) else {
                    return Err(Error::new(CKR_KEY_EXHAUSTED));
                };
                // The value must fit the free bits, or it would wrap onto an earlier IV.
                if next > counter_max(free) {
                    return Err(Error::new(CKR_KEY_EXHAUSTED));
                }
                if let Source::Token(tag) = source {
                    match &u.block {
                        Some(b) if b.tag == tag && next < b.end => {}
                        _ => return Err(Error::new(NEED_BLOCK)),
                    }
                }
                u.counter = next;
                Ok(next)
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
                    return Err(Error::new(CKR_KEY_EXHAUSTED));
                }
                u.random += 1;
                Ok(())
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

/// Update the key's record under the lock.
fn take<T>(key: KeyId, f: impl FnOnce(&mut Used) -> Result<T>) -> Result<T> {
    let mut all = USED.lock();
    f(all.get_or_insert_with(HashMap::new).entry(key).or_default())
}

/// After `NEED_BLOCK`: reserve the next block of counter values for `key` of token key `tag`
/// through `reserve(floor, max, want)` (the token file's write transaction, run without the
/// table lock), and make it the key's block. `None` from `reserve`: the values up to `max`
/// are all taken, `CKR_KEY_EXHAUSTED`.
pub fn refill(
    key: KeyId,
    tag: [u8; 32],
    generator: CK_GENERATOR_FUNCTION,
    fixed_bits: CK_ULONG,
    base: &[u8],
    reserve: impl FnOnce(u64, u64, u64) -> Result<Option<crate::store::IvBlock>>,
) -> Result<()> {
    let (_, free, _) = layout(generator, fixed_bits, base)?;
    let max = counter_max(free);
    let floor = take(key, |u| Ok(u.counter.saturating_add(1)))?;
    let Some(b) = reserve(floor, max, block_len(max))? else {
        return fail(CKR_KEY_EXHAUSTED);
    };
    take(key, |u| {
        // Another thread may have taken a later block meanwhile: then this one is dropped
        // (values are skipped, never repeated) and the caller tries again.
        if b.start > u.counter {
            u.counter = b.start - 1;
            u.block = Some(Reserved {
                tag,
                end: b.start.saturating_add(b.len),
            });
        }
        Ok(())
    })
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
        let a = generate(k, Source::Process, CKG_GENERATE_COUNTER, 32, &base)?;
        let b = generate(k, Source::Process, CKG_GENERATE_COUNTER, 32, &base)?;
        assert_eq!(a[..4], [0xab; 4]);
        assert_eq!(a[4..], [0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(b[4..], [0, 0, 0, 0, 0, 0, 0, 2]);
        // 4 free bits: counter values 1..=15, then the key is exhausted for this layout.
        let k4 = key(b"iv unit test: 4 bits");
        for i in 1..16u8 {
            let iv = generate(k4, Source::Process, CKG_GENERATE_COUNTER, 92, &base)?;
            assert_eq!(iv[11], 0xa0 | i);
        }
        let e = generate(k4, Source::Process, CKG_GENERATE_COUNTER, 92, &base).err();
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
            let e = generate(k, Source::Process, g, fixed, &[0; 12]).err();
            assert_eq!(
                e.map(|e| e.rv()),
                Some(CKR_MECHANISM_PARAM_INVALID),
                "{g} {fixed}"
            );
        }
    }

    #[test]
    fn token_counters_come_from_reserved_blocks() -> Result<()> {
        let k = key(b"iv unit test: blocks");
        let tag = [7u8; 32];
        let base = [0u8; 12];
        let gen = |k| generate(k, Source::Token(tag), CKG_GENERATE_COUNTER, 32, &base);
        assert_eq!(gen(k).err().map(|e| e.rv()), Some(NEED_BLOCK));
        // Another process holds 1..=10: the block starts at 11.
        refill(
            k,
            tag,
            CKG_GENERATE_COUNTER,
            32,
            &base,
            |floor, max, want| {
                assert_eq!((floor, max, want), (1, u64::MAX, 1 << 16));
                Ok(Some(crate::store::IvBlock { start: 11, len: 2 }))
            },
        )?;
        assert_eq!(gen(k)?[8..], [0, 0, 0, 11]);
        assert_eq!(gen(k)?[8..], [0, 0, 0, 12]);
        assert_eq!(gen(k).err().map(|e| e.rv()), Some(NEED_BLOCK));
        // A stale block below what was used is not taken.
        refill(k, tag, CKG_GENERATE_COUNTER, 32, &base, |floor, _, _| {
            assert_eq!(floor, 13);
            Ok(Some(crate::store::IvBlock { start: 5, len: 100 }))
        })?;
        assert_eq!(gen(k).err().map(|e| e.rv()), Some(NEED_BLOCK));
        let e = refill(k, tag, CKG_GENERATE_COUNTER, 32, &base, |_, _, _| Ok(None)).err();
        assert_eq!(e.map(|e| e.rv()), Some(CKR_KEY_EXHAUSTED));
        assert_eq!(block_len(255), 15);
        assert_eq!(block_len(1), 1);
        assert_eq!(block_len(u64::MAX), 1 << 16);
        Ok(())
    }

    #[test]
    fn random_ivs_are_bounded() {
        assert_eq!(random_limit(64), 1 << 16);
        assert_eq!(random_limit(96), 1 << 32);
        assert_eq!(random_limit(128), 1 << 32);
    }
}
