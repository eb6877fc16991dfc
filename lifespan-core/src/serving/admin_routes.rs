//! Operating tasks by hand over HTTP (feature `axum`): trigger, pause and resume as POST routes,
//! for operators, behind the user's own authentication.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;

use crate::base::redact::redact;
use crate::inject::app_handle::App;
use crate::report::control_error::ControlError;

/// Three POST routes that operate the app's tasks by hand, by task name (its full name, or the
/// last segment of only one): `/tasks/{name}/trigger` ([`App::trigger`]), `/tasks/{name}/pause`
/// ([`App::pause`]) and `/tasks/{name}/resume` ([`App::resume`]). Mount them **behind your own
/// authentication**, as the status route ([`status_handler`](crate::status_handler)): anyone
/// who reaches them stops or starts the service's work. The app is the one serving the router
/// ([`App::serve_until_signal`]), or an `Extension(app)` layer's.
///
/// The answers are short texts that name the task, never an error's internal text:
///
/// | answer | when |
/// |---|---|
/// | `202 Accepted` | a trigger: the manual run is asked for |
/// | `200 OK` | a pause (`paused by web-1`), a resume (`resumed`, or `was not paused`) |
/// | `404 Not Found` | no task of that name |
/// | `409 Conflict` | the task is paused (to trigger), another replica holds its lease, or the coordinator keeps no pauses |
/// | `422 Unprocessable Entity` | the task cannot be operated so: not periodic (nor a singleton, to pause), or ended |
/// | `503 Service Unavailable` | the app is not running, or the coordinator failed (its error is logged, masked) |
///
/// ```
/// use std::sync::Arc;
///
/// use axum::extract::{Request, State};
/// use axum::http::{header, StatusCode};
/// use axum::middleware::{self, Next};
/// use axum::response::{IntoResponse, Response};
/// use axum::{routing::get, Router};
///
/// /// Lets through only the requests that carry the operators' token.
/// async fn operators_only(State(token): State<Arc<str>>, request: Request, next: Next) -> Response {
///     let given = request.headers().get(header::AUTHORIZATION).map(|value| value.as_bytes());
///     if given == Some(format!("Bearer {token}").as_bytes()) {
///         next.run(request).await
///     } else {
///         StatusCode::UNAUTHORIZED.into_response()
///     }
/// }
///
/// let token: Arc<str> = "a long random secret, read from the environment".into();
/// // POST /lifespan/tasks/{name}/trigger, /pause, /resume, beside the status.
/// let admin: Router = Router::new()
///     .route("/lifespan/status", get(lifespan_core::status_handler))
///     .nest("/lifespan", lifespan_core::control_routes())
///     .route_layer(middleware::from_fn_with_state(token, operators_only));
/// let router: Router = Router::new().route("/", get(|| async { "hello" })).merge(admin);
/// # let _ = router;
/// ```
pub fn control_routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/tasks/{name}/trigger", post(trigger_handler))
        .route("/tasks/{name}/pause", post(pause_handler))
        .route("/tasks/{name}/resume", post(resume_handler))
}

/// A handler that [triggers](App::trigger) the task named by the route's one path parameter:
/// `202 Accepted`, or an error's status (see [`control_routes`]).
pub async fn trigger_handler(app: App, Path(name): Path<String>) -> Response {
    match app.trigger(&name).await {
        Ok(()) => (
            StatusCode::ACCEPTED,
            format!("lifespan task `{name}`: a manual run is asked for"),
        )
            .into_response(),
        Err(error) => refused(&error),
    }
}

/// A handler that [pauses](App::pause) the task named by the route's one path parameter:
/// `200 OK`, or an error's status (see [`control_routes`]).
pub async fn pause_handler(app: App, Path(name): Path<String>) -> Response {
    match app.pause(&name).await {
        Ok(pause) => format!("lifespan task `{name}` is paused by {}", pause.by).into_response(),
        Err(error) => refused(&error),
    }
}

/// A handler that [resumes](App::resume) the task named by the route's one path parameter:
/// `200 OK`, or an error's status (see [`control_routes`]).
pub async fn resume_handler(app: App, Path(name): Path<String>) -> Response {
    match app.resume(&name).await {
        Ok(true) => format!("lifespan task `{name}` is resumed").into_response(),
        Ok(false) => format!("lifespan task `{name}` was not paused").into_response(),
        Err(error) => refused(&error),
    }
}

/// The answer to a request refused with `error`: its status, and its message alone, but for a
/// coordinator's failure, whose cause (what a database said) and coordinator (a host) are
/// logged, masked, and never served.
fn refused(error: &ControlError) -> Response {
    let status = match error {
        ControlError::UnknownTask { .. } => StatusCode::NOT_FOUND,
        ControlError::NotControllable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        ControlError::Paused { .. }
        | ControlError::NotHeldHere { .. }
        | ControlError::NotSupported { .. } => StatusCode::CONFLICT,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    let text = match error {
        ControlError::Coordinator { task, action, .. } => {
            tracing::warn!(
                error = %redact(&format!("{error:#}")),
                "an admin route could not {action} lifespan task `{task}`"
            );
            format!("lifespan task `{task}` could not be operated ({action}): the coordinator failed")
        }
        ControlError::NotSupported { task, action, .. } => format!(
            "lifespan task `{task}` cannot be operated ({action}): the coordinator keeps no pauses or manual runs"
        ),
        other => other.to_string(),
    };
    (status, text).into_response()
}
