//! Every error says what failed and carries its cause once; the error a task returned can be
//! downcast to its own type through the report and through `RunError`.

use std::time::Duration;

use anyhow::Context as _;
use lifespan_core::{App, ContextOutcome, RunError, TaskOptions, TaskOutcome, Yield};

/// An hour of virtual time: every wait here ends long before, unless something is broken.
const LIMIT: Duration = Duration::from_secs(3600);

/// The error's text as `anyhow` prints it with `{:#}`, checking that each message of its chain
/// appears in it exactly once.
fn printed_once(error: impl std::error::Error + Send + Sync + 'static) -> String {
    let error = anyhow::Error::from(error);
    let printed = format!("{error:#}");
    for cause in error.chain() {
        let message = cause.to_string();
        assert_eq!(
            printed.matches(message.as_str()).count(),
            1,
            "`{message}` is not printed once in `{printed}`"
        );
    }
    printed
}

#[derive(Debug, thiserror::Error)]
#[error("the broker refused the connection")]
struct BrokerRefused {
    code: u16,
}

#[tokio::test(start_paused = true)]
async fn a_failed_setup_says_what_failed_and_its_causes_once() {
    let app = App::empty();
    app.register_context("db", |lifespan: Yield| async move {
        Err(std::io::Error::other("connection refused")).context("connecting to the database")?;
        lifespan.ready().await;
        Ok::<(), anyhow::Error>(())
    })
    .unwrap();
    let error = tokio::time::timeout(LIMIT, app.start())
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(error.to_string(), "setup of lifespan context `db` failed");
    assert_eq!(
        printed_once(error),
        "setup of lifespan context `db` failed: connecting to the database: connection refused"
    );
}

mod argument {
    use super::*;

    #[lifespan_core::lifespan_task(port = "eighty".parse::<u16>()?)]
    async fn listener(port: u16) {
        let _ = port;
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_argument_says_which_and_its_cause_once() {
        let app = App::from_module(module_path!());
        let error = tokio::time::timeout(LIMIT, app.start())
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(
            printed_once(error),
            "argument `port` of lifespan task `errors::argument::listener` could not be evaluated: invalid digit found in string"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_critical_failure_says_which_task_and_its_error_can_be_downcast() {
    let app = App::empty();
    let options = TaskOptions::new().critical(true);
    app.register_task_with("consumer", options, || async {
        Err::<(), _>(BrokerRefused { code: 503 })
    })
    .unwrap();
    let run = app.run_until(std::future::pending::<()>());
    let result = tokio::time::timeout(LIMIT, run).await.unwrap();
    let Err(error) = result else {
        panic!("expected a critical failure, got {result:?}")
    };
    let RunError::CriticalTaskFailed {
        error: cause,
        report,
        ..
    } = &error
    else {
        panic!("expected a critical failure, got {error:?}")
    };
    // An exit code from the task's own error, through `RunError`...
    assert_eq!(
        cause.downcast_ref::<BrokerRefused>().map(|e| e.code),
        Some(503)
    );
    // ... and through the report.
    let Some(TaskOutcome::Failed(reported)) = report.task("consumer") else {
        panic!("{report:?}")
    };
    assert_eq!(
        reported.downcast_ref::<BrokerRefused>().map(|e| e.code),
        Some(503)
    );
    assert_eq!(
        printed_once(error),
        "critical lifespan task `consumer` failed: the broker refused the connection"
    );
}

#[tokio::test(start_paused = true)]
async fn an_anyhow_error_with_context_can_be_downcast_to_its_root() {
    let app = App::empty();
    app.register_task("consumer", || async {
        Err(BrokerRefused { code: 502 }).context("consuming the feed")
    })
    .unwrap();
    app.start().await.unwrap();
    tokio::task::yield_now().await;
    let report = tokio::time::timeout(LIMIT, app.shutdown()).await.unwrap();
    let Some(TaskOutcome::Failed(error)) = report.task("consumer") else {
        panic!("{report:?}")
    };
    assert_eq!(
        error.downcast_ref::<BrokerRefused>().map(|e| e.code),
        Some(502)
    );
    assert_eq!(error.to_string(), "consuming the feed");
    assert_eq!(
        format!("{error:#}"),
        "consuming the feed: the broker refused the connection"
    );
    assert_eq!(
        error.chain().collect::<Vec<_>>(),
        ["consuming the feed", "the broker refused the connection"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_cleanup_keeps_its_error() {
    let app = App::empty();
    app.register_context("db", |lifespan: Yield| async move {
        lifespan.ready().await;
        Err::<(), _>(std::io::Error::other("flush failed"))
    })
    .unwrap();
    app.start().await.unwrap();
    let report = tokio::time::timeout(LIMIT, app.shutdown()).await.unwrap();
    let Some(ContextOutcome::CleanupFailed(error)) = report.context("db") else {
        panic!("{report:?}")
    };
    assert_eq!(
        error
            .downcast_ref::<std::io::Error>()
            .map(|e| e.to_string()),
        Some("flush failed".to_owned())
    );
    assert_eq!(
        report.to_string(),
        "context db: cleanup failed: flush failed\n"
    );
}

#[test]
fn a_signal_that_cannot_be_listened_for_names_it_and_its_cause_once() {
    let error = RunError::Signal {
        signal: "SIGTERM",
        source: std::io::Error::other("no signal driver"),
    };
    assert_eq!(
        printed_once(error),
        "could not listen for SIGTERM: no signal driver"
    );
}
