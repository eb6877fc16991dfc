//! An axum backend whose model, statistics and background refresh are lifespan contexts and
//! tasks: the server accepts connections only once the model is loaded, and at shutdown it
//! finishes the requests in flight, then stops the refresh task, then releases the model.
//!
//! ```text
//! cargo run --example server
//! curl 'http://127.0.0.1:3000/predict?x=2'     # 84
//! curl 'http://127.0.0.1:3000/stats'
//! ```
//!
//! The status of every task and context, as JSON, is for operators only: it is served when
//! `STATUS_TOKEN` is set, to requests that carry that token.
//!
//! ```text
//! STATUS_TOKEN=$(openssl rand -hex 32) cargo run --example server
//! curl -H "Authorization: Bearer $STATUS_TOKEN" 'http://127.0.0.1:3000/lifespan/status'
//! ```
//!
//! Behind the same token, the periodic tasks are operated by hand: a run now, a pause, a resume.
//!
//! ```text
//! curl -X POST -H "Authorization: Bearer $STATUS_TOKEN" 'http://127.0.0.1:3000/lifespan/tasks/report_stats/trigger'
//! curl -X POST -H "Authorization: Bearer $STATUS_TOKEN" 'http://127.0.0.1:3000/lifespan/tasks/report_stats/pause'
//! curl -X POST -H "Authorization: Bearer $STATUS_TOKEN" 'http://127.0.0.1:3000/lifespan/tasks/report_stats/resume'
//! ```
//!
//! The dashboard, in a browser, behind the same token: open `http://127.0.0.1:3000/lifespan`
//! and sign in as `operator` with the token as the password (HTTP basic authentication, which
//! the browser then sends with the page's own requests).
//!
//! `LISTEN=127.0.0.1:0` picks a free port (the log says which). Stop it with Ctrl-C or SIGTERM;
//! with `LIFESPAN_DEV=1`, SIGHUP reloads the model and restarts the task while it keeps serving.
//!
//! `/ready` and `/live` are the probes of an orchestrator. Under Kubernetes, set a drain delay
//! (`DRAIN_DELAY_MS=5000`): on SIGTERM, readiness fails at once while the server keeps serving
//! for the delay, so that the load balancers stop sending requests before it stops accepting.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, Request};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use lifespan_core::{lifespan_context, lifespan_task, App, Shutdown, State, Yield};
use serde::Deserialize;

/// A stand-in for an ML model that takes a while to load.
struct Model {
    factor: f64,
}

impl Model {
    fn predict(&self, x: f64) -> f64 {
        x * self.factor
    }
}

/// Loads the model before the server accepts any connection; releases it after every request
/// and task is done with it.
#[lifespan_context(factor = std::env::var("MODEL_FACTOR").map_or(Ok(42.0), |f| f.parse())?)]
async fn load_model(factor: f64, lifespan: Yield<Model>) {
    tracing::info!("loading the model");
    tokio::time::sleep(Duration::from_millis(200)).await;
    lifespan.ready_with(Model { factor }).await;
    tracing::info!("releasing the model");
}

/// Statistics that the refresh task updates and the `/stats` handler reads.
#[derive(Default)]
struct Stats {
    refreshes: AtomicU64,
}

#[lifespan_context]
async fn stats(lifespan: Yield<Stats>) {
    lifespan.ready_with(Stats::default()).await;
}

/// Refreshes the statistics periodically, using the model, until shutdown.
#[lifespan_task(every = Duration::from_secs(1))]
async fn refresh_stats(
    every: Duration,
    model: State<Model>,
    stats: State<Stats>,
    shutdown: Shutdown,
) {
    let mut ticks = tokio::time::interval(every);
    while shutdown.run_until_cancelled(ticks.tick()).await.is_some() {
        let refreshes = stats.refreshes.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::debug!(
            refreshes,
            check = model.predict(1.0),
            "statistics refreshed"
        );
    }
    tracing::info!("refresh task stopped");
}

/// Logs the statistics every 10 seconds: a periodic task, without a loop to write. Its option
/// `every` and the refresh task's keyword argument `every` do not collide: options have their
/// own attribute.
#[lifespan_task]
#[lifespan(every = "10s", name = "stats reporter")]
async fn report_stats(stats: State<Stats>) {
    tracing::info!(
        refreshes = stats.refreshes.load(Ordering::Relaxed),
        "statistics"
    );
}

#[derive(Deserialize)]
struct Input {
    x: f64,
}

async fn predict(model: State<Model>, Query(input): Query<Input>) -> String {
    model.predict(input.x).to_string()
}

async fn show_stats(stats: State<Stats>) -> String {
    format!("refreshes: {}", stats.refreshes.load(Ordering::Relaxed))
}

/// The operators' routes: the lifespan status, the routes that trigger, pause and resume a
/// task (`POST /lifespan/tasks/{name}/trigger`, ...) and the dashboard (`/lifespan`), for
/// requests that carry the token in `STATUS_TOKEN`, as `Authorization: Bearer <token>` or as
/// the password of HTTP basic authentication (user `operator`: what a browser sends). Without a
/// token, there are none: the status tells how the service works inside, and the others stop
/// or start its work.
fn operator_routes() -> Router {
    let Some(token) = std::env::var("STATUS_TOKEN").ok().filter(|t| !t.is_empty()) else {
        tracing::info!(
            "the status route is off: set STATUS_TOKEN to serve it to who has the token"
        );
        return Router::new();
    };
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("operator:{token}"));
    let expected: Arc<[String; 2]> =
        Arc::new([format!("Bearer {token}"), format!("Basic {basic}")]);
    Router::new()
        .route("/lifespan", get(lifespan_core::dashboard_handler))
        .route("/lifespan/", get(lifespan_core::dashboard_handler))
        .route("/lifespan/status", get(lifespan_core::status_handler))
        .nest("/lifespan", lifespan_core::control_routes())
        .route_layer(middleware::from_fn_with_state(expected, operators_only))
}

/// Lets through the requests whose `Authorization` header is one of `expected`; answers the
/// others `401 Unauthorized`, asking a browser for basic authentication.
async fn operators_only(
    axum::extract::State(expected): axum::extract::State<Arc<[String; 2]>>,
    request: Request,
    next: Next,
) -> Response {
    let given = request.headers().get(header::AUTHORIZATION);
    let allowed = given.is_some_and(|given| {
        expected.iter().fold(false, |any, one| {
            any | same(given.as_bytes(), one.as_bytes())
        })
    });
    if allowed {
        next.run(request).await
    } else {
        let ask = [(header::WWW_AUTHENTICATE, r#"Basic realm="lifespan""#)];
        (StatusCode::UNAUTHORIZED, ask).into_response()
    }
}

/// Compares in a time that does not depend on where `a` and `b` differ, so that response times
/// do not give the token away byte by byte.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |differ, (x, y)| differ | (x ^ y)) == 0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();

    let addr = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".into());
    // Bound before startup: connections made during setup wait until the model is loaded.
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!("listening on {}", listener.local_addr()?);
    let router = Router::new()
        .route("/predict", get(predict))
        .route("/stats", get(show_stats))
        .route("/ready", get(lifespan_core::readiness_handler))
        .route("/live", get(lifespan_core::liveness_handler))
        .merge(operator_routes());

    let drain_delay = match std::env::var("DRAIN_DELAY_MS") {
        Ok(ms) => Duration::from_millis(ms.parse()?),
        Err(_) => Duration::ZERO,
    };
    let app = App::builder().drain_delay(drain_delay).build();
    let report = app.serve_until_signal(listener, router).await?;
    for line in report.to_string().lines() {
        tracing::info!("{line}");
    }
    Ok(())
}
