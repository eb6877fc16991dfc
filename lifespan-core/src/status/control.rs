//! What each task's operators asked for by hand: its pause as this replica knows it, and the
//! manual runs asked for, which its supervisor waits on between runs.

use std::sync::Arc;

use tokio::sync::{watch, Notify};

use crate::replicas::Pause;

/// The controls of every task of one start, by task index.
pub(crate) struct Controls {
    tasks: Box<[TaskControl]>,
}

/// One task's controls.
struct TaskControl {
    /// Its pause as this replica knows it: its own, for a task this replica alone runs; the
    /// coordinator's as last heard, for a singleton or once-per-point task.
    pause: watch::Sender<Option<Pause>>,
    /// A manual run asked for: one permit, however many asks before it is taken.
    trigger: Arc<Notify>,
}

impl Controls {
    pub(crate) fn new(tasks: usize) -> Self {
        Controls {
            tasks: (0..tasks)
                .map(|_| TaskControl {
                    pause: watch::Sender::new(None),
                    trigger: Arc::new(Notify::new()),
                })
                .collect(),
        }
    }

    /// Task `index`'s pause as this replica knows it.
    pub(crate) fn paused(&self, index: usize) -> Option<Pause> {
        self.tasks[index].pause.borrow().clone()
    }

    /// Whether task `index` is paused, as this replica knows it: no clone.
    pub(crate) fn is_paused(&self, index: usize) -> bool {
        self.tasks[index].pause.borrow().is_some()
    }

    /// Task `index` is paused by `pause`, or not (`None`); waiters are woken only on a change.
    pub(crate) fn set_paused(&self, index: usize, pause: Option<Pause>) {
        self.tasks[index].pause.send_if_modified(|current| {
            let changed = *current != pause;
            *current = pause;
            changed
        });
    }

    /// Waits until task `index` is not paused.
    pub(crate) async fn resumed(&self, index: usize) {
        let mut pause = self.tasks[index].pause.subscribe();
        // The sender lives as long as `self`: the wait ends only on a resume.
        let _ = pause.wait_for(Option::is_none).await;
    }

    /// Asks for a manual run of task `index`.
    pub(crate) fn trigger(&self, index: usize) {
        self.tasks[index].trigger.notify_one();
    }

    /// Waits until a manual run of task `index` is asked for, and takes the ask.
    pub(crate) async fn triggered(&self, index: usize) {
        self.tasks[index].trigger.notified().await;
    }
}
