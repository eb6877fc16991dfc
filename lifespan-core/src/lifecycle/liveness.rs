//! Whether the app is live: no task's poll stuck past the stuck limit, no critical task failed
//! for good while the app has not shut down yet.

use std::fmt;
use std::time::Duration;

use crate::base::lock::lock;
use crate::inject::app_handle::App;
use crate::status::phase::Phase;

/// Whether the app is live, as [`App::liveness`] finds it; `{}` prints what the liveness probe
/// serves: `live`, or why not (a task's name and how long it has blocked, never an error).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Liveness {
    /// Nothing says otherwise.
    Live,
    /// A task's poll has not returned for longer than the
    /// [stuck limit](crate::AppBuilder::stuck_limit): it blocks its thread.
    Stuck {
        /// The task's display name, else its full name.
        task: String,
        /// How long its poll has been running.
        blocked: Duration,
    },
    /// A critical task failed for good, and the app has not shut down yet.
    CriticalTaskFailed {
        /// The task's name.
        task: String,
    },
}

impl Liveness {
    /// Whether the app is live.
    pub fn is_live(&self) -> bool {
        matches!(self, Liveness::Live)
    }
}

impl fmt::Display for Liveness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Liveness::Live => f.write_str("live"),
            Liveness::Stuck { task, blocked } => write!(
                f,
                "stuck: task `{task}` has blocked its thread for {:.1}s",
                blocked.as_secs_f64()
            ),
            Liveness::CriticalTaskFailed { task } => {
                write!(f, "critical task `{task}` failed")
            }
        }
    }
}

impl App {
    /// Whether the app is live: not if a task's poll has run past the
    /// [stuck limit](crate::AppBuilder::stuck_limit) (set one to have this checked), nor if a
    /// critical task failed for good and the app has not shut down yet. What
    /// `liveness_handler` (feature `axum`) answers. Cheap: it reads when each task's poll in
    /// progress began, from any thread.
    ///
    /// ```
    /// use lifespan_core::{App, Liveness};
    /// use std::time::Duration;
    ///
    /// let app = App::builder().empty().stuck_limit(Duration::from_secs(5)).build();
    /// assert_eq!(app.liveness(), Liveness::Live);
    /// assert_eq!(app.liveness().to_string(), "live");
    /// ```
    pub fn liveness(&self) -> Liveness {
        if let Some((task, blocked)) = self.stuck() {
            return Liveness::Stuck { task, blocked };
        }
        let failed = lock(&self.shared().critical)
            .as_ref()
            .map(|(task, _)| task.to_string());
        match failed {
            Some(task) if self.phase() != Phase::Stopped => Liveness::CriticalTaskFailed { task },
            _ => Liveness::Live,
        }
    }

    /// The task whose poll in progress has run the longest past the stuck limit, if one has,
    /// and for how long.
    pub(crate) fn stuck(&self) -> Option<(String, Duration)> {
        let limit = self.config().stuck_limit?;
        let board = self.board()?;
        let polls = board.polls.as_ref()?;
        if polls.is_over() {
            return None;
        }
        let now = polls.elapsed();
        let (index, blocked) = polls
            .in_progress()
            .map(|(index, stamp)| (index, now.saturating_sub(Duration::from_nanos(stamp - 1))))
            .max_by_key(|&(_, blocked)| blocked)?;
        (blocked > limit).then(|| (board.plan.task(index).label().to_owned(), blocked))
    }
}
