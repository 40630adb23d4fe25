//! Where the tokens are (design.md "Storage", "Several hosts"; PKCS#11 v3.0 §5.5 the slot
//! list): a directory of SQLite files, or a PostgreSQL database in which every token is a slot.
//! Listing, opening and creating tokens, and the serial the free slot stands for, go through
//! here, so the slot logic above never asks which store it is on.

use super::pg::{Link, Pg, Target};
use super::sqlite::Sqlite;
use super::{Export, MasterKey, TokenDb};
use crate::config::Config;
use crate::crypto::KdfParams;
use crate::error::{Error, Result};
use crate::mechanism::policy::Policy;
use parking_lot::Mutex;
use std::path::PathBuf;

/// Where a configuration puts its tokens.
pub enum Location {
    Dir(PathBuf),
    /// The database, and a connection of its own for listing and creating tokens (each open
    /// token has its own).
    Pg(Box<Target>, Mutex<Option<Box<Link>>>),
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

const PENDING_FILE: &str = ".free-slot-serial";

/// A serial as the module makes them: 16 hex digits.
pub fn valid_serial(s: &str) -> bool {
    s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Location {
    pub fn of(cfg: &Config) -> Result<Location> {
        Ok(match &cfg.store_url {
            Some(url) => Location::Pg(
                Box::new(Target::parse(
                    url,
                    std::time::Duration::from_millis(cfg.store_timeout_ms),
                )?),
                Mutex::new(None),
            ),
            None => Location::Dir(cfg.token_dir.clone()),
        })
    }

    /// Which store: `sqlite` or `postgresql`.
    pub fn kind(&self) -> &'static str {
        match self {
            Location::Dir(_) => "sqlite",
            Location::Pg(..) => "postgresql",
        }
    }

    /// A store named on a command line (`ferrohsm-util migrate`): a PostgreSQL URL (or libpq
    /// key=value string), else a token directory or token file.
    pub fn from_arg(arg: &str, timeout: std::time::Duration) -> Result<Location> {
        let pg = arg.starts_with("postgres://")
            || arg.starts_with("postgresql://")
            || arg.contains("host=")
            || arg.contains("dbname=");
        if pg {
            return Ok(Location::Pg(
                Box::new(Target::parse(arg, timeout)?),
                Mutex::new(None),
            ));
        }
        Ok(Location::Dir(PathBuf::from(arg)))
    }

    /// For logs and `show-slots`: which store, and where.
    pub fn describe(&self) -> String {
        match self {
            Location::Dir(d) => format!("sqlite {}", d.display()),
            Location::Pg(t, _) => format!("postgresql {}", t.shown()),
        }
    }

    fn admin<T>(&self, f: impl FnOnce(&Link) -> Result<T>) -> Result<T> {
        let Location::Pg(target, admin) = self else {
            return Err(Error::device("not a PostgreSQL store"));
        };
        let mut guard = admin.lock();
        if guard.as_ref().is_some_and(|l| l.is_broken()) {
            *guard = None;
        }
        if guard.is_none() {
            let link = Link::connect(target, None)?;
            link.ensure_schema()?;
            *guard = Some(Box::new(link));
        }
        let link = guard
            .as_ref()
            .ok_or_else(|| Error::device("PostgreSQL connection closed"))?;
        f(link)
    }

    /// The tokens there, each by its key: a file path, or a serial in the database.
    pub fn list(&self) -> Result<Vec<String>> {
        match self {
            Location::Dir(dir) => {
                let Ok(rd) = std::fs::read_dir(dir) else {
                    return Ok(Vec::new());
                };
                let mut v: Vec<String> = rd
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "sqlite"))
                    .map(|p| p.to_string_lossy().into_owned())
                    .collect();
                v.sort();
                Ok(v)
            }
            Location::Pg(..) => self.admin(|l| {
                let mut v = l.serials()?;
                v.retain(|s| valid_serial(s));
                Ok(v)
            }),
        }
    }

    /// The name a token's key gives when it does not open (the slot of a broken token).
    pub fn name_of(&self, key: &str) -> String {
        match self {
            Location::Dir(_) => std::path::Path::new(key)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            Location::Pg(..) => key.to_owned(),
        }
    }

    /// The key a token created with this serial will have.
    pub fn key_for(&self, serial: &str) -> String {
        match self {
            Location::Dir(d) => d
                .join(format!("{serial}.sqlite"))
                .to_string_lossy()
                .into_owned(),
            Location::Pg(..) => serial.to_owned(),
        }
    }

    pub fn open(&self, key: &str) -> Result<TokenDb> {
        match self {
            Location::Dir(_) => TokenDb::open(Box::new(Sqlite::open(std::path::Path::new(key))?)),
            Location::Pg(t, _) => TokenDb::open(Box::new(Pg::open(t, key)?)),
        }
    }

    fn new_conn(&self, serial: &str) -> Result<Box<dyn super::backend::Conn>> {
        Ok(match self {
            Location::Dir(_) => {
                Box::new(Sqlite::create(std::path::Path::new(&self.key_for(serial)))?)
            }
            Location::Pg(t, _) => {
                self.admin(|_| Ok(()))?;
                Box::new(Pg::open(t, serial)?)
            }
        })
    }

    /// Create a token with this serial (C_InitToken on the free slot).
    #[allow(clippy::too_many_arguments)]
    pub fn create(
        &self,
        serial: &str,
        slot_id: u64,
        label: &[u8; 32],
        so_pin: &[u8],
        kdf: KdfParams,
        policy: Policy,
    ) -> Result<(TokenDb, MasterKey)> {
        let conn = self.new_conn(serial)?;
        TokenDb::create(conn, serial, slot_id, label, so_pin, kdf, policy)
    }

    /// A token with this serial is there.
    pub fn exists(&self, serial: &str) -> Result<bool> {
        match self {
            Location::Dir(_) => Ok(std::path::Path::new(&self.key_for(serial)).exists()),
            Location::Pg(..) => Ok(self.list()?.iter().any(|s| s == serial)),
        }
    }

    /// Remove a token (`ferrohsm-util delete-token`, `migrate --force`). For a directory, the
    /// file and its `-wal`/`-shm` companions.
    pub fn delete(&self, serial: &str) -> Result<bool> {
        match self {
            Location::Dir(_) => {
                let main = self.key_for(serial);
                let mut any = false;
                for suffix in ["", "-wal", "-shm", "-journal"] {
                    let p = format!("{main}{suffix}");
                    match std::fs::remove_file(&p) {
                        Ok(()) => any = true,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(Error::device(format_args!("remove {p}: {e}"))),
                    }
                }
                Ok(any)
            }
            Location::Pg(..) => self.admin(|l| l.delete_token(serial)),
        }
    }

    /// Put an exported token here, as it was (sealed values, MACs, counters).
    pub fn import(&self, rows: &Export) -> Result<TokenDb> {
        let serial = rows
            .serial()
            .filter(|s| valid_serial(s))
            .ok_or_else(|| Error::device("the exported token has no valid serial"))?;
        TokenDb::import(self.new_conn(&serial)?, rows)
    }

    /// The serial (and so the slot id) of the token the free slot will create. Every process,
    /// on every host, shows the free slot under the same id: a script may read the id from
    /// `pkcs11-tool -L` in one process and initialize the token in the next.
    pub fn pending_serial(
        &self,
        taken: &dyn Fn(u64) -> bool,
        new_serial: &dyn Fn() -> Result<String>,
        slot_id_for: &dyn Fn(&str) -> u64,
    ) -> Result<String> {
        let usable =
            |s: &str| valid_serial(s) && !taken(slot_id_for(s)) && !self.exists(s).unwrap_or(true);
        match self {
            Location::Pg(..) => {
                let proposed = new_serial()?;
                let agreed = self.admin(|l| l.free_serial(&proposed))?;
                if usable(&agreed) {
                    return Ok(agreed);
                }
                // Used meanwhile (a token was created with it): propose again.
                self.admin(|l| l.forget_free_serial(&agreed))?;
                let proposed = new_serial()?;
                self.admin(|l| l.free_serial(&proposed))
            }
            Location::Dir(dir) => {
                let path = dir.join(PENDING_FILE);
                if let Ok(s) = std::fs::read_to_string(&path) {
                    let s = s.trim();
                    if usable(s) {
                        return Ok(s.to_string());
                    }
                }
                let serial = new_serial()?;
                // Best effort: with a read-only token directory the free slot still works,
                // with an id that only this process knows.
                if super::create_private_dir(dir).is_ok() {
                    let tmp = dir.join(format!("{PENDING_FILE}.{}", std::process::id()));
                    let written = {
                        use std::io::Write;
                        use std::os::unix::fs::OpenOptionsExt;
                        std::fs::OpenOptions::new()
                            .write(true)
                            .create(true)
                            .truncate(true)
                            .mode(0o600)
                            .open(&tmp)
                            .and_then(|mut f| f.write_all(serial.as_bytes()))
                    };
                    if written.is_ok() && std::fs::rename(&tmp, &path).is_err() {
                        let _ = std::fs::remove_file(&tmp);
                    }
                    // If another process wrote its own serial at the same moment, agree on the
                    // one that won.
                    if let Ok(s) = std::fs::read_to_string(&path) {
                        let s = s.trim();
                        if usable(s) {
                            return Ok(s.to_string());
                        }
                    }
                }
                Ok(serial)
            }
        }
    }

    /// After the free slot's token was created, forget its serial so the next free slot gets a
    /// new one.
    pub fn advance_pending(&self, used: &str) {
        match self {
            Location::Dir(dir) => {
                let path = dir.join(PENDING_FILE);
                if std::fs::read_to_string(&path).is_ok_and(|s| s.trim() == used) {
                    let _ = std::fs::remove_file(&path);
                }
            }
            Location::Pg(..) => {
                let _ = self.admin(|l| l.forget_free_serial(used));
            }
        }
    }
}
