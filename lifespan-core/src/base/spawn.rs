//! Spawning the futures of tasks and contexts: under `--cfg tokio_unstable`, named after their
//! task or context, so that tokio-console shows which is which; otherwise as `tokio::spawn`
//! does.

use std::future::Future;

use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;

/// Spawns `future`, tracked by `tracker`, as the task named `name`.
pub(crate) fn tracked<F>(tracker: &TaskTracker, name: &str, future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    #[cfg(tokio_unstable)]
    {
        named(name, tracker.track_future(future))
    }
    #[cfg(not(tokio_unstable))]
    {
        let _ = name;
        tracker.spawn(future)
    }
}

/// Spawns `future` as the task named `name`.
pub(crate) fn spawn<F>(name: &str, future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    #[cfg(tokio_unstable)]
    {
        named(name, future)
    }
    #[cfg(not(tokio_unstable))]
    {
        let _ = name;
        tokio::spawn(future)
    }
}

#[cfg(tokio_unstable)]
fn named<F>(name: &str, future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    // The future is moved into the call: tokio's builder never fails to spawn on the current
    // runtime (it returns `Ok` always), so that a failure here could only lose it.
    tokio::task::Builder::new()
        .name(name)
        .spawn(future)
        .unwrap_or_else(|error| {
            tracing::error!(%error, "lifespan could not spawn the task `{name}`");
            tokio::spawn(std::future::pending::<F::Output>())
        })
}
