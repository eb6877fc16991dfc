//! The lifecycle the README describes (startup, running, shutdown, reload), driven through the
//! real macros and `App`.
//!
//! Each test lives in a module of its own with its own registrations and event log, and builds
//! its app with `App::from_module(module_path!())`, so that it runs only its own tasks.
//! Time is virtual; waiting is explicit, never a sleep, and bounded: a wait that does not end
//! fails the test, naming what did not finish.

use std::time::Duration;

use lifespan_core::{
    lifespan_context, lifespan_task, App, ContextOutcome, Shutdown, StartupErrorKind, TaskOutcome,
    Yield,
};
use lifespan_test_support::{bounded, Events, WAIT_LIMIT};
use tokio::time::Instant;

/// Records `event` when dropped: shows when a task's future is dropped.
struct OnDrop(&'static Events, &'static str);

impl Drop for OnDrop {
    fn drop(&mut self) {
        self.0.push(self.1);
    }
}

mod keyword_arguments {
    use super::*;

    static EVENTS: Events = Events::new();
    const FACTOR: u32 = 2;

    #[lifespan_task(events = &EVENTS, answer = 21 * FACTOR, label = String::from("text"))]
    async fn record(events: &'static Events, answer: u32, label: String) {
        events.push(format!("answer={answer} label={label}"));
    }

    #[tokio::test(start_paused = true)]
    async fn keyword_arguments_reach_the_function_by_name() {
        let app = App::from_module(module_path!());
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        EVENTS
            .wait_for_within("answer=42 label=text", WAIT_LIMIT)
            .await;
        let report = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
        assert_eq!(report.task("record"), Some(&TaskOutcome::Completed));
    }
}

mod injection {
    use super::*;

    static EVENTS: Events = Events::new();

    #[lifespan_task(events = &EVENTS)]
    async fn observer(app: App, events: &'static Events, shutdown: Shutdown) {
        events.push(format!("running={}", app.is_running()));
        shutdown.cancelled().await;
        events.push("saw shutdown");
    }

    #[tokio::test(start_paused = true)]
    async fn app_and_shutdown_are_injected_by_type() {
        let app = App::from_module(module_path!());
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        EVENTS.wait_for_within("running=true", WAIT_LIMIT).await;
        assert_eq!(
            EVENTS.snapshot(),
            ["running=true"],
            "the task waits for the signal"
        );
        let report = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
        assert_eq!(EVENTS.take(), ["running=true", "saw shutdown"]);
        assert_eq!(report.task("observer"), Some(&TaskOutcome::Cancelled));
    }
}

mod ordering {
    use super::*;

    static EVENTS: Events = Events::new();

    // Source order, deliberately not alphabetical: the order must not come from names or from
    // link-time iteration.
    #[lifespan_context(events = &EVENTS)]
    async fn zeta(events: &'static Events, lifespan: Yield) {
        events.push("setup zeta");
        lifespan.ready().await;
        events.push("cleanup zeta");
    }

    #[lifespan_context(events = &EVENTS)]
    async fn alpha(events: &'static Events, lifespan: Yield) {
        events.push("setup alpha");
        lifespan.ready().await;
        events.push("cleanup alpha");
    }

    #[lifespan_context(events = &EVENTS)]
    async fn mid(events: &'static Events, lifespan: Yield) -> anyhow::Result<()> {
        events.push("setup mid");
        lifespan.ready().await;
        events.push("cleanup mid");
        Ok(())
    }

    #[lifespan_task(events = &EVENTS)]
    async fn worker(events: &'static Events, shutdown: Shutdown) {
        events.push("task started");
        shutdown.cancelled().await;
        // Stopping takes a while: cleanup must still wait for it.
        tokio::time::sleep(Duration::from_millis(300)).await;
        events.push("task stopped");
    }

    #[tokio::test(start_paused = true)]
    async fn contexts_set_up_in_source_order_before_tasks_and_cleaned_up_in_reverse_after_them() {
        let app = App::from_module(module_path!());
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        assert_eq!(
            EVENTS.snapshot(),
            ["setup zeta", "setup alpha", "setup mid"]
        );
        EVENTS.wait_for_within("task started", WAIT_LIMIT).await;
        let report = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
        assert_eq!(
            EVENTS.take(),
            [
                "setup zeta",
                "setup alpha",
                "setup mid",
                "task started",
                "task stopped",
                "cleanup mid",
                "cleanup alpha",
                "cleanup zeta"
            ]
        );
        let cleaned: Vec<_> = report
            .contexts
            .iter()
            .map(|c| c.name.rsplit("::").next().unwrap())
            .collect();
        assert_eq!(cleaned, ["mid", "alpha", "zeta"]);
        assert!(report.is_clean(), "{report}");
    }
}

mod grace_then_abort {
    use super::*;

    static EVENTS: Events = Events::new();

    #[lifespan_task(events = &EVENTS)]
    async fn stubborn(events: &'static Events, _shutdown: Shutdown) {
        let _dropped = OnDrop(events, "stubborn dropped");
        events.push("stubborn running");
        std::future::pending::<()>().await;
    }

    #[lifespan_task(events = &EVENTS)]
    async fn polite(events: &'static Events, shutdown: Shutdown) {
        shutdown.cancelled().await;
        events.push("polite stopped");
    }

    #[lifespan_context(events = &EVENTS)]
    async fn resource(events: &'static Events, lifespan: Yield) {
        lifespan.ready().await;
        events.push("cleanup");
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_that_ignores_the_signal_is_aborted_after_the_grace_period_before_cleanup() {
        let grace = Duration::from_secs(2);
        let app = App::builder()
            .module(module_path!())
            .grace_period(grace)
            .build();
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        EVENTS.wait_for_within("stubborn running", WAIT_LIMIT).await;
        let began = Instant::now();
        let report = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
        let took = began.elapsed();
        assert!(
            took >= grace && took < grace + Duration::from_millis(50),
            "took {took:?}"
        );
        assert_eq!(report.task("stubborn"), Some(&TaskOutcome::Aborted));
        assert_eq!(report.task("polite"), Some(&TaskOutcome::Cancelled));
        assert_eq!(report.context("resource"), Some(&ContextOutcome::CleanedUp));
        assert_eq!(
            EVENTS.take(),
            [
                "stubborn running",
                "polite stopped",
                "stubborn dropped",
                "cleanup"
            ]
        );
    }
}

mod second_request {
    use super::*;

    static EVENTS: Events = Events::new();

    #[lifespan_task(events = &EVENTS)]
    async fn stubborn(events: &'static Events, shutdown: Shutdown) {
        events.push("running");
        shutdown.cancelled().await;
        events.push("ignoring the signal");
        std::future::pending::<()>().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_second_shutdown_request_skips_the_grace_period() {
        let app = App::builder()
            .module(module_path!())
            .grace_period(Duration::from_secs(3600))
            .build();
        let began = Instant::now();
        let running = {
            let app = app.clone();
            tokio::spawn(async move {
                // First request: the run loop begins the shutdown.
                EVENTS.wait_for_within("running", WAIT_LIMIT).await;
                app.request_shutdown();
                // Second request, while the grace period runs.
                EVENTS
                    .wait_for_within("ignoring the signal", WAIT_LIMIT)
                    .await;
                app.request_shutdown();
            })
        };
        let report = bounded(
            "the run that the two requests end",
            WAIT_LIMIT,
            app.run_until(std::future::pending::<()>()),
        )
        .await
        .unwrap();
        bounded("the requests", WAIT_LIMIT, running).await.unwrap();
        assert!(
            began.elapsed() < Duration::from_secs(1),
            "took {:?}",
            began.elapsed()
        );
        assert_eq!(report.task("stubborn"), Some(&TaskOutcome::Aborted));
    }
}

mod setup_failure {
    use super::*;

    static EVENTS: Events = Events::new();

    #[lifespan_context(events = &EVENTS)]
    async fn first(events: &'static Events, lifespan: Yield) {
        events.push("setup first");
        lifespan.ready().await;
        events.push("cleanup first");
    }

    #[lifespan_context(events = &EVENTS)]
    async fn second(events: &'static Events, lifespan: Yield) -> anyhow::Result<()> {
        events.push("setup second");
        lifespan.ready().await;
        events.push("cleanup second");
        Ok(())
    }

    #[lifespan_context(events = &EVENTS)]
    async fn broken(events: &'static Events, lifespan: Yield) -> anyhow::Result<()> {
        events.push("setup broken");
        anyhow::ensure!(
            std::path::Path::new("no-such-model.bin").exists(),
            "the model file is missing"
        );
        lifespan.ready().await;
        Ok(())
    }

    #[lifespan_context(events = &EVENTS)]
    async fn never(events: &'static Events, lifespan: Yield) {
        events.push("setup never");
        lifespan.ready().await;
    }

    #[lifespan_task(events = &EVENTS)]
    async fn task(events: &'static Events) {
        events.push("task ran");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_setup_cleans_up_what_was_set_up_in_reverse_and_names_the_context() {
        let app = App::from_module(module_path!());
        let error = bounded("startup", WAIT_LIMIT, app.start())
            .await
            .unwrap_err();
        assert!(
            matches!(error.kind(), StartupErrorKind::SetupFailed { name, .. } if name.ends_with("setup_failure::broken")),
            "{error:?}"
        );
        assert_eq!(
            lifespan_test_support::chain(&error),
            "setup of lifespan context `suite::lifecycle::setup_failure::broken` failed: the model file is missing"
        );
        assert_eq!(
            EVENTS.take(),
            [
                "setup first",
                "setup second",
                "setup broken",
                "cleanup second",
                "cleanup first"
            ]
        );
        let rolled_back: Vec<_> = error
            .rollback()
            .contexts
            .iter()
            .map(|c| (&*c.name, &c.outcome))
            .collect();
        assert_eq!(
            rolled_back,
            [
                (
                    "suite::lifecycle::setup_failure::second",
                    &ContextOutcome::CleanedUp
                ),
                (
                    "suite::lifecycle::setup_failure::first",
                    &ContextOutcome::CleanedUp
                )
            ]
        );
        assert!(!app.is_running());
    }
}

mod setup_panic {
    use super::*;

    static EVENTS: Events = Events::new();

    #[lifespan_context(events = &EVENTS)]
    async fn first(events: &'static Events, lifespan: Yield) {
        lifespan.ready().await;
        events.push("cleanup first");
    }

    #[lifespan_context]
    async fn exploding(_lifespan: Yield) {
        panic!("could not parse the config");
    }

    #[tokio::test(start_paused = true)]
    async fn a_panicking_setup_fails_startup_and_rolls_back() {
        let app = App::from_module(module_path!());
        let error = bounded("startup", WAIT_LIMIT, app.start())
            .await
            .unwrap_err();
        assert!(
            matches!(error.kind(), StartupErrorKind::SetupPanicked { name, message }
                if name.ends_with("::exploding") && message == "could not parse the config"),
            "{error:?}"
        );
        assert_eq!(EVENTS.take(), ["cleanup first"]);
    }
}

mod no_yield {
    use super::*;

    static EVENTS: Events = Events::new();

    #[lifespan_context(events = &EVENTS)]
    async fn first(events: &'static Events, lifespan: Yield) {
        lifespan.ready().await;
        events.push("cleanup first");
    }

    #[lifespan_context(early = true)]
    async fn forgetful(early: bool, lifespan: Yield) {
        if early {
            return;
        }
        lifespan.ready().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_context_that_returns_without_yielding_fails_startup_and_rolls_back() {
        let app = App::from_module(module_path!());
        let error = bounded("startup", WAIT_LIMIT, app.start())
            .await
            .unwrap_err();
        assert!(
            matches!(error.kind(), StartupErrorKind::NoYield { name } if name.ends_with("::forgetful")),
            "{error:?}"
        );
        assert_eq!(EVENTS.take(), ["cleanup first"]);
    }
}

mod panic_isolation {
    use super::*;

    static EVENTS: Events = Events::new();

    #[lifespan_task(events = &EVENTS)]
    async fn exploding(events: &'static Events) {
        let _dropped = OnDrop(events, "exploding unwound");
        panic!("index out of bounds");
    }

    #[lifespan_task(events = &EVENTS)]
    async fn failing(events: &'static Events) -> anyhow::Result<()> {
        let _dropped = OnDrop(events, "failing returned");
        Err(anyhow::anyhow!("connection refused").context("could not poll the API"))
    }

    #[lifespan_task(events = &EVENTS)]
    async fn survivor(events: &'static Events, shutdown: Shutdown) {
        events.push("survivor running");
        shutdown.cancelled().await;
        events.push("survivor stopped");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_or_panicking_task_is_recorded_and_logged_and_the_others_keep_running() {
        let logs = lifespan_test_support::CapturedLogs::default();
        let _logging = tracing::subscriber::set_default(logs.subscriber());
        let app = App::from_module(module_path!());
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        EVENTS
            .wait_for_within("exploding unwound", WAIT_LIMIT)
            .await;
        EVENTS.wait_for_within("failing returned", WAIT_LIMIT).await;
        EVENTS.wait_for_within("survivor running", WAIT_LIMIT).await;
        assert!(app.is_running());
        let report = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
        assert_eq!(
            EVENTS.snapshot().last().map(String::as_str),
            Some("survivor stopped")
        );
        assert_eq!(
            report.task("exploding"),
            Some(&TaskOutcome::Panicked("index out of bounds".into()))
        );
        assert_eq!(
            report.task("failing"),
            Some(&TaskOutcome::Failed(
                "could not poll the API: connection refused".into()
            ))
        );
        assert_eq!(report.task("survivor"), Some(&TaskOutcome::Cancelled));
        assert!(!report.is_clean());
        let lines = logs.lines();
        assert!(
            lines.iter().any(|l| l.starts_with(
                "ERROR lifespan task `suite::lifecycle::panic_isolation::exploding` panicked"
            )),
            "{lines:#?}"
        );
        assert!(
            lines.iter().any(|l| l.starts_with(
                "ERROR lifespan task `suite::lifecycle::panic_isolation::failing` failed"
            ) && l.contains("connection refused")),
            "{lines:#?}"
        );
    }
}

mod error_types {
    use super::*;

    #[lifespan_task]
    async fn boxed() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        Err("the queue is gone".into())
    }

    #[lifespan_task]
    async fn string() -> Result<(), String> {
        Err(String::from("bad configuration"))
    }

    #[lifespan_task]
    async fn io() -> std::io::Result<()> {
        Err(std::io::Error::other("disk full"))
    }

    #[tokio::test(start_paused = true)]
    async fn boxed_string_and_std_errors_are_recorded_with_their_messages() {
        let app = App::from_module(module_path!());
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        let report = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
        assert_eq!(
            report.task("boxed"),
            Some(&TaskOutcome::Failed("the queue is gone".into()))
        );
        assert_eq!(
            report.task("string"),
            Some(&TaskOutcome::Failed("bad configuration".into()))
        );
        assert_eq!(
            report.task("io"),
            Some(&TaskOutcome::Failed("disk full".into()))
        );
    }
}

mod cleanup_failures {
    use super::*;

    static EVENTS: Events = Events::new();

    #[lifespan_context(events = &EVENTS)]
    async fn base(events: &'static Events, lifespan: Yield) {
        lifespan.ready().await;
        events.push("cleanup base");
    }

    #[lifespan_context(events = &EVENTS)]
    async fn failing(events: &'static Events, lifespan: Yield) -> Result<(), std::io::Error> {
        lifespan.ready().await;
        events.push("cleanup failing");
        Err(std::io::Error::other("flush failed"))
    }

    #[lifespan_context]
    async fn panicking(lifespan: Yield) {
        lifespan.ready().await;
        panic!("double free");
    }

    #[lifespan_context(events = &EVENTS)]
    async fn hanging(events: &'static Events, lifespan: Yield) {
        lifespan.ready().await;
        events.push("cleanup hanging");
        std::future::pending::<()>().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_panicked_or_hung_cleanup_does_not_stop_the_other_cleanups() {
        let timeout = Duration::from_secs(7);
        let app = App::builder()
            .module(module_path!())
            .cleanup_timeout(timeout)
            .build();
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        let began = Instant::now();
        let report = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
        let took = began.elapsed();
        assert!(
            took >= timeout && took < timeout + Duration::from_millis(50),
            "took {took:?}"
        );
        assert_eq!(
            EVENTS.take(),
            ["cleanup hanging", "cleanup failing", "cleanup base"]
        );
        let outcomes: Vec<_> = report.contexts.iter().map(|c| c.outcome.clone()).collect();
        assert_eq!(
            outcomes,
            [
                ContextOutcome::TimedOut,
                ContextOutcome::CleanupPanicked("double free".into()),
                ContextOutcome::CleanupFailed("flush failed".into()),
                ContextOutcome::CleanedUp,
            ]
        );
    }
}

mod reload {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    static EVENTS: Events = Events::new();
    static STARTS: AtomicU32 = AtomicU32::new(0);

    #[lifespan_context(events = &EVENTS)]
    async fn resource(events: &'static Events, lifespan: Yield) {
        events.push("setup");
        lifespan.ready().await;
        events.push("cleanup");
    }

    #[lifespan_task(events = &EVENTS, start = STARTS.fetch_add(1, Ordering::SeqCst) + 1)]
    async fn worker(events: &'static Events, start: u32, shutdown: Shutdown) {
        events.push(format!("task start {start}"));
        shutdown.cancelled().await;
        events.push(format!("task stop {start}"));
    }

    #[tokio::test(start_paused = true)]
    async fn reload_runs_the_whole_shutdown_then_the_whole_startup_with_fresh_arguments() {
        let app = App::from_module(module_path!());
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        EVENTS.wait_for_within("task start 1", WAIT_LIMIT).await;
        let report = bounded("reload", WAIT_LIMIT, app.reload()).await.unwrap();
        assert_eq!(report.task("worker"), Some(&TaskOutcome::Cancelled));
        assert_eq!(report.context("resource"), Some(&ContextOutcome::CleanedUp));
        EVENTS.wait_for_within("task start 2", WAIT_LIMIT).await;
        assert!(app.is_running());
        bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
        assert_eq!(
            EVENTS.take(),
            [
                "setup",
                "task start 1",
                "task stop 1",
                "cleanup",
                "setup",
                "task start 2",
                "task stop 2",
                "cleanup"
            ]
        );
    }
}

mod argument_failure {
    use super::*;

    static EVENTS: Events = Events::new();

    #[lifespan_context(events = &EVENTS)]
    async fn resource(events: &'static Events, lifespan: Yield) {
        events.push("setup");
        lifespan.ready().await;
    }

    #[lifespan_task(port = "secret-value".parse::<u16>()?)]
    async fn listener(port: u16) {
        let _ = port;
    }

    #[tokio::test(start_paused = true)]
    async fn an_argument_that_fails_is_a_startup_error_naming_task_and_argument_but_not_the_value()
    {
        let app = App::from_module(module_path!());
        let error = bounded("startup", WAIT_LIMIT, app.start())
            .await
            .unwrap_err();
        let message = format!("{error:#}");
        assert_eq!(
            error.to_string(),
            "argument `port` of lifespan task `suite::lifecycle::argument_failure::listener` could not be evaluated"
        );
        assert_eq!(
            message,
            "argument `port` of lifespan task `suite::lifecycle::argument_failure::listener` could not be evaluated: invalid digit found in string"
        );
        let cause = std::error::Error::source(&error).map(ToString::to_string);
        assert_eq!(cause.as_deref(), Some("invalid digit found in string"));
        assert!(!message.contains("secret-value"));
        assert!(
            matches!(
                error.kind(),
                StartupErrorKind::Argument {
                    argument: "port",
                    ..
                }
            ),
            "{error:?}"
        );
        assert_eq!(
            EVENTS.take(),
            Vec::<String>::new(),
            "arguments are evaluated before any setup"
        );
    }
}

mod registration_by_hand {
    use super::*;
    use lifespan_core::RegisterError;

    #[lifespan_task]
    async fn by_macro(shutdown: Shutdown) {
        shutdown.cancelled().await;
    }

    #[tokio::test(start_paused = true)]
    async fn tasks_and_contexts_can_be_registered_by_hand_before_start_only() {
        static EVENTS: Events = Events::new();
        let app = App::from_module(module_path!());
        app.register_context("by_hand_context", |lifespan: Yield| async move {
            EVENTS.push("setup by hand");
            lifespan.ready().await;
            EVENTS.push("cleanup by hand");
        })
        .unwrap();
        app.register_task("by_hand", |shutdown: Shutdown, app: App| async move {
            EVENTS.push(format!("by hand running={}", app.is_running()));
            shutdown.cancelled().await;
            Ok::<(), std::io::Error>(())
        })
        .unwrap();
        let duplicate = app.register_task("by_hand", || async {}).unwrap_err();
        assert!(
            matches!(duplicate, RegisterError::Duplicate { .. }),
            "{duplicate:?}"
        );
        let duplicate = app
            .register_task(concat!(module_path!(), "::by_macro"), || async {})
            .unwrap_err();
        assert_eq!(
            duplicate.to_string(),
            "cannot register lifespan task `suite::lifecycle::registration_by_hand::by_macro`: that name is already registered"
        );

        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        EVENTS
            .wait_for_within("by hand running=true", WAIT_LIMIT)
            .await;
        let late = app.register_task("late", || async {}).unwrap_err();
        assert_eq!(
            late.to_string(),
            "cannot register lifespan task `late`: the app is running; register before it starts"
        );
        let report = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
        let names: Vec<_> = report.tasks.iter().map(|t| &*t.name).collect();
        assert_eq!(
            names,
            ["suite::lifecycle::registration_by_hand::by_macro", "by_hand"],
            "macro registrations first, then by hand in registration order; nothing from other modules"
        );
        assert_eq!(
            EVENTS.take(),
            ["setup by hand", "by hand running=true", "cleanup by hand"]
        );
        assert!(report.is_clean(), "{report}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_context_registered_without_a_yield_parameter_fails_startup() {
        let app = App::empty();
        app.register_context("no_yield", || async {}).unwrap();
        let error = bounded("startup", WAIT_LIMIT, app.start())
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "lifespan context `no_yield` takes no `Yield` parameter, so it can never finish its setup"
        );
    }
}

mod interrupted_startup {
    use super::*;

    static EVENTS: Events = Events::new();

    #[lifespan_context(events = &EVENTS)]
    async fn quick(events: &'static Events, lifespan: Yield) {
        events.push("setup quick");
        lifespan.ready().await;
        events.push("cleanup quick");
    }

    #[lifespan_context(events = &EVENTS)]
    async fn slow(events: &'static Events, lifespan: Yield) {
        let _dropped = OnDrop(events, "slow setup dropped");
        events.push("setup slow");
        std::future::pending::<()>().await;
        lifespan.ready().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_shutdown_request_during_setup_interrupts_startup_and_cleans_up() {
        let app = App::from_module(module_path!());
        let run = app.run_until(EVENTS.wait_for("setup slow"));
        let report = bounded("the interrupted run", WAIT_LIMIT, run)
            .await
            .unwrap();
        assert_eq!(report.context("quick"), Some(&ContextOutcome::CleanedUp));
        assert_eq!(report.contexts.len(), 1);
        assert_eq!(
            EVENTS.take(),
            [
                "setup quick",
                "setup slow",
                "slow setup dropped",
                "cleanup quick"
            ]
        );
        assert!(!app.is_running());
    }
}

mod selection {
    use super::*;

    mod inner {
        #[lifespan_core::lifespan_task]
        async fn nested() {}
    }

    #[lifespan_task]
    async fn outer() {}

    #[tokio::test(start_paused = true)]
    async fn an_app_from_a_module_runs_that_module_and_its_children_only() {
        let app = App::from_module(concat!(module_path!(), "::inner"));
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        let report = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
        let names: Vec<_> = report.tasks.iter().map(|t| &*t.name).collect();
        assert_eq!(names, ["suite::lifecycle::selection::inner::nested"]);

        let app = App::from_module(module_path!());
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        let report = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
        let names: Vec<_> = report.tasks.iter().map(|t| &*t.name).collect();
        assert_eq!(
            names,
            [
                "suite::lifecycle::selection::outer",
                "suite::lifecycle::selection::inner::nested"
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn starting_a_running_app_is_an_error() {
        let app = App::from_module(concat!(module_path!(), "::inner"));
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        let error = bounded("startup", WAIT_LIMIT, app.start())
            .await
            .unwrap_err();
        assert!(
            matches!(error.kind(), StartupErrorKind::AlreadyRunning),
            "{error:?}"
        );
        bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
    }

    #[tokio::test(start_paused = true)]
    async fn an_app_that_selects_nothing_says_so() {
        let logs = lifespan_test_support::CapturedLogs::default();
        let _logging = tracing::subscriber::set_default(logs.subscriber());
        let app = App::from_module("no::such::module");
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
        assert!(
            logs.lines()
                .iter()
                .any(|l| l.starts_with("WARN this app's selection matched none")),
            "{:#?}",
            logs.lines()
        );
    }
}
