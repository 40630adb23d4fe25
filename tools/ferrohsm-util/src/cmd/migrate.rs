//! `ferrohsm-util migrate`: copy a ferrohsm token between stores (a token directory or file,
//! a PostgreSQL database), both ways. The rows move as they are stored: sealed values, MACs
//! and counters untouched, so no key is ever decrypted and a non-extractable key stays one.
//! The source is read in one snapshot, so other processes may keep writing meanwhile.
//! Not a PKCS#11 operation (there is none for it): it reads the stores directly.

use super::store_err;
use anyhow::{anyhow, bail, Result};
use ferrohsm::store::location::Location;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Source: a token file (*.sqlite), a token directory, or a PostgreSQL URL
    #[arg(long, value_name = "FILE|DIR|URL")]
    from: String,
    /// Destination: a token directory or a PostgreSQL URL
    #[arg(long, value_name = "DIR|URL")]
    to: String,
    /// The token to copy (its serial), when the source holds several
    #[arg(long)]
    serial: Option<String>,
    /// Replace a token with the same serial at the destination
    #[arg(long)]
    force: bool,
    /// How long one round trip to a PostgreSQL server may take, in milliseconds
    #[arg(long, default_value_t = 5000)]
    timeout_ms: u64,
}

pub fn run(args: Args) -> Result<()> {
    let timeout = Duration::from_millis(args.timeout_ms);
    let file = args.from.ends_with(".sqlite") && std::path::Path::new(&args.from).is_file();
    let (from, keys) = if file {
        let dir = std::path::Path::new(&args.from)
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        (
            Location::from_arg(&dir, timeout).map_err(store_err)?,
            vec![args.from.clone()],
        )
    } else {
        let loc = Location::from_arg(&args.from, timeout).map_err(store_err)?;
        let keys = loc.list().map_err(store_err)?;
        (loc, keys)
    };
    let key = super::one_token(&from, keys, args.serial.as_deref())?;
    let mut db = from.open(&key).map_err(store_err)?;
    let rows = db.export().map_err(store_err)?;
    drop(db);
    let serial = rows
        .serial()
        .ok_or_else(|| anyhow!("the source token has no serial"))?;
    if args.to.ends_with(".sqlite") {
        bail!(
            "--to takes a token directory (the file is named after the serial), not {}",
            args.to
        );
    }
    let to = Location::from_arg(&args.to, timeout).map_err(store_err)?;
    if to.exists(&serial).map_err(store_err)? {
        if !args.force {
            bail!(
                "{} already holds a token with serial {serial}: not overwritten (pass --force to replace it)",
                to.describe()
            );
        }
        to.delete(&serial).map_err(store_err)?;
    }
    let mut copy = to.import(&rows).map_err(store_err)?;
    let n = copy.count().map_err(store_err)?;
    say!(
        "Copied token {serial} ({n} objects, sealed as stored) from {} to {}",
        from.describe(),
        to.describe()
    );
    Ok(())
}
