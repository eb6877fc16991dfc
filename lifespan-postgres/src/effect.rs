//! Fencing in the app's own transactions: an effect written once per point, whatever the
//! takeovers, and writes guarded by a singleton's lease.

use lifespan_core::{point_time, Lease, Point};
use sqlx::postgres::PgConnection;

use crate::sql;

/// Why a fenced write must not happen: see [`claim_effect`] and [`check_lease`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EffectError {
    /// The point's run is no longer this attempt's: another replica took it over (its lease
    /// expired), or it has finished or expired, and no attempt's effect was committed. Roll
    /// back: the attempt that took over writes the effect.
    #[error(
        "attempt {attempt} of point {number} of `{task}` (token {token}) is no longer the point's current run"
    )]
    StaleRun {
        /// The task's name.
        task: String,
        /// The point's number.
        number: i64,
        /// The stale attempt.
        attempt: u32,
        /// Its fencing token.
        token: i64,
    },
    /// The lease's term is over: another replica holds the lease now, or it expired. Roll
    /// back.
    #[error("the lease of `{task}` of token {token} is no longer current")]
    StaleLease {
        /// The task's name.
        task: String,
        /// The stale term's fencing token.
        token: i64,
    },
    /// A statement failed.
    #[error("checking the fencing token in the ledger")]
    Database(#[from] sqlx::Error),
}

impl EffectError {
    /// Whether the write was refused because its attempt or term is over (not a database
    /// failure).
    pub fn is_stale(&self) -> bool {
        matches!(
            self,
            EffectError::StaleRun { .. } | EffectError::StaleLease { .. }
        )
    }
}

/// Claims, in the caller's open transaction on `connection`, the effect of `point`'s run: the
/// one write (or set of writes) that must happen once per point, whatever the takeovers.
///
/// - `Ok(true)`: this attempt is the point's current run and no effect was committed: write it
///   in this transaction, then commit. The point's row of the ledger (`lifespan_runs`) stays
///   locked until the transaction ends, so a replica taking the point over waits for it, and
///   then finds the effect done.
/// - `Ok(false)`: an attempt's effect was already committed (an earlier attempt's, before this
///   one took the point over; or, for a stale attempt, that of the attempt that took it over
///   from it): skip the write.
/// - `Err(EffectError::StaleRun)`: this attempt was taken over, has finished, or its lease
///   expired, before any effect was committed: roll back; the attempt that takes it over
///   writes the effect.
///
/// The effect counts as done only if the transaction commits: rolled back, the next attempt
/// (or this one, in a new transaction) claims it again. Called outside a transaction, it marks
/// the effect done at once and holds no lock. Keep the transaction short: while it holds the
/// point's row, the renewals of the run's lease wait for it (on the coordinator's claims
/// connection), and so does a takeover.
///
/// One statement, and a second one if the effect is not claimed (to tell a done effect from
/// a stale attempt).
///
/// ```no_run
/// use lifespan_core::Point;
/// use lifespan_postgres::claim_effect;
///
/// // The body of a once-per-point task (`#[lifespan(every = "1h", once_per_point)]`).
/// async fn hourly_invoice(
///     point: Point,
///     pool: sqlx::PgPool,
/// ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
///     let mut transaction = pool.begin().await?;
///     if !claim_effect(&mut transaction, &point).await? {
///         // An earlier attempt of this point committed its invoice: nothing to do.
///         return Ok(());
///     }
///     sqlx::query("INSERT INTO invoices (hour, total) SELECT $1, sum(amount) FROM usage")
///         .bind(point.number())
///         .execute(&mut *transaction)
///         .await?;
///     transaction.commit().await?;
///     Ok(())
/// }
/// ```
pub async fn claim_effect(
    connection: &mut PgConnection,
    point: &Point,
) -> Result<bool, EffectError> {
    let time = point_time(point.scheduled());
    let claimed = sqlx::query(sql::CLAIM_EFFECT)
        .bind(point.task())
        .bind(time)
        .bind(point.token())
        .fetch_optional(&mut *connection)
        .await?;
    if claimed.is_some() {
        return Ok(true);
    }
    let done: Option<bool> = sqlx::query_scalar(sql::EFFECT_DONE)
        .bind(point.task())
        .bind(time)
        .fetch_optional(&mut *connection)
        .await?;
    if done == Some(true) {
        return Ok(false);
    }
    Err(EffectError::StaleRun {
        task: point.task().to_owned(),
        number: point.number(),
        attempt: point.attempt(),
        token: point.token(),
    })
}

/// Checks, in the caller's open transaction on `connection`, that `lease` (of the singleton
/// task `task`) is still the current term and not expired, and locks the lease's row
/// (`FOR SHARE`) until the transaction ends: a replica taking the lease over waits for the
/// transaction, so the writes made in it are the holder's. `Err(EffectError::StaleLease)`: the
/// term is over; roll back.
///
/// Keep the transaction short: the renewals of that lease wait for it too (on the
/// coordinator's leases connection). One statement.
///
/// ```no_run
/// use lifespan_core::Lease;
/// use lifespan_postgres::check_lease;
///
/// // The body of a singleton task named `billing::sweep`.
/// async fn sweep(
///     lease: Lease,
///     pool: sqlx::PgPool,
/// ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
///     let mut transaction = pool.begin().await?;
///     check_lease(&mut transaction, "billing::sweep", &lease).await?;
///     sqlx::query("DELETE FROM sessions WHERE expires_at < now()")
///         .execute(&mut *transaction)
///         .await?;
///     transaction.commit().await?;
///     Ok(())
/// }
/// ```
pub async fn check_lease(
    connection: &mut PgConnection,
    task: &str,
    lease: &Lease,
) -> Result<(), EffectError> {
    let current = sqlx::query(sql::CHECK_LEASE)
        .bind(task)
        .bind(lease.token())
        .fetch_optional(connection)
        .await?;
    match current {
        Some(_) => Ok(()),
        None => Err(EffectError::StaleLease {
            task: task.to_owned(),
            token: lease.token(),
        }),
    }
}
