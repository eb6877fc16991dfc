//! Serving an axum `Router` while the app runs (feature `axum`): connections are accepted only
//! once every context is set up; at shutdown the server stops accepting and drains the requests
//! in flight, then tasks are stopped, then contexts are cleaned up.

use std::future::Future;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::serve::Listener;
use axum::{Extension, Router};
use tokio_util::sync::CancellationToken;

use crate::inject::app_handle::{App, WeakApp};
use crate::inject::state::State;
use crate::lifecycle::server_slot::Server;
use crate::report::errors::RunError;
use crate::report::outcome::Report;

impl App {
    /// Serves `router` on `listener` (any axum [`Listener`]: TCP, Unix, your own) while the
    /// app runs, until SIGINT (Ctrl-C) or SIGTERM (this form listens for them), then
    /// shuts down in order: the server stops accepting and finishes the requests in flight (up
    /// to the [drain timeout](crate::AppBuilder::drain_timeout)), then tasks are stopped, then
    /// contexts are cleaned up. In [dev mode](crate::AppBuilder::dev_mode), SIGHUP
    /// [reloads](Self::reload) the app while the server keeps serving.
    ///
    /// The listener may be bound before: connections wait in its backlog, not accepted, until
    /// every context is set up. If startup fails, nothing is served and the error is returned.
    /// Handlers reach the app and its state through the [`App`] and [`State<T>`] extractors.
    /// For connect info, another make-service or another server, use
    /// [`run_server_until_signal`](Self::run_server_until_signal).
    ///
    /// ```no_run
    /// use axum::{routing::get, Router};
    /// use lifespan_core::{lifespan_context, App, State, Yield};
    ///
    /// struct Greeting(String);
    ///
    /// #[lifespan_context]
    /// async fn greeting(lifespan: Yield<Greeting>) {
    ///     lifespan.ready_with(Greeting("hello".into())).await;
    /// }
    ///
    /// async fn hello(greeting: State<Greeting>) -> String {
    ///     greeting.0.clone()
    /// }
    ///
    /// #[tokio::main]
    /// async fn main() -> anyhow::Result<()> {
    ///     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    ///     let router = Router::new().route("/", get(hello));
    ///     App::new().serve_until_signal(listener, router).await?;
    ///     Ok(())
    /// }
    /// ```
    pub async fn serve_until_signal<L>(
        &self,
        listener: L,
        router: Router,
    ) -> Result<Report, RunError>
    where
        L: Listener,
        L::Addr: std::fmt::Debug,
    {
        self.run_until_signal_serving(Some(self.server(listener, router)))
            .await
    }

    /// [`serve_until_signal`](Self::serve_until_signal) until `stop` completes or [shutdown is
    /// requested](Self::request_shutdown), without listening for signals.
    ///
    /// ```
    /// use axum::{routing::get, Router};
    /// use lifespan_core::App;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> anyhow::Result<()> {
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let router = Router::new().route("/", get(|| async { "hello" }));
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// # drop(stop); // here: stop at once
    /// // Serves until `stop` is sent (or dropped), then drains, stops the tasks, cleans up.
    /// let app = App::empty();
    /// let serving = app.serve_until(listener, router, stopped);
    /// let report = tokio::time::timeout(std::time::Duration::from_secs(60), serving).await??;
    /// assert!(report.is_clean());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn serve_until<L, F>(
        &self,
        listener: L,
        router: Router,
        stop: F,
    ) -> Result<Report, RunError>
    where
        L: Listener,
        L::Addr: std::fmt::Debug,
        F: Future,
    {
        self.reset_exit();
        let server = self.server(listener, router);
        self.run(stop, None, Some(server), None).await
    }

    fn server<L>(&self, listener: L, router: Router) -> Server
    where
        L: Listener,
        L::Addr: std::fmt::Debug,
    {
        // Weak: the server the app runs must not keep the app alive.
        let app = self.downgrade();
        Box::new(move |drain, abandon| {
            let router = router
                .layer(axum::middleware::from_fn(move |request, next: Next| {
                    let abandon = abandon.clone();
                    async move { abandonable(request, next, abandon).await }
                }))
                .layer(Extension(app));
            tokio::spawn(async move {
                let serving = axum::serve(listener, router)
                    .with_graceful_shutdown(async move { drain.cancelled().await });
                // axum's server does not fail: it retries failed accepts.
                let _ = serving.await;
            })
        })
    }
}

/// Runs a request, unless the drain timeout ends first: then it is dropped and answered
/// `503 Service Unavailable`, so that its connection closes.
async fn abandonable(request: Request, next: Next, abandon: CancellationToken) -> Response {
    tokio::select! {
        response = next.run(request) => response,
        () = abandon.cancelled() => shutting_down(),
    }
}

/// The answer to a request abandoned at the drain timeout.
fn shutting_down() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the server is shutting down",
    )
        .into_response()
}

/// The app, in a handler of a router served by [`App::serve_until_signal`].
impl<S: Send + Sync> FromRequestParts<S> for App {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(app) = parts.extensions.get::<App>() {
            return Ok(app.clone());
        }
        match parts.extensions.get::<WeakApp>() {
            Some(app) => app.upgrade().ok_or((
                StatusCode::SERVICE_UNAVAILABLE,
                "the lifespan app is gone: it is shutting down",
            )),
            None => Err((
                StatusCode::INTERNAL_SERVER_ERROR,
                "the lifespan app is not in this request's extensions: serve the router with `App::serve_until_signal` or `App::serve_until`, or add `.layer(Extension(app))` to it",
            )),
        }
    }
}

/// A context's state, in a handler of a router served by [`App::serve_until_signal`]: the value of the
/// current start of the app (after a reload, the new one). While the app is not running, or if
/// no context provides a `T`, the request is answered `503 Service Unavailable`.
impl<S: Send + Sync, T: Send + Sync + 'static> FromRequestParts<S> for State<T> {
    type Rejection = (StatusCode, String);

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = App::from_request_parts(parts, state)
            .await
            .map_err(|(status, message)| (status, message.to_owned()))?;
        app.state::<T>().ok_or_else(|| {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "lifespan state `{}` is not available: the app is not running, or no context provides it",
                    std::any::type_name::<T>()
                ),
            )
        })
    }
}
