//! The metrics of the tasks (feature `metrics`), read back from a debugging recorder: starts,
//! failures, panics and restarts counted per task, run durations, running tasks, the time of
//! the last success; the other modules, the rest of the metrics and their handles.
//!
//! The runtime keeps the handles of a task's metrics per recorder, known by its address: each
//! test installs a recorder of its own on its thread, and leaks it, so that no later test's
//! recorder can take its address.
#![cfg(feature = "metrics")]

/// Handles made once per task, process and recorder.
mod handles;
/// Leases, coordinator requests and missed points.
mod replicas;
/// The next run, timeouts, manual runs, failures for good.
mod runs;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use lifespan_core::{App, Restart, Shutdown, TaskOptions};
use lifespan_test_support::{bounded, WAIT_LIMIT};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use metrics_util::{CompositeKey, MetricKind};

/// A recorder of the test's own, leaked (see the module's docs), and its snapshotter.
fn recorder() -> (&'static DebuggingRecorder, Snapshotter) {
    let recorder: &'static DebuggingRecorder = Box::leak(Box::new(DebuggingRecorder::new()));
    (recorder, recorder.snapshotter())
}

/// Runs the future `test` makes on a fresh current-thread runtime with paused time, with
/// `recorder` installed on its thread, bounded in real time (see `replicas::real_time`).
fn paused<F>(
    what: &str,
    recorder: &'static DebuggingRecorder,
    test: impl FnOnce() -> F + Send + 'static,
) where
    F: std::future::Future<Output = ()>,
{
    paused_as(what, recorder, test);
}

/// [`paused`], with any recorder.
fn paused_on<F>(
    recorder: &'static (dyn metrics::Recorder + Sync),
    test: impl FnOnce() -> F + Send + 'static,
) where
    F: std::future::Future<Output = ()>,
{
    paused_as("a test of the metrics", recorder, test);
}

fn paused_as<F>(
    what: &str,
    recorder: &'static (dyn metrics::Recorder + Sync),
    test: impl FnOnce() -> F + Send + 'static,
) where
    F: std::future::Future<Output = ()>,
{
    let limit = crate::replicas::real_time::REAL_LIMIT;
    crate::replicas::real_time::paused(what, limit, move || async move {
        let _local = metrics::set_default_local_recorder(recorder);
        test().await;
    });
}

/// One reading of the recorder (reading resets its counters and gauges to zero, and empties
/// its histograms: each reading shows what changed since the last).
struct Reading(Vec<(CompositeKey, DebugValue)>);

impl Reading {
    fn take(snapshotter: &Snapshotter) -> Self {
        let values = snapshotter.snapshot().into_vec();
        Reading(
            values
                .into_iter()
                .map(|(key, _, _, value)| (key, value))
                .collect(),
        )
    }

    /// The value of metric `name` of `kind` for task `task`, if it was recorded.
    fn value(&self, kind: MetricKind, name: &str, task: &str) -> Option<&DebugValue> {
        self.labelled(kind, name, &[("task", task)])
    }

    /// The value of metric `name` of `kind` labelled exactly `labels`, if it was recorded.
    fn labelled(
        &self,
        kind: MetricKind,
        name: &str,
        labels: &[(&str, &str)],
    ) -> Option<&DebugValue> {
        self.0
            .iter()
            .find(|(key, _)| {
                let key_labels: Vec<_> = key
                    .key()
                    .labels()
                    .map(|label| (label.key(), label.value()))
                    .collect();
                key.kind() == kind && key.key().name() == name && key_labels == labels
            })
            .map(|(_, value)| value)
    }

    fn counter(&self, name: &str, task: &str) -> u64 {
        match self.value(MetricKind::Counter, name, task) {
            Some(DebugValue::Counter(count)) => *count,
            None => 0,
            Some(other) => panic!("{name} is not a counter: {other:?}"),
        }
    }

    fn gauge(&self, name: &str, task: &str) -> Option<f64> {
        match self.value(MetricKind::Gauge, name, task) {
            Some(DebugValue::Gauge(level)) => Some(level.into_inner()),
            _ => None,
        }
    }
}

/// An app with a task every 10 s whose second run fails, a task that panics once, and a plain
/// task; restarts after 1 s.
fn app() -> App {
    let app = App::empty();
    let restarted = TaskOptions::new()
        .restart(Restart::OnFailure)
        .backoff(Duration::from_secs(1), Duration::from_secs(1))
        .jitter(false);
    let runs = Arc::new(AtomicU32::new(0));
    app.register_task_with(
        "sweep",
        restarted.clone().every(Duration::from_secs(10)),
        move || {
            let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                tokio::time::sleep(Duration::from_millis(250)).await;
                if run == 2 {
                    return Err("the second run fails");
                }
                Ok(())
            }
        },
    )
    .unwrap();
    let attempts = Arc::new(AtomicU32::new(0));
    app.register_task_with("crash", restarted, move |shutdown: Shutdown| {
        let attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            assert!(attempt > 1, "the first attempt panics");
            shutdown.cancelled().await;
        }
    })
    .unwrap();
    app.register_task("plain", |shutdown: Shutdown| async move {
        shutdown.cancelled().await
    })
    .unwrap();
    app
}

#[test]
fn starts_failures_panics_restarts_durations_and_running_tasks_are_recorded_per_task() {
    let (recorder, snapshotter) = recorder();
    let reader = snapshotter.clone();
    paused("metrics of runs", recorder, || async move {
        let app = app();
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        // sweep: runs at 10 s, 20 s (fails), 21 s (after the restart), 31 s.
        tokio::time::sleep(Duration::from_secs(35)).await;
        check_while_running(&Reading::take(&reader));
        bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
    });
    // Each task counted itself out once as it ended for good.
    let stopped = Reading::take(&snapshotter);
    for task in ["sweep", "crash", "plain"] {
        assert_eq!(
            stopped.gauge("lifespan_tasks_running", task),
            Some(-1.0),
            "{task}"
        );
    }
    assert_eq!(stopped.counter("lifespan_task_starts_total", "sweep"), 0);
}

fn check_while_running(reading: &Reading) {
    let starts = |task| reading.counter("lifespan_task_starts_total", task);
    assert_eq!(
        (starts("sweep"), starts("crash"), starts("plain")),
        (4, 2, 1)
    );
    let failures = |task| reading.counter("lifespan_task_failures_total", task);
    assert_eq!((failures("sweep"), failures("crash")), (1, 0));
    let panics = |task| reading.counter("lifespan_task_panics_total", task);
    assert_eq!((panics("sweep"), panics("crash")), (0, 1));
    let restarts = |task| reading.counter("lifespan_task_restarts_total", task);
    assert_eq!(
        (restarts("sweep"), restarts("crash"), restarts("plain")),
        (1, 1, 0)
    );
    let durations = reading.value(
        MetricKind::Histogram,
        "lifespan_task_run_duration_seconds",
        "sweep",
    );
    match durations {
        Some(DebugValue::Histogram(seconds)) => {
            assert_eq!(seconds.len(), 4);
            assert!(
                seconds.iter().all(|s| s.into_inner() == 0.25),
                "{seconds:?}"
            );
        }
        other => panic!("no run durations: {other:?}"),
    }
    for task in ["sweep", "crash", "plain"] {
        assert_eq!(
            reading.gauge("lifespan_tasks_running", task),
            Some(1.0),
            "{task}"
        );
    }
}

/// The durations recorded for `task` in `reading`: none if its histogram was not written.
fn durations(reading: &Reading, task: &str) -> Vec<f64> {
    match reading.value(
        MetricKind::Histogram,
        "lifespan_task_run_duration_seconds",
        task,
    ) {
        Some(DebugValue::Histogram(seconds)) => seconds.iter().map(|s| s.into_inner()).collect(),
        None => Vec::new(),
        Some(other) => panic!("the run durations of {task} are no histogram: {other:?}"),
    }
}

/// A run's duration is recorded when the run ends on its own (it succeeded, failed or
/// panicked), plain task or not; a run stopped by shutdown is not timed: its length is the
/// app's, not the run's.
#[test]
fn the_durations_are_of_runs_that_ended_on_their_own_not_of_runs_stopped_by_shutdown() {
    let (recorder, snapshotter) = recorder();
    let reader = snapshotter.clone();
    paused("run durations", recorder, || async move {
        let app = App::empty();
        app.register_task("done", || async {
            tokio::time::sleep(Duration::from_secs(2)).await;
        })
        .unwrap();
        app.register_task("broken", || async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            Err::<(), _>("broken")
        })
        .unwrap();
        app.register_task("crashes", || async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            panic!("crashes");
        })
        .unwrap();
        app.register_task("waits", |shutdown: Shutdown| async move {
            shutdown.cancelled().await
        })
        .unwrap();
        // Runs at 10 s for 5 s: the first is stopped by shutdown at 12 s.
        app.register_task_with(
            "slow",
            TaskOptions::new().every(Duration::from_secs(10)),
            |shutdown: Shutdown| async move {
                let _ = shutdown
                    .run_until_cancelled(tokio::time::sleep(Duration::from_secs(5)))
                    .await;
            },
        )
        .unwrap();
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        tokio::time::sleep(Duration::from_secs(12)).await;
        let running = Reading::take(&reader);
        assert_eq!(durations(&running, "done"), [2.0]);
        assert_eq!(durations(&running, "broken"), [3.0]);
        assert_eq!(durations(&running, "crashes"), [1.0]);
        assert_eq!(durations(&running, "slow"), [] as [f64; 0]);
        bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
    });
    let stopped = Reading::take(&snapshotter);
    for task in ["done", "broken", "crashes", "waits", "slow"] {
        assert_eq!(durations(&stopped, task), [] as [f64; 0], "{task}");
    }
}

/// The wall clock as the runtime reads it under paused time: the system's time when `anchor`
/// was taken, plus the runtime's time since.
pub(super) fn wall_clock(anchor: (SystemTime, tokio::time::Instant)) -> f64 {
    let now = anchor.0 + anchor.1.elapsed();
    now.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[test]
fn the_last_success_is_the_wall_clock_time_of_the_last_run_that_succeeded() {
    let (recorder, snapshotter) = recorder();
    paused("the last success", recorder, || async move {
        let anchor = (SystemTime::now(), tokio::time::Instant::now());
        let app = app();
        app.register_task("once", || async {
            tokio::time::sleep(Duration::from_secs(3)).await;
        })
        .unwrap();
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        let last_success = |reading: &Reading, task| {
            reading.gauge("lifespan_task_last_success_timestamp_seconds", task)
        };
        // Before any run of sweep has ended (its first at 10 s), and before `once` has.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let before = Reading::take(&snapshotter);
        assert_eq!(last_success(&before, "sweep"), None);
        assert_eq!(last_success(&before, "once"), None);
        // The plain task succeeded at 3 s, sweep's first run at 10.25 s.
        tokio::time::sleep(Duration::from_secs(9)).await;
        let first = Reading::take(&snapshotter);
        let at = wall_clock(anchor);
        let once = last_success(&first, "once").expect("the plain task's success");
        assert!((at - 8.0 - once).abs() < 0.1, "{once} for {at}");
        let sweep = last_success(&first, "sweep").expect("sweep's first success");
        assert!((at - 0.75 - sweep).abs() < 0.1, "{sweep} for {at}");
        // Sweep's second run (20 s) fails: no success to record (reading reset the gauge).
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(
            last_success(&Reading::take(&snapshotter), "sweep"),
            Some(0.0)
        );
        // Its restart, a second after the failure, succeeds at 21.5 s.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let third = last_success(&Reading::take(&snapshotter), "sweep").unwrap();
        let at = wall_clock(anchor);
        assert!((at - 1.5 - third).abs() < 0.1, "{third} for {at}");
        assert!(third - sweep > 10.0, "{third} after {sweep}");
        bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
    });
}
