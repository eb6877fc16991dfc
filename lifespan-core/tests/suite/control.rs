//! Operating tasks by hand in one process, on virtual time: a manual run now, a pause that
//! lets the run in progress finish and starts no other, a resume, a singleton that gives its
//! lease up when paused, and the errors, each naming the task. Each test is bounded by 30 s of
//! real time too (`replicas/real_time.rs`); the replicas sharing a coordinator are in
//! `replicas/control.rs`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use lifespan_core::{
    Acquired, App, ControlAction, ControlError, Coordinator, InProcess, Lease, LeaseRequest,
    LeaseSettings, RunOutcome, RunState, Shutdown, TaskOptions,
};
use lifespan_test_support::{bounded, WAIT_LIMIT};
use tokio::time::{sleep, Instant};

use super::replicas::real_time::{paused, REAL_LIMIT};

const S: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);

/// What the task did, with the virtual time since the test's start.
#[derive(Clone)]
struct Log {
    epoch: Instant,
    events: Arc<Mutex<Vec<(Duration, String)>>>,
}

impl Log {
    fn new() -> Self {
        Log {
            epoch: Instant::now(),
            events: Arc::default(),
        }
    }

    fn push(&self, event: &str) {
        let at = self.epoch.elapsed();
        self.events.lock().unwrap().push((at, event.to_owned()));
    }

    fn events(&self) -> Vec<(Duration, String)> {
        self.events.lock().unwrap().clone()
    }

    /// The whole seconds at which `event` happened.
    fn seconds(&self, event: &str) -> Vec<u64> {
        self.events()
            .into_iter()
            .filter(|(_, e)| e == event)
            .map(|(at, _)| at.as_secs())
            .collect()
    }
}

/// An app (instance `web-1`) whose task `sweep` runs every `period` for `lasting`, logging its
/// start and end.
fn app_every(period: Duration, lasting: Duration, log: &Log) -> App {
    let app = App::builder().empty().instance("web-1").build();
    let log = log.clone();
    app.register_task_with("sweep", TaskOptions::new().every(period), move || {
        let log = log.clone();
        async move {
            log.push("start");
            sleep(lasting).await;
            log.push("end");
        }
    })
    .unwrap();
    app
}

async fn start(app: &App) {
    bounded("start", WAIT_LIMIT, app.start()).await.unwrap();
}

async fn stop(app: &App) {
    bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
}

#[test]
fn a_trigger_runs_a_periodic_task_once_now_counted_as_manual_and_keeps_its_schedule() {
    paused("a trigger", REAL_LIMIT, || async {
        let log = Log::new();
        let app = app_every(60 * S, S, &log);
        start(&app).await;
        sleep(10 * S).await;
        bounded("trigger", WAIT_LIMIT, app.trigger("sweep"))
            .await
            .unwrap();
        sleep(5 * S).await;
        assert_eq!(log.seconds("start"), [10], "run once, now");
        let status = app.status();
        let sweep = status.task("sweep").unwrap();
        assert_eq!((sweep.runs, sweep.manual_runs), (1, 1));
        assert_eq!(
            sweep.last_run.as_ref().map(|run| run.outcome),
            Some(RunOutcome::Succeeded)
        );
        // The schedule goes on as it was: the next run at 60 s, not 70 s.
        sleep(60 * S).await;
        assert_eq!(log.seconds("start"), [10, 60]);
        let status = app.status();
        let sweep = status.task("sweep").unwrap();
        assert_eq!((sweep.runs, sweep.manual_runs), (2, 1));
        stop(&app).await;
    });
}

#[test]
fn a_pause_lets_the_run_in_progress_finish_starts_no_other_and_a_resume_restarts_the_schedule() {
    paused("a pause", REAL_LIMIT, || async {
        let log = Log::new();
        let app = app_every(10 * S, 5 * S, &log);
        start(&app).await;
        // The run of 10 s is in progress at 12 s.
        sleep(12 * S).await;
        let pause = bounded("pause", WAIT_LIMIT, app.pause("sweep"))
            .await
            .unwrap();
        assert_eq!(pause.by, "web-1");
        sleep(60 * S).await;
        assert_eq!(log.seconds("start"), [10], "no run starts while paused");
        assert_eq!(log.seconds("end"), [15], "the run in progress finished");
        let status = app.status();
        let sweep = status.task("sweep").unwrap();
        assert_eq!(sweep.paused.as_ref(), Some(&pause));
        assert_eq!(sweep.next_run, None, "no run is planned while paused");
        assert_eq!(sweep.state, RunState::Running);
        // Pausing again keeps the first pause; a trigger is refused while paused.
        assert_eq!(app.pause("sweep").await.unwrap(), pause);
        let error = app.trigger("sweep").await.unwrap_err();
        assert!(matches!(error, ControlError::Paused { .. }), "{error}");
        assert_eq!(
            error.to_string(),
            "lifespan task `sweep` cannot be triggered: it is paused (by `web-1`)"
        );

        // Resumed at 72 s: the schedule goes on from its next point, 80 s.
        assert!(bounded("resume", WAIT_LIMIT, app.resume("sweep"))
            .await
            .unwrap());
        assert!(!app.resume("sweep").await.unwrap(), "not paused any more");
        sleep(20 * S).await;
        assert_eq!(log.seconds("start"), [10, 80, 90]);
        assert_eq!(app.status().task("sweep").unwrap().paused, None);
        stop(&app).await;
    });
}

#[test]
fn a_paused_singleton_gives_its_lease_up_and_nobody_takes_it_until_resumed() {
    paused("a paused singleton", REAL_LIMIT, || async {
        let coordinator = InProcess::new();
        let log = Log::new();
        let app = App::builder()
            .empty()
            .coordinator(coordinator.clone())
            .instance("web-1")
            .lease(LeaseSettings::new(3 * S, 2 * S, 500 * MS).unwrap())
            .build();
        let events = log.clone();
        app.register_task_with(
            "leader",
            TaskOptions::new().singleton(true),
            move |lease: Lease, shutdown: Shutdown| {
                let log = events.clone();
                async move {
                    log.push(&format!("start {}", lease.token()));
                    shutdown.cancelled().await;
                    log.push(&format!("stop lost={}", lease.is_lost()));
                }
            },
        )
        .unwrap();
        start(&app).await;
        sleep(S).await;
        let paused_at = Instant::now();
        bounded("pause", WAIT_LIMIT, app.pause("leader"))
            .await
            .unwrap();
        sleep(2 * S).await;
        let events = log.events();
        let names: Vec<&str> = events.iter().map(|(_, e)| e.as_str()).collect();
        assert_eq!(names, ["start 1", "stop lost=true"]);
        // Stopped at its next renewal, within a retry period.
        assert!(events[1].0 <= paused_at.duration_since(log.epoch) + 500 * MS);
        let status = app.status();
        let leader = status.task("leader").unwrap();
        assert_eq!(leader.state, RunState::Standby);
        assert_eq!(leader.paused.as_ref().map(|p| p.by.as_str()), Some("web-1"));
        assert!(!leader.lease.as_ref().unwrap().held_here);
        // Nobody is granted the lease while paused.
        let asked = LeaseRequest::new("leader", "web-2", 3 * S);
        let answer = coordinator.acquire(&asked).await.unwrap();
        assert!(
            matches!(answer, Acquired::Paused(ref p) if p.by == "web-1"),
            "{answer:?}"
        );
        sleep(30 * S).await;
        assert_eq!(log.events().len(), 2);

        assert!(bounded("resume", WAIT_LIMIT, app.resume("leader"))
            .await
            .unwrap());
        sleep(S).await;
        assert_eq!(log.events().last().unwrap().1, "start 2");
        let status = app.status();
        let leader = status.task("leader").unwrap();
        assert_eq!(
            (leader.state, leader.paused.as_ref()),
            (RunState::Running, None)
        );
        stop(&app).await;
    });
}

#[test]
fn the_errors_of_control_name_the_task_and_say_why() {
    paused("control errors", REAL_LIMIT, || async {
        let log = Log::new();
        let app = app_every(60 * S, S, &log);
        app.register_task("listener", |shutdown: Shutdown| async move {
            shutdown.cancelled().await;
        })
        .unwrap();
        let error = app.trigger("sweep").await.unwrap_err();
        assert!(matches!(error, ControlError::NotRunning { .. }), "{error}");
        assert_eq!(
            error.to_string(),
            "lifespan task `sweep` cannot be triggered: the app is not running"
        );
        start(&app).await;
        let error = app.pause("nothing").await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "lifespan task `nothing` cannot be paused: the app has no task of that name"
        );
        assert_eq!(error.task(), "nothing");
        let error = app.trigger("listener").await.unwrap_err();
        assert!(
            matches!(
                error,
                ControlError::NotControllable {
                    action: ControlAction::Trigger,
                    ..
                }
            ),
            "{error}"
        );
        assert_eq!(
            error.to_string(),
            "lifespan task `listener` cannot be triggered: it is not periodic (it has neither `every` nor `cron`)"
        );
        let error = app.resume("listener").await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "lifespan task `listener` cannot be resumed: it is neither periodic (it has neither `every` nor `cron`) nor a singleton"
        );
        assert_eq!(error.task(), "listener");
        stop(&app).await;
        let error = app.resume("sweep").await.unwrap_err();
        assert!(matches!(error, ControlError::NotRunning { .. }), "{error}");
    });
}

/// Once shutdown has begun, while a task still winds down, no task is operated: each call is
/// refused as the app not running.
#[test]
fn no_task_is_operated_once_shutdown_has_begun() {
    paused("control during shutdown", REAL_LIMIT, || async {
        let log = Log::new();
        let app = app_every(60 * S, S, &log);
        // A task that takes a second to stop: the shutdown lasts that long.
        app.register_task("slow_stop", |shutdown: Shutdown| async move {
            shutdown.cancelled().await;
            sleep(S).await;
        })
        .unwrap();
        start(&app).await;
        let stopping = tokio::spawn({
            let app = app.clone();
            async move { app.shutdown().await }
        });
        sleep(100 * MS).await;
        assert!(app.is_running(), "the shutdown is under way");
        let error = app.pause("sweep").await.unwrap_err();
        assert!(matches!(error, ControlError::NotRunning { .. }), "{error}");
        let error = app.trigger("sweep").await.unwrap_err();
        assert!(matches!(error, ControlError::NotRunning { .. }), "{error}");
        bounded("shutdown", WAIT_LIMIT, stopping).await.unwrap();
    });
}

/// The status route shows the manual runs of a task run by hand and the pause of a paused
/// task, and nothing of them for the others.
#[cfg(feature = "axum")]
#[test]
fn the_status_route_shows_manual_runs_and_the_pause() {
    paused("the route's pause", REAL_LIMIT, || async {
        let log = Log::new();
        let app = app_every(60 * S, S, &log);
        app.register_task_with("idle", TaskOptions::new().every(3600 * S), || async {})
            .unwrap();
        start(&app).await;
        app.trigger("sweep").await.unwrap();
        sleep(2 * S).await;
        let pause = app.pause("sweep").await.unwrap();
        let response = lifespan_core::status_handler(app.clone()).await;
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let json = String::from_utf8(bytes.to_vec()).unwrap();
        let since = pause
            .since
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        let shown =
            format!(r#""manual_runs":1,"paused":{{"by":"web-1","since_unix_ms":{since}}}}}"#);
        assert!(json.contains(&shown), "{json}");
        assert_eq!(json.matches("\"paused\"").count(), 1, "{json}");
        assert_eq!(json.matches("\"manual_runs\"").count(), 1, "{json}");
        stop(&app).await;
    });
}
