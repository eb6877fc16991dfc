//! The coordinator as one task asks it. Every request the runtime makes for a task goes through
//! here, under a fixed operation name: timed, and counted when it fails or goes unanswered
//! (feature `metrics`; without it, each call is the coordinator's own).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::replicas::{
    Acquired, Coordinator, CoordinatorError, LeaseRequest, Pause, PointRun, RecentRuns, RunClaim,
    RunOutcome, RunRequest, Term,
};
use tokio_util::sync::CancellationToken;

use crate::status::board::Board;
use crate::status::metrics::{self, Operation};

/// The app's coordinator, for the requests of one task.
#[derive(Clone)]
pub(crate) struct TaskCoordinator {
    coordinator: Arc<dyn Coordinator>,
    requests: Arc<metrics::Requests>,
}

type Answer<T> = Result<T, CoordinatorError>;

impl TaskCoordinator {
    /// The coordinator of `board`, for task `index`.
    pub(crate) fn new(board: &Board, index: usize) -> Self {
        let label = board.plan.task(index).label();
        TaskCoordinator::of(&board.coordination.coordinator, label, &board.shutdown)
    }

    /// `coordinator`, for task `label` of an app whose shutdown is `shutdown`.
    pub(crate) fn of(
        coordinator: &Arc<dyn Coordinator>,
        label: &str,
        shutdown: &CancellationToken,
    ) -> Self {
        TaskCoordinator {
            coordinator: coordinator.clone(),
            requests: Arc::new(metrics::Requests::new(label, shutdown)),
        }
    }

    /// What it is and where, for logs and errors.
    pub(crate) fn describe(&self) -> String {
        self.coordinator.describe()
    }

    pub(crate) async fn acquire(&self, request: &LeaseRequest) -> Answer<Acquired> {
        let asking = self.coordinator.acquire(request);
        self.requests.measure(Operation::AcquireLease, asking).await
    }

    pub(crate) async fn renew(&self, term: &Term, lease: Duration) -> Answer<bool> {
        let asking = self.coordinator.renew(term, lease);
        self.requests.measure(Operation::RenewLease, asking).await
    }

    pub(crate) async fn release(&self, term: &Term) -> Answer<()> {
        let asking = self.coordinator.release(term);
        self.requests.measure(Operation::ReleaseLease, asking).await
    }

    pub(crate) async fn now(&self) -> Answer<SystemTime> {
        let asking = self.coordinator.now();
        self.requests.measure(Operation::ReadClock, asking).await
    }

    pub(crate) async fn claim_run(&self, request: &RunRequest) -> Answer<RunClaim> {
        let asking = self.coordinator.claim_run(request);
        self.requests.measure(Operation::ClaimRun, asking).await
    }

    pub(crate) async fn renew_run(&self, run: &PointRun, lease: Duration) -> Answer<bool> {
        let asking = self.coordinator.renew_run(run, lease);
        self.requests.measure(Operation::RenewRun, asking).await
    }

    pub(crate) async fn finish_run(&self, run: &PointRun, outcome: RunOutcome) -> Answer<bool> {
        let asking = self.coordinator.finish_run(run, outcome);
        self.requests.measure(Operation::FinishRun, asking).await
    }

    pub(crate) async fn recent_runs(&self, task: &str, limit: usize) -> Answer<Option<RecentRuns>> {
        let asking = self.coordinator.recent_runs(task, limit);
        self.requests.measure(Operation::RecentRuns, asking).await
    }

    pub(crate) async fn pause(&self, task: &str, by: &str) -> Answer<Option<Pause>> {
        let asking = self.coordinator.pause(task, by);
        self.requests.measure(Operation::Pause, asking).await
    }

    pub(crate) async fn resume(&self, task: &str) -> Answer<bool> {
        let asking = self.coordinator.resume(task);
        self.requests.measure(Operation::Resume, asking).await
    }

    pub(crate) async fn request_run(&self, task: &str, by: &str) -> Answer<bool> {
        let asking = self.coordinator.request_run(task, by);
        self.requests.measure(Operation::RequestRun, asking).await
    }
}
