//! What a task or context can receive besides its keyword arguments.
//!
//! A parameter of a `#[lifespan_task]` or `#[lifespan_context]` function that is not named in the
//! attribute is *injected by its type*. The injectable types are:
//!
//! | type | tasks | contexts | what it is |
//! |---|---|---|---|
//! | [`App`] | yes | yes | the app the function runs in |
//! | [`Shutdown`] | yes | yes | the signal that shutdown has begun |
//! | [`Yield`], [`Yield<T>`](Yield) | no | yes (exactly one) | where a context hands control back after its setup, with a `T` |
//! | [`State<T>`](State) | yes | yes | the `T` a context handed over at its yield point |
//! | [`Lease`] | singleton tasks | no | the lease of the term, with its fencing token |
//! | [`Point`] | once-per-point tasks | no | the point the run is for: number, time, attempt, fencing token |

use std::any::{Any, TypeId};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};

use tokio::sync::oneshot;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

use crate::inject::app_handle::App;
use crate::replicas::{Lease, Point};
use crate::report::arg_error::ArgError;

pin_project_lite::pin_project! {
    /// The future of [`Shutdown::cancelled`]: completes when shutdown begins.
    #[must_use = "futures do nothing unless awaited"]
    pub struct Cancelled<'a> {
        #[pin]
        inner: WaitForCancellationFuture<'a>,
    }
}

impl Future for Cancelled<'_> {
    type Output = ();

    #[inline]
    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        self.project().inner.poll(cx)
    }
}

impl fmt::Debug for Cancelled<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cancelled").finish_non_exhaustive()
    }
}

use crate::inject::state::{Deps, Slot, State, StateMap, StateType};

/// The signal, given to every task and context, that the app is shutting down.
///
/// A task waits for it with [`cancelled`](Self::cancelled) and then cleans up, the Rust form of
/// catching `asyncio.CancelledError`. It is cheap to clone; every clone observes the same signal.
/// Each start of the app (a [`reload`](crate::App::reload) included) hands out a fresh signal.
///
/// ```
/// use lifespan_core::{lifespan_task, Shutdown};
/// use std::time::Duration;
///
/// #[lifespan_task]
/// async fn poll_until_shutdown(shutdown: Shutdown) {
///     let mut interval = tokio::time::interval(Duration::from_secs(5));
///     while shutdown.run_until_cancelled(interval.tick()).await.is_some() {
///         // poll for updates ...
///     }
///     // clean up ...
/// }
/// # fn main() {}
/// ```
#[derive(Clone)]
pub struct Shutdown {
    token: CancellationToken,
}

impl Shutdown {
    pub(crate) fn new(token: CancellationToken) -> Self {
        Shutdown { token }
    }

    /// Waits until shutdown begins. Returns at once if it already has.
    pub fn cancelled(&self) -> Cancelled<'_> {
        Cancelled {
            inner: self.token.cancelled(),
        }
    }

    /// Whether shutdown has begun.
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Runs `future` until it completes or shutdown begins, whichever is first.
    ///
    /// Returns `Some(output)` if the future completed, `None` if shutdown began first (the future
    /// is then dropped).
    pub async fn run_until_cancelled<F: Future>(&self, future: F) -> Option<F::Output> {
        tokio::select! {
            biased;
            _ = self.token.cancelled() => None,
            output = future => Some(output),
        }
    }
}

impl fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shutdown")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

/// A context's yield point: the Rust form of the `yield` in a Python async context manager.
///
/// Code before [`ready`](Self::ready) is the context's setup, code after it its cleanup. Startup
/// waits until every context has called `ready`; `ready` returns when shutdown reaches this
/// context, after every task has stopped and every context set up after this one has been
/// cleaned up.
///
/// ```
/// use lifespan_core::{lifespan_context, Yield};
///
/// #[lifespan_context]
/// async fn open_pool(lifespan: Yield) -> anyhow::Result<()> {
///     // set up ...
///     lifespan.ready().await;
///     // clean up ...
///     Ok(())
/// }
/// # fn main() {}
/// ```
///
/// A `Yield<T>` hands a value of type `T` over at the yield point with
/// [`ready_with`](Self::ready_with): tasks, later contexts and HTTP handlers then receive it as a
/// [`State<T>`](crate::State).
///
/// A context that returns without calling `ready` fails startup, and so does one that drops its
/// `Yield` without calling it.
pub struct Yield<T = ()> {
    parts: YieldParts,
    slot: Option<Arc<OnceLock<Box<dyn Any + Send + Sync>>>>,
    _provides: PhantomData<fn(T)>,
}

/// The context's side of the two channels of a yield point.
pub(crate) struct YieldParts {
    ready: oneshot::Sender<()>,
    resume: oneshot::Receiver<()>,
}

impl YieldParts {
    pub(crate) fn new() -> (Self, YieldControl) {
        let (ready_tx, ready_rx) = oneshot::channel();
        let (resume_tx, resume_rx) = oneshot::channel();
        (
            YieldParts {
                ready: ready_tx,
                resume: resume_rx,
            },
            YieldControl {
                ready: ready_rx,
                resume: resume_tx,
            },
        )
    }

    async fn ready(self) {
        // The receiving end is dropped only if startup was abandoned; cleaning up is right then too.
        let _ = self.ready.send(());
        let _ = self.resume.await;
    }
}

impl Yield<()> {
    /// Ends the setup: startup goes on, and this returns when it is time to clean up.
    ///
    /// If the last handle of the running app is dropped without a shutdown, the app shuts down
    /// in the background, and this returns when that shutdown reaches this context: cleanup
    /// code still runs, after the tasks have stopped.
    pub async fn ready(self) {
        self.parts.ready().await;
    }
}

impl<T: Send + Sync + 'static> Yield<T> {
    /// Ends the setup handing `value` over as the state of type `T`, which tasks, later contexts
    /// and HTTP handlers receive as [`State<T>`](crate::State); returns when it is time to clean
    /// up, after everything that could use the value has stopped. To close at cleanup what it
    /// handed out, use [`ready_sharing`](Self::ready_sharing).
    pub async fn ready_with(self, value: T) {
        self.ready_sharing(value).await;
    }

    /// [`ready_with`](Self::ready_with), returning at cleanup with the value it handed over, so
    /// that the cleanup can close it.
    ///
    /// ```
    /// use lifespan_core::{lifespan_context, Yield};
    ///
    /// struct Pool;
    ///
    /// impl Pool {
    ///     async fn close(&self) { /* close every connection ... */ }
    /// }
    ///
    /// #[lifespan_context]
    /// async fn pool(lifespan: Yield<Pool>) {
    ///     let pool = lifespan.ready_sharing(Pool).await;
    ///     pool.close().await;
    /// }
    /// # fn main() {}
    /// ```
    pub async fn ready_sharing(self, value: T) -> State<T> {
        let slot = self.slot.unwrap_or_default();
        // Each start gives a fresh slot to exactly one provider, so it is empty.
        let _ = slot.set(Box::new(value));
        self.parts.ready().await;
        State::new(slot)
    }
}

impl<T> Yield<T> {
    /// A yield point with the slot its value goes to: for contexts run on their own, in tests.
    pub(crate) fn detached(parts: YieldParts, slot: Slot) -> Self {
        Yield {
            parts,
            slot: Some(slot),
            _provides: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Yield<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Yield").finish_non_exhaustive()
    }
}

/// The runtime's side of a [`Yield`].
pub(crate) struct YieldControl {
    pub(crate) ready: oneshot::Receiver<()>,
    pub(crate) resume: oneshot::Sender<()>,
}

/// What injection draws from: one per task or context start.
#[doc(hidden)]
pub struct InjectCx<'a> {
    pub(crate) app: &'a App,
    pub(crate) shutdown: &'a CancellationToken,
    pub(crate) yield_parts: Option<YieldParts>,
    pub(crate) state: &'a StateMap,
    /// The lease of a singleton's term; `None` for other tasks.
    pub(crate) lease: Option<&'a Lease>,
    /// The point a once-per-point task's run is for; `None` for other tasks.
    pub(crate) point: Option<&'a Point>,
    /// The state types the parameters injected so far need and provide.
    pub(crate) deps: Deps,
}

/// A type that can be a parameter of a `#[lifespan_task]` without a keyword argument.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not injected into lifespan tasks, so this parameter needs a keyword argument",
    label = "no argument in the attribute gives this parameter a value",
    note = "add `name = <expression>` for this parameter to the `#[lifespan_task(...)]` attribute",
    note = "the injected types are `lifespan_core::App`, `lifespan_core::Shutdown`, `lifespan_core::State<T>`, into singleton tasks `lifespan_core::Lease`, into once-per-point tasks `lifespan_core::Point`"
)]
pub trait TaskParam: Sized {
    #[doc(hidden)]
    fn inject(cx: &mut InjectCx<'_>) -> Option<Self>;
}

/// A type that can be a parameter of a `#[lifespan_context]` without a keyword argument.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not injected into lifespan contexts, so this parameter needs a keyword argument",
    label = "no argument in the attribute gives this parameter a value",
    note = "add `name = <expression>` for this parameter to the `#[lifespan_context(...)]` attribute",
    note = "the injected types are `lifespan_core::App`, `lifespan_core::Shutdown`, `lifespan_core::State<T>` and `lifespan_core::Yield<T>`"
)]
pub trait ContextParam: Sized {
    /// Whether this is the context's yield point ([`Yield`]).
    #[doc(hidden)]
    const IS_YIELD: bool = false;

    #[doc(hidden)]
    fn inject(cx: &mut InjectCx<'_>) -> Option<Self>;
}

impl TaskParam for App {
    fn inject(cx: &mut InjectCx<'_>) -> Option<Self> {
        Some(cx.app.clone())
    }
}

impl ContextParam for App {
    fn inject(cx: &mut InjectCx<'_>) -> Option<Self> {
        Some(cx.app.clone())
    }
}

impl TaskParam for Shutdown {
    fn inject(cx: &mut InjectCx<'_>) -> Option<Self> {
        Some(Shutdown::new(cx.shutdown.clone()))
    }
}

impl ContextParam for Shutdown {
    fn inject(cx: &mut InjectCx<'_>) -> Option<Self> {
        Some(Shutdown::new(cx.shutdown.clone()))
    }
}

impl<T: Send + Sync + 'static> ContextParam for Yield<T> {
    const IS_YIELD: bool = true;

    fn inject(cx: &mut InjectCx<'_>) -> Option<Self> {
        let parts = cx.yield_parts.take()?;
        let slot = if TypeId::of::<T>() == TypeId::of::<()>() {
            None
        } else {
            cx.deps.provides.push(StateType::of::<T>());
            Some(cx.state.slot::<T>())
        };
        Some(Yield {
            parts,
            slot,
            _provides: PhantomData,
        })
    }
}

impl TaskParam for Lease {
    fn inject(cx: &mut InjectCx<'_>) -> Option<Self> {
        cx.lease.cloned()
    }
}

impl TaskParam for Point {
    fn inject(cx: &mut InjectCx<'_>) -> Option<Self> {
        cx.point.cloned()
    }
}

impl<T: Send + Sync + 'static> TaskParam for State<T> {
    fn inject(cx: &mut InjectCx<'_>) -> Option<Self> {
        cx.deps.needs.push(StateType::of::<T>());
        Some(State::new(cx.state.slot::<T>()))
    }
}

impl<T: Send + Sync + 'static> ContextParam for State<T> {
    fn inject(cx: &mut InjectCx<'_>) -> Option<Self> {
        cx.deps.needs.push(StateType::of::<T>());
        Some(State::new(cx.state.slot::<T>()))
    }
}

/// Injects parameter `argument` of a task: `Err` if it has no value to take.
#[inline]
pub(crate) fn task_param<T: TaskParam>(
    cx: &mut InjectCx<'_>,
    argument: &'static str,
) -> Result<T, ArgError> {
    T::inject(cx).ok_or(ArgError::unavailable(argument))
}

/// Injects parameter `argument` of a context: `Err` if it has no value to take (a second
/// `Yield`).
#[inline]
pub(crate) fn context_param<T: ContextParam>(
    cx: &mut InjectCx<'_>,
    argument: &'static str,
) -> Result<T, ArgError> {
    T::inject(cx).ok_or(ArgError::unavailable(argument))
}
