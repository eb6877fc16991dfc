//! Running any server under the app (axum, tonic, hyper, ...): launched once startup is
//! complete; at shutdown it stops accepting and drains first, then tasks stop, then contexts
//! are cleaned up; its own error, or its panic, ends the app with that error.

use std::future::Future;
use std::pin::Pin;

use tokio_util::sync::CancellationToken;

use crate::base::panic;
use crate::inject::app_handle::{App, ServerFailure};
use crate::lifecycle::server_slot::Server;
use crate::report::errors::RunError;
use crate::report::outcome::Report;
use crate::report::task_error::TaskError;
use crate::serving::graceful_shutdown::ShutdownSignal;

impl App {
    /// Runs the app with a server of your own until SIGINT (Ctrl-C) or SIGTERM: starts the app,
    /// then calls `server` with a [`ShutdownSignal`] that completes when the server is to stop
    /// accepting (after the [drain delay](crate::AppBuilder::drain_delay), once shutdown has
    /// begun); the future it returns serves until then and drains. Shutdown goes in order: the
    /// server drains (bounded by the [drain timeout](crate::AppBuilder::drain_timeout), then
    /// dropped), then tasks stop, then contexts are cleaned up.
    ///
    /// If the server returns an error, the app shuts down and this returns
    /// [`RunError::ServerFailed`] with it; if it returns `Ok` before shutdown, the app shuts
    /// down too (nothing serves any more). If it panics (its future, while serving or draining,
    /// or `server` itself when called), the app shuts down in the same order and this returns
    /// [`RunError::ServerPanicked`] with the panic's message: the panic never unwinds into the
    /// caller, and the app is never left running without its server. This form listens for signals (see
    /// [`run_until_signal`](Self::run_until_signal)); [`run_server_until`](Self::run_server_until)
    /// does not.
    ///
    #[cfg_attr(
        feature = "axum",
        doc = r#"
```no_run
use axum::{routing::get, Router};
use lifespan_core::App;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    let router = Router::new().route("/", get(|| async { "hello" }));
    App::new()
        .run_server_until_signal(|shutdown| async move {
            axum::serve(listener, router).with_graceful_shutdown(shutdown).await
        })
        .await?;
    Ok(())
}
```
"#
    )]
    pub async fn run_server_until_signal<S, F, E>(&self, server: S) -> Result<Report, RunError>
    where
        S: FnOnce(ShutdownSignal) -> F + Send + 'static,
        F: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync + 'static>> + 'static,
    {
        let server = self.server_of(server);
        self.run_until_signal_serving(Some(server)).await
    }

    /// [`run_server_until_signal`](Self::run_server_until_signal) until `stop` completes or
    /// [shutdown is requested](Self::request_shutdown), without listening for signals.
    ///
    /// ```
    /// use lifespan_core::{App, Shutdown};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> anyhow::Result<()> {
    /// let app = App::empty();
    /// app.register_task("worker", |shutdown: Shutdown| async move { shutdown.cancelled().await })?;
    /// // A stand-in for a server: serves until told to stop accepting.
    /// let server = |stop_accepting: lifespan_core::ShutdownSignal| async move {
    ///     stop_accepting.await;
    ///     Ok::<(), std::io::Error>(())
    /// };
    /// let stop = tokio::time::sleep(std::time::Duration::from_secs(1));
    /// let report = tokio::time::timeout(
    ///     std::time::Duration::from_secs(3600),
    ///     app.run_server_until(server, stop),
    /// )
    /// .await??;
    /// assert!(report.is_clean());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn run_server_until<S, F, E, Stop>(
        &self,
        server: S,
        stop: Stop,
    ) -> Result<Report, RunError>
    where
        S: FnOnce(ShutdownSignal) -> F + Send + 'static,
        F: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync + 'static>> + 'static,
        Stop: Future,
    {
        self.reset_exit();
        let server = self.server_of(server);
        self.run(stop, None, Some(server), None).await
    }

    /// The launch of a server of the user's: it stops accepting on the drain signal; its end
    /// before shutdown, its error or its panic (in its closure or its future) ends the app.
    fn server_of<S, F, E>(&self, server: S) -> Server
    where
        S: FnOnce(ShutdownSignal) -> F + Send + 'static,
        F: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync + 'static>> + 'static,
    {
        // Weak: the server's task must not keep alive the app that owns it.
        let app = self.downgrade();
        Box::new(move |drain, _abandon| {
            let signal = ShutdownSignal::new(drain.clone());
            let serving = match panic::catching(|| server(signal)) {
                Ok(serving) => Box::pin(serving),
                Err(message) => {
                    if let Some(app) = app.upgrade() {
                        server_panicked(&app, "calling the server", message);
                    }
                    return tokio::spawn(async {});
                }
            };
            tokio::spawn(async move {
                let ended = serve(serving).await;
                if let Some(app) = app.upgrade() {
                    server_ended(&app, ended, &drain);
                }
            })
        })
    }
}

/// Runs the server's future to its end: what it returned, or the message of its panic.
async fn serve<F, E>(mut serving: Pin<Box<F>>) -> Result<Result<(), E>, String>
where
    F: Future<Output = Result<(), E>>,
{
    panic::poll_catching(&mut serving).await
}

/// What the server's end means for the app.
fn server_ended<E>(app: &App, ended: Result<Result<(), E>, String>, drain: &CancellationToken)
where
    E: Into<Box<dyn std::error::Error + Send + Sync + 'static>> + 'static,
{
    match ended {
        Err(message) => server_panicked(app, "the server", message),
        Ok(Err(error)) => {
            let error = TaskError::new(anyhow::Error::from_boxed(error.into()));
            tracing::error!(error = %format_args!("{error:#}"), "lifespan: the server failed: shutting the app down");
            app.fail_server(ServerFailure::Failed(error));
        }
        Ok(Ok(())) if !drain.is_cancelled() => {
            tracing::warn!("lifespan: the server stopped on its own: shutting the app down");
            app.request_shutdown();
        }
        Ok(Ok(())) => {}
    }
}

/// The server panicked (`what`: its closure when called, or its future): the app shuts down,
/// and its run ends with [`RunError::ServerPanicked`].
fn server_panicked(app: &App, what: &str, message: String) {
    tracing::error!(panic = %message, "lifespan: {what} panicked: shutting the app down");
    app.fail_server(ServerFailure::Panicked(message));
}
