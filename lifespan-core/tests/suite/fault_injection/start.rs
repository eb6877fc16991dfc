//! One start of the app against the log: how it failed and its rollback, or its tasks' runs,
//! its stop and its report; then what the status said.

use lifespan_core::RunState;
use tokio::time::Instant;

use super::case::*;
use super::check::{Checked, Checker};
use super::drive::*;
use super::model::*;
use super::record::*;

impl Checker<'_> {
    /// Start `generation`: whether it started as the log says, then the checks of its kind.
    pub(crate) fn check_attempt(
        &self,
        generation: usize,
        attempt: &Attempt,
        observed: &Observed,
        logs: &[String],
    ) -> Checked {
        let failure = self.startup_failure(generation)?;
        // `run_until` returns a startup it interrupted as a success, with the rollback's report.
        let interrupted;
        let started = match (&attempt.started, failure, &attempt.stop) {
            (Started::Yes, Some((Failure::Interrupted, c)), Some(stop))
                if matches!(self.case.driver, Driver::RunUntil { .. }) =>
            {
                interrupted = Started::No {
                    kind: Failure::Interrupted,
                    context: context_name(c),
                    rollback: stop.report.clone().unwrap_or_default(),
                    returned: stop.ended,
                    logged: stop.logged,
                };
                &interrupted
            }
            (started, _, _) => started,
        };
        let start = if attempt_is_reload(observed, generation) {
            "reload"
        } else {
            "start"
        };
        match (started, failure) {
            (Started::No { .. }, Some((kind, c))) => {
                self.saw(format!("{start} {kind:?}"));
                self.check_rollback(generation, started, (kind, c), observed)?;
                self.check_after(generation, attempt, None)
            }
            (Started::No { kind, context, .. }, None) => Err(format!(
                "failed with {kind:?} in {context}, but every setup completed"
            )),
            (Started::Yes | Started::Unknown, Some((kind, c))) => {
                Err(format!("succeeded, but the log shows {kind:?} in c{c}"))
            }
            (Started::Yes | Started::Unknown, None) => {
                self.saw(format!("{start} succeeded"));
                let models = self.check_start(generation, attempt, observed, logs)?;
                if let Some(probe) = &attempt.probe {
                    self.check_probe(generation, probe, &models)?;
                }
                self.check_after(generation, attempt, Some(&models))
            }
        }
    }

    /// A start that failed (or was interrupted): how, and its rollback.
    fn check_rollback(
        &self,
        generation: usize,
        started: &Started,
        (want_kind, c): (Failure, usize),
        observed: &Observed,
    ) -> Checked {
        let Started::No {
            kind,
            context,
            rollback,
            returned,
            logged,
        } = started
        else {
            unreachable!("a start that failed");
        };
        ensure!(
            *kind == want_kind && *context == context_name(c),
            "failed with {kind:?} in {context}, the log shows {want_kind:?} in c{c}"
        );
        ensure!(
            !self.runs_any(generation),
            "a task ran though startup failed"
        );
        ensure!(
            rollback.tasks.is_empty(),
            "the rollback reports tasks {:?}",
            rollback.tasks
        );
        // The rollback began when the setup failed, or when the stop timer went off.
        let began = match (want_kind, &self.case.driver) {
            (Failure::Interrupted, Driver::RunUntil { stop_after }) => {
                observed.began + stop_after.get()
            }
            (Failure::Interrupted, Driver::Manual { .. }) => {
                return Err("a manual start was interrupted".to_owned())
            }
            _ => {
                let (_, failed) = self
                    .of(generation)
                    .find(|(_, r)| matches!(r.event, Event::SetupEnded(..)))
                    .expect("a failed setup is logged");
                failed.at
            }
        };
        self.check_stop(
            generation,
            (began, *returned, *logged),
            None,
            Some(rollback),
        )?;
        if !rollback.contexts.is_empty() {
            self.saw("rollback cleaned up contexts");
        }
        Ok(())
    }

    /// When the stop of a start began: when asked, or (under `run_until`) when the timer went
    /// off or a critical task failed for good, whichever came first.
    fn stop_began(
        &self,
        stop: &Stop,
        runs: &[Vec<RunSeen>],
        up: impl Fn() -> Instant,
        observed: &Observed,
    ) -> Result<Instant, String> {
        let Driver::RunUntil { stop_after } = self.case.driver else {
            return Ok(stop.began);
        };
        let mut began = observed.began + stop_after.get();
        for (task, runs) in runs.iter().enumerate() {
            let model = self.model(task, runs, up(), None)?;
            if let (true, Some(at)) = (self.case.tasks[task].critical, model.failed_for_good) {
                began = began.min(at);
            }
        }
        Ok(began)
    }

    /// A start that completed: its tasks' runs, its stop, its report. Returns the task models.
    fn check_start(
        &self,
        generation: usize,
        attempt: &Attempt,
        observed: &Observed,
        logs: &[String],
    ) -> Result<Vec<TaskModel>, String> {
        let stop = attempt
            .stop
            .as_ref()
            .ok_or_else(|| "never stopped".to_owned())?;
        let tasks = self.tasks_in(generation);
        let runs: Vec<Vec<RunSeen>> = (0..tasks).map(|t| self.runs(generation, t)).collect();
        // Tasks start when startup completes; a start with tasks has records.
        let up = self.startup_complete(generation);
        let up = || up.expect("a start with tasks has records");
        let began = self.stop_began(stop, &runs, up, observed)?;
        let grace = self.grace_of(stop);
        let mut models = Vec::new();
        for (task, runs) in runs.iter().enumerate() {
            let model = self
                .model(task, runs, up(), Some((began, grace)))
                .map_err(|e| format!("t{task}: {e}"))?;
            models.push(model);
        }
        let with_tasks = (tasks > 0).then_some(grace);
        self.check_stop(
            generation,
            (began, stop.ended, stop.logged),
            with_tasks,
            stop.report.as_ref(),
        )?;
        if let Some(report) = &stop.report {
            self.check_tasks(generation, &models, report, (began, grace), stop.ended)?;
        }
        self.check_second(stop, &models, began)?;
        self.check_runs_seen(generation, &runs, logs)?;
        self.check_critical(&models, &runs, observed)?;
        Ok(models)
    }

    /// A second `shutdown` call reports nothing (the first did); a second request before the
    /// grace period ended cut it short.
    fn check_second(&self, stop: &Stop, models: &[TaskModel], began: Instant) -> Checked {
        let Some(second) = stop.second else {
            return Ok(());
        };
        if let Some(report) = &stop.second_report {
            ensure!(
                report.tasks.is_empty() && report.contexts.is_empty(),
                "a second shutdown call reported {report:?}"
            );
            self.saw("a second shutdown call");
        }
        let aborted = models.iter().any(|m| m.expected == Expected::Aborted);
        if aborted && began + second.after.get() < stop.ended && second.after < self.case.grace {
            self.saw(format!(
                "a second {:?} cut the grace period short",
                second.how
            ));
        }
        Ok(())
    }

    /// What the runs of one start went through; a task that blocked its thread past the
    /// threshold was reported by name; nothing of the start logged once the next began.
    fn check_runs_seen(
        &self,
        generation: usize,
        runs: &[Vec<RunSeen>],
        logs: &[String],
    ) -> Checked {
        let case = self.case;
        for (task, runs) in runs.iter().enumerate() {
            let spec = &case.tasks[task];
            if matches!(spec.supervision, Supervision::Periodic { .. }) && runs.len() > 1 {
                self.saw("periodic task ran again");
            }
            if task >= case.tasks.len() - case.late_tasks && !runs.is_empty() {
                self.saw("a task registered between runs ran");
            }
            // (Only this way round: on a busy machine any poll may take a millisecond.)
            if let Behaviour::Block { micros } = spec.behaviour {
                if micros > 1000 && case.blocking_threshold == Some(Ms(1)) && !runs.is_empty() {
                    let name = format!("`{}`", task_name(task));
                    ensure!(
                        logs.iter()
                            .any(|line| line.contains("blocked its thread") && line.contains(&name)),
                        "t{task} blocked its thread for {micros} us and no warning named it"
                    );
                    self.saw("task blocked past the threshold");
                }
            }
        }
        let records = self.records;
        if let Some(next) = records.iter().position(|r| r.generation == generation + 1) {
            let last = records
                .iter()
                .rposition(|r| r.generation == generation)
                .unwrap();
            ensure!(
                last < next,
                "logged {:?} after start {} began",
                records[last].event,
                generation + 1
            );
        }
        Ok(())
    }

    /// `run_until` names the critical task that failed for good first, if one did.
    fn check_critical(
        &self,
        models: &[TaskModel],
        runs: &[Vec<RunSeen>],
        observed: &Observed,
    ) -> Checked {
        if !matches!(self.case.driver, Driver::RunUntil { .. }) {
            return Ok(());
        }
        let first_critical = models
            .iter()
            .enumerate()
            .filter(|&(t, m)| self.case.tasks[t].critical && m.expected.state() == RunState::Failed)
            .min_by_key(|&(t, _)| {
                runs[t]
                    .last()
                    .and_then(|r| r.end_index)
                    .unwrap_or(usize::MAX)
            })
            .map(|(t, _)| task_name(t));
        ensure!(
            observed.critical == first_critical,
            "run_until named critical task {:?}, expected {first_critical:?}",
            observed.critical
        );
        Ok(())
    }
}

/// Whether start `generation` was begun by a reload (the one before it in the same run started).
fn attempt_is_reload(observed: &Observed, generation: usize) -> bool {
    generation > 0 && {
        let previous = &observed.attempts[generation - 1];
        previous.run == observed.attempts[generation].run
    }
}
