//! Leases, requests to the coordinator and missed points, per task.

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use lifespan_core::{App, Coordinator, InProcess, LeaseSettings, Shutdown, TaskOptions};
use lifespan_test_support::{bounded, WAIT_LIMIT};
use metrics_util::debugging::DebugValue;
use metrics_util::MetricKind;

use super::{paused, recorder, Reading};
use crate::replicas::coordinator::TestCoordinator;

const MS: Duration = Duration::from_millis(1);
const S: Duration = Duration::from_secs(1);

/// Replica `instance` on `coordinator` (a lease of 3 s, a renew deadline of 2 s, a retry
/// period of 500 ms), running the singleton `task` until shutdown.
fn singleton(coordinator: impl Coordinator, instance: &str, task: &str) -> App {
    let app = App::builder()
        .empty()
        .coordinator(coordinator)
        .instance(instance)
        .lease(LeaseSettings::new(3 * S, 2 * S, 500 * MS).unwrap())
        .build();
    let options = TaskOptions::new().singleton(true);
    app.register_task_with(task.to_owned(), options, |shutdown: Shutdown| async move {
        shutdown.cancelled().await
    })
    .unwrap();
    app
}

/// Waits, 10 ms of virtual time at a time, until `app` holds the lease of `task`.
async fn held(app: &App, task: &str) {
    bounded("the lease", WAIT_LIMIT, async {
        while !app
            .status()
            .task(task)
            .and_then(|status| status.lease.as_ref())
            .is_some_and(|lease| lease.held_here)
        {
            tokio::time::sleep(10 * MS).await;
        }
    })
    .await;
}

/// A singleton that gets its lease shows 1, one change; one that gives it up at shutdown
/// shows 0, two changes (read without a reading in between, which would reset the gauge).
#[test]
fn a_lease_held_shows_1_and_0_once_released_each_change_counted() {
    let (recorder, snapshotter) = recorder();
    paused("leases", recorder, || async move {
        let coordinator = InProcess::starting_at(SystemTime::UNIX_EPOCH);
        let first = singleton(coordinator.clone(), "a", "first");
        bounded("startup", WAIT_LIMIT, first.start()).await.unwrap();
        held(&first, "first").await;
        let holding = Reading::take(&snapshotter);
        assert_eq!(
            holding.gauge("lifespan_task_lease_held", "first"),
            Some(1.0)
        );
        assert_eq!(
            holding.counter("lifespan_task_lease_changes_total", "first"),
            1
        );
        bounded("shutdown", WAIT_LIMIT, first.shutdown()).await;

        let second = singleton(coordinator, "a", "second");
        bounded("startup", WAIT_LIMIT, second.start())
            .await
            .unwrap();
        held(&second, "second").await;
        bounded("shutdown", WAIT_LIMIT, second.shutdown()).await;
        let released = Reading::take(&snapshotter);
        assert_eq!(
            released.gauge("lifespan_task_lease_held", "second"),
            Some(0.0)
        );
        assert_eq!(
            released.counter("lifespan_task_lease_changes_total", "second"),
            2
        );
        assert_eq!(
            released.counter("lifespan_task_lease_changes_total", "first"),
            1
        );
    });
}

/// The errors and the durations of `task`'s requests of `operation`.
fn requests(reading: &Reading, task: &str, operation: &str) -> (u64, usize) {
    let labels = [("task", task), ("operation", operation)];
    let errors = match reading.labelled(
        MetricKind::Counter,
        "lifespan_coordinator_request_errors_total",
        &labels,
    ) {
        Some(DebugValue::Counter(count)) => *count,
        _ => 0,
    };
    let durations = match reading.labelled(
        MetricKind::Histogram,
        "lifespan_coordinator_request_duration_seconds",
        &labels,
    ) {
        Some(DebugValue::Histogram(seconds)) => seconds.len(),
        _ => 0,
    };
    (errors, durations)
}

/// A singleton's requests are timed and, once the coordinator is down, counted as errors by
/// operation: its renewals until the renew deadline, the release of the lease lost, then
/// each request for the lease, every retry period.
#[test]
fn requests_to_a_coordinator_that_fails_are_counted_by_operation() {
    let (recorder, snapshotter) = recorder();
    paused("coordinator requests", recorder, || async move {
        let coordinator = TestCoordinator::new();
        let app = singleton(coordinator.clone(), "a", "leader");
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        held(&app, "leader").await;
        tokio::time::sleep(S).await;
        let up = Reading::take(&snapshotter);
        assert_eq!(requests(&up, "leader", "acquire_lease"), (0, 1));
        // Renewed every 500 ms.
        let (errors, renewals) = requests(&up, "leader", "renew_lease");
        assert_eq!(errors, 0);
        assert!(renewals >= 1, "{renewals}");

        coordinator.faults().down.store(true, Ordering::SeqCst);
        tokio::time::sleep(5 * S).await;
        let down = Reading::take(&snapshotter);
        let (errors, renewals) = requests(&down, "leader", "renew_lease");
        assert!(
            errors >= 1 && errors as usize == renewals,
            "{errors} of {renewals}"
        );
        assert_eq!(requests(&down, "leader", "release_lease"), (1, 1));
        let (errors, asked) = requests(&down, "leader", "acquire_lease");
        assert!(
            errors >= 2 && errors as usize == asked,
            "{errors} of {asked}"
        );
        bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
    });
}

/// Replica `instance` on `coordinator` running `digest`, once per point every second, each run
/// 200 ms.
fn digest(coordinator: impl Coordinator, instance: &str) -> App {
    let app = App::builder()
        .empty()
        .coordinator(coordinator)
        .instance(instance)
        .build();
    let options = TaskOptions::new().every(S).once_per_point(true);
    app.register_task_with("digest", options, || async {
        tokio::time::sleep(200 * MS).await;
    })
    .unwrap();
    app
}

/// Replica a runs points 1 and 2 and stops; every replica is down across points 3 to 6; b
/// starts and runs point 7: the four points missed are counted once, by b.
#[test]
fn points_missed_are_counted() {
    let (recorder, snapshotter) = recorder();
    paused("missed points", recorder, || async move {
        let coordinator = InProcess::starting_at(SystemTime::UNIX_EPOCH);
        let a = digest(coordinator.clone(), "a");
        let b = digest(coordinator, "b");
        bounded("startup", WAIT_LIMIT, a.start()).await.unwrap();
        tokio::time::sleep(2500 * MS).await;
        bounded("shutdown", WAIT_LIMIT, a.shutdown()).await;
        let ran = Reading::take(&snapshotter);
        assert_eq!(ran.counter("lifespan_task_starts_total", "digest"), 2);
        assert_eq!(
            ran.counter("lifespan_task_missed_points_total", "digest"),
            0
        );
        tokio::time::sleep(4 * S).await;
        bounded("startup", WAIT_LIMIT, b.start()).await.unwrap();
        tokio::time::sleep(S).await;
        let missed = Reading::take(&snapshotter);
        assert_eq!(missed.counter("lifespan_task_starts_total", "digest"), 1);
        assert_eq!(
            missed.counter("lifespan_task_missed_points_total", "digest"),
            4
        );
        let (errors, claims) = requests(&missed, "digest", "claim_run");
        assert_eq!(errors, 0);
        assert!(claims >= 1, "{claims}");
        bounded("shutdown", WAIT_LIMIT, b.shutdown()).await;
    });
}
