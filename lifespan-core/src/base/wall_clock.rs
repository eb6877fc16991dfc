//! The wall clock a cron schedule reads: the system's clock, moved on by the time tokio's
//! clock has skipped when it is paused.
//!
//! A cron schedule names wall-clock times, so its next occurrence is computed from
//! `SystemTime`, and slept for on tokio's clock. When tokio's time is paused (tests with
//! `start_paused`), tokio's clock jumps ahead while the system's clock does not: read alone,
//! the system's clock would stand still and every run would find the same occurrence due. So
//! the clock reads `SystemTime::now()` plus the difference between the time elapsed on tokio's
//! clock and on the monotonic clock since the clock was made. In real time the two elapsed
//! times are the same and this is exactly the system's clock (an NTP step included); under
//! paused time it is the system's time at the start plus the virtual time that has passed.
//!
//! The status shows its times ([`WallClock::at`]) by the anchor alone: the system's time when
//! the clock was made, plus the runtime's time since, so that two times shown differ by exactly
//! what the runtime measured between them.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

/// A wall clock that follows tokio's time.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WallClock {
    tokio_start: Instant,
    real_start: std::time::Instant,
    system_start: SystemTime,
    /// Whether it reads `system_start` plus tokio's time since, whatever the system's clock
    /// says: a clock set to a fixed time for tests.
    fixed: bool,
}

impl WallClock {
    /// A clock anchored now.
    pub(crate) fn new() -> Self {
        WallClock {
            tokio_start: Instant::now(),
            real_start: std::time::Instant::now(),
            system_start: SystemTime::now(),
            fixed: false,
        }
    }

    /// A clock that reads `start` now, and moves on with tokio's clock only.
    pub(crate) fn starting_at(start: SystemTime) -> Self {
        WallClock {
            system_start: start,
            fixed: true,
            ..WallClock::new()
        }
    }

    /// The wall-clock time now.
    pub(crate) fn now(&self) -> SystemTime {
        if self.fixed {
            return self.at(Instant::now());
        }
        let system = SystemTime::now();
        let on_tokio = self.tokio_start.elapsed();
        let real = self.real_start.elapsed();
        if on_tokio >= real {
            system.checked_add(on_tokio - real).unwrap_or(system)
        } else {
            system.checked_sub(real - on_tokio).unwrap_or(system)
        }
    }

    /// The wall-clock time of the runtime's instant `at`, from the anchor (the anchor itself if
    /// it is out of range).
    pub(crate) fn at(&self, at: Instant) -> SystemTime {
        let moved = if at >= self.tokio_start {
            self.system_start
                .checked_add(at.duration_since(self.tokio_start))
        } else {
            self.system_start
                .checked_sub(self.tokio_start.duration_since(at))
        };
        moved.unwrap_or(self.system_start)
    }

    /// How long from now until the wall-clock time `at`: zero if it has passed.
    #[cfg_attr(not(feature = "cron"), allow(dead_code))]
    pub(crate) fn until(&self, at: SystemTime) -> Duration {
        at.duration_since(self.now()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[tokio::test(start_paused = true)]
    async fn under_paused_time_the_wall_clock_moves_with_tokio() {
        let clock = WallClock::new();
        let before = clock.now();
        tokio::time::sleep(Duration::from_secs(3600)).await;
        let moved = clock.now().duration_since(before).unwrap();
        // The system clock and the monotonic clock are read one after the other, and may be
        // slewed apart: a reading is exact to well within a millisecond, not to the nanosecond
        // (the schedule wakes within a millisecond of an occurrence, for the same reason).
        assert!(moved >= Duration::from_secs(3600) - MS, "{moved:?}");
        assert!(moved < Duration::from_secs(3660), "{moved:?}");
    }

    #[tokio::test]
    async fn in_real_time_it_is_the_system_clock() {
        let clock = WallClock::new();
        let (system, wall) = (SystemTime::now(), clock.now());
        let apart = wall.duration_since(system).unwrap_or_else(|e| e.duration());
        assert!(apart < Duration::from_secs(1), "{apart:?}");
    }
}
