//! The invariants, checked against the log, the reports, the status and the runtime.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::time::Duration;

use lifespan_core::{ContextOutcome, Report, RunState};
use tokio::time::Instant;

use crate::case::*;
use crate::drive::*;
use crate::model::*;
use crate::record::*;

pub(crate) fn outcome_name(outcome: &ContextOutcome) -> &'static str {
    match outcome {
        ContextOutcome::CleanedUp => "CleanedUp",
        ContextOutcome::CleanupFailed(_) => "CleanupFailed",
        ContextOutcome::CleanupPanicked(_) => "CleanupPanicked",
        ContextOutcome::TimedOut => "TimedOut",
    }
}

pub(crate) fn outcome_state(outcome: &ContextOutcome) -> RunState {
    match outcome {
        ContextOutcome::CleanedUp => RunState::Stopped,
        ContextOutcome::CleanupFailed(_) | ContextOutcome::CleanupPanicked(_) => RunState::Failed,
        ContextOutcome::TimedOut => RunState::Aborted,
    }
}

pub(crate) struct Checker<'a> {
    pub(crate) case: &'a Case,
    pub(crate) records: &'a [Record],
    pub(crate) origin: Instant,
    /// The situations the case went through, for the coverage test.
    pub(crate) seen: RefCell<BTreeSet<String>>,
}

pub(crate) type Checked = Result<(), String>;

impl Checker<'_> {
    pub(crate) fn saw(&self, situation: impl Into<String>) {
        self.seen.borrow_mut().insert(situation.into());
    }

    pub(crate) fn ms(&self, at: Instant) -> String {
        format!("+{}ms", at.duration_since(self.origin).as_millis())
    }

    pub(crate) fn grace(&self) -> Duration {
        self.case.grace.get()
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.case.cleanup_timeout.get()
    }

    /// The records of start `generation`, with their index in the log.
    pub(crate) fn of(&self, generation: usize) -> impl Iterator<Item = (usize, &Record)> + '_ {
        self.records
            .iter()
            .enumerate()
            .filter(move |(_, r)| r.generation == generation)
    }

    pub(crate) fn find(&self, generation: usize, event: Event) -> Option<(usize, Instant)> {
        self.of(generation)
            .find(|(_, r)| r.event == event)
            .map(|(i, r)| (i, r.at))
    }

    /// The contexts whose setup completed in `generation`, in order, with when.
    pub(crate) fn set_up(&self, generation: usize) -> Vec<(usize, Instant)> {
        self.of(generation)
            .filter_map(|(_, r)| match r.event {
                Event::SetupDone(c) => Some((c, r.at)),
                _ => None,
            })
            .collect()
    }

    pub(crate) fn setup_of(&self, generation: usize, context: usize) -> Setup {
        let case = &self.case.contexts[context];
        if generation == 0 {
            case.setup
        } else {
            case.setup_on_reload
        }
    }

    /// Startup of `generation` as the log shows it: `None` if it completed, else how it
    /// failed and in which context.
    pub(crate) fn startup_failure(
        &self,
        generation: usize,
    ) -> Result<Option<(Failure, usize)>, String> {
        let mut next = 0;
        let mut failed = None;
        for (_, record) in self.of(generation) {
            match record.event {
                Event::SetupBegan(c) => {
                    ensure!(failed.is_none(), "setup of c{c} began after {failed:?}");
                    ensure!(c == next, "setup of c{c} began, c{next} was due");
                }
                Event::SetupDone(c) => {
                    ensure!(c == next, "c{c} done out of order");
                    ensure!(
                        matches!(self.setup_of(generation, c), Setup::Ready(_)),
                        "c{c} set up against its behaviour"
                    );
                    next += 1;
                }
                Event::SetupEnded(c, end) => {
                    ensure!(c == next, "c{c} ended out of order");
                    let kind = match end {
                        End::Err => Failure::SetupFailed,
                        End::Panic => Failure::SetupPanicked,
                        End::Ok => Failure::NoYield,
                    };
                    failed = Some((kind, c));
                }
                _ => {}
            }
        }
        if failed.is_some() {
            return Ok(failed);
        }
        if next < self.case.contexts.len() {
            // A setup that began and never ended was interrupted.
            return Ok(Some((Failure::Interrupted, next)));
        }
        Ok(None)
    }

    /// When startup of `generation` completed: when the last setup completed, or, without
    /// contexts, when its first function was called.
    pub(crate) fn startup_complete(&self, generation: usize) -> Option<Instant> {
        self.set_up(generation)
            .last()
            .map(|&(_, at)| at)
            .or_else(|| self.of(generation).next().map(|(_, r)| r.at))
    }

    /// Invariants 1–3 and the contexts' part of 5 for the stop of `generation`, which began at
    /// `began` and ended at `ended`, when the log held `logged` records.
    pub(crate) fn check_stop(
        &self,
        generation: usize,
        (began, ended, logged): (Instant, Instant, usize),
        with_tasks: bool,
        report: Option<&Report>,
    ) -> Checked {
        // Nothing of this start happens once its stop has returned.
        if let Some((_, late)) = self.of(generation).find(|(i, _)| *i >= logged) {
            return Err(format!(
                "start {generation}: {:?} logged at {} after its stop returned",
                late.event,
                self.ms(late.at)
            ));
        }
        let set_up = self.set_up(generation);
        let cleanups: Vec<(usize, usize, Instant)> = self
            .of(generation)
            .filter_map(|(i, r)| match r.event {
                Event::CleanupBegan(c) => Some((i, c, r.at)),
                _ => None,
            })
            .collect();
        // 1. Exactly once each, in reverse setup order.
        let expected: Vec<usize> = set_up.iter().rev().map(|&(c, _)| c).collect();
        let seen: Vec<usize> = cleanups.iter().map(|&(_, c, _)| c).collect();
        ensure!(
            seen == expected,
            "start {generation}: cleanups {seen:?}, expected {expected:?} (reverse of setup)"
        );
        // 2. No cleanup before every task of this start has stopped or been aborted; none
        // before shutdown began.
        if let Some(&(first, _, first_at)) = cleanups.first() {
            ensure!(
                first_at >= began,
                "start {generation}: cleanup began at {}, before shutdown at {}",
                self.ms(first_at),
                self.ms(began)
            );
            let mut last_task_end = began;
            for task in 0..self.case.tasks.len() {
                for run in self.runs(generation, task) {
                    ensure!(
                        run.end_index.is_some_and(|end| end < first),
                        "start {generation}: cleanup began at {} while t{task} (run begun {}) was still running",
                        self.ms(first_at),
                        self.ms(run.began)
                    );
                    if let RunEnd::Ended { at, .. } | RunEnd::Dropped { at } = run.end {
                        last_task_end = last_task_end.max(at);
                    }
                }
            }
            // And no later: as soon as the last task has ended.
            ensure!(
                first_at == last_task_end,
                "start {generation}: cleanup began at {}, the last task ended at {}",
                self.ms(first_at),
                self.ms(last_task_end)
            );
        }
        // One after the other, each ending when its behaviour ends or at its timeout.
        let mut previous_end: Option<Instant> = None;
        for &(_, c, at) in &cleanups {
            if let Some(previous_end) = previous_end {
                ensure!(
                    at == previous_end,
                    "start {generation}: cleanup of c{c} began at {}, the previous one ended at {}",
                    self.ms(at),
                    self.ms(previous_end)
                );
            }
            let took = match self.case.contexts[c].cleanup {
                Cleanup::Done(d) | Cleanup::Fail(d) | Cleanup::Panic(d) => {
                    d.get().min(self.timeout())
                }
                Cleanup::Hang => self.timeout(),
            };
            previous_end = Some(at + took);
        }
        // 3. Bounded: the grace period (if tasks ran), then one timeout per context.
        let n = u32::try_from(set_up.len()).unwrap();
        let bound = if with_tasks {
            self.grace()
        } else {
            Duration::ZERO
        } + self.timeout() * n;
        ensure!(
            ended >= began && ended - began <= bound,
            "start {generation}: stopping took {:?} (from {} to {}), bound {bound:?}",
            ended.saturating_duration_since(began),
            self.ms(began),
            self.ms(ended)
        );
        if let Some(last_end) = previous_end {
            ensure!(
                ended == last_end,
                "start {generation}: stop ended at {}, the last cleanup at {}",
                self.ms(ended),
                self.ms(last_end)
            );
        }
        // 5. The contexts' lines of the report.
        if let Some(report) = report {
            let names: Vec<&str> = report.contexts.iter().map(|c| &*c.name).collect();
            let expected_names: Vec<String> = expected.iter().map(|&c| context_name(c)).collect();
            ensure!(
                names == expected_names,
                "start {generation}: report lists contexts {names:?}, expected {expected_names:?}"
            );
            for (line, &c) in report.contexts.iter().zip(&expected) {
                let ended_in_log = self
                    .find(generation, Event::CleanupEnded(c, End::Ok))
                    .or_else(|| self.find(generation, Event::CleanupEnded(c, End::Err)))
                    .or_else(|| self.find(generation, Event::CleanupEnded(c, End::Panic)))
                    .is_some();
                let timeout = self.case.cleanup_timeout;
                let want = match self.case.contexts[c].cleanup {
                    Cleanup::Done(d) if d < timeout => ContextOutcome::CleanedUp,
                    Cleanup::Fail(d) if d < timeout => {
                        ContextOutcome::CleanupFailed(CLEANUP_FAILURE.to_owned())
                    }
                    Cleanup::Panic(d) if d < timeout => {
                        ContextOutcome::CleanupPanicked(CLEANUP_PANIC.to_owned())
                    }
                    _ => ContextOutcome::TimedOut,
                };
                ensure!(
                    line.outcome == want,
                    "start {generation}: c{c} reported {:?}, expected {want:?}",
                    line.outcome
                );
                self.saw(format!("cleanup {}", outcome_name(&want)));
                ensure!(
                    ended_in_log == (want != ContextOutcome::TimedOut),
                    "start {generation}: c{c} reported {:?} but its cleanup {} in the log",
                    line.outcome,
                    if ended_in_log { "ended" } else { "did not end" }
                );
            }
            // Lower bounds: a timed out cleanup took its timeout.
            let timed_out = report
                .contexts
                .iter()
                .filter(|c| c.outcome == ContextOutcome::TimedOut)
                .count();
            ensure!(
                ended - began >= self.timeout() * u32::try_from(timed_out).unwrap(),
                "start {generation}: {timed_out} cleanups timed out in {:?}",
                ended - began
            );
        }
        Ok(())
    }

    /// The tasks' part of 5, for a start that completed and was shut down at `stop`.
    pub(crate) fn check_tasks(
        &self,
        generation: usize,
        models: &[TaskModel],
        report: &Report,
        stop: Instant,
        ended: Instant,
    ) -> Checked {
        let names: Vec<&str> = report.tasks.iter().map(|t| &*t.name).collect();
        let expected_names: Vec<String> = (0..self.case.tasks.len()).map(task_name).collect();
        ensure!(
            names == expected_names,
            "start {generation}: report lists tasks {names:?}, expected {expected_names:?}"
        );
        for (task, (line, model)) in report.tasks.iter().zip(models).enumerate() {
            self.saw(format!("task {:?}", model.expected));
            if line.restarts > 0 {
                self.saw("task restarted");
            }
            if model.cut_short {
                self.saw("a restart cut short by shutdown");
            }
            ensure!(
                model.expected.matches(&line.outcome),
                "start {generation}: t{task} reported {:?}, expected {:?} ({:?})",
                line.outcome,
                model.expected,
                self.case.tasks[task]
            );
            // The restarts reported are the restarted runs seen: a restart that shutdown cut
            // short during its backoff is none.
            ensure!(
                line.restarts == model.restart_runs,
                "start {generation}: t{task} reported {} restarts, {} restarted runs seen",
                line.restarts,
                model.restart_runs,
            );
        }
        // A task that ignores the signal holds the shutdown for the whole grace period.
        if models.iter().any(|m| m.expected == Expected::Aborted) {
            ensure!(
                ended - stop >= self.grace(),
                "start {generation}: a task was aborted, shutdown took {:?}",
                ended - stop
            );
        }
        Ok(())
    }

    /// Whether start `generation` tried to start any task.
    pub(crate) fn runs_any(&self, generation: usize) -> bool {
        self.of(generation)
            .any(|(_, r)| matches!(r.event, Event::RunBegan(_)))
    }
}

/// Checks a case: each start and its stop against the log, then that nothing is left (4) and
/// what the status says (5). Returns the situations it went through.
pub(crate) fn check(
    case: &Case,
    records: &[Record],
    observed: &Observed,
    logs: &[String],
) -> Result<BTreeSet<String>, String> {
    let checker = Checker {
        case,
        records,
        origin: observed.began,
        seen: RefCell::default(),
    };
    let generations = records.iter().map(|r| r.generation + 1).max().unwrap_or(0);
    let registered = !case.contexts.is_empty() || !case.tasks.is_empty();
    let attempted = if registered {
        observed.attempts.len()
    } else {
        0
    };
    ensure!(
        generations == attempted,
        "{generations} starts in the log, {attempted} attempted"
    );
    // The task models of the last start, if it started.
    let mut last = None;
    for (generation, attempt) in observed.attempts.iter().enumerate() {
        let failure = checker.startup_failure(generation)?;
        // `run_until` returns a startup it interrupted as a success, with the rollback's report.
        let interrupted;
        let started = match (&attempt.started, failure, &attempt.stop) {
            (Started::Yes, Some((Failure::Interrupted, c)), Some(stop))
                if matches!(case.driver, Driver::RunUntil { .. }) =>
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
        let start = if generation == 0 { "start" } else { "reload" };
        last = match (started, failure) {
            (Started::No { .. }, Some((kind, c))) => {
                checker.saw(format!("{start} {kind:?}"));
                checker.check_rollback(generation, started, (kind, c), observed)?;
                None
            }
            (Started::No { kind, context, .. }, None) => {
                return Err(format!(
                    "start {generation}: failed with {kind:?} in {context}, but every setup completed"
                ));
            }
            (Started::Yes | Started::Unknown, Some((kind, c))) => {
                return Err(format!(
                    "start {generation}: succeeded, but the log shows {kind:?} in c{c}"
                ));
            }
            (Started::Yes | Started::Unknown, None) => {
                checker.saw(format!("{start} succeeded"));
                Some(checker.check_start(generation, attempt, observed, logs)?)
            }
        };
    }
    if observed.critical.is_some() {
        checker.saw("critical task failed");
    }
    if let Some(report) = &observed.late_shutdown {
        ensure!(
            report.tasks.is_empty() && report.contexts.is_empty(),
            "shutdown after a failed start reported {report:?}"
        );
    }
    checker.check_down(observed, last.as_deref())?;
    Ok(checker.seen.into_inner())
}

impl Checker<'_> {
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
            "start {generation}: failed with {kind:?} in {context}, the log shows {want_kind:?} in c{c}"
        );
        ensure!(
            !self.runs_any(generation),
            "start {generation}: a task ran though startup failed"
        );
        ensure!(
            rollback.tasks.is_empty(),
            "start {generation}: the rollback reports tasks {:?}",
            rollback.tasks
        );
        // The rollback began when the setup failed, or when the stop timer went off.
        let began = match (want_kind, self.case.driver) {
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
            false,
            Some(rollback),
        )?;
        if !rollback.contexts.is_empty() {
            self.saw("rollback cleaned up contexts");
        }
        Ok(())
    }

    /// A start that completed: its tasks' runs, its stop, its report. Returns the task models.
    fn check_start(
        &self,
        generation: usize,
        attempt: &Attempt,
        observed: &Observed,
        logs: &[String],
    ) -> Result<Vec<TaskModel>, String> {
        let case = self.case;
        let stop = attempt
            .stop
            .as_ref()
            .ok_or_else(|| format!("start {generation} was never stopped"))?;
        let runs: Vec<Vec<RunSeen>> = (0..case.tasks.len())
            .map(|t| self.runs(generation, t))
            .collect();
        // Tasks start when startup completes; a start with tasks has records.
        let up = self.startup_complete(generation);
        let up = || up.expect("a start with tasks has records");
        // When shutdown began: when asked, or when a critical task failed for good.
        let mut began = stop.began;
        if let Driver::RunUntil { stop_after } = case.driver {
            began = observed.began + stop_after.get();
            for (task, runs) in runs.iter().enumerate() {
                let model = self.model(task, runs, up(), None)?;
                if let (true, Some(at)) = (case.tasks[task].critical, model.failed_for_good) {
                    began = began.min(at);
                }
            }
        }
        let mut models = Vec::new();
        for (task, runs) in runs.iter().enumerate() {
            let model = self
                .model(task, runs, up(), Some(began))
                .map_err(|e| format!("start {generation}: t{task}: {e}"))?;
            models.push(model);
        }
        self.check_stop(
            generation,
            (began, stop.ended, stop.logged),
            !case.tasks.is_empty(),
            stop.report.as_ref(),
        )?;
        if let Some(report) = &stop.report {
            self.check_tasks(generation, &models, report, began, stop.ended)?;
        }
        for (task, runs) in runs.iter().enumerate() {
            let spec = &case.tasks[task];
            if matches!(spec.supervision, Supervision::Periodic { .. }) && runs.len() > 1 {
                self.saw("periodic task ran again");
            }
            // A task that blocked its thread past the threshold is reported by name.
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
        // Everything of this start is over before the next one begins.
        let records = self.records;
        if let Some(next) = records.iter().position(|r| r.generation == generation + 1) {
            let last = records
                .iter()
                .rposition(|r| r.generation == generation)
                .unwrap();
            ensure!(
                last < next,
                "start {generation} logged {:?} after start {} began",
                records[last].event,
                generation + 1
            );
        }
        // `run_until` names the critical task that failed for good first, if one did.
        if let Driver::RunUntil { .. } = case.driver {
            let first_critical = models
                .iter()
                .enumerate()
                .filter(|&(t, m)| case.tasks[t].critical && m.expected.state() == RunState::Failed)
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
        }
        Ok(models)
    }

    /// Once the app is down: nothing left running (4), and a status that says how each part
    /// ended (5). `models` are those of the last start, if it started.
    fn check_down(&self, observed: &Observed, models: Option<&[TaskModel]>) -> Checked {
        let last = observed.attempts.last().expect("a case starts the app");
        let report = match last {
            Attempt {
                started: Started::No { rollback, .. },
                ..
            } => Some(rollback),
            Attempt {
                stop:
                    Some(Stop {
                        report: Some(report),
                        ..
                    }),
                ..
            } => Some(report),
            _ => None,
        };
        ensure!(
            observed.alive_after_yield == 0,
            "{} tokio tasks still alive after the app went down",
            observed.alive_after_yield
        );
        ensure!(
            observed.alive == 0,
            "{} tokio tasks still alive when the app's last call returned",
            observed.alive
        );
        let settled = |state: RunState| {
            !matches!(
                state,
                RunState::Running | RunState::Starting | RunState::BackingOff | RunState::Stopping
            )
        };
        for (task, status) in observed.status.tasks.iter().enumerate() {
            ensure!(
                settled(status.state),
                "status after shutdown: t{task} is {}",
                status.state
            );
            let (Some(models), Some(report)) = (models, report) else {
                continue;
            };
            ensure!(
                status.state == models[task].expected.state()
                    && status.restarts == report.tasks[task].restarts,
                "status: t{task} is {} with {} restarts, reported {:?}",
                status.state,
                status.restarts,
                report.tasks[task]
            );
        }
        // The contexts whose setup began in the last start, in order.
        let generation = observed.attempts.len() - 1;
        let began: Vec<String> = self
            .of(generation)
            .filter_map(|(_, r)| match r.event {
                Event::SetupBegan(c) => Some(context_name(c)),
                _ => None,
            })
            .collect();
        let listed: Vec<&str> = observed.status.contexts.iter().map(|c| &*c.name).collect();
        ensure!(
            listed == began,
            "status lists contexts {listed:?}, setups began in {began:?}"
        );
        for status in &observed.status.contexts {
            ensure!(
                settled(status.state),
                "status after shutdown: {} is {}",
                status.name,
                status.state
            );
            let cleaned = report.and_then(|r| r.contexts.iter().find(|l| l.name == status.name));
            let want = cleaned.map_or(RunState::Failed, |line| outcome_state(&line.outcome));
            ensure!(
                status.state == want,
                "status: {} is {}, expected {want}",
                status.name,
                status.state
            );
        }
        Ok(())
    }
}

pub(crate) fn render(records: &[Record], origin: Instant) -> String {
    records
        .iter()
        .map(|r| {
            format!(
                "  +{}ms [{}] {:?}\n",
                r.at.duration_since(origin).as_millis(),
                r.generation,
                r.event
            )
        })
        .collect()
}
