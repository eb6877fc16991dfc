//! The coordinator's tables: created if missing, checked if present, their layout's version
//! kept in `lifespan_schema`, and created again if they vanish while the coordinator runs.

use sqlx::postgres::PgConnection;
use sqlx::Executor;

use crate::sql;

/// The version of the tables' layout this coordinator writes: 1 is the layout of the first
/// releases (whose first one had no `lifespan_schema` yet: its tables are taken as version 1);
/// 2 adds the run ledger (`lifespan_runs`, with an index of its unfinished runs), to
/// `lifespan_points` the run token counter (`token`) and the count of missed points
/// (`missed`), its `last_point` NULL until a point started, the one-shot work done
/// (`lifespan_once`), what operators asked of each task (`lifespan_control`: its pause, a
/// manual run, marked `manual` in the ledger), and the status each replica published
/// (`lifespan_replicas`).
pub(crate) const VERSION: i32 = 2;

/// Each table's columns: name, type as `format_type` prints it.
const LAYOUT: [(&str, &[(&str, &str)]); 6] = [
    (
        "lifespan_leases",
        &[
            ("task", "text"),
            ("holder", "text"),
            ("token", "bigint"),
            ("acquired_at", TIME),
            ("renewed_at", TIME),
            ("expires_at", TIME),
        ],
    ),
    (
        "lifespan_points",
        &[
            ("task", "text"),
            ("last_point", "bigint"),
            ("held_until", TIME),
            ("claimed_by", "text"),
            ("claimed_at", TIME),
            ("token", "bigint"),
            ("missed", "bigint"),
        ],
    ),
    (
        "lifespan_runs",
        &[
            ("task", "text"),
            ("point", "bigint"),
            ("attempt", "integer"),
            ("instance", "text"),
            ("token", "bigint"),
            ("started_at", TIME),
            ("renewed_at", TIME),
            ("expires_at", TIME),
            ("finished_at", TIME),
            ("outcome", "text"),
            ("effect_at", TIME),
            ("manual", "boolean"),
        ],
    ),
    ("lifespan_once", &[("key", "text"), ("done_at", TIME)]),
    (
        "lifespan_control",
        &[
            ("task", "text"),
            ("paused_by", "text"),
            ("paused_at", TIME),
            ("run_requested_by", "text"),
            ("run_requested_at", TIME),
        ],
    ),
    (
        "lifespan_replicas",
        &[
            ("instance", "text"),
            ("status", "text"),
            ("published_at", TIME),
            ("expires_at", TIME),
        ],
    ),
];

/// `timestamptz`, as `format_type` prints it.
const TIME: &str = "timestamp with time zone";

/// Why the tables could not be made ready.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TablesError {
    /// A table of one of the coordinator's names exists with other columns.
    #[error("the table `{table}` is not lifespan's: {mismatch}")]
    Foreign {
        table: &'static str,
        mismatch: String,
    },
    /// The tables were written by a later version of this crate.
    #[error(
        "the coordinator's tables are of version {found}; this version of lifespan-postgres knows versions up to {VERSION}"
    )]
    Newer { found: i32 },
    /// A statement failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Creates the tables that are missing, checks the columns of those that exist, and records
/// the layout's version, in one transaction holding an advisory lock, so that replicas starting
/// at once do not race.
pub(crate) async fn prepare(connection: &mut PgConnection) -> Result<(), TablesError> {
    Executor::execute(&mut *connection, "BEGIN").await?;
    let result = prepare_in_transaction(connection).await;
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    Executor::execute(&mut *connection, end).await?;
    result
}

/// [`prepare`] in its transaction: creates what is missing, refuses a later version, brings
/// version 1 to this one, checks the columns, creates the index of unfinished runs, records the
/// version.
async fn prepare_in_transaction(connection: &mut PgConnection) -> Result<(), TablesError> {
    Executor::execute(&mut *connection, sql::PREPARE).await?;
    let found: Option<i32> = sqlx::query_scalar("SELECT max(version) FROM lifespan_schema")
        .fetch_one(&mut *connection)
        .await?;
    if let Some(found) = found.filter(|&found| found > VERSION) {
        return Err(TablesError::Newer { found });
    }
    if found.is_none_or(|found| found < VERSION) {
        // Version 1 (or tables of no version): add what version 2 added, keeping the rows,
        // once the columns of version 1 are checked, so that a foreign table is named as such.
        let (leases, points) = (LAYOUT[0], LAYOUT[1]);
        check(connection, leases.0, leases.1).await?;
        check(connection, points.0, &points.1[..5]).await?;
        Executor::execute(&mut *connection, sql::MIGRATE_TO_2).await?;
    }
    for (table, columns) in LAYOUT {
        check(connection, table, columns).await?;
    }
    // Only if missing: creating an index that exists would still lock the table against
    // the other replicas' writes.
    let index: Option<String> =
        sqlx::query_scalar("SELECT to_regclass('lifespan_runs_unfinished')::text")
            .fetch_one(&mut *connection)
            .await?;
    if index.is_none() {
        Executor::execute(&mut *connection, sql::UNFINISHED_INDEX).await?;
    }
    if found != Some(VERSION) {
        sqlx::query("DELETE FROM lifespan_schema")
            .execute(&mut *connection)
            .await?;
        sqlx::query("INSERT INTO lifespan_schema (version) VALUES ($1)")
            .bind(VERSION)
            .execute(&mut *connection)
            .await?;
    }
    Ok(())
}

/// Checks that `table` has `columns`, of their types.
async fn check(
    connection: &mut PgConnection,
    table: &'static str,
    columns: &[(&str, &str)],
) -> Result<(), TablesError> {
    let found: Vec<(String, String)> = sqlx::query_as(
        "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute \
         WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped",
    )
    .bind(table)
    .fetch_all(&mut *connection)
    .await?;
    for (name, kind) in columns {
        let mismatch = match found.iter().find(|(column, _)| column == name) {
            None => format!("it has no column `{name}`"),
            Some((_, found)) if found != kind => format!("column `{name}` is {found}, not {kind}"),
            Some(_) => continue,
        };
        return Err(TablesError::Foreign { table, mismatch });
    }
    Ok(())
}

/// Whether `error` says a relation does not exist (SQLSTATE 42P01, `undefined_table`): the
/// tables were dropped.
pub(crate) fn is_missing_table(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(error) if error.code().as_deref() == Some("42P01"))
}

impl crate::PgCoordinator {
    /// After `error` on `connection`: if it says a table does not exist, creates the tables
    /// again, and says so once in the log.
    pub(crate) async fn recover(&self, connection: &mut PgConnection, error: &sqlx::Error) {
        if !is_missing_table(error) {
            return;
        }
        let cause = crate::failure::Cause::new(error);
        match prepare(connection).await {
            Ok(()) => tracing::warn!(
                coordinator = %self.inner.description,
                error = %cause,
                "the coordinator's tables were missing: created them again"
            ),
            Err(failure) => tracing::warn!(
                coordinator = %self.inner.description,
                error = %cause,
                failure = %lifespan_core::redact(&crate::failure::chain(&failure)),
                "the coordinator's tables are missing and could not be created again"
            ),
        }
    }
}
