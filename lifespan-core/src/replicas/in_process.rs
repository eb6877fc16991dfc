//! The default coordinator: one process, every lease granted to it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::{
    point_time, Acquired, Coordinator, CoordinatorFuture, LeaseRequest, Overlap, Pause, PointRun,
    PointTime, RecentRuns, ReplicaStatus, ReplicaStatuses, RunClaim, RunOutcome, RunRecord,
    RunRequest, Term, FORGET_SILENT_REPLICAS_AFTER,
};
use crate::base::deadline::after;
use crate::base::lock::lock;
use crate::base::wall_clock::WallClock;

/// The default [`Coordinator`]: keeps leases in memory, for the processes of one app only.
///
/// With one replica, a singleton task gets its lease at once, with fencing token 1, 2, ... for
/// each term, and a once-per-point task runs on its local schedule like any periodic task:
/// nothing changes for an app that runs as one process. Clones share their leases, so that
/// apps in one process given clones of one `InProcess` behave like replicas (for tests).
///
/// Its run ledger keeps the unfinished runs of each once-per-point task and the last 100
/// finished, with the task's count of missed points, and shows them
/// ([`recent_runs`](Coordinator::recent_runs)): the runs of this process and of the apps
/// sharing its clones.
///
/// It keeps the tasks' [pauses](Coordinator::pause) and [manual runs](Coordinator::request_run)
/// too, for the apps sharing its clones: a pause outlives the app that made it, as long as a
/// clone lives. So are the statuses the apps [publish](Coordinator::publish_status).
#[derive(Clone, Debug, Default)]
pub struct InProcess {
    leases: Arc<Mutex<HashMap<String, Entry>>>,
    /// The statuses published, by instance.
    statuses: Arc<Mutex<HashMap<String, ReplicaStatus>>>,
    /// Its clock, anchored at its first reading: the system's clock, moved on by tokio's time
    /// when it is paused, so that tests of replicas run on virtual time.
    clock: Arc<OnceLock<WallClock>>,
    /// What its clock reads first, if set ([`InProcess::starting_at`]).
    start: Option<SystemTime>,
}

#[derive(Debug)]
struct Entry {
    instance: String,
    token: i64,
    since: SystemTime,
    /// `None` once released.
    expires: Option<Instant>,
    /// The last point started, if any.
    last_point: Option<PointTime>,
    /// Until when the last point started holds the next ones off.
    held_until: Option<Instant>,
    /// The ledger: the runs unfinished and the last [`KEPT_RUNS`] finished, oldest first.
    runs: VecDeque<Run>,
    /// How many points of the task no caller started.
    missed: u64,
    /// The task's pause, if it is paused.
    paused: Option<Pause>,
    /// Whether a manual run is asked for and not started yet.
    requested: bool,
}

/// How many finished runs of a task the in-process ledger keeps.
const KEPT_RUNS: usize = 100;

/// One point's run in the in-process ledger.
#[derive(Debug)]
struct Run {
    run: PointRun,
    expires: Instant,
    finished: Option<(SystemTime, RunOutcome)>,
}

impl Entry {
    /// A task never leased nor claimed.
    fn new() -> Self {
        Entry {
            instance: String::new(),
            token: 0,
            since: SystemTime::now(),
            expires: None,
            last_point: None,
            held_until: None,
            runs: VecDeque::new(),
            missed: 0,
            paused: None,
            requested: false,
        }
    }

    /// The row of `run` if it is still the current attempt of its point and unfinished.
    fn current(&mut self, run: &PointRun) -> Option<&mut Run> {
        self.runs.iter_mut().find(|row| {
            row.run.point == run.point && row.run.token == run.token && row.finished.is_none()
        })
    }

    /// [`Coordinator::claim_run`] at `now` (`wall` on the coordinator's clock).
    fn claim_run(&mut self, request: &RunRequest, now: Instant, wall: SystemTime) -> RunClaim {
        let previous = self.last_point;
        let answer = |run| RunClaim::new(run, wall, previous);
        if let Some(paused) = &self.paused {
            return answer(None)
                .paused(Some(paused.clone()))
                .missed(self.missed);
        }
        if let Some(run) = self.take_over(request, now, wall) {
            return answer(Some(run)).missed(self.missed);
        }
        let in_flight = self.runs.iter().any(|row| row.finished.is_none());
        if in_flight && request.overlap == Overlap::Forbid {
            return answer(None).in_flight(true).missed(self.missed);
        }
        let held = self.held_until.is_some_and(|until| until > now);
        let Some(point) = eligible(request, previous, point_time(wall)).filter(|_| !held) else {
            let manual = self.start_manual(request, now, wall);
            return answer(manual).missed(self.missed);
        };
        let run = self.start(request, point, now, wall);
        self.missed = self
            .missed
            .saturating_add(request.missed_before(previous, point));
        self.last_point = Some(point);
        self.held_until = Some(after(now, request.hold));
        self.forget_old_runs();
        answer(Some(run)).missed(self.missed)
    }

    /// Starts `point` for `request`'s caller, as attempt 1 with the next token.
    fn start(
        &mut self,
        request: &RunRequest,
        point: PointTime,
        now: Instant,
        wall: SystemTime,
    ) -> PointRun {
        self.token += 1;
        let run = PointRun::new(&request.task, &request.instance, point, 1, self.token, wall);
        self.runs.push_back(Run {
            run: run.clone(),
            expires: after(now, request.lease),
            finished: None,
        });
        run
    }

    /// The manual run asked for, if any, started for `request`'s caller: its point is the
    /// clock now, later than every point in the ledger.
    fn start_manual(
        &mut self,
        request: &RunRequest,
        now: Instant,
        wall: SystemTime,
    ) -> Option<PointRun> {
        if !std::mem::take(&mut self.requested) {
            return None;
        }
        let latest = self.runs.iter().map(|row| row.run.point).max();
        let point = latest.map_or(point_time(wall), |latest| {
            point_time(wall).max(latest.saturating_add(1))
        });
        let run = self.start(request, point, now, wall).manual(true);
        if let Some(row) = self.runs.back_mut() {
            row.run.manual = true;
        }
        self.forget_old_runs();
        Some(run)
    }

    /// The earliest unfinished run whose lease expired, if any, taken over by `request`'s
    /// caller as its next attempt.
    fn take_over(
        &mut self,
        request: &RunRequest,
        now: Instant,
        wall: SystemTime,
    ) -> Option<PointRun> {
        let row = self
            .runs
            .iter_mut()
            .filter(|row| row.finished.is_none() && row.expires <= now)
            .min_by_key(|row| row.run.point)?;
        self.token += 1;
        row.run.attempt = row.run.attempt.saturating_add(1);
        row.run.token = self.token;
        row.run.instance.clone_from(&request.instance);
        row.run.started = wall;
        row.expires = after(now, request.lease);
        Some(row.run.clone())
    }

    /// The runs of the latest `limit` points, latest first, at `now` (`wall` on the
    /// coordinator's clock).
    fn recent(&self, limit: usize, now: Instant, wall: SystemTime) -> RecentRuns {
        let runs = self
            .runs
            .iter()
            .rev()
            .take(limit)
            .map(|row| {
                let expires = if row.expires >= now {
                    wall.checked_add(row.expires - now)
                } else {
                    wall.checked_sub(now - row.expires)
                };
                let record = RunRecord::new(
                    row.run.point,
                    row.run.attempt,
                    &row.run.instance,
                    row.run.token,
                    row.run.started,
                    expires.unwrap_or(wall),
                )
                .manual(row.run.manual);
                match row.finished {
                    Some((at, outcome)) => record.finished(at, Some(outcome)),
                    None => record,
                }
            })
            .collect();
        RecentRuns::new(runs, self.missed, wall)
    }

    /// Keeps the unfinished runs and the last [`KEPT_RUNS`] finished ones.
    fn forget_old_runs(&mut self) {
        let finished = self
            .runs
            .iter()
            .filter(|row| row.finished.is_some())
            .count();
        let mut excess = finished.saturating_sub(KEPT_RUNS);
        self.runs.retain(|row| {
            let forget = excess > 0 && row.finished.is_some();
            excess -= usize::from(forget);
            !forget
        });
    }
}

/// The point of `request` that starts now, the coordinator's clock reading `now`, the last
/// point started being `previous`: of those later than `previous`, due, and within the grace
/// period, the earliest or the latest.
pub(crate) fn eligible(
    request: &RunRequest,
    previous: Option<PointTime>,
    now: PointTime,
) -> Option<PointTime> {
    let grace = request
        .grace
        .map(|grace| i64::try_from(grace.as_micros()).unwrap_or(i64::MAX));
    let points = request.points.iter().copied().filter(|&point| {
        previous.is_none_or(|last| point > last)
            && point <= now
            && grace.is_none_or(|grace| now.saturating_sub(point) <= grace)
    });
    if request.earliest {
        points.min()
    } else {
        points.max()
    }
}

impl InProcess {
    /// A coordinator for this process alone.
    pub fn new() -> Self {
        InProcess::default()
    }

    /// A coordinator for this process alone whose clock reads `start` at its first reading and
    /// moves on with tokio's clock from there: for tests that need a schedule's points at known
    /// times (a cron schedule on a fixed date, points counted from a test's start), on virtual
    /// time.
    ///
    /// ```
    /// use lifespan_core::{Coordinator, InProcess};
    /// use std::time::{Duration, SystemTime};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    /// let coordinator = InProcess::starting_at(start);
    /// assert_eq!(coordinator.now().await.unwrap(), start);
    /// tokio::time::sleep(Duration::from_secs(60)).await;
    /// assert_eq!(coordinator.now().await.unwrap(), start + Duration::from_secs(60));
    /// # }
    /// ```
    pub fn starting_at(start: SystemTime) -> Self {
        InProcess {
            start: Some(start),
            ..InProcess::default()
        }
    }

    fn clock(&self) -> &WallClock {
        self.clock.get_or_init(|| match self.start {
            Some(start) => WallClock::starting_at(start),
            None => WallClock::new(),
        })
    }
}

impl Coordinator for InProcess {
    fn describe(&self) -> String {
        "the in-process coordinator".into()
    }

    fn prepare(&self) -> CoordinatorFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }

    fn acquire<'a>(&'a self, request: &'a LeaseRequest) -> CoordinatorFuture<'a, Acquired> {
        let now = Instant::now();
        let mut leases = lock(&self.leases);
        let entry = leases
            .entry(request.task.clone())
            .or_insert_with(Entry::new);
        let answer = if let Some(paused) = &entry.paused {
            Acquired::Paused(paused.clone())
        } else if entry.expires.is_some_and(|at| at > now) {
            Acquired::Held(Some(super::Holder::new(
                entry.instance.clone(),
                entry.token,
                entry.since,
            )))
        } else {
            entry.token += 1;
            entry.instance.clone_from(&request.instance);
            entry.since = SystemTime::now();
            entry.expires = Some(after(now, request.lease));
            Acquired::Granted(Term::new(
                &request.task,
                &request.instance,
                entry.token,
                entry.since,
            ))
        };
        Box::pin(async move { Ok(answer) })
    }

    fn renew<'a>(&'a self, term: &'a Term, lease: Duration) -> CoordinatorFuture<'a, bool> {
        let now = Instant::now();
        let mut leases = lock(&self.leases);
        let renewed = match leases.get_mut(&term.task) {
            Some(entry)
                if entry.token == term.token
                    && entry.expires.is_some_and(|at| at > now)
                    && entry.paused.is_none() =>
            {
                entry.expires = Some(after(now, lease));
                true
            }
            _ => false,
        };
        Box::pin(async move { Ok(renewed) })
    }

    fn release<'a>(&'a self, term: &'a Term) -> CoordinatorFuture<'a, ()> {
        if let Some(entry) = lock(&self.leases).get_mut(&term.task) {
            if entry.token == term.token {
                entry.expires = None;
            }
        }
        Box::pin(async { Ok(()) })
    }

    fn now(&self) -> CoordinatorFuture<'_, SystemTime> {
        let now = self.clock().now();
        Box::pin(async move { Ok(now) })
    }

    fn claim_run<'a>(&'a self, request: &'a RunRequest) -> CoordinatorFuture<'a, RunClaim> {
        let wall = self.clock().now();
        let mut leases = lock(&self.leases);
        let entry = leases
            .entry(request.task.clone())
            .or_insert_with(Entry::new);
        let claim = entry
            .claim_run(request, Instant::now(), wall)
            .requested(entry.requested);
        Box::pin(async move { Ok(claim) })
    }

    fn renew_run<'a>(&'a self, run: &'a PointRun, lease: Duration) -> CoordinatorFuture<'a, bool> {
        let now = Instant::now();
        let mut leases = lock(&self.leases);
        let renewed = match leases
            .get_mut(&run.task)
            .and_then(|entry| entry.current(run))
        {
            Some(row) if row.expires > now => {
                row.expires = after(now, lease);
                true
            }
            _ => false,
        };
        Box::pin(async move { Ok(renewed) })
    }

    fn finish_run<'a>(
        &'a self,
        run: &'a PointRun,
        outcome: RunOutcome,
    ) -> CoordinatorFuture<'a, bool> {
        let wall = self.clock().now();
        let mut leases = lock(&self.leases);
        let finished = match leases.get_mut(&run.task) {
            Some(entry) => match entry.current(run) {
                Some(row) => {
                    row.finished = Some((wall, outcome));
                    entry.forget_old_runs();
                    true
                }
                None => false,
            },
            None => false,
        };
        Box::pin(async move { Ok(finished) })
    }

    fn recent_runs<'a>(
        &'a self,
        task: &'a str,
        limit: usize,
    ) -> CoordinatorFuture<'a, Option<RecentRuns>> {
        let wall = self.clock().now();
        let recent = match lock(&self.leases).get(task) {
            Some(entry) => entry.recent(limit, Instant::now(), wall),
            None => RecentRuns::new(Vec::new(), 0, wall),
        };
        Box::pin(async move { Ok(Some(recent)) })
    }

    fn pause<'a>(&'a self, task: &'a str, by: &'a str) -> CoordinatorFuture<'a, Option<Pause>> {
        let since = self.clock().now();
        let mut leases = lock(&self.leases);
        let entry = leases.entry(task.to_owned()).or_insert_with(Entry::new);
        let pause = entry
            .paused
            .get_or_insert_with(|| Pause::new(by, since))
            .clone();
        Box::pin(async move { Ok(Some(pause)) })
    }

    fn resume<'a>(&'a self, task: &'a str) -> CoordinatorFuture<'a, bool> {
        let resumed = lock(&self.leases)
            .get_mut(task)
            .and_then(|entry| entry.paused.take())
            .is_some();
        Box::pin(async move { Ok(resumed) })
    }

    fn request_run<'a>(&'a self, task: &'a str, by: &'a str) -> CoordinatorFuture<'a, bool> {
        let _ = by;
        let mut leases = lock(&self.leases);
        leases
            .entry(task.to_owned())
            .or_insert_with(Entry::new)
            .requested = true;
        Box::pin(async { Ok(true) })
    }

    fn publish_status<'a>(
        &'a self,
        instance: &'a str,
        status: &'a str,
        ttl: Duration,
    ) -> CoordinatorFuture<'a, bool> {
        let now = self.clock().now();
        let mut statuses = lock(&self.statuses);
        statuses.retain(|_, kept| {
            kept.expires
                .checked_add(FORGET_SILENT_REPLICAS_AFTER)
                .is_none_or(|forget| forget >= now)
        });
        let expires = now.checked_add(ttl).unwrap_or(now);
        let published = ReplicaStatus::new(instance, status, now, expires);
        statuses.insert(instance.to_owned(), published);
        Box::pin(async { Ok(true) })
    }

    fn replica_statuses(&self) -> CoordinatorFuture<'_, Option<ReplicaStatuses>> {
        let now = self.clock().now();
        let replicas = lock(&self.statuses).values().cloned().collect();
        Box::pin(async move { Ok(Some(ReplicaStatuses::new(replicas, now))) })
    }
}
