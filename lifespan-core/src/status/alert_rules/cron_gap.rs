//! The longest gap between two consecutive occurrences of a cron schedule (feature `cron`):
//! the period its alert thresholds are reckoned from.
//!
//! Probes `step` apart find every gap at least `step` long, exactly: such a gap holds a probe,
//! and the occurrence before the probe is found by bisection. A schedule whose gaps are all
//! shorter than a day runs every day, at the same times of day: its gaps are found on two days
//! with probes an hour apart; shorter than an hour, on two hours a minute apart; shorter than a
//! minute, on two minutes a second apart (occurrences fall on whole seconds).

use std::time::{Duration, SystemTime};

use crate::schedules::cron::CronSchedule;

/// From when the occurrences are looked at: 2024-01-01T00:00:00Z, a fixed date (a schedule
/// gets the same thresholds on every day), at the start of a leap year.
const FROM: u64 = 1_704_067_200;

const DAY: u64 = 24 * 3600;

/// The steps of the probes and how long each looks: eight years (two leap days) a day apart,
/// then two days an hour apart, two hours a minute apart, two minutes a second apart.
const LEVELS: [(u64, u64); 4] = [
    (DAY, 8 * 366 * DAY),
    (3600, 2 * DAY),
    (60, 2 * 3600),
    (1, 2 * 60),
];

/// The longest gap between two consecutive occurrences of `schedule` over eight years from
/// 2024; `None` if it has fewer than two occurrences there.
pub(crate) fn longest_gap(schedule: &CronSchedule) -> Option<Duration> {
    let occurrences = Occurrences(schedule);
    let first = occurrences.at_or_after(FROM)?;
    occurrences.next_after(first)?;
    LEVELS
        .iter()
        .find_map(|&(step, span)| occurrences.longest_at_least(first, step, span))
        .map(Duration::from_secs)
}

/// The occurrences of a schedule, in whole seconds since the Unix epoch.
struct Occurrences<'a>(&'a CronSchedule);

impl Occurrences<'_> {
    fn next_after(&self, second: u64) -> Option<u64> {
        let next = self
            .0
            .next_after(SystemTime::UNIX_EPOCH + Duration::from_secs(second))?;
        Some(next.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_secs())
    }

    fn at_or_after(&self, second: u64) -> Option<u64> {
        self.next_after(second.checked_sub(1)?)
    }

    /// The longest gap at least `step` long among the occurrences from `first` over `span`;
    /// `None` if every gap there is shorter.
    fn longest_at_least(&self, first: u64, step: u64, span: u64) -> Option<u64> {
        let mut longest: Option<u64> = None;
        // An occurrence at or before the probe: the one the previous probe found.
        let mut known = first;
        let mut probe = first;
        while probe < first + span {
            probe += step;
            let Some(next) = self.next_after(probe) else {
                break;
            };
            if next == known {
                // The same gap as the previous probe's.
                continue;
            }
            // The occurrence before `next` is `known` or later: the gap is at most this.
            let at_most = next - known;
            let shorter = self.next_after(next - step)? < next;
            if !shorter && longest.is_none_or(|longest| at_most > longest) {
                longest = longest.max(Some(next - self.before(known, next)));
            }
            known = next;
        }
        longest
    }

    /// The last occurrence before `next` (an occurrence), given `known`, an occurrence before
    /// it: the first second from which the next occurrence is `next`.
    fn before(&self, known: u64, next: u64) -> u64 {
        let (mut low, mut high) = (known, next);
        if self.next_after(low).is_none_or(|after| after >= next) {
            return low;
        }
        // From `low`, the next occurrence is before `next`; from `high`, it is `next` or later.
        while high - low > 1 {
            let middle = low + (high - low) / 2;
            if self.next_after(middle).is_none_or(|after| after >= next) {
                high = middle;
            } else {
                low = middle;
            }
        }
        high
    }
}
