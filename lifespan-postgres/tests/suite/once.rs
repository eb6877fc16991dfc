//! One-shot work across replicas: `claim_once` lets one transaction do the work while the
//! others wait for its end, a rolled-back claim leaves the work to the next one, and replicas
//! starting together do it once in a context's setup. Beside it, what a singleton does with a
//! body that returns: the next replica runs it again.

use std::time::{Duration, Instant};

use super::common::*;
use lifespan_core::{App, TaskOptions, Yield};
use lifespan_postgres::{claim_once, OnceError, PgCoordinator};
use lifespan_test_support::{chain, unique_name, TestDatabase};
use sqlx::{Connection, PgConnection};

/// A table counting the work done, of the test's own.
async fn work_table(admin: &mut PgConnection, prefix: &str) -> String {
    let table = unique_name(prefix).replace('-', "_");
    sqlx::query(&format!("CREATE TABLE {table} (by text NOT NULL)"))
        .execute(&mut *admin)
        .await
        .unwrap();
    table
}

async fn count(admin: &mut PgConnection, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(admin)
        .await
        .unwrap()
}

/// A connection in an open transaction, named `name` in `pg_stat_activity`.
async fn transaction(database: &TestDatabase, name: &str) -> PgConnection {
    let mut connection = PgConnection::connect(&database.url_with("application_name", name))
        .await
        .unwrap();
    sqlx::query("BEGIN").execute(&mut connection).await.unwrap();
    connection
}

/// In the transaction open on `connection`: claims `key`, does the work (a row `by` in
/// `table`) if it got it, and commits; what the claim answered.
async fn claim_and_work(connection: &mut PgConnection, key: &str, table: &str, by: &str) -> bool {
    let claimed = claim_once(connection, key).await.unwrap();
    if claimed {
        sqlx::query(&format!("INSERT INTO {table} VALUES ($1)"))
            .bind(by)
            .execute(&mut *connection)
            .await
            .unwrap();
    }
    sqlx::query("COMMIT")
        .execute(&mut *connection)
        .await
        .unwrap();
    claimed
}

/// A claim of `key` on a connection of its own, in a transaction committed after the claim
/// (and the work, written to `table`, if it was claimed): what it answered.
fn spawn_claim(
    database: &'static TestDatabase,
    key: String,
    table: String,
    by: &'static str,
) -> tokio::task::JoinHandle<bool> {
    tokio::spawn(async move {
        let mut connection = transaction(database, &key).await;
        claim_and_work(&mut connection, &key, &table, by).await
    })
}

/// Waits, within 10 s, until `waiting` sessions named `key` wait for a lock (the claims blocked
/// behind an open claim of that key).
async fn until_waiting(admin: &mut PgConnection, key: &str, waiting: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE wait_event_type = 'Lock' AND application_name = $1",
        )
        .bind(key)
        .fetch_one(&mut *admin)
        .await
        .unwrap();
        if found >= waiting {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{found} of {waiting} claims wait for the open one after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_claim_does_the_work_while_the_others_wait_for_its_commit_and_skip_it() {
    with_database("claims of one key", |database| async move {
        prepared(database, "once-wait").await;
        let mut admin = admin(database).await;
        let table = work_table(&mut admin, "once_work").await;
        let key = unique_name("once-wait");
        let mut first = transaction(database, "once-first").await;
        assert!(claim_once(&mut first, &key).await.unwrap());
        let others = [
            spawn_claim(database, key.clone(), table.clone(), "b"),
            spawn_claim(database, key.clone(), table.clone(), "c"),
        ];
        until_waiting(&mut admin, &key, 2).await;
        assert!(others.iter().all(|claim| !claim.is_finished()));
        sqlx::query(&format!("INSERT INTO {table} VALUES ('a')"))
            .execute(&mut first)
            .await
            .unwrap();
        sqlx::query("COMMIT").execute(&mut first).await.unwrap();
        for claim in others {
            assert!(
                !claim.await.unwrap(),
                "a claim after the commit did the work"
            );
        }
        assert_eq!(count(&mut admin, &table).await, 1);
        // Done for good: a later claim, in another transaction, skips it too.
        let mut later = transaction(database, "once-later").await;
        assert!(!claim_once(&mut later, &key).await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn a_claim_rolled_back_leaves_the_work_to_the_next_claim() {
    with_database("a claim rolled back", |database| async move {
        prepared(database, "once-rollback").await;
        let mut admin = admin(database).await;
        let table = work_table(&mut admin, "once_rollback").await;
        let key = unique_name("once-rollback");
        let mut first = transaction(database, "once-first").await;
        assert!(claim_once(&mut first, &key).await.unwrap());
        let next = spawn_claim(database, key.clone(), table.clone(), "b");
        until_waiting(&mut admin, &key, 1).await;
        // The first one's work failed, or its replica died: the transaction ends unfinished.
        drop(first);
        assert!(
            bounded_claim(next).await,
            "the next claim skipped the work rolled back"
        );
        assert_eq!(count(&mut admin, &table).await, 1);
    })
    .await;
}

async fn bounded_claim(claim: tokio::task::JoinHandle<bool>) -> bool {
    lifespan_test_support::bounded("the waiting claim", Duration::from_secs(10), claim)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_claim_without_the_coordinators_tables_names_its_key_and_the_cause() {
    with_database("a claim without tables", |database| async move {
        let schema = unique_name("once_bare").replace('-', "_");
        let mut admin = admin(database).await;
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let url = database.url_with("options", &format!("-c%20search_path%3D{schema}"));
        let mut connection = PgConnection::connect(&url).await.unwrap();
        let error: OnceError = claim_once(&mut connection, "seed v1").await.unwrap_err();
        assert_eq!(error.key(), "seed v1");
        let text = chain(&error);
        assert!(
            text.starts_with("claiming the one-shot work `seed v1` in the table `lifespan_once`: ")
                && text.contains("\"lifespan_once\" does not exist"),
            "{text}"
        );
    })
    .await;
}

/// A replica whose context claims `key` at setup, does the work (into `table`) if it got it,
/// and then reads how much work is done.
fn replica_with_a_one_shot_setup(
    database: &'static TestDatabase,
    instance: &'static str,
    key: &str,
    table: &str,
    seen: tokio::sync::mpsc::UnboundedSender<(bool, i64)>,
) -> App {
    let app = App::builder()
        .empty()
        .coordinator(PgCoordinator::new(database.url()).unwrap())
        .instance(instance)
        .build();
    let (key, table) = (key.to_owned(), table.to_owned());
    app.register_context("migration", move |lifespan: Yield| {
        let (key, table, seen) = (key.clone(), table.clone(), seen.clone());
        async move {
            let mut connection = transaction(database, instance).await;
            let claimed = claim_and_work(&mut connection, &key, &table, instance).await;
            let done: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
                .fetch_one(&mut connection)
                .await
                .unwrap();
            seen.send((claimed, done)).unwrap();
            lifespan.ready().await;
        }
    })
    .unwrap();
    app
}

#[tokio::test]
async fn replicas_starting_together_do_the_one_shot_work_once_and_start_after_it() {
    with_database("one-shot work at startup", |database| async move {
        prepared(database, "once-apps").await;
        let mut admin = admin(database).await;
        let table = work_table(&mut admin, "once_apps").await;
        let key = unique_name("once-apps");
        let (seen, mut setups) = tokio::sync::mpsc::unbounded_channel();
        let replicas: Vec<App> = ["a", "b", "c"]
            .into_iter()
            .map(|instance| {
                replica_with_a_one_shot_setup(database, instance, &key, &table, seen.clone())
            })
            .collect();
        let started = futures_join_all(&replicas).await;
        assert!(started, "every replica starts");
        let mut claimed = 0;
        for _ in 0..3 {
            let (won, done) = setups.recv().await.unwrap();
            claimed += usize::from(won);
            assert_eq!(done, 1, "a replica went on before the work was committed");
        }
        assert_eq!(claimed, 1);
        assert_eq!(count(&mut admin, &table).await, 1);
        // Restarted, a replica skips it.
        let report = replicas[0].shutdown().await;
        assert!(report.is_clean(), "{report:?}");
        replicas[0].start().await.unwrap();
        assert_eq!(setups.recv().await.unwrap(), (false, 1));
        for replica in &replicas {
            replica.shutdown().await;
        }
    })
    .await;
}

/// Starts every app at once: whether all started.
async fn futures_join_all(apps: &[App]) -> bool {
    let mut starts = tokio::task::JoinSet::new();
    for app in apps {
        let app = app.clone();
        starts.spawn(async move { app.start().await.is_ok() });
    }
    starts.join_all().await.into_iter().all(|ok| ok)
}

#[tokio::test]
async fn a_singleton_whose_body_returns_runs_again_on_the_next_replica() {
    with_database("a singleton that returns", |database| async move {
        let mut admin = admin(database).await;
        let table = work_table(&mut admin, "once_singleton").await;
        let task = unique_name("once-singleton");
        let replicas: Vec<App> = ["a", "b"]
            .into_iter()
            .map(|instance| {
                let app = App::builder()
                    .empty()
                    .coordinator(PgCoordinator::new(database.url()).unwrap())
                    .instance(instance)
                    .lease(quick_lease())
                    .build();
                let table = table.clone();
                app.register_task_with(
                    task.clone(),
                    TaskOptions::new().singleton(true),
                    move || {
                        let table = table.clone();
                        async move {
                            let mut connection =
                                PgConnection::connect(database.url()).await.unwrap();
                            sqlx::query(&format!("INSERT INTO {table} VALUES ($1)"))
                                .bind(instance)
                                .execute(&mut connection)
                                .await
                                .unwrap();
                        }
                    },
                )
                .unwrap();
                app
            })
            .collect();
        for replica in &replicas {
            replica.start().await.unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while count(&mut admin, &table).await < 2 {
            assert!(
                Instant::now() < deadline,
                "the body ran once in 10 s: the other replica did not run it again"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let by: Vec<String> = sqlx::query_scalar(&format!("SELECT by FROM {table}"))
            .fetch_all(&mut admin)
            .await
            .unwrap();
        assert!(
            by.contains(&"a".to_owned()) && by.contains(&"b".to_owned()),
            "{by:?}"
        );
        for replica in &replicas {
            replica.shutdown().await;
        }
    })
    .await;
}
