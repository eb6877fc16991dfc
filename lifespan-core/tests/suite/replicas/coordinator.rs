//! A coordinator for tests: in memory, on tokio's (virtual) clock, shared by the apps of one
//! test as if they were replicas, with faults switched on and off: renewals that fail, hang or
//! are refused, and an outage of every call.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use lifespan_core::{
    Acquired, Coordinator, CoordinatorError, CoordinatorFuture, Holder, InProcess, LeaseRequest,
    PointRun, RecentRuns, RunClaim, RunOutcome, RunRequest, Term,
};
use tokio::time::Instant;

/// The faults, each off by default.
#[derive(Default)]
pub struct Faults {
    /// Every call fails: the database is gone.
    pub down: AtomicBool,
    /// `renew` fails (the lease is kept until the renew deadline).
    pub renew_fails: AtomicBool,
    /// `renew` never answers.
    pub renew_hangs: AtomicBool,
    /// `renew` answers that the term is no longer current.
    pub renew_refused: AtomicBool,
    /// Extra delay before each answer, in milliseconds of virtual time.
    pub delay_ms: AtomicU64,
    /// Every call fails with an error whose cause says the tables do not exist: they were
    /// dropped, and the calls succeed again once they are back.
    pub vanished: AtomicBool,
    /// Extra delay after each statement ran, before its answer arrives, in milliseconds of
    /// virtual time: a statement that stalls, a point claimed at one instant and learnt of
    /// later.
    pub stall_ms: AtomicU64,
}

/// The cause of every failure while the tables are gone.
pub const VANISHED: &str = "relation \"lifespan_leases\" does not exist";

#[derive(Clone, Default)]
pub struct TestCoordinator {
    inner: Arc<Inner>,
}

struct Inner {
    faults: Faults,
    state: Mutex<State>,
    /// The run ledger: the in-process coordinator's, behind this one's faults. Its clock reads
    /// the Unix epoch at its first reading, so that point `n` of a period `p` is due `n × p`
    /// after it (tests read it first when they start).
    ledger: InProcess,
    prepare_error: Mutex<Option<String>>,
    /// Told of each run whose end the ledger recorded, as it records it (before a stalled
    /// answer).
    on_finish: Mutex<Option<FinishHook>>,
}

/// See [`TestCoordinator::on_finish`].
type FinishHook = Box<dyn Fn(&PointRun) + Send + Sync>;

impl Default for Inner {
    fn default() -> Self {
        Inner {
            faults: Faults::default(),
            state: Mutex::default(),
            ledger: InProcess::starting_at(SystemTime::UNIX_EPOCH),
            prepare_error: Mutex::default(),
            on_finish: Mutex::default(),
        }
    }
}

#[derive(Default)]
struct State {
    leases: HashMap<String, Lease>,
}

struct Lease {
    instance: String,
    token: i64,
    expires: Instant,
}

impl TestCoordinator {
    pub fn new() -> Self {
        TestCoordinator::default()
    }

    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    /// `prepare` fails with `message`.
    /// Calls `hook` with each run whose end the ledger records, when it records it.
    pub fn on_finish(&self, hook: impl Fn(&PointRun) + Send + Sync + 'static) {
        *self.inner.on_finish.lock().unwrap() = Some(Box::new(hook));
    }

    pub fn fail_prepare(&self, message: &str) {
        *self.inner.prepare_error.lock().unwrap() = Some(message.into());
    }

    /// The holder of `task`'s lease now, if it has not expired.
    pub fn holder(&self, task: &str) -> Option<(String, i64)> {
        let state = self.inner.state.lock().unwrap();
        let lease = state.leases.get(task)?;
        (lease.expires > Instant::now()).then(|| (lease.instance.clone(), lease.token))
    }

    async fn fault(&self) -> Result<(), CoordinatorError> {
        let delay = self.inner.faults.delay_ms.load(Ordering::Relaxed);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        if self.inner.faults.down.load(Ordering::Relaxed) {
            return Err(CoordinatorError::msg("the test database is down"));
        }
        if self.inner.faults.vanished.load(Ordering::Relaxed) {
            return Err(CoordinatorError::new(
                "running a statement of the test coordinator",
                std::io::Error::other(VANISHED),
            ));
        }
        Ok(())
    }
}

impl TestCoordinator {
    /// Holds an answer back by the stall, if there is one.
    async fn stall(&self) {
        let stall = self.inner.faults.stall_ms.load(Ordering::Relaxed);
        if stall > 0 {
            tokio::time::sleep(Duration::from_millis(stall)).await;
        }
    }

    fn acquire_now(&self, request: &LeaseRequest) -> Acquired {
        let now = Instant::now();
        let mut state = self.inner.state.lock().unwrap();
        let lease = state.leases.entry(request.task.clone()).or_insert(Lease {
            instance: String::new(),
            token: 0,
            expires: now,
        });
        if lease.expires > now {
            return Acquired::Held(Some(Holder::new(
                lease.instance.clone(),
                lease.token,
                SystemTime::UNIX_EPOCH,
            )));
        }
        lease.token += 1;
        lease.instance.clone_from(&request.instance);
        lease.expires = now + request.lease;
        Acquired::Granted(Term::new(
            &request.task,
            &request.instance,
            lease.token,
            SystemTime::UNIX_EPOCH,
        ))
    }

    fn renew_now(&self, term: &Term, lease: Duration) -> bool {
        let faults = &self.inner.faults;
        let now = Instant::now();
        let mut state = self.inner.state.lock().unwrap();
        match state.leases.get_mut(&term.task) {
            Some(held)
                if held.token == term.token
                    && held.expires > now
                    && !faults.renew_refused.load(Ordering::Relaxed) =>
            {
                held.expires = now + lease;
                true
            }
            _ => false,
        }
    }
}

impl Coordinator for TestCoordinator {
    fn describe(&self) -> String {
        "the test coordinator".into()
    }

    fn prepare(&self) -> CoordinatorFuture<'_, ()> {
        Box::pin(async move {
            self.fault().await?;
            match self.inner.prepare_error.lock().unwrap().clone() {
                Some(message) => Err(CoordinatorError::msg(message)),
                None => Ok(()),
            }
        })
    }

    fn acquire<'a>(&'a self, request: &'a LeaseRequest) -> CoordinatorFuture<'a, Acquired> {
        Box::pin(async move {
            self.fault().await?;
            let acquired = self.acquire_now(request);
            self.stall().await;
            Ok(acquired)
        })
    }

    fn renew<'a>(&'a self, term: &'a Term, lease: Duration) -> CoordinatorFuture<'a, bool> {
        Box::pin(async move {
            self.fault().await?;
            let faults = &self.inner.faults;
            if faults.renew_hangs.load(Ordering::Relaxed) {
                std::future::pending::<()>().await;
            }
            if faults.renew_fails.load(Ordering::Relaxed) {
                return Err(CoordinatorError::msg("renewal failed"));
            }
            let renewed = self.renew_now(term, lease);
            self.stall().await;
            Ok(renewed)
        })
    }

    fn release<'a>(&'a self, term: &'a Term) -> CoordinatorFuture<'a, ()> {
        Box::pin(async move {
            self.fault().await?;
            {
                let mut state = self.inner.state.lock().unwrap();
                if let Some(held) = state.leases.get_mut(&term.task) {
                    if held.token == term.token && held.expires > Instant::now() {
                        held.expires = Instant::now();
                    }
                }
            }
            self.stall().await;
            Ok(())
        })
    }

    fn now(&self) -> CoordinatorFuture<'_, SystemTime> {
        Box::pin(async move {
            self.fault().await?;
            let now = self.inner.ledger.now().await?;
            self.stall().await;
            Ok(now)
        })
    }

    fn claim_run<'a>(&'a self, request: &'a RunRequest) -> CoordinatorFuture<'a, RunClaim> {
        Box::pin(async move {
            self.fault().await?;
            let claim = self.inner.ledger.claim_run(request).await?;
            self.stall().await;
            Ok(claim)
        })
    }

    fn renew_run<'a>(&'a self, run: &'a PointRun, lease: Duration) -> CoordinatorFuture<'a, bool> {
        Box::pin(async move {
            self.fault().await?;
            let renewed = self.inner.ledger.renew_run(run, lease).await?;
            self.stall().await;
            Ok(renewed)
        })
    }

    fn finish_run<'a>(
        &'a self,
        run: &'a PointRun,
        outcome: RunOutcome,
    ) -> CoordinatorFuture<'a, bool> {
        Box::pin(async move {
            self.fault().await?;
            let finished = self.inner.ledger.finish_run(run, outcome).await?;
            if finished {
                if let Some(hook) = &*self.inner.on_finish.lock().unwrap() {
                    hook(run);
                }
            }
            self.stall().await;
            Ok(finished)
        })
    }

    fn recent_runs<'a>(
        &'a self,
        task: &'a str,
        limit: usize,
    ) -> CoordinatorFuture<'a, Option<RecentRuns>> {
        Box::pin(async move {
            self.fault().await?;
            let recent = self.inner.ledger.recent_runs(task, limit).await?;
            self.stall().await;
            Ok(recent)
        })
    }
}
