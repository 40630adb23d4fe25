//! `ferrohsm-util audit`: read and check a ferrohsm token's audit trail (issue 14), straight
//! from its store, as an auditor would: no module, no PIN. `show` prints records (filtered),
//! `export` writes them as JSON lines for a SIEM, `verify` checks the hash chain.
//! Not a PKCS#11 operation (the standard has none for it).

use super::store_err;
use anyhow::{anyhow, Context, Result};
use ferrohsm::audit::verify_rows;
use ferrohsm::store::backend::AuditRow;
use ferrohsm::store::location::Location;
use ferrohsm::store::TokenDb;
use std::io::Write;
use std::time::Duration;

/// Rows read per round trip.
const PAGE: u64 = 5000;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Args)]
struct Where {
    /// The store: a token directory or a PostgreSQL URL [default: the module's configuration]
    #[arg(long, value_name = "DIR|URL")]
    store: Option<String>,
    /// The token (its serial), when the store holds several
    #[arg(long)]
    serial: Option<String>,
}

/// Which records: every filter must match.
#[derive(Debug, clap::Args)]
struct Filter {
    /// Records at or after this UTC time (ISO 8601, or a prefix of it: 2026-12-03)
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Records before this UTC time (ISO 8601, or a prefix of it)
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Records about this object: its CKA_UNIQUE_ID, or the label of a public object
    #[arg(long, value_name = "ID|LABEL")]
    key: Option<String>,
    /// Records of this function (C_Login, C_DestroyObject, ...)
    #[arg(long, value_name = "FUNCTION")]
    op: Option<String>,
    /// Records with this result (CKR_OK, CKR_PIN_INCORRECT, ...)
    #[arg(long, value_name = "CKR_...")]
    result: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Print the records, oldest first
    Show {
        #[command(flatten)]
        at: Where,
        #[command(flatten)]
        filter: Filter,
        /// One JSON object per line, as stored (the bytes the chain covers)
        #[arg(long)]
        json: bool,
    },
    /// Write the records as JSON lines to a file
    Export {
        #[command(flatten)]
        at: Where,
        #[command(flatten)]
        filter: Filter,
        /// The file to write (replaced)
        #[arg(long, value_name = "FILE")]
        out: std::path::PathBuf,
    },
    /// Check the hash chain: exits non-zero and names the first bad record on any break
    Verify {
        #[command(flatten)]
        at: Where,
    },
}

/// The token's database and serial.
fn open(at: &Where) -> Result<(TokenDb, String)> {
    let loc = match &at.store {
        Some(s) => Location::from_arg(s, Duration::from_millis(5000)).map_err(store_err)?,
        None => {
            let cfg = ferrohsm::config::Config::load().map_err(|e| anyhow!("{e}"))?;
            Location::of(&cfg).map_err(store_err)?
        }
    };
    let key = super::one_token(&loc, loc.list().map_err(store_err)?, at.serial.as_deref())?;
    let serial = loc.name_of(&key);
    let db = loc.open(&key).map_err(store_err)?;
    Ok((db, serial))
}

/// Every row, oldest first, a page at a time.
fn each_row(db: &mut TokenDb, mut f: impl FnMut(&AuditRow) -> Result<()>) -> Result<()> {
    let mut after = 0;
    loop {
        let rows = db.audit_rows(after, PAGE).map_err(store_err)?;
        for r in &rows {
            f(r)?;
        }
        match rows.last() {
            Some(r) if rows.len() as u64 == PAGE => after = r.seq,
            _ => return Ok(()),
        }
    }
}

fn field<'a>(v: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    v.get(name).and_then(|f| f.as_str())
}

impl Filter {
    fn matches(&self, v: &serde_json::Value) -> bool {
        let time = field(v, "eventTime").unwrap_or("");
        let eq = |want: &Option<String>, name: &str| {
            want.as_deref().is_none_or(|w| field(v, name) == Some(w))
        };
        self.since.as_deref().is_none_or(|s| time >= s)
            && self.until.as_deref().is_none_or(|u| time < u)
            && eq(&self.op, "eventName")
            && eq(&self.result, "result")
            && self.key.as_deref().is_none_or(|k| {
                ["keyId", "keyLabel", "baseKeyId"]
                    .iter()
                    .any(|f| field(v, f) == Some(k))
            })
    }
}

/// The rows that pass the filter, each with its parsed record.
fn selected(
    at: &Where,
    filter: &Filter,
    mut f: impl FnMut(&AuditRow, &serde_json::Value) -> Result<()>,
) -> Result<()> {
    let (mut db, _) = open(at)?;
    each_row(&mut db, |r| {
        let v: serde_json::Value = serde_json::from_slice(&r.record)
            .with_context(|| format!("record {} is not JSON (run audit verify)", r.seq))?;
        if filter.matches(&v) {
            f(r, &v)?;
        }
        Ok(())
    })
}

/// One line for a person: time, function, result, who, what.
fn line(r: &AuditRow, v: &serde_json::Value) -> String {
    let s = |n| field(v, n).unwrap_or("-");
    let mut out = format!(
        "{:>6} {} {} {} user={} host={} pid={} program={}",
        r.seq,
        s("eventTime"),
        s("eventName"),
        s("result"),
        s("userType"),
        s("sourceHost"),
        v.get("processId").map_or("-".into(), |p| p.to_string()),
        s("program"),
    );
    for (name, shown) in [
        ("mechanism", "mechanism"),
        ("keyId", "key"),
        ("keyLabel", "label"),
        ("baseKeyId", "base"),
        ("reason", "reason"),
    ] {
        if let Some(x) = field(v, name) {
            out.push_str(&format!(" {shown}={x:?}"));
        }
    }
    out
}

pub fn run(args: Args) -> Result<()> {
    match args.action {
        Action::Show { at, filter, json } => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            selected(&at, &filter, |r, v| {
                if json {
                    out.write_all(&r.record)?;
                    out.write_all(b"\n")?;
                } else {
                    writeln!(out, "{}", line(r, v))?;
                }
                Ok(())
            })
        }
        Action::Export { at, filter, out } => {
            let mut file = std::io::BufWriter::new(
                std::fs::File::create(&out).with_context(|| format!("create {}", out.display()))?,
            );
            let mut n = 0u64;
            selected(&at, &filter, |r, _| {
                file.write_all(&r.record)?;
                file.write_all(b"\n")?;
                n += 1;
                Ok(())
            })?;
            file.flush()?;
            println!("{n} records written to {}", out.display());
            Ok(())
        }
        Action::Verify { at } => verify(&at),
    }
}

fn verify(at: &Where) -> Result<()> {
    let (mut db, serial) = open(at)?;
    let checkpoints = db.audit_checkpoints().map_err(store_err)?;
    let mut state = (0u64, vec![0u8; 32]);
    // The first break ends the reading: the rest of the trail cannot be judged past it.
    each_row(&mut db, |r| {
        let good = state.0;
        state = verify_rows(&serial, std::mem::take(&mut state), std::slice::from_ref(r))
            .map_err(|b| anyhow!("token {serial}: audit chain broken after record {good}: {b}"))?;
        Ok(())
    })?;
    println!(
        "token {serial}: {} records, chain intact from record 1",
        state.0
    );
    if checkpoints.is_empty() {
        // Until the chain is signed, someone able to write the store can cut its end or
        // rewrite it whole without this check noticing.
        println!(
            "not sealed: no checkpoint yet (signed checkpoints are not implemented), so records \
             removed from the end or a chain rewritten whole would not be detected"
        );
    } else {
        println!(
            "{} checkpoints present but not checked (not implemented)",
            checkpoints.len()
        );
    }
    Ok(())
}
