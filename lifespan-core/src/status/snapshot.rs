//! Live status: what every task and context of the running app is doing, read at any time
//! with [`App::status`](crate::App::status) into a [`Status`].

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::base::name::Name;
use crate::replicas::{Holder, Pause};
use crate::report::outcome::find;

/// What a task or context is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RunState {
    /// A task not started yet (contexts are still being set up); a context being set up.
    Starting,
    /// A task running (for a periodic task: running or waiting for its next run); a context
    /// set up, the app running.
    Running,
    /// A task waiting to be restarted after it ended.
    BackingOff,
    /// A singleton task waiting for its lease: another replica holds it (see
    /// [`TaskStatus::lease`]), or the coordinator cannot be reached.
    Standby,
    /// Shutdown has begun: a task asked to stop and not yet ended; a context being cleaned up.
    Stopping,
    /// A task that ended without error, or stopped on shutdown; a context cleaned up.
    Stopped,
    /// A task that failed or panicked and will not be restarted; a context whose setup or
    /// cleanup failed or panicked.
    Failed,
    /// A task still running after the grace period, dropped; a context whose cleanup timed out.
    Aborted,
}

impl RunState {
    /// The state's name, as in the JSON status: `"running"`, `"backing_off"`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Starting => "starting",
            RunState::Running => "running",
            RunState::BackingOff => "backing_off",
            RunState::Standby => "standby",
            RunState::Stopping => "stopping",
            RunState::Stopped => "stopped",
            RunState::Failed => "failed",
            RunState::Aborted => "aborted",
        }
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One task's line in a [`Status`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskStatus {
    /// The task's name: its function's full path, or what it was registered under.
    pub name: Name,
    /// The name given with `#[lifespan(name = "...")]`, if any.
    pub display_name: Option<&'static str>,
    /// What it is doing.
    pub state: RunState,
    /// How many times it was restarted in this start of the app.
    pub restarts: u32,
    /// The message of its last error or panic, if it had one, with the passwords of URLs
    /// masked (`postgres://admin:***@db/prod`).
    pub last_error: Option<String>,
    /// How long it has been in `state`.
    pub in_state: Duration,
    /// For a singleton task: who holds its lease.
    pub lease: Option<LeaseStatus>,
    /// How many runs of its body have ended in this start of the app: the runs of a periodic
    /// task, the attempts of a task that is restarted. 0 for a plain task (no options), whose
    /// one run is its life: its `state` tells.
    pub runs: u64,
    /// The last run that ended (see [`runs`](Self::runs)): when it started, how long it took,
    /// how it ended. `None` before the first one ends, and for a plain task.
    pub last_run: Option<LastRun>,
    /// When it runs next, by the wall clock: the next point of a periodic task's schedule, the
    /// end of a restarted task's backoff. `None` while a run is in progress, when no run is
    /// planned, and once shutdown has begun.
    pub next_run: Option<SystemTime>,
    /// For a once-per-point task: how many points of its schedule no replica started, skipped
    /// by its [misfire policy](crate::Misfire) (the replicas were down, or a run was in flight
    /// with [overlap](crate::Overlap) forbidden). Counted by the coordinator across replicas,
    /// when the point after them starts; shown as the coordinator answered this replica's last
    /// claim (every replica claims each point), 0 before its first answer. `None` for other
    /// tasks. [`App::ledger`](crate::App::ledger) reads it now, with the task's latest runs.
    pub missed: Option<u64>,
    /// Of [`runs`](Self::runs), those run by hand ([`App::trigger`](crate::App::trigger)) on this
    /// replica, outside the schedule.
    pub manual_runs: u64,
    /// Who paused it and since when, if it is paused ([`App::pause`](crate::App::pause)): for a
    /// singleton or once-per-point task, as the coordinator last told this replica (at its last
    /// request for the lease or claim of a point, or its own pause or resume); for another
    /// task, this replica's own pause.
    pub paused: Option<Pause>,
}

pub use crate::replicas::RunOutcome;

/// The last run of a task that ended, in [`TaskStatus::last_run`].
///
/// ```
/// use lifespan_core::{App, RunOutcome, TaskOptions};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> anyhow::Result<()> {
/// # tokio::time::timeout(Duration::from_secs(3600), async {
/// let app = App::empty();
/// let every_minute = TaskOptions::new().every(Duration::from_secs(60));
/// app.register_task_with("sweep", every_minute, || async {
///     tokio::time::sleep(Duration::from_secs(2)).await;
/// })?;
/// app.start().await?;
/// tokio::time::sleep(Duration::from_secs(3 * 60 + 30)).await;
///
/// let status = app.status();
/// let sweep = status.task("sweep").unwrap();
/// assert_eq!(sweep.runs, 3);
/// let last = sweep.last_run.as_ref().unwrap();
/// assert_eq!((last.duration, last.outcome), (Duration::from_secs(2), RunOutcome::Succeeded));
/// // The next point of the schedule: a period after the last run started.
/// assert_eq!(sweep.next_run, Some(last.started + Duration::from_secs(60)));
/// app.shutdown().await;
/// # Ok::<(), anyhow::Error>(())
/// # }).await.expect("the example did not finish within an hour of virtual time")
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LastRun {
    /// When it started, by the wall clock.
    ///
    /// The wall-clock times of the status are read from the runtime's clock, anchored once per
    /// start of the app: they advance with paused time in tests, and do not jump when the
    /// system's clock is set.
    pub started: SystemTime,
    /// How long it took.
    pub duration: Duration,
    /// How it ended.
    pub outcome: RunOutcome,
}

/// Who holds a singleton task's lease, as this replica last saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeaseStatus {
    /// The holder, with its fencing token and since when: this instance while it holds the
    /// lease, another one while this one is in standby; `None` when not known (the lease is
    /// free, or the coordinator could not be reached).
    pub holder: Option<Holder>,
    /// Whether this instance holds the lease.
    pub held_here: bool,
    /// How many terms this instance has held in this start of the app.
    pub terms: u32,
}

/// One context's line in a [`Status`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ContextStatus {
    /// The context's name: its function's full path, or what it was registered under.
    pub name: Name,
    /// The name given with `#[lifespan(name = "...")]`, if any.
    pub display_name: Option<&'static str>,
    /// What it is doing.
    pub state: RunState,
    /// The message of its setup's or cleanup's error or panic, if it had one.
    pub last_error: Option<String>,
    /// How long it has been in `state`.
    pub in_state: Duration,
}

/// A snapshot of every task and context of the app's current (or last) start; see
/// [`App::status`](crate::App::status).
///
/// ```
/// use lifespan_core::{App, RunState, Shutdown};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> anyhow::Result<()> {
/// # tokio::time::timeout(std::time::Duration::from_secs(3600), async {
/// let app = App::empty();
/// app.register_task("worker", |shutdown: Shutdown| async move { shutdown.cancelled().await })?;
/// app.start().await?;
/// let status = app.status();
/// let stuck: Vec<_> = status.tasks.iter().filter(|t| t.state != RunState::Running).collect();
/// assert!(stuck.is_empty());
/// assert_eq!(status.task("worker").map(|t| t.restarts), Some(0));
/// app.shutdown().await;
/// # Ok(())
/// # }).await.expect("the example did not finish within an hour of virtual time")
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Status {
    /// Tasks, in start order.
    pub tasks: Vec<TaskStatus>,
    /// Contexts, in setup order (those whose setup began).
    pub contexts: Vec<ContextStatus>,
}

impl Status {
    /// The status of the task named `name`: its full path, or only its last segment if no
    /// other task's name ends the same way.
    pub fn task(&self, name: &str) -> Option<&TaskStatus> {
        find(self.tasks.iter().map(|t| (&*t.name, t)), name)
    }

    /// The status of the context named `name`, found as in [`task`](Self::task).
    pub fn context(&self, name: &str) -> Option<&ContextStatus> {
        find(self.contexts.iter().map(|c| (&*c.name, c)), name)
    }
}
