//! A stop (shutdown, the stop of a reload, or the rollback of a failed startup) against the log:
//! cleanups once each in reverse setup order after every task ended, within the bounds, and the
//! contexts' lines of the report.

use std::time::Duration;

use lifespan_core::{ContextOutcome, Report};
use tokio::time::Instant;

use super::case::*;
use super::check::{outcome_name, Checked, Checker};
use super::drive::context_name;
use super::model::RunEnd;
use super::record::*;

/// The cleanups of one stop, as the log shows them.
pub(crate) struct Cleanups {
    /// Index in the log, context, when it began.
    pub(crate) began: Vec<(usize, usize, Instant)>,
    /// The contexts set up, in reverse setup order: the order cleanups must follow.
    pub(crate) expected: Vec<usize>,
    /// When the last task of the start ended (or `stop`, if none ran past it).
    pub(crate) last_task_end: Instant,
}

impl Checker<'_> {
    /// Invariants 1–3 and the contexts' part of 5 for the stop of `generation`, which began at
    /// `began` and ended at `ended`, when the log held `logged` records. `grace` is its grace
    /// period if it had tasks to stop.
    pub(crate) fn check_stop(
        &self,
        generation: usize,
        (began, ended, logged): (Instant, Instant, usize),
        grace: Option<Duration>,
        report: Option<&Report>,
    ) -> Checked {
        let cleanups = self.check_cleanup_order(generation, began, logged)?;
        if let Some(&(_, _, first_at)) = cleanups.began.first() {
            // No later than as soon as the last task has ended.
            ensure!(
                first_at == cleanups.last_task_end,
                "start {generation}: cleanup began at {}, the last task ended at {}",
                self.ms(first_at),
                self.ms(cleanups.last_task_end)
            );
        }
        self.check_cleanup_timing(generation, &cleanups, (began, ended), grace)?;
        if let Some(report) = report {
            self.check_context_report(generation, &cleanups.expected, report)?;
            // A timed out cleanup took its timeout.
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

    /// Invariants 1 and 2, which hold on any clock: nothing of the start logged after its stop
    /// returned (at `logged`); each context set up cleaned up once, in reverse setup order; no
    /// cleanup before the stop began at `began`, nor before every task ended or was dropped.
    pub(crate) fn check_cleanup_order(
        &self,
        generation: usize,
        began: Instant,
        logged: usize,
    ) -> Result<Cleanups, String> {
        if let Some((_, late)) = self.of(generation).find(|(i, _)| *i >= logged) {
            return Err(format!(
                "start {generation}: {:?} logged at {} after its stop returned",
                late.event,
                self.ms(late.at)
            ));
        }
        let cleanups: Vec<(usize, usize, Instant)> = self
            .of(generation)
            .filter_map(|(i, r)| match r.event {
                Event::CleanupBegan(c) => Some((i, c, r.at)),
                _ => None,
            })
            .collect();
        let expected: Vec<usize> = self
            .set_up(generation)
            .iter()
            .rev()
            .map(|&(c, _)| c)
            .collect();
        let seen: Vec<usize> = cleanups.iter().map(|&(_, c, _)| c).collect();
        ensure!(
            seen == expected,
            "start {generation}: cleanups {seen:?}, expected {expected:?} (reverse of setup)"
        );
        let mut last_task_end = began;
        if let Some(&(first, _, first_at)) = cleanups.first() {
            ensure!(
                first_at >= began,
                "start {generation}: cleanup began at {}, before shutdown at {}",
                self.ms(first_at),
                self.ms(began)
            );
            for task in 0..self.tasks_in(generation) {
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
        }
        // One after the other: each begins once the one before it has ended (in the log).
        for pair in cleanups.windows(2) {
            let (_, previous, _) = pair[0];
            let (next_index, next, _) = pair[1];
            let previous_ended = self.of(generation).any(|(i, r)| {
                i < next_index && matches!(r.event, Event::CleanupEnded(c, _) if c == previous)
            });
            let previous_pending = self.of(generation).any(|(i, r)| {
                i > next_index && matches!(r.event, Event::CleanupEnded(c, _) if c == previous)
            });
            ensure!(
                previous_ended || !previous_pending,
                "start {generation}: cleanup of c{next} began while c{previous}'s still ran"
            );
        }
        Ok(Cleanups {
            began: cleanups,
            expected,
            last_task_end,
        })
    }

    /// Invariant 3 on virtual time: each cleanup ends when its behaviour ends or at its timeout,
    /// the next begins then, and the whole stop within its bound.
    fn check_cleanup_timing(
        &self,
        generation: usize,
        cleanups: &Cleanups,
        (began, ended): (Instant, Instant),
        grace: Option<Duration>,
    ) -> Checked {
        let mut previous_end: Option<Instant> = None;
        for &(_, c, at) in &cleanups.began {
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
        let n = u32::try_from(cleanups.expected.len()).unwrap();
        let bound = grace.unwrap_or_default() + self.timeout() * n;
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
        Ok(())
    }

    /// The contexts' lines of the report: one per context set up, in cleanup order, each with
    /// the outcome its cleanup implies, as the log shows it.
    pub(crate) fn check_context_report(
        &self,
        generation: usize,
        expected: &[usize],
        report: &Report,
    ) -> Checked {
        let names: Vec<&str> = report.contexts.iter().map(|c| &*c.name).collect();
        let expected_names: Vec<String> = expected.iter().map(|&c| context_name(c)).collect();
        ensure!(
            names == expected_names,
            "start {generation}: report lists contexts {names:?}, expected {expected_names:?}"
        );
        for (line, &c) in report.contexts.iter().zip(expected) {
            let ended_in_log = self
                .of(generation)
                .any(|(_, r)| matches!(r.event, Event::CleanupEnded(e, _) if e == c));
            let want = self.cleanup_outcome(c);
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
        Ok(())
    }

    /// How context `c`'s cleanup ends, given the cleanup timeout.
    pub(crate) fn cleanup_outcome(&self, c: usize) -> ContextOutcome {
        let timeout = self.case.cleanup_timeout;
        match self.case.contexts[c].cleanup {
            Cleanup::Done(d) if d < timeout => ContextOutcome::CleanedUp,
            Cleanup::Fail(d) if d < timeout => {
                ContextOutcome::CleanupFailed(CLEANUP_FAILURE.into())
            }
            Cleanup::Panic(d) if d < timeout => {
                ContextOutcome::CleanupPanicked(CLEANUP_PANIC.to_owned())
            }
            _ => ContextOutcome::TimedOut,
        }
    }
}
