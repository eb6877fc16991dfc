//! An app runs again after it shut down: each run starts from what is registered and asked
//! for then, not from what an earlier run left behind.

use std::sync::atomic::{AtomicU32, Ordering};

use lifespan_core::{App, Shutdown, TaskOptions, TaskOutcome};
use lifespan_test_support::{bounded, Events, WAIT_LIMIT};

#[tokio::test(start_paused = true)]
async fn a_task_registered_by_hand_after_a_shutdown_runs_at_the_next_start() {
    static EVENTS: Events = Events::new();
    let app = App::empty();
    app.register_task("first", |shutdown: Shutdown| async move {
        shutdown.cancelled().await;
    })
    .unwrap();
    bounded("the first startup", WAIT_LIMIT, app.start())
        .await
        .unwrap();
    bounded("the first shutdown", WAIT_LIMIT, app.shutdown()).await;

    app.register_task("added", |shutdown: Shutdown| async move {
        EVENTS.push("added running");
        shutdown.cancelled().await;
    })
    .unwrap();
    bounded("the second startup", WAIT_LIMIT, app.start())
        .await
        .unwrap();
    EVENTS.wait_for_within("added running", WAIT_LIMIT).await;
    let report = bounded("the second shutdown", WAIT_LIMIT, app.shutdown()).await;
    let names: Vec<_> = report.tasks.iter().map(|t| &*t.name).collect();
    assert_eq!(names, ["first", "added"]);
    assert_eq!(report.task("added"), Some(&TaskOutcome::Cancelled));
}

#[tokio::test(start_paused = true)]
async fn a_critical_failure_of_an_earlier_run_does_not_fail_a_later_run() {
    static EVENTS: Events = Events::new();
    static RUNS: AtomicU32 = AtomicU32::new(0);
    let app = App::empty();
    let options = TaskOptions::new().critical(true);
    app.register_task_with("consumer", options, |shutdown: Shutdown| async move {
        let run = RUNS.fetch_add(1, Ordering::SeqCst) + 1;
        EVENTS.push(format!("run {run}"));
        if run == 1 {
            return Err("broker gone");
        }
        shutdown.cancelled().await;
        Ok(())
    })
    .unwrap();
    // The first run, by `start` and `shutdown`, which leave the critical failure unreported.
    bounded("the first startup", WAIT_LIMIT, app.start())
        .await
        .unwrap();
    EVENTS.wait_for_within("run 1", WAIT_LIMIT).await;
    let first = bounded("the first shutdown", WAIT_LIMIT, app.shutdown()).await;
    assert_eq!(
        first.task("consumer"),
        Some(&TaskOutcome::Failed("broker gone".into()))
    );

    let second = app.run_until(EVENTS.wait_for("run 2"));
    let report = bounded("the second run", WAIT_LIMIT, second)
        .await
        .expect("the second run, in which no task failed, ends well");
    assert_eq!(report.task("consumer"), Some(&TaskOutcome::Cancelled));
}
