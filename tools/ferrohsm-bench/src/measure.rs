//! Interleaved measurement: every contender of a benchmark runs a warm-up batch, then the rounds
//! alternate between the contenders (the order reversed every other round), so that a slow
//! period of the machine hits all of them alike.

use anyhow::Result;
use std::time::{Duration, Instant};

/// Runs `n` operations and returns the time they took (measured by the contender itself, so a
/// contender can leave its setup out or report a time measured in a child process).
pub type Batch<'a> = Box<dyn FnMut(u64) -> Result<Duration> + 'a>;

/// Times `n` calls of `op`.
pub fn timed(n: u64, mut op: impl FnMut() -> Result<()>) -> Result<Duration> {
    let start = Instant::now();
    for _ in 0..n {
        op()?;
    }
    Ok(start.elapsed())
}

/// How a benchmark is run.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Timed rounds per contender.
    pub rounds: usize,
    /// Untimed warm-up batches per contender (at least the calibration call is made).
    pub warmup: usize,
    /// The batch size is chosen so that a batch takes about this long.
    pub batch_time: Duration,
    /// Upper bound of the batch size.
    pub max_batch: u64,
    /// A fixed batch size: no calibration and no warm-up (for operations that change the
    /// state, like creating objects, or that are slow and measured elsewhere).
    pub fixed_batch: Option<u64>,
}

impl Plan {
    pub fn fixed(rounds: usize, batch: u64) -> Plan {
        Plan {
            rounds,
            warmup: 0,
            batch_time: Duration::ZERO,
            max_batch: batch,
            fixed_batch: Some(batch),
        }
    }

    pub fn with_rounds(mut self, rounds: usize) -> Plan {
        self.rounds = rounds;
        self
    }

    pub fn with_batch_time(mut self, t: Duration) -> Plan {
        self.batch_time = t;
        self
    }

    pub fn with_max_batch(mut self, n: u64) -> Plan {
        self.max_batch = n;
        self
    }
}

/// Rates (operations per second) of each round, and their summary.
#[derive(Debug, Clone)]
pub struct Stats {
    pub rates: Vec<f64>,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub p25: f64,
    pub p75: f64,
    /// Operations per batch.
    pub batch: u64,
}

impl Stats {
    pub fn from_rates(mut rates: Vec<f64>, batch: u64) -> Stats {
        rates.sort_by(f64::total_cmp);
        let q = |p: f64| -> f64 {
            if rates.is_empty() {
                return f64::NAN;
            }
            // Linear interpolation between the closest ranks.
            let pos = p * (rates.len() - 1) as f64;
            let lo = pos.floor() as usize;
            let hi = pos.ceil() as usize;
            rates[lo] + (rates[hi] - rates[lo]) * (pos - lo as f64)
        };
        Stats {
            median: q(0.5),
            min: q(0.0),
            max: q(1.0),
            p25: q(0.25),
            p75: q(0.75),
            rates,
            batch,
        }
    }

    /// Half the min–max range, as a percentage of the median.
    pub fn spread_pct(&self) -> f64 {
        (self.max - self.min) / 2.0 / self.median * 100.0
    }
}

/// Runs the contenders interleaved; returns one `Stats` per contender, in order.
pub fn run(plan: &Plan, contenders: &mut [Batch<'_>]) -> Result<Vec<Stats>> {
    let mut batches = Vec::with_capacity(contenders.len());
    for c in contenders.iter_mut() {
        let n = match plan.fixed_batch {
            Some(n) => n,
            None => {
                // Calibration: one operation, then a batch of the estimated size.
                let t = c(1)?.max(Duration::from_nanos(100));
                let mut n = (plan.batch_time.as_secs_f64() / t.as_secs_f64()).ceil() as u64;
                n = n.clamp(1, plan.max_batch.max(1));
                if n > 1 {
                    let t = c(n)?.max(Duration::from_nanos(100));
                    let est = n as f64 * plan.batch_time.as_secs_f64() / t.as_secs_f64();
                    n = (est.ceil() as u64).clamp(1, plan.max_batch.max(1));
                }
                n
            }
        };
        batches.push(n);
    }
    if plan.fixed_batch.is_none() {
        for _ in 0..plan.warmup {
            for (c, &n) in contenders.iter_mut().zip(&batches) {
                c(n)?;
            }
        }
    }
    let mut rates = vec![Vec::with_capacity(plan.rounds); contenders.len()];
    let k = contenders.len();
    for round in 0..plan.rounds {
        for j in 0..k {
            let i = if round % 2 == 0 { j } else { k - 1 - j };
            let n = batches[i];
            let t = contenders[i](n)?.max(Duration::from_nanos(1));
            rates[i].push(n as f64 / t.as_secs_f64());
        }
    }
    Ok(rates
        .into_iter()
        .zip(batches)
        .map(|(r, n)| Stats::from_rates(r, n))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles() {
        let s = Stats::from_rates(vec![5.0, 1.0, 3.0, 2.0, 4.0], 1);
        assert_eq!(s.median, 3.0);
        assert_eq!(s.min, 1.0);
        assert_eq!(s.max, 5.0);
        assert_eq!(s.p25, 2.0);
        assert_eq!(s.p75, 4.0);
        let s = Stats::from_rates(vec![1.0, 2.0], 1);
        assert_eq!(s.median, 1.5);
    }

    #[test]
    fn interleaves_and_counts() -> Result<()> {
        let calls = std::cell::RefCell::new(Vec::new());
        let mut contenders: Vec<Batch> = (0..2)
            .map(|i| -> Batch {
                let calls = &calls;
                Box::new(move |n| {
                    calls.borrow_mut().push((i, n));
                    Ok(Duration::from_millis(n))
                })
            })
            .collect();
        let stats = run(&Plan::fixed(3, 4), &mut contenders)?;
        assert_eq!(
            *calls.borrow(),
            vec![(0, 4), (1, 4), (1, 4), (0, 4), (0, 4), (1, 4)]
        );
        assert_eq!(stats.len(), 2);
        assert!((stats[0].median - 1000.0).abs() < 1e-6);
        Ok(())
    }
}
