//! What registering by hand and building a start's plan cost: heap bytes kept per
//! `register_task`, heap bytes a start keeps per link-time entry, time per `register_task`, and
//! the time of a first start's plan. Shared by `registration.rs` (nothing linked) and
//! `registration_linked.rs` (a thousand link-time tasks).

use std::sync::Arc;
use std::time::{Duration, Instant};

use lifespan_core::{App, Shutdown};
use lifespan_test_support::Counting;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> isize {
    lifespan_test_support::live()
}

/// Tasks registered by hand per measurement.
const TASKS: usize = 1_000;
/// Repetitions of each timing; the median is printed.
const REPS: usize = 21;

/// Registers `TASKS` tasks the way the workspace benchmark does: a name made with `format!` and
/// a closure that captures an `Arc`.
fn register(app: &App, names: impl Iterator<Item = String>) {
    let shared = Arc::new(());
    for name in names {
        let shared = shared.clone();
        app.register_task(name, move |shutdown: Shutdown| {
            let _shared = shared.clone();
            async move { shutdown.cancelled().await }
        })
        .unwrap();
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Prints every measurement; `linked` says how many link-time registrations the binary holds,
/// and `module` is a module holding a few of them (`None` if there are none).
pub fn run(linked: usize, module: Option<&str>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("{linked} link-time registrations");
    // The first start in the process, which may index what is linked.
    let first = Instant::now();
    runtime.block_on(async {
        let app = App::from_module(module.unwrap_or("nothing"));
        app.start().await.unwrap();
        app.shutdown().await;
    });
    println!("  first start in the process: {:?}", first.elapsed());
    register_time(linked);
    register_heap();
    runtime.block_on(plan_time(module));
    if linked > 0 {
        runtime.block_on(entry_heap(linked));
    }
}

/// Time per `register_task`, on an app that runs every link-time registration.
fn register_time(linked: usize) {
    let samples = (0..REPS)
        .map(|_| {
            let names: Vec<String> = (0..TASKS).map(|i| format!("task{i}")).collect();
            let app = App::builder().build();
            let began = Instant::now();
            register(&app, names.into_iter());
            began.elapsed() / TASKS as u32
        })
        .collect();
    println!(
        "  register_task: {:?} per task ({TASKS} tasks, {linked} linked)",
        median(samples)
    );
}

/// Heap bytes kept per `register_task`, the name's allocation included.
fn register_heap() {
    let app = App::empty();
    let before = live();
    register(&app, (0..TASKS).map(|i| format!("task{i}")));
    let kept = live() - before;
    println!(
        "  heap kept per register_task: {} bytes",
        kept / TASKS as isize
    );
}

/// The time a first start spends on its plan: an app's first start against its second (whose
/// plan is built already), for an app that selects one small module.
async fn plan_time(module: Option<&str>) {
    let mut first = Vec::new();
    let mut second = Vec::new();
    for _ in 0..REPS {
        let app = App::from_module(module.unwrap_or("nothing"));
        for samples in [&mut first, &mut second] {
            let began = Instant::now();
            app.start().await.unwrap();
            samples.push(began.elapsed());
            app.shutdown().await;
        }
    }
    let (first, second) = (median(first), median(second));
    println!(
        "  start of an app selecting one module: first {first:?}, second {second:?}, plan ~{:?}",
        first.saturating_sub(second)
    );
}

/// Heap bytes a start and shutdown leave per link-time entry: an app that runs every linked
/// task against one that runs none (each measured twice, the second time counted, so that the
/// runtime's own buffers have grown already).
async fn entry_heap(linked: usize) {
    async fn kept(app: impl Fn() -> App) -> isize {
        let mut kept = 0;
        for _ in 0..2 {
            let app = app();
            let before = live();
            app.start().await.unwrap();
            app.shutdown().await;
            kept = live() - before;
        }
        kept
    }
    let all = kept(|| App::builder().build()).await;
    let none = kept(App::empty).await;
    println!(
        "  heap kept after a start and shutdown, per link-time entry: {} bytes",
        (all - none) / linked as isize
    );
}
