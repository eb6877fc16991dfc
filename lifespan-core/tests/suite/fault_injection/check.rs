//! The invariants, checked against the log, the reports, the status and the runtime.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::time::Duration;

use lifespan_core::{ContextOutcome, Report, RunState};
use tokio::time::Instant;

use super::case::*;
use super::drive::*;
use super::model::*;
use super::record::*;

pub(crate) fn outcome_name(outcome: &ContextOutcome) -> &'static str {
    match outcome {
        ContextOutcome::CleanedUp => "CleanedUp",
        ContextOutcome::CleanupFailed(_) => "CleanupFailed",
        ContextOutcome::CleanupPanicked(_) => "CleanupPanicked",
        ContextOutcome::TimedOut => "TimedOut",
        other => panic!("an outcome the model does not know: {other:?}"),
    }
}

pub(crate) fn outcome_state(outcome: &ContextOutcome) -> RunState {
    match outcome {
        ContextOutcome::CleanedUp => RunState::Stopped,
        ContextOutcome::CleanupFailed(_) | ContextOutcome::CleanupPanicked(_) => RunState::Failed,
        ContextOutcome::TimedOut => RunState::Aborted,
        other => panic!("an outcome the model does not know: {other:?}"),
    }
}

/// A checker of `case`, once the run saw no violation and logged one generation per start.
impl<'a> Checker<'a> {
    pub(crate) fn for_case(
        case: &'a Case,
        records: &'a [Record],
        observed: &Observed,
    ) -> Result<Self, String> {
        if let Some(violation) = observed.violations.first() {
            return Err(violation.clone());
        }
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
        Ok(Checker {
            case,
            records,
            origin: observed.began,
            runs_of: observed.attempts.iter().map(|a| a.run).collect(),
            seen: RefCell::default(),
        })
    }
}

pub(crate) struct Checker<'a> {
    pub(crate) case: &'a Case,
    pub(crate) records: &'a [Record],
    pub(crate) origin: Instant,
    /// The run of the app each start belongs to.
    pub(crate) runs_of: Vec<usize>,
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

    /// The grace period of `stop`: a second request during it ends it early.
    pub(crate) fn grace_of(&self, stop: &Stop) -> Duration {
        let grace = self.case.grace.get();
        match stop.second {
            Some(second) if forces(second.how) => grace.min(second.after.get()),
            _ => grace,
        }
    }

    /// How many contexts and tasks start `generation` has.
    pub(crate) fn registered(&self, generation: usize) -> (usize, usize) {
        self.case
            .registered(self.runs_of.get(generation).copied().unwrap_or(0))
    }

    pub(crate) fn tasks_in(&self, generation: usize) -> usize {
        self.registered(generation).1
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
        self.case.contexts[context].setup(generation)
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
        if next < self.registered(generation).0 {
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

    /// The tasks' part of 5, for a start that completed and was shut down at `stop`, with a
    /// grace period of `grace`.
    pub(crate) fn check_tasks(
        &self,
        generation: usize,
        models: &[TaskModel],
        report: &Report,
        (stop, grace): (Instant, Duration),
        ended: Instant,
    ) -> Checked {
        let names: Vec<&str> = report.tasks.iter().map(|t| &*t.name).collect();
        let expected_names: Vec<String> = (0..self.tasks_in(generation)).map(task_name).collect();
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
                ended - stop >= grace,
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
    let checker = Checker::for_case(case, records, observed)?;
    for (generation, attempt) in observed.attempts.iter().enumerate() {
        checker
            .check_attempt(generation, attempt, observed, logs)
            .map_err(|e| format!("start {generation} (run {}): {e}", attempt.run))?;
    }
    if observed.critical.is_some() {
        checker.saw("critical task failed");
    }
    for report in &observed.late_shutdowns {
        ensure!(
            report.tasks.is_empty() && report.contexts.is_empty(),
            "shutdown after a failed start reported {report:?}"
        );
    }
    checker.check_state_reads()?;
    checker.check_situations(observed);
    ensure!(
        observed.alive_after_yield == 0,
        "{} tokio tasks still alive after the app went down",
        observed.alive_after_yield
    );
    Ok(checker.seen.into_inner())
}

impl Checker<'_> {
    /// Every state read saw the token of its own start.
    fn check_state_reads(&self) -> Checked {
        for record in self.records {
            if let Event::StateRead { task, ok } = record.event {
                ensure!(
                    ok,
                    "start {}: a {} read the state of another start",
                    record.generation,
                    if task { "task" } else { "context" }
                );
                self.saw(if task {
                    "state read by a task"
                } else {
                    "state read by a context"
                });
            }
        }
        Ok(())
    }

    /// Situations of the whole case, for the coverage test.
    fn check_situations(&self, observed: &Observed) {
        let mut reloads_in_a_row = 0;
        for attempt in &observed.attempts {
            if attempt.run > 0 && matches!(attempt.started, Started::Yes) {
                self.saw("started again after a shutdown");
                if self.case.late_contexts + self.case.late_tasks > 0 {
                    self.saw("registered between runs");
                }
            }
            // A start that a reload stopped has no status of its own after it.
            let reloaded = attempt.stop.is_some() && attempt.after.is_none();
            reloads_in_a_row = if reloaded { reloads_in_a_row + 1 } else { 0 };
            if reloads_in_a_row >= 2 {
                self.saw("reloaded twice in a row");
            }
        }
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
