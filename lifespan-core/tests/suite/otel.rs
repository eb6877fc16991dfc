//! The spans of an app through a real OpenTelemetry pipeline (`tracing-opentelemetry` into the
//! SDK's in-memory exporter, which keeps each span as it ends): each run of a periodic task is
//! a trace of its own, named after its task, with its status, linked to its task's span, and
//! no error's text in its attributes.

use std::borrow::Cow;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lifespan_core::{App, Restart, Shutdown, TaskOptions};
use lifespan_test_support::{bounded, keep_every_callsite_enabled, WAIT_LIMIT};
use opentelemetry::trace::{SpanId, SpanKind, Status, TracerProvider as _};
use opentelemetry::Value;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tokio::sync::{mpsc, Mutex};
use tracing_subscriber::layer::SubscriberExt;

/// The password in the failures' error, masked wherever the library shows the error.
const SECRET: &str = "hunter2";

/// The error of a failed run: its text holds a URL with a password.
fn failure() -> anyhow::Error {
    anyhow::anyhow!("refused").context(format!("connecting to postgres://admin:{SECRET}@db/prod"))
}

/// A task run every 10 s (a failed run retried after 1 s): each run says its number on
/// `started`, then fails or succeeds as the next verdict on `verdicts` says (`true`: succeeds);
/// a run still waiting at shutdown stops on it.
fn app(started: mpsc::UnboundedSender<i64>, verdicts: mpsc::UnboundedReceiver<bool>) -> App {
    let app = App::empty();
    let options = TaskOptions::new()
        .every(Duration::from_secs(10))
        .restart(Restart::OnFailure)
        .backoff(Duration::from_secs(1), Duration::from_secs(1))
        .jitter(false);
    let runs = Arc::new(AtomicI64::new(0));
    let verdicts = Arc::new(Mutex::new(verdicts));
    app.register_task_with("sweep", options, move |shutdown: Shutdown| {
        let (runs, started, verdicts) = (runs.clone(), started.clone(), verdicts.clone());
        async move {
            let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
            tracing::info!("sweeping");
            let _ = started.send(run);
            let mut verdicts = verdicts.lock().await;
            tokio::select! {
                verdict = verdicts.recv() => match verdict {
                    Some(true) => Ok(()),
                    _ => Err(failure()),
                },
                () = shutdown.cancelled() => Ok(()),
            }
        }
    })
    .unwrap();
    app
}

/// Runs the app through four runs (failed, succeeded, failed, succeeded) and into a fifth,
/// stopped by shutdown, and returns every span exported.
async fn export_five_runs() -> Vec<SpanData> {
    keep_every_callsite_enabled();
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("lifespan-test"));
    let _exporting = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
    let (started, mut starts) = mpsc::unbounded_channel();
    let (verdicts, received) = mpsc::unbounded_channel();
    let app = app(started, received);
    bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
    for run in 1..=5 {
        let began = bounded("the next run", WAIT_LIMIT, starts.recv()).await;
        assert_eq!(began, Some(run));
        if run < 5 {
            verdicts.send(run % 2 == 0).unwrap();
        }
    }
    bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
    drop(app);
    let spans = exporter.get_finished_spans().unwrap();
    provider.shutdown().unwrap();
    spans
}

fn attribute<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|pair| pair.key.as_str() == key)
        .map(|pair| &pair.value)
}

fn text<'a>(span: &'a SpanData, key: &str) -> Option<Cow<'a, str>> {
    attribute(span, key).map(Value::as_str)
}

/// A run span's number (`tracing-opentelemetry` exports a `u64` field as text).
fn number(span: &SpanData) -> u64 {
    let run =
        text(span, "run").unwrap_or_else(|| panic!("a run span without its number: {span:#?}"));
    run.parse().unwrap()
}

/// The run spans, by run number.
fn runs(spans: &[SpanData]) -> Vec<&SpanData> {
    let mut runs: Vec<&SpanData> = spans
        .iter()
        .filter(|span| span.name == "lifespan.run sweep")
        .collect();
    runs.sort_by_key(|span| number(span));
    runs
}

#[tokio::test(start_paused = true)]
async fn each_run_is_a_trace_of_its_own_linked_to_its_tasks_span() {
    let spans = export_five_runs().await;
    let names: Vec<&str> = spans.iter().map(|span| span.name.as_ref()).collect();
    let task = spans
        .iter()
        .find(|span| span.name == "lifespan.task" && text(span, "task").as_deref() == Some("sweep"))
        .unwrap_or_else(|| panic!("no span of the task: {names:?}"));
    let runs = runs(&spans);
    let numbers: Vec<u64> = runs.iter().map(|span| number(span)).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5], "{names:?}");
    let mut traces = vec![task.span_context.trace_id()];
    for run in &runs {
        assert_eq!(run.parent_span_id, SpanId::INVALID, "a root: {run:#?}");
        assert_eq!(run.span_kind, SpanKind::Internal);
        assert!(run.end_time >= run.start_time, "{run:#?}");
        let links: Vec<_> = run.links.iter().map(|link| &link.span_context).collect();
        assert_eq!(links, [&task.span_context], "linked to its task: {run:#?}");
        assert!(
            run.events.iter().any(|event| event.name == "sweeping"),
            "the body logs in its run's span: {run:#?}"
        );
        traces.push(run.span_context.trace_id());
    }
    let distinct: std::collections::HashSet<_> = traces.iter().collect();
    assert_eq!(distinct.len(), 6, "a trace per run, and the task's own");
}

#[tokio::test(start_paused = true)]
async fn a_runs_status_and_error_type_say_how_it_ended_without_the_errors_text() {
    let spans = export_five_runs().await;
    let ended: Vec<_> = runs(&spans)
        .iter()
        .map(|run| {
            (
                text(run, "outcome").map(Cow::into_owned),
                run.status.clone(),
                text(run, "error.type").map(Cow::into_owned),
            )
        })
        .collect();
    let failed = (
        Some("failed".to_owned()),
        Status::error(""),
        Some("failed".to_owned()),
    );
    let succeeded = (Some("succeeded".to_owned()), Status::Ok, None);
    // Stopped by shutdown: neither an error nor a success.
    let cancelled = (Some("cancelled".to_owned()), Status::Unset, None);
    assert_eq!(
        ended,
        [
            failed.clone(),
            succeeded.clone(),
            failed,
            succeeded,
            cancelled
        ]
    );
    // The failure is logged in the run's span with its error as an error value, masked:
    // `tracing-opentelemetry` copies its message to the span as `exception.message`.
    let masked = "connecting to postgres://admin:***@db/prod";
    let messages: Vec<_> = runs(&spans)
        .iter()
        .map(|run| text(run, "exception.message").map(Cow::into_owned))
        .collect();
    let failed_with = Some(masked.to_owned());
    assert_eq!(
        messages,
        [failed_with.clone(), None, failed_with, None, None]
    );
    let unmasked = format!("{:#}", failure());
    for span in &spans {
        let attributes = span
            .attributes
            .iter()
            .chain(span.events.iter().flat_map(|event| &event.attributes))
            .chain(span.links.iter().flat_map(|link| &link.attributes));
        for pair in attributes {
            let value = pair.value.as_str();
            assert!(
                !value.contains(SECRET) && !value.contains(&unmasked),
                "{} = {value} in {span:#?}",
                pair.key
            );
        }
        if let Status::Error { description } = &span.status {
            assert_eq!(description, "", "{span:#?}");
        }
    }
}
