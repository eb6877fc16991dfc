//! What a task must have done in one start, following its runs in the log through its options
//! and its behaviour.

use std::collections::VecDeque;

use lifespan_core::{Restart, RunState, Schedule, TaskOutcome};
use tokio::time::Instant;

use crate::case::*;
use crate::check::{Checked, Checker};
use crate::record::*;

/// One task's run in one start, as the log shows it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RunSeen {
    pub(crate) began: Instant,
    /// The index in the log of its end.
    pub(crate) end_index: Option<usize>,
    pub(crate) end: RunEnd,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum RunEnd {
    Ended {
        at: Instant,
        end: End,
        stopping: bool,
    },
    Dropped {
        at: Instant,
    },
    /// Neither: it is still running, or was dropped without a trace.
    Missing,
}

/// What a task's report line should say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Expected {
    Completed,
    Cancelled,
    Failed,
    Panicked,
    /// Failed because it kept ending and reached its restart limit.
    FailedAtLimit,
    Aborted,
}

impl Expected {
    fn after(end: End, stopping: bool) -> Expected {
        match (end, stopping) {
            (End::Ok, false) => Expected::Completed,
            (End::Ok, true) => Expected::Cancelled,
            (End::Err, _) => Expected::Failed,
            (End::Panic, _) => Expected::Panicked,
        }
    }

    pub(crate) fn matches(&self, outcome: &TaskOutcome) -> bool {
        match (self, outcome) {
            (Expected::Completed, TaskOutcome::Completed)
            | (Expected::Cancelled, TaskOutcome::Cancelled)
            | (Expected::Aborted, TaskOutcome::Aborted) => true,
            (Expected::Failed, TaskOutcome::Failed(message)) => message == TASK_FAILURE,
            (Expected::Panicked, TaskOutcome::Panicked(message)) => message == TASK_PANIC,
            (Expected::FailedAtLimit, TaskOutcome::Failed(message)) => {
                message.contains("restart limit")
            }
            _ => false,
        }
    }

    pub(crate) fn state(&self) -> RunState {
        match self {
            Expected::Completed | Expected::Cancelled => RunState::Stopped,
            Expected::Failed | Expected::Panicked | Expected::FailedAtLimit => RunState::Failed,
            Expected::Aborted => RunState::Aborted,
        }
    }
}

/// What a task did in one start, as its options and behaviour imply, given its runs.
#[derive(Debug)]
pub(crate) struct TaskModel {
    pub(crate) expected: Expected,
    /// Runs that were restarts (the runs after the first, periodic runs aside).
    pub(crate) restart_runs: u32,
    /// Whether shutdown came while it waited to be restarted.
    pub(crate) cut_short: bool,
    /// When it failed for good before shutdown, if it did.
    pub(crate) failed_for_good: Option<Instant>,
}

impl Checker<'_> {
    pub(crate) fn runs(&self, generation: usize, task: usize) -> Vec<RunSeen> {
        let mut runs: Vec<RunSeen> = Vec::new();
        for (index, record) in self.of(generation) {
            match record.event {
                Event::RunBegan(t) if t == task => runs.push(RunSeen {
                    began: record.at,
                    end_index: None,
                    end: RunEnd::Missing,
                }),
                Event::RunEnded {
                    task: t,
                    end,
                    stopping,
                } if t == task => {
                    let run = runs.last_mut().expect("an end after a beginning");
                    run.end_index = Some(index);
                    run.end = RunEnd::Ended {
                        at: record.at,
                        end,
                        stopping,
                    };
                }
                Event::RunDropped(t) if t == task => {
                    let run = runs.last_mut().expect("a drop after a beginning");
                    run.end_index = Some(index);
                    run.end = RunEnd::Dropped { at: record.at };
                }
                _ => {}
            }
        }
        runs
    }

    /// Follows task `task`'s runs in a start that began its tasks at `up`, through its
    /// options: when each run must begin, how each ends, when it ends for good. `stop` is when
    /// shutdown began, if known yet (the timing checks need it).
    pub(crate) fn model(
        &self,
        task: usize,
        runs: &[RunSeen],
        up: Instant,
        stop: Option<Instant>,
    ) -> Result<TaskModel, String> {
        let spec = &self.case.tasks[task];
        let (policy, backoff, periodic) = match spec.supervision {
            Supervision::Plain => (Restart::Never, None, None),
            Supervision::Restart { policy, backoff } => (policy, Some(backoff), None),
            Supervision::Periodic {
                every,
                schedule,
                at_startup,
                retry,
            } => (
                if retry.is_some() {
                    Restart::OnFailure
                } else {
                    Restart::Never
                },
                retry,
                Some((every.get(), schedule, at_startup)),
            ),
        };
        let cap = backoff.map_or(lifespan_core::DEFAULT_BACKOFF_CAP, |b| b.cap.get());
        let mut due = match periodic {
            Some((every, _, false)) => up + every,
            _ => up,
        };
        let mut consecutive = 0u32;
        let mut window: VecDeque<Instant> = VecDeque::new();
        let mut restarts = 0;
        let mut restart_runs = 0;
        let mut after_restart = false;
        let mut last = None;
        for (k, run) in runs.iter().enumerate() {
            if let Some(expected) = last {
                return Err(format!(
                    "run {k} began at {} after the task ended for good ({expected:?})",
                    self.ms(run.began)
                ));
            }
            ensure!(
                run.began == due,
                "run {k} began at {}, due at {}",
                self.ms(run.began),
                self.ms(due)
            );
            if let Some(stop) = stop {
                ensure!(
                    run.began <= stop,
                    "run {k} began at {}, after shutdown began at {}",
                    self.ms(run.began),
                    self.ms(stop)
                );
            }
            if after_restart {
                restart_runs += 1;
            }
            after_restart = false;
            let (at, end, stopping) = match run.end {
                RunEnd::Missing => {
                    return Err(format!(
                        "run {k} (began {}) neither ended nor was dropped: still alive",
                        self.ms(run.began)
                    ))
                }
                RunEnd::Dropped { at } => {
                    if let Some(stop) = stop {
                        ensure!(
                            at == stop + self.grace(),
                            "run {k} dropped at {}, not at the end of the grace period",
                            self.ms(at)
                        );
                        self.check_run_dropped(task, run.began, stop)?;
                    }
                    last = Some(Expected::Aborted);
                    continue;
                }
                RunEnd::Ended { at, end, stopping } => (at, end, stopping),
            };
            self.check_run_ended(task, run.began, at, stop)?;
            if let Some(stop) = stop {
                ensure!(
                    (at < stop && !stopping) || (at > stop && stopping) || at == stop,
                    "run {k} ended at {} with stopping={stopping}, shutdown at {}",
                    self.ms(at),
                    self.ms(stop)
                );
            }
            if stopping {
                last = Some(Expected::after(end, true));
                continue;
            }
            if at.saturating_duration_since(run.began) >= cap {
                consecutive = 0;
            }
            let failed = end != End::Ok;
            if let (Some((every, schedule, _)), false) = (periodic, failed) {
                consecutive = 0;
                due = match schedule {
                    Schedule::FixedDelay => at + every,
                    _ => {
                        // The first point of the grid not before the end of the run.
                        let mut next = due + every;
                        while next < at {
                            next += every;
                        }
                        next
                    }
                };
                continue;
            }
            let restart = match policy {
                Restart::OnFailure => failed,
                Restart::Always => true,
                _ => false,
            };
            if !restart {
                last = Some(Expected::after(end, false));
                continue;
            }
            let backoff = backoff.expect("restarts have a backoff");
            if let Some(limit) = backoff.limit {
                if let Some(within) = limit.within {
                    while window
                        .front()
                        .is_some_and(|&t| at.duration_since(t) >= within.get())
                    {
                        window.pop_front();
                    }
                }
                if window.len() >= limit.max as usize {
                    last = Some(if failed {
                        Expected::after(end, false)
                    } else {
                        Expected::FailedAtLimit
                    });
                    continue;
                }
                window.push_back(at);
            }
            let delay = backoff
                .start
                .get()
                .saturating_mul(1 << consecutive.min(31))
                .min(backoff.cap.get());
            consecutive += 1;
            restarts += 1;
            after_restart = true;
            due = at + delay;
        }
        let expected = match last {
            Some(expected) => expected,
            None => {
                ensure!(
                    spec.is_supervised(),
                    "plain task t{task} ran {} times and never ended for good",
                    runs.len()
                );
                // Waiting for its next run (or restart) when shutdown came.
                if let Some(stop) = stop {
                    ensure!(
                        due >= stop,
                        "a run was due at {}, before shutdown at {}, and never began",
                        self.ms(due),
                        self.ms(stop)
                    );
                }
                Expected::Cancelled
            }
        };
        let failed_for_good = match (expected.clone(), runs.last().map(|r| r.end)) {
            (
                Expected::Failed | Expected::Panicked | Expected::FailedAtLimit,
                Some(RunEnd::Ended {
                    at,
                    stopping: false,
                    ..
                }),
            ) => Some(at),
            _ => None,
        };
        ensure!(
            restart_runs + u32::from(after_restart) == restarts,
            "harness: {restarts} restarts decided, {restart_runs} seen"
        );
        Ok(TaskModel {
            expected,
            restart_runs,
            cut_short: after_restart,
            failed_for_good,
        })
    }

    /// A run that ended did so when its behaviour says.
    fn check_run_ended(
        &self,
        task: usize,
        began: Instant,
        at: Instant,
        stop: Option<Instant>,
    ) -> Checked {
        let behaviour = self.case.tasks[task].behaviour;
        match behaviour {
            Behaviour::Complete(delay) | Behaviour::Fail(delay) | Behaviour::Panic(delay) => {
                ensure!(
                    at == began + delay.get(),
                    "t{task} ({behaviour:?}) ended at {}, began at {}",
                    self.ms(at),
                    self.ms(began)
                );
            }
            Behaviour::Cooperative { stop: delay } => {
                if let Some(stop) = stop {
                    ensure!(
                        at == stop + delay.get(),
                        "t{task} ({behaviour:?}) ended at {}, shutdown at {}",
                        self.ms(at),
                        self.ms(stop)
                    );
                    ensure!(
                        delay.get() < self.grace(),
                        "t{task} ended past the grace period"
                    );
                }
            }
            Behaviour::Block { .. } => {
                if let Some(stop) = stop {
                    ensure!(
                        at == stop,
                        "t{task} ({behaviour:?}) ended at {}",
                        self.ms(at)
                    );
                }
            }
            Behaviour::IgnoreCancel => return Err(format!("t{task} ({behaviour:?}) ended")),
        }
        Ok(())
    }

    /// A run that was dropped was still meant to run when the grace period ended.
    fn check_run_dropped(&self, task: usize, began: Instant, stop: Instant) -> Checked {
        let behaviour = self.case.tasks[task].behaviour;
        let deadline = stop + self.grace();
        let would_end = match behaviour {
            Behaviour::Complete(delay) | Behaviour::Fail(delay) | Behaviour::Panic(delay) => {
                Some(began + delay.get())
            }
            Behaviour::Cooperative { stop: delay } => Some(stop + delay.get()),
            Behaviour::Block { .. } => Some(stop),
            Behaviour::IgnoreCancel => None,
        };
        if let Some(would_end) = would_end {
            ensure!(
                would_end >= deadline,
                "t{task} ({behaviour:?}) aborted, but would have ended at {}, within the grace period (until {})",
                self.ms(would_end),
                self.ms(deadline)
            );
        }
        Ok(())
    }
}
