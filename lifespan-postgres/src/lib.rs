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
//! `last_point` is the time of the last point claimed, in µs since the Unix epoch (a point of
//! `every` or a cron occurrence alike), so that a schedule changed between deploys claims its
//! next point after the last one run.
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

mod address;
mod coordinator;
mod session;
mod sql;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

// The trait the docs link to.
#[cfg(doc)]
use lifespan_core::Coordinator;
use lifespan_core::CoordinatorError;
use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::ConnectOptions;
use tokio::sync::Mutex;

use session::Slot;

/// The `application_name` of the coordinator's connection when its options set none.
const APPLICATION_NAME: &str = "lifespan";

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

impl PgCoordinator {
    /// A coordinator for the database at `url` (`postgres://user:password@host:5432/database`,
    /// with any of the parameters PostgreSQL's URLs take, `sslmode` and `application_name`
    /// among them). Only parses: it connects in [`prepare`](Coordinator::prepare).
    ///
    /// A password holding `/`, `?`, `#` or `@` must be percent-encoded (`%2F`, `%3F`, `%23`,
    /// `%40`): a URL parser would take what follows such a character for the host, the path or
    /// the query, so a URL with an `@` after its host is refused, with an error that does not
    /// quote it. A query parameter the driver does not know is dropped with a warning that names
    /// it, and not its value.
    ///
    /// ```
    /// use lifespan_core::Coordinator;
    /// use lifespan_postgres::PgCoordinator;
    ///
    /// let coordinator = PgCoordinator::new("postgres://app:p%2Fss@db.internal/app").unwrap();
    /// assert_eq!(coordinator.describe(), "PostgreSQL at db.internal:5432/app");
    ///
    /// let error = PgCoordinator::new("postgres://app:123/ss@db.internal/app").unwrap_err();
    /// assert!(error.to_string().starts_with("parsing the PostgreSQL URL: an `@` follows its host"));
    /// assert!(!format!("{error:?}").contains("123/ss"));
    /// ```
    pub fn new(url: &str) -> Result<Self, CoordinatorError> {
        Ok(PgCoordinator::from_options(address::parse(url)?))
    }

    /// A coordinator connecting with `options`. Without an `application_name`, its connection
    /// is named `lifespan` in `pg_stat_activity`.
    pub fn from_options(options: PgConnectOptions) -> Self {
        let description = address::describe(&options);
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
        let description = address::describe(&pool.connect_options());
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
}

impl fmt::Debug for PgCoordinator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgCoordinator")
            .field("database", &self.inner.description)
            .field("queries", &self.queries())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use lifespan_core::Coordinator;

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
}
