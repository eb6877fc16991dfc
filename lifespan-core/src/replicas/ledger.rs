//! The run ledger of once-per-point tasks: what a replica asks for when a point is due, the run
//! lease it is granted, and how the run ended.
//!
//! A point's run is a lease, not a number: the replica that starts a point renews the run's
//! lease while the run goes on and records its end; a run whose lease expired unfinished (its
//! replica was killed, paused or cut off) is taken over by the next replica that asks, as the
//! point's next attempt, with a greater fencing token.

use std::time::{Duration, SystemTime};

use super::Pause;

/// A point's time: microseconds since the Unix epoch, on the coordinator's clock. Point `n` of
/// a schedule of period `p` is due at `n × p`; a cron occurrence at its own time.
pub type PointTime = i64;

/// Whether a once-per-point task's point may start while an earlier run of the task is still in
/// flight on some replica: [`TaskOptions::overlap`](crate::TaskOptions::overlap).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Overlap {
    /// A point due while a run is in flight is not started by any replica (Kubernetes
    /// CronJob's `Forbid`): it is missed, and the [`Misfire`] policy says what becomes of it.
    #[default]
    Forbid,
    /// Points start at their time whatever runs already (`Allow`).
    Allow,
}

/// What becomes of the points of a once-per-point task that no replica started at their time
/// (every replica was down, the coordinator did not answer, or a run was in flight):
/// [`TaskOptions::misfire`](crate::TaskOptions::misfire).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Misfire {
    /// Missed points are counted, and not run: the next run is the next point due.
    #[default]
    Skip,
    /// The latest missed point runs once, as soon as a replica can start it, if it is not older
    /// than the grace period; the others are counted.
    Latest,
    /// Each missed point runs, earliest first, one after the other, up to the limit (the latest
    /// ones) and within the grace period; the others are counted.
    All,
}

/// A replica's request for a run of a once-per-point task: see
/// [`Coordinator::claim_run`](crate::Coordinator::claim_run).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunRequest {
    /// The task's name.
    pub task: String,
    /// Who asks.
    pub instance: String,
    /// The points the caller would start now, earliest first, by their times on the
    /// coordinator's clock as the caller reckons it: the point due now and, under a misfire
    /// policy that runs missed points, those before it. The coordinator starts at most one of
    /// them; it may include a point that is not due yet on the coordinator's clock (the caller's
    /// reckoning is off by a round trip), which is refused.
    pub points: Vec<PointTime>,
    /// Which of the eligible points starts: the earliest (`true`: missed points are caught up
    /// one by one) or the latest (the ones before it are missed).
    pub earliest: bool,
    /// A point older than this on the coordinator's clock is not started; `None`: no limit.
    pub grace: Option<Duration>,
    /// How long after a point starts no later point may start (ShedLock's "lock at least
    /// for").
    pub hold: Duration,
    /// How long the run's lease lasts unless renewed.
    pub lease: Duration,
    /// Whether a point may start while a run of the task is in flight.
    pub overlap: Overlap,
    /// The last point started of the task as the caller last heard of it from the coordinator
    /// (`None`: it heard of none): what [`missed`](Self::missed) counts from.
    pub last_known: Option<PointTime>,
    /// For each of `points`, how many points of the schedule lie strictly between
    /// `last_known` and it: see [`missed_before`](Self::missed_before), which says what the
    /// coordinator counts as missed when a point starts. Empty: the caller counted nothing.
    pub missed: Vec<u64>,
}

impl RunRequest {
    /// A request of `instance` for point `point` of `task`, with the run's lease lasting
    /// `lease`, no hold, no grace, overlap forbidden: for coordinators' own tests (the app
    /// makes its requests itself). The builder methods change the rest.
    pub fn new(
        task: impl Into<String>,
        instance: impl Into<String>,
        point: PointTime,
        lease: Duration,
    ) -> Self {
        RunRequest {
            task: task.into(),
            instance: instance.into(),
            points: vec![point],
            earliest: false,
            grace: None,
            hold: Duration::ZERO,
            lease,
            overlap: Overlap::Forbid,
            last_known: None,
            missed: Vec::new(),
        }
    }

    /// The same request for `points`, earliest first, starting the earliest eligible one if
    /// `earliest`, else the latest.
    pub fn points(mut self, points: Vec<PointTime>, earliest: bool) -> Self {
        self.points = points;
        self.earliest = earliest;
        self
    }

    /// The same request with a grace period.
    pub fn grace(mut self, grace: Option<Duration>) -> Self {
        self.grace = grace;
        self
    }

    /// The same request with a hold.
    pub fn hold(mut self, hold: Duration) -> Self {
        self.hold = hold;
        self
    }

    /// The same request with an overlap policy.
    pub fn overlap(mut self, overlap: Overlap) -> Self {
        self.overlap = overlap;
        self
    }

    /// The same request, counting the points missed from `last_known`: `missed[i]` points of
    /// the schedule lie strictly between `last_known` and `points[i]`.
    pub fn missed(mut self, last_known: Option<PointTime>, missed: Vec<u64>) -> Self {
        self.last_known = last_known;
        self.missed = missed;
        self
    }

    /// How many points were missed when `started`, one of [`points`](Self::points), starts
    /// after `last_point`, the task's last point started (`None`: none ever started, and
    /// nothing was missed): the points of the schedule strictly between the two, as
    /// [`missed`](Self::missed) counts them if `last_point` is the caller's
    /// [`last_known`](Self::last_known); else (the caller's reckoning is behind) the points
    /// asked for that lie between the two, a lower bound.
    ///
    /// A coordinator adds it to the task's count of missed points, in the claim that starts
    /// `started`:
    ///
    /// ```
    /// use lifespan_core::RunRequest;
    /// use std::time::Duration;
    ///
    /// // Points every 10 µs; the caller knew of point 10, and asks for 50, 60 and 70.
    /// let request = RunRequest::new("digest", "a", 0, Duration::from_secs(15))
    ///     .points(vec![50, 60, 70], false)
    ///     .missed(Some(10), vec![3, 4, 5]);
    /// // 20, 30, 40 and 50 were missed if 60 starts after 10.
    /// assert_eq!(request.missed_before(Some(10), 60), 4);
    /// // Another replica started 30 meanwhile: of the points asked for, 50 lies between.
    /// assert_eq!(request.missed_before(Some(30), 60), 1);
    /// assert_eq!(request.missed_before(None, 60), 0);
    /// ```
    pub fn missed_before(&self, last_point: Option<PointTime>, started: PointTime) -> u64 {
        let Some(last_point) = last_point else {
            return 0;
        };
        let counted = self
            .points
            .iter()
            .position(|&point| point == started)
            .and_then(|index| self.missed.get(index));
        match counted {
            Some(&missed) if self.last_known == Some(last_point) => missed,
            _ => self
                .points
                .iter()
                .filter(|&&point| point > last_point && point < started)
                .count() as u64,
        }
    }
}

/// What [`Coordinator::claim_run`](crate::Coordinator::claim_run) answered.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunClaim {
    /// The run this caller starts now, if any: a point's first attempt, or an interrupted run
    /// taken over as its next attempt.
    pub run: Option<PointRun>,
    /// The coordinator's clock when it answered.
    pub now: SystemTime,
    /// The latest point started before this claim, if any point of the task ever started: the
    /// points between it and the one started now were missed.
    pub previous: Option<PointTime>,
    /// Whether a run of the task was in flight, so that no point started (overlap forbidden).
    pub in_flight: bool,
    /// How many points of the task's schedule no replica started, as the coordinator counts
    /// them after this claim (see [`RunRequest::missed_before`]); `None` if it keeps no count.
    pub missed: Option<u64>,
    /// The task's pause, if it is [paused](crate::Coordinator::pause): then no run started.
    pub paused: Option<Pause>,
    /// Whether a manual run is [asked for](crate::Coordinator::request_run) and not started
    /// (this claim did not start it): the caller claims again, polling, after its run.
    pub requested: bool,
}

impl RunClaim {
    /// An answer that starts `run` (or nothing), at `now` on the coordinator's clock, the last
    /// point started before being `previous`: for coordinators.
    pub fn new(run: Option<PointRun>, now: SystemTime, previous: Option<PointTime>) -> Self {
        RunClaim {
            run,
            now,
            previous,
            in_flight: false,
            missed: None,
            paused: None,
            requested: false,
        }
    }

    /// The same answer, saying whether a manual run is asked for and not started.
    pub fn requested(mut self, requested: bool) -> Self {
        self.requested = requested;
        self
    }

    /// The same answer, saying that the task is paused (`Some`), or not.
    pub fn paused(mut self, paused: Option<Pause>) -> Self {
        self.paused = paused;
        self
    }

    /// The same answer, saying that a run was in flight.
    pub fn in_flight(mut self, in_flight: bool) -> Self {
        self.in_flight = in_flight;
        self
    }

    /// The same answer, with the task's count of missed points.
    pub fn missed(mut self, missed: u64) -> Self {
        self.missed = Some(missed);
        self
    }
}

/// One attempt of one point's run, leased to one replica: the ledger's row.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct PointRun {
    /// The task's name.
    pub task: String,
    /// The replica running it.
    pub instance: String,
    /// The point's time on the coordinator's clock: the ledger's key, with the task.
    pub point: PointTime,
    /// 1 for the point's first run; one more for each takeover of an interrupted run.
    pub attempt: u32,
    /// The fencing token: greater than that of every earlier attempt of every point of the
    /// task.
    pub token: i64,
    /// When this attempt started, on the coordinator's clock.
    pub started: SystemTime,
    /// Whether it is a manual run ([`Coordinator::request_run`](crate::Coordinator::request_run)),
    /// not a point of the schedule: its `point` is the coordinator's clock when it started.
    pub manual: bool,
}

impl PointRun {
    /// Attempt `attempt` of point `point` of `task`, run by `instance` with fencing token
    /// `token` since `started`: for coordinators.
    pub fn new(
        task: impl Into<String>,
        instance: impl Into<String>,
        point: PointTime,
        attempt: u32,
        token: i64,
        started: SystemTime,
    ) -> Self {
        PointRun {
            task: task.into(),
            instance: instance.into(),
            point,
            attempt,
            token,
            started,
            manual: false,
        }
    }

    /// The same run, marked manual (`true`) or a point of the schedule.
    pub fn manual(mut self, manual: bool) -> Self {
        self.manual = manual;
        self
    }
}

/// How one run of a task's body ended: in [`LastRun`](crate::LastRun), and recorded in the
/// ledger by [`Coordinator::finish_run`](crate::Coordinator::finish_run). The message of a
/// failure or a panic is the task's [`last_error`](crate::TaskStatus::last_error).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RunOutcome {
    /// Returned `()` or `Ok(())`.
    Succeeded,
    /// Returned `Err`.
    Failed,
    /// Panicked.
    Panicked,
    /// Stopped on the app's shutdown signal, or on the loss of a singleton's lease or a
    /// point's run lease.
    Cancelled,
    /// Still running when its time for one run was up, so it was dropped.
    TimedOut,
}

impl RunOutcome {
    /// The outcome's name, as in the JSON status and the ledger: `"succeeded"`, `"timed_out"`,
    /// ...
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Succeeded => "succeeded",
            RunOutcome::Failed => "failed",
            RunOutcome::Panicked => "panicked",
            RunOutcome::Cancelled => "cancelled",
            RunOutcome::TimedOut => "timed_out",
        }
    }

    /// The outcome of name `name`, as [`as_str`](Self::as_str) writes it; `None` for any other
    /// text: for coordinators reading their ledger back.
    ///
    /// ```
    /// use lifespan_core::RunOutcome;
    ///
    /// assert_eq!(RunOutcome::from_name("timed_out"), Some(RunOutcome::TimedOut));
    /// assert_eq!(RunOutcome::from_name("exploded"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<RunOutcome> {
        [
            RunOutcome::Succeeded,
            RunOutcome::Failed,
            RunOutcome::Panicked,
            RunOutcome::Cancelled,
            RunOutcome::TimedOut,
        ]
        .into_iter()
        .find(|outcome| outcome.as_str() == name)
    }
}

impl std::fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Microseconds since the Unix epoch of `time` (negative before it, saturating).
pub fn point_time(time: SystemTime) -> PointTime {
    match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_micros()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_micros()).map_or(i64::MIN, |us| -us),
    }
}

/// The time of `point` (µs since the Unix epoch); the epoch itself if the platform's time
/// cannot hold it.
pub fn point_system_time(point: PointTime) -> SystemTime {
    let magnitude = Duration::from_micros(point.unsigned_abs());
    let moved = if point >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(magnitude)
    } else {
        SystemTime::UNIX_EPOCH.checked_sub(magnitude)
    };
    moved.unwrap_or(SystemTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::{point_system_time, point_time};
    use std::time::{Duration, SystemTime};

    #[test]
    fn a_point_time_and_its_system_time_convert_both_ways() {
        for us in [0i64, 1, -1, 1_700_000_000_123_456, -86_400_000_000] {
            assert_eq!(point_time(point_system_time(us)), us);
        }
        let time = SystemTime::UNIX_EPOCH + Duration::from_micros(5);
        assert_eq!(point_time(time), 5);
    }
}
