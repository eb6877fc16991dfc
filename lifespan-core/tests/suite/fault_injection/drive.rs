//! Driving a case's app: runs of start, reloads and shutdown with registrations by hand between
//! them, or `run_until`; and what the calls returned and the app said on the way.

use std::sync::Arc;
use std::time::Duration;

use lifespan_core::{App, Report, RunError, StartupErrorKind, Status};

use super::build::register_late;
use tokio::time::{sleep, sleep_until, Instant};

use super::case::*;
use super::record::*;

pub(crate) fn context_name(index: usize) -> String {
    format!("c{index}")
}

pub(crate) fn task_name(index: usize) -> String {
    format!("t{index}")
}

/// How one start of the app went, as the calls returned it.
#[derive(Debug)]
pub(crate) enum Started {
    Yes,
    /// Startup failed (or was interrupted) and was rolled back.
    No {
        kind: Failure,
        context: String,
        rollback: Report,
        /// When the call that started returned.
        returned: Instant,
        /// How long the log was then.
        logged: usize,
    },
    /// It started, but the reload that stopped it failed to start again, so the report of its
    /// stop is lost (the next start tells how that failed).
    Unknown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    SetupFailed,
    SetupPanicked,
    NoYield,
    Interrupted,
}

/// A stop of a start that succeeded.
#[derive(Debug)]
pub(crate) struct Stop {
    pub(crate) began: Instant,
    /// When it returned; for a reload, when the next start began.
    pub(crate) ended: Instant,
    /// How long the log was when it returned.
    pub(crate) logged: usize,
    pub(crate) report: Option<Report>,
    /// The second request made during this stop, if any.
    pub(crate) second: Option<Second>,
    /// What a second `shutdown` call reported.
    pub(crate) second_report: Option<Report>,
}

/// What the app says a little before a manual shutdown: 5 ms before it, off the grid of the
/// tasks' events, so that nothing changes at that instant.
#[derive(Debug)]
pub(crate) struct Probe {
    pub(crate) at: Instant,
    pub(crate) status: Status,
    /// `App::state::<Token>()`.
    pub(crate) token: Option<Token>,
}

/// What the app says once a start is over: after its shutdown, or after it failed.
#[derive(Debug)]
pub(crate) struct After {
    pub(crate) status: Status,
    pub(crate) token: Option<Token>,
    /// Tokio tasks alive when the call returned.
    pub(crate) alive: usize,
}

#[derive(Debug)]
pub(crate) struct Attempt {
    /// Which run of the app (registrations by hand come between runs).
    pub(crate) run: usize,
    pub(crate) started: Started,
    pub(crate) stop: Option<Stop>,
    pub(crate) probe: Option<Probe>,
    /// `None` when a reload stopped it (the status is then the next start's).
    pub(crate) after: Option<After>,
}

#[derive(Debug)]
pub(crate) struct Observed {
    pub(crate) began: Instant,
    pub(crate) attempts: Vec<Attempt>,
    /// The task `run_until` named as the critical one that failed.
    pub(crate) critical: Option<String>,
    /// What each `shutdown` after a failed start reported (nothing, it should).
    pub(crate) late_shutdowns: Vec<Report>,
    /// What the driver found wrong as it went (a registration accepted while running).
    pub(crate) violations: Vec<String>,
    /// Tokio tasks alive once the scheduler ran what was due after the last call.
    pub(crate) alive_after_yield: usize,
}

fn failure(kind: &StartupErrorKind) -> (Failure, String) {
    match kind {
        StartupErrorKind::SetupFailed { name, .. } => (Failure::SetupFailed, name.to_string()),
        StartupErrorKind::SetupPanicked { name, .. } => (Failure::SetupPanicked, name.to_string()),
        StartupErrorKind::NoYield { name } => (Failure::NoYield, name.to_string()),
        StartupErrorKind::Interrupted { name } => (Failure::Interrupted, name.to_string()),
        other => panic!("unexpected startup error: {other}"),
    }
}

fn not_started(error: &lifespan_core::StartupError, log: &Log) -> Started {
    let (kind, context) = failure(error.kind());
    Started::No {
        kind,
        context,
        rollback: error.rollback().clone(),
        returned: Instant::now(),
        logged: log.len(),
    }
}

fn alive() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

fn after(app: &App) -> After {
    After {
        alive: alive(),
        status: app.status(),
        token: app.state::<Token>().map(|token| *token),
    }
}

impl Observed {
    fn attempt(&mut self, run: usize, started: Started) -> &mut Attempt {
        self.attempts.push(Attempt {
            run,
            started,
            stop: None,
            probe: None,
            after: None,
        });
        self.attempts.last_mut().unwrap()
    }

    /// A start (or reload) failed: what the app says, and a `shutdown` that has nothing to do.
    async fn failed(&mut self, run: usize, started: Started, app: &App) {
        self.attempt(run, started).after = Some(after(app));
        self.late_shutdowns.push(app.shutdown().await);
    }
}

pub(crate) async fn drive(case: &Case, app: &App, log: &Arc<Log>) -> Observed {
    let mut observed = Observed {
        began: Instant::now(),
        attempts: Vec::new(),
        critical: None,
        late_shutdowns: Vec::new(),
        violations: Vec::new(),
        alive_after_yield: 0,
    };
    match &case.driver {
        Driver::Manual { runs } => {
            for (run, plan) in runs.iter().enumerate() {
                if run > 0 {
                    register_late(case, app, log);
                }
                drive_run(app, log, run, plan, &mut observed).await;
            }
        }
        Driver::RunUntil { stop_after } => {
            run_until(app, log, *stop_after, &mut observed).await;
        }
    }
    // Nothing may be left once the scheduler ran what is already due (see the check).
    for _ in 0..3 {
        tokio::task::yield_now().await;
    }
    observed.alive_after_yield = alive();
    observed
}

/// One manual run: start, reloads, shutdown.
async fn drive_run(app: &App, log: &Log, run: usize, plan: &RunPlan, observed: &mut Observed) {
    if let Err(error) = app.start().await {
        observed.failed(run, not_started(&error, log), app).await;
        return;
    }
    let mut up = Instant::now();
    observed.attempt(run, Started::Yes);
    if app.register_task("late", || async {}).is_ok() {
        observed
            .violations
            .push("a task was registered while the app ran".to_owned());
    }
    for gap in &plan.reloads {
        sleep_until(up + gap.get()).await;
        let called = Instant::now();
        let generation = observed.attempts.len() - 1;
        let reloaded = app.reload().await;
        let returned = (Instant::now(), log.len());
        // The stop ended when the next start called its first function.
        let records = log.records();
        let next_start = records
            .iter()
            .position(|r| r.generation == generation + 1)
            .map(|i| (records[i].at, i));
        let (ended, logged) = next_start.unwrap_or(returned);
        let mut stop = Stop {
            began: called,
            ended,
            logged,
            report: None,
            second: None,
            second_report: None,
        };
        match reloaded {
            Ok(report) => {
                stop.report = Some(report);
                observed.attempts[generation].stop = Some(stop);
                observed.attempt(run, Started::Yes);
                up = Instant::now();
            }
            Err(error) => {
                observed.attempts[generation].started = Started::Unknown;
                observed.attempts[generation].stop = Some(stop);
                observed.failed(run, not_started(&error, log), app).await;
                return;
            }
        }
    }
    let stop_at = up + plan.shutdown_after.get();
    if plan.shutdown_after.0 >= 10 {
        sleep_until(stop_at - Duration::from_millis(5)).await;
        observed.attempts.last_mut().unwrap().probe = Some(Probe {
            at: Instant::now(),
            status: app.status(),
            token: app.state::<Token>().map(|token| *token),
        });
    }
    sleep_until(stop_at).await;
    let attempt = observed.attempts.last_mut().unwrap();
    attempt.stop = Some(shut_down(app, log, plan.second).await);
    attempt.after = Some(after(app));
}

/// `shutdown`, with a second request `second.after` into it.
async fn shut_down(app: &App, log: &Log, second: Option<Second>) -> Stop {
    let began = Instant::now();
    let first = async {
        let report = app.shutdown().await;
        (report, Instant::now(), log.len())
    };
    let again = async {
        let second = second?;
        sleep(second.after.get()).await;
        match second.how {
            SecondHow::RequestShutdown => {
                app.request_shutdown();
                None
            }
            SecondHow::Shutdown => Some(app.shutdown().await),
        }
    };
    let ((report, ended, logged), second_report) = tokio::join!(first, again);
    Stop {
        began,
        ended,
        logged,
        report: Some(report),
        second,
        second_report,
    }
}

async fn run_until(app: &App, log: &Log, stop_after: Ms, observed: &mut Observed) {
    let began = observed.began;
    let result = app.run_until(sleep_until(began + stop_after.get())).await;
    let returned = Instant::now();
    let logged = log.len();
    let (started, report) = match result {
        Ok(report) => (Started::Yes, Some(report)),
        Err(RunError::Startup(error)) => (not_started(&error, log), None),
        Err(RunError::CriticalTaskFailed { task, report, .. }) => {
            observed.critical = Some(task.to_string());
            (Started::Yes, Some(report))
        }
        Err(other) => panic!("unexpected error from run_until: {other}"),
    };
    // When the stop began is for the check to work out: the timer, or a critical task.
    let stop = report.map(|report| Stop {
        began,
        ended: returned,
        logged,
        report: Some(report),
        second: None,
        second_report: None,
    });
    let attempt = observed.attempt(0, started);
    attempt.stop = stop;
    attempt.after = Some(after(app));
}
