//! The coordinator's sessions: two dedicated connections, one for the leases and one for the
//! run ledger, so that a slow claim never holds up, or ends, a lease's session.
//!
//! Each statement runs on a tokio task of its own, which takes the connection out of its slot,
//! and puts it back when the statement is done, unless it failed at the connection's level.
//! The caller only waits for the answer: a caller that gives up (a timeout) leaves its
//! statement to finish, so the connection is never cut mid-statement and its session goes on.
//! A statement whose caller gave up before it could start is not sent at all.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use lifespan_core::CoordinatorError;
use sqlx::postgres::PgConnection;
use sqlx::ConnectOptions;
use tokio::sync::{oneshot, Mutex, OwnedMutexGuard};

use crate::{PgCoordinator, Source};

/// The future of one statement on a borrowed connection.
pub(crate) type Statement<'c, T> =
    Pin<Box<dyn Future<Output = Result<T, sqlx::Error>> + Send + 'c>>;

/// `statement`, as a statement [`PgCoordinator::run`] takes: for the compiler to see that its
/// future borrows the connection it is given.
pub(crate) fn statement<T, S>(statement: S) -> S
where
    S: for<'c> FnOnce(&'c mut PgConnection, u64) -> Statement<'c, T>,
{
    statement
}

/// Which of the coordinator's two connections a statement runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// Acquiring, renewing and releasing leases, and creating the tables.
    Leases,
    /// The run ledger: claiming, renewing and finishing runs, and reading the clock.
    Claims,
}

/// The connection of a line's current session, if there is one, and the number of that
/// session.
#[derive(Default)]
pub(crate) struct Slot {
    connection: Option<PgConnection>,
    /// Incremented on each connection: 0 before the first.
    session: u64,
}

/// Why a statement gave no answer.
#[derive(Debug)]
pub(crate) enum Failure {
    /// No connection could be made.
    Connect(CoordinatorError),
    /// The statement failed.
    Statement(sqlx::Error),
    /// The task running it ended without an answer (the runtime is shutting down).
    Abandoned,
    /// No answer within the statement limit: its connection was dropped.
    TimedOut(Duration),
}

/// What a statement answered, and the number of the session it ran in.
pub(crate) struct Answer<T> {
    pub(crate) value: T,
    pub(crate) session: u64,
}

impl PgCoordinator {
    /// The slot of `line`.
    fn slot(&self, line: Line) -> Arc<Mutex<Slot>> {
        match line {
            Line::Leases => self.inner.leases.clone(),
            Line::Claims => self.inner.claims.clone(),
        }
    }

    /// Runs `statement` on the connection of `line`, connecting if there is none. If its caller
    /// gives up once it was sent, `unclaimed` gets its answer, before the next statement on
    /// that line starts.
    pub(crate) async fn run<T, S, U>(
        &self,
        line: Line,
        statement: S,
        unclaimed: U,
    ) -> Result<Answer<T>, Failure>
    where
        T: Send + 'static,
        S: for<'c> FnOnce(&'c mut PgConnection, u64) -> Statement<'c, T> + Send + 'static,
        U: FnOnce(&PgCoordinator, T) + Send + 'static,
    {
        self.spawn(line, None, statement, unclaimed)
            .await
            .and_then(|answer| answer.ok_or(Failure::Abandoned))
    }

    /// Runs `statement` on the connection of session `session` of `line`; `None` if that
    /// session has ended: never connects.
    pub(crate) async fn run_in<T, S>(
        &self,
        line: Line,
        session: u64,
        statement: S,
    ) -> Result<Option<Answer<T>>, Failure>
    where
        T: Send + 'static,
        S: for<'c> FnOnce(&'c mut PgConnection, u64) -> Statement<'c, T> + Send + 'static,
    {
        self.spawn(line, Some(session), statement, |_, _| {}).await
    }

    async fn spawn<T, S, U>(
        &self,
        line: Line,
        session: Option<u64>,
        statement: S,
        unclaimed: U,
    ) -> Result<Option<Answer<T>>, Failure>
    where
        T: Send + 'static,
        S: for<'c> FnOnce(&'c mut PgConnection, u64) -> Statement<'c, T> + Send + 'static,
        U: FnOnce(&PgCoordinator, T) + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let coordinator = self.clone();
        let slot = self.slot(line);
        tokio::spawn(async move {
            let slot = slot.lock_owned().await;
            if reply.is_closed() {
                return;
            }
            if let Some(session) = session {
                if slot.connection.is_none() || slot.session != session {
                    let _ = reply.send(Ok(None));
                    return;
                }
            }
            coordinator
                .send(line, slot, statement, reply, unclaimed)
                .await;
        });
        answer.await.unwrap_or(Err(Failure::Abandoned))
    }

    /// Sends `statement` on the connection in `slot`, puts the connection back unless the
    /// statement broke it, then answers `reply`, or `unclaimed` if nobody waits any more.
    async fn send<T, S, U>(
        &self,
        line: Line,
        mut slot: OwnedMutexGuard<Slot>,
        statement: S,
        reply: oneshot::Sender<Result<Option<Answer<T>>, Failure>>,
        unclaimed: U,
    ) where
        S: for<'c> FnOnce(&'c mut PgConnection, u64) -> Statement<'c, T>,
        U: FnOnce(&PgCoordinator, T),
    {
        let mut connection = match slot.connection.take() {
            Some(connection) => connection,
            None => match self.connect(line, &mut slot).await {
                Ok(connection) => connection,
                Err(error) => {
                    let _ = reply.send(Err(Failure::Connect(error)));
                    return;
                }
            },
        };
        let session = slot.session;
        self.inner.queries.fetch_add(1, Ordering::Relaxed);
        let limit = self.limit();
        let Ok(result) = tokio::time::timeout(limit, statement(&mut connection, session)).await
        else {
            tracing::warn!(
                coordinator = %self.inner.description,
                ?line,
                session,
                ?limit,
                "a statement had no answer within its limit: dropping its connection"
            );
            let _ = reply.send(Err(Failure::TimedOut(limit)));
            return;
        };
        let result = match result {
            Err(error) if is_connection_error(&error) => {
                tracing::warn!(
                    coordinator = %self.inner.description,
                    ?line,
                    session,
                    error = %crate::failure::Cause::new(&error),
                    "the connection to PostgreSQL was lost"
                );
                Err(Failure::Statement(error))
            }
            Err(error) => {
                self.recover(&mut connection, &error).await;
                slot.connection = Some(connection);
                Err(Failure::Statement(error))
            }
            Ok(value) => {
                slot.connection = Some(connection);
                Ok(Some(Answer { value, session }))
            }
        };
        if let Err(Ok(Some(answer))) = reply.send(result) {
            unclaimed(self, answer.value);
        }
    }

    /// A new connection for `line`, in a new session.
    async fn connect(&self, line: Line, slot: &mut Slot) -> Result<PgConnection, CoordinatorError> {
        let connection = match &self.inner.source {
            Source::Options(options) => options.connect().await,
            Source::Pool(pool) => pool.acquire().await.map(|c| c.detach()),
        }
        .map_err(|error| {
            CoordinatorError::new(
                format!("connecting to {}", self.inner.description),
                crate::failure::Cause::new(&error),
            )
        })?;
        slot.session += 1;
        self.inner.connections.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            coordinator = %self.inner.description,
            ?line,
            session = slot.session,
            "connected"
        );
        Ok(connection)
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
