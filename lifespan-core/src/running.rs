//! Running tasks: what a task may return, and the wrapper that records how it ended.

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::name::Name;
use crate::registry::BoxFuture;
use crate::report::TaskOutcome;

/// What a task or context function may return: `()` or `Result<(), E>` where `E` converts into
/// `Box<dyn std::error::Error + Send + Sync>`: [`anyhow::Error`](https://docs.rs/anyhow), any
/// `std::error::Error + Send + Sync + 'static`, `Box<dyn Error + Send + Sync>` itself, `String`
/// or `&'static str`.
#[diagnostic::on_unimplemented(
    message = "a lifespan task or context must return `()` or `Result<(), E>`, not `{Self}`",
    label = "this return type is not accepted",
    note = "`E` may be `anyhow::Error`, any `std::error::Error + Send + Sync + 'static`, `Box<dyn Error + Send + Sync>`, `String` or `&'static str`"
)]
pub trait TaskReturn {
    /// The outcome as a result.
    fn into_result(self) -> Result<(), anyhow::Error>;
}

impl TaskReturn for () {
    #[inline]
    fn into_result(self) -> Result<(), anyhow::Error> {
        Ok(())
    }
}

impl<E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>> TaskReturn for Result<(), E> {
    #[inline]
    fn into_result(self) -> Result<(), anyhow::Error> {
        self.map_err(|error| anyhow::Error::from_boxed(error.into()))
    }
}

/// An error's message with its causes, as `anyhow` shows it with `{:#}`.
pub(crate) fn message(error: &anyhow::Error) -> String {
    format!("{error:#}")
}

/// A panic payload's message.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a payload that is not a string".to_owned()
    }
}

/// Runs one task to its end and says how it ended, logging failures as they happen.
pub(crate) async fn run_task(
    name: Name,
    body: BoxFuture,
    shutdown: CancellationToken,
) -> TaskOutcome {
    let span = tracing::info_span!("lifespan_task", task = %name);
    async move {
        tracing::debug!("task started");
        let outcome = match (CatchUnwind { inner: body }).await {
            Ok(Ok(())) if shutdown.is_cancelled() => {
                tracing::debug!("task stopped on shutdown");
                TaskOutcome::Cancelled
            }
            Ok(Ok(())) => {
                tracing::debug!("task completed");
                TaskOutcome::Completed
            }
            Ok(Err(error)) => {
                let message = message(&error);
                tracing::error!(error = %message, "lifespan task `{name}` failed");
                TaskOutcome::Failed(message)
            }
            Err(payload) => {
                let message = panic_message(&*payload);
                tracing::error!(panic = %message, "lifespan task `{name}` panicked");
                TaskOutcome::Panicked(message)
            }
        };
        outcome
    }
    .instrument(span)
    .await
}

/// Catches a panic in the polls of a future, so that a task's panic is logged when it happens.
struct CatchUnwind {
    inner: BoxFuture,
}

impl Future for CatchUnwind {
    type Output = Result<Result<(), anyhow::Error>, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.inner.as_mut();
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(result)) => Poll::Ready(Ok(result)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}
