//! A singleton's terms: standby until its lease is granted, the lease kept by renewing it, and
//! given up at the end, or lost.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::{sleep, sleep_until, timeout, timeout_at, Instant};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::base::chain;
use crate::base::deadline::after;
use crate::base::lock::lock;
use crate::replicas::{Acquired, Coordinator, Lease, LeaseRequest, LeaseSettings, Term};
use crate::status::board::Board;

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
    unreleased: Option<Arc<dyn Coordinator>>,
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
        let coordinator = board.coordination.coordinator.clone();
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
                    board.set_term(index, term.holder());
                    return Some(self.hold(board, index, term, sent));
                }
                Ok(Ok(Acquired::Held(holder))) => {
                    self.recovered(label);
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

    /// The coordinator answered again after failing.
    fn recovered(&mut self, label: &str) {
        if std::mem::take(&mut self.failing) {
            tracing::info!(
                "the coordinator answers again: lifespan task `{label}` asks for its lease"
            );
        }
    }

    /// The coordinator failed to answer; logged once per outage.
    fn failed(&mut self, label: &str, coordinator: &Arc<dyn Coordinator>, why: &str) {
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
    fn hold(&self, board: &Arc<Board>, index: usize, term: Term, sent: Instant) -> HeldTerm {
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
            coordinator: board.coordination.coordinator.clone(),
            term: term.clone(),
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
            unreleased: Some(board.coordination.coordinator.clone()),
        }
    }
}

/// Renews a term every retry period; fires its signals when it cannot.
struct Keeper {
    coordinator: Arc<dyn Coordinator>,
    term: Term,
    settings: LeaseSettings,
    lost: CancellationToken,
    shutdown: CancellationToken,
    expiry: Arc<Mutex<Instant>>,
    label: String,
}

impl Keeper {
    /// Renews until the lease is lost; `renewed` is when the grant's request was sent.
    async fn keep(self, mut renewed: Instant) {
        // The cause of the last failed renewal, while they fail.
        let mut failure: Option<String> = None;
        loop {
            // Never past the deadline: a retry after a failed renewal may end beyond it, and
            // beyond the lease, when the retry period is longer than their difference.
            let deadline = after(renewed, self.settings.renew_deadline());
            let planned = after(Instant::now(), self.settings.retry()).min(deadline);
            sleep_until(planned).await;
            let sent = Instant::now();
            if sent >= deadline {
                return self.lose(&self.missed(planned, sent, failure.as_deref()));
            }
            let renewal = timeout_at(
                deadline,
                self.coordinator.renew(&self.term, self.settings.lease()),
            );
            match renewal.await {
                Ok(Ok(true)) => {
                    renewed = sent;
                    *lock(&self.expiry) = after(sent, self.settings.lease());
                    if failure.take().is_some() {
                        tracing::info!("lifespan task `{}` renewed its lease again", self.label);
                    }
                }
                Ok(Ok(false)) => {
                    return self.lose("the coordinator no longer has it as the current term (it expired, or its connection ended)");
                }
                Ok(Err(error)) => {
                    let why = chain::text(&error);
                    if failure.is_none() {
                        tracing::warn!(
                            error = %why,
                            "lifespan task `{}` could not renew its lease: retrying until the renew deadline",
                            self.label
                        );
                    }
                    failure = Some(why);
                }
                Err(_) => return self.lose("it was not renewed within the renew deadline: the coordinator did not answer the renewal"),
            }
        }
    }

    /// Why the renew deadline passed, woken at `sent` for a renewal planned at `planned`, the
    /// last renewal having failed with `failure`, if it did. A pause is guessed only when the
    /// process woke up later than planned by more than a tenth of the renew deadline: a timer
    /// is not that late, a stopped or stalled process is.
    fn missed(&self, planned: Instant, sent: Instant, failure: Option<&str>) -> String {
        let late = sent.saturating_duration_since(planned);
        let mut why = String::from("it was not renewed within the renew deadline");
        if late > self.settings.renew_deadline() / 10 {
            why.push_str(&format!(
                ": this process woke up {late:?} after it planned to renew (was this process paused?)"
            ));
        }
        if let Some(failure) = failure {
            why.push_str(&format!("; the last renewal failed: {failure}"));
        }
        why
    }

    fn lose(&self, why: &str) {
        tracing::warn!(
            token = self.term.token,
            "lifespan task `{}` lost its lease: {why}; stopping it, then standby",
            self.label
        );
        self.lost.cancel();
        self.shutdown.cancel();
    }
}

/// Gives `held` up: at once if it is still current, so that a standby takes over within one
/// retry period. Bounded by [`HeldTerm::release_bound`]: a coordinator that does not answer by
/// then lets the lease expire instead.
pub(crate) async fn release(board: &Board, index: usize, mut held: HeldTerm) {
    held.unreleased = None;
    held.keeper.abort();
    board.end_term(index);
    let label = board.plan.task(index).label();
    let bound = held.release_bound();
    match timeout(bound, board.coordination.coordinator.release(&held.term)).await {
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
