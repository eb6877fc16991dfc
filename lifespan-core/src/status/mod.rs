//! How each part is doing while the app runs: the board that tasks and contexts write (with what
//! operators asked of each task: pauses, manual runs), the run
//! history of supervised tasks, the app's phase, the [`Status`](crate::Status) read from them,
//! the ledger of once-per-point tasks read from the coordinator,
//! metrics (feature `metrics`) with the requests of each task to the coordinator they measure,
//! the alerting rules on them, the start of each poll in progress, their `serde` form, and this
//! replica's status published for the others (feature `serde`).
//!
//! It may use: `base`, `replicas`, `report`, `schedules`, `registration`.

#[cfg(feature = "metrics")]
pub(crate) mod alert_rules;
pub(crate) mod board;
pub(crate) mod control;
pub(crate) mod history;
pub(crate) mod ledger;
pub(crate) mod metrics;
pub(crate) mod phase;
pub(crate) mod poll_starts;
#[cfg(feature = "serde")]
pub(crate) mod publish;
pub(crate) mod requests;
#[cfg(feature = "serde")]
pub(crate) mod serialize;
pub(crate) mod snapshot;
