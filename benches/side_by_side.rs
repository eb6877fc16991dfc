//! Start and stop cost of lifespan against the hand-written tokio it replaces, side by side.
//!
//! `cargo bench --bench side_by_side --no-default-features` runs, for N = 1,000 / 10,000 / 100,000 tasks that each wait
//! for the shutdown signal, every variant in one process, interleaved: for each N, round after
//! round, each variant once, in an order rotated by one each round. A sample builds a fresh
//! 2-worker multi-thread runtime (not timed), so that no variant inherits another's runtime
//! state (worker queues, the blocking pool, the task list's shards), then times:
//! - registration: what must exist before the start (lifespan: the app and N `register_task`
//!   calls; the hand-written variants: nothing);
//! - start: until every task has begun running;
//! - stop: from the shutdown signal until every task is joined (lifespan: `App::shutdown`, which
//!   builds the report);
//! - teardown: dropping what is left (lifespan: the app and the report);
//!
//! and counts the heap bytes live once every task runs, from before registration (a counting
//! global allocator), and the minor page faults of each phase (`getrusage`). Each variant is
//! compared with the hand-written `CancellationToken` + `TaskTracker` of the same round: the
//! tables give the median of those paired ratios and their range.
//!
//! Sections, each in a child process of its own (select with `LIFESPAN_BENCH_SECTIONS`, a comma
//! list; all by default):
//! - `warm`: the variants above in one process, with tokio-graceful-shutdown, `JoinSet`, and the
//!   hand-written code started and stopped from a spawned task (lifespan's shutdown runs on a
//!   task of its own, on a worker; the plain hand-written code cancels from the thread that
//!   blocks on the runtime, whose wake-ups go through the runtime's shared queue);
//! - `trim`: the same with glibc's heap trimming off (`GLIBC_TUNABLES`), so that memory freed at
//!   the end of one sample is not returned to the system and faulted back in by the next;
//! - `fmt`: an INFO `tracing_subscriber::fmt` subscriber installed, writing to a sink, against
//!   hand-written tasks that each enter an INFO span of their own while polled;
//! - `annotated`: `#[lifespan_task]` on an app's first start, with 0, 1,000 and 10,000 annotated
//!   functions linked (the binaries of `benches/annotated`, built here in release), and
//!   `register_task`'s registration time in each;
//! - `cold`: a fresh process per sample (as a server that starts once), variants and N
//!   interleaved and rotated across processes; `cargo bench --bench side_by_side --no-default-features -- --cold` runs
//!   only this section;
//! - `metrics`: what lifespan-core's `metrics` feature costs a start and a stop, with a
//!   Prometheus recorder, against the build without it: the binaries of `benches/annotated`
//!   built both ways, fresh processes of the two alternated (see `side_by_side/metrics_cost.rs`);
//! - `other`: contexts, reload and polls, one variant after the other in this process.
//!
//! Built with the root package's `metrics` feature (the default), each process installs a
//! Prometheus recorder first, as an app does, so that lifespan's rows record their tasks'
//! metrics; `LIFESPAN_BENCH_NO_RECORDER=1` leaves the facade's no-op recorder.
//!
//! The output is Markdown, with the targets and whether each holds at the end.
//! `LIFESPAN_BENCH_QUICK=1` runs few rounds and skips N = 100,000, for a smoke run.

#[path = "side_by_side/measure.rs"]
mod measure;
#[path = "side_by_side/metrics_cost.rs"]
mod metrics_cost;
#[path = "side_by_side/other.rs"]
mod other;
#[path = "side_by_side/stats.rs"]
mod stats;
#[path = "side_by_side/variants.rs"]
mod variants;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use measure::{Kind, RegisterTask, Sample, Tracker};
use stats::{Row, Spread};
use variants::{GracefulShutdown, JoinSetAbort, TrackerOnWorker, TrackerSpan};

/// Set in the child that runs the `fmt` section: it installs the subscriber first.
const FMT: &str = "LIFESPAN_BENCH_FMT";

/// Heap trimming off: glibc keeps up to about 4 GB of freed memory at the top of the heap.
const NO_TRIM: &str = "glibc.malloc.trim_threshold=4000000000";

fn kinds() -> Vec<Kind> {
    vec![
        Kind::new("tracker", Tracker::new),
        Kind::new("tracker_span", TrackerSpan::new),
        Kind::new("tracker_on_worker", TrackerOnWorker::new),
        Kind::new("joinset", JoinSetAbort::new),
        Kind::new("graceful", GracefulShutdown::new),
        Kind::new("register_task", RegisterTask::new),
        Kind::new("register_task_checked", || {
            RegisterTask::with_blocking_threshold(Some(Duration::from_millis(100)))
        }),
    ]
}

fn label(key: &str) -> &'static str {
    match key {
        "tracker" => "hand-written `CancellationToken` + `TaskTracker`",
        "tracker_span" => "hand-written `TaskTracker`, one `info_span!` per task",
        "tracker_on_worker" => {
            "hand-written `TaskTracker`, started and stopped from a spawned task"
        }
        "joinset" => "hand-written `JoinSet` + `abort_all`",
        "graceful" => "tokio-graceful-shutdown",
        "register_task" => "lifespan `register_task`",
        "register_task_checked" => "lifespan `register_task`, blocking check on",
        "annotated" => "lifespan `#[lifespan_task]`, first start",
        other => panic!("no label for {other}"),
    }
}

/// Rounds per N, for one section.
struct Sizes(Vec<(usize, usize)>);

impl Sizes {
    /// `rounds` for 1,000, 10,000 and 100,000 tasks; few and no 100,000 when `quick`.
    fn new(quick: bool, rounds: [usize; 3]) -> Sizes {
        if quick {
            Sizes(vec![(1_000, 5), (10_000, 3)])
        } else {
            Sizes(vec![
                (1_000, rounds[0]),
                (10_000, rounds[1]),
                (100_000, rounds[2]),
            ])
        }
    }

    /// Only the sizes at most `max`.
    fn up_to(self, max: usize) -> Sizes {
        Sizes(self.0.into_iter().filter(|(n, _)| *n <= max).collect())
    }

    fn spec(&self) -> String {
        self.0
            .iter()
            .map(|(n, rounds)| format!("{n}:{rounds}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Runs `exe` as a child that samples `variants` at `sizes`; returns its samples.
fn run_child(exe: &Path, variants: &[&str], sizes: &str, env: &[(&str, &str)]) -> Vec<Sample> {
    let mut command = Command::new(exe);
    command
        .env(measure::RUN, format!("{}|{sizes}", variants.join(",")))
        .env_remove(FMT)
        .env_remove("GLIBC_TUNABLES");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{} {variants:?} {sizes}: {}",
        exe.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(Sample::parse)
        .collect()
}

/// The rows of one table, by (N, variant key).
type Rows = BTreeMap<(usize, String), Row>;

/// Prints one table: per N, per variant, times per task and ratios to `baseline`.
fn table(samples: &[Sample], variants: &[&str], baseline: &str) -> Rows {
    let rows = stats::summarize(samples, baseline);
    println!(
        "| N | variant | rounds | start ns/task | start ratio | stop ns/task | stop ratio | registration ns/task | teardown ns/task | heap B/task | heap ratio | faults/1k tasks: registration / start / stop / teardown |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut sizes: Vec<usize> = samples.iter().map(|s| s.n).collect();
    sizes.sort();
    sizes.dedup();
    for n in sizes {
        for variant in variants {
            let Some(row) = rows.get(&(n, variant.to_string())) else {
                continue;
            };
            let ratio = |spread: &Spread| {
                if *variant == baseline {
                    "1".to_owned()
                } else {
                    spread.ratio()
                }
            };
            println!(
                "| {} | {} | {} | {:.0} | {} | {:.0} | {} | {:.0} | {:.0} | {:.0} | {} | {:.0} / {:.0} / {:.0} / {:.0} |",
                thousands(n),
                label(variant),
                row.rounds,
                row.start,
                ratio(&row.start_ratio),
                row.stop,
                ratio(&row.stop_ratio),
                row.register,
                row.teardown,
                row.heap,
                if *variant == baseline {
                    "1".to_owned()
                } else {
                    format!("{:.2}x", row.heap_ratio.median)
                },
                row.faults[0],
                row.faults[1],
                row.faults[2],
                row.faults[3],
            );
        }
    }
    println!();
    rows
}

/// The directory cargo builds into: this benchmark runs from `TARGET/release/deps/`.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_owned()
}

/// Builds the binaries of `benches/annotated` in release, with its feature `metrics` if
/// `metrics` (each build in a target folder of its own); returns the directory holding them.
fn build_annotated(metrics: bool) -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/annotated/Cargo.toml");
    let (folder, features) = if metrics {
        ("annotated-metrics", "metrics")
    } else {
        ("annotated", "")
    };
    let target = target_dir().join(folder);
    eprintln!("building benches/annotated (10,000 annotated functions, release, features: {features:?}) ...");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .args(["--features", features, "--target-dir"])
        .arg(&target)
        .status()
        .unwrap();
    assert!(status.success(), "building benches/annotated failed");
    target.join("release")
}

/// What the targets are checked against.
#[derive(Default)]
struct Measured {
    warm: Option<Rows>,
    cold: Option<Rows>,
    fmt: Option<Rows>,
    /// Per binary: `linked_0`, `linked_1k`, `linked_10k`.
    annotated: BTreeMap<&'static str, Rows>,
    annotated_cold: Option<Rows>,
    metrics: Option<metrics_cost::Cost>,
}

fn warm(exe: &Path, quick: bool, measured: &mut Measured) {
    let variants = [
        "tracker",
        "tracker_on_worker",
        "joinset",
        "graceful",
        "register_task",
        "register_task_checked",
    ];
    let sizes = Sizes::new(quick, [201, 61, 25]);
    eprintln!("warm ...");
    let samples = run_child(exe, &variants, &sizes.spec(), &[]);
    println!("### In one process, interleaved\n");
    measured.warm = Some(table(&samples, &variants, "tracker"));
}

fn trim(exe: &Path, quick: bool) {
    let variants = ["tracker", "joinset", "register_task"];
    let sizes = Sizes::new(quick, [101, 31, 15]);
    eprintln!("trim ...");
    let samples = run_child(
        exe,
        &variants,
        &sizes.spec(),
        &[("GLIBC_TUNABLES", NO_TRIM)],
    );
    println!("### In one process, heap trimming off (`GLIBC_TUNABLES={NO_TRIM}`)\n");
    table(&samples, &variants, "tracker");
}

fn fmt(exe: &Path, quick: bool, measured: &mut Measured) {
    let variants = ["tracker", "tracker_span", "register_task"];
    let sizes = Sizes::new(quick, [101, 31, 15]);
    eprintln!("fmt ...");
    let samples = run_child(exe, &variants, &sizes.spec(), &[(FMT, "1")]);
    println!(
        "### INFO `tracing_subscriber::fmt` subscriber installed (writing to a sink); ratios to the tasks with a span each\n"
    );
    measured.fmt = Some(table(&samples, &variants, "tracker_span"));
}

fn annotated(bins: &Path, quick: bool, measured: &mut Measured) {
    let runs: [(&str, &str, &[&str], Sizes); 3] = [
        (
            "linked_0",
            "0 annotated functions linked",
            &["tracker", "register_task"],
            Sizes::new(quick, [101, 31, 15]),
        ),
        (
            "linked_1k",
            "1,000 annotated functions linked; the app selects all of them",
            &["tracker", "register_task", "annotated"],
            Sizes::new(quick, [101, 31, 15]).up_to(1_000),
        ),
        (
            "linked_10k",
            "10,000 annotated functions linked; the app selects 1,000 (one module) or all",
            &["tracker", "register_task", "annotated"],
            Sizes::new(quick, [101, 31, 15]).up_to(10_000),
        ),
    ];
    for (bin, title, variants, sizes) in runs {
        eprintln!("annotated: {bin} ...");
        let mut samples = run_child(&bins.join(bin), variants, &sizes.spec(), &[]);
        if bin == "linked_1k" {
            // `register_task` at 10,000 too, for the registration by what is linked.
            let more = Sizes::new(quick, [0, 31, 0]);
            let more = Sizes(more.0.into_iter().filter(|(n, _)| *n == 10_000).collect());
            samples.extend(run_child(
                &bins.join(bin),
                &["tracker", "register_task"],
                &more.spec(),
                &[],
            ));
        }
        println!("### {title} (`{bin}`)\n");
        measured
            .annotated
            .insert(bin, table(&samples, variants, "tracker"));
    }
    // `register_task` does not depend on what is linked: the same registration per task.
    println!("### `register_task` registration, ns/task, by what is linked\n");
    println!("| N | 0 linked | 1,000 linked | 10,000 linked | max / min |");
    println!("|---:|---:|---:|---:|---:|");
    for n in [1_000, 10_000] {
        let times: Vec<Option<f64>> = ["linked_0", "linked_1k", "linked_10k"]
            .iter()
            .map(|bin| {
                measured.annotated[bin]
                    .get(&(n, "register_task".to_owned()))
                    .map(|row| row.register)
            })
            .collect();
        let present: Vec<f64> = times.iter().flatten().copied().collect();
        let cell = |time: &Option<f64>| time.map_or("–".to_owned(), |t| format!("{t:.0}"));
        println!(
            "| {} | {} | {} | {} | {:.2}x |",
            thousands(n),
            cell(&times[0]),
            cell(&times[1]),
            cell(&times[2]),
            present.iter().copied().fold(f64::MIN, f64::max)
                / present.iter().copied().fold(f64::MAX, f64::min)
        );
    }
    println!();
}

fn cold(exe: &Path, bins: Option<&Path>, quick: bool, measured: &mut Measured) {
    let rounds = if quick { 2 } else { 21 };
    let sizes: &[usize] = if quick {
        &[1_000, 10_000]
    } else {
        &[1_000, 10_000, 100_000]
    };
    let variants = ["tracker", "tracker_on_worker", "joinset", "register_task"];
    let annotated_variants = ["tracker", "register_task", "annotated"];
    let linked_10k = bins.map(|bins| bins.join("linked_10k"));
    let mut samples = Vec::new();
    let mut annotated_samples = Vec::new();
    eprintln!("cold ...");
    for round in 0..rounds {
        for &n in sizes {
            for i in 0..variants.len() {
                let variant = variants[(round + i) % variants.len()];
                for mut sample in run_child(exe, &[variant], &format!("{n}:1"), &[]) {
                    sample.round = round;
                    samples.push(sample);
                }
            }
            let Some(linked_10k) = &linked_10k else {
                continue;
            };
            if n > 10_000 {
                continue;
            }
            for i in 0..annotated_variants.len() {
                let variant = annotated_variants[(round + i) % annotated_variants.len()];
                for mut sample in run_child(linked_10k, &[variant], &format!("{n}:1"), &[]) {
                    sample.round = round;
                    annotated_samples.push(sample);
                }
            }
        }
    }
    println!("### Cold: a fresh process per sample\n");
    measured.cold = Some(table(&samples, &variants, "tracker"));
    if linked_10k.is_some() {
        println!(
            "### Cold, 10,000 annotated functions linked (`linked_10k`): a fresh process per sample\n"
        );
        measured.annotated_cold = Some(table(&annotated_samples, &annotated_variants, "tracker"));
    }
}

/// Prints the targets beside the measurements, with whether each holds (the median ratio).
fn targets(measured: &Measured) {
    println!("## Against the targets\n");
    println!("| target | measured: median ratio (range over rounds) | |");
    println!("|---|---|---|");
    start_stop_targets(measured);
    annotated_start_stop_targets(measured);
    println!(
        "| `#[lifespan_task]` at N = 100,000 | not measured: the binary links 10,000 functions | – |"
    );
    registration_targets(measured);
    heap_targets(measured);
    fmt_targets(measured);
    metrics_targets(measured);
    println!(
        "| compile time, 1,000 annotated functions: at most 1.50x the same spawned by hand | `cargo bench --bench compile_time` | – |"
    );
    println!();
}

/// Prints one target's row: `target`, the measured spread, and whether its median is at most
/// `limit`.
fn check(target: String, limit: f64, spread: Option<Spread>) {
    let (cell, verdict) = match spread {
        Some(spread) => (
            spread.ratio(),
            if spread.median <= limit {
                "pass"
            } else {
                "miss"
            },
        ),
        None => ("not measured".to_owned(), "–"),
    };
    println!("| {target} | {cell} | {verdict} |");
}

/// The row of `variant` at `n` tasks in `rows`, if measured.
fn measured_row(rows: Option<&Rows>, n: usize, variant: &str) -> Option<Row> {
    rows.and_then(|rows| rows.get(&(n, variant.to_owned())))
        .cloned()
}

/// `register_task`'s start and stop against hand-written, in one process and cold.
fn start_stop_targets(measured: &Measured) {
    for (mode, rows) in [
        ("in one process", measured.warm.as_ref()),
        ("cold", measured.cold.as_ref()),
    ] {
        for n in [1_000, 10_000, 100_000] {
            let limit = if n == 1_000 { 1.3 } else { 1.1 };
            let row = measured_row(rows, n, "register_task");
            for (phase, spread) in [
                ("start", row.as_ref().map(|r| r.start_ratio)),
                ("stop", row.as_ref().map(|r| r.stop_ratio)),
            ] {
                check(
                    format!(
                        "`register_task` {phase}, N = {}, {mode}: at most {limit:.2}x hand-written",
                        thousands(n)
                    ),
                    limit,
                    spread,
                );
            }
        }
    }
}

/// `#[lifespan_task]`'s first start and stop with 10,000 functions linked, in one process and
/// cold.
fn annotated_start_stop_targets(measured: &Measured) {
    for (mode, rows) in [
        ("in one process", measured.annotated.get("linked_10k")),
        ("cold", measured.annotated_cold.as_ref()),
    ] {
        for n in [1_000, 10_000] {
            let limit = if n == 1_000 { 1.3 } else { 1.1 };
            let row = measured_row(rows, n, "annotated");
            for (phase, spread) in [
                ("start", row.as_ref().map(|r| r.start_ratio)),
                ("stop", row.as_ref().map(|r| r.stop_ratio)),
            ] {
                check(
                    format!(
                        "`#[lifespan_task]` first start, 10,000 linked, {phase}, N = {}, {mode}: at most {limit:.2}x",
                        thousands(n)
                    ),
                    limit,
                    spread,
                );
            }
        }
    }
}

/// Registration per task, whatever number of annotated functions is linked.
fn registration_targets(measured: &Measured) {
    for n in [1_000, 10_000] {
        let times: Vec<f64> = ["linked_0", "linked_1k", "linked_10k"]
            .iter()
            .filter_map(|bin| measured_row(measured.annotated.get(bin), n, "register_task"))
            .map(|row| row.register)
            .collect();
        let spread = (times.len() == 3).then(|| {
            let ratio = times.iter().copied().fold(f64::MIN, f64::max)
                / times.iter().copied().fold(f64::MAX, f64::min);
            Spread {
                median: ratio,
                min: ratio,
                max: ratio,
            }
        });
        check(
            format!(
                "registration per task constant whatever is linked, N = {}: slowest / fastest of 0, 1,000, 10,000 linked at most 1.25x",
                thousands(n)
            ),
            1.25,
            spread,
        );
    }
}

/// Heap per task, registration included, of `register_task` and `#[lifespan_task]`.
fn heap_targets(measured: &Measured) {
    for n in [10_000, 100_000] {
        check(
            format!(
                "heap per task incl. registration, `register_task`, N = {}: at most 1.50x",
                thousands(n)
            ),
            1.5,
            measured_row(measured.warm.as_ref(), n, "register_task").map(|r| r.heap_ratio),
        );
    }
    check(
        "heap per task incl. registration, `#[lifespan_task]`, N = 10,000: at most 1.50x"
            .to_owned(),
        1.5,
        measured_row(measured.annotated.get("linked_10k"), 10_000, "annotated")
            .map(|r| r.heap_ratio),
    );
}

/// Start and stop with an INFO fmt subscriber, against hand-written with a span per task.
fn fmt_targets(measured: &Measured) {
    for n in [10_000, 100_000] {
        let row = measured_row(measured.fmt.as_ref(), n, "register_task");
        for (phase, spread) in [
            ("start", row.as_ref().map(|r| r.start_ratio)),
            ("stop", row.as_ref().map(|r| r.stop_ratio)),
        ] {
            check(
                format!(
                    "INFO fmt subscriber, {phase}, N = {}: at most 1.50x hand-written with one span per task",
                    thousands(n)
                ),
                1.5,
                spread,
            );
        }
    }
}

/// Start and stop with the `metrics` feature and a Prometheus recorder, against the build
/// without the feature.
fn metrics_targets(measured: &Measured) {
    for (variant, title, sizes) in [
        (
            "register_task",
            "`register_task`",
            &[1_000, 10_000, 100_000][..],
        ),
        ("annotated", "`#[lifespan_task]`", &[1_000, 10_000][..]),
    ] {
        for n in sizes {
            let paired = measured
                .metrics
                .as_ref()
                .and_then(|cost| cost.get(&(*n, variant.to_owned())));
            for (phase, spread) in [
                ("start", paired.map(|p| p.start())),
                ("stop", paired.map(|p| p.stop())),
            ] {
                check(
                    format!(
                        "`metrics` feature with a Prometheus recorder, {title} {phase}, N = {}: at most 1.30x the build without the feature",
                        thousands(*n)
                    ),
                    1.3,
                    spread,
                );
            }
        }
    }
}

/// `10000` as `10,000`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn command_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// The sections to run: only `cold` with `--cold`, else those `LIFESPAN_BENCH_SECTIONS` lists
/// (comma-separated), by default all.
fn sections() -> Vec<String> {
    if std::env::args().any(|arg| arg == "--cold") {
        vec!["cold".to_owned()]
    } else {
        std::env::var("LIFESPAN_BENCH_SECTIONS")
            .unwrap_or_else(|_| "warm,trim,fmt,annotated,cold,metrics,other".to_owned())
            .split(',')
            .map(str::to_owned)
            .collect()
    }
}

/// Prints the report's title and the machine, toolchain, date and kind of run it was made on.
fn print_header(quick: bool) {
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            let kib: f64 = info
                .lines()
                .next()?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some(format!(", {:.0} GiB", kib / 1024.0 / 1024.0))
        })
        .unwrap_or_default();
    println!("## lifespan side by side\n");
    if cfg!(feature = "metrics") {
        // lifespan-core's default build has no metrics; with them, each process of the run
        // installs a Prometheus recorder, and lifespan's rows record their tasks' metrics.
        println!(
            "**Built with the `metrics` feature: a Prometheus recorder is installed in each process, and lifespan's rows record their tasks' metrics into it. Run `cargo bench --bench side_by_side --no-default-features` to measure lifespan-core as built by default.**\n"
        );
    }
    println!(
        "Machine: {}, {} cores{memory}; {}; {}; {}. Times per task are medians over the rounds; a ratio is the median of the per-round ratios to the hand-written baseline of the same round, with their range. Faults are minor page faults per 1,000 tasks in each phase.\n",
        command_line("uname", &["-m"]),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        command_line("rustc", &["--version"]),
        command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        if quick {
            "quick run (LIFESPAN_BENCH_QUICK)"
        } else {
            "full run"
        },
    );
}

/// With the `metrics` feature, the process's recorder, as an app installs it: Prometheus's,
/// rendered by nobody here; none with `LIFESPAN_BENCH_NO_RECORDER` set (the facade's no-op
/// recorder answers), to tell what the recorder costs from what lifespan's calls cost.
#[cfg(feature = "metrics")]
fn install_recorder() {
    if std::env::var_os("LIFESPAN_BENCH_NO_RECORDER").is_some() {
        return;
    }
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    metrics::set_global_recorder(recorder).expect("the first recorder of the process");
}

fn main() {
    #[cfg(feature = "metrics")]
    install_recorder();
    if std::env::var_os(FMT).is_some() {
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_writer(std::io::sink)
            .init();
    }
    if measure::child(&kinds()) {
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` would pass nothing: run only then.
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let quick = std::env::var_os("LIFESPAN_BENCH_QUICK").is_some();
    let sections = sections();
    let on = |section: &str| sections.iter().any(|s| s == section);
    print_header(quick);
    let exe = std::env::current_exe().unwrap();
    let mut measured = Measured::default();
    if on("warm") {
        warm(&exe, quick, &mut measured);
    }
    if on("trim") {
        trim(&exe, quick);
    }
    if on("fmt") {
        fmt(&exe, quick, &mut measured);
    }
    let bins = (on("annotated") || on("cold") || on("metrics")).then(|| build_annotated(false));
    if on("annotated") {
        annotated(bins.as_deref().unwrap(), quick, &mut measured);
    }
    if on("cold") {
        cold(&exe, bins.as_deref(), quick, &mut measured);
    }
    if on("metrics") {
        let with = build_annotated(true);
        let run = |exe: &Path, variants: &[&str], sizes: &str| run_child(exe, variants, sizes, &[]);
        let without = bins.as_deref().unwrap();
        measured.metrics = Some(metrics_cost::measure(without, &with, quick, &run));
    }
    targets(&measured);
    if on("other") {
        other::contexts(quick);
        other::reload(quick);
        other::polls(quick);
    }
}
