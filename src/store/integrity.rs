//! Tamper evidence of the token file as a whole (schema 2; PKCS#11 v3.0 §4.4 token objects,
//! design.md "Storage"): a MAC over each object row, a secret digest over the set of rows, and a
//! MAC over the meta rows that matter, all under keys derived from the master key.
//!
//! Per-attribute sealing alone let an attacker drop a sealed attribute, flip the `private`
//! column or put back an older row. The row MAC covers every attribute (public ones too), the
//! private flag, the index columns and the generation; the object-set digest (an XOR of keyed
//! PRF values over (id, generation, row MAC), kept sealed so nobody without the key learns any
//! of its terms) makes one row rolled back relative to the others show; the meta MAC covers the
//! token's own facts. Everything is checked only once a PIN has given the master key: before
//! login nothing can be checked with a key.

use super::backend::Txn;
use super::{MasterKey, Row};
use crate::crypto;
use crate::error::{Error, Result};
use zeroize::Zeroizing;

/// Meta rows under the meta MAC. Left out on purpose: the failure counters (`so_failures`,
/// `user_failures`), which change before any key is known (a failed login), and which only
/// slow down online guessing: whoever can edit the file can guess offline anyway. `meta_mac`
/// itself is the MAC.
pub const COVERED_META: [&str; 10] = [
    "schema_version",
    "serial",
    "slot_id",
    "created",
    "label",
    "next_object_id",
    "epoch",
    "so_wrap",
    "user_wrap",
    "object_set",
];

/// Meta rows under the meta MAC when they exist. A file written before a row was introduced
/// lacks it and its MAC never covered it, so such a row counts only when present: adding one to
/// such a file, or removing or changing one that was there, breaks the MAC all the same.
pub const OPTIONAL_META: [&str; 1] = [super::POLICY_KEY];

const SET_AAD: &[u8] = b"fhsm object set v2";

/// The keys of the integrity checks, each derived from the master key for its one use.
pub struct Keys {
    row: Zeroizing<[u8; 32]>,
    set: Zeroizing<[u8; 32]>,
    meta: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("integrity::Keys(..)")
    }
}

impl Keys {
    pub fn derive(raw: &[u8; 32]) -> Keys {
        let k = |label: &[u8]| Zeroizing::new(crypto::hmac_sha256(raw, &[label]));
        Keys {
            row: k(b"ferrohsm row mac v2"),
            set: k(b"ferrohsm object set v2"),
            meta: k(b"ferrohsm meta mac v2"),
        }
    }
}

fn opt(v: Option<i64>) -> [u8; 9] {
    let mut a = [0u8; 9];
    if let Some(v) = v {
        a[0] = 1;
        a[1..].copy_from_slice(&v.to_le_bytes());
    }
    a
}

/// The MAC of one object row: everything the row holds except the MAC itself.
#[allow(clippy::too_many_arguments)]
pub fn row_mac(
    m: &MasterKey,
    id: u64,
    private: bool,
    gen: i64,
    class_hash: i64,
    id_hash: Option<i64>,
    label_hash: Option<i64>,
    blob: &[u8],
) -> [u8; 32] {
    crypto::hmac_sha256(
        m.integrity().row.as_ref(),
        &[
            b"fhsm row v2",
            &id.to_le_bytes(),
            &[u8::from(private)],
            &gen.to_le_bytes(),
            &class_hash.to_le_bytes(),
            &opt(id_hash),
            &opt(label_hash),
            &(blob.len() as u64).to_le_bytes(),
            blob,
        ],
    )
}

/// Check a row read from the file against its MAC.
pub fn verify_row(m: &MasterKey, row: &Row) -> Result<()> {
    let want = row_mac(
        m,
        row.id,
        row.private,
        row.gen,
        row.cols.class,
        row.cols.id,
        row.cols.label,
        &row.blob,
    );
    match row.mac.as_deref() {
        Some(mac) if bool::from(subtle::ConstantTimeEq::ct_eq(&want[..], mac)) => Ok(()),
        _ => Err(Error::device(format_args!(
            "object {} failed authentication (edited, moved or rolled back)",
            row.id
        ))),
    }
}

/// The term of one row in the object-set digest.
pub fn element(m: &MasterKey, id: u64, gen: i64, private: bool, mac: &[u8]) -> [u8; 32] {
    crypto::hmac_sha256(
        m.integrity().set.as_ref(),
        &[
            b"fhsm set term v2",
            &id.to_le_bytes(),
            &gen.to_le_bytes(),
            &[u8::from(private)],
            mac,
        ],
    )
}

/// XOR a term into (or out of) a digest.
pub fn toggle(digest: &mut [u8; 32], term: &[u8; 32]) {
    for (d, t) in digest.iter_mut().zip(term) {
        *d ^= t;
    }
}

fn compute_meta_mac(conn: &Txn<'_>, m: &MasterKey) -> Result<[u8; 32]> {
    let mut enc = Vec::new();
    for key in COVERED_META {
        enc.extend_from_slice(&(key.len() as u32).to_le_bytes());
        enc.extend_from_slice(key.as_bytes());
        match conn.meta(key)? {
            Some(v) => {
                enc.push(1);
                enc.extend_from_slice(&(v.len() as u64).to_le_bytes());
                enc.extend_from_slice(&v);
            }
            None => enc.push(0),
        }
    }
    for key in OPTIONAL_META {
        if let Some(v) = conn.meta(key)? {
            enc.extend_from_slice(&(key.len() as u32).to_le_bytes());
            enc.extend_from_slice(key.as_bytes());
            enc.push(1);
            enc.extend_from_slice(&(v.len() as u64).to_le_bytes());
            enc.extend_from_slice(&v);
        }
    }
    Ok(crypto::hmac_sha256(
        m.integrity().meta.as_ref(),
        &[b"fhsm meta v2", &enc],
    ))
}

/// Check the meta MAC: before any write re-MACs the meta rows, so a write never launders an
/// edit made behind the module's back.
pub fn check_meta(conn: &Txn<'_>, m: &MasterKey) -> Result<()> {
    let want = compute_meta_mac(conn, m)?;
    match conn.meta("meta_mac")? {
        Some(mac) if bool::from(subtle::ConstantTimeEq::ct_eq(&want[..], &mac[..])) => Ok(()),
        _ => Err(Error::device(
            "token meta rows failed authentication (edited or rolled back)",
        )),
    }
}

/// Write the meta MAC over the meta rows as they now are (inside the write transaction).
pub fn seal_meta(conn: &Txn<'_>, m: &MasterKey) -> Result<()> {
    let mac = compute_meta_mac(conn, m)?;
    conn.set_meta("meta_mac", &mac)
}

/// The object-set digest, opened.
pub fn object_set(conn: &Txn<'_>, m: &MasterKey) -> Result<Zeroizing<[u8; 32]>> {
    let sealed = conn
        .meta("object_set")?
        .ok_or_else(|| Error::device("object-set digest missing"))?;
    let plain = m
        .aead()
        .open(SET_AAD, &sealed)
        .ok_or_else(|| Error::device("object-set digest failed authentication"))?;
    let arr: [u8; 32] = plain
        .as_slice()
        .try_into()
        .map_err(|_| Error::device("object-set digest length"))?;
    Ok(Zeroizing::new(arr))
}

/// Add or remove terms of the object-set digest (XOR does both) inside a write transaction.
pub fn toggle_in_set(conn: &Txn<'_>, m: &MasterKey, terms: &[[u8; 32]]) -> Result<()> {
    let mut set = object_set(conn, m)?;
    for t in terms {
        toggle(&mut set, t);
    }
    put_object_set(conn, m, &set)
}

pub fn put_object_set(conn: &Txn<'_>, m: &MasterKey, digest: &[u8; 32]) -> Result<()> {
    let sealed = m.aead().seal(SET_AAD, digest)?;
    conn.set_meta("object_set", &sealed)
}

/// The digest of the rows as they are in the file (id, generation, MAC of each). Reads only
/// three small columns: no object is decoded.
pub fn digest_rows(conn: &Txn<'_>, m: &MasterKey) -> Result<Zeroizing<[u8; 32]>> {
    let mut d = Zeroizing::new([0u8; 32]);
    for r in conn.rows(false)? {
        let Some(mac) = r.mac else {
            // Rows written before any login carry no MAC and are not in the digest.
            if r.id >= super::PENDING_BASE {
                continue;
            }
            return Err(Error::device(format_args!("object {} has no MAC", r.id)));
        };
        toggle(&mut d, &element(m, r.id, r.gen, r.private, &mac));
    }
    // Rows deleted before login still count, once each is shown to be a public, destroyable
    // object as it was MAC'd.
    for row in conn.deleted()? {
        verify_row(m, &row)?;
        let obj = super::decode_row(&row, Some(m))?;
        let destroyable = !matches!(
            obj.attrs.get(cryptoki_sys::CKA_DESTROYABLE),
            Some(crate::object::attr::AttrValue::Bool(false))
        );
        if row.private || !destroyable {
            return Err(Error::device(format_args!(
                "object {} removed behind the module's back",
                row.id
            )));
        }
        let mac = row.mac.as_deref().unwrap_or_default();
        toggle(&mut d, &element(m, row.id, row.gen, false, mac));
    }
    Ok(d)
}

/// The whole-token check: meta rows and the set of object rows, in one read snapshot (the
/// caller holds a transaction), so a commit by another process in between is no false alarm.
pub fn verify_token(conn: &Txn<'_>, m: &MasterKey) -> Result<()> {
    check_meta(conn, m)?;
    let stored = object_set(conn, m)?;
    let actual = digest_rows(conn, m)?;
    if !bool::from(subtle::ConstantTimeEq::ct_eq(&stored[..], &actual[..])) {
        return Err(Error::device(
            "token objects do not match the object-set digest (a row added, removed or rolled back)",
        ));
    }
    Ok(())
}
