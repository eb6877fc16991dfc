//! `PgCoordinator`'s statements when their callers give up or the database stalls: each runs
//! to its end (or to the statement limit) on its own connection, and no lease is lost or left
//! to nobody for it.

use std::time::{Duration, Instant};

use super::common::*;
use lifespan_core::{Acquired, Coordinator, LeaseRequest, RunRequest};
use lifespan_test_support::{chain, unique_name};
use sqlx::{Connection, PgConnection};

#[tokio::test]
async fn a_renewal_cut_short_still_finishes_and_its_session_goes_on() {
    with_database("cut short", |database| async move {
        let task = unique_name("cut");
        let a = prepared(database, &unique_name("lifespan-cut")).await;
        let term = granted(acquire(&a, &task, "a", LONG).await);

        // Another transaction locks the lease's row: the renewal waits for it, past its
        // caller's patience.
        let locker = lock_row(database, "lifespan_leases", &task).await;
        let cut = tokio::time::timeout(Duration::from_millis(200), a.renew(&term, LONG)).await;
        assert!(cut.is_err(), "the renewal should have waited for the lock");
        unlock(locker).await;

        // The statement ran to its end on its own connection: the term's session goes on.
        let before = a.queries();
        assert!(a.renew(&term, LONG).await.unwrap());
        assert_eq!(a.queries() - before, 1);
        assert_eq!(a.connections(), 1);
        let left = left(database, &task).await;
        assert!(left > Duration::from_secs(590), "{left:?}");
    })
    .await;
}

#[tokio::test]
async fn claims_cut_short_on_a_stalled_table_never_end_a_lease() {
    with_database("cut claims", |database| async move {
        let task = unique_name("cut-claims-lease");
        let points = unique_name("cut-claims-points");
        let name = unique_name("lifespan-cut-claims");
        let a = prepared(database, &name).await;
        let term = granted(acquire(&a, &task, "a", LONG).await);
        let request = RunRequest::new(&points, "a", db_now(&a).await, LONG);
        started(claim(&a, &request).await);

        let locker = lock_row(database, "lifespan_points", &points).await;
        let before = a.queries();
        for patience in [200, 5, 1, 20] {
            let claim = a.claim_run(&request);
            let cut = tokio::time::timeout(Duration::from_millis(patience), claim).await;
            assert!(cut.is_err(), "the claim should have waited for the lock");
            // The lease's session is not the claims': the term goes on.
            assert!(
                a.renew(&term, LONG).await.unwrap(),
                "lost after a cut claim"
            );
        }
        unlock(locker).await;

        // The claims' connection was kept: the next claim answers on it (the run goes on).
        let again = claim(&a, &request).await;
        assert!(again.run.is_none() && again.in_flight, "{again:?}");
        assert!(a.renew(&term, LONG).await.unwrap());
        // Sent: the first claim cut short (it was running), not the three whose callers gave
        // up while it held the connection; five renewals and the last claim. A claim is four
        // statements: BEGIN, the task's row locked, the claim, COMMIT.
        assert_eq!(a.queries() - before, 4 + 5 + 4);
        let mut admin = admin(database).await;
        assert_eq!(backends(&mut admin, &name).await, 2);
        assert_eq!(a.connections(), 2, "one for the leases, one for the claims");
    })
    .await;
}

#[tokio::test]
async fn an_acquire_cut_short_but_granted_is_released_before_the_next_try() {
    with_database("cut acquire", |database| async move {
        let task = unique_name("cut-acquire");
        let a = prepared(database, "lifespan-cut-acquire-a").await;
        let b = prepared(database, "lifespan-cut-acquire-b").await;
        granted(acquire(&a, &task, "a", Duration::from_millis(100)).await);
        let locker = lock_row(database, "lifespan_leases", &task).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        while left(database, &task).await > Duration::ZERO {
            assert!(Instant::now() < deadline, "the lease never expired");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The standby's acquire waits for the lock past its caller's patience...
        let cut = tokio::time::timeout(
            Duration::from_millis(200),
            b.acquire(&LeaseRequest::new(&task, "b", LONG)),
        )
        .await;
        assert!(cut.is_err(), "the acquire should have waited for the lock");
        // ... and is granted once the lock goes, with nobody to run the task.
        unlock(locker).await;
        let mut admin = admin(database).await;
        loop {
            let (holder, token): (String, i64) =
                sqlx::query_as("SELECT holder, token FROM lifespan_leases WHERE task = $1")
                    .bind(&task)
                    .fetch_one(&mut admin)
                    .await
                    .unwrap();
            if (holder.as_str(), token) == ("b", 2) {
                break;
            }
            assert!(Instant::now() < deadline, "the cut acquire never ended");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The next try of that replica releases that term and is granted a new one.
        let next = acquire(&b, &task, "b", LONG).await;
        assert!(
            matches!(&next, Acquired::Granted(term) if term.token == 3),
            "{next:?}"
        );
    })
    .await;
}

/// Two replicas given the same instance name: the term one of them was granted after its
/// caller gave up is released by its token, so the other's later term of that task is kept.
#[tokio::test]
async fn a_term_granted_too_late_is_released_by_its_token_not_its_instance_name() {
    with_database("same instance", |database| async move {
        let task = unique_name("same-instance");
        let a = prepared(database, "lifespan-same-instance-a").await;
        let b = prepared(database, "lifespan-same-instance-b").await;
        // No row yet to lock: the table is locked instead.
        let mut locker = PgConnection::connect(database.url()).await.unwrap();
        sqlx::query("BEGIN").execute(&mut locker).await.unwrap();
        sqlx::query("LOCK TABLE lifespan_leases IN EXCLUSIVE MODE")
            .execute(&mut locker)
            .await
            .unwrap();
        let short = Duration::from_millis(300);
        let cut = tokio::time::timeout(
            Duration::from_millis(200),
            b.acquire(&LeaseRequest::new(&task, "same", short)),
        )
        .await;
        assert!(cut.is_err(), "the acquire should have waited for the lock");
        unlock(locker).await;
        let mut admin = admin(database).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        while sqlx::query("SELECT 1 FROM lifespan_leases WHERE task = $1")
            .bind(&task)
            .fetch_optional(&mut admin)
            .await
            .unwrap()
            .is_none()
        {
            assert!(Instant::now() < deadline, "the cut acquire never ended");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // b's term 1, which nobody received, expires; a, of the same name, takes term 2.
        let term = acquire_when_free(&a, &task, "same", LONG).await;
        assert_eq!(term.token, 2);
        // b's next acquire releases its own term 1 only: a's term goes on.
        assert_eq!(
            acquire(&b, &task, "same", LONG).await,
            Acquired::Held(Some(term.holder()))
        );
        assert!(a.renew(&term, LONG).await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn a_statement_past_its_limit_fails_drops_its_connection_and_the_next_call_connects() {
    with_database("statement limit", |database| async move {
        let points = unique_name("limit-points");
        let limit = Duration::from_millis(300);
        let a = coordinator(database, &unique_name("lifespan-limit")).statement_limit(limit);
        a.prepare().await.unwrap();
        let request = RunRequest::new(&points, "a", db_now(&a).await, LONG);
        started(claim(&a, &request).await);
        let locker = lock_row(database, "lifespan_points", &points).await;
        // Its caller waits: the statement gives up at its limit, well before 10 s.
        let error = tokio::time::timeout(Duration::from_secs(10), a.claim_run(&request))
            .await
            .expect("the statement limit did not end the claim")
            .unwrap_err();
        let text = chain(&error);
        assert!(
            text.starts_with(&format!("claiming a run of `{points}` on PostgreSQL at ")),
            "{text}"
        );
        assert!(
            text.ends_with(": no answer within 300ms: its connection was dropped"),
            "{text}"
        );
        unlock(locker).await;
        // One for the leases, one for the claims, which the next claim opens again.
        assert_eq!(a.connections(), 2);
        // The transaction cut off was rolled back with its connection: the run goes on.
        assert!(claim(&a, &request).await.in_flight);
        assert_eq!(a.connections(), 3);
    })
    .await;
}
