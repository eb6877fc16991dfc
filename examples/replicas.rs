//! Run it on several replicas: a heartbeat that one replica at a time writes, guarded by its
//! fencing token; a tick that runs once per point of its schedule across all replicas; and
//! digests, once-per-point runs that take a while and write their effect exactly once through
//! `lifespan_postgres::claim_effect`. They share one PostgreSQL database, which coordinates
//! them.
//!
//! ```text
//! DATABASE_URL=postgres://localhost/app INSTANCE=a cargo run --example replicas
//! DATABASE_URL=postgres://localhost/app INSTANCE=b cargo run --example replicas
//! ```
//!
//! Stop the replica that writes the heartbeat (Ctrl-C) and another takes over within a retry
//! period (2 s); kill it (`kill -9`) and another takes over once its lease has expired (15 s).
//! Kill the replica running a digest and another runs that point again, as attempt 2, once the
//! run's lease has expired; the digest is written once all the same.
//! `LEASE_MS`, `RENEW_DEADLINE_MS` and `RETRY_MS` change the lease settings, `DIGEST_WORK_MS`
//! how long a digest works before it writes (300 ms by default), and `TASKS=digest,tick` runs
//! only the tasks named.
//!
//! `LISTEN=127.0.0.1:0` also serves the status and the routes that operate the tasks by hand
//! on that address (the log says which port): a pause made on one replica holds on every
//! replica, and across their restarts, until resumed on any; a run asked for runs once, on one
//! of them.
//!
//! ```text
//! curl http://127.0.0.1:PORT/lifespan/status
//! curl -X POST http://127.0.0.1:PORT/lifespan/tasks/replicas::digest/pause
//! curl -X POST http://127.0.0.1:PORT/lifespan/tasks/replicas::digest/resume
//! curl -X POST http://127.0.0.1:PORT/lifespan/tasks/replicas::digest/trigger
//! ```
//!
//! They have no authentication here, so the example serves them on a loopback address only. A
//! real service puts them behind its own authentication, as `examples/server.rs` does.

use std::time::Duration;

use anyhow::Context as _;
use axum::routing::get;
use axum::Router;
use lifespan_core::{
    lifespan_context, lifespan_task, App, Kind, Lease, LeaseSettings, Point, Shutdown, State, Yield,
};
use lifespan_postgres::{claim_effect, PgCoordinator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

/// The example's tables: the heartbeats written, accepted or rejected by the fence; the fence,
/// which keeps the highest token that has written; the ticks; the digests written, one per
/// point of each digest task; and the digests' writes that `claim_effect` refused.
const SCHEMA: &str = "
    SELECT pg_advisory_xact_lock(7263);
    CREATE TABLE IF NOT EXISTS replica_fence (name text PRIMARY KEY, token bigint NOT NULL);
    INSERT INTO replica_fence VALUES ('heartbeat', 0) ON CONFLICT DO NOTHING;
    CREATE TABLE IF NOT EXISTS replica_beats (
        instance text NOT NULL, token bigint NOT NULL, accepted boolean NOT NULL,
        at timestamptz NOT NULL DEFAULT clock_timestamp());
    CREATE TABLE IF NOT EXISTS replica_ticks (
        instance text NOT NULL, point bigint NOT NULL,
        at timestamptz NOT NULL DEFAULT clock_timestamp());
    CREATE TABLE IF NOT EXISTS replica_digests (
        task text NOT NULL, point bigint NOT NULL, attempt integer NOT NULL,
        token bigint NOT NULL, instance text NOT NULL,
        at timestamptz NOT NULL DEFAULT clock_timestamp());
    CREATE TABLE IF NOT EXISTS replica_refusals (
        task text NOT NULL, point bigint NOT NULL, attempt integer NOT NULL,
        token bigint NOT NULL, instance text NOT NULL, reason text NOT NULL,
        at timestamptz NOT NULL DEFAULT clock_timestamp());
";

/// The database the tasks write to: the replicas' own pool, apart from the coordinator's
/// connection.
#[lifespan_context(url = std::env::var("DATABASE_URL")?)]
async fn database(url: String, lifespan: Yield<PgPool>) -> anyhow::Result<()> {
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect(&url)
        .await
        .context("connecting to the database")?;
    // Replicas starting together create the tables one at a time: the statements of one simple
    // query run in one transaction, which holds the lock.
    sqlx::raw_sql(SCHEMA).execute(&pool).await?;
    // This replica's clock against the database's: no schedule reads it, the points are
    // reckoned on the database's.
    let database_ms: f64 =
        sqlx::query_scalar("SELECT extract(epoch FROM clock_timestamp())::float8 * 1000")
            .fetch_one(&pool)
            .await?;
    let skew_ms = unix_ms() - database_ms.round() as i64;
    tracing::info!(
        skew_ms,
        "this replica's clock is {skew_ms} ms ahead of the database's (behind if negative)"
    );
    let pool = lifespan.ready_sharing(pool).await;
    pool.close().await;
    Ok(())
}

/// One replica at a time writes a heartbeat about every 50 ms. Each write goes through the fence:
/// it is accepted only if no later term has written, so a replica that was paused past its
/// lease and wakes up still running cannot write over the new holder's work.
#[lifespan_task]
#[lifespan(singleton, restart = always, backoff = "100ms..1s")]
async fn heartbeat(lease: Lease, db: State<PgPool>, shutdown: Shutdown) -> anyhow::Result<()> {
    tracing::info!(
        token = lease.token(),
        "heartbeat: this replica holds the lease"
    );
    let mut ticks = tokio::time::interval(Duration::from_millis(50));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while shutdown.run_until_cancelled(ticks.tick()).await.is_some() {
        // Preparing the batch (a stand-in: 40 ms of work that is not interrupted). A pause of the
        // process here (a stall, `SIGSTOP`, a VM migration) leaves a write in flight with this
        // term's token, which is why the write goes through the fence.
        tokio::time::sleep(Duration::from_millis(40)).await;
        // One statement: the heartbeat is accepted only if the fence let this token through.
        let accepted: bool = sqlx::query_scalar(
            "WITH fence AS (
                 UPDATE replica_fence SET token = $1 WHERE name = 'heartbeat' AND token <= $1
                 RETURNING token)
             INSERT INTO replica_beats (instance, token, accepted)
             SELECT $2, $1, EXISTS (SELECT 1 FROM fence) RETURNING accepted",
        )
        .bind(lease.token())
        .bind(lease.instance())
        .fetch_one(&*db)
        .await?;
        if !accepted {
            // A later term has written: the lease is lost, even if this replica has not
            // heard yet. Stop; it goes back to standby once it hears.
            tracing::warn!(
                token = lease.token(),
                "heartbeat: rejected by the fence: a later term holds the lease"
            );
            return Ok(());
        }
    }
    tracing::info!(token = lease.token(), "heartbeat: stopped");
    Ok(())
}

/// Every 200 ms, on exactly one of the replicas.
#[lifespan_task]
#[lifespan(every = "200ms", once_per_point)]
async fn tick(app: App, point: Point, db: State<PgPool>) -> anyhow::Result<()> {
    sqlx::query("INSERT INTO replica_ticks (instance, point) VALUES ($1, $2)")
        .bind(app.instance())
        .bind(point.number())
        .execute(&*db)
        .await?;
    Ok(())
}

/// Every second, on one replica: the digest of that second, written exactly once. A point due
/// while a digest runs is missed (`overlap = forbid`, the default); so are the points due
/// while every replica was down, of which `misfire = latest` runs the latest once a replica is
/// back, if it is at most a minute old.
#[lifespan_task]
#[lifespan(every = "1s", once_per_point, misfire = latest, misfire_grace = "1m")]
async fn digest(point: Point, db: State<PgPool>) -> anyhow::Result<()> {
    write_digest(&point, &db).await
}

/// The same digest, but a point starts at its time even while earlier points' runs go on
/// (`overlap = allow`): on other replicas, since each replica runs one at a time.
#[lifespan_task]
#[lifespan(every = "1s", once_per_point, overlap = allow)]
async fn overlapping_digest(point: Point, db: State<PgPool>) -> anyhow::Result<()> {
    write_digest(&point, &db).await
}

/// The same digest on a cron schedule (every second, with the seconds field), whose
/// occurrences are reckoned on the database's clock: a replica whose own clock is wrong runs
/// them at their time all the same.
#[lifespan_task]
#[lifespan(cron = "* * * * * *", once_per_point)]
async fn cron_digest(point: Point, db: State<PgPool>) -> anyhow::Result<()> {
    write_digest(&point, &db).await
}

/// A digest's run: some work, then its one write, fenced by the point's run in the ledger.
async fn write_digest(point: &Point, db: &PgPool) -> anyhow::Result<()> {
    let number = point.number();
    // The work (a stand-in: a sleep that is not interrupted). A pause of the process here
    // (a stall, `SIGSTOP`, a VM migration) may last past the run's lease, and another replica
    // takes the point over meanwhile: this attempt then wakes up with a write in flight.
    tokio::time::sleep(work()).await;
    let mut transaction = db.begin().await?;
    let refused = match claim_effect(&mut transaction, point).await {
        // This attempt is the point's current run, and no attempt has written: write, commit.
        Ok(true) => {
            sqlx::query(
                "INSERT INTO replica_digests (task, point, attempt, token, instance)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(point.task())
            .bind(number)
            .bind(point.attempt() as i32)
            .bind(point.token())
            .bind(point.instance())
            .execute(&mut *transaction)
            .await?;
            transaction.commit().await?;
            tracing::info!(number, attempt = point.attempt(), "digest written");
            return Ok(());
        }
        // Another attempt of this point has committed its digest: nothing to write.
        Ok(false) => "done",
        // This attempt is over (its run's lease expired, or another replica took the point
        // over): roll back; the attempt that runs the point now writes the digest.
        Err(error) if error.is_stale() => {
            tracing::warn!(number, attempt = point.attempt(), "digest refused: {error}");
            "stale"
        }
        Err(error) => return Err(error.into()),
    };
    transaction.rollback().await?;
    // Kept apart from the digests (not in the transaction refused), to be seen.
    sqlx::query(
        "INSERT INTO replica_refusals (task, point, attempt, token, instance, reason)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(point.task())
    .bind(number)
    .bind(point.attempt() as i32)
    .bind(point.token())
    .bind(point.instance())
    .bind(refused)
    .execute(db)
    .await?;
    Ok(())
}

/// How long a digest works before it writes: `DIGEST_WORK_MS`, 300 ms by default.
fn work() -> Duration {
    let millis = std::env::var("DIGEST_WORK_MS").ok();
    Duration::from_millis(millis.and_then(|ms| ms.parse().ok()).unwrap_or(300))
}

/// This process's clock, in ms since the Unix epoch.
fn unix_ms() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.map_or(0, |since| since.as_millis() as i64)
}

/// The lease settings from `LEASE_MS`, `RENEW_DEADLINE_MS` and `RETRY_MS`, if set.
fn lease_settings() -> anyhow::Result<Option<LeaseSettings>> {
    let millis = |name: &str| -> anyhow::Result<Option<Duration>> {
        match std::env::var(name) {
            Ok(value) => {
                Ok(Some(Duration::from_millis(value.parse().with_context(
                    || format!("{name} must be a number of milliseconds"),
                )?)))
            }
            Err(_) => Ok(None),
        }
    };
    let default = LeaseSettings::DEFAULT;
    let (lease, renew, retry) = (
        millis("LEASE_MS")?,
        millis("RENEW_DEADLINE_MS")?,
        millis("RETRY_MS")?,
    );
    if lease.is_none() && renew.is_none() && retry.is_none() {
        return Ok(None);
    }
    Ok(Some(LeaseSettings::new(
        lease.unwrap_or(default.lease()),
        renew.unwrap_or(default.renew_deadline()),
        retry.unwrap_or(default.retry()),
    )?))
}

/// The listener of the status and the operators' routes, if `LISTEN` is set: a loopback
/// address only, since this example serves them without authentication.
async fn operators_listener() -> anyhow::Result<Option<tokio::net::TcpListener>> {
    let Ok(addr) = std::env::var("LISTEN") else {
        return Ok(None);
    };
    let addr: std::net::SocketAddr = addr
        .parse()
        .context("LISTEN must be an address and a port, such as 127.0.0.1:0")?;
    anyhow::ensure!(
        addr.ip().is_loopback(),
        "LISTEN must be a loopback address: the example serves the operators' routes without authentication"
    );
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("listening on {}", listener.local_addr()?);
    Ok(Some(listener))
}

/// The status (`GET /lifespan/status`) and the routes that trigger, pause and resume a task
/// (`POST /lifespan/tasks/{name}/trigger`, `.../pause`, `.../resume`).
fn operators_routes() -> Router {
    Router::new()
        .route("/lifespan/status", get(lifespan_core::status_handler))
        .nest("/lifespan", lifespan_core::control_routes())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let url = std::env::var("DATABASE_URL")
        .context("DATABASE_URL must name the PostgreSQL database the replicas share")?;
    let instance = std::env::var("INSTANCE").ok();
    let mut options: PgConnectOptions = url.parse().context("DATABASE_URL is no PostgreSQL URL")?;
    // The coordinator's session is named after the replica, so that `pg_stat_activity` tells
    // the replicas apart.
    if let Some(instance) = &instance {
        options = options.application_name(&format!("lifespan {instance}"));
    }
    let mut builder = App::builder().coordinator(PgCoordinator::from_options(options));
    // This replica's name; by default `host:pid`.
    if let Some(instance) = instance {
        builder = builder.instance(instance);
    }
    if let Some(settings) = lease_settings()? {
        builder = builder.lease(settings);
    }
    // `TASKS=digest,tick`: only those tasks run (the contexts all do).
    if let Ok(tasks) = std::env::var("TASKS") {
        let names: Vec<String> = tasks
            .split(',')
            .map(|task| format!("{}::{}", module_path!(), task.trim()))
            .collect();
        builder = builder.filter(move |registration| {
            registration.kind != Kind::Task || names.iter().any(|name| name == registration.name)
        });
    }
    let app = builder.build();
    let report = match operators_listener().await? {
        Some(listener) => app.serve_until_signal(listener, operators_routes()).await?,
        None => app.run_until_signal().await?,
    };
    for line in report.to_string().lines() {
        tracing::info!("{line}");
    }
    Ok(())
}
