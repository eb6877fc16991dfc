//! The app handle: the [`App`] type, which every layer may hold, clone and inject, and the part
//! of the app the layers below `app` use: its exit signals, its critical failure and the state
//! it publishes. The rest of the app (its registry, settings, lifecycle, server and board) is
//! `app`'s own, carried here without being named, so that this module depends on nothing above
//! the state.

use std::any::Any;
use std::sync::{Arc, Mutex, Weak};

use tokio_util::sync::CancellationToken;

use crate::base::lock::lock;
use crate::base::name::Name;
use crate::inject::readiness_checks::ReadinessChecks;
use crate::inject::state::StateMap;
use crate::report::task_error::TaskError;

/// A backend's lifespan: its registered tasks and contexts, and the calls that start, stop and
/// reload them.
///
/// `App` is a cheap handle (an `Arc`); clones refer to the same app. Tasks and contexts can take
/// it as a parameter. Its settings are given once, to the [`AppBuilder`](crate::AppBuilder) that
/// [`App::builder`] returns, and do not change while it lives.
///
/// ```no_run
/// use lifespan_core::{lifespan_task, App, Shutdown};
///
/// #[lifespan_task(greeting = "hello")]
/// async fn greeter(greeting: &'static str, shutdown: Shutdown) {
///     tracing::info!("{greeting}");
///     shutdown.cancelled().await;
/// }
///
/// #[tokio::main]
/// async fn main() -> anyhow::Result<()> {
///     let report = App::new().run_until_signal().await?;
///     println!("{report}");
///     Ok(())
/// }
/// ```
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner<dyn Any + Send + Sync>>,
}

/// One allocation per app: the shared part, then `app`'s own parts.
struct Inner<P: ?Sized> {
    shared: Shared,
    parts: P,
}

/// What the layers below `app` use of the app.
pub(crate) struct Shared {
    /// Asked for by `request_shutdown` and stop signals: `exit` first, `force` on the next ask.
    pub(crate) exit: Mutex<ExitSignals>,
    /// The state of what is running now, for readers outside tasks and contexts.
    pub(crate) state: Mutex<Option<Arc<StateMap>>>,
    /// The critical task that failed for good, and its error, if one did since the run began.
    pub(crate) critical: Mutex<Option<(Name, TaskError)>>,
    /// How a server run by the app failed, if one did since the run began.
    pub(crate) server: Mutex<Option<ServerFailure>>,
    /// The readiness checks registered on the app.
    pub(crate) readiness: Arc<ReadinessChecks>,
}

/// How a server run by the app failed.
#[derive(Debug)]
pub(crate) enum ServerFailure {
    /// It returned this error.
    Failed(TaskError),
    /// It panicked (its future, or its closure when called); the panic's message, masked.
    Panicked(String),
}

/// The app's last handle is dropped: its shutdown signals complete, so that a server waiting
/// on one drains, as the app's parts (what is running, a server it runs) are dropped and shut
/// down in the background.
impl<P: ?Sized> Drop for Inner<P> {
    fn drop(&mut self) {
        let exit = self
            .shared
            .exit
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        exit.exit.cancel();
    }
}

/// A handle that does not keep the app alive: for what the app itself owns (the task of a
/// server it runs), so that dropping the app's last [`App`] drops the app.
#[derive(Clone)]
pub(crate) struct WeakApp(Weak<Inner<dyn Any + Send + Sync>>);

impl WeakApp {
    /// The app, unless its last handle was dropped.
    pub(crate) fn upgrade(&self) -> Option<App> {
        self.0.upgrade().map(|inner| App { inner })
    }
}

#[derive(Clone, Default)]
pub(crate) struct ExitSignals {
    pub(crate) exit: CancellationToken,
    pub(crate) force: CancellationToken,
}

impl App {
    /// A new app holding `parts`, `app`'s own part of it, which [`parts`](Self::parts) gives
    /// back.
    pub(crate) fn with_parts<P: Any + Send + Sync>(parts: P) -> Self {
        let inner: Arc<Inner<dyn Any + Send + Sync>> = Arc::new(Inner {
            shared: Shared {
                exit: Mutex::new(ExitSignals::default()),
                state: Mutex::new(None),
                critical: Mutex::new(None),
                server: Mutex::new(None),
                readiness: Arc::default(),
            },
            parts,
        });
        App { inner }
    }

    /// `app`'s own part of the app, as given to [`with_parts`](Self::with_parts).
    pub(crate) fn parts<P: Any>(&self) -> &P {
        self.inner
            .parts
            .downcast_ref()
            .expect("an app holds the parts it was made with")
    }

    /// A handle that does not keep the app alive.
    pub(crate) fn downgrade(&self) -> WeakApp {
        WeakApp(Arc::downgrade(&self.inner))
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    /// Makes the state of a start that is complete readable through [`App::state`].
    pub(crate) fn publish_state(&self, state: Arc<StateMap>) {
        *lock(&self.shared().state) = Some(state);
    }

    /// A critical task failed for good: the app is to stop, and its run to end in an error.
    pub(crate) fn fail_critically(&self, task: Name, error: TaskError) {
        lock(&self.shared().critical).get_or_insert((task, error));
        self.begin_exit();
    }

    /// Marks that the app is to stop, without forcing.
    pub(crate) fn begin_exit(&self) {
        lock(&self.shared().exit).exit.cancel();
    }
}
