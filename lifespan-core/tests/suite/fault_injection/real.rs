//! The multi-thread variant: cases run on a `rt-multi-thread` runtime with two workers and real
//! time, where tasks, cleanups and the driver truly run in parallel. Orderings are checked
//! exactly (invariants 1, 2 and 4, the report's and the status's lines against the log); times
//! within [`SLACK`]; outcomes are read from what the log shows, or predicted only where the
//! case keeps every duration [`MARGIN`] away from the bound it meets.

use std::collections::BTreeSet;
use std::time::Duration;

use lifespan_core::{RunState, TaskOutcome};
use tokio::time::Instant;

use super::case::*;
use super::check::{Checked, Checker};
use super::drive::*;
use super::model::{Expected, RunEnd, RunSeen};
use super::real_case::{MARGIN, SLACK};
use super::record::*;

/// Checks a multi-thread case. Returns the situations it went through.
pub(crate) fn check_real(
    case: &Case,
    records: &[Record],
    observed: &Observed,
) -> Result<BTreeSet<String>, String> {
    let checker = Checker::for_case(case, records, observed)?;
    for (generation, attempt) in observed.attempts.iter().enumerate() {
        checker
            .check_real_attempt(generation, attempt)
            .map_err(|e| format!("start {generation} (run {}): {e}", attempt.run))?;
    }
    for report in &observed.late_shutdowns {
        ensure!(
            report.tasks.is_empty() && report.contexts.is_empty(),
            "shutdown after a failed start reported {report:?}"
        );
    }
    for record in records {
        if let Event::StateRead { ok, .. } = record.event {
            ensure!(
                ok,
                "start {}: state of another start read",
                record.generation
            );
        }
    }
    Ok(checker.seen.into_inner())
}

impl Checker<'_> {
    fn check_real_attempt(&self, generation: usize, attempt: &Attempt) -> Checked {
        let failure = self.startup_failure(generation)?;
        let (contexts, _) = self.registered(generation);
        let bound = |grace: Duration| grace + self.timeout() * u32::try_from(contexts).unwrap();
        match (&attempt.started, failure) {
            (
                Started::No {
                    kind,
                    context,
                    rollback,
                    returned,
                    logged,
                },
                Some((want, c)),
            ) => {
                ensure!(
                    *kind == want && *context == context_name(c),
                    "failed with {kind:?} in {context}, the log shows {want:?} in c{c}"
                );
                ensure!(
                    !self.runs_any(generation),
                    "a task ran though startup failed"
                );
                let (_, failed) = self
                    .of(generation)
                    .find(|(_, r)| matches!(r.event, Event::SetupEnded(..)))
                    .expect("a failed setup is logged");
                let cleanups = self.check_cleanup_order(generation, failed.at, *logged)?;
                self.check_context_report(generation, &cleanups.expected, rollback)?;
                self.check_within(failed.at, *returned, bound(Duration::ZERO))?;
                self.saw(format!("start {want:?}"));
            }
            (Started::Yes | Started::Unknown, None) => {
                let stop = attempt.stop.as_ref().ok_or("never stopped")?;
                let grace = self.grace_of(stop);
                let cleanups = self.check_cleanup_order(generation, stop.began, stop.logged)?;
                self.check_within(stop.began, stop.ended, bound(grace))?;
                if let Some(report) = &stop.report {
                    self.check_context_report(generation, &cleanups.expected, report)?;
                    self.check_real_tasks(generation, stop, grace)?;
                }
                self.saw("started");
            }
            (started, failure) => {
                return Err(format!("started: {started:?}, the log shows {failure:?}"))
            }
        }
        self.check_real_after(generation, attempt)
    }

    /// `ended - began` is within `bound`, give or take the slack.
    fn check_within(&self, began: Instant, ended: Instant, bound: Duration) -> Checked {
        ensure!(
            ended.saturating_duration_since(began) <= bound + SLACK,
            "stopping took {:?} (from {} to {}), bound {bound:?} + {SLACK:?}",
            ended.saturating_duration_since(began),
            self.ms(began),
            self.ms(ended)
        );
        Ok(())
    }

    /// Each task's line of the report against its runs in the log.
    fn check_real_tasks(&self, generation: usize, stop: &Stop, grace: Duration) -> Checked {
        let report = stop.report.as_ref().expect("a report");
        let names: Vec<&str> = report.tasks.iter().map(|t| &*t.name).collect();
        let want: Vec<String> = (0..self.tasks_in(generation)).map(task_name).collect();
        ensure!(
            names == want,
            "report lists tasks {names:?}, expected {want:?}"
        );
        let mut aborted = false;
        for (task, line) in report.tasks.iter().enumerate() {
            let runs = self.runs(generation, task);
            let allowed = self.allowed(task, &runs, grace)?;
            ensure!(
                allowed
                    .iter()
                    .any(|expected| expected.matches(&line.outcome)),
                "t{task} reported {:?}, the log allows {allowed:?}",
                line.outcome
            );
            aborted |= line.outcome == TaskOutcome::Aborted;
            self.saw(
                format!("task {:?}", line.outcome)
                    .split('(')
                    .next()
                    .unwrap()
                    .to_owned(),
            );
            self.check_restarts(task, &runs, line.restarts)?;
        }
        if aborted {
            // The grace period is waited out in full: a real sleep never ends early.
            ensure!(
                stop.ended - stop.began >= grace,
                "a task was aborted, shutdown took {:?}",
                stop.ended - stop.began
            );
        }
        Ok(())
    }

    /// The outcomes task `task`'s last run allows. A run may end as shutdown is signalled, so
    /// one that ended well may be reported completed or cancelled.
    fn allowed(
        &self,
        task: usize,
        runs: &[RunSeen],
        grace: Duration,
    ) -> Result<Vec<Expected>, String> {
        let spec = &self.case.tasks[task];
        let Some(last) = runs.last() else {
            ensure!(spec.is_supervised(), "plain task t{task} never ran");
            return Ok(vec![Expected::Cancelled]);
        };
        Ok(match last.end {
            RunEnd::Missing => return Err(format!("t{task}'s last run is still alive")),
            RunEnd::Dropped { .. } => {
                let stops_in = match spec.behaviour {
                    Behaviour::Cooperative { stop } => Some(stop.get()),
                    Behaviour::Block { .. } => Some(Duration::ZERO),
                    _ => None,
                };
                if let Some(stops_in) = stops_in {
                    ensure!(
                        stops_in + MARGIN > grace,
                        "t{task} stops {stops_in:?} after the signal, and was aborted (grace {grace:?})"
                    );
                }
                vec![Expected::Aborted]
            }
            RunEnd::Ended {
                end,
                stopping: true,
                ..
            } => vec![Expected::after(end, true)],
            RunEnd::Ended { end: End::Ok, .. } => {
                vec![
                    Expected::Completed,
                    Expected::Cancelled,
                    Expected::FailedAtLimit,
                ]
            }
            RunEnd::Ended { end, .. } => vec![Expected::after(end, false), Expected::Cancelled],
        })
    }

    /// Restarts reported against the runs seen, and each restart's delay.
    fn check_restarts(&self, task: usize, runs: &[RunSeen], reported: u32) -> Checked {
        let spec = &self.case.tasks[task];
        let restarted = u32::try_from(runs.len().saturating_sub(1)).unwrap();
        let Supervision::Restart { backoff, .. } = spec.supervision else {
            ensure!(
                reported == 0,
                "t{task} reported {reported} restarts, it has no policy"
            );
            return Ok(());
        };
        ensure!(
            reported == restarted,
            "t{task} reported {reported} restarts, {restarted} restarted runs seen"
        );
        if let Some(limit) = backoff.limit {
            ensure!(
                reported <= limit.max,
                "t{task} restarted {reported} times past its limit"
            );
        }
        let delay = backoff.start.get();
        let shortest = if backoff.jitter { delay / 2 } else { delay };
        for pair in runs.windows(2) {
            let RunEnd::Ended { at, .. } = pair[0].end else {
                return Err(format!("t{task} ran again after a run was dropped"));
            };
            let waited = pair[1].began.saturating_duration_since(at);
            ensure!(
                pair[1].began >= at + shortest && waited <= delay + SLACK,
                "t{task} restarted {waited:?} after its run ended, delay {delay:?} (jitter: {})",
                backoff.jitter
            );
            if backoff.jitter {
                self.saw("task restarted after a jittered delay");
            }
        }
        Ok(())
    }

    /// Once the start is over: no state, and a status that says what the report says.
    fn check_real_after(&self, generation: usize, attempt: &Attempt) -> Checked {
        let Some(after) = &attempt.after else {
            return Ok(());
        };
        ensure!(after.token.is_none(), "state readable once the app is down");
        let report = match &attempt.started {
            Started::No { rollback, .. } => rollback,
            _ => attempt
                .stop
                .as_ref()
                .and_then(|s| s.report.as_ref())
                .ok_or("no report")?,
        };
        let started = matches!(attempt.started, Started::Yes);
        ensure!(
            after.status.tasks.len() == self.tasks_in(generation),
            "the status lists {} tasks",
            after.status.tasks.len()
        );
        for (task, status) in after.status.tasks.iter().enumerate() {
            let (state, restarts, error) = match report.tasks.get(task) {
                Some(line) if started => {
                    let failed_run = self.runs(generation, task).iter().any(|run| {
                        matches!(
                            run.end,
                            RunEnd::Ended {
                                end: End::Err | End::Panic,
                                ..
                            }
                        )
                    });
                    let failed = matches!(
                        line.outcome,
                        TaskOutcome::Failed(_) | TaskOutcome::Panicked(_)
                    );
                    (state_of(&line.outcome), line.restarts, failed_run || failed)
                }
                _ => (RunState::Stopped, 0, false),
            };
            ensure!(
                status.state == state
                    && status.restarts == restarts
                    && status.last_error.is_some() == error,
                "status once down: t{task} is {} with {} restarts and error {:?}, expected {state}, {restarts}, error: {error}",
                status.state,
                status.restarts,
                status.last_error
            );
        }
        self.check_contexts_after(generation, after, Some(report))
    }
}

fn state_of(outcome: &TaskOutcome) -> RunState {
    match outcome {
        TaskOutcome::Completed | TaskOutcome::Cancelled => RunState::Stopped,
        TaskOutcome::Failed(_) | TaskOutcome::Panicked(_) => RunState::Failed,
        _ => RunState::Aborted,
    }
}
