//! Reservations of IV counter values per key, so that counter IVs of message-based AEAD
//! (PKCS#11 v3.0 §5.11 C_EncryptMessage with CKG_GENERATE_COUNTER, CKG_GENERATE_COUNTER_XOR,
//! and CKG_GENERATE below 96 free bits) stay unique across processes and restarts.
//!
//! One row per key value: a tag (HMAC of the key value under a key derived from the master
//! key, so the file reveals nothing of the key and the same value on another token is another
//! key), the next counter value nobody has reserved, and a MAC over both under the same
//! derived key, so an edited row is refused (`CKR_DEVICE_ERROR`). A row put back to an older
//! copy, or deleted, cannot be told from the real thing without state outside the file (as
//! for a whole file rolled back). Which values to hand out and how many to reserve is the
//! business of `mechanism::iv`; this file only moves `next` forward, in one write transaction.

use super::backend::{Mode, RawTx};
use super::{MasterKey, TokenDb};
use crate::crypto;
use crate::error::{Error, Result};
use zeroize::Zeroizing;

/// The table, for new files and for the schema 1 → 2 migration.
pub const CREATE_TABLE: &str =
    "CREATE TABLE ivs (tag BLOB PRIMARY KEY, next BLOB NOT NULL, mac BLOB NOT NULL);";

/// The key of the reservation table, derived from the master key for this one use.
pub struct IvKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for IvKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IvKey(..)")
    }
}

impl IvKey {
    pub fn derive(raw: &[u8]) -> IvKey {
        IvKey(Zeroizing::new(crypto::hmac_sha256(
            raw,
            &[b"ferrohsm iv v1"],
        )))
    }

    fn mac(&self, tag: &[u8; 32], next: &[u8; 8]) -> [u8; 32] {
        crypto::hmac_sha256(self.0.as_ref(), &[b"row", tag, next])
    }
}

impl MasterKey {
    /// The tag of a key value in the reservation table of this token.
    pub fn iv_tag(&self, key_value: &[u8]) -> [u8; 32] {
        crypto::hmac_sha256(self.iv.0.as_ref(), &[b"tag", key_value])
    }
}

/// The first counter value of a reserved block and how many values it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub start: u64,
    pub len: u64,
}

impl TokenDb {
    /// Reserve up to `want` counter values for the key `tag`, none below `floor` (values this
    /// process already used) and none above `max`. `None`: nothing is left up to `max`.
    pub fn reserve_ivs(
        &mut self,
        master: &MasterKey,
        tag: &[u8; 32],
        floor: u64,
        max: u64,
        want: u64,
    ) -> Result<Option<Block>> {
        let tx = self.conn.begin(Mode::Write)?;
        let next = read(&*tx, &master.iv, tag)?.unwrap_or(1).max(floor).max(1);
        // `next` itself is stored, so the last value that can be handed out is u64::MAX - 1.
        let max = max.min(u64::MAX - 1);
        if next > max {
            return Ok(None);
        }
        let len = want.max(1).min(max - next + 1);
        write(&*tx, &master.iv, tag, next + len)?;
        tx.commit()?;
        Ok(Some(Block { start: next, len }))
    }
}

fn read(conn: &dyn RawTx, key: &IvKey, tag: &[u8; 32]) -> Result<Option<u64>> {
    let row = conn.iv(tag)?;
    let Some((next, mac)) = row else {
        return Ok(None);
    };
    let next: [u8; 8] = next
        .try_into()
        .map_err(|_| Error::device("IV reservation row damaged"))?;
    let want = key.mac(tag, &next);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(&want[..], &mac[..])) {
        return Err(Error::device(
            "IV reservation row failed authentication (tampered)",
        ));
    }
    Ok(Some(u64::from_be_bytes(next)))
}

fn write(conn: &dyn RawTx, key: &IvKey, tag: &[u8; 32], next: u64) -> Result<()> {
    let next = next.to_be_bytes();
    let mac = key.mac(tag, &next);
    conn.put_iv(tag, &next, &mac)
}
