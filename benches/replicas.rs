//! What coordinating replicas costs the database: statements per call, and the load of many
//! singletons on several replicas, counted by the coordinators and by the server.
//!
//! `cargo bench --bench replicas` needs PostgreSQL: `LIFESPAN_TEST_DATABASE_URL`, or the
//! server's binaries for a throwaway cluster (as the tests); without either it says so and
//! stops. It prints
//! - the statements one acquire, renew, release, claim and look at the clock send;
//! - for 100 singleton tasks on each of 3 replicas (apps in this process, each with its own
//!   coordinator and connection), over 20 s: statements per second sent by the coordinators and
//!   transactions per second committed by the server, with the default lease settings (lease
//!   15 s, renew deadline 10 s, retry 2 s) and with a retry of 500 ms;
//! - the mean time of a renewal seen from the replica;
//! - the statements of `claim_effect` (counted from the driver's own log events) and of
//!   `recent_runs`;
//! - how long an interrupted point's run takes to be taken over as attempt 2, its replica no
//!   longer renewing it and another polling every retry period, for three lease settings;
//! - the rows and size of `lifespan_runs` every 10,000 points while one task runs 100,000
//!   points, claimed and finished one after the other, with the default retention (1,000), and
//!   the time per point (about 2 minutes).
//!
//! `LIFESPAN_BENCH_SECTIONS=calls,load,takeover,table` picks sections (all by default).

use std::time::{Duration, Instant};

use lifespan_core::{
    App, Coordinator, LeaseRequest, LeaseSettings, RunOutcome, RunRequest, Shutdown, TaskOptions,
};
use lifespan_examples::{test_database, unique_name};
use lifespan_postgres::PgCoordinator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::Row;

#[path = "replicas/ledger.rs"]
mod ledger;

const REPLICAS: usize = 3;
const SINGLETONS: usize = 100;
const RUN: Duration = Duration::from_secs(20);

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let Some(database) = test_database() else {
        return;
    };
    let schema = unique_name("bench").replace('-', "_");
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(database.url())
        .await
        .expect("connecting to the database");
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .unwrap();
    let url = database.url_with("options", &format!("-c%20search_path%3D{schema}"));
    let options: PgConnectOptions = url.parse().unwrap();

    if section("calls") {
        let coordinator = per_call(&options).await;
        ledger::per_call(&options, &coordinator).await;
    }
    if section("load") {
        let retry_default = LeaseSettings::DEFAULT;
        let retry_fast = LeaseSettings::new(
            Duration::from_secs(15),
            Duration::from_secs(10),
            Duration::from_millis(500),
        )
        .unwrap();
        for settings in [retry_default, retry_fast] {
            load(&options, &admin, settings).await;
        }
    }
    if section("takeover") {
        ledger::takeover(&options).await;
    }
    if section("table") {
        ledger::bounded_table(&options, &admin, &schema).await;
    }
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&admin)
        .await
        .unwrap();
}

/// Whether `LIFESPAN_BENCH_SECTIONS` (a comma-separated list; all if unset) has `name`.
fn section(name: &str) -> bool {
    std::env::var("LIFESPAN_BENCH_SECTIONS").map_or(true, |sections| {
        sections.split(',').any(|s| s.trim() == name)
    })
}

/// The statements each call sends, and how long a renewal takes; the coordinator.
async fn per_call(options: &PgConnectOptions) -> PgCoordinator {
    let coordinator = PgCoordinator::from_options(options.clone());
    coordinator.prepare().await.unwrap();
    let lease = Duration::from_secs(15);
    let count = |before: u64| coordinator.queries() - before;

    let before = coordinator.queries();
    let acquired = coordinator
        .acquire(&LeaseRequest::new("bench", "a", lease))
        .await
        .unwrap();
    let acquire = count(before);
    let lifespan_core::Acquired::Granted(term) = acquired else {
        panic!("the lease of a fresh schema is free")
    };
    let before = coordinator.queries();
    let rounds = 200u32;
    let began = Instant::now();
    for _ in 0..rounds {
        assert!(coordinator.renew(&term, lease).await.unwrap());
    }
    let renew_time = began.elapsed() / rounds;
    let renew = count(before) as f64 / f64::from(rounds);
    let before = coordinator.queries();
    coordinator.release(&term).await.unwrap();
    let release = count(before);
    let before = coordinator.queries();
    let now = coordinator.now().await.unwrap();
    let clock = count(before);
    let point = lifespan_core::point_time(now);
    // A task's first claim creates its row; the claims after it are what each point costs.
    let request = |point| RunRequest::new("bench-point", "a", point, lease);
    let before = coordinator.queries();
    let first = coordinator.claim_run(&request(point - 1)).await.unwrap();
    let first_claim = count(before);
    let run = first.run.expect("a due point of a fresh task starts");
    let before = coordinator.queries();
    assert!(coordinator.renew_run(&run, lease).await.unwrap());
    let renew_run = count(before);
    let before = coordinator.queries();
    assert!(coordinator
        .finish_run(&run, RunOutcome::Succeeded)
        .await
        .unwrap());
    let finish = count(before);
    let before = coordinator.queries();
    let next = coordinator.claim_run(&request(point)).await.unwrap();
    let claim = count(before);
    assert!(next.run.is_some(), "the next due point starts");
    println!("statements per call: acquire {acquire}, renew {renew}, release {release}, look at the clock {clock}");
    println!("per point: claim {claim} (a task's first: {first_claim}), renew its run {renew_run}, finish {finish}");
    println!("renewal, seen from the replica: {renew_time:?} on average over {rounds}");
    println!(
        "once per point: each replica claims each point, so {REPLICAS} replicas send {REPLICAS} claims per point"
    );
    coordinator
}

/// 100 singletons on each of 3 replicas for 20 s: statements per second.
async fn load(options: &PgConnectOptions, admin: &sqlx::PgPool, settings: LeaseSettings) {
    let coordinators: Vec<PgCoordinator> = (0..REPLICAS)
        .map(|_| PgCoordinator::from_options(options.clone()))
        .collect();
    let apps: Vec<App> = coordinators
        .iter()
        .enumerate()
        .map(|(replica, coordinator)| {
            let app = App::builder()
                .empty()
                .coordinator(coordinator.clone())
                .instance(format!("replica-{replica}"))
                .lease(settings)
                .build();
            for task in 0..SINGLETONS {
                app.register_task_with(
                    format!("singleton-{task:03}"),
                    TaskOptions::new().singleton(true),
                    |shutdown: Shutdown| async move { shutdown.cancelled().await },
                )
                .unwrap();
            }
            app
        })
        .collect();
    for app in &apps {
        app.start().await.unwrap();
    }
    // Past the first round of acquisitions: the steady state.
    tokio::time::sleep(settings.retry() * 2).await;
    let sent = || coordinators.iter().map(PgCoordinator::queries).sum::<u64>();
    let before = (sent(), commits(admin).await, Instant::now());
    tokio::time::sleep(RUN).await;
    let after = (sent(), commits(admin).await, Instant::now());
    let seconds = (after.2 - before.2).as_secs_f64();
    let holders: usize = apps
        .iter()
        .map(|app| {
            app.status()
                .tasks
                .iter()
                .filter(|task| task.lease.as_ref().is_some_and(|lease| lease.held_here))
                .count()
        })
        .sum();
    println!(
        "{SINGLETONS} singletons on {REPLICAS} replicas ({settings}): {:.1} statements/s sent, {:.1} transactions/s committed by the server; {holders} leases held",
        (after.0 - before.0) as f64 / seconds,
        (after.1 - before.1) as f64 / seconds,
    );
    for app in &apps {
        app.shutdown().await;
    }
}

/// The transactions the server has committed in this database so far.
async fn commits(admin: &sqlx::PgPool) -> i64 {
    // The statistics are gathered per transaction; clear the snapshot so that this reads now.
    sqlx::query("SELECT pg_stat_clear_snapshot()")
        .execute(admin)
        .await
        .unwrap();
    sqlx::query("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
        .fetch_one(admin)
        .await
        .unwrap()
        .get(0)
}
