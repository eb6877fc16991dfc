//! When each task's poll in progress began: written around every poll while the blocking
//! check is on, read by the watchdog to report a poll that has not returned yet.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// When the poll in progress of each task began, read by the watchdog.
pub(crate) struct Polls {
    epoch: Instant,
    /// Nanoseconds from the epoch to the start of the poll in progress, plus one; zero when the
    /// task is not being polled.
    began: Box<[AtomicU64]>,
    /// Set when the app's shutdown is over: the watchdog stops.
    over: AtomicBool,
}

impl Polls {
    pub(crate) fn new(tasks: usize) -> Self {
        Polls {
            epoch: Instant::now(),
            began: (0..tasks).map(|_| AtomicU64::new(0)).collect(),
            over: AtomicBool::new(false),
        }
    }

    /// Task `index` is polled from `now` on.
    #[inline]
    pub(crate) fn begin(&self, index: usize, now: Instant) {
        let nanos = now.saturating_duration_since(self.epoch).as_nanos();
        let stamp = u64::try_from(nanos).unwrap_or(u64::MAX - 1) + 1;
        self.began[index].store(stamp, Ordering::Relaxed);
    }

    /// Task `index`'s poll returned.
    #[inline]
    pub(crate) fn end(&self, index: usize) {
        self.began[index].store(0, Ordering::Relaxed);
    }

    /// Shutdown is over: nothing of this start is watched any more.
    pub(crate) fn finish(&self) {
        self.over.store(true, Ordering::Relaxed);
    }

    /// Whether shutdown is over.
    pub(crate) fn is_over(&self) -> bool {
        self.over.load(Ordering::Relaxed)
    }

    /// The time since the epoch of the stamps.
    pub(crate) fn elapsed(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// Each task being polled now, with its stamp: nanoseconds from the epoch to the start of
    /// its poll, plus one.
    pub(crate) fn in_progress(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        self.began
            .iter()
            .map(|began| began.load(Ordering::Relaxed))
            .enumerate()
            .filter(|&(_, stamp)| stamp != 0)
    }
}
