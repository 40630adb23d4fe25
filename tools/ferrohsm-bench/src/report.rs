//! Results: the table on standard output, `bench.csv`, the ratio chart `bench.svg`, and the
//! check of the performance targets.

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

/// One benchmark: ferrohsm against another contender (SoftHSMv2, or aws-lc-rs alone).
#[derive(Debug, Clone)]
pub struct Row {
    pub group: String,
    pub name: String,
    pub unit: Unit,
    pub ferro: Stats,
    pub other_name: &'static str,
    pub other: Stats,
}

impl Row {
    /// ferrohsm / other, in operations per second: above 1, ferrohsm is faster.
    pub fn ratio(&self) -> f64 {
        self.ferro.median / self.other.median
    }
}

/// Throughput with 2 threads over 1 thread, for each module.
#[derive(Debug, Clone)]
pub struct Scaling {
    pub name: String,
    pub ferro: f64,
    pub other: f64,
}

pub const HEADER: &str = "benchmark                                                    ferrohsm  ±%      per op |           other  ±%      per op |    ratio";

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

pub fn format_row(r: &Row) -> String {
    let other = if r.other_name == "SoftHSMv2" {
        String::new()
    } else {
        format!(" [vs {}]", r.other_name)
    };
    let name = format!("{}{other}", r.name);
    format!(
        "{name:<54} {:>15} {:>3.0} {:>11} | {:>15} {:>3.0} {:>11} | {:>7.2}x",
        value(r.unit, r.ferro.median),
        r.ferro.spread_pct(),
        per_op(r.ferro.median),
        value(r.unit, r.other.median),
        r.other.spread_pct(),
        per_op(r.other.median),
        r.ratio()
    )
}

pub fn format_scaling(s: &Scaling) -> String {
    format!(
        "{:<54} {:>15} {:>3} {:>11} | {:>15} {:>3} {:>11} | {:>7.2}x",
        s.name,
        format!("{:.2}x", s.ferro),
        "",
        "",
        format!("{:.2}x", s.other),
        "",
        "",
        s.ferro / s.other
    )
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// `bench.csv`: rates in operations per second (MB/s = rate × bytes_per_op / 10^6).
pub fn write_csv(path: &Path, rows: &[Row], scaling: &[Scaling]) -> Result<()> {
    let mut out = String::from(
        "group,benchmark,baseline,unit,bytes_per_op,rounds,\
         ferrohsm_median,ferrohsm_min,ferrohsm_p25,ferrohsm_p75,ferrohsm_max,ferrohsm_batch,\
         baseline_median,baseline_min,baseline_p25,baseline_p75,baseline_max,baseline_batch,\
         ratio\n",
    );
    for r in rows {
        let (unit, bytes) = match r.unit {
            Unit::Ops => ("op/s", 0),
            Unit::Bytes(n) => ("op/s", n),
        };
        let s = |st: &Stats| {
            format!(
                "{:.3},{:.3},{:.3},{:.3},{:.3},{}",
                st.median, st.min, st.p25, st.p75, st.max, st.batch
            )
        };
        writeln!(
            out,
            "{},{},{},{unit},{bytes},{},{},{},{:.4}",
            csv_field(&r.group),
            csv_field(&r.name),
            csv_field(r.other_name),
            r.ferro.rates.len(),
            s(&r.ferro),
            s(&r.other),
            r.ratio()
        )?;
    }
    for sc in scaling {
        writeln!(
            out,
            "scaling,{},SoftHSMv2,2-thread/1-thread,0,,{:.3},,,,,,{:.3},,,,,,{:.4}",
            csv_field(&sc.name),
            sc.ferro,
            sc.other,
            sc.ferro / sc.other
        )?;
    }
    std::fs::write(path, out).with_context(|| format!("cannot write {}", path.display()))
}

/// `bench.svg`: a horizontal bar per row, the ratio on a log scale, a line at 1.
pub fn write_chart(path: &Path, rows: &[Row], title: &str) -> Result<()> {
    use plotters::prelude::*;
    use plotters::style::text_anchor::{HPos, Pos, VPos};

    let rows: Vec<&Row> = rows.iter().filter(|r| r.ratio().is_finite()).collect();
    if rows.is_empty() {
        return Ok(());
    }
    let n = rows.len();
    let label = |r: &Row| {
        let name = if r.group == "crypto" {
            r.name.clone()
        } else {
            format!("{}: {}", r.group, r.name)
        };
        if r.other_name == "SoftHSMv2" {
            name
        } else {
            format!("{name} [vs {}]", r.other_name)
        }
    };
    let labels: Vec<String> = rows.iter().map(|r| label(r)).collect();
    let (mut lo, mut hi) = (1.0f64, 1.0f64);
    for r in &rows {
        lo = lo.min(r.ratio());
        hi = hi.max(r.ratio());
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
            SegmentValue::CenterOf(i) if *i < n => labels[n - 1 - i].clone(),
            _ => String::new(),
        })
        .x_desc("ferrohsm / other (median throughput; right of 1 = ferrohsm faster)")
        .x_label_formatter(&|x| format!("{x}"))
        .draw()?;

    let green = RGBColor(60, 150, 80);
    let red = RGBColor(200, 70, 60);
    chart.draw_series(rows.iter().enumerate().map(|(i, r)| {
        let y = n - 1 - i;
        let color = if r.ratio() >= 1.0 { green } else { red };
        let mut bar = Rectangle::new(
            [
                (lo, SegmentValue::Exact(y)),
                (r.ratio(), SegmentValue::Exact(y + 1)),
            ],
            color.mix(0.8).filled(),
        );
        bar.set_margin(2, 2, 0, 0);
        bar
    }))?;
    chart.draw_series(rows.iter().enumerate().map(|(i, r)| {
        let y = n - 1 - i;
        Text::new(
            if r.ratio() >= 10.0 {
                format!(" {:.0}", r.ratio())
            } else {
                format!(" {:.2}", r.ratio())
            },
            (r.ratio(), SegmentValue::CenterOf(y)),
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

/// The project's performance targets, checked on the rows that were run: one line per target
/// that was missed, and how many were met.
pub fn check_targets(rows: &[Row], scaling: &[Scaling]) -> (usize, Vec<String>) {
    let mut met = 0;
    let mut missed = Vec::new();
    let mut check = |ok: bool, text: String| {
        if ok {
            met += 1;
        } else {
            missed.push(text);
        }
    };
    for r in rows {
        let ratio = r.ratio();
        match (r.group.as_str(), r.other_name) {
            ("crypto", "SoftHSMv2") => check(
                ratio >= 1.2,
                format!("{}: {ratio:.2}x SoftHSMv2 (target >= 1.2x)", r.name),
            ),
            ("crypto", _) => check(
                ratio >= 0.9,
                format!(
                    "{}: {:.0}% of {} (target >= 90%)",
                    r.name,
                    ratio * 100.0,
                    r.other_name
                ),
            ),
            (g, _) if g.starts_with("objects") && r.name.contains("create") => check(
                ratio >= 10.0,
                format!("{g}: {}: {ratio:.1}x SoftHSMv2 (target >= 10x)", r.name),
            ),
            ("objects 10000", _) if r.name.starts_with("C_FindObjects") => {
                let ms = 1e3 / r.ferro.median;
                check(
                    ratio >= 100.0 && ms < 1.0,
                    format!(
                        "objects 10000: {}: {ratio:.1}x SoftHSMv2, {ms:.3} ms per search \
                         (target >= 100x and < 1 ms)",
                        r.name
                    ),
                )
            }
            _ => {}
        }
    }
    for s in scaling {
        check(
            s.ferro >= 1.8,
            format!(
                "{}: ferrohsm 2 threads = {:.3}x 1 thread (target >= 1.8x)",
                s.name, s.ferro
            ),
        );
    }
    (met, missed)
}

/// Writes a line to standard output; a closed pipe ends the program quietly.
pub fn say(line: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").context("cannot write to standard output")?;
    out.flush().context("cannot write to standard output")
}
