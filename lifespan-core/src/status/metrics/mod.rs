//! Metrics of tasks through the [`metrics`](https://docs.rs/metrics) facade (feature
//! `metrics`): starts, failures, panics, restarts, run durations, running tasks, the last
//! success and the next run, missed points, timeouts, manual runs, failures for good, leases,
//! and the requests to the coordinator; each labelled with the task's name only (and the
//! request's [`Operation`] for the coordinator's). Without the feature, every call here is empty
//! and every type holds nothing: the compiler removes them.
//!
//! The handles of a task's metrics are made once per process and recorder, at the task's first
//! start, not at every start: see [`on::meters`](self).
//!
//! The names and what they count are in the crate's documentation (`lib.rs`, "Metrics").

#[cfg(feature = "metrics")]
mod on;
#[cfg(feature = "metrics")]
pub(crate) use on::*;

#[cfg(not(feature = "metrics"))]
mod off;
#[cfg(not(feature = "metrics"))]
pub(crate) use off::*;

/// A request the runtime makes to the coordinator for one task: the `operation` label of the
/// coordinator's metrics, from a fixed set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operation {
    AcquireLease,
    RenewLease,
    ReleaseLease,
    ReadClock,
    ClaimRun,
    RenewRun,
    FinishRun,
    RecentRuns,
    Pause,
    Resume,
    RequestRun,
}

impl Operation {
    /// How many there are.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) const COUNT: usize = 11;

    /// Its label.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Operation::AcquireLease => "acquire_lease",
            Operation::RenewLease => "renew_lease",
            Operation::ReleaseLease => "release_lease",
            Operation::ReadClock => "read_clock",
            Operation::ClaimRun => "claim_run",
            Operation::RenewRun => "renew_run",
            Operation::FinishRun => "finish_run",
            Operation::RecentRuns => "recent_runs",
            Operation::Pause => "pause",
            Operation::Resume => "resume",
            Operation::RequestRun => "request_run",
        }
    }
}
