//! What a task's options say and when its runs are due: restart, `every`, `cron` (feature
//! `cron`), initial delay, time limit and jitter; the due time of each run.
//!
//! It may use: `base`, `replicas`.

#[cfg(feature = "cron")]
pub(crate) mod cron;
pub(crate) mod due_times;
pub(crate) mod options;
pub(crate) mod timing_options;
