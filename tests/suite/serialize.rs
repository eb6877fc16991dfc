//! `Status` and `Report` serialize (feature `serde`, on with `axum`), with the names of states
//! and outcomes their `as_str` gives.

use std::time::Duration;

use lifespan_core::{
    App, Restart, RunOutcome, RunState, Shutdown, TaskOptions, TaskOutcome, Yield,
};
use lifespan_examples::{bounded, WAIT_LIMIT};
use serde_json::json;

/// A task run by hand and paused shows its manual runs, and who paused it and since when.
#[tokio::test(start_paused = true)]
async fn a_paused_task_serializes_its_pause_and_its_manual_runs() {
    let app = App::builder().empty().instance("web-1").build();
    let hourly = TaskOptions::new().every(Duration::from_secs(3600));
    app.register_task_with("sweep", hourly, || async {})
        .unwrap();
    bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
    bounded("trigger", WAIT_LIMIT, app.trigger("sweep"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pause = bounded("pause", WAIT_LIMIT, app.pause("sweep"))
        .await
        .unwrap();
    let since = pause
        .since
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let status = serde_json::to_value(app.status()).unwrap();
    assert_eq!(status["tasks"][0]["manual_runs"], 1);
    assert_eq!(
        status["tasks"][0]["paused"],
        json!({"by": "web-1", "since_unix_ms": since})
    );
    bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
}

#[tokio::test(start_paused = true)]
async fn status_and_report_serialize_with_the_names_of_states_and_outcomes() {
    let app = App::empty();
    app.register_context("db", |lifespan: Yield| async move {
        lifespan.ready().await;
        Err::<(), _>("flush failed")
    })
    .unwrap();
    app.register_task("worker", |shutdown: Shutdown| async move {
        shutdown.cancelled().await;
    })
    .unwrap();
    let options = TaskOptions::new()
        .restart(Restart::OnFailure)
        .backoff(Duration::from_secs(60), Duration::from_secs(60))
        .jitter(false);
    app.register_task_with("flaky", options, || async { Err::<(), _>("down") })
        .unwrap();
    bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;

    let mut status = serde_json::to_value(app.status()).unwrap();
    // Wall-clock times: the last run started at startup, the next one a backoff later.
    let started = status["tasks"][1]["last_run"]["started_unix_ms"].take();
    let next = status["tasks"][1]["next_run_unix_ms"].take();
    let (started, next) = (started.as_u64().unwrap(), next.as_u64().unwrap());
    assert_eq!(next - started, 60_000);
    assert_eq!(
        status["tasks"][1],
        json!({"name": "flaky", "display_name": null, "state": RunState::BackingOff.as_str(),
               "restarts": 0, "last_error": "down", "in_state_ms": 1000, "lease": null,
               "runs": 1,
               "last_run": {"started_unix_ms": null, "duration_ms": 0, "outcome": RunOutcome::Failed.as_str()},
               "next_run_unix_ms": null, "missed": null, "manual_runs": 0, "paused": null})
    );
    assert_eq!(
        status["tasks"][0]["runs"], 0,
        "a plain task keeps no run history"
    );
    assert_eq!(status["tasks"][0]["last_run"], json!(null));
    assert_eq!(status["tasks"][0]["state"], "running");
    assert_eq!(status["contexts"][0]["state"], "running");

    let report = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json,
        json!({
            "tasks": [
                {"name": "worker", "outcome": {"outcome": "cancelled"}, "restarts": 0, "terms": 0},
                {"name": "flaky", "outcome": {"outcome": "cancelled"}, "restarts": 0, "terms": 0},
            ],
            "contexts": [
                {"name": "db", "outcome": {"outcome": "cleanup_failed", "error": "flush failed"}},
            ],
        })
    );
    assert_eq!(
        TaskOutcome::Failed("x".into()).as_str(),
        serde_json::to_value(TaskOutcome::Failed("x".into())).unwrap()["outcome"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_singleton_serializes_its_holder_token_and_terms() {
    let coordinator = lifespan_core::InProcess::new();
    let replicas: Vec<App> = ["web-1", "web-2"]
        .into_iter()
        .map(|instance| {
            let app = App::builder()
                .empty()
                .coordinator(coordinator.clone())
                .instance(instance)
                .build();
            app.register_task_with(
                "sweep",
                TaskOptions::new().singleton(true),
                |shutdown: Shutdown| async move { shutdown.cancelled().await },
            )
            .unwrap();
            app
        })
        .collect();
    for app in &replicas {
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let holder = serde_json::to_value(replicas[0].status()).unwrap();
    let lease = &holder["tasks"][0]["lease"];
    assert_eq!(lease["held_here"], true);
    assert_eq!(lease["terms"], 1);
    assert_eq!(lease["holder"]["instance"], "web-1");
    assert_eq!(lease["holder"]["token"], 1);
    assert!(lease["holder"]["since_unix_ms"].as_u64().unwrap() > 1_700_000_000_000);
    let standby = serde_json::to_value(replicas[1].status()).unwrap();
    assert_eq!(standby["tasks"][0]["state"], "standby");
    assert_eq!(standby["tasks"][0]["lease"]["held_here"], false);
    assert_eq!(standby["tasks"][0]["lease"]["holder"]["instance"], "web-1");

    let report = bounded("shutdown", WAIT_LIMIT, replicas[0].shutdown()).await;
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["tasks"][0]["terms"], 1);
    bounded("shutdown", WAIT_LIMIT, replicas[1].shutdown()).await;
}

#[tokio::test(start_paused = true)]
async fn a_once_per_point_task_serializes_its_missed_points_and_its_ledger() {
    let coordinator = lifespan_core::InProcess::starting_at(std::time::SystemTime::UNIX_EPOCH);
    let app = App::builder()
        .empty()
        .coordinator(coordinator)
        .instance("web-1")
        .build();
    let options = TaskOptions::new()
        .every(Duration::from_secs(1))
        .once_per_point(true);
    app.register_task_with("digest", options, || async {
        tokio::time::sleep(Duration::from_millis(200)).await;
    })
    .unwrap();
    bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let status = serde_json::to_value(app.status()).unwrap();
    assert_eq!(status["tasks"][0]["missed"], 0);
    let ledger = bounded("the ledger", WAIT_LIMIT, app.ledger("digest", 10))
        .await
        .unwrap();
    let run = |number: u64| {
        json!({"number": number, "scheduled_unix_ms": number * 1000, "instance": "web-1",
               "attempt": 1, "token": number, "started_unix_ms": number * 1000 + 1,
               "duration_ms": 200, "state": "finished", "outcome": "succeeded"})
    };
    assert_eq!(
        serde_json::to_value(&ledger).unwrap(),
        json!({"task": "digest", "runs": [run(2), run(1)], "missed": 0,
               "read_at_unix_ms": 2500})
    );
    bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
}
