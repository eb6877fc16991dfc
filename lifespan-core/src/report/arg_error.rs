//! An argument that could not be given to a task or context, and what that failure is told as:
//! at startup, the error startup fails with; when a supervised task runs again, how that run
//! ended. Both wordings come from one function, `ArgError::failure`.

use crate::base::kind::Kind;
use crate::base::name::Name;
use crate::report::errors::StartupErrorKind;
use crate::report::outcome::TaskOutcome;
use crate::report::task_error::TaskError;

/// An argument that could not be given to a task or context. Made by generated code; the runtime
/// adds the name of the task or context and turns it into a
/// [`StartupError`](crate::StartupError).
#[doc(hidden)]
pub struct ArgError {
    argument: &'static str,
    cause: ArgCause,
}

enum ArgCause {
    /// The argument's expression failed (its `?`).
    Eval(anyhow::Error),
    /// The argument's expression panicked; the panic's message.
    Panicked(String),
    /// Calling the function panicked (a closure registered by hand that panics before it
    /// returns its future); the panic's message. `argument` is empty.
    CallPanicked(String),
    /// An injected parameter had no value to take (a second `Yield`).
    Unavailable,
}

impl ArgError {
    pub(crate) fn eval(argument: &'static str, error: anyhow::Error) -> Self {
        ArgError {
            argument,
            cause: ArgCause::Eval(error),
        }
    }

    pub(crate) fn panicked(argument: &'static str, message: String) -> Self {
        ArgError {
            argument,
            cause: ArgCause::Panicked(message),
        }
    }

    pub(crate) fn call_panicked(message: String) -> Self {
        ArgError {
            argument: "",
            cause: ArgCause::CallPanicked(message),
        }
    }

    pub(crate) fn unavailable(argument: &'static str) -> Self {
        ArgError {
            argument,
            cause: ArgCause::Unavailable,
        }
    }
}

/// When an argument failed, which decides how the failure is told.
enum Stage<'a> {
    /// At startup, for the task or context `name`: startup fails.
    Startup { kind: Kind, name: &'a Name },
    /// When a supervised task runs again: that run ends.
    Rerun,
}

/// What failed, as its [`Stage`] tells it.
enum Failure {
    /// The error startup fails with.
    Startup(StartupErrorKind),
    /// How the run of the task ended.
    Rerun(TaskOutcome),
}

impl ArgError {
    /// The error startup fails with, for task or context `name`.
    pub(crate) fn at_startup(self, kind: Kind, name: &Name) -> StartupErrorKind {
        match self.failure(Stage::Startup { kind, name }) {
            Failure::Startup(kind) => kind,
            Failure::Rerun(_) => unreachable!("told for startup"),
        }
    }

    /// How the run of a supervised task ends when its arguments are evaluated anew.
    pub(crate) fn on_rerun(self) -> TaskOutcome {
        match self.failure(Stage::Rerun) {
            Failure::Rerun(outcome) => outcome,
            Failure::Startup(_) => unreachable!("told for a rerun"),
        }
    }

    /// What failed: the one place where an argument's failure is put into words, for startup
    /// and for a rerun side by side, so that the two cannot drift apart.
    fn failure(self, stage: Stage<'_>) -> Failure {
        let argument = self.argument;
        match (self.cause, stage) {
            (ArgCause::Eval(source), Stage::Startup { kind, name }) => {
                Failure::Startup(StartupErrorKind::Argument {
                    kind,
                    name: name.clone(),
                    argument,
                    source: TaskError::new(source),
                })
            }
            (ArgCause::Eval(source), Stage::Rerun) => Failure::Rerun(TaskOutcome::Failed(
                TaskError::new(source.context(format!("evaluating argument `{argument}` failed"))),
            )),
            (ArgCause::Panicked(message), Stage::Startup { kind, name }) => {
                Failure::Startup(StartupErrorKind::ArgumentPanicked {
                    kind,
                    name: name.clone(),
                    argument,
                    message,
                })
            }
            (ArgCause::Panicked(message), Stage::Rerun) => Failure::Rerun(TaskOutcome::Panicked(
                format!("evaluating argument `{argument}` panicked: {message}"),
            )),
            (ArgCause::CallPanicked(message), Stage::Startup { kind, name }) => {
                Failure::Startup(StartupErrorKind::CallPanicked {
                    kind,
                    name: name.clone(),
                    message,
                })
            }
            (ArgCause::CallPanicked(message), Stage::Rerun) => Failure::Rerun(
                TaskOutcome::Panicked(format!("calling the task panicked: {message}")),
            ),
            // A context's second `Yield`; for a task, a `Lease` outside a singleton.
            (ArgCause::Unavailable, Stage::Startup { kind, name }) => match kind {
                Kind::Context => Failure::Startup(StartupErrorKind::SecondYield {
                    name: name.clone(),
                    argument,
                }),
                Kind::Task => Failure::Startup(StartupErrorKind::LeaseOutsideSingleton {
                    name: name.clone(),
                    argument,
                }),
            },
            (ArgCause::Unavailable, Stage::Rerun) => Failure::Rerun(TaskOutcome::Failed(
                TaskError::msg(format!("argument `{argument}` is not available")),
            )),
        }
    }
}
