//! What one start of the app set running: its tasks, its contexts and their state, which
//! startup builds and shutdown takes apart.

use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::base::name::Name;
use crate::inject::state::StateMap;
use crate::lifecycle::config::Timeouts;
use crate::status::board::Board;

/// Everything one start of the app set running; `shutdown::stop` takes it apart, and so does
/// its `Drop` (in `shutdown`) when it is dropped without a shutdown.
pub(crate) struct Generation {
    pub(crate) shutdown: CancellationToken,
    /// The state its contexts provide.
    pub(crate) state: Arc<StateMap>,
    /// Tracks the tasks, so that shutdown learns at once when the last one has ended.
    pub(crate) tracker: TaskTracker,
    /// In start order.
    pub(crate) tasks: Vec<JoinHandle<()>>,
    /// What was started (its tasks, in the order of `tasks`, give their names) and how each
    /// part is doing.
    pub(crate) board: Arc<Board>,
    /// In setup order.
    pub(crate) contexts: Vec<RunningContext>,
    /// The bounds of its shutdown, for one that runs in the background (see `Drop`).
    pub(crate) timeouts: Timeouts,
    /// The runtime it was started on.
    pub(crate) runtime: tokio::runtime::Handle,
    /// Set on a generation being stopped in the background: dropping it then only signals.
    pub(crate) background: bool,
}

/// A context set up: waiting at its yield point until shutdown resumes it.
pub(crate) struct RunningContext {
    pub(crate) name: Name,
    /// Its index on the status board.
    pub(crate) index: usize,
    pub(crate) resume: oneshot::Sender<()>,
    pub(crate) handle: JoinHandle<Result<(), anyhow::Error>>,
}
