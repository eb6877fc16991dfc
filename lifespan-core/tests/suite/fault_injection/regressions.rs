//! Runtime bugs the fault-injection cases found, each shrunk to a plain test that failed until
//! the runtime was fixed, and kept so that they stay fixed; those not fixed yet are ignored
//! (`cargo test -p lifespan-core --test suite fault_injection:: -- --ignored` runs them).

use std::sync::Arc;
use std::time::Duration;

use lifespan_core::{
    App, ContextOutcome, Restart, RunState, Shutdown, TaskOptions, TaskOutcome, Yield,
};
use lifespan_test_support::Events;
use tokio::time::{sleep, Instant};

/// A log of what a test's parts did, shared with them.
fn events() -> Arc<Events> {
    Arc::new(Events::new())
}

/// Found as `run_until` whose timer goes off at the instant a setup completes (`stop_after: 0ms`,
/// a context `Ready(0ms)`, then one more): startup is reported interrupted *in that context*,
/// and the context, whose setup completed, is never cleaned up: its future is dropped while it
/// waits in `Yield::ready`. `set_up` polls the body, which calls `ready`, then sees the exit
/// signal in the same pass of its `select!`. Here the stop request comes from the setup itself,
/// so that it lands in the same poll every time.
#[tokio::test(start_paused = true)]
async fn a_context_that_completes_its_setup_as_startup_is_interrupted_is_cleaned_up() {
    let events = events();
    let app = App::empty();
    let log = events.clone();
    app.register_context("pool", move |app: App, lifespan: Yield| {
        let log = log.clone();
        async move {
            app.request_shutdown();
            log.push("set up");
            lifespan.ready().await;
            log.push("cleaned up");
        }
    })
    .unwrap();
    match app.start().await {
        Ok(()) => {
            app.shutdown().await;
        }
        Err(error) => assert_eq!(error.rollback().contexts.len(), 1, "{error}"),
    }
    assert_eq!(events.take(), ["set up", "cleaned up"]);
}

/// Found as a rollback whose cleanup hangs (`Cleanup::Hang`, then a setup that fails): `start`
/// returns its error while the timed-out cleanup's task is still alive (`num_alive_tasks() == 1`;
/// it goes once the scheduler runs again). Shutdown aborts a timed-out cleanup without waiting
/// for the abort, where it waits for the tasks it aborts; on a multi-threaded runtime the
/// cleanup may still be in a poll on another thread when shutdown returns, or when a reload
/// sets the same context up again.
#[tokio::test(start_paused = true)]
async fn a_timed_out_cleanup_is_dropped_before_shutdown_returns() {
    struct OnDrop(Arc<Events>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            self.0.push("cleanup dropped");
        }
    }
    let events = events();
    let app = App::builder()
        .empty()
        .cleanup_timeout(Duration::from_millis(10))
        .build();
    let log = events.clone();
    app.register_context("stuck", move |lifespan: Yield| {
        let log = log.clone();
        async move {
            lifespan.ready().await;
            let _dropped = OnDrop(log);
            std::future::pending::<()>().await;
        }
    })
    .unwrap();
    app.register_context("broken", |_lifespan: Yield| async {
        Err::<(), _>("refused")
    })
    .unwrap();
    let error = app.start().await.unwrap_err();
    assert_eq!(
        error.rollback().contexts[0].outcome,
        ContextOutcome::TimedOut
    );
    assert_eq!(events.take(), ["cleanup dropped"]);
    let alive = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    assert_eq!(alive, 0);
}

/// Found in every case whose startup fails with a task registered: the task never started, but
/// the status shows it `Starting` until the next start, as if the app were still coming up.
#[tokio::test(start_paused = true)]
async fn status_after_a_failed_startup_shows_no_task_starting() {
    let app = App::empty();
    app.register_context("broken", |_lifespan: Yield| async {
        Err::<(), _>("refused")
    })
    .unwrap();
    app.register_task("worker", |shutdown: Shutdown| async move {
        shutdown.cancelled().await
    })
    .unwrap();
    app.start().await.unwrap_err();
    let state = app.status().task("worker").unwrap().state;
    assert!(
        !matches!(
            state,
            RunState::Starting | RunState::Running | RunState::BackingOff
        ),
        "worker is {state}"
    );
}

/// Found as `Periodic { every: 10ms, schedule: FixedRate }` with `Complete(10ms)`: the run due
/// at +10ms ends at +20ms, on a point of the grid, and the next one starts at +30ms. A run that
/// takes exactly its period has not overrun it, so the point it ends on is not missed (tokio's
/// `interval` with `MissedTickBehavior::Skip` ticks at +20ms); `Supervisor::next_run` skips it
/// because it compares `next > now`.
#[tokio::test(start_paused = true)]
async fn a_fixed_rate_run_that_takes_exactly_its_period_is_followed_at_once() {
    let events = events();
    let app = App::empty();
    let log = events.clone();
    let began = Instant::now();
    let period = Duration::from_millis(10);
    app.register_task_with("tick", TaskOptions::new().every(period), move || {
        let log = log.clone();
        async move {
            log.push(format!("+{}ms", began.elapsed().as_millis()));
            sleep(period).await;
        }
    })
    .unwrap();
    app.start().await.unwrap();
    sleep(Duration::from_millis(45)).await;
    app.shutdown().await;
    assert_eq!(events.take(), ["+10ms", "+20ms", "+30ms", "+40ms"]);
}

/// Found as `Restart { OnFailure, .. }` with `Fail(0ms)`, shut down during the backoff: the
/// report counts a restart that never ran. The counter goes up when the restart is decided,
/// before its delay; `TaskReport::restarts` says "how many times it was restarted".
#[tokio::test(start_paused = true)]
async fn a_restart_that_shutdown_cut_short_is_not_counted() {
    let events = events();
    let app = App::empty();
    let log = events.clone();
    let backoff = Duration::from_millis(100);
    let options = TaskOptions::new()
        .restart(Restart::OnFailure)
        .backoff(backoff, backoff)
        .jitter(false);
    app.register_task_with("flaky", options, move || {
        let log = log.clone();
        async move {
            log.push("run");
            Err::<(), _>("down")
        }
    })
    .unwrap();
    app.start().await.unwrap();
    sleep(backoff / 2).await;
    let report = app.shutdown().await;
    assert_eq!(events.take(), ["run"]);
    assert_eq!(report.tasks[0].outcome, TaskOutcome::Cancelled);
    assert_eq!(report.tasks[0].restarts, 0, "one run, so no restart");
}

/// Found as `Manual { shutdown_after: 0ms, second: Some(Second { after: 5ms, how: Shutdown }) }`
/// with one `IgnoreCancel` task and a grace period of 105 ms. A second `App::shutdown` call is
/// not a second Ctrl-C: it waits for the shutdown in progress, grace period included, and gets
/// an empty report; `App::request_shutdown` is what cuts the grace period short (below). The
/// docs of `App::shutdown` and `AppBuilder::grace_period` say so.
#[tokio::test(start_paused = true)]
async fn a_second_shutdown_call_waits_for_the_shutdown_in_progress() {
    let app = App::builder()
        .empty()
        .grace_period(Duration::from_millis(100))
        .build();
    app.register_task("stubborn", std::future::pending::<()>)
        .unwrap();
    app.start().await.unwrap();
    let began = Instant::now();
    let second = async {
        sleep(Duration::from_millis(10)).await;
        let report = app.shutdown().await;
        (report, began.elapsed())
    };
    let (report, (second_report, second_returned)) = tokio::join!(app.shutdown(), second);
    assert_eq!(report.tasks[0].outcome, TaskOutcome::Aborted);
    assert!(second_report.tasks.is_empty(), "{second_report:?}");
    assert_eq!(
        second_returned,
        Duration::from_millis(100),
        "it waited for the first"
    );
}

/// `App::request_shutdown` during shutdown skips the rest of the grace period: a second Ctrl-C.
#[tokio::test(start_paused = true)]
async fn a_request_during_shutdown_skips_the_rest_of_the_grace_period() {
    let app = App::builder()
        .empty()
        .grace_period(Duration::from_millis(100))
        .build();
    app.register_task("stubborn", std::future::pending::<()>)
        .unwrap();
    app.start().await.unwrap();
    let began = Instant::now();
    let second = async {
        sleep(Duration::from_millis(10)).await;
        app.request_shutdown();
    };
    let (report, ()) = tokio::join!(app.shutdown(), second);
    assert_eq!(report.tasks[0].outcome, TaskOutcome::Aborted);
    assert_eq!(began.elapsed(), Duration::from_millis(10));
}
