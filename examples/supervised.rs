//! Supervision instead of hand-written loops: a feed consumer restarted with backoff when it
//! fails, critical to the service; a cache refreshed every few seconds; a connection pool as a
//! context that the other two share.
//!
//! ```text
//! cargo run --example supervised
//! FEED_DOWN=1 cargo run --example supervised   # the feed never connects: after 3 restarts
//!                                              # within a minute the app shuts down, exit 1
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

use lifespan_core::{lifespan_context, lifespan_task, App, Shutdown, State, Yield};

/// A stand-in for a connection pool.
struct Pool {
    queries: AtomicU64,
}

impl Pool {
    fn query(&self) -> u64 {
        self.queries.fetch_add(1, Ordering::Relaxed) + 1
    }
}

#[lifespan_context]
async fn pool(lifespan: Yield<Pool>) {
    tracing::info!("pool opened");
    lifespan
        .ready_with(Pool {
            queries: AtomicU64::new(0),
        })
        .await;
    tracing::info!("pool closed");
}

/// Consumes a feed until shutdown. If it cannot connect it fails, and is restarted after
/// 200 ms, then 400 ms, ... up to 2 s; after 3 restarts within a minute it has failed for good,
/// and since the service is useless without it, the app shuts down with an error.
#[lifespan_task(feed_down = std::env::var_os("FEED_DOWN").is_some())]
#[lifespan(restart = on_failure, backoff = "200ms..2s", max_restarts = 3, within = "1m", critical)]
async fn consume_feed(
    feed_down: bool,
    pool: State<Pool>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    anyhow::ensure!(!feed_down, "the feed refused the connection");
    tracing::info!("feed connected");
    while shutdown
        .run_until_cancelled(tokio::time::sleep(std::time::Duration::from_millis(500)))
        .await
        .is_some()
    {
        pool.query();
    }
    tracing::info!("feed disconnected");
    Ok(())
}

/// Refreshes a cache every 2 seconds, first at startup: no loop, no sleep to write.
#[lifespan_task]
#[lifespan(every = "2s", at_startup, name = "cache refresher")]
async fn refresh_cache(pool: State<Pool>) {
    let queries = pool.query();
    tracing::info!(queries, "cache refreshed");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    // Ctrl-C or SIGTERM: graceful shutdown, exit 0. A critical task failing for good: the same
    // shutdown, then this returns the error and the process exits 1.
    let report = App::new().run_until_signal().await?;
    for line in report.to_string().lines() {
        tracing::info!("{line}");
    }
    Ok(())
}
