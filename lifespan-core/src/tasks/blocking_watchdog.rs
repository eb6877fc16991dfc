//! The blocking detector's second half: a poll that has not returned yet.
//!
//! Each poll of a task's body is timed (see `tasks::body::poll_body`), which reports a poll that
//! returned late. A poll that never returns (a task stuck in `std::thread::sleep`, a blocking
//! channel, a lock held elsewhere) would never be reported that way, and on a current-thread
//! runtime nothing else runs to notice. So while the check is on, each task's slot also says
//! when its poll in progress began, and a watchdog thread, outside the runtime, reports every
//! poll that has run past the threshold, by task name, while it is still running.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::status::board::Board;

/// Starts the watchdog of `board`'s tasks, if the blocking check is on and there are tasks. It
/// logs to the subscriber of the thread that starts it, and ends when shutdown is over or the
/// board is gone.
pub(crate) fn watch(board: &Arc<Board>) {
    let (Some(threshold), Some(_)) = (board.blocking_threshold, &board.polls) else {
        return;
    };
    if board.plan.task_count() == 0 {
        return;
    }
    let board = Arc::downgrade(board);
    let dispatch = tracing::dispatcher::get_default(Clone::clone);
    let period = (threshold / 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
    let spawned = std::thread::Builder::new()
        .name("lifespan-watchdog".into())
        .spawn(move || {
            tracing::dispatcher::with_default(&dispatch, || run(&board, threshold, period));
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "lifespan: could not start the thread that reports blocked polls");
    }
}

fn run(board: &Weak<Board>, threshold: Duration, period: Duration) {
    // The poll last reported for each task, by its start: each blocked poll is reported once.
    let mut reported: HashMap<usize, u64> = HashMap::new();
    loop {
        std::thread::sleep(period);
        let Some(board) = board.upgrade() else { return };
        let Some(polls) = &board.polls else { return };
        if polls.is_over() {
            return;
        }
        let now = polls.elapsed();
        for (index, stamp) in polls.in_progress() {
            if reported.get(&index) == Some(&stamp) {
                continue;
            }
            let blocked = now.saturating_sub(Duration::from_nanos(stamp - 1));
            if blocked > threshold {
                reported.insert(index, stamp);
                let label = board.plan.task(index).label();
                tracing::warn!(
                    blocking_ms = blocked.as_millis() as u64,
                    threshold_ms = threshold.as_millis() as u64,
                    "lifespan task `{label}` has been blocking its thread for {blocked:?} in a poll that has not returned (threshold {threshold:?}): \
                     move blocking work to `tokio::task::spawn_blocking` and use `tokio::time::sleep`, not `std::thread::sleep`"
                );
            }
        }
    }
}
