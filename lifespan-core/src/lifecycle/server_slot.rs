//! A server run beside the app (`App::serve_until_signal`, feature `axum`): launched once startup is
//! complete, drained at shutdown before the tasks stop. Without the feature nothing launches
//! one, but the run loop still carries the slot for it.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Starts serving. Given two signals: on the first the server stops accepting and lets the
/// requests in flight finish; on the second it abandons those still running.
pub(crate) type Server =
    Box<dyn FnOnce(CancellationToken, CancellationToken) -> JoinHandle<()> + Send>;

/// How long the server may take to close its connections once its requests were abandoned.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// A server that runs while the app is up.
pub(crate) struct Serving {
    handle: JoinHandle<()>,
    drain: CancellationToken,
    abandon: CancellationToken,
    drain_timeout: Duration,
    drain_delay: Duration,
}

impl Serving {
    pub(crate) fn launch(server: Server, drain_timeout: Duration, drain_delay: Duration) -> Self {
        let drain = CancellationToken::new();
        let abandon = CancellationToken::new();
        let handle = server(drain.clone(), abandon.clone());
        Serving {
            handle,
            drain,
            abandon,
            drain_timeout,
            drain_delay,
        }
    }

    /// After the drain delay (cut short by `force`, a second shutdown request), stops
    /// accepting, waits for the requests in flight up to the drain timeout, and abandons those
    /// still running after it.
    pub(crate) async fn stop(mut self, force: &CancellationToken) {
        if !self.drain_delay.is_zero() {
            tracing::info!(drain_delay = ?self.drain_delay, "lifespan: still serving for the drain delay, while readiness fails");
            tokio::select! {
                () = tokio::time::sleep(self.drain_delay) => {}
                () = force.cancelled() => {}
            }
        }
        tracing::info!("lifespan: server stops accepting, draining requests in flight");
        self.drain.cancel();
        if tokio::time::timeout(self.drain_timeout, &mut self.handle)
            .await
            .is_ok()
        {
            tracing::info!("lifespan: server drained");
            return;
        }
        tracing::warn!(drain_timeout = ?self.drain_timeout, "lifespan: requests still in flight after the drain timeout are abandoned");
        self.abandon.cancel();
        if tokio::time::timeout(CLOSE_TIMEOUT, &mut self.handle)
            .await
            .is_err()
        {
            self.handle.abort();
        }
    }
}

/// A server dropped without being stopped (the app's last handle was dropped while it served):
/// it is told to stop accepting, so that it drains on its own instead of serving for ever.
impl Drop for Serving {
    fn drop(&mut self) {
        self.drain.cancel();
    }
}
