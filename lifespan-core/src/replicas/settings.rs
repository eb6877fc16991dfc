//! The timing of a singleton's lease: how long it lasts, when its holder gives up, how often it
//! is renewed and retried.

use std::fmt;
use std::time::Duration;

/// How long a singleton's lease lasts, by when its holder must have renewed it, and how often
/// it renews and how often a standby asks for it. The defaults are those of Kubernetes' leader
/// election: a lease of 15 s, a renew deadline of 10 s, a retry period of 2 s.
///
/// - The holder renews every `retry` period. If it has not renewed within `renew_deadline` of
///   its last successful renewal, it stops its task (its [`Shutdown`](crate::Shutdown) fires)
///   and goes back to standby, *before* the lease can expire for the others: hence the renew
///   deadline is shorter than the lease.
/// - A standby asks for the lease every `retry` period, and gets it once the holder released it
///   (on a graceful shutdown: at once) or let it expire (the holder died, hung, or lost the
///   database).
///
/// So a handover takes at most one retry period after a graceful shutdown, and at most
/// `lease + retry` after a crash.
///
/// ```
/// use lifespan_core::LeaseSettings;
/// use std::time::Duration;
///
/// let fast = LeaseSettings::new(Duration::from_secs(3), Duration::from_secs(2), Duration::from_millis(500))?;
/// assert_eq!(fast.lease(), Duration::from_secs(3));
///
/// let wrong = LeaseSettings::new(Duration::from_secs(10), Duration::from_secs(10), Duration::from_secs(2));
/// assert_eq!(
///     wrong.unwrap_err().to_string(),
///     "invalid lease settings: the renew deadline (10s) must be shorter than the lease (10s)",
/// );
/// # Ok::<(), lifespan_core::InvalidLeaseSettings>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LeaseSettings {
    lease: Duration,
    renew_deadline: Duration,
    retry: Duration,
}

/// Lease settings that cannot work together; see [`LeaseSettings::new`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid lease settings: {reason}")]
pub struct InvalidLeaseSettings {
    reason: String,
}

impl LeaseSettings {
    /// Kubernetes' defaults: a lease of 15 s, a renew deadline of 10 s, a retry period of 2 s.
    pub const DEFAULT: LeaseSettings = LeaseSettings {
        lease: Duration::from_secs(15),
        renew_deadline: Duration::from_secs(10),
        retry: Duration::from_secs(2),
    };

    /// Settings with a lease of `lease`, a renew deadline of `renew_deadline` and a retry
    /// period of `retry`: each longer than zero, each shorter than the one before.
    pub fn new(
        lease: Duration,
        renew_deadline: Duration,
        retry: Duration,
    ) -> Result<Self, InvalidLeaseSettings> {
        let settings = LeaseSettings {
            lease,
            renew_deadline,
            retry,
        };
        match settings.problem() {
            None => Ok(settings),
            Some(reason) => Err(InvalidLeaseSettings { reason }),
        }
    }

    /// Settings checked at compile time by `#[lifespan(...)]`. Not public API.
    #[doc(hidden)]
    pub const fn checked_by_macro(
        lease: Duration,
        renew_deadline: Duration,
        retry: Duration,
    ) -> Self {
        LeaseSettings {
            lease,
            renew_deadline,
            retry,
        }
    }

    /// What is wrong with these settings, if anything.
    pub(crate) fn problem(&self) -> Option<String> {
        let LeaseSettings {
            lease,
            renew_deadline,
            retry,
        } = *self;
        if retry.is_zero() {
            return Some("the retry period must be longer than zero".into());
        }
        if renew_deadline >= lease {
            return Some(format!(
                "the renew deadline ({renew_deadline:?}) must be shorter than the lease ({lease:?})"
            ));
        }
        if retry >= renew_deadline {
            return Some(format!(
                "the retry period ({retry:?}) must be shorter than the renew deadline ({renew_deadline:?}), so that the holder can try to renew at least once"
            ));
        }
        if lease.as_millis() >= i64::MAX as u128 / 2 {
            return Some(format!("the lease ({lease:?}) is too long for a database"));
        }
        None
    }

    /// How long a lease lasts after it was granted or last renewed, on the database's clock.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// How long after its last successful renewal the holder gives up and stops its task.
    pub fn renew_deadline(&self) -> Duration {
        self.renew_deadline
    }

    /// How often the holder renews, and a standby asks for the lease.
    pub fn retry(&self) -> Duration {
        self.retry
    }
}

impl Default for LeaseSettings {
    fn default() -> Self {
        LeaseSettings::DEFAULT
    }
}

impl fmt::Display for LeaseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "lease {:?}, renew deadline {:?}, retry {:?}",
            self.lease, self.renew_deadline, self.retry
        )
    }
}
