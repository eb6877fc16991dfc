//! Tasks operated by hand across replicas sharing one coordinator (`InProcess` clones), on
//! virtual time: a pause made on one replica holds on every one, and across a replica's
//! restart, until resumed from any; a manual run of a once-per-point task runs on one replica
//! only; a coordinator that keeps no pauses refuses them, naming the task.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use lifespan_core::{App, ControlError, Coordinator, InProcess, Point, RunState, TaskOptions};
use lifespan_test_support::{bounded, WAIT_LIMIT};
use tokio::time::sleep;

use super::coordinator::TestCoordinator;
use super::real_time::{paused, REAL_LIMIT};
use super::{replica, shut_down, Log, MS, S};

/// The points each replica ran: (instance, point number).
type Ran = Arc<Mutex<Vec<(&'static str, i64)>>>;

/// A replica `instance` on `coordinator` whose once-per-point task `digest` runs every second
/// for 200 ms, logging the numbers it ran.
fn points_replica(coordinator: impl Coordinator, instance: &'static str, ran: &Ran) -> App {
    let app = super::bare_replica(coordinator, instance);
    let ran = ran.clone();
    let options = TaskOptions::new().every(S).once_per_point(true);
    app.register_task_with("digest", options, move |point: Point| {
        let ran = ran.clone();
        async move {
            ran.lock().unwrap().push((instance, point.number()));
            sleep(200 * MS).await;
        }
    })
    .unwrap();
    app
}

async fn start(app: &App) {
    bounded("start", WAIT_LIMIT, app.start()).await.unwrap();
}

/// The numbers of the points run, in order, whoever ran them.
fn numbers(ran: &Ran) -> Vec<i64> {
    ran.lock()
        .unwrap()
        .iter()
        .map(|(_, number)| *number)
        .collect()
}

fn paused_by(app: &App) -> Option<String> {
    let status = app.status();
    status
        .task("digest")
        .unwrap()
        .paused
        .as_ref()
        .map(|p| p.by.clone())
}

#[test]
fn a_pause_made_on_one_replica_holds_on_every_one_until_resumed_from_another() {
    paused("a pause across replicas", REAL_LIMIT, || async {
        let coordinator = InProcess::starting_at(SystemTime::UNIX_EPOCH);
        let ran = Ran::default();
        let a = points_replica(coordinator.clone(), "a", &ran);
        let b = points_replica(coordinator.clone(), "b", &ran);
        start(&a).await;
        start(&b).await;
        // Paused at 3.1 s, while the run of point 3 (from 3.001 s) is in progress.
        sleep(3100 * MS).await;
        bounded("pause", WAIT_LIMIT, a.pause("digest"))
            .await
            .unwrap();
        sleep(5 * S).await;
        assert_eq!(numbers(&ran), [1, 2, 3], "no point starts while paused");
        let ledger = b.ledger("digest", 10).await.unwrap();
        assert_eq!(ledger.runs[0].number, 3);
        assert!(
            ledger.runs[0].outcome.is_some(),
            "the run in progress finished"
        );
        assert_eq!(paused_by(&a).as_deref(), Some("a"));
        assert_eq!(
            paused_by(&b).as_deref(),
            Some("a"),
            "b learnt of it at its claim"
        );

        // Resumed from b at 8.1 s: the points from 9 on run, once each.
        assert!(bounded("resume", WAIT_LIMIT, b.resume("digest"))
            .await
            .unwrap());
        sleep(2 * S).await;
        assert_eq!(numbers(&ran), [1, 2, 3, 9, 10]);
        assert_eq!((paused_by(&a), paused_by(&b)), (None, None));
        shut_down(&[&a, &b]).await;
    });
}

#[test]
fn a_manual_run_of_a_once_per_point_task_runs_on_one_replica_only() {
    paused("a manual run across replicas", REAL_LIMIT, || async {
        let coordinator = InProcess::starting_at(SystemTime::UNIX_EPOCH);
        let ran = Ran::default();
        let a = points_replica(coordinator.clone(), "a", &ran);
        let b = points_replica(coordinator.clone(), "b", &ran);
        start(&a).await;
        start(&b).await;
        sleep(2500 * MS).await;
        // Triggered on both at once: one manual run, now.
        bounded("trigger a", WAIT_LIMIT, a.trigger("digest"))
            .await
            .unwrap();
        bounded("trigger b", WAIT_LIMIT, b.trigger("digest"))
            .await
            .unwrap();
        sleep(300 * MS).await;
        assert_eq!(
            numbers(&ran),
            [1, 2, 2],
            "the manual run, numbered as point 2"
        );
        sleep(3 * S).await;
        assert_eq!(numbers(&ran), [1, 2, 2, 3, 4, 5], "the schedule goes on");
        let manual: u64 = [&a, &b]
            .iter()
            .map(|app| app.status().task("digest").unwrap().manual_runs)
            .sum();
        assert_eq!(manual, 1);
        let ledger = a.ledger("digest", 10).await.unwrap();
        let manual: Vec<_> = ledger.runs.iter().filter(|run| run.manual).collect();
        assert_eq!(manual.len(), 1, "{:?}", ledger.runs);
        assert_eq!(manual[0].scheduled, SystemTime::UNIX_EPOCH + 2500 * MS);
        assert_eq!(ledger.missed, 0, "a manual run misses no point");
        shut_down(&[&a, &b]).await;
    });
}

/// Found on PostgreSQL: a replica that polled while another's manual run was in flight, then
/// ran a manual run asked for after it, claimed next at the time of that poll, asking for the
/// points due: with no point started yet, the latest one due (the schedule's point of an hour
/// before) started, out of its time. After a manual run, the next claim is at the next point.
#[test]
fn after_a_manual_run_the_next_claim_is_at_the_next_point() {
    paused("the claim after a manual run", REAL_LIMIT, || async {
        let coordinator = InProcess::starting_at(SystemTime::UNIX_EPOCH + 1800 * S);
        let ran = Ran::default();
        let hourly = |instance| {
            let app = super::bare_replica(coordinator.clone(), instance);
            let ran = ran.clone();
            let options = TaskOptions::new().every(3600 * S).once_per_point(true);
            app.register_task_with("digest", options, move |point: Point| {
                let ran = ran.clone();
                async move {
                    ran.lock().unwrap().push((instance, point.number()));
                    sleep(200 * MS).await;
                }
            })
            .unwrap();
            app
        };
        let (a, b) = (hourly("a"), hourly("b"));
        start(&a).await;
        start(&b).await;
        sleep(S).await;
        a.trigger("digest").await.unwrap();
        sleep(100 * MS).await;
        // Asked for while a's manual run is in flight: b polls until it ends, then runs it.
        b.trigger("digest").await.unwrap();
        sleep(10 * S).await;
        assert_eq!(
            *ran.lock().unwrap(),
            [("a", 0), ("b", 0)],
            "no point of the schedule ran"
        );
        sleep(1800 * S).await;
        assert_eq!(numbers(&ran), [0, 0, 1], "the next point runs at its time");
        shut_down(&[&a, &b]).await;
    });
}

#[test]
fn a_restarted_replica_keeps_the_pause_until_it_is_resumed() {
    paused("a pause across a restart", REAL_LIMIT, || async {
        let coordinator = InProcess::starting_at(SystemTime::UNIX_EPOCH);
        let ran = Ran::default();
        let a = points_replica(coordinator.clone(), "a", &ran);
        start(&a).await;
        sleep(1500 * MS).await;
        let pause = a.pause("digest").await.unwrap();
        shut_down(&[&a]).await;
        // The replica comes back as a new process would: a new app, the same coordinator.
        let again = points_replica(coordinator.clone(), "a", &ran);
        start(&again).await;
        sleep(5 * S).await;
        assert_eq!(numbers(&ran), [1]);
        let status = again.status();
        assert_eq!(status.task("digest").unwrap().paused.as_ref(), Some(&pause));
        assert!(again.resume("digest").await.unwrap());
        sleep(S).await;
        assert_eq!(numbers(&ran), [1, 7]);
        shut_down(&[&again]).await;
    });
}

#[test]
fn a_singleton_paused_from_a_standby_is_released_by_its_holder_and_taken_by_none() {
    paused("a paused singleton across replicas", REAL_LIMIT, || async {
        let coordinator = InProcess::new();
        let log = Log::new();
        let a = replica("a", coordinator.clone(), &log);
        let b = replica("b", coordinator.clone(), &log);
        start(&a).await;
        sleep(10 * MS).await;
        start(&b).await;
        sleep(S).await;
        let pause = bounded("pause", WAIT_LIMIT, b.pause("sweep"))
            .await
            .unwrap();
        assert_eq!(pause.by, "b");
        sleep(10 * S).await;
        assert_eq!(log.names(), ["a start 1", "a stop 1 lost=true"]);
        let (stopped, _) = log.events()[1].clone();
        assert!(stopped <= S + 10 * MS + 500 * MS, "stopped at {stopped:?}");
        for app in [&a, &b] {
            let status = app.status();
            let sweep = status.task("sweep").unwrap();
            assert_eq!(sweep.state, RunState::Standby);
            assert_eq!(sweep.paused.as_ref(), Some(&pause));
        }
        let error = a.trigger("sweep").await.unwrap_err();
        assert!(
            matches!(error, ControlError::NotControllable { .. }),
            "{error}"
        );

        assert!(a.resume("sweep").await.unwrap());
        sleep(S).await;
        let names = log.names();
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(names[2].ends_with("start 2"), "{names:?}");
        shut_down(&[&a, &b]).await;
    });
}

#[test]
fn a_coordinator_that_keeps_no_pauses_refuses_them_for_coordinated_tasks() {
    paused("a coordinator without pauses", REAL_LIMIT, || async {
        let coordinator = TestCoordinator::new();
        let ran = Ran::default();
        let log = Log::new();
        let a = points_replica(coordinator.clone(), "a", &ran);
        let b = replica("b", coordinator.clone(), &log);
        let hourly = TaskOptions::new().every(3600 * S);
        b.register_task_with("report", hourly, || async {}).unwrap();
        start(&a).await;
        start(&b).await;
        let error = a.trigger("digest").await.unwrap_err();
        assert!(
            matches!(error, ControlError::NotSupported { .. }),
            "{error}"
        );
        assert_eq!(
            error.to_string(),
            "lifespan task `digest` cannot be triggered: the coordinator (the test coordinator) keeps no pauses or manual runs"
        );
        let error = b.pause("sweep").await.unwrap_err();
        assert!(
            matches!(error, ControlError::NotSupported { .. }),
            "{error}"
        );
        assert_eq!(error.task(), "sweep");
        assert_eq!(b.status().task("sweep").unwrap().paused, None);
        // A plain periodic task's pause is the replica's own: it needs nothing of the
        // coordinator.
        let pause = b.pause("report").await.unwrap();
        assert_eq!(b.status().task("report").unwrap().paused, Some(pause));
        assert!(b.resume("report").await.unwrap());
        b.trigger("report").await.unwrap();
        shut_down(&[&a, &b]).await;
    });
}

/// A periodic singleton runs by hand on the replica that holds its lease; its standby refuses,
/// naming the task.
#[test]
fn a_periodic_singleton_is_triggered_on_its_holder_and_refused_on_its_standby() {
    paused("a periodic singleton by hand", REAL_LIMIT, || async {
        let coordinator = InProcess::new();
        let ran = Ran::default();
        let replica = |instance: &'static str| {
            let app = super::bare_replica(coordinator.clone(), instance);
            let ran = ran.clone();
            let options = TaskOptions::new().every(3600 * S).singleton(true);
            app.register_task_with("sweep", options, move || {
                let ran = ran.clone();
                async move { ran.lock().unwrap().push((instance, 0)) }
            })
            .unwrap();
            app
        };
        let (a, b) = (replica("a"), replica("b"));
        start(&a).await;
        sleep(10 * MS).await;
        start(&b).await;
        sleep(S).await;
        let error = b.trigger("sweep").await.unwrap_err();
        assert!(matches!(error, ControlError::NotHeldHere { .. }), "{error}");
        assert_eq!(
            error.to_string(),
            "lifespan task `sweep` cannot be triggered on this replica: another replica holds its lease"
        );
        a.trigger("sweep").await.unwrap();
        sleep(S).await;
        assert_eq!(*ran.lock().unwrap(), [("a", 0)]);
        assert_eq!(a.status().task("sweep").unwrap().manual_runs, 1);
        shut_down(&[&a, &b]).await;
    });
}

/// A manual run asked for on a replica that had not heard of a pause made elsewhere waits in
/// the coordinator; once resumed, the replica runs it right after its next point, even alone
/// (its claims at points' times start the points, not the manual run).
#[test]
fn a_manual_run_asked_for_during_an_unknown_pause_runs_after_the_resume() {
    paused("a manual run after a pause", REAL_LIMIT, || async {
        let coordinator = InProcess::starting_at(SystemTime::UNIX_EPOCH);
        let ran = Ran::default();
        let a = points_replica(coordinator.clone(), "a", &ran);
        start(&a).await;
        sleep(1500 * MS).await;
        // Another replica pauses it: a hears of it at its next claim.
        coordinator.pause("digest", "b").await.unwrap();
        a.trigger("digest").await.unwrap();
        sleep(3 * S).await;
        assert_eq!(numbers(&ran), [1], "nothing runs while paused");
        assert_eq!(paused_by(&a).as_deref(), Some("b"));
        assert!(coordinator.resume("digest").await.unwrap());
        sleep(S).await;
        // Point 5, then the manual run right after it.
        assert_eq!(numbers(&ran), [1, 5, 5]);
        assert_eq!(a.status().task("digest").unwrap().manual_runs, 1);
        shut_down(&[&a]).await;
    });
}
