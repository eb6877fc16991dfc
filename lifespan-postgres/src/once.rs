//! Work done once across every replica and every restart, such as a migration or a backfill: a
//! key claimed in the app's own transaction.

use sqlx::postgres::PgConnection;

use crate::sql;

/// Why [`claim_once`] could not claim its key: a statement failed (the connection, or the table
/// `lifespan_once` missing because no `PgCoordinator` prepared this database).
#[derive(Debug, thiserror::Error)]
#[error("claiming the one-shot work `{key}` in the table `lifespan_once`")]
pub struct OnceError {
    key: String,
    #[source]
    source: sqlx::Error,
}

impl OnceError {
    /// The key that could not be claimed.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// Claims, in the caller's open transaction on `connection`, the one-shot work named `key`:
/// work that must happen once across every replica of the app and all their restarts (a data
/// migration, a backfill, a seed), where a singleton would not do: a singleton's body that
/// returns gives its lease up, and the next replica to take the lease runs it again.
///
/// - `Ok(true)`: no transaction has committed this key: do the work in this transaction, then
///   commit. The key is done once the transaction commits; rolled back (an error, a crash, a
///   lost connection), it is not, and the next claim does the work.
/// - `Ok(false)`: the work was done and committed before: skip it.
///
/// While a transaction that claimed the key is open, every other claim of it waits for that
/// transaction to end, then answers by its outcome: replicas starting together do the work once,
/// and none goes on before it is done. So claim it where the others should wait for it, such
/// as in the setup of a context that the app's tasks depend on, and keep the work short enough
/// to hold a transaction open (for a long backfill, claim one key per batch).
///
/// The table `lifespan_once` (the key and when it was done) is created with the coordinator's
/// tables, by [`PgCoordinator`](crate::PgCoordinator) at startup, in the database (and schema)
/// its URL names. Delete a key's row to have the work done again. One statement.
///
/// ```no_run
/// use lifespan_core::{lifespan_context, State, Yield};
/// use lifespan_postgres::claim_once;
///
/// /// Fills the new column once, whichever replica starts first; the others wait for it.
/// #[lifespan_context]
/// async fn backfill(
///     db: State<sqlx::PgPool>,
///     lifespan: Yield,
/// ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
///     let mut transaction = db.begin().await?;
///     if claim_once(&mut transaction, "2026-12 orders.region backfill").await? {
///         sqlx::query("UPDATE orders SET region = 'eu' WHERE region IS NULL")
///             .execute(&mut *transaction)
///             .await?;
///     }
///     transaction.commit().await?;
///     lifespan.ready().await;
///     Ok(())
/// }
/// ```
pub async fn claim_once(connection: &mut PgConnection, key: &str) -> Result<bool, OnceError> {
    let claimed = sqlx::query(sql::CLAIM_ONCE)
        .bind(key)
        .fetch_optional(connection)
        .await
        .map_err(|source| OnceError {
            key: key.to_owned(),
            source,
        })?;
    Ok(claimed.is_some())
}
