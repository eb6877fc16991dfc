//! The ledger seen from every replica, on virtual time: `App::ledger` and the status route show
//! the runs another replica recorded, the points no replica started are counted across
//! replicas, and a coordinator that fails leaves the rest of the status served.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use lifespan_core::{
    Acquired, App, Coordinator, CoordinatorError, CoordinatorFuture, InProcess, LeaseRequest,
    LedgerError, LedgerRunState, Point, PointRun, RecentRuns, RunClaim, RunOutcome, RunRequest,
    TaskLedger, TaskOptions, Term,
};
use lifespan_test_support::{bounded, WAIT_LIMIT};
use tokio::time::sleep;

use super::real_time::{paused, REAL_LIMIT};
use super::{MS, S};

/// A replica `instance` on `coordinator` whose once-per-point task `digest` (every second,
/// overlap forbidden, never restarted) runs for `work`, logs the numbers it ran, and fails at
/// point `fail_at`.
fn replica(
    coordinator: impl Coordinator,
    instance: &'static str,
    (work, fail_at): (Duration, i64),
    ran: &Arc<Mutex<Vec<i64>>>,
) -> App {
    let app = super::bare_replica(coordinator, instance);
    let ran = ran.clone();
    let options = TaskOptions::new().every(S).once_per_point(true);
    app.register_task_with("digest", options, move |point: Point| {
        let ran = ran.clone();
        async move {
            ran.lock().unwrap().push(point.number());
            sleep(work).await;
            if point.number() == fail_at {
                anyhow::bail!("point {fail_at} fails");
            }
            Ok(())
        }
    })
    .unwrap();
    app
}

/// Starts `app`, bounded.
async fn start(app: &App) {
    bounded("start", WAIT_LIMIT, app.start()).await.unwrap();
}

/// Shuts `app` down, bounded.
async fn stop(app: &App) {
    bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
}

/// Replica a runs point 1, fails point 2 (and stops); every replica is down across points 3
/// to 6; b starts and runs point 7: b's ledger shows a's runs beside its own (its own status
/// only its own), and the four points nobody started are counted.
#[test]
fn a_replica_shows_the_runs_another_recorded_and_the_points_nobody_started() {
    paused("the ledger across replicas", REAL_LIMIT, || async {
        let coordinator = InProcess::starting_at(SystemTime::UNIX_EPOCH);
        let ran = Arc::default();
        let a = replica(coordinator.clone(), "a", (200 * MS, 2), &ran);
        let b = replica(coordinator.clone(), "b", (200 * MS, 2), &ran);
        start(&a).await;
        sleep(2500 * MS).await;
        stop(&a).await;
        sleep(4 * S).await;
        start(&b).await;
        sleep(S).await;
        assert_eq!(*ran.lock().unwrap(), [1, 2, 7]);

        let status = b.status();
        let digest = status.task("digest").unwrap();
        assert_eq!((digest.runs, digest.missed), (1, Some(4)));
        let ledger = bounded("the ledger", WAIT_LIMIT, b.ledger("digest", 10))
            .await
            .unwrap();
        assert_eq!(&*ledger.task, "digest");
        assert_eq!(ledger.missed, 4);
        let rows: Vec<_> = ledger
            .runs
            .iter()
            .map(|run| (run.number, run.instance.as_str(), run.attempt, run.outcome))
            .collect();
        assert_eq!(
            rows,
            [
                (7, "b", 1, Some(RunOutcome::Succeeded)),
                (2, "a", 1, Some(RunOutcome::Failed)),
                (1, "a", 1, Some(RunOutcome::Succeeded)),
            ]
        );
        let first = &ledger.runs[2];
        assert_eq!(first.scheduled, SystemTime::UNIX_EPOCH + S);
        // Claimed a millisecond past its time, and ran for 200 ms.
        assert_eq!(first.started, SystemTime::UNIX_EPOCH + S + MS);
        assert_eq!(first.duration, 200 * MS);
        assert!(ledger
            .runs
            .iter()
            .all(|run| run.state == LedgerRunState::Finished));
        // Only the latest asked for.
        let latest = b.ledger("digest", 1).await.unwrap();
        assert_eq!(latest.runs.len(), 1);
        assert_eq!(latest.runs[0].number, 7);
        // a, stopped, still reads the ledger of its last start.
        assert_eq!(a.ledger("digest", 10).await.unwrap().runs.len(), 3);
        stop(&b).await;
    });
}

/// The replicas are cut off from the coordinator's claims (the ledger still readable) while
/// point 2 runs: the ledger shows it running, then interrupted once its lease expired, then
/// taken over as attempt 2 when they are back (at 5.5 s), then points 6 and 7; the three
/// points missed meanwhile are counted.
#[test]
fn the_ledger_shows_a_run_running_then_interrupted_then_taken_over() {
    paused("a run interrupted, in the ledger", REAL_LIMIT, || async {
        let coordinator = Wrapped::new(InProcess::starting_at(SystemTime::UNIX_EPOCH), true);
        let ran = Arc::default();
        let apps: Vec<App> = ["a", "b"]
            .into_iter()
            .map(|instance| replica(coordinator.clone(), instance, (200 * MS, 0), &ran))
            .collect();
        for app in &apps {
            start(app).await;
        }
        sleep(2100 * MS).await;
        coordinator.cut.store(true, Ordering::Relaxed);
        let states = |ledger: &TaskLedger| -> Vec<_> {
            let runs = ledger.runs.iter();
            runs.map(|run| (run.number, run.attempt, run.state))
                .collect()
        };
        let (running, finished) = (LedgerRunState::Running, LedgerRunState::Finished);
        sleep(900 * MS).await;
        let cut = apps[1].ledger("digest", 10).await.unwrap();
        assert_eq!(states(&cut), [(2, 1, running), (1, 1, finished)]);
        // Claimed at 2.001 s, its lease of 3 s never renewed: expired at 5.001 s.
        sleep(2500 * MS).await;
        let expired = apps[0].ledger("digest", 10).await.unwrap();
        assert_eq!(expired.runs[0].state, LedgerRunState::Interrupted);
        assert_eq!(expired.runs[0].duration, 3500 * MS - MS);
        coordinator.cut.store(false, Ordering::Relaxed);
        sleep(2 * S).await;
        let back = apps[0].ledger("digest", 10).await.unwrap();
        assert_eq!(
            states(&back),
            [
                (7, 1, finished),
                (6, 1, finished),
                (2, 2, finished),
                (1, 1, finished)
            ]
        );
        assert!(back.runs[2].token > cut.runs[0].token);
        assert_eq!(back.missed, 3);
        assert_eq!(*ran.lock().unwrap(), [1, 2, 2, 6, 7]);
        for app in &apps {
            stop(app).await;
        }
    });
}

/// A run of 2.5 s every second on three replicas, overlap forbidden: points 1, 4 and 7 run,
/// the two after each are missed, and every replica's status counts them once, not once per
/// replica; the ledger shows point 7 running.
#[test]
fn the_points_skipped_while_a_run_is_in_flight_are_counted_once_across_replicas() {
    paused("missed points across replicas", REAL_LIMIT, || async {
        let coordinator = InProcess::starting_at(SystemTime::UNIX_EPOCH);
        let ran = Arc::default();
        let apps: Vec<App> = ["a", "b", "c"]
            .into_iter()
            .map(|instance| replica(coordinator.clone(), instance, (2500 * MS, 0), &ran))
            .collect();
        for app in &apps {
            start(app).await;
        }
        sleep(8500 * MS).await;
        assert_eq!(*ran.lock().unwrap(), [1, 4, 7]);
        for app in &apps {
            assert_eq!(app.status().task("digest").unwrap().missed, Some(4));
        }
        let ledger = apps[0].ledger("digest", 10).await.unwrap();
        let states: Vec<_> = ledger
            .runs
            .iter()
            .map(|run| (run.number, run.state))
            .collect();
        assert_eq!(
            states,
            [
                (7, LedgerRunState::Running),
                (4, LedgerRunState::Finished),
                (1, LedgerRunState::Finished)
            ]
        );
        // Running for 1.5 s so far.
        assert_eq!(ledger.runs[0].duration, 1500 * MS - MS);
        sleep(2 * S).await;
        // Point 10 started: 8 and 9 were missed.
        assert_eq!(apps[1].status().task("digest").unwrap().missed, Some(6));
        for app in &apps {
            stop(app).await;
        }
    });
}

/// The in-process ledger, call by call: the runs of the latest points, latest first, their
/// attempts, instances, ends and lease expiries; and the count of missed points, as the caller
/// counted them when it knew the last point, else the points it asked for between the two.
#[test]
fn the_in_process_ledger_shows_its_latest_runs_and_counts_the_points_missed() {
    paused("the in-process ledger read back", REAL_LIMIT, || async {
        let at = |secs: u32| lifespan_core::point_time(SystemTime::UNIX_EPOCH + secs * S);
        let ledger = InProcess::starting_at(SystemTime::UNIX_EPOCH + 100 * S);
        assert_eq!(
            ledger
                .recent_runs("digest", 10)
                .await
                .unwrap()
                .unwrap()
                .runs,
            []
        );
        let request = |instance: &str, point| RunRequest::new("digest", instance, point, 3 * S);
        let first = claimed(&ledger, &request("a", at(90))).await;
        assert!(ledger.finish_run(&first, RunOutcome::Failed).await.unwrap());
        // The caller knew of 90, and counted 91 and 92 before 93, one more for each after.
        let asked = request("b", 0)
            .points(vec![at(93), at(94), at(95)], false)
            .missed(Some(at(90)), vec![2, 3, 4]);
        let second = ledger.claim_run(&asked).await.unwrap();
        assert_eq!(second.run.map(|run| run.point), Some(at(95)));
        assert_eq!(second.missed, Some(4));
        // Its reckoning behind (it knew of 90, the last is 95): of the points it asked for,
        // 96 and 97 lie between 95 and 98.
        sleep(2 * S).await;
        let behind = request("c", 0)
            .points(vec![at(96), at(97), at(98)], false)
            .missed(Some(at(90)), vec![5, 6, 7])
            .overlap(lifespan_core::Overlap::Allow);
        let claim = ledger.claim_run(&behind).await.unwrap();
        assert_eq!(claim.run.as_ref().map(|run| run.point), Some(at(98)));
        assert_eq!(claim.missed, Some(4 + 2));

        // 95's lease (3 s from 100 s) expires at 103 s, 98's at 105 s.
        sleep(S).await;
        let recent = ledger.recent_runs("digest", 10).await.unwrap().unwrap();
        let rows: Vec<_> = recent
            .runs
            .iter()
            .map(|run| (run.point, run.attempt, run.instance.as_str(), run.outcome))
            .collect();
        assert_eq!(
            rows,
            [
                (at(98), 1, "c", None),
                (at(95), 1, "b", None),
                (at(90), 1, "a", Some(RunOutcome::Failed)),
            ]
        );
        let second = SystemTime::UNIX_EPOCH;
        assert_eq!(recent.now, second + 103 * S);
        assert_eq!(recent.runs[1].expires, second + 103 * S);
        assert_eq!(recent.runs[0].expires, second + 105 * S);
        assert_eq!(recent.runs[2].finished, Some(second + 100 * S));
        assert_eq!(recent.missed, 6);
        // Expired: taken over.
        let taken = claimed(&ledger, &request("a", at(99))).await;
        assert_eq!((taken.point, taken.attempt), (at(95), 2));
        let recent = ledger.recent_runs("digest", 2).await.unwrap().unwrap();
        assert_eq!(recent.runs.len(), 2);
        assert_eq!(
            (recent.runs[1].attempt, recent.runs[1].instance.as_str()),
            (2, "a")
        );
    });
}

/// The run `request` starts.
async fn claimed(ledger: &InProcess, request: &RunRequest) -> PointRun {
    let claim = ledger.claim_run(request).await.unwrap();
    match claim.run {
        Some(run) => run,
        None => panic!("no run started: {claim:?}"),
    }
}

/// The in-process coordinator, with its run calls cut off at will (the ledger still readable),
/// and showing its ledger or not (leaving `recent_runs` to its default, as a coordinator
/// written before it existed does).
#[derive(Clone)]
struct Wrapped {
    inner: InProcess,
    cut: Arc<AtomicBool>,
    shows: bool,
}

impl Wrapped {
    fn new(inner: InProcess, shows: bool) -> Self {
        Wrapped {
            inner,
            cut: Arc::default(),
            shows,
        }
    }

    /// `call`'s answer, unless the run calls are cut off: then it is not made (the in-process
    /// coordinator does its work when called, not when awaited).
    fn unless_cut<'a, T: Send + 'a>(
        &self,
        call: impl FnOnce() -> CoordinatorFuture<'a, T>,
    ) -> CoordinatorFuture<'a, T> {
        if self.cut.load(Ordering::Relaxed) {
            Box::pin(async { Err(CoordinatorError::msg("cut off from the coordinator")) })
        } else {
            call()
        }
    }
}

impl Coordinator for Wrapped {
    fn describe(&self) -> String {
        if self.shows {
            self.inner.describe()
        } else {
            "a coordinator without a view".into()
        }
    }

    fn prepare(&self) -> CoordinatorFuture<'_, ()> {
        self.inner.prepare()
    }

    fn acquire<'a>(&'a self, request: &'a LeaseRequest) -> CoordinatorFuture<'a, Acquired> {
        self.inner.acquire(request)
    }

    fn renew<'a>(&'a self, term: &'a Term, lease: Duration) -> CoordinatorFuture<'a, bool> {
        self.inner.renew(term, lease)
    }

    fn release<'a>(&'a self, term: &'a Term) -> CoordinatorFuture<'a, ()> {
        self.inner.release(term)
    }

    fn now(&self) -> CoordinatorFuture<'_, SystemTime> {
        self.unless_cut(|| self.inner.now())
    }

    fn claim_run<'a>(&'a self, request: &'a RunRequest) -> CoordinatorFuture<'a, RunClaim> {
        self.unless_cut(|| self.inner.claim_run(request))
    }

    fn renew_run<'a>(&'a self, run: &'a PointRun, lease: Duration) -> CoordinatorFuture<'a, bool> {
        self.unless_cut(|| self.inner.renew_run(run, lease))
    }

    fn finish_run<'a>(
        &'a self,
        run: &'a PointRun,
        outcome: RunOutcome,
    ) -> CoordinatorFuture<'a, bool> {
        self.unless_cut(|| self.inner.finish_run(run, outcome))
    }

    fn recent_runs<'a>(
        &'a self,
        task: &'a str,
        limit: usize,
    ) -> CoordinatorFuture<'a, Option<RecentRuns>> {
        if self.shows {
            self.inner.recent_runs(task, limit)
        } else {
            Box::pin(async { Ok(None) })
        }
    }
}

/// Each error of `App::ledger` names the task: before the first start, an unknown name, a task
/// that is not once-per-point, a coordinator that shows no ledger.
#[test]
fn the_ledger_s_errors_name_the_task() {
    paused("the ledger's errors", REAL_LIMIT, || async {
        let ran = Arc::default();
        let app = replica(Wrapped::new(InProcess::new(), false), "a", (MS, 0), &ran);
        app.register_task("plain", || async {}).unwrap();
        let error = app.ledger("digest", 10).await.unwrap_err();
        assert!(matches!(error, LedgerError::NotStarted { .. }), "{error}");
        assert_eq!(
            error.to_string(),
            "the ledger of `digest` cannot be read before the app's first start: its tasks are not known yet"
        );
        start(&app).await;
        let error = app.ledger("sweep", 10).await.unwrap_err();
        assert_eq!(
            (error.task(), error.to_string().as_str()),
            (
                "sweep",
                "the ledger of `sweep` cannot be read: the app has no task of that name"
            )
        );
        let error = app.ledger("plain", 10).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "lifespan task `plain` is not once-per-point: no ledger records its runs"
        );
        let error = app.ledger("digest", 10).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "the coordinator (a coordinator without a view) shows no ledger, so none of lifespan task `digest`"
        );
        assert!(matches!(error, LedgerError::NotShown { .. }));
        stop(&app).await;
    });
}

/// The status route shows the ledger of each once-per-point task, read from the coordinator:
/// the runs of another replica, and when the coordinator fails or hangs, that it could not be
/// read, never why (but on the route with errors), within its patience, the rest served.
#[cfg(feature = "axum")]
mod route {
    use super::super::coordinator::TestCoordinator;
    use super::*;

    /// The body of `response`.
    async fn body(response: axum::response::Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    /// Replica a runs points 1 and 2 of the test coordinator's schedule, then b starts.
    async fn two_replicas(coordinator: &TestCoordinator) -> (App, App) {
        let ran = Arc::default();
        coordinator.now().await.unwrap();
        let a = replica(coordinator.clone(), "a", (200 * MS, 2), &ran);
        let b = replica(coordinator.clone(), "b", (200 * MS, 2), &ran);
        start(&a).await;
        sleep(2500 * MS).await;
        stop(&a).await;
        start(&b).await;
        (a, b)
    }

    #[test]
    fn the_status_route_shows_the_runs_of_every_replica() {
        paused("the route's ledger", REAL_LIMIT, || async {
            let coordinator = TestCoordinator::new();
            let (_, b) = two_replicas(&coordinator).await;
            let json = body(lifespan_core::status_handler(b.clone()).await).await;
            assert!(
                json.contains(concat!(
                    r#""missed":0,"ledger":{"has_error":false,"runs":["#,
                    r#"{"number":2,"scheduled_unix_ms":2000,"instance":"a","attempt":1,"token":2,"#,
                    r#""started_unix_ms":2001,"duration_ms":200,"state":"finished","outcome":"failed"},"#,
                    r#"{"number":1,"scheduled_unix_ms":1000,"instance":"a","attempt":1,"token":1,"#,
                    r#""started_unix_ms":1001,"duration_ms":200,"state":"finished","outcome":"succeeded"}]}}"#,
                )),
                "{json}"
            );
            stop(&b).await;
        });
    }

    #[test]
    fn a_failing_or_silent_coordinator_leaves_the_status_served_without_its_error() {
        paused("the route, its coordinator failing", REAL_LIMIT, || async {
            let coordinator = TestCoordinator::new();
            let (_, b) = two_replicas(&coordinator).await;
            coordinator.faults().down.store(true, Ordering::Relaxed);
            let hidden = body(lifespan_core::status_handler(b.clone()).await).await;
            assert!(
                hidden.contains(r#""missed":0,"ledger":{"has_error":true,"runs":[]}}"#),
                "{hidden}"
            );
            assert!(
                hidden.contains(r#""name":"digest""#) && !hidden.contains("down"),
                "{hidden}"
            );
            let shown = body(lifespan_core::status_handler_with_errors(b.clone()).await).await;
            assert!(
                shown.contains(concat!(
                    r#""ledger":{"has_error":true,"error":"reading the ledger of lifespan task `digest` "#,
                    r#"from the coordinator (the test coordinator) failed: the test database is down","runs":[]}"#
                )),
                "{shown}"
            );
            // No answer: the route waits 2 s for it, then serves the rest.
            coordinator.faults().down.store(false, Ordering::Relaxed);
            coordinator
                .faults()
                .delay_ms
                .store(60_000, Ordering::Relaxed);
            let asked = tokio::time::Instant::now();
            let silent = body(lifespan_core::status_handler_with_errors(b.clone()).await).await;
            assert_eq!(asked.elapsed(), 2 * S);
            assert!(
                silent.contains(r#""error":"the ledger of lifespan task `digest` was not read within 2s","runs":[]}"#),
                "{silent}"
            );
            coordinator.faults().delay_ms.store(0, Ordering::Relaxed);
            stop(&b).await;
        });
    }

    #[test]
    fn a_coordinator_that_shows_no_ledger_gives_a_null_ledger() {
        paused("the route, no ledger shown", REAL_LIMIT, || async {
            let ran = Arc::default();
            let hidden = Wrapped::new(InProcess::starting_at(SystemTime::UNIX_EPOCH), false);
            let app = replica(hidden, "a", (MS, 0), &ran);
            start(&app).await;
            sleep(1500 * MS).await;
            let json = body(lifespan_core::status_handler(app.clone()).await).await;
            assert!(json.contains(r#""missed":0,"ledger":null}"#), "{json}");
            stop(&app).await;
        });
    }
}

/// Each outcome of a run is recorded in the ledger under its name: a run that returns `Ok`,
/// one that returns an error, one that panics (each task ends for good after its first run
/// that fails: a restart would retry the point under its lease).
#[test]
fn the_ledger_records_each_runs_outcome() {
    paused("the outcomes in the ledger", REAL_LIMIT, || async {
        let coordinator = InProcess::starting_at(SystemTime::UNIX_EPOCH);
        let app = super::bare_replica(coordinator, "a");
        let options = TaskOptions::new().every(S).once_per_point(true);
        app.register_task_with("succeeds", options.clone(), || async {})
            .unwrap();
        app.register_task_with("fails", options.clone(), || async {
            anyhow::bail!("it fails")
        })
        .unwrap();
        app.register_task_with("panics", options, || async { panic!("it panics") })
            .unwrap();
        start(&app).await;
        sleep(1500 * MS).await;
        for (task, outcome) in [
            ("succeeds", RunOutcome::Succeeded),
            ("fails", RunOutcome::Failed),
            ("panics", RunOutcome::Panicked),
        ] {
            let ledger = bounded("the ledger", WAIT_LIMIT, app.ledger(task, 10))
                .await
                .unwrap();
            let outcomes: Vec<_> = ledger
                .runs
                .iter()
                .map(|run| (run.number, run.outcome))
                .collect();
            assert_eq!(outcomes, [(1, Some(outcome))], "{task}");
        }
        stop(&app).await;
    });
}

/// The in-process ledger keeps the runs in flight and the latest 100 finished ones: after 150
/// points, the oldest 50 are forgotten, the run in flight (the earliest point) kept.
#[test]
fn the_in_process_ledger_keeps_the_latest_100_finished_runs_and_those_in_flight() {
    paused("the in-process ledger's retention", REAL_LIMIT, || async {
        let at = |secs: u32| lifespan_core::point_time(SystemTime::UNIX_EPOCH + secs * S);
        let ledger = InProcess::starting_at(SystemTime::UNIX_EPOCH + 1000 * S);
        let request = |point| {
            RunRequest::new("digest", "a", point, 3600 * S).overlap(lifespan_core::Overlap::Allow)
        };
        // Point 1 stays in flight; 2 to 151 finish.
        claimed(&ledger, &request(at(1))).await;
        for secs in 2..=151 {
            let run = claimed(&ledger, &request(at(secs))).await;
            assert!(ledger
                .finish_run(&run, RunOutcome::Succeeded)
                .await
                .unwrap());
        }
        let recent = ledger.recent_runs("digest", 1000).await.unwrap().unwrap();
        let points: Vec<i64> = recent.runs.iter().map(|run| run.point).collect();
        let mut kept: Vec<i64> = (52..=151).rev().map(at).collect();
        kept.push(at(1));
        assert_eq!(points, kept);
    });
}

/// The in-process ledger renews a run only while its lease lasts: an expired run, even one no
/// other replica has taken over yet, is not renewed (its replica must stop), and its end is
/// still recorded.
#[test]
fn the_in_process_ledger_renews_a_run_only_before_its_lease_expires() {
    paused("the in-process ledger's renewals", REAL_LIMIT, || async {
        let at = |secs: u32| lifespan_core::point_time(SystemTime::UNIX_EPOCH + secs * S);
        let ledger = InProcess::starting_at(SystemTime::UNIX_EPOCH + 10 * S);
        let run = claimed(&ledger, &RunRequest::new("digest", "a", at(9), 3 * S)).await;
        sleep(2 * S).await;
        assert!(
            ledger.renew_run(&run, 3 * S).await.unwrap(),
            "within its lease"
        );
        sleep(3 * S).await;
        assert!(
            !ledger.renew_run(&run, 3 * S).await.unwrap(),
            "renewed at its expiry"
        );
        assert!(ledger
            .finish_run(&run, RunOutcome::Succeeded)
            .await
            .unwrap());
    });
}

/// A cron schedule's points missed while every replica was down are counted as `every`'s are
/// (its occurrences between the last one started and the next one started).
#[cfg(feature = "cron")]
#[test]
fn the_occurrences_of_a_cron_schedule_missed_while_every_replica_was_down_are_counted() {
    paused("cron occurrences missed", REAL_LIMIT, || async {
        let coordinator = InProcess::starting_at(SystemTime::UNIX_EPOCH);
        let options = TaskOptions::new()
            .cron("* * * * * *")
            .unwrap()
            .once_per_point(true);
        let replica = |instance: &'static str| {
            let app = super::bare_replica(coordinator.clone(), instance);
            app.register_task_with("digest", options.clone(), || async {})
                .unwrap();
            app
        };
        let (a, b) = (replica("a"), replica("b"));
        start(&a).await;
        sleep(2500 * MS).await;
        stop(&a).await;
        // Down across the occurrences of 3 s, 4 s, 5 s and 6 s.
        sleep(4 * S).await;
        start(&b).await;
        sleep(S).await;
        let ledger = bounded("the ledger", WAIT_LIMIT, b.ledger("digest", 10))
            .await
            .unwrap();
        let numbers: Vec<i64> = ledger.runs.iter().map(|run| run.number).collect();
        assert_eq!(numbers, [7, 2, 1]);
        assert_eq!(ledger.missed, 4);
        assert_eq!(b.status().task("digest").unwrap().missed, Some(4));
        stop(&b).await;
    });
}
