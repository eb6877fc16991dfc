//! Readiness and liveness handlers for axum (feature `axum`): what an orchestrator's probes ask.

use axum::http::StatusCode;

use crate::status::phase::Phase;
use crate::App;

/// A readiness probe: `200 OK` while the app runs and its shutdown has not begun; `503 Service
/// Unavailable` until startup is complete, and from the moment shutdown begins (for any
/// reason), so that a load balancer stops sending requests before the server stops accepting
/// them (see [`AppBuilder::drain_delay`](crate::AppBuilder::drain_delay)).
///
/// ```
/// use axum::{routing::get, Router};
///
/// let probes: Router = Router::new()
///     .route("/ready", get(lifespan_core::readiness_handler))
///     .route("/live", get(lifespan_core::liveness_handler));
/// # let _ = probes;
/// ```
///
/// # During startup
///
/// [`App::serve_until_signal`](crate::App::serve_until_signal) (and the other forms that serve
/// for the app) accepts no connection before startup is complete: routed on the app's own
/// router, this handler is never asked during setup, and a probe there gets no answer (its
/// timeout fails it) rather than a `503`. To answer `503` during a long setup, serve the probes
/// on a listener of their own, started before the app; handlers reach the app through its
/// `Extension`:
///
/// ```no_run
/// use axum::{routing::get, Extension, Router};
/// use lifespan_core::{liveness_handler, readiness_handler, App};
///
/// #[tokio::main]
/// async fn main() -> anyhow::Result<()> {
///     let app = App::new();
///     let probes = Router::new()
///         .route("/ready", get(readiness_handler))
///         .route("/live", get(liveness_handler))
///         .layer(Extension(app.clone()));
///     let probe_listener = tokio::net::TcpListener::bind("0.0.0.0:9000").await?;
///     // Answers from now on: `503` during setup, `200` once the app runs.
///     let probing = tokio::spawn(async move { axum::serve(probe_listener, probes).await });
///     let listener = tokio::net::TcpListener::bind("0.0.0.0:3000").await?;
///     let router = Router::new().route("/", get(|| async { "hello" }));
///     let served = app.serve_until_signal(listener, router).await;
///     probing.abort();
///     served?;
///     Ok(())
/// }
/// ```
pub async fn readiness_handler(app: App) -> (StatusCode, &'static str) {
    if app.phase() == Phase::Running && !app.exit_signals().exit.is_cancelled() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}

/// A liveness probe: `200 OK` whenever it is answered. A runtime whose threads are all blocked
/// does not answer, and the probe's timeout tells the orchestrator to restart the process;
/// shutting down is no reason to be restarted.
pub async fn liveness_handler() -> (StatusCode, &'static str) {
    (StatusCode::OK, "alive")
}
