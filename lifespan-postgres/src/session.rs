//! The coordinator's session: one dedicated connection, taken out of its slot for each
//! statement and put back only if the statement left it usable.

use std::sync::atomic::{AtomicU64, Ordering};

use lifespan_core::CoordinatorError;
use sqlx::postgres::PgConnection;
use sqlx::ConnectOptions;
use tokio::sync::MutexGuard;

use crate::{PgCoordinator, Source};

/// The connection of the current session, if there is one, and the number of that session.
#[derive(Default)]
pub(crate) struct Slot {
    connection: Option<PgConnection>,
    /// Incremented on each connection: 0 before the first.
    session: u64,
}

impl PgCoordinator {
    /// The connection of the current session, connecting if there is none.
    pub(crate) async fn session(&self) -> Result<Session<'_>, CoordinatorError> {
        let slot = self.inner.slot.lock().await;
        self.open(slot).await
    }

    /// The connection of session `id`, or `None` if that session has ended: never connects.
    pub(crate) async fn resume(&self, id: u64) -> Result<Option<Session<'_>>, CoordinatorError> {
        let slot = self.inner.slot.lock().await;
        if slot.connection.is_none() || slot.session != id {
            return Ok(None);
        }
        self.open(slot).await.map(Some)
    }

    /// The connection of the current session in `slot`, connecting if there is none.
    async fn open<'a>(
        &'a self,
        mut slot: MutexGuard<'a, Slot>,
    ) -> Result<Session<'a>, CoordinatorError> {
        let connection = match slot.connection.take() {
            Some(connection) => connection,
            None => {
                let connection = self.connect().await.map_err(|error| {
                    CoordinatorError::new(
                        format!("connecting to {}", self.inner.description),
                        error,
                    )
                })?;
                slot.session += 1;
                tracing::debug!(
                    coordinator = %self.inner.description,
                    session = slot.session,
                    "connected"
                );
                connection
            }
        };
        Ok(Session {
            slot,
            connection: Some(connection),
            queries: &self.inner.queries,
        })
    }

    async fn connect(&self) -> Result<PgConnection, sqlx::Error> {
        match &self.inner.source {
            Source::Options(options) => options.connect().await,
            Source::Pool(pool) => Ok(pool.acquire().await?.detach()),
        }
    }
}

/// The connection of a session, taken out of its slot for one statement. It goes back only
/// through [`finish`](Session::finish) with an answer that leaves the connection usable:
/// dropped before (the caller's future dropped mid-query) or after a connection-level error,
/// the connection is dropped too, since its protocol state is unknown, and the next call
/// connects again in a new session.
pub(crate) struct Session<'a> {
    slot: MutexGuard<'a, Slot>,
    connection: Option<PgConnection>,
    queries: &'a AtomicU64,
}

impl Session<'_> {
    /// The connection, for one more statement.
    pub(crate) fn send(&mut self) -> &mut PgConnection {
        self.queries.fetch_add(1, Ordering::Relaxed);
        self.connection
            .as_mut()
            .expect("a session keeps its connection until it finishes")
    }

    /// The number of this session.
    pub(crate) fn id(&self) -> u64 {
        self.slot.session
    }

    /// Puts the connection back unless `result` says it is broken.
    pub(crate) fn finish<T>(mut self, result: &Result<T, sqlx::Error>) {
        match result {
            Err(error) if is_connection_error(error) => {
                tracing::warn!(session = self.slot.session, %error, "connection to PostgreSQL lost");
            }
            _ => self.slot.connection = self.connection.take(),
        }
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        if self.connection.is_some() {
            tracing::debug!(
                session = self.slot.session,
                "a statement was cut short: dropping its connection"
            );
        }
    }
}

/// Whether `error` means the connection can no longer be trusted: lost, closed, shut down by
/// the server (SQLSTATE classes 08 and 57: `pg_terminate_backend` is 57P01), or anything not
/// known to leave the session as it was.
pub(crate) fn is_connection_error(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(error) => match error.code() {
            Some(code) => code.starts_with("08") || code.starts_with("57"),
            None => true,
        },
        sqlx::Error::RowNotFound
        | sqlx::Error::TypeNotFound { .. }
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Encode(_)
        | sqlx::Error::Decode(_) => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_errors() {
        assert!(is_connection_error(&sqlx::Error::PoolClosed));
        assert!(is_connection_error(&sqlx::Error::Protocol("eof".into())));
        assert!(is_connection_error(&sqlx::Error::Io(std::io::Error::from(
            std::io::ErrorKind::ConnectionReset
        ))));
        assert!(!is_connection_error(&sqlx::Error::RowNotFound));
    }
}
