//! Running a task's body: each poll timed and its panic caught, and the wrapper of a plain task
//! that records how it ended.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use std::sync::Arc;
use std::time::Duration;

use crate::base::panic::catching;
use crate::registration::entry::BoxFuture;
use crate::report::outcome::TaskOutcome;
use crate::report::task_error::TaskError;
use crate::status::board::Board;
use crate::status::metrics;

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
            metrics::failed(label);
            board.set_task_error(index, error.clone());
            TaskOutcome::Failed(error)
        }
        Err(message) => {
            let label = board.plan.task(index).label();
            tracing::error!(panic = %message, "lifespan task `{label}` panicked");
            metrics::panicked(label);
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
    /// Begun at the first poll, when the task begins to run, rather than in the startup's
    /// spawn loop, which then spawns as fast with the metrics as without. Nothing without the
    /// `metrics` feature.
    meter: metrics::Plain,
}

impl TaskFuture {
    pub(crate) fn new(board: Arc<Board>, index: usize, body: BoxFuture) -> Self {
        let span = board.plan.task(index).span();
        TaskFuture {
            body,
            board,
            index,
            span,
            meter: metrics::Plain::new(),
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
        let (board, index) = (&this.board, this.index);
        if !this.meter.begun() {
            this.meter.begin(board.plan.task(index));
        }
        let ended = std::task::ready!(poll_body(&mut this.body, board, index, cx));
        let outcome = outcome(board, index, ended);
        this.meter
            .ended(&outcome, || board.in_state_for(index), board.clock());
        this.board.set_ended(this.index, &outcome);
        Poll::Ready(())
    }
}
