//! What operators see of each run of a supervised task: its run history in the status, and a
//! span per run (or per attempt of a restarted task), closed when the run ends, with its outcome
//! and duration; a failure's error recorded as an error value.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use lifespan_core::{App, Restart, RunOutcome, Shutdown, TaskOptions};
use lifespan_test_support::{bounded, CapturedLogs, ClosedSpan, WAIT_LIMIT};

const PERIOD: Duration = Duration::from_secs(10);
const RUN_TAKES: Duration = Duration::from_secs(2);

/// An app with a task run every 10 s that takes 2 s, and a plain task.
fn periodic_app() -> App {
    let app = App::empty();
    app.register_task_with("sweep", TaskOptions::new().every(PERIOD), || async {
        tokio::time::sleep(RUN_TAKES).await;
    })
    .unwrap();
    app.register_task("plain", |shutdown: Shutdown| async move {
        shutdown.cancelled().await
    })
    .unwrap();
    app
}

fn spans_named<'a>(spans: &'a [ClosedSpan], name: &str) -> Vec<&'a ClosedSpan> {
    spans.iter().filter(|span| span.name == name).collect()
}

#[tokio::test(start_paused = true)]
async fn after_three_runs_the_status_shows_three_the_last_one_and_the_next_point() {
    let app = periodic_app();
    let before = SystemTime::now();
    bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
    // Runs at 10 s, 20 s and 30 s, each 2 s long; the fourth is due at 40 s.
    tokio::time::sleep(Duration::from_secs(35)).await;

    let status = app.status();
    let sweep = status.task("sweep").unwrap();
    assert_eq!(sweep.runs, 3);
    let last = sweep.last_run.as_ref().expect("a last run");
    assert_eq!(last.outcome, RunOutcome::Succeeded);
    assert_eq!(last.duration, RUN_TAKES);
    // The wall clock follows the runtime's (paused) clock from the start on.
    let since_start = last.started.duration_since(before).unwrap();
    assert!(
        since_start >= Duration::from_secs(30) && since_start < Duration::from_secs(40),
        "{since_start:?}"
    );
    assert_eq!(sweep.next_run, Some(last.started + PERIOD));

    let plain = status.task("plain").unwrap();
    assert_eq!(
        (plain.runs, &plain.last_run, plain.next_run),
        (0, &None, None)
    );

    bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
    let stopped = app.status();
    let sweep = stopped.task("sweep").unwrap();
    assert_eq!(sweep.runs, 3, "no run was in progress at shutdown");
    assert_eq!(sweep.next_run, None, "nothing is planned once stopped");
}

#[tokio::test(start_paused = true)]
async fn while_a_run_is_in_progress_the_status_shows_no_next_run() {
    let app = periodic_app();
    bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
    // Runs at 10 s and 20 s have ended; the one begun at 30 s lasts until 32 s.
    tokio::time::sleep(Duration::from_secs(31)).await;

    let status = app.status();
    let sweep = status.task("sweep").unwrap();
    assert_eq!(sweep.runs, 2, "the run in progress has not ended");
    assert_eq!(
        sweep.next_run, None,
        "nothing is planned while a run goes on"
    );
    bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
}

#[tokio::test(start_paused = true)]
async fn a_restarted_task_shows_its_failed_attempts_and_when_it_is_restarted() {
    let app = App::empty();
    let options = TaskOptions::new()
        .restart(Restart::OnFailure)
        .backoff(Duration::from_secs(5), Duration::from_secs(5))
        .jitter(false);
    app.register_task_with("flaky", options, || async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Err::<(), _>("down")
    })
    .unwrap();
    bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
    // Attempts at 0 s and 6 s, each failing after 1 s; the third is due at 12 s.
    tokio::time::sleep(Duration::from_secs(8)).await;

    let status = app.status();
    let flaky = status.task("flaky").unwrap();
    assert_eq!(flaky.runs, 2);
    let last = flaky.last_run.as_ref().unwrap();
    assert_eq!(
        (last.outcome, last.duration),
        (RunOutcome::Failed, Duration::from_secs(1))
    );
    assert_eq!(
        flaky.next_run,
        Some(last.started + Duration::from_secs(1) + Duration::from_secs(5))
    );
    assert_eq!(flaky.last_error.as_deref(), Some("down"));
    bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
}

/// An attempt that panics is shown as panicked, not as stopped.
#[tokio::test(start_paused = true)]
async fn a_restarted_task_shows_its_panicked_attempt_as_panicked() {
    let app = App::empty();
    let options = TaskOptions::new()
        .restart(Restart::OnFailure)
        .backoff(Duration::from_secs(5), Duration::from_secs(5))
        .jitter(false);
    app.register_task_with("crashy", options, || async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        panic!("crashy panics");
    })
    .unwrap();
    bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let status = app.status();
    let crashy = status.task("crashy").unwrap();
    let last = crashy.last_run.as_ref().expect("the panicked attempt");
    assert_eq!(
        (crashy.runs, last.outcome, last.duration),
        (1, RunOutcome::Panicked, Duration::from_secs(1))
    );
    bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
}

#[tokio::test(start_paused = true)]
async fn a_periodic_task_closes_one_span_per_run_numbered_with_its_outcome_and_duration() {
    let logs = CapturedLogs::default();
    let _capturing = tracing::subscriber::set_default(logs.subscriber());
    let app = periodic_app();
    bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(35)).await;

    // Closed while the app still runs: an exporter sends each run as it ends.
    let spans = logs.closed_spans();
    let runs = spans_named(&spans, "lifespan.run");
    let numbers: Vec<_> = runs.iter().map(|span| span.field("run")).collect();
    assert_eq!(numbers, [Some("1"), Some("2"), Some("3")], "{spans:#?}");
    for run in &runs {
        assert_eq!(run.field("task"), Some("sweep"));
        assert_eq!(run.field("outcome"), Some("succeeded"));
        assert_eq!(run.field("duration_ms"), Some("2000"));
    }
    assert!(
        spans_named(&spans, "lifespan.task").is_empty(),
        "{spans:#?}"
    );

    bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
    drop(app);
    let spans = logs.closed_spans();
    let tasks = spans_named(&spans, "lifespan.task");
    let named: Vec<_> = tasks.iter().filter_map(|span| span.field("task")).collect();
    assert!(
        named.contains(&"sweep") && named.contains(&"plain"),
        "{spans:#?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_restarted_task_closes_one_span_per_attempt_and_records_its_error_as_a_value() {
    let logs = CapturedLogs::default();
    let _capturing = tracing::subscriber::set_default(logs.subscriber());
    let app = App::empty();
    let options = TaskOptions::new()
        .restart(Restart::OnFailure)
        .backoff(Duration::from_secs(1), Duration::from_secs(1))
        .jitter(false);
    let attempts = Arc::new(AtomicU32::new(0));
    let counted = attempts.clone();
    app.register_task_with("consumer", options, move || {
        let attempt = counted.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            if attempt < 3 {
                return Err(anyhow::anyhow!("refused")
                    .context("connecting to postgres://admin:hunter2@db.internal/prod"));
            }
            Ok::<(), anyhow::Error>(())
        }
    })
    .unwrap();
    bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(10)).await;

    let spans = logs.closed_spans();
    let attempts: Vec<_> = spans_named(&spans, "lifespan.attempt")
        .iter()
        .map(|span| (span.field("attempt"), span.field("outcome")))
        .collect();
    assert_eq!(
        attempts,
        [
            (Some("1"), Some("failed")),
            (Some("2"), Some("failed")),
            (Some("3"), Some("succeeded"))
        ],
        "{spans:#?}"
    );
    let masked = "error=connecting to postgres://admin:***@db.internal/prod: refused";
    assert_eq!(logs.error_values(), [masked, masked]);
    assert!(
        !logs.lines().iter().any(|line| line.contains("hunter2")),
        "{:#?}",
        logs.lines()
    );
    let status = app.status();
    let consumer = status.task("consumer").unwrap();
    assert_eq!(consumer.runs, 3);
    assert_eq!(
        consumer.last_run.as_ref().map(|run| run.outcome),
        Some(RunOutcome::Succeeded)
    );
    assert_eq!(consumer.next_run, None, "it completed: nothing is planned");
    bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
}

#[tokio::test(start_paused = true)]
async fn a_context_runs_in_a_span_named_like_the_tasks_span() {
    let logs = CapturedLogs::default();
    let _capturing = tracing::subscriber::set_default(logs.subscriber());
    let app = App::empty();
    app.register_context("pool", |lifespan: lifespan_core::Yield| async move {
        lifespan.ready().await;
    })
    .unwrap();
    bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
    bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
    drop(app);
    let spans = logs.closed_spans();
    let contexts = spans_named(&spans, "lifespan.context");
    assert_eq!(contexts.len(), 1, "{spans:#?}");
    assert_eq!(contexts[0].field("context"), Some("pool"));
}
