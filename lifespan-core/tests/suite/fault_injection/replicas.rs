//! Replicas: two to four apps sharing one test coordinator (`tests/suite/replicas/coordinator.rs`,
//! on tokio's virtual clock), each running the same singleton task `job` and, in some cases,
//! the same once-per-point task `digest`, under random lease settings, while a random schedule
//! makes renewals fail, hang or be refused, takes the coordinator down and up, makes its tables
//! vanish and come back, delays its statements or stalls their answers (below and above the
//! retry period and the once-per-point task's period), and shuts replicas down and starts them
//! again.
//! The singleton's bodies stop promptly on their signal, stop slowly, ignore it, return early or
//! fail, in a random order per replica, and the task restarts never, on failure or always.
//!
//! Every body logs its start (with its token, and the coordinator's holder at that instant) and
//! its end or drop (a guard made inside the body, so that the body made at startup only to check
//! the arguments, never polled, logs nothing); the coordinator logs every grant, successful
//! renewal (with the instant it was sent, from which the replica reckons its lease), refused
//! renewal and won point. Each case then checks, on that log in its exact order:
//!
//! 1. never two holders at once: a body of one replica ends (or is dropped) before any body of
//!    another replica starts, in the log's order, ties at one instant included;
//! 2. a task without a lease never runs: when a body starts, the coordinator has its replica
//!    as the holder, with its token;
//! 3. a lost lease stops the task: a body that stops on its signal has stopped by the renew
//!    deadline of its last successful renewal (or at the refusal), and every body has stopped or
//!    been dropped by the lease's expiry (a lease period after its last successful renewal was
//!    sent);
//! 4. tokens strictly increase: each grant's token is above every earlier one, each body's is
//!    at least every earlier body's, and a token belongs to one replica;
//! 5. each attempt of a point of the once-per-point task runs after a claim that won it, never
//!    before the point is due (late, when the answer to the claim stalled, or when the misfire
//!    policy, `skip`, `latest` or `all` at random, runs a missed point); a point runs again only
//!    as a later attempt, never while an earlier attempt of it runs; and a point runs whenever,
//!    from three periods before it to its end, the coordinator was up and answered at once and
//!    some replica was running, unless a run of another point was in flight on the coordinator
//!    (from its first attempt won to the last end recorded: overlap is forbidden);
//!    - tokens grow per attempt: each claim's token is new, and a later attempt of a point has
//!      a greater token than its earlier ones;
//!    - an attempt that ended with no end recorded (its replica cut off, or shut down while the
//!      coordinator was down) is taken over as a later attempt within its lease, a period, a
//!      claim's patience and a retry period after its end, when the coordinator answered at
//!      once and a replica ran all along;
//! 6. once every app is shut down (after the faults are over and a lease and a retry period
//!    have passed), every body has ended, no tokio task is alive and the coordinator has no
//!    holder.
//!
//! This file drives the cases; `replicas_case.rs` generates them and `replicas_check.rs` checks
//! them.
//!
//! The driver acts on a 10 ms grid 3 ms past the case's start, so that it never acts at the
//! instant a replica claims a point (1 ms past a point, the periods being multiples of 10 ms).
//! A case runs on a current-thread runtime with paused time; every wait is bounded.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use lifespan_core::{
    point_system_time, Acquired, App, Coordinator, CoordinatorFuture, Lease, LeaseRequest, Misfire,
    PointRun, RunClaim, RunOutcome, RunRequest, Shutdown, TaskOptions, Term,
};
use lifespan_test_support::{bounded, WAIT_LIMIT};
use proptest::prelude::*;
use tokio::task::JoinHandle;
use tokio::time::{sleep, sleep_until, Instant};

use super::coordinator::TestCoordinator;
use super::real_time::real_time_case;
use super::replicas_case::{replicas_case, Body, ReplicasCase, Step, MISFIRE_LIMIT};
use super::replicas_check::{check, render};

const JOB: &str = "job";
const DIGEST: &str = "digest";

/// What happened, in one order for the whole case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Rec {
    /// A body of the singleton started, the coordinator then having `holder`.
    BodyStart {
        replica: usize,
        token: i64,
        body: Body,
        holder: Option<(String, i64)>,
    },
    BodyEnd {
        replica: usize,
        token: i64,
        how: How,
    },
    /// A run of the once-per-point task started.
    PointRun { replica: usize },
    /// A run of the once-per-point task ended or was dropped.
    PointEnd { replica: usize },
    /// The coordinator granted a lease asked for at `sent`, and the replica got the answer.
    Granted {
        replica: usize,
        token: i64,
        sent: Instant,
    },
    /// A renewal sent at `sent` succeeded, and the replica got the answer.
    Renewed {
        replica: usize,
        token: i64,
        sent: Instant,
    },
    /// A renewal was answered `false`.
    Refused { replica: usize, token: i64 },
    /// A claim started attempt `attempt` of point `point` (its time on the coordinator's
    /// clock, due at `due` on this process's) with fencing token `token`, and the replica got
    /// the answer.
    Won {
        replica: usize,
        point: i64,
        attempt: u32,
        token: i64,
        due: Instant,
    },
    /// The coordinator recorded the end of attempt `attempt` of point `point` (the answer may
    /// reach the replica later, or never).
    Finished { point: i64, attempt: u32 },
    /// The replica's `start` returned `Ok`.
    Up(usize),
    /// The replica's shutdown began.
    Stopping(usize),
    /// The faults that matter to claims: the coordinator down, its delay.
    Claims { clear: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum How {
    /// Returned on its signal.
    Stopped,
    /// Returned before any signal (`Ok` or an error).
    Returned,
    /// Dropped while it ran.
    Dropped,
}

#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) at: Instant,
    pub(crate) rec: Rec,
}

#[derive(Clone, Default)]
struct Recorder {
    entries: Arc<Mutex<Vec<Entry>>>,
}

/// The most entries a case may log: a runtime that reruns a body without end fails the case.
pub(crate) const MAX_ENTRIES: usize = 50_000;

impl Recorder {
    fn push(&self, rec: Rec) {
        let mut entries = self.entries.lock().unwrap();
        if entries.len() < MAX_ENTRIES {
            entries.push(Entry {
                at: Instant::now(),
                rec,
            });
        }
    }

    fn entries(&self) -> Vec<Entry> {
        self.entries.lock().unwrap().clone()
    }
}

fn replica_of(instance: &str) -> usize {
    instance.trim_start_matches('r').parse().unwrap()
}

/// The test coordinator, logging what the replicas learned from it.
#[derive(Clone)]
struct Recording {
    inner: TestCoordinator,
    rec: Recorder,
}

impl Coordinator for Recording {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn prepare(&self) -> CoordinatorFuture<'_, ()> {
        self.inner.prepare()
    }

    fn acquire<'a>(&'a self, request: &'a LeaseRequest) -> CoordinatorFuture<'a, Acquired> {
        let sent = Instant::now();
        let answer = self.inner.acquire(request);
        Box::pin(async move {
            let answer = answer.await;
            if let Ok(Acquired::Granted(term)) = &answer {
                self.rec.push(Rec::Granted {
                    replica: replica_of(&term.instance),
                    token: term.token,
                    sent,
                });
            }
            answer
        })
    }

    fn renew<'a>(&'a self, term: &'a Term, lease: Duration) -> CoordinatorFuture<'a, bool> {
        let sent = Instant::now();
        let answer = self.inner.renew(term, lease);
        Box::pin(async move {
            let answer = answer.await;
            let (replica, token) = (replica_of(&term.instance), term.token);
            match answer {
                Ok(true) => self.rec.push(Rec::Renewed {
                    replica,
                    token,
                    sent,
                }),
                Ok(false) => self.rec.push(Rec::Refused { replica, token }),
                Err(_) => {}
            }
            answer
        })
    }

    fn release<'a>(&'a self, term: &'a Term) -> CoordinatorFuture<'a, ()> {
        self.inner.release(term)
    }

    fn now(&self) -> CoordinatorFuture<'_, SystemTime> {
        self.inner.now()
    }

    fn claim_run<'a>(&'a self, request: &'a RunRequest) -> CoordinatorFuture<'a, RunClaim> {
        let answer = self.inner.claim_run(request);
        Box::pin(async move {
            let answer = answer.await;
            if let Ok(RunClaim {
                run: Some(run),
                now,
                ..
            }) = &answer
            {
                // When the point was due on this process's clock: the coordinator's clock read
                // `now` as the answer arrived.
                let late = now
                    .duration_since(point_system_time(run.point))
                    .unwrap_or_default();
                self.rec.push(Rec::Won {
                    replica: replica_of(&request.instance),
                    point: run.point,
                    attempt: run.attempt,
                    token: run.token,
                    due: Instant::now() - late,
                });
            }
            answer
        })
    }

    fn renew_run<'a>(&'a self, run: &'a PointRun, lease: Duration) -> CoordinatorFuture<'a, bool> {
        self.inner.renew_run(run, lease)
    }

    fn finish_run<'a>(
        &'a self,
        run: &'a PointRun,
        outcome: RunOutcome,
    ) -> CoordinatorFuture<'a, bool> {
        self.inner.finish_run(run, outcome)
    }
}

/// Logs a body's end, or its drop if it did not end.
struct Running {
    rec: Recorder,
    replica: usize,
    token: i64,
    ended: Option<How>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.rec.push(Rec::BodyEnd {
            replica: self.replica,
            token: self.token,
            how: self.ended.unwrap_or(How::Dropped),
        });
    }
}

/// Replica `replica`'s app: the singleton `job` and, if the case has it, `digest`.
fn replica(case: &ReplicasCase, replica: usize, coordinator: &Recording) -> App {
    let app = App::builder()
        .empty()
        .coordinator(coordinator.clone())
        .instance(format!("r{replica}"))
        .lease(case.settings())
        .grace_period(case.grace.get())
        .build();
    let options = TaskOptions::new()
        .singleton(true)
        .restart(case.restart)
        .backoff(Duration::from_millis(50), Duration::from_millis(400))
        .jitter(false);
    let bodies = case.bodies[replica].clone();
    let runs = Arc::new(Mutex::new(0usize));
    let (rec, holders) = (coordinator.rec.clone(), coordinator.inner.clone());
    app.register_task_with(JOB, options, move |lease: Lease, shutdown: Shutdown| {
        let (rec, holders, bodies, runs) =
            (rec.clone(), holders.clone(), bodies.clone(), runs.clone());
        async move {
            // Made here: the body made at startup only to check the arguments never runs.
            let body = {
                let mut runs = runs.lock().unwrap();
                *runs += 1;
                bodies[(*runs - 1) % bodies.len()]
            };
            let token = lease.token();
            rec.push(Rec::BodyStart {
                replica,
                token,
                body,
                holder: holders.holder(JOB),
            });
            let mut running = Running {
                rec,
                replica,
                token,
                ended: None,
            };
            let result = run_body(body, &shutdown).await;
            running.ended = Some(if shutdown.is_cancelled() {
                How::Stopped
            } else {
                How::Returned
            });
            drop(running);
            result
        }
    })
    .unwrap();
    if let Some((period, work)) = case.digest {
        let mut options = TaskOptions::new()
            .every(period.get())
            .once_per_point(true)
            .misfire(case.misfire);
        if case.misfire == Misfire::All {
            options = options.misfire_limit(MISFIRE_LIMIT);
        }
        let rec = coordinator.rec.clone();
        app.register_task_with(DIGEST, options, move || {
            let rec = rec.clone();
            async move {
                rec.push(Rec::PointRun { replica });
                let _end = PointEnd { rec, replica };
                sleep(work.get()).await;
            }
        })
        .unwrap();
    }
    app
}

/// Logs the end of a point's run, or its drop.
struct PointEnd {
    rec: Recorder,
    replica: usize,
}

impl Drop for PointEnd {
    fn drop(&mut self) {
        self.rec.push(Rec::PointEnd {
            replica: self.replica,
        });
    }
}

/// What `body` does, on its `shutdown` signal.
async fn run_body(body: Body, shutdown: &Shutdown) -> Result<(), &'static str> {
    match body {
        Body::Prompt => {
            shutdown.cancelled().await;
            Ok(())
        }
        Body::SlowStop(takes) => {
            shutdown.cancelled().await;
            sleep(takes.get()).await;
            Ok(())
        }
        Body::Ignore => std::future::pending().await,
        Body::Return(after) | Body::Fail(after) => {
            match shutdown.run_until_cancelled(sleep(after.get())).await {
                Some(()) if matches!(body, Body::Fail(_)) => Err("injected failure"),
                _ => Ok(()),
            }
        }
    }
}

/// The next instant of the driver's grid (3 ms past a multiple of 10 ms since `origin`) not
/// before now.
fn on_grid(origin: Instant) -> Instant {
    let elapsed = Instant::now().duration_since(origin).as_nanos();
    let step = Duration::from_millis(10).as_nanos();
    let offset = Duration::from_millis(3).as_nanos();
    let k = elapsed.saturating_sub(offset).div_ceil(step);
    origin + Duration::from_nanos(u64::try_from(k * step + offset).unwrap())
}

/// What the driver saw besides the log.
pub(crate) struct Observed {
    pub(crate) origin: Instant,
    /// When the final shutdowns began.
    pub(crate) end: Instant,
    pub(crate) alive: usize,
    pub(crate) holder: Option<(String, i64)>,
    pub(crate) situations: BTreeSet<&'static str>,
}

/// Runs `case` on a fresh current-thread runtime with paused time, on a thread of its own
/// bounded by 20 s of real time; returns the situations it went through.
pub(crate) fn run_replicas(case: &ReplicasCase) -> Result<BTreeSet<&'static str>, String> {
    let owned = case.clone();
    real_time_case(Duration::from_secs(20), move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(run_paused(&owned))
    })
}

async fn run_paused(case: &ReplicasCase) -> Result<BTreeSet<&'static str>, String> {
    let coordinator = Recording {
        inner: TestCoordinator::new(),
        rec: Recorder::default(),
    };
    let rec = coordinator.rec.clone();
    coordinator.inner.on_finish(move |run| {
        rec.push(Rec::Finished {
            point: run.point,
            attempt: run.attempt,
        });
    });
    let driven = tokio::time::timeout(WAIT_LIMIT, drive(case, &coordinator));
    let observed = driven
        .await
        .map_err(|_| "the case did not end within an hour of virtual time".to_owned())??;
    let entries = coordinator.rec.entries();
    check(case, &entries, &observed)
        .map_err(|violation| format!("{violation}\nlog:\n{}", render(&entries, observed.origin)))
}

async fn drive(case: &ReplicasCase, coordinator: &Recording) -> Result<Observed, String> {
    let origin = Instant::now();
    let mut situations = BTreeSet::new();
    // The points are counted from now on.
    coordinator.inner.now().await.unwrap();
    let n = case.bodies.len();
    let mut replicas = Replicas {
        apps: (0..n).map(|i| replica(case, i, coordinator)).collect(),
        up: vec![false; n],
        stopping: (0..n).map(|_| None).collect(),
        period: case.digest.map(|(period, _)| period.get()),
    };
    sleep_until(on_grid(origin)).await;
    for (i, app) in replicas.apps.iter().enumerate() {
        bounded("start", WAIT_LIMIT, app.start()).await.unwrap();
        coordinator.rec.push(Rec::Up(i));
        replicas.up[i] = true;
    }
    coordinator.rec.push(Rec::Claims { clear: true });
    let mut at = on_grid(origin);
    for &(gap, step) in &case.steps {
        at += gap.get();
        sleep_until(at.max(on_grid(origin))).await;
        take_step(step, coordinator, &mut replicas, &mut situations).await;
    }
    // The faults end; a lease and a retry period later, stale leases have expired.
    sleep_until(on_grid(origin)).await;
    end_faults(coordinator);
    let (lease, _, retry) = case.lease;
    sleep(lease.get() + retry.get() + case.grace.get()).await;
    sleep_until(on_grid(origin)).await;
    let end = Instant::now();
    replicas.shut_down(coordinator).await;
    // Nothing may be left once the scheduler ran what is already due.
    for _ in 0..3 {
        tokio::task::yield_now().await;
    }
    let alive = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    Ok(Observed {
        origin,
        end,
        alive,
        holder: coordinator.inner.holder(JOB),
        situations,
    })
}

/// The replicas' apps during a case.
struct Replicas {
    apps: Vec<App>,
    /// Which replicas run.
    up: Vec<bool>,
    /// The shutdowns under way, one per replica at most.
    stopping: Vec<Option<JoinHandle<()>>>,
    /// The once-per-point task's period, if there is one.
    period: Option<Duration>,
}

impl Replicas {
    /// Replica `i` shuts down, if it runs, in a task of its own.
    fn stop(&mut self, i: usize, coordinator: &Recording) {
        if self.up[i] {
            self.up[i] = false;
            coordinator.rec.push(Rec::Stopping(i));
            let app = self.apps[i].clone();
            self.stopping[i] = Some(tokio::spawn(async move {
                app.shutdown().await;
            }));
        }
    }

    /// Replica `i` starts again, if it is down, once its shutdown is over.
    async fn start(
        &mut self,
        i: usize,
        coordinator: &Recording,
        situations: &mut BTreeSet<&'static str>,
    ) {
        if !self.up[i] {
            if let Some(stop) = self.stopping[i].take() {
                bounded("a shutdown", WAIT_LIMIT, stop).await.unwrap();
            }
            match bounded("start", WAIT_LIMIT, self.apps[i].start()).await {
                Ok(()) => {
                    coordinator.rec.push(Rec::Up(i));
                    self.up[i] = true;
                    situations.insert("a replica started again");
                }
                Err(_) => {
                    situations.insert("a start failed (the coordinator down)");
                }
            }
        }
    }

    /// Every replica shuts down, after the shutdown under way if there is one.
    async fn shut_down(&mut self, coordinator: &Recording) {
        for (i, app) in self.apps.iter().enumerate() {
            if self.up[i] {
                coordinator.rec.push(Rec::Stopping(i));
            }
            if let Some(stop) = self.stopping[i].take() {
                bounded("a shutdown", WAIT_LIMIT, stop).await.unwrap();
            }
            bounded("the last shutdown", WAIT_LIMIT, app.shutdown()).await;
        }
    }
}

/// Takes `step`, and logs whether claims are clear of faults when that changes.
async fn take_step(
    step: Step,
    coordinator: &Recording,
    replicas: &mut Replicas,
    situations: &mut BTreeSet<&'static str>,
) {
    let faults = coordinator.inner.faults();
    let n = replicas.apps.len();
    let was_clear = claims_clear(coordinator);
    match step {
        Step::RenewFails(on) => faults.renew_fails.store(on, Ordering::Relaxed),
        Step::RenewHangs(on) => faults.renew_hangs.store(on, Ordering::Relaxed),
        Step::RenewRefused(on) => faults.renew_refused.store(on, Ordering::Relaxed),
        Step::Down(on) => faults.down.store(on, Ordering::Relaxed),
        Step::Delay(delay) => faults.delay_ms.store(delay.0, Ordering::Relaxed),
        Step::Vanish(on) => {
            if !on && faults.vanished.load(Ordering::Relaxed) {
                situations.insert("the tables vanished and came back");
            }
            faults.vanished.store(on, Ordering::Relaxed);
        }
        Step::Stall(stall) => {
            if let Some(period) = replicas.period {
                if stall.get() > period {
                    situations.insert("answers stalled past the period");
                }
            }
            faults.stall_ms.store(stall.0, Ordering::Relaxed);
        }
        Step::Stop(i) => replicas.stop(i % n, coordinator),
        Step::Start(i) => replicas.start(i % n, coordinator, situations).await,
    }
    let clear = claims_clear(coordinator);
    if clear != was_clear {
        coordinator.rec.push(Rec::Claims { clear });
    }
}

/// Whether the coordinator answers claims at once, right.
fn claims_clear(coordinator: &Recording) -> bool {
    let faults = coordinator.inner.faults();
    !faults.down.load(Ordering::Relaxed)
        && !faults.vanished.load(Ordering::Relaxed)
        && faults.delay_ms.load(Ordering::Relaxed) == 0
        && faults.stall_ms.load(Ordering::Relaxed) == 0
}

/// Every fault ends.
fn end_faults(coordinator: &Recording) {
    let faults = coordinator.inner.faults();
    for flag in [
        &faults.down,
        &faults.vanished,
        &faults.renew_fails,
        &faults.renew_hangs,
        &faults.renew_refused,
    ] {
        flag.store(false, Ordering::Relaxed);
    }
    faults.delay_ms.store(0, Ordering::Relaxed);
    faults.stall_ms.store(0, Ordering::Relaxed);
    coordinator.rec.push(Rec::Claims { clear: true });
}

/// One case for every eight of the main property (125 by default, half a second in debug), at
/// least 10.
fn replicas_config() -> ProptestConfig {
    super::scaled_config(1, 8)
}

/// On its own runner: the `proptest!` macro would let `PROPTEST_CASES` set its case count.
#[test]
fn replicas_keep_one_holder_and_each_point_once() {
    super::run_on_own_runner(replicas_config(), replicas_case(), |case| {
        run_replicas(case).map(drop)
    });
}

/// The generator is worth something only if its cases go through every situation the checks
/// are about: a fixed sample of cases must reach each one.
#[test]
fn replicas_cases_reach_every_situation() {
    let required = [
        "a takeover",
        "three terms or more",
        "a body dropped before the end",
        "a body dropped just before its lease's expiry",
        "a renewal refused during a body",
        "a point ran",
        "a point that must run",
        "a replica started again",
        "a start failed (the coordinator down)",
        "the tables vanished and came back",
        "answers stalled past the period",
        "a point ran late",
        "a missed point ran (misfire latest or all)",
        "an unfinished point that must be taken over",
    ];
    super::assert_reaches(replicas_case(), 120, run_replicas, &required);
}
