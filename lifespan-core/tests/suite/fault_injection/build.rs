//! Building a case's app: each context and task registered by hand, doing what the case says
//! and logging it.

use std::sync::Arc;
use std::time::Duration;

use lifespan_core::{App, AppBuilder, Shutdown, State, Yield};
use tokio::time::sleep;

use super::case::*;
use super::drive::{context_name, task_name};
use super::record::*;

pub(crate) fn build(case: &Case, log: &Arc<Log>) -> App {
    build_with(case, log, |builder| builder)
}

/// [`build`], with more settings given to the builder by `configure`.
pub(crate) fn build_with(
    case: &Case,
    log: &Arc<Log>,
    configure: impl FnOnce(AppBuilder) -> AppBuilder,
) -> App {
    let builder = App::builder()
        .empty()
        .grace_period(case.grace.get())
        .cleanup_timeout(case.cleanup_timeout.get())
        .blocking_threshold(case.blocking_threshold.map(Ms::get));
    let app = configure(builder).build();
    let (contexts, tasks) = case.registered(0);
    register(case, &app, log, (0..contexts, 0..tasks));
    app
}

/// Registers what the first run did not have, once it has shut down.
pub(crate) fn register_late(case: &Case, app: &App, log: &Arc<Log>) {
    let (contexts, tasks) = case.registered(0);
    let (all_contexts, all_tasks) = case.registered(1);
    register(case, app, log, (contexts..all_contexts, tasks..all_tasks));
}

type Range = std::ops::Range<usize>;

fn register(case: &Case, app: &App, log: &Arc<Log>, (contexts, tasks): (Range, Range)) {
    for index in contexts {
        let context = case.contexts[index].clone();
        let log = log.clone();
        if case.provider == Some(index) {
            app.register_context(
                context_name(index),
                move |lifespan: Yield<Token>, shutdown: Shutdown| {
                    let generation = log.generation(&shutdown);
                    let ready = lifespan.ready_with(Token(generation));
                    context_body(log.clone(), (generation, index), &context, None, ready)
                },
            )
        } else if context.reads_state {
            app.register_context(
                context_name(index),
                move |lifespan: Yield, shutdown: Shutdown, state: State<Token>| {
                    let generation = log.generation(&shutdown);
                    let ready = lifespan.ready();
                    context_body(
                        log.clone(),
                        (generation, index),
                        &context,
                        Some(state),
                        ready,
                    )
                },
            )
        } else {
            app.register_context(
                context_name(index),
                move |lifespan: Yield, shutdown: Shutdown| {
                    let generation = log.generation(&shutdown);
                    let ready = lifespan.ready();
                    context_body(log.clone(), (generation, index), &context, None, ready)
                },
            )
        }
        .unwrap();
    }
    for index in tasks {
        let task = case.tasks[index];
        let log = log.clone();
        let name = task_name(index);
        if task.reads_state {
            let run = move |shutdown: Shutdown, state: State<Token>| {
                let generation = log.generation(&shutdown);
                task_body(
                    log.clone(),
                    (generation, index),
                    task.behaviour,
                    shutdown,
                    Some(state),
                )
            };
            app.register_task_with(name, task.options(), run)
        } else {
            let run = move |shutdown: Shutdown| {
                let generation = log.generation(&shutdown);
                task_body(
                    log.clone(),
                    (generation, index),
                    task.behaviour,
                    shutdown,
                    None,
                )
            };
            app.register_task_with(name, task.options(), run)
        }
        .unwrap();
    }
}

/// Logs that a task or a context read `state`, and whether it is that of its own start.
fn read(log: &Log, generation: usize, state: Option<State<Token>>, task: bool) {
    if let Some(state) = state {
        let ok = *state == Token(generation);
        log.push(generation, Event::StateRead { task, ok });
    }
}

/// Context `index`'s body at start `generation`: its setup (reading `state` first, if given),
/// `ready` (the yield point), its cleanup.
fn context_body(
    log: Arc<Log>,
    (generation, index): (usize, usize),
    context: &ContextCase,
    state: Option<State<Token>>,
    ready: impl std::future::Future<Output = ()> + Send + 'static,
) -> impl std::future::Future<Output = Result<(), &'static str>> + Send + 'static {
    log.push(generation, Event::ContextCalled(index));
    let setup = context.setup(generation);
    let cleanup = context.cleanup;
    async move {
        log.push(generation, Event::SetupBegan(index));
        read(&log, generation, state, false);
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
        ready.await;
        log.push(generation, Event::CleanupBegan(index));
        let (delay, end) = match cleanup {
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
}

/// One run of task `index` at start `generation`, reading `state` first, if given.
fn task_body(
    log: Arc<Log>,
    (generation, index): (usize, usize),
    behaviour: Behaviour,
    shutdown: Shutdown,
    state: Option<State<Token>>,
) -> impl std::future::Future<Output = Result<(), &'static str>> + Send + 'static {
    log.push(generation, Event::TaskCalled(index));
    async move {
        read(&log, generation, state, true);
        let run = Run::begin(log, generation, index);
        match behaviour {
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
}
