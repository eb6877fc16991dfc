//! The settings of a built app, fixed for its whole life, and the bounds of a shutdown.

use std::time::Duration;

/// The settings of a built app; fixed for its whole life.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Config {
    pub(crate) grace_period: Duration,
    pub(crate) cleanup_timeout: Duration,
    pub(crate) dev_mode: bool,
    pub(crate) drain_timeout: Duration,
    /// How long a server run by the app keeps serving once shutdown began.
    pub(crate) drain_delay: Duration,
    pub(crate) blocking_threshold: Option<Duration>,
    pub(crate) startup_timeout: Option<Duration>,
    /// How long each readiness check may take before it counts as failed.
    pub(crate) readiness_timeout: Duration,
    /// How long a task's poll may go without returning before the app is not live.
    pub(crate) stuck_limit: Option<Duration>,
}

impl Config {
    pub(crate) fn timeouts(&self) -> Timeouts {
        Timeouts {
            grace_period: self.grace_period,
            cleanup_timeout: self.cleanup_timeout,
        }
    }
}

/// The bounds of a shutdown.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeouts {
    pub(crate) grace_period: Duration,
    pub(crate) cleanup_timeout: Duration,
}
