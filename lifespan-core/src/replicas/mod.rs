//! Coordination between replicas: which process runs a singleton task, which runs each point
//! of a once-per-point schedule.
//!
//! An app asks its [`Coordinator`] for a *lease* per singleton task and a *claim* per scheduled
//! point. The default, [`InProcess`], grants everything at once: one process needs no database
//! and behaves as if it were the only replica. The `lifespan-postgres` crate coordinates through
//! PostgreSQL.
//!
//! It may use: `base`.

mod control;
mod in_process;
mod lease;
mod ledger;
mod point;
mod published;
mod records;
mod settings;

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

pub use control::Pause;
pub use in_process::InProcess;
pub use lease::{Lease, LeaseControl, LeaseLost};
pub use ledger::{
    point_system_time, point_time, Misfire, Overlap, PointRun, PointTime, RunClaim, RunOutcome,
    RunRequest,
};
pub use point::Point;
pub use published::{ReplicaStatus, ReplicaStatuses, FORGET_SILENT_REPLICAS_AFTER};
pub(crate) use records::MAX_RECENT_RUNS;
pub use records::{RecentRuns, RunRecord};
pub use settings::{InvalidLeaseSettings, LeaseSettings};

/// The future a [`Coordinator`]'s methods return.
pub type CoordinatorFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, CoordinatorError>> + Send + 'a>>;

/// Where the replicas of an app agree on who runs what: see [`AppBuilder::coordinator`].
///
/// An implementation keeps, per task name, a lease with its holder, its expiry and a fencing
/// token, and per once-per-point task the last point started and a ledger of its runs. All time is the coordinator's own (a
/// database server's clock), never the replicas': the app only ever hands it durations.
///
/// The rules an implementation keeps:
/// - [`acquire`](Self::acquire) grants the lease only if it is free or expired, with a token
///   greater than every token granted before for that task;
/// - [`renew`](Self::renew) extends the lease only while the term is still the current one and
///   not expired;
/// - [`release`](Self::release) ends the term at once if it is still current, and does nothing
///   otherwise;
/// - [`claim_run`](Self::claim_run) starts each point of a schedule for one caller at a time:
///   a point's run is leased, renewed by [`renew_run`](Self::renew_run), ended by
///   [`finish_run`](Self::finish_run), and taken over as its next attempt, with a greater
///   token, once its lease expires unfinished; the points of the schedule that no caller
///   started are counted as missed ([`RunRequest::missed_before`]);
/// - [`recent_runs`](Self::recent_runs) shows the ledger: the latest runs of every caller;
/// - while a task is [paused](Self::pause), nothing of it starts: `acquire` answers
///   [`Acquired::Paused`], `renew` answers `false` (the holder stops and releases), `claim_run`
///   starts no run (a run in flight is renewed and finished as usual); a
///   [requested](Self::request_run) manual run is started by the next claim of any caller that
///   starts no point, once;
/// - [`publish_status`](Self::publish_status) keeps one status per replica, which
///   [`replica_statuses`](Self::replica_statuses) shows to every replica.
///
/// [`AppBuilder::coordinator`]: crate::AppBuilder::coordinator
pub trait Coordinator: Send + Sync + 'static {
    /// What it is and where, for logs and errors: `PostgreSQL at db.internal:5432`. Never a
    /// password.
    fn describe(&self) -> String;

    /// Gets ready: connects, creates what it needs. Called at every startup of an app that has
    /// a singleton or once-per-point task; an error fails the startup.
    fn prepare(&self) -> CoordinatorFuture<'_, ()>;

    /// Asks for the lease of `request.task` on behalf of `request.instance`.
    fn acquire<'a>(&'a self, request: &'a LeaseRequest) -> CoordinatorFuture<'a, Acquired>;

    /// Extends `term` by `lease` from now; `Ok(false)` if it is no longer the current term or
    /// has expired: the lease is lost.
    fn renew<'a>(&'a self, term: &'a Term, lease: Duration) -> CoordinatorFuture<'a, bool>;

    /// Ends `term` now, if it is still the current one, so that a standby can take over at
    /// once.
    fn release<'a>(&'a self, term: &'a Term) -> CoordinatorFuture<'a, ()>;

    /// The coordinator's clock now. Replicas reckon the points of a schedule on it, never on
    /// their own clocks: points of `every` are the multiples of the period since the Unix epoch
    /// on this clock, a cron schedule's occurrences are its times on this clock.
    fn now(&self) -> CoordinatorFuture<'_, SystemTime>;

    /// Starts a run of `request.task` for this caller, if one is due: see the rules on the
    /// trait ([`RunRequest`] says what the caller asks for). In this order:
    /// 1. *takeover*: if a run of the task is unfinished and its lease has expired, this caller
    ///    gets it, as its next attempt, with a new token (whatever `request.points` says);
    /// 2. *overlap*: else, with [`Overlap::Forbid`], if a run is unfinished and its lease holds,
    ///    nothing starts (`in_flight`);
    /// 3. *a new point*: else, of `request.points`, those later than the last point started for
    ///    the task, not later than the coordinator's clock, not older than `request.grace`, if
    ///    the last point's `hold` has passed, the earliest (or the latest) starts, as attempt 1,
    ///    with a new token, and becomes the last point started.
    ///
    /// A token is greater than every token granted before for the task, leases and runs alike.
    fn claim_run<'a>(&'a self, request: &'a RunRequest) -> CoordinatorFuture<'a, RunClaim>;

    /// Extends the lease of `run` by `lease` from now; `Ok(false)` if it is no longer the
    /// point's current attempt, has finished, or has expired: the run's lease is lost.
    fn renew_run<'a>(&'a self, run: &'a PointRun, lease: Duration) -> CoordinatorFuture<'a, bool>;

    /// Records that `run` ended with `outcome`; `Ok(false)` if it was no longer the point's
    /// current attempt (another replica took it over), which records nothing.
    fn finish_run<'a>(
        &'a self,
        run: &'a PointRun,
        outcome: RunOutcome,
    ) -> CoordinatorFuture<'a, bool>;

    /// The runs of the latest `limit` points of `task` in the ledger, latest first, whichever
    /// replica ran them, with the task's count of missed points and the coordinator's clock:
    /// what [`App::ledger`](crate::App::ledger) and the status route show of a once-per-point
    /// task. A task with no run yet has none, and 0 missed.
    ///
    /// The default answers `Ok(None)`: this coordinator shows no ledger. Read-only, and cheap:
    /// one statement, for a database.
    fn recent_runs<'a>(
        &'a self,
        task: &'a str,
        limit: usize,
    ) -> CoordinatorFuture<'a, Option<RecentRuns>> {
        let _ = (task, limit);
        Box::pin(async { Ok(None) })
    }

    /// Pauses `task` on behalf of instance `by`, for every caller, until
    /// [`resume`](Self::resume): see the rules on the trait. A task already paused keeps its
    /// pause. Answers the pause in force.
    ///
    /// The default answers `Ok(None)`: this coordinator keeps no pauses, and
    /// [`App::pause`](crate::App::pause) refuses to pause its singleton and once-per-point
    /// tasks. One statement, for a database.
    fn pause<'a>(&'a self, task: &'a str, by: &'a str) -> CoordinatorFuture<'a, Option<Pause>> {
        let _ = (task, by);
        Box::pin(async { Ok(None) })
    }

    /// Ends the pause of `task`; `Ok(false)` if it was not paused. The default answers
    /// `Ok(false)`.
    fn resume<'a>(&'a self, task: &'a str) -> CoordinatorFuture<'a, bool> {
        let _ = task;
        Box::pin(async { Ok(false) })
    }

    /// Asks for one manual run of the once-per-point task `task` on behalf of instance `by`:
    /// the next [`claim_run`](Self::claim_run) of any caller that starts no point (none is due,
    /// none is taken over, none is in flight with overlap forbidden, the task is not paused)
    /// starts it, as a leased run marked [`manual`](PointRun::manual) whose point is the
    /// coordinator's clock then (made later than every point of the task in the ledger), and
    /// which changes neither the last point started nor the count of missed points. Asked for
    /// twice before it starts, it runs once. `Ok(true)` once it is recorded.
    ///
    /// The default answers `Ok(false)`: this coordinator runs no manual runs, and
    /// [`App::trigger`](crate::App::trigger) refuses to trigger its once-per-point tasks.
    fn request_run<'a>(&'a self, task: &'a str, by: &'a str) -> CoordinatorFuture<'a, bool> {
        let _ = (task, by);
        Box::pin(async { Ok(false) })
    }

    /// Keeps `status` (JSON) as the status of replica `instance`, published now on the
    /// coordinator's clock and expiring `ttl` later, in place of the one it published before;
    /// forgets the statuses that expired over [`FORGET_SILENT_REPLICAS_AFTER`] ago. `Ok(true)`
    /// once kept.
    ///
    /// Each replica of an app with a coordinator publishes its status every few seconds (see
    /// [`AppBuilder::publish_status`](crate::AppBuilder::publish_status)), so that the status
    /// route and the dashboard of any replica show every replica's tasks and contexts.
    ///
    /// The default answers `Ok(false)`: this coordinator keeps no statuses, and the replica
    /// stops publishing. One statement, for a database.
    fn publish_status<'a>(
        &'a self,
        instance: &'a str,
        status: &'a str,
        ttl: Duration,
    ) -> CoordinatorFuture<'a, bool> {
        let _ = (instance, status, ttl);
        Box::pin(async { Ok(false) })
    }

    /// The statuses the replicas [published](Self::publish_status), silent ones included until
    /// they are forgotten, with the coordinator's clock.
    ///
    /// The default answers `Ok(None)`: this coordinator keeps no statuses. Read-only, one
    /// statement for a database.
    fn replica_statuses(&self) -> CoordinatorFuture<'_, Option<ReplicaStatuses>> {
        Box::pin(async { Ok(None) })
    }
}

/// A request for a singleton task's lease.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeaseRequest {
    /// The task's name: the lease's key.
    pub task: String,
    /// Who asks: the app's [instance](crate::AppBuilder::instance).
    pub instance: String,
    /// How long the lease lasts if granted.
    pub lease: Duration,
}

impl LeaseRequest {
    /// A request for the lease of `task` on behalf of `instance`, lasting `lease`: for
    /// coordinators' own tests (the app makes its requests itself).
    pub fn new(task: impl Into<String>, instance: impl Into<String>, lease: Duration) -> Self {
        LeaseRequest {
            task: task.into(),
            instance: instance.into(),
            lease,
        }
    }
}

/// What [`Coordinator::acquire`] answered.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Acquired {
    /// The lease is ours, for this term.
    Granted(Term),
    /// Another term holds it; `None` if the coordinator does not say which.
    Held(Option<Holder>),
    /// The task is [paused](Coordinator::pause): nobody gets the lease until it is resumed.
    Paused(Pause),
}

/// One holder's hold of a lease, from grant to loss or release.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Term {
    /// The task's name.
    pub task: String,
    /// The instance that holds it.
    pub instance: String,
    /// The fencing token: greater than that of every earlier term of this task.
    pub token: i64,
    /// When the term began, on the coordinator's clock.
    pub since: SystemTime,
    /// What the coordinator needs to know about the term (the connection it was granted on,
    /// say); the app only hands it back.
    pub session: u64,
}

impl Term {
    /// A term of `task` held by `instance` with fencing token `token`, since `since`.
    pub fn new(
        task: impl Into<String>,
        instance: impl Into<String>,
        token: i64,
        since: SystemTime,
    ) -> Self {
        Term {
            task: task.into(),
            instance: instance.into(),
            token,
            since,
            session: 0,
        }
    }

    /// The same term, marked with the coordinator's `session`.
    pub fn with_session(mut self, session: u64) -> Self {
        self.session = session;
        self
    }

    /// Who holds it, as a standby sees it.
    pub fn holder(&self) -> Holder {
        Holder {
            instance: self.instance.clone(),
            token: self.token,
            since: self.since,
        }
    }
}

/// Who holds a lease: shown in the [status](crate::TaskStatus::lease) of every replica.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Holder {
    /// The holder's instance name.
    pub instance: String,
    /// Its term's fencing token.
    pub token: i64,
    /// When its term began, on the coordinator's clock.
    pub since: SystemTime,
}

impl Holder {
    /// The holder `instance`, in its term of token `token` that began at `since`.
    pub fn new(instance: impl Into<String>, token: i64, since: SystemTime) -> Self {
        Holder {
            instance: instance.into(),
            token,
            since,
        }
    }
}

/// A coordinator could not answer: unreachable, or its answer made no sense.
///
/// Its message says what failed ("renewing the lease of `billing::sweep`"); the cause is its
/// [`source`](std::error::Error::source).
///
/// `{}` prints its message, `{:#}` its message then its causes, joined by `": "`, with the
/// passwords of URLs masked in each.
#[derive(Debug, thiserror::Error)]
pub struct CoordinatorError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl CoordinatorError {
    /// An error saying `message`, caused by `source`.
    pub fn new(
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        CoordinatorError {
            message: crate::base::redact::redact(&message.into()).into_owned(),
            source: Some(source.into()),
        }
    }

    /// An error saying `message`, with no further cause.
    pub fn msg(message: impl Into<String>) -> Self {
        CoordinatorError {
            message: crate::base::redact::redact(&message.into()).into_owned(),
            source: None,
        }
    }
}

impl std::fmt::Display for CoordinatorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::base::chain::fmt(
            f,
            |f| f.write_str(&self.message),
            std::error::Error::source(self),
        )
    }
}

/// An app's coordination: its coordinator, its instance name, its default lease settings.
#[derive(Clone)]
pub(crate) struct Coordination {
    pub(crate) coordinator: std::sync::Arc<dyn Coordinator>,
    pub(crate) instance: std::sync::Arc<str>,
    pub(crate) lease: LeaseSettings,
    /// How often this replica publishes its status; `None`: never.
    pub(crate) publish_every: Option<Duration>,
}

impl std::fmt::Debug for Coordination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coordination")
            .field("coordinator", &self.coordinator.describe())
            .field("instance", &self.instance)
            .field("lease", &self.lease)
            .field("publish_every", &self.publish_every)
            .finish()
    }
}

/// This process's default instance name: `host:pid`.
pub(crate) fn default_instance() -> String {
    format!("{}:{}", host_name(), std::process::id())
}

#[cfg(unix)]
fn host_name() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that many bytes.
    let result = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
    if result != 0 {
        return "localhost".into();
    }
    let end = buffer.iter().position(|b| *b == 0).unwrap_or(buffer.len());
    usable_host_name(&String::from_utf8_lossy(&buffer[..end]))
}

/// `name`, or `localhost` if it is empty or has a character that no name may have.
#[cfg_attr(not(unix), allow(dead_code))]
fn usable_host_name(name: &str) -> String {
    if name.is_empty() || name.chars().any(crate::base::name::forbidden) {
        "localhost".into()
    } else {
        name.to_owned()
    }
}

#[cfg(not(unix))]
fn host_name() -> String {
    std::env::var("COMPUTERNAME").unwrap_or_else(|_| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::{default_instance, usable_host_name};

    /// The default instance is `host:pid`: this machine's host name, as the kernel has it, and
    /// this process's id.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_default_instance_is_the_host_name_and_the_process_id() {
        let instance = default_instance();
        let (host, pid) = instance.rsplit_once(':').expect("host:pid");
        assert_eq!(pid, std::process::id().to_string());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("host name");
        let kernel = kernel.trim();
        if kernel.is_empty() || kernel.chars().any(crate::base::name::forbidden) {
            assert_eq!(host, "localhost");
        } else {
            assert_eq!(host, kernel);
        }
    }

    /// A host name that no instance name could hold gives way to `localhost`.
    #[test]
    fn an_empty_or_unusable_host_name_is_localhost() {
        assert_eq!(usable_host_name("db-1.internal"), "db-1.internal");
        assert_eq!(usable_host_name(""), "localhost");
        assert_eq!(usable_host_name("db\n1"), "localhost");
    }
}
