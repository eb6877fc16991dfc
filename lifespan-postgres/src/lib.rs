//! A [`Coordinator`] for [lifespan](lifespan_core) apps whose replicas share a PostgreSQL
//! database: which replica runs each singleton task, with a fencing token per term, and which
//! replica runs each point of a once-per-point schedule, kept in a ledger of runs that another
//! replica takes over when a run's lease expires. [`claim_effect`] and [`check_lease`] fence
//! the app's own writes with those tokens, in its own transactions; [`claim_once`] lets one
//! replica do one-shot work (a migration, a backfill) while the others wait for it.
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
//! # Tables
//!
//! [`PgCoordinator::prepare`](Coordinator::prepare) creates six tables and an index, if they
//! do not exist (in one transaction holding a transaction-level advisory lock, so that replicas
//! starting at once do not race on the DDL):
//!
//! ```sql
//! CREATE TABLE lifespan_leases (
//!     task text PRIMARY KEY, holder text NOT NULL, token bigint NOT NULL,
//!     acquired_at timestamptz NOT NULL, renewed_at timestamptz NOT NULL,
//!     expires_at timestamptz NOT NULL
//! );
//! CREATE TABLE lifespan_points (
//!     task text PRIMARY KEY, last_point bigint, held_until timestamptz NOT NULL,
//!     claimed_by text NOT NULL, claimed_at timestamptz NOT NULL,
//!     token bigint NOT NULL DEFAULT 0, missed bigint NOT NULL DEFAULT 0
//! );
//! CREATE TABLE lifespan_runs (
//!     task text NOT NULL, point bigint NOT NULL, attempt integer NOT NULL,
//!     instance text NOT NULL, token bigint NOT NULL, started_at timestamptz NOT NULL,
//!     renewed_at timestamptz NOT NULL, expires_at timestamptz NOT NULL,
//!     finished_at timestamptz, outcome text, effect_at timestamptz,
//!     manual boolean NOT NULL DEFAULT false,
//!     PRIMARY KEY (task, point)
//! );
//! CREATE TABLE lifespan_once (key text PRIMARY KEY, done_at timestamptz NOT NULL);
//! CREATE TABLE lifespan_control (
//!     task text PRIMARY KEY, paused_by text, paused_at timestamptz,
//!     run_requested_by text, run_requested_at timestamptz
//! );
//! CREATE TABLE lifespan_replicas (
//!     instance text PRIMARY KEY, status text NOT NULL,
//!     published_at timestamptz NOT NULL, expires_at timestamptz NOT NULL
//! );
//! CREATE INDEX lifespan_runs_unfinished ON lifespan_runs (task, point)
//!     WHERE finished_at IS NULL;
//! CREATE TABLE lifespan_schema (version integer NOT NULL);
//! ```
//!
//! `lifespan_points` has a row per once-per-point task: `last_point` is the time of the last
//! point started, in µs since the Unix epoch (a point of `every` or a cron occurrence alike, so
//! that a schedule changed between deploys starts its next point after the last one run), NULL
//! before the first; `held_until` the end of its hold; `token` the last token granted to a run
//! of the task; `missed` how many points of its schedule no replica started: a claim that starts
//! a point after the last one adds the points in between, as the claiming replica counted them
//! from the last point it knew of if that is still the last, else the points it asked for that
//! lie between ([`RunRequest::missed_before`](lifespan_core::RunRequest::missed_before)). Each
//! claim of a run locks that row, so that the replicas' claims of one task take turns.
//!
//! `lifespan_runs` is the *ledger*: a row per point started, its current attempt (1, then one
//! more per takeover), the replica running it, its fencing token, its run lease
//! (`expires_at`), its end (`finished_at`, and `outcome`: `succeeded`, `failed`, `panicked`,
//! `cancelled` or `timed_out`), and when its effect was committed (`effect_at`, set by
//! [`claim_effect`]). A run whose lease expired unfinished is taken over by the next claim of
//! any replica, as its next attempt with a new token; the claims find the runs in flight through
//! the index `lifespan_runs_unfinished`. *Retention*: each time a run finishes, the task's
//! finished runs but those of its [`keep_runs`](PgCoordinator::keep_runs) latest points (1000 by
//! default) are deleted, in the same statement; unfinished runs are always kept. So the table
//! holds about `keep_runs` rows per task however long it runs (the tests check the bound after
//! each batch of 500 of 5,000 points; `benches/replicas.rs` runs 100,000).
//! [`recent_runs`](Coordinator::recent_runs) reads the runs of a task's latest points and its
//! `missed`, in one statement that walks the primary key back from the latest point.
//!
//! `lifespan_once` has a row per one-shot work done, written by [`claim_once`] in the
//! transaction that did the work.
//!
//! `lifespan_control` has a row per task an operator paused or asked a manual run of
//! ([`pause`](Coordinator::pause), [`resume`](Coordinator::resume),
//! [`request_run`](Coordinator::request_run): one statement each). While `paused_at` is set,
//! `acquire` grants nobody the lease (it answers who paused the task), `renew` refuses the
//! holder's renewal, and a claim starts no run; a pause stays until resumed, whatever the
//! replicas do. A manual run asked for (`run_requested_at`) is started by the next claim that
//! starts no point, as a run of the ledger marked `manual` whose point is the database's clock
//! (later than every point of the task in the ledger), and the request is cleared in the same
//! statement. What it costs: `acquire`, `renew` and the deciding statement of a claim each read
//! the task's row of `lifespan_control` by its primary key, in the statement they already send:
//! no statement more per point or per renewal.
//!
//! `lifespan_replicas` has a row per replica that [published its
//! status](Coordinator::publish_status) (its tasks and contexts as JSON, without error text),
//! replaced at each publication (every 5 s by default), current until `expires_at`; a
//! publication deletes, in the same statement, the rows that expired over an hour ago. Every
//! replica's status route reads them all in one statement
//! ([`replica_statuses`](Coordinator::replica_statuses)).
//!
//! A token is one more than the greater of the task's lease token and its run token counter,
//! for leases and runs alike: a task's tokens only grow, even when it changes from singleton to
//! once-per-point between deploys (the two are not serialized against each other, which an app,
//! whose task names are unique, never needs).
//!
//! `lifespan_schema` holds the version of the tables' layout, now 2. In the same transaction,
//! `prepare` checks the columns of the tables it finds: a table of one of these names with
//! other columns fails the startup with an error naming the table and the column
//! (``the table `lifespan_leases` is not lifespan's: column `task` is integer, not text``), and
//! so do tables of a later version than this crate knows. Tables of version 1 (and those of the
//! first release, which had no `lifespan_schema`) are brought to version 2, rows and all:
//! `lifespan_runs`, `lifespan_once`, `lifespan_control` and `lifespan_replicas` are created,
//! `lifespan_points` gains its `token` and `missed` columns and its `last_point` may be NULL; the leases and the
//! last points are kept.
//!
//! If the tables vanish while the app runs (dropped, or a database restored from an older
//! backup), the statement that finds one missing (SQLSTATE `42P01`) fails with the database's
//! reason, the coordinator creates the tables again on the same connection and logs it once, and
//! the next acquire is granted. The tokens then start over at 1.
//!
//! Lease rows and task rows are never deleted: a task keeps its last tokens, so the next
//! token is greater than every earlier one (they start at 1). Every time is the database's
//! `now()` (in a claim of a run, its `clock_timestamp()` when the claim decides, so that a run
//! starts, in the ledger, after every run the claim saw finish); the replicas only send
//! durations and points reckoned on the database's clock ([`now`](Coordinator::now)), so their
//! clocks do not matter.
//!
//! # Effects exactly once
//!
//! A replica paused past its run lease may wake up still running an attempt that another
//! replica took over. [`claim_effect`], called in the app's own transaction before the write
//! that must happen once per point, lets only the point's current attempt write, once: it marks
//! the ledger's row (`effect_at`) and keeps it locked until the transaction ends, so that a
//! takeover waits for the commit and then finds the effect done. [`check_lease`] does the same
//! for a singleton's term, on its lease row.
//!
//! # Sessions
//!
//! The coordinator holds two dedicated connections: one for the leases (`acquire`, `renew`,
//! `release`, `prepare`), one for the run ledger (`now`, `claim_run`, `renew_run`,
//! `finish_run`, `recent_runs`, and the pauses and manual runs), so that a claim waiting on a
//! slow or locked table never holds up a renewal of a lease. Each opens at its first
//! statement. [`PgCoordinator::connections`] counts the connections opened.
//!
//! A term is granted on the leases' connection, and is treated as lost as soon as that
//! connection ends (killed by the server, a network failure): [`renew`](Coordinator::renew)
//! then answers `false` without asking the database, the way an advisory lock ends with its
//! session. So a replica that lost its connection stops its singleton task at once rather than
//! at its renew deadline, while the lease still protects it from a takeover until it expires.
//! The next call connects again; [`release`](Coordinator::release) works on the new connection,
//! so that a replica that lost its connection can still hand over quickly on shutdown.
//!
//! # Statements
//!
//! One statement per call, but for `claim_run`: `acquire` is an upsert that takes an expired
//! lease (or reads its holder), `renew` and `release` are one `UPDATE` each, `now` one
//! `SELECT`, `renew_run` one `UPDATE`, `finish_run` one statement that records the run's end
//! and deletes the finished runs past retention, `recent_runs` one `SELECT`, `pause`,
//! `resume` and `request_run` one statement each. `claim_run` is a
//! transaction of four statements (`BEGIN`, the task's row locked `FOR UPDATE`, one statement
//! that takes over an expired run or starts a point and counts the points missed, `COMMIT`),
//! six for the first claim of a task (its row is created first): the lock makes the deciding
//! statement see every claim before it.
//! [`PgCoordinator::queries`] counts them.
//!
//! Each statement runs on a tokio task of its own, which holds its connection until the
//! statement is done: a caller that gives up (the app's timeouts) does not cut the connection
//! mid-statement, so a slow statement ends no session and costs no new connection. Only a
//! statement with no answer within [`PgCoordinator::statement_limit`] (30 s by default: a
//! connection gone silent) fails and has its connection dropped. A statement whose caller gave
//! up before its turn came is not sent. A term granted to an `acquire` whose
//! caller had given up is remembered by its token and released by the next `acquire` of that
//! task, before it asks again (one more statement): no lease stays with a replica that never
//! received it, and the next term has a new token. Tokens, not instance names, identify that
//! term, so two replicas given the same instance name do not release each other's.
//!
//! # URLs and logs
//!
//! [`PgCoordinator::new`] parses its URL with a URL parser before the driver sees it: see there
//! for a password holding `/`, `?`, `#` or `@`. The coordinator's errors carry the driver's
//! error as their cause (the database's message, such as `relation "lifespan_leases" does not
//! exist`), with the password of any URL in it masked, and so do the warnings it logs itself.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod address;
mod control;
mod coordinator;
mod effect;
mod failure;
mod once;
mod recent;
mod replicas;
mod runs;
mod session;
mod sql;
mod tables;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

// The trait the docs link to.
#[cfg(doc)]
use lifespan_core::Coordinator;
use lifespan_core::CoordinatorError;
use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::ConnectOptions;
use tokio::sync::Mutex;

pub use effect::{check_lease, claim_effect, EffectError};
pub use once::{claim_once, OnceError};
use session::Slot;

/// The `application_name` of the coordinator's connection when its options set none.
const APPLICATION_NAME: &str = "lifespan";

/// How many finished runs of each task the ledger keeps by default: see
/// [`PgCoordinator::keep_runs`].
const KEEP_RUNS: u64 = 1000;

/// The longest a statement may take by default: see [`PgCoordinator::statement_limit`].
const STATEMENT_LIMIT: Duration = Duration::from_secs(30);

/// `duration` in nanoseconds, saturating.
fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// A [`Coordinator`] backed by a PostgreSQL database shared by every replica of an app.
///
/// Cheap to clone: clones share its two connections. See the [crate documentation](crate) for the
/// tables, the statements and why a lease table rather than advisory locks.
///
/// ```no_run
/// use lifespan_core::Coordinator;
/// use lifespan_postgres::PgCoordinator;
///
/// # async fn example(pool: sqlx::PgPool) -> Result<(), lifespan_core::CoordinatorError> {
/// // With the pool the service already has: the coordinator takes two connections of its own.
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
    /// The connection for the leases, and the number of its session.
    leases: Arc<Mutex<Slot>>,
    /// The connection for the run ledger, and the number of its session.
    claims: Arc<Mutex<Slot>>,
    /// Statements sent.
    queries: AtomicU64,
    /// Connections opened.
    connections: AtomicU64,
    /// The longest a statement may take, in nanoseconds.
    statement_limit: AtomicU64,
    /// How many finished runs of each task the ledger keeps.
    keep_runs: AtomicU64,
    /// The token of the term of each task granted to a call whose caller had given up.
    unclaimed: std::sync::Mutex<HashMap<String, i64>>,
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

    /// A coordinator that takes its connections (one for the leases, one for the run ledger)
    /// from `pool` when it needs them and keeps them to itself (detached from the
    /// pool), so that it connects with the pool's settings but holds sessions of its own.
    pub fn from_pool(pool: PgPool) -> Self {
        let description = address::describe(&pool.connect_options());
        PgCoordinator::with_source(Source::Pool(pool), description)
    }

    fn with_source(source: Source, description: String) -> Self {
        PgCoordinator {
            inner: Arc::new(Inner {
                source,
                description,
                leases: Arc::default(),
                claims: Arc::default(),
                queries: AtomicU64::new(0),
                connections: AtomicU64::new(0),
                statement_limit: AtomicU64::new(nanos(STATEMENT_LIMIT)),
                keep_runs: AtomicU64::new(KEEP_RUNS),
                unclaimed: std::sync::Mutex::default(),
            }),
        }
    }

    /// The longest a statement may take (30 s unless set): a statement with no answer by then
    /// (a connection that went silent, a database that stalls) fails, its connection is
    /// dropped, and the next call connects again. Its caller may give up sooner, on its own
    /// timeout: the statement still runs, to its end or to this limit, so that a slow statement
    /// never cuts a connection that would have answered. Applies to clones too.
    ///
    /// ```
    /// use std::time::Duration;
    /// use lifespan_postgres::PgCoordinator;
    ///
    /// let coordinator = PgCoordinator::new("postgres://app@db.internal/app")
    ///     .unwrap()
    ///     .statement_limit(Duration::from_secs(10));
    /// # let _ = coordinator;
    /// ```
    pub fn statement_limit(self, limit: Duration) -> Self {
        self.inner
            .statement_limit
            .store(nanos(limit), Ordering::Relaxed);
        self
    }

    /// The limit [`statement_limit`](Self::statement_limit) set.
    pub(crate) fn limit(&self) -> Duration {
        Duration::from_nanos(self.inner.statement_limit.load(Ordering::Relaxed))
    }

    /// How many finished runs of each once-per-point task the ledger (`lifespan_runs`) keeps
    /// (1000 unless set): each time a run finishes, the finished runs of its task but those of
    /// the `runs` latest points are deleted, in the same statement. Unfinished runs are always
    /// kept. Applies to clones too.
    ///
    /// ```
    /// use lifespan_postgres::PgCoordinator;
    ///
    /// let coordinator = PgCoordinator::new("postgres://app@db.internal/app")
    ///     .unwrap()
    ///     .keep_runs(100);
    /// # let _ = coordinator;
    /// ```
    pub fn keep_runs(self, runs: u64) -> Self {
        self.inner.keep_runs.store(runs, Ordering::Relaxed);
        self
    }

    /// The number [`keep_runs`](Self::keep_runs) set.
    pub(crate) fn kept_runs(&self) -> u64 {
        self.inner.keep_runs.load(Ordering::Relaxed)
    }

    /// How many statements this coordinator (and its clones) sent to the database so far.
    pub fn queries(&self) -> u64 {
        self.inner.queries.load(Ordering::Relaxed)
    }

    /// How many connections this coordinator (and its clones) opened so far: one for the
    /// leases and one for the run ledger, and one more each time one of them was lost.
    pub fn connections(&self) -> u64 {
        self.inner.connections.load(Ordering::Relaxed)
    }
}

impl fmt::Debug for PgCoordinator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgCoordinator")
            .field("database", &self.inner.description)
            .field("queries", &self.queries())
            .field("connections", &self.connections())
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
        assert_eq!(
            format!("{coordinator:?}"),
            "PgCoordinator { database: \"PostgreSQL at db.internal:6543/billing\", queries: 0, connections: 0, .. }"
        );
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
