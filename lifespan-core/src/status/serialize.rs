//! `Status` and `Report` as JSON or any other `serde` format (feature `serde`, which the `axum`
//! feature turns on).
//!
//! Names of states and outcomes come from their `as_str`, defined once. Durations are whole
//! milliseconds (`in_state_ms`), wall-clock times whole milliseconds since the Unix epoch
//! (`next_run_unix_ms`). Error messages are included, with the passwords of URLs
//! masked: serialize a `Status` only where its readers may see them (the status route serves
//! them only on request: see `status_handler`).

use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};

use crate::replicas::{Holder, Pause};
use crate::report::outcome::{ContextOutcome, ContextReport, Report, TaskOutcome, TaskReport};
use crate::status::ledger::{LedgerRun, LedgerRunState, TaskLedger};
use crate::status::snapshot::{
    ContextStatus, LastRun, LeaseStatus, RunOutcome, RunState, Status, TaskStatus,
};

impl Serialize for RunState {
    /// As its name: `"running"`, `"backing_off"`, ...
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl Serialize for RunOutcome {
    /// As its name: `"succeeded"`, `"timed_out"`, ...
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Milliseconds since the Unix epoch; 0 before it.
pub(crate) fn unix_millis(at: std::time::SystemTime) -> u64 {
    at.duration_since(std::time::UNIX_EPOCH).map_or(0, millis)
}

impl Serialize for LastRun {
    /// `{"started_unix_ms": ..., "duration_ms": 2000, "outcome": "succeeded"}`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut line = serializer.serialize_struct("LastRun", 3)?;
        line.serialize_field("started_unix_ms", &unix_millis(self.started))?;
        line.serialize_field("duration_ms", &millis(self.duration))?;
        line.serialize_field("outcome", &self.outcome)?;
        line.end()
    }
}

impl Serialize for TaskStatus {
    /// Its fields; `last_run` as [`LastRun`] serializes, `next_run` as `next_run_unix_ms`;
    /// `missed` is `null` but for a once-per-point task; `paused` is `null`, or
    /// `{"by": "web-1", "since_unix_ms": ...}`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut line = serializer.serialize_struct("TaskStatus", 13)?;
        line.serialize_field("name", self.name.as_str())?;
        line.serialize_field("display_name", &self.display_name)?;
        line.serialize_field("state", &self.state)?;
        line.serialize_field("restarts", &self.restarts)?;
        line.serialize_field("last_error", &self.last_error)?;
        line.serialize_field("in_state_ms", &millis(self.in_state))?;
        line.serialize_field("lease", &self.lease)?;
        line.serialize_field("runs", &self.runs)?;
        line.serialize_field("last_run", &self.last_run)?;
        line.serialize_field("next_run_unix_ms", &self.next_run.map(unix_millis))?;
        line.serialize_field("missed", &self.missed)?;
        line.serialize_field("manual_runs", &self.manual_runs)?;
        line.serialize_field("paused", &self.paused)?;
        line.end()
    }
}

impl Serialize for LedgerRunState {
    /// As its name: `"running"`, `"interrupted"`, `"finished"`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl Serialize for LedgerRun {
    /// `{"number": 29446260, "scheduled_unix_ms": ..., "instance": "web-2:4181", "attempt": 1,
    /// "token": 12, "started_unix_ms": ..., "duration_ms": 212, "state": "finished",
    /// "outcome": "succeeded"}`; `"outcome"` is `null` until the run finished; a manual run
    /// has `"manual": true` too.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut line = serializer.serialize_struct("LedgerRun", 10)?;
        line.serialize_field("number", &self.number)?;
        line.serialize_field("scheduled_unix_ms", &unix_millis(self.scheduled))?;
        line.serialize_field("instance", &self.instance)?;
        line.serialize_field("attempt", &self.attempt)?;
        line.serialize_field("token", &self.token)?;
        line.serialize_field("started_unix_ms", &unix_millis(self.started))?;
        line.serialize_field("duration_ms", &millis(self.duration))?;
        line.serialize_field("state", &self.state)?;
        line.serialize_field("outcome", &self.outcome)?;
        if self.manual {
            line.serialize_field("manual", &true)?;
        } else {
            line.skip_field("manual")?;
        }
        line.end()
    }
}

impl Serialize for Pause {
    /// `{"by": "web-1", "since_unix_ms": ...}`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut line = serializer.serialize_struct("Pause", 2)?;
        line.serialize_field("by", &self.by)?;
        line.serialize_field("since_unix_ms", &unix_millis(self.since))?;
        line.end()
    }
}

impl Serialize for TaskLedger {
    /// `{"task": "...", "runs": [...], "missed": 0, "read_at_unix_ms": ...}`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut ledger = serializer.serialize_struct("TaskLedger", 4)?;
        ledger.serialize_field("task", self.task.as_str())?;
        ledger.serialize_field("runs", &self.runs)?;
        ledger.serialize_field("missed", &self.missed)?;
        ledger.serialize_field("read_at_unix_ms", &unix_millis(self.read_at))?;
        ledger.end()
    }
}

impl Serialize for LeaseStatus {
    /// `{"holder": {"instance": "web-2:4181", "token": 7, "since_unix_ms": ...}, "held_here":
    /// false, "terms": 0}`; `"holder"` is `null` when not known.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut line = serializer.serialize_struct("LeaseStatus", 3)?;
        line.serialize_field("holder", &self.holder)?;
        line.serialize_field("held_here", &self.held_here)?;
        line.serialize_field("terms", &self.terms)?;
        line.end()
    }
}

impl Serialize for Holder {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let since = unix_millis(self.since);
        let mut line = serializer.serialize_struct("Holder", 3)?;
        line.serialize_field("instance", &self.instance)?;
        line.serialize_field("token", &self.token)?;
        line.serialize_field("since_unix_ms", &since)?;
        line.end()
    }
}

impl Serialize for ContextStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut line = serializer.serialize_struct("ContextStatus", 5)?;
        line.serialize_field("name", self.name.as_str())?;
        line.serialize_field("display_name", &self.display_name)?;
        line.serialize_field("state", &self.state)?;
        line.serialize_field("last_error", &self.last_error)?;
        line.serialize_field("in_state_ms", &millis(self.in_state))?;
        line.end()
    }
}

impl Serialize for Status {
    /// `{"tasks": [...], "contexts": [...]}`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut status = serializer.serialize_struct("Status", 2)?;
        status.serialize_field("tasks", &self.tasks)?;
        status.serialize_field("contexts", &self.contexts)?;
        status.end()
    }
}

impl Serialize for TaskOutcome {
    /// `{"outcome": "failed", "error": "..."}`; `"error"` only for a failure or a panic.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let error = match self {
            TaskOutcome::Failed(error) => Some(format!("{error:#}")),
            TaskOutcome::Panicked(message) => Some(message.clone()),
            _ => None,
        };
        outcome(serializer, self.as_str(), error)
    }
}

impl Serialize for ContextOutcome {
    /// `{"outcome": "cleanup_failed", "error": "..."}`; `"error"` only for a failure or a
    /// panic.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let error = match self {
            ContextOutcome::CleanupFailed(error) => Some(format!("{error:#}")),
            ContextOutcome::CleanupPanicked(message) => Some(message.clone()),
            _ => None,
        };
        outcome(serializer, self.as_str(), error)
    }
}

fn outcome<S: Serializer>(
    serializer: S,
    name: &str,
    error: Option<String>,
) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(1 + usize::from(error.is_some())))?;
    map.serialize_entry("outcome", name)?;
    if let Some(error) = &error {
        map.serialize_entry("error", error)?;
    }
    map.end()
}

impl Serialize for TaskReport {
    /// `{"name": "...", "outcome": {...}, "restarts": 0, "terms": 0}`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut line = serializer.serialize_struct("TaskReport", 4)?;
        line.serialize_field("name", self.name.as_str())?;
        line.serialize_field("outcome", &self.outcome)?;
        line.serialize_field("restarts", &self.restarts)?;
        line.serialize_field("terms", &self.terms)?;
        line.end()
    }
}

impl Serialize for ContextReport {
    /// `{"name": "...", "outcome": {...}}`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut line = serializer.serialize_struct("ContextReport", 2)?;
        line.serialize_field("name", self.name.as_str())?;
        line.serialize_field("outcome", &self.outcome)?;
        line.end()
    }
}

impl Serialize for Report {
    /// `{"tasks": [...], "contexts": [...]}`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut report = serializer.serialize_struct("Report", 2)?;
        report.serialize_field("tasks", &self.tasks)?;
        report.serialize_field("contexts", &self.contexts)?;
        report.end()
    }
}
