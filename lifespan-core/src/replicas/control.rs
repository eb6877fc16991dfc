//! Operating a task by hand: its pause, as a coordinator keeps it for every replica.

use std::time::SystemTime;

/// A task's pause: who paused it and since when. While it holds, no replica starts a run of the
/// task (see [`App::pause`](crate::App::pause)); a coordinator keeps it
/// ([`Coordinator::pause`](crate::Coordinator::pause)) until
/// [`resume`](crate::Coordinator::resume), across the replicas' restarts.
///
/// ```
/// use lifespan_core::Pause;
/// use std::time::SystemTime;
///
/// let pause = Pause::new("web-1", SystemTime::UNIX_EPOCH);
/// assert_eq!(pause.by, "web-1");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Pause {
    /// The instance that paused it: the app's [instance](crate::AppBuilder::instance).
    pub by: String,
    /// When it was paused, on the coordinator's clock (on this process's, for a pause kept by
    /// this replica alone).
    pub since: SystemTime,
}

impl Pause {
    /// A pause by `by` since `since`: for coordinators.
    pub fn new(by: impl Into<String>, since: SystemTime) -> Self {
        Pause {
            by: by.into(),
            since,
        }
    }
}
