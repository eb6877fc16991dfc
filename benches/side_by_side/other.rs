//! The rows carried over from the earlier benchmark: contexts, reload, polls. Each runs in this
//! process, one variant after the other, medians over the repetitions.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lifespan_core::{App, Shutdown, Yield};
use tokio::sync::Notify;

use crate::measure::runtime;
use crate::stats::median;

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

/// N contexts set up and cleaned up, per context, against sequential hand-written calls.
pub fn contexts(quick: bool) {
    println!("### Contexts: setup + cleanup round trip, per context (medians)\n");
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

/// One `App::reload` of an app with 1,000 tasks and 100 contexts.
pub fn reload(quick: bool) {
    println!("### Reload: app with 1,000 tasks and 100 contexts, full stop-and-start cycle\n");
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
pub fn polls(quick: bool) {
    const TASKS: usize = 100;
    const YIELDS: usize = 10_000;
    println!(
        "### Polls: {TASKS} tasks each yielding {YIELDS} times (blocking-detection overhead)\n"
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
        let done = Arc::new((AtomicUsize::new(0), Notify::new()));
        for i in 0..TASKS {
            let done = done.clone();
            app.register_task(format!("spin{i}"), move || {
                let done = done.clone();
                async move {
                    spin().await;
                    if done.0.fetch_add(1, Ordering::AcqRel) + 1 == TASKS {
                        done.1.notify_one();
                    }
                }
            })
            .unwrap();
        }
        runtime().block_on(async {
            let all_done = done.1.notified();
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
