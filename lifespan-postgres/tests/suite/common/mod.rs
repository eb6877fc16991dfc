//! Helpers of the tests of `PgCoordinator` against a real database: a throwaway cluster, or
//! the one `LIFESPAN_TEST_DATABASE_URL` names.
#![allow(dead_code)]

use std::future::Future;
use std::time::{Duration, Instant};

use lifespan_core::{
    point_system_time, point_time, Acquired, App, Coordinator, LeaseRequest, LeaseSettings, Point,
    PointRun, Report, RunClaim, RunRequest, Shutdown, TaskOptions, Term,
};
use lifespan_postgres::PgCoordinator;
use lifespan_test_support::{bounded, test_database, TestDatabase};
use sqlx::{Connection, PgConnection};

/// The bound on each test.
pub const LIMIT: Duration = Duration::from_secs(60);
/// A lease no test outlives.
pub const LONG: Duration = Duration::from_secs(600);

/// Runs `test` against the test database, within [`LIMIT`]; returns at once without one
/// (`test_database` said why, or panicked on CI).
pub async fn with_database<F, Fut>(name: &str, test: F)
where
    F: FnOnce(&'static TestDatabase) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(database) = test_database() else {
        return;
    };
    bounded(name, LIMIT, test(database)).await;
}

/// A coordinator whose connection is named `name` in `pg_stat_activity`.
pub fn coordinator(database: &TestDatabase, name: &str) -> PgCoordinator {
    PgCoordinator::new(&database.url_with("application_name", name)).unwrap()
}

/// A coordinator that has prepared the tables.
pub async fn prepared(database: &TestDatabase, name: &str) -> PgCoordinator {
    let coordinator = coordinator(database, name);
    coordinator.prepare().await.unwrap();
    coordinator
}

pub async fn admin(database: &TestDatabase) -> PgConnection {
    PgConnection::connect(database.url()).await.unwrap()
}

pub async fn acquire(
    coordinator: &PgCoordinator,
    task: &str,
    instance: &str,
    lease: Duration,
) -> Acquired {
    coordinator
        .acquire(&LeaseRequest::new(task, instance, lease))
        .await
        .unwrap()
}

pub async fn claim(coordinator: &PgCoordinator, request: &RunRequest) -> RunClaim {
    coordinator.claim_run(request).await.unwrap()
}

/// The run `claim` started.
pub fn started(claim: RunClaim) -> PointRun {
    match claim.run {
        Some(run) => run,
        None => panic!("expected a run, got {claim:?}"),
    }
}

/// The database's clock now, in µs since the Unix epoch.
pub async fn db_now(coordinator: &PgCoordinator) -> i64 {
    point_time(coordinator.now().await.unwrap())
}

/// The `Point` a task's body would receive for `run`.
pub fn point_of(run: &PointRun) -> Point {
    let number = run.point / 1_000_000;
    let scheduled = point_system_time(run.point);
    Point::pair(&run.task, number, scheduled, run.attempt, run.token).0
}

/// Claims `request` every 20 ms until a run starts, within 10 s.
pub async fn claim_when_due(coordinator: &PgCoordinator, request: &RunRequest) -> PointRun {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(run) = claim(coordinator, request).await.run {
            return run;
        }
        assert!(
            Instant::now() < deadline,
            "no run of {} started",
            request.task
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn granted(acquired: Acquired) -> Term {
    match acquired {
        Acquired::Granted(term) => term,
        other => panic!("expected the lease, got {other:?}"),
    }
}

/// Asks for the lease every 20 ms until it is granted, within 10 s.
pub async fn acquire_when_free(
    coordinator: &PgCoordinator,
    task: &str,
    instance: &str,
    lease: Duration,
) -> Term {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Acquired::Granted(term) = acquire(coordinator, task, instance, lease).await {
            return term;
        }
        assert!(
            Instant::now() < deadline,
            "the lease of {task} never became free"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How long the lease of `task` has left, on the database's clock.
pub async fn left(database: &TestDatabase, task: &str) -> Duration {
    let seconds: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM expires_at - now())::float8 FROM lifespan_leases WHERE task = $1",
    )
    .bind(task)
    .fetch_one(&mut admin(database).await)
    .await
    .unwrap();
    Duration::from_secs_f64(seconds.max(0.0))
}

/// The number of backends whose connection is named `name`.
pub async fn backends(connection: &mut PgConnection, name: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1")
        .bind(name)
        .fetch_one(connection)
        .await
        .unwrap()
}

/// Waits, within 10 s, until no backend's connection is named `name`.
pub async fn until_gone(connection: &mut PgConnection, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while backends(connection, name).await > 0 {
        assert!(
            Instant::now() < deadline,
            "the backend of {name} is still there"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Locks the row of `task` in `table` in a transaction of its own, until it is rolled back:
/// statements on that row wait for it, as they would on a stalled database.
pub async fn lock_row(database: &TestDatabase, table: &str, task: &str) -> PgConnection {
    let mut locker = PgConnection::connect(database.url()).await.unwrap();
    sqlx::query("BEGIN").execute(&mut locker).await.unwrap();
    sqlx::query(&format!("SELECT 1 FROM {table} WHERE task = $1 FOR UPDATE"))
        .bind(task)
        .execute(&mut locker)
        .await
        .unwrap();
    locker
}

pub async fn unlock(mut locker: PgConnection) {
    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
}

/// Lease settings that notice a lost lease soon: a 3 s lease, renewed 2 s before it ends,
/// retried every 100 ms.
pub fn quick_lease() -> LeaseSettings {
    LeaseSettings::new(
        Duration::from_secs(3),
        Duration::from_secs(2),
        Duration::from_millis(100),
    )
    .unwrap()
}

/// An app on `coordinator` with [`quick_lease`] settings and a singleton task `name` that runs
/// until shutdown.
pub fn app_with_a_singleton(coordinator: PgCoordinator, name: &str) -> App {
    let app = App::builder()
        .empty()
        .coordinator(coordinator)
        .lease(quick_lease())
        .build();
    app.register_task_with(
        name.to_owned(),
        TaskOptions::new().singleton(true),
        |shutdown: Shutdown| async move { shutdown.cancelled().await },
    )
    .unwrap();
    app
}

/// How many terms of its lease the task `name` held, as `report` says.
pub fn terms_in(report: &Report, name: &str) -> Option<u32> {
    report
        .tasks
        .iter()
        .find(|task| task.name.as_ref() == name)
        .map(|task| task.terms)
}
