//! The phase of the app (starting, running, draining, stopping, stopped), which other code can
//! read or follow.

use std::fmt;

use tokio::sync::watch;

/// Where the app is in its lifecycle. See [`App::phase`](crate::App::phase) and
/// [`App::phases`](crate::App::phases).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// Its contexts are being set up.
    Starting,
    /// Started: its tasks run.
    Running,
    /// Shutting down: a server run by the app stops accepting and finishes its requests.
    Draining,
    /// Shutting down: tasks are stopped, then contexts cleaned up.
    Stopping,
    /// Not running: before the first start, after a shutdown or a failed start.
    Stopped,
}

impl Phase {
    /// The phase's name: `"starting"`, `"running"`, `"draining"`, `"stopping"`, `"stopped"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Starting => "starting",
            Phase::Running => "running",
            Phase::Draining => "draining",
            Phase::Stopping => "stopping",
            Phase::Stopped => "stopped",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Follows the app's [`Phase`]: made by [`App::phases`](crate::App::phases). Cheap to clone;
/// each clone sees every change from when it was made (a change that comes before it looks is
/// not lost, but changes in quick succession may be seen as the last one only).
#[derive(Clone, Debug)]
pub struct Phases {
    receiver: watch::Receiver<Phase>,
}

impl Phases {
    pub(crate) fn new(receiver: watch::Receiver<Phase>) -> Self {
        Phases { receiver }
    }

    /// The phase now.
    pub fn get(&self) -> Phase {
        *self.receiver.borrow()
    }

    /// Waits for the next change of phase, and returns the new phase. `None` once the app is
    /// gone.
    pub async fn changed(&mut self) -> Option<Phase> {
        self.receiver.changed().await.ok()?;
        Some(*self.receiver.borrow_and_update())
    }

    /// Waits until the phase is `phase` (at once if it is now). `false` if the app is gone
    /// first.
    pub async fn wait_for(&mut self, phase: Phase) -> bool {
        self.receiver.wait_for(|now| *now == phase).await.is_ok()
    }
}

/// The app's side: where the phase is set.
pub(crate) struct PhaseCell {
    sender: watch::Sender<Phase>,
}

impl PhaseCell {
    pub(crate) fn new() -> Self {
        PhaseCell {
            sender: watch::Sender::new(Phase::Stopped),
        }
    }

    pub(crate) fn set(&self, phase: Phase) {
        self.sender.send_replace(phase);
    }

    pub(crate) fn get(&self) -> Phase {
        *self.sender.borrow()
    }

    pub(crate) fn follow(&self) -> Phases {
        Phases::new(self.sender.subscribe())
    }
}
