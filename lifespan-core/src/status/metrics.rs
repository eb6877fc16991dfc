//! Metrics of tasks through the [`metrics`](https://docs.rs/metrics) facade (feature
//! `metrics`): starts, failures, panics, restarts, run durations and running tasks, each
//! labelled with the task's name only. Without the feature, every call here is empty and every
//! type holds nothing: the compiler removes them.
//!
//! The names and what they count are in the crate's documentation (`lib.rs`, "Metrics").

#[cfg(feature = "metrics")]
pub(crate) use on::*;

#[cfg(not(feature = "metrics"))]
pub(crate) use off::*;

#[cfg(feature = "metrics")]
mod on {
    use std::time::{Duration, SystemTime};

    use metrics::{Counter, Gauge, Histogram, Unit};
    use tokio::time::Instant;

    use crate::report::outcome::TaskOutcome;
    use crate::status::board::Board;
    use crate::status::snapshot::RunOutcome;

    const STARTS: &str = "lifespan_task_starts_total";
    const FAILURES: &str = "lifespan_task_failures_total";
    const PANICS: &str = "lifespan_task_panics_total";
    const RESTARTS: &str = "lifespan_task_restarts_total";
    const DURATION: &str = "lifespan_task_run_duration_seconds";
    const RUNNING: &str = "lifespan_tasks_running";
    const LAST_SUCCESS: &str = "lifespan_task_last_success_timestamp_seconds";

    /// Describes the metrics to the recorder installed now: at each start of an app, so that a
    /// recorder installed between two starts learns them too.
    pub(crate) fn describe() {
        metrics::describe_counter!(STARTS, Unit::Count, "Runs of a lifespan task's body begun");
        metrics::describe_counter!(
            FAILURES,
            Unit::Count,
            "Runs of a lifespan task that returned an error"
        );
        metrics::describe_counter!(PANICS, Unit::Count, "Runs of a lifespan task that panicked");
        metrics::describe_counter!(
            RESTARTS,
            Unit::Count,
            "Restarts of a lifespan task after a run ended"
        );
        metrics::describe_histogram!(
            DURATION,
            Unit::Seconds,
            "How long each run of a lifespan task took"
        );
        metrics::describe_gauge!(
            RUNNING,
            Unit::Count,
            "Lifespan tasks started and not ended for good"
        );
        metrics::describe_gauge!(
            LAST_SUCCESS,
            Unit::Seconds,
            "Wall-clock time (seconds since the Unix epoch) at which a run of a lifespan task last ended successfully"
        );
    }

    /// Seconds since the Unix epoch of `at` (negative before it).
    fn unix_seconds(at: SystemTime) -> f64 {
        match at.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(since) => since.as_secs_f64(),
            Err(before) => -before.duration().as_secs_f64(),
        }
    }

    /// A run of task `label` ended successfully, now by `board`'s wall clock.
    fn succeeded(label: &str, board: &Board) {
        metrics::gauge!(LAST_SUCCESS, &task(label)).set(unix_seconds(board.wall_now()));
    }

    fn task(label: &str) -> [(&'static str, String); 1] {
        [("task", label.to_owned())]
    }

    /// A run of task `label` returned an error.
    pub(crate) fn failed(label: &str) {
        metrics::counter!(FAILURES, &task(label)).increment(1);
    }

    /// A run of task `label` panicked.
    pub(crate) fn panicked(label: &str) {
        metrics::counter!(PANICS, &task(label)).increment(1);
    }

    /// Task `label` was restarted.
    pub(crate) fn restarted(label: &str) {
        metrics::counter!(RESTARTS, &task(label)).increment(1);
    }

    /// One task counted as running while this lives.
    pub(crate) struct Running(Gauge);

    impl Running {
        pub(crate) fn start(label: &str) -> Self {
            let gauge = metrics::gauge!(RUNNING, &task(label));
            gauge.increment(1.0);
            Running(gauge)
        }
    }

    impl Drop for Running {
        fn drop(&mut self) {
            self.0.decrement(1.0);
        }
    }

    /// The handles of a task that runs many times: made once, so that a run does not look its
    /// metrics up by name.
    pub(crate) struct Runs {
        starts: Counter,
        duration: Histogram,
    }

    impl Runs {
        pub(crate) fn new(label: &str) -> Self {
            Runs {
                starts: metrics::counter!(STARTS, &task(label)),
                duration: metrics::histogram!(DURATION, &task(label)),
            }
        }

        /// A run of task `index` of `board` took `duration` and ended so.
        pub(crate) fn ended(
            &self,
            duration: Duration,
            outcome: RunOutcome,
            board: &Board,
            index: usize,
        ) {
            self.ran(duration);
            if outcome == RunOutcome::Succeeded {
                succeeded(board.plan.task(index).label(), board);
            }
        }

        /// A run begins.
        pub(crate) fn started(&self) {
            self.starts.increment(1);
        }

        /// A run took `duration`.
        pub(crate) fn ran(&self, duration: Duration) {
            self.duration.record(duration.as_secs_f64());
        }
    }

    /// A plain task, which runs once: running while this lives, its run timed.
    pub(crate) struct Plain {
        runs: Runs,
        began: Instant,
        _running: Running,
    }

    impl Plain {
        pub(crate) fn start(label: &str) -> Self {
            let runs = Runs::new(label);
            runs.started();
            Plain {
                runs,
                began: Instant::now(),
                _running: Running::start(label),
            }
        }

        /// Its run ended so, task `index` of `board`.
        pub(crate) fn ended(&self, outcome: &TaskOutcome, board: &Board, index: usize) {
            self.runs.ran(self.began.elapsed());
            if matches!(outcome, TaskOutcome::Completed) {
                succeeded(board.plan.task(index).label(), board);
            }
        }
    }
}

#[cfg(not(feature = "metrics"))]
mod off {
    use std::time::Duration;

    use crate::report::outcome::TaskOutcome;
    use crate::status::board::Board;
    use crate::status::snapshot::RunOutcome;

    #[inline(always)]
    pub(crate) fn describe() {}

    #[inline(always)]
    pub(crate) fn failed(_: &str) {}

    #[inline(always)]
    pub(crate) fn panicked(_: &str) {}

    #[inline(always)]
    pub(crate) fn restarted(_: &str) {}

    pub(crate) struct Running;

    impl Running {
        #[inline(always)]
        pub(crate) fn start(_: &str) -> Self {
            Running
        }
    }

    pub(crate) struct Runs;

    impl Runs {
        #[inline(always)]
        pub(crate) fn new(_: &str) -> Self {
            Runs
        }

        #[inline(always)]
        pub(crate) fn started(&self) {}

        #[inline(always)]
        pub(crate) fn ended(&self, _: Duration, _: RunOutcome, _: &Board, _: usize) {}
    }

    pub(crate) struct Plain;

    impl Plain {
        #[inline(always)]
        pub(crate) fn start(_: &str) -> Self {
            Plain
        }

        #[inline(always)]
        pub(crate) fn ended(&self, _: &TaskOutcome, _: &Board, _: usize) {}
    }
}
