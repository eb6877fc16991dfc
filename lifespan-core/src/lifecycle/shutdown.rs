//! Shutdown: signal the tasks, wait out the grace period, abort the rest, then clean up the
//! contexts in reverse setup order; in the background for a generation dropped while running.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::{sleep_until, timeout, Instant};
use tokio_util::sync::CancellationToken;

use crate::base::panic;
use crate::lifecycle::config::Timeouts;
use crate::lifecycle::generation::{Generation, RunningContext};
use crate::report::outcome::{ContextOutcome, ContextReport, Report, TaskOutcome, TaskReport};
use crate::report::task_error::TaskError;
use crate::status::board::Board;
use crate::status::snapshot::RunState;

/// Stops everything `generation` started. `force` ends the grace period early.
pub(crate) async fn stop(
    mut generation: Generation,
    timeouts: Timeouts,
    force: &CancellationToken,
) -> Report {
    let contexts = std::mem::take(&mut generation.contexts);
    let tasks = stop_tasks(&mut generation, timeouts, force).await;
    let board = generation.board.clone();
    let contexts = clean_up(&board, contexts, timeouts).await;
    if let Some(polls) = &board.polls {
        polls.finish();
    }
    Report { tasks, contexts }
}

impl Drop for Generation {
    /// A generation dropped without a shutdown (the last handle of a running app was dropped)
    /// is shut down in the background, on the runtime it was started on, in the same order as
    /// by [`App::shutdown`](crate::App::shutdown): tasks first, then contexts in reverse. Never a cleanup while a task
    /// runs. If that runtime is gone, so are its tasks and contexts.
    fn drop(&mut self) {
        if self.background || (self.tasks.is_empty() && self.contexts.is_empty()) {
            self.board.begin_shutdown();
            return;
        }
        tracing::info!("lifespan app dropped while running: shutting it down in the background");
        let orphan = Generation {
            shutdown: self.shutdown.clone(),
            state: self.state.clone(),
            tracker: self.tracker.clone(),
            tasks: std::mem::take(&mut self.tasks),
            board: self.board.clone(),
            contexts: std::mem::take(&mut self.contexts),
            timeouts: self.timeouts,
            runtime: self.runtime.clone(),
            background: true,
        };
        let timeouts = self.timeouts;
        // If the runtime is shutting down, the future is dropped unpolled: the orphan, marked
        // `background`, then only signals its tasks, which the runtime drops anyway.
        drop(self.runtime.spawn(async move {
            stop(orphan, timeouts, &CancellationToken::new()).await;
        }));
    }
}

/// Signals the tasks, waits for them up to the grace period, aborts the rest, and says how
/// each ended.
async fn stop_tasks(
    generation: &mut Generation,
    timeouts: Timeouts,
    force: &CancellationToken,
) -> Vec<TaskReport> {
    let tasks = std::mem::take(&mut generation.tasks);
    if !tasks.is_empty() {
        tracing::info!(
            tasks = tasks.len(),
            "lifespan shutdown: signalling tasks to stop"
        );
    }
    generation.board.begin_shutdown();

    // 1–2. Wait for the tasks up to the grace period, then abort the rest.
    let all_ended = wait_for_tasks(generation, timeouts, force).await;
    let board = generation.board.clone();
    let mut handles = tasks;
    // When every task has ended, no handle is read here: each read would load its task's
    // memory, one miss per task.
    if !all_ended {
        for handle in &handles {
            if !handle.is_finished() {
                handle.abort();
            }
        }
    }
    // Each task records how it ended on the board; one without a record was aborted (dropped
    // at its next poll: waited for, so that nothing of this start is left in the runtime).
    for (index, handle) in handles.iter_mut().enumerate() {
        if board.has_ended(index) {
            continue;
        }
        let what = format!("lifespan task `{}`", board.plan.task(index).label());
        if let Some(Err(join)) = reaped(handle, &what).await {
            if join.is_panic() {
                // Only a panic outside the wrapper's catch, in the body's drop, comes here.
                let message = panic::message(&*join.into_panic());
                board.set_task_error(index, TaskError::msg(message.clone()));
                board.set_ended(index, &TaskOutcome::Panicked(message));
                continue;
            }
        }
        if !board.has_ended(index) {
            let entry = board.plan.task(index);
            tracing::warn!(task = %entry.label(), "lifespan task aborted: it did not stop within the grace period");
            board.set_aborted(index);
        }
    }
    // Only the tasks that were started: none when this rolls a failed startup back.
    let reports = board
        .plan
        .tasks()
        .take(handles.len())
        .enumerate()
        .map(|(index, entry)| TaskReport {
            name: entry.name.clone(),
            outcome: board.ended(index).unwrap_or(TaskOutcome::Aborted),
            restarts: board.restarts(index),
            terms: board.terms(index),
        })
        .collect();
    release(handles).await;
    reports
}

/// Waits for the tasks of `generation` up to the grace period, cut short by `force` (a second
/// shutdown request): whether they all ended. The tracker wakes this once, when the last task
/// ends, rather than once per task.
async fn wait_for_tasks(
    generation: &Generation,
    timeouts: Timeouts,
    force: &CancellationToken,
) -> bool {
    generation.tracker.close();
    let grace_over = sleep_until(crate::base::deadline::after(
        Instant::now(),
        timeouts.grace_period,
    ));
    let waited = tokio::select! {
        biased;
        () = generation.tracker.wait() => GraceWait::AllEnded,
        () = force.cancelled() => GraceWait::Forced,
        () = grace_over => GraceWait::Over,
    };
    match waited {
        GraceWait::AllEnded => true,
        GraceWait::Forced => {
            tracing::warn!("lifespan shutdown requested again: skipping the grace period");
            false
        }
        GraceWait::Over => {
            tracing::warn!(
                grace_period = ?timeouts.grace_period,
                "lifespan grace period over: aborting the tasks still running"
            );
            false
        }
    }
}

/// What ended the wait for the tasks during shutdown.
enum GraceWait {
    /// Every task ended within the grace period.
    AllEnded,
    /// Shutdown was requested again: the grace period is skipped.
    Forced,
    /// The grace period is over.
    Over,
}

/// Cleans the contexts up in reverse setup order, each bounded, each exactly once.
async fn clean_up(
    board: &Board,
    contexts: Vec<RunningContext>,
    timeouts: Timeouts,
) -> Vec<ContextReport> {
    let mut cleaned = Vec::with_capacity(contexts.len());
    for mut context in contexts.into_iter().rev() {
        // The receiver is gone only if the body already ended; the join below tells how.
        let _ = context.resume.send(());
        board.set_context(context.index, RunState::Stopping, None);
        let outcome = match timeout(timeouts.cleanup_timeout, &mut context.handle).await {
            Ok(Ok(Ok(()))) => {
                tracing::info!(context = %context.name, "lifespan context cleaned up");
                ContextOutcome::CleanedUp
            }
            Ok(Ok(Err(error))) => {
                let error = TaskError::new(error);
                tracing::error!(context = %context.name, error = &error as &(dyn std::error::Error + 'static), "cleanup of lifespan context `{}` failed", context.name);
                ContextOutcome::CleanupFailed(error)
            }
            Ok(Err(join)) => {
                let message = if join.is_panic() {
                    panic::message(&*join.into_panic())
                } else {
                    "its task was cancelled by the runtime".to_owned()
                };
                tracing::error!(context = %context.name, panic = %message, "cleanup of lifespan context `{}` panicked", context.name);
                ContextOutcome::CleanupPanicked(message)
            }
            Err(_elapsed) => {
                context.handle.abort();
                reaped(
                    &mut context.handle,
                    &format!("cleanup of lifespan context `{}`", context.name),
                )
                .await;
                tracing::error!(context = %context.name, timeout = ?timeouts.cleanup_timeout, "cleanup of lifespan context `{}` timed out", context.name);
                ContextOutcome::TimedOut
            }
        };
        let (state, error) = match &outcome {
            ContextOutcome::CleanedUp => (RunState::Stopped, None),
            ContextOutcome::CleanupFailed(error) => (RunState::Failed, Some(format!("{error:#}"))),
            ContextOutcome::CleanupPanicked(message) => (RunState::Failed, Some(message.clone())),
            ContextOutcome::TimedOut => (RunState::Aborted, None),
        };
        board.set_context(context.index, state, error);
        cleaned.push(ContextReport {
            name: context.name,
            outcome,
        });
    }
    cleaned
}

/// How long shutdown waits for an aborted task to be dropped: it is at once, unless the task is
/// blocking its thread inside a poll, which no abort can interrupt.
const REAP_TIMEOUT: Duration = Duration::from_secs(1);

/// Waits for an aborted task to be dropped, so that nothing of this start is left in the runtime
/// when shutdown returns; `None` if it blocks its thread past [`REAP_TIMEOUT`] (it is then left
/// to the runtime, which drops it when its poll returns).
/// `what` names it in the log: "lifespan task `name`".
async fn reaped<T>(
    handle: &mut JoinHandle<T>,
    what: &str,
) -> Option<Result<T, tokio::task::JoinError>> {
    let reaped = timeout(REAP_TIMEOUT, handle).await.ok();
    if reaped.is_none() {
        tracing::error!(
            "{what} was aborted but is blocking its thread in a poll: shutdown goes on without waiting for it"
        );
    }
    reaped
}

/// Drops the join handles of tasks that have ended, which frees each task's memory. With many,
/// half are dropped on another worker: had nobody held the handles, the tasks' own workers
/// would have freed them as they ended, in parallel.
async fn release(mut handles: Vec<JoinHandle<()>>) {
    const IN_PARALLEL_FROM: usize = 4096;
    if handles.len() >= IN_PARALLEL_FROM {
        let half = handles.split_off(handles.len() / 2);
        let other = tokio::spawn(async move { drop(half) });
        drop(handles);
        let _ = other.await;
    }
}
