//! The run ledger read back, on the claims' connection: a task's latest runs, whichever replica
//! ran them, and its count of missed points, in one statement.

use lifespan_core::{CoordinatorError, RecentRuns, RunOutcome, RunRecord};
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::Row;

use crate::coordinator::time;
use crate::session::{statement, Line};
use crate::{sql, PgCoordinator};

/// One row of [`sql::RECENT_RUNS`]: the clock, the count of missed points, and a run, if the
/// task has any.
struct Read {
    now: i64,
    missed: Option<i64>,
    run: Option<RunRecord>,
}

impl PgCoordinator {
    /// [`Coordinator::recent_runs`](lifespan_core::Coordinator::recent_runs) of `task`: the runs
    /// of its latest `limit` points.
    pub(crate) async fn recent(
        &self,
        task: &str,
        limit: usize,
    ) -> Result<RecentRuns, CoordinatorError> {
        let what = || format!("reading the ledger of `{task}`");
        let (task_owned, limit) = (task.to_owned(), i64::try_from(limit).unwrap_or(i64::MAX));
        let statement = statement::<Vec<Read>, _>(move |connection: &mut PgConnection, _| {
            Box::pin(async move {
                let rows = sqlx::query(sql::RECENT_RUNS)
                    .bind(&task_owned)
                    .bind(limit)
                    .fetch_all(connection)
                    .await?;
                rows.iter().map(read).collect()
            })
        });
        let rows = self
            .run(Line::Claims, statement, |_, _| {})
            .await
            .map_err(|failure| self.error(&what(), failure))?
            .value;
        let Some(first) = rows.first() else {
            return Err(self.no_row(&what()));
        };
        let (now, missed) = (time(first.now), first.missed.unwrap_or(0));
        let runs = rows.into_iter().filter_map(|read| read.run).collect();
        Ok(RecentRuns::new(
            runs,
            u64::try_from(missed).unwrap_or(0),
            now,
        ))
    }
}

/// A row of [`sql::RECENT_RUNS`].
fn read(row: &PgRow) -> Result<Read, sqlx::Error> {
    let point: Option<i64> = row.try_get(2)?;
    let run = match point {
        None => None,
        Some(point) => {
            let attempt: i32 = row.try_get(3)?;
            let finished: Option<i64> = row.try_get(8)?;
            let outcome: Option<String> = row.try_get(9)?;
            let record = RunRecord::new(
                point,
                u32::try_from(attempt).unwrap_or(0),
                row.try_get::<String, _>(4)?,
                row.try_get(5)?,
                time(row.try_get(6)?),
                time(row.try_get(7)?),
            )
            .manual(row.try_get(10)?);
            Some(match finished {
                Some(at) => {
                    let outcome = outcome.as_deref().and_then(RunOutcome::from_name);
                    record.finished(time(at), outcome)
                }
                None => record,
            })
        }
    };
    Ok(Read {
        now: row.try_get(0)?,
        missed: row.try_get(1)?,
        run,
    })
}
