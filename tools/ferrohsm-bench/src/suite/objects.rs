//! The object rows: creating private token keys up to each count, searching them by
//! `CKA_ID` and `CKA_LABEL` in this process and in a fresh one; and the large level that only
//! ferrohsm runs (SoftHSMv2 would take hours), where the process that created the objects
//! searches them.

use super::store::STORE_URL_VAR;
use super::{batch, Hsm, Runner, USER_PIN};
use crate::measure::{timed, Batch, Plan};
use crate::p11::{Module, Template};
use crate::report::{self, Unit};
use crate::targets::{FERROHSM_ONLY, FRESH_PROCESS_SEARCH, SAME_PROCESS_SEARCH};
use anyhow::{bail, Context, Result};
use cryptoki_sys::*;
use std::cell::Cell;
use std::path::Path;
use std::time::{Duration, Instant};

fn object_id(i: u64) -> Vec<u8> {
    format!("obj-{i:06}").into_bytes()
}

pub(super) fn object_label(i: u64) -> String {
    format!("object {i:06}")
}

/// Creates one token object of the object rows: a private AES-256 key with an id and a label.
pub(super) fn create_object(h: &Hsm, i: u64) -> Result<()> {
    let mut value = [0u8; 32];
    value[..8].copy_from_slice(&i.to_le_bytes());
    let t = Template::new()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_AES)
        .bool(CKA_TOKEN, true)
        .bool(CKA_PRIVATE, true)
        .bool(CKA_SENSITIVE, true)
        .bool(CKA_ENCRYPT, true)
        .bytes(CKA_VALUE, &value)
        .bytes(CKA_ID, &object_id(i))
        .bytes(CKA_LABEL, object_label(i).as_bytes());
    h.m.create_object(h.s, t).map(drop)
}

/// A small deterministic generator, to search for objects in no particular order.
pub(super) fn lcg(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *state >> 33
}

/// Creates objects on each module of `hsms` up to `level`, in interleaved chunks, as one row.
fn create_row(r: &mut Runner, hsms: &mut [Hsm], g: &str, level: u64) -> Result<()> {
    let have = hsms.iter().map(|h| h.objects).max().unwrap_or(0);
    if level <= have || !r.wanted(g, "create") {
        return Ok(());
    }
    let rounds = if r.settings.quick || level <= 100 {
        4
    } else {
        6
    };
    let chunk = (level - have).div_ceil(rounds as u64);
    let counters: Vec<Cell<u64>> = hsms.iter().map(|h| Cell::new(h.objects)).collect();
    let modules: &[Hsm] = hsms;
    r.bench(
        modules,
        Plan::fixed(rounds, chunk),
        (g, "create (C_CreateObject, private AES key)", Unit::Ops),
        |h| creating(modules, &counters, h),
        None,
    )?;
    for (h, c) in hsms.iter_mut().zip(&counters) {
        h.objects = c.get();
    }
    Ok(())
}

/// The batch of a creation row for `h`, one of `modules`: creates its next objects, counted in
/// the counter of the same index.
pub(super) fn creating<'h>(
    modules: &'h [Hsm],
    counters: &'h [Cell<u64>],
    h: &'h Hsm,
) -> Result<Batch<'h>> {
    let c = modules
        .iter()
        .position(|m| std::ptr::eq(m, h))
        .and_then(|i| counters.get(i))
        .context("unknown module")?;
    Ok(Box::new(move |n| {
        timed(n, || {
            let i = c.get();
            c.set(i + 1);
            create_object(h, i)
        })
    }))
}

/// One search of the object rows: by `by` for object `i`, which must match exactly once.
fn find_one(m: &Module, s: CK_SESSION_HANDLE, by: CK_ATTRIBUTE_TYPE, i: u64) -> Result<()> {
    let value = if by == CKA_ID {
        object_id(i)
    } else {
        object_label(i).into_bytes()
    };
    let mut t = Template::new().bytes(by, &value);
    let mut found = [0 as CK_OBJECT_HANDLE; 4];
    let n = m.find(s, &mut t, &mut found)?;
    if n != 1 {
        bail!("{}: search for object {i} found {n} objects, not 1", m.name);
    }
    Ok(())
}

/// A batch of searches by `by` for objects in a scattered order among the first `count`.
pub(super) fn searching(h: &Hsm, by: CK_ATTRIBUTE_TYPE, count: u64) -> Batch<'_> {
    let mut state = 42u64;
    batch(move || find_one(&h.m, h.s, by, lcg(&mut state) % count))
}

/// Searches in this process, for objects in a scattered order among the first `count`.
fn search_row(
    r: &mut Runner,
    hsms: &[Hsm],
    plan: Plan,
    (g, name): (&str, &str),
    by: CK_ATTRIBUTE_TYPE,
    count: u64,
) -> Result<()> {
    r.bench(
        hsms,
        plan,
        (g, name, Unit::Ops),
        |h| Ok(searching(h, by, count)),
        None,
    )
}

/// The name of the "new process" rows.
pub(super) const NEW_PROCESS: &str = "new process: C_Initialize..first C_FindObjects";

/// The time a fresh process takes to its first search (see `first_find`).
fn new_process_row(r: &mut Runner, hsms: &[Hsm], g: &str, count: u64) -> Result<()> {
    let exe = r.settings.exe.clone();
    r.bench(
        hsms,
        new_process_plan(r),
        (g, NEW_PROCESS, Unit::Ops),
        |h| Ok(new_process(exe.clone(), h, count)),
        None,
    )
}

pub(super) fn new_process_plan(r: &Runner) -> Plan {
    Plan::fixed(if r.settings.quick { 2 } else { 5 }, 1)
}

/// A batch of fresh processes, each timing its way to the first search by label for the last
/// of `count` objects.
pub(super) fn new_process(exe: std::path::PathBuf, h: &Hsm, count: u64) -> Batch<'_> {
    let label = object_label(count - 1);
    Box::new(move |n| {
        let mut total = Duration::ZERO;
        for _ in 0..n {
            total += first_find_child(&exe, h, &label, None)?.0;
        }
        Ok(total)
    })
}

pub fn objects(r: &mut Runner, hsms: &mut [Hsm; 2]) -> Result<()> {
    let levels = r.settings.levels.clone();
    for level in levels {
        let g = format!("objects {level}");
        let g = g.as_str();
        create_row(r, hsms, g, level)?;
        let count = hsms[0].objects.min(hsms[1].objects);
        if count == 0 {
            continue;
        }
        let mut plan = r.plan();
        if level >= 1000 {
            // SoftHSMv2 takes long per search with many objects.
            plan = plan.with_rounds(if r.settings.quick { 3 } else { 5 });
        }
        for (by, what) in [(CKA_ID, "CKA_ID"), (CKA_LABEL, "CKA_LABEL")] {
            let name = format!("C_FindObjects by {what}");
            search_row(r, &*hsms, plan, (g, &name), by, count)?;
        }
        r.bench(
            &*hsms,
            plan,
            (g, "C_GetAttributeValue CKA_LABEL", Unit::Ops),
            |h| {
                let mut t = Template::new().bytes(CKA_LABEL, object_label(count / 2).as_bytes());
                let mut found = [0 as CK_OBJECT_HANDLE; 2];
                if h.m.find(h.s, &mut t, &mut found)? != 1 {
                    bail!("{}: object not found", h.m.name);
                }
                let obj = found[0];
                let mut out = [0u8; 64];
                Ok(batch(move || {
                    h.m.get_attribute(h.s, obj, CKA_LABEL, &mut out).map(drop)
                }))
            },
            None,
        )?;
        new_process_row(r, &*hsms, g, count)?;
    }
    Ok(())
}

/// The large level, ferrohsm only: create up to `Settings::big` objects, search them by label
/// in the process that created them, then the same searches in a fresh process. A search
/// should cost the same in both (issue 11).
pub fn big_objects(r: &mut Runner, hsms: &mut [Hsm; 2]) -> Result<()> {
    let level = r.settings.big;
    if level == 0 {
        return Ok(());
    }
    let g = format!("objects {level} {FERROHSM_ONLY}");
    let g = g.as_str();
    let ferro = &mut hsms[..1];
    create_row(r, ferro, g, level)?;
    let count = ferro[0].objects;
    if count == 0 {
        return Ok(());
    }
    let plan = r.plan();
    search_row(r, ferro, plan, (g, SAME_PROCESS_SEARCH), CKA_LABEL, count)?;
    new_process_row(r, ferro, g, count)?;
    let exe = r.settings.exe.clone();
    let (rounds, searches) = if r.settings.quick {
        (2, 500)
    } else {
        (5, 5000)
    };
    r.bench(
        ferro,
        Plan::fixed(rounds, searches),
        (g, FRESH_PROCESS_SEARCH, Unit::Ops),
        |h| {
            let exe = exe.clone();
            let label = object_label(count - 1);
            Ok(Box::new(move |n| {
                let (_, t) = first_find_child(&exe, h, &label, Some((count, n)))?;
                t.context("the child timed no searches")
            }))
        },
        None,
    )
}

/// Runs this program's hidden `first-find` command against the module's token, in a new
/// process; returns the time it measured to its first search (see `first_find`) and, with
/// `searches` = (count, n), the time of n more searches by label among the first count objects.
fn first_find_child(
    exe: &Path,
    h: &Hsm,
    label: &str,
    searches: Option<(u64, u64)>,
) -> Result<(Duration, Option<Duration>)> {
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("first-find")
        .arg("--module")
        .arg(&h.m.path)
        .arg("--token")
        .arg(&h.label)
        .arg("--label")
        .arg(label);
    // The parent's own environment names no store (main removes the variable), so a SQLite
    // token's child stays on the token directory.
    if let Some(url) = &h.store_url {
        cmd.env(STORE_URL_VAR, url);
    }
    if let Some((count, n)) = searches {
        cmd.arg("--count")
            .arg(count.to_string())
            .arg("--searches")
            .arg(n.to_string());
    }
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", exe.display()))?;
    if !out.status.success() {
        bail!(
            "{} first-find on {} failed ({}): {}",
            exe.display(),
            h.m.name,
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut words = text.split_whitespace().map(str::parse::<u64>);
    let first = words
        .next()
        .and_then(|w| w.ok())
        .with_context(|| format!("first-find printed {text:?}"))?;
    let searched = match words.nth(1) {
        Some(w) => Some(Duration::from_nanos(
            w.with_context(|| format!("first-find printed {text:?}"))?,
        )),
        None => None,
    };
    Ok((Duration::from_nanos(first), searched))
}

/// The child's side: load the module, then time C_Initialize, finding the token's slot,
/// C_OpenSession and the first C_FindObjects by label (C_Login, which derives the PIN key, is
/// left out: it has its own row). Prints the nanoseconds measured, then the login's, then
/// (with `searches` > 0) those of `searches` more searches by label among `count` objects.
pub fn first_find(
    module: &Path,
    token: &str,
    label: &str,
    count: u64,
    searches: u64,
) -> Result<()> {
    let m = Module::load("module", module)?;
    let start = Instant::now();
    m.initialize()?;
    let slot = m.find_token(token)?;
    let s = m.open_session(slot, false)?;
    let opened = start.elapsed();
    let login_start = Instant::now();
    m.login(s, CKU_USER, USER_PIN)?;
    let login = login_start.elapsed();
    let find_start = Instant::now();
    let mut t = Template::new().bytes(CKA_LABEL, label.as_bytes());
    let mut found = [0 as CK_OBJECT_HANDLE; 2];
    let n = m.find(s, &mut t, &mut found)?;
    let total = opened + find_start.elapsed();
    if n != 1 {
        bail!("the search by label found {n} objects, not 1");
    }
    let mut line = format!("{} {}", total.as_nanos(), login.as_nanos());
    if searches > 0 && count > 0 {
        let mut state = 42u64;
        let t = timed(searches, || {
            find_one(&m, s, CKA_LABEL, lcg(&mut state) % count)
        })?;
        line.push_str(&format!(" {}", t.as_nanos()));
    }
    report::say(&line)?;
    m.close_session(s)?;
    m.finalize()
}
