//! Why a task could not be triggered, paused or resumed: [`App::trigger`](crate::App::trigger),
//! [`App::pause`](crate::App::pause), [`App::resume`](crate::App::resume).

use std::fmt;

use crate::base::name::Name;
use crate::replicas::{CoordinatorError, Pause};

/// What was asked of a task by hand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ControlAction {
    /// [`App::trigger`](crate::App::trigger): one run now, outside the schedule.
    Trigger,
    /// [`App::pause`](crate::App::pause).
    Pause,
    /// [`App::resume`](crate::App::resume).
    Resume,
}

impl ControlAction {
    /// Its name: `"trigger"`, `"pause"` or `"resume"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ControlAction::Trigger => "trigger",
            ControlAction::Pause => "pause",
            ControlAction::Resume => "resume",
        }
    }

    /// "triggered", "paused", "resumed".
    fn done(self) -> &'static str {
        match self {
            ControlAction::Trigger => "triggered",
            ControlAction::Pause => "paused",
            ControlAction::Resume => "resumed",
        }
    }
}

impl fmt::Display for ControlAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a task could not be triggered, paused or resumed. Each names the task.
///
/// `{}` prints its message; `{:#}` its message then its causes, joined by `": "`, with the
/// passwords of URLs masked. Only [`Coordinator`](Self::Coordinator) has a cause, which may
/// carry what a database said: the admin routes (feature `axum`) never serve it.
///
/// ```
/// use lifespan_core::{App, ControlError, Shutdown};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> anyhow::Result<()> {
/// # tokio::time::timeout(std::time::Duration::from_secs(3600), async {
/// let app = App::empty();
/// app.register_task("listener", |shutdown: Shutdown| async move { shutdown.cancelled().await })?;
/// app.start().await?;
/// let error = app.trigger("listener").await.unwrap_err();
/// assert!(matches!(error, ControlError::NotControllable { .. }));
/// assert_eq!(
///     error.to_string(),
///     "lifespan task `listener` cannot be triggered: it is not periodic (it has neither `every` nor `cron`)"
/// );
/// assert!(matches!(app.pause("nothing").await, Err(ControlError::UnknownTask { .. })));
/// app.shutdown().await;
/// # Ok::<(), anyhow::Error>(())
/// # }).await.expect("the example did not finish within an hour of virtual time")
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// The app is not running: its tasks are controlled while it runs.
    NotRunning {
        /// The name asked for.
        task: String,
        /// What was asked.
        action: ControlAction,
    },
    /// No task of the app goes by that name (its full path, or the last segment of only one).
    UnknownTask {
        /// The name asked for.
        task: String,
        /// What was asked.
        action: ControlAction,
    },
    /// The task cannot be controlled so: `why` says why (it is not periodic, it has ended).
    NotControllable {
        /// The task's name.
        task: Name,
        /// What was asked.
        action: ControlAction,
        /// Why not.
        why: &'static str,
    },
    /// The task is paused: no run of it starts, manual ones included, until it is resumed.
    Paused {
        /// The task's name.
        task: Name,
        /// Who paused it and since when.
        pause: Pause,
    },
    /// The task is a singleton whose lease another replica holds: trigger it there.
    NotHeldHere {
        /// The task's name.
        task: Name,
    },
    /// The app's coordinator keeps no pauses or manual runs (it leaves
    /// [`Coordinator::pause`](crate::Coordinator::pause) or
    /// [`request_run`](crate::Coordinator::request_run) to their defaults), which a singleton
    /// or once-per-point task needs.
    NotSupported {
        /// The task's name.
        task: Name,
        /// What was asked.
        action: ControlAction,
        /// What and where the coordinator is, never a password.
        coordinator: String,
    },
    /// The coordinator failed to answer.
    Coordinator {
        /// The task's name.
        task: Name,
        /// What was asked.
        action: ControlAction,
        /// What and where the coordinator is, never a password.
        coordinator: String,
        /// Why.
        #[source]
        source: CoordinatorError,
    },
}

impl ControlError {
    /// The name of the task: its full name once it was found.
    pub fn task(&self) -> &str {
        match self {
            ControlError::NotRunning { task, .. } | ControlError::UnknownTask { task, .. } => task,
            ControlError::NotControllable { task, .. }
            | ControlError::Paused { task, .. }
            | ControlError::NotHeldHere { task }
            | ControlError::NotSupported { task, .. }
            | ControlError::Coordinator { task, .. } => task,
        }
    }

    /// The message of this error alone, without its causes.
    fn message(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControlError::NotRunning { task, action } => write!(
                f,
                "lifespan task `{task}` cannot be {}: the app is not running",
                action.done()
            ),
            ControlError::UnknownTask { task, action } => write!(
                f,
                "lifespan task `{task}` cannot be {}: the app has no task of that name",
                action.done()
            ),
            ControlError::NotControllable { task, action, why } => {
                write!(f, "lifespan task `{task}` cannot be {}: {why}", action.done())
            }
            ControlError::Paused { task, pause } => write!(
                f,
                "lifespan task `{task}` cannot be triggered: it is paused (by `{}`)",
                pause.by
            ),
            ControlError::NotHeldHere { task } => write!(
                f,
                "lifespan task `{task}` cannot be triggered on this replica: another replica holds its lease"
            ),
            ControlError::NotSupported { task, action, coordinator } => write!(
                f,
                "lifespan task `{task}` cannot be {}: the coordinator ({coordinator}) keeps no pauses or manual runs",
                action.done()
            ),
            ControlError::Coordinator { task, action, coordinator, .. } => write!(
                f,
                "lifespan task `{task}` could not be {}: the coordinator ({coordinator}) failed",
                action.done()
            ),
        }
    }
}

/// What went wrong; with `{:#}`, followed by its causes, joined by `": "` (the passwords of
/// URLs masked).
impl fmt::Display for ControlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::base::chain::fmt(f, |f| self.message(f), std::error::Error::source(self))
    }
}
