//! The error a task, a context or an argument's expression returned, kept as a value.

use std::fmt;
use std::sync::Arc;

use crate::base::redact::redact;

/// An error returned by a task's or context's function, or by an argument's expression: the
/// original value, shared (cloning is cheap), and its text with the passwords of URLs masked.
///
/// It displays as its own message; with `{:#}`, followed by its causes, as `anyhow` does
/// (`connecting to the database: connection refused`). [`source`](std::error::Error::source)
/// walks the causes as text; [`downcast_ref`](Self::downcast_ref) finds the original error, or
/// one of its causes, by type, to decide on an exit code or a retry.
///
/// ```
/// use lifespan_core::{App, TaskOutcome};
///
/// #[derive(Debug, thiserror::Error)]
/// #[error("the broker is gone")]
/// struct BrokerGone;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> anyhow::Result<()> {
/// # tokio::time::timeout(std::time::Duration::from_secs(3600), async {
/// let app = App::empty();
/// app.register_task("consumer", || async { Err::<(), _>(BrokerGone) })?;
/// app.start().await?;
/// tokio::task::yield_now().await;
/// let report = app.shutdown().await;
/// let Some(TaskOutcome::Failed(error)) = report.task("consumer") else { panic!() };
/// assert!(error.downcast_ref::<BrokerGone>().is_some());
/// assert_eq!(error.to_string(), "the broker is gone");
/// # Ok(())
/// # }).await.expect("the example did not finish within an hour of virtual time")
/// # }
/// ```
#[derive(Clone)]
pub struct TaskError {
    error: Arc<anyhow::Error>,
    /// The error's own message, then its causes', masked.
    text: Arc<Link>,
}

/// One message of an error's chain, masked, with the next one: what `source` walks.
struct Link {
    message: String,
    next: Option<Box<Link>>,
}

impl TaskError {
    pub(crate) fn new(error: anyhow::Error) -> Self {
        let mut next = None;
        let messages: Vec<String> = error.chain().map(|cause| cause.to_string()).collect();
        for message in messages.into_iter().rev() {
            next = Some(Box::new(Link {
                message: redact(&message).into_owned(),
                next,
            }));
        }
        let text = next.map_or_else(
            || Link {
                message: String::new(),
                next: None,
            },
            |link| *link,
        );
        TaskError {
            error: Arc::new(error),
            text: Arc::new(text),
        }
    }

    /// An error with `message` and no cause.
    pub(crate) fn msg(message: impl fmt::Display + fmt::Debug + Send + Sync + 'static) -> Self {
        TaskError::new(anyhow::Error::msg(message))
    }

    /// The original error, or the first of its causes, of type `E`.
    pub fn downcast_ref<E: std::error::Error + Send + Sync + 'static>(&self) -> Option<&E> {
        type Boxed = Box<dyn std::error::Error + Send + Sync + 'static>;
        if let Some(found) = self.error.downcast_ref::<E>() {
            return Some(found);
        }
        // An error that is not an `anyhow::Error` was boxed: look at it and at its causes.
        if let Some(boxed) = self.error.downcast_ref::<Boxed>() {
            let boxed: &(dyn std::error::Error + 'static) = &**boxed;
            let mut cause = Some(boxed);
            while let Some(error) = cause {
                if let Some(found) = error.downcast_ref::<E>() {
                    return Some(found);
                }
                cause = error.source();
            }
        }
        self.error
            .chain()
            .find_map(|cause| cause.downcast_ref::<E>())
    }

    /// The error as `anyhow` holds it: its chain, its backtrace if one was captured.
    pub fn as_anyhow(&self) -> &anyhow::Error {
        &self.error
    }

    /// The messages of the error and of its causes, in order, each with the passwords of URLs
    /// masked.
    pub fn chain(&self) -> impl Iterator<Item = &str> {
        std::iter::successors(Some(&*self.text), |link| link.next.as_deref())
            .map(|link| link.message.as_str())
    }
}

impl fmt::Display for TaskError {
    /// The error's own message; with `{:#}`, followed by its causes, separated by `": "`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::base::chain::fmt(
            f,
            |f| f.write_str(&self.text.message),
            std::error::Error::source(self),
        )
    }
}

impl fmt::Debug for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TaskError")
            .field(&format_args!("{self:#}"))
            .finish()
    }
}

impl std::error::Error for TaskError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.text
            .next
            .as_deref()
            .map(|link| link as &(dyn std::error::Error + 'static))
    }
}

/// Two errors are equal if they read the same, causes included.
impl PartialEq for TaskError {
    fn eq(&self, other: &Self) -> bool {
        format!("{self:#}") == format!("{other:#}")
    }
}

impl Eq for TaskError {}

/// Whether the error reads `text`, causes included (as with `{:#}`).
impl PartialEq<str> for TaskError {
    fn eq(&self, text: &str) -> bool {
        format!("{self:#}") == text
    }
}

/// See `PartialEq<str>`.
impl PartialEq<&str> for TaskError {
    fn eq(&self, text: &&str) -> bool {
        self == *text
    }
}

/// An error with this message and no cause, for comparing with an outcome in a test:
/// `TaskOutcome::Failed("broker gone".into())`.
impl From<&str> for TaskError {
    fn from(message: &str) -> Self {
        TaskError::msg(message.to_owned())
    }
}

/// See `From<&str>`.
impl From<String> for TaskError {
    fn from(message: String) -> Self {
        TaskError::msg(message)
    }
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.message, f)
    }
}

impl std::error::Error for Link {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.next
            .as_deref()
            .map(|link| link as &(dyn std::error::Error + 'static))
    }
}
