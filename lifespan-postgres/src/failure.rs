//! The errors of the coordinator: what failed, caused by the driver's error, masked.

use std::fmt;

use lifespan_core::CoordinatorError;

use crate::session::Failure;
use crate::PgCoordinator;

/// The driver's error as text, with the password of any URL in it masked: the cause of a
/// [`CoordinatorError`]. One line: the driver's message already includes the database's
/// (`error returned from database: relation "lifespan_leases" does not exist`).
#[derive(Debug)]
pub(crate) struct Cause(String);

impl Cause {
    pub(crate) fn new(error: &sqlx::Error) -> Self {
        Cause(lifespan_core::redact(&error.to_string()).into_owned())
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Cause {}

impl PgCoordinator {
    /// The error of `operation` (`renewing the lease of `x``) caused by `failure`; a failure to
    /// connect is its own error (`connecting to PostgreSQL at ...`), whatever the operation.
    pub(crate) fn error(&self, operation: &str, failure: Failure) -> CoordinatorError {
        let message = format!("{operation} on {}", self.inner.description);
        match failure {
            Failure::Connect(error) => error,
            Failure::Statement(error) => CoordinatorError::new(message, Cause::new(&error)),
            Failure::TimedOut(limit) => CoordinatorError::new(
                message,
                format!("no answer within {limit:?}: its connection was dropped"),
            ),
            Failure::Abandoned => CoordinatorError::new(
                message,
                "the statement's task ended without an answer: the runtime is shutting down",
            ),
        }
    }

    /// The error of `operation` whose statement, which always answers a row, answered none.
    pub(crate) fn no_row(&self, operation: &str) -> CoordinatorError {
        CoordinatorError::msg(format!("{operation} on {}: no row", self.inner.description))
    }
}

/// `error` and its causes, joined by `: `: for the log lines the coordinator writes itself.
pub(crate) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_masks_the_password_of_a_url_in_the_driver_error() {
        let error =
            sqlx::Error::Configuration("no host in postgres://app:12345/S3cret@db/x".into());
        let cause = Cause::new(&error);
        assert_eq!(
            cause.to_string(),
            "error with configuration: no host in postgres://app:***@db/x"
        );
        let error = CoordinatorError::new("acquiring the lease of `x`", cause);
        assert_eq!(
            chain(&error),
            "acquiring the lease of `x`: error with configuration: no host in postgres://app:***@db/x"
        );
    }
}
