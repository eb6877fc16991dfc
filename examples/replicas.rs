//! Run it on several replicas: a heartbeat that one replica at a time writes, guarded by its
//! fencing token, and a tick that runs once per point of its schedule across all replicas. They
//! share one PostgreSQL database, which coordinates them.
//!
//! ```text
//! DATABASE_URL=postgres://localhost/app INSTANCE=a cargo run --example replicas
//! DATABASE_URL=postgres://localhost/app INSTANCE=b cargo run --example replicas
//! ```
//!
//! Stop the replica that writes the heartbeat (Ctrl-C) and another takes over within a retry
//! period (2 s); kill it (`kill -9`) and another takes over once its lease has expired (15 s).
//! `LEASE_MS`, `RENEW_DEADLINE_MS` and `RETRY_MS` change the lease settings.

use std::time::Duration;

use anyhow::Context as _;
use lifespan_core::{
    lifespan_context, lifespan_task, App, Lease, LeaseSettings, Shutdown, State, Yield,
};
use lifespan_postgres::PgCoordinator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

/// The example's tables: the heartbeats written, accepted or rejected by the fence; the ticks;
/// and the fence, which keeps the highest token that has written.
const SCHEMA: &str = "
    SELECT pg_advisory_xact_lock(7263);
    CREATE TABLE IF NOT EXISTS replica_fence (name text PRIMARY KEY, token bigint NOT NULL);
    INSERT INTO replica_fence VALUES ('heartbeat', 0) ON CONFLICT DO NOTHING;
    CREATE TABLE IF NOT EXISTS replica_beats (
        instance text NOT NULL, token bigint NOT NULL, accepted boolean NOT NULL,
        at timestamptz NOT NULL DEFAULT clock_timestamp());
    CREATE TABLE IF NOT EXISTS replica_ticks (
        instance text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
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
async fn tick(app: App, db: State<PgPool>) -> anyhow::Result<()> {
    sqlx::query("INSERT INTO replica_ticks (instance) VALUES ($1)")
        .bind(app.instance())
        .execute(&*db)
        .await?;
    Ok(())
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
    let report = builder.build().run_until_signal().await?;
    for line in report.to_string().lines() {
        tracing::info!("{line}");
    }
    Ok(())
}
