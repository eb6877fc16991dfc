//! Supervision: restart policies with backoff and limits, periodic tasks, critical tasks,
//! blocking detection and live status, in virtual time (a current-thread runtime with paused
//! time, which jumps to the next timer whenever every task is idle). Every wait on the runtime is
//! bounded by an hour of virtual time: a task that restarts or runs on a period waits at least
//! 100 ms between its runs here, so a wait that never ends fails after a bounded number of them.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lifespan_core::{
    App, RegisterError, Restart, RunError, RunState, Schedule, Shutdown, TaskOptions, TaskOutcome,
};
use lifespan_test_support::{bounded, WAIT_LIMIT};
use tokio::time::Instant;

const MS: Duration = Duration::from_millis(1);
const S: Duration = Duration::from_secs(1);

/// Events with the virtual time they happened at, from the log's creation.
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

    fn push(&self, event: impl Into<String>) {
        let at = self.epoch.elapsed();
        self.events.lock().unwrap().push((at, event.into()));
    }

    /// When each event named `event` happened.
    fn times(&self, event: &str) -> Vec<Duration> {
        let events = self.events.lock().unwrap();
        events
            .iter()
            .filter(|(_, e)| e == event)
            .map(|(at, _)| *at)
            .collect()
    }
}

/// Sleeps until `at` from the log's epoch; every timer due before it fires first.
async fn until(log: &Log, at: Duration) {
    tokio::time::sleep_until(log.epoch + at).await;
}

mod restarts {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_task_restarted_on_failure_backs_off_exponentially_with_fresh_arguments_and_signal() {
        let app = App::empty();
        let log = Log::new();
        let calls = Arc::new(AtomicU32::new(0));
        let options = TaskOptions::new()
            .restart(Restart::OnFailure)
            .backoff(100 * MS, 300 * MS)
            .jitter(false);
        let (task_log, task_calls) = (log.clone(), calls.clone());
        app.register_task_with("flaky", options, move |shutdown: Shutdown| {
            // Called once per run: what a keyword argument's expression would be.
            let call = task_calls.fetch_add(1, Ordering::SeqCst);
            let log = task_log.clone();
            async move {
                assert!(!shutdown.is_cancelled(), "a fresh, not cancelled, signal");
                log.push("run");
                if call < 4 {
                    anyhow::bail!("attempt {call} failed");
                }
                shutdown.cancelled().await;
                Ok(())
            }
        })
        .unwrap();
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        until(&log, 10 * S).await;
        // 100, 200, then 300 (the cap), 300: each delay after the end of the failed run.
        assert_eq!(
            log.times("run"),
            [Duration::ZERO, 100 * MS, 300 * MS, 600 * MS, 900 * MS]
        );
        assert_eq!(calls.load(Ordering::SeqCst), 5);
        let status = app.status();
        let flaky = status.task("flaky").unwrap();
        assert_eq!(flaky.state, RunState::Running);
        assert_eq!(flaky.restarts, 4);
        assert_eq!(flaky.last_error.as_deref(), Some("attempt 3 failed"));
        let report = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
        assert_eq!(report.tasks[0].outcome, TaskOutcome::Cancelled);
        assert_eq!(report.tasks[0].restarts, 4);
        assert_eq!(
            report.to_string(),
            "task flaky: stopped on shutdown (restarted 4 times)\n"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn while_backing_off_the_status_says_so_and_shutdown_interrupts_the_wait_at_once() {
        let app = App::builder().empty().grace_period(10 * S).build();
        let options = TaskOptions::new()
            .restart(Restart::OnFailure)
            .backoff(S * 3600, S * 3600);
        app.register_task_with("down", options, || async { Err::<(), _>("unreachable") })
            .unwrap();
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        tokio::time::sleep(S).await;
        let status = app.status();
        let down = status.task("down").unwrap();
        assert_eq!(down.state, RunState::BackingOff);
        // Counted when it happens, not while it waits.
        assert_eq!(down.restarts, 0);
        assert_eq!(down.in_state, S);
        assert_eq!(down.last_error.as_deref(), Some("unreachable"));

        let began = Instant::now();
        let report = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
        assert_eq!(began.elapsed(), Duration::ZERO, "no wait for the backoff");
        assert_eq!(report.tasks[0].outcome, TaskOutcome::Cancelled);
        assert_eq!(app.status().task("down").unwrap().state, RunState::Stopped);
    }

    #[tokio::test(start_paused = true)]
    async fn jitter_draws_each_delay_between_half_of_it_and_all_of_it() {
        let app = App::empty();
        let log = Log::new();
        let options = TaskOptions::new()
            .restart(Restart::OnFailure)
            .backoff(S, S)
            .max_restarts(40);
        let task_log = log.clone();
        app.register_task_with("jittery", options, move || {
            let log = task_log.clone();
            async move {
                log.push("run");
                Err::<(), _>("again")
            }
        })
        .unwrap();
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        until(&log, 60 * S).await;
        let runs = log.times("run");
        assert_eq!(runs.len(), 41, "the first run and 40 restarts");
        let delays: Vec<Duration> = runs.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(
            delays.iter().all(|d| (500 * MS..=S).contains(d)),
            "{delays:?}"
        );
        assert!(
            delays.iter().any(|d| *d != delays[0]),
            "drawn at random: {delays:?}"
        );
        let report = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
        assert_eq!(report.tasks[0].outcome, TaskOutcome::Failed("again".into()));
    }

    #[tokio::test(start_paused = true)]
    async fn past_its_restart_limit_a_task_is_failed_for_good() {
        let app = App::empty();
        let log = Log::new();
        let options = TaskOptions::new()
            .restart(Restart::OnFailure)
            .backoff(S, S)
            .jitter(false)
            .max_restarts(2);
        let task_log = log.clone();
        app.register_task_with("doomed", options, move || {
            let log = task_log.clone();
            async move {
                log.push("run");
                panic!("out of luck");
                #[allow(unreachable_code)]
                ()
            }
        })
        .unwrap();
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        until(&log, 60 * S).await;
        assert_eq!(log.times("run"), [Duration::ZERO, S, 2 * S]);
        let status = app.status();
        let doomed = status.task("doomed").unwrap();
        assert_eq!(doomed.state, RunState::Failed);
        assert_eq!(doomed.restarts, 2);
        assert_eq!(doomed.in_state, 58 * S);
        assert_eq!(doomed.last_error.as_deref(), Some("out of luck"));
        let report = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
        assert_eq!(
            report.tasks[0].outcome,
            TaskOutcome::Panicked("out of luck".into())
        );
        assert_eq!(report.tasks[0].restarts, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_restart_limit_within_a_window_counts_only_the_restarts_in_that_window() {
        let app = App::empty();
        let log = Log::new();
        // Fails every 30 s: 2 restarts per minute at most is never exceeded.
        let slow = TaskOptions::new()
            .restart(Restart::OnFailure)
            .backoff(30 * S, 30 * S)
            .jitter(false)
            .max_restarts(2)
            .within(60 * S);
        // Fails every 10 s: the third restart within a minute is one too many.
        let fast = slow.clone().backoff(10 * S, 10 * S);
        for (name, options) in [("slow", slow), ("fast", fast)] {
            let task_log = log.clone();
            app.register_task_with(name, options, move || {
                let log = task_log.clone();
                async move {
                    log.push(name);
                    Err::<(), _>("failed")
                }
            })
            .unwrap();
        }
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        until(&log, 300 * S + MS).await;
        assert_eq!(log.times("slow").len(), 11, "{:?}", log.times("slow"));
        assert_eq!(log.times("fast"), [Duration::ZERO, 10 * S, 20 * S]);
        let status = app.status();
        assert_eq!(status.task("slow").unwrap().state, RunState::BackingOff);
        assert_eq!(status.task("fast").unwrap().state, RunState::Failed);
        bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
    }

    #[tokio::test(start_paused = true)]
    async fn restart_always_runs_again_after_a_task_returns_ok() {
        let app = App::empty();
        let log = Log::new();
        let options = TaskOptions::new()
            .restart(Restart::Always)
            .backoff(S, S)
            .jitter(false);
        let task_log = log.clone();
        app.register_task_with("loop", options, move || {
            let log = task_log.clone();
            async move { log.push("run") }
        })
        .unwrap();
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        until(&log, 3 * S + MS).await;
        assert_eq!(log.times("run"), [Duration::ZERO, S, 2 * S, 3 * S]);
        let report = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
        assert_eq!(report.tasks[0].outcome, TaskOutcome::Cancelled);
        // The fourth, decided when the run at 3 s returned, was cut short: not counted.
        assert_eq!(report.tasks[0].restarts, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_restart_that_never_recovers_doubles_its_delay_and_a_long_run_resets_it() {
        let app = App::empty();
        let log = Log::new();
        let options = TaskOptions::new()
            .restart(Restart::OnFailure)
            .backoff(S, 4 * S)
            .jitter(false);
        let task_log = log.clone();
        let runs = Arc::new(AtomicU32::new(0));
        app.register_task_with("recovering", options, move || {
            let log = task_log.clone();
            let run = runs.fetch_add(1, Ordering::SeqCst);
            async move {
                log.push("run");
                // The third run lasts as long as the cap: a recovery.
                if run == 2 {
                    tokio::time::sleep(4 * S).await;
                }
                Err::<(), _>("failed")
            }
        })
        .unwrap();
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        until(&log, 20 * S).await;
        // Runs at 0; +1 s; +2 s (runs 4 s, ends at 7); +1 s (reset) = 8; +2 s = 10; +4 s = 14.
        assert_eq!(
            log.times("run"),
            [Duration::ZERO, S, 3 * S, 8 * S, 10 * S, 14 * S, 18 * S]
        );
        bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_restarts_once_shutdown_has_begun() {
        let app = App::empty();
        let options = TaskOptions::new().restart(Restart::Always);
        let runs = Arc::new(AtomicU32::new(0));
        let task_runs = runs.clone();
        app.register_task_with("stopper", options, move |shutdown: Shutdown| {
            task_runs.fetch_add(1, Ordering::SeqCst);
            async move {
                shutdown.cancelled().await;
                Err::<(), _>("failed while stopping")
            }
        })
        .unwrap();
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        let report = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(
            report.tasks[0].outcome,
            TaskOutcome::Failed("failed while stopping".into())
        );
        assert_eq!(report.tasks[0].restarts, 0);
    }

    #[test]
    fn options_that_make_no_sense_together_are_refused_at_registration() {
        let app = App::empty();
        let error = app
            .register_task_with("t", TaskOptions::new().every(Duration::ZERO), || async {})
            .unwrap_err();
        assert!(matches!(error, RegisterError::InvalidOptions { .. }));
        assert_eq!(
            error.to_string(),
            "cannot register lifespan task `t`: the period `every` must be longer than zero"
        );
        let error = app
            .register_task_with(
                "t",
                TaskOptions::new().every(S).restart(Restart::Always),
                || async {},
            )
            .unwrap_err();
        assert!(
            error.to_string().contains("restart it `OnFailure`"),
            "{error}"
        );
    }
}

mod periodic {
    use super::*;

    /// Registers a periodic task whose runs take `durations[i]` (the last one repeats).
    fn periodic<const N: usize>(
        app: &App,
        log: &Log,
        options: TaskOptions,
        durations: [Duration; N],
    ) {
        let task_log = log.clone();
        let runs = Arc::new(AtomicU32::new(0));
        app.register_task_with("tick", options, move || {
            let log = task_log.clone();
            let run = runs.fetch_add(1, Ordering::SeqCst) as usize;
            async move {
                log.push("began");
                tokio::time::sleep(durations[run.min(durations.len() - 1)]).await;
                log.push("ended");
            }
        })
        .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn fixed_rate_runs_on_a_grid_one_period_after_startup() {
        let app = App::empty();
        let log = Log::new();
        periodic(&app, &log, TaskOptions::new().every(10 * S), [3 * S]);
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        until(&log, 35 * S).await;
        assert_eq!(log.times("began"), [10 * S, 20 * S, 30 * S]);
        assert_eq!(app.status().task("tick").unwrap().state, RunState::Running);
        bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
    }

    #[tokio::test(start_paused = true)]
    async fn at_startup_runs_first_at_once() {
        let app = App::empty();
        let log = Log::new();
        periodic(
            &app,
            &log,
            TaskOptions::new().every(10 * S).at_startup(true),
            [3 * S],
        );
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        until(&log, 25 * S).await;
        assert_eq!(log.times("began"), [Duration::ZERO, 10 * S, 20 * S]);
        bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_fixed_rate_run_that_overruns_skips_the_missed_points_and_never_overlaps() {
        let app = App::empty();
        let log = Log::new();
        // The second run (at 20 s) takes 25 s: the points at 30 s and 40 s are skipped.
        periodic(&app, &log, TaskOptions::new().every(10 * S), [S, 25 * S, S]);
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        until(&log, 65 * S).await;
        assert_eq!(log.times("began"), [10 * S, 20 * S, 50 * S, 60 * S]);
        assert_eq!(log.times("ended")[1], 45 * S);
        bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
    }

    #[tokio::test(start_paused = true)]
    async fn fixed_delay_waits_a_period_after_each_run_ends() {
        let app = App::empty();
        let log = Log::new();
        periodic(
            &app,
            &log,
            TaskOptions::new()
                .every(10 * S)
                .schedule(Schedule::FixedDelay),
            [3 * S],
        );
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        until(&log, 40 * S).await;
        assert_eq!(log.times("began"), [10 * S, 23 * S, 36 * S]);
        bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_waits_for_the_run_in_progress_and_starts_no_new_one() {
        let app = App::builder().empty().grace_period(30 * S).build();
        let log = Log::new();
        periodic(&app, &log, TaskOptions::new().every(S), [5 * S]);
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        until(&log, 2 * S).await;
        let report = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
        // The run began at 1 s and ends at 6 s; the point at 7 s never comes.
        assert_eq!(log.epoch.elapsed(), 6 * S);
        assert_eq!(log.times("began"), [S]);
        assert_eq!(log.times("ended"), [6 * S]);
        assert_eq!(report.tasks[0].outcome, TaskOutcome::Cancelled);
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_past_the_grace_period_is_aborted() {
        let app = App::builder().empty().grace_period(2 * S).build();
        let log = Log::new();
        periodic(&app, &log, TaskOptions::new().every(S), [60 * S]);
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        until(&log, 2 * S).await;
        let report = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
        assert_eq!(log.epoch.elapsed(), 4 * S);
        assert_eq!(report.tasks[0].outcome, TaskOutcome::Aborted);
        assert_eq!(app.status().task("tick").unwrap().state, RunState::Aborted);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_run_ends_a_periodic_task_unless_it_restarts_on_failure() {
        for restart in [Restart::Never, Restart::OnFailure] {
            let app = App::empty();
            let log = Log::new();
            let task_log = log.clone();
            let runs = Arc::new(AtomicU32::new(0));
            let options = TaskOptions::new()
                .every(10 * S)
                .restart(restart)
                .backoff(S, S)
                .jitter(false);
            app.register_task_with("refresh", options, move || {
                let log = task_log.clone();
                let run = runs.fetch_add(1, Ordering::SeqCst);
                async move {
                    log.push("began");
                    if run == 1 {
                        return Err("the second run failed");
                    }
                    Ok(())
                }
            })
            .unwrap();
            bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
            until(&log, 45 * S).await;
            let report = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
            match restart {
                Restart::Never => {
                    assert_eq!(log.times("began"), [10 * S, 20 * S]);
                    assert_eq!(
                        report.tasks[0].outcome,
                        TaskOutcome::Failed("the second run failed".into())
                    );
                }
                _ => {
                    // After the failure at 20 s and its 1 s delay: 21 s, then every 10 s.
                    assert_eq!(log.times("began"), [10 * S, 20 * S, 21 * S, 31 * S, 41 * S]);
                    assert_eq!(report.tasks[0].outcome, TaskOutcome::Cancelled);
                    assert_eq!(report.tasks[0].restarts, 1);
                }
            }
        }
    }
}

mod critical {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_critical_task_failing_for_good_shuts_the_app_down_with_an_error() {
        let app = App::empty();
        let log = Log::new();
        let context_log = log.clone();
        app.register_context("database", move |lifespan: lifespan_core::Yield| {
            let log = context_log.clone();
            async move {
                lifespan.ready().await;
                log.push("database closed");
            }
        })
        .unwrap();
        let options = TaskOptions::new()
            .critical(true)
            .restart(Restart::OnFailure)
            .backoff(S, S)
            .jitter(false)
            .max_restarts(1);
        app.register_task_with("consumer", options, || async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Err::<(), _>("broker gone")
        })
        .unwrap();
        let run = app.run_until(std::future::pending::<()>());
        let result = bounded("the run that the critical failure ends", WAIT_LIMIT, run).await;
        let Err(RunError::CriticalTaskFailed {
            task,
            error,
            report,
        }) = &result
        else {
            panic!("expected a critical failure, got {result:?}");
        };
        assert_eq!(*task, "consumer");
        assert_eq!(error.to_string(), "broker gone");
        assert_eq!(report.tasks[0].restarts, 1);
        // The whole shutdown ran: the context was cleaned up after the task ended, at 11 s.
        assert_eq!(log.times("database closed"), [11 * S]);
        let error = anyhow::Error::from(result.unwrap_err());
        assert_eq!(
            format!("{error:#}"),
            "critical lifespan task `consumer` failed: broker gone"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_that_is_not_critical_fails_alone() {
        let app = App::empty();
        app.register_task("optional", || async { Err::<(), _>("failed") })
            .unwrap();
        let stop = tokio::time::sleep(10 * S);
        let report = bounded("the run until 10 s", WAIT_LIMIT, app.run_until(stop))
            .await
            .unwrap();
        assert_eq!(
            report.tasks[0].outcome,
            TaskOutcome::Failed("failed".into())
        );
    }
}

mod blocking {
    use super::*;
    use lifespan_test_support::CapturedLogs;

    /// Runs an app with one task that blocks its thread for `block`, and returns the warnings.
    async fn warnings(app: App, block: Duration) -> Vec<String> {
        let logs = CapturedLogs::default();
        let _logging = tracing::subscriber::set_default(logs.subscriber());
        app.register_task_with(
            "sleeper",
            TaskOptions::new().display_name("sleepy worker"),
            move |shutdown: Shutdown| async move {
                std::thread::sleep(block);
                shutdown.cancelled().await;
            },
        )
        .unwrap();
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        tokio::task::yield_now().await;
        bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
        logs.lines()
            .into_iter()
            .filter(|l| l.starts_with("WARN") && l.contains("blocked"))
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_calling_std_thread_sleep_is_reported_by_name_with_the_time_it_blocked() {
        let warnings = warnings(App::empty(), 150 * MS).await;
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let warning = &warnings[0];
        assert!(
            warning.starts_with("WARN lifespan task `sleepy worker` blocked its thread for 15"),
            "{warning}"
        );
        assert!(warning.contains("`std::thread::sleep`"), "{warning}");
        let blocked_ms: u64 = warning
            .split(" blocked_ms=")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|ms| ms.parse().ok())
            .expect(warning);
        assert!(blocked_ms >= 150, "{warning}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_threshold_is_configurable_and_can_be_turned_off() {
        let app = App::builder()
            .empty()
            .blocking_threshold(Some(500 * MS))
            .build();
        assert!(warnings(app, 150 * MS).await.is_empty());
        let app = App::builder()
            .empty()
            .blocking_threshold(Some(20 * MS))
            .build();
        assert_eq!(warnings(app, 30 * MS).await.len(), 1);
        let app = App::builder().empty().blocking_threshold(None).build();
        assert!(warnings(app, 150 * MS).await.is_empty());
    }

    /// A task that blocks its thread when asked to stop cannot be dropped by an abort; shutdown
    /// waits a moment for the abort, then goes on without it, saying which task it is.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shutdown_does_not_wait_forever_for_a_task_blocking_its_thread() {
        let logs = CapturedLogs::default();
        let _logging = tracing::subscriber::set_global_default(logs.subscriber());
        let app = App::builder().empty().grace_period(10 * MS).build();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let released = Arc::new(Mutex::new(released));
        app.register_task("stuck", move |shutdown: Shutdown| {
            let released = released.clone();
            async move {
                shutdown.cancelled().await;
                // Blocks this worker until the test lets it go, after shutdown returned.
                let _ = released.lock().unwrap().recv();
            }
        })
        .unwrap();
        // On real time, which is not paused on a multi-thread runtime: a bound of a minute.
        bounded("startup", 60 * S, app.start()).await.unwrap();
        // Shutdown goes on without the blocked task.
        let report = bounded("shutdown", 60 * S, app.shutdown()).await;
        release.send(()).unwrap();
        assert_eq!(report.tasks[0].outcome, TaskOutcome::Aborted);
        assert!(
            logs.lines().iter().any(|l| l.starts_with(
                "ERROR lifespan task `stuck` was aborted but is blocking its thread in a poll"
            )),
            "{:#?}",
            logs.lines()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_that_does_not_block_is_not_reported() {
        assert!(warnings(App::empty(), Duration::ZERO).await.is_empty());
    }
}

mod status {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn status_follows_every_task_and_context_through_their_lives() {
        let app = App::builder().empty().grace_period(10 * S).build();
        assert!(app.status().tasks.is_empty());
        let (setup_began, finish_setup) = (
            Arc::new(tokio::sync::Notify::new()),
            Arc::new(tokio::sync::Notify::new()),
        );
        let (began, finish) = (setup_began.clone(), finish_setup.clone());
        app.register_context("cache", move |lifespan: lifespan_core::Yield| {
            let (began, finish) = (began.clone(), finish.clone());
            async move {
                began.notify_one();
                finish.notified().await;
                lifespan.ready().await;
                tokio::time::sleep(2 * S).await;
            }
        })
        .unwrap();
        app.register_task_with(
            "worker",
            TaskOptions::new().display_name("the worker"),
            |shutdown: Shutdown| async move {
                shutdown.cancelled().await;
                tokio::time::sleep(3 * S).await;
            },
        )
        .unwrap();
        app.register_task("quitter", || async {}).unwrap();

        let starting = tokio::spawn({
            let app = app.clone();
            async move { app.start().await }
        });
        bounded("the setup's beginning", WAIT_LIMIT, setup_began.notified()).await;
        let status = app.status();
        assert_eq!(status.context("cache").unwrap().state, RunState::Starting);
        assert_eq!(status.task("worker").unwrap().state, RunState::Starting);
        finish_setup.notify_one();
        bounded("startup", WAIT_LIMIT, starting)
            .await
            .unwrap()
            .unwrap();
        tokio::time::sleep(S).await;

        let status = app.status();
        let worker = status.task("worker").unwrap();
        assert_eq!(
            (worker.state, worker.display_name, worker.in_state),
            (RunState::Running, Some("the worker"), S)
        );
        assert_eq!(status.task("quitter").unwrap().state, RunState::Stopped);
        assert_eq!(status.context("cache").unwrap().state, RunState::Running);

        let stopping = tokio::spawn({
            let app = app.clone();
            async move { app.shutdown().await }
        });
        tokio::time::sleep(S).await;
        let status = app.status();
        let worker = status.task("worker").unwrap();
        assert_eq!((worker.state, worker.in_state), (RunState::Stopping, S));
        assert_eq!(status.context("cache").unwrap().state, RunState::Running);
        tokio::time::sleep(3 * S).await;
        let status = app.status();
        assert_eq!(status.task("worker").unwrap().state, RunState::Stopped);
        assert_eq!(status.context("cache").unwrap().state, RunState::Stopping);
        bounded("shutdown", WAIT_LIMIT, stopping).await.unwrap();
        let status = app.status();
        assert_eq!(status.context("cache").unwrap().state, RunState::Stopped);
        assert_eq!(status.context("cache").unwrap().in_state, Duration::ZERO);
        assert!(status.tasks.iter().all(|t| t.state == RunState::Stopped));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_setup_and_a_failed_cleanup_show_their_errors() {
        let app = App::empty();
        app.register_context("leaky", |lifespan: lifespan_core::Yield| async move {
            lifespan.ready().await;
            Err::<(), _>("could not flush")
        })
        .unwrap();
        app.register_context("broken", |_lifespan: lifespan_core::Yield| async move {
            Err::<(), _>("no disk")
        })
        .unwrap();
        assert!(bounded("startup", WAIT_LIMIT, app.start()).await.is_err());
        let status = app.status();
        let leaky = status.context("leaky").unwrap();
        assert_eq!(leaky.state, RunState::Failed);
        assert_eq!(leaky.last_error.as_deref(), Some("could not flush"));
        let broken = status.context("broken").unwrap();
        assert_eq!(broken.state, RunState::Failed);
        assert!(broken.last_error.as_deref().unwrap().contains("no disk"));
    }
}

/// The options written with `#[lifespan(...)]` reach the runtime.
mod from_the_attribute {
    use super::*;
    use lifespan_core::{lifespan, lifespan_task};
    use lifespan_test_support::Events;

    static EVENTS: Events = Events::new();
    static EVALUATIONS: AtomicU32 = AtomicU32::new(0);

    /// The keyword argument's expression, evaluated for every run: fails the third time.
    fn next_attempt() -> anyhow::Result<u32> {
        let attempt = EVALUATIONS.fetch_add(1, Ordering::SeqCst);
        anyhow::ensure!(attempt < 2, "no attempts left");
        Ok(attempt)
    }

    #[lifespan_task(attempt = next_attempt()?, events = &EVENTS)]
    #[lifespan(restart = on_failure, backoff = "1s", jitter = false, max_restarts = 3, name = "fetcher")]
    async fn fetch(attempt: u32, events: &'static Events) -> anyhow::Result<()> {
        events.push(format!("fetch {attempt}"));
        anyhow::bail!("fetch {attempt} failed")
    }

    #[lifespan(every = "10s", at_startup)]
    #[lifespan_task(events = &EVENTS)]
    async fn report(events: &'static Events) {
        events.push("report");
    }

    #[tokio::test(start_paused = true)]
    async fn restarts_schedules_and_display_names_come_from_the_attribute() {
        let app = App::from_module(module_path!());
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        tokio::time::sleep(25 * S).await;
        assert_eq!(
            EVENTS.take(),
            ["fetch 0", "report", "fetch 1", "report", "report"]
        );
        let status = app.status();
        let fetch = status.task("fetch").unwrap();
        assert_eq!(fetch.display_name, Some("fetcher"));
        // Restarted three times, the last two with arguments that failed, each a failed run;
        // the fourth failure was one too many.
        assert_eq!(fetch.restarts, 3, "{fetch:?}");
        assert_eq!(fetch.state, RunState::Failed);
        assert_eq!(
            fetch.last_error.as_deref(),
            Some("evaluating argument `attempt` failed: no attempts left")
        );
        assert_eq!(status.task("report").unwrap().state, RunState::Running);
        bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
    }
}
