//! Deadlines that never overflow (every duration setting works at its maximum), and random
//! delays.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use tokio::time::Instant;

/// About 30 years: what "never" means for a deadline, as for tokio's own timers.
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// `at + duration`, or a point about 30 years after `at` if that overflows the clock: a
/// `Duration::MAX` setting means "as long as it takes", not a panic.
pub(crate) fn after(at: Instant, duration: Duration) -> Instant {
    at.checked_add(duration)
        .unwrap_or_else(|| at.checked_add(FAR_FUTURE).unwrap_or(at))
}

/// A random number, from the standard library's randomly keyed hasher: enough to spread
/// restarts and runs apart, without a dependency.
pub(crate) fn random() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_saturates_instead_of_overflowing() {
        let now = Instant::now();
        assert_eq!(
            after(now, Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
        assert!(after(now, Duration::MAX) >= now + FAR_FUTURE);
    }
}
