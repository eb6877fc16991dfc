//! Readiness and liveness handlers for axum (feature `axum`): what an orchestrator's probes ask.

use axum::http::StatusCode;

use crate::phase::Phase;
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
