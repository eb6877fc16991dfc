//! Apps on `PgCoordinator`, as users run them: a startup against an unreachable database, and
//! two replicas in one process sharing a real database, their status showing the holder.

use std::time::{Duration, SystemTime};

use super::common::{
    admin, app_with_a_singleton, lock_row, terms_in, unlock, with_database, LIMIT,
};
use lifespan_core::{App, Lease, RunState, Shutdown, StartupErrorKind, TaskOptions};
use lifespan_postgres::PgCoordinator;
use lifespan_test_support::{bounded, chain, unique_name};

#[tokio::test]
async fn an_unreachable_database_fails_the_startup_naming_the_host_never_the_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://app:s3cr3t-pw@127.0.0.1:{port}/billing");
    let app = App::builder()
        .empty()
        .coordinator(PgCoordinator::new(&url).unwrap())
        .build();
    app.register_task_with("sweep", TaskOptions::new().singleton(true), || async {})
        .unwrap();
    let error = bounded("the startup", LIMIT, app.start())
        .await
        .unwrap_err();
    assert!(
        matches!(error.kind(), StartupErrorKind::Coordinator { .. }),
        "{error}"
    );
    let text = chain(&error);
    assert!(
        text.starts_with(&format!(
            "the coordinator (PostgreSQL at 127.0.0.1:{port}/billing) could not be prepared: connecting to PostgreSQL at 127.0.0.1:{port}/billing"
        )),
        "{text}"
    );
    assert!(
        !text.contains("s3cr3t") && !format!("{error:?}").contains("s3cr3t"),
        "{text}"
    );
    assert!(!app.is_running());
}

#[tokio::test]
async fn two_replicas_share_a_singleton_and_their_status_shows_the_holder() {
    with_database("two replicas", |database| async move {
        let task = unique_name("app-singleton");
        let replicas: Vec<App> = ["a", "b"]
            .into_iter()
            .map(|instance| {
                let coordinator = PgCoordinator::new(database.url()).unwrap();
                let app = App::builder()
                    .empty()
                    .coordinator(coordinator)
                    .instance(instance)
                    .build();
                app.register_task_with(
                    task.clone(),
                    TaskOptions::new().singleton(true),
                    |lease: Lease, shutdown: Shutdown| async move {
                        assert!(lease.token() >= 1);
                        shutdown.cancelled().await;
                    },
                )
                .unwrap();
                app
            })
            .collect();
        let started = SystemTime::now();
        replicas[0].start().await.unwrap();
        while replicas[0].status().tasks[0].state != RunState::Running {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        replicas[1].start().await.unwrap();
        while replicas[1].status().tasks[0].state != RunState::Standby {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let status = replicas[1].status();
        let lease = status.tasks[0].lease.as_ref().unwrap();
        let holder = lease.holder.as_ref().unwrap();
        assert_eq!(
            (holder.instance.as_str(), holder.token, lease.held_here),
            ("a", 1, false)
        );
        let skew = holder
            .since
            .duration_since(started)
            .unwrap_or_else(|early| early.duration());
        assert!(
            skew < Duration::from_secs(5),
            "since, on the database's clock: {skew:?} off"
        );

        // A graceful shutdown hands over within a retry period (2 s by default).
        let report = replicas[0].shutdown().await;
        assert_eq!(report.tasks[0].terms, 1);
        let handed = std::time::Instant::now();
        while replicas[1].status().tasks[0].state != RunState::Running {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            handed.elapsed() <= Duration::from_millis(2500),
            "{:?}",
            handed.elapsed()
        );
        let status = replicas[1].status();
        let lease = status.tasks[0].lease.as_ref().unwrap();
        assert!(lease.held_here && lease.terms == 1);
        assert_eq!(lease.holder.as_ref().map(|h| h.token), Some(2));
        replicas[1].shutdown().await;
    })
    .await;
}

/// Registers a once-per-point task `name` of `period` that does nothing.
fn add_points_task(app: &App, name: &str, period: Duration) {
    app.register_task_with(
        name.to_owned(),
        TaskOptions::new().every(period).once_per_point(true),
        || async {},
    )
    .unwrap();
}

/// A singleton and a once-per-point task with a tiny period on one coordinator, for 3 s: the
/// claims, cut off by the app after a period (5 ms) as often as not, never end the singleton's
/// term, and the coordinator does not connect again and again.
#[tokio::test]
async fn claims_cut_off_by_a_tiny_period_never_end_a_singleton_term() {
    with_database("a singleton beside a tiny period", |database| async move {
        let singleton = unique_name("app-cut-singleton");
        let points = unique_name("app-cut-points");
        let coordinator = PgCoordinator::new(database.url()).unwrap();
        let app = app_with_a_singleton(coordinator.clone(), &singleton);
        add_points_task(&app, &points, Duration::from_millis(5));
        app.start().await.unwrap();
        tokio::time::sleep(Duration::from_secs(3)).await;
        let report = app.shutdown().await;
        assert_eq!(
            terms_in(&report, &singleton),
            Some(1),
            "the singleton's lease was lost: {report:?}"
        );
        assert!(
            coordinator.connections() <= 2,
            "{} connections opened",
            coordinator.connections()
        );
    })
    .await;
}

/// A once-per-point task whose row is locked (a stalled database, for its claims) for many of
/// its periods: the singleton beside it keeps its term.
#[tokio::test]
async fn a_stalled_claim_table_never_ends_a_singleton_term() {
    with_database("a singleton beside stalled claims", |database| async move {
        let singleton = unique_name("app-stalled-singleton");
        let points = unique_name("app-stalled-points");
        let coordinator = PgCoordinator::new(database.url()).unwrap();
        let app = app_with_a_singleton(coordinator.clone(), &singleton);
        add_points_task(&app, &points, Duration::from_millis(100));
        app.start().await.unwrap();
        let mut admin = admin(database).await;
        // The task's row, once its first claim made it.
        loop {
            let found: i64 =
                sqlx::query_scalar("SELECT count(*) FROM lifespan_points WHERE task = $1")
                    .bind(&points)
                    .fetch_one(&mut admin)
                    .await
                    .unwrap();
            if found == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let locker = lock_row(database, "lifespan_points", &points).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        unlock(locker).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let report = app.shutdown().await;
        assert_eq!(
            terms_in(&report, &singleton),
            Some(1),
            "the singleton's lease was lost: {report:?}"
        );
        assert_eq!(coordinator.connections(), 2);
    })
    .await;
}
