//! The run ledger read back: a once-per-point task's latest runs, whichever replica ran them,
//! and its count of missed points, as [`Coordinator::recent_runs`](crate::Coordinator::recent_runs)
//! answers.

use std::time::SystemTime;

use super::ledger::{PointTime, RunOutcome};

/// The most runs of a task a status asks a coordinator for at once.
pub(crate) const MAX_RECENT_RUNS: usize = 1000;

/// One attempt of a point's run as the coordinator's ledger records it: the point's current
/// attempt, who runs (or ran) it, and how it ended.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct RunRecord {
    /// The point's time on the coordinator's clock.
    pub point: PointTime,
    /// The point's current attempt: 1, then one more for each takeover.
    pub attempt: u32,
    /// The replica that runs (or ran) that attempt.
    pub instance: String,
    /// The attempt's fencing token.
    pub token: i64,
    /// When the attempt started, on the coordinator's clock.
    pub started: SystemTime,
    /// When the attempt's lease expires, or expired, unless renewed: for a run not finished, a
    /// time past means its replica stopped renewing it, and the next claim takes it over.
    pub expires: SystemTime,
    /// When it finished; `None` while it runs (or until an interrupted run is taken over).
    pub finished: Option<SystemTime>,
    /// How it ended; `None` while it runs, or if the ledger holds an outcome this version does
    /// not know.
    pub outcome: Option<RunOutcome>,
    /// Whether it is a manual run, not a point of the schedule (see
    /// [`PointRun::manual`](crate::PointRun::manual)).
    pub manual: bool,
}

impl RunRecord {
    /// Attempt `attempt` of point `point`, run by `instance` with token `token` since
    /// `started`, its lease expiring at `expires`, not finished: for coordinators.
    pub fn new(
        point: PointTime,
        attempt: u32,
        instance: impl Into<String>,
        token: i64,
        started: SystemTime,
        expires: SystemTime,
    ) -> Self {
        RunRecord {
            point,
            attempt,
            instance: instance.into(),
            token,
            started,
            expires,
            finished: None,
            outcome: None,
            manual: false,
        }
    }

    /// The same run, marked manual (`true`) or a point of the schedule.
    pub fn manual(mut self, manual: bool) -> Self {
        self.manual = manual;
        self
    }

    /// The same run, finished at `at` with `outcome`.
    pub fn finished(mut self, at: SystemTime, outcome: Option<RunOutcome>) -> Self {
        self.finished = Some(at);
        self.outcome = outcome;
        self
    }
}

/// A task's latest runs in the ledger and its count of missed points:
/// [`Coordinator::recent_runs`](crate::Coordinator::recent_runs).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecentRuns {
    /// The runs of the latest points, latest first: those the ledger still keeps, finished or
    /// not, whichever replica ran them.
    pub runs: Vec<RunRecord>,
    /// How many points of the task's schedule no replica started: see
    /// [`RunRequest::missed_before`](crate::RunRequest::missed_before).
    pub missed: u64,
    /// The coordinator's clock when it answered.
    pub now: SystemTime,
}

impl RecentRuns {
    /// The runs `runs`, latest point first, and `missed` points missed, read at `now` on the
    /// coordinator's clock: for coordinators.
    pub fn new(runs: Vec<RunRecord>, missed: u64, now: SystemTime) -> Self {
        RecentRuns { runs, missed, now }
    }
}
