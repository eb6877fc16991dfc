//! One app from build to stop: its settings and builder, the calls that start, stop and reload
//! it, startup (arguments, contexts in order, then tasks), what one start set running, the
//! server kept beside it, shutdown (drain, grace period, cleanup in reverse), the ledger of
//! its once-per-point tasks read from its coordinator, the alerting rules of its tasks, whether it is ready and live, and its
//! tasks operated by hand (trigger, pause, resume).
//!
//! It may use: `base`, `replicas`, `report`, `schedules`, `inject`, `registration`, `status`,
//! `tasks`.

#[cfg(feature = "metrics")]
pub(crate) mod alert_rules;
pub(crate) mod app;
pub(crate) mod builder;
pub(crate) mod config;
pub(crate) mod control;
pub(crate) mod generation;
pub(crate) mod ledger;
pub(crate) mod liveness;
pub(crate) mod readiness;
pub(crate) mod server_slot;
pub(crate) mod shutdown;
pub(crate) mod startup;
