//! `PgCoordinator` against a real database: a throwaway cluster, or the one
//! `LIFESPAN_TEST_DATABASE_URL` names. Each test uses task names of its own, so that the tests
//! share the database while they run in parallel; each is bounded.

use std::time::Duration;

use super::common::*;
use lifespan_core::{Acquired, Coordinator, LeaseRequest, Term};
use lifespan_postgres::PgCoordinator;
use lifespan_test_support::{bounded, chain, unique_name};

#[tokio::test]
async fn prepare_is_idempotent_and_safe_when_replicas_start_at_once() {
    with_database("prepare", |database| async move {
        let once = prepared(database, "lifespan-prepare").await;
        once.prepare().await.unwrap();

        // Three replicas creating the tables at once, in a schema of their own that has none.
        let schema = unique_name("prepare").replace('-', "_");
        let mut admin = admin(database).await;
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let replicas: Vec<PgCoordinator> = (0..3)
            .map(|_| {
                PgCoordinator::new(
                    &database.url_with("options", &format!("-c%20search_path%3D{schema}")),
                )
                .unwrap()
            })
            .collect();
        let (a, b, c) = tokio::join!(
            replicas[0].prepare(),
            replicas[1].prepare(),
            replicas[2].prepare()
        );
        a.unwrap();
        b.unwrap();
        c.unwrap();
        for table in ["lifespan_leases", "lifespan_points"] {
            let found: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
                .bind(format!("{schema}.{table}"))
                .fetch_one(&mut admin)
                .await
                .unwrap();
            assert!(found, "{schema}.{table}");
        }
        let term = granted(acquire(&replicas[0], "task", "a", LONG).await);
        assert_eq!(term.token, 1);
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&mut admin)
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn acquire_grants_token_one_and_another_instance_sees_the_holder() {
    with_database("acquire", |database| async move {
        let task = unique_name("acquire");
        let a = prepared(database, "lifespan-acquire-a").await;
        let b = prepared(database, "lifespan-acquire-b").await;

        let term = granted(acquire(&a, &task, "a", LONG).await);
        assert_eq!(
            (term.task.as_str(), term.instance.as_str()),
            (task.as_str(), "a")
        );
        assert_eq!(term.token, 1);
        assert_eq!(term.session, 1);
        let age = std::time::SystemTime::now()
            .duration_since(term.since)
            .unwrap_or_default();
        assert!(age < Duration::from_secs(60), "{:?}", term.since);

        assert_eq!(
            acquire(&b, &task, "b", LONG).await,
            Acquired::Held(Some(term.holder()))
        );
        // The holder asking again does not get a second term.
        assert_eq!(
            acquire(&a, &task, "a", LONG).await,
            Acquired::Held(Some(term.holder()))
        );
    })
    .await;
}

#[tokio::test]
async fn renew_extends_the_lease_from_now() {
    with_database("renew", |database| async move {
        let task = unique_name("renew");
        let a = prepared(database, "lifespan-renew").await;
        let term = granted(acquire(&a, &task, "a", Duration::from_secs(2)).await);
        assert!(left(database, &task).await <= Duration::from_secs(2));

        let before = a.queries();
        assert!(a.renew(&term, Duration::from_secs(300)).await.unwrap());
        assert_eq!(a.queries() - before, 1, "one statement per renew");
        let left = left(database, &task).await;
        assert!(left > Duration::from_secs(290), "{left:?}");

        // A term that is not the current one is not renewed.
        let stranger = Term::new(&task, "a", term.token + 1, term.since).with_session(term.session);
        assert!(!a.renew(&stranger, LONG).await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn an_expired_lease_goes_to_another_instance_with_the_next_token() {
    with_database("expiry", |database| async move {
        let task = unique_name("expiry");
        let a = prepared(database, "lifespan-expiry-a").await;
        let b = prepared(database, "lifespan-expiry-b").await;
        let first = granted(acquire(&a, &task, "a", Duration::from_millis(300)).await);

        let second = acquire_when_free(&b, &task, "b", LONG).await;
        assert_eq!((second.instance.as_str(), second.token), ("b", 2));
        assert!(second.since > first.since);

        // The old holder learns it lost the lease, and cannot end the new term.
        assert!(!a.renew(&first, LONG).await.unwrap());
        a.release(&first).await.unwrap();
        assert_eq!(
            acquire(&a, &task, "a", LONG).await,
            Acquired::Held(Some(second.holder()))
        );
    })
    .await;
}

#[tokio::test]
async fn release_hands_over_at_once() {
    with_database("release", |database| async move {
        let task = unique_name("release");
        let a = prepared(database, "lifespan-release-a").await;
        let b = prepared(database, "lifespan-release-b").await;
        let first = granted(acquire(&a, &task, "a", LONG).await);
        assert!(matches!(
            acquire(&b, &task, "b", LONG).await,
            Acquired::Held(Some(_))
        ));

        let before = a.queries();
        a.release(&first).await.unwrap();
        assert_eq!(a.queries() - before, 1, "one statement per release");
        let second = granted(acquire(&b, &task, "b", LONG).await);
        assert_eq!(second.token, 2);
        assert!(!a.renew(&first, LONG).await.unwrap());
        // Releasing an old term again does nothing to the current one.
        a.release(&first).await.unwrap();
        assert!(b.renew(&second, LONG).await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn tokens_strictly_increase_across_terms_and_instances() {
    with_database("tokens", |database| async move {
        let task = unique_name("tokens");
        let replicas = [
            prepared(database, "lifespan-tokens-a").await,
            prepared(database, "lifespan-tokens-b").await,
            prepared(database, "lifespan-tokens-c").await,
        ];
        let mut tokens = Vec::new();
        for round in 0..30 {
            let replica = &replicas[round % 3];
            let term = granted(acquire(replica, &task, &format!("r{}", round % 3), LONG).await);
            tokens.push(term.token);
            replica.release(&term).await.unwrap();
        }
        assert_eq!(tokens, (1..=30).collect::<Vec<i64>>());
    })
    .await;
}

#[tokio::test]
async fn a_killed_connection_loses_the_lease_and_the_next_call_reconnects() {
    with_database("terminate", |database| async move {
        let task = unique_name("terminate");
        let name = unique_name("lifespan-terminate");
        let a = prepared(database, &name).await;
        let term = granted(acquire(&a, &task, "a", LONG).await);
        assert!(a.renew(&term, LONG).await.unwrap());

        let mut admin = admin(database).await;
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
        )
        .bind(&name)
        .fetch_all(&mut admin)
        .await
        .unwrap();
        assert_eq!(killed, [true]);
        until_gone(&mut admin, &name).await;

        // The renew finds the connection dead: the term ended with its session.
        assert!(!a.renew(&term, LONG).await.unwrap());
        // Later renewals of that term do not even ask.
        let before = a.queries();
        assert!(!a.renew(&term, LONG).await.unwrap());
        assert_eq!(a.queries(), before);

        // The next call connects again: the lease is still there until it expires or is
        // released, and releasing works from the new session.
        assert_eq!(
            acquire(&a, &task, "a", LONG).await,
            Acquired::Held(Some(term.holder()))
        );
        assert_eq!(backends(&mut admin, &name).await, 1);
        a.release(&term).await.unwrap();
        let next = granted(acquire(&a, &task, "a", LONG).await);
        assert_eq!((next.token, next.session), (2, 2));
        assert!(!a.renew(&term, LONG).await.unwrap());
        assert!(a.renew(&next, LONG).await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn a_pool_lends_a_connection_of_its_own() {
    with_database("pool", |database| async move {
        let task = unique_name("pool");
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect_lazy(database.url())
            .unwrap();
        let a = PgCoordinator::from_pool(pool.clone());
        assert!(
            a.describe().starts_with("PostgreSQL at "),
            "{}",
            a.describe()
        );
        a.prepare().await.unwrap();
        let term = granted(acquire(&a, &task, "a", LONG).await);
        // The coordinator's connection left the pool: the pool still serves its own.
        let one: i32 = sqlx::query_scalar("SELECT 1")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(one, 1);
        assert!(a.renew(&term, LONG).await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_database_is_named_without_its_password() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://app:s3cr3t-pw@127.0.0.1:{port}/billing");
    let coordinator = PgCoordinator::new(&url).unwrap();
    assert_eq!(
        coordinator.describe(),
        format!("PostgreSQL at 127.0.0.1:{port}/billing")
    );
    assert!(!format!("{coordinator:?}").contains("s3cr3t"));

    let error = bounded("the failed connection", LIMIT, coordinator.prepare())
        .await
        .unwrap_err();
    let text = chain(&error);
    assert!(
        text.starts_with(&format!(
            "connecting to PostgreSQL at 127.0.0.1:{port}/billing: "
        )),
        "{text}"
    );
    assert!(!text.contains("s3cr3t"), "{text}");
    assert!(!format!("{error:?}").contains("s3cr3t"), "{error:?}");

    let error = bounded("the failed acquire", LIMIT, acquire_error(&coordinator)).await;
    assert!(
        chain(&error).contains(&format!("127.0.0.1:{port}")),
        "{error}"
    );
}

async fn acquire_error(coordinator: &PgCoordinator) -> lifespan_core::CoordinatorError {
    coordinator
        .acquire(&LeaseRequest::new("task", "a", LONG))
        .await
        .unwrap_err()
}
