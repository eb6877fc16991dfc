//! An owned future that completes when the app's shutdown begins: for a server the app does not
//! run itself (`axum::serve(..).with_graceful_shutdown(..)`, tonic's `serve_with_shutdown`,
//! hyper-util's graceful shutdown, actix's server handle).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::base::lock::lock;
use crate::inject::app_handle::App;

/// Completes when the app's shutdown begins, for any reason: a signal, [`App::request_shutdown`],
/// [`App::shutdown`], a critical task failing for good, or the app's last handle dropped (the
/// app then shuts down in the background). Owned, `'static` and cheap to clone; every clone
/// completes at the same moment. See [`App::shutdown_signal`].
///
/// [`App::request_shutdown`]: crate::App::request_shutdown
/// [`App::shutdown`]: crate::App::shutdown
/// [`App::shutdown_signal`]: crate::App::shutdown_signal
#[must_use = "futures do nothing unless awaited"]
pub struct ShutdownSignal {
    token: CancellationToken,
    waiting: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl ShutdownSignal {
    pub(crate) fn new(token: CancellationToken) -> Self {
        ShutdownSignal {
            waiting: Box::pin(token.clone().cancelled_owned()),
            token,
        }
    }

    /// Whether shutdown has begun.
    pub fn has_begun(&self) -> bool {
        self.token.is_cancelled()
    }
}

impl Clone for ShutdownSignal {
    fn clone(&self) -> Self {
        ShutdownSignal::new(self.token.clone())
    }
}

impl Future for ShutdownSignal {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.waiting.as_mut().poll(cx)
    }
}

impl fmt::Debug for ShutdownSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownSignal")
            .field("has_begun", &self.has_begun())
            .finish()
    }
}

impl App {
    /// A future that completes when this run's shutdown begins, for any reason: a signal,
    /// [`request_shutdown`](Self::request_shutdown), [`shutdown`](Self::shutdown), a critical
    /// task failing for good. Hand it to a server that the app does not run itself, so that it
    /// stops when the app does. Taken before a run (also between two runs), it belongs to that
    /// run; taken once its shutdown began, it has completed. It also completes when the app's
    /// last handle is dropped (running or not), so that a server waiting on it drains rather
    /// than serves for ever; a running app then shuts down in the background. (A task or context
    /// that takes the [`App`] as a parameter holds a handle while it runs.)
    ///
    /// ```
    /// use lifespan_core::{App, TaskOptions};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> anyhow::Result<()> {
    /// let app = App::empty();
    /// // A critical task that fails for good: the app shuts down, and so does the server.
    /// app.register_task_with("feed", TaskOptions::new().critical(true), || async {
    ///     Err::<(), _>("the feed is gone")
    /// })?;
    /// // With axum: `axum::serve(listener, router).with_graceful_shutdown(app.shutdown_signal())`.
    /// let signal = app.shutdown_signal();
    /// let server = tokio::spawn(async move {
    ///     signal.await; // stop accepting, drain ...
    /// });
    /// let run = app.run_until(std::future::pending::<()>());
    /// let result = tokio::time::timeout(std::time::Duration::from_secs(60), run).await?;
    /// assert!(result.is_err(), "the critical failure ends the run");
    /// tokio::time::timeout(std::time::Duration::from_secs(60), server).await??;
    /// # Ok(())
    /// # }
    /// ```
    pub fn shutdown_signal(&self) -> ShutdownSignal {
        ShutdownSignal::new(lock(&self.shared().exit).exit.clone())
    }
}
