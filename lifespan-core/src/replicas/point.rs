//! The point a once-per-point task's run is for: its number, time, attempt and fencing token.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use tokio_util::sync::CancellationToken;

use super::lease::{LeaseControl, LeaseLost};
use super::ledger::{point_time, PointTime};

/// The point of its schedule a once-per-point task (`#[lifespan(every = "1m",
/// once_per_point)]`) runs for, injected by type: which point, which attempt, and the attempt's
/// *fencing token*.
///
/// A point's run is leased to one replica at a time. If that replica stops renewing the lease
/// (killed, paused, cut off from the coordinator), another replica takes the point over as its
/// next attempt, with a greater token. A paused replica may wake up still running the earlier
/// attempt, so an effect that must happen once per point is written in a transaction that
/// checks the token: with PostgreSQL, `lifespan_postgres::claim_effect` does it in one line,
/// and a stale attempt's transaction is refused. The run's [`Shutdown`](crate::Shutdown) fires
/// when its lease is lost, as well as when the app shuts down.
///
/// ```
/// use lifespan_core::{lifespan_task, Point};
///
/// #[lifespan_task]
/// #[lifespan(every = "1h", once_per_point)]
/// async fn hourly_digest(point: Point) -> anyhow::Result<()> {
///     // The same number on every replica and every attempt: a key for the effect.
///     let hour = point.number();
///     tracing::info!(hour, attempt = point.attempt(), token = point.token(), "digest");
///     Ok(())
/// }
/// # fn main() {}
/// ```
///
/// With the in-process coordinator (one replica), every point's first attempt is the only one.
#[derive(Clone)]
pub struct Point {
    inner: Arc<PointInner>,
}

struct PointInner {
    task: Arc<str>,
    number: i64,
    time: PointTime,
    attempt: u32,
    token: i64,
    instance: Arc<str>,
    lost: CancellationToken,
}

impl Point {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        task: Arc<str>,
        number: i64,
        time: PointTime,
        attempt: u32,
        token: i64,
        instance: Arc<str>,
        lost: CancellationToken,
    ) -> Self {
        Point {
            inner: Arc::new(PointInner {
                task,
                number,
                time,
                attempt,
                token,
                instance,
                lost,
            }),
        }
    }

    /// A point that only lets a once-per-point task's arguments be checked at startup.
    pub(crate) fn placeholder() -> Self {
        let lost = CancellationToken::new();
        Point::new(Arc::from(""), 0, 0, 0, 0, Arc::from(""), lost)
    }

    /// Point `number` of task `task`, due at `scheduled`, as attempt `attempt` with fencing
    /// token `token`, and the control that loses its run's lease: to test a once-per-point
    /// task's function without an app or a coordinator.
    ///
    /// ```
    /// use lifespan_core::Point;
    /// use std::time::{Duration, SystemTime};
    ///
    /// let scheduled = SystemTime::UNIX_EPOCH + Duration::from_secs(3600 * 7);
    /// let (point, control) = Point::pair("digest", 7, scheduled, 2, 41);
    /// assert_eq!((point.number(), point.attempt(), point.token()), (7, 2, 41));
    /// assert_eq!(point.scheduled(), scheduled);
    /// control.lose();
    /// assert!(point.is_lost());
    /// ```
    pub fn pair(
        task: &str,
        number: i64,
        scheduled: SystemTime,
        attempt: u32,
        token: i64,
    ) -> (Point, LeaseControl) {
        let lost = CancellationToken::new();
        let point = Point::new(
            Arc::from(task),
            number,
            point_time(scheduled),
            attempt,
            token,
            Arc::from("test"),
            lost.clone(),
        );
        (point, LeaseControl::new(lost))
    }

    /// The task's name (its path, as in the status): the ledger's key, with the point.
    pub fn task(&self) -> &str {
        &self.inner.task
    }

    /// The point's number: `n` for the point due at `n × every` since the Unix epoch; for a
    /// cron schedule, its occurrence's time in seconds since the Unix epoch. The same on every
    /// replica and every attempt.
    pub fn number(&self) -> i64 {
        self.inner.number
    }

    /// When the point was due, on the coordinator's clock (the run may start later: a missed
    /// point run under a misfire policy, an attempt that took over).
    pub fn scheduled(&self) -> SystemTime {
        super::ledger::point_system_time(self.inner.time)
    }

    /// 1 for the point's first run; one more for each takeover of an interrupted run.
    pub fn attempt(&self) -> u32 {
        self.inner.attempt
    }

    /// The attempt's fencing token: greater than that of every earlier attempt of every point
    /// of the task.
    pub fn token(&self) -> i64 {
        self.inner.token
    }

    /// The replica running it: this app's [instance](crate::AppBuilder::instance).
    pub fn instance(&self) -> &str {
        &self.inner.instance
    }

    /// Whether the run's lease has been lost: it could not be renewed in time, and another
    /// replica may take the point over.
    pub fn is_lost(&self) -> bool {
        self.inner.lost.is_cancelled()
    }

    /// Completes when the run's lease is lost. Never completes for a run kept to its end.
    pub fn lost(&self) -> LeaseLost {
        LeaseLost::new(self.inner.lost.clone())
    }
}

impl fmt::Debug for Point {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Point")
            .field("task", &self.inner.task)
            .field("number", &self.inner.number)
            .field("attempt", &self.inner.attempt)
            .field("token", &self.inner.token)
            .field("instance", &self.inner.instance)
            .field("lost", &self.is_lost())
            .finish()
    }
}
