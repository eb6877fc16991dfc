//! The run ledger read back: `recent_runs` shows every replica's runs of a task, latest first,
//! in one statement; the claims count the points no replica started; the ledger keeps at most
//! its retention of finished runs however many points run; two apps see each other's runs.

use std::time::{Duration, Instant};

use super::common::*;
use lifespan_core::{
    App, Coordinator, LedgerRunState, Overlap, RunOutcome, RunRequest, TaskOptions,
};
use lifespan_postgres::PgCoordinator;
use lifespan_test_support::{unique_name, TestDatabase};

/// A second, in µs.
const SECOND: i64 = 1_000_000;

/// A short run lease, that the test waits out.
const SHORT: Duration = Duration::from_millis(300);

/// Point times `n` s before the database's clock now, for each `n` of `ago`, earliest first.
async fn points_ago(coordinator: &PgCoordinator, ago: &[i64]) -> Vec<i64> {
    let now = db_now(coordinator).await;
    ago.iter().map(|seconds| now - seconds * SECOND).collect()
}

#[tokio::test]
async fn recent_runs_shows_every_replica_s_runs_latest_first_in_one_statement() {
    with_database("recent runs", |database| async move {
        let task = unique_name("recent");
        let a = prepared(database, "lifespan-recent-a").await;
        let b = prepared(database, "lifespan-recent-b").await;
        let before = a.queries();
        let none = a.recent_runs(&task, 10).await.unwrap().unwrap();
        assert_eq!(
            (none.runs.len(), none.missed, a.queries() - before),
            (0, 0, 1)
        );
        let points = points_ago(&a, &[50, 40, 30, 20, 10]).await;
        // a's run of the first point is interrupted; b takes it over and finishes it.
        started(claim(&a, &RunRequest::new(&task, "a", points[0], SHORT)).await);
        let taken = claim_when_due(&b, &RunRequest::new(&task, "b", points[1], LONG)).await;
        assert_eq!((taken.point, taken.attempt), (points[0], 2));
        assert!(b.finish_run(&taken, RunOutcome::Succeeded).await.unwrap());
        // a knew of the first point and counted one point before the third: it skips the second.
        let third = RunRequest::new(&task, "a", 0, LONG)
            .points(points[1..3].to_vec(), false)
            .missed(Some(points[0]), vec![0, 1]);
        let claimed = claim(&a, &third).await;
        assert_eq!(claimed.missed, Some(1));
        let third = started(claimed);
        assert_eq!(third.point, points[2]);
        assert!(a.finish_run(&third, RunOutcome::Failed).await.unwrap());
        // b's reckoning is behind (it knew of the first point only): of the points it asks
        // for, the fourth lies between the third and the fifth, which starts.
        let behind = RunRequest::new(&task, "b", 0, LONG)
            .points(points[3..5].to_vec(), false)
            .missed(Some(points[0]), vec![7, 8])
            .overlap(Overlap::Allow);
        let claimed = claim(&b, &behind).await;
        assert_eq!(claimed.missed, Some(2));
        assert_eq!(started(claimed).point, points[4]);

        let before = a.queries();
        let recent = a.recent_runs(&task, 10).await.unwrap().unwrap();
        assert_eq!(a.queries() - before, 1, "one statement");
        let rows: Vec<_> = recent
            .runs
            .iter()
            .map(|run| (run.point, run.attempt, run.instance.as_str(), run.outcome))
            .collect();
        assert_eq!(
            rows,
            [
                (points[4], 1, "b", None),
                (points[2], 1, "a", Some(RunOutcome::Failed)),
                (points[0], 2, "b", Some(RunOutcome::Succeeded)),
            ]
        );
        assert_eq!(recent.missed, 2);
        let running = &recent.runs[0];
        assert!(running.finished.is_none() && running.expires > recent.now);
        let done = &recent.runs[2];
        assert!(done.started <= done.finished.unwrap() && done.finished.unwrap() <= recent.now);
        assert_eq!(
            a.recent_runs(&task, 2).await.unwrap().unwrap().runs.len(),
            2
        );
    })
    .await;
}

/// A schema of the test's own, and a coordinator whose connections work in it.
async fn in_a_schema(database: &TestDatabase, prefix: &str) -> (String, PgCoordinator) {
    let schema = unique_name(prefix).replace('-', "_");
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut admin(database).await)
        .await
        .unwrap();
    let url = database.url_with("options", &format!("-c%20search_path%3D{schema}"));
    let coordinator = PgCoordinator::new(&url).unwrap();
    coordinator.prepare().await.unwrap();
    (schema, coordinator)
}

/// The finished and unfinished rows of `lifespan_runs` in `schema`, and the table's size with
/// its indexes, in bytes.
async fn table(database: &TestDatabase, schema: &str) -> (i64, i64, i64) {
    sqlx::query_as(&format!(
        "SELECT count(*) FILTER (WHERE finished_at IS NOT NULL), \
         count(*) FILTER (WHERE finished_at IS NULL), \
         pg_total_relation_size('{schema}.lifespan_runs') FROM {schema}.lifespan_runs"
    ))
    .fetch_one(&mut admin(database).await)
    .await
    .unwrap()
}

/// 5,000 points of one task claimed and finished one after the other, in batches of 500, with
/// the default retention (1,000): after each batch, at most 1,000 finished rows; at the end,
/// those of the latest 1,000 points. (100,000 points take minutes in a debug build: the
/// benchmark `benches/replicas.rs` runs them, in a release build.)
#[tokio::test]
async fn the_ledger_keeps_at_most_its_retention_of_finished_runs_however_many_points() {
    with_database("retention bound", |database| async move {
        let (schema, a) = in_a_schema(database, "retention_bound").await;
        let (points, batch, kept) = (5_000_i64, 500_i64, 1_000_i64);
        let now = db_now(&a).await;
        let first = now - (points + 1) * SECOND;
        let began = Instant::now();
        for start in (0..points).step_by(batch as usize) {
            for n in start..start + batch {
                let request = RunRequest::new("sweep", "a", first + n * SECOND, LONG);
                let run = started(claim(&a, &request).await);
                assert!(a.finish_run(&run, RunOutcome::Succeeded).await.unwrap());
            }
            let (finished, unfinished, _) = table(database, &schema).await;
            assert!(
                finished <= kept && unfinished == 0,
                "after {} points: {finished} finished rows, {unfinished} unfinished",
                start + batch
            );
        }
        let (finished, _, bytes) = table(database, &schema).await;
        println!(
            "{points} points in {:?}: {finished} rows, lifespan_runs {bytes} bytes with its indexes",
            began.elapsed()
        );
        assert_eq!(finished, kept);
        let recent = a.recent_runs("sweep", 1000).await.unwrap().unwrap();
        assert_eq!(recent.runs.len(), 1000);
        assert_eq!(recent.runs[0].point, first + (points - 1) * SECOND);
        assert_eq!(recent.runs[999].point, first + (points - kept) * SECOND);
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&mut admin(database).await)
            .await
            .unwrap();
    })
    .await;
}

/// An app on the database with a once-per-point task `name` every 500 ms, as `instance`.
fn app(database: &TestDatabase, name: &str, instance: &str) -> App {
    let coordinator = PgCoordinator::new(database.url()).unwrap();
    let app = App::builder()
        .empty()
        .coordinator(coordinator)
        .instance(instance)
        .lease(quick_lease())
        .build();
    let options = TaskOptions::new()
        .every(Duration::from_millis(500))
        .once_per_point(true);
    app.register_task_with(name.to_owned(), options, || async {})
        .unwrap();
    app
}

/// Replica a runs a few points and stops; a second later b starts and runs a few: b's ledger
/// shows a's runs beside its own, and the points nobody started in between are counted.
#[tokio::test]
async fn an_app_s_ledger_shows_the_runs_of_another_replica() {
    with_database("two apps' ledger", |database| async move {
        let task = unique_name("app-ledger");
        let (a, b) = (app(database, &task, "a"), app(database, &task, "b"));
        a.start().await.unwrap();
        tokio::time::sleep(Duration::from_millis(1600)).await;
        a.shutdown().await;
        tokio::time::sleep(Duration::from_millis(1100)).await;
        b.start().await.unwrap();
        tokio::time::sleep(Duration::from_millis(1600)).await;
        b.shutdown().await;
        // Read once b stopped: every run has ended (the last of each replica may have been
        // cancelled by its shutdown).
        let ledger = b.ledger(&task, 100).await.unwrap();
        let status = b.status();
        let digest = status.task(&task).unwrap();
        let by = |instance: &str| {
            ledger
                .runs
                .iter()
                .filter(|run| run.instance == instance)
                .count()
        };
        assert!(by("a") >= 2 && by("b") >= 2, "{ledger:?}");
        assert!(
            ledger.runs.iter().all(|run| run.attempt == 1
                && run.state == LedgerRunState::Finished
                && run.outcome.is_some()),
            "{ledger:?}"
        );
        let numbers: Vec<i64> = ledger.runs.iter().map(|run| run.number).collect();
        assert!(
            numbers.windows(2).all(|pair| pair[0] > pair[1]),
            "{numbers:?}"
        );
        // Between a's last point and b's first, at least one was due with nobody up.
        assert!(ledger.missed >= 1, "{ledger:?}");
        assert!(digest
            .missed
            .is_some_and(|missed| missed >= 1 && missed <= ledger.missed));
        // b's own status counts only its own runs.
        assert!(
            digest.runs >= 1 && digest.runs as usize <= by("b"),
            "{digest:?}"
        );
    })
    .await;
}
