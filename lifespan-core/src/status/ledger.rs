//! What the coordinator's ledger says of a once-per-point task, across replicas: its latest
//! runs, whoever ran them, and its count of missed points, read with
//! [`App::ledger`](crate::App::ledger).

use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use crate::base::name::Name;
use crate::registration::entry::Entry;
use crate::registration::plan::Plan;
use crate::replicas::{point_system_time, Coordination, RecentRuns, RunOutcome, RunRecord};
use crate::report::ledger_error::LedgerError;
use crate::report::outcome::find;
use crate::status::requests::TaskCoordinator;

/// A once-per-point task's ledger as the coordinator keeps it for every replica:
/// [`App::ledger`](crate::App::ledger).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskLedger {
    /// The task's name.
    pub task: Name,
    /// The runs of its latest points, latest first, whichever replica ran them: the current
    /// attempt of each point the ledger keeps.
    pub runs: Vec<LedgerRun>,
    /// How many points of its schedule no replica started, as the coordinator counts them
    /// now: see [`TaskStatus::missed`](crate::TaskStatus::missed).
    pub missed: u64,
    /// The coordinator's clock when it answered.
    pub read_at: SystemTime,
}

/// One point's run in a [`TaskLedger`]: the point, who ran it, which attempt, how it went.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LedgerRun {
    /// The point's number, as [`Point::number`](crate::Point::number) gives it.
    pub number: i64,
    /// When the point was due, on the coordinator's clock.
    pub scheduled: SystemTime,
    /// The replica that runs (or ran) its current attempt: its
    /// [instance](crate::AppBuilder::instance).
    pub instance: String,
    /// The current attempt: 1, then one more for each takeover of an interrupted run.
    pub attempt: u32,
    /// The attempt's fencing token.
    pub token: i64,
    /// When the attempt started, on the coordinator's clock.
    pub started: SystemTime,
    /// How long the attempt took; for one not finished, how long since it started.
    pub duration: Duration,
    /// Whether it runs, was interrupted, or finished.
    pub state: LedgerRunState,
    /// How it ended; `None` until it finished.
    pub outcome: Option<RunOutcome>,
    /// Whether it was run by hand ([`App::trigger`](crate::App::trigger)), not a point of the
    /// schedule: then `scheduled` is when it was started, and `number` that of the point
    /// before it.
    pub manual: bool,
}

/// Where a [`LedgerRun`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LedgerRunState {
    /// Not finished, its lease renewed by its replica.
    Running,
    /// Not finished, and its lease expired: its replica stopped renewing it (killed, paused,
    /// cut off from the coordinator). The next claim of any replica takes it over as its next
    /// attempt.
    Interrupted,
    /// Finished: its [`outcome`](LedgerRun::outcome) says how.
    Finished,
}

impl LedgerRunState {
    /// The state's name, as in the JSON status: `"running"`, `"interrupted"`, `"finished"`.
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerRunState::Running => "running",
            LedgerRunState::Interrupted => "interrupted",
            LedgerRunState::Finished => "finished",
        }
    }
}

impl std::fmt::Display for LedgerRunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Reads the ledger of the task named `task` (its full name, or the last segment of only one)
/// among those of `plan` (an app whose shutdown is `shutdown`): the runs of its latest `runs`
/// points (at most
/// [`MAX_RECENT_RUNS`](crate::replicas::MAX_RECENT_RUNS)).
pub(crate) async fn read(
    plan: &Plan,
    coordination: &Coordination,
    shutdown: &CancellationToken,
    task: &str,
    runs: usize,
) -> Result<TaskLedger, LedgerError> {
    let tasks: Vec<&Entry> = plan.tasks().collect();
    let named = tasks.iter().map(|entry| (&*entry.name, *entry));
    let entry = find(named, task).ok_or_else(|| LedgerError::UnknownTask {
        task: task.to_owned(),
    })?;
    let options = entry.options();
    if !options.once_per_point {
        return Err(LedgerError::NotOncePerPoint {
            task: entry.name.clone(),
        });
    }
    let coordinator = TaskCoordinator::of(&coordination.coordinator, entry.label(), shutdown);
    let limit = runs.min(crate::replicas::MAX_RECENT_RUNS);
    let recent = coordinator
        .recent_runs(&entry.name, limit)
        .await
        .map_err(|source| LedgerError::Coordinator {
            task: entry.name.clone(),
            coordinator: coordinator.describe(),
            source,
        })?
        .ok_or_else(|| LedgerError::NotShown {
            task: entry.name.clone(),
            coordinator: coordinator.describe(),
        })?;
    Ok(ledger(entry, recent))
}

/// The ledger of `entry` the coordinator answered as `recent`.
fn ledger(entry: &Entry, recent: RecentRuns) -> TaskLedger {
    let now = recent.now;
    let runs = recent
        .runs
        .into_iter()
        .map(|record| run(entry, record, now))
        .collect();
    TaskLedger {
        task: entry.name.clone(),
        runs,
        missed: recent.missed,
        read_at: now,
    }
}

/// `record`, of a point of `entry`'s schedule, read at `now` on the coordinator's clock.
fn run(entry: &Entry, record: RunRecord, now: SystemTime) -> LedgerRun {
    let state = match record.finished {
        Some(_) => LedgerRunState::Finished,
        None if record.expires <= now => LedgerRunState::Interrupted,
        None => LedgerRunState::Running,
    };
    let end = record.finished.unwrap_or(now);
    LedgerRun {
        number: entry.options().point_number(record.point),
        scheduled: point_system_time(record.point),
        duration: end.duration_since(record.started).unwrap_or_default(),
        instance: record.instance,
        attempt: record.attempt,
        token: record.token,
        started: record.started,
        state,
        outcome: record.outcome,
        manual: record.manual,
    }
}
