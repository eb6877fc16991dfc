//! The [`Coordinator`] implementation: one statement per call.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lifespan_core::{
    Acquired, Coordinator, CoordinatorError, CoordinatorFuture, Holder, LeaseRequest, PointClaim,
    PointRequest, Term,
};
use sqlx::Row;

use crate::session::is_connection_error;
use crate::{sql, PgCoordinator};

/// The longest duration sent to the database: a century. Longer ones are cut to it, so that
/// `now() + lease` stays a valid timestamp.
const MAX_MICROS: i64 = 100 * 366 * 24 * 3600 * 1_000_000;

impl PgCoordinator {
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

    /// [`Coordinator::claim_explicit_point`] `point` of `task` for `instance`, holding later
    /// points off for `hold`.
    async fn claim_named(
        &self,
        request: &PointRequest,
        point: i64,
    ) -> Result<PointClaim, CoordinatorError> {
        let what = || format!("claiming the occurrence {point} of `{}`", request.task);
        let mut session = self.session().await?;
        let result = sqlx::query_scalar::<_, i64>(sql::CLAIM_EXPLICIT_POINT)
            .bind(&request.task)
            .bind(&request.instance)
            .bind(point)
            .bind(micros(request.hold))
            .fetch_optional(session.send())
            .await;
        session.finish(&result);
        let won = result.map_err(|error| self.error(&what(), error))?;
        Ok(PointClaim::new(won, Duration::ZERO))
    }

    /// The error of `operation` (`renewing the lease of `x``) caused by `error`.
    fn error(&self, operation: &str, error: sqlx::Error) -> CoordinatorError {
        CoordinatorError::new(format!("{operation} on {}", self.inner.description), error)
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
            let Some(mut session) = self.resume(term.session).await? else {
                // The session the term was granted on has ended: so has the term.
                return Ok(false);
            };
            let what = || format!("renewing the lease of `{}`", term.task);
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

    fn claim_explicit_point<'a>(
        &'a self,
        request: &'a PointRequest,
        point: i64,
    ) -> CoordinatorFuture<'a, PointClaim> {
        Box::pin(self.claim_named(request, point))
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
    fn durations_and_times_convert() {
        assert_eq!(micros(Duration::from_millis(1500)), 1_500_000);
        assert_eq!(micros(Duration::MAX), MAX_MICROS);
        assert_eq!(time(1_000_000), UNIX_EPOCH + Duration::from_secs(1));
        assert_eq!(time(-1_000_000), UNIX_EPOCH - Duration::from_secs(1));
        assert_eq!(duration(-5), Duration::ZERO);
        assert_eq!(duration(2_000), Duration::from_millis(2));
    }
}
