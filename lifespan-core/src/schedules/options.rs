//! How a task is supervised: restarts, a schedule, criticality, a display name.
//!
//! `#[lifespan(...)]` under `#[lifespan_task]` builds these at compile time; tasks registered by
//! hand take them through [`App::register_task_with`](crate::App::register_task_with).

use std::borrow::Cow;
use std::time::Duration;

use crate::replicas::{LeaseSettings, Misfire, Overlap};

/// When a task that has ended is run again. See [`TaskOptions::restart`].
///
/// ```
/// use lifespan_core::{Restart, TaskOptions};
///
/// // A consumer that must always run: restarted after any end, even `Ok`.
/// let options = TaskOptions::new().restart(Restart::Always);
/// assert_eq!(options.validate(), Ok(()));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Restart {
    /// Never: the task's first end is its last. The default.
    #[default]
    Never,
    /// After it returns an error or panics; not after it returns `Ok`.
    OnFailure,
    /// After any end before shutdown, `Ok` included: for tasks that are meant to run forever.
    Always,
}

/// How a periodic task's runs are spaced. See [`TaskOptions::every`].
///
/// ```
/// use lifespan_core::{Schedule, TaskOptions};
/// use std::time::Duration;
///
/// // Each sweep starts a minute after the previous one ended, however long it took.
/// let options = TaskOptions::new()
///     .every(Duration::from_secs(60))
///     .schedule(Schedule::FixedDelay);
/// assert_eq!(options.validate(), Ok(()));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Schedule {
    /// Runs start on a fixed grid, one period apart. A run that overruns its period makes the
    /// next start as soon as it ends, on the grid's next point: missed points are skipped, never
    /// run in a burst, and two runs never overlap. The default.
    #[default]
    FixedRate,
    /// Each run starts one period after the previous one ended.
    FixedDelay,
}

/// The default first restart delay: 100 ms.
pub const DEFAULT_BACKOFF_START: Duration = Duration::from_millis(100);
/// The default longest restart delay: 30 s.
pub const DEFAULT_BACKOFF_CAP: Duration = Duration::from_secs(30);

/// How many missed points a once-per-point task with `misfire = all` runs at most, by default.
pub const DEFAULT_MISFIRE_LIMIT: u32 = 10;

/// How a task is supervised: whether and how it restarts, whether it runs periodically, whether
/// its failure stops the app, and the name it is shown under.
///
/// The defaults are those of a plain `#[lifespan_task]`: run once, never restarted, not critical.
///
/// ```
/// use lifespan_core::{Restart, TaskOptions};
/// use std::time::Duration;
///
/// // Restarted when it fails, 100 ms after the first failure, doubling up to 30 s, at most
/// // 5 times in any minute; the app stops if it fails for good.
/// let options = TaskOptions::new()
///     .restart(Restart::OnFailure)
///     .backoff(Duration::from_millis(100), Duration::from_secs(30))
///     .max_restarts(5)
///     .within(Duration::from_secs(60))
///     .critical(true);
/// assert_eq!(options.validate(), Ok(()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskOptions {
    pub(crate) display_name: Option<&'static str>,
    pub(crate) restart: Restart,
    pub(crate) backoff_start: Duration,
    pub(crate) backoff_cap: Duration,
    pub(crate) jitter: bool,
    pub(crate) max_restarts: Option<u32>,
    pub(crate) within: Option<Duration>,
    pub(crate) every: Option<Duration>,
    pub(crate) schedule: Schedule,
    pub(crate) at_startup: bool,
    pub(crate) critical: bool,
    pub(crate) singleton: bool,
    pub(crate) once_per_point: bool,
    /// The lease settings of a singleton; `None`: the app's.
    pub(crate) lease: Option<LeaseSettings>,
    pub(crate) hold: Duration,
    pub(crate) overlap: Overlap,
    pub(crate) misfire: Misfire,
    /// `None`: no limit.
    pub(crate) misfire_grace: Option<Duration>,
    pub(crate) misfire_limit: u32,
    /// A cron expression, checked (by the macro or [`TaskOptions::cron`]).
    pub(crate) cron: Option<Cow<'static, str>>,
    /// The cron schedule's IANA time zone, checked; `None`: UTC.
    pub(crate) time_zone: Option<Cow<'static, str>>,
    pub(crate) initial_delay: Option<Duration>,
    pub(crate) timeout: Option<Duration>,
    /// Zero: none.
    pub(crate) run_jitter: Duration,
}

impl Default for TaskOptions {
    fn default() -> Self {
        TaskOptions::new()
    }
}

impl TaskOptions {
    /// Run once, never restarted, not periodic, not critical.
    pub const fn new() -> Self {
        TaskOptions {
            display_name: None,
            restart: Restart::Never,
            backoff_start: DEFAULT_BACKOFF_START,
            backoff_cap: DEFAULT_BACKOFF_CAP,
            jitter: true,
            max_restarts: None,
            within: None,
            every: None,
            schedule: Schedule::FixedRate,
            at_startup: false,
            critical: false,
            singleton: false,
            once_per_point: false,
            lease: None,
            hold: Duration::ZERO,
            overlap: Overlap::Forbid,
            misfire: Misfire::Skip,
            misfire_grace: None,
            misfire_limit: DEFAULT_MISFIRE_LIMIT,
            cron: None,
            time_zone: None,
            initial_delay: None,
            timeout: None,
            run_jitter: Duration::ZERO,
        }
    }

    /// The name the task is shown under in logs and [status](crate::App::status), beside its
    /// full name. (A task registered by hand can simply be registered under the name to show.)
    /// It must not be empty nor hold a control character such as a newline: [`validate`]
    /// refuses it.
    ///
    /// [`validate`]: Self::validate
    pub const fn display_name(mut self, name: &'static str) -> Self {
        self.display_name = Some(name);
        self
    }

    /// When the task is run again after it ends. A restarted task gets its arguments evaluated
    /// anew and a fresh [`Shutdown`](crate::Shutdown); nothing restarts once shutdown has
    /// begun, and shutdown interrupts a wait between two runs at once.
    pub const fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// The delay before a restart: `start` before the first, doubling with each consecutive
    /// restart up to `cap`. A run that lasts at least `cap` counts as a recovery: the next
    /// restart waits `start` again. Default: 100 ms up to 30 s.
    pub const fn backoff(mut self, start: Duration, cap: Duration) -> Self {
        self.backoff_start = start;
        self.backoff_cap = cap;
        self
    }

    /// Whether each restart delay is drawn at random between half of it and all of it, so that
    /// tasks failing together do not retry in lockstep. Default: on.
    pub const fn jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self
    }

    /// The most restarts allowed (in any [window](Self::within), if one is given, else in
    /// all); the failure that would exceed it leaves the task failed for good.
    pub const fn max_restarts(mut self, max_restarts: u32) -> Self {
        self.max_restarts = Some(max_restarts);
        self
    }

    /// The sliding window in which [`max_restarts`](Self::max_restarts) are counted.
    pub const fn within(mut self, window: Duration) -> Self {
        self.within = Some(window);
        self
    }

    /// Runs the task periodically: its function is called once per `period`, with its
    /// arguments evaluated anew each time, until shutdown. Shutdown waits (within the grace
    /// period) for a run in progress and never starts a new one. A run that fails leaves the
    /// task failed unless it [restarts](Self::restart) on failure: then the next run comes after
    /// the restart delay, and the schedule goes on from there.
    pub const fn every(mut self, period: Duration) -> Self {
        self.every = Some(period);
        self
    }

    /// How a periodic task's runs are spaced. Default: [`Schedule::FixedRate`].
    pub const fn schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = schedule;
        self
    }

    /// Whether a periodic task's first run is at startup rather than one period after it.
    /// Default: one period after.
    pub const fn at_startup(mut self, at_startup: bool) -> Self {
        self.at_startup = at_startup;
        self
    }

    /// Whether the task failing for good (an error or panic it is not restarted after) shuts
    /// the whole app down: [`App::run_until_signal`](crate::App::run_until_signal) and the
    /// other `run_*`/`serve_*` calls then return
    /// [`RunError::CriticalTaskFailed`](crate::RunError::CriticalTaskFailed) once shutdown is
    /// over, so that the process exits with an error.
    pub const fn critical(mut self, critical: bool) -> Self {
        self.critical = critical;
        self
    }

    /// Whether at most one replica runs the task at any moment, among all the processes that
    /// share the app's [coordinator](crate::AppBuilder::coordinator). The others wait as
    /// standby ([`RunState::Standby`](crate::RunState::Standby)) and take over when the holder
    /// dies, loses its connection to the coordinator, or shuts down. The task can receive its
    /// [`Lease`](crate::Lease), with the fencing token. With the default, in-process
    /// coordinator the task runs at once, as without the option.
    ///
    /// A singleton's function is called for each term of its lease (after a takeover, a fresh
    /// [`Shutdown`](crate::Shutdown) and lease); its arguments are checked at startup. A
    /// singleton that ends for good (it completes, or fails and is not restarted) releases its
    /// lease, and a standby replica then runs it anew: a singleton is for work that lasts as
    /// long as the app, restarted if it may end (`restart = always`). Work to be done once
    /// across every replica (a data migration, a backfill) is not a singleton's: with
    /// PostgreSQL, claim it with `lifespan_postgres::claim_once` in a context's setup, where
    /// the first replica does it and the others wait for its commit and skip it.
    pub const fn singleton(mut self, singleton: bool) -> Self {
        self.singleton = singleton;
        self
    }

    /// The lease settings of a singleton, in place of the app's
    /// ([`AppBuilder::lease`](crate::AppBuilder::lease)).
    pub const fn lease(mut self, settings: LeaseSettings) -> Self {
        self.lease = Some(settings);
        self
    }

    /// Whether each point of a periodic task's schedule runs on one replica at a time, among all
    /// the processes that share the app's coordinator: every replica wakes at each point, and
    /// the coordinator starts the point for one of them as a leased run in its ledger. The
    /// points are reckoned *on the coordinator's clock* (the multiples of the period since the
    /// Unix epoch, or the cron schedule's occurrences), so the replicas' clocks do not matter.
    /// A run whose replica stops renewing its lease is taken over by another replica as the
    /// point's next attempt; the body can take its [`Point`](crate::Point) to tell. The
    /// in-process coordinator keeps the same ledger for the one process.
    ///
    /// A run that fails is retried under the task's [`restart`](Self::restart) policy by the
    /// replica that holds its point, under the same lease; the schedule then goes on.
    ///
    /// A replica waits for the coordinator's answer for the period (the shortest gap between
    /// two occurrences of a cron schedule), or for the app's renew deadline
    /// ([`AppBuilder::lease`](crate::AppBuilder::lease), 10 s by default) if that is longer: a
    /// coordinator slower than a short period still starts each point, and the run is late
    /// rather than lost. Past that, the replica takes the coordinator for unreachable, logs why
    /// (once per outage) and asks again a retry period later.
    pub const fn once_per_point(mut self, once_per_point: bool) -> Self {
        self.once_per_point = once_per_point;
        self
    }

    /// For a once-per-point task: how long a claimed point keeps the next ones from being
    /// claimed, at least (ShedLock's "lock at least for"). The points are reckoned on the
    /// coordinator's clock and a point is started once (again only as a takeover of its run),
    /// so a fast run on one replica cannot let a replica with a slow clock run the same point
    /// again, hold or not; a hold also spaces runs at least that far apart when a replica
    /// claims a point late. It must be shorter than the
    /// period, or than the shortest gap between two occurrences of a cron schedule: a hold as
    /// long as that would skip every other point. Default: none.
    pub const fn hold(mut self, hold: Duration) -> Self {
        self.hold = hold;
        self
    }

    /// For a once-per-point task: whether a point may start while an earlier run of the task is
    /// still in flight on any replica. By default ([`Overlap::Forbid`]) it may not: the point is
    /// missed, as one process skips the points an overrunning run covers, and the
    /// [`misfire`](Self::misfire) policy says what becomes of it. `#[lifespan(overlap = allow)]`
    /// lets points start at their time whatever runs.
    pub const fn overlap(mut self, overlap: Overlap) -> Self {
        self.overlap = overlap;
        self
    }

    /// For a once-per-point task: what becomes of the points that no replica started at their
    /// time (every replica was down, the coordinator did not answer, or a run was in flight
    /// under [`Overlap::Forbid`]). Counted in every case.
    ///
    /// | `misfire` | missed points |
    /// |---|---|
    /// | `skip` (default) | none runs; the next run is the next point due |
    /// | `latest` | the latest runs once, as soon as a replica can start it, if it is within [`misfire_grace`](Self::misfire_grace) |
    /// | `all` | each runs, earliest first, one after the other: the latest [`misfire_limit`](Self::misfire_limit) within the grace period |
    ///
    /// A replica starting up looks for missed points at once under `latest` and `all`; under
    /// `skip` it waits for the next point. The points of a task that never ran are not missed.
    pub const fn misfire(mut self, misfire: Misfire) -> Self {
        self.misfire = misfire;
        self
    }

    /// For `misfire = latest` or `all`: a missed point older than this is not run. Default: no
    /// limit.
    pub const fn misfire_grace(mut self, grace: Duration) -> Self {
        self.misfire_grace = Some(grace);
        self
    }

    /// For `misfire = all`: at most this many missed points run, the latest ones. Default: 10.
    pub const fn misfire_limit(mut self, limit: u32) -> Self {
        self.misfire_limit = limit;
        self
    }

    /// Checks that the options make sense together; [`App::register_task_with`] does too.
    ///
    /// [`App::register_task_with`]: crate::App::register_task_with
    ///
    /// ```
    /// use lifespan_core::TaskOptions;
    /// use std::time::Duration;
    ///
    /// let options = TaskOptions::new().every(Duration::ZERO);
    /// assert_eq!(options.validate(), Err("the period `every` must be longer than zero"));
    ///
    /// let options = TaskOptions::new().display_name("poller\nINFO all good");
    /// assert!(options.validate().unwrap_err().starts_with("the display name cannot contain a control character"));
    /// ```
    ///
    /// The overlap and misfire policies apply to once-per-point tasks, the grace period to the
    /// policies that run missed points, the limit to `misfire = all`:
    ///
    /// ```
    /// use lifespan_core::{Misfire, Overlap, TaskOptions};
    /// use std::time::Duration;
    ///
    /// let every_minute = TaskOptions::new().every(Duration::from_secs(60));
    /// let options = every_minute.clone().overlap(Overlap::Allow);
    /// assert_eq!(
    ///     options.validate(),
    ///     Err("`overlap` applies to once-per-point tasks: add `once_per_point`")
    /// );
    ///
    /// let once_per_point = every_minute.once_per_point(true);
    /// let options = once_per_point.clone().misfire_grace(Duration::from_secs(600));
    /// assert_eq!(
    ///     options.validate(),
    ///     Err("`misfire_grace` applies to `misfire = latest` and `misfire = all`: under `skip`, no missed point runs")
    /// );
    ///
    /// let options = once_per_point
    ///     .misfire(Misfire::All)
    ///     .misfire_grace(Duration::from_secs(600))
    ///     .misfire_limit(5);
    /// assert_eq!(options.validate(), Ok(()));
    /// ```
    pub fn validate(&self) -> Result<(), &'static str> {
        if let Some(name) = self.display_name {
            if name.is_empty() {
                return Err("the display name cannot be empty");
            }
            if name.chars().any(crate::base::name::forbidden) {
                return Err("the display name cannot contain a control character (such as a newline), a line separator or a bidirectional control: it is written into logs");
            }
        }
        if self.every == Some(Duration::ZERO) {
            return Err("the period `every` must be longer than zero");
        }
        if self.backoff_start.is_zero() {
            return Err("the first restart delay must be longer than zero");
        }
        if self.backoff_start > self.backoff_cap {
            return Err("the first restart delay is longer than the longest one");
        }
        if self.max_restarts == Some(0) {
            return Err("`max_restarts` must be at least 1; for no restarts, restart `Never`");
        }
        if self.within.is_some() && self.max_restarts.is_none() {
            return Err("a window `within` needs `max_restarts`: the number of restarts it allows");
        }
        if self.within == Some(Duration::ZERO) {
            return Err("the window `within` must be longer than zero");
        }
        if self.is_periodic() && self.restart == Restart::Always {
            return Err("a periodic task runs again after every run that succeeds: restart it `OnFailure`, not `Always`");
        }
        if let Some(problem) = self.coordination_problem() {
            return Err(problem);
        }
        if !self.is_periodic() && (self.at_startup || self.schedule != Schedule::FixedRate) {
            return Err(
                "`at_startup` and the schedule apply to periodic tasks: give a period with `every`",
            );
        }
        match self.timing_problem() {
            Some(problem) => Err(problem),
            None => Ok(()),
        }
    }

    /// What is wrong with the options of replicas, if anything.
    fn coordination_problem(&self) -> Option<&'static str> {
        if self.singleton && self.once_per_point {
            return Some("a task is either a `singleton` (one replica runs it) or `once_per_point` (one replica runs each point), not both");
        }
        if self.once_per_point && !self.is_periodic() {
            return Some("`once_per_point` applies to periodic tasks: give a period with `every` or a schedule with `cron`");
        }
        if self.lease.is_some() && !self.singleton {
            return Some("lease settings apply to singleton tasks: add `singleton`");
        }
        if let Some(settings) = &self.lease {
            if settings.problem().is_some() {
                return Some("invalid lease settings: the renew deadline must be shorter than the lease, and the retry period shorter than the renew deadline");
            }
        }
        if !self.hold.is_zero() {
            if !self.once_per_point {
                return Some("`hold` applies to once-per-point tasks: add `once_per_point`");
            }
            if self.every.is_some_and(|period| self.hold >= period) {
                return Some(
                    "`hold` must be shorter than the period `every`, or points would be skipped",
                );
            }
        }
        self.misfire_problem()
    }

    /// What is wrong with the overlap and misfire policies of a once-per-point task, if
    /// anything. `#[lifespan(...)]` refuses the same, in the same words.
    fn misfire_problem(&self) -> Option<&'static str> {
        if self.misfire_grace == Some(Duration::ZERO) {
            return Some("`misfire_grace` must be longer than zero");
        }
        if self.misfire_limit == 0 {
            return Some("`misfire_limit` must be at least 1; to run no missed point, leave `misfire` at `skip`");
        }
        if !self.once_per_point {
            if self.overlap != Overlap::Forbid {
                return Some("`overlap` applies to once-per-point tasks: add `once_per_point`");
            }
            if self.misfire != Misfire::Skip {
                return Some("`misfire` applies to once-per-point tasks: add `once_per_point`");
            }
            if self.misfire_grace.is_some() {
                return Some(
                    "`misfire_grace` applies to once-per-point tasks: add `once_per_point`",
                );
            }
            if self.misfire_limit != DEFAULT_MISFIRE_LIMIT {
                return Some(
                    "`misfire_limit` applies to once-per-point tasks: add `once_per_point`",
                );
            }
        }
        if self.misfire_grace.is_some() && self.misfire == Misfire::Skip {
            return Some("`misfire_grace` applies to `misfire = latest` and `misfire = all`: under `skip`, no missed point runs");
        }
        if self.misfire_limit != DEFAULT_MISFIRE_LIMIT && self.misfire != Misfire::All {
            return Some("`misfire_limit` applies to `misfire = all`: the other policies run one missed point at most");
        }
        None
    }

    /// Whether a task with these options runs under a supervisor rather than as a plain task.
    pub(crate) fn is_supervised(&self) -> bool {
        self.restart != Restart::Never || self.is_periodic() || self.critical || self.singleton
    }
}
