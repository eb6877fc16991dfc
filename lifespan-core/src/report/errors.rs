//! Errors of the library API: why the app could not start, why a registration was refused,
//! why a run ended in an error.

use std::fmt;

use crate::base::kind::Kind;
use crate::base::name::Name;
use crate::report::outcome::Report;
use crate::report::task_error::TaskError;

/// Why the app could not start. Every context set up before the failure has been cleaned up, in
/// reverse order, by the time this is returned; [`rollback`](Self::rollback) says how that went.
#[derive(Debug)]
pub struct StartupError {
    kind: StartupErrorKind,
    rollback: Report,
}

impl StartupError {
    pub(crate) fn new(kind: StartupErrorKind, rollback: Report) -> Self {
        StartupError { kind, rollback }
    }

    /// What went wrong.
    pub fn kind(&self) -> &StartupErrorKind {
        &self.kind
    }

    /// How the contexts set up before the failure were cleaned up (empty if none were).
    pub fn rollback(&self) -> &Report {
        &self.rollback
    }
}

/// What failed; with `{:#}`, followed by its causes (see [`StartupErrorKind`]).
impl fmt::Display for StartupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.kind, f)
    }
}

impl std::error::Error for StartupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.kind.source()
    }
}

/// What went wrong at startup.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartupErrorKind {
    /// An argument's expression failed; nothing had been set up yet.
    Argument {
        /// Task or context.
        kind: Kind,
        /// The task's or context's name.
        name: Name,
        /// The parameter whose argument failed.
        argument: &'static str,
        /// What the expression's `?` returned.
        source: TaskError,
    },
    /// An argument's expression panicked; nothing had been set up yet.
    ArgumentPanicked {
        /// Task or context.
        kind: Kind,
        /// The task's or context's name.
        name: Name,
        /// The parameter whose argument panicked.
        argument: &'static str,
        /// The panic's message.
        message: String,
    },
    /// A function registered by hand panicked when called, before it returned its future;
    /// nothing had been set up yet.
    CallPanicked {
        /// Task or context.
        kind: Kind,
        /// The task's or context's name.
        name: Name,
        /// The panic's message.
        message: String,
    },
    /// The filter given to [`App::with_filter`](crate::App::with_filter) panicked; nothing was
    /// set up.
    SelectionPanicked {
        /// The panic's message.
        message: String,
    },
    /// A context's setup did not finish within the
    /// [startup timeout](crate::AppBuilder::startup_timeout); the contexts set up before it were
    /// cleaned up.
    SetupTimedOut {
        /// The context whose setup was running.
        name: Name,
        /// The startup timeout.
        timeout: std::time::Duration,
    },
    /// A context takes two `Yield` parameters; only one can be given.
    SecondYield {
        /// The context's name.
        name: Name,
        /// The parameter that got no value.
        argument: &'static str,
    },
    /// A task that is no singleton takes a `Lease` parameter: only singletons hold a lease.
    LeaseOutsideSingleton {
        /// The task's name.
        name: Name,
        /// The `Lease` parameter.
        argument: &'static str,
    },
    /// The coordinator could not be prepared (reached, its tables created): the app has a
    /// singleton or once-per-point task, which cannot run unguarded.
    Coordinator {
        /// What and where the coordinator is: `PostgreSQL at db.internal:5432/app`, never a
        /// password.
        coordinator: String,
        /// Why.
        #[source]
        source: crate::replicas::CoordinatorError,
    },
    /// A context takes no `Yield` parameter, so it could never hand control back.
    NoYieldParam {
        /// The context's name.
        name: Name,
    },
    /// A context's setup returned an error.
    SetupFailed {
        /// The context's name.
        name: Name,
        /// The error it returned.
        source: TaskError,
    },
    /// A context's setup panicked.
    SetupPanicked {
        /// The context's name.
        name: Name,
        /// The panic's message.
        message: String,
    },
    /// A context returned (or dropped its `Yield`) without calling `Yield::ready`.
    NoYield {
        /// The context's name.
        name: Name,
    },
    /// Shutdown was requested before startup completed.
    Interrupted {
        /// The context whose setup was running.
        name: Name,
    },
    /// A task or context takes `State<T>`, and no context provides a `T`; nothing was set up.
    MissingState {
        /// The state's type.
        type_name: &'static str,
        /// Every task and context that takes it.
        consumers: Vec<(Kind, Name)>,
    },
    /// Two contexts provide the same state type; nothing was set up.
    DuplicateState {
        /// The state's type.
        type_name: &'static str,
        /// Every context that provides it, in setup order.
        providers: Vec<Name>,
    },
    /// Contexts need each other's state, so none of them can be set up first; nothing was set up.
    StateCycle {
        /// One line per context in the cycle: what it needs and from whom.
        cycle: Vec<String>,
    },
    /// The app is already running.
    AlreadyRunning,
}

/// Why a task or context could not be registered by hand.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// Registration happens before the app starts (or after it has shut down).
    #[error(
        "cannot register lifespan {kind} `{name}`: the app is running; register before it starts"
    )]
    AlreadyStarted {
        /// Task or context.
        kind: Kind,
        /// The name it was to be registered under.
        name: Name,
    },
    /// A task or context with this name is already registered.
    #[error("cannot register lifespan {kind} `{name}`: that name is already registered")]
    Duplicate {
        /// Task or context.
        kind: Kind,
        /// The name.
        name: Name,
    },
    /// The filter given to [`App::with_filter`](crate::App::with_filter) panicked while the
    /// name was checked against the selected registrations.
    #[error("cannot register lifespan {kind} `{name}`: the app's selection panicked: {message}")]
    SelectionPanicked {
        /// Task or context.
        kind: Kind,
        /// The name it was to be registered under.
        name: Name,
        /// The panic's message.
        message: String,
    },
    /// The name is empty, or holds a control character (a newline, ...), a line separator or a
    /// bidirectional control, which would forge or garble the log lines it is written into.
    /// The message shows the name escaped.
    #[error("cannot register lifespan {kind} {name:?}: {reason}")]
    InvalidName {
        /// Task or context.
        kind: Kind,
        /// The name refused.
        name: Name,
        /// What is wrong with it, naming the character and where it is.
        reason: String,
    },
    /// The task's options do not make sense together.
    #[error("cannot register lifespan task `{name}`: {reason}")]
    InvalidOptions {
        /// The name it was to be registered under.
        name: Name,
        /// What is wrong.
        reason: &'static str,
    },
    /// The task's timing does not fit its cron schedule: its `run_jitter` or `hold` is not
    /// shorter than the shortest gap between the schedule's occurrences. The message gives
    /// both values.
    #[error("cannot register lifespan task `{name}`: {reason}")]
    InvalidSchedule {
        /// The name it was to be registered under.
        name: Name,
        /// What is wrong, with the values.
        reason: String,
    },
}

/// Why [`App::run_until_signal`](crate::App::run_until_signal) or
/// [`App::run_until`](crate::App::run_until) stopped with an error.
///
/// A service can map it to its exit code, down to the error a critical task returned:
///
/// ```
/// use lifespan_core::{RunError, TaskOptions};
/// use std::process::ExitCode;
///
/// #[derive(Debug, thiserror::Error)]
/// #[error("the configuration is invalid")]
/// struct BadConfig;
///
/// fn exit_code(result: Result<lifespan_core::Report, RunError>) -> ExitCode {
///     match result {
///         Ok(_) => ExitCode::SUCCESS,
///         Err(RunError::CriticalTaskFailed { error, .. })
///             if error.downcast_ref::<BadConfig>().is_some() => ExitCode::from(78), // EX_CONFIG
///         Err(_) => ExitCode::FAILURE,
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> anyhow::Result<()> {
/// let app = lifespan_core::App::empty();
/// app.register_task_with("config_watch", TaskOptions::new().critical(true), || async {
///     Err::<(), _>(BadConfig)
/// })?;
/// let result = tokio::time::timeout(
///     std::time::Duration::from_secs(3600),
///     app.run_until(std::future::pending::<()>()),
/// )
/// .await?;
/// assert_eq!(exit_code(result), ExitCode::from(78));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// Startup, or the startup half of a reload, failed.
    #[error(transparent)]
    Startup(#[from] StartupError),
    /// A [critical](crate::TaskOptions::critical) task failed for good, so the app was shut
    /// down; the shutdown went through to the end.
    CriticalTaskFailed {
        /// The task's name.
        task: Name,
        /// What it returned (downcast it with [`TaskError::downcast_ref`]), or, if it
        /// panicked, an error reading `panicked: <message>`.
        #[source]
        error: TaskError,
        /// The shutdown's report.
        report: Report,
    },
    /// The server run by the app ([`App::run_server_until`](crate::App::run_server_until) and
    /// the like) failed, so the app was shut down; the shutdown went through to the end.
    ServerFailed {
        /// What the server returned.
        #[source]
        error: TaskError,
        /// The shutdown's report.
        report: Report,
    },
    /// The server run by the app panicked: its future while serving or draining, or its
    /// closure when called. The app was shut down; the shutdown went through to the end.
    ServerPanicked {
        /// The panic's message, with the passwords of URLs masked.
        message: String,
        /// The shutdown's report.
        report: Report,
    },
    /// A signal handler could not be installed.
    Signal {
        /// The signal's name.
        signal: &'static str,
        /// The operating system's error.
        source: std::io::Error,
    },
}

/// What went wrong; with `{:#}`, followed by its causes, joined by `": "`, as `anyhow` prints
/// an error (the passwords of URLs masked).
impl fmt::Display for StartupErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::base::chain::fmt(f, |f| self.message(f), std::error::Error::source(self))
    }
}

impl StartupErrorKind {
    /// The message of this error alone, without its causes.
    fn message(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use StartupErrorKind as K;
        match self {
            K::Argument { kind, name, argument, .. } => write!(
                f,
                "argument `{argument}` of lifespan {kind} `{name}` could not be evaluated"
            ),
            K::ArgumentPanicked { kind, name, argument, message } => write!(
                f,
                "argument `{argument}` of lifespan {kind} `{name}` panicked when evaluated: {message}"
            ),
            K::CallPanicked { kind, name, message } => write!(
                f,
                "calling lifespan {kind} `{name}` panicked: {message}"
            ),
            K::SelectionPanicked { message } => write!(
                f,
                "the app's selection of lifespan tasks and contexts panicked: {message}"
            ),
            K::SetupTimedOut { name, timeout } => write!(
                f,
                "setup of lifespan context `{name}` did not finish within the startup timeout of {timeout:?}"
            ),
            K::Coordinator { coordinator, .. } => write!(
                f,
                "the coordinator ({coordinator}) could not be prepared"
            ),
            K::SetupFailed { name, .. } => write!(
                f,
                "setup of lifespan context `{name}` failed"
            ),
            K::SetupPanicked { name, message } => write!(
                f,
                "setup of lifespan context `{name}` panicked: {message}"
            ),
            K::NoYield { name } => write!(
                f,
                "lifespan context `{name}` returned without calling `Yield::ready`, so it has no cleanup to wait for"
            ),
            K::Interrupted { name } => write!(
                f,
                "startup was interrupted by a shutdown request during the setup of lifespan context `{name}`"
            ),
            K::SecondYield { name, argument } => write!(
                f,
                "lifespan context `{name}` takes a second `Yield` parameter `{argument}`; a context has one yield point"
            ),
            K::LeaseOutsideSingleton { name, argument } => write!(
                f,
                "lifespan task `{name}` takes a `Lease` parameter `{argument}`, but only singleton tasks hold a lease: add `#[lifespan(singleton)]` or `TaskOptions::singleton(true)`"
            ),
            K::NoYieldParam { name } => write!(
                f,
                "lifespan context `{name}` takes no `Yield` parameter, so it can never finish its setup"
            ),
            K::MissingState { type_name, consumers } => write!(
                f,
                "{} `State<{type_name}>`, but no lifespan context provides a `{type_name}`: add a context that takes a `Yield<{type_name}>` and calls `ready_with`",
                consumer_list(consumers)
            ),
            K::DuplicateState { type_name, providers } => write!(
                f,
                "`{type_name}` is provided by {} lifespan contexts, {}; state is found by its type, so only one context may provide it",
                providers.len(),
                name_list(providers)
            ),
            K::StateCycle { cycle } => write!(
                f,
                "lifespan contexts need each other's state, so none of them can be set up first: {}",
                cycle.join("; ")
            ),
            K::AlreadyRunning => f.write_str(
                "the app is already running; shut it down or reload it instead of starting it again"
            ),
        }
    }
}

/// Why the run stopped; with `{:#}`, followed by the causes, as
/// [`StartupErrorKind`]'s `Display` does.
impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::base::chain::fmt(f, |f| self.message(f), std::error::Error::source(self))
    }
}

impl RunError {
    /// The message of this error alone.
    fn message(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Its own message: its causes are this error's (the variant is transparent).
            RunError::Startup(error) => write!(f, "{error}"),
            RunError::CriticalTaskFailed { task, .. } => {
                write!(f, "critical lifespan task `{task}` failed")
            }
            RunError::ServerFailed { .. } => f.write_str("the server run by the app failed"),
            RunError::ServerPanicked { message, .. } => {
                write!(f, "the server run by the app panicked: {message}")
            }
            RunError::Signal { signal, .. } => write!(f, "could not listen for {signal}"),
        }
    }
}

/// "lifespan task `a` takes" / "lifespan task `a` and lifespan context `b` take".
fn consumer_list(consumers: &[(Kind, Name)]) -> String {
    let names: Vec<String> = consumers
        .iter()
        .map(|(kind, name)| format!("lifespan {kind} `{name}`"))
        .collect();
    match names.as_slice() {
        [one] => format!("{one} takes"),
        [rest @ .., last] => format!("{} and {last} take", rest.join(", ")),
        [] => "nothing takes".to_owned(),
    }
}

/// "`a` and `b`" / "`a`, `b` and `c`".
fn name_list(names: &[Name]) -> String {
    let quoted: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
    match quoted.as_slice() {
        [rest @ .., last] if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => quoted.concat(),
    }
}
