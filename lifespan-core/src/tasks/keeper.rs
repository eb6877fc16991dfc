//! Keeping a lease: a singleton's term or a point's run, renewed every retry period until it
//! cannot be, then its signals fired.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::{sleep_until, timeout_at, Instant};
use tokio_util::sync::CancellationToken;

use crate::base::chain;
use crate::base::deadline::after;
use crate::base::lock::lock;
use crate::replicas::{CoordinatorError, LeaseSettings, PointRun, Term};
use crate::status::requests::TaskCoordinator;

/// What a [`Keeper`] keeps.
pub(crate) enum Leased {
    /// A singleton's term.
    Term(Term),
    /// A once-per-point task's run of one point.
    Run(PointRun),
}

impl Leased {
    async fn renew(
        &self,
        coordinator: &TaskCoordinator,
        lease: Duration,
    ) -> Result<bool, CoordinatorError> {
        match self {
            Leased::Term(term) => coordinator.renew(term, lease).await,
            Leased::Run(run) => coordinator.renew_run(run, lease).await,
        }
    }

    fn token(&self) -> i64 {
        match self {
            Leased::Term(term) => term.token,
            Leased::Run(run) => run.token,
        }
    }

    /// What is kept, for the log.
    fn what(&self) -> &'static str {
        match self {
            Leased::Term(_) => "its lease",
            Leased::Run(_) => "the lease of its point's run",
        }
    }

    /// What happens once it is lost, for the log.
    fn then(&self) -> &'static str {
        match self {
            Leased::Term(_) => "stopping it, then standby",
            Leased::Run(_) => "stopping the run: another replica may take the point over",
        }
    }
}

/// Renews a lease every retry period; fires its signals when it cannot.
pub(crate) struct Keeper {
    pub(crate) coordinator: TaskCoordinator,
    pub(crate) leased: Leased,
    pub(crate) settings: LeaseSettings,
    pub(crate) lost: CancellationToken,
    pub(crate) shutdown: CancellationToken,
    pub(crate) expiry: Arc<Mutex<Instant>>,
    pub(crate) label: String,
}

impl Keeper {
    /// Renews until the lease is lost; `renewed` is when the grant's request was sent.
    pub(crate) async fn keep(self, mut renewed: Instant) {
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
                self.leased.renew(&self.coordinator, self.settings.lease()),
            );
            match renewal.await {
                Ok(Ok(true)) => {
                    renewed = sent;
                    *lock(&self.expiry) = after(sent, self.settings.lease());
                    if failure.take().is_some() {
                        tracing::info!("lifespan task `{}` renewed {} again", self.label, self.leased.what());
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
                            "lifespan task `{}` could not renew {}: retrying until the renew deadline",
                            self.label,
                            self.leased.what()
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
            token = self.leased.token(),
            "lifespan task `{}` lost {}: {why}; {}",
            self.label,
            self.leased.what(),
            self.leased.then(),
        );
        self.lost.cancel();
        self.shutdown.cancel();
    }
}
