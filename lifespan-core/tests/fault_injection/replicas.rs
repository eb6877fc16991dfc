//! Replicas: two to four apps sharing one test coordinator (`tests/replicas/coordinator.rs`,
//! on tokio's virtual clock), each running the same singleton task `job` and, in some cases,
//! the same once-per-point task `digest`, under random lease settings, while a random schedule
//! makes renewals fail, hang or be refused, takes the coordinator down and up, delays its
//! answers (below and above the retry period), and shuts replicas down and starts them again.
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
//! 5. each point of the once-per-point task runs at most once across replicas, within its own
//!    period, after a claim that won it; and a point runs whenever, from three periods before it
//!    to its end, the coordinator was up and answered at once and some replica was running;
//! 6. once every app is shut down (after the faults are over and a lease and a retry period
//!    have passed), every body has ended, no tokio task is alive and the coordinator has no
//!    holder.
//!
//! The driver acts on a 10 ms grid 3 ms past the case's start, so that it never acts at the
//! instant a replica claims a point (1 ms past a point, the periods being multiples of 10 ms).
//! A case runs on a current-thread runtime with paused time; every wait is bounded.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lifespan_core::{
    Acquired, App, Coordinator, CoordinatorFuture, Lease, LeaseRequest, LeaseSettings, PointClaim,
    PointRequest, Restart, Shutdown, TaskOptions, Term,
};
use lifespan_test_support::{bounded, WAIT_LIMIT};
use proptest::prelude::*;
use tokio::task::JoinHandle;
use tokio::time::{sleep, sleep_until, Instant};

use crate::case::Ms;
use crate::coordinator::TestCoordinator;

const JOB: &str = "job";
const DIGEST: &str = "digest";

/// What a run of the singleton's body does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Body {
    /// Runs until its signal, then returns at once.
    Prompt,
    /// Runs until its signal, then takes this long to return.
    SlowStop(Ms),
    /// Never looks at its signal: it runs until it is dropped.
    Ignore,
    /// Returns `Ok` after this long (or at its signal).
    Return(Ms),
    /// Returns an error after this long (or `Ok` at its signal).
    Fail(Ms),
}

/// What the schedule does at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    RenewFails(bool),
    RenewHangs(bool),
    RenewRefused(bool),
    Down(bool),
    /// Every answer of the coordinator comes this much later.
    Delay(Ms),
    /// Replica `i % n` shuts down (if it runs).
    Stop(usize),
    /// Replica `i % n` starts again (if it is down).
    Start(usize),
}

#[derive(Clone, Debug)]
pub(crate) struct ReplicasCase {
    /// Per replica, what the bodies of its successive runs do (cycled).
    pub(crate) bodies: Vec<Vec<Body>>,
    /// Lease, renew deadline, retry period: valid together.
    pub(crate) lease: (Ms, Ms, Ms),
    pub(crate) restart: Restart,
    /// The once-per-point task's period, and how long each of its runs takes.
    pub(crate) digest: Option<(Ms, Ms)>,
    pub(crate) grace: Ms,
    /// Each step with the time since the one before.
    pub(crate) steps: Vec<(Ms, Step)>,
}

impl ReplicasCase {
    fn settings(&self) -> LeaseSettings {
        let (lease, deadline, retry) = self.lease;
        LeaseSettings::new(lease.get(), deadline.get(), retry.get()).unwrap()
    }
}

fn ms(range: std::ops::RangeInclusive<u64>) -> impl Strategy<Value = Ms> {
    range.prop_map(|k| Ms(k * 10))
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        3 => Just(Body::Prompt),
        1 => ms(1..=150).prop_map(Body::SlowStop),
        2 => Just(Body::Ignore),
        2 => ms(0..=200).prop_map(Body::Return),
        2 => ms(0..=200).prop_map(Body::Fail),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => any::<bool>().prop_map(Step::RenewFails),
        2 => any::<bool>().prop_map(Step::RenewHangs),
        2 => any::<bool>().prop_map(Step::RenewRefused),
        2 => any::<bool>().prop_map(Step::Down),
        1 => Just(Step::Delay(Ms(0))),
        // Below and above the retry period (50 to 500 ms), and the renew deadline.
        2 => ms(1..=150).prop_map(Step::Delay),
        2 => (0..4usize).prop_map(Step::Stop),
        2 => (0..4usize).prop_map(Step::Start),
    ]
}

pub(crate) fn replicas_case() -> impl Strategy<Value = ReplicasCase> {
    let lease = (5..=50u64, 1..=100u64, 1..=100u64).prop_map(|(retry, deadline, lease)| {
        let retry = retry * 10;
        let deadline = retry + deadline * 10;
        (Ms(deadline + lease * 10), Ms(deadline), Ms(retry))
    });
    let restart = prop_oneof![
        Just(Restart::Never),
        Just(Restart::OnFailure),
        Just(Restart::Always)
    ];
    let digest = proptest::option::of((20..=100u64, 0..=5u64).prop_map(|(period, part)| {
        // A run takes at most half a period.
        (Ms(period * 10), Ms(period * part))
    }));
    (
        proptest::collection::vec(proptest::collection::vec(body(), 1..=4), 2..=4),
        lease,
        restart,
        digest,
        ms(5..=200),
        proptest::collection::vec((ms(0..=150), step()), 0..=30),
    )
        .prop_map(
            |(bodies, lease, restart, digest, grace, steps)| ReplicasCase {
                bodies,
                lease,
                restart,
                digest,
                grace,
                steps,
            },
        )
}

/// What happened, in one order for the whole case.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Rec {
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
    /// A claim won point `point`, and the replica got the answer.
    Won { replica: usize, point: i64 },
    /// The replica's `start` returned `Ok`.
    Up(usize),
    /// The replica's shutdown began.
    Stopping(usize),
    /// The faults that matter to claims: the coordinator down, its delay.
    Claims { clear: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum How {
    /// Returned on its signal.
    Stopped,
    /// Returned before any signal (`Ok` or an error).
    Returned,
    /// Dropped while it ran.
    Dropped,
}

#[derive(Clone, Debug)]
struct Entry {
    at: Instant,
    rec: Rec,
}

#[derive(Clone, Default)]
struct Recorder {
    entries: Arc<Mutex<Vec<Entry>>>,
}

/// The most entries a case may log: a runtime that reruns a body without end fails the case.
const MAX_ENTRIES: usize = 50_000;

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

    fn claim_point<'a>(&'a self, request: &'a PointRequest) -> CoordinatorFuture<'a, PointClaim> {
        let answer = self.inner.claim_point(request);
        Box::pin(async move {
            let answer = answer.await;
            if let Ok(PointClaim {
                won: Some(point), ..
            }) = &answer
            {
                self.rec.push(Rec::Won {
                    replica: replica_of(&request.instance),
                    point: *point,
                });
            }
            answer
        })
    }

    fn until_next_point(&self, period: Duration) -> CoordinatorFuture<'_, Duration> {
        self.inner.until_next_point(period)
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
            let result = match body {
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
            };
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
        let options = TaskOptions::new().every(period.get()).once_per_point(true);
        let rec = coordinator.rec.clone();
        app.register_task_with(DIGEST, options, move || {
            let rec = rec.clone();
            async move {
                rec.push(Rec::PointRun { replica });
                sleep(work.get()).await;
            }
        })
        .unwrap();
    }
    app
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
struct Observed {
    origin: Instant,
    /// When the final shutdowns began.
    end: Instant,
    alive: usize,
    holder: Option<(String, i64)>,
    situations: BTreeSet<&'static str>,
}

/// Runs `case` on a fresh current-thread runtime with paused time; returns the situations it
/// went through.
pub(crate) fn run_replicas(case: &ReplicasCase) -> Result<BTreeSet<&'static str>, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async {
        let coordinator = Recording {
            inner: TestCoordinator::new(),
            rec: Recorder::default(),
        };
        let driven = tokio::time::timeout(WAIT_LIMIT, drive(case, &coordinator));
        let observed = driven
            .await
            .map_err(|_| "the case did not end within an hour of virtual time".to_owned())??;
        let entries = coordinator.rec.entries();
        check(case, &entries, &observed).map_err(|violation| {
            format!("{violation}\nlog:\n{}", render(&entries, observed.origin))
        })
    })
}

async fn drive(case: &ReplicasCase, coordinator: &Recording) -> Result<Observed, String> {
    let origin = Instant::now();
    let faults = coordinator.inner.faults();
    let mut situations = BTreeSet::new();
    // The points are counted from now on.
    coordinator
        .inner
        .until_next_point(Duration::from_secs(1))
        .await
        .unwrap();
    let n = case.bodies.len();
    let apps: Vec<App> = (0..n).map(|i| replica(case, i, coordinator)).collect();
    let mut up = vec![false; n];
    let mut stopping: Vec<Option<JoinHandle<()>>> = (0..n).map(|_| None).collect();
    sleep_until(on_grid(origin)).await;
    for (i, app) in apps.iter().enumerate() {
        bounded("start", WAIT_LIMIT, app.start()).await.unwrap();
        coordinator.rec.push(Rec::Up(i));
        up[i] = true;
    }
    coordinator.rec.push(Rec::Claims { clear: true });
    let mut at = on_grid(origin);
    for &(gap, step) in &case.steps {
        at += gap.get();
        sleep_until(at.max(on_grid(origin))).await;
        let (down, delay) = (
            faults.down.load(Ordering::Relaxed),
            faults.delay_ms.load(Ordering::Relaxed),
        );
        match step {
            Step::RenewFails(on) => faults.renew_fails.store(on, Ordering::Relaxed),
            Step::RenewHangs(on) => faults.renew_hangs.store(on, Ordering::Relaxed),
            Step::RenewRefused(on) => faults.renew_refused.store(on, Ordering::Relaxed),
            Step::Down(on) => faults.down.store(on, Ordering::Relaxed),
            Step::Delay(delay) => faults.delay_ms.store(delay.0, Ordering::Relaxed),
            Step::Stop(i) => {
                let i = i % n;
                if up[i] {
                    up[i] = false;
                    coordinator.rec.push(Rec::Stopping(i));
                    let app = apps[i].clone();
                    stopping[i] = Some(tokio::spawn(async move {
                        app.shutdown().await;
                    }));
                }
            }
            Step::Start(i) => {
                let i = i % n;
                if !up[i] {
                    if let Some(stop) = stopping[i].take() {
                        bounded("a shutdown", WAIT_LIMIT, stop).await.unwrap();
                    }
                    match bounded("start", WAIT_LIMIT, apps[i].start()).await {
                        Ok(()) => {
                            coordinator.rec.push(Rec::Up(i));
                            up[i] = true;
                            situations.insert("a replica started again");
                        }
                        Err(_) => {
                            situations.insert("a start failed (the coordinator down)");
                        }
                    }
                }
            }
        }
        let clear =
            !faults.down.load(Ordering::Relaxed) && faults.delay_ms.load(Ordering::Relaxed) == 0;
        if clear != (!down && delay == 0) {
            coordinator.rec.push(Rec::Claims { clear });
        }
    }
    // The faults end; a lease and a retry period later, stale leases have expired.
    sleep_until(on_grid(origin)).await;
    for flag in [
        &faults.down,
        &faults.renew_fails,
        &faults.renew_hangs,
        &faults.renew_refused,
    ] {
        flag.store(false, Ordering::Relaxed);
    }
    faults.delay_ms.store(0, Ordering::Relaxed);
    coordinator.rec.push(Rec::Claims { clear: true });
    let (lease, _, retry) = case.lease;
    sleep(lease.get() + retry.get() + case.grace.get()).await;
    sleep_until(on_grid(origin)).await;
    let end = Instant::now();
    for (i, app) in apps.iter().enumerate() {
        if up[i] {
            coordinator.rec.push(Rec::Stopping(i));
        }
        if let Some(stop) = stopping[i].take() {
            bounded("a shutdown", WAIT_LIMIT, stop).await.unwrap();
        }
        bounded("the last shutdown", WAIT_LIMIT, app.shutdown()).await;
    }
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

fn render(entries: &[Entry], origin: Instant) -> String {
    entries
        .iter()
        .enumerate()
        .map(|(seq, entry)| {
            format!(
                "  {seq:>4}  {:>9.3} s  {:?}\n",
                (entry.at - origin).as_secs_f64(),
                entry.rec
            )
        })
        .collect()
}

/// One body of the singleton, from the log.
#[derive(Debug)]
struct Run {
    replica: usize,
    token: i64,
    body: Body,
    start: usize,
    start_at: Instant,
    end: usize,
    end_at: Instant,
    how: How,
}

fn check(
    case: &ReplicasCase,
    entries: &[Entry],
    observed: &Observed,
) -> Result<BTreeSet<&'static str>, String> {
    let mut situations = observed.situations.clone();
    let settings = case.settings();
    ensure!(
        entries.len() < MAX_ENTRIES,
        "the case logged {MAX_ENTRIES} entries: a runaway"
    );

    // The runs, each start matched with its end (a replica runs one body at a time).
    let mut runs: Vec<Run> = Vec::new();
    let mut open: BTreeMap<usize, usize> = BTreeMap::new();
    for (seq, entry) in entries.iter().enumerate() {
        match &entry.rec {
            Rec::BodyStart {
                replica,
                token,
                body,
                holder,
            } => {
                ensure!(
                    !open.contains_key(replica),
                    "entry {seq}: r{replica} started a body while one still ran"
                );
                // 2. A task without a lease never runs.
                ensure!(
                    holder.as_ref() == Some(&(format!("r{replica}"), *token)),
                    "entry {seq}: r{replica} started a body with token {token} while the coordinator's holder was {holder:?}"
                );
                open.insert(*replica, runs.len());
                runs.push(Run {
                    replica: *replica,
                    token: *token,
                    body: *body,
                    start: seq,
                    start_at: entry.at,
                    end: usize::MAX,
                    end_at: entry.at,
                    how: How::Dropped,
                });
            }
            Rec::BodyEnd {
                replica,
                token,
                how,
            } => {
                let run = open.remove(replica).ok_or_else(|| {
                    format!("entry {seq}: r{replica} ended a body it did not start")
                })?;
                let run = &mut runs[run];
                ensure!(
                    run.token == *token,
                    "entry {seq}: r{replica} ended a body of token {token}, not {}",
                    run.token
                );
                run.end = seq;
                run.end_at = entry.at;
                run.how = *how;
            }
            _ => {}
        }
    }
    // 6. Every body ended.
    if let Some((replica, _)) = open.first_key_value() {
        return Err(format!("r{replica}'s body never ended"));
    }

    // 1. Never two holders at once, exactly: in the log's order.
    for a in &runs {
        for b in &runs {
            if a.replica != b.replica && a.start < b.start {
                ensure!(
                    a.end < b.start,
                    "two holders at once: r{} (token {}) started at entry {} ({:?}) before r{}'s body (token {}), started at entry {}, ended at entry {} ({:?}){}",
                    b.replica,
                    b.token,
                    b.start,
                    b.start_at - observed.origin,
                    a.replica,
                    a.token,
                    a.start,
                    a.end,
                    a.end_at - observed.origin,
                    if a.end_at == b.start_at { ": a tie at one instant" } else { "" }
                );
            }
        }
    }
    if runs
        .windows(2)
        .any(|pair| pair[0].replica != pair[1].replica)
    {
        situations.insert("a takeover");
    }

    // 3. A lost lease stops the task: by the renew deadline (on its signal), by the expiry.
    for run in &runs {
        let mut renewed = None;
        let mut refused = None;
        for entry in &entries[..run.end] {
            match entry.rec {
                Rec::Granted {
                    replica,
                    token,
                    sent,
                }
                | Rec::Renewed {
                    replica,
                    token,
                    sent,
                } if replica == run.replica && token == run.token => {
                    renewed = Some(renewed.map_or(sent, |at: Instant| at.max(sent)));
                }
                Rec::Refused { replica, token }
                    if replica == run.replica && token == run.token && refused.is_none() =>
                {
                    refused = Some(entry.at);
                }
                _ => {}
            }
        }
        let renewed = renewed.ok_or_else(|| {
            format!(
                "r{}'s body of token {} ran with no grant of that term",
                run.replica, run.token
            )
        })?;
        let expiry = renewed + settings.lease();
        // Held until its expiry, not through it: at the expiry another replica may hold it.
        ensure!(
            run.end_at < expiry,
            "r{}'s body of token {} (entries {}..{}) ended or was dropped at {:?}, not before its lease expired at {:?} (renewed last when sent at {:?})",
            run.replica,
            run.token,
            run.start,
            run.end,
            run.end_at - observed.origin,
            expiry - observed.origin,
            renewed - observed.origin
        );
        if run.body == Body::Prompt {
            let deadline = renewed + settings.renew_deadline();
            let by = refused.map_or(deadline, |at| at.min(deadline));
            ensure!(
                run.end_at <= by,
                "r{}'s body of token {} (entries {}..{}) stops on its signal but ran until {:?}: its renew deadline was {:?}{}",
                run.replica,
                run.token,
                run.start,
                run.end,
                run.end_at - observed.origin,
                deadline - observed.origin,
                refused.map_or(String::new(), |at| format!(", the renewal was refused at {:?}", at - observed.origin))
            );
        }
        if run.how == How::Dropped && run.end_at < observed.end {
            situations.insert("a body dropped before the end");
            if run.end_at + Duration::from_millis(1) == expiry {
                situations.insert("a body dropped just before its lease's expiry");
            }
        }
        if refused.is_some() {
            situations.insert("a renewal refused during a body");
        }
    }

    // 4. Tokens strictly increase.
    let mut last_grant = 0;
    let mut last_run = 0;
    let mut owner: BTreeMap<i64, usize> = BTreeMap::new();
    for (seq, entry) in entries.iter().enumerate() {
        match entry.rec {
            Rec::Granted { token, replica, .. } => {
                ensure!(
                    token > last_grant,
                    "entry {seq}: r{replica} was granted token {token} after token {last_grant}"
                );
                last_grant = token;
                owner.insert(token, replica);
            }
            Rec::BodyStart { token, replica, .. } => {
                ensure!(
                    token >= last_run,
                    "entry {seq}: r{replica} ran token {token} after token {last_run}"
                );
                last_run = token;
                ensure!(
                    owner.get(&token) == Some(&replica),
                    "entry {seq}: r{replica} ran token {token}, granted to {:?}",
                    owner.get(&token)
                );
            }
            _ => {}
        }
    }
    if last_grant > 2 {
        situations.insert("three terms or more");
    }

    // 5. Each point at most once, within its period, after a won claim; and when it must run.
    if let Some((period, _)) = case.digest {
        let period = period.get();
        let point_of = |at: Instant| {
            (at.duration_since(observed.origin).as_nanos() / period.as_nanos()) as i64
        };
        let mut won: BTreeMap<(usize, i64), usize> = BTreeMap::new();
        let mut ran: BTreeMap<i64, usize> = BTreeMap::new();
        for (seq, entry) in entries.iter().enumerate() {
            match entry.rec {
                Rec::Won { replica, point } => {
                    ensure!(
                        won.insert((replica, point), seq).is_none(),
                        "entry {seq}: r{replica} won point {point} twice"
                    );
                }
                Rec::PointRun { replica } => {
                    let point = point_of(entry.at);
                    if let Some(other) = ran.insert(point, seq) {
                        return Err(format!(
                            "entry {seq}: point {point} ran a second time (first at entry {other})"
                        ));
                    }
                    let claim = won.remove(&(replica, point));
                    ensure!(
                        claim.is_some(),
                        "entry {seq}: r{replica} ran point {point} without winning its claim"
                    );
                }
                _ => {}
            }
        }
        if !ran.is_empty() {
            situations.insert("a point ran");
        }
        // Liveness: from three periods before the point to its end, the coordinator answered
        // claims at once and some replica ran throughout.
        let mut clear: Vec<(Instant, bool)> = Vec::new();
        let mut ups: BTreeMap<usize, Vec<(Instant, Instant)>> = BTreeMap::new();
        for entry in entries {
            match entry.rec {
                Rec::Claims { clear: on } => clear.push((entry.at, on)),
                Rec::Up(replica) => ups
                    .entry(replica)
                    .or_default()
                    .push((entry.at, observed.end + WAIT_LIMIT)),
                Rec::Stopping(replica) => {
                    if let Some(last) = ups.get_mut(&replica).and_then(|ups| ups.last_mut()) {
                        last.1 = last.1.min(entry.at);
                    }
                }
                _ => {}
            }
        }
        let clear_over = |from: Instant, to: Instant| {
            let before = clear.iter().rev().find(|(at, _)| *at <= from);
            before.is_some_and(|(_, on)| *on)
                && clear.iter().all(|(at, on)| *at <= from || *at >= to || *on)
        };
        let mut point = 3;
        loop {
            let begins = observed.origin + period * point as u32;
            let ends = begins + period;
            if ends > observed.end {
                break;
            }
            let from = begins - period * 3;
            let must = clear_over(from, ends)
                && ups
                    .values()
                    .flatten()
                    .any(|(up, down)| *up <= from && *down >= ends);
            if must {
                situations.insert("a point that must run");
                ensure!(
                    ran.contains_key(&(point as i64)),
                    "point {point} ({:?} to {:?}) did not run, though the coordinator answered at once from {:?} and a replica ran throughout",
                    begins - observed.origin,
                    ends - observed.origin,
                    from - observed.origin
                );
            }
            point += 1;
        }
    }

    // 6. Nothing is left.
    ensure!(
        observed.alive == 0,
        "{} tokio tasks still alive after every app went down",
        observed.alive
    );
    ensure!(
        observed.holder.is_none(),
        "the coordinator still has {:?} as the holder after every app went down",
        observed.holder
    );
    Ok(situations)
}

/// One case for every eight of the main property (125 by default, half a second in debug), at
/// least 10.
fn replicas_config() -> ProptestConfig {
    ProptestConfig {
        cases: (crate::cases() / 8).max(10),
        ..crate::config()
    }
}

/// On its own runner: the `proptest!` macro would let `PROPTEST_CASES` set its case count.
#[test]
fn replicas_keep_one_holder_and_each_point_once() {
    let mut runner = proptest::test_runner::TestRunner::new(replicas_config());
    let result = runner.run(&replicas_case(), |case| {
        run_replicas(&case).map(drop).map_err(TestCaseError::fail)
    });
    if let Err(error) = result {
        panic!("{error}");
    }
}

/// The generator is worth something only if its cases go through every situation the checks
/// are about: a fixed sample of cases must reach each one.
#[test]
fn replicas_cases_reach_every_situation() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};

    let mut runner = TestRunner::new_with_rng(
        ProptestConfig::default(),
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let mut counts = BTreeMap::<&str, u32>::new();
    for _ in 0..120 {
        let case = replicas_case().new_tree(&mut runner).unwrap().current();
        let situations =
            run_replicas(&case).unwrap_or_else(|violation| panic!("{case:#?}\n{violation}"));
        for situation in situations {
            *counts.entry(situation).or_default() += 1;
        }
    }
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
    ];
    let missing: Vec<_> = required
        .iter()
        .filter(|situation| !counts.contains_key(**situation))
        .collect();
    assert!(
        missing.is_empty(),
        "never reached: {missing:?}\nreached: {counts:#?}"
    );
}
