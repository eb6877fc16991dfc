//! The next run, timeouts, manual runs and failures for good, per task.

use std::time::{Duration, SystemTime};

use lifespan_core::{App, Restart, Shutdown, TaskOptions};
use lifespan_test_support::{bounded, WAIT_LIMIT};

use super::{paused, recorder, wall_clock, Reading};

const S: Duration = Duration::from_secs(1);

fn unix(at: SystemTime) -> f64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// `tick` runs every 10 s for 1 s: its next run is the time its status shows, by the wall
/// clock, and moves on after each run.
#[test]
fn the_next_run_is_the_wall_clock_time_the_status_shows() {
    let (recorder, snapshotter) = recorder();
    paused("the next run", recorder, || async move {
        let anchor = (SystemTime::now(), tokio::time::Instant::now());
        let app = App::empty();
        app.register_task_with("tick", TaskOptions::new().every(10 * S), || async {
            tokio::time::sleep(S).await;
        })
        .unwrap();
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        let next_run = |reading: &Reading| {
            reading
                .gauge("lifespan_task_next_run_timestamp_seconds", "tick")
                .expect("the next run of tick")
        };
        for (sleep, due) in [(5 * S, 10.0), (7 * S, 20.0)] {
            tokio::time::sleep(sleep).await;
            let next = next_run(&Reading::take(&snapshotter));
            let shown = app.status().task("tick").unwrap().next_run.unwrap();
            assert!((next - unix(shown)).abs() < 1e-3, "{next} shown {shown:?}");
            let at = wall_clock(anchor);
            let elapsed = anchor.1.elapsed().as_secs_f64();
            assert!((next - (at - elapsed + due)).abs() < 0.1, "{next} for {at}");
        }
        bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
    });
}

/// `slow` runs every 10 s with a timeout of 1 s and takes 5 s: its run at 10 s is cut at
/// 11 s, and it is not restarted. `limited` fails at once, restarted once at most. `steady`
/// waits for shutdown.
fn failing_app() -> App {
    let app = App::empty();
    let slow = TaskOptions::new().every(10 * S).timeout(S);
    app.register_task_with("slow", slow, || async {
        tokio::time::sleep(5 * S).await;
    })
    .unwrap();
    let limited = TaskOptions::new()
        .restart(Restart::OnFailure)
        .max_restarts(1)
        .backoff(S, S)
        .jitter(false);
    app.register_task_with("limited", limited, || async {
        Err::<(), _>(anyhow::anyhow!("fails at once"))
    })
    .unwrap();
    app.register_task("steady", |shutdown: Shutdown| async move {
        shutdown.cancelled().await
    })
    .unwrap();
    app
}

#[test]
fn runs_cut_at_their_timeout_are_counted_and_a_task_failed_for_good_shows_1() {
    let (recorder, snapshotter) = recorder();
    paused("timeouts and failures for good", recorder, || async move {
        let app = failing_app();
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        tokio::time::sleep(5 * S).await;
        let before = Reading::take(&snapshotter);
        let failed_for_good =
            |reading: &Reading, task| reading.gauge("lifespan_task_failed_for_good", task);
        // `limited` failed at 0 s and, restarted, at 1 s: its limit reached.
        assert_eq!(failed_for_good(&before, "limited"), Some(1.0));
        assert_eq!(failed_for_good(&before, "slow"), Some(0.0));
        assert_eq!(failed_for_good(&before, "steady"), Some(0.0));
        assert_eq!(before.counter("lifespan_task_timeouts_total", "slow"), 0);
        tokio::time::sleep(7 * S).await;
        let after = Reading::take(&snapshotter);
        assert_eq!(after.counter("lifespan_task_timeouts_total", "slow"), 1);
        assert_eq!(after.counter("lifespan_task_timeouts_total", "limited"), 0);
        assert_eq!(failed_for_good(&after, "slow"), Some(1.0));
        bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
        let stopped = Reading::take(&snapshotter);
        assert_eq!(failed_for_good(&stopped, "steady"), Some(0.0));
    });
}

/// `tick` runs every hour: triggered by hand at 1 s, it runs once, counted as a manual run.
#[test]
fn runs_asked_for_by_hand_are_counted() {
    let (recorder, snapshotter) = recorder();
    paused("manual runs", recorder, || async move {
        let app = App::empty();
        let hourly = TaskOptions::new().every(3600 * S);
        app.register_task_with("tick", hourly, || async {
            tokio::time::sleep(S).await;
        })
        .unwrap();
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        tokio::time::sleep(S).await;
        let before = Reading::take(&snapshotter);
        assert_eq!(before.counter("lifespan_task_manual_runs_total", "tick"), 0);
        bounded("trigger", WAIT_LIMIT, app.trigger("tick"))
            .await
            .unwrap();
        tokio::time::sleep(2 * S).await;
        let after = Reading::take(&snapshotter);
        assert_eq!(after.counter("lifespan_task_starts_total", "tick"), 1);
        assert_eq!(after.counter("lifespan_task_manual_runs_total", "tick"), 1);
        bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
    });
}
