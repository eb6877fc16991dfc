//! The run ledger of once-per-point tasks: the statements of `claim_effect` and `recent_runs`,
//! the table after 100,000 points of one task, and how long an interrupted point takes to be
//! taken over, against the lease settings.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lifespan_core::{point_system_time, Coordinator, Point, RunOutcome, RunRequest};
use lifespan_postgres::{claim_effect, PgCoordinator};
use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::{Connection, PgConnection};
use tracing::instrument::WithSubscriber;
use tracing_subscriber::layer::SubscriberExt;

/// How many points of one task the table is measured after.
const POINTS: i64 = 100_000;
/// How many points between two looks at the table.
const BATCH: i64 = 10_000;
/// The default retention of `PgCoordinator::keep_runs`.
const KEPT: i64 = 1_000;

/// Counts the statements sqlx runs (its `sqlx::query` events), on the connections that log
/// them (the app's own, not the coordinator's).
struct Statements(Arc<AtomicU64>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Statements {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() == "sqlx::query" {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The statements `future` runs on connections that log their statements.
async fn counted<T>(future: impl std::future::Future<Output = T>) -> (T, u64) {
    let count = Arc::new(AtomicU64::new(0));
    let subscriber = tracing_subscriber::registry().with(Statements(count.clone()));
    let output = future.with_subscriber(subscriber).await;
    (output, count.load(Ordering::Relaxed))
}

/// The statements of `claim_effect` (claimed; done already; a stale attempt) and of
/// `recent_runs`.
pub async fn per_call(options: &PgConnectOptions, coordinator: &PgCoordinator) {
    let lease = Duration::from_secs(15);
    let now = lifespan_core::point_time(coordinator.now().await.unwrap());
    let claim = coordinator
        .claim_run(&RunRequest::new("bench-effect", "a", now - 1, lease))
        .await
        .unwrap();
    let run = claim.run.expect("a due point of a fresh task starts");
    let point = |token| Point::pair(&run.task, 1, point_system_time(run.point), 1, token).0;
    let mut connection = PgConnection::connect_with(options).await.unwrap();
    let (claimed, first) = effect(&mut connection, point(run.token)).await;
    assert_eq!(claimed, Some(true));
    let (done, again) = effect(&mut connection, point(run.token)).await;
    assert_eq!(done, Some(false));
    let other = coordinator
        .claim_run(&RunRequest::new("bench-stale", "a", now - 1, lease))
        .await
        .unwrap()
        .run
        .unwrap();
    let taken_over = other.token + 1;
    let stale_point = Point::pair(
        &other.task,
        1,
        point_system_time(other.point),
        1,
        taken_over,
    )
    .0;
    let (refused, stale) = effect(&mut connection, stale_point).await;
    assert_eq!(refused, None);
    let before = coordinator.queries();
    coordinator.recent_runs("bench-effect", 10).await.unwrap();
    let recent = coordinator.queries() - before;
    println!(
        "claim_effect: {first} statement(s) when it claims, {again} when the effect is done, {stale} for a stale attempt; recent_runs: {recent}"
    );
}

/// `claim_effect` of `point` in a transaction of its own on `connection`: what it answered
/// (`None`: refused), and its statements.
async fn effect(connection: &mut PgConnection, point: Point) -> (Option<bool>, u64) {
    let mut transaction = connection.begin().await.unwrap();
    let (claimed, statements) = counted(claim_effect(&mut transaction, &point)).await;
    transaction.commit().await.unwrap();
    (claimed.ok(), statements)
}

/// 100,000 points of one task, claimed and finished one after the other, with the default
/// retention: the time per point, and the table's rows and size every 10,000 points.
pub async fn bounded_table(options: &PgConnectOptions, admin: &PgPool, schema: &str) {
    let coordinator = PgCoordinator::from_options(options.clone());
    coordinator.prepare().await.unwrap();
    let lease = Duration::from_secs(60);
    let now = lifespan_core::point_time(coordinator.now().await.unwrap());
    let first = now - (POINTS + 1) * 1_000_000;
    let began = Instant::now();
    for start in (0..POINTS).step_by(BATCH as usize) {
        let batch = Instant::now();
        for n in start..start + BATCH {
            let request = RunRequest::new("bench-ledger", "a", first + n * 1_000_000, lease);
            let run = coordinator.claim_run(&request).await.unwrap().run.unwrap();
            assert!(coordinator
                .finish_run(&run, RunOutcome::Succeeded)
                .await
                .unwrap());
        }
        let per_point = batch.elapsed() / BATCH as u32;
        let (rows, bytes, dead) = table(admin, schema).await;
        assert!(rows <= KEPT, "{rows} rows after {} points", start + BATCH);
        println!(
            "after {} points: {rows} rows, lifespan_runs {} KiB with its indexes ({dead} dead tuples); {per_point:?} per point (claim and finish) in this batch",
            start + BATCH,
            bytes / 1024
        );
    }
    println!(
        "{POINTS} points in {:.1} s: {:?} per point",
        began.elapsed().as_secs_f64(),
        began.elapsed() / POINTS as u32
    );
    sqlx::query(&format!("VACUUM {schema}.lifespan_runs"))
        .execute(admin)
        .await
        .unwrap();
    let (rows, bytes, dead) = table(admin, schema).await;
    println!(
        "after VACUUM: {rows} rows, {} KiB ({dead} dead tuples)",
        bytes / 1024
    );
    let began = Instant::now();
    let recent = coordinator.recent_runs("bench-ledger", 10).await.unwrap();
    let runs = recent.map_or(0, |recent| recent.runs.len());
    println!(
        "recent_runs of 10 runs: {runs} runs in {:?}",
        began.elapsed()
    );
    plan(admin, schema).await;
}

/// The rows of the task's runs in `lifespan_runs` of `schema` (the other sections leave a few
/// rows of theirs), the table's size with its indexes in bytes, and its dead tuples, as the
/// server's statistics last counted them.
async fn table(admin: &PgPool, schema: &str) -> (i64, i64, i64) {
    sqlx::query("SELECT pg_stat_clear_snapshot()")
        .execute(admin)
        .await
        .unwrap();
    sqlx::query_as(&format!(
        "SELECT (SELECT count(*) FROM {schema}.lifespan_runs WHERE task = 'bench-ledger'), \
         pg_total_relation_size('{schema}.lifespan_runs'), \
         coalesce((SELECT n_dead_tup FROM pg_stat_user_tables \
                   WHERE schemaname = '{schema}' AND relname = 'lifespan_runs'), 0)"
    ))
    .fetch_one(admin)
    .await
    .unwrap()
}

/// The plan of the runs part of `recent_runs`: the latest rows of a task, by its primary key.
async fn plan(admin: &PgPool, schema: &str) {
    let lines: Vec<String> = sqlx::query_scalar(&format!(
        "EXPLAIN SELECT * FROM {schema}.lifespan_runs WHERE task = 'bench-ledger' \
         ORDER BY point DESC LIMIT 10"
    ))
    .fetch_all(admin)
    .await
    .unwrap();
    println!(
        "its plan: {}",
        lines
            .join(" / ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    );
}

/// How long after a point's run was claimed another replica takes it over as attempt 2, its
/// replica never renewing it, the other polling every retry period (as a replica does while a
/// run is in flight), starting at a third of a period apart from one trial to the next: on the
/// database's clock, from the first attempt's start to the second's.
pub async fn takeover(options: &PgConnectOptions) {
    let a = PgCoordinator::from_options(options.clone());
    let b = PgCoordinator::from_options(options.clone());
    let settings = [
        (Duration::from_secs(1), Duration::from_millis(100), 3),
        (Duration::from_secs(3), Duration::from_millis(500), 3),
        (Duration::from_secs(15), Duration::from_secs(2), 2),
    ];
    for (lease, retry, trials) in settings {
        let mut times = Vec::new();
        for trial in 0..trials {
            let task = lifespan_examples::unique_name("bench-takeover");
            let now = lifespan_core::point_time(a.now().await.unwrap());
            let request = RunRequest::new(&task, "a", now - 1_000_000, lease);
            let first = a.claim_run(&request).await.unwrap().run.unwrap();
            tokio::time::sleep(retry * trial / trials).await;
            let asked = RunRequest::new(&task, "b", now, lease);
            let taken = loop {
                if let Some(run) = b.claim_run(&asked).await.unwrap().run {
                    break run;
                }
                tokio::time::sleep(retry).await;
            };
            assert_eq!((taken.point, taken.attempt), (first.point, 2));
            times.push(taken.started.duration_since(first.started).unwrap());
        }
        let shown: Vec<String> = times.iter().map(|time| format!("{time:.2?}")).collect();
        println!(
            "takeover, lease {lease:?}, polled every {retry:?}: {} (bound: the lease plus a retry period, {:?})",
            shown.join(", "),
            lease + retry
        );
    }
}
