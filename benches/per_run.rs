//! What one run of a periodic task costs: lifespan's `every`, with its run span and metrics on
//! and off, against a hand-written `tokio::time::interval` loop.
//!
//! `cargo bench --bench per_run` runs every variant in one process, interleaved: round after
//! round, each variant once, in an order rotated by one each round. A sample runs one task
//! every millisecond on a fresh current-thread runtime with paused time (built outside the
//! timing), so that the clock jumps to each tick at once and what is timed is the CPU work of a
//! run, not the waiting: the time from the end of the first run to the end of the last, per run.
//! Each variant is compared with the hand-written loop of the same round: the table gives the
//! median of those paired ratios and their range.
//!
//! - spans on: a `tracing_subscriber` registry is the default subscriber, so that every INFO
//!   span is made and closed (the hand-written loop then opens one span per tick too);
//! - metrics on: a Prometheus recorder (`metrics-exporter-prometheus`, not installed globally,
//!   one for the whole process, as an app's) is the thread's recorder; off, the `metrics`
//!   facade's no-op recorder answers. The feature itself is on in this package: without it the
//!   calls are compiled out.
//!
//! `LIFESPAN_BENCH_QUICK=1` runs few rounds, for a smoke run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use lifespan_core::{App, TaskOptions};
use tokio::sync::Notify;

/// Runs per sample.
const RUNS: u64 = 10_000;

/// The period: short, and on paused time anyway.
const PERIOD: Duration = Duration::from_millis(1);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    Interval,
    IntervalSpan,
    Every,
    EverySpans,
    EveryMetrics,
    EveryBoth,
}

impl Variant {
    const ALL: [Variant; 6] = [
        Variant::Interval,
        Variant::IntervalSpan,
        Variant::Every,
        Variant::EverySpans,
        Variant::EveryMetrics,
        Variant::EveryBoth,
    ];

    fn label(self) -> &'static str {
        match self {
            Variant::Interval => "hand-written `interval` loop",
            Variant::IntervalSpan => {
                "hand-written `interval` loop, one `info_span!` per tick, spans on"
            }
            Variant::Every => "lifespan `every`, spans and metrics off",
            Variant::EverySpans => "lifespan `every`, spans on",
            Variant::EveryMetrics => "lifespan `every`, metrics on",
            Variant::EveryBoth => "lifespan `every`, spans and metrics on",
        }
    }

    fn spans(self) -> bool {
        matches!(
            self,
            Variant::IntervalSpan | Variant::EverySpans | Variant::EveryBoth
        )
    }

    fn metrics(self) -> bool {
        matches!(self, Variant::EveryMetrics | Variant::EveryBoth)
    }
}

/// When the first and the last run ended.
#[derive(Clone, Copy)]
struct Marks {
    first: Option<Instant>,
    last: Option<Instant>,
}

/// Runs so far in this sample.
static COUNT: AtomicU64 = AtomicU64::new(0);
static MARKS: Mutex<Marks> = Mutex::new(Marks {
    first: None,
    last: None,
});
/// Told when the last run ended (the lifespan variants wait for it).
static DONE: OnceLock<Notify> = OnceLock::new();

/// The work of one run, and the marks of the first and last; `true` after the last.
fn run_body() -> bool {
    let run = COUNT.fetch_add(1, Ordering::Relaxed) + 1;
    std::hint::black_box(run);
    if run == 1 {
        MARKS.lock().unwrap().first = Some(Instant::now());
    }
    if run == RUNS {
        MARKS.lock().unwrap().last = Some(Instant::now());
        return true;
    }
    false
}

async fn interval(spans: bool) {
    let mut ticks = tokio::time::interval(PERIOD);
    loop {
        ticks.tick().await;
        let span = spans.then(|| tracing::info_span!("tick", task = "interval"));
        let _entered = span.as_ref().map(|span| span.enter());
        if run_body() {
            break;
        }
    }
}

async fn every() {
    let app = App::empty();
    let options = TaskOptions::new().every(PERIOD).at_startup(true);
    app.register_task_with("sweep", options, || async {
        if run_body() {
            DONE.get_or_init(Notify::new).notify_one();
        }
    })
    .unwrap();
    app.start().await.unwrap();
    DONE.get_or_init(Notify::new).notified().await;
    app.shutdown().await;
}

/// One sample: nanoseconds per run.
fn sample(variant: Variant) -> f64 {
    COUNT.store(0, Ordering::Relaxed);
    *MARKS.lock().unwrap() = Marks {
        first: None,
        last: None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let run = || {
        runtime.block_on(async {
            match variant {
                Variant::Interval | Variant::IntervalSpan => interval(variant.spans()).await,
                _ => every().await,
            }
        })
    };
    let with_metrics = || {
        if variant.metrics() {
            metrics::with_local_recorder(recorder(), run);
        } else {
            run();
        }
    };
    if variant.spans() {
        tracing::subscriber::with_default(tracing_subscriber::registry(), with_metrics);
    } else {
        with_metrics();
    }
    let marks = *MARKS.lock().unwrap();
    let took = marks.last.unwrap() - marks.first.unwrap();
    took.as_nanos() as f64 / (RUNS - 1) as f64
}

/// The median of `values` and their range.
fn spread(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    (
        values[values.len() / 2],
        values[0],
        values[values.len() - 1],
    )
}

fn command_line(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map_or_else(|| "?".into(), |out| out.trim().to_owned())
}

fn main() {
    let quick = std::env::var_os("LIFESPAN_BENCH_QUICK").is_some();
    let rounds = if quick { 3 } else { 31 };
    // One sample of each first, not kept: the first runtime and allocations of the process.
    for variant in Variant::ALL {
        sample(variant);
    }
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); Variant::ALL.len()];
    for round in 0..rounds {
        for offset in 0..Variant::ALL.len() {
            let at = (round + offset) % Variant::ALL.len();
            samples[at].push(sample(Variant::ALL[at]));
        }
    }
    println!("## Per run of a periodic task\n");
    println!(
        "Machine: {}, {} cores; {}; {}; {rounds} rounds of {RUNS} runs per variant. ns/run is the median over the rounds (range); a ratio is the median of the per-round ratios to the hand-written loop of the same round (range).\n",
        command_line("uname", &["-m"]),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        command_line("rustc", &["--version"]),
        command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
    );
    println!("| variant | ns/run | ratio to the hand-written loop |");
    println!("|---|---:|---:|");
    let baseline = &samples[0];
    for (variant, own) in Variant::ALL.iter().zip(&samples) {
        let (median, min, max) = spread(own.clone());
        let ratios = own.iter().zip(baseline).map(|(a, b)| a / b).collect();
        let (ratio, low, high) = spread(ratios);
        let ratio = if *variant == Variant::Interval {
            "1".to_owned()
        } else {
            format!("{ratio:.2}x ({low:.2}–{high:.2})")
        };
        println!(
            "| {} | {median:.0} ({min:.0}–{max:.0}) | {ratio} |",
            variant.label()
        );
    }
}

/// The process's one Prometheus recorder, kept for its life as an app's: lifespan keeps the
/// handles of a task's metrics per recorder, known by its address.
fn recorder() -> &'static metrics_exporter_prometheus::PrometheusRecorder {
    static RECORDER: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusRecorder> =
        std::sync::OnceLock::new();
    RECORDER.get_or_init(|| metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder())
}
