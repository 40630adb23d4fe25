//! The miscellaneous simple key derivations (Current Mechanisms v3.0 §2.43):
//! CKM_CONCATENATE_BASE_AND_KEY, CKM_CONCATENATE_BASE_AND_DATA, CKM_CONCATENATE_DATA_AND_BASE,
//! CKM_XOR_BASE_AND_DATA and CKM_EXTRACT_KEY_FROM_KEY. Their results hold the base keys' bytes
//! as they are, so what the new key keeps of its bases' protection is imposed by
//! `object::policy::copied_protection`, and a protected base is never cut short
//! (`object::policy::may_shorten`).

use super::{bad_param, Entry, Family, Mechanism};
use crate::crypto::kdf::MAX_DERIVED_LEN;
use crate::error::{fail, Error, Result};
use crate::ffi::mech::Param;
use crate::object::attr::Attributes;
use crate::object::policy;
use cryptoki_sys::*;
use zeroize::Zeroizing;

pub(super) struct SimpleDerive;

static ENTRIES: &[Entry] = &[
    (CKM_CONCATENATE_BASE_AND_KEY, 1, 512, CKF_DERIVE),
    (CKM_CONCATENATE_BASE_AND_DATA, 1, 512, CKF_DERIVE),
    (CKM_CONCATENATE_DATA_AND_BASE, 1, 512, CKF_DERIVE),
    (CKM_XOR_BASE_AND_DATA, 1, 512, CKF_DERIVE),
    (CKM_EXTRACT_KEY_FROM_KEY, 1, 512, CKF_DERIVE),
];

impl Family for SimpleDerive {
    fn entries(&self) -> &'static [Entry] {
        ENTRIES
    }

    fn parse(&self, ty: CK_MECHANISM_TYPE, p: &Param) -> Result<Mechanism> {
        use Mechanism as M;
        let data = |p: &Param| -> Result<Vec<u8>> {
            let d: CK_KEY_DERIVATION_STRING_DATA = p.get()?;
            p.blob(d.pData, d.ulLen)
        };
        Ok(match ty {
            CKM_CONCATENATE_BASE_AND_KEY => M::ConcatenateBaseAndKey {
                other: p.get::<CK_OBJECT_HANDLE>()?,
            },
            CKM_CONCATENATE_BASE_AND_DATA => M::ConcatenateBaseAndData { data: data(p)? },
            CKM_CONCATENATE_DATA_AND_BASE => M::ConcatenateDataAndBase { data: data(p)? },
            CKM_XOR_BASE_AND_DATA => M::XorBaseAndData { data: data(p)? },
            CKM_EXTRACT_KEY_FROM_KEY => M::ExtractKeyFromKey {
                bit: p.get::<CK_EXTRACT_PARAMS>()?,
            },
            _ => return fail(CKR_MECHANISM_INVALID),
        })
    }

    fn derive(
        &self,
        mech: &Mechanism,
        base: &Attributes,
        other: Option<&Attributes>,
        len: Option<usize>,
    ) -> Option<Result<Zeroizing<Vec<u8>>>> {
        if !mech_family(mech) {
            return None;
        }
        let b = match value(base) {
            Ok(b) => b,
            Err(e) => return Some(Err(e)),
        };
        Some(match mech {
            Mechanism::ConcatenateBaseAndKey { .. } => other.ok_or_else(bad_param).and_then(|o| {
                let ov = value(o)?;
                whole(&[base, o], [b, ov].concat(), len)
            }),
            Mechanism::ConcatenateBaseAndData { data } => whole(&[base], [b, data].concat(), len),
            Mechanism::ConcatenateDataAndBase { data } => whole(&[base], [data, b].concat(), len),
            // §2.43: the XOR of the base and the data, as long as the shorter of the two.
            Mechanism::XorBaseAndData { data } => {
                if data.len() < b.len() {
                    // Only part of the base would reach the new key.
                    if let Err(e) = policy::may_shorten(&[base]) {
                        return Some(Err(e));
                    }
                }
                let x: Vec<u8> = b.iter().zip(data).map(|(k, d)| k ^ d).collect();
                whole(&[base], x, len)
            }
            Mechanism::ExtractKeyFromKey { bit } => extract(base, b, *bit, len),
            _ => return None,
        })
    }
}

fn mech_family(m: &Mechanism) -> bool {
    matches!(
        m,
        Mechanism::ConcatenateBaseAndKey { .. }
            | Mechanism::ConcatenateBaseAndData { .. }
            | Mechanism::ConcatenateDataAndBase { .. }
            | Mechanism::XorBaseAndData { .. }
            | Mechanism::ExtractKeyFromKey { .. }
    )
}

/// The value of a secret key of any type.
fn value(key: &Attributes) -> Result<&[u8]> {
    if key.class() != Some(CKO_SECRET_KEY) {
        return fail(CKR_KEY_TYPE_INCONSISTENT);
    }
    key.bytes(CKA_VALUE)
        .ok_or(Error::new(CKR_KEY_TYPE_INCONSISTENT))
}

/// The first `len` bytes of `v` (all of it without a length): asking for more than there is
/// is CKR_TEMPLATE_INCONSISTENT (§2.43: "an error is generated"); fewer is allowed only when
/// no base is protected.
fn whole(keys: &[&Attributes], v: Vec<u8>, len: Option<usize>) -> Result<Zeroizing<Vec<u8>>> {
    let mut v = Zeroizing::new(v);
    if v.is_empty() || v.len() > MAX_DERIVED_LEN {
        return fail(CKR_KEY_SIZE_RANGE);
    }
    if let Some(l) = len {
        if l > v.len() {
            return fail(CKR_TEMPLATE_INCONSISTENT);
        }
        if l < v.len() {
            policy::may_shorten(keys)?;
        }
        v.truncate(l);
    }
    Ok(v)
}

/// §2.43 CKM_EXTRACT_KEY_FROM_KEY: `len` bytes of the base's bits from bit `bit` (bit 0 is the
/// most significant bit of the first byte), wrapping around past the last bit. The length is
/// required (a generic secret has no length of its own) and at most the base's.
fn extract(
    base: &Attributes,
    b: &[u8],
    bit: CK_ULONG,
    len: Option<usize>,
) -> Result<Zeroizing<Vec<u8>>> {
    let len = len.ok_or(Error::new(CKR_TEMPLATE_INCOMPLETE))?;
    if len > b.len() {
        return fail(CKR_TEMPLATE_INCONSISTENT);
    }
    if len < b.len() {
        policy::may_shorten(&[base])?;
    }
    let total = b.len() as u64 * 8;
    let start = bit % total;
    let bit_at = |i: u64| -> u8 {
        let j = (start + i) % total;
        (b[(j / 8) as usize] >> (7 - (j % 8))) & 1
    };
    let mut out = Zeroizing::new(vec![0u8; len]);
    for (n, byte) in out.iter_mut().enumerate() {
        for k in 0..8 {
            *byte = (*byte << 1) | bit_at(n as u64 * 8 + k);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::object::attr::AttrValue;

    fn key(v: &[u8], sensitive: bool) -> Attributes {
        let mut a = Attributes::new();
        a.set(CKA_CLASS, AttrValue::Ulong(CKO_SECRET_KEY));
        a.set(CKA_VALUE, AttrValue::Bytes(v.to_vec()));
        a.set(CKA_SENSITIVE, AttrValue::Bool(sensitive));
        a.set(CKA_EXTRACTABLE, AttrValue::Bool(true));
        a
    }

    // The example of the spec (§2.43.6, CKM_EXTRACT_KEY_FROM_KEY): base 0x329F84A9, bit 21,
    // two bytes give 0x9526.
    #[test]
    fn extract_wraps_around() {
        let base = key(&[0x32, 0x9f, 0x84, 0xa9], false);
        let out = extract(&base, &[0x32, 0x9f, 0x84, 0xa9], 21, Some(2)).unwrap();
        assert_eq!(*out, vec![0x95, 0x26]);
        // From a protected base only the whole key, rotated, may be extracted.
        let secret = key(&[0x32, 0x9f, 0x84, 0xa9], true);
        let e = extract(&secret, &[0x32, 0x9f, 0x84, 0xa9], 21, Some(2)).unwrap_err();
        assert_eq!(e.rv(), CKR_KEY_FUNCTION_NOT_PERMITTED);
        assert!(extract(&secret, &[0x32, 0x9f, 0x84, 0xa9], 8, Some(4)).is_ok());
    }
}
