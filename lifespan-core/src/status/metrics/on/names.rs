//! The names of the metrics, and their descriptions.

use metrics::Unit;

pub(super) const STARTS: &str = "lifespan_task_starts_total";
pub(super) const FAILURES: &str = "lifespan_task_failures_total";
pub(super) const PANICS: &str = "lifespan_task_panics_total";
pub(super) const RESTARTS: &str = "lifespan_task_restarts_total";
pub(super) const DURATION: &str = "lifespan_task_run_duration_seconds";
pub(super) const RUNNING: &str = "lifespan_tasks_running";
pub(super) const LAST_SUCCESS: &str = "lifespan_task_last_success_timestamp_seconds";
pub(super) const NEXT_RUN: &str = "lifespan_task_next_run_timestamp_seconds";
pub(super) const MISSED_POINTS: &str = "lifespan_task_missed_points_total";
pub(super) const TIMEOUTS: &str = "lifespan_task_timeouts_total";
pub(super) const MANUAL_RUNS: &str = "lifespan_task_manual_runs_total";
pub(super) const FAILED_FOR_GOOD: &str = "lifespan_task_failed_for_good";
pub(super) const LEASE_HELD: &str = "lifespan_task_lease_held";
pub(super) const LEASE_CHANGES: &str = "lifespan_task_lease_changes_total";
pub(super) const REQUEST_ERRORS: &str = "lifespan_coordinator_request_errors_total";
pub(super) const REQUEST_DURATION: &str = "lifespan_coordinator_request_duration_seconds";

/// Describes the metrics to the recorder installed now: at each start of an app, so that a
/// recorder installed between two starts learns them too.
pub(crate) fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(STARTS, Unit::Count, "Runs of a lifespan task's body begun");
    describe_counter!(
        FAILURES,
        Unit::Count,
        "Runs of a lifespan task that returned an error"
    );
    describe_counter!(PANICS, Unit::Count, "Runs of a lifespan task that panicked");
    describe_counter!(
        RESTARTS,
        Unit::Count,
        "Restarts of a lifespan task after a run ended"
    );
    describe_histogram!(
        DURATION,
        Unit::Seconds,
        "How long each run of a lifespan task took that ended on its own (not stopped)"
    );
    describe_gauge!(
        RUNNING,
        Unit::Count,
        "Lifespan tasks started and not ended for good"
    );
    describe_gauge!(
        LAST_SUCCESS,
        Unit::Seconds,
        "Wall-clock time (seconds since the Unix epoch) at which a run of a lifespan task last ended successfully"
    );
    describe_gauge!(
        NEXT_RUN,
        Unit::Seconds,
        "Wall-clock time (seconds since the Unix epoch) of a lifespan task's next planned run"
    );
    describe_counter!(
        MISSED_POINTS,
        Unit::Count,
        "Points of a once-per-point lifespan task's schedule missed (not run)"
    );
    describe_counter!(
        TIMEOUTS,
        Unit::Count,
        "Runs of a lifespan task cut at their timeout"
    );
    describe_counter!(
        MANUAL_RUNS,
        Unit::Count,
        "Runs of a lifespan task asked for by hand"
    );
    describe_gauge!(
        FAILED_FOR_GOOD,
        Unit::Count,
        "1 once a lifespan task ended failed for good, 0 while it runs"
    );
    describe_gauge!(
        LEASE_HELD,
        Unit::Count,
        "1 while this replica holds a singleton lifespan task's lease, else 0"
    );
    describe_counter!(
        LEASE_CHANGES,
        Unit::Count,
        "Times this replica gained or lost a singleton lifespan task's lease"
    );
    describe_counter!(
        REQUEST_ERRORS,
        Unit::Count,
        "Requests of a lifespan task to the coordinator that failed or went unanswered"
    );
    describe_histogram!(
        REQUEST_DURATION,
        Unit::Seconds,
        "How long each request of a lifespan task to the coordinator took"
    );
}
