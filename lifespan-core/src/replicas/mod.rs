//! Coordination between replicas: which process runs a singleton task, which runs each point
//! of a once-per-point schedule.
//!
//! An app asks its [`Coordinator`] for a *lease* per singleton task and a *claim* per scheduled
//! point. The default, [`InProcess`], grants everything at once: one process needs no database
//! and behaves as if it were the only replica. The `lifespan-postgres` crate coordinates through
//! PostgreSQL.
//!
//! It may use: `base`.

mod in_process;
mod lease;
mod settings;

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

pub use in_process::InProcess;
pub use lease::{Lease, LeaseControl, LeaseLost};
pub use settings::{InvalidLeaseSettings, LeaseSettings};

/// The future a [`Coordinator`]'s methods return.
pub type CoordinatorFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, CoordinatorError>> + Send + 'a>>;

/// Where the replicas of an app agree on who runs what: see [`AppBuilder::coordinator`].
///
/// An implementation keeps, per task name, a lease with its holder, its expiry and a fencing
/// token, and per periodic task the last point claimed. All time is the coordinator's own (a
/// database server's clock), never the replicas': the app only ever hands it durations.
///
/// The rules an implementation keeps:
/// - [`acquire`](Self::acquire) grants the lease only if it is free or expired, with a token
///   greater than every token granted before for that task;
/// - [`renew`](Self::renew) extends the lease only while the term is still the current one and
///   not expired;
/// - [`release`](Self::release) ends the term at once if it is still current, and does nothing
///   otherwise;
/// - [`claim_point`](Self::claim_point) grants each point of a schedule to exactly one caller,
///   and so does [`claim_explicit_point`](Self::claim_explicit_point) for the points the callers
///   name (a cron schedule's occurrences).
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

    /// Claims the point of `request.task`'s schedule that is due now on the coordinator's clock
    /// (points are the multiples of the period since the Unix epoch).
    fn claim_point<'a>(&'a self, request: &'a PointRequest) -> CoordinatorFuture<'a, PointClaim>;

    /// How long until the next point of a schedule of `period`, on the coordinator's clock.
    fn until_next_point(&self, period: Duration) -> CoordinatorFuture<'_, Duration>;

    /// Claims point `point` of `request.task`'s schedule, named by the caller rather than
    /// computed on the coordinator's clock: a cron schedule's occurrence, numbered by its Unix
    /// time in milliseconds, which every replica computes on its own clock. Granted (`won:
    /// Some(point)`) only if `point` is later than the last point claimed for the task and that
    /// point's hold (`request.hold`) has passed; `until_next` is not used. `request.period` is
    /// zero.
    ///
    /// The default implementation answers an error: a coordinator written before cron
    /// schedules existed gives no occurrence, and the app logs why.
    fn claim_explicit_point<'a>(
        &'a self,
        request: &'a PointRequest,
        point: i64,
    ) -> CoordinatorFuture<'a, PointClaim> {
        let _ = (request, point);
        Box::pin(async move {
            Err(CoordinatorError::msg(format!(
                "{} cannot claim the occurrences of a cron schedule (it does not implement `claim_explicit_point`)",
                self.describe()
            )))
        })
    }

    /// Whether other processes share this coordinator. `false` for [`InProcess`]: a
    /// once-per-point task then runs on its local schedule, exactly like a periodic task.
    fn is_shared(&self) -> bool {
        true
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

/// A request for the point of a once-per-point schedule that is due now.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PointRequest {
    /// The task's name.
    pub task: String,
    /// Who asks.
    pub instance: String,
    /// The schedule's period: point `n` is due at `n × period` since the Unix epoch. Zero for
    /// a cron schedule, whose points the replicas name
    /// ([`Coordinator::claim_explicit_point`]).
    pub period: Duration,
    /// How long a point, once claimed, keeps any later point from being claimed (ShedLock's
    /// "lock at least for").
    pub hold: Duration,
}

impl PointRequest {
    /// A request of `instance` for the point due now of `task`'s schedule of `period`, held for
    /// `hold`: for coordinators' own tests.
    pub fn new(
        task: impl Into<String>,
        instance: impl Into<String>,
        period: Duration,
        hold: Duration,
    ) -> Self {
        PointRequest {
            task: task.into(),
            instance: instance.into(),
            period,
            hold,
        }
    }
}

/// What [`Coordinator::claim_point`] answered.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PointClaim {
    /// The number of the point this caller won (`n`: due at `n × period` since the epoch), or
    /// `None` if another caller has it.
    pub won: Option<i64>,
    /// How long until the next point, on the coordinator's clock.
    pub until_next: Duration,
}

impl PointClaim {
    /// A claim that won point `won` (or lost, if `None`), the next point `until_next` away.
    pub fn new(won: Option<i64>, until_next: Duration) -> Self {
        PointClaim { won, until_next }
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
}

impl std::fmt::Debug for Coordination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coordination")
            .field("coordinator", &self.coordinator.describe())
            .field("instance", &self.instance)
            .field("lease", &self.lease)
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
