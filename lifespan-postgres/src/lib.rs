//! A [`Coordinator`] for [lifespan](lifespan_core) apps whose replicas share a PostgreSQL
//! database: which replica runs each singleton task, with a fencing token per term, and which
//! replica runs each point of a once-per-point schedule.
//!
//! ```no_run
//! use std::sync::Arc;
//! use lifespan_core::Coordinator;
//! use lifespan_postgres::PgCoordinator;
//!
//! # async fn example() -> Result<(), lifespan_core::CoordinatorError> {
//! // Parses only: the connection is made by `prepare`, at the app's startup.
//! let coordinator = PgCoordinator::new("postgres://app@db.internal:5432/app")?;
//! assert_eq!(coordinator.describe(), "PostgreSQL at db.internal:5432/app");
//! coordinator.prepare().await?;
//! let shared: Arc<dyn Coordinator> = Arc::new(coordinator);
//! # Ok(())
//! # }
//! ```
//!
//! # Why a table, not advisory locks
//!
//! PostgreSQL's advisory locks look like the obvious lease, but they belong to a session:
//! behind a transaction-mode pooler (PgBouncer) the session is not the client's, so the lock is
//! taken on one server connection and "released" on another. They carry no counter, so they
//! give no fencing token, and they say nothing about who holds them or since when. A lease row
//! gives all three: a token that only grows, the holder and the time of its term, and expiry on
//! the database's clock.
//!
//! [`PgCoordinator::prepare`](Coordinator::prepare) creates two tables, if they do not exist
//! (in one transaction holding a transaction-level advisory lock, so that replicas starting at
//! once do not race on the DDL):
//!
//! ```sql
//! CREATE TABLE lifespan_leases (
//!     task text PRIMARY KEY, holder text NOT NULL, token bigint NOT NULL,
//!     acquired_at timestamptz NOT NULL, renewed_at timestamptz NOT NULL,
//!     expires_at timestamptz NOT NULL
//! );
//! CREATE TABLE lifespan_points (
//!     task text PRIMARY KEY, last_point bigint NOT NULL, held_until timestamptz NOT NULL,
//!     claimed_by text NOT NULL, claimed_at timestamptz NOT NULL
//! );
//! ```
//!
//! Rows are never deleted: a task's lease row keeps its last token, so the next term's token is
//! greater than every earlier one (it starts at 1). Every time is the database's `now()`; the
//! replicas only send durations, so their clocks do not matter.
//!
//! # Sessions
//!
//! The coordinator holds one dedicated connection. A term is granted on it, and is treated as
//! lost as soon as that connection ends (killed by the server, a network failure, a query cut
//! short by a timeout): [`renew`](Coordinator::renew) then answers `false` without asking the
//! database, the way an advisory lock ends with its session. So a replica that lost its
//! connection stops its singleton task at once rather than at its renew deadline, while the
//! lease still protects it from a takeover until it expires. The next call connects again;
//! [`release`](Coordinator::release) works on the new connection, so that a replica that lost
//! its connection can still hand over quickly on shutdown.
//!
//! # Statements
//!
//! One statement per call: `acquire` is an upsert that takes an expired lease (or reads its
//! holder), `renew` and `release` are one `UPDATE` each, `claim_point` is an upsert that wins a
//! point only if it is later than the last one claimed and the last one's hold has passed.
//! [`PgCoordinator::queries`] counts them.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod sql;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lifespan_core::{
    Acquired, Coordinator, CoordinatorError, CoordinatorFuture, Holder, LeaseRequest, PointClaim,
    PointRequest, Term,
};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool};
use sqlx::{ConnectOptions, Row};
use tokio::sync::{Mutex, MutexGuard};

/// The `application_name` of the coordinator's connection when its options set none.
const APPLICATION_NAME: &str = "lifespan";

/// The longest duration sent to the database: a century. Longer ones are cut to it, so that
/// `now() + lease` stays a valid timestamp.
const MAX_MICROS: i64 = 100 * 366 * 24 * 3600 * 1_000_000;

/// A [`Coordinator`] backed by a PostgreSQL database shared by every replica of an app.
///
/// Cheap to clone: clones share one connection. See the [crate documentation](crate) for the
/// tables, the statements and why a lease table rather than advisory locks.
///
/// ```no_run
/// use lifespan_core::Coordinator;
/// use lifespan_postgres::PgCoordinator;
///
/// # async fn example(pool: sqlx::PgPool) -> Result<(), lifespan_core::CoordinatorError> {
/// // With the pool the service already has: the coordinator takes one connection of its own.
/// let coordinator = PgCoordinator::from_pool(pool);
/// coordinator.prepare().await?;
/// assert!(coordinator.describe().starts_with("PostgreSQL at "));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PgCoordinator {
    inner: Arc<Inner>,
}

struct Inner {
    source: Source,
    /// `PostgreSQL at host:port/database`.
    description: String,
    /// The connection of the current session, and the number of that session.
    slot: Mutex<Slot>,
    /// Statements sent.
    queries: AtomicU64,
}

enum Source {
    Options(Box<PgConnectOptions>),
    Pool(PgPool),
}

#[derive(Default)]
struct Slot {
    connection: Option<PgConnection>,
    /// Incremented on each connection: 0 before the first.
    session: u64,
}

impl PgCoordinator {
    /// A coordinator for the database at `url` (`postgres://user:password@host:5432/database`,
    /// with any of the parameters PostgreSQL's URLs take, `sslmode` and `application_name`
    /// among them). Only parses: it connects in [`prepare`](Coordinator::prepare).
    pub fn new(url: &str) -> Result<Self, CoordinatorError> {
        let options: PgConnectOptions = url
            .parse()
            .map_err(|error| CoordinatorError::new("parsing the PostgreSQL URL", error))?;
        Ok(PgCoordinator::from_options(options))
    }

    /// A coordinator connecting with `options`. Without an `application_name`, its connection
    /// is named `lifespan` in `pg_stat_activity`.
    pub fn from_options(options: PgConnectOptions) -> Self {
        let description = describe(&options);
        let options = match options.get_application_name() {
            Some(_) => options,
            None => options.application_name(APPLICATION_NAME),
        }
        // Its statements are its own business: the caller logs what fails.
        .disable_statement_logging();
        PgCoordinator::with_source(Source::Options(Box::new(options)), description)
    }

    /// A coordinator that takes a connection from `pool` when it needs one and keeps it to
    /// itself (detached from the pool), so that it connects with the pool's settings but holds
    /// a session of its own.
    pub fn from_pool(pool: PgPool) -> Self {
        let description = describe(&pool.connect_options());
        PgCoordinator::with_source(Source::Pool(pool), description)
    }

    fn with_source(source: Source, description: String) -> Self {
        PgCoordinator {
            inner: Arc::new(Inner {
                source,
                description,
                slot: Mutex::new(Slot::default()),
                queries: AtomicU64::new(0),
            }),
        }
    }

    /// How many statements this coordinator (and its clones) sent to the database so far.
    pub fn queries(&self) -> u64 {
        self.inner.queries.load(Ordering::Relaxed)
    }

    /// [`Coordinator::acquire`] of `task` for `instance`, for `lease`.
    async fn acquire_lease(
        &self,
        task: &str,
        instance: &str,
        lease: Duration,
    ) -> Result<Acquired, CoordinatorError> {
        let what = || format!("acquiring the lease of `{task}`");
        let mut session = self.session().await?;
        let id = session.id();
        let result = sqlx::query(sql::ACQUIRE)
            .bind(task)
            .bind(instance)
            .bind(micros(lease))
            .fetch_optional(session.send())
            .await;
        session.finish(&result);
        let Some(row) = result.map_err(|error| self.error(&what(), error))? else {
            return Ok(Acquired::Held(None));
        };
        let read = || -> Result<_, sqlx::Error> {
            Ok((
                row.try_get::<String, _>(0)?,
                row.try_get::<i64, _>(1)?,
                row.try_get::<i64, _>(2)?,
                row.try_get::<bool, _>(3)?,
            ))
        };
        let (holder, token, since, granted) = read().map_err(|error| self.error(&what(), error))?;
        Ok(if granted {
            Acquired::Granted(Term::new(task, holder, token, time(since)).with_session(id))
        } else {
            Acquired::Held(Some(Holder::new(holder, token, time(since))))
        })
    }

    /// [`Coordinator::claim_point`] of `task`'s schedule of `period` for `instance`, holding
    /// later points off for `hold`.
    async fn claim(
        &self,
        task: &str,
        instance: &str,
        period: Duration,
        hold: Duration,
    ) -> Result<PointClaim, CoordinatorError> {
        let what = || format!("claiming a point of `{task}`");
        let mut session = self.session().await?;
        let result = sqlx::query(sql::CLAIM_POINT)
            .bind(task)
            .bind(instance)
            .bind(micros(period).max(1))
            .bind(micros(hold))
            .fetch_one(session.send())
            .await;
        session.finish(&result);
        let row = result.map_err(|error| self.error(&what(), error))?;
        let read = || -> Result<_, sqlx::Error> {
            Ok((row.try_get::<Option<i64>, _>(0)?, row.try_get::<i64, _>(1)?))
        };
        let (won, until_next) = read().map_err(|error| self.error(&what(), error))?;
        Ok(PointClaim::new(won, duration(until_next)))
    }

    /// The connection of the current session, connecting if there is none.
    async fn session(&self) -> Result<Session<'_>, CoordinatorError> {
        let slot = self.inner.slot.lock().await;
        self.open(slot).await
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

    /// The error of `operation` (`renewing the lease of `x``) caused by `error`.
    fn error(&self, operation: &str, error: sqlx::Error) -> CoordinatorError {
        CoordinatorError::new(format!("{operation} on {}", self.inner.description), error)
    }
}

impl fmt::Debug for PgCoordinator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgCoordinator")
            .field("database", &self.inner.description)
            .field("queries", &self.queries())
            .finish_non_exhaustive()
    }
}

/// The connection of a session, taken out of its slot for one statement. It goes back only
/// through [`finish`](Session::finish) with an answer that leaves the connection usable:
/// dropped before (the caller's future dropped mid-query) or after a connection-level error,
/// the connection is dropped too, since its protocol state is unknown, and the next call
/// connects again in a new session.
struct Session<'a> {
    slot: MutexGuard<'a, Slot>,
    connection: Option<PgConnection>,
    queries: &'a AtomicU64,
}

impl Session<'_> {
    /// The connection, for one more statement.
    fn send(&mut self) -> &mut PgConnection {
        self.queries.fetch_add(1, Ordering::Relaxed);
        self.connection
            .as_mut()
            .expect("a session keeps its connection until it finishes")
    }

    fn id(&self) -> u64 {
        self.slot.session
    }

    /// Puts the connection back unless `result` says it is broken.
    fn finish<T>(mut self, result: &Result<T, sqlx::Error>) {
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
fn is_connection_error(error: &sqlx::Error) -> bool {
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

/// `PostgreSQL at host:port/database`: never the user or the password.
fn describe(options: &PgConnectOptions) -> String {
    let host = match options.get_socket() {
        Some(socket) => socket.display().to_string(),
        None => options.get_host().to_owned(),
    };
    let port = options.get_port();
    match options.get_database() {
        Some(database) => format!("PostgreSQL at {host}:{port}/{database}"),
        None => format!("PostgreSQL at {host}:{port}"),
    }
}

/// `duration` in microseconds, as sent to the database.
fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros())
        .unwrap_or(i64::MAX)
        .min(MAX_MICROS)
}

/// The time `micros` microseconds since the Unix epoch.
fn time(micros: i64) -> SystemTime {
    let offset = Duration::from_micros(micros.unsigned_abs());
    if micros >= 0 {
        UNIX_EPOCH + offset
    } else {
        UNIX_EPOCH - offset
    }
}

/// A duration in microseconds read from the database.
fn duration(micros: i64) -> Duration {
    Duration::from_micros(u64::try_from(micros).unwrap_or(0))
}

impl Coordinator for PgCoordinator {
    fn describe(&self) -> String {
        self.inner.description.clone()
    }

    fn prepare(&self) -> CoordinatorFuture<'_, ()> {
        Box::pin(async move {
            let what = || "creating the tables".to_owned();
            let mut session = self.session().await?;
            // No arguments: sent as one simple query, whose statements run as one transaction.
            let result = sqlx::Executor::execute(session.send(), sql::PREPARE).await;
            session.finish(&result);
            result.map_err(|error| self.error(&what(), error))?;
            Ok(())
        })
    }

    fn acquire<'a>(&'a self, request: &'a LeaseRequest) -> CoordinatorFuture<'a, Acquired> {
        Box::pin(self.acquire_lease(&request.task, &request.instance, request.lease))
    }

    fn renew<'a>(&'a self, term: &'a Term, lease: Duration) -> CoordinatorFuture<'a, bool> {
        Box::pin(async move {
            let slot = self.inner.slot.lock().await;
            if slot.connection.is_none() || slot.session != term.session {
                // The session the term was granted on has ended: so has the term.
                return Ok(false);
            }
            let what = || format!("renewing the lease of `{}`", term.task);
            let mut session = self.open(slot).await?;
            let result = sqlx::query(sql::RENEW)
                .bind(&term.task)
                .bind(term.token)
                .bind(micros(lease))
                .execute(session.send())
                .await;
            session.finish(&result);
            match result {
                Ok(done) => Ok(done.rows_affected() == 1),
                Err(error) if is_connection_error(&error) => {
                    tracing::warn!(
                        task = %term.task,
                        token = term.token,
                        "the lease's session ended: the lease is lost"
                    );
                    Ok(false)
                }
                Err(error) => Err(self.error(&what(), error)),
            }
        })
    }

    fn release<'a>(&'a self, term: &'a Term) -> CoordinatorFuture<'a, ()> {
        Box::pin(async move {
            let what = || format!("releasing the lease of `{}`", term.task);
            let mut session = self.session().await?;
            let result = sqlx::query(sql::RELEASE)
                .bind(&term.task)
                .bind(term.token)
                .execute(session.send())
                .await;
            session.finish(&result);
            result.map_err(|error| self.error(&what(), error))?;
            Ok(())
        })
    }

    fn claim_point<'a>(&'a self, request: &'a PointRequest) -> CoordinatorFuture<'a, PointClaim> {
        Box::pin(self.claim(
            &request.task,
            &request.instance,
            request.period,
            request.hold,
        ))
    }

    fn until_next_point(&self, period: Duration) -> CoordinatorFuture<'_, Duration> {
        Box::pin(async move {
            let what = || "reading the time until the next point".to_owned();
            let mut session = self.session().await?;
            let result = sqlx::query_scalar::<_, i64>(sql::UNTIL_NEXT_POINT)
                .bind(micros(period).max(1))
                .fetch_one(session.send())
                .await;
            session.finish(&result);
            let until_next = result.map_err(|error| self.error(&what(), error))?;
            Ok(duration(until_next))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_without_credentials() {
        let coordinator =
            PgCoordinator::new("postgres://admin:hunter2@db.internal:6543/billing").unwrap();
        assert_eq!(
            coordinator.describe(),
            "PostgreSQL at db.internal:6543/billing"
        );
        assert!(!format!("{coordinator:?}").contains("hunter2"));
    }

    #[test]
    fn a_bad_url_fails_without_its_password() {
        let error = PgCoordinator::new("postgres://admin:hunter2@db.internal:port/x").unwrap_err();
        let mut text = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            text += &format!(": {cause}");
            source = cause.source();
        }
        assert!(text.starts_with("parsing the PostgreSQL URL"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn durations_and_times_convert() {
        assert_eq!(micros(Duration::from_millis(1500)), 1_500_000);
        assert_eq!(micros(Duration::MAX), MAX_MICROS);
        assert_eq!(time(1_000_000), UNIX_EPOCH + Duration::from_secs(1));
        assert_eq!(time(-1_000_000), UNIX_EPOCH - Duration::from_secs(1));
        assert_eq!(duration(-5), Duration::ZERO);
        assert_eq!(duration(2_000), Duration::from_millis(2));
    }

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
