//! Writing object rows (PKCS#11 v3.0 §5.7 C_CreateObject, C_CopyObject, C_SetAttributeValue,
//! C_DestroyObject and every function that stores a key): each write in one IMMEDIATE
//! transaction that checks what the write depends on, re-MACs the row, and updates the
//! object-set digest and the meta MAC (see `integrity`).

use super::{codec::Decoded, CONFLICT};
use super::{decode_row, encode_obj, integrity, IndexCols, MasterKey, Replacement, Row, TokenDb};
use crate::error::{fail, Error, Result};
use cryptoki_sys::*;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

/// Ids of pending rows (written before any login) start here, apart from the MAC'd ones.
pub const PENDING_BASE: u64 = 1 << 62;

/// A row written before any login: no MAC, an id of the pending range.
pub fn is_pending(row: &Row) -> bool {
    row.mac.is_none() && row.id >= PENDING_BASE
}

impl TokenDb {
    /// Objects this write depends on must still be at the generation read: checked inside the
    /// write transaction, so a decision taken on a copy another process has since changed is
    /// never committed (`CONFLICT`; the module re-reads and decides again).
    fn check_expected(tx: &Connection, expect: &[(u64, i64)]) -> Result<()> {
        let mut st = tx.prepare_cached("SELECT gen FROM objects WHERE id = ?1")?;
        for (id, gen) in expect {
            let now: Option<i64> = st.query_row([*id as i64], |r| r.get(0)).optional()?;
            if now != Some(*gen) {
                return fail(CONFLICT);
            }
        }
        Ok(())
    }

    fn require_integrity(&self) -> Result<()> {
        if self.schema < 2 {
            return Err(Error::device("token file not migrated to schema 2"));
        }
        Ok(())
    }

    /// Store a new object; returns its id.
    #[allow(clippy::too_many_arguments)]
    pub fn insert(
        &mut self,
        obj: &Decoded,
        private: bool,
        cols: IndexCols,
        is_secret: impl Fn(CK_ATTRIBUTE_TYPE) -> bool,
        master: &MasterKey,
        expect: &[(u64, i64)],
    ) -> Result<u64> {
        self.require_integrity()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        Self::check_expected(&tx, expect)?;
        integrity::check_meta(&tx, master)?;
        // Ids come from a counter in meta rather than from AUTOINCREMENT so the sealing (which
        // binds the id) can happen before the row is written.
        let next: u64 = {
            let v: Option<Vec<u8>> = tx
                .query_row(
                    "SELECT value FROM meta WHERE key = 'next_object_id'",
                    [],
                    |r| r.get(0),
                )
                .optional()?;
            match v.as_deref() {
                Some(b) if b.len() == 8 => {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    u64::from_le_bytes(a)
                }
                _ => return Err(Error::device("object id counter missing")),
            }
        };
        let blob = encode_obj(next, obj, private, &is_secret, Some(master))?;
        let mac = integrity::row_mac(
            master, next, private, 1, cols.class, cols.id, cols.label, &blob,
        );
        Self::set_meta(&tx, "next_object_id", &(next + 1).to_le_bytes())?;
        tx.prepare_cached(
            "INSERT INTO objects(id, private, class_hash, id_hash, label_hash, gen, attrs, mac)
             VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7)",
        )?
        .execute(params![
            next as i64,
            private,
            cols.class,
            cols.id,
            cols.label,
            blob,
            &mac[..]
        ])?;
        integrity::toggle_in_set(
            &tx,
            master,
            &[integrity::element(master, next, 1, private, &mac)],
        )?;
        integrity::seal_meta(&tx, master)?;
        tx.commit()?;
        Ok(next)
    }

    /// Store a new public object without the master key (a R/W public session, before any
    /// login): no MAC can be made, so the row is *pending*, with an id from its own range and
    /// no MAC, outside the object-set digest. A pending row may hold nothing that needs the key
    /// (`Ready::load` checks that once a key is there); a login's first write to it gives it a
    /// MAC. Turning an existing row into a pending one changes its id, so its term goes missing
    /// from the digest.
    pub fn insert_pending(
        &mut self,
        obj: &Decoded,
        cols: IndexCols,
        is_secret: impl Fn(CK_ATTRIBUTE_TYPE) -> bool,
        expect: &[(u64, i64)],
    ) -> Result<u64> {
        self.require_integrity()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        Self::check_expected(&tx, expect)?;
        let v: Option<Vec<u8>> = tx
            .query_row(
                "SELECT value FROM meta WHERE key = 'next_pending_id'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        let next = match v.as_deref() {
            Some(b) if b.len() == 8 => {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                u64::from_le_bytes(a)
            }
            Some(_) => return Err(Error::device("pending id counter damaged")),
            None => PENDING_BASE,
        };
        if next < PENDING_BASE {
            return Err(Error::device("pending id counter damaged"));
        }
        let blob = encode_obj(next, obj, false, &is_secret, None)?;
        Self::set_meta(&tx, "next_pending_id", &(next + 1).to_le_bytes())?;
        tx.prepare_cached(
            "INSERT INTO objects(id, private, class_hash, id_hash, label_hash, gen, attrs, mac)
             VALUES (?1, 0, ?2, ?3, ?4, 1, ?5, NULL)",
        )?
        .execute(params![next as i64, cols.class, cols.id, cols.label, blob])?;
        tx.commit()?;
        Ok(next)
    }

    /// Change an object as it is now, inside one write transaction: `change` gets the current
    /// (verified, decoded) object and returns the new one, so a change by another process
    /// committed before this one is never overwritten with an older copy. Returns the new
    /// generation. `CKR_OBJECT_HANDLE_INVALID` if the object is gone or private and
    /// `with_private` is false. Without the master key only a pending row can change.
    pub fn modify(
        &mut self,
        id: u64,
        master: Option<&MasterKey>,
        with_private: bool,
        expect: &[(u64, i64)],
        change: impl FnOnce(Decoded) -> Result<Replacement>,
    ) -> Result<i64> {
        self.require_integrity()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        Self::check_expected(&tx, expect)?;
        let Some(row) = Self::row_in(&tx, id, self.schema)? else {
            return fail(CKR_OBJECT_HANDLE_INVALID);
        };
        if row.private && !with_private {
            return fail(CKR_OBJECT_HANDLE_INVALID);
        }
        let pending = is_pending(&row);
        match master {
            Some(m) => {
                integrity::check_meta(&tx, m)?;
                if !pending {
                    integrity::verify_row(m, &row)?;
                }
            }
            None if pending => {}
            None => return fail(CKR_USER_NOT_LOGGED_IN),
        }
        let current = decode_row(&row, master)?;
        let new = change(current)?;
        let gen = row.gen + 1;
        let private = new.private;
        let blob = encode_obj(id, &new.data, private, &new.is_secret, master)?;
        let cols = new.cols;
        let mac = master.map(|m| {
            integrity::row_mac(m, id, private, gen, cols.class, cols.id, cols.label, &blob)
        });
        tx.prepare_cached(
            "UPDATE objects SET private = ?2, class_hash = ?3, id_hash = ?4, label_hash = ?5,
             gen = ?6, attrs = ?7, mac = ?8 WHERE id = ?1",
        )?
        .execute(params![
            id as i64,
            private,
            cols.class,
            cols.id,
            cols.label,
            gen,
            blob,
            mac.as_ref().map(|m| &m[..])
        ])?;
        if let (Some(m), Some(mac)) = (master, &mac) {
            let mut terms = vec![integrity::element(m, id, gen, private, mac)];
            if let Some(old) = row.mac.as_deref() {
                terms.push(integrity::element(m, id, row.gen, row.private, old));
            }
            integrity::toggle_in_set(&tx, m, &terms)?;
            integrity::seal_meta(&tx, m)?;
        }
        tx.commit()?;
        Ok(gen)
    }

    /// Delete an object; without the master key only a pending one.
    pub fn delete(
        &mut self,
        id: u64,
        master: Option<&MasterKey>,
        expect: &[(u64, i64)],
    ) -> Result<bool> {
        self.require_integrity()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        Self::check_expected(&tx, expect)?;
        let Some(row) = Self::row_in(&tx, id, self.schema)? else {
            return Ok(false);
        };
        match (master, &row.mac) {
            (Some(m), mac) => {
                integrity::check_meta(&tx, m)?;
                if let Some(mac) = mac {
                    let term = integrity::element(m, id, row.gen, row.private, mac);
                    integrity::toggle_in_set(&tx, m, &[term])?;
                }
                integrity::seal_meta(&tx, m)?;
            }
            (None, None) if is_pending(&row) => {}
            // A MAC'd public object deleted before login (the specification lets a R/W public
            // session do it): without the key its term cannot leave the digest, so the row is
            // kept, as it was, in `deleted`; the check after login verifies it there and
            // accepts it only if it was public and destroyable.
            (None, Some(_)) if !row.private => {
                tx.prepare_cached("INSERT INTO deleted SELECT * FROM objects WHERE id = ?1")?
                    .execute([id as i64])?;
            }
            (None, _) => return fail(CKR_USER_NOT_LOGGED_IN),
        }
        tx.prepare_cached("DELETE FROM objects WHERE id = ?1")?
            .execute([id as i64])?;
        tx.commit()?;
        Ok(true)
    }

    pub(super) fn row_in(conn: &Connection, id: u64, schema: u32) -> Result<Option<Row>> {
        let sql = if schema >= 2 {
            "SELECT private, gen, attrs, class_hash, id_hash, label_hash, mac FROM objects WHERE id = ?1"
        } else {
            "SELECT private, gen, attrs, class_hash, id_hash, label_hash, NULL FROM objects WHERE id = ?1"
        };
        Ok(conn
            .prepare_cached(sql)?
            .query_row([id as i64], |r| {
                Ok(Row {
                    id,
                    private: r.get(0)?,
                    gen: r.get(1)?,
                    blob: r.get(2)?,
                    cols: IndexCols {
                        class: r.get(3)?,
                        id: r.get(4)?,
                        label: r.get(5)?,
                    },
                    mac: r.get(6)?,
                })
            })
            .optional()?)
    }
}
