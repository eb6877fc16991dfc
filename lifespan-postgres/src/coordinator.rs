//! The [`Coordinator`] implementation: one statement per call, but for the claims of runs
//! (a transaction of their own: see [`crate::runs`]).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lifespan_core::{
    Acquired, Coordinator, CoordinatorError, CoordinatorFuture, Holder, LeaseRequest, Pause,
    PointRun, RecentRuns, ReplicaStatuses, RunClaim, RunOutcome, RunRequest, Term,
};
use sqlx::postgres::PgConnection;
use sqlx::Row;

use crate::failure::Cause;
use crate::session::{is_connection_error, statement, Failure, Line};
use crate::tables::{self, TablesError};
use crate::{sql, PgCoordinator};

/// The longest duration sent to the database: a century. Longer ones are cut to it, so that
/// `now() + lease` stays a valid timestamp.
const MAX_MICROS: i64 = 100 * 366 * 24 * 3600 * 1_000_000;

/// A lease row as `ACQUIRE` returns it: holder, token, the term's start (µs since the epoch),
/// whether it was granted; `None` if the task never had a lease.
type LeaseRow = (String, i64, i64, bool);

/// What `ACQUIRE` returns: the lease row, and the task's pause (who, since when in µs).
type AcquireRow = (Option<LeaseRow>, Option<(String, i64)>);

impl PgCoordinator {
    /// [`Coordinator::acquire`] of `task` for `instance`, for `lease`.
    ///
    /// A term granted to a call whose caller gave up (a timeout) is remembered, and released
    /// by the next acquire of that task, before it asks again: nobody runs the task in a term
    /// its caller never received, and the next term has a new token.
    async fn acquire_lease(
        &self,
        task: &str,
        instance: &str,
        lease: Duration,
    ) -> Result<Acquired, CoordinatorError> {
        let what = || format!("acquiring the lease of `{task}`");
        let (coordinator, orphan) = (self.clone(), task.to_owned());
        let (task_owned, instance) = (task.to_owned(), instance.to_owned());
        let statement = statement::<AcquireRow, _>(move |connection: &mut PgConnection, _| {
            Box::pin(async move {
                coordinator
                    .release_unclaimed(connection, &task_owned)
                    .await?;
                let row = sqlx::query(sql::ACQUIRE)
                    .bind(&task_owned)
                    .bind(&instance)
                    .bind(micros(lease))
                    .fetch_one(&mut *connection)
                    .await?;
                let holder: Option<String> = row.try_get(0)?;
                let lease = match holder {
                    Some(holder) => {
                        Some((holder, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?))
                    }
                    None => None,
                };
                let paused_by: Option<String> = row.try_get(4)?;
                let paused_at: Option<i64> = row.try_get(5)?;
                Ok((lease, paused_by.zip(paused_at)))
            })
        });
        let unclaimed = move |coordinator: &PgCoordinator, row: AcquireRow| {
            if let (Some((_, token, _, true)), _) = row {
                coordinator.remember_unclaimed(orphan, token);
            }
        };
        let answer = self
            .run(Line::Leases, statement, unclaimed)
            .await
            .map_err(|failure| self.error(&what(), failure))?;
        Ok(match answer.value {
            (Some((holder, token, since, true)), _) => Acquired::Granted(
                Term::new(task, holder, token, time(since)).with_session(answer.session),
            ),
            (_, Some((by, since))) => Acquired::Paused(Pause::new(by, time(since))),
            (None, None) => Acquired::Held(None),
            (Some((holder, token, since, false)), None) => {
                Acquired::Held(Some(Holder::new(holder, token, time(since))))
            }
        })
    }

    /// Remembers that the term `token` of `task` was granted to a caller that gave up.
    fn remember_unclaimed(&self, task: String, token: i64) {
        tracing::debug!(task, token, "a term was granted after its caller gave up");
        self.unclaimed().insert(task, token);
    }

    /// Releases the term of `task` granted to a caller that gave up, if there is one.
    async fn release_unclaimed(
        &self,
        connection: &mut PgConnection,
        task: &str,
    ) -> Result<(), sqlx::Error> {
        let Some(token) = self.unclaimed().get(task).copied() else {
            return Ok(());
        };
        self.inner.queries.fetch_add(1, Ordering::Relaxed);
        sqlx::query(sql::RELEASE)
            .bind(task)
            .bind(token)
            .execute(connection)
            .await?;
        self.unclaimed().remove(task);
        tracing::debug!(task, token, "released a term its caller never received");
        Ok(())
    }

    fn unclaimed(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        self.inner
            .unclaimed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// [`Coordinator::renew`] of `term` by `lease`.
    async fn renew_term(&self, term: &Term, lease: Duration) -> Result<bool, CoordinatorError> {
        let (task, token, lease) = (term.task.clone(), term.token, micros(lease));
        let statement = statement::<u64, _>(move |connection: &mut PgConnection, _| {
            Box::pin(async move {
                let done = sqlx::query(sql::RENEW)
                    .bind(&task)
                    .bind(token)
                    .bind(lease)
                    .execute(connection)
                    .await?;
                Ok(done.rows_affected())
            })
        });
        match self.run_in(Line::Leases, term.session, statement).await {
            // The session the term was granted on has ended: so has the term.
            Ok(None) => Ok(false),
            Ok(Some(answer)) => Ok(answer.value == 1),
            Err(Failure::Statement(error)) if is_connection_error(&error) => {
                tracing::warn!(
                    task = %term.task,
                    token = term.token,
                    error = %Cause::new(&error),
                    "the lease's session ended: the lease is lost"
                );
                Ok(false)
            }
            Err(failure) => {
                Err(self.error(&format!("renewing the lease of `{}`", term.task), failure))
            }
        }
    }
}

/// `duration` in microseconds, as sent to the database.
pub(crate) fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros())
        .unwrap_or(i64::MAX)
        .min(MAX_MICROS)
}

/// The time `micros` microseconds since the Unix epoch.
pub(crate) fn time(micros: i64) -> SystemTime {
    let offset = Duration::from_micros(micros.unsigned_abs());
    if micros >= 0 {
        UNIX_EPOCH + offset
    } else {
        UNIX_EPOCH - offset
    }
}

impl Coordinator for PgCoordinator {
    fn describe(&self) -> String {
        self.inner.description.clone()
    }

    fn prepare(&self) -> CoordinatorFuture<'_, ()> {
        Box::pin(async move {
            let statement =
                statement::<Result<(), TablesError>, _>(|connection: &mut PgConnection, _| {
                    Box::pin(async move {
                        match tables::prepare(connection).await {
                            Err(TablesError::Database(error)) => Err(error),
                            other => Ok(other),
                        }
                    })
                });
            let what = "preparing the tables";
            let answer = self
                .run(Line::Leases, statement, |_, _| {})
                .await
                .map_err(|failure| self.error(what, failure))?;
            answer.value.map_err(|error| {
                CoordinatorError::new(format!("{what} on {}", self.inner.description), error)
            })
        })
    }

    fn acquire<'a>(&'a self, request: &'a LeaseRequest) -> CoordinatorFuture<'a, Acquired> {
        Box::pin(self.acquire_lease(&request.task, &request.instance, request.lease))
    }

    fn renew<'a>(&'a self, term: &'a Term, lease: Duration) -> CoordinatorFuture<'a, bool> {
        Box::pin(self.renew_term(term, lease))
    }

    fn release<'a>(&'a self, term: &'a Term) -> CoordinatorFuture<'a, ()> {
        Box::pin(async move {
            let what = || format!("releasing the lease of `{}`", term.task);
            let (task, token) = (term.task.clone(), term.token);
            let statement = statement::<(), _>(move |connection: &mut PgConnection, _| {
                Box::pin(async move {
                    sqlx::query(sql::RELEASE)
                        .bind(&task)
                        .bind(token)
                        .execute(connection)
                        .await
                        .map(drop)
                })
            });
            self.run(Line::Leases, statement, |_, _| {})
                .await
                .map_err(|failure| self.error(&what(), failure))?;
            Ok(())
        })
    }

    fn now(&self) -> CoordinatorFuture<'_, SystemTime> {
        Box::pin(self.clock())
    }

    fn claim_run<'a>(&'a self, request: &'a RunRequest) -> CoordinatorFuture<'a, RunClaim> {
        Box::pin(self.claim(request))
    }

    fn renew_run<'a>(&'a self, run: &'a PointRun, lease: Duration) -> CoordinatorFuture<'a, bool> {
        Box::pin(self.renew_point_run(run, lease))
    }

    fn finish_run<'a>(
        &'a self,
        run: &'a PointRun,
        outcome: RunOutcome,
    ) -> CoordinatorFuture<'a, bool> {
        Box::pin(self.finish_point_run(run, outcome))
    }

    fn recent_runs<'a>(
        &'a self,
        task: &'a str,
        limit: usize,
    ) -> CoordinatorFuture<'a, Option<RecentRuns>> {
        Box::pin(async move { self.recent(task, limit).await.map(Some) })
    }

    fn pause<'a>(&'a self, task: &'a str, by: &'a str) -> CoordinatorFuture<'a, Option<Pause>> {
        Box::pin(async move { self.pause_task(task, by).await.map(Some) })
    }

    fn resume<'a>(&'a self, task: &'a str) -> CoordinatorFuture<'a, bool> {
        Box::pin(self.resume_task(task))
    }

    fn request_run<'a>(&'a self, task: &'a str, by: &'a str) -> CoordinatorFuture<'a, bool> {
        Box::pin(async move { self.request_manual_run(task, by).await.map(|()| true) })
    }

    fn publish_status<'a>(
        &'a self,
        instance: &'a str,
        status: &'a str,
        ttl: Duration,
    ) -> CoordinatorFuture<'a, bool> {
        Box::pin(async move { self.publish(instance, status, ttl).await.map(|()| true) })
    }

    fn replica_statuses(&self) -> CoordinatorFuture<'_, Option<ReplicaStatuses>> {
        Box::pin(async move { self.statuses().await.map(Some) })
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
    }
}
