//! When a periodic task's runs are due: on the grid of its period (`every`) or at the
//! occurrences of its cron schedule, each delayed by its run jitter, the first after its
//! initial delay. Only computation and sleeping: the supervisor decides what to run when.

use std::time::Duration;
#[cfg(feature = "cron")]
use std::time::SystemTime;

use tokio::time::{sleep_until, Instant};

use crate::base::deadline::{after, random};
#[cfg(feature = "cron")]
use crate::base::wall_clock::WallClock;
#[cfg(feature = "cron")]
use crate::schedules::cron::CronSchedule;
use crate::schedules::options::{Schedule, TaskOptions};

/// How a periodic task's runs are spaced.
enum Cadence {
    Every {
        period: Duration,
        schedule: Schedule,
    },
    #[cfg(feature = "cron")]
    Cron {
        schedule: Box<CronSchedule>,
        clock: WallClock,
    },
}

/// A periodic task's timing, for one start of it.
pub(crate) struct Timing {
    cadence: Cadence,
    initial_delay: Option<Duration>,
    jitter: Duration,
}

/// A run due.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Due {
    /// When it is due on the schedule: what the next run is computed from.
    at: Instant,
    /// When to wake for it: `at` delayed by the run's jitter.
    wake: Instant,
    /// The cron occurrence it is, on the wall clock: what a once-per-point task claims.
    #[cfg(feature = "cron")]
    occurrence: Option<SystemTime>,
}

impl Due {
    /// Due at once, for no occurrence.
    pub(crate) fn now() -> Self {
        let now = Instant::now();
        Due {
            at: now,
            wake: now,
            #[cfg(feature = "cron")]
            occurrence: None,
        }
    }

    /// When the run is planned to begin: its time on the schedule, delayed by its jitter.
    pub(crate) fn wake(&self) -> Instant {
        self.wake
    }
}

/// The margin within which a wake-up counts as at its occurrence on the wall clock.
#[cfg(feature = "cron")]
const TOLERANCE: Duration = Duration::from_millis(1);

impl Timing {
    /// The timing of a task with `options`: `Ok(None)` if it is not periodic; an error if its
    /// cron schedule does not parse (the options were checked: it does not happen).
    pub(crate) fn new(options: &TaskOptions) -> Result<Option<Self>, String> {
        let cadence = match (options.every, &options.cron) {
            (Some(period), _) => Cadence::Every {
                period,
                schedule: options.schedule,
            },
            #[cfg(feature = "cron")]
            (None, Some(expression)) => Cadence::Cron {
                schedule: Box::new(
                    CronSchedule::parse(expression, options.time_zone.as_deref())
                        .map_err(|error| error.to_string())?,
                ),
                clock: WallClock::new(),
            },
            _ => return Ok(None),
        };
        Ok(Some(Timing {
            cadence,
            initial_delay: options.initial_delay,
            jitter: options.run_jitter,
        }))
    }

    /// The delay before the first run, if one is given.
    pub(crate) fn initial_delay(&self) -> Option<Duration> {
        self.initial_delay
    }

    /// The first run of a start (not at startup): a period, or the initial delay, from now;
    /// with cron, the first occurrence after now, or at least the initial delay from now.
    pub(crate) fn first(&self) -> Due {
        let now = Instant::now();
        match &self.cadence {
            Cadence::Every { period, .. } => {
                self.jittered(after(now, self.initial_delay.unwrap_or(*period)))
            }
            #[cfg(feature = "cron")]
            Cadence::Cron { schedule, clock } => {
                let occurrence = match self.initial_delay {
                    Some(delay) => clock
                        .now()
                        .checked_add(delay)
                        .and_then(|at| schedule.at_or_after(at)),
                    None => schedule.next_after(clock.now()),
                };
                self.occurrence(clock, occurrence)
            }
        }
    }

    /// The run after one due at `due` that succeeded. With `every` at a fixed rate, the next
    /// point of the grid, or if the run overran, the first one not before now; at a fixed
    /// delay, a period from now. With cron, the next occurrence, or if the run overran, the
    /// first one not before now: missed occurrences are skipped.
    pub(crate) fn next(&self, due: Option<&Due>) -> Due {
        let now = Instant::now();
        match &self.cadence {
            Cadence::Every { period, schedule } => self.jittered(match schedule {
                Schedule::FixedDelay => after(now, *period),
                Schedule::FixedRate => next_on_grid(due.map_or(now, |due| due.at), *period, now),
            }),
            #[cfg(feature = "cron")]
            Cadence::Cron { schedule, clock } => {
                let wall = clock.now();
                let occurrence = match due.and_then(|due| due.occurrence) {
                    Some(last) if last >= wall => schedule.next_after(last),
                    _ => schedule.at_or_after(wall),
                };
                self.occurrence(clock, occurrence)
            }
        }
    }

    /// A run retried at once after a failure: the same occurrence as `due`, if any, so that a
    /// once-per-point task does not claim it twice.
    pub(crate) fn retry(&self, due: Option<&Due>) -> Due {
        let _ = due;
        Due {
            #[cfg(feature = "cron")]
            occurrence: due.and_then(|due| due.occurrence),
            ..Due::now()
        }
    }

    /// A point the coordinator named, due at `at`, jittered.
    pub(crate) fn at(&self, at: Instant) -> Due {
        self.jittered(at)
    }

    /// Sleeps until `due` is to run. With cron, a wall clock set back during the sleep makes
    /// it sleep on until the occurrence on the wall clock.
    pub(crate) async fn sleep(&self, due: &Due) {
        sleep_until(due.wake).await;
        #[cfg(feature = "cron")]
        if let (Cadence::Cron { clock, .. }, Some(occurrence)) = (&self.cadence, due.occurrence) {
            loop {
                let left = clock.until(occurrence);
                if left <= TOLERANCE {
                    break;
                }
                tokio::time::sleep(left).await;
            }
        }
    }

    fn jittered(&self, at: Instant) -> Due {
        Due {
            at,
            wake: after(at, self.draw_jitter()),
            #[cfg(feature = "cron")]
            occurrence: None,
        }
    }

    /// A random delay from zero to the jitter.
    fn draw_jitter(&self) -> Duration {
        let max = u64::try_from(self.jitter.as_nanos()).unwrap_or(u64::MAX);
        if max == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(random() % max.saturating_add(1))
    }

    /// The run at `occurrence` (none: about 30 years away).
    #[cfg(feature = "cron")]
    fn occurrence(&self, clock: &WallClock, occurrence: Option<SystemTime>) -> Due {
        let now = Instant::now();
        let Some(occurrence) = occurrence else {
            tracing::warn!("the cron schedule has no further occurrence");
            return Due {
                occurrence: None,
                ..self.jittered(after(now, Duration::MAX))
            };
        };
        Due {
            occurrence: Some(occurrence),
            ..self.jittered(after(now, clock.until(occurrence)))
        }
    }
}

/// The next point of a grid of `period` after `due`, or if `now` is past it, the first point
/// not before `now` (now itself, if the run ended on one).
fn next_on_grid(due: Instant, period: Duration, now: Instant) -> Instant {
    let next = after(due, period);
    if next >= now {
        return next;
    }
    let behind = now.duration_since(next).as_nanos();
    let skipped = behind.div_ceil(period.as_nanos().max(1));
    tracing::debug!(skipped, "periodic run overran its period");
    let skipped = u32::try_from(skipped).unwrap_or(u32::MAX);
    after(next, period.saturating_mul(skipped))
}

#[cfg(all(test, feature = "cron"))]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    /// The timing of `* * * * * *`, and its occurrence ten seconds ahead of the wall clock.
    fn every_second_from_ten_seconds_ahead() -> (Timing, SystemTime) {
        let options = TaskOptions::new().cron("* * * * * *").unwrap();
        let timing = Timing::new(&options).unwrap().unwrap();
        let schedule = CronSchedule::parse("* * * * * *", None).unwrap();
        let occurrence = schedule
            .next_after(WallClock::new().now() + 10 * S)
            .unwrap();
        (timing, occurrence)
    }

    /// A run that ends before its occurrence on the wall clock (woken within the tolerance
    /// before it, or under a clock set back) is followed by the next occurrence, not by the
    /// same one again.
    #[test]
    fn a_run_ended_before_its_occurrence_on_the_wall_clock_is_followed_by_the_next_one() {
        let (timing, occurrence) = every_second_from_ten_seconds_ahead();
        let due = Due {
            occurrence: Some(occurrence),
            ..Due::now()
        };
        let next = timing.next(Some(&due));
        assert_eq!(next.occurrence, Some(occurrence + S));
    }

    /// A run retried after a failure is the same occurrence as the failed one, and the run after it is the next occurrence, even while the wall
    /// clock is still before the failed one's.
    #[test]
    fn a_retried_run_is_the_occurrence_of_the_failed_one() {
        let (timing, occurrence) = every_second_from_ten_seconds_ahead();
        let failed = Due {
            occurrence: Some(occurrence),
            ..Due::now()
        };
        let retried = timing.retry(Some(&failed));
        assert_eq!(retried.occurrence, failed.occurrence);
        let next = timing.next(Some(&retried));
        assert_eq!(next.occurrence, Some(occurrence + S));
    }
}
