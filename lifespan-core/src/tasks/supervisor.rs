//! Supervised tasks: restarted with backoff, run on a schedule, or critical to the app.
//!
//! A plain task is spawned as a [`TaskFuture`](crate::tasks::body::TaskFuture); a task with options
//! runs under [`supervise`] instead, which calls its function again for every restart and every
//! scheduled run, with its arguments evaluated anew.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::{timeout_at, Instant};
use tracing::Instrument;

use crate::base::deadline::{after, random};
use crate::base::panic::poll_catching;
use crate::inject::app_handle::WeakApp;
use crate::inject::params::InjectCx;
use crate::inject::state::{Deps, StateMap};
use crate::registration::entry::BoxFuture;
use crate::replicas::RunOutcome;
use crate::report::outcome::TaskOutcome;
use crate::report::task_error::TaskError;
use crate::schedules::due_times::{Due, Timing};
use crate::schedules::options::{Restart, TaskOptions};
use crate::status::board::Board;
use crate::status::metrics;
use crate::tasks::body::{outcome, poll_body};
use crate::tasks::points::{Claimed, HeldRun, Points};
use crate::tasks::run_observer::Runs;
use crate::tasks::singleton::{release, HeldTerm, Singleton};

/// Runs task `index` of `board` under its options, starting with `first`, the body prepared at
/// startup, and records how it ended for good.
pub(crate) async fn supervise(
    app: WeakApp,
    board: Arc<Board>,
    state: Arc<StateMap>,
    index: usize,
    first: BoxFuture,
) {
    let span = board.plan.task(index).span();
    let options = board.plan.task(index).options().clone();
    let timing = match Timing::new(&options) {
        Ok(timing) => timing,
        Err(error) => {
            let _entered = span.enter();
            fail_with_invalid_schedule(&board, index, &error);
            return;
        }
    };
    let _running = metrics::Running::start(board.plan.task(index));
    let critical = options.critical;
    let supervisor = Supervisor::new(
        app.clone(),
        board.clone(),
        state,
        index,
        options,
        timing,
        span.clone(),
    );
    // The supervisor's own lines (restarts, the end for good) are in the task's span; each run's
    // are in the run's span, a root that follows from it (see `Runs`).
    let mut run = std::pin::pin!(supervisor.run(first));
    // A panic outside the body (in the supervisor itself) is the task's failure for good: it
    // is recorded, and a critical task still stops the app. It never ends the task silently.
    let ended = match poll_catching(&mut run).instrument(span.clone()).await {
        Ok(ended) => ended,
        Err(message) => {
            let _entered = span.enter();
            supervisor_panicked(&app, &board, index, critical, &message)
        }
    };
    board.set_ended(index, &ended);
}

/// Task `index` cannot run: its cron schedule does not parse. Records its failure for good.
fn fail_with_invalid_schedule(board: &Board, index: usize, error: &str) {
    let error = TaskError::msg(format!("its cron schedule is not valid: {error}"));
    tracing::error!(
        error = &error as &(dyn std::error::Error + 'static),
        "lifespan task `{}` failed",
        board.plan.task(index).label()
    );
    board.set_task_error(index, error.clone());
    board.set_ended(index, &TaskOutcome::Failed(error));
}

/// The supervisor of task `index` panicked with `message`: records the task's error, stops the
/// app if the task is `critical`, and returns how the task ended.
fn supervisor_panicked(
    app: &WeakApp,
    board: &Board,
    index: usize,
    critical: bool,
    message: &str,
) -> TaskOutcome {
    let message = format!("its supervisor panicked: {message}");
    let label = board.plan.task(index).label();
    let error = TaskError::msg(message.clone());
    tracing::error!(
        error = &error as &(dyn std::error::Error + 'static),
        "lifespan task `{label}` failed"
    );
    board.set_task_error(index, error);
    if let Some(app) = app.upgrade().filter(|_| critical) {
        let name = board.plan.task(index).name.clone();
        app.fail_critically(name, panicked(&message));
    }
    TaskOutcome::Panicked(message)
}

struct Supervisor {
    options: TaskOptions,
    /// When a periodic task's runs are due; `None` for other tasks.
    timing: Option<Timing>,
    /// Weak: a supervised task must not keep alive the app that runs it, so that dropping the
    /// app's last handle shuts it down.
    app: WeakApp,
    board: Arc<Board>,
    state: Arc<StateMap>,
    index: usize,
    /// When each restart counted against the limit happened (only those within the window).
    restarts: VecDeque<Instant>,
    /// Restarts since the task last ran well, for the backoff's exponent.
    consecutive: u32,
    /// A singleton's lease requests; `None` for other tasks.
    singleton: Option<Singleton>,
    /// The term a singleton holds now.
    term: Option<HeldTerm>,
    /// A once-per-point task's points.
    points: Option<Points>,
    /// The point's run this replica holds: kept through the retries of a failed run.
    held_run: Option<HeldRun>,
    /// What each run shows: its span, the task's run history, metrics.
    runs: Runs,
    /// Whether the run about to start, or running, was asked for by hand.
    manual: bool,
}

/// How one run of the body ended.
enum RunEnd {
    Ended(TaskOutcome),
    /// The singleton's lease was lost during the run: the run is over, and so is the term.
    Lost,
}

/// What ended a wait between two runs.
enum Waited {
    Due,
    Shutdown,
    Lost,
    /// A manual run was asked for.
    Triggered,
}

/// What the loop of runs does once a run's time has come.
enum Step {
    /// Start a run (`manual`: asked for by hand), having claimed it if once-per-point.
    Run { manual: bool },
    /// Go round again: the lease was lost, or the pause ended.
    Again,
    /// The task ends so.
    End(TaskOutcome),
}

impl Supervisor {
    /// The supervisor of task `index` of `board`, which runs under `options` and `timing`, in
    /// the task's span `span`.
    fn new(
        app: WeakApp,
        board: Arc<Board>,
        state: Arc<StateMap>,
        index: usize,
        options: TaskOptions,
        timing: Option<Timing>,
        span: tracing::Span,
    ) -> Self {
        let singleton = options.singleton.then(|| {
            let settings = options.lease.unwrap_or(board.coordination.lease);
            Singleton::new(&board, index, settings)
        });
        let points = (options.is_periodic() && options.once_per_point)
            .then(|| Points::new(&board, index, &options));
        let runs = Runs::new(board.clone(), index, options.is_periodic(), span);
        Supervisor {
            options,
            timing,
            app,
            board,
            state,
            index,
            restarts: VecDeque::new(),
            consecutive: 0,
            singleton,
            term: None,
            points,
            held_run: None,
            runs,
            manual: false,
        }
    }

    async fn run(mut self, first: BoxFuture) -> TaskOutcome {
        let outcome = self.run_terms(first).await;
        self.finish_run(&outcome).await;
        self.give_up_term().await;
        outcome
    }

    /// Runs the task to its end for good; a singleton, in as many terms as it takes.
    async fn run_terms(&mut self, first: BoxFuture) -> TaskOutcome {
        // A singleton's first body only checked its arguments: each term calls it anew; so
        // does each point's run of a once-per-point task.
        let mut body = (self.singleton.is_none() && self.points.is_none()).then_some(first);
        let mut next_run: Option<Due> = None;
        let mut starting = true;
        loop {
            if self.singleton.is_some() && self.term.is_none() {
                if !self.acquire().await {
                    return self.end(TaskOutcome::Cancelled);
                }
                starting = true;
            }
            if std::mem::take(&mut starting) {
                next_run = self.first_run().await;
            }
            self.board.set_running(self.index, self.board.now());
            self.runs.planned(next_run.as_ref().map(Due::wake));
            let manual = match self.until_due(&mut next_run).await {
                Step::Run { manual } => manual,
                Step::Again => continue,
                Step::End(outcome) => return outcome,
            };
            if self.points.is_some() && self.held_run.is_none() {
                // A coordinator that does not answer holds up no shutdown.
                match self.claim().await {
                    None => return self.end(TaskOutcome::Cancelled),
                    Some(Some(wait)) => {
                        next_run = Some(wait);
                        continue;
                    }
                    Some(None) => {}
                }
            }
            self.manual = manual || self.held_run.as_ref().is_some_and(|held| held.run.manual);
            let ended = match self.run_next(&mut body).await {
                RunEnd::Ended(ended) => ended,
                RunEnd::Lost if self.held_run.take().is_some() => continue,
                RunEnd::Lost => {
                    self.lose_term().await;
                    continue;
                }
            };
            if std::mem::take(&mut self.manual) {
                self.end_manual(&ended, &mut next_run).await;
                if !self.board.is_stopping() {
                    continue;
                }
            }
            if self.board.is_stopping() {
                return self.end(ended);
            }
            let failed = matches!(ended, TaskOutcome::Failed(_) | TaskOutcome::Panicked(_));
            if self.timing.is_some() && !failed {
                self.consecutive = 0;
                let wake = self.finish_run(&ended).await;
                let Some(timing) = &self.timing else { continue };
                next_run = Some(match wake {
                    Some(wake) => timing.at(wake),
                    None => timing.next(next_run.as_ref()),
                });
                continue;
            }
            match self.after_end(ended).await {
                // A point's run is retried by the replica that holds it, under its lease.
                Ok(()) => {}
                Err(Some(outcome)) => return outcome,
                Err(None) => {
                    self.lose_term().await;
                    continue;
                }
            }
            // A periodic task runs at once after its delay; its schedule goes on from there.
            next_run = self
                .timing
                .as_ref()
                .map(|timing| timing.retry(next_run.as_ref()));
        }
    }

    /// Runs the body prepared at startup if it is still there, else calls the function anew.
    async fn run_next(&mut self, first: &mut Option<BoxFuture>) -> RunEnd {
        let began = Instant::now();
        let ended = match first.take() {
            Some(body) => self.run_once(body).await,
            None => match self.prepare() {
                Ok(body) => self.run_once(body).await,
                Err(failure) => RunEnd::Ended(failure),
            },
        };
        if matches!(ended, RunEnd::Ended(_)) && began.elapsed() >= self.options.backoff_cap {
            // It ran well for a while: the next restart waits the shortest delay again.
            self.consecutive = 0;
        }
        ended
    }

    /// After a run that ended (not on a schedule): `Ok` once the restart delay has passed,
    /// `Err(Some(outcome))` if the task ends for good, `Err(None)` if its lease was lost.
    async fn after_end(&mut self, ended: TaskOutcome) -> Result<(), Option<TaskOutcome>> {
        let failed = matches!(ended, TaskOutcome::Failed(_) | TaskOutcome::Panicked(_));
        let restart = match self.options.restart {
            Restart::Never => false,
            Restart::OnFailure => failed,
            Restart::Always => true,
        };
        if !restart {
            return Err(Some(self.end(ended)));
        }
        if let Some(gave_up) = self.over_limit(&ended) {
            return Err(Some(self.end(gave_up)));
        }
        let delay = self.delay();
        self.consecutive = self.consecutive.saturating_add(1);
        self.board.set_backing_off(self.index);
        self.runs.planned(Some(after(Instant::now(), delay)));
        tracing::warn!(
            delay_ms = delay.as_millis() as u64,
            "lifespan task `{}` {}: restarting in {delay:?}",
            self.board.plan.task(self.index).label(),
            ended,
        );
        match self.wait(tokio::time::sleep(delay)).await {
            // `wait` never answers `Triggered`: a restart's delay is not cut short by hand.
            Waited::Due | Waited::Triggered => {}
            Waited::Shutdown => return Err(Some(self.end(TaskOutcome::Cancelled))),
            Waited::Lost => return Err(None),
        }
        // Counted as it happens: a restart that shutdown cut short is none.
        self.board.count_restart(self.index);
        Ok(())
    }

    /// Waits until `next_run` is due, or a manual run is asked for (see [`wait_due`]); the
    /// task ends if shutdown has begun.
    ///
    /// [`wait_due`]: Self::wait_due
    async fn until_due(&mut self, next_run: &mut Option<Due>) -> Step {
        match self.wait_due(next_run).await {
            Step::Run { .. } if self.board.is_stopping() => {
                Step::End(self.end(TaskOutcome::Cancelled))
            }
            step => step,
        }
    }

    /// Waits until `next_run` is due, or a manual run is asked for; a periodic task that this
    /// replica alone runs and that is paused then waits for its resume, and its schedule goes
    /// on from then.
    async fn wait_due(&mut self, next_run: &mut Option<Due>) -> Step {
        let Some(due) = next_run.as_ref() else {
            return Step::Run { manual: false };
        };
        let Some(timing) = &self.timing else {
            return Step::Run { manual: false };
        };
        let triggered = self.board.controls.triggered(self.index);
        let waited = tokio::select! {
            biased;
            waited = self.wait(timing.sleep(due)) => waited,
            () = triggered => Waited::Triggered,
        };
        match waited {
            Waited::Due => {}
            Waited::Shutdown => return Step::End(self.end(TaskOutcome::Cancelled)),
            Waited::Lost => {
                self.lose_term().await;
                return Step::Again;
            }
            Waited::Triggered => {
                return match &mut self.points {
                    // The claim starts the manual run asked for, if no other replica did.
                    Some(points) => {
                        points.poll_now();
                        Step::Run { manual: false }
                    }
                    None => Step::Run { manual: true },
                };
            }
        }
        let coordinated = self.singleton.is_some() || self.points.is_some();
        if coordinated || !self.board.controls.is_paused(self.index) {
            return Step::Run { manual: false };
        }
        self.runs.planned(None);
        tokio::select! {
            biased;
            () = self.board.shutdown.cancelled() => return Step::End(self.end(TaskOutcome::Cancelled)),
            () = self.board.controls.resumed(self.index) => {}
        }
        if let Some(timing) = &self.timing {
            *next_run = Some(timing.next(next_run.as_ref()));
        }
        Step::Again
    }

    /// Waits for `until`, unless shutdown begins or the lease is lost first.
    async fn wait(&self, until: impl std::future::Future<Output = ()>) -> Waited {
        let lost = async {
            match &self.term {
                Some(held) => held.lost.cancelled().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            () = self.board.shutdown.cancelled() => Waited::Shutdown,
            () = lost => Waited::Lost,
            () = until => Waited::Due,
        }
    }

    /// When a periodic task first runs in this start (or this term): `None` if it is not
    /// periodic.
    async fn first_run(&mut self) -> Option<Due> {
        let timing = self.timing.as_ref()?;
        if self.options.at_startup {
            return Some(Due::now());
        }
        Some(match &mut self.points {
            Some(points) => {
                let delay = timing.initial_delay().unwrap_or_default();
                tokio::select! {
                    biased;
                    () = self.board.shutdown.cancelled() => Due::now(),
                    at = first_point_after(points, delay) => timing.at(at),
                }
            }
            None => timing.first(),
        })
    }

    /// Asks for a once-per-point task's run: `None` if shutdown began first, `Some(None)` if
    /// this replica holds a run now, else when to ask again.
    async fn claim(&mut self) -> Option<Option<Due>> {
        let (Some(points), Some(timing)) = (&mut self.points, &self.timing) else {
            return Some(None);
        };
        let claimed = tokio::select! {
            biased;
            () = self.board.shutdown.cancelled() => return None,
            claimed = points.claim(&self.board, self.index) => claimed,
        };
        match claimed {
            Claimed::Run(held) => {
                self.held_run = Some(held);
                Some(None)
            }
            Claimed::Nothing(next) => Some(Some(timing.at(next))),
        }
    }

    /// Records the end of the point's run held, if any, as `ended`; then when to ask for the
    /// next one.
    async fn finish_run(&mut self, ended: &TaskOutcome) -> Option<Instant> {
        let held = self.held_run.take()?;
        let points = self.points.as_mut()?;
        let outcome = match ended {
            TaskOutcome::Completed => RunOutcome::Succeeded,
            TaskOutcome::Failed(_) => RunOutcome::Failed,
            TaskOutcome::Panicked(_) => RunOutcome::Panicked,
            _ => RunOutcome::Cancelled,
        };
        // A manual run is no point of the schedule: what is due next is as it was.
        let wake = (!held.run.manual).then(|| points.after_run(&held.run));
        points.finish(held, outcome).await;
        wake
    }

    /// A manual run ended so: it leaves the schedule as it was, its end is recorded (in the
    /// ledger, for a once-per-point task's), not retried; a once-per-point task claims next at
    /// its next point.
    async fn end_manual(&mut self, ended: &TaskOutcome, next_run: &mut Option<Due>) {
        self.finish_run(ended).await;
        if let (Some(points), Some(timing)) = (&mut self.points, &self.timing) {
            *next_run = Some(timing.at(points.next_point()));
        }
    }

    /// Waits in standby for a singleton's lease: `false` if shutdown began first.
    async fn acquire(&mut self) -> bool {
        let Some(singleton) = &mut self.singleton else {
            return true;
        };
        self.term = singleton.acquire(&self.board, self.index).await;
        self.term.is_some()
    }

    /// The lease was lost: give it up (at once, if the coordinator still has it), then standby.
    async fn lose_term(&mut self) {
        if let Some(singleton) = &mut self.singleton {
            singleton.lost();
        }
        self.give_up_term().await;
    }

    /// Releases the term held, if any (at once, if the coordinator still has it).
    async fn give_up_term(&mut self) {
        if let Some(held) = self.term.take() {
            release(&self.board, self.index, held).await;
        }
    }

    /// Evaluates the arguments anew and calls the function, with a fresh shutdown signal.
    fn prepare(&self) -> Result<BoxFuture, TaskOutcome> {
        let entry = self.board.plan.task(self.index);
        let shutdown = match (&self.term, &self.held_run) {
            (Some(held), _) => held.shutdown.child_token(),
            (None, Some(run)) => run.shutdown.child_token(),
            (None, None) => self.board.shutdown.child_token(),
        };
        // The app is gone: it is shutting down in the background, and so is this task.
        let Some(app) = self.app.upgrade() else {
            return Err(TaskOutcome::Cancelled);
        };
        let mut cx = InjectCx {
            app: &app,
            shutdown: &shutdown,
            yield_parts: None,
            state: &self.state,
            lease: self.term.as_ref().map(|held| &held.lease),
            point: self.held_run.as_ref().map(|held| &held.point),
            deps: Deps::default(),
        };
        entry.prepare(&mut cx).map_err(|error| {
            let outcome = error.on_rerun();
            let error = match &outcome {
                TaskOutcome::Failed(error) => error.clone(),
                TaskOutcome::Panicked(message) => TaskError::msg(message.clone()),
                other => TaskError::msg(other.to_string()),
            };
            tracing::error!(
                error = &error as &(dyn std::error::Error + 'static),
                "lifespan task `{}` could not be run again",
                entry.label()
            );
            self.board.set_task_error(self.index, error);
            outcome
        })
    }

    /// Runs one body to its end, in a span of its own (the body's every poll, and what it logs, is
    /// in it), and records the run (see [`Runs`]).
    async fn run_once(&mut self, body: BoxFuture) -> RunEnd {
        let run = self.runs.begin(self.manual);
        let (ended, timed_out) = self.run_limited(body).instrument(run.span().clone()).await;
        let outcome = match &ended {
            RunEnd::Ended(outcome) => Some(outcome),
            RunEnd::Lost => None,
        };
        self.runs.end(run, outcome, timed_out);
        ended
    }

    /// Runs one body to its end, within the task's `timeout` if it has one: a run still going
    /// then is dropped, and fails with "run timed out after ..." (`true`: it timed out).
    async fn run_limited(&self, body: BoxFuture) -> (RunEnd, bool) {
        let Some(limit) = self.options.timeout else {
            return (self.run_body(body).await, false);
        };
        match tokio::time::timeout(limit, self.run_body(body)).await {
            Ok(ended) => (ended, false),
            Err(_) => {
                let error = anyhow::anyhow!("run timed out after {limit:?}");
                let ended = outcome(&self.board, self.index, Ok(Err(error)));
                (RunEnd::Ended(ended), true)
            }
        }
    }

    /// Runs one body to its end. A singleton's body whose lease is lost has until just before
    /// the lease expires to stop on its signal; then it is dropped.
    async fn run_body(&self, mut body: BoxFuture) -> RunEnd {
        let mut running = std::pin::pin!(poll_fn(|cx| poll_body(
            &mut body,
            &self.board,
            self.index,
            cx
        )));
        let lost = match (&self.term, &self.held_run) {
            (Some(held), _) => &held.lost,
            (None, Some(run)) => &run.lost,
            (None, None) => return RunEnd::Ended(outcome(&self.board, self.index, running.await)),
        };
        let ended = tokio::select! {
            biased;
            ended = &mut running => Some(ended),
            () = lost.cancelled() => None,
        };
        // The lease was lost: the body has until just before it expires to stop.
        let ended = match ended {
            Some(ended) => ended,
            None => match timeout_at(before(self.lease_expiry()), &mut running).await {
                Ok(ended) => ended,
                Err(_) => {
                    tracing::warn!(
                        "lifespan task `{}` did not stop before its lost lease expired: dropped",
                        self.board.plan.task(self.index).label()
                    );
                    return RunEnd::Lost;
                }
            },
        };
        let ended = outcome(&self.board, self.index, ended);
        if lost.is_cancelled() && !self.board.is_stopping() {
            RunEnd::Lost
        } else {
            RunEnd::Ended(ended)
        }
    }

    /// When the lease held (a singleton's term, or a point's run) expires at the earliest.
    fn lease_expiry(&self) -> Instant {
        match (&self.term, &self.held_run) {
            (Some(held), _) => held.expiry(),
            (None, Some(run)) => run.expiry(),
            (None, None) => Instant::now(),
        }
    }

    /// `None` if one more restart is within the limit (and counts it), else how the task ends.
    fn over_limit(&mut self, ended: &TaskOutcome) -> Option<TaskOutcome> {
        let max = self.options.max_restarts?;
        let now = Instant::now();
        if let Some(window) = self.options.within {
            while self
                .restarts
                .front()
                .is_some_and(|at| now.duration_since(*at) >= window)
            {
                self.restarts.pop_front();
            }
        }
        if self.restarts.len() < max as usize {
            self.restarts.push_back(now);
            return None;
        }
        let label = self.board.plan.task(self.index).label();
        let limit = match self.options.within {
            Some(window) => format!("{max} restarts within {window:?}"),
            None => format!("{max} restarts"),
        };
        tracing::error!(
            "lifespan task `{label}` reached its restart limit ({limit}): not restarted again"
        );
        Some(match ended {
            TaskOutcome::Failed(_) | TaskOutcome::Panicked(_) => ended.clone(),
            _ => {
                let error =
                    TaskError::msg(format!("it kept ending: restart limit of {limit} reached"));
                self.board.set_task_error(self.index, error.clone());
                TaskOutcome::Failed(error)
            }
        })
    }

    /// Records the task's end for good; a critical task failing asks the app to stop.
    fn end(&self, outcome: TaskOutcome) -> TaskOutcome {
        if self.options.critical {
            let error = match &outcome {
                TaskOutcome::Failed(error) => Some(error.clone()),
                TaskOutcome::Panicked(message) => Some(panicked(message)),
                _ => None,
            };
            if let Some(error) = error {
                let entry = self.board.plan.task(self.index);
                tracing::error!(
                    "critical lifespan task `{}` failed for good: shutting the app down",
                    entry.label()
                );
                if let Some(app) = self.app.upgrade() {
                    app.fail_critically(entry.name.clone(), error);
                }
            }
        }
        outcome
    }

    /// The delay before the next restart: the backoff's start doubled per consecutive restart,
    /// capped, then drawn between half and all of it if jitter is on.
    fn delay(&self) -> Duration {
        let exponent = self.consecutive.min(32);
        let delay = self
            .options
            .backoff_start
            .saturating_mul(1u32 << exponent.min(31))
            .min(self.options.backoff_cap);
        if !self.options.jitter {
            return delay;
        }
        let half = delay / 2;
        let spread = u64::try_from((delay - half).as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(random() % spread.saturating_add(1))
    }
}

/// The timer's resolution: a millisecond.
const TICK: Duration = Duration::from_millis(1);

/// The last tick before `expiry`: at the expiry itself another replica may already be granted
/// the lease (it is held until its expiry, not through it), so a body must be gone by then.
fn before(expiry: Instant) -> Instant {
    expiry.checked_sub(TICK).unwrap_or(expiry)
}

/// The first point of a once-per-point task, asked for after its initial `delay`.
async fn first_point_after(points: &mut Points, delay: Duration) -> Instant {
    tokio::time::sleep(delay).await;
    points.first().await
}

/// A critical task's panic, as the error that ends the app's run.
fn panicked(message: &str) -> TaskError {
    TaskError::msg(format!("panicked: {message}"))
}
