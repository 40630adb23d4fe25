//! Forward migration of token files (design.md "Storage": schema version in meta, forward
//! migrations; PKCS#11 v3.0 §5.6 C_Login, where the master key first becomes available).
//!
//! Schema 1 → 2 adds the integrity checks of `integrity` (a MAC column on the object rows, the
//! object-set digest, the token epoch and the meta MAC) and the IV reservations of `ivs`
//! (an empty table). The checks need the master key, so the
//! migration runs at the first login (user or SO) to a schema-1 file, inside that login's write
//! transaction: a crash leaves the file at schema 1, and two processes logging in at once
//! migrate it once (the second finds schema 2 inside its transaction and does nothing).

use super::integrity;
use super::pin::Wrap;
use super::{MasterKey, Role};
use crate::crypto;
use crate::error::Result;
use rusqlite::{params, Connection};

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

/// Bring a schema-1 file to schema 2 (the caller holds an IMMEDIATE transaction and has
/// checked that the file is at schema 1). The wrap of the role logging in moves to format 2;
/// the other role's wrap follows at its own next login.
pub fn to_v2(
    tx: &Connection,
    master: &MasterKey,
    role: Role,
    k: &[u8; 32],
    wrap: &Wrap,
) -> Result<()> {
    add_columns(tx)?;
    let mut digest = zeroize::Zeroizing::new([0u8; 32]);
    {
        let mut read = tx.prepare(
            "SELECT id, private, gen, class_hash, id_hash, label_hash, attrs FROM objects",
        )?;
        let mut write = tx.prepare("UPDATE objects SET mac = ?2 WHERE id = ?1")?;
        let mut rows = read.query([])?;
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            let private: bool = r.get(1)?;
            let gen: i64 = r.get(2)?;
            let blob: Vec<u8> = r.get(6)?;
            let mac = integrity::row_mac(
                master,
                id as u64,
                private,
                gen,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                &blob,
            );
            write.execute(params![id, &mac[..]])?;
            integrity::toggle(
                &mut digest,
                &integrity::element(master, id as u64, gen, private, &mac),
            );
        }
    }
    let epoch: [u8; 16] = crypto::random_array()?;
    let put = |k: &str, v: &[u8]| {
        tx.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
            params![k, v],
        )
    };
    put("epoch", &epoch)?;
    put("schema_version", &2u32.to_le_bytes())?;
    put(role.wrap_key(), &wrap.upgraded(role, k, master)?)?;
    integrity::put_object_set(tx, master, &digest)?;
    integrity::seal_meta(tx, master)?;
    crate::log::info(format_args!(
        "token file migrated from schema 1 to schema 2 at login"
    ));
    Ok(())
}
