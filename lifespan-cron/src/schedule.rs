//! A cron schedule: an expression and a time zone, parsed once, and the pure computation of
//! the next occurrence after a wall-clock time (the clock itself is the caller's, so that
//! daylight-saving changes are tested on fixed times).

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::{expression, zone, CronError};

/// A parsed cron schedule in its zone.
///
/// ```
/// use std::time::Duration;
/// use lifespan_cron::Schedule;
///
/// // Every day at 03:00 in Auckland: 23 hours apart on the day the clocks go forward.
/// let schedule = Schedule::parse("0 0 3 * * *", Some("Pacific/Auckland"))?;
/// assert_eq!(schedule.shortest_gap(), Some(Duration::from_secs(23 * 3600)));
/// # Ok::<(), lifespan_cron::CronError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Schedule {
    cron: croner::Cron,
    zone: Tz,
}

impl Schedule {
    /// Parses `expression` in the IANA zone `zone` (UTC if `None`), or says what is wrong with
    /// them (the zone first).
    pub fn parse(expression: &str, zone: Option<&str>) -> Result<Self, CronError> {
        let zone = match zone {
            Some(zone) => zone::parse(zone)?,
            None => Tz::UTC,
        };
        Ok(Schedule {
            cron: expression::parse(expression)?,
            zone,
        })
    }

    /// The first occurrence strictly after `time`; `None` if there is none (the search gave
    /// up, or it is past what a `SystemTime` holds).
    pub fn next_after(&self, time: SystemTime) -> Option<SystemTime> {
        // croner steps whole seconds from the start: from the second `time` falls in, the
        // first occurrence after that second is after `time` too.
        let start = in_zone(time, self.zone)?;
        let next = self.cron.find_next_occurrence(&start, false).ok()?;
        Some(SystemTime::from(next.with_timezone(&Utc)))
    }

    /// The first occurrence at or after `time`.
    pub fn at_or_after(&self, time: SystemTime) -> Option<SystemTime> {
        let just_before = time.checked_sub(Duration::from_nanos(1))?;
        self.next_after(just_before)
    }
}

/// From when [`Schedule::shortest_gap`] looks at the occurrences: 2024-01-01T00:00:00Z, a
/// fixed date (a schedule is accepted or refused the same way on every day), at the start of a
/// leap year.
const GAPS_FROM: Duration = Duration::from_secs(1_704_067_200);

/// How many occurrences [`Schedule::shortest_gap`] looks at, at most.
const GAPS_OCCURRENCES: usize = 2_000;

/// Over how long [`Schedule::shortest_gap`] looks at the occurrences, at most: eight years,
/// two leap days.
const GAPS_SPAN: Duration = Duration::from_secs(8 * 366 * 24 * 3600);

impl Schedule {
    /// The shortest gap between two successive occurrences, among the first 2,000 from
    /// 2024-01-01 within eight years (both daylight-saving changes of each year, for a schedule
    /// that runs at most about once a day; a schedule that runs more often repeats within
    /// days); `None` if it has fewer than two occurrences there. A gap of a second, the
    /// shortest there is, ends the search.
    pub fn shortest_gap(&self) -> Option<Duration> {
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
