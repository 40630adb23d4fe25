//! The project's performance targets (issue 13 and before), checked on the rows that were run:
//! each target gives one line, met or missed, with the numbers it was judged on.

use crate::report::{Row, Scaling, StoreRow, LIB};

/// Suffix of the group of the large object level, which only ferrohsm runs.
pub const FERROHSM_ONLY: &str = "(ferrohsm only)";
/// The search row of that level, in the process that created the objects.
pub const SAME_PROCESS_SEARCH: &str = "C_FindObjects by CKA_LABEL, same process";
/// The search-rate row of that level, in a fresh process.
pub const FRESH_PROCESS_SEARCH: &str = "C_FindObjects by CKA_LABEL, fresh process";

/// The group of the PostgreSQL rows (`--store-url`).
pub const PG_GROUP: &str = "postgresql";
/// The signing rows of that group, each held to `PG_SIGN` of the SQLite token's rate.
pub const PG_SIGN_ROWS: [&str; 2] = [
    "ECDSA P-256 sign ECDSA_SHA256",
    "RSA-2048 sign SHA256_RSA_PKCS",
];
/// Its creation row, from one process.
pub const PG_CREATE: &str = "create (C_CreateObject, private AES key)";
/// Its search rows.
pub const PG_FIND_ROWS: [&str; 2] = ["C_FindObjects by CKA_ID", "C_FindObjects by CKA_LABEL"];

/// Issue 13: a PostgreSQL token signs at this fraction of a SQLite token's rate or more...
const PG_SIGN: f64 = 0.80;
/// ... creates this many objects per second from one process or more...
const PG_CREATE_RATE: f64 = 1000.0;
/// ... and finds one object among this many in less than `PG_FIND_MS`.
const PG_FIND_OBJECTS: u64 = 10_000;
const PG_FIND_MS: f64 = 1.0;

/// One checked target.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub met: bool,
    pub text: String,
}

/// Single-part operations whose per-operation overhead over the library alone must stay under
/// 1 µs: ECDSA, RSA, AES-GCM/CBC and SHA-256 up to 4 KiB (for 1 MiB the throughput ratio is the
/// target: copying a MiB alone takes longer than a microsecond).
fn overhead_bound(name: &str) -> bool {
    let small = !name.ends_with("1 MiB");
    name.starts_with("RSA-")
        || name.starts_with("ECDSA ")
        || (small
            && (name.starts_with("AES-256-GCM encrypt")
                || name.starts_with("AES-256-CBC encrypt")
                || name.starts_with("SHA-256 digest")))
}

/// Minimum ferrohsm / library ratio of some crypto rows.
const LIB_RATIO: [(&str, f64); 4] = [
    ("ECDSA P-256 sign ECDSA_SHA256*", 0.94),
    ("AES-256-GCM encrypt 4 KiB", 0.80),
    ("AES-256-GCM encrypt 1 MiB", 0.80),
    ("SHA-256 digest 4 KiB", 0.90),
];

/// Minimum operations per second of some crypto rows.
const RATE: [(&str, f64); 1] = [("AES-256-GCM encrypt 64 B", 700_000.0)];

const SOFTHSM_RATIO: f64 = 1.2;
const SCALING: f64 = 1.85;
/// The same-process search at the large object level against the search at the largest level
/// both modules ran (10,000 objects in a full run).
const SEARCH_FLAT: f64 = 0.80;

fn group_level(group: &str) -> Option<u64> {
    group.strip_prefix("objects ")?.parse().ok()
}

pub fn check(rows: &[Row], scaling: &[Scaling], store: &[StoreRow]) -> Vec<Verdict> {
    let mut out = Vec::new();
    let mut check = |met: bool, text: String| out.push(Verdict { met, text });
    for r in rows.iter().filter(|r| r.group == "crypto") {
        if let Some(ratio) = r.ratio() {
            check(
                ratio >= SOFTHSM_RATIO,
                format!(
                    "{}: {ratio:.2}x SoftHSMv2 (target >= {SOFTHSM_RATIO}x)",
                    r.name
                ),
            );
        }
        if let (true, Some(ovh), Some(noise)) = (
            overhead_bound(&r.name),
            r.overhead_us(),
            r.overhead_noise_us(),
        ) {
            check(
                ovh <= 1.0,
                format!(
                    "{}: overhead {ovh:+.2} µs per op over {LIB} alone (noise ±{noise:.2} µs; \
                     target <= 1 µs)",
                    r.name
                ),
            );
        }
        for (name, min) in LIB_RATIO {
            if let (true, Some(ratio)) = (r.name == name, r.lib_ratio()) {
                check(
                    ratio >= min,
                    format!(
                        "{name}: {:.0}% of {LIB} alone (target >= {:.0}%)",
                        ratio * 100.0,
                        min * 100.0
                    ),
                );
            }
        }
        for (name, min) in RATE {
            if r.name == name {
                check(
                    r.ferro.median >= min,
                    format!("{name}: {:.0} op/s (target >= {min:.0})", r.ferro.median),
                );
            }
        }
    }
    for r in rows {
        let g = r.group.as_str();
        let Some(level) = group_level(g) else {
            continue;
        };
        let Some(ratio) = r.ratio() else {
            continue;
        };
        if r.name.contains("create") {
            check(
                ratio >= 10.0,
                format!("{g}: {}: {ratio:.1}x SoftHSMv2 (target >= 10x)", r.name),
            );
        } else if level == 10_000 && r.name.starts_with("C_FindObjects") {
            let ms = 1e3 / r.ferro.median;
            check(
                ratio >= 100.0 && ms < 1.0,
                format!(
                    "{g}: {}: {ratio:.1}x SoftHSMv2, {ms:.3} ms per search \
                     (target >= 100x and < 1 ms)",
                    r.name
                ),
            );
        }
    }
    let big = |name: &str| {
        rows.iter()
            .find(|r| r.group.ends_with(FERROHSM_ONLY) && r.name == name)
    };
    let reference = rows
        .iter()
        .filter(|r| r.name == "C_FindObjects by CKA_LABEL")
        .filter_map(|r| group_level(&r.group).map(|level| (level, r)))
        .max_by_key(|(level, _)| *level);
    if let (Some(same), Some((level, reference))) = (big(SAME_PROCESS_SEARCH), reference) {
        let ratio = same.ferro.median / reference.ferro.median;
        let fresh = big(FRESH_PROCESS_SEARCH)
            .map(|f| format!(", fresh process {:.0}/s", f.ferro.median))
            .unwrap_or_default();
        check(
            ratio >= SEARCH_FLAT,
            format!(
                "{}: {SAME_PROCESS_SEARCH}: {:.0}/s = {:.0}% of {:.0}/s at {level} objects{fresh} \
                 (target >= {:.0}%)",
                same.group,
                same.ferro.median,
                ratio * 100.0,
                reference.ferro.median,
                SEARCH_FLAT * 100.0
            ),
        );
    }
    for s in scaling {
        check(
            s.ferro >= SCALING,
            format!(
                "{}: ferrohsm 2 threads = {:.2}x 1 thread (target >= {SCALING}x)",
                s.name, s.ferro
            ),
        );
    }
    out.extend(check_store(store));
    out
}

fn check_store(rows: &[StoreRow]) -> Vec<Verdict> {
    let mut out = Vec::new();
    let mut check = |met: bool, text: String| out.push(Verdict { met, text });
    for r in rows {
        let (pg, sqlite) = (r.pg.median, r.sqlite.median);
        if PG_SIGN_ROWS.contains(&r.name.as_str()) {
            check(
                r.ratio() >= PG_SIGN,
                format!(
                    "{PG_GROUP}: {}: {pg:.0} op/s = {:.0}% of the SQLite token's {sqlite:.0} \
                     (target >= {:.0}%)",
                    r.title(),
                    r.ratio() * 100.0,
                    PG_SIGN * 100.0
                ),
            );
        } else if r.name == PG_CREATE {
            check(
                pg >= PG_CREATE_RATE,
                format!(
                    "{PG_GROUP}: {}: {pg:.0} op/s from one process (SQLite {sqlite:.0}; \
                     target >= {PG_CREATE_RATE:.0})",
                    r.title()
                ),
            );
        } else if PG_FIND_ROWS.contains(&r.name.as_str())
            && r.objects.is_some_and(|n| n >= PG_FIND_OBJECTS)
        {
            let ms = 1e3 / pg;
            check(
                ms < PG_FIND_MS,
                format!(
                    "{PG_GROUP}: {}: {ms:.3} ms per search (SQLite {:.3} ms; target < \
                     {PG_FIND_MS} ms at {PG_FIND_OBJECTS} objects)",
                    r.title(),
                    1e3 / sqlite
                ),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::Stats;

    fn row(name: &str, objects: Option<u64>, sqlite: f64, pg: f64) -> StoreRow {
        StoreRow {
            name: name.to_string(),
            objects,
            sqlite: Stats::from_rates(vec![sqlite], 1),
            pg: Stats::from_rates(vec![pg], 1),
        }
    }

    fn met(rows: &[StoreRow]) -> Vec<bool> {
        check(&[], &[], rows).into_iter().map(|v| v.met).collect()
    }

    #[test]
    fn postgresql_signing_is_held_to_80_percent_of_sqlite() {
        let name = PG_SIGN_ROWS[0];
        assert_eq!(met(&[row(name, None, 1000.0, 800.0)]), [true]);
        assert_eq!(met(&[row(name, None, 1000.0, 799.0)]), [false]);
    }

    #[test]
    fn postgresql_creation_is_held_to_1000_per_second() {
        assert_eq!(met(&[row(PG_CREATE, Some(10_000), 5.0, 1000.0)]), [true]);
        assert_eq!(met(&[row(PG_CREATE, Some(10_000), 5e3, 999.0)]), [false]);
    }

    #[test]
    fn postgresql_search_is_held_to_1_ms_at_10000_objects_only() {
        let name = PG_FIND_ROWS[1];
        assert_eq!(met(&[row(name, Some(10_000), 1.0, 1001.0)]), [true]);
        assert_eq!(met(&[row(name, Some(10_000), 1e4, 999.0)]), [false]);
        // Fewer objects than the target names: no verdict rather than an easier one.
        assert!(met(&[row(name, Some(1000), 1e4, 999.0)]).is_empty());
        assert!(met(&[row("new process", Some(10_000), 1.0, 1.0)]).is_empty());
    }
}
