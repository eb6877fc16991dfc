//! The measurement shared by `benches/side_by_side.rs` and the binaries of `benches/annotated`:
//! the counting allocator installed, the counter of tasks that have begun, the variants every process has
//! (hand-written `CancellationToken` + `TaskTracker`, lifespan's `register_task`), one sample,
//! and the rounds a child process runs and prints, one line per sample.
//!
//! A child process is told what to run by the environment variable `LIFESPAN_BENCH_RUN`:
//! `VARIANT,VARIANT,...|N:ROUNDS,N:ROUNDS,...`. For each N, for each round, it runs every
//! variant once, in an order rotated by one each round, and prints one line per sample (see
//! [`Sample::line`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};

use lifespan_test_support::Counting;
use std::time::{Duration, Instant};

use lifespan_core::{App, Report, Shutdown};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Bytes currently allocated through the global allocator.
pub fn live_heap() -> isize {
    lifespan_test_support::live()
}

/// Minor page faults of this process so far, all threads.
pub fn minor_faults() -> u64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `getrusage` writes the struct it is given; RUSAGE_SELF is always valid.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    usage.ru_minflt as u64
}

/// Counts the tasks of the current sample that have begun running; wakes the sample when all
/// have. One for the process, so that every variant's task (and every annotated function)
/// does the same thing when it begins.
struct Started {
    count: AtomicUsize,
    expected: AtomicUsize,
    all: Notify,
}

static STARTED: Started = Started {
    count: AtomicUsize::new(0),
    expected: AtomicUsize::new(0),
    all: Notify::const_new(),
};

/// Called by every measured task when it begins running.
pub fn begin() {
    let expected = STARTED.expected.load(Ordering::Relaxed);
    if STARTED.count.fetch_add(1, Ordering::AcqRel) + 1 == expected {
        STARTED.all.notify_one();
    }
}

pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// A way to start N tasks that each wait for the shutdown signal, and to stop them.
pub trait Variant {
    /// What must exist before the start (timed as registration): for lifespan, the app and its
    /// registrations. The hand-written variants have nothing to do here.
    fn register(&mut self, _n: usize) {}
    /// Starts the tasks; returns once they are spawned (the sample then waits until all begin).
    fn start(&mut self) -> BoxFut<'_, ()>;
    /// Signals every task and waits until all are joined. What it leaves (lifespan's report)
    /// is dropped with the variant, timed as teardown.
    fn stop(&mut self) -> BoxFut<'_, ()>;
}

/// A variant by the key a child process is told, and how to make one.
pub struct Kind {
    pub key: &'static str,
    pub make: Box<dyn Fn() -> Box<dyn Variant>>,
}

impl Kind {
    pub fn new<V: Variant + 'static>(key: &'static str, make: fn() -> V) -> Kind {
        Kind {
            key,
            make: Box::new(move || Box::new(make())),
        }
    }
}

/// Hand-written: each task clones the token, the tracker waits for all of them.
pub struct Tracker {
    n: usize,
    token: CancellationToken,
    tracker: TaskTracker,
}

impl Tracker {
    pub fn new() -> Self {
        Tracker {
            n: 0,
            token: CancellationToken::new(),
            tracker: TaskTracker::new(),
        }
    }
}

impl Variant for Tracker {
    fn register(&mut self, n: usize) {
        self.n = n;
    }

    fn start(&mut self) -> BoxFut<'_, ()> {
        Box::pin(async move {
            for _ in 0..self.n {
                let token = self.token.clone();
                self.tracker.spawn(async move {
                    begin();
                    token.cancelled().await;
                });
            }
        })
    }

    fn stop(&mut self) -> BoxFut<'_, ()> {
        Box::pin(async move {
            self.token.cancel();
            self.tracker.close();
            self.tracker.wait().await;
        })
    }
}

/// Lifespan: an empty app, N tasks registered on it with `register_task`.
pub struct RegisterTask {
    blocking_threshold: Option<Duration>,
    app: Option<App>,
    report: Option<Report>,
}

impl RegisterTask {
    /// With the release default: the blocking check off.
    pub fn new() -> Self {
        RegisterTask::with_blocking_threshold(None)
    }

    pub fn with_blocking_threshold(blocking_threshold: Option<Duration>) -> Self {
        RegisterTask {
            blocking_threshold,
            app: None,
            report: None,
        }
    }
}

impl Variant for RegisterTask {
    fn register(&mut self, n: usize) {
        let app = App::builder()
            .empty()
            .blocking_threshold(self.blocking_threshold)
            .build();
        for i in 0..n {
            app.register_task(format!("task{i}"), |shutdown: Shutdown| async move {
                begin();
                shutdown.cancelled().await;
            })
            .unwrap();
        }
        self.app = Some(app);
    }

    fn start(&mut self) -> BoxFut<'_, ()> {
        Box::pin(async move { self.app.as_ref().unwrap().start().await.unwrap() })
    }

    fn stop(&mut self) -> BoxFut<'_, ()> {
        Box::pin(async move {
            self.report = Some(self.app.as_ref().unwrap().shutdown().await);
        })
    }
}

/// One sample of one variant at one N. Times in nanoseconds, heap in bytes, faults counted.
#[derive(Clone, Debug)]
pub struct Sample {
    pub variant: String,
    pub n: usize,
    pub round: usize,
    pub register: f64,
    pub start: f64,
    pub stop: f64,
    pub teardown: f64,
    /// Bytes allocated and still live once every task runs, from before registration.
    pub heap: f64,
    /// Minor page faults in registration, start, stop, teardown.
    pub faults: [f64; 4],
}

impl Sample {
    /// The line a child prints: `sample VARIANT N ROUND REGISTER START STOP TEARDOWN HEAP F F F F`.
    pub fn line(&self) -> String {
        format!(
            "sample {} {} {} {} {} {} {} {} {} {} {} {}",
            self.variant,
            self.n,
            self.round,
            self.register,
            self.start,
            self.stop,
            self.teardown,
            self.heap,
            self.faults[0],
            self.faults[1],
            self.faults[2],
            self.faults[3]
        )
    }

    /// Reads a line printed by [`line`](Self::line); `None` for any other line.
    pub fn parse(line: &str) -> Option<Sample> {
        let mut fields = line.split_whitespace();
        if fields.next()? != "sample" {
            return None;
        }
        let variant = fields.next()?.to_owned();
        let n = fields.next()?.parse().ok()?;
        let round = fields.next()?.parse().ok()?;
        let mut numbers = [0.0; 9];
        for number in &mut numbers {
            *number = fields.next()?.parse().ok()?;
        }
        Some(Sample {
            variant,
            n,
            round,
            register: numbers[0],
            start: numbers[1],
            stop: numbers[2],
            teardown: numbers[3],
            heap: numbers[4],
            faults: [numbers[5], numbers[6], numbers[7], numbers[8]],
        })
    }
}

/// A tokio multi-thread runtime with 2 workers, as every sample gets afresh.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Registers, starts, stops and drops one variant with `n` tasks on a fresh runtime.
pub fn sample(kind: &Kind, n: usize, round: usize) -> Sample {
    let runtime = runtime();
    let sample = runtime.block_on(async move {
        STARTED.count.store(0, Ordering::Relaxed);
        STARTED.expected.store(n, Ordering::Relaxed);
        let mut faults = [0.0; 4];
        let mut phase = 0;
        let mut fault_mark = minor_faults();
        let mut count_faults = || {
            let now = minor_faults();
            faults[phase] = (now - fault_mark) as f64;
            fault_mark = now;
            phase += 1;
        };
        let heap_before = live_heap();
        let mut variant = (kind.make)();
        let began = Instant::now();
        variant.register(n);
        let register = began.elapsed();
        count_faults();
        let all_started = STARTED.all.notified();
        let began = Instant::now();
        variant.start().await;
        all_started.await;
        let start = began.elapsed();
        count_faults();
        let heap = live_heap() - heap_before;
        let began = Instant::now();
        variant.stop().await;
        let stop = began.elapsed();
        count_faults();
        let began = Instant::now();
        drop(variant);
        let teardown = began.elapsed();
        count_faults();
        assert_eq!(STARTED.count.load(Ordering::Relaxed), n, "{}", kind.key);
        Sample {
            variant: kind.key.to_owned(),
            n,
            round,
            register: register.as_nanos() as f64,
            start: start.as_nanos() as f64,
            stop: stop.as_nanos() as f64,
            teardown: teardown.as_nanos() as f64,
            heap: heap as f64,
            faults,
        }
    });
    drop(runtime);
    sample
}

/// The environment variable that makes a process a child that runs samples and prints them.
pub const RUN: &str = "LIFESPAN_BENCH_RUN";

/// If this process is a child (`LIFESPAN_BENCH_RUN` is set), runs what it says with `kinds`,
/// prints one line per sample, and returns `true`.
pub fn child(kinds: &[Kind]) -> bool {
    let Ok(spec) = std::env::var(RUN) else {
        return false;
    };
    let (variants, sizes) = spec.split_once('|').expect("VARIANTS|N:ROUNDS,...");
    let variants: Vec<&Kind> = variants
        .split(',')
        .map(|key| {
            kinds
                .iter()
                .find(|kind| kind.key == key)
                .unwrap_or_else(|| panic!("unknown variant {key}"))
        })
        .collect();
    for size in sizes.split(',') {
        let (n, rounds) = size.split_once(':').expect("N:ROUNDS");
        let (n, rounds): (usize, usize) = (n.parse().unwrap(), rounds.parse().unwrap());
        for round in 0..rounds {
            for i in 0..variants.len() {
                let kind = variants[(round + i) % variants.len()];
                println!("{}", sample(kind, n, round).line());
            }
        }
    }
    true
}
