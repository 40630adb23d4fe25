//! The key-based KDFs of NIST SP 800-108 (counter, feedback and double-pipeline modes) in the
//! form PKCS#11 v3.0 gives them (Current Mechanisms §2.42, CKM_SP800_108_*_KDF): the PRF input
//! of each iteration is the caller's list of fields in the caller's order, and one run may
//! fill several keys, each starting on a fresh PRF output ("no two keys share a segment").
//!
//! Written over this engine's HMAC and AES-CMAC, so both backends run the same code.

use super::aes;
use super::digest::{HashAlg, Hmac};
use crate::error::{Error, Result};
use cryptoki_sys::{CKR_KEY_SIZE_RANGE, CKR_MECHANISM_PARAM_INVALID};
use zeroize::Zeroizing;

/// The PRF: HMAC with a hash, or AES-CMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prf {
    Hmac(HashAlg),
    Cmac,
}

impl Prf {
    /// The PRF's output length `h`, in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Prf::Hmac(alg) => alg.output_len(),
            Prf::Cmac => 16,
        }
    }

    fn run(self, key: &[u8], parts: &[&[u8]]) -> Result<Zeroizing<Vec<u8>>> {
        match self {
            Prf::Hmac(alg) => {
                let mut h = Hmac::new(alg, key)?;
                for p in parts {
                    h.update(p);
                }
                Ok(h.finalize())
            }
            Prf::Cmac => {
                let mut c = aes::AesCmac::new(key, 16)?;
                for p in parts {
                    c.update(p);
                }
                Ok(Zeroizing::new(c.finalize()))
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Counter,
    Feedback,
    DoublePipeline,
}

/// An integer field: `bits` wide (8, 16, 24 or 32 for counters, up to 64 for lengths),
/// big- or little-endian.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntFormat {
    pub little_endian: bool,
    pub bits: u32,
}

impl IntFormat {
    fn encode(self, v: u64) -> Vec<u8> {
        let n = (self.bits / 8) as usize;
        let be = v.to_be_bytes();
        let mut out = be[8 - n..].to_vec();
        if self.little_endian {
            out.reverse();
        }
        out
    }
}

/// One field of the PRF input (CK_PRF_DATA_PARAM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// CK_SP800_108_ITERATION_VARIABLE: the counter `i` in counter mode (with its format);
    /// the chaining value K(i-1) in feedback mode and A(i) in double-pipeline mode.
    Iteration(Option<IntFormat>),
    /// CK_SP800_108_COUNTER: the optional counter of feedback and double-pipeline modes.
    Counter(IntFormat),
    /// CK_SP800_108_DKM_LENGTH: `L`, in bits, as the sum of the keys' lengths or of the PRF
    /// segments they use (`sum_of_segments`).
    DkmLength {
        format: IntFormat,
        sum_of_segments: bool,
    },
    /// CK_SP800_108_BYTE_ARRAY: the caller's bytes (label, separator, context...).
    Bytes(Vec<u8>),
}

/// Whether a field list is one the mode accepts (§2.42.x, each mode's data parameters):
/// exactly one iteration variable, which carries a counter format in counter mode and none
/// otherwise; at most one optional counter, never in counter mode; at most one DKM length.
/// Counters are 8 to 32 bits and lengths 8 to 64, whole bytes.
pub fn fields_valid(mode: Mode, fields: &[Field]) -> bool {
    let count = |f: fn(&Field) -> bool| fields.iter().filter(|x| f(x)).count();
    let width_ok = |f: &IntFormat, max| f.bits % 8 == 0 && f.bits >= 8 && f.bits <= max;
    let each_ok = fields.iter().all(|f| match f {
        Field::Iteration(Some(fmt)) => mode == Mode::Counter && width_ok(fmt, 32),
        Field::Iteration(None) => mode != Mode::Counter,
        Field::Counter(fmt) => mode != Mode::Counter && width_ok(fmt, 32),
        Field::DkmLength { format, .. } => width_ok(format, 64),
        Field::Bytes(_) => true,
    });
    each_ok
        && count(|f| matches!(f, Field::Iteration(_))) == 1
        && count(|f| matches!(f, Field::Counter(_))) <= 1
        && count(|f| matches!(f, Field::DkmLength { .. })) <= 1
}

fn round_up(n: usize, h: usize) -> usize {
    n.div_ceil(h) * h
}

/// Run the KDF keyed with `key` and cut its output into keys of `lens` bytes, each starting
/// on a fresh PRF segment. `iv` is feedback mode's K(0) (empty allowed). The fields must have
/// passed [`fields_valid`]; a counter too narrow for the iterations needed is
/// `CKR_MECHANISM_PARAM_INVALID` (SP 800-108 §5: n ≤ 2^r − 1), a total over
/// [`super::kdf::MAX_DERIVED_LEN`] or a zero-length key `CKR_KEY_SIZE_RANGE`.
pub fn derive(
    prf: Prf,
    mode: Mode,
    key: &[u8],
    fields: &[Field],
    iv: &[u8],
    lens: &[usize],
) -> Result<Vec<Zeroizing<Vec<u8>>>> {
    let h = prf.output_len();
    if lens.is_empty() || lens.contains(&0) {
        return Err(Error::new(CKR_KEY_SIZE_RANGE));
    }
    let sum_keys: usize = lens.iter().sum();
    let sum_segments: usize = lens.iter().map(|l| round_up(*l, h)).sum();
    if sum_segments > super::kdf::MAX_DERIVED_LEN {
        return Err(Error::new(CKR_KEY_SIZE_RANGE));
    }
    let n = sum_segments / h;
    let counter_bits = fields
        .iter()
        .find_map(|f| match f {
            Field::Iteration(Some(fmt)) | Field::Counter(fmt) => Some(fmt.bits),
            _ => None,
        })
        .unwrap_or(32);
    if (n as u64) >= (1u64 << counter_bits) {
        return Err(Error::new(CKR_MECHANISM_PARAM_INVALID));
    }
    // Built once: each iteration only changes the counter and the chaining value.
    let encode = |f: &Field, i: u64, chain: &[u8], pipeline_seed: bool| -> Vec<u8> {
        match f {
            Field::Iteration(Some(fmt)) => fmt.encode(i),
            Field::Iteration(None) => chain.to_vec(),
            Field::Counter(_) if pipeline_seed => Vec::new(),
            Field::Counter(fmt) => fmt.encode(i),
            Field::DkmLength {
                format,
                sum_of_segments,
            } => {
                let l = if *sum_of_segments {
                    sum_segments
                } else {
                    sum_keys
                } as u64;
                format.encode(l.wrapping_mul(8))
            }
            Field::Bytes(b) => b.clone(),
        }
    };
    let input = |i: u64, chain: &[u8], seed: bool| -> Vec<Vec<u8>> {
        fields.iter().map(|f| encode(f, i, chain, seed)).collect()
    };
    let mut out = Zeroizing::new(Vec::with_capacity(sum_segments));
    let mut chain = Zeroizing::new(iv.to_vec());
    for i in 1..=n as u64 {
        let block = match mode {
            Mode::Counter => run(prf, key, &input(i, &[], false))?,
            Mode::Feedback => {
                let k = run(prf, key, &input(i, &chain, false))?;
                chain = Zeroizing::new(k.to_vec());
                k
            }
            Mode::DoublePipeline => {
                // A(1) = PRF(A(0)) where A(0) is the fixed input without counter or chain;
                // A(i) = PRF(A(i-1)); K(i) = PRF(A(i) {|| i} || fixed input).
                let a = if i == 1 {
                    run(prf, key, &input(i, &[], true))?
                } else {
                    prf.run(key, &[&chain])?
                };
                chain = Zeroizing::new(a.to_vec());
                run(prf, key, &input(i, &chain, false))?
            }
        };
        out.extend_from_slice(&block);
    }
    let mut keys = Vec::with_capacity(lens.len());
    let mut at = 0;
    for &l in lens {
        keys.push(Zeroizing::new(out[at..at + l].to_vec()));
        at += round_up(l, h);
    }
    Ok(keys)
}

fn run(prf: Prf, key: &[u8], parts: &[Vec<u8>]) -> Result<Zeroizing<Vec<u8>>> {
    let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    prf.run(key, &parts)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::crypto::digest::hex;

    const BE32: IntFormat = IntFormat {
        little_endian: false,
        bits: 32,
    };

    fn bytes(s: &str) -> Field {
        Field::Bytes(hex(s))
    }

    // NIST CAVP KBKDF (KDFCTR_gen.rsp), [PRF=CMAC_AES128] [CTRLOCATION=BEFORE_FIXED]
    // [RLEN=8_BITS], L=128, COUNT=0.
    #[test]
    fn cavp_counter_cmac_aes128() {
        let ki = hex("dff1e50ac0b69dc40f1051d46c2b069c");
        let fixed = "c16e6e02c5a3dcc8d78b9ac1306877761310455b4e41469951d9e6c2245a064b33fd8c3b01203a7824485bf0a64060c4648b707d2607935699316ea5";
        let r8 = IntFormat {
            little_endian: false,
            bits: 8,
        };
        let out = derive(
            Prf::Cmac,
            Mode::Counter,
            &ki,
            &[Field::Iteration(Some(r8)), bytes(fixed)],
            &[],
            &[16],
        )
        .unwrap();
        assert_eq!(*out[0], hex("8be8f0869b3c0ba97b71863d1b9f7813"));
        // Two keys each start on their own CMAC block: the second is block 2 of a longer run.
        let two = derive(
            Prf::Cmac,
            Mode::Counter,
            &ki,
            &[Field::Iteration(Some(BE32)), bytes(fixed)],
            &[],
            &[5, 16],
        )
        .unwrap();
        let long = derive(
            Prf::Cmac,
            Mode::Counter,
            &ki,
            &[Field::Iteration(Some(BE32)), bytes(fixed)],
            &[],
            &[32],
        )
        .unwrap();
        assert_eq!(*two[0], long[0][..5]);
        assert_eq!(*two[1], long[0][16..]);
    }

    #[test]
    fn formats_and_validation() {
        let le16 = IntFormat {
            little_endian: true,
            bits: 16,
        };
        assert_eq!(le16.encode(0x0102), vec![2, 1]);
        assert_eq!(BE32.encode(1), vec![0, 0, 0, 1]);
        let it = Field::Iteration(Some(BE32));
        assert!(fields_valid(Mode::Counter, std::slice::from_ref(&it)));
        assert!(!fields_valid(Mode::Counter, &[]));
        assert!(!fields_valid(Mode::Counter, &[it.clone(), it.clone()]));
        assert!(!fields_valid(Mode::Feedback, std::slice::from_ref(&it)));
        assert!(!fields_valid(Mode::Counter, &[it, Field::Counter(BE32)]));
        assert!(fields_valid(
            Mode::DoublePipeline,
            &[Field::Iteration(None), Field::Counter(BE32)]
        ));
        let narrow = IntFormat {
            little_endian: false,
            bits: 8,
        };
        // 256 iterations do not fit an 8-bit counter.
        assert!(derive(
            Prf::Cmac,
            Mode::Counter,
            &[0; 16],
            &[Field::Iteration(Some(narrow))],
            &[],
            &[16 * 256]
        )
        .is_err());
    }
}
