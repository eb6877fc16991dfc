//! The run ledger of `PgCoordinator`: which replica starts each point, takeovers of runs whose
//! lease expired, overlap, misfire choices, grace, hold, renewals and ends of runs, and the
//! finished runs kept. Each test uses task names of its own; points are times a while before
//! the database's clock, so that they are due.

use std::time::{Duration, Instant};

use super::common::*;
use lifespan_core::{Coordinator, Overlap, PointRun, RunOutcome, RunRequest};
use lifespan_postgres::PgCoordinator;
use lifespan_test_support::unique_name;

/// A second, in µs.
const SECOND: i64 = 1_000_000;

/// A short run lease, that tests wait out.
const SHORT: Duration = Duration::from_millis(300);

/// Point times `n` s before the database's clock now, for each `n` of `ago`, earliest first.
async fn points_ago(coordinator: &PgCoordinator, ago: &[i64]) -> Vec<i64> {
    let now = db_now(coordinator).await;
    ago.iter().map(|seconds| now - seconds * SECOND).collect()
}

/// The number of rows of `task` in the ledger, finished and unfinished.
async fn ledger_rows(database: &lifespan_test_support::TestDatabase, task: &str) -> (i64, i64) {
    sqlx::query_as(
        "SELECT count(*) FILTER (WHERE finished_at IS NOT NULL), \
         count(*) FILTER (WHERE finished_at IS NULL) FROM lifespan_runs WHERE task = $1",
    )
    .bind(task)
    .fetch_one(&mut admin(database).await)
    .await
    .unwrap()
}

#[tokio::test]
async fn exactly_one_replica_starts_a_point() {
    with_database("one run", |database| async move {
        let task = unique_name("one-run");
        let replicas = [
            prepared(database, "lifespan-run-a").await,
            prepared(database, "lifespan-run-b").await,
            prepared(database, "lifespan-run-c").await,
        ];
        let point = points_ago(&replicas[0], &[1]).await[0];
        let request = |i: usize| RunRequest::new(&task, ["a", "b", "c"][i], point, LONG);
        let requests = [request(0), request(1), request(2)];
        let (a, b, c) = tokio::join!(
            claim(&replicas[0], &requests[0]),
            claim(&replicas[1], &requests[1]),
            claim(&replicas[2], &requests[2])
        );
        let runs: Vec<PointRun> = [&a, &b, &c]
            .iter()
            .filter_map(|claim| claim.run.clone())
            .collect();
        assert_eq!(runs.len(), 1, "{a:?} {b:?} {c:?}");
        assert_eq!(
            (runs[0].point, runs[0].attempt, runs[0].token),
            (point, 1, 1)
        );
        for claim in [&a, &b, &c] {
            if claim.run.is_none() {
                // Waited for the winner's transaction: its point was the last, its run in
                // flight.
                assert_eq!(claim.previous, Some(point), "{claim:?}");
                assert!(claim.in_flight, "{claim:?}");
            } else {
                assert_eq!(claim.previous, None);
            }
        }
        // Once the task has its row: four statements (BEGIN, the lock, the claim, COMMIT).
        let before = replicas[0].queries();
        let again = claim(&replicas[0], &requests[0]).await;
        assert_eq!(replicas[0].queries() - before, 4);
        assert!(again.run.is_none() && again.in_flight, "{again:?}");
        assert_eq!(ledger_rows(database, &task).await, (0, 1));
    })
    .await;
}

#[tokio::test]
async fn an_expired_run_is_taken_over_as_its_next_attempt_with_a_greater_token() {
    with_database("takeover", |database| async move {
        let task = unique_name("takeover");
        let a = prepared(database, "lifespan-takeover-a").await;
        let b = prepared(database, "lifespan-takeover-b").await;
        let points = points_ago(&a, &[5, 1]).await;
        let first = started(claim(&a, &RunRequest::new(&task, "a", points[0], SHORT)).await);
        // Whatever b asks for, the interrupted run comes first, once its lease expired.
        let asked = RunRequest::new(&task, "b", points[1], LONG);
        let second = claim_when_due(&b, &asked).await;
        assert_eq!(
            (second.point, second.attempt, second.instance.as_str()),
            (points[0], 2, "b")
        );
        assert!(second.token > first.token, "{first:?} {second:?}");
        assert!(second.started > first.started);
        // The first attempt can neither renew nor finish; the second can.
        assert!(!a.renew_run(&first, LONG).await.unwrap());
        assert!(!a.finish_run(&first, RunOutcome::Succeeded).await.unwrap());
        assert!(b.renew_run(&second, LONG).await.unwrap());
        assert!(b.finish_run(&second, RunOutcome::Succeeded).await.unwrap());
        // Then the point asked for starts, after the point taken over.
        let third = claim(&b, &asked).await;
        assert_eq!(third.previous, Some(points[0]));
        let third = third.run.expect("the next point");
        assert_eq!((third.point, third.attempt), (points[1], 1));
        assert!(third.token > second.token);
    })
    .await;
}

#[tokio::test]
async fn overlap_forbidden_reports_a_run_in_flight_and_allowed_starts_the_next_point() {
    with_database("overlap", |database| async move {
        let task = unique_name("overlap");
        let a = prepared(database, "lifespan-overlap").await;
        let points = points_ago(&a, &[5, 1]).await;
        let first = started(claim(&a, &RunRequest::new(&task, "a", points[0], LONG)).await);
        let forbid = RunRequest::new(&task, "b", points[1], LONG);
        let claimed = claim(&a, &forbid).await;
        assert!(claimed.run.is_none() && claimed.in_flight, "{claimed:?}");
        assert_eq!(claimed.previous, Some(points[0]));
        let allow = forbid.clone().overlap(Overlap::Allow);
        let claimed = claim(&a, &allow).await;
        assert!(!claimed.in_flight, "{claimed:?}");
        let second = claimed.run.expect("overlap allowed: the next point starts");
        assert_eq!((second.point, second.attempt), (points[1], 1));
        assert!(second.token > first.token);
        assert_eq!(ledger_rows(database, &task).await, (0, 2));
    })
    .await;
}

#[tokio::test]
async fn the_earliest_or_the_latest_point_asked_for_starts() {
    with_database("earliest or latest", |database| async move {
        let task = unique_name("earliest");
        let a = prepared(database, "lifespan-earliest").await;
        let points = points_ago(&a, &[30, 20, 10, 5]).await;
        let asked =
            |earliest| RunRequest::new(&task, "a", 0, LONG).points(points[..3].to_vec(), earliest);
        let first = started(claim(&a, &asked(true)).await);
        assert_eq!(first.point, points[0]);
        assert!(a.finish_run(&first, RunOutcome::Failed).await.unwrap());
        let second = started(claim(&a, &asked(true)).await);
        assert_eq!(second.point, points[1]);
        assert!(a.finish_run(&second, RunOutcome::Succeeded).await.unwrap());
        // The latest: the third point; the ones before it are missed.
        let third = started(claim(&a, &asked(false)).await);
        assert_eq!(third.point, points[2]);
        assert!(a.finish_run(&third, RunOutcome::Succeeded).await.unwrap());
        // Nothing later than the last point among those asked for: nothing starts.
        let claimed = claim(&a, &asked(true)).await;
        assert!(claimed.run.is_none() && !claimed.in_flight, "{claimed:?}");
        assert_eq!(claimed.previous, Some(points[2]));
        let outcomes: Vec<String> =
            sqlx::query_scalar("SELECT outcome FROM lifespan_runs WHERE task = $1 ORDER BY point")
                .bind(&task)
                .fetch_all(&mut admin(database).await)
                .await
                .unwrap();
        assert_eq!(outcomes, ["failed", "succeeded", "succeeded"]);
    })
    .await;
}

#[tokio::test]
async fn a_point_older_than_the_grace_period_or_not_yet_due_is_not_started() {
    with_database("grace", |database| async move {
        let task = unique_name("grace");
        let a = prepared(database, "lifespan-grace").await;
        let now = db_now(&a).await;
        let grace = Some(Duration::from_secs(30));
        // Due in a minute on the database's clock: refused.
        let early = RunRequest::new(&task, "a", now + 60 * SECOND, LONG);
        let claimed = claim(&a, &early).await;
        assert!(
            claimed.run.is_none() && claimed.previous.is_none(),
            "{claimed:?}"
        );
        // An hour ago, with a grace period of 30 s: refused; without one: started.
        let old = RunRequest::new(&task, "a", now - 3600 * SECOND, LONG);
        let claimed = claim(&a, &old.clone().grace(grace)).await;
        assert!(claimed.run.is_none() && !claimed.in_flight, "{claimed:?}");
        let run = started(claim(&a, &old).await);
        assert!(a.finish_run(&run, RunOutcome::Succeeded).await.unwrap());
        // Of an old point and a recent one, the earliest within the grace period starts.
        let points = vec![now - 600 * SECOND, now - 10 * SECOND];
        let both = old.points(points.clone(), true).grace(grace);
        let run = started(claim(&a, &both).await);
        assert_eq!(run.point, points[1]);
        // The clock answered is the database's.
        let claimed = claim(&a, &both).await;
        let answered = lifespan_core::point_time(claimed.now);
        assert!(
            answered >= now && answered - now < 60 * SECOND,
            "{claimed:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_hold_keeps_the_next_point_from_starting_until_it_passes() {
    with_database("hold", |database| async move {
        let task = unique_name("hold");
        let hold = Duration::from_millis(400);
        let a = prepared(database, "lifespan-run-hold-a").await;
        let b = prepared(database, "lifespan-run-hold-b").await;
        let points = points_ago(&a, &[5, 1]).await;
        let began = Instant::now();
        let first = RunRequest::new(&task, "a", points[0], LONG).hold(hold);
        let first = started(claim(&a, &first).await);
        assert!(a.finish_run(&first, RunOutcome::Succeeded).await.unwrap());
        let next = RunRequest::new(&task, "b", points[1], LONG).hold(hold);
        let second = claim_when_due(&b, &next).await;
        assert!(
            began.elapsed() >= hold,
            "started {:?} after the first, within its hold",
            began.elapsed()
        );
        assert_eq!((second.point, second.attempt), (points[1], 1));
    })
    .await;
}

#[tokio::test]
async fn renewing_or_finishing_a_run_that_is_not_current_is_refused() {
    with_database("stale runs", |database| async move {
        let task = unique_name("stale-runs");
        let a = prepared(database, "lifespan-stale-runs").await;
        let point = points_ago(&a, &[1]).await[0];
        let run = started(claim(&a, &RunRequest::new(&task, "a", point, SHORT)).await);
        let before = a.queries();
        assert!(a.renew_run(&run, LONG).await.unwrap());
        assert_eq!(a.queries() - before, 1, "one statement per renewal");
        let left: f64 = sqlx::query_scalar(
            "SELECT extract(epoch FROM expires_at - now())::float8 FROM lifespan_runs \
             WHERE task = $1",
        )
        .bind(&task)
        .fetch_one(&mut admin(database).await)
        .await
        .unwrap();
        assert!(left > 590.0, "{left}");
        let mut stranger = run.clone();
        stranger.token += 1;
        assert!(!a.renew_run(&stranger, LONG).await.unwrap());
        assert!(!a
            .finish_run(&stranger, RunOutcome::Succeeded)
            .await
            .unwrap());
        let before = a.queries();
        assert!(a.finish_run(&run, RunOutcome::Cancelled).await.unwrap());
        assert_eq!(a.queries() - before, 1, "one statement per finish");
        // Finished: neither renewed nor finished again.
        assert!(!a.renew_run(&run, LONG).await.unwrap());
        assert!(!a.finish_run(&run, RunOutcome::Succeeded).await.unwrap());
        assert_eq!(ledger_rows(database, &task).await, (1, 0));
    })
    .await;
}

#[tokio::test]
async fn an_expired_run_is_not_renewed() {
    with_database("expired run", |database| async move {
        let task = unique_name("expired-run");
        let a = prepared(database, "lifespan-expired-run").await;
        let point = points_ago(&a, &[1]).await[0];
        let short = Duration::from_millis(50);
        let run = started(claim(&a, &RunRequest::new(&task, "a", point, short)).await);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!a.renew_run(&run, LONG).await.unwrap());
        // Not taken over yet: its end is still recorded.
        assert!(a.finish_run(&run, RunOutcome::TimedOut).await.unwrap());
    })
    .await;
}

/// A run starts, in the ledger, when the claim decides, after every run it saw finish: a claim
/// that waited for the task's row while the run in flight finished starts the next point after
/// that run's end. Its `started_at` was its transaction's start, before the wait, so the
/// ledger showed two runs of a task overlapping under `overlap = forbid` (by 0.14 ms in the
/// process test that found it, `tests/suite/ledger_replicas.rs`), though they never did.
#[tokio::test]
async fn a_claim_that_waited_starts_its_run_after_the_run_it_saw_finish() {
    with_database("start after finish", |database| async move {
        let task = unique_name("start-after-finish");
        let a = prepared(database, "lifespan-after-finish-a").await;
        let b = prepared(database, "lifespan-after-finish-b").await;
        let points = points_ago(&a, &[2, 1]).await;
        let first = started(claim(&a, &RunRequest::new(&task, "a", points[0], LONG)).await);
        // b's claim begins its transaction, then waits for the task's row ...
        let locker = lock_row(database, "lifespan_points", &task).await;
        let request = RunRequest::new(&task, "b", points[1], LONG);
        let waiting = tokio::spawn(async move { claim(&b, &request).await });
        let mut watcher = admin(database).await;
        let deadline = Instant::now() + LIMIT;
        while backends_waiting(&mut watcher, "lifespan-after-finish-b").await == 0 {
            assert!(Instant::now() < deadline, "b's claim never waited");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // ... while a's run finishes.
        assert!(a.finish_run(&first, RunOutcome::Succeeded).await.unwrap());
        unlock(locker).await;
        let second = started(waiting.await.unwrap());
        assert_eq!(second.point, points[1]);
        let (finished, began): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT (extract(epoch FROM finished_at) * 1000000)::bigint \
                 FROM lifespan_runs WHERE task = $1 AND point = $2), \
             (SELECT (extract(epoch FROM started_at) * 1000000)::bigint \
                 FROM lifespan_runs WHERE task = $1 AND point = $3)",
        )
        .bind(&task)
        .bind(points[0])
        .bind(points[1])
        .fetch_one(&mut watcher)
        .await
        .unwrap();
        assert!(
            began >= finished,
            "the ledger has the second run start {} µs before the first ended",
            finished - began
        );
    })
    .await;
}

/// The backends named `name` waiting for a lock.
async fn backends_waiting(connection: &mut sqlx::PgConnection, name: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity \
         WHERE application_name = $1 AND wait_event_type = 'Lock'",
    )
    .bind(name)
    .fetch_one(connection)
    .await
    .unwrap()
}

#[tokio::test]
async fn the_ledger_keeps_the_unfinished_runs_and_the_latest_finished_ones() {
    with_database("retention", |database| async move {
        let task = unique_name("retention");
        let a = coordinator(database, "lifespan-retention").keep_runs(3);
        a.prepare().await.unwrap();
        let points = points_ago(&a, &[70, 60, 50, 40, 30, 20, 10]).await;
        let unfinished = RunRequest::new(&task, "a", points[0], LONG);
        started(claim(&a, &unfinished).await);
        for &point in &points[1..] {
            let request = RunRequest::new(&task, "a", point, LONG).overlap(Overlap::Allow);
            let run = started(claim(&a, &request).await);
            assert!(a.finish_run(&run, RunOutcome::Succeeded).await.unwrap());
        }
        let kept: Vec<i64> =
            sqlx::query_scalar("SELECT point FROM lifespan_runs WHERE task = $1 ORDER BY point")
                .bind(&task)
                .fetch_all(&mut admin(database).await)
                .await
                .unwrap();
        assert_eq!(kept, [points[0], points[4], points[5], points[6]]);
    })
    .await;
}

#[tokio::test]
async fn run_tokens_and_lease_tokens_of_a_task_only_grow() {
    with_database("one counter", |database| async move {
        let task = unique_name("one-counter");
        let a = prepared(database, "lifespan-one-counter").await;
        let term = granted(acquire(&a, &task, "a", LONG).await);
        a.release(&term).await.unwrap();
        let point = points_ago(&a, &[1]).await[0];
        let run = started(claim(&a, &RunRequest::new(&task, "a", point, LONG)).await);
        assert_eq!((term.token, run.token), (1, 2));
        let next = granted(acquire(&a, &task, "a", LONG).await);
        assert_eq!(next.token, 3);
    })
    .await;
}

#[tokio::test]
async fn now_is_the_database_clock() {
    with_database("now", |database| async move {
        let a = coordinator(database, "lifespan-now");
        let now = a.now().await.unwrap();
        // The same clock here: the cluster runs on this machine (or one kept in sync).
        let gap = now
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_else(|early| early.duration());
        assert!(gap < Duration::from_secs(2), "{gap:?}");
        assert_eq!(a.queries(), 1);
    })
    .await;
}
