//! Writing object rows (PKCS#11 v3.0 §5.7 C_CreateObject, C_CopyObject, C_SetAttributeValue,
//! C_DestroyObject and every function that stores a key): each write in one write transaction
//! (serialized with every other writer, on every host) that checks what the write depends on,
//! re-MACs the row, and updates the object-set digest and the meta MAC (see `integrity`).

use super::backend::{Mode, Txn};
use super::{codec::Decoded, CONFLICT};
use super::{decode_row, encode_obj, integrity, IndexCols, MasterKey, Replacement, Row, TokenDb};
use crate::error::{fail, Error, Result};
use cryptoki_sys::*;

/// Ids of pending rows (written before any login) start here, apart from the MAC'd ones.
pub const PENDING_BASE: u64 = 1 << 62;

/// A row written before any login: no MAC yet (there was no key), an id from the pending range.
pub fn is_pending(row: &Row) -> bool {
    row.mac.is_none() && row.id >= PENDING_BASE
}

fn counter(tx: &Txn<'_>, key: &str, missing: Option<u64>) -> Result<u64> {
    match (tx.meta(key)?.as_deref(), missing) {
        (Some(b), _) if b.len() == 8 => {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            Ok(u64::from_le_bytes(a))
        }
        (None, Some(first)) => Ok(first),
        _ => Err(Error::device(format_args!(
            "{key} counter damaged or missing"
        ))),
    }
}

impl TokenDb {
    /// Every object the write was decided on is still at the generation read: otherwise
    /// another process or host changed it in between, and the module decides again.
    fn check_expected(tx: &Txn<'_>, expect: &[(u64, i64)]) -> Result<()> {
        for (id, gen) in expect {
            if tx.gen(*id)? != Some(*gen) {
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
        let tx = Txn::new(self.conn.begin(Mode::Write)?);
        Self::check_expected(&tx, expect)?;
        integrity::check_meta(&tx, master)?;
        let next = counter(&tx, "next_object_id", None)?;
        let blob = encode_obj(next, obj, private, &is_secret, Some(master))?;
        let mac = integrity::row_mac(
            master, next, private, 1, cols.class, cols.id, cols.label, &blob,
        );
        tx.set_meta("next_object_id", &(next + 1).to_le_bytes())?;
        tx.insert_row(&Row {
            id: next,
            private,
            gen: 1,
            cols,
            blob,
            mac: Some(mac.to_vec()),
        })?;
        integrity::toggle_in_set(
            &tx,
            master,
            &[integrity::element(master, next, 1, private, &mac)],
        )?;
        integrity::seal_meta(&tx, master)?;
        crate::audit::commit(&mut self.audit, tx)?;
        Ok(next)
    }

    pub fn insert_pending(
        &mut self,
        obj: &Decoded,
        cols: IndexCols,
        is_secret: impl Fn(CK_ATTRIBUTE_TYPE) -> bool,
        expect: &[(u64, i64)],
    ) -> Result<u64> {
        self.require_integrity()?;
        let tx = Txn::new(self.conn.begin(Mode::Write)?);
        Self::check_expected(&tx, expect)?;
        let next = counter(&tx, "next_pending_id", Some(PENDING_BASE))?;
        if next < PENDING_BASE {
            return Err(Error::device("pending id counter damaged"));
        }
        let blob = encode_obj(next, obj, false, &is_secret, None)?;
        tx.set_meta("next_pending_id", &(next + 1).to_le_bytes())?;
        tx.insert_row(&Row {
            id: next,
            private: false,
            gen: 1,
            cols,
            blob,
            mac: None,
        })?;
        crate::audit::commit(&mut self.audit, tx)?;
        Ok(next)
    }

    pub fn modify(
        &mut self,
        id: u64,
        master: Option<&MasterKey>,
        with_private: bool,
        expect: &[(u64, i64)],
        change: impl FnOnce(Decoded) -> Result<Replacement>,
    ) -> Result<i64> {
        self.require_integrity()?;
        let tx = Txn::new(self.conn.begin(Mode::Write)?);
        Self::check_expected(&tx, expect)?;
        let Some(row) = tx.row(id)? else {
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
        tx.update_row(&Row {
            id,
            private,
            gen,
            cols,
            blob,
            mac: mac.map(|m| m.to_vec()),
        })?;
        if let (Some(m), Some(mac)) = (master, &mac) {
            let mut terms = vec![integrity::element(m, id, gen, private, mac)];
            if let Some(old) = row.mac.as_deref() {
                terms.push(integrity::element(m, id, row.gen, row.private, old));
            }
            integrity::toggle_in_set(&tx, m, &terms)?;
            integrity::seal_meta(&tx, m)?;
        }
        crate::audit::commit(&mut self.audit, tx)?;
        Ok(gen)
    }

    pub fn delete(
        &mut self,
        id: u64,
        master: Option<&MasterKey>,
        expect: &[(u64, i64)],
    ) -> Result<bool> {
        self.require_integrity()?;
        let tx = Txn::new(self.conn.begin(Mode::Write)?);
        Self::check_expected(&tx, expect)?;
        let Some(row) = tx.row(id)? else {
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
            (None, Some(_)) if !row.private => tx.keep_deleted(id)?,
            (None, _) => return fail(CKR_USER_NOT_LOGGED_IN),
        }
        tx.delete_row(id)?;
        crate::audit::commit(&mut self.audit, tx)?;
        Ok(true)
    }
}
