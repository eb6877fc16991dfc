//! What happened to every task and context: returned by shutdown.

use std::fmt;

use crate::base::name::Name;
use crate::report::task_error::TaskError;

/// How a task ended.
///
/// ```
/// use lifespan_core::TaskOutcome;
///
/// fn describe(outcome: &TaskOutcome) -> String {
///     match outcome {
///         TaskOutcome::Completed | TaskOutcome::Cancelled => "fine".to_owned(),
///         TaskOutcome::Failed(error) => format!("failed: {error:#}"),
///         TaskOutcome::Panicked(message) => format!("panicked: {message}"),
///         // Aborted, and outcomes added later.
///         other => other.to_string(),
///     }
/// }
/// assert_eq!(describe(&TaskOutcome::Failed("gone".into())), "failed: gone");
/// assert_eq!(describe(&TaskOutcome::Aborted), "aborted after the grace period");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskOutcome {
    /// Returned `()` or `Ok(())` before shutdown began.
    Completed,
    /// Returned `()` or `Ok(())` after shutdown began: it stopped when asked.
    Cancelled,
    /// Returned `Err`: the error, which displays its causes with `{:#}` and can be downcast.
    Failed(TaskError),
    /// Panicked; the panic's message.
    Panicked(String),
    /// Still running when the grace period ended, so its future was dropped.
    Aborted,
}

/// How a context ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContextOutcome {
    /// Set up, and its cleanup ran to the end.
    CleanedUp,
    /// Its cleanup returned `Err`: the error, as in [`TaskOutcome::Failed`].
    CleanupFailed(TaskError),
    /// Its cleanup panicked; the panic's message.
    CleanupPanicked(String),
    /// Its cleanup was still running when the cleanup timeout ended, so it was dropped.
    TimedOut,
}

/// One task's line in a [`Report`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskReport {
    /// The task's name (the function's full path for `#[lifespan_task]`).
    pub name: Name,
    /// How it ended.
    pub outcome: TaskOutcome,
    /// How many times it was restarted (see [`TaskOptions::restart`](crate::TaskOptions::restart)).
    pub restarts: u32,
    /// For a singleton task: how many terms of its lease this instance held (0 for a task
    /// that is no singleton).
    pub terms: u32,
}

/// One context's line in a [`Report`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ContextReport {
    /// The context's name (the function's full path for `#[lifespan_context]`).
    pub name: Name,
    /// How its cleanup went.
    pub outcome: ContextOutcome,
}

/// What shutting down found: every task's and every set-up context's outcome.
///
/// ```
/// use lifespan_core::{App, Shutdown};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> anyhow::Result<()> {
/// # tokio::time::timeout(std::time::Duration::from_secs(3600), async {
/// let app = App::empty();
/// app.register_task("worker", |shutdown: Shutdown| async move { shutdown.cancelled().await })?;
/// app.start().await?;
/// let report = app.shutdown().await;
/// assert!(report.is_clean());
/// for task in &report.tasks {
///     tracing::info!("{}: {} ({} restarts)", task.name, task.outcome, task.restarts);
/// }
/// assert_eq!(report.to_string(), "task worker: stopped on shutdown\n");
/// # Ok(())
/// # }).await.expect("the example did not finish within an hour of virtual time")
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// Tasks, in the order they were started.
    pub tasks: Vec<TaskReport>,
    /// Contexts, in the order they were cleaned up (the reverse of their setup order).
    pub contexts: Vec<ContextReport>,
}

impl Report {
    /// The outcome of the task named `name`: its full path, or only its last segment if no
    /// other task's name ends the same way.
    pub fn task(&self, name: &str) -> Option<&TaskOutcome> {
        find(self.tasks.iter().map(|t| (&*t.name, &t.outcome)), name)
    }

    /// The outcome of the context named `name`, found as in [`task`](Self::task).
    pub fn context(&self, name: &str) -> Option<&ContextOutcome> {
        find(self.contexts.iter().map(|c| (&*c.name, &c.outcome)), name)
    }

    /// Whether nothing failed, panicked, was aborted or timed out.
    pub fn is_clean(&self) -> bool {
        self.tasks
            .iter()
            .all(|t| matches!(t.outcome, TaskOutcome::Completed | TaskOutcome::Cancelled))
            && self
                .contexts
                .iter()
                .all(|c| c.outcome == ContextOutcome::CleanedUp)
    }
}

/// The item named `name` in full, or else the only one whose name's last segment is `name`.
pub(crate) fn find<'a, T>(
    items: impl Iterator<Item = (&'a str, &'a T)> + Clone,
    name: &str,
) -> Option<&'a T> {
    if let Some((_, outcome)) = items.clone().find(|(n, _)| *n == name) {
        return Some(outcome);
    }
    let mut tail = items.filter(|(n, _)| n.rsplit("::").next() == Some(name));
    match (tail.next(), tail.next()) {
        (Some((_, outcome)), None) => Some(outcome),
        _ => None,
    }
}

impl TaskOutcome {
    /// The outcome's name, as in the JSON report: `"completed"`, `"cancelled"`, `"failed"`,
    /// `"panicked"` or `"aborted"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            TaskOutcome::Completed => "completed",
            TaskOutcome::Cancelled => "cancelled",
            TaskOutcome::Failed(_) => "failed",
            TaskOutcome::Panicked(_) => "panicked",
            TaskOutcome::Aborted => "aborted",
        }
    }
}

impl ContextOutcome {
    /// The outcome's name, as in the JSON report: `"cleaned_up"`, `"cleanup_failed"`,
    /// `"cleanup_panicked"` or `"timed_out"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ContextOutcome::CleanedUp => "cleaned_up",
            ContextOutcome::CleanupFailed(_) => "cleanup_failed",
            ContextOutcome::CleanupPanicked(_) => "cleanup_panicked",
            ContextOutcome::TimedOut => "timed_out",
        }
    }
}

impl fmt::Display for TaskOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskOutcome::Completed => f.write_str("completed"),
            TaskOutcome::Cancelled => f.write_str("stopped on shutdown"),
            TaskOutcome::Failed(error) => write!(f, "failed: {error:#}"),
            TaskOutcome::Panicked(message) => write!(f, "panicked: {message}"),
            TaskOutcome::Aborted => f.write_str("aborted after the grace period"),
        }
    }
}

impl fmt::Display for ContextOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContextOutcome::CleanedUp => f.write_str("cleaned up"),
            ContextOutcome::CleanupFailed(error) => write!(f, "cleanup failed: {error:#}"),
            ContextOutcome::CleanupPanicked(message) => write!(f, "cleanup panicked: {message}"),
            ContextOutcome::TimedOut => f.write_str("cleanup timed out"),
        }
    }
}

impl fmt::Display for Report {
    /// One line per task, then one per context.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for task in &self.tasks {
            match task.restarts {
                0 => writeln!(f, "task {}: {}", task.name, task.outcome)?,
                1 => writeln!(f, "task {}: {} (restarted once)", task.name, task.outcome)?,
                n => writeln!(
                    f,
                    "task {}: {} (restarted {n} times)",
                    task.name, task.outcome
                )?,
            }
        }
        for context in &self.contexts {
            writeln!(f, "context {}: {}", context.name, context.outcome)?;
        }
        Ok(())
    }
}
