//! The tasks' metrics (feature `metrics` of lifespan-core) scraped by Prometheus: a sync that
//! runs every 200 ms and fails one run in three, restarted after its backoff, and a report on a
//! cron schedule (feature `cron`), with the counters of their starts, failures and restarts,
//! their run durations and the running tasks served at `/metrics` in the Prometheus text format;
//! and what alerts are written on: the wall-clock time of each task's last success
//! (`lifespan_task_last_success_timestamp_seconds`) and of its next run
//! (`lifespan_task_next_run_timestamp_seconds`), whether it failed for good
//! (`lifespan_task_failed_for_good`), its runs cut at their timeout
//! (`lifespan_task_timeouts_total`) and asked for by hand (`lifespan_task_manual_runs_total`).
//! The metrics of singleton and once-per-point tasks (leases, missed points, the requests to the
//! coordinator) need a coordinator: see the table in lifespan-core's documentation. And the
//! alerting rules on them that the app writes from the tasks' schedules (`--alert-rules`).
//!
//! ```text
//! cargo run --example metrics                  # serves http://127.0.0.1:9000/metrics
//! cargo run --example metrics -- 127.0.0.1:0   # on a free port: the log says which
//! curl -s http://127.0.0.1:9000/metrics | grep lifespan_
//! cargo run --example metrics -- --alert-rules > lifespan.rules.yml   # the rules, then exits
//! curl -X POST http://127.0.0.1:9000/fail      # every sync fails from now on
//! ```
//!
//! The address is the first argument, else `LISTEN`, else `127.0.0.1:9000`. `SYNC_EVERY_MS`
//! sets the sync's period in milliseconds (default 200): the alert on it fires after twice
//! that without a success, so give Prometheus a period longer than its scrape interval.
//! `POST /fail` is the example's knob for trying the alerts: every sync fails after it (keep
//! the address on loopback). Stop it with Ctrl-C or SIGTERM.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use lifespan_core::{lifespan_task, App, Restart, TaskOptions};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Runs of the sync so far.
static SYNCS: AtomicU64 = AtomicU64::new(0);

/// Set by `POST /fail`: every sync fails from then on.
static FAILING: AtomicBool = AtomicBool::new(false);

/// Syncs an inventory; one run in three fails, as an upstream that sometimes refuses would
/// make it, and every run once `/fail` was posted.
async fn sync_inventory() -> anyhow::Result<()> {
    let run = SYNCS.fetch_add(1, Ordering::Relaxed) + 1;
    tokio::time::sleep(Duration::from_millis(20)).await;
    anyhow::ensure!(!run.is_multiple_of(3), "the upstream refused the sync");
    anyhow::ensure!(!FAILING.load(Ordering::Relaxed), "the upstream is gone");
    tracing::info!(run, "inventory synced");
    Ok(())
}

/// Writes a report at every even second, as a crontab line would (feature `cron`): its runs
/// show in the status (`runs`, `last_run`, `next_run`), as `lifespan.run` spans, and here in
/// the metrics; a run still going after a second is cut and counted as failed.
#[lifespan_task]
#[lifespan(cron = "*/2 * * * * *", timeout = "1s", name = "report")]
async fn write_report() {
    tracing::info!("report written");
}

/// The address to serve on: the first argument, else `LISTEN`, else port 9000 on loopback.
fn address() -> String {
    std::env::args()
        .nth(1)
        .or_else(|| std::env::var("LISTEN").ok())
        .unwrap_or_else(|| "127.0.0.1:9000".into())
}

/// The sync's period: `SYNC_EVERY_MS` milliseconds, else 200 ms.
fn sync_period() -> anyhow::Result<Duration> {
    match std::env::var("SYNC_EVERY_MS") {
        Ok(millis) => Ok(Duration::from_millis(millis.parse()?)),
        Err(_) => Ok(Duration::from_millis(200)),
    }
}

/// The app: the report (registered by its attribute), the sync, restarted 100 ms after a
/// failure (doubling up to 1 s), and the exporter's upkeep.
fn app(prometheus: &PrometheusHandle) -> anyhow::Result<App> {
    let app = App::new();
    let sync = TaskOptions::new()
        .every(sync_period()?)
        .restart(Restart::OnFailure)
        .backoff(Duration::from_millis(100), Duration::from_secs(1));
    app.register_task_with("inventory sync", sync, sync_inventory)?;
    // The exporter drains its histograms now and then: a periodic task of the app does it.
    let upkeep = prometheus.clone();
    app.register_task_with(
        "metrics upkeep",
        TaskOptions::new().every(Duration::from_secs(5)),
        move || {
            let upkeep = upkeep.clone();
            async move { upkeep.run_upkeep() }
        },
    )?;
    Ok(app)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // The recorder first: the app describes its metrics to it when it starts.
    let prometheus = PrometheusBuilder::new().install_recorder()?;
    let app = app(&prometheus)?;
    if std::env::args().nth(1).as_deref() == Some("--alert-rules") {
        // Only the rules on stdout: nothing is logged.
        print!("{}", app.alert_rules()?.label("severity", "warning")?);
        return Ok(());
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let listener = tokio::net::TcpListener::bind(address()).await?;
    tracing::info!(
        "serving metrics on http://{}/metrics",
        listener.local_addr()?
    );
    let render = move || {
        let prometheus: PrometheusHandle = prometheus.clone();
        async move { prometheus.render() }
    };
    let fail = || async {
        FAILING.store(true, Ordering::Relaxed);
        tracing::warn!("every sync fails from now on");
        "every sync fails from now on\n"
    };
    let router = Router::new()
        .route("/metrics", get(render))
        .route("/fail", post(fail));
    let report = app.serve_until_signal(listener, router).await?;
    for line in report.to_string().lines() {
        tracing::info!("{line}");
    }
    Ok(())
}
