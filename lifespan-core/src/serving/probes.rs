//! Readiness and liveness handlers for axum (feature `axum`): what an orchestrator's probes ask.

use axum::extract::{OptionalFromRequestParts, RawQuery};
use axum::http::request::Parts;
use axum::http::StatusCode;

use crate::inject::app_handle::WeakApp;
use crate::App;

/// A readiness probe: `200 OK` (`ready`) while the app runs, its shutdown has not begun, and
/// every [readiness check](App::add_readiness_check) passes within the
/// [readiness timeout](crate::AppBuilder::readiness_timeout); `503 Service Unavailable`
/// (`not ready`) until startup is complete, while a check fails or times out, and from the
/// moment shutdown begins (for any reason), so that a load balancer stops sending requests
/// before the server stops accepting them (see
/// [`AppBuilder::drain_delay`](crate::AppBuilder::drain_delay)). The checks run concurrently,
/// once per request.
///
/// With `?verbose` in the query, the body lists each check as Kubernetes' `/readyz?verbose`
/// does ([`Readiness`](crate::Readiness)'s `{}`): its name and `ok`, `failed` or `timed out`,
/// never its error (which is logged, masked):
///
/// ```text
/// [+]phase ok
/// [-]database failed
/// [+]cache ok
/// readyz check failed
/// ```
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
pub async fn readiness_handler(app: App, RawQuery(query): RawQuery) -> (StatusCode, String) {
    let readiness = app.readiness().await;
    let status = if readiness.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let verbose = query.as_deref().is_some_and(|query| {
        query
            .split('&')
            .any(|pair| pair == "verbose" || pair.starts_with("verbose="))
    });
    let body = if verbose {
        readiness.to_string()
    } else if readiness.is_ready() {
        "ready".to_owned()
    } else {
        "not ready".to_owned()
    };
    (status, body)
}

/// A liveness probe: `200 OK` (`alive`) unless the app is [not live](App::liveness): a task's
/// poll stuck past the [stuck limit](crate::AppBuilder::stuck_limit), or a critical task
/// failed for good while the app has not shut down yet; then `503 Service Unavailable` with the
/// reason (``stuck: task `x` has blocked its thread for 3.0s``), which names a task and never an
/// error. Shutting down is no reason to be restarted.
///
/// The app is read from the request's extensions, as for [`readiness_handler`]; routed where
/// there is none, it answers `200` whenever it is answered. A runtime whose threads are all
/// blocked does not answer at all, and the probe's timeout tells the orchestrator to restart
/// the process; on a multi-thread runtime, a task that blocks one thread past the stuck limit
/// is answered `503` from another.
pub async fn liveness_handler(app: Option<App>) -> (StatusCode, String) {
    match app.map(|app| app.liveness()) {
        Some(liveness) if !liveness.is_live() => {
            (StatusCode::SERVICE_UNAVAILABLE, liveness.to_string())
        }
        _ => (StatusCode::OK, "alive".to_owned()),
    }
}

/// The app, if the request's extensions hold it: a probe routed without it still answers.
impl<S: Send + Sync> OptionalFromRequestParts<S> for App {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        if let Some(app) = parts.extensions.get::<App>() {
            return Ok(Some(app.clone()));
        }
        Ok(parts.extensions.get::<WeakApp>().and_then(WeakApp::upgrade))
    }
}
