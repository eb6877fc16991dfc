//! Building a case's app and driving it: start, maybe reload, shut down, or `run_until`.

use std::sync::Arc;
use std::time::Duration;

use lifespan_core::{App, Report, RunError, Shutdown, StartupErrorKind, Status, Yield};
use tokio::time::{sleep, sleep_until, Instant};

use crate::case::*;
use crate::record::*;

pub(crate) fn context_name(index: usize) -> String {
    format!("c{index}")
}

pub(crate) fn task_name(index: usize) -> String {
    format!("t{index}")
}

pub(crate) fn build(case: &Case, log: &Arc<Log>) -> App {
    let app = App::empty()
        .grace_period(case.grace.get())
        .cleanup_timeout(case.cleanup_timeout.get())
        .blocking_threshold(case.blocking_threshold.map(Ms::get));
    for (index, context) in case.contexts.iter().copied().enumerate() {
        let log = log.clone();
        app.register_context(
            context_name(index),
            move |lifespan: Yield, shutdown: Shutdown| {
                let generation = log.generation(&shutdown);
                log.push(generation, Event::ContextCalled(index));
                let setup = if generation == 0 {
                    context.setup
                } else {
                    context.setup_on_reload
                };
                let log = log.clone();
                async move {
                    log.push(generation, Event::SetupBegan(index));
                    match setup {
                        Setup::Ready(delay) => sleep(delay.get()).await,
                        Setup::Fail(delay) => {
                            sleep(delay.get()).await;
                            log.push(generation, Event::SetupEnded(index, End::Err));
                            return Err(SETUP_FAILURE);
                        }
                        Setup::Panic(delay) => {
                            sleep(delay.get()).await;
                            log.push(generation, Event::SetupEnded(index, End::Panic));
                            panic!("{SETUP_PANIC}");
                        }
                        Setup::NoYield(delay) => {
                            sleep(delay.get()).await;
                            log.push(generation, Event::SetupEnded(index, End::Ok));
                            return Ok(());
                        }
                    }
                    log.push(generation, Event::SetupDone(index));
                    lifespan.ready().await;
                    log.push(generation, Event::CleanupBegan(index));
                    let (delay, end) = match context.cleanup {
                        Cleanup::Done(delay) => (delay, End::Ok),
                        Cleanup::Fail(delay) => (delay, End::Err),
                        Cleanup::Panic(delay) => (delay, End::Panic),
                        Cleanup::Hang => std::future::pending().await,
                    };
                    sleep(delay.get()).await;
                    log.push(generation, Event::CleanupEnded(index, end));
                    match end {
                        End::Ok => Ok(()),
                        End::Err => Err(CLEANUP_FAILURE),
                        End::Panic => panic!("{CLEANUP_PANIC}"),
                    }
                }
            },
        )
        .unwrap();
    }
    for (index, task) in case.tasks.iter().copied().enumerate() {
        let log = log.clone();
        let run = move |shutdown: Shutdown| {
            let generation = log.generation(&shutdown);
            log.push(generation, Event::TaskCalled(index));
            let log = log.clone();
            async move {
                let run = Run::begin(log, generation, index);
                match task.behaviour {
                    Behaviour::Complete(delay) => {
                        sleep(delay.get()).await;
                        run.end(End::Ok, &shutdown);
                        Ok(())
                    }
                    Behaviour::Fail(delay) => {
                        sleep(delay.get()).await;
                        run.end(End::Err, &shutdown);
                        Err(TASK_FAILURE)
                    }
                    Behaviour::Panic(delay) => {
                        sleep(delay.get()).await;
                        run.end(End::Panic, &shutdown);
                        panic!("{TASK_PANIC}")
                    }
                    Behaviour::Cooperative { stop } => {
                        shutdown.cancelled().await;
                        sleep(stop.get()).await;
                        run.end(End::Ok, &shutdown);
                        Ok(())
                    }
                    Behaviour::IgnoreCancel => std::future::pending().await,
                    Behaviour::Block { micros } => {
                        std::thread::sleep(Duration::from_micros(micros));
                        shutdown.cancelled().await;
                        run.end(End::Ok, &shutdown);
                        Ok(())
                    }
                }
            }
        };
        app.register_task_with(task_name(index), task.options(), run)
            .unwrap();
    }
    app
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
}

#[derive(Debug)]
pub(crate) struct Attempt {
    pub(crate) started: Started,
    pub(crate) stop: Option<Stop>,
}

#[derive(Debug)]
pub(crate) struct Observed {
    pub(crate) began: Instant,
    pub(crate) attempts: Vec<Attempt>,
    /// The task `run_until` named as the critical one that failed.
    pub(crate) critical: Option<String>,
    /// What a `shutdown` after a failed start reported (nothing, it should).
    pub(crate) late_shutdown: Option<Report>,
    /// Tokio tasks alive when the last call returned, and once the scheduler ran what was due.
    pub(crate) alive: usize,
    pub(crate) alive_after_yield: usize,
    pub(crate) status: Status,
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

pub(crate) async fn drive(case: &Case, app: &App, log: &Log) -> Observed {
    let began = Instant::now();
    let mut attempts = Vec::new();
    let mut critical = None;
    let mut late_shutdown = None;
    match case.driver {
        Driver::Manual {
            reload_after,
            shutdown_after,
        } => match app.start().await {
            Err(error) => {
                attempts.push(Attempt {
                    started: not_started(&error, log),
                    stop: None,
                });
                late_shutdown = Some(app.shutdown().await);
            }
            Ok(()) => {
                let up = Instant::now();
                attempts.push(Attempt {
                    started: Started::Yes,
                    stop: None,
                });
                let mut running = true;
                if let Some(reload_after) = reload_after {
                    sleep_until(up + reload_after.get()).await;
                    let called = Instant::now();
                    let reloaded = app.reload().await;
                    let returned = (Instant::now(), log.len());
                    // The stop ended when the next start called its first function.
                    let records = log.records();
                    let next_start = records
                        .iter()
                        .position(|r| r.generation == 1)
                        .map(|i| (records[i].at, i));
                    let report = match reloaded {
                        Ok(report) => {
                            attempts.push(Attempt {
                                started: Started::Yes,
                                stop: None,
                            });
                            Some(report)
                        }
                        Err(error) => {
                            running = false;
                            attempts[0].started = Started::Unknown;
                            attempts.push(Attempt {
                                started: not_started(&error, log),
                                stop: None,
                            });
                            None
                        }
                    };
                    let (ended, logged) = next_start.unwrap_or(returned);
                    attempts[0].stop = Some(Stop {
                        began: called,
                        ended,
                        logged,
                        report,
                    });
                }
                if running {
                    sleep_until(up + shutdown_after.get()).await;
                    let called = Instant::now();
                    let report = app.shutdown().await;
                    attempts.last_mut().unwrap().stop = Some(Stop {
                        began: called,
                        ended: Instant::now(),
                        logged: log.len(),
                        report: Some(report),
                    });
                } else {
                    late_shutdown = Some(app.shutdown().await);
                }
            }
        },
        Driver::RunUntil { stop_after } => {
            let result = app.run_until(sleep_until(began + stop_after.get())).await;
            let returned = Instant::now();
            let logged = log.len();
            let (started, report) = match result {
                Ok(report) => (Started::Yes, Some(report)),
                Err(RunError::Startup(error)) => (not_started(&error, log), None),
                Err(RunError::CriticalTaskFailed { task, report, .. }) => {
                    critical = Some(task.to_string());
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
            });
            attempts.push(Attempt { started, stop });
        }
    }
    // Nothing may be left: not a task, not a context's cleanup.
    let metrics = tokio::runtime::Handle::current().metrics();
    let alive = metrics.num_alive_tasks();
    // The same after letting the scheduler run what is already due (see the check).
    for _ in 0..3 {
        tokio::task::yield_now().await;
    }
    let alive_after_yield = metrics.num_alive_tasks();
    Observed {
        began,
        attempts,
        critical,
        late_shutdown,
        alive,
        alive_after_yield,
        status: app.status(),
    }
}
