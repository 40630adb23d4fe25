//! `ferrohsm-bench`: ferrohsm and SoftHSMv2 side by side, in one process, through the PKCS#11
//! C ABI; each on a fresh token in its own temporary directory. Every benchmark alternates
//! between the two modules round by round (after a warm-up), and reports the median and spread
//! of each and the ratio ferrohsm / SoftHSMv2 (above 1: ferrohsm is faster). The RSA and ECDSA
//! crypto rows also run aws-lc-rs alone, in process, as the crypto library baseline: the
//! library column and the per-operation overhead (ferrohsm's time minus the library's).
//!
//! With `--store-url`, ferrohsm also runs a few rows on a token in that PostgreSQL database
//! against a SQLite token, interleaved, with the ratio PostgreSQL / SQLite.
//!
//! Output: a table on standard output, `bench.csv` and `bench.svg` (the ratios) in `--out`
//! (and `bench-postgresql.csv`), and the check of the performance targets.

mod measure;
mod p11;
mod report;
mod suite;
mod targets;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

const DEFAULT_SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";

#[derive(Debug, Parser)]
#[command(name = "ferrohsm-bench", version, about, long_about = None)]
#[command(
    after_help = "Both tokens use the modules' default settings (ferrohsm: Argon2id \
    19 MiB, 2 passes for the PIN keys; SoftHSMv2: the file object store). Searches and keys \
    use private token objects. The ratio column is ferrohsm / other: above 1, ferrohsm is \
    faster. The 'new process' rows time, inside a fresh process, C_Initialize, C_OpenSession \
    and the first C_FindObjects by label (C_Login left out: it has its own row). The \
    aws-lc-rs column is the crypto library alone in this process, its key set up once; ovh µs \
    is ferrohsm's time per operation minus the library's."
)]
struct Cli {
    /// ferrohsm module [default: libferrohsm.so beside this program, else $FERROHSM_MODULE]
    #[arg(long, value_name = "PATH")]
    ferrohsm: Option<PathBuf>,
    /// SoftHSMv2 module
    #[arg(long, value_name = "PATH", default_value = DEFAULT_SOFTHSM)]
    softhsm: PathBuf,
    /// Short run (under a minute): fewer rounds, shorter batches, 100 objects only
    #[arg(long)]
    quick: bool,
    /// Directory for bench.csv and bench.svg [default: target/bench, beside the directory of
    /// this program]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Run only the rows whose "group: name" contains one of these comma-separated,
    /// case-insensitive substrings (e.g. "rsa,objects 100")
    #[arg(long, value_name = "LIST")]
    only: Option<String>,
    /// Object counts of the object rows, comma-separated [default: 100,1000,10000; with
    /// --quick: 100]
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    objects: Option<Vec<u64>>,
    /// Object count of the large level that only ferrohsm runs, last; 0 leaves it out
    /// [default: 100000; with --quick: 300]
    #[arg(long, value_name = "N")]
    big_objects: Option<u64>,
    /// Also run the PostgreSQL rows: ferrohsm on a token in this PostgreSQL database (as
    /// FERROHSM_STORE_URL) against a SQLite token, interleaved, and print PostgreSQL / SQLite.
    /// The run's token stays in the database: name a throwaway one
    #[arg(long, value_name = "URL")]
    store_url: Option<String>,
    /// Objects on each token of the PostgreSQL rows' searches, created through the module
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    store_objects: u64,
    #[command(subcommand)]
    child: Option<Child>,
}

#[derive(Debug, Subcommand)]
enum Child {
    /// (internal) the child process of the "new process" rows
    #[command(hide = true)]
    FirstFind {
        #[arg(long)]
        module: PathBuf,
        /// The label of the token to search
        #[arg(long, default_value = suite::TOKEN_LABEL)]
        token: String,
        /// The label of the object searched first
        #[arg(long)]
        label: String,
        /// Objects the extra searches pick from (labels of objects 0..count)
        #[arg(long, default_value_t = 0)]
        count: u64,
        /// Searches by label to time after the first one
        #[arg(long, default_value_t = 0)]
        searches: u64,
    },
}

fn ferrohsm_module(flag: Option<PathBuf>, exe: &Path) -> Result<PathBuf> {
    if let Some(path) = flag {
        return Ok(path);
    }
    if let Some(beside) = exe.parent().map(|d| d.join("libferrohsm.so")) {
        if beside.is_file() {
            return Ok(beside);
        }
    }
    if let Some(path) = std::env::var_os("FERROHSM_MODULE").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    bail!(
        "no libferrohsm.so beside {} and FERROHSM_MODULE is not set: pass --ferrohsm PATH",
        exe.display()
    )
}

fn check_module(what: &str, path: &Path, hint: &str) -> Result<()> {
    if !path.is_file() {
        bail!("{what} module not found at {}: {hint}", path.display());
    }
    Ok(())
}

fn run(cli: Cli) -> Result<()> {
    let exe = std::env::current_exe().context("cannot find this program's own path")?;
    if let Some(Child::FirstFind {
        module,
        token,
        label,
        count,
        searches,
    }) = cli.child
    {
        return suite::first_find(&module, &token, &label, count, searches);
    }
    let started = Instant::now();
    let ferro_path = ferrohsm_module(cli.ferrohsm, &exe)?;
    check_module(
        "the ferrohsm",
        &ferro_path,
        "build it (cargo build --release) or pass --ferrohsm PATH",
    )?;
    check_module(
        "the SoftHSMv2",
        &cli.softhsm,
        "install SoftHSMv2 (Debian: apt-get install softhsm2) or pass --softhsm PATH",
    )?;
    let out_dir = match cli.out {
        Some(dir) => dir,
        None => exe
            .parent()
            .and_then(Path::parent)
            .map(|target| target.join("bench"))
            .unwrap_or_else(|| PathBuf::from("bench")),
    };
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;

    // A private token directory for each module, named to the modules through the environment
    // before they are loaded (the child processes inherit it).
    let dir = tempfile::Builder::new()
        .prefix("ferrohsm-bench.")
        .tempdir()
        .context("cannot create a temporary directory")?;
    let ferro_tokens = dir.path().join("ferrohsm-tokens");
    let soft_tokens = dir.path().join("softhsm-tokens");
    for d in [&ferro_tokens, &soft_tokens] {
        std::fs::create_dir(d).with_context(|| format!("cannot create {}", d.display()))?;
    }
    let ferro_conf = dir.path().join("ferrohsm.toml");
    std::fs::write(
        &ferro_conf,
        "# ferrohsm-bench: the default settings (token_dir comes from FERROHSM_TOKEN_DIR)\n",
    )?;
    let soft_conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &soft_conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n\
             slots.removable = false\n",
            soft_tokens.display()
        ),
    )?;
    std::env::set_var("FERROHSM_CONF", &ferro_conf);
    std::env::set_var("FERROHSM_TOKEN_DIR", &ferro_tokens);
    std::env::set_var("SOFTHSM2_CONF", &soft_conf);
    // The ferrohsm column is a token directory, whatever the caller's environment says; a
    // PostgreSQL token is --store-url's.
    std::env::remove_var(suite::STORE_URL_VAR);
    // Before any other module: it sets the environment for a moment.
    let pg = match &cli.store_url {
        Some(url) => Some(suite::load_pg_instance(&ferro_path, dir.path(), url)?),
        None => None,
    };

    let mut levels = cli.objects.unwrap_or_else(|| {
        if cli.quick {
            vec![100]
        } else {
            vec![100, 1000, 10_000]
        }
    });
    levels.sort_unstable();
    levels.dedup();
    levels.retain(|&n| n > 0);
    let settings = suite::Settings {
        quick: cli.quick,
        levels,
        big: cli
            .big_objects
            .unwrap_or(if cli.quick { 300 } else { 100_000 }),
        store_objects: cli.store_objects,
        only: cli
            .only
            .iter()
            .flat_map(|s| s.split(','))
            .map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty())
            .collect(),
        exe,
    };
    const THREADS: usize = 2;
    let mut hsms = [
        suite::Hsm::setup("ferrohsm", &ferro_path, THREADS)?,
        suite::Hsm::setup("SoftHSMv2", &cli.softhsm, THREADS)?,
    ];

    report::say(&format!(
        "ferrohsm-bench{}: ferrohsm {} vs SoftHSMv2 {}",
        if settings.quick { " --quick" } else { "" },
        ferro_path.display(),
        cli.softhsm.display()
    ))?;
    report::say(
        "rates are medians over the rounds; ±% is half the min-max range; \
         ratio = ferrohsm / other (> 1: ferrohsm faster)",
    )?;
    report::say(&report::header())?;
    let mut runner = suite::Runner::new(settings);
    suite::crypto(&mut runner, &hsms)?;
    suite::sessions(&mut runner, &hsms)?;
    suite::threads(&mut runner, &hsms)?;
    suite::objects(&mut runner, &mut hsms)?;
    suite::login(&mut runner, &hsms)?;
    // Last: the login row would otherwise run on 100,000 objects in ferrohsm against 10,000 in
    // SoftHSMv2.
    suite::big_objects(&mut runner, &mut hsms)?;
    // Last: its second SQLite token would otherwise sit beside the main one in the directory
    // the "new process" rows' children open.
    if let Some(pg) = pg {
        suite::postgresql(&mut runner, &hsms[0], pg)?;
    }

    let csv = out_dir.join("bench.csv");
    let svg = out_dir.join("bench.svg");
    report::write_csv(&csv, &runner.rows, &runner.scaling)?;
    let store_csv = out_dir.join("bench-postgresql.csv");
    if !runner.store.is_empty() {
        report::write_store_csv(&store_csv, &runner.store)?;
    }
    report::write_chart(
        &svg,
        &runner.rows,
        &format!(
            "ferrohsm / SoftHSMv2 (and / {} alone){}",
            report::LIB,
            if runner.settings.quick {
                ", --quick"
            } else {
                ""
            }
        ),
    )?;
    report::say(
        "* where a module lacks CKM_ECDSA_SHA256 (SoftHSMv2 2.6), its row hashes in the \
         client (aws-lc-rs SHA-256) and signs with CKM_ECDSA; aws-lc-rs alone signs P-384 with \
         SHA-384",
    )?;
    report::say(&format!(
        "f/lib = ferrohsm / {} alone in this process; ovh µs = ferrohsm's time per operation \
         minus the library's",
        report::LIB
    ))?;
    if runner
        .rows
        .iter()
        .any(|r| r.group.ends_with(targets::FERROHSM_ONLY))
    {
        report::say(&format!(
            "objects {} {}: SoftHSMv2 left out (creating and searching that many objects \
             takes it hours)",
            runner.settings.big,
            targets::FERROHSM_ONLY
        ))?;
    }
    let verdicts = targets::check(&runner.rows, &runner.scaling, &runner.store);
    let met = verdicts.iter().filter(|v| v.met).count();
    report::say(&format!(
        "targets: {met} met, {} missed",
        verdicts.len() - met
    ))?;
    for v in &verdicts {
        report::say(&format!(
            "  {} {}",
            if v.met { "met:   " } else { "MISSED:" },
            v.text
        ))?;
    }
    let store_note = if runner.store.is_empty() {
        String::new()
    } else {
        format!(", {}", store_csv.display())
    };
    report::say(&format!(
        "wrote {}{store_note} and {} ({:.0} s in all)",
        csv.display(),
        svg.display(),
        started.elapsed().as_secs_f64()
    ))?;

    for h in &hsms {
        if let Err(e) = h.m.finalize() {
            eprintln!("warning: {}: C_Finalize: {e:#}", h.m.name);
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ferrohsm-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
