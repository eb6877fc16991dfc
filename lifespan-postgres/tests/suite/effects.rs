//! Effects fenced in the app's own transactions: `claim_effect` lets one attempt of a point
//! commit its effect, refuses a stale attempt, and makes a takeover wait for the effect's
//! transaction; `check_lease` does the same for a singleton's term.

use std::time::{Duration, Instant};

use super::common::*;
use lifespan_core::{Coordinator, Lease, PointRun, RunRequest};
use lifespan_postgres::{check_lease, claim_effect, EffectError, PgCoordinator};
use lifespan_test_support::{unique_name, TestDatabase};
use sqlx::{Connection, PgConnection};

/// A run lease that tests wait out.
const SHORT: Duration = Duration::from_millis(300);

/// A table of effects of the test's own, and an admin connection.
async fn effects_table(database: &TestDatabase, prefix: &str) -> (String, PgConnection) {
    let table = unique_name(prefix).replace('-', "_");
    let mut admin = admin(database).await;
    sqlx::query(&format!(
        "CREATE TABLE {table} (point bigint, attempt integer)"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    (table, admin)
}

/// The effects written in `table`: (point, attempt).
async fn effects(admin: &mut PgConnection, table: &str) -> Vec<(i64, i32)> {
    sqlx::query_as(&format!(
        "SELECT point, attempt FROM {table} ORDER BY attempt"
    ))
    .fetch_all(admin)
    .await
    .unwrap()
}

/// Writes the effect of `run` in `table` in a transaction of its own, if `claim_effect` lets
/// it: what it answered.
async fn write_effect(
    database: &TestDatabase,
    table: &str,
    run: &PointRun,
) -> Result<bool, EffectError> {
    let mut connection = PgConnection::connect(database.url()).await.unwrap();
    let mut transaction = connection.begin().await.unwrap();
    sqlx::query(&format!("INSERT INTO {table} VALUES ($1, $2)"))
        .bind(run.point)
        .bind(i32::try_from(run.attempt).unwrap())
        .execute(&mut *transaction)
        .await
        .unwrap();
    let claimed = claim_effect(&mut transaction, &point_of(run)).await;
    if matches!(claimed, Ok(true)) {
        transaction.commit().await.unwrap();
    }
    // Otherwise dropped: rolled back.
    claimed
}

/// A run of a new task, started by `coordinator` for `instance` with a run lease of `lease`.
async fn a_run(coordinator: &PgCoordinator, task: &str, lease: Duration) -> PointRun {
    let point = db_now(coordinator).await - 1_000_000;
    started(claim(coordinator, &RunRequest::new(task, "a", point, lease)).await)
}

/// Waits, within 10 s, until the run lease of `task` has expired on the database's clock.
async fn until_expired(admin: &mut PgConnection, task: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let expired: bool = sqlx::query_scalar(
            "SELECT bool_and(expires_at <= now()) FROM lifespan_runs WHERE task = $1",
        )
        .bind(task)
        .fetch_one(&mut *admin)
        .await
        .unwrap();
        if expired {
            return;
        }
        assert!(Instant::now() < deadline, "the run of {task} never expired");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_effect_is_claimed_once_and_committed_with_its_write() {
    with_database("an effect", |database| async move {
        let (table, mut admin) = effects_table(database, "effect_once").await;
        let a = prepared(database, "lifespan-effect-once").await;
        let run = a_run(&a, &unique_name("effect-once"), LONG).await;
        assert!(write_effect(database, &table, &run).await.unwrap());
        assert_eq!(effects(&mut admin, &table).await, [(run.point, 1)]);
        // The same attempt again: the effect is done, its second write rolled back.
        assert!(!write_effect(database, &table, &run).await.unwrap());
        assert_eq!(effects(&mut admin, &table).await, [(run.point, 1)]);
    })
    .await;
}

#[tokio::test]
async fn an_attempt_that_took_over_after_the_effect_finds_it_done() {
    with_database("an effect done", |database| async move {
        let (table, mut admin) = effects_table(database, "effect_done").await;
        let task = unique_name("effect-done");
        let a = prepared(database, "lifespan-effect-done-a").await;
        let b = prepared(database, "lifespan-effect-done-b").await;
        let first = a_run(&a, &task, SHORT).await;
        assert!(write_effect(database, &table, &first).await.unwrap());
        // a stops renewing before recording the run's end: b takes it over.
        let request = RunRequest::new(&task, "b", first.point, LONG);
        let second = claim_when_due(&b, &request).await;
        assert_eq!((second.point, second.attempt), (first.point, 2));
        assert!(!write_effect(database, &table, &second).await.unwrap());
        assert_eq!(effects(&mut admin, &table).await, [(first.point, 1)]);
    })
    .await;
}

#[tokio::test]
async fn a_stale_attempt_is_refused_and_its_transaction_writes_nothing() {
    with_database("a stale effect", |database| async move {
        let (table, mut admin) = effects_table(database, "effect_stale").await;
        let task = unique_name("effect-stale");
        let a = prepared(database, "lifespan-effect-stale-a").await;
        let b = prepared(database, "lifespan-effect-stale-b").await;
        let first = a_run(&a, &task, SHORT).await;
        let request = RunRequest::new(&task, "b", first.point, LONG);
        let second = claim_when_due(&b, &request).await;
        // a wakes up, still running its attempt: refused.
        let refused = write_effect(database, &table, &first).await.unwrap_err();
        assert!(refused.is_stale(), "{refused:?}");
        assert_eq!(
            refused.to_string(),
            format!(
                "attempt 1 of point {} of `{task}` (token {}) is no longer the point's current run",
                first.point / 1_000_000,
                first.token
            )
        );
        assert_eq!(effects(&mut admin, &table).await, []);
        // The attempt that took over writes it.
        assert!(write_effect(database, &table, &second).await.unwrap());
        assert_eq!(effects(&mut admin, &table).await, [(first.point, 2)]);
        // A finished run writes no effect either.
        let third = a_run(&b, &unique_name("effect-finished"), LONG).await;
        b.finish_run(&third, lifespan_core::RunOutcome::Succeeded)
            .await
            .unwrap();
        let refused = write_effect(database, &table, &third).await;
        assert!(
            matches!(refused, Err(EffectError::StaleRun { .. })),
            "{refused:?}"
        );
    })
    .await;
}

/// The effect's transaction holds the point's row: a takeover of the point waits for it to
/// commit, then finds the effect done.
#[tokio::test]
async fn a_takeover_waits_for_the_effect_transaction() {
    with_database("a takeover waits", |database| async move {
        let (table, mut admin) = effects_table(database, "effect_wait").await;
        let task = unique_name("effect-wait");
        let a = prepared(database, "lifespan-effect-wait-a").await;
        let b = prepared(database, "lifespan-effect-wait-b").await;
        let first = a_run(&a, &task, SHORT).await;
        let mut connection = PgConnection::connect(database.url()).await.unwrap();
        let mut transaction = connection.begin().await.unwrap();
        assert!(claim_effect(&mut transaction, &point_of(&first))
            .await
            .unwrap());
        sqlx::query(&format!("INSERT INTO {table} VALUES ($1, 1)"))
            .bind(first.point)
            .execute(&mut *transaction)
            .await
            .unwrap();
        until_expired(&mut admin, &task).await;
        let request = RunRequest::new(&task, "b", first.point, LONG);
        let mut takeover = Box::pin(b.claim_run(&request));
        let waited = tokio::time::timeout(Duration::from_millis(300), &mut takeover).await;
        assert!(waited.is_err(), "the takeover did not wait: {waited:?}");
        transaction.commit().await.unwrap();
        let claimed = tokio::time::timeout(Duration::from_secs(10), takeover)
            .await
            .expect("the takeover still waits after the commit")
            .unwrap();
        let second = claimed.run.expect("taken over once the effect committed");
        assert_eq!((second.point, second.attempt), (first.point, 2));
        assert!(!write_effect(database, &table, &second).await.unwrap());
        assert_eq!(effects(&mut admin, &table).await, [(first.point, 1)]);
    })
    .await;
}

#[tokio::test]
async fn check_lease_passes_the_current_term_and_refuses_a_stale_one() {
    with_database("check lease", |database| async move {
        let task = unique_name("check-lease");
        let a = prepared(database, "lifespan-check-lease").await;
        let term = granted(acquire(&a, &task, "a", LONG).await);
        let (lease, _control) = Lease::pair(term.token);
        let mut connection = PgConnection::connect(database.url()).await.unwrap();
        let mut transaction = connection.begin().await.unwrap();
        check_lease(&mut transaction, &task, &lease).await.unwrap();
        transaction.commit().await.unwrap();
        a.release(&term).await.unwrap();
        let next = granted(acquire(&a, &task, "b", LONG).await);
        let mut transaction = connection.begin().await.unwrap();
        let refused = check_lease(&mut transaction, &task, &lease)
            .await
            .unwrap_err();
        assert!(
            matches!(&refused, EffectError::StaleLease { token, .. } if *token == term.token),
            "{refused:?}"
        );
        drop(transaction);
        let (current, _control) = Lease::pair(next.token);
        let mut transaction = connection.begin().await.unwrap();
        check_lease(&mut transaction, &task, &current)
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_failed_statement_is_not_a_stale_attempt() {
    with_database("an effect without tables", |database| async move {
        let schema = unique_name("effects_bare").replace('-', "_");
        let mut admin = admin(database).await;
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let url = database.url_with("options", &format!("-c%20search_path%3D{schema}"));
        let mut connection = PgConnection::connect(&url).await.unwrap();
        let point =
            lifespan_core::Point::pair("effects-bare", 0, std::time::SystemTime::UNIX_EPOCH, 1, 1)
                .0;
        let failed = claim_effect(&mut connection, &point).await.unwrap_err();
        assert!(
            matches!(failed, EffectError::Database(_)) && !failed.is_stale(),
            "{failed:?}"
        );
        let lease = Lease::pair(1).0;
        let failed = check_lease(&mut connection, "effects-bare", &lease)
            .await
            .unwrap_err();
        assert!(!failed.is_stale(), "{failed:?}");
    })
    .await;
}
