//! A singleton's terms: standby until its lease is granted, the lease kept by renewing it, and
//! given up at the end, or lost.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::{sleep, timeout, Instant};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::base::chain;
use crate::base::deadline::after;
use crate::base::lock::lock;
use crate::replicas::{Acquired, Lease, LeaseRequest, LeaseSettings, Pause, Term};
use crate::status::board::Board;
use crate::status::requests::TaskCoordinator;
use crate::tasks::keeper::{Keeper, Leased};

/// The term a singleton holds: its lease, the signal its bodies get, the keeper renewing it.
pub(crate) struct HeldTerm {
    pub(crate) term: Term,
    /// Injected into the bodies run in this term.
    pub(crate) lease: Lease,
    /// The signal of the bodies run in this term: the app's shutdown, or the lease lost.
    pub(crate) shutdown: CancellationToken,
    /// Fires when the lease is lost.
    pub(crate) lost: CancellationToken,
    /// When the lease expires for the other replicas at the earliest, on this process's clock:
    /// a lease period after the last successful renewal was *sent*.
    expiry: Arc<Mutex<Instant>>,
    keeper: JoinHandle<()>,
    settings: LeaseSettings,
    /// The coordinator, until the term is given up by [`release`].
    unreleased: Option<TaskCoordinator>,
}

impl HeldTerm {
    /// When the lease expires at the earliest, on this process's clock.
    pub(crate) fn expiry(&self) -> Instant {
        *lock(&self.expiry)
    }

    /// How long giving the lease up may take: until the lease expires on its own (a release
    /// answered later gains nothing), at most the renew deadline (the longest the holder waits
    /// for any answer of the coordinator), and at least the retry period. Not the retry period
    /// alone: a retry of 1 ms would cut off every release, and the standby would wait for the
    /// lease to expire.
    fn release_bound(&self) -> Duration {
        let left = self.expiry().saturating_duration_since(Instant::now());
        left.min(self.settings.renew_deadline())
            .max(self.settings.retry())
    }
}

impl Drop for HeldTerm {
    fn drop(&mut self) {
        self.keeper.abort();
        // Dropped without `release`: its task was aborted (the grace period was over), its body
        // with it. The lease is given up all the same, so that a standby takes over within a
        // retry period rather than when it expires; bounded like `release`.
        if let Some(coordinator) = self.unreleased.take() {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                let term = self.term.clone();
                let bound = self.release_bound();
                runtime.spawn(async move {
                    let _ = timeout(bound, coordinator.release(&term)).await;
                });
            }
        }
    }
}

/// What a singleton knows about itself while it asks for and keeps its lease.
pub(crate) struct Singleton {
    pub(crate) settings: LeaseSettings,
    request: LeaseRequest,
    /// Whether the coordinator failed on the last call, so that an outage is logged once.
    failing: bool,
    /// Whether the standby state was logged since the last term.
    announced: bool,
    /// Whether the last term was lost: the next request waits a retry period, so that the
    /// replica that lost the lease does not take it straight back from the others.
    lost: bool,
}

impl Singleton {
    pub(crate) fn new(board: &Board, index: usize, settings: LeaseSettings) -> Self {
        Singleton {
            settings,
            request: LeaseRequest {
                task: board.plan.task(index).name.to_string(),
                instance: board.coordination.instance.to_string(),
                lease: settings.lease(),
            },
            failing: false,
            announced: false,
            lost: false,
        }
    }

    /// The term was lost: the next request for the lease waits a retry period.
    pub(crate) fn lost(&mut self) {
        self.lost = true;
    }

    /// Waits as standby until the lease of task `index` is granted; `None` if shutdown began
    /// first.
    pub(crate) async fn acquire(&mut self, board: &Arc<Board>, index: usize) -> Option<HeldTerm> {
        let coordinator = TaskCoordinator::new(board, index);
        let label = board.plan.task(index).label();
        if std::mem::take(&mut self.lost) {
            tokio::select! {
                biased;
                () = board.shutdown.cancelled() => return None,
                () = sleep(self.settings.retry()) => {}
            }
        }
        loop {
            if board.is_stopping() {
                return None;
            }
            let sent = Instant::now();
            let asking = timeout(
                self.settings.renew_deadline(),
                coordinator.acquire(&self.request),
            );
            let answer = tokio::select! {
                biased;
                () = board.shutdown.cancelled() => return None,
                answer = asking => answer,
            };
            match answer {
                Ok(Ok(Acquired::Granted(term))) => {
                    self.recovered(label);
                    self.announced = false;
                    tracing::info!(
                        token = term.token,
                        instance = %term.instance,
                        "lifespan task `{label}` holds its lease: running it on this replica"
                    );
                    board.controls.set_paused(index, None);
                    board.set_term(index, term.holder());
                    return Some(self.hold(board, index, &coordinator, term, sent));
                }
                Ok(Ok(Acquired::Paused(pause))) => self.paused(board, index, pause),
                Ok(Ok(Acquired::Held(holder))) => {
                    self.recovered(label);
                    board.controls.set_paused(index, None);
                    if !self.announced {
                        self.announced = true;
                        match &holder {
                            Some(holder) => tracing::info!(
                                holder = %holder.instance,
                                token = holder.token,
                                "lifespan task `{label}` is in standby: another replica holds its lease"
                            ),
                            None => tracing::info!("lifespan task `{label}` is in standby: another replica holds its lease"),
                        }
                    }
                    board.set_standby(index, holder);
                }
                Ok(Err(error)) => {
                    self.failed(label, &coordinator, &chain::text(&error));
                    board.set_standby(index, None);
                }
                Err(_) => {
                    let why = format!("no answer within {:?}", self.settings.renew_deadline());
                    self.failed(label, &coordinator, &why);
                    board.set_standby(index, None);
                }
            }
            tokio::select! {
                biased;
                () = board.shutdown.cancelled() => return None,
                () = sleep(self.settings.retry()) => {}
            }
        }
    }

    /// The task is paused: standby, until it is resumed.
    fn paused(&mut self, board: &Board, index: usize, pause: Pause) {
        let label = board.plan.task(index).label();
        self.recovered(label);
        if !self.announced {
            self.announced = true;
            tracing::info!(
                paused_by = %pause.by,
                "lifespan task `{label}` is paused: nobody holds its lease until it is resumed"
            );
        }
        board.controls.set_paused(index, Some(pause));
        board.set_standby(index, None);
    }

    /// The coordinator answered again after failing.
    fn recovered(&mut self, label: &str) {
        if std::mem::take(&mut self.failing) {
            tracing::info!(
                "the coordinator answers again: lifespan task `{label}` asks for its lease"
            );
        }
    }

    /// The coordinator failed to answer; logged once per outage.
    fn failed(&mut self, label: &str, coordinator: &TaskCoordinator, why: &str) {
        if !std::mem::replace(&mut self.failing, true) {
            tracing::warn!(
                coordinator = %coordinator.describe(),
                error = %crate::base::redact::redact(why),
                "lifespan task `{label}` cannot ask for its lease: in standby until the coordinator answers"
            );
        }
        self.announced = false;
    }

    /// Holds `term`, granted by a request sent at `sent`: the keeper renews it from now on.
    fn hold(
        &self,
        board: &Arc<Board>,
        index: usize,
        coordinator: &TaskCoordinator,
        term: Term,
        sent: Instant,
    ) -> HeldTerm {
        let lost = CancellationToken::new();
        let shutdown = board.shutdown.child_token();
        let expiry = Arc::new(Mutex::new(after(sent, self.settings.lease())));
        let lease = Lease::new(
            term.token,
            term.since,
            board.coordination.instance.clone(),
            lost.clone(),
        );
        let keeper = Keeper {
            coordinator: coordinator.clone(),
            leased: Leased::Term(term.clone()),
            settings: self.settings,
            lost: lost.clone(),
            shutdown: shutdown.clone(),
            expiry: expiry.clone(),
            label: board.plan.task(index).label().to_string(),
        };
        let keeper = tokio::spawn(keeper.keep(sent).instrument(board.plan.task(index).span()));
        HeldTerm {
            term,
            lease,
            shutdown,
            lost,
            expiry,
            keeper,
            settings: self.settings,
            unreleased: Some(coordinator.clone()),
        }
    }
}

/// Gives `held` up: at once if it is still current, so that a standby takes over within one
/// retry period. Bounded by [`HeldTerm::release_bound`]: a coordinator that does not answer by
/// then lets the lease expire instead.
pub(crate) async fn release(board: &Board, index: usize, mut held: HeldTerm) {
    let coordinator =
        (held.unreleased.take()).unwrap_or_else(|| TaskCoordinator::new(board, index));
    held.keeper.abort();
    board.end_term(index);
    let label = board.plan.task(index).label();
    let bound = held.release_bound();
    match timeout(bound, coordinator.release(&held.term)).await {
        Ok(Ok(())) => tracing::debug!(token = held.term.token, "lifespan task `{label}` released its lease"),
        Ok(Err(error)) => tracing::warn!(
            error = %chain::text(&error),
            "lifespan task `{label}` could not release its lease: it expires on its own"
        ),
        Err(_) => tracing::warn!(
            "lifespan task `{label}` could not release its lease within {bound:?}: it expires on its own"
        ),
    }
}
