//! What operators ask of a task, on the claims' connection: its pause, kept in
//! `lifespan_control` for every replica until resumed, and a manual run for the next claim to
//! start. One statement each; the claims and the acquires read the row in their own statements.

use lifespan_core::{CoordinatorError, Pause};
use sqlx::postgres::PgConnection;

use crate::coordinator::time;
use crate::session::{statement, Line};
use crate::{sql, PgCoordinator};

impl PgCoordinator {
    /// [`Coordinator::pause`](lifespan_core::Coordinator::pause) of `task` by `by`: the pause
    /// in force.
    pub(crate) async fn pause_task(&self, task: &str, by: &str) -> Result<Pause, CoordinatorError> {
        let what = || format!("pausing `{task}`");
        let (task_owned, by) = (task.to_owned(), by.to_owned());
        let statement = statement::<(String, i64), _>(move |connection: &mut PgConnection, _| {
            Box::pin(async move {
                sqlx::query_as(sql::PAUSE)
                    .bind(&task_owned)
                    .bind(&by)
                    .fetch_one(connection)
                    .await
            })
        });
        let (by, since) = self
            .run(Line::Claims, statement, |_, _| {})
            .await
            .map_err(|failure| self.error(&what(), failure))?
            .value;
        Ok(Pause::new(by, time(since)))
    }

    /// [`Coordinator::resume`](lifespan_core::Coordinator::resume) of `task`: whether it was
    /// paused.
    pub(crate) async fn resume_task(&self, task: &str) -> Result<bool, CoordinatorError> {
        let what = || format!("resuming `{task}`");
        let task_owned = task.to_owned();
        let statement = statement::<u64, _>(move |connection: &mut PgConnection, _| {
            Box::pin(async move {
                let done = sqlx::query(sql::RESUME)
                    .bind(&task_owned)
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

    /// [`Coordinator::request_run`](lifespan_core::Coordinator::request_run) of `task` by `by`.
    pub(crate) async fn request_manual_run(
        &self,
        task: &str,
        by: &str,
    ) -> Result<(), CoordinatorError> {
        let what = || format!("asking for a manual run of `{task}`");
        let (task_owned, by) = (task.to_owned(), by.to_owned());
        let statement = statement::<(), _>(move |connection: &mut PgConnection, _| {
            Box::pin(async move {
                sqlx::query(sql::REQUEST_RUN)
                    .bind(&task_owned)
                    .bind(&by)
                    .execute(connection)
                    .await
                    .map(drop)
            })
        });
        self.run(Line::Claims, statement, |_, _| {})
            .await
            .map_err(|failure| self.error(&what(), failure))?;
        Ok(())
    }
}
