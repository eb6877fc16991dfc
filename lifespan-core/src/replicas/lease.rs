//! The lease a singleton task receives: its fencing token and the signal that it was lost.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// The lease of a singleton task (`#[lifespan(singleton)]`), injected by type: proof that this
/// replica holds the task, with the term's *fencing token*.
///
/// The token is issued by the coordinator (the database) and is greater than that of every
/// earlier term of the task, on every replica. A lease can be lost without its holder knowing
/// at once: a process paused past its lease (a long GC-like stall, `SIGSTOP`, a VM migration)
/// wakes up still running its task while another replica already holds the next term. So
/// whatever the task writes carries the token, and the store refuses a write whose token is
/// lower than one it has seen:
///
/// ```no_run
/// use lifespan_core::{lifespan_task, Lease, Shutdown};
///
/// # struct Db;
/// # impl Db { async fn execute(&self, _sql: &str, _token: i64) -> anyhow::Result<u64> { Ok(1) } }
/// # async fn connect() -> Db { Db }
/// #[lifespan_task]
/// #[lifespan(singleton)]
/// async fn billing_sweep(lease: Lease, shutdown: Shutdown) -> anyhow::Result<()> {
///     let db = connect().await;
///     while !shutdown.is_cancelled() {
///         // One statement: the write happens only if no later term has written yet.
///         //   UPDATE billing_fence SET token = $1 WHERE name = 'sweep' AND token <= $1
///         // and the sweep's own writes in the same transaction, if that updated a row.
///         let fenced = db
///             .execute("UPDATE billing_fence SET token = $1 WHERE name = 'sweep' AND token <= $1", lease.token())
///             .await?;
///         if fenced == 0 {
///             // A later term has written: this replica is a stale holder. Stop; the app
///             // notices the lost lease too and goes back to standby.
///             break;
///         }
///         shutdown.run_until_cancelled(tokio::time::sleep(std::time::Duration::from_secs(1))).await;
///     }
///     Ok(())
/// }
/// ```
///
/// The task's [`Shutdown`](crate::Shutdown) fires when the lease is lost as well as when the
/// app shuts down; [`lost`](Self::lost) fires only on a loss.
#[derive(Clone)]
pub struct Lease {
    inner: Arc<LeaseInner>,
}

struct LeaseInner {
    token: i64,
    since: SystemTime,
    instance: Arc<str>,
    lost: CancellationToken,
}

impl Lease {
    pub(crate) fn new(
        token: i64,
        since: SystemTime,
        instance: Arc<str>,
        lost: CancellationToken,
    ) -> Self {
        Lease {
            inner: Arc::new(LeaseInner {
                token,
                since,
                instance,
                lost,
            }),
        }
    }

    /// A lease of its own with fencing token `token`, and the control that loses it: to test a
    /// singleton task's function without an app or a coordinator.
    ///
    /// ```
    /// use lifespan_core::Lease;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (lease, control) = Lease::pair(7);
    /// assert_eq!(lease.token(), 7);
    /// assert!(!lease.is_lost());
    /// control.lose();
    /// assert!(lease.is_lost());
    /// lease.lost().await; // at once: the lease is lost
    /// # }
    /// ```
    pub fn pair(token: i64) -> (Lease, LeaseControl) {
        let lost = CancellationToken::new();
        let lease = Lease::new(token, SystemTime::now(), Arc::from("test"), lost.clone());
        (lease, LeaseControl::new(lost))
    }

    /// The term's fencing token: greater than that of every earlier term of this task.
    pub fn token(&self) -> i64 {
        self.inner.token
    }

    /// When the term began, on the coordinator's clock.
    pub fn since(&self) -> SystemTime {
        self.inner.since
    }

    /// The instance that holds it: this app's [instance](crate::AppBuilder::instance).
    pub fn instance(&self) -> &str {
        &self.inner.instance
    }

    /// Whether the lease has been lost (it could not be renewed in time, or another replica
    /// holds it now). A lease given up on shutdown is not lost.
    pub fn is_lost(&self) -> bool {
        self.inner.lost.is_cancelled()
    }

    /// Completes when the lease is lost. Never completes for a lease kept to the end.
    pub fn lost(&self) -> LeaseLost {
        LeaseLost::new(self.inner.lost.clone())
    }
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease")
            .field("token", &self.inner.token)
            .field("instance", &self.inner.instance)
            .field("lost", &self.is_lost())
            .finish()
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Lease::lost`] and [`Point::lost`](crate::Point::lost).
    #[must_use = "futures do nothing unless awaited"]
    pub struct LeaseLost {
        #[pin]
        inner: WaitForCancellationFutureOwned,
    }
}

impl LeaseLost {
    pub(crate) fn new(lost: CancellationToken) -> Self {
        LeaseLost {
            inner: lost.cancelled_owned(),
        }
    }
}

impl Future for LeaseLost {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.project().inner.poll(cx)
    }
}

impl fmt::Debug for LeaseLost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeaseLost").finish_non_exhaustive()
    }
}

/// Loses a [`Lease`] made by [`Lease::pair`] (or a [`Point`](crate::Point) made by
/// [`Point::pair`](crate::Point::pair)), as the app does when it cannot renew it.
#[derive(Clone, Debug)]
pub struct LeaseControl {
    lost: CancellationToken,
}

impl LeaseControl {
    pub(crate) fn new(lost: CancellationToken) -> Self {
        LeaseControl { lost }
    }

    /// Marks the lease lost: [`Lease::lost`] completes.
    pub fn lose(&self) {
        self.lost.cancel();
    }
}
