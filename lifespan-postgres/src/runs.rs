//! The run ledger of once-per-point tasks, on the claims' connection: the database's clock,
//! claims of runs (a transaction holding the task's row in `lifespan_points`), their renewals
//! and their ends (one statement each).

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use lifespan_core::{CoordinatorError, Pause, PointRun, RunClaim, RunOutcome, RunRequest};
use sqlx::postgres::PgConnection;
use sqlx::{Executor, Row};

use crate::coordinator::{micros, time};
use crate::session::{statement, Line};
use crate::{sql, PgCoordinator};

/// What [`sql::CLAIM_RUN`] returns: the run started (point, attempt, token), the clock, the
/// last point before the claim, whether a run was in flight, the count of missed points.
struct Claimed {
    run: Option<(i64, i32, i64)>,
    now: i64,
    previous: Option<i64>,
    in_flight: bool,
    missed: i64,
    /// Whether the run started is manual.
    manual: bool,
    /// Who paused the task and since when (µs), if it is paused.
    paused: Option<(String, i64)>,
    /// Whether a manual run is asked for and not started.
    requested: bool,
}

/// A [`RunRequest`] as bound to [`sql::CLAIM_RUN`].
struct Bound {
    task: String,
    instance: String,
    points: Vec<i64>,
    earliest: bool,
    grace: Option<i64>,
    hold: i64,
    lease: i64,
    allow: bool,
    last_known: Option<i64>,
    missed: Vec<i64>,
}

impl Bound {
    fn new(request: &RunRequest) -> Self {
        Bound {
            task: request.task.clone(),
            instance: request.instance.clone(),
            points: request.points.clone(),
            earliest: request.earliest,
            grace: request.grace.map(micros),
            hold: micros(request.hold),
            lease: micros(request.lease),
            allow: request.overlap == lifespan_core::Overlap::Allow,
            last_known: request.last_known,
            missed: request
                .missed
                .iter()
                .map(|&missed| i64::try_from(missed).unwrap_or(i64::MAX))
                .collect(),
        }
    }
}

impl PgCoordinator {
    /// [`Coordinator::now`](lifespan_core::Coordinator::now): the database's clock.
    pub(crate) async fn clock(&self) -> Result<SystemTime, CoordinatorError> {
        let statement = statement::<i64, _>(|connection: &mut PgConnection, _| {
            Box::pin(sqlx::query_scalar::<_, i64>(sql::NOW).fetch_one(connection))
        });
        let answer = self
            .run(Line::Claims, statement, |_, _| {})
            .await
            .map_err(|failure| self.error("reading the database's clock", failure))?;
        Ok(time(answer.value))
    }

    /// [`Coordinator::claim_run`](lifespan_core::Coordinator::claim_run) of `request`: a
    /// transaction that locks the task's row (creating it first if the task has none), then
    /// decides in one statement.
    pub(crate) async fn claim(&self, request: &RunRequest) -> Result<RunClaim, CoordinatorError> {
        let what = || format!("claiming a run of `{}`", request.task);
        let (coordinator, bound) = (self.clone(), Bound::new(request));
        let statement = statement::<Claimed, _>(move |connection: &mut PgConnection, _| {
            Box::pin(async move { coordinator.claim_in_transaction(connection, &bound).await })
        });
        let claimed = self
            .run(Line::Claims, statement, |_, _| {})
            .await
            .map_err(|failure| self.error(&what(), failure))?
            .value;
        let now = time(claimed.now);
        let run = claimed.run.map(|(point, attempt, token)| {
            let attempt = u32::try_from(attempt).unwrap_or(1);
            PointRun::new(&request.task, &request.instance, point, attempt, token, now)
                .manual(claimed.manual)
        });
        let missed = u64::try_from(claimed.missed).unwrap_or(0);
        let paused = claimed
            .paused
            .map(|(by, since)| Pause::new(by, time(since)));
        Ok(RunClaim::new(run, now, claimed.previous)
            .in_flight(claimed.in_flight)
            .missed(missed)
            .paused(paused)
            .requested(claimed.requested))
    }

    /// The transaction of [`claim`](Self::claim) on `connection`, rolled back if a statement
    /// fails.
    async fn claim_in_transaction(
        &self,
        connection: &mut PgConnection,
        bound: &Bound,
    ) -> Result<Claimed, sqlx::Error> {
        Executor::execute(&mut *connection, "BEGIN").await?;
        match self.claim_locked(connection, bound).await {
            Ok(claimed) => {
                self.count(1);
                Executor::execute(&mut *connection, "COMMIT").await?;
                Ok(claimed)
            }
            Err(error) => {
                self.count(1);
                Executor::execute(&mut *connection, "ROLLBACK").await?;
                Err(error)
            }
        }
    }

    /// Locks the row of the task (created if missing), then claims.
    async fn claim_locked(
        &self,
        connection: &mut PgConnection,
        bound: &Bound,
    ) -> Result<Claimed, sqlx::Error> {
        let lock = || sqlx::query(sql::LOCK_TASK).bind(&bound.task);
        self.count(1);
        if lock().fetch_optional(&mut *connection).await?.is_none() {
            // The task's first claim: its row is made, or waited for if another replica makes
            // it at once.
            self.count(2);
            sqlx::query(sql::CREATE_TASK)
                .bind(&bound.task)
                .bind(&bound.instance)
                .execute(&mut *connection)
                .await?;
            lock().execute(&mut *connection).await?;
        }
        self.count(1);
        let row = sqlx::query(sql::CLAIM_RUN)
            .bind(&bound.task)
            .bind(&bound.instance)
            .bind(&bound.points)
            .bind(bound.earliest)
            .bind(bound.grace)
            .bind(bound.hold)
            .bind(bound.lease)
            .bind(bound.allow)
            .bind(bound.last_known)
            .bind(&bound.missed)
            .fetch_one(&mut *connection)
            .await?;
        let point: Option<i64> = row.try_get(0)?;
        let attempt: Option<i32> = row.try_get(1)?;
        let token: Option<i64> = row.try_get(2)?;
        Ok(Claimed {
            run: point.zip(attempt).zip(token).map(|((p, a), t)| (p, a, t)),
            now: row.try_get(3)?,
            previous: row.try_get(4)?,
            in_flight: row.try_get(5)?,
            missed: row.try_get(6)?,
            manual: row.try_get(7)?,
            paused: row
                .try_get::<Option<String>, _>(8)?
                .zip(row.try_get::<Option<i64>, _>(9)?),
            requested: row.try_get(10)?,
        })
    }

    /// Counts `statements` more sent than the one [`run`](Self::run) counts for each call.
    fn count(&self, statements: u64) {
        self.inner.queries.fetch_add(statements, Ordering::Relaxed);
    }

    /// [`Coordinator::renew_run`](lifespan_core::Coordinator::renew_run) of `run` by `lease`.
    pub(crate) async fn renew_point_run(
        &self,
        run: &PointRun,
        lease: Duration,
    ) -> Result<bool, CoordinatorError> {
        let what = || format!("renewing the run of `{}` at {}", run.task, run.point);
        let (task, point, token, lease) = (run.task.clone(), run.point, run.token, micros(lease));
        let statement = statement::<u64, _>(move |connection: &mut PgConnection, _| {
            Box::pin(async move {
                let done = sqlx::query(sql::RENEW_RUN)
                    .bind(&task)
                    .bind(point)
                    .bind(token)
                    .bind(lease)
                    .execute(connection)
                    .await?;
                Ok(done.rows_affected())
            })
        });
        let answer = self
            .run(Line::Claims, statement, |_, _| {})
            .await
            .map_err(|failure| self.error(&what(), failure))?;
        Ok(answer.value == 1)
    }

    /// [`Coordinator::finish_run`](lifespan_core::Coordinator::finish_run) of `run`, ended with
    /// `outcome`; forgets the task's finished runs but the [`keep_runs`](Self::keep_runs)
    /// latest.
    pub(crate) async fn finish_point_run(
        &self,
        run: &PointRun,
        outcome: RunOutcome,
    ) -> Result<bool, CoordinatorError> {
        let what = || format!("finishing the run of `{}` at {}", run.task, run.point);
        let (task, point, token) = (run.task.clone(), run.point, run.token);
        let kept = i64::try_from(self.kept_runs()).unwrap_or(i64::MAX);
        let statement = statement::<i64, _>(move |connection: &mut PgConnection, _| {
            Box::pin(async move {
                sqlx::query_scalar::<_, i64>(sql::FINISH_RUN)
                    .bind(&task)
                    .bind(point)
                    .bind(token)
                    .bind(outcome.as_str())
                    .bind(kept)
                    .fetch_one(connection)
                    .await
            })
        });
        let answer = self
            .run(Line::Claims, statement, |_, _| {})
            .await
            .map_err(|failure| self.error(&what(), failure))?;
        Ok(answer.value == 1)
    }
}
