//! The handles of a task's metrics are made once per process and recorder: a start of a task
//! looks them up, and registers nothing with the recorder again; another recorder gets its own.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lifespan_core::{App, Shutdown};
use lifespan_test_support::{bounded, WAIT_LIMIT};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_util::debugging::DebuggingRecorder;

use super::Reading;

/// A debugging recorder that counts the registrations of `lifespan_task_starts_total`.
struct Counting {
    inner: DebuggingRecorder,
    starts: AtomicUsize,
}

impl Recorder for Counting {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_counter(key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_gauge(key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_histogram(key, unit, description);
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        if key.name() == "lifespan_task_starts_total" {
            self.starts.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.register_counter(key, metadata)
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        self.inner.register_gauge(key, metadata)
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        self.inner.register_histogram(key, metadata)
    }
}

/// A counting recorder of the test's own, leaked (see the module's docs).
fn counting() -> &'static Counting {
    Box::leak(Box::new(Counting {
        inner: DebuggingRecorder::new(),
        starts: AtomicUsize::new(0),
    }))
}

/// Starts and stops, twice, an app of three plain tasks named `{prefix}0` to `{prefix}2`,
/// with `recorder` installed.
fn twice(recorder: &'static Counting, prefix: &'static str) {
    super::paused_on(recorder, move || async move {
        for _ in 0..2 {
            let app = App::empty();
            for i in 0..3 {
                app.register_task(format!("{prefix}{i}"), |shutdown: Shutdown| async move {
                    shutdown.cancelled().await
                })
                .unwrap();
            }
            bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
            tokio::time::sleep(Duration::from_millis(10)).await;
            bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
        }
    });
}

#[test]
fn each_task_registers_its_metrics_once_per_recorder_not_at_every_start() {
    let first = counting();
    twice(first, "handles");
    assert_eq!(first.starts.load(Ordering::SeqCst), 3);
    let reading = Reading::take(&first.inner.snapshotter());
    assert_eq!(reading.counter("lifespan_task_starts_total", "handles0"), 2);

    // Another recorder, and the same task names: handles of its own, which record into it.
    let second = counting();
    twice(second, "handles");
    assert_eq!(second.starts.load(Ordering::SeqCst), 3);
    let reading = Reading::take(&second.inner.snapshotter());
    assert_eq!(reading.counter("lifespan_task_starts_total", "handles2"), 2);
    let first_again = Reading::take(&first.inner.snapshotter());
    assert_eq!(
        first_again.counter("lifespan_task_starts_total", "handles2"),
        0
    );
}

/// Two tasks registered at link time, whose entries keep their handles.
mod linked {
    use lifespan_core::{lifespan_task, Shutdown};

    #[lifespan_task]
    async fn kept_plain(shutdown: Shutdown) {
        shutdown.cancelled().await
    }

    #[lifespan_task]
    #[lifespan(restart = "on_failure")]
    async fn kept_supervised(shutdown: Shutdown) {
        shutdown.cancelled().await
    }
}

/// The handles a task's entry keeps are those of the recorder they were made with: an app of
/// link-time tasks started under one recorder, then under another, records each start into the
/// recorder installed then, a plain task's and a supervised task's alike.
#[test]
fn an_app_started_again_under_another_recorder_records_into_that_one() {
    let app = App::from_module(concat!(module_path!(), "::linked"));
    let tasks = [
        concat!(module_path!(), "::linked::kept_plain"),
        concat!(module_path!(), "::linked::kept_supervised"),
    ];
    let starts_under = |recorder: &'static Counting| {
        let app = app.clone();
        super::paused_on(recorder, move || async move {
            for _ in 0..2 {
                bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
                tokio::time::sleep(Duration::from_millis(10)).await;
                bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
            }
        });
        Reading::take(&recorder.inner.snapshotter())
    };
    let first = counting();
    let reading = starts_under(first);
    for task in tasks {
        assert_eq!(
            reading.counter("lifespan_task_starts_total", task),
            2,
            "{task}"
        );
    }
    let second = counting();
    let reading = starts_under(second);
    assert_eq!(second.starts.load(Ordering::SeqCst), 2);
    for task in tasks {
        assert_eq!(
            reading.counter("lifespan_task_starts_total", task),
            2,
            "{task}"
        );
    }
    let first_again = Reading::take(&first.inner.snapshotter());
    for task in tasks {
        assert_eq!(
            first_again.counter("lifespan_task_starts_total", task),
            0,
            "{task}"
        );
    }
    assert_eq!(first.starts.load(Ordering::SeqCst), 2);
}
