//! The app's call that reads a once-per-point task's ledger from its coordinator.

use crate::inject::app_handle::App;
use crate::report::ledger_error::LedgerError;
use crate::status::ledger::{self, TaskLedger};

impl App {
    /// The ledger of the once-per-point task named `task` (its full name, or the last segment
    /// of only one), read from the app's coordinator: the runs of its latest `runs` points
    /// (at most 1000), latest first, *whichever replica ran them* — the point, the instance
    /// that ran it, the attempt, how it ended (or that it runs, or was interrupted), how long
    /// it took — and its count of missed points. [`status`](Self::status) shows only what
    /// this replica ran.
    ///
    /// One call to [`Coordinator::recent_runs`](crate::Coordinator::recent_runs): one
    /// statement with `lifespan-postgres`. The task is looked up among those of the current
    /// (or last) start.
    ///
    /// ```
    /// use lifespan_core::{App, InProcess, LedgerRunState, RunOutcome, TaskOptions};
    /// use std::time::{Duration, SystemTime};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> anyhow::Result<()> {
    /// # tokio::time::timeout(Duration::from_secs(3600), async {
    /// // Two replicas sharing one coordinator, whose clock is on a minute.
    /// let coordinator = InProcess::starting_at(SystemTime::UNIX_EPOCH + Duration::from_secs(60 * 28_333_333));
    /// let every_minute = TaskOptions::new().every(Duration::from_secs(60)).once_per_point(true);
    /// let replica = |instance: &str| -> anyhow::Result<App> {
    ///     let app = App::builder().empty().coordinator(coordinator.clone()).instance(instance).build();
    ///     app.register_task_with("digest", every_minute.clone(), || async {})?;
    ///     Ok(app)
    /// };
    /// let (a, b) = (replica("a")?, replica("b")?);
    /// a.start().await?;
    /// tokio::time::sleep(Duration::from_secs(3 * 60 + 30)).await;
    /// a.shutdown().await;
    /// b.start().await?;
    ///
    /// // b has run nothing yet, but its ledger shows a's three points.
    /// assert_eq!(b.status().task("digest").unwrap().runs, 0);
    /// let ledger = b.ledger("digest", 10).await?;
    /// let numbers: Vec<i64> = ledger.runs.iter().map(|run| run.number).collect();
    /// assert_eq!(numbers, [28_333_336, 28_333_335, 28_333_334]);
    /// let latest = &ledger.runs[0];
    /// assert_eq!((latest.instance.as_str(), latest.attempt), ("a", 1));
    /// assert_eq!((latest.state, latest.outcome), (LedgerRunState::Finished, Some(RunOutcome::Succeeded)));
    /// assert_eq!(ledger.missed, 0);
    ///
    /// let error = b.ledger("no_such_task", 10).await.unwrap_err();
    /// assert_eq!(error.task(), "no_such_task");
    /// b.shutdown().await;
    /// # Ok::<(), anyhow::Error>(())
    /// # }).await.expect("the example did not finish within an hour of virtual time")
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// A [`LedgerError`] naming the task: the app has not started yet, it has no such task,
    /// the task is not once-per-point, the coordinator shows no ledger, or it failed to answer.
    /// This call waits as long as the coordinator takes (for `lifespan-postgres`, at most its
    /// statement limit): bound it with a timeout where that matters.
    pub async fn ledger(&self, task: &str, runs: usize) -> Result<TaskLedger, LedgerError> {
        let Some(board) = self.board() else {
            return Err(LedgerError::NotStarted {
                task: task.to_owned(),
            });
        };
        ledger::read(
            &board.plan,
            &board.coordination,
            &board.shutdown,
            task,
            runs,
        )
        .await
    }
}
