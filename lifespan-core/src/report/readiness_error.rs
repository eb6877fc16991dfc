//! Why a readiness check could not be added: [`App::add_readiness_check`](crate::App::add_readiness_check).

/// Why [`App::add_readiness_check`](crate::App::add_readiness_check) refused a check. Each
/// names the check (a name with control characters is shown escaped).
///
/// ```
/// use lifespan_core::{App, ReadinessCheckError};
///
/// let app = App::empty();
/// let _database = app.add_readiness_check("database", || async { Ok::<(), std::io::Error>(()) })?;
/// let again = app.add_readiness_check("database", || async { Ok::<(), std::io::Error>(()) });
/// assert!(matches!(again, Err(ReadinessCheckError::Duplicate { .. })));
/// assert_eq!(
///     again.err().unwrap().to_string(),
///     "readiness check `database` is already registered"
/// );
/// # Ok::<(), ReadinessCheckError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReadinessCheckError {
    /// The name is empty (or only white space).
    #[error("a readiness check needs a name: the name given is empty")]
    EmptyName,
    /// A check of that name is registered already (`phase`, the app's own, is always there).
    #[error("readiness check `{name}` is already registered")]
    Duplicate {
        /// The name given.
        name: String,
    },
    /// The name holds a control character (a newline, say), which would break the lines of the
    /// verbose answer.
    #[error("readiness check {name:?} has a control character in its name")]
    InvalidName {
        /// The name given.
        name: String,
    },
}
