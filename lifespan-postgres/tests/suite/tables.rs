//! The coordinator's tables: their schema version, checked at `prepare`; a table of the same
//! name that is not the coordinator's refused by name; tables dropped while running created
//! again. Each test works in a schema of its own (its connections' `search_path`).

use std::time::{Duration, Instant};

use super::common::{admin, app_with_a_singleton, with_database, LONG};
use lifespan_core::{Acquired, Coordinator, LeaseRequest, RunRequest, RunState};
use lifespan_postgres::PgCoordinator;
use lifespan_test_support::{chain, unique_name, CapturedLogs, TestDatabase};
use sqlx::PgConnection;

/// A schema of the test's own, created empty, and an admin connection whose `search_path` is
/// that schema.
async fn schema(database: &TestDatabase, prefix: &str) -> (String, PgConnection) {
    let schema = unique_name(prefix).replace('-', "_");
    let mut admin = admin(database).await;
    execute(&mut admin, &format!("CREATE SCHEMA {schema}")).await;
    execute(&mut admin, &format!("SET search_path = {schema}")).await;
    (schema, admin)
}

/// Drops `schema` and what it holds.
async fn drop_schema(admin: &mut PgConnection, schema: &str) {
    execute(admin, &format!("DROP SCHEMA {schema} CASCADE")).await;
}

/// A coordinator working in `schema`.
fn coordinator(database: &TestDatabase, schema: &str) -> PgCoordinator {
    PgCoordinator::new(&database.url_with("options", &format!("-c%20search_path%3D{schema}")))
        .unwrap()
}

/// Runs `sql` (one statement or more) on `admin`.
async fn execute(admin: &mut PgConnection, sql: &str) {
    sqlx::raw_sql(sql).execute(admin).await.unwrap();
}

/// The startup error of a coordinator in `schema`, with its causes.
async fn prepare_error(database: &TestDatabase, schema: &str) -> String {
    chain(&coordinator(database, schema).prepare().await.unwrap_err())
}

/// Drops the coordinator's tables, as an operator might while it runs.
async fn drop_tables(admin: &mut PgConnection) {
    execute(
        admin,
        "DROP TABLE lifespan_leases, lifespan_points, lifespan_runs, lifespan_once, lifespan_schema",
    )
    .await;
}

/// The version `lifespan_schema` records.
async fn version(admin: &mut PgConnection) -> i32 {
    sqlx::query_scalar("SELECT version FROM lifespan_schema")
        .fetch_one(admin)
        .await
        .unwrap()
}

/// The table layout of the coordinator before its tables had a version.
const UNVERSIONED: &str = "
CREATE TABLE lifespan_leases (
    task text PRIMARY KEY, holder text NOT NULL, token bigint NOT NULL,
    acquired_at timestamptz NOT NULL, renewed_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE TABLE lifespan_points (
    task text PRIMARY KEY, last_point bigint NOT NULL, held_until timestamptz NOT NULL,
    claimed_by text NOT NULL, claimed_at timestamptz NOT NULL
);
INSERT INTO lifespan_leases VALUES ('kept', 'a', 41, now(), now(), now());
";

#[tokio::test]
async fn a_foreign_table_of_the_same_name_fails_the_startup_naming_it() {
    with_database("a foreign table", |database| async move {
        let (schema, mut admin) = schema(database, "foreign").await;
        execute(
            &mut admin,
            "CREATE TABLE lifespan_leases (id serial PRIMARY KEY, task integer)",
        )
        .await;
        let text = prepare_error(database, &schema).await;
        assert!(
            text.contains("the table `lifespan_leases` is not lifespan's"),
            "{text}"
        );
        assert!(
            text.contains("column `task` is integer, not text"),
            "{text}"
        );
        drop_schema(&mut admin, &schema).await;
    })
    .await;
}

#[tokio::test]
async fn a_foreign_ledger_table_fails_the_startup_naming_it() {
    with_database("a foreign ledger", |database| async move {
        let (schema, mut admin) = schema(database, "foreign_runs").await;
        execute(
            &mut admin,
            "CREATE TABLE lifespan_runs (task text, point text)",
        )
        .await;
        let text = prepare_error(database, &schema).await;
        assert!(
            text.contains(
                "the table `lifespan_runs` is not lifespan's: column `point` is text, not bigint"
            ),
            "{text}"
        );
        drop_schema(&mut admin, &schema).await;
    })
    .await;
}

#[tokio::test]
async fn the_unversioned_tables_are_migrated_and_keep_their_rows() {
    with_database("a migration", |database| async move {
        let (schema, mut admin) = schema(database, "migrate").await;
        execute(&mut admin, UNVERSIONED).await;
        let coordinator = coordinator(database, &schema);
        coordinator.prepare().await.unwrap();
        assert_eq!(version(&mut admin).await, 2);
        // The old rows are kept: the next term of `kept` has the next token.
        let granted = coordinator
            .acquire(&LeaseRequest::new("kept", "b", LONG))
            .await
            .unwrap();
        assert!(
            matches!(&granted, Acquired::Granted(term) if term.token == 42),
            "{granted:?}"
        );
        // Preparing again changes nothing.
        coordinator.prepare().await.unwrap();
        drop_schema(&mut admin, &schema).await;
    })
    .await;
}

/// The tables of version 1, with a lease and a point claimed.
const VERSION_1: &str = "
CREATE TABLE lifespan_leases (
    task text PRIMARY KEY, holder text NOT NULL, token bigint NOT NULL,
    acquired_at timestamptz NOT NULL, renewed_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE TABLE lifespan_points (
    task text PRIMARY KEY, last_point bigint NOT NULL, held_until timestamptz NOT NULL,
    claimed_by text NOT NULL, claimed_at timestamptz NOT NULL
);
CREATE TABLE lifespan_schema (version integer NOT NULL);
INSERT INTO lifespan_schema VALUES (1);
INSERT INTO lifespan_leases VALUES ('kept', 'a', 41, now(), now(), now() + interval '1 hour');
INSERT INTO lifespan_points VALUES ('hourly', 3600000000, now(), 'a', now());
";

#[tokio::test]
async fn a_version_1_database_is_migrated_and_keeps_its_leases_and_points() {
    with_database("a migration from version 1", |database| async move {
        let (schema, mut admin) = schema(database, "migrate_v1").await;
        execute(&mut admin, VERSION_1).await;
        let coordinator = coordinator(database, &schema);
        coordinator.prepare().await.unwrap();
        assert_eq!(version(&mut admin).await, 2);
        let versions: i64 = sqlx::query_scalar("SELECT count(*) FROM lifespan_schema")
            .fetch_one(&mut admin)
            .await
            .unwrap();
        assert_eq!(versions, 1);
        // The lease is still held by its holder, its term going on.
        let held = coordinator
            .acquire(&LeaseRequest::new("kept", "b", LONG))
            .await
            .unwrap();
        assert!(
            matches!(&held, Acquired::Held(Some(holder)) if holder.token == 41 && holder.instance == "a"),
            "{held:?}"
        );
        // The point claimed under version 1 is the last point of the ledger.
        let point = 2 * 3_600_000_000;
        let claim = coordinator
            .claim_run(&RunRequest::new("hourly", "b", point, LONG))
            .await
            .unwrap();
        assert_eq!(claim.previous, Some(3_600_000_000));
        // The count of missed points starts at 0 (the claim asked for no point in between).
        assert_eq!(claim.missed, Some(0));
        let run = claim.run.expect("the next point starts");
        assert_eq!((run.point, run.attempt, run.token), (point, 1, 1));
        let indexed: bool =
            sqlx::query_scalar("SELECT to_regclass('lifespan_runs_unfinished') IS NOT NULL")
                .fetch_one(&mut admin)
                .await
                .unwrap();
        assert!(indexed, "the index of unfinished runs");
        // Preparing again changes nothing.
        coordinator.prepare().await.unwrap();
        assert_eq!(version(&mut admin).await, 2);
        drop_schema(&mut admin, &schema).await;
    })
    .await;
}

#[tokio::test]
async fn tables_of_a_newer_version_fail_the_startup() {
    with_database("a newer version", |database| async move {
        let (schema, mut admin) = schema(database, "newer").await;
        coordinator(database, &schema).prepare().await.unwrap();
        execute(&mut admin, "UPDATE lifespan_schema SET version = 7").await;
        let text = prepare_error(database, &schema).await;
        assert!(
            text.contains("the coordinator's tables are of version 7; this version of lifespan-postgres knows versions up to 2"),
            "{text}"
        );
        drop_schema(&mut admin, &schema).await;
    })
    .await;
}

#[tokio::test]
async fn tables_dropped_while_running_are_created_again_and_the_lease_granted_again() {
    with_database("dropped tables", |database| async move {
        let (schema, mut admin) = schema(database, "dropped").await;
        let coordinator = coordinator(database, &schema);
        coordinator.prepare().await.unwrap();
        let request = LeaseRequest::new("sweep", "a", LONG);
        let Acquired::Granted(term) = coordinator.acquire(&request).await.unwrap() else {
            panic!("the first acquire is granted");
        };
        drop_tables(&mut admin).await;

        // The renewal fails with the database's reason, and the tables are created again,
        // which the log says once, with that reason.
        let logs = CapturedLogs::default();
        let logging = tracing::subscriber::set_default(logs.subscriber());
        let error = coordinator.renew(&term, LONG).await.unwrap_err();
        let text = chain(&error);
        assert!(
            text.contains("relation \"lifespan_leases\" does not exist"),
            "{text}"
        );
        // The term is gone with its row; the next acquire is granted.
        assert!(!coordinator.renew(&term, LONG).await.unwrap());
        let again = coordinator.acquire(&request).await.unwrap();
        // A new table: the tokens start over.
        assert!(
            matches!(&again, Acquired::Granted(term) if term.token == 1),
            "{again:?}"
        );
        drop(logging);
        let warnings: Vec<String> = logs
            .lines()
            .into_iter()
            .filter(|line| line.starts_with("WARN"))
            .collect();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0]
                .starts_with("WARN the coordinator's tables were missing: created them again")
                && warnings[0].contains("relation \"lifespan_leases\" does not exist"),
            "{warnings:?}"
        );
        assert_eq!(version(&mut admin).await, 2);
        drop_schema(&mut admin, &schema).await;
    })
    .await;
}

/// A claim of a run that finds the tables dropped fails with the database's reason, its
/// transaction rolled back; the tables are created again and the next claim starts the point.
#[tokio::test]
async fn a_claim_of_a_run_after_the_tables_were_dropped_fails_and_the_next_one_starts() {
    with_database("a claim on dropped tables", |database| async move {
        let (schema, mut admin) = schema(database, "dropped_runs").await;
        let coordinator = coordinator(database, &schema);
        coordinator.prepare().await.unwrap();
        let request = RunRequest::new("hourly", "a", 3_600_000_000, LONG);
        let first = coordinator.claim_run(&request).await.unwrap();
        assert!(first.run.is_some(), "{first:?}");
        drop_tables(&mut admin).await;
        let error = coordinator.claim_run(&request).await.unwrap_err();
        let text = chain(&error);
        assert!(
            text.starts_with("claiming a run of `hourly` on PostgreSQL at ")
                && text.contains("relation \"lifespan_points\" does not exist"),
            "{text}"
        );
        let again = coordinator.claim_run(&request).await.unwrap();
        assert_eq!(again.previous, None);
        let run = again.run.expect("the point starts again in the new tables");
        assert_eq!((run.point, run.attempt, run.token), (3_600_000_000, 1, 1));
        assert_eq!(version(&mut admin).await, 2);
        drop_schema(&mut admin, &schema).await;
    })
    .await;
}

/// A singleton running when its tables are dropped: its lease is lost, the tables come back,
/// and it is granted its lease again and runs, within its renew deadline and a few retries.
#[tokio::test]
async fn a_singleton_whose_tables_were_dropped_gets_its_lease_again() {
    with_database(
        "a singleton after its tables were dropped",
        |database| async move {
            let (schema, mut admin) = schema(database, "dropped_app").await;
            let app = app_with_a_singleton(coordinator(database, &schema), "sweep");
            app.start().await.unwrap();
            let terms = || {
                let status = app.status();
                let lease = status.tasks[0].lease.clone().unwrap();
                (status.tasks[0].state, lease.terms)
            };
            while terms() != (RunState::Running, 1) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            drop_tables(&mut admin).await;
            let deadline = Instant::now() + Duration::from_secs(20);
            while terms() != (RunState::Running, 2) {
                assert!(
                    Instant::now() < deadline,
                    "never granted again: {:?}",
                    terms()
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            app.shutdown().await;
            drop_schema(&mut admin, &schema).await;
        },
    )
    .await;
}

/// A statement failing for another reason than a missing table does not create the tables
/// again (nor say so).
#[tokio::test]
async fn another_error_does_not_create_the_tables_again() {
    with_database("another error", |database| async move {
        let (schema, mut admin) = schema(database, "other_error").await;
        let coordinator = coordinator(database, &schema);
        coordinator.prepare().await.unwrap();
        execute(
            &mut admin,
            "ALTER TABLE lifespan_leases ADD CONSTRAINT no_x CHECK (holder <> 'x'); \
             DELETE FROM lifespan_schema",
        )
        .await;
        let logs = CapturedLogs::default();
        let logging = tracing::subscriber::set_default(logs.subscriber());
        let error = coordinator
            .acquire(&LeaseRequest::new("sweep", "x", LONG))
            .await
            .unwrap_err();
        drop(logging);
        assert!(chain(&error).contains("no_x"), "{}", chain(&error));
        assert!(
            !logs
                .lines()
                .iter()
                .any(|line| line.contains("created them again")),
            "{:?}",
            logs.lines()
        );
        // Had the tables been prepared again, the version would be back.
        let versions: i64 = sqlx::query_scalar("SELECT count(*) FROM lifespan_schema")
            .fetch_one(&mut admin)
            .await
            .unwrap();
        assert_eq!(versions, 0);
        drop_schema(&mut admin, &schema).await;
    })
    .await;
}
