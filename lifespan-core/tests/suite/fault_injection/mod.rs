//! Fault injection: random apps whose contexts and tasks succeed, fail, panic, hang, block their
//! thread or stop slowly, driven through one or two runs (start, up to three reloads, shutdown,
//! with contexts and tasks registered by hand between the runs), or through `run_until`.
//!
//! A case may also give a context that provides state (`Yield<Token>::ready_with`) that later
//! contexts and tasks take as `State<Token>`, restart backoffs with jitter, and a second
//! shutdown request during a shutdown (`App::request_shutdown`, or a second `App::shutdown`).
//!
//! Every part records what it did, with the time, in a shared log. Each case then checks these
//! invariants of the lifecycle (the README's "The lifecycle" section) against that log, the
//! reports, the status, the state and the runtime:
//!
//! 1. every context whose setup completed is cleaned up exactly once per start, in reverse setup
//!    order, one cleanup after the other;
//! 2. no cleanup begins before every task of that start has stopped or been aborted;
//! 3. a shutdown (or the rollback of a failed startup) takes at most the grace period plus one
//!    cleanup timeout per context set up; a second `request_shutdown` during it ends the grace
//!    period at once; blocking the thread costs no virtual time;
//! 4. no tokio task is left alive once the app is down, and no state is readable;
//! 5. the report and the status say what the log shows: one line per task in registration order
//!    and one per set-up context in cleanup order, each outcome and restart count the one its
//!    behaviour and options imply (a jittered restart anywhere between half and all of its
//!    delay); 5 ms before each manual shutdown the status gives each task's state, restarts and
//!    error as the model has them then, and `App::state` the token of that start;
//! 6. each start calls what was registered before it (a context or task registered between two
//!    runs runs at the next start), each state read sees the token of its own start, and
//!    registering while the app runs is refused.
//!
//! Each case of `random_apps_keep_the_lifecycle_invariants` runs on a current-thread runtime of
//! its own with paused time, so it is fast and (up to tokio's random choice between simultaneous
//! `select!` branches) deterministic; every wait is bounded by an hour of virtual time. The log
//! holds at most `MAX_RECORDS` records: a runtime that reruns a task without end fails the case.
//!
//! `random_apps_keep_the_lifecycle_invariants_on_two_workers` (`real.rs`) runs cases on a
//! multi-thread runtime with two workers, where paused time is not available: durations are real
//! milliseconds, orderings are checked exactly, times within a slack of 60 ms, and outcomes are
//! read from the log or predicted only 80 ms away from any bound. A case takes about 0.2 s of
//! real time, mostly waiting, so it runs one case for every 40 of the current-thread property:
//! 25 by default (about 4 s), at least 10; each bounded by 20 s.
//!
//! `serving_random_apps_drains_before_tasks_stop` (`serving.rs`, feature `axum`) serves a router
//! with `App::serve_until` on a loopback listener while a reduced random app runs, sends it a
//! few requests, some slower than the drain timeout, and requests shutdown at a random moment:
//! no handler runs before startup completes, requests are done (finished, or answered 503 after
//! the drain timeout) before any task stops, tasks stop before any cleanup, and the port is
//! closed afterwards. Real time again: 30 cases by default (three for every hundred of the
//! current-thread property, at least 10), a few seconds in all.
//!
//! `servers_that_panic_or_outlive_their_app_end_with_a_full_shutdown` (`serving_ends.rs`,
//! feature `axum`) ends a server of the user's in the ways the runs above do not: it panics
//! (before or during its drain), or its app is dropped while it waits on the app's shutdown
//! signal, or the run and then the app are dropped while the app runs it. Every context set up
//! is still cleaned up, after every task stopped; the server drains; the port is closed.
//!
//! 1,000 cases run by default (`PROPTEST_CASES` sets the count); a long campaign:
//! `PROPTEST_CASES=100000 cargo test -p lifespan-core --release --test suite fault_injection::`.
//! Failures are not persisted to files: a failing case is printed shrunk, and is kept as a plain
//! test (`regressions.rs` for the runtime's, ignored while the bug stands).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use lifespan_test_support::CapturedLogs;
use proptest::prelude::*;
use tokio::time::Instant;

/// `return Err(message)` unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

mod build;
mod case;
mod check;
/// The test coordinator of `replicas/`, shared by the replicas property.
use super::replicas::coordinator;
mod drive;
#[cfg(feature = "axum")]
mod loopback;
mod model;
mod real;
mod real_case;
/// The bound on real time of the tests on paused time, shared with `replicas/`.
use super::replicas::real_time;
mod record;
mod regressions;
mod replicas;
mod replicas_case;
mod replicas_check;
mod replicas_regressions;
#[cfg(feature = "axum")]
mod serving;
#[cfg(feature = "axum")]
mod serving_ends;
mod start;
mod status;
mod stop;

use build::build;
use case::{case, Case};
use check::{check, render};
use drive::drive;
use real::check_real;
use real_case::real_case;
use record::{silence_injected_panics, Log, MAX_RECORDS};

/// Runs `case` on a fresh current-thread runtime with paused time, on a thread of its own
/// bounded by 20 s of real time (a runtime that spins never lets paused time reach its bound).
fn run(case: &Case) -> Result<BTreeSet<String>, String> {
    silence_injected_panics();
    let owned = case.clone();
    real_time::real_time_case(Duration::from_secs(20), move || run_paused(&owned))
}

/// Runs `case` on a fresh current-thread runtime with paused time.
fn run_paused(case: &Case) -> Result<BTreeSet<String>, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    // What the runtime logs, for the warnings about blocking.
    let logs = CapturedLogs::default();
    let _logging = tracing::subscriber::set_default(logs.subscriber());
    runtime.block_on(async {
        let log = Arc::new(Log::default());
        let app = build(case, &log);
        let origin = Instant::now();
        // A harness that waits forever would hang the suite: an hour of virtual time is plenty.
        let driven = tokio::time::timeout(Duration::from_secs(3600), drive(case, &app, &log));
        let observed = tokio::select! {
            observed = driven => observed
                .map_err(|_| format!("the case did not end:\n{}", render(&log.records(), origin)))?,
            () = log.overflowed() => {
                return Err(format!("the case logged over {MAX_RECORDS} records:\n{}", render(&log.records()[..200], origin)));
            }
        };
        let records = log.records();
        check(case, &records, &observed, &logs.lines())
            .map_err(|violation| format!("{violation}\nlog:\n{}", render(&records, origin)))
    })
}

/// Runs `case` on a fresh multi-thread runtime with two workers and real time.
fn run_real(case: &Case) -> Result<BTreeSet<String>, String> {
    silence_injected_panics();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        let log = Arc::new(Log::default());
        let app = build(case, &log);
        let origin = Instant::now();
        // A case takes well under a second; a runtime bug that hangs fails it in 20.
        let driven = tokio::time::timeout(Duration::from_secs(20), drive(case, &app, &log));
        let observed = tokio::select! {
            observed = driven => observed
                .map_err(|_| format!("the case did not end:\n{}", render(&log.records(), origin)))?,
            () = log.overflowed() => {
                return Err(format!("the case logged over {MAX_RECORDS} records:\n{}", render(&log.records()[..200], origin)));
            }
        };
        // On two workers a task that ended may be released an instant after its join handle
        // returned: nothing may be left once that instant is over (bounded, real time).
        let metrics = tokio::runtime::Handle::current().metrics();
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while metrics.num_alive_tasks() > 0 && std::time::Instant::now() < deadline {
            tokio::task::yield_now().await;
        }
        ensure!(
            metrics.num_alive_tasks() == 0,
            "{} tokio tasks still alive 2 s after the app went down",
            metrics.num_alive_tasks()
        );
        let records = log.records();
        check_real(case, &records, &observed)
            .map_err(|violation| format!("{violation}\nlog:\n{}", render(&records, origin)))
    })
}

/// `PROPTEST_CASES`, or 1,000.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(1000)
}

/// The multi-thread variant runs one case for every 40 of the current-thread one (25 by
/// default, about a tenth of a second each on real time), at least 10.
fn real_config() -> ProptestConfig {
    scaled_config(1, 40)
}

/// The config of the main property with `times` cases for every `per` of its own, at least
/// 10: for the properties whose cases take longer.
fn scaled_config(times: u32, per: u32) -> ProptestConfig {
    ProptestConfig {
        cases: (cases() * times / per).max(10),
        ..config()
    }
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        // Cases are printed shrunk on failure and kept as plain tests; no files.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_apps_keep_the_lifecycle_invariants(case in case()) {
        run(&case).map_err(TestCaseError::fail)?;
    }
}

/// On its own runner: the `proptest!` macro would let `PROPTEST_CASES` set its case count.
#[test]
fn random_apps_keep_the_lifecycle_invariants_on_two_workers() {
    run_on_own_runner(real_config(), real_case(), |case| run_real(case).map(drop));
}

/// Runs `test` on the cases of `strategy` under `config`, failing with the shrunk case.
pub(crate) fn run_on_own_runner<S: Strategy>(
    config: ProptestConfig,
    strategy: S,
    test: impl Fn(&S::Value) -> Result<(), String>,
) {
    let mut runner = proptest::test_runner::TestRunner::new(config);
    let result = runner.run(&strategy, |case| test(&case).map_err(TestCaseError::fail));
    if let Err(error) = result {
        panic!("{error}");
    }
}

/// Runs `samples` cases of `strategy`, drawn from a fixed seed, through `run`, which says which
/// situations each reached; fails naming every one of `required` that none reached.
pub(crate) fn assert_reaches<S: Strategy, R: IntoIterator<Item: Into<String>>>(
    strategy: S,
    samples: usize,
    run: impl Fn(&S::Value) -> Result<R, String>,
    required: &[&str],
) {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};

    let mut runner = TestRunner::new_with_rng(
        ProptestConfig::default(),
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let mut counts = std::collections::BTreeMap::<String, u32>::new();
    for _ in 0..samples {
        let case = strategy.new_tree(&mut runner).unwrap().current();
        for situation in run(&case).unwrap_or_else(|violation| panic!("{case:#?}\n{violation}")) {
            *counts.entry(situation.into()).or_default() += 1;
        }
    }
    let missing: Vec<_> = required
        .iter()
        .filter(|situation| !counts.contains_key(**situation))
        .collect();
    assert!(
        missing.is_empty(),
        "never reached: {missing:?}\nreached: {counts:#?}"
    );
}

/// The generator is worth something only if its cases go through every situation the checks
/// are about: a fixed sample of cases must reach each one.
#[test]
fn generated_cases_reach_every_situation() {
    let required = [
        "start succeeded",
        "start SetupFailed",
        "start SetupPanicked",
        "start NoYield",
        "start Interrupted",
        "reload succeeded",
        "reload SetupFailed",
        "reload SetupPanicked",
        "reload NoYield",
        "rollback cleaned up contexts",
        "cleanup CleanedUp",
        "cleanup CleanupFailed",
        "cleanup CleanupPanicked",
        "cleanup TimedOut",
        "task Completed",
        "task Cancelled",
        "task Failed",
        "task Panicked",
        "task FailedAtLimit",
        "task Aborted",
        "task restarted",
        "periodic task ran again",
        "task blocked past the threshold",
        "critical task failed",
        "reloaded twice in a row",
        "started again after a shutdown",
        "registered between runs",
        "a task registered between runs ran",
        "a second RequestShutdown cut the grace period short",
        "a second shutdown call",
        "state read by a task",
        "state read by a context",
        "status while running: a task running",
        "status while running: a task backing_off",
        "status while running: a task stopped",
        "status while running: a task failed",
        "status once down: a task error",
        "a restart cut short by shutdown",
        "task restarted after a jittered delay",
    ];
    assert_reaches(case(), 1000, run, &required);
}
