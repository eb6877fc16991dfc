//! Start and stop cost of lifespan against the hand-written tokio it replaces, in one run.
//!
//! `cargo bench --bench lifecycle` prints, for N = 1,000 / 10,000 / 100,000 tasks that each wait
//! for the shutdown signal: the median time per task to start them (until every task has begun
//! running) and to stop them (signal until all joined), for
//! - hand-written `CancellationToken` + `TaskTracker`,
//! - hand-written `JoinSet` + `abort_all`,
//! - tokio-graceful-shutdown with N subsystems,
//! - lifespan with N tasks registered on an `App`,
//!
//! with a fresh 2-worker multi-thread runtime per repetition; heap bytes per task while running
//! (a counting global allocator) and peak RSS (each variant in a process of its own); the ratio lifespan / `TaskTracker`. Then contexts
//! (set up and cleaned up, per context, against sequential hand-written async calls) and a reload
//! of an app with 1,000 tasks and 100 contexts.
//!
//! `LIFESPAN_BENCH_QUICK=1` runs fewer repetitions (for a smoke run). With
//! `LIFESPAN_BENCH_CHILD=lifespan:10000:1 LIFESPAN_BENCH_SIZES=1`, the benchmark binary measures
//! one variant and prints the sizes of the allocations made while starting the tasks;
//! `LIFESPAN_BENCH_CHILD=contexts:10000:20` runs only lifespan's contexts, for a profiler.

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lifespan_core::{App, Shutdown, Yield};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Counts the bytes currently allocated, to measure heap per task.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

/// While set, every allocation's size is counted in `SIZES` (bucket = size / 8, capped), for the
/// breakdown that `LIFESPAN_BENCH_SIZES=1` prints.
static RECORD_SIZES: AtomicBool = AtomicBool::new(false);
static SIZES: [AtomicUsize; 129] = [const { AtomicUsize::new(0) }; 129];

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        if RECORD_SIZES.load(Ordering::Relaxed) {
            SIZES[(layout.size() / 8).min(128)].fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Counts the tasks that have begun running; wakes the waiter when all have.
struct Started {
    count: AtomicUsize,
    expected: usize,
    all: Notify,
}

impl Started {
    fn new(expected: usize) -> Arc<Self> {
        Arc::new(Started {
            count: AtomicUsize::new(0),
            expected,
            all: Notify::new(),
        })
    }

    fn begin(&self) {
        if self.count.fetch_add(1, Ordering::AcqRel) + 1 == self.expected {
            self.all.notify_one();
        }
    }
}

/// One measured repetition: time to start, time to stop, live heap bytes while running.
struct Sample {
    start: Duration,
    stop: Duration,
    heap: isize,
}

type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// A way to start N waiting tasks and stop them.
trait Variant {
    const NAME: &'static str;
    /// Prepares what starting needs (not measured): registrations, for lifespan.
    fn prepare(n: usize, started: Arc<Started>) -> Self;
    /// Starts the tasks; returns once spawned (the caller waits until all begin).
    fn start(&mut self) -> BoxFut<'_, ()>;
    /// Signals every task and waits until all are joined. What it leaves (the registrations,
    /// lifespan's report) is dropped after the measurement, as a program would keep it.
    fn stop(&mut self) -> BoxFut<'_, ()>;
}

struct Tracker {
    n: usize,
    started: Arc<Started>,
    token: CancellationToken,
    tracker: TaskTracker,
}

impl Variant for Tracker {
    const NAME: &'static str = "CancellationToken + TaskTracker";

    fn prepare(n: usize, started: Arc<Started>) -> Self {
        Tracker {
            n,
            started,
            token: CancellationToken::new(),
            tracker: TaskTracker::new(),
        }
    }

    fn start(&mut self) -> BoxFut<'_, ()> {
        Box::pin(async move {
            for _ in 0..self.n {
                let token = self.token.clone();
                let started = self.started.clone();
                self.tracker.spawn(async move {
                    started.begin();
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

struct JoinSetAbort {
    n: usize,
    started: Arc<Started>,
    set: tokio::task::JoinSet<()>,
}

impl Variant for JoinSetAbort {
    const NAME: &'static str = "JoinSet + abort_all";

    fn prepare(n: usize, started: Arc<Started>) -> Self {
        JoinSetAbort {
            n,
            started,
            set: tokio::task::JoinSet::new(),
        }
    }

    fn start(&mut self) -> BoxFut<'_, ()> {
        Box::pin(async move {
            for _ in 0..self.n {
                let started = self.started.clone();
                self.set.spawn(async move {
                    started.begin();
                    std::future::pending::<()>().await;
                });
            }
        })
    }

    fn stop(&mut self) -> BoxFut<'_, ()> {
        Box::pin(async move {
            self.set.abort_all();
            while self.set.join_next().await.is_some() {}
        })
    }
}

struct GracefulShutdown {
    n: usize,
    started: Arc<Started>,
    token: CancellationToken,
    toplevel: Option<tokio::task::JoinHandle<()>>,
}

impl Variant for GracefulShutdown {
    const NAME: &'static str = "tokio-graceful-shutdown";

    fn prepare(n: usize, started: Arc<Started>) -> Self {
        GracefulShutdown {
            n,
            started,
            token: CancellationToken::new(),
            toplevel: None,
        }
    }

    fn start(&mut self) -> BoxFut<'_, ()> {
        use tokio_graceful_shutdown::{SubsystemBuilder, SubsystemHandle, Toplevel};
        let (n, started, token) = (self.n, self.started.clone(), self.token.clone());
        Box::pin(async move {
            let toplevel = Toplevel::new_with_shutdown_token(
                async move |s: &mut SubsystemHandle| {
                    for i in 0..n {
                        let started = started.clone();
                        s.start(SubsystemBuilder::new(
                            format!("task{i}"),
                            async move |h: &mut SubsystemHandle| {
                                started.begin();
                                h.on_shutdown_requested().await;
                                Ok::<(), std::convert::Infallible>(())
                            },
                        ));
                    }
                },
                token,
            );
            self.toplevel = Some(tokio::spawn(async move {
                let _ = toplevel
                    .handle_shutdown_requests(Duration::from_secs(60))
                    .await;
            }));
        })
    }

    fn stop(&mut self) -> BoxFut<'_, ()> {
        Box::pin(async move {
            self.token.cancel();
            if let Some(toplevel) = self.toplevel.take() {
                let _ = toplevel.await;
            }
        })
    }
}

struct Lifespan {
    app: App,
    report: Option<lifespan_core::Report>,
}

/// Lifespan with its blocking check on (off by default in release builds).
struct LifespanChecked(Lifespan);

impl Variant for LifespanChecked {
    const NAME: &'static str = "lifespan, blocking check on";

    fn prepare(n: usize, started: Arc<Started>) -> Self {
        let app = App::builder()
            .empty()
            .blocking_threshold(Some(Duration::from_millis(100)))
            .build();
        LifespanChecked(Lifespan::with_app(app, n, started))
    }

    fn start(&mut self) -> BoxFut<'_, ()> {
        self.0.start()
    }

    fn stop(&mut self) -> BoxFut<'_, ()> {
        self.0.stop()
    }
}

impl Lifespan {
    /// `app` with `n` tasks registered that mark when they begin, then wait for shutdown.
    fn with_app(app: App, n: usize, started: Arc<Started>) -> Self {
        for i in 0..n {
            let started = started.clone();
            app.register_task(format!("task{i}"), move |shutdown: Shutdown| {
                let started = started.clone();
                async move {
                    started.begin();
                    shutdown.cancelled().await;
                }
            })
            .unwrap();
        }
        Lifespan { app, report: None }
    }
}

impl Variant for Lifespan {
    const NAME: &'static str = "lifespan";

    fn prepare(n: usize, started: Arc<Started>) -> Self {
        Lifespan::with_app(App::empty(), n, started)
    }

    fn start(&mut self) -> BoxFut<'_, ()> {
        Box::pin(async move { self.app.start().await.unwrap() })
    }

    fn stop(&mut self) -> BoxFut<'_, ()> {
        Box::pin(async move {
            self.report = Some(self.app.shutdown().await);
        })
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn sample<V: Variant>(n: usize) -> Sample {
    let runtime = runtime();
    runtime.block_on(async move {
        let started = Started::new(n);
        let mut variant = V::prepare(n, started.clone());
        let heap_before = LIVE.load(Ordering::Relaxed);
        let sizes = std::env::var_os("LIFESPAN_BENCH_SIZES").is_some();
        RECORD_SIZES.store(sizes, Ordering::Relaxed);
        let began = Instant::now();
        let all_started = started.all.notified();
        variant.start().await;
        all_started.await;
        let start = began.elapsed();
        RECORD_SIZES.store(false, Ordering::Relaxed);
        let heap = LIVE.load(Ordering::Relaxed) - heap_before;
        if sizes {
            // Allocations made while starting, by size, those made at least once per ten tasks.
            for (bucket, count) in SIZES.iter().enumerate() {
                let count = count.swap(0, Ordering::Relaxed);
                if count >= n / 10 {
                    eprintln!(
                        "{} allocations of {}..{} bytes",
                        count,
                        bucket * 8,
                        bucket * 8 + 7
                    );
                }
            }
        }
        let began = Instant::now();
        variant.stop().await;
        let stop = began.elapsed();
        drop(variant);
        Sample { start, stop, heap }
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Medians per task over `reps` repetitions: (start ns, stop ns, heap bytes), and peak RSS.
fn measure<V: Variant>(n: usize, reps: usize) -> (f64, f64, f64, u64) {
    reset_peak_rss();
    let samples: Vec<Sample> = (0..reps).map(|_| sample::<V>(n)).collect();
    let per_task = |f: &dyn Fn(&Sample) -> f64| median(samples.iter().map(f).collect());
    (
        per_task(&|s| s.start.as_nanos() as f64 / n as f64),
        per_task(&|s| s.stop.as_nanos() as f64 / n as f64),
        per_task(&|s| s.heap as f64 / n as f64),
        peak_rss_kib(),
    )
}

/// Resets the kernel's peak-RSS mark of this process (Linux), so each variant gets its own.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

fn reps_for(n: usize, quick: bool) -> usize {
    let reps = match n {
        0..=1_000 => 201,
        1_001..=10_000 => 41,
        _ => 11,
    };
    if quick {
        reps.min(5)
    } else {
        reps
    }
}

/// Runs one variant at one N in a fresh process of this benchmark, so that its peak RSS is its
/// own (an allocator keeps what earlier variants freed); returns its medians.
fn measure_in_child(variant: &str, n: usize, reps: usize) -> (f64, f64, f64, u64) {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .env(CHILD, format!("{variant}:{n}:{reps}"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = String::from_utf8(output.stdout).unwrap();
    let fields: Vec<f64> = line
        .split_whitespace()
        .map(|f| f.parse().unwrap())
        .collect();
    (fields[0], fields[1], fields[2], fields[3] as u64)
}

/// The environment variable that makes this benchmark a child measuring one variant.
const CHILD: &str = "LIFESPAN_BENCH_CHILD";

fn child(spec: &str) {
    let mut parts = spec.split(':');
    let variant = parts.next().unwrap();
    let n: usize = parts.next().unwrap().parse().unwrap();
    let reps: usize = parts.next().unwrap().parse().unwrap();
    let (start, stop, heap, rss) = match variant {
        "tracker" => measure::<Tracker>(n, reps),
        "joinset" => measure::<JoinSetAbort>(n, reps),
        "graceful" => measure::<GracefulShutdown>(n, reps),
        "lifespan" => measure::<Lifespan>(n, reps),
        "checked" => measure::<LifespanChecked>(n, reps),
        "contexts" => {
            // For a profiler: only lifespan's contexts, `reps` times.
            let runtime = runtime();
            for _ in 0..reps {
                runtime.block_on(lifespan_contexts(n));
            }
            return;
        }
        other => panic!("unknown variant {other}"),
    };
    println!("{start} {stop} {heap} {rss}");
}

fn tasks(quick: bool) {
    println!("## Tasks: start and stop, per task (medians), heap while running, peak RSS\n");
    for n in [1_000, 10_000, 100_000] {
        let reps = reps_for(n, quick);
        println!("N = {n} ({reps} repetitions)\n");
        println!("| variant | start ns/task | stop ns/task | heap B/task | peak RSS MiB |");
        println!("|---|---:|---:|---:|---:|");
        let rows = [
            (Tracker::NAME, measure_in_child("tracker", n, reps)),
            (JoinSetAbort::NAME, measure_in_child("joinset", n, reps)),
            (
                GracefulShutdown::NAME,
                measure_in_child("graceful", n, reps),
            ),
            (Lifespan::NAME, measure_in_child("lifespan", n, reps)),
            (LifespanChecked::NAME, measure_in_child("checked", n, reps)),
        ];
        for (name, (start, stop, heap, rss)) in &rows {
            println!(
                "| {name} | {start:.0} | {stop:.0} | {heap:.0} | {:.1} |",
                *rss as f64 / 1024.0
            );
        }
        let base = rows[0].1;
        for (label, ours) in [("lifespan", rows[3].1), ("blocking check on", rows[4].1)] {
            println!(
                "\n{label} / TaskTracker: start {:.2}x, stop {:.2}x, heap {:.2}x",
                ours.0 / base.0,
                ours.1 / base.1,
                ours.2 / base.2
            );
        }
        println!();
    }
}

/// Hand-written: N sequential async setups, then N cleanups in reverse.
async fn hand_written_contexts(n: usize) -> Duration {
    async fn setup(resources: &mut Vec<usize>, i: usize) {
        resources.push(std::hint::black_box(i));
    }
    async fn cleanup(resources: &mut Vec<usize>) {
        std::hint::black_box(resources.pop());
    }
    let began = Instant::now();
    let mut resources = Vec::new();
    for i in 0..n {
        setup(&mut resources, i).await;
    }
    for _ in 0..n {
        cleanup(&mut resources).await;
    }
    began.elapsed()
}

async fn lifespan_contexts(n: usize) -> Duration {
    let app = App::empty();
    for i in 0..n {
        app.register_context(format!("context{i}"), move |lifespan: Yield| async move {
            std::hint::black_box(i);
            lifespan.ready().await;
            std::hint::black_box(i);
        })
        .unwrap();
    }
    let began = Instant::now();
    app.start().await.unwrap();
    app.shutdown().await;
    began.elapsed()
}

fn contexts(quick: bool) {
    println!("## Contexts: setup + cleanup round trip, per context (medians)\n");
    println!("| N | hand-written ns | lifespan ns | ratio |");
    println!("|---:|---:|---:|---:|");
    for n in [100, 1_000, 10_000] {
        let reps = if quick { 3 } else { 31 };
        let runtime = runtime();
        let hand = median(
            (0..reps)
                .map(|_| runtime.block_on(hand_written_contexts(n)).as_nanos() as f64 / n as f64)
                .collect(),
        );
        let ours = median(
            (0..reps)
                .map(|_| runtime.block_on(lifespan_contexts(n)).as_nanos() as f64 / n as f64)
                .collect(),
        );
        println!("| {n} | {hand:.0} | {ours:.0} | {:.1}x |", ours / hand);
    }
    println!();
}

fn reload(quick: bool) {
    println!("## Reload: app with 1,000 tasks and 100 contexts, full stop-and-start cycle\n");
    let runtime = runtime();
    let app = App::empty();
    for i in 0..100 {
        app.register_context(format!("context{i}"), |lifespan: Yield| async move {
            lifespan.ready().await;
        })
        .unwrap();
    }
    for i in 0..1_000 {
        app.register_task(format!("task{i}"), |shutdown: Shutdown| async move {
            shutdown.cancelled().await;
        })
        .unwrap();
    }
    let reps = if quick { 3 } else { 51 };
    let times: Vec<f64> = runtime.block_on(async {
        app.start().await.unwrap();
        let mut times = Vec::new();
        for _ in 0..reps {
            let began = Instant::now();
            app.reload().await.unwrap();
            times.push(began.elapsed().as_secs_f64() * 1e6);
        }
        app.shutdown().await;
        times
    });
    println!(
        "median {:.0} µs per reload ({reps} repetitions)\n",
        median(times)
    );
}

/// Tasks that poll many times (each yields `YIELDS` times): polls per second, hand-written
/// `tokio::spawn` against lifespan tasks with and without the blocking check.
fn polls(quick: bool) {
    const TASKS: usize = 100;
    const YIELDS: usize = 10_000;
    println!(
        "## Polls: {TASKS} tasks each yielding {YIELDS} times (blocking-detection overhead)\n"
    );
    async fn spin() {
        for _ in 0..YIELDS {
            tokio::task::yield_now().await;
        }
    }
    fn hand_written() -> Duration {
        runtime().block_on(async {
            let began = Instant::now();
            let handles: Vec<_> = (0..TASKS).map(|_| tokio::spawn(spin())).collect();
            for handle in handles {
                handle.await.unwrap();
            }
            began.elapsed()
        })
    }
    fn lifespan(threshold: Option<Duration>) -> Duration {
        let app = App::builder().empty().blocking_threshold(threshold).build();
        let done = Started::new(TASKS);
        for i in 0..TASKS {
            let done = done.clone();
            app.register_task(format!("spin{i}"), move || {
                let done = done.clone();
                async move {
                    spin().await;
                    done.begin();
                }
            })
            .unwrap();
        }
        runtime().block_on(async {
            let all_done = done.all.notified();
            let began = Instant::now();
            app.start().await.unwrap();
            all_done.await;
            let took = began.elapsed();
            app.shutdown().await;
            took
        })
    }
    let reps = if quick { 3 } else { 21 };
    let polls = (TASKS * (YIELDS + 1)) as f64;
    let rate = |times: Vec<Duration>| {
        polls / median(times.iter().map(Duration::as_secs_f64).collect()) / 1e6
    };
    let hand = rate((0..reps).map(|_| hand_written()).collect());
    let checked = rate(
        (0..reps)
            .map(|_| lifespan(Some(Duration::from_millis(100))))
            .collect(),
    );
    let unchecked = rate((0..reps).map(|_| lifespan(None)).collect());
    println!("| variant | million polls/s |");
    println!("|---|---:|");
    println!("| hand-written `tokio::spawn` | {hand:.1} |");
    println!("| lifespan, blocking check on | {checked:.1} |");
    println!("| lifespan, blocking check off (release default) | {unchecked:.1} |");
    println!(
        "\nblocking check on / off: {:.2}x the time per poll\n",
        unchecked / checked
    );
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD) {
        return child(&spec);
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` would pass nothing: run only then.
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let quick = std::env::var_os("LIFESPAN_BENCH_QUICK").is_some();
    println!(
        "# lifespan benchmarks\n\nmachine: {} cores; tokio multi-thread runtime with 2 workers per repetition\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    tasks(quick);
    contexts(quick);
    reload(quick);
    polls(quick);
}
