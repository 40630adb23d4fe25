//! `ferrohsm-util`: token administration through the PKCS#11 API, for ferrohsm or any module
//! (in the manner of `softhsm2-util`). The command line itself; what it does is the library's
//! (`src/lib.rs`).
#![forbid(unsafe_code)]

use ferrohsm_util::{cmd, p11};

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "ferrohsm-util", version, about, long_about = None)]
#[command(
    after_help = "PINs come from their flag, else FERROHSM_SO_PIN / FERROHSM_PIN / \
    FERROHSM_NEW_PIN, else a prompt without echo when run on a terminal."
)]
struct Cli {
    /// PKCS#11 module to load [default: $FERROHSM_MODULE, else libferrohsm.so beside this
    /// program]
    #[arg(long, global = true, value_name = "PATH")]
    module: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Initialize a token (the free slot by default) and set its user PIN
    InitToken(cmd::init_token::Args),
    /// List every slot and its token
    ShowSlots,
    /// Delete a ferrohsm token and its file (ferrohsm only: PKCS#11 has no such call)
    DeleteToken(cmd::delete_token::Args),
    /// List the objects on a token (public ones only without a PIN)
    ListObjects(cmd::list_objects::Args),
    /// Change the user PIN, or the SO PIN with --so
    SetPin(cmd::set_pin::Args),
    /// Import a key or certificate file (PKCS#8, PKCS#1, SEC1, SPKI, X.509, raw AES)
    Import(cmd::import::Args),
    /// Copy a ferrohsm token between a token directory and a PostgreSQL database (either way),
    /// sealed as it is stored: no key is decrypted (ferrohsm only; loads no module)
    Migrate(cmd::migrate::Args),
    /// Read and check a ferrohsm token's audit trail from its store: show, export, verify
    /// (ferrohsm only; loads no module, needs no PIN)
    Audit(cmd::audit::Args),
    /// End-to-end demonstration on a token labelled "ferrohsm-demo"
    Demo,
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let command = match cli.command {
        Command::Migrate(args) => return cmd::migrate::run(args),
        Command::Audit(args) => return cmd::audit::run(args),
        other => other,
    };
    let cli = Cli { command, ..cli };
    if let Command::InitToken(args) = &cli.command {
        cmd::init_token::before_load(args);
    }
    let path = p11::module_path(cli.module)?;
    let module = p11::Module::load(&path)?;
    match cli.command {
        Command::InitToken(args) => cmd::init_token::run(&module, args),
        Command::ShowSlots => cmd::show_slots::run(&module),
        Command::DeleteToken(args) => cmd::delete_token::run(module, args),
        Command::ListObjects(args) => cmd::list_objects::run(&module, args),
        Command::SetPin(args) => cmd::set_pin::run(&module, args),
        Command::Import(args) => cmd::import::run(&module, args),
        Command::Demo => cmd::demo::run(&module),
        Command::Migrate(_) | Command::Audit(_) => {
            unreachable!("handled before the module is loaded")
        }
    }
}

/// The reader of our output went away (`| head`): not an error worth reporting.
fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the whole chain: what was being done, then the module's CKR_ code.
            eprintln!("ferrohsm-util: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn token_selection_is_exclusive() {
        let both = Cli::try_parse_from(["x", "list-objects", "--slot", "1", "--serial", "a"]);
        assert!(both.is_err());
        let none = Cli::try_parse_from(["x", "list-objects"]);
        assert!(none.is_err());
        assert!(Cli::try_parse_from(["x", "list-objects", "--label", "a"]).is_ok());
    }
}
