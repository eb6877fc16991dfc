//! Running tasks: what a task may return, and the wrapper that records how it ended.

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio_util::sync::CancellationToken;

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

pin_project_lite::pin_project! {
    /// A task's or context's future with its output turned into a result. A plain struct
    /// rather than an `async` block, which would keep the future twice over in its state: the
    /// box that holds it stays the size of the user's future.
    pub(crate) struct IntoResult<F> {
        #[pin]
        future: F,
    }
}

impl<F> IntoResult<F> {
    pub(crate) fn new(future: F) -> Self {
        IntoResult { future }
    }
}

impl<F> Future for IntoResult<F>
where
    F: Future,
    F::Output: TaskReturn,
{
    type Output = Result<(), anyhow::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().future.poll(cx).map(TaskReturn::into_result)
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

/// One task, as spawned: runs the task's body to its end, in the task's span, catching a panic,
/// and says how it ended, logging failures as they happen. A plain struct rather than an
/// `async` block, so that what each running task keeps on the heap stays small.
pub(crate) struct TaskFuture {
    body: BoxFuture,
    shutdown: CancellationToken,
    name: Name,
    span: tracing::Span,
}

impl TaskFuture {
    pub(crate) fn new(name: Name, body: BoxFuture, shutdown: CancellationToken) -> Self {
        let span = tracing::info_span!("lifespan_task", task = %name);
        TaskFuture {
            body,
            shutdown,
            name,
            span,
        }
    }

    fn outcome(
        &self,
        ended: Result<Result<(), anyhow::Error>, Box<dyn Any + Send>>,
    ) -> TaskOutcome {
        let name = &self.name;
        match ended {
            Ok(Ok(())) if self.shutdown.is_cancelled() => {
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
        }
    }
}

impl Future for TaskFuture {
    type Output = TaskOutcome;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<TaskOutcome> {
        let this = self.get_mut();
        let _entered = this.span.enter();
        let body = this.body.as_mut();
        let ended = match catch_unwind(AssertUnwindSafe(|| body.poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(result)) => Ok(result),
            Err(payload) => Err(payload),
        };
        Poll::Ready(this.outcome(ended))
    }
}
