//! Forward migration of token files (design.md "Storage": schema version in meta, forward
//! migrations; PKCS#11 v3.0 §5.6 C_Login, where the master key first becomes available).
//!
//! Schema 1 → 2 adds the integrity checks of `integrity` (a MAC column on the object rows, the
//! object-set digest, the token epoch and the meta MAC) and the IV reservations of `ivs`
//! (an empty table). The checks need the master key, so the
//! migration runs at the first login (user or SO) to a schema-1 file, inside that login's write
//! transaction (SQLite only: a PostgreSQL token starts at schema 2): a crash leaves the file at schema 1, and two processes logging in at once
//! migrate it once (the second finds schema 2 inside its transaction and does nothing).

use super::backend::Txn;
use super::integrity;
use super::pin::Wrap;
use super::{MasterKey, Role};
use crate::crypto;
use crate::error::Result;
use rusqlite::Connection;

/// The schema-2 additions to the tables: the MAC column, the table of deletions made
/// before login and the IV reservations (`ivs`).
pub fn add_columns(tx: &Connection) -> Result<()> {
    tx.execute_batch("ALTER TABLE objects ADD COLUMN mac BLOB;")?;
    tx.execute_batch(DELETED_TABLE)?;
    tx.execute_batch(super::ivs::CREATE_TABLE)?;
    Ok(())
}

/// The public objects destroyed before login, kept until a login checks them (the same
/// columns as `objects`); created by a new token and by the migration alike.
pub const DELETED_TABLE: &str = "CREATE TABLE deleted (
    id INTEGER PRIMARY KEY,
    private INTEGER NOT NULL,
    class_hash INTEGER NOT NULL,
    id_hash INTEGER,
    label_hash INTEGER,
    gen INTEGER NOT NULL,
    attrs BLOB NOT NULL,
    mac BLOB
);";

/// Bring a schema-1 file to schema 2 (the caller holds a write transaction and has checked
/// that the file is at schema 1). The wrap of the role logging in moves to format 2; the other
/// role's wrap follows at its own next login.
pub fn to_v2(
    tx: &Txn<'_>,
    master: &MasterKey,
    role: Role,
    k: &[u8; 32],
    wrap: &Wrap,
) -> Result<()> {
    tx.upgrade_v1()?;
    let mut digest = zeroize::Zeroizing::new([0u8; 32]);
    for mut row in tx.rows(true)? {
        let c = row.cols;
        let mac = integrity::row_mac(
            master,
            row.id,
            row.private,
            row.gen,
            c.class,
            c.id,
            c.label,
            &row.blob,
        );
        integrity::toggle(
            &mut digest,
            &integrity::element(master, row.id, row.gen, row.private, &mac),
        );
        row.mac = Some(mac.to_vec());
        tx.update_row(&row)?;
    }
    let epoch: [u8; 16] = crypto::random_array()?;
    tx.set_meta("epoch", &epoch)?;
    tx.set_meta("schema_version", &2u32.to_le_bytes())?;
    tx.set_meta(role.wrap_key(), &wrap.upgraded(role, k, master)?)?;
    integrity::put_object_set(tx, master, &digest)?;
    integrity::seal_meta(tx, master)?;
    crate::log::info(format_args!(
        "token file migrated from schema 1 to schema 2 at login"
    ));
    Ok(())
}
