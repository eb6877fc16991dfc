//! Cron schedules (feature `cron`): an expression and a time zone, parsed once, and the pure
//! computation of the next occurrence after a wall-clock time. The clock itself is elsewhere
//! ([`wall_clock`](crate::schedules::wall_clock)), so that daylight-saving changes are tested on fixed times.

mod fields;

use std::str::FromStr;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

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

/// A parsed cron schedule in its zone.
#[derive(Clone, Debug)]
pub(crate) struct CronSchedule {
    cron: croner::Cron,
    zone: Tz,
}

impl CronSchedule {
    /// Parses `expression` in `zone` (UTC if `None`).
    pub(crate) fn parse(expression: &str, zone: Option<&str>) -> Result<Self, CronError> {
        let zone = match zone {
            Some(zone) => parse_zone(zone)?,
            None => Tz::UTC,
        };
        Ok(CronSchedule {
            cron: fields::parse(expression)?,
            zone,
        })
    }

    /// The first occurrence strictly after `time`; `None` if there is none (the search gave
    /// up, or it is past what a `SystemTime` holds).
    pub(crate) fn next_after(&self, time: SystemTime) -> Option<SystemTime> {
        // croner steps whole seconds from the start: from the second `time` falls in, the
        // first occurrence after that second is after `time` too.
        let start = in_zone(time, self.zone)?;
        let next = self.cron.find_next_occurrence(&start, false).ok()?;
        Some(SystemTime::from(next.with_timezone(&Utc)))
    }

    /// The first occurrence at or after `time`.
    pub(crate) fn at_or_after(&self, time: SystemTime) -> Option<SystemTime> {
        let just_before = time.checked_sub(Duration::from_nanos(1))?;
        self.next_after(just_before)
    }
}

/// From when [`CronSchedule::shortest_gap`] looks at the occurrences: 2024-01-01T00:00:00Z, a
/// fixed date (a schedule is accepted or refused the same way on every day), at the start of a
/// leap year.
const GAPS_FROM: Duration = Duration::from_secs(1_704_067_200);

/// How many occurrences [`CronSchedule::shortest_gap`] looks at, at most.
const GAPS_OCCURRENCES: usize = 2_000;

/// Over how long [`CronSchedule::shortest_gap`] looks at the occurrences, at most: eight years,
/// two leap days.
const GAPS_SPAN: Duration = Duration::from_secs(8 * 366 * 24 * 3600);

impl CronSchedule {
    /// The shortest gap between two successive occurrences, among the first 2,000 from
    /// 2024-01-01 within eight years (both daylight-saving changes of each year, for a schedule
    /// that runs at most about once a day; a schedule that runs more often repeats within
    /// days); `None` if it has fewer than two occurrences there. A gap of a second, the
    /// shortest there is, ends the search.
    pub(crate) fn shortest_gap(&self) -> Option<Duration> {
        let start = SystemTime::UNIX_EPOCH + GAPS_FROM;
        let end = start + GAPS_SPAN;
        let mut last = self.at_or_after(start)?;
        let mut shortest: Option<Duration> = None;
        for _ in 0..GAPS_OCCURRENCES {
            let Some(next) = self.next_after(last).filter(|next| *next <= end) else {
                break;
            };
            let gap = next.duration_since(last).unwrap_or_default();
            shortest = Some(shortest.map_or(gap, |shortest| shortest.min(gap)));
            if gap <= Duration::from_secs(1) {
                break;
            }
            last = next;
        }
        shortest
    }
}

/// `time`, truncated to its second, as a date in `zone`; `None` outside chrono's range.
fn in_zone(time: SystemTime, zone: Tz) -> Option<DateTime<Tz>> {
    let seconds = match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_secs()).ok()?,
        // Before the epoch: the second it falls in starts at or before it.
        Err(before) => {
            let before = before.duration();
            let whole = i64::try_from(before.as_secs()).ok()?;
            -whole - i64::from(before.subsec_nanos() > 0)
        }
    };
    Some(DateTime::<Utc>::from_timestamp(seconds, 0)?.with_timezone(&zone))
}

/// The IANA zone `name`.
pub(crate) fn parse_zone(name: &str) -> Result<Tz, CronError> {
    Tz::from_str(name).map_err(|_| CronError::TimeZone {
        zone: name.to_owned(),
        suggestion: chrono_tz::TZ_VARIANTS
            .iter()
            .map(|zone| zone.name())
            .find(|known| known.eq_ignore_ascii_case(name.trim()))
            .map(str::to_owned),
    })
}

/// Checks `expression` without keeping it.
pub(crate) fn check(expression: &str) -> Result<(), CronError> {
    fields::parse(expression).map(drop)
}

#[cfg(test)]
mod tests;
