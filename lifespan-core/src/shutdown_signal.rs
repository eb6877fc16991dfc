//! An owned future that completes when the app's shutdown begins: for a server the app does not
//! run itself (`axum::serve(..).with_graceful_shutdown(..)`, tonic's `serve_with_shutdown`,
//! hyper-util's graceful shutdown, actix's server handle).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

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
