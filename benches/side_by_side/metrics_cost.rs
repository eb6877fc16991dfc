//! The `metrics` section: what lifespan-core's `metrics` feature costs a start and a stop, with
//! a Prometheus recorder installed (as an app installs it), against the same run built without
//! the feature.
//!
//! The feature is chosen at compile time, so the section runs two builds of the binaries of
//! `benches/annotated` (10,000 `#[lifespan_task]` functions linked, `linked_10k`): without the
//! feature, and with it and a recorder. Fresh processes of the two builds alternate, pair after
//! pair, in an order rotated by one each pair; each process runs the hand-written tracker,
//! `register_task` and `#[lifespan_task]` interleaved in rotated order (and at 100,000 tasks,
//! `register_task` alone against the tracker, as the binary links 10,000 functions). A process
//! gives, per variant and N, the median of its rounds' ratios to the tracker of the same round;
//! a pair gives the ratio of the build with the feature to the build without; the table gives
//! the median of those paired ratios and their quartiles.

use std::collections::BTreeMap;
use std::path::Path;

use crate::measure::Sample;
use crate::stats::{self, Spread};

/// Runs a child binary: `(binary, variants, sizes)` to its samples.
pub type RunChild<'a> = &'a dyn Fn(&Path, &[&str], &str) -> Vec<Sample>;

/// One variant at one N, over the pairs of processes.
#[derive(Default)]
pub struct Paired {
    /// Per pair: start ratio with the feature over without, then the stop ratio.
    start: Vec<f64>,
    stop: Vec<f64>,
    /// Per process, by build (0: without, 1: with): median minor page faults per 1,000 tasks
    /// at start and at stop.
    faults: [Vec<(f64, f64)>; 2],
}

impl Paired {
    /// The median paired start ratio, and its range.
    pub fn start(&self) -> Spread {
        Spread::of(self.start.clone())
    }

    /// The median paired stop ratio, and its range.
    pub fn stop(&self) -> Spread {
        Spread::of(self.stop.clone())
    }
}

/// One process's rows, by (N, variant).
type Rows = BTreeMap<(usize, String), stats::Row>;

/// By (N, variant).
pub type Cost = BTreeMap<(usize, String), Paired>;

/// Runs the section with the binaries of the build without the feature in `without` and with
/// it in `with`; prints its table and returns what it measured.
pub fn measure(without: &Path, with: &Path, quick: bool, run: RunChild<'_>) -> Cost {
    let pairs = if quick { 3 } else { 15 };
    let specs: [(&[&str], &str); 2] = if quick {
        [
            (&["tracker", "register_task", "annotated"], "1000:5,10000:3"),
            (&[], ""),
        ]
    } else {
        [
            (
                &["tracker", "register_task", "annotated"],
                "1000:21,10000:7",
            ),
            (&["tracker", "register_task"], "100000:7"),
        ]
    };
    let mut cost = Cost::new();
    eprintln!("metrics ...");
    for pair in 0..pairs {
        for (variants, sizes) in specs.iter().filter(|(variants, _)| !variants.is_empty()) {
            let mut rows: [Option<Rows>; 2] = [None, None];
            for i in 0..2 {
                let build = (pair + i) % 2;
                let bins = [without, with][build];
                let samples = run(&bins.join("linked_10k"), variants, sizes);
                rows[build] = Some(stats::summarize(&samples, "tracker"));
            }
            let [Some(without), Some(with)] = rows else {
                unreachable!("both builds ran")
            };
            add_pair(&mut cost, &without, &with);
        }
    }
    print(&cost, pairs);
    cost
}

/// Adds one pair of processes: `without` the feature and `with` it.
fn add_pair(cost: &mut Cost, without: &Rows, with: &Rows) {
    for (key, on) in with {
        if key.1 == "tracker" {
            continue;
        }
        let Some(off) = without.get(key) else {
            continue;
        };
        let paired = cost.entry(key.clone()).or_default();
        paired
            .start
            .push(on.start_ratio.median / off.start_ratio.median);
        paired
            .stop
            .push(on.stop_ratio.median / off.stop_ratio.median);
        paired.faults[0].push((off.faults[1], off.faults[2]));
        paired.faults[1].push((on.faults[1], on.faults[2]));
    }
}

/// The median and the quartiles of `values`: `1.02x (0.95–1.10)`.
fn quartiles(mut values: Vec<f64>) -> String {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    format!("{:.2}x ({:.2}–{:.2})", at(0.5), at(0.25), at(0.75))
}

fn print(cost: &Cost, pairs: usize) {
    println!("### The `metrics` feature with a Prometheus recorder, against the build without it (`linked_10k`, fresh processes in pairs)\n");
    println!("{pairs} pairs of processes. A ratio is the build with the feature over the build without, each process's median ratio of the variant to the hand-written tracker of the same round; median of the pairs (quartiles). Faults: median minor page faults per 1,000 tasks, without / with the feature.\n");
    println!("| N | variant | start ratio | stop ratio | faults at start | faults at stop |");
    println!("|---:|---|---:|---:|---:|---:|");
    for ((n, variant), paired) in cost {
        let faults = |build: usize, phase: fn(&(f64, f64)) -> f64| {
            stats::median(paired.faults[build].iter().map(phase).collect())
        };
        println!(
            "| {n} | {} | {} | {} | {:.0} / {:.0} | {:.0} / {:.0} |",
            match variant.as_str() {
                "annotated" => "`#[lifespan_task]`, first start",
                _ => "`register_task`",
            },
            quartiles(paired.start.clone()),
            quartiles(paired.stop.clone()),
            faults(0, |f| f.0),
            faults(1, |f| f.0),
            faults(0, |f| f.1),
            faults(1, |f| f.1),
        );
    }
    println!();
}
