//! The run history of supervised tasks: how many runs ended, the last one, when the next is
//! due. Kept on the board only for the tasks whose supervisor asks for it, each under a lock
//! of its own that only its supervisor writes, once or twice per run: a plain task has no
//! entry, and pays nothing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::base::lock::lock;
use crate::base::wall_clock::WallClock;
use crate::status::snapshot::RunOutcome;

/// One task's runs, on the runtime's clock.
#[derive(Default)]
pub(crate) struct History {
    pub(crate) runs: u64,
    /// Of `runs`, the manual ones.
    pub(crate) manual_runs: u64,
    pub(crate) last: Option<Ran>,
    /// When the next run is due; `None` while one runs, or when none is planned.
    pub(crate) next: Option<Instant>,
}

/// A run that ended.
#[derive(Clone, Copy)]
pub(crate) struct Ran {
    pub(crate) started: Instant,
    pub(crate) duration: Duration,
    pub(crate) outcome: RunOutcome,
}

/// What a supervisor writes its task's history through.
#[derive(Clone)]
pub(crate) struct Record(Arc<Mutex<History>>);

impl Record {
    /// A run began: none is planned until it ends.
    pub(crate) fn began(&self) {
        lock(&self.0).next = None;
    }

    /// A run that began at `started` ended after `duration`; `manual`: it was asked for by
    /// hand.
    pub(crate) fn ended(
        &self,
        started: Instant,
        duration: Duration,
        outcome: RunOutcome,
        manual: bool,
    ) {
        let mut history = lock(&self.0);
        history.runs = history.runs.saturating_add(1);
        history.manual_runs = history.manual_runs.saturating_add(u64::from(manual));
        history.last = Some(Ran {
            started,
            duration,
            outcome,
        });
    }

    /// The next run is due at `next`, or none is planned.
    pub(crate) fn planned(&self, next: Option<Instant>) {
        lock(&self.0).next = next;
    }
}

/// The histories of the tasks that keep one, by task index.
#[derive(Default)]
pub(crate) struct Histories {
    by_task: Mutex<HashMap<usize, Record>>,
    /// Whether `by_task` has an entry: a status of plain tasks only takes no lock for it.
    any: AtomicBool,
}

impl Histories {
    /// The record of task `index`, made at its first call (once per start of the task's
    /// supervisor).
    pub(crate) fn record(&self, index: usize) -> Record {
        let mut by_task = lock(&self.by_task);
        let record = by_task
            .entry(index)
            .or_insert_with(|| Record(Arc::new(Mutex::new(History::default()))))
            .clone();
        self.any.store(true, Ordering::Release);
        record
    }

    /// Reads the histories, for a status: `None` if no task keeps one.
    pub(crate) fn read(&self) -> Option<MutexGuard<'_, HashMap<usize, Record>>> {
        self.any
            .load(Ordering::Acquire)
            .then(|| lock(&self.by_task))
    }
}

/// What a status shows of one task's history, by the wall clock of its board.
#[derive(Default)]
pub(crate) struct Shown {
    pub(crate) runs: u64,
    pub(crate) manual_runs: u64,
    pub(crate) last: Option<Ran>,
    pub(crate) next: Option<SystemTime>,
}

/// What a status shows of one task's history: runs, the last run, the next one, by the wall
/// clock of `clock`.
pub(crate) fn read(record: &Record, clock: &WallClock) -> Shown {
    let history = lock(&record.0);
    Shown {
        runs: history.runs,
        manual_runs: history.manual_runs,
        last: history.last,
        next: history.next.map(|next| clock.at(next)),
    }
}
