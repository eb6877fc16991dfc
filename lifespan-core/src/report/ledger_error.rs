//! Why the ledger of a task could not be read: [`App::ledger`](crate::App::ledger).

use std::fmt;

use crate::base::name::Name;
use crate::replicas::CoordinatorError;

/// Why [`App::ledger`](crate::App::ledger) could not read a task's ledger. Each names the task.
///
/// `{}` prints its message; `{:#}` its message then its causes, joined by `": "`, with the
/// passwords of URLs masked. A coordinator's error may carry what its database said: the
/// status route serves it only from `status_handler_with_errors` (feature `axum`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// The app has not started yet: which tasks it runs is known from its first start.
    NotStarted {
        /// The name asked for.
        task: String,
    },
    /// No task of the app goes by that name (its full path, or the last segment of only one).
    UnknownTask {
        /// The name asked for.
        task: String,
    },
    /// The task is not once-per-point: no ledger records its runs.
    NotOncePerPoint {
        /// The task's name.
        task: Name,
    },
    /// The app's coordinator shows no ledger: it leaves
    /// [`Coordinator::recent_runs`](crate::Coordinator::recent_runs) to its default.
    NotShown {
        /// The task's name.
        task: Name,
        /// What and where the coordinator is, never a password.
        coordinator: String,
    },
    /// The coordinator failed to answer.
    Coordinator {
        /// The task's name.
        task: Name,
        /// What and where the coordinator is, never a password.
        coordinator: String,
        /// Why.
        #[source]
        source: CoordinatorError,
    },
}

impl LedgerError {
    /// The name of the task whose ledger was asked for: its full name once it was found.
    pub fn task(&self) -> &str {
        match self {
            LedgerError::NotStarted { task } | LedgerError::UnknownTask { task } => task,
            LedgerError::NotOncePerPoint { task }
            | LedgerError::NotShown { task, .. }
            | LedgerError::Coordinator { task, .. } => task,
        }
    }

    /// The message of this error alone, without its causes.
    fn message(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LedgerError::NotStarted { task } => write!(
                f,
                "the ledger of `{task}` cannot be read before the app's first start: its tasks are not known yet"
            ),
            LedgerError::UnknownTask { task } => {
                write!(f, "the ledger of `{task}` cannot be read: the app has no task of that name")
            }
            LedgerError::NotOncePerPoint { task } => write!(
                f,
                "lifespan task `{task}` is not once-per-point: no ledger records its runs"
            ),
            LedgerError::NotShown { task, coordinator } => write!(
                f,
                "the coordinator ({coordinator}) shows no ledger, so none of lifespan task `{task}`"
            ),
            LedgerError::Coordinator { task, coordinator, .. } => write!(
                f,
                "reading the ledger of lifespan task `{task}` from the coordinator ({coordinator}) failed"
            ),
        }
    }
}

/// What went wrong; with `{:#}`, followed by its causes, joined by `": "` (the passwords of
/// URLs masked).
impl fmt::Display for LedgerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::base::chain::fmt(f, |f| self.message(f), std::error::Error::source(self))
    }
}
