//! `delete-token`: ferrohsm only. PKCS#11 has no call to delete a token, so after finding the
//! token's serial through the API, the module is finalized and `<token_dir>/<serial>.sqlite` with
//! its SQLite companions is removed.

use crate::p11::{find_token, Module, TokenSel};
use anyhow::{bail, Context, Result};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

/// Manufacturer ID that ferrohsm reports in C_GetInfo.
const FERROHSM: &str = "ferrohsm";

/// The token to delete; by slot is not offered, since slot IDs are easy to mistype.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct DeleteSel {
    /// Serial number of the token to delete
    #[arg(long)]
    pub serial: Option<String>,
    /// Label of the token to delete
    #[arg(long, visible_alias = "token")]
    pub label: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub sel: DeleteSel,
    /// Do not ask for confirmation
    #[arg(long)]
    pub yes: bool,
}

/// The serial becomes a file name, so it must not be able to name anything outside the directory.
fn check_serial(serial: &str) -> Result<()> {
    let ok = !serial.is_empty()
        && serial
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        bail!("the token's serial \"{serial}\" is not a plain file name; not deleting anything");
    }
    Ok(())
}

/// The token file and the files SQLite keeps beside it.
fn token_files(main: &std::path::Path) -> Vec<PathBuf> {
    let mut files = vec![main.to_path_buf()];
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut name = main.as_os_str().to_owned();
        name.push(suffix);
        files.push(PathBuf::from(name));
    }
    files
}

fn confirm(question: &str) -> Result<bool> {
    print!("{question} [y/N] ");
    std::io::stdout()
        .flush()
        .context("cannot write to the terminal")?;
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("cannot read the answer")?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

/// Without --yes: ask on the terminal, and refuse without one.
fn confirm_delete(token: &dyn std::fmt::Display, place: &str) -> Result<()> {
    if !std::io::stdin().is_terminal() {
        bail!("refusing to delete {token} without confirmation: pass --yes");
    }
    let question =
        format!("Delete {token} and every object on it ({place})? This cannot be undone.");
    if !confirm(&question)? {
        bail!("not deleting {token}: not confirmed");
    }
    Ok(())
}

pub fn run(module: Module, args: Args) -> Result<()> {
    let manufacturer = module.manufacturer()?;
    if manufacturer != FERROHSM {
        bail!(
            "delete-token works only with the ferrohsm module, and {} reports manufacturer \
             \"{manufacturer}\": PKCS#11 has no call to delete a token, so use that module's \
             own tools",
            module.path.display()
        );
    }
    let sel = TokenSel {
        slot: None,
        serial: args.sel.serial,
        label: args.sel.label,
    };
    let token = find_token(&module, &sel)?;
    check_serial(&token.serial)?;
    let cfg = ferrohsm::config::Config::load()
        .with_context(|| format!("cannot read the ferrohsm configuration to locate {token}"))?;
    if cfg.store_url.is_some() {
        // A token in a PostgreSQL database: its rows go in one statement (ON DELETE CASCADE).
        let loc =
            ferrohsm::store::location::Location::of(&cfg).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        if !args.yes {
            confirm_delete(&token, &loc.describe())?;
        }
        module.finalize()?;
        if !loc
            .delete(&token.serial)
            .map_err(|e| anyhow::anyhow!("{e:?}"))?
        {
            bail!("{token} is no longer in {}", loc.describe());
        }
        say!("Deleted {token} from {}", loc.describe());
        return Ok(());
    }
    let main = cfg.token_file(&token.serial);
    if !main.exists() {
        bail!(
            "{token} has no file at {}: does this program see the same FERROHSM_CONF / \
             FERROHSM_TOKEN_DIR as the module?",
            main.display()
        );
    }
    if !args.yes {
        confirm_delete(&token, &main.display().to_string())?;
    }
    // Let the module close its database before the files go away.
    module.finalize()?;
    let mut removed = Vec::new();
    for file in token_files(&main) {
        match std::fs::remove_file(&file) {
            Ok(()) => removed.push(file),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot remove {} of {token}", file.display()))
            }
        }
    }
    say!("Deleted {token}");
    for file in removed {
        say!("  removed {}", file.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_that_escape_the_directory_are_refused() {
        assert!(check_serial("0a1b2c3d4e5f6789").is_ok());
        assert!(check_serial("../etc").is_err());
        assert!(check_serial("a/b").is_err());
        assert!(check_serial("").is_err());
    }

    #[test]
    fn companions_follow_sqlite_names() {
        let files = token_files(std::path::Path::new("/t/abc.sqlite"));
        let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(
            names,
            [
                "/t/abc.sqlite",
                "/t/abc.sqlite-wal",
                "/t/abc.sqlite-shm",
                "/t/abc.sqlite-journal"
            ]
        );
    }
}
