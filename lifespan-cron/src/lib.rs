//! The cron expressions and time zones of `lifespan-core` (feature `cron`), in one place for
//! the runtime and the attribute macros: the parser's settings, what is wrong with an
//! expression or a zone name (a [`CronError`], whose message names the wrong field and its
//! range), and the occurrences of a [`Schedule`] in its zone.
//!
//! An expression has 6 fields (second minute hour day-of-month month day-of-week), or 5
//! without the seconds (then at second 0), or is a nickname such as `@daily`; a zone is an
//! IANA name such as `Europe/Berlin`, UTC if none is given.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use lifespan_cron::{check, check_zone, Schedule};
//!
//! assert_eq!(check("0 */5 * * * *"), Ok(()));
//! assert_eq!(
//!     check("0 */5 24 * * *").unwrap_err().to_string(),
//!     "the cron expression's hours field `24` is out of range 0–23"
//! );
//! assert!(check_zone("Europe/Berln").is_err());
//!
//! let schedule = Schedule::parse("0 */5 * * * *", Some("Europe/Berlin"))?;
//! let noon = SystemTime::UNIX_EPOCH + Duration::from_secs(1_735_732_800); // 2025-01-01T12:00Z
//! assert_eq!(schedule.next_after(noon), Some(noon + Duration::from_secs(300)));
//! assert_eq!(schedule.shortest_gap(), Some(Duration::from_secs(300)));
//! # Ok::<(), lifespan_cron::CronError>(())
//! ```
//!
//! Depend on `lifespan-core` with its `cron` feature rather than on this crate: it re-exports
//! [`CronError`], and its `TaskOptions::cron` and `#[lifespan(cron = "...")]` take the
//! expressions.

#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod expression;
mod schedule;
mod zone;

pub use schedule::Schedule;
pub use zone::zone_names;

/// What is wrong with a cron expression or a time zone.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CronError {
    /// The expression does not have 5 or 6 fields.
    #[error("the cron expression `{expression}` has {count} field{}: give 6 (second minute hour day-of-month month day-of-week), or 5 without the seconds", if *count == 1 { "" } else { "s" })]
    FieldCount {
        /// The expression as given.
        expression: String,
        /// How many fields it has.
        count: usize,
    },
    /// One field is wrong.
    #[error("the cron expression's {field} field `{value}` {reason}")]
    Field {
        /// Which field: `seconds`, `minutes`, `hours`, `day-of-month`, `month` or `day-of-week`.
        field: &'static str,
        /// The field as written.
        value: String,
        /// Why it is wrong: "is out of range 0–59".
        reason: String,
    },
    /// The expression is wrong as a whole, or matches no date at all (`0 0 0 30 2 *`).
    #[error("the cron expression `{expression}` {reason}")]
    Expression {
        /// The expression as given.
        expression: String,
        /// Why it is wrong.
        reason: String,
    },
    /// The time zone is not an IANA zone name.
    #[error("unknown time zone `{zone}`: give an IANA zone name, as in `Europe/Berlin` or `UTC`{}", suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    TimeZone {
        /// The zone as given.
        zone: String,
        /// A zone of the same name in another case, if there is one.
        suggestion: Option<String>,
    },
}

/// Checks the cron expression `expression` without keeping it: what is wrong with it, naming
/// the first wrong field.
pub fn check(expression: &str) -> Result<(), CronError> {
    expression::parse(expression).map(drop)
}

/// Checks the IANA time zone name `name`: if it is none, the error suggests the zone of the
/// same name in another case, if there is one.
pub fn check_zone(name: &str) -> Result<(), CronError> {
    zone::parse(name).map(drop)
}
