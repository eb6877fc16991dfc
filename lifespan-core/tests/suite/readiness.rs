//! Readiness checks: one that fails turns readiness `503`, and `?verbose` names it without its
//! error; all passing answer `200` with a line each; a check that hangs is cut at the readiness
//! timeout, all checks running at once; a context's check goes away with its cleanup; names are
//! validated. In paused time: every wait is the timeout's, not the machine's.

use std::time::Duration;

use lifespan_core::{App, CheckOutcome, ReadinessCheckError, Yield};
use lifespan_test_support::{bounded, WAIT_LIMIT};

async fn failing() -> anyhow::Result<()> {
    Err(anyhow::anyhow!(
        "connecting to postgres://admin:S3cret@db.internal/prod: refused"
    ))
}

async fn passing() -> anyhow::Result<()> {
    Ok(())
}

/// A started app with the checks `cache` (passing) and `database` (failing).
async fn started_with_a_failing_check() -> App {
    let app = App::empty();
    app.add_readiness_check("cache", passing).unwrap().keep();
    app.add_readiness_check("database", failing).unwrap().keep();
    app.start().await.unwrap();
    app
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_failing_check_makes_the_app_not_ready_naming_the_check_only() {
    bounded("the probe", WAIT_LIMIT, async {
        let app = started_with_a_failing_check().await;
        let readiness = app.readiness().await;
        assert!(!readiness.is_ready());
        assert_eq!(readiness.checks[1].outcome, CheckOutcome::Failed);
        let text = readiness.to_string();
        assert_eq!(
            text,
            "[+]phase ok\n[+]cache ok\n[-]database failed\nreadyz check failed\n"
        );
        assert!(
            !text.contains("S3cret") && !text.contains("refused"),
            "{text}"
        );
        app.shutdown().await;
    })
    .await;
}

#[cfg(feature = "axum")]
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn the_handler_answers_503_and_verbose_names_the_failing_check_not_its_error() {
    use axum::extract::RawQuery;
    use lifespan_core::readiness_handler;

    bounded("the probe", WAIT_LIMIT, async {
        let app = started_with_a_failing_check().await;
        let (status, body) = readiness_handler(app.clone(), RawQuery(None)).await;
        assert_eq!((status.as_u16(), body.as_str()), (503, "not ready"));
        let (status, body) = readiness_handler(app.clone(), RawQuery(Some("verbose".into()))).await;
        assert_eq!(status.as_u16(), 503);
        assert_eq!(
            body,
            "[+]phase ok\n[+]cache ok\n[-]database failed\nreadyz check failed\n"
        );
        assert!(
            !body.contains("S3cret") && !body.contains("refused"),
            "{body}"
        );
        app.shutdown().await;
    })
    .await;
}

#[cfg(feature = "axum")]
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn all_checks_passing_answer_200_with_a_line_each() {
    use axum::extract::RawQuery;
    use lifespan_core::readiness_handler;

    bounded("the probe", WAIT_LIMIT, async {
        let app = App::empty();
        app.add_readiness_check("cache", passing).unwrap().keep();
        app.add_readiness_check("database", passing).unwrap().keep();
        let (status, body) =
            readiness_handler(app.clone(), RawQuery(Some("verbose=1".into()))).await;
        assert_eq!(status.as_u16(), 503, "not started");
        assert_eq!(body, "[-]phase failed\nreadyz check failed\n");
        app.start().await.unwrap();
        let (status, body) = readiness_handler(app.clone(), RawQuery(None)).await;
        assert_eq!((status.as_u16(), body.as_str()), (200, "ready"));
        let (status, body) =
            readiness_handler(app.clone(), RawQuery(Some("x=1&verbose".into()))).await;
        assert_eq!(status.as_u16(), 200);
        assert_eq!(
            body,
            "[+]phase ok\n[+]cache ok\n[+]database ok\nreadyz check passed\n"
        );
        app.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn hanging_checks_are_cut_at_the_timeout_all_at_once() {
    const TIMEOUT: Duration = Duration::from_secs(2);
    bounded("the probe", WAIT_LIMIT, async {
        let app = App::builder().empty().readiness_timeout(TIMEOUT).build();
        for name in ["first", "second", "third"] {
            app.add_readiness_check(name, std::future::pending::<anyhow::Result<()>>)
                .unwrap()
                .keep();
        }
        app.add_readiness_check("quick", passing).unwrap().keep();
        app.start().await.unwrap();
        let asked = tokio::time::Instant::now();
        let readiness = app.readiness().await;
        // Run one after the other, three hanging checks would take three timeouts.
        assert_eq!(asked.elapsed(), TIMEOUT, "the checks ran at once, each cut");
        assert_eq!(
            readiness.to_string(),
            "[+]phase ok\n[-]first timed out\n[-]second timed out\n[-]third timed out\n[+]quick ok\nreadyz check failed\n"
        );
        app.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn the_default_timeout_is_one_second_and_a_panicking_check_fails() {
    bounded("the probe", WAIT_LIMIT, async {
        let app = App::empty();
        app.add_readiness_check("slow", std::future::pending::<anyhow::Result<()>>)
            .unwrap()
            .keep();
        app.add_readiness_check("panics", || async {
            if true {
                panic!("a check that panics");
            }
            Ok::<(), std::io::Error>(())
        })
        .unwrap()
        .keep();
        app.start().await.unwrap();
        let asked = tokio::time::Instant::now();
        let readiness = app.readiness().await;
        assert_eq!(asked.elapsed(), Duration::from_secs(1));
        let outcomes: Vec<_> = readiness.checks.iter().map(|c| c.outcome).collect();
        assert_eq!(outcomes, [CheckOutcome::TimedOut, CheckOutcome::Failed]);
        app.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_context_check_lasts_from_its_setup_to_its_cleanup_across_a_reload() {
    bounded("the app", WAIT_LIMIT, async {
        let app = App::empty();
        app.register_context("database", |lifespan: Yield, app: App| async move {
            let _check = app.add_readiness_check("database", failing)?;
            lifespan.ready().await;
            Ok::<(), anyhow::Error>(())
        })
        .unwrap();
        app.start().await.unwrap();
        let readiness = app.readiness().await;
        assert_eq!(readiness.checks.len(), 1);
        assert!(!readiness.is_ready());
        // The reload cleans the context up (its check goes) before setting it up again (its
        // check comes back under the same name: no duplicate).
        app.reload().await.unwrap();
        assert_eq!(app.readiness().await.checks.len(), 1);
        app.shutdown().await;
        // Gone with the cleanup: the name is free again; taken, the context's setup fails,
        // naming the check.
        let taken = app.add_readiness_check("database", passing).unwrap();
        let error = app.start().await.unwrap_err();
        assert_eq!(
            format!("{error:#}"),
            "setup of lifespan context `database` failed: readiness check `database` is already registered"
        );
        drop(taken);
        app.start().await.unwrap();
        assert_eq!(app.readiness().await.checks.len(), 1);
        app.shutdown().await;
    })
    .await;
}

#[test]
fn a_check_is_removed_when_its_handle_is_dropped() {
    let app = App::empty();
    let check = app.add_readiness_check("cache", passing).unwrap();
    assert_eq!(check.name(), "cache");
    assert!(matches!(
        app.add_readiness_check("cache", passing),
        Err(ReadinessCheckError::Duplicate { name }) if name == "cache"
    ));
    drop(check);
    app.add_readiness_check("cache", passing).unwrap().keep();
}

/// Dropping one handle removes its check only, however many were registered: each has its own
/// identity; a handle's `Debug` names its check.
#[test]
fn dropping_a_handle_removes_its_own_check_only() {
    let app = App::empty();
    let first = app.add_readiness_check("cache", passing).unwrap();
    let second = app.add_readiness_check("database", passing).unwrap();
    assert_eq!(
        format!("{second:?}"),
        r#"ReadinessCheck { name: "database", .. }"#
    );
    drop(first);
    assert!(matches!(
        app.add_readiness_check("database", passing),
        Err(ReadinessCheckError::Duplicate { name }) if name == "database"
    ));
    app.add_readiness_check("cache", passing).unwrap().keep();
    drop(second);
    app.add_readiness_check("database", passing).unwrap().keep();
}

#[test]
fn names_are_validated_and_errors_name_the_check() {
    let app = App::empty();
    let empty = app.add_readiness_check("  ", passing).unwrap_err();
    assert_eq!(empty, ReadinessCheckError::EmptyName);
    let phase = app.add_readiness_check("phase", passing).unwrap_err();
    assert_eq!(
        phase.to_string(),
        "readiness check `phase` is already registered"
    );
    let newline = app
        .add_readiness_check("db\n[+]forged ok", passing)
        .unwrap_err();
    assert_eq!(
        newline.to_string(),
        "readiness check \"db\\n[+]forged ok\" has a control character in its name"
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_failing_check_is_logged_by_name_with_its_error_masked() {
    let logs = lifespan_test_support::CapturedLogs::default();
    let _captured = tracing::subscriber::set_default(logs.subscriber());
    bounded("the probe", WAIT_LIMIT, async {
        let app = started_with_a_failing_check().await;
        assert!(!app.readiness().await.is_ready());
        app.shutdown().await;
    })
    .await;
    let lines = logs.lines();
    let failed: Vec<_> = lines
        .iter()
        .filter(|line| line.contains("readiness check `database` failed"))
        .collect();
    assert_eq!(failed.len(), 1, "{lines:#?}");
    assert!(
        failed[0].contains("postgres://admin:***@db.internal/prod: refused"),
        "{}",
        failed[0]
    );
    assert!(
        lines.iter().all(|line| !line.contains("S3cret")),
        "{lines:#?}"
    );
}
