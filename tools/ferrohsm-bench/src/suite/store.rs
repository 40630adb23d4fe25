//! The PostgreSQL rows (`--store-url`, issue 13): ferrohsm on a token in a PostgreSQL database
//! against ferrohsm on a second SQLite token of the main instance, the two interleaved round by
//! round as every row is, so that each row gives PostgreSQL / SQLite on this machine at this
//! moment: signing with cached keys, creating objects from one process, searching among them,
//! and a fresh process's way to its first search.

use super::objects::{
    create_object, creating, new_process, new_process_plan, searching, NEW_PROCESS,
};
use super::{batch, Hsm, Runner, MSG};
use crate::measure::{Batch, Plan, Stats};
use crate::p11::{Mech, Module};
use crate::report::{self, StoreRow};
use crate::targets::{PG_CREATE, PG_FIND_ROWS, PG_GROUP, PG_SIGN_ROWS};
use anyhow::{anyhow, Context, Result};
use cryptoki_sys::*;
use std::cell::Cell;
use std::path::Path;
use std::time::Instant;

/// The module's variable naming its PostgreSQL store; it overrides the token directory.
pub const STORE_URL_VAR: &str = "FERROHSM_STORE_URL";

/// The label of the PostgreSQL rows' SQLite token, beside the main token in its directory.
const SQLITE_LABEL: &str = "ferrohsm-bench sqlite";

/// The module instance of the PostgreSQL token, initialized on its database.
#[derive(Debug)]
pub struct PgInstance {
    m: Module,
    url: String,
}

/// Loads a second instance of the ferrohsm module for the PostgreSQL token: a copy of the
/// library file in `dir` (the dynamic loader would hand back the loaded instance for the same
/// file), initialized with `FERROHSM_STORE_URL` set, which the module reads in C_Initialize
/// only. The variable is removed again, so the main instance and the SQLite tokens' child
/// processes stay on the token directory. Call it before the other modules are loaded: the
/// environment is only changed safely while no other thread can be reading it.
pub fn load_pg_instance(module: &Path, dir: &Path, url: &str) -> Result<PgInstance> {
    let copy = dir.join("libferrohsm-postgresql.so");
    std::fs::copy(module, &copy)
        .with_context(|| format!("cannot copy {} to {}", module.display(), copy.display()))?;
    let m = Module::load("PostgreSQL", &copy)?;
    std::env::set_var(STORE_URL_VAR, url);
    let init = m.initialize();
    std::env::remove_var(STORE_URL_VAR);
    // The URL may hold a password: not repeated here.
    init.context("PostgreSQL: C_Initialize on the --store-url database")?;
    Ok(PgInstance {
        m,
        url: url.to_string(),
    })
}

/// The PostgreSQL rows, on a new token in the database and a new SQLite token of `main`'s
/// instance, each filled with `Settings::store_objects` objects for the searches. The
/// database keeps its token (labelled with this process's id and the time) afterwards.
pub fn postgresql(r: &mut Runner, main: &Hsm, pg: PgInstance) -> Result<()> {
    let result = rows(r, main, &pg);
    if let Err(e) = pg.m.finalize() {
        eprintln!("warning: {}: C_Finalize: {e:#}", pg.m.name);
    }
    result
}

fn rows(r: &mut Runner, main: &Hsm, pg: &PgInstance) -> Result<()> {
    let g = PG_GROUP;
    let mut names = PG_SIGN_ROWS
        .iter()
        .chain(&PG_FIND_ROWS)
        .chain([&PG_CREATE, &NEW_PROCESS]);
    if !names.any(|name| r.wanted(g, name)) {
        return Ok(());
    }
    let started = Instant::now();
    // A label of this run's own: the database may hold the tokens of earlier runs (32 bytes
    // at most).
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let label = format!("bench {}-{secs}", std::process::id());
    let toks = [
        Hsm::on_new_token(main.m.renamed("SQLite"), SQLITE_LABEL, None, 0)?,
        Hsm::on_new_token(pg.m.clone(), &label, Some(pg.url.clone()), 0)?,
    ];
    report::say(&format!(
        "-- {g}: ferrohsm on a token in the --store-url database (label {label:?}) and on a \
         SQLite token, interleaved; PG/SQLite = PostgreSQL's rate / SQLite's"
    ))?;
    report::say(&report::store_header())?;

    let plan = r.plan();
    for (name, rsa) in [(PG_SIGN_ROWS[0], false), (PG_SIGN_ROWS[1], true)] {
        store_row(r, &toks, plan, name, None, |h| {
            let key = if rsa { h.keys.rsa[0].1 } else { h.keys.ec[0].1 };
            let mut out = [0u8; 512];
            Ok(batch(move || {
                if rsa {
                    let mech = Mech::Plain(CKM_SHA256_RSA_PKCS);
                    h.m.sign(h.s, &mech, key, MSG, &mut out)
                } else {
                    h.sign_ecdsa_sha256(h.s, key, MSG, &mut out)
                }
                .map(drop)
            }))
        })?;
    }

    let count = fill(r, &toks, r.settings.store_objects)?;
    if count > 0 {
        let plan = r.plan().with_rounds(if r.settings.quick { 3 } else { 5 });
        for (by, name) in [(CKA_ID, PG_FIND_ROWS[0]), (CKA_LABEL, PG_FIND_ROWS[1])] {
            store_row(r, &toks, plan, name, Some(count), |h| {
                Ok(searching(h, by, count))
            })?;
        }
        let exe = r.settings.exe.clone();
        let plan = new_process_plan(r);
        store_row(r, &toks, plan, NEW_PROCESS, Some(count), |h| {
            Ok(new_process(exe.clone(), h, count))
        })?;
    }
    eprintln!("{g} rows: {:.0} s in all", started.elapsed().as_secs_f64());
    Ok(())
}

/// Creates about `level` objects on each token, interleaved in chunks: timed, as the creation
/// row, when that row is wanted; else untimed, for the searches. Returns how many each has.
fn fill(r: &mut Runner, toks: &[Hsm; 2], level: u64) -> Result<u64> {
    if level == 0 {
        return Ok(0);
    }
    if !r.wanted(PG_GROUP, PG_CREATE) {
        for h in toks {
            for i in 0..level {
                create_object(h, i)?;
            }
        }
        return Ok(level);
    }
    let rounds = if r.settings.quick { 4 } else { 5 };
    let chunk = level.div_ceil(rounds as u64);
    let count = chunk * rounds as u64;
    let counters = [Cell::new(0), Cell::new(0)];
    store_row(
        r,
        toks,
        Plan::fixed(rounds, chunk),
        PG_CREATE,
        Some(count),
        |h| creating(toks, &counters, h),
    )?;
    for c in &counters {
        if c.get() != count {
            return Err(anyhow!("{} objects created, not {count}", c.get()));
        }
    }
    Ok(count)
}

/// One PostgreSQL row: the SQLite token, then the PostgreSQL token, interleaved; printed and
/// kept in `Runner::store`.
fn store_row<'h, F>(
    r: &mut Runner,
    toks: &'h [Hsm; 2],
    plan: Plan,
    name: &str,
    objects: Option<u64>,
    make: F,
) -> Result<()>
where
    F: Fn(&'h Hsm) -> Result<Batch<'h>>,
{
    let Some(stats) = r.contend(toks, plan, (PG_GROUP, name), make, None)? else {
        return Ok(());
    };
    let [sqlite, pg]: [Stats; 2] = stats
        .try_into()
        .map_err(|_| anyhow!("{PG_GROUP}: {name}: not two results"))?;
    let row = StoreRow {
        name: name.to_string(),
        objects,
        sqlite,
        pg,
    };
    report::say(&report::format_store_row(&row))?;
    r.store.push(row);
    Ok(())
}
