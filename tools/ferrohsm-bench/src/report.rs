//! Results: the table on standard output, `bench.csv` and the ratio chart `bench.svg`.

use crate::measure::Stats;
use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

/// What one operation of a row is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Shown as operations per second.
    Ops,
    /// Shown as MB/s (10^6 bytes) of this many bytes per operation.
    Bytes(u64),
}

/// One benchmark: ferrohsm, SoftHSMv2 (absent on the rows SoftHSMv2 would take too long for),
/// and the crypto library alone in the same process (on the crypto rows).
#[derive(Debug, Clone)]
pub struct Row {
    pub group: String,
    pub name: String,
    pub unit: Unit,
    pub ferro: Stats,
    pub soft: Option<Stats>,
    pub lib: Option<Stats>,
}

/// The name of the library column.
pub const LIB: &str = "aws-lc-rs";

impl Row {
    /// ferrohsm / SoftHSMv2, in operations per second: above 1, ferrohsm is faster.
    pub fn ratio(&self) -> Option<f64> {
        self.soft.as_ref().map(|s| self.ferro.median / s.median)
    }

    /// ferrohsm / the library alone, in operations per second.
    pub fn lib_ratio(&self) -> Option<f64> {
        self.lib.as_ref().map(|l| self.ferro.median / l.median)
    }

    /// What the module adds to each operation: its time per operation minus the library's,
    /// in microseconds.
    pub fn overhead_us(&self) -> Option<f64> {
        self.lib
            .as_ref()
            .map(|l| (1.0 / self.ferro.median - 1.0 / l.median) * 1e6)
    }

    /// How far apart the per-operation times of ferrohsm and the library could be from noise
    /// alone: the sum of half their min–max ranges, in microseconds.
    pub fn overhead_noise_us(&self) -> Option<f64> {
        let half_range = |s: &Stats| (1.0 / s.min - 1.0 / s.max) / 2.0 * 1e6;
        self.lib
            .as_ref()
            .map(|l| half_range(&self.ferro) + half_range(l))
    }
}

/// One PostgreSQL row (`--store-url`): ferrohsm on a SQLite token and on a PostgreSQL token.
#[derive(Debug, Clone)]
pub struct StoreRow {
    pub name: String,
    /// Objects on each token during the row, on the object rows.
    pub objects: Option<u64>,
    pub sqlite: Stats,
    pub pg: Stats,
}

impl StoreRow {
    /// PostgreSQL / SQLite, in operations per second: below 1, the PostgreSQL token is slower.
    pub fn ratio(&self) -> f64 {
        self.pg.median / self.sqlite.median
    }

    /// The name with the object count, as shown.
    pub fn title(&self) -> String {
        match self.objects {
            Some(n) => format!("{}, {n} objects", self.name),
            None => self.name.clone(),
        }
    }
}

/// Throughput with 2 threads over 1 thread, for each module.
#[derive(Debug, Clone)]
pub struct Scaling {
    /// The operation of the thread rows, e.g. "RSA-2048 sign SHA256_RSA_PKCS".
    pub name: String,
    pub ferro: f64,
    pub other: f64,
}

const NAME_WIDTH: usize = 44;

/// The column heads, aligned with `format_row`.
pub fn header() -> String {
    format!(
        "{:<NAME_WIDTH$} {:>15} {:>3} {:>10} | {:>15} {:>3} {:>10} | {:>8} | {:>10} {:>3} {:>5} {:>7}",
        "benchmark",
        "ferrohsm",
        "±%",
        "per op",
        "SoftHSMv2",
        "±%",
        "per op",
        "ratio",
        format!("{LIB}/op"),
        "±%",
        "f/lib",
        "ovh µs"
    )
}

fn value(unit: Unit, ops_per_s: f64) -> String {
    match unit {
        Unit::Ops => format!("{} op/s", sig(ops_per_s)),
        Unit::Bytes(n) => format!("{} MB/s", sig(ops_per_s * n as f64 / 1e6)),
    }
}

/// Four significant digits or so, without exponent.
fn sig(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    if x >= 1000.0 {
        format!("{x:.0}")
    } else if x >= 100.0 {
        format!("{x:.1}")
    } else if x >= 10.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// Time of one operation.
pub fn per_op(ops_per_s: f64) -> String {
    let s = 1.0 / ops_per_s;
    if !s.is_finite() {
        "-".into()
    } else if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else if s >= 1e-6 {
        format!("{:.2} µs", s * 1e6)
    } else {
        format!("{:.0} ns", s * 1e9)
    }
}

/// A difference in microseconds, with its sign and about three significant digits.
fn micros(us: f64) -> String {
    if us.abs() >= 100.0 {
        format!("{us:+.0}")
    } else if us.abs() >= 10.0 {
        format!("{us:+.1}")
    } else {
        format!("{us:+.2}")
    }
}

pub fn format_row(r: &Row) -> String {
    let (soft, soft_spread, soft_op, ratio) = match (&r.soft, r.ratio()) {
        (Some(s), Some(ratio)) => (
            value(r.unit, s.median),
            format!("{:.0}", s.spread_pct()),
            per_op(s.median),
            format!("{ratio:.2}x"),
        ),
        _ => ("-".into(), String::new(), "-".into(), "-".into()),
    };
    let lib = match (&r.lib, r.lib_ratio(), r.overhead_us()) {
        (Some(l), Some(ratio), Some(ovh)) => format!(
            " | {:>10} {:>3.0} {:>5} {:>7}",
            per_op(l.median),
            l.spread_pct(),
            format!("{:.0}%", ratio * 100.0),
            micros(ovh)
        ),
        _ => String::new(),
    };
    format!(
        "{:<NAME_WIDTH$} {:>15} {:>3.0} {:>10} | {:>15} {:>3} {:>10} | {:>8}{lib}",
        r.name,
        value(r.unit, r.ferro.median),
        r.ferro.spread_pct(),
        per_op(r.ferro.median),
        soft,
        soft_spread,
        soft_op,
        ratio,
    )
}

pub fn format_scaling(s: &Scaling) -> String {
    format!(
        "{:<NAME_WIDTH$} {:>15} {:>3} {:>10} | {:>15} {:>3} {:>10} | {:>8}",
        "  scaling: 2 threads / 1 thread",
        format!("{:.2}x", s.ferro),
        "",
        "",
        format!("{:.2}x", s.other),
        "",
        "",
        format!("{:.2}x", s.ferro / s.other)
    )
}

/// The column heads of the PostgreSQL rows, aligned with `format_store_row`.
pub fn store_header() -> String {
    format!(
        "{:<NAME_WIDTH$} {:>15} {:>3} {:>10} | {:>15} {:>3} {:>10} | {:>8}",
        "benchmark", "SQLite", "±%", "per op", "PostgreSQL", "±%", "per op", "PG/SQLite"
    )
}

pub fn format_store_row(r: &StoreRow) -> String {
    format!(
        "{:<NAME_WIDTH$} {:>15} {:>3.0} {:>10} | {:>15} {:>3.0} {:>10} | {:>8}",
        r.title(),
        value(Unit::Ops, r.sqlite.median),
        r.sqlite.spread_pct(),
        per_op(r.sqlite.median),
        value(Unit::Ops, r.pg.median),
        r.pg.spread_pct(),
        per_op(r.pg.median),
        format!("{:.0}%", r.ratio() * 100.0),
    )
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// `bench.csv`: rates in operations per second (MB/s = rate × bytes_per_op / 10^6); the
/// SoftHSMv2 or library columns are empty where that contender did not run.
pub fn write_csv(path: &Path, rows: &[Row], scaling: &[Scaling]) -> Result<()> {
    let columns = |who: &str| {
        ["median", "min", "p25", "p75", "max", "batch"]
            .map(|c| format!("{who}_{c}"))
            .join(",")
    };
    let mut out = format!(
        "group,benchmark,unit,bytes_per_op,rounds,{},{},ratio,{},ferrohsm_per_lib,overhead_us\n",
        columns("ferrohsm"),
        columns("softhsm"),
        columns("lib")
    );
    let stats = |st: Option<&Stats>| match st {
        Some(st) => format!(
            "{:.3},{:.3},{:.3},{:.3},{:.3},{}",
            st.median, st.min, st.p25, st.p75, st.max, st.batch
        ),
        None => ",,,,,".into(),
    };
    let num = |x: Option<f64>| x.map(|x| format!("{x:.4}")).unwrap_or_default();
    for r in rows {
        let bytes = match r.unit {
            Unit::Ops => 0,
            Unit::Bytes(n) => n,
        };
        writeln!(
            out,
            "{},{},op/s,{bytes},{},{},{},{},{},{},{}",
            csv_field(&r.group),
            csv_field(&r.name),
            r.ferro.rates.len(),
            stats(Some(&r.ferro)),
            stats(r.soft.as_ref()),
            num(r.ratio()),
            stats(r.lib.as_ref()),
            num(r.lib_ratio()),
            num(r.overhead_us())
        )?;
    }
    for sc in scaling {
        writeln!(
            out,
            "scaling,{},2-thread/1-thread,0,,{:.3},,,,,,{:.3},,,,,,{:.4},,,,,,,,",
            csv_field(&format!("{}: 2 threads / 1 thread", sc.name)),
            sc.ferro,
            sc.other,
            sc.ferro / sc.other
        )?;
    }
    std::fs::write(path, out).with_context(|| format!("cannot write {}", path.display()))
}

/// `bench-postgresql.csv`: the PostgreSQL rows, rates in operations per second.
pub fn write_store_csv(path: &Path, rows: &[StoreRow]) -> Result<()> {
    let columns = |who: &str| {
        ["median", "min", "p25", "p75", "max", "batch"]
            .map(|c| format!("{who}_{c}"))
            .join(",")
    };
    let mut out = format!(
        "benchmark,objects,rounds,{},{},postgresql_per_sqlite\n",
        columns("sqlite"),
        columns("postgresql")
    );
    let stats = |st: &Stats| {
        format!(
            "{:.3},{:.3},{:.3},{:.3},{:.3},{}",
            st.median, st.min, st.p25, st.p75, st.max, st.batch
        )
    };
    for r in rows {
        writeln!(
            out,
            "{},{},{},{},{},{:.4}",
            csv_field(&r.name),
            r.objects.map(|n| n.to_string()).unwrap_or_default(),
            r.pg.rates.len(),
            stats(&r.sqlite),
            stats(&r.pg),
            r.ratio()
        )?;
    }
    std::fs::write(path, out).with_context(|| format!("cannot write {}", path.display()))
}

/// `bench.svg`: a horizontal bar per ratio (ferrohsm / SoftHSMv2, and ferrohsm / the library
/// alone on the crypto rows), on a log scale, a line at 1.
pub fn write_chart(path: &Path, rows: &[Row], title: &str) -> Result<()> {
    use plotters::prelude::*;
    use plotters::style::text_anchor::{HPos, Pos, VPos};

    let mut bars: Vec<(String, f64)> = Vec::new();
    for r in rows {
        let name = if r.group == "crypto" {
            r.name.clone()
        } else {
            format!("{}: {}", r.group, r.name)
        };
        if let Some(ratio) = r.ratio().filter(|x| x.is_finite()) {
            bars.push((name.clone(), ratio));
        }
        if let Some(ratio) = r.lib_ratio().filter(|x| x.is_finite()) {
            bars.push((format!("{name} [vs {LIB} alone]"), ratio));
        }
    }
    if bars.is_empty() {
        return Ok(());
    }
    let n = bars.len();
    let (mut lo, mut hi) = (1.0f64, 1.0f64);
    for (_, ratio) in &bars {
        lo = lo.min(*ratio);
        hi = hi.max(*ratio);
    }
    let (lo, hi) = (lo / 2.0, hi * 4.0);

    let height = 100 + 20 * n as u32;
    let root = SVGBackend::new(path, (1100, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(420)
        .build_cartesian_2d((lo..hi).log_scale(), (0..n).into_segmented())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n)
        .y_label_style(("sans-serif", 12))
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) if *i < n => bars[n - 1 - i].0.clone(),
            _ => String::new(),
        })
        .x_desc("ferrohsm / other (median throughput; right of 1 = ferrohsm faster)")
        .x_label_formatter(&|x| format!("{x}"))
        .draw()?;

    let green = RGBColor(60, 150, 80);
    let red = RGBColor(200, 70, 60);
    let blue = RGBColor(70, 110, 190);
    chart.draw_series(bars.iter().enumerate().map(|(i, (label, ratio))| {
        let y = n - 1 - i;
        let color = if label.ends_with(" alone]") {
            blue
        } else if *ratio >= 1.0 {
            green
        } else {
            red
        };
        let mut bar = Rectangle::new(
            [
                (lo, SegmentValue::Exact(y)),
                (*ratio, SegmentValue::Exact(y + 1)),
            ],
            color.mix(0.8).filled(),
        );
        bar.set_margin(2, 2, 0, 0);
        bar
    }))?;
    chart.draw_series(bars.iter().enumerate().map(|(i, (_, ratio))| {
        let y = n - 1 - i;
        Text::new(
            if *ratio >= 10.0 {
                format!(" {ratio:.0}")
            } else {
                format!(" {ratio:.2}")
            },
            (*ratio, SegmentValue::CenterOf(y)),
            TextStyle::from(("sans-serif", 11).into_font()).pos(Pos::new(HPos::Left, VPos::Center)),
        )
    }))?;
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(1.0, SegmentValue::Exact(0)), (1.0, SegmentValue::Exact(n))],
        BLACK.stroke_width(2),
    )))?;
    root.present()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Writes a line to standard output; a closed pipe ends the program quietly.
pub fn say(line: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").context("cannot write to standard output")?;
    out.flush().context("cannot write to standard output")
}
