//! Medians and spreads of samples, and the summary of one table's rows.

use std::collections::BTreeMap;

use crate::measure::Sample;

pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The median of some values and their range.
#[derive(Clone, Copy, Debug)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(values: Vec<f64>) -> Spread {
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Spread {
            median: median(values),
            min,
            max,
        }
    }

    /// `1.08x (1.01–1.15)`: the median ratio, then the range.
    pub fn ratio(&self) -> String {
        format!("{:.2}x ({:.2}–{:.2})", self.median, self.min, self.max)
    }
}

/// One variant at one N: medians per task, and the ratios to the baseline of the same round.
#[derive(Clone, Debug)]
pub struct Row {
    pub rounds: usize,
    pub start: f64,
    pub stop: f64,
    pub register: f64,
    pub teardown: f64,
    pub heap: f64,
    /// Minor page faults per 1,000 tasks: registration, start, stop, teardown.
    pub faults: [f64; 4],
    pub start_ratio: Spread,
    pub stop_ratio: Spread,
    pub heap_ratio: Spread,
}

/// The rows of one set of samples, by (N, variant), each against `baseline` in the same round.
pub fn summarize(samples: &[Sample], baseline: &str) -> BTreeMap<(usize, String), Row> {
    let mut rows = BTreeMap::new();
    let mut keys: Vec<(usize, String)> = samples.iter().map(|s| (s.n, s.variant.clone())).collect();
    keys.sort();
    keys.dedup();
    for (n, variant) in keys {
        let own: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.n == n && s.variant == variant)
            .collect();
        let per_task =
            |f: fn(&Sample) -> f64| median(own.iter().map(|s| f(s) / n as f64).collect());
        let paired = |f: fn(&Sample) -> f64| {
            Spread::of(
                own.iter()
                    .filter_map(|s| {
                        let base = samples
                            .iter()
                            .find(|b| b.n == n && b.round == s.round && b.variant == baseline)?;
                        Some(f(s) / f(base))
                    })
                    .collect(),
            )
        };
        let faults = |phase: usize| {
            median(
                own.iter()
                    .map(|s| s.faults[phase] * 1_000.0 / n as f64)
                    .collect(),
            )
        };
        let row = Row {
            rounds: own.len(),
            start: per_task(|s| s.start),
            stop: per_task(|s| s.stop),
            register: per_task(|s| s.register),
            teardown: per_task(|s| s.teardown),
            heap: per_task(|s| s.heap),
            faults: [faults(0), faults(1), faults(2), faults(3)],
            start_ratio: paired(|s| s.start),
            stop_ratio: paired(|s| s.stop),
            heap_ratio: paired(|s| s.heap),
        };
        rows.insert((n, variant), row);
    }
    rows
}
