//! Injected values made by hand, to test a task or context function on its own: a shutdown
//! signal the test triggers, a yield point the test drives through setup and cleanup.

use std::marker::PhantomData;

use tokio_util::sync::CancellationToken;

use crate::inject::params::{Shutdown, Yield, YieldControl, YieldParts};
use crate::inject::state::{Slot, State};

impl Shutdown {
    /// A shutdown signal of its own and the trigger that starts it, to test a task function
    /// without an app.
    ///
    /// ```
    /// use lifespan_core::Shutdown;
    ///
    /// async fn worker(shutdown: Shutdown) -> u32 {
    ///     let mut rounds = 0;
    ///     while shutdown.run_until_cancelled(tokio::task::yield_now()).await.is_some() {
    ///         rounds += 1;
    ///         if rounds == 3 {
    ///             break;
    ///         }
    ///     }
    ///     rounds
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (shutdown, trigger) = Shutdown::pair();
    /// trigger.trigger();
    /// assert_eq!(worker(shutdown).await, 0);
    /// # }
    /// ```
    pub fn pair() -> (Shutdown, ShutdownTrigger) {
        let token = CancellationToken::new();
        (Shutdown::new(token.clone()), ShutdownTrigger { token })
    }
}

/// Starts the shutdown of a [`Shutdown`] made by [`Shutdown::pair`].
#[derive(Clone, Debug)]
pub struct ShutdownTrigger {
    token: CancellationToken,
}

impl ShutdownTrigger {
    /// Starts shutdown: the signal's [`cancelled`](Shutdown::cancelled) completes.
    pub fn trigger(&self) {
        self.token.cancel();
    }
}

impl<T: Send + Sync + 'static> Yield<T> {
    /// A yield point of its own and the driver that plays the app's part, to test a context
    /// function without an app: wait for the end of its setup, read the state it handed over,
    /// then let it clean up.
    ///
    /// ```
    /// use lifespan_core::Yield;
    ///
    /// struct Pool {
    ///     url: String,
    /// }
    ///
    /// async fn pool(url: String, lifespan: Yield<Pool>) -> anyhow::Result<()> {
    ///     let pool = lifespan.ready_sharing(Pool { url }).await;
    ///     tracing::info!(url = %pool.url, "closing the pool");
    ///     Ok(())
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> anyhow::Result<()> {
    /// let (lifespan, mut driver) = Yield::<Pool>::pair();
    /// let context = tokio::spawn(pool("postgres://db/app".into(), lifespan));
    /// assert!(driver.ready().await, "the setup reached its yield point");
    /// assert_eq!(driver.state().unwrap().url, "postgres://db/app");
    /// driver.resume();
    /// context.await??; // the cleanup ran and returned `Ok`
    /// # Ok(())
    /// # }
    /// ```
    pub fn pair() -> (Yield<T>, YieldDriver<T>) {
        let (parts, control) = YieldParts::new();
        let slot = Slot::default();
        (
            Yield::detached(parts, slot.clone()),
            YieldDriver {
                control,
                answered: None,
                slot,
                _provides: PhantomData,
            },
        )
    }
}

/// The app's side of a [`Yield`] made by [`Yield::pair`].
pub struct YieldDriver<T> {
    control: YieldControl,
    /// What `ready` found, once it has: the channel is read only once.
    answered: Option<bool>,
    slot: Slot,
    _provides: PhantomData<fn() -> T>,
}

impl<T: Send + Sync + 'static> YieldDriver<T> {
    /// Waits until the context calls `ready` or `ready_with`: `true` then, `false` if it
    /// returned (or dropped its `Yield`) without calling it.
    pub async fn ready(&mut self) -> bool {
        if let Some(answer) = self.answered {
            return answer;
        }
        let answer = (&mut self.control.ready).await.is_ok();
        self.answered = Some(answer);
        answer
    }

    /// The value the context handed over with `ready_with`, once it has.
    pub fn state(&self) -> Option<State<T>> {
        let handed = self
            .slot
            .get()
            .is_some_and(|value| value.downcast_ref::<T>().is_some());
        handed.then(|| State::new(self.slot.clone()))
    }

    /// Lets the context clean up: its `ready` or `ready_with` returns.
    pub fn resume(self) {
        let _ = self.control.resume.send(());
    }
}

impl<T> std::fmt::Debug for YieldDriver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("YieldDriver").finish_non_exhaustive()
    }
}
