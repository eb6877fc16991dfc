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
            "argument `port` of lifespan task `suite::errors::argument::listener` could not be evaluated: invalid digit found in string"
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

/// Every public error type prints as `anyhow` does: `{}` its own message, `{:#}` followed by its
/// causes joined by `": "`, each once, the passwords of URLs masked in every part.
mod alternate_form {
    use super::*;
    use lifespan_core::{CoordinatorError, RegisterError};

    /// `{}` is `top`; `{:#}` is `chain`, which has each message of the error's chain once.
    fn assert_prints(error: &(dyn std::error::Error + 'static), top: &str, chain: &str) {
        assert_eq!(error.to_string(), top);
        assert_eq!(format!("{error:#}"), chain);
        let mut cause = Some(error);
        while let Some(error) = cause {
            let message = error.to_string();
            assert_eq!(
                chain.matches(message.as_str()).count(),
                1,
                "`{message}` is not printed once in `{chain}`"
            );
            cause = error.source();
        }
    }

    /// A startup that fails in context `db`: "connecting: refused to <url>".
    async fn failed_start(url: &'static str) -> lifespan_core::StartupError {
        let app = App::empty();
        app.register_context("db", move |lifespan: Yield| async move {
            Err(std::io::Error::other(format!("refused by {url}"))).context("connecting")?;
            lifespan.ready().await;
            Ok::<(), anyhow::Error>(())
        })
        .unwrap();
        tokio::time::timeout(LIMIT, app.start())
            .await
            .unwrap()
            .unwrap_err()
    }

    #[tokio::test(start_paused = true)]
    async fn a_startup_error_and_its_kind_print_their_chain() {
        let error = failed_start("postgres://app:hunter2@db.internal/app").await;
        let top = "setup of lifespan context `db` failed";
        let chain = "setup of lifespan context `db` failed: connecting: refused by postgres://app:***@db.internal/app";
        assert_prints(&error, top, chain);
        assert_prints(error.kind(), top, chain);
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_error_prints_its_chain() {
        // Startup: the startup error's chain, once.
        let app = App::empty();
        app.register_context("db", |_lifespan: Yield| async {
            Err::<(), _>(std::io::Error::other("refused")).context("connecting")
        })
        .unwrap();
        let run = app.run_until(std::future::pending::<()>());
        let error = tokio::time::timeout(LIMIT, run).await.unwrap().unwrap_err();
        assert_prints(
            &error,
            "setup of lifespan context `db` failed",
            "setup of lifespan context `db` failed: connecting: refused",
        );

        // A critical task's failure.
        let app = App::empty();
        let options = TaskOptions::new().critical(true);
        app.register_task_with("feed", options, || async {
            Err::<(), _>(std::io::Error::other("postgres://feed:s3cret@mq/ gone"))
                .context("reading")
        })
        .unwrap();
        let run = app.run_until(std::future::pending::<()>());
        let error = tokio::time::timeout(LIMIT, run).await.unwrap().unwrap_err();
        assert_prints(
            &error,
            "critical lifespan task `feed` failed",
            "critical lifespan task `feed` failed: reading: postgres://feed:***@mq/ gone",
        );

        // The signal's cause, and a server's panic, which has no cause.
        let error = RunError::Signal {
            signal: "SIGTERM",
            source: std::io::Error::other("no signal driver"),
        };
        assert_prints(
            &error,
            "could not listen for SIGTERM",
            "could not listen for SIGTERM: no signal driver",
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_server_failure_prints_the_servers_chain() {
        let app = App::empty();
        let server = |_stop_accepting| async {
            Err::<(), _>(anyhow::Error::from(std::io::Error::other("address in use")))
                .context("binding 127.0.0.1:80")
                .map_err(|error| -> Box<dyn std::error::Error + Send + Sync> { error.into() })
        };
        let run = app.run_server_until(server, std::future::pending::<()>());
        let error = tokio::time::timeout(LIMIT, run).await.unwrap().unwrap_err();
        assert_prints(
            &error,
            "the server run by the app failed",
            "the server run by the app failed: binding 127.0.0.1:80: address in use",
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_server_panic_prints_its_message_in_both_forms() {
        let app = App::empty();
        let server = |_stop_accepting| async {
            panic!("no route");
            #[allow(unreachable_code)]
            Ok::<(), std::io::Error>(())
        };
        let run = app.run_server_until(server, std::future::pending::<()>());
        let error = tokio::time::timeout(LIMIT, run).await.unwrap().unwrap_err();
        let text = "the server run by the app panicked: no route";
        assert_prints(&error, text, text);
    }

    #[test]
    fn a_coordinator_error_prints_its_chain_masked() {
        let cause = std::io::Error::other("refused by postgres://coord:hunter2@db.internal/app");
        let error = CoordinatorError::new("renewing the lease of `sweep`", cause);
        assert_eq!(error.to_string(), "renewing the lease of `sweep`");
        assert_eq!(
            format!("{error:#}"),
            "renewing the lease of `sweep`: refused by postgres://coord:***@db.internal/app"
        );
        let alone = CoordinatorError::msg("the answer made no sense");
        assert_prints(
            &alone,
            "the answer made no sense",
            "the answer made no sense",
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_error_prints_its_chain_masked() {
        let app = App::empty();
        app.register_task("sync", || async {
            Err::<(), _>(std::io::Error::other(
                "refused by postgres://u:hunter2@h/db",
            ))
            .context("pulling")
        })
        .unwrap();
        app.start().await.unwrap();
        tokio::task::yield_now().await;
        let report = tokio::time::timeout(LIMIT, app.shutdown()).await.unwrap();
        let Some(TaskOutcome::Failed(error)) = report.task("sync") else {
            panic!("{report:?}")
        };
        assert_prints(
            error,
            "pulling",
            "pulling: refused by postgres://u:***@h/db",
        );
    }

    #[test]
    fn a_registration_error_has_no_cause_and_prints_the_same_in_both_forms() {
        let app = App::empty();
        app.register_task("twice", || async {}).unwrap();
        let error: RegisterError = app.register_task("twice", || async {}).unwrap_err();
        let text = "cannot register lifespan task `twice`: that name is already registered";
        assert_prints(&error, text, text);
    }

    #[cfg(feature = "cron")]
    #[test]
    fn a_cron_error_has_no_cause_and_prints_the_same_in_both_forms() {
        let error = TaskOptions::new().cron("0 61 * * * *").unwrap_err();
        let text = "the cron expression's minutes field `61` is out of range 0–59";
        assert_prints(&error, text, text);
    }
}
