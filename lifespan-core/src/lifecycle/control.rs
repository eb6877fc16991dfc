//! The app's calls that operate a periodic or singleton task by hand: trigger a run now, pause
//! its schedule, resume it.

use std::sync::Arc;

use crate::inject::app_handle::App;
use crate::registration::entry::Entry;
use crate::replicas::Pause;
use crate::report::control_error::{ControlAction, ControlError};
use crate::report::outcome::find;
use crate::status::board::Board;
use crate::status::requests::TaskCoordinator;

/// The task of a running app that a call controls.
struct Target {
    board: Arc<Board>,
    index: usize,
    action: ControlAction,
}

impl Target {
    fn entry(&self) -> &Entry {
        self.board.plan.task(self.index)
    }

    /// Whether the coordinator keeps its pause: a singleton's or a once-per-point task's.
    fn coordinated(&self) -> bool {
        let options = self.entry().options();
        options.singleton || options.once_per_point
    }

    fn refused(&self, why: &'static str) -> ControlError {
        ControlError::NotControllable {
            task: self.entry().name.clone(),
            action: self.action,
            why,
        }
    }

    fn unsupported(&self) -> ControlError {
        ControlError::NotSupported {
            task: self.entry().name.clone(),
            action: self.action,
            coordinator: self.board.coordination.coordinator.describe(),
        }
    }

    fn failed(&self, source: crate::replicas::CoordinatorError) -> ControlError {
        ControlError::Coordinator {
            task: self.entry().name.clone(),
            action: self.action,
            coordinator: self.board.coordination.coordinator.describe(),
            source,
        }
    }
}

impl App {
    /// Runs the periodic task named `task` (its full name, or the last segment of only one)
    /// once now, outside its schedule: a *manual run*, counted in its status
    /// ([`TaskStatus::manual_runs`](crate::TaskStatus::manual_runs)). Its schedule goes on as
    /// it was; a run in progress finishes first. Its end is recorded and logged as any run's,
    /// and is never retried nor restarted.
    ///
    /// A once-per-point task's manual run runs on one replica only across the fleet: the
    /// coordinator records the request ([`Coordinator::request_run`](crate::Coordinator::request_run)),
    /// and the first claim that starts no point, this replica's at once, starts it, as a
    /// leased run of the ledger marked manual. If another replica paused the task and this one
    /// has not heard of it yet (it hears at its next claim), the request waits in the
    /// coordinator and runs after the resume. A singleton's runs only on the replica that holds
    /// its lease.
    ///
    /// ```
    /// use lifespan_core::{App, TaskOptions};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> anyhow::Result<()> {
    /// # tokio::time::timeout(Duration::from_secs(3600), async {
    /// let app = App::empty();
    /// app.register_task_with("report", TaskOptions::new().every(Duration::from_secs(3600)), || async {})?;
    /// app.start().await?;
    /// app.trigger("report").await?;
    /// tokio::time::sleep(Duration::from_secs(1)).await;
    /// let status = app.status();
    /// let report = status.task("report").unwrap();
    /// assert_eq!((report.runs, report.manual_runs), (1, 1));
    /// app.shutdown().await;
    /// # Ok::<(), anyhow::Error>(())
    /// # }).await.expect("the example did not finish within an hour of virtual time")
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// A [`ControlError`] naming the task: the app is not running, it has no such task, the
    /// task is not periodic or has ended, it is paused, another replica holds its lease, or
    /// the coordinator keeps no manual runs or failed to answer.
    pub async fn trigger(&self, task: &str) -> Result<(), ControlError> {
        let target = self.target(task, ControlAction::Trigger)?;
        let options = target.entry().options();
        if !options.is_periodic() {
            return Err(target.refused("it is not periodic (it has neither `every` nor `cron`)"));
        }
        if let Some(pause) = target.board.controls.paused(target.index) {
            return Err(ControlError::Paused {
                task: target.entry().name.clone(),
                pause,
            });
        }
        if options.singleton && !target.board.held_here(target.index) {
            return Err(ControlError::NotHeldHere {
                task: target.entry().name.clone(),
            });
        }
        if options.once_per_point {
            let instance = &target.board.coordination.instance;
            let recorded = TaskCoordinator::new(&target.board, target.index)
                .request_run(&target.entry().name, instance)
                .await
                .map_err(|source| target.failed(source))?;
            if !recorded {
                return Err(target.unsupported());
            }
        }
        tracing::info!(
            "lifespan task `{}` triggered by hand",
            target.entry().label()
        );
        target.board.controls.trigger(target.index);
        Ok(())
    }

    /// Pauses the task named `task`: no new run of it starts until [`resume`](Self::resume);
    /// a run in progress finishes. Returns the pause in force: this one, or an earlier one,
    /// kept. Its status shows it ([`TaskStatus::paused`](crate::TaskStatus::paused)).
    ///
    /// A periodic task: its schedule stops. A singleton: its holder's next renewal is refused,
    /// so it stops its task and releases the lease, and no replica is granted it while paused.
    /// A once-per-point task: no replica's claim starts a point (nor takes over an interrupted
    /// run). For those two, the coordinator keeps the pause ([`Coordinator::pause`](crate::Coordinator::pause)):
    /// it holds for every replica sharing it, and across their restarts, until resumed from
    /// any of them; the other replicas show it from their next request for the lease or claim.
    /// For any other periodic task, which the replicas run each on its own, the pause is this
    /// replica's alone, for this start of the app: it asks nothing of the coordinator.
    ///
    /// ```
    /// use lifespan_core::{App, TaskOptions};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> anyhow::Result<()> {
    /// # tokio::time::timeout(Duration::from_secs(3600), async {
    /// let app = App::builder().empty().instance("web-1").build();
    /// app.register_task_with("sweep", TaskOptions::new().every(Duration::from_secs(60)), || async {})?;
    /// app.start().await?;
    /// let pause = app.pause("sweep").await?;
    /// assert_eq!(pause.by, "web-1");
    /// tokio::time::sleep(Duration::from_secs(600)).await;
    /// assert_eq!(app.status().task("sweep").unwrap().runs, 0);
    /// assert!(app.resume("sweep").await?);
    /// tokio::time::sleep(Duration::from_secs(60)).await;
    /// assert_eq!(app.status().task("sweep").unwrap().runs, 1);
    /// app.shutdown().await;
    /// # Ok::<(), anyhow::Error>(())
    /// # }).await.expect("the example did not finish within an hour of virtual time")
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// A [`ControlError`] naming the task: the app is not running, it has no such task, the
    /// task is neither periodic nor a singleton, or the coordinator keeps no pauses or failed
    /// to answer.
    pub async fn pause(&self, task: &str) -> Result<Pause, ControlError> {
        let target = self.pausable(task, ControlAction::Pause)?;
        let (board, index) = (&target.board, target.index);
        let pause = if target.coordinated() {
            TaskCoordinator::new(board, index)
                .pause(&target.entry().name, &board.coordination.instance)
                .await
                .map_err(|source| target.failed(source))?
                .ok_or_else(|| target.unsupported())?
        } else {
            board
                .controls
                .paused(index)
                .unwrap_or_else(|| Pause::new(&*board.coordination.instance, board.wall_now()))
        };
        board.controls.set_paused(index, Some(pause.clone()));
        tracing::info!(paused_by = %pause.by, "lifespan task `{}` paused", target.entry().label());
        Ok(pause)
    }

    /// Ends the pause of the task named `task`: its schedule goes on from its next point (a
    /// singleton's standbys ask for the lease again). `Ok(false)` if it was not paused.
    ///
    /// # Errors
    ///
    /// As [`pause`](Self::pause)'s.
    pub async fn resume(&self, task: &str) -> Result<bool, ControlError> {
        let target = self.pausable(task, ControlAction::Resume)?;
        let (board, index) = (&target.board, target.index);
        let resumed = if target.coordinated() {
            TaskCoordinator::new(board, index)
                .resume(&target.entry().name)
                .await
                .map_err(|source| target.failed(source))?
        } else {
            board.controls.is_paused(index)
        };
        board.controls.set_paused(index, None);
        if resumed {
            tracing::info!("lifespan task `{}` resumed", target.entry().label());
        }
        Ok(resumed)
    }

    /// The task named `task` of the running app, for `action`, if it is periodic or a
    /// singleton.
    fn pausable(&self, task: &str, action: ControlAction) -> Result<Target, ControlError> {
        let target = self.target(task, action)?;
        let options = target.entry().options();
        if !options.is_periodic() && !options.singleton {
            return Err(target.refused(
                "it is neither periodic (it has neither `every` nor `cron`) nor a singleton",
            ));
        }
        Ok(target)
    }

    /// The task named `task` of the running app, for `action`, if it has not ended.
    fn target(&self, task: &str, action: ControlAction) -> Result<Target, ControlError> {
        let board = self
            .board()
            .filter(|board| self.is_running() && !board.is_stopping());
        let Some(board) = board else {
            return Err(ControlError::NotRunning {
                task: task.to_owned(),
                action,
            });
        };
        let indices: Vec<usize> = (0..board.plan.task_count()).collect();
        let named = indices
            .iter()
            .map(|index| (&*board.plan.task(*index).name, index));
        let Some(&index) = find(named, task) else {
            return Err(ControlError::UnknownTask {
                task: task.to_owned(),
                action,
            });
        };
        let target = Target {
            board,
            index,
            action,
        };
        if target.board.has_ended(index) {
            return Err(target.refused("it has ended"));
        }
        Ok(target)
    }
}
