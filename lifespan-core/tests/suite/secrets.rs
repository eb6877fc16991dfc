//! Credentials in URLs never reach what the library logs, records or reports: a task failing or
//! panicking with a connection string shows it with the password masked.

use lifespan_core::{App, ContextOutcome, TaskOutcome, Yield};
use lifespan_test_support::CapturedLogs;

const FAILED: &str =
    "connecting to postgres://admin:hunter2@db.internal:5432/prod: password authentication failed";
const FAILED_MASKED: &str =
    "connecting to postgres://admin:***@db.internal:5432/prod: password authentication failed";

/// Runs `app` from start to shutdown with its logs captured.
async fn run(app: &App) -> (lifespan_core::Report, Vec<String>) {
    let logs = CapturedLogs::default();
    let _logging = tracing::subscriber::set_default(logs.subscriber());
    app.start().await.unwrap();
    let report = app.shutdown().await;
    (report, logs.lines())
}

fn assert_no_password(lines: &[String], password: &str) {
    assert!(
        !lines.iter().any(|line| line.contains(password)),
        "{lines:#?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_task_failing_with_a_connection_string_shows_it_masked_in_report_status_and_log() {
    let app = App::empty();
    app.register_task("db", || async {
        Err::<(), _>(
            anyhow::anyhow!("password authentication failed")
                .context("connecting to postgres://admin:hunter2@db.internal:5432/prod"),
        )
    })
    .unwrap();
    let (report, lines) = run(&app).await;
    assert_eq!(
        report.task("db"),
        Some(&TaskOutcome::Failed(FAILED_MASKED.into()))
    );
    assert_eq!(
        app.status().task("db").unwrap().last_error.as_deref(),
        Some(FAILED_MASKED)
    );
    assert!(
        lines
            .iter()
            .any(|l| l == &format!("ERROR lifespan task `db` failed error={FAILED_MASKED}")),
        "{lines:#?}"
    );
    assert_no_password(&lines, "hunter2");
    assert!(!report.to_string().contains("hunter2"), "{report}");
}

#[tokio::test(start_paused = true)]
async fn a_panic_quoting_a_url_with_only_a_password_is_masked() {
    let app = App::empty();
    app.register_task("cache", || async {
        panic!("redis://:s3cr3t@cache.internal:6379 refused the connection");
        #[allow(unreachable_code)]
        ()
    })
    .unwrap();
    let (report, lines) = run(&app).await;
    let masked = "redis://:***@cache.internal:6379 refused the connection";
    assert_eq!(
        report.task("cache"),
        Some(&TaskOutcome::Panicked(masked.into()))
    );
    assert_eq!(
        app.status().task("cache").unwrap().last_error.as_deref(),
        Some(masked)
    );
    assert_no_password(&lines, "s3cr3t");
    assert!(lines.iter().any(|l| l.contains(masked)), "{lines:#?}");
}

#[tokio::test(start_paused = true)]
async fn a_cleanup_failing_with_a_connection_string_is_masked_in_the_report_and_log() {
    let app = App::empty();
    app.register_context("pool", |lifespan: Yield| async move {
        lifespan.ready().await;
        Err::<(), _>(FAILED.to_owned())
    })
    .unwrap();
    let (report, lines) = run(&app).await;
    assert_eq!(
        report.context("pool"),
        Some(&ContextOutcome::CleanupFailed(FAILED_MASKED.into()))
    );
    assert_no_password(&lines, "hunter2");
}

#[tokio::test(start_paused = true)]
async fn text_without_credentials_is_kept_as_it_is() {
    let app = App::empty();
    let message = "GET https://example.com/users/@me?as=user:pw@host failed";
    app.register_task("api", move || async move { Err::<(), _>(message) })
        .unwrap();
    let (report, _) = run(&app).await;
    assert_eq!(
        report.task("api"),
        Some(&TaskOutcome::Failed(message.into()))
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_setup_and_a_failed_argument_show_the_connection_string_masked() {
    let logs = CapturedLogs::default();
    let _logging = tracing::subscriber::set_default(logs.subscriber());
    let app = App::empty();
    app.register_context("db", |lifespan: Yield| async move {
        Err::<(), _>(
            anyhow::anyhow!("password authentication failed")
                .context("connecting to postgres://admin:hunter2@db.internal:5432/prod"),
        )?;
        lifespan.ready().await;
        Ok::<(), anyhow::Error>(())
    })
    .unwrap();
    let error = app.start().await.unwrap_err();
    let expected = format!("setup of lifespan context `db` failed: {FAILED_MASKED}");
    assert_eq!(format!("{:#}", anyhow::Error::from(error)), expected);
    assert_eq!(
        app.status().context("db").unwrap().last_error.as_deref(),
        Some(expected.as_str())
    );
    assert_no_password(&logs.lines(), "hunter2");
}

mod restart_argument {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    static CALLS: AtomicU32 = AtomicU32::new(0);

    /// Fine at startup; fails quoting a connection string when evaluated for a restart.
    fn pool_size() -> anyhow::Result<u32> {
        if CALLS.fetch_add(1, Ordering::SeqCst) == 0 {
            return Ok(4);
        }
        Err(anyhow::anyhow!("password authentication failed")
            .context("connecting to postgres://admin:hunter2@db.internal:5432/prod"))
    }

    #[lifespan_core::lifespan_task(size = pool_size()?)]
    #[lifespan(restart = on_failure, max_restarts = 1, jitter = false)]
    async fn pool(size: u32) -> anyhow::Result<()> {
        anyhow::bail!("pool of {size} lost")
    }

    #[tokio::test(start_paused = true)]
    async fn an_argument_failing_on_a_restart_shows_the_connection_string_masked() {
        let logs = CapturedLogs::default();
        let _logging = tracing::subscriber::set_default(logs.subscriber());
        let app = App::from_module(module_path!());
        app.start().await.unwrap();
        let wait = async {
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            app.shutdown().await
        };
        let report =
            lifespan_test_support::bounded("shutdown", lifespan_test_support::WAIT_LIMIT, wait)
                .await;
        let expected = format!("evaluating argument `size` failed: {FAILED_MASKED}");
        assert_eq!(
            report.task("pool"),
            Some(&TaskOutcome::Failed(expected.clone().into()))
        );
        assert_eq!(
            app.status().task("pool").unwrap().last_error.as_deref(),
            Some(expected.as_str())
        );
        assert_no_password(&logs.lines(), "hunter2");
    }
}
