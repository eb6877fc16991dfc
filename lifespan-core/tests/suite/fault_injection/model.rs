//! What a task must have done in one start, following its runs in the log through its options
//! and its behaviour.

use std::collections::VecDeque;
use std::time::Duration;

use lifespan_core::{Restart, RunState, Schedule, TaskOutcome};
use tokio::time::Instant;

use super::case::*;
use super::check::{Checked, Checker};
use super::record::*;

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
    pub(crate) fn after(end: End, stopping: bool) -> Expected {
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
                message.to_string().contains("restart limit")
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
    /// What its status said from each instant on, before shutdown.
    pub(crate) timeline: Vec<Change>,
    /// Whether a run failed or panicked, or it reached its restart limit: the status then
    /// holds an error.
    pub(crate) had_error: bool,
}

/// From `at` on, the status of a task says `state`, with `restarts`, and an error or not.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Change {
    pub(crate) at: Instant,
    pub(crate) state: RunState,
    pub(crate) restarts: u32,
    pub(crate) error: bool,
}

impl TaskModel {
    /// What the status says at `at`, an instant at which nothing changes.
    pub(crate) fn at(&self, at: Instant) -> Option<Change> {
        self.timeline.iter().rev().find(|c| c.at < at).copied()
    }
}

/// When a run is due: exactly, or (after a jittered backoff) within a range.
#[derive(Clone, Copy, Debug)]
struct Due {
    earliest: Instant,
    latest: Instant,
}

impl Due {
    fn at(at: Instant) -> Due {
        Due {
            earliest: at,
            latest: at,
        }
    }
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
    /// shutdown began and its grace period, if known yet (the timing checks need it).
    pub(crate) fn model(
        &self,
        task: usize,
        runs: &[RunSeen],
        up: Instant,
        stop: Option<(Instant, Duration)>,
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
        let mut follow = Follow {
            checker: self,
            task,
            policy,
            backoff,
            periodic: periodic.map(|(every, schedule, _)| (every, schedule)),
            cap: backoff.map_or(lifespan_core::DEFAULT_BACKOFF_CAP, |b| b.cap.get()),
            stop,
            due: Due::at(match periodic {
                Some((every, _, false)) => up + every,
                _ => up,
            }),
            consecutive: 0,
            window: VecDeque::new(),
            restarts: 0,
            restart_runs: 0,
            after_restart: false,
            last: None,
            timeline: vec![Change {
                at: up,
                state: RunState::Running,
                restarts: 0,
                error: false,
            }],
            had_error: false,
        };
        for (k, run) in runs.iter().enumerate() {
            follow.begin(k, run)?;
            follow.end(k, run)?;
        }
        follow.finish(runs)
    }

    /// A run that ended did so when its behaviour says.
    fn check_run_ended(
        &self,
        task: usize,
        began: Instant,
        at: Instant,
        stop: Option<(Instant, Duration)>,
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
                if let Some((stop, grace)) = stop {
                    ensure!(
                        at == stop + delay.get(),
                        "t{task} ({behaviour:?}) ended at {}, shutdown at {}",
                        self.ms(at),
                        self.ms(stop)
                    );
                    ensure!(delay.get() < grace, "t{task} ended past the grace period");
                }
            }
            Behaviour::Block { .. } => {
                if let Some((stop, _)) = stop {
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
    fn check_run_dropped(
        &self,
        task: usize,
        began: Instant,
        (stop, grace): (Instant, Duration),
    ) -> Checked {
        let behaviour = self.case.tasks[task].behaviour;
        let deadline = stop + grace;
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

/// The state of [`Checker::model`] as it follows a task's runs.
struct Follow<'a> {
    checker: &'a Checker<'a>,
    task: usize,
    policy: Restart,
    backoff: Option<Backoff>,
    periodic: Option<(Duration, Schedule)>,
    cap: Duration,
    stop: Option<(Instant, Duration)>,
    /// When the next run is due.
    due: Due,
    consecutive: u32,
    /// The restarts counted against the limit, within its window.
    window: VecDeque<Instant>,
    /// Restarts decided, and restarted runs seen.
    restarts: u32,
    restart_runs: u32,
    after_restart: bool,
    /// How it ended for good, once it did.
    last: Option<Expected>,
    timeline: Vec<Change>,
    had_error: bool,
}

impl Follow<'_> {
    fn change(&mut self, at: Instant, state: RunState) {
        self.timeline.push(Change {
            at,
            state,
            restarts: self.restart_runs,
            error: self.had_error,
        });
    }

    /// Run `k` began when it was due, before shutdown, and not after the task ended for good.
    fn begin(&mut self, k: usize, run: &RunSeen) -> Checked {
        let ms = |at| self.checker.ms(at);
        if let Some(expected) = &self.last {
            return Err(format!(
                "run {k} began at {} after the task ended for good ({expected:?})",
                ms(run.began)
            ));
        }
        ensure!(
            self.due.earliest <= run.began && run.began <= self.due.latest,
            "run {k} began at {}, due at {}..={}",
            ms(run.began),
            ms(self.due.earliest),
            ms(self.due.latest)
        );
        if let Some((stop, _)) = self.stop {
            ensure!(
                run.began <= stop,
                "run {k} began at {}, after shutdown began at {}",
                ms(run.began),
                ms(stop)
            );
        }
        if self.after_restart {
            self.restart_runs += 1;
            if self.due.earliest < self.due.latest {
                self.checker.saw("task restarted after a jittered delay");
            }
        }
        self.after_restart = false;
        // A schedule goes on from when the run really began (after a jittered restart).
        self.due = Due::at(run.began);
        self.change(run.began, RunState::Running);
        Ok(())
    }

    /// How run `k` ended, and what comes after it.
    fn end(&mut self, k: usize, run: &RunSeen) -> Checked {
        let checker = self.checker;
        let (at, end, stopping) = match run.end {
            RunEnd::Missing => {
                return Err(format!(
                    "run {k} (began {}) neither ended nor was dropped: still alive",
                    checker.ms(run.began)
                ))
            }
            RunEnd::Dropped { at } => {
                if let Some((stop, grace)) = self.stop {
                    ensure!(
                        at == stop + grace,
                        "run {k} dropped at {}, not at the end of the grace period",
                        checker.ms(at)
                    );
                    checker.check_run_dropped(self.task, run.began, (stop, grace))?;
                }
                self.last = Some(Expected::Aborted);
                return Ok(());
            }
            RunEnd::Ended { at, end, stopping } => (at, end, stopping),
        };
        checker.check_run_ended(self.task, run.began, at, self.stop)?;
        if let Some((stop, _)) = self.stop {
            ensure!(
                (at < stop && !stopping) || (at > stop && stopping) || at == stop,
                "run {k} ended at {} with stopping={stopping}, shutdown at {}",
                checker.ms(at),
                checker.ms(stop)
            );
        }
        if stopping {
            self.last = Some(Expected::after(end, true));
            return Ok(());
        }
        if at.saturating_duration_since(run.began) >= self.cap {
            self.consecutive = 0;
        }
        self.had_error |= end != End::Ok;
        self.after_run(at, end);
        Ok(())
    }

    /// A run ended at `at` before shutdown: the next one is due, or a restart, or the end.
    fn after_run(&mut self, at: Instant, end: End) {
        let failed = end != End::Ok;
        if let (Some((every, schedule)), false) = (self.periodic, failed) {
            self.consecutive = 0;
            let next = match schedule {
                Schedule::FixedDelay => at + every,
                _ => {
                    // The first point of the grid not before the end of the run.
                    let mut next = self.due.earliest + every;
                    while next < at {
                        next += every;
                    }
                    next
                }
            };
            self.due = Due::at(next);
            self.change(at, RunState::Running);
            return;
        }
        let restart = match self.policy {
            Restart::OnFailure => failed,
            Restart::Always => true,
            _ => false,
        };
        if !restart {
            self.ended(at, Expected::after(end, false));
            return;
        }
        let backoff = self.backoff.expect("restarts have a backoff");
        if let Some(limit) = backoff.limit {
            if let Some(within) = limit.within {
                while self
                    .window
                    .front()
                    .is_some_and(|&t| at.duration_since(t) >= within.get())
                {
                    self.window.pop_front();
                }
            }
            if self.window.len() >= limit.max as usize {
                let expected = if failed {
                    Expected::after(end, false)
                } else {
                    Expected::FailedAtLimit
                };
                self.ended(at, expected);
                return;
            }
            self.window.push_back(at);
        }
        let delay = backoff
            .start
            .get()
            .saturating_mul(1 << self.consecutive.min(31))
            .min(backoff.cap.get());
        self.consecutive += 1;
        self.restarts += 1;
        self.after_restart = true;
        self.due = Due {
            earliest: at + if backoff.jitter { delay / 2 } else { delay },
            latest: at + delay,
        };
        self.change(at, RunState::BackingOff);
    }

    fn ended(&mut self, at: Instant, expected: Expected) {
        self.had_error |= expected == Expected::FailedAtLimit;
        self.change(at, expected.state());
        self.last = Some(expected);
    }

    fn finish(self, runs: &[RunSeen]) -> Result<TaskModel, String> {
        let checker = self.checker;
        let task = self.task;
        let expected = match self.last {
            Some(expected) => expected,
            None => {
                ensure!(
                    checker.case.tasks[task].is_supervised(),
                    "plain task t{task} ran {} times and never ended for good",
                    runs.len()
                );
                // Waiting for its next run (or restart) when shutdown came.
                if let Some((stop, _)) = self.stop {
                    ensure!(
                        self.due.latest >= stop,
                        "a run was due by {}, before shutdown at {}, and never began",
                        checker.ms(self.due.latest),
                        checker.ms(stop)
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
            self.restart_runs + u32::from(self.after_restart) == self.restarts,
            "harness: {} restarts decided, {} seen",
            self.restarts,
            self.restart_runs
        );
        Ok(TaskModel {
            expected,
            restart_runs: self.restart_runs,
            cut_short: self.after_restart,
            failed_for_good,
            timeline: self.timeline,
            had_error: self.had_error,
        })
    }
}
