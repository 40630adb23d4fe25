//! The on-disk encoding of an object's attributes: fixed-width little-endian integers, so a token
//! file moves between machines; secret values sealed one by one with AES-256-GCM, the associated
//! data binding the object id and the attribute type (design.md, "Storage").

use crate::crypto::{self, Aead256};
use crate::object::attr::{AttrValue, Attribute, Attributes};
use cryptoki_sys::CK_ATTRIBUTE_TYPE;
use zeroize::Zeroizing;

const FORMAT: u8 = 1;
const PLAIN: u8 = 0;
const SEALED: u8 = 1;
const CHECK_LEN: usize = 8;

/// Why a stored blob could not be decoded: damage (or tampering) of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    Malformed(&'static str),
    /// A sealed attribute did not authenticate: changed, moved to another object, or made under
    /// another key.
    Unauthentic(CK_ATTRIBUTE_TYPE),
}

/// An object as read from disk. Sealed values that could not be opened (no key before login) are
/// kept verbatim, so an update can write them back unchanged.
#[derive(Debug, Default)]
pub struct Decoded {
    pub attrs: Attributes,
    pub withheld: Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)>,
}

/// A `CK_ULONG` widened to the module's fixed 64 bits (a no-op where `unsigned long` is 64-bit).
#[allow(clippy::useless_conversion)]
pub fn widen(v: CK_ATTRIBUTE_TYPE) -> u64 {
    u64::from(v)
}

/// A `CK_ULONG` at the fixed width of the file format, whatever the platform's `unsigned long`.
#[allow(clippy::useless_conversion)]
pub fn fixed(v: CK_ATTRIBUTE_TYPE) -> [u8; 8] {
    u64::from(v).to_le_bytes()
}

fn aad(object_id: u64, ty: CK_ATTRIBUTE_TYPE) -> [u8; 24] {
    let mut a = [0u8; 24];
    a[..8].copy_from_slice(b"fhsmattr");
    a[8..16].copy_from_slice(&object_id.to_le_bytes());
    a[16..].copy_from_slice(&fixed(ty));
    a
}

fn put_value(out: &mut Vec<u8>, v: &AttrValue) {
    match v {
        AttrValue::Bool(b) => {
            out.push(0);
            out.push(u8::from(*b));
        }
        AttrValue::Ulong(u) => {
            out.push(1);
            out.extend_from_slice(&u.to_le_bytes());
        }
        AttrValue::Bytes(b) => {
            out.push(2);
            out.extend_from_slice(b);
        }
        AttrValue::Template(t) => {
            out.push(3);
            out.extend_from_slice(&(t.len() as u32).to_le_bytes());
            for a in t {
                let mut inner = Zeroizing::new(Vec::new());
                put_value(&mut inner, &a.value);
                out.extend_from_slice(&fixed(a.ty));
                out.extend_from_slice(&(inner.len() as u32).to_le_bytes());
                out.extend_from_slice(&inner);
            }
        }
        AttrValue::Mechanisms(m) => {
            out.push(4);
            for x in m {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.0.len() < n {
            return Err(DecodeError::Malformed("truncated"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
}

fn get_value(bytes: &[u8], depth: u8) -> Result<AttrValue, DecodeError> {
    let mut r = Reader(bytes);
    let v = match r.u8()? {
        0 => match r.take(1)?[0] {
            0 => AttrValue::Bool(false),
            1 => AttrValue::Bool(true),
            _ => return Err(DecodeError::Malformed("bool")),
        },
        1 => AttrValue::Ulong(r.u64()?),
        2 => AttrValue::Bytes(r.take(r.0.len())?.to_vec()),
        3 if depth == 0 => {
            let n = r.u32()?;
            let mut t = Vec::new();
            for _ in 0..n {
                let ty = r.u64()? as CK_ATTRIBUTE_TYPE;
                let len = r.u32()? as usize;
                t.push(Attribute::new(ty, get_value(r.take(len)?, depth + 1)?));
            }
            AttrValue::Template(t)
        }
        4 => {
            if r.0.len() % 8 != 0 {
                return Err(DecodeError::Malformed("mechanism list"));
            }
            let mut m = Vec::new();
            while !r.0.is_empty() {
                m.push(r.u64()?);
            }
            AttrValue::Mechanisms(m)
        }
        _ => return Err(DecodeError::Malformed("value tag")),
    };
    if !r.0.is_empty() {
        return Err(DecodeError::Malformed("trailing bytes"));
    }
    Ok(v)
}

/// Encode an object. `seal_all` seals every attribute (private objects); otherwise only those
/// `is_secret` names. Secret values need `key`; without it, `Err(())` (the caller reports
/// `CKR_USER_NOT_LOGGED_IN`).
pub fn encode(
    object_id: u64,
    obj: &Decoded,
    seal_all: bool,
    is_secret: impl Fn(CK_ATTRIBUTE_TYPE) -> bool,
    key: Option<&Aead256>,
) -> Result<Vec<u8>, EncodeError> {
    let mut out = vec![FORMAT];
    let count = obj.attrs.len() + obj.withheld.len();
    out.extend_from_slice(&(count as u32).to_le_bytes());
    let mut plain = Zeroizing::new(Vec::new());
    for (ty, v) in obj.attrs.iter() {
        plain.clear();
        put_value(&mut plain, v);
        out.extend_from_slice(&fixed(ty));
        if seal_all || is_secret(ty) {
            let k = key.ok_or(EncodeError::NeedKey)?;
            let sealed = k
                .seal(&aad(object_id, ty), &plain)
                .map_err(EncodeError::Crypto)?;
            out.push(SEALED);
            out.extend_from_slice(&(sealed.len() as u32).to_le_bytes());
            out.extend_from_slice(&sealed);
        } else {
            out.push(PLAIN);
            out.extend_from_slice(&(plain.len() as u32).to_le_bytes());
            out.extend_from_slice(&plain);
        }
    }
    for (ty, sealed) in &obj.withheld {
        out.extend_from_slice(&fixed(*ty));
        out.push(SEALED);
        out.extend_from_slice(&(sealed.len() as u32).to_le_bytes());
        out.extend_from_slice(sealed);
    }
    // A checksum over the whole blob catches damage to plain values, which carry no tag.
    let check = crypto::sha256(&[&out]);
    out.extend_from_slice(&check[..CHECK_LEN]);
    Ok(out)
}

#[derive(Debug)]
pub enum EncodeError {
    NeedKey,
    Crypto(crate::error::Error),
}

/// Decode an object. Sealed values are opened with `key` when given, else kept withheld.
/// A decoded value must have the shape its attribute type has (and so must the attributes of
/// a template): the file is only checksummed where it is public, and the C layer writes values
/// into caller buffers by their shape, so a label stored as a template must not get through.
fn shaped(ty: CK_ATTRIBUTE_TYPE, v: AttrValue) -> Result<AttrValue, DecodeError> {
    let ok = crate::object::attr::check_shape(ty, &v).is_ok()
        && match &v {
            AttrValue::Template(t) => t
                .iter()
                .all(|a| crate::object::attr::check_shape(a.ty, &a.value).is_ok()),
            _ => true,
        };
    if ok {
        Ok(v)
    } else {
        Err(DecodeError::Malformed(
            "value of the wrong kind for its attribute",
        ))
    }
}

pub fn decode(object_id: u64, blob: &[u8], key: Option<&Aead256>) -> Result<Decoded, DecodeError> {
    if blob.len() < 1 + 4 + CHECK_LEN {
        return Err(DecodeError::Malformed("short blob"));
    }
    let (body, check) = blob.split_at(blob.len() - CHECK_LEN);
    if crypto::sha256(&[body])[..CHECK_LEN] != *check {
        return Err(DecodeError::Malformed("checksum"));
    }
    let mut r = Reader(body);
    if r.u8()? != FORMAT {
        return Err(DecodeError::Malformed("format version"));
    }
    let n = r.u32()?;
    let mut d = Decoded::default();
    for _ in 0..n {
        let ty = r.u64()? as CK_ATTRIBUTE_TYPE;
        let form = r.u8()?;
        let len = r.u32()? as usize;
        let data = r.take(len)?;
        if d.attrs.contains(ty) || d.withheld.iter().any(|(t, _)| *t == ty) {
            return Err(DecodeError::Malformed("duplicate attribute"));
        }
        match (form, key) {
            (PLAIN, _) => d.attrs.set(ty, shaped(ty, get_value(data, 0)?)?),
            (SEALED, Some(k)) => {
                let plain = k
                    .open(&aad(object_id, ty), data)
                    .ok_or(DecodeError::Unauthentic(ty))?;
                d.attrs.set(ty, shaped(ty, get_value(&plain, 0)?)?);
            }
            (SEALED, None) => d.withheld.push((ty, data.to_vec())),
            _ => return Err(DecodeError::Malformed("attribute form")),
        }
    }
    if !r.0.is_empty() {
        return Err(DecodeError::Malformed("trailing bytes"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cryptoki_sys::*;

    fn sample() -> Decoded {
        let mut a = Attributes::new();
        a.set(CKA_CLASS, AttrValue::Ulong(CKO_SECRET_KEY));
        a.set(CKA_TOKEN, AttrValue::Bool(true));
        a.set(CKA_LABEL, AttrValue::Bytes(b"lbl".to_vec()));
        a.set(CKA_VALUE, AttrValue::Bytes(vec![0xAB; 32]));
        a.set(CKA_ALLOWED_MECHANISMS, AttrValue::Mechanisms(vec![1, 2]));
        a.set(
            CKA_WRAP_TEMPLATE,
            AttrValue::Template(vec![Attribute::bool(CKA_SENSITIVE, true)]),
        );
        Decoded {
            attrs: a,
            withheld: vec![],
        }
    }

    #[test]
    fn roundtrip_with_and_without_key() {
        let k = Aead256::new(&[1; 32]);
        let obj = sample();
        let blob = encode(5, &obj, false, |t| t == CKA_VALUE, Some(&k)).unwrap_or_default();
        assert!(
            !blob.windows(32).any(|w| w == [0xAB; 32]),
            "secret value stored in clear"
        );
        let back = decode(5, &blob, Some(&k));
        assert_eq!(back.as_ref().map(|d| &d.attrs).ok(), Some(&obj.attrs));
        let public = decode(5, &blob, None).unwrap_or_default();
        assert!(public.attrs.get(CKA_VALUE).is_none());
        assert_eq!(public.withheld.len(), 1);
        // Written back without the key, the withheld value survives intact.
        let again = encode(5, &public, false, |t| t == CKA_VALUE, None).unwrap_or_default();
        assert_eq!(
            decode(5, &again, Some(&k)).map(|d| d.attrs).ok(),
            Some(obj.attrs)
        );
    }

    #[test]
    fn tamper_and_move_are_detected() {
        let k = Aead256::new(&[1; 32]);
        let blob = encode(5, &sample(), true, |_| false, Some(&k)).unwrap_or_default();
        assert!(matches!(
            decode(6, &blob, Some(&k)),
            Err(DecodeError::Unauthentic(_))
        ));
        for i in 0..blob.len() {
            let mut t = blob.clone();
            t[i] ^= 0x40;
            assert!(decode(5, &t, Some(&k)).is_err(), "flip at {i} undetected");
        }
        assert!(decode(5, &blob[..blob.len() - 1], Some(&k)).is_err());
        assert!(encode(5, &sample(), true, |_| false, None).is_err());
    }
}
