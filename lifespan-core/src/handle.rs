//! The app handle: the [`App`] type, which every layer may hold, clone and inject, and the part
//! of the app the layers below `app` use: its exit signals, its critical failure and the state
//! it publishes. The rest of the app (its registry, settings, lifecycle, server and board) is
//! `app`'s own, carried here without being named, so that this module depends on nothing above
//! the state.

use std::any::Any;
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use crate::lock::lock;
use crate::name::Name;
use crate::state::StateMap;
use crate::task_error::TaskError;

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
    /// The error a server run by the app ended with, if one did since the run began.
    pub(crate) server: Mutex<Option<TaskError>>,
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
