//! Hostile settings and misbehaving code around task bodies: the maximum of every duration, panics
//! outside task bodies, a dropped running app, a startup that never ends, a poll that never
//! returns. Each must end in a clear outcome and leave an app that can start again.
//!
//! Every wait is bounded: in virtual time where the runtime's timers matter, in real time where a
//! thread is blocked, so that a bug fails here with a message instead of hanging the suite.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use lifespan_core::{
    lifespan_context, lifespan_task, App, ContextOutcome, RegisterError, Restart, RunError,
    RunState, Schedule, Shutdown, StartupErrorKind, TaskOptions, TaskOutcome, Yield,
};
use lifespan_test_support::{bounded, CapturedLogs, Events, WAIT_LIMIT};

/// A task that runs until shutdown.
fn waiter(app: &App, name: &'static str, options: TaskOptions) {
    app.register_task_with(name, options, |shutdown: Shutdown| async move {
        shutdown.cancelled().await;
    })
    .unwrap();
}

mod maximum_durations {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_grace_period_of_duration_max_waits_for_the_tasks_and_the_app_starts_again() {
        let app = App::builder().empty().grace_period(Duration::MAX).build();
        waiter(&app, "worker", TaskOptions::new());
        for _ in 0..2 {
            app.start().await.unwrap();
            let report = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
            assert_eq!(report.task("worker"), Some(&TaskOutcome::Cancelled));
            assert!(!app.is_running());
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_cleanup_timeout_and_blocking_threshold_of_duration_max_are_accepted() {
        let app = App::builder()
            .empty()
            .cleanup_timeout(Duration::MAX)
            .blocking_threshold(Some(Duration::MAX))
            .build();
        app.register_context("pool", |lifespan: Yield| async move {
            lifespan.ready().await;
            tokio::time::sleep(Duration::from_secs(60)).await;
        })
        .unwrap();
        waiter(&app, "worker", TaskOptions::new());
        app.start().await.unwrap();
        let report = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
        assert_eq!(report.context("pool"), Some(&ContextOutcome::CleanedUp));
    }

    #[tokio::test(start_paused = true)]
    async fn a_period_of_duration_max_runs_at_startup_once_and_then_waits_for_shutdown() {
        for schedule in [Schedule::FixedRate, Schedule::FixedDelay] {
            let app = App::empty();
            let runs = std::sync::Arc::new(AtomicU32::new(0));
            let counted = runs.clone();
            let options = TaskOptions::new()
                .every(Duration::MAX)
                .schedule(schedule)
                .at_startup(true);
            app.register_task_with("sweep", options, move || {
                counted.fetch_add(1, Ordering::SeqCst);
                async {}
            })
            .unwrap();
            app.start().await.unwrap();
            tokio::time::sleep(Duration::from_secs(10)).await;
            assert_eq!(
                app.status().task("sweep").unwrap().state,
                RunState::Running,
                "{schedule:?}: the supervisor is alive, waiting for the next run"
            );
            let report = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
            assert_eq!(report.task("sweep"), Some(&TaskOutcome::Cancelled));
            assert_eq!(runs.load(Ordering::SeqCst), 1);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_backoff_and_window_of_duration_max_wait_until_shutdown() {
        let app = App::empty();
        let options = TaskOptions::new()
            .restart(Restart::OnFailure)
            .backoff(Duration::MAX, Duration::MAX)
            .max_restarts(3)
            .within(Duration::MAX);
        app.register_task_with("flaky", options, || async { Err::<(), _>("down") })
            .unwrap();
        app.start().await.unwrap();
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(
            app.status().task("flaky").unwrap().state,
            RunState::BackingOff
        );
        let report = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
        assert_eq!(report.task("flaky"), Some(&TaskOutcome::Cancelled));
    }

    #[cfg(feature = "axum")]
    #[tokio::test]
    async fn a_drain_timeout_of_duration_max_waits_for_the_server_to_drain() {
        let app = App::builder().empty().drain_timeout(Duration::MAX).build();
        waiter(&app, "worker", TaskOptions::new());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let router = axum::Router::new();
        let report = bounded(
            "serving",
            Duration::from_secs(30),
            app.serve_until(listener, router, std::future::ready(())),
        )
        .await
        .unwrap();
        assert_eq!(report.task("worker"), Some(&TaskOutcome::Cancelled));
    }

    mod from_the_attribute {
        use super::*;

        /// The longest period the attribute accepts: about 584 years.
        #[lifespan_task]
        #[lifespan(every = "5124095h", at_startup)]
        async fn rarely() {}

        #[tokio::test(start_paused = true)]
        async fn the_longest_period_of_the_attribute_works() {
            let app = App::from_module(module_path!());
            app.start().await.unwrap();
            tokio::time::sleep(Duration::from_secs(10)).await;
            assert_eq!(
                app.status().task("rarely").unwrap().state,
                RunState::Running
            );
            let report = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
            assert_eq!(report.task("rarely"), Some(&TaskOutcome::Cancelled));
        }
    }
}

mod panics_outside_task_bodies {
    use super::*;

    static CALLS: AtomicU32 = AtomicU32::new(0);

    /// Panics on its first call only.
    fn port_once_broken() -> u16 {
        if CALLS.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("the port table is corrupt");
        }
        8080
    }

    #[lifespan_task(port = port_once_broken())]
    async fn listener(port: u16, shutdown: Shutdown) {
        let _ = port;
        shutdown.cancelled().await;
    }

    #[tokio::test]
    async fn a_panicking_argument_fails_startup_naming_it_and_the_app_can_start_again() {
        let app = App::from_module(module_path!());
        let error = app.start().await.unwrap_err();
        assert!(
            matches!(
                error.kind(),
                StartupErrorKind::ArgumentPanicked {
                    argument: "port",
                    ..
                }
            ),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "argument `port` of lifespan task `suite::hardening::panics_outside_task_bodies::listener` panicked when evaluated: the port table is corrupt"
        );
        assert!(!app.is_running());
        app.start().await.unwrap();
        let report = app.shutdown().await;
        assert_eq!(report.task("listener"), Some(&TaskOutcome::Cancelled));
    }

    #[tokio::test]
    async fn a_task_function_that_panics_when_called_fails_startup_and_rolls_back() {
        let app = App::empty();
        let events: &'static Events = Box::leak(Box::default());
        app.register_context("pool", move |lifespan: Yield| async move {
            events.push("setup");
            lifespan.ready().await;
            events.push("cleanup");
        })
        .unwrap();
        #[allow(unreachable_code)]
        app.register_task("eager", || {
            panic!("called too early");
            async {}
        })
        .unwrap();
        let error = app.start().await.unwrap_err();
        assert!(
            matches!(error.kind(), StartupErrorKind::CallPanicked { .. }),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "calling lifespan task `eager` panicked: called too early"
        );
        // Arguments are evaluated before any setup: nothing to roll back.
        assert!(events.snapshot().is_empty());
        assert!(!app.is_running());
    }

    #[tokio::test(start_paused = true)]
    async fn a_closure_that_ends_in_a_panic_compiles_and_is_a_panicked_task() {
        let app = App::empty();
        app.register_task("doomed", || async { panic!("boom") })
            .unwrap();
        app.start().await.unwrap();
        let report = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
        assert_eq!(
            report.task("doomed"),
            Some(&TaskOutcome::Panicked("boom".into()))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_context_closure_that_ends_in_a_panic_compiles_and_fails_startup() {
        let app = App::empty();
        app.register_context("doomed", |_lifespan: Yield| async move { panic!("boom") })
            .unwrap();
        let error = app.start().await.unwrap_err();
        assert!(
            matches!(error.kind(), StartupErrorKind::SetupPanicked { .. }),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn a_panicking_filter_is_an_error_not_a_bricked_app() {
        let app = App::with_filter(|_| panic!("filter bug"));
        let error = app.start().await.unwrap_err();
        assert!(
            matches!(error.kind(), StartupErrorKind::SelectionPanicked { .. }),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "the app's selection of lifespan tasks and contexts panicked: filter bug"
        );
        assert!(!app.is_running());
        app.register_task("late", || async {}).unwrap();
        // Registering under a linked name asks the filter whether the app runs that one.
        let registered = app.register_task("suite::hardening::dropped_app::worker", || async {});
        assert!(
            matches!(registered, Err(RegisterError::SelectionPanicked { .. })),
            "{registered:?}"
        );
        // Still not running: a second start says the same, not "already running".
        let again = app.start().await.unwrap_err();
        assert!(
            matches!(again.kind(), StartupErrorKind::SelectionPanicked { .. }),
            "{again:?}"
        );
    }
}

mod panics_on_restart {
    use super::*;

    static EVALUATIONS: AtomicU32 = AtomicU32::new(0);

    /// Fine at startup; panics when evaluated for a restart.
    fn attempt() -> u32 {
        let n = EVALUATIONS.fetch_add(1, Ordering::SeqCst);
        assert!(n == 0, "no attempts left");
        n
    }

    #[lifespan_task(attempt = attempt())]
    #[lifespan(restart = on_failure, backoff = "1s", jitter = false, max_restarts = 2, critical)]
    async fn consume(attempt: u32) -> anyhow::Result<()> {
        anyhow::bail!("attempt {attempt} lost the broker")
    }

    #[tokio::test(start_paused = true)]
    async fn a_panicking_argument_on_restart_is_a_panicked_run_under_the_restart_policy_and_critical(
    ) {
        let app = App::from_module(module_path!());
        let result = bounded(
            "the run",
            WAIT_LIMIT,
            app.run_until(std::future::pending::<()>()),
        )
        .await;
        let Err(RunError::CriticalTaskFailed {
            task,
            error,
            report,
        }) = result
        else {
            panic!("expected a critical failure, got {result:?}");
        };
        assert!(task.ends_with("::consume"), "{task}");
        let message = "evaluating argument `attempt` panicked: no attempts left";
        assert_eq!(error.to_string(), format!("panicked: {message}"));
        let line = report.tasks.iter().find(|t| t.name == task).unwrap();
        assert_eq!(line.outcome, TaskOutcome::Panicked(message.into()));
        // The startup run, then two restarts whose arguments panicked; the third was refused.
        assert_eq!(line.restarts, 2);
        assert_eq!(EVALUATIONS.load(Ordering::SeqCst), 3);
        assert_eq!(
            app.status().task("consume").unwrap().state,
            RunState::Failed
        );
    }
}

mod dropped_app {
    use super::*;

    static EVENTS: Events = Events::new();

    #[lifespan_context(events = &EVENTS)]
    async fn pool(events: &'static Events, lifespan: Yield) {
        lifespan.ready().await;
        events.push("pool cleaned up");
    }

    #[lifespan_task(events = &EVENTS)]
    async fn worker(events: &'static Events, shutdown: Shutdown) {
        shutdown.cancelled().await;
        // Stops slowly: a cleanup that ran now would run while this task still uses the pool.
        tokio::time::sleep(Duration::from_secs(1)).await;
        events.push("worker stopped");
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_a_running_app_shuts_it_down_in_order_in_the_background() {
        let app = App::from_module(module_path!());
        app.start().await.unwrap();
        drop(app);
        bounded(
            "the background shutdown",
            WAIT_LIMIT,
            EVENTS.wait_for("pool cleaned up"),
        )
        .await;
        assert_eq!(EVENTS.take(), ["worker stopped", "pool cleaned up"]);
    }
}

mod app_outliving_its_runtime {
    use super::*;

    #[test]
    fn a_running_app_dropped_after_its_runtime_is_dropped_quietly() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let app = App::empty();
        app.register_context(
            "pool",
            |lifespan: Yield| async move { lifespan.ready().await },
        )
        .unwrap();
        waiter(&app, "worker", TaskOptions::new());
        runtime.block_on(app.start()).unwrap();
        // The runtime drops the tasks and contexts; the app, dropped later, has nothing to
        // shut down and no runtime to do it on.
        drop(runtime);
        drop(app);
    }
}

mod startup_timeout {
    use super::*;

    static EVENTS: Events = Events::new();

    #[lifespan_context(events = &EVENTS)]
    async fn first(events: &'static Events, lifespan: Yield) {
        lifespan.ready().await;
        events.push("first cleaned up");
    }

    #[lifespan_context(events = &EVENTS)]
    async fn stuck(events: &'static Events, lifespan: Yield) {
        events.push("stuck setting up");
        std::future::pending::<()>().await;
        lifespan.ready().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_setup_that_never_yields_fails_startup_at_the_timeout_naming_it_and_rolls_back() {
        let app = App::builder()
            .module(module_path!())
            .startup_timeout(Duration::from_secs(30))
            .build();
        let began = tokio::time::Instant::now();
        let error = bounded("startup", WAIT_LIMIT, app.start())
            .await
            .unwrap_err();
        assert_eq!(began.elapsed(), Duration::from_secs(30));
        assert!(
            matches!(error.kind(), StartupErrorKind::SetupTimedOut { .. }),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "setup of lifespan context `suite::hardening::startup_timeout::stuck` did not finish within the startup timeout of 30s"
        );
        assert_eq!(
            error.rollback().context("first"),
            Some(&ContextOutcome::CleanedUp)
        );
        assert_eq!(EVENTS.take(), ["stuck setting up", "first cleaned up"]);
        assert!(!app.is_running());
    }
}

mod interrupted_setup {
    use super::*;
    use std::sync::mpsc;

    #[tokio::test]
    async fn a_shutdown_requested_while_a_setup_blocks_its_thread_is_not_lost() {
        let app = App::empty();
        let (blocking_tx, blocking_rx) = mpsc::channel::<()>();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = std::sync::Mutex::new(release_rx);
        app.register_context("slow", move |lifespan: Yield| {
            blocking_tx.send(()).unwrap();
            // Blocks the runtime's only thread until the other thread has asked for shutdown.
            release_rx
                .lock()
                .unwrap()
                .recv_timeout(Duration::from_secs(10))
                .expect("released");
            async move { lifespan.ready().await }
        })
        .unwrap();
        app.register_context("next", |lifespan: Yield| async move {
            tokio::task::yield_now().await;
            lifespan.ready().await;
        })
        .unwrap();
        waiter(&app, "worker", TaskOptions::new());
        let requester = app.clone();
        let other = std::thread::spawn(move || {
            blocking_rx
                .recv_timeout(Duration::from_secs(10))
                .expect("setup began");
            requester.request_shutdown();
            release_tx.send(()).unwrap();
        });
        let report = bounded(
            "the run",
            Duration::from_secs(20),
            app.run_until(std::future::pending::<()>()),
        )
        .await
        .unwrap();
        other.join().unwrap();
        assert!(!app.is_running());
        assert!(
            report.task("worker").is_none()
                || report.task("worker") == Some(&TaskOutcome::Cancelled),
            "{report:?}"
        );
    }

    #[tokio::test]
    async fn an_interrupted_startup_is_logged_once_and_not_as_an_error() {
        let logs = CapturedLogs::default();
        let _logging = tracing::subscriber::set_default(logs.subscriber());
        let app = App::empty();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<()>();
        let ready_tx = std::sync::Mutex::new(Some(ready_tx));
        app.register_context("slow", move |lifespan: Yield| {
            let ready_tx = ready_tx.lock().unwrap().take();
            async move {
                if let Some(tx) = ready_tx {
                    let _ = tx.send(());
                }
                std::future::pending::<()>().await;
                lifespan.ready().await;
            }
        })
        .unwrap();
        let report = bounded("the run", Duration::from_secs(20), app.run_until(ready_rx))
            .await
            .unwrap();
        assert!(report.contexts.is_empty());
        let lines = logs.lines();
        let interrupted: Vec<_> = lines.iter().filter(|l| l.contains("interrupted")).collect();
        assert_eq!(interrupted.len(), 1, "{lines:#?}");
        assert!(interrupted[0].starts_with("INFO "), "{lines:#?}");
        assert!(!lines.iter().any(|l| l.starts_with("ERROR ")), "{lines:#?}");
    }
}

mod stop_during_startup {
    use super::*;

    #[tokio::test]
    async fn a_stop_future_that_completes_during_startup_is_not_polled_again() {
        let app = App::empty();
        waiter(&app, "worker", TaskOptions::new());
        // Ready at once: it completes during startup or right after, at random; polled again,
        // `Ready` panics. Twenty runs miss the race with a chance of one in a million.
        for _ in 0..20 {
            let report = bounded("the run", WAIT_LIMIT, app.run_until(std::future::ready(())))
                .await
                .unwrap();
            assert_eq!(report.task("worker"), Some(&TaskOutcome::Cancelled));
        }
    }
}

mod error_chains {
    use super::*;
    use anyhow::Context as _;

    #[tokio::test]
    async fn a_failed_setup_keeps_its_cause_chain_in_the_error_and_the_status() {
        let app = App::empty();
        app.register_context("db", |lifespan: Yield| async move {
            Err(std::io::Error::other("connection refused"))
                .context("connecting to the database")?;
            lifespan.ready().await;
            Ok::<(), anyhow::Error>(())
        })
        .unwrap();
        let error = app.start().await.unwrap_err();
        assert_eq!(error.to_string(), "setup of lifespan context `db` failed");
        // The chain carries the cause, once.
        assert_eq!(
            format!("{:#}", anyhow::Error::from(error)),
            "setup of lifespan context `db` failed: connecting to the database: connection refused"
        );
        assert_eq!(
            app.status().context("db").unwrap().last_error.as_deref(),
            Some(
                "setup of lifespan context `db` failed: connecting to the database: connection refused"
            )
        );
    }
}

mod blocked_poll {
    use super::*;
    use std::sync::mpsc;

    /// Waits, polling in real time up to `limit`, until a captured log line contains `needle`.
    fn wait_for_line(logs: &CapturedLogs, needle: &str, limit: Duration) -> Option<String> {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Some(line) = logs.lines().into_iter().find(|l| l.contains(needle)) {
                return Some(line);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    #[tokio::test]
    async fn a_poll_that_has_not_returned_is_reported_by_task_name_while_it_blocks() {
        let logs = CapturedLogs::default();
        let _logging = tracing::subscriber::set_default(logs.subscriber());
        let app = App::builder()
            .empty()
            .blocking_threshold(Some(Duration::from_millis(50)))
            .build();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = std::sync::Mutex::new(Some(release_rx));
        app.register_task("stuck", move || {
            let release = release_rx.lock().unwrap().take();
            async move {
                if let Some(release) = release {
                    // Blocks this runtime's only thread: nothing on the runtime can notice.
                    let _ = release.recv_timeout(Duration::from_secs(20));
                }
            }
        })
        .unwrap();
        let watcher_logs = logs.clone();
        let watcher = std::thread::spawn(move || {
            let line = wait_for_line(&watcher_logs, "has not returned", Duration::from_secs(10));
            let _ = release_tx.send(());
            line
        });
        app.start().await.unwrap();
        // The task's first poll happens here, and blocks until the watcher has seen the report.
        tokio::task::yield_now().await;
        let report = bounded("shutdown", Duration::from_secs(30), app.shutdown()).await;
        let line = watcher.join().unwrap();
        let line = line.expect("no report of the poll while it blocked");
        assert!(
            line.starts_with("WARN lifespan task `stuck` has been blocking its thread for "),
            "{line}"
        );
        assert_eq!(report.task("stuck"), Some(&TaskOutcome::Completed));
    }
}
