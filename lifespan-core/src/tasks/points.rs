//! A once-per-point task's schedule: the points of its period on the coordinator's clock, or
//! the occurrences of its cron schedule, each claimed before it runs.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::{timeout, Instant};

use crate::base::chain;
use crate::base::deadline::after;
use crate::replicas::{Coordinator, PointRequest};
use crate::status::board::Board;

/// A margin added to each wake-up, so that a replica never asks for a point just before the
/// coordinator's clock reaches it.
const MARGIN: Duration = Duration::from_millis(1);

/// How long a call to claim a point (or learn when the next one is due) may take: the period,
/// or the app's renew deadline ([`AppBuilder::lease`](crate::AppBuilder::lease), 10 s by
/// default) if that is longer. Not the period alone: a period shorter than the coordinator's
/// answers (5 ms against a database) would cut off every claim, and no point would run. A point
/// claimed late is still right: the coordinator gives each point once, and only after the hold
/// of the one before, whenever the answer arrives; the run is just late, and the points due
/// meanwhile are skipped. Nor longer than that: past the renew deadline, the app takes the
/// coordinator for unreachable, as a singleton's holder does.
fn patience(period: Duration, renew_deadline: Duration) -> Duration {
    period.max(renew_deadline)
}

/// What a once-per-point task needs to claim its points.
pub(crate) struct Points {
    coordinator: Arc<dyn Coordinator>,
    request: PointRequest,
    label: String,
    /// How long a call may take: see [`Points::patience`].
    patience: Duration,
    /// Whether the coordinator failed on the last call, so that an outage is logged once.
    failing: bool,
}

impl Points {
    pub(crate) fn new(board: &Board, index: usize, period: Duration, hold: Duration) -> Self {
        let entry = board.plan.task(index);
        Points {
            coordinator: board.coordination.coordinator.clone(),
            request: PointRequest {
                task: entry.name.to_string(),
                instance: board.coordination.instance.to_string(),
                period,
                hold,
            },
            label: entry.label().to_string(),
            patience: patience(period, board.coordination.lease.renew_deadline()),
            failing: false,
        }
    }

    /// When the first point is due: the next one on the coordinator's clock.
    pub(crate) async fn first(&mut self) -> Instant {
        let (period, patience) = (self.request.period, self.patience);
        match timeout(patience, self.coordinator.until_next_point(period)).await {
            Ok(Ok(until_next)) => {
                self.answered();
                after(Instant::now(), until_next + MARGIN)
            }
            Ok(Err(error)) => self.unanswered(&chain::text(&error)),
            Err(_) => self.unanswered(&format!("no answer within {patience:?}")),
        }
    }

    /// Claims the point due now: whether this replica won it, and when the next one is due.
    /// A point that cannot be claimed (the coordinator does not answer) is not run.
    pub(crate) async fn claim(&mut self) -> (bool, Instant) {
        let patience = self.patience;
        match timeout(patience, self.coordinator.claim_point(&self.request)).await {
            Ok(Ok(claim)) => {
                self.answered();
                if let Some(point) = claim.won {
                    tracing::debug!(point, "claimed the point");
                }
                let next = after(Instant::now(), claim.until_next + MARGIN);
                (claim.won.is_some(), next)
            }
            Ok(Err(error)) => (false, self.unanswered(&chain::text(&error))),
            Err(_) => (
                false,
                self.unanswered(&format!("no answer within {patience:?}")),
            ),
        }
    }

    /// Claims the cron occurrence `point` (its Unix time in milliseconds): whether this replica
    /// won it. A coordinator that does not answer within `until_next` (the time to the next
    /// occurrence), or the app's renew deadline if that is longer, gives no point.
    #[cfg(feature = "cron")]
    pub(crate) async fn claim_explicit(&mut self, point: i64, until_next: Duration) -> bool {
        let patience = until_next.max(self.patience);
        let claiming = self.coordinator.claim_explicit_point(&self.request, point);
        match timeout(patience, claiming).await {
            Ok(Ok(claim)) => {
                self.answered();
                if claim.won.is_some() {
                    tracing::debug!(point, "claimed the occurrence");
                }
                claim.won == Some(point)
            }
            Ok(Err(error)) => {
                self.unanswered(&chain::text(&error));
                false
            }
            Err(_) => {
                self.unanswered(&format!("no answer within {patience:?}"));
                false
            }
        }
    }

    fn answered(&mut self) {
        if std::mem::take(&mut self.failing) {
            tracing::info!(
                "the coordinator answers again: lifespan task `{}` claims its points",
                self.label
            );
        }
    }

    /// The coordinator failed: logged once per outage; the next try is a period from now.
    fn unanswered(&mut self, why: &str) -> Instant {
        if !std::mem::replace(&mut self.failing, true) {
            tracing::warn!(
                coordinator = %self.coordinator.describe(),
                error = %crate::base::redact::redact(why),
                "lifespan task `{}` cannot claim its points: none runs on this replica until the coordinator answers",
                self.label
            );
        }
        after(Instant::now(), self.request.period)
    }
}
