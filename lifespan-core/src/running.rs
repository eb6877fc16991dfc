//! Running tasks: what a task may return, and the wrapper that records how it ended.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use std::sync::Arc;
use std::time::Duration;

use crate::board::Board;
use crate::meter;
use crate::panic::catching;
use crate::registration::BoxFuture;
use crate::report::TaskOutcome;
use crate::task_error::TaskError;

/// What a task or context function may return: `()` or `Result<(), E>` where `E` converts into
/// `Box<dyn std::error::Error + Send + Sync>`: [`anyhow::Error`](https://docs.rs/anyhow), any
/// `std::error::Error + Send + Sync + 'static`, `Box<dyn Error + Send + Sync>` itself, `String`
/// or `&'static str`.
///
/// Sealed: only these types implement it.
#[diagnostic::on_unimplemented(
    message = "a lifespan task or context must return `()` or `Result<(), E>`, not `{Self}`",
    label = "this return type is not accepted",
    note = "`E` may be `anyhow::Error`, any `std::error::Error + Send + Sync + 'static`, `Box<dyn Error + Send + Sync>`, `String` or `&'static str`"
)]
pub trait TaskReturn: sealed::IntoOutcome {}

/// The conversion behind [`TaskReturn`], out of the public API.
mod sealed {
    pub trait IntoOutcome {
        /// The outcome as a result.
        fn into_result(self) -> Result<(), anyhow::Error>;
    }
}

use sealed::IntoOutcome;

impl TaskReturn for () {}

impl IntoOutcome for () {
    #[inline]
    fn into_result(self) -> Result<(), anyhow::Error> {
        Ok(())
    }
}

impl<E> TaskReturn for Result<(), E> where
    E: Into<Box<dyn std::error::Error + Send + Sync + 'static>> + 'static
{
}

impl<E> IntoOutcome for Result<(), E>
where
    E: Into<Box<dyn std::error::Error + Send + Sync + 'static>> + 'static,
{
    #[inline]
    fn into_result(self) -> Result<(), anyhow::Error> {
        self.map_err(|error| {
            // An `anyhow::Error` is kept as it is, so that its own downcasts keep working; any
            // other error is boxed, and `TaskError::downcast_ref` looks inside the box.
            let mut slot = Some(error);
            if let Some(error) = (&mut slot as &mut dyn Any).downcast_mut::<Option<anyhow::Error>>()
            {
                if let Some(error) = error.take() {
                    return error;
                }
            }
            match slot {
                Some(error) => anyhow::Error::from_boxed(error.into()),
                None => anyhow::Error::msg("an error that could not be kept"),
            }
        })
    }
}

/// The never type `!`, named on stable Rust: the output type of a function's `fn() -> !`.
/// Not public API.
#[doc(hidden)]
pub trait FnOutput {
    #[doc(hidden)]
    type Type;
}

impl<T> FnOutput for fn() -> T {
    type Type = T;
}

/// `!`: what a closure whose body ends in `panic!` returns.
type Never = <fn() -> ! as FnOutput>::Type;

/// A task or context that never returns (its body ends in `panic!`, or loops for ever): without
/// this, `|| async { panic!() }` would depend on the never type falling back to `()`, which
/// the compiler refuses.
#[diagnostic::do_not_recommend]
impl TaskReturn for Never {}

impl IntoOutcome for Never {
    #[inline]
    fn into_result(self) -> Result<(), anyhow::Error> {
        self
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
        self.project().future.poll(cx).map(IntoOutcome::into_result)
    }
}

/// Boxes the future of a task or context, its output turned into a result.
#[inline]
pub(crate) fn boxed<F>(future: F) -> BoxFuture
where
    F: Future + Send + 'static,
    F::Output: TaskReturn,
{
    Box::pin(IntoResult::new(future))
}

/// How one run of a task's body ended: its result, or a panic's message.
pub(crate) type Ended = Result<Result<(), anyhow::Error>, String>;

/// Polls a task's body once, catching a panic, and reports the poll if it took longer than the
/// board's blocking threshold: a task that blocks its thread (`std::thread::sleep`, blocking
/// I/O, a long computation) holds up every other task on that thread.
#[inline]
pub(crate) fn poll_body(
    body: &mut BoxFuture,
    board: &Board,
    index: usize,
    cx: &mut Context<'_>,
) -> Poll<Ended> {
    let body = body.as_mut();
    let polled = match board.blocking_threshold {
        None => catching(|| body.poll(cx)),
        Some(threshold) => {
            let began = std::time::Instant::now();
            if let Some(polls) = &board.polls {
                polls.begin(index, began);
            }
            let polled = catching(|| body.poll(cx));
            if let Some(polls) = &board.polls {
                polls.end(index);
            }
            let took = began.elapsed();
            if took > threshold {
                report_blocking(board, index, took, threshold);
            }
            polled
        }
    };
    match polled {
        Ok(Poll::Pending) => Poll::Pending,
        Ok(Poll::Ready(result)) => Poll::Ready(Ok(result)),
        Err(message) => Poll::Ready(Err(message)),
    }
}

#[cold]
fn report_blocking(board: &Board, index: usize, took: Duration, threshold: Duration) {
    let label = board.plan.task(index).label();
    tracing::warn!(
        blocked_ms = took.as_millis() as u64,
        threshold_ms = threshold.as_millis() as u64,
        "lifespan task `{label}` blocked its thread for {took:?} in one poll (threshold {threshold:?}): \
         move blocking work to `tokio::task::spawn_blocking` and use `tokio::time::sleep`, not `std::thread::sleep`"
    );
}

/// The outcome of a run that ended, logged, recorded on the board as the task's last error if
/// it is one. `stopping` says whether shutdown had begun.
pub(crate) fn outcome(board: &Board, index: usize, ended: Ended) -> TaskOutcome {
    let stopping = board.is_stopping();
    match ended {
        Ok(Ok(())) if stopping => {
            tracing::debug!("task stopped on shutdown");
            TaskOutcome::Cancelled
        }
        Ok(Ok(())) => {
            tracing::debug!("task completed");
            TaskOutcome::Completed
        }
        Ok(Err(error)) => {
            let error = TaskError::new(error);
            let label = board.plan.task(index).label();
            // As an error value, which subscribers can walk; its messages are masked.
            tracing::error!(
                error = &error as &(dyn std::error::Error + 'static),
                "lifespan task `{label}` failed"
            );
            meter::failed(label);
            board.set_task_error(index, error.clone());
            TaskOutcome::Failed(error)
        }
        Err(message) => {
            let label = board.plan.task(index).label();
            tracing::error!(panic = %message, "lifespan task `{label}` panicked");
            meter::panicked(label);
            board.set_task_error(index, TaskError::msg(message.clone()));
            TaskOutcome::Panicked(message)
        }
    }
}

/// One plain task (no restart, no schedule), as spawned: runs the task's body to its end, in
/// the task's span, catching a panic, and records how it ended, logging failures as they happen
/// and recording them on the board. A plain struct rather than an `async` block, so that what
/// each running task keeps on the heap stays small: its name and shutdown signal are read from
/// the board.
pub(crate) struct TaskFuture {
    body: BoxFuture,
    board: Arc<Board>,
    index: usize,
    span: tracing::Span,
    /// Nothing without the `metrics` feature.
    meter: meter::Plain,
}

impl TaskFuture {
    pub(crate) fn new(board: Arc<Board>, index: usize, body: BoxFuture) -> Self {
        let entry = board.plan.task(index);
        let span = entry.span();
        let meter = meter::Plain::start(entry.label());
        TaskFuture {
            body,
            board,
            index,
            span,
            meter,
        }
    }
}

impl Future for TaskFuture {
    type Output = ();

    /// Ends with the outcome recorded on the board, where shutdown reads it: nothing to carry
    /// through the join handle.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let _entered = this.span.enter();
        let ended = std::task::ready!(poll_body(&mut this.body, &this.board, this.index, cx));
        this.meter.ended();
        let outcome = outcome(&this.board, this.index, ended);
        this.board.set_ended(this.index, &outcome);
        Poll::Ready(())
    }
}
