//! Running each task: its body polled and its end recorded; a supervised task's supervisor
//! (restarts, schedules, criticality) and the span of each run; a singleton's lease terms; a
//! once-per-point task's claims; the watchdog of polls that never return.
//!
//! It may use: `base`, `replicas`, `report`, `schedules`, `inject`, `registration`, `status`.

pub(crate) mod blocking_watchdog;
pub(crate) mod body;
pub(crate) mod keeper;
pub(crate) mod points;
pub(crate) mod run_observer;
pub(crate) mod singleton;
pub(crate) mod supervisor;
