//! Cron schedules (feature `cron`): an expression and a time zone, parsed once, and the pure
//! computation of the next occurrence after a wall-clock time. The clock itself is elsewhere
//! ([`wall_clock`](crate::base::wall_clock)), so that daylight-saving changes are tested on fixed times.
//!
//! The parsing, the messages and the computation are lifespan-cron's, the crate the macros check
//! `#[lifespan(cron = "...")]` with at compile time: one set of rules and messages for both.

/// What is wrong with a cron expression or a time zone given to
/// [`TaskOptions::cron`](crate::TaskOptions::cron) or
/// [`TaskOptions::time_zone`](crate::TaskOptions::time_zone).
///
/// ```
/// use lifespan_core::{CronError, TaskOptions};
///
/// let error = TaskOptions::new().cron("0 61 * * * *").unwrap_err();
/// assert_eq!(error.to_string(), "the cron expression's minutes field `61` is out of range 0–59");
/// assert!(matches!(error, CronError::Field { field: "minutes", .. }));
/// ```
#[doc(inline)]
pub use lifespan_cron::CronError;

/// A parsed cron schedule in its zone.
pub(crate) use lifespan_cron::Schedule as CronSchedule;

/// Checks `expression` without keeping it.
pub(crate) use lifespan_cron::check;

/// Checks the IANA zone `name`.
pub(crate) use lifespan_cron::check_zone as parse_zone;

#[cfg(test)]
mod tests;
