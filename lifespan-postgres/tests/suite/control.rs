//! Pauses and manual runs kept by `PgCoordinator` in `lifespan_control`: the statements'
//! rules (a paused task's lease is neither granted nor renewed, a claim starts nothing, a
//! manual run asked for starts once, as a point of the clock marked manual), then apps sharing
//! a real database: a pause made on one replica holds on both and across a restart until
//! resumed from another, a manual run of a once-per-point task runs on one replica only, and a
//! paused singleton is released and taken by none. Real time, bounded loops.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::common::*;
use lifespan_core::{
    Acquired, App, Coordinator, Lease, RunOutcome, RunRequest, RunState, Shutdown, TaskOptions,
};
use lifespan_postgres::PgCoordinator;
use lifespan_test_support::{unique_name, TestDatabase};

/// Waits, every 20 ms, until `condition` holds; fails naming `what` after 10 s.
async fn until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "{what}: not within 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_paused_task_is_neither_leased_nor_claimed_and_a_manual_run_starts_once() {
    with_database("the control statements", |database| async move {
        let coordinator = prepared(database, "lifespan-control-rules").await;
        let (singleton, points) = (unique_name("ctl-lease"), unique_name("ctl-points"));

        // A singleton: its holder's renewal is refused once paused, nobody is granted it.
        let term = granted(acquire(&coordinator, &singleton, "a", LONG).await);
        let pause = coordinator.pause(&singleton, "ops").await.unwrap().unwrap();
        assert_eq!(pause.by, "ops");
        let again = coordinator
            .pause(&singleton, "other")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again, pause, "a second pause keeps the first");
        assert!(!coordinator.renew(&term, LONG).await.unwrap());
        coordinator.release(&term).await.unwrap();
        let answer = acquire(&coordinator, &singleton, "b", LONG).await;
        assert_eq!(answer, Acquired::Paused(pause.clone()));
        assert!(coordinator.resume(&singleton).await.unwrap());
        assert!(!coordinator.resume(&singleton).await.unwrap());
        let next = granted(acquire(&coordinator, &singleton, "b", LONG).await);
        assert_eq!(next.token, term.token + 1);

        // A once-per-point task: a run in flight finishes, no claim starts anything while
        // paused; a manual run asked for starts once after the resume, as a point of the clock.
        let now = db_now(&coordinator).await;
        let first = RunRequest::new(&points, "a", now - 2_000_000, LONG)
            .overlap(lifespan_core::Overlap::Allow);
        let run = started(claim(&coordinator, &first).await);
        coordinator.pause(&points, "ops").await.unwrap();
        assert!(coordinator.request_run(&points, "ops").await.unwrap());
        let due = RunRequest::new(&points, "b", now - 1_000_000, LONG);
        let refused = claim(
            &coordinator,
            &due.clone().overlap(lifespan_core::Overlap::Allow),
        )
        .await;
        assert_eq!(refused.run, None);
        assert_eq!(refused.paused.as_ref().map(|p| p.by.as_str()), Some("ops"));
        assert!(refused.requested, "the manual run waits for the resume");
        assert!(coordinator.renew_run(&run, LONG).await.unwrap());
        assert!(coordinator
            .finish_run(&run, RunOutcome::Succeeded)
            .await
            .unwrap());
        assert!(coordinator.resume(&points).await.unwrap());
        // The point due starts first; the manual run at the next claim that starts no point.
        let claimed = claim(&coordinator, &due).await;
        assert!(claimed.requested, "the point went before the manual run");
        let point = started(claimed);
        assert!(!point.manual);
        coordinator
            .finish_run(&point, RunOutcome::Succeeded)
            .await
            .unwrap();
        let poll = RunRequest::new(&points, "b", now - 1_000_000, LONG).points(Vec::new(), false);
        let claimed = claim(&coordinator, &poll).await;
        assert!(!claimed.requested, "started by this claim");
        let manual = started(claimed);
        assert!(manual.manual && manual.attempt == 1, "{manual:?}");
        assert!(manual.point >= now, "{manual:?}");
        coordinator
            .finish_run(&manual, RunOutcome::Failed)
            .await
            .unwrap();
        let after = claim(&coordinator, &poll).await;
        assert_eq!(after.run, None, "a manual run starts once");
        assert_eq!(
            after.previous,
            Some(point.point),
            "a manual run is no last point"
        );
        assert_eq!(after.missed, Some(0));
        let recent = coordinator.recent_runs(&points, 10).await.unwrap().unwrap();
        let marks: Vec<bool> = recent.runs.iter().map(|run| run.manual).collect();
        assert_eq!(marks, [true, false, false]);
    })
    .await;
}

/// A pause, a resume and a request for a manual run are one statement each; a claim that
/// starts the manual run is the claim's usual four.
#[tokio::test]
async fn pauses_and_manual_runs_are_one_statement_each() {
    with_database("the statements of control", |database| async move {
        let coordinator = prepared(database, "lifespan-control-statements").await;
        let task = unique_name("ctl-statements");
        let poll = RunRequest::new(&task, "a", 0, LONG).points(Vec::new(), false);
        claim(&coordinator, &poll).await;
        let counted = |before: u64| coordinator.queries() - before;
        let before = coordinator.queries();
        coordinator.pause(&task, "ops").await.unwrap();
        assert_eq!(counted(before), 1);
        let before = coordinator.queries();
        coordinator.resume(&task).await.unwrap();
        assert_eq!(counted(before), 1);
        let before = coordinator.queries();
        coordinator.request_run(&task, "ops").await.unwrap();
        assert_eq!(counted(before), 1);
        let before = coordinator.queries();
        assert!(started(claim(&coordinator, &poll).await).manual);
        assert_eq!(counted(before), 4);
    })
    .await;
}

/// The point numbers each run of `digest` saw, by instance.
type Ran = Arc<Mutex<Vec<(&'static str, i64)>>>;

/// A replica `instance` on its own coordinator of `database`, running the once-per-point task
/// `task` every `period`.
fn points_app(
    database: &TestDatabase,
    task: &str,
    instance: &'static str,
    period: Duration,
    ran: &Ran,
) -> App {
    let coordinator = PgCoordinator::new(database.url()).unwrap();
    let app = App::builder()
        .empty()
        .coordinator(coordinator)
        .instance(instance)
        .lease(quick_lease())
        .build();
    let ran = ran.clone();
    app.register_task_with(
        task.to_owned(),
        TaskOptions::new().every(period).once_per_point(true),
        move |point: lifespan_core::Point| {
            let ran = ran.clone();
            async move { ran.lock().unwrap().push((instance, point.number())) }
        },
    )
    .unwrap();
    app
}

fn count(ran: &Ran) -> usize {
    ran.lock().unwrap().len()
}

fn paused_by(app: &App, task: &str) -> Option<String> {
    let status = app.status();
    status
        .task(task)
        .unwrap()
        .paused
        .as_ref()
        .map(|p| p.by.clone())
}

#[tokio::test]
async fn a_pause_holds_on_every_replica_and_across_a_restart_until_resumed_from_another() {
    with_database("a pause across replicas", |database| async move {
        let task = unique_name("ctl-apps");
        let ran = Ran::default();
        let period = Duration::from_millis(100);
        let a = points_app(database, &task, "a", period, &ran);
        let b = points_app(database, &task, "b", period, &ran);
        a.start().await.unwrap();
        b.start().await.unwrap();
        until("points run", || count(&ran) >= 3).await;
        a.pause(&task).await.unwrap();
        until("b learns of the pause", || paused_by(&b, &task).is_some()).await;
        assert_eq!(paused_by(&b, &task).as_deref(), Some("a"));
        let stopped = count(&ran);
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(count(&ran), stopped, "no point starts while paused");

        // a restarts: the pause holds, then b resumes it.
        a.shutdown().await;
        let again = points_app(database, &task, "a", period, &ran);
        again.start().await.unwrap();
        until("the restarted replica learns of the pause", || {
            paused_by(&again, &task).is_some()
        })
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(count(&ran), stopped);
        assert!(b.resume(&task).await.unwrap());
        until("points run again", || count(&ran) >= stopped + 3).await;
        until("both learn of the resume", || {
            paused_by(&again, &task).is_none() && paused_by(&b, &task).is_none()
        })
        .await;
        let numbers: Vec<i64> = ran.lock().unwrap().iter().map(|(_, n)| *n).collect();
        let mut unique = numbers.clone();
        unique.dedup();
        assert_eq!(unique, numbers, "each point ran once");
        again.shutdown().await;
        b.shutdown().await;
    })
    .await;
}

/// Both replicas claim every 200 ms: the manual run asked for on one starts on one replica
/// only, once, and the points of the schedule run once each around it.
#[tokio::test]
async fn a_manual_run_of_a_once_per_point_task_runs_on_one_replica_only() {
    with_database("a manual run across replicas", |database| async move {
        let task = unique_name("ctl-manual");
        let ran = Ran::default();
        let period = Duration::from_millis(200);
        let a = points_app(database, &task, "a", period, &ran);
        let b = points_app(database, &task, "b", period, &ran);
        a.start().await.unwrap();
        b.start().await.unwrap();
        until("points run", || count(&ran) >= 2).await;
        a.trigger(&task).await.unwrap();
        let manual_runs = || {
            [&a, &b]
                .iter()
                .map(|app| app.status().task(&task).unwrap().manual_runs)
                .sum::<u64>()
        };
        until("the manual run", || manual_runs() >= 1).await;
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert_eq!(manual_runs(), 1);
        let ledger = a.ledger(&task, 100).await.unwrap();
        let manual: Vec<_> = ledger.runs.iter().filter(|run| run.manual).collect();
        assert_eq!(manual.len(), 1, "{:?}", ledger.runs);
        let scheduled: Vec<i64> = ledger
            .runs
            .iter()
            .filter(|run| !run.manual)
            .map(|run| run.number)
            .collect();
        let mut unique = scheduled.clone();
        unique.dedup();
        assert_eq!(unique, scheduled, "each point ran once");
        a.shutdown().await;
        b.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_paused_singleton_is_released_by_its_holder_and_taken_by_none_until_resumed() {
    with_database("a paused singleton", |database| async move {
        let task = unique_name("ctl-singleton");
        let starts = Arc::new(Mutex::new(Vec::<String>::new()));
        let replicas: Vec<App> = ["a", "b"]
            .into_iter()
            .map(|instance| {
                let app = App::builder()
                    .empty()
                    .coordinator(PgCoordinator::new(database.url()).unwrap())
                    .instance(instance)
                    .lease(quick_lease())
                    .build();
                let starts = starts.clone();
                app.register_task_with(
                    task.clone(),
                    TaskOptions::new().singleton(true),
                    move |lease: Lease, shutdown: Shutdown| {
                        let starts = starts.clone();
                        async move {
                            starts
                                .lock()
                                .unwrap()
                                .push(format!("{instance} {}", lease.token()));
                            shutdown.cancelled().await;
                        }
                    },
                )
                .unwrap();
                app
            })
            .collect();
        replicas[0].start().await.unwrap();
        let held_here = |i: usize| {
            let status = replicas[i].status();
            status.tasks[0]
                .lease
                .as_ref()
                .is_some_and(|lease| lease.held_here)
        };
        until("a holds it", || held_here(0)).await;
        replicas[1].start().await.unwrap();
        replicas[1].pause(&task).await.unwrap();
        let state = |i: usize| replicas[i].status().tasks[0].state;
        until("a releases it", || state(0) == RunState::Standby).await;
        // Released: its lease expired at once.
        let remaining = left(database, &task).await;
        assert!(
            remaining.is_zero(),
            "{remaining:?} {:?}",
            replicas[0].status().tasks[0]
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            starts.lock().unwrap().len(),
            1,
            "nobody takes it while paused"
        );
        assert_eq!(paused_by(&replicas[0], &task).as_deref(), Some("b"));
        assert!(replicas[0].resume(&task).await.unwrap());
        until("someone takes it again", || {
            starts.lock().unwrap().len() == 2
        })
        .await;
        for app in &replicas {
            app.shutdown().await;
        }
    })
    .await;
}
