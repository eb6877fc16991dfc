//! `PgCoordinator` against a real database: a throwaway cluster, or the one
//! `LIFESPAN_TEST_DATABASE_URL` names. Each test uses task names of its own, so that the tests
//! share the database while they run in parallel; each is bounded.

use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime};

use super::common::*;
use lifespan_core::{Acquired, Coordinator, LeaseRequest, PointRequest, Term};
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
async fn exactly_one_claimant_wins_a_point() {
    with_database("one winner", |database| async move {
        let task = unique_name("one-winner");
        let replicas = [
            prepared(database, "lifespan-point-a").await,
            prepared(database, "lifespan-point-b").await,
            prepared(database, "lifespan-point-c").await,
        ];
        let period = Duration::from_secs(24 * 3600);
        let claim = |i: usize| {
            claim_point(
                &replicas[i],
                &task,
                ["a", "b", "c"][i],
                period,
                Duration::ZERO,
            )
        };
        let before = replicas[0].queries();
        let (a, b, c) = tokio::join!(claim(0), claim(1), claim(2));
        assert_eq!(replicas[0].queries() - before, 1, "one statement per claim");
        let claims = [a.unwrap(), b.unwrap(), c.unwrap()];
        let winners: Vec<i64> = claims.iter().filter_map(|claim| claim.won).collect();
        assert_eq!(winners.len(), 1, "{claims:?}");
        for claim in &claims {
            assert!(claim.until_next > Duration::ZERO && claim.until_next <= period);
        }
        // Asking again within the same point wins nothing.
        assert_eq!(claim(0).await.unwrap().won, None);
    })
    .await;
}

#[tokio::test]
async fn over_several_periods_each_point_is_won_exactly_once() {
    with_database("points", |database| async move {
        let task = unique_name("points");
        let period = Duration::from_millis(150);
        let rounds = 8;
        let mut replicas = Vec::new();
        for i in 0..3 {
            replicas.push(prepared(database, &format!("lifespan-points-{i}")).await);
        }
        let run = |i: usize| {
            let (task, replica) = (&task, &replicas[i]);
            async move {
                let mut won = Vec::new();
                let instance = format!("r{i}");
                // Every replica follows the database's clock: it claims, then sleeps until the
                // next point.
                let mut until = replica.until_next_point(period).await.unwrap();
                for _ in 0..rounds {
                    tokio::time::sleep(until).await;
                    let claim = claim_point(replica, task, &instance, period, Duration::ZERO)
                        .await
                        .unwrap();
                    won.extend(claim.won);
                    until = claim.until_next;
                }
                won
            }
        };
        let (a, b, c) = tokio::join!(run(0), run(1), run(2));
        let won: Vec<i64> = [a, b, c].concat();
        let distinct: HashSet<i64> = won.iter().copied().collect();
        assert_eq!(distinct.len(), won.len(), "a point won twice: {won:?}");
        let (first, last) = (
            *distinct.iter().min().unwrap(),
            *distinct.iter().max().unwrap(),
        );
        // Each point from the first to the last was claimed by someone.
        assert_eq!(distinct.len() as i64, last - first + 1, "{won:?}");
        assert!(distinct.len() >= rounds - 1, "{won:?}");
    })
    .await;
}

#[tokio::test]
async fn a_named_point_goes_to_exactly_one_claimant_and_only_later_points_after_it() {
    with_database("named points", |database| async move {
        let task = unique_name("named-points");
        let replicas = [
            prepared(database, "lifespan-named-a").await,
            prepared(database, "lifespan-named-b").await,
            prepared(database, "lifespan-named-c").await,
        ];
        let request =
            |i: usize| PointRequest::new(&task, ["a", "b", "c"][i], Duration::ZERO, Duration::ZERO);
        let requests = [request(0), request(1), request(2)];
        let claim = |i: usize, point: i64| replicas[i].claim_explicit_point(&requests[i], point);
        // A cron occurrence, by its Unix time in milliseconds.
        let point = 1_767_225_600_000;
        let before = replicas[0].queries();
        let (a, b, c) = tokio::join!(claim(0, point), claim(1, point), claim(2, point));
        assert_eq!(replicas[0].queries() - before, 1, "one statement per claim");
        let claims = [a.unwrap(), b.unwrap(), c.unwrap()];
        let winners: Vec<i64> = claims.iter().filter_map(|claim| claim.won).collect();
        assert_eq!(winners, [point], "{claims:?}");
        // The same point again, or an earlier one: nobody; the next one: granted.
        assert_eq!(claim(1, point).await.unwrap().won, None);
        assert_eq!(claim(2, point - 60_000).await.unwrap().won, None);
        assert_eq!(
            claim(2, point + 60_000).await.unwrap().won,
            Some(point + 60_000)
        );
    })
    .await;
}

#[tokio::test]
async fn a_schedule_changed_between_deploys_claims_its_next_point() {
    with_database("changed schedule", |database| async move {
        let task = unique_name("changed-schedule");
        let coordinator = prepared(database, "lifespan-changed-schedule").await;
        let now_ms = || {
            let since = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap();
            i64::try_from(since.as_millis()).unwrap()
        };
        // A cron schedule ran its occurrence of 5 s ago; the task now runs `every` second
        // instead: its point of now is later, and is won.
        let cron = PointRequest::new(&task, "a", Duration::ZERO, Duration::ZERO);
        let occurrence = now_ms() - 5_000;
        let claimed = coordinator.claim_explicit_point(&cron, occurrence).await;
        assert_eq!(claimed.unwrap().won, Some(occurrence));
        let second = Duration::from_secs(1);
        let claim = claim_point(&coordinator, &task, "a", second, Duration::ZERO).await;
        assert!(
            claim.unwrap().won.is_some(),
            "the every-second point after a cron run"
        );
        // Then a period of 1 ms becomes one of an hour, then of a second: the current hour
        // began before the last run, so its point is not won; the next second's is.
        let milli = Duration::from_millis(1);
        let claim = claim_point(&coordinator, &task, "a", milli, Duration::ZERO).await;
        assert!(claim.unwrap().won.is_some(), "a shorter period's point");
        let hour = Duration::from_secs(3600);
        let claim = claim_point(&coordinator, &task, "a", hour, Duration::ZERO).await;
        assert_eq!(
            claim.unwrap().won,
            None,
            "the hour began before the last run"
        );
        let claim = claim_point(&coordinator, &task, "a", second, Duration::ZERO)
            .await
            .unwrap();
        if claim.won.is_none() {
            tokio::time::sleep(claim.until_next + Duration::from_millis(5)).await;
            let claim = claim_point(&coordinator, &task, "a", second, Duration::ZERO).await;
            assert!(claim.unwrap().won.is_some(), "the next second's point");
        }
        // And back to cron: an occurrence after the last point is won.
        let later = now_ms() + 1_000;
        let claimed = coordinator.claim_explicit_point(&cron, later).await;
        assert_eq!(claimed.unwrap().won, Some(later));
    })
    .await;
}

#[tokio::test]
async fn a_hold_keeps_a_later_named_point_from_being_claimed_until_it_passes() {
    with_database("named hold", |database| async move {
        let task = unique_name("named-hold");
        let hold = Duration::from_millis(300);
        let a = prepared(database, "lifespan-named-hold-a").await;
        let b = prepared(database, "lifespan-named-hold-b").await;
        let (for_a, for_b) = (
            PointRequest::new(&task, "a", Duration::ZERO, hold),
            PointRequest::new(&task, "b", Duration::ZERO, hold),
        );
        let began = Instant::now();
        assert_eq!(
            a.claim_explicit_point(&for_a, 1_000).await.unwrap().won,
            Some(1_000)
        );
        // On the database's clock: asked again until the hold has passed, within ten seconds.
        let won_after = loop {
            if let Some(point) = b.claim_explicit_point(&for_b, 2_000).await.unwrap().won {
                assert_eq!(point, 2_000);
                break began.elapsed();
            }
            assert!(
                began.elapsed() < Duration::from_secs(10),
                "the hold never passed"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(
            won_after >= hold,
            "granted {won_after:?} after the claim, within its hold"
        );
    })
    .await;
}

#[tokio::test]
async fn a_hold_keeps_later_points_from_being_claimed_until_it_passes() {
    with_database("hold", |database| async move {
        let task = unique_name("hold");
        let period = Duration::from_millis(100);
        let hold = Duration::from_millis(350);
        let a = prepared(database, "lifespan-hold-a").await;
        let b = prepared(database, "lifespan-hold-b").await;

        let first = claim_point(&a, &task, "a", period, hold).await.unwrap();
        let held = first.won.expect("the first claim of a task wins");
        let mut until = first.until_next;
        let deadline = Instant::now() + Duration::from_secs(10);
        let next = loop {
            tokio::time::sleep(until).await;
            let claim = claim_point(&b, &task, "b", period, hold).await.unwrap();
            if let Some(point) = claim.won {
                break point;
            }
            assert!(Instant::now() < deadline, "the hold never passed");
            until = claim.until_next;
        };
        // Claimed at most one period into point `held`, the hold ends after point held + 3 began.
        assert!(next >= held + 4, "won {next} after {held}");
    })
    .await;
}

#[tokio::test]
async fn until_next_point_follows_the_database_clock() {
    with_database("until next", |database| async move {
        let a = coordinator(database, "lifespan-until");
        let period = Duration::from_secs(10);
        let until = a.until_next_point(period).await.unwrap();
        assert!(until > Duration::ZERO && until <= period, "{until:?}");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        let local = period - Duration::from_nanos((now.as_nanos() % period.as_nanos()) as u64);
        // The same clock here: the cluster runs on this machine (or one kept in sync).
        let gap = until.abs_diff(local);
        assert!(
            gap < Duration::from_secs(2) || gap > period - Duration::from_secs(2),
            "{gap:?}"
        );
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
