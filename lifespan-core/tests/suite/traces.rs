//! Where the spans of an app sit, as a tracing backend builds its traces from them: each run of
//! a periodic task and each attempt of another supervised task is a root (a trace of its own),
//! which follows from its task's span; the run's body, and what it logs, is in the run's span;
//! each task has one `lifespan.task` span, a root when the app is started outside any span, in
//! which a plain task's body runs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lifespan_core::{App, Restart, Shutdown, TaskOptions};
use lifespan_test_support::{bounded, keep_every_callsite_enabled, WAIT_LIMIT};
use tokio::sync::mpsc;
use tracing::span::{Attributes, Id};
use tracing::{Instrument, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// A span as the recorder saw it made: its name, its field `task`, and the spans (indexes into
/// [`Tree::spans`]) it is a child of and follows from.
#[derive(Clone, Debug)]
struct Node {
    name: &'static str,
    task: Option<String>,
    parent: Option<usize>,
    follows: Vec<usize>,
}

/// Every span made and every event logged, with the span each event was logged in.
#[derive(Default, Debug)]
struct Tree {
    spans: Vec<Node>,
    /// The message of each event, and the span it is in.
    events: Vec<(String, Option<usize>)>,
    /// The spans open now, by id: ids are reused once a span closes.
    open: HashMap<u64, usize>,
}

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Tree>>);

impl Recorder {
    fn tree(&self) -> std::sync::MutexGuard<'_, Tree> {
        self.0.lock().unwrap()
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recorder {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut task = FieldText::new("task");
        attrs.record(&mut task);
        let parent = ctx.span(id).and_then(|span| span.parent()).map(|p| p.id());
        let mut tree = self.tree();
        let parent = parent.and_then(|p| tree.open.get(&p.into_u64()).copied());
        tree.spans.push(Node {
            name: attrs.metadata().name(),
            task: task.value,
            parent,
            follows: Vec::new(),
        });
        let index = tree.spans.len() - 1;
        tree.open.insert(id.into_u64(), index);
    }

    fn on_follows_from(&self, span: &Id, follows: &Id, _: Context<'_, S>) {
        let mut tree = self.tree();
        let (Some(&span), Some(&follows)) = (
            tree.open.get(&span.into_u64()),
            tree.open.get(&follows.into_u64()),
        ) else {
            panic!("a span follows from a span that is not open");
        };
        tree.spans[span].follows.push(follows);
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        let mut message = FieldText::new("message");
        event.record(&mut message);
        let span = ctx.event_span(event).map(|span| span.id());
        let mut tree = self.tree();
        let span = span.and_then(|id| tree.open.get(&id.into_u64()).copied());
        tree.events.push((message.value.unwrap_or_default(), span));
    }

    fn on_close(&self, id: Id, _: Context<'_, S>) {
        self.tree().open.remove(&id.into_u64());
    }
}

/// The text of one field.
struct FieldText {
    name: &'static str,
    value: Option<String>,
}

impl FieldText {
    fn new(name: &'static str) -> Self {
        FieldText { name, value: None }
    }
}

impl tracing::field::Visit for FieldText {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == self.name {
            self.value = Some(format!("{value:?}"));
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == self.name {
            self.value = Some(value.to_owned());
        }
    }
}

impl Tree {
    fn describe(&self, index: Option<usize>) -> Option<(&'static str, Option<&str>)> {
        index.map(|i| (self.spans[i].name, self.spans[i].task.as_deref()))
    }

    /// The name and task of the span each event with `message` was logged in.
    fn spans_of(&self, message: &str) -> Vec<Option<(&'static str, Option<&str>)>> {
        self.events
            .iter()
            .filter(|(text, _)| text == message)
            .map(|(_, span)| self.describe(*span))
            .collect()
    }
}

/// An app with a periodic task whose runs fail and succeed in turn, a singleton, a
/// once-per-point task and a plain task; each body says on `started` that it began.
fn app(started: mpsc::UnboundedSender<&'static str>) -> App {
    let app = App::empty();
    let runs = Arc::new(AtomicU32::new(0));
    let sweeps = started.clone();
    let options = TaskOptions::new()
        .every(Duration::from_secs(10))
        .restart(Restart::OnFailure)
        .backoff(Duration::from_secs(1), Duration::from_secs(1))
        .jitter(false);
    app.register_task_with("sweep", options, move || {
        let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
        let sweeps = sweeps.clone();
        async move {
            tracing::info!("sweeping");
            let _ = sweeps.send("sweep");
            if run % 2 == 1 {
                return Err(anyhow::anyhow!("sweep refused"));
            }
            Ok(())
        }
    })
    .unwrap();
    let leaders = started.clone();
    app.register_task_with(
        "leader",
        TaskOptions::new().singleton(true),
        move |shutdown: Shutdown| {
            let leaders = leaders.clone();
            async move {
                tracing::info!("leading");
                let _ = leaders.send("leader");
                shutdown.cancelled().await;
            }
        },
    )
    .unwrap();
    let tallies = started.clone();
    let once = TaskOptions::new()
        .every(Duration::from_secs(10))
        .once_per_point(true);
    app.register_task_with("tally", once, move || {
        let tallies = tallies.clone();
        async move {
            let _ = tallies.send("tally");
        }
    })
    .unwrap();
    app.register_task("plain", move |shutdown: Shutdown| {
        let started = started.clone();
        async move {
            tracing::info!("plain running");
            let _ = started.send("plain");
            shutdown.cancelled().await;
        }
    })
    .unwrap();
    app
}

/// Runs the app until the sweep's third run begins (its first two, a failure and a success,
/// have ended) and every other task has begun, shuts it down, and returns what the recorder
/// saw.
async fn record_an_app() -> Recorder {
    keep_every_callsite_enabled();
    let recorder = Recorder::default();
    let _recording =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(recorder.clone()));
    let (sender, mut started) = mpsc::unbounded_channel();
    let app = app(sender);
    bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
    let mut seen = Vec::new();
    let count = |seen: &[&str], task: &str| seen.iter().filter(|name| **name == task).count();
    while count(&seen, "sweep") < 3
        || ["leader", "plain", "tally"]
            .iter()
            .any(|task| count(&seen, task) == 0)
    {
        let task = bounded("the tasks' starts", WAIT_LIMIT, started.recv()).await;
        seen.push(task.expect("the app is running"));
    }
    bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
    drop(app);
    recorder
}

#[tokio::test(start_paused = true)]
async fn each_run_and_attempt_is_a_root_that_follows_from_its_tasks_span() {
    let recorder = record_an_app().await;
    let tree = recorder.tree();
    let runs: Vec<&Node> = tree
        .spans
        .iter()
        .filter(|span| span.name == "lifespan.run" || span.name == "lifespan.attempt")
        .collect();
    let sweeps = runs.iter().filter(|run| run.name == "lifespan.run").count();
    assert!(sweeps >= 3, "{tree:#?}");
    assert!(
        runs.iter().any(|run| run.name == "lifespan.attempt"),
        "{tree:#?}"
    );
    for run in &runs {
        assert_eq!(run.parent, None, "a run is a root: {run:?}\n{tree:#?}");
        let follows: Vec<_> = run
            .follows
            .iter()
            .map(|&i| tree.describe(Some(i)))
            .collect();
        assert_eq!(
            follows,
            [Some(("lifespan.task", run.task.as_deref()))],
            "{run:?}\n{tree:#?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_runs_body_and_its_failure_are_logged_in_the_runs_span() {
    let recorder = record_an_app().await;
    let tree = recorder.tree();
    let sweeping = tree.spans_of("sweeping");
    assert!(sweeping.len() >= 3, "{tree:#?}");
    assert!(
        sweeping
            .iter()
            .all(|span| *span == Some(("lifespan.run", Some("sweep")))),
        "{sweeping:?}"
    );
    assert_eq!(
        tree.spans_of("leading"),
        [Some(("lifespan.attempt", Some("leader")))]
    );
    let failed = tree.spans_of("lifespan task `sweep` failed");
    assert!(!failed.is_empty(), "{tree:#?}");
    assert!(
        failed
            .iter()
            .all(|span| *span == Some(("lifespan.run", Some("sweep")))),
        "{failed:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn each_task_has_one_root_span_in_which_a_plain_tasks_body_runs() {
    let recorder = record_an_app().await;
    let tree = recorder.tree();
    let mut tasks: Vec<(Option<&str>, Option<usize>)> = tree
        .spans
        .iter()
        .filter(|span| span.name == "lifespan.task")
        .map(|span| (span.task.as_deref(), span.parent))
        .collect();
    tasks.sort();
    assert_eq!(
        tasks,
        [
            (Some("leader"), None),
            (Some("plain"), None),
            (Some("sweep"), None),
            (Some("tally"), None)
        ],
        "{tree:#?}"
    );
    assert_eq!(
        tree.spans_of("plain running"),
        [Some(("lifespan.task", Some("plain")))]
    );
    // The supervisor's own lines are in the task's span.
    assert_eq!(
        tree.spans_of("lifespan task `leader` holds its lease: running it on this replica"),
        [Some(("lifespan.task", Some("leader")))]
    );
}

#[tokio::test(start_paused = true)]
async fn a_task_started_within_a_span_has_its_span_under_it() {
    keep_every_callsite_enabled();
    let recorder = Recorder::default();
    let _recording =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(recorder.clone()));
    let app = App::empty();
    app.register_task("plain", |shutdown: Shutdown| async move {
        shutdown.cancelled().await;
    })
    .unwrap();
    let service = tracing::info_span!("service");
    bounded("startup", WAIT_LIMIT, app.start().instrument(service))
        .await
        .unwrap();
    bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
    let tree = recorder.tree();
    let tasks: Vec<_> = tree
        .spans
        .iter()
        .filter(|span| span.name == "lifespan.task")
        .map(|span| tree.describe(span.parent))
        .collect();
    assert_eq!(tasks, [Some(("service", None))], "{tree:#?}");
}

/// What the crate's documentation shows: a span of the body's own, with an explicit parent,
/// puts the work of each run under a span of the app's.
#[tokio::test(start_paused = true)]
async fn a_body_puts_its_work_under_a_parent_of_its_choice_with_a_span_of_its_own() {
    keep_every_callsite_enabled();
    let recorder = Recorder::default();
    let _recording =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(recorder.clone()));
    let (ran, mut runs) = mpsc::unbounded_channel();
    let app = App::empty();
    let service = tracing::info_span!("service");
    let parent = service.clone();
    let options = TaskOptions::new().every(Duration::from_secs(60));
    app.register_task_with("sweep", options, move || {
        let (parent, ran) = (parent.clone(), ran.clone());
        async move {
            let work = tracing::info_span!(parent: &parent, "sweep work");
            async { tracing::info!("sweeping") }.instrument(work).await;
            let _ = ran.send(());
        }
    })
    .unwrap();
    bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
    for _ in 0..2 {
        bounded("a run", WAIT_LIMIT, runs.recv()).await.unwrap();
    }
    bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
    let tree = recorder.tree();
    let work: Vec<_> = tree
        .spans
        .iter()
        .filter(|span| span.name == "sweep work")
        .map(|span| tree.describe(span.parent))
        .collect();
    assert_eq!(work, [Some(("service", None)); 2], "{tree:#?}");
    assert_eq!(tree.spans_of("sweeping"), [Some(("sweep work", None)); 2]);
    drop(service);
}
