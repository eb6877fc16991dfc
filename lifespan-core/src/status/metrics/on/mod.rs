//! The metrics, with the feature on: what the runtime calls as it learns each thing.

mod meters;
mod names;

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub(crate) use self::meters::meters;
use self::meters::{of_entry, Meters};
pub(crate) use self::names::describe;
use crate::base::wall_clock::WallClock;
use crate::registration::entry::Entry;
use crate::report::outcome::TaskOutcome;
use crate::status::metrics::Operation;
use crate::status::snapshot::RunOutcome;

/// Seconds since the Unix epoch of `at` (negative before it).
fn unix_seconds(at: SystemTime) -> f64 {
    match at.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(since) => since.as_secs_f64(),
        Err(before) => -before.duration().as_secs_f64(),
    }
}

/// A run of task `label` returned an error.
pub(crate) fn failed(label: &str) {
    meters(label).failures().increment(1);
}

/// A run of task `label` panicked.
pub(crate) fn panicked(label: &str) {
    meters(label).panics().increment(1);
}

/// Task `label` was restarted.
pub(crate) fn restarted(label: &str) {
    meters(label).restarts().increment(1);
}

/// Task `label` ended failed for good (it failed or panicked, and is not restarted).
pub(crate) fn failed_for_good(label: &str) {
    let meters = meters(label);
    meters.failed.store(true, Ordering::Relaxed);
    meters.failed_for_good.set(1.0);
}

/// Singleton `label` gained (`true`) or lost its lease on this replica.
pub(crate) fn lease_held(label: &str, held: bool) {
    let meters = meters(label);
    meters.lease_held().set(if held { 1.0 } else { 0.0 });
    meters.lease_changes().increment(1);
}

/// Once-per-point task `label` missed `missed` points of its schedule.
pub(crate) fn missed_points(label: &str, missed: u64) {
    meters(label).missed_points().increment(missed);
}

/// One task counted as running while this lives; not failed for good from its start.
pub(crate) struct Running(&'static Meters);

impl Running {
    pub(crate) fn start(entry: &Entry) -> Self {
        Running::of(of_entry(entry))
    }

    fn of(meters: &'static Meters) -> Self {
        meters.running.increment(1.0);
        if meters.failed.load(Ordering::Relaxed) && meters.failed.swap(false, Ordering::Relaxed) {
            meters.failed_for_good.set(0.0);
        }
        Running(meters)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.decrement(1.0);
    }
}

/// The handles of a task that runs many times, looked up once per start of the task.
pub(crate) struct Runs(&'static Meters);

impl Runs {
    pub(crate) fn new(entry: &Entry) -> Self {
        Runs(of_entry(entry))
    }

    /// A run begins; `manual`: asked for by hand.
    pub(crate) fn started(&self, manual: bool) {
        self.0.starts.increment(1);
        if manual {
            self.0.manual_runs().increment(1);
        }
    }

    /// The next run is due at `next` (on the runtime's clock), shown by `clock` as the status
    /// shows it; none planned leaves the last time shown.
    pub(crate) fn planned(&self, next: Option<Instant>, clock: &WallClock) {
        if let Some(next) = next {
            self.0.next_run().set(unix_seconds(clock.at(next)));
        }
    }

    /// A run took `duration` and ended so, now by `clock`.
    pub(crate) fn ended(&self, duration: Duration, outcome: RunOutcome, clock: &WallClock) {
        run_ended(self.0, || duration, outcome, clock);
    }
}

/// A run of the task of `meters` took `duration()` and ended so, now by `clock`. A run stopped
/// (by shutdown, or by the loss of its lease) is not timed: its length is the app's or the
/// lease's, not the run's. That also spares a shutdown one write per task into the recorder's
/// histograms, which the exporter may scrape no more once the process ends.
fn run_ended(
    meters: &Meters,
    duration: impl FnOnce() -> Duration,
    outcome: RunOutcome,
    clock: &WallClock,
) {
    if outcome == RunOutcome::Cancelled {
        return;
    }
    meters.duration().record(duration().as_secs_f64());
    match outcome {
        RunOutcome::Succeeded => meters.last_success().set(unix_seconds(clock.now())),
        RunOutcome::TimedOut => meters.timeouts().increment(1),
        _ => {}
    }
}

/// A plain task, which runs once: from its first poll (see [`Plain::begin`]), running while
/// this lives. Its run is timed as its status shows it running: from the app's start of its
/// tasks, a time the board keeps, so that a task keeps no instant of its own.
pub(crate) struct Plain(Option<Running>);

impl Plain {
    /// Not begun: nothing recorded yet.
    pub(crate) fn new() -> Self {
        Plain(None)
    }

    /// Whether its run has begun.
    pub(crate) fn begun(&self) -> bool {
        self.0.is_some()
    }

    /// The task of `entry` begins to run: at its first poll, on the worker that polls it,
    /// rather than in the startup's loop that spawns every task.
    pub(crate) fn begin(&mut self, entry: &Entry) {
        let meters = of_entry(entry);
        meters.starts.increment(1);
        self.0 = Some(Running::of(meters));
    }

    /// Its run ended so, after `took()`, now by `clock`.
    pub(crate) fn ended(
        &self,
        outcome: &TaskOutcome,
        took: impl FnOnce() -> Duration,
        clock: &WallClock,
    ) {
        let Some(running) = &self.0 else { return };
        let outcome = match outcome {
            TaskOutcome::Completed => RunOutcome::Succeeded,
            TaskOutcome::Failed(_) => RunOutcome::Failed,
            TaskOutcome::Panicked(_) => RunOutcome::Panicked,
            _ => RunOutcome::Cancelled,
        };
        run_ended(running.0, took, outcome, clock);
    }
}

/// The requests of one task to the coordinator: each timed, its failure counted.
pub(crate) struct Requests {
    meters: &'static Meters,
    /// The app's shutdown: a request dropped unanswered once it has begun is no failure.
    shutdown: CancellationToken,
}

impl Requests {
    pub(crate) fn new(label: &str, shutdown: &CancellationToken) -> Self {
        Requests {
            meters: meters(label),
            shutdown: shutdown.clone(),
        }
    }

    /// Makes `request`, of `operation`: its duration recorded, and counted as failed if it
    /// fails, or if it is dropped unanswered (its time limit passed) before shutdown began.
    pub(crate) async fn measure<T, E>(
        &self,
        operation: Operation,
        request: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let mut pending = Pending {
            requests: self,
            operation,
            began: Instant::now(),
            answer: None,
        };
        let answer = request.await;
        pending.answer = Some(answer.is_ok());
        answer
    }
}

/// A request in flight: recorded when it is dropped, answered or not.
struct Pending<'a> {
    requests: &'a Requests,
    operation: Operation,
    began: Instant,
    /// Whether it succeeded, once answered.
    answer: Option<bool>,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        // Dropped unanswered because the app stops: neither a failure nor a duration.
        if self.answer.is_none() && self.requests.shutdown.is_cancelled() {
            return;
        }
        let (errors, duration) = self.requests.meters.requests(self.operation);
        duration.record(self.began.elapsed().as_secs_f64());
        if self.answer != Some(true) {
            errors.increment(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wall clock set before 1970 gives negative times, not the distance to the epoch.
    #[test]
    fn times_before_the_epoch_are_negative() {
        let epoch = SystemTime::UNIX_EPOCH;
        assert_eq!(unix_seconds(epoch + Duration::from_millis(1500)), 1.5);
        assert_eq!(unix_seconds(epoch - Duration::from_millis(2500)), -2.5);
    }
}
