//! The run ledger on virtual time: a point's run is leased, taken over as its next attempt when
//! its replica stops renewing, never overlaps another run across replicas unless allowed, and
//! missed points follow the misfire policy. The rules of the in-process ledger, call by call.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use lifespan_core::{
    point_time, App, Coordinator, CoordinatorError, CoordinatorFuture, InProcess, Misfire, Overlap,
    Point, PointRun, RunClaim, RunOutcome, RunRequest, TaskOptions,
};
use lifespan_test_support::{bounded, WAIT_LIMIT};
use tokio::time::{sleep, Instant};

use super::real_time::{paused, REAL_LIMIT};
use super::{fast, wait_while, MS, S};

/// The point at `secs` seconds after the epoch, in µs.
fn at(secs: u64) -> i64 {
    point_time(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// The in-process ledger, call by call: a run starts once per point, is taken over as attempt 2
/// with a greater token once its lease expires, a stale attempt can neither renew nor finish,
/// and the points asked for are chosen by due time, grace, hold and the earliest/latest rule.
#[test]
fn the_in_process_ledger_keeps_the_rules_of_runs() {
    paused("the ledger's rules", REAL_LIMIT, || async {
        let ledger = InProcess::starting_at(SystemTime::UNIX_EPOCH + Duration::from_secs(100));
        let request = |instance: &str, point| RunRequest::new("digest", instance, point, 3 * S);
        // Not yet due on the coordinator's clock: refused.
        let early = ledger.claim_run(&request("a", at(101))).await.unwrap();
        assert_eq!((early.run, early.previous), (None, None));
        let first = ledger.claim_run(&request("a", at(100))).await.unwrap();
        let run = first.run.expect("a due point starts");
        assert_eq!(
            (run.point, run.attempt, run.instance.as_str()),
            (at(100), 1, "a")
        );
        assert_eq!(first.now, SystemTime::UNIX_EPOCH + Duration::from_secs(100));
        // In flight, overlap forbidden: nothing starts, not even a later point.
        sleep(2 * S).await;
        let blocked = ledger.claim_run(&request("b", at(102))).await.unwrap();
        assert!(blocked.in_flight && blocked.run.is_none(), "{blocked:?}");
        assert_eq!(blocked.previous, Some(at(100)));
        // Renewed while current; expired 3 s after the renewal: taken over as attempt 2.
        assert!(ledger.renew_run(&run, 3 * S).await.unwrap());
        sleep(3 * S).await;
        let taken = ledger.claim_run(&request("b", at(105))).await.unwrap();
        let second = taken.run.expect("an expired run is taken over");
        assert_eq!(
            (second.point, second.attempt, second.instance.as_str()),
            (at(100), 2, "b")
        );
        assert!(
            second.token > run.token,
            "{} after {}",
            second.token,
            run.token
        );
        // The stale attempt can neither renew nor finish; the current one finishes once.
        assert!(!ledger.renew_run(&run, 3 * S).await.unwrap());
        assert!(!ledger
            .finish_run(&run, RunOutcome::Succeeded)
            .await
            .unwrap());
        assert!(ledger
            .finish_run(&second, RunOutcome::Succeeded)
            .await
            .unwrap());
        assert!(!ledger
            .finish_run(&second, RunOutcome::Succeeded)
            .await
            .unwrap());
        the_points_asked_for_are_chosen_by_time_grace_and_hold(&ledger).await;
    });
}

/// The ledger of the test above at 105 s, point 100 finished: which of the points asked for
/// starts.
async fn the_points_asked_for_are_chosen_by_time_grace_and_hold(ledger: &InProcess) {
    let request = |instance: &str, point| RunRequest::new("digest", instance, point, 3 * S);
    // Three points missed (101..=104), 105 due: the latest starts, or the earliest.
    let points = vec![at(101), at(102), at(103), at(104), at(105), at(106)];
    let latest = ledger
        .claim_run(&request("a", 0).points(points.clone(), false).hold(2 * S))
        .await
        .unwrap();
    let latest = latest.run.expect("the latest due point starts");
    assert_eq!(latest.point, at(105));
    assert!(ledger
        .finish_run(&latest, RunOutcome::Failed)
        .await
        .unwrap());
    // Within the hold of 105, and nothing later than it is due: nothing.
    sleep(S).await;
    let held = ledger
        .claim_run(&request("a", 0).points(points.clone(), true))
        .await
        .unwrap();
    assert!(held.run.is_none() && !held.in_flight, "{held:?}");
    // At 108, with a grace of 2 s: 106 is too old, 107 starts as the earliest eligible.
    sleep(2 * S).await;
    let caught = ledger
        .claim_run(
            &request("a", 0)
                .points(vec![at(106), at(107), at(108)], true)
                .grace(Some(1500 * MS)),
        )
        .await
        .unwrap();
    assert_eq!(caught.run.map(|run| run.point), Some(at(107)));
    // Overlap allowed: 108 starts beside 107's run.
    let beside = ledger
        .claim_run(&request("b", at(108)).overlap(Overlap::Allow))
        .await
        .unwrap();
    assert_eq!(beside.run.map(|run| run.point), Some(at(108)));
}

/// A coordinator that one replica can be cut off from, as a paused or partitioned process is.
#[derive(Clone)]
struct Cuttable {
    inner: InProcess,
    cut: Arc<AtomicBool>,
}

impl Cuttable {
    fn check(&self) -> Result<(), CoordinatorError> {
        if self.cut.load(Ordering::Relaxed) {
            Err(CoordinatorError::msg("this replica is cut off"))
        } else {
            Ok(())
        }
    }
}

impl Coordinator for Cuttable {
    fn describe(&self) -> String {
        "a coordinator that can be cut off".into()
    }
    fn prepare(&self) -> CoordinatorFuture<'_, ()> {
        self.inner.prepare()
    }
    fn acquire<'a>(
        &'a self,
        request: &'a lifespan_core::LeaseRequest,
    ) -> CoordinatorFuture<'a, lifespan_core::Acquired> {
        self.inner.acquire(request)
    }
    fn renew<'a>(
        &'a self,
        term: &'a lifespan_core::Term,
        lease: Duration,
    ) -> CoordinatorFuture<'a, bool> {
        self.inner.renew(term, lease)
    }
    fn release<'a>(&'a self, term: &'a lifespan_core::Term) -> CoordinatorFuture<'a, ()> {
        self.inner.release(term)
    }
    fn now(&self) -> CoordinatorFuture<'_, SystemTime> {
        Box::pin(async move {
            self.check()?;
            self.inner.now().await
        })
    }
    fn claim_run<'a>(&'a self, request: &'a RunRequest) -> CoordinatorFuture<'a, RunClaim> {
        Box::pin(async move {
            self.check()?;
            self.inner.claim_run(request).await
        })
    }
    fn renew_run<'a>(&'a self, run: &'a PointRun, lease: Duration) -> CoordinatorFuture<'a, bool> {
        Box::pin(async move {
            self.check()?;
            self.inner.renew_run(run, lease).await
        })
    }
    fn finish_run<'a>(
        &'a self,
        run: &'a PointRun,
        outcome: RunOutcome,
    ) -> CoordinatorFuture<'a, bool> {
        Box::pin(async move {
            self.check()?;
            self.inner.finish_run(run, outcome).await
        })
    }
}

/// What a run saw: the replica, its point's number and attempt, its token, when it started
/// and ended (virtual time since the test's start).
#[derive(Clone, Debug)]
struct Seen {
    instance: &'static str,
    number: i64,
    attempt: u32,
    token: i64,
    began: Duration,
    ended: Option<Duration>,
}

type Runs = Arc<Mutex<Vec<Seen>>>;

/// A replica `instance` on `coordinator`, whose once-per-point task `digest` runs for `work`
/// (or until its signal) and logs each run into `runs`.
fn replica(
    coordinator: impl Coordinator,
    instance: &'static str,
    options: TaskOptions,
    work: Duration,
    runs: &Runs,
    epoch: Instant,
) -> App {
    let app = App::builder()
        .empty()
        .coordinator(coordinator)
        .instance(instance)
        .lease(fast())
        .build();
    let runs = runs.clone();
    app.register_task_with(
        "digest",
        options,
        move |point: Point, shutdown: lifespan_core::Shutdown| {
            let runs = runs.clone();
            async move {
                let index = {
                    let mut runs = runs.lock().unwrap();
                    runs.push(Seen {
                        instance,
                        number: point.number(),
                        attempt: point.attempt(),
                        token: point.token(),
                        began: epoch.elapsed(),
                        ended: None,
                    });
                    runs.len() - 1
                };
                shutdown.run_until_cancelled(sleep(work)).await;
                runs.lock().unwrap()[index].ended = Some(epoch.elapsed());
            }
        },
    )
    .unwrap();
    app
}

/// No two runs of the task at once, on any replicas: each began after the one before ended.
fn assert_no_overlap(runs: &[Seen]) {
    for pair in runs.windows(2) {
        let ended = pair[0]
            .ended
            .expect("a run that was followed by another ended");
        assert!(
            ended <= pair[1].began,
            "two runs at once: {:?} and {:?}",
            pair[0],
            pair[1]
        );
    }
}

/// A run of 2.5 s every second on three replicas: overlap forbidden, no two runs at once and
/// the points due meanwhile are skipped; `Overlap::Allow` lets them run side by side.
#[test]
fn a_run_longer_than_the_period_never_overlaps_across_replicas_unless_allowed() {
    paused("overlap across replicas", REAL_LIMIT, || async {
        for overlap in [Overlap::Forbid, Overlap::Allow] {
            let coordinator = InProcess::starting_at(SystemTime::UNIX_EPOCH);
            let epoch = Instant::now();
            let runs: Runs = Arc::default();
            let options = TaskOptions::new()
                .every(S)
                .once_per_point(true)
                .overlap(overlap);
            let apps: Vec<App> = ["a", "b", "c"]
                .into_iter()
                .map(|name| {
                    replica(
                        coordinator.clone(),
                        name,
                        options.clone(),
                        2500 * MS,
                        &runs,
                        epoch,
                    )
                })
                .collect();
            for app in &apps {
                bounded("start", WAIT_LIMIT, app.start()).await.unwrap();
            }
            sleep(10 * S).await;
            for app in &apps {
                bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
            }
            let runs = runs.lock().unwrap().clone();
            let numbers: Vec<i64> = runs.iter().map(|run| run.number).collect();
            match overlap {
                Overlap::Forbid => {
                    assert_no_overlap(&runs);
                    // A run every 3 s: points 1, 4, 7 (and 10, cut by the shutdown).
                    assert!((3..=4).contains(&runs.len()), "{runs:?}");
                    assert_eq!(&numbers[..3], &[1, 4, 7], "{runs:?}");
                }
                _ => assert!(numbers.len() >= 9, "every point runs: {numbers:?}"),
            }
        }
    });
}

/// The replica running a point is cut off from the coordinator (paused, partitioned): its run
/// stops on its signal at the renew deadline, and once the run's lease expires another replica
/// takes the point over as attempt 2, with a greater token, never both at once.
#[test]
fn a_point_whose_replica_is_cut_off_is_taken_over_as_its_next_attempt() {
    paused("takeover of a point", REAL_LIMIT, || async {
        let shared = InProcess::starting_at(SystemTime::UNIX_EPOCH);
        let cut = Arc::new(AtomicBool::new(false));
        let a = Cuttable {
            inner: shared.clone(),
            cut: cut.clone(),
        };
        let epoch = Instant::now();
        let runs: Runs = Arc::default();
        let options = TaskOptions::new().every(10 * S).once_per_point(true);
        let first = replica(a, "a", options.clone(), 8 * S, &runs, epoch);
        bounded("start a", WAIT_LIMIT, first.start()).await.unwrap();
        wait_while("a runs point 1", || runs.lock().unwrap().is_empty()).await;
        let second = replica(shared.clone(), "b", options, 3 * S, &runs, epoch);
        bounded("start b", WAIT_LIMIT, second.start())
            .await
            .unwrap();
        cut.store(true, Ordering::Relaxed);
        wait_while("b takes point 1 over", || runs.lock().unwrap().len() < 2).await;
        let seen = runs.lock().unwrap().clone();
        let (lost, taken) = (&seen[0], &seen[1]);
        assert_eq!(
            (lost.instance, lost.number, lost.attempt),
            ("a", 1, 1),
            "{seen:?}"
        );
        assert_eq!(
            (taken.instance, taken.number, taken.attempt),
            ("b", 1, 2),
            "{seen:?}"
        );
        assert!(taken.token > lost.token, "{seen:?}");
        assert_no_overlap(&seen);
        // Taken over within the lease (3 s) and a retry (500 ms) of the cut.
        assert!(
            taken.began <= 10 * S + 3 * S + 500 * MS + 10 * MS,
            "{seen:?}"
        );
        bounded("shutdown a", WAIT_LIMIT, first.shutdown()).await;
        bounded("shutdown b", WAIT_LIMIT, second.shutdown()).await;
    });
}

/// Every replica down across points 3 to 6 (due at 3..=6 s), a replica up again at 6.5 s: the
/// misfire policy says which of them run, exactly.
#[test]
fn points_missed_while_every_replica_was_down_follow_the_misfire_policy() {
    paused("misfire policies", REAL_LIMIT, || async {
        let cases = [
            (Misfire::Skip, None, vec![1, 2, 7]),
            (Misfire::Latest, None, vec![1, 2, 6, 7]),
            (Misfire::Latest, Some(200 * MS), vec![1, 2, 7]),
            (Misfire::All, None, vec![1, 2, 5, 6, 7]),
        ];
        for (misfire, grace, expected) in cases {
            let coordinator = InProcess::starting_at(SystemTime::UNIX_EPOCH);
            let epoch = Instant::now();
            let runs: Runs = Arc::default();
            let mut options = TaskOptions::new()
                .every(S)
                .once_per_point(true)
                .misfire(misfire);
            if misfire == Misfire::All {
                options = options.misfire_limit(2);
            }
            if let Some(grace) = grace {
                options = options.misfire_grace(grace);
            }
            let up = replica(
                coordinator.clone(),
                "a",
                options.clone(),
                10 * MS,
                &runs,
                epoch,
            );
            bounded("start", WAIT_LIMIT, up.start()).await.unwrap();
            sleep(2500 * MS).await;
            bounded("shutdown", WAIT_LIMIT, up.shutdown()).await;
            sleep(4 * S).await;
            let again = replica(coordinator, "b", options, 10 * MS, &runs, epoch);
            bounded("start again", WAIT_LIMIT, again.start())
                .await
                .unwrap();
            sleep(1 * S).await;
            bounded("shutdown again", WAIT_LIMIT, again.shutdown()).await;
            let numbers: Vec<i64> = runs.lock().unwrap().iter().map(|run| run.number).collect();
            assert_eq!(numbers, expected, "{misfire:?} with a grace of {grace:?}");
        }
    });
}

/// A run's injected point carries its number on the schedule (`every`: n for the point due at
/// n × period), its first attempt, and tokens that grow from point to point.
#[test]
fn each_run_is_given_its_point() {
    paused("the injected point", REAL_LIMIT, || async {
        let epoch = Instant::now();
        let runs: Runs = Arc::default();
        let options = TaskOptions::new().every(S).once_per_point(true);
        let app = replica(
            InProcess::starting_at(SystemTime::UNIX_EPOCH + Duration::from_secs(3600)),
            "a",
            options,
            10 * MS,
            &runs,
            epoch,
        );
        bounded("start", WAIT_LIMIT, app.start()).await.unwrap();
        sleep(3500 * MS).await;
        bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
        let runs = runs.lock().unwrap().clone();
        let numbers: Vec<(i64, u32)> = runs.iter().map(|run| (run.number, run.attempt)).collect();
        assert_eq!(numbers, vec![(3601, 1), (3602, 1), (3603, 1)]);
        assert!(
            runs.windows(2).all(|pair| pair[0].token < pair[1].token),
            "{runs:?}"
        );
        // Each began on its point (a millisecond's margin after it).
        for (i, run) in runs.iter().enumerate() {
            let due = (i as u32 + 1) * S;
            assert!(run.began >= due && run.began <= due + 5 * MS, "{run:?}");
        }
    });
}

/// A cron schedule's occurrences are reckoned on the coordinator's clock, whatever this
/// process's clock says: the coordinator's reads 00:00:30 on 1 January 2026 while this
/// machine's reads today's date, and the minutely occurrences run 30 s, 90 s and 150 s in,
/// numbered by their times on the coordinator's clock.
#[cfg(feature = "cron")]
#[test]
fn cron_occurrences_follow_the_coordinators_clock_not_the_replicas() {
    paused("cron on the coordinator's clock", REAL_LIMIT, || async {
        let new_year = 1_767_225_600; // 2026-01-01T00:00:00Z
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(new_year + 30);
        let epoch = Instant::now();
        let runs: Runs = Arc::default();
        let options = TaskOptions::new()
            .cron("0 * * * * *")
            .unwrap()
            .once_per_point(true);
        let app = replica(
            InProcess::starting_at(start),
            "a",
            options,
            10 * MS,
            &runs,
            epoch,
        );
        bounded("start", WAIT_LIMIT, app.start()).await.unwrap();
        sleep(160 * S).await;
        bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
        let runs = runs.lock().unwrap().clone();
        let numbers: Vec<i64> = runs.iter().map(|run| run.number).collect();
        let minute = |n: u64| (new_year + 60 * n) as i64;
        assert_eq!(numbers, vec![minute(1), minute(2), minute(3)], "{runs:?}");
        for (run, at) in runs.iter().zip([30, 90, 150]) {
            let due = Duration::from_secs(at);
            assert!(run.began >= due && run.began <= due + 5 * MS, "{run:?}");
        }
    });
}

/// A cron schedule with more occurrences a day than the runtime once looked at (every second:
/// 86,400) runs the occurrence due now, numbered by its own time, not one of a day before. The
/// runtime looked for the latest occurrences by walking at most 10,000 of them from a day back,
/// so it claimed, one a second, the occurrences of 21 h 13 min 20 s earlier (found by the
/// process test of a replica whose clock is ahead, `tests/suite/ledger_replicas.rs`).
#[cfg(feature = "cron")]
#[test]
fn a_cron_schedule_of_every_second_runs_the_occurrences_due_now() {
    paused("cron of every second", REAL_LIMIT, || async {
        let new_year = 1_767_225_600; // 2026-01-01T00:00:00Z
        let start = SystemTime::UNIX_EPOCH + Duration::from_millis(new_year * 1000 + 500);
        let epoch = Instant::now();
        let runs: Runs = Arc::default();
        let options = TaskOptions::new()
            .cron("* * * * * *")
            .unwrap()
            .once_per_point(true);
        let app = replica(
            InProcess::starting_at(start),
            "a",
            options,
            10 * MS,
            &runs,
            epoch,
        );
        bounded("start", WAIT_LIMIT, app.start()).await.unwrap();
        sleep(3 * S).await;
        bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
        let runs = runs.lock().unwrap().clone();
        let numbers: Vec<i64> = runs.iter().map(|run| run.number).collect();
        let second = |n: u64| (new_year + n) as i64;
        assert_eq!(numbers, vec![second(1), second(2), second(3)], "{runs:?}");
    });
}
