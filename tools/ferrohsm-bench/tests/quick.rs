//! Smoke test of the benchmark: `--quick` against the module built beside it and SoftHSMv2
//! runs to the end and writes its table, CSV and chart. No timing is asserted.

use anyhow::{ensure, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bench() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_ferrohsm-bench"))
}

/// `libferrohsm.so` of the same build (a workspace build puts it beside the executables).
fn ferrohsm_module() -> Result<PathBuf> {
    let dir = bench()
        .parent()
        .context("the benchmark has no parent directory")?;
    for candidate in [dir.join("libferrohsm.so"), dir.join("deps/libferrohsm.so")] {
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    anyhow::bail!(
        "libferrohsm.so was not built next to {} (build the workspace: cargo build --workspace)",
        bench().display()
    )
}

/// SoftHSMv2's module: `SOFTHSM2_MODULE`, else the Debian locations. Missing is a failure,
/// not a skip: scripts/test installs it.
fn softhsm_module() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("SOFTHSM2_MODULE") {
        return Ok(PathBuf::from(p));
    }
    [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
    .context("SoftHSMv2 is not installed (apt-get install softhsm2) or set SOFTHSM2_MODULE")
}

fn run(args: &[&std::ffi::OsStr]) -> Result<Output> {
    let mut cmd = Command::new(bench());
    cmd.args(args).stdin(std::process::Stdio::null());
    for var in [
        "FERROHSM_CONF",
        "FERROHSM_TOKEN_DIR",
        "FERROHSM_LOG",
        "SOFTHSM2_CONF",
    ] {
        cmd.env_remove(var);
    }
    cmd.output().context("cannot run ferrohsm-bench")
}

/// The fields of one CSV line (quoted fields may hold commas; no quotes inside them here).
fn fields(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(String::new()),
            c => out.last_mut().map(|f| f.push(c)).unwrap_or_default(),
        }
    }
    out
}

fn describe(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn quick_run_writes_table_csv_and_chart() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let module = ferrohsm_module()?;
    let softhsm = softhsm_module()?;
    let out = run(&[
        "--quick".as_ref(),
        "--ferrohsm".as_ref(),
        module.as_os_str(),
        "--softhsm".as_ref(),
        softhsm.as_os_str(),
        "--out".as_ref(),
        dir.path().as_os_str(),
    ])?;
    ensure!(out.status.success(), "--quick failed: {}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "-- crypto",
        "RSA-2048 sign SHA256_RSA_PKCS",
        "RSA-3072 decrypt RSA_PKCS_OAEP",
        "ECDSA P-384 sign ECDSA_SHA256",
        "aws-lc-rs/op",
        "ovh µs",
        "ECDH P-256",
        "AES-256-GCM encrypt 1 MiB",
        "HMAC-SHA256 sign 4 KiB",
        "C_GenerateRandom 1 MiB",
        "-- sessions",
        "C_GetSessionInfo",
        "-- threads",
        "2 threads / 1 thread",
        "-- objects 100",
        "C_FindObjects by CKA_LABEL",
        "new process",
        "-- objects 300 (ferrohsm only)",
        "C_FindObjects by CKA_LABEL, same process",
        "C_FindObjects by CKA_LABEL, fresh process",
        "C_Logout+C_Login",
        "targets:",
    ] {
        ensure!(
            stdout.contains(expected),
            "no {expected:?} in the output: {}",
            describe(&out)
        );
    }

    let csv = std::fs::read_to_string(dir.path().join("bench.csv"))?;
    let mut lines = csv.lines();
    let header = lines.next().context("empty bench.csv")?;
    ensure!(header.starts_with("group,benchmark,unit,"), "{header}");
    ensure!(
        header.ends_with(",ferrohsm_per_lib,overhead_us"),
        "{header}"
    );
    let columns = header.split(',').count();
    let rows: Vec<&str> = lines.collect();
    ensure!(rows.len() >= 40, "only {} rows in bench.csv", rows.len());
    for r in &rows {
        ensure!(fields(r).len() == columns, "{r:?} has not {columns} fields");
    }
    // Every crypto row has the library column and the overhead.
    let crypto: Vec<&&str> = rows.iter().filter(|r| r.starts_with("crypto,")).collect();
    ensure!(crypto.len() >= 30, "{csv}");
    for r in crypto {
        ensure!(fields(r).last().is_some_and(|f| !f.is_empty()), "{r}");
    }
    ensure!(rows.iter().any(|r| r.starts_with("objects 100,")), "{csv}");
    ensure!(
        rows.iter()
            .any(|r| r.starts_with("objects 300 (ferrohsm only),")),
        "{csv}"
    );
    ensure!(rows.iter().any(|r| r.starts_with("scaling,")), "{csv}");

    let svg = std::fs::read_to_string(dir.path().join("bench.svg"))?;
    ensure!(svg.starts_with("<svg"), "bench.svg is not an SVG file");
    ensure!(
        svg.contains("C_FindObjects by CKA_ID") && svg.contains("[vs aws-lc-rs alone]"),
        "bench.svg lacks the labels"
    );
    Ok(())
}

#[test]
fn missing_softhsm_is_a_clear_error() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let module = ferrohsm_module()?;
    let missing = dir.path().join("libsofthsm2.so");
    let out = run(&[
        "--quick".as_ref(),
        "--ferrohsm".as_ref(),
        module.as_os_str(),
        "--softhsm".as_ref(),
        missing.as_os_str(),
        "--out".as_ref(),
        dir.path().as_os_str(),
    ])?;
    ensure!(!out.status.success(), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(
        stderr.contains("SoftHSMv2 module not found") && stderr.contains("softhsm2"),
        "{}",
        describe(&out)
    );
    Ok(())
}

/// psql from PATH, else from the highest /usr/lib/postgresql/*/bin.
fn psql() -> Result<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("psql"));
    let mut installed: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin/psql"))
        .collect();
    installed.sort();
    on_path
        .chain(installed.into_iter().rev())
        .find(|p| p.is_file())
        .context("psql not found (Debian package postgresql-client)")
}

fn sql(conn: &str, command: &str) -> Result<()> {
    let out = Command::new(psql()?)
        .args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            conn,
            "-c",
            command,
        ])
        .output()?;
    ensure!(out.status.success(), "psql {command:?}: {}", describe(&out));
    Ok(())
}

/// The key=value connection string `base` with another database.
fn with_dbname(base: &str, dbname: &str) -> String {
    let mut parts: Vec<String> = base
        .split_whitespace()
        .filter(|kv| !kv.starts_with("dbname="))
        .map(str::to_string)
        .collect();
    parts.push(format!("dbname={dbname}"));
    parts.join(" ")
}

/// `--quick --store-url` on a fresh database of the cluster named by FERROHSM_TEST_PG
/// (scripts/test starts one; missing is a failure, not a skip): the PostgreSQL rows, their
/// targets and their CSV. Only those rows run (`--only postgresql`), on 1,000 objects (10,000
/// take two minutes in a debug build; the search target, judged at 10,000 only, has its unit
/// test); the other rows are the test above's.
#[test]
fn quick_run_with_store_url_gives_the_postgresql_rows() -> Result<()> {
    let base = std::env::var("FERROHSM_TEST_PG").context(
        "FERROHSM_TEST_PG is not set: it names a PostgreSQL cluster with a superuser role \
         (scripts/pg-cluster start DIR prints it; scripts/test exports it)",
    )?;
    let dbname = format!("ferrohsm_bench_test_{}", std::process::id());
    sql(&base, &format!("CREATE DATABASE \"{dbname}\""))?;
    let result = run_on_postgresql(&with_dbname(&base, &dbname));
    let dropped = sql(&base, &format!("DROP DATABASE \"{dbname}\" WITH (FORCE)"));
    result.and(dropped)
}

fn run_on_postgresql(url: &str) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let module = ferrohsm_module()?;
    let softhsm = softhsm_module()?;
    let out = run(&[
        "--quick".as_ref(),
        "--only".as_ref(),
        "postgresql".as_ref(),
        "--store-objects".as_ref(),
        "1000".as_ref(),
        "--store-url".as_ref(),
        url.as_ref(),
        "--ferrohsm".as_ref(),
        module.as_os_str(),
        "--softhsm".as_ref(),
        softhsm.as_os_str(),
        "--out".as_ref(),
        dir.path().as_os_str(),
    ])?;
    ensure!(
        out.status.success(),
        "--store-url failed: {}",
        describe(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "-- postgresql",
        "PG/SQLite",
        "ECDSA P-256 sign ECDSA_SHA256",
        "RSA-2048 sign SHA256_RSA_PKCS",
        "create (C_CreateObject, private AES key), 1000 objects",
        "C_FindObjects by CKA_ID, 1000 objects",
        "C_FindObjects by CKA_LABEL, 1000 objects",
        "new process: C_Initialize..first C_FindObjects, 1000 objects",
        "ECDSA P-256 sign ECDSA_SHA256: ",
        "of the SQLite token's",
        "op/s from one process",
    ] {
        ensure!(
            stdout.contains(expected),
            "no {expected:?} in the output: {}",
            describe(&out)
        );
    }
    // The signing and creation targets give a verdict; the search's needs 10,000 objects.
    let verdicts = stdout
        .lines()
        .filter(|l| l.contains("postgresql: ") && l.contains("target"))
        .count();
    ensure!(
        verdicts == 3,
        "{verdicts} PostgreSQL targets: {}",
        describe(&out)
    );

    let csv = std::fs::read_to_string(dir.path().join("bench-postgresql.csv"))?;
    let mut lines = csv.lines();
    let header = lines.next().context("empty bench-postgresql.csv")?;
    ensure!(
        header.starts_with("benchmark,objects,rounds,sqlite_median,"),
        "{header}"
    );
    let columns = header.split(',').count();
    let rows: Vec<&str> = lines.collect();
    ensure!(rows.len() == 6, "{csv}");
    for r in &rows {
        ensure!(fields(r).len() == columns, "{r:?} has not {columns} fields");
    }
    Ok(())
}
