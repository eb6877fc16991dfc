//! The dashboard (feature `axum`): one self-contained page, served beside the status route,
//! that shows every task and context from it and refreshes by itself.

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The page: HTML with its style and script inline, nothing fetched from elsewhere.
const PAGE: &str = include_str!("dashboard.html");

/// Serves the dashboard: one HTML page (under 8 KB, no external asset, script or font, so that
/// it works in an air-gapped cluster) that reads the [status route](crate::status_handler)
/// every 2 seconds and shows each task (state, paused, runs, its last runs with outcome and
/// duration — for a once-per-point task, its latest points on every replica, from the ledger
/// — next run, lease holder with token and since when) and each context; and, for an app that
/// [publishes its status](crate::AppBuilder::publish_status), each other replica's tasks and
/// contexts as it last published them, and whether it went silent. Outcomes are
/// written in words, so the page reads without colour. Its buttons post to
/// `tasks/{name}/trigger`, `tasks/{name}/pause` and `tasks/{name}/resume` beside it.
///
/// Mount it where the status route is, behind the same authentication: the page at
/// `/lifespan` (or `/lifespan/`) reads `/lifespan/status`.
///
/// ```
/// use axum::{routing::get, Router};
///
/// let admin: Router = Router::new()
///     .route("/lifespan", get(lifespan_core::dashboard_handler))
///     .route("/lifespan/", get(lifespan_core::dashboard_handler))
///     .route("/lifespan/status", get(lifespan_core::status_handler));
/// // ... `.layer(...)` the operators' authentication, as for the status route.
/// # let _ = admin;
/// ```
pub async fn dashboard_handler() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        PAGE,
    )
        .into_response()
}

// The page stays small: under 8 KB, checked when the crate compiles.
const _: () = assert!(PAGE.len() < 8 * 1024, "the dashboard's page grew past 8 KB");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_fetches_nothing_from_elsewhere() {
        for outside in [
            "http:", "https:", "//cdn", "<link", "src=", "@import", "url(",
        ] {
            assert!(!PAGE.contains(outside), "the page refers to {outside:?}");
        }
    }
}
