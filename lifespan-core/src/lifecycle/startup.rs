//! Startup: evaluate every argument, set contexts up in order, then start the tasks.

use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::base::chain;
use crate::base::name::Name;
use crate::base::panic::poll_catching;
use crate::base::spawn;
use crate::inject::app_handle::App;
use crate::inject::params::{InjectCx, YieldControl, YieldParts};
use crate::inject::state::{self, Deps, StateMap};
use crate::lifecycle::config::Timeouts;
use crate::lifecycle::generation::{Generation, RunningContext};
use crate::lifecycle::shutdown;
use crate::registration::entry::{BoxFuture, Entry};
use crate::registration::plan::Plan;
use crate::replicas::{CoordinatorError, Lease, Point};
use crate::report::arg_error::ArgError;
use crate::report::errors::{StartupError, StartupErrorKind};
use crate::report::outcome::Report;
use crate::report::task_error::TaskError;
use crate::schedules::options::TaskOptions;
use crate::status::board::Board;
use crate::status::snapshot::RunState;
use crate::tasks::body::TaskFuture;
use crate::tasks::supervisor::supervise;

struct PreparedContext {
    name: Name,
    options: TaskOptions,
    /// The span its setup and cleanup run in.
    span: tracing::Span,
    body: BoxFuture,
    control: YieldControl,
    deps: Deps,
}

/// `contexts` reordered so that each is set up after the providers of the state it needs; an
/// error, before any setup, if state is missing, provided twice, or needed in a cycle.
fn in_state_order(
    contexts: Vec<PreparedContext>,
    tasks: &[(Name, Deps)],
) -> Result<Vec<PreparedContext>, StartupError> {
    let no_state = |deps: &Deps| deps.needs.is_empty() && deps.provides.is_empty();
    if tasks.is_empty() && contexts.iter().all(|c| no_state(&c.deps)) {
        return Ok(contexts);
    }
    let context_deps: Vec<_> = contexts.iter().map(|c| (c.name.clone(), &c.deps)).collect();
    let task_deps: Vec<_> = tasks
        .iter()
        .map(|(name, deps)| (name.clone(), deps))
        .collect();
    let order = state::order(&context_deps, &task_deps)
        .map_err(|kind| StartupError::new(kind, Report::default()))?;
    let mut slots: Vec<Option<PreparedContext>> = contexts.into_iter().map(Some).collect();
    Ok(order.into_iter().filter_map(|i| slots[i].take()).collect())
}

/// What the settings say about a start: how to stop it, how long its setups may take.
#[derive(Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) timeouts: Timeouts,
    pub(crate) startup_timeout: Option<std::time::Duration>,
}

/// Runs startup of what the plan of `board` lists, giving its tasks the board's shutdown
/// signal.
pub(crate) async fn start(
    app: &App,
    board: Arc<Board>,
    exit: &CancellationToken,
    limits: Limits,
) -> Result<Generation, StartupError> {
    let shutdown = board.shutdown.clone();
    let state = Arc::new(StateMap::default());

    // 1. Every argument, before any side effect; injection learns who provides and needs state.
    let (prepared_contexts, prepared_tasks) = prepare(app, &board.plan, &shutdown, &state)?;

    // 2. The coordinator of singleton and once-per-point tasks: reachable, its tables there.
    if board
        .plan
        .tasks()
        .any(|t| t.options().singleton || t.options().once_per_point)
    {
        prepare_coordinator(&board, exit, limits.startup_timeout).await?;
    }

    // 3. Contexts, each to its yield point, providers first.
    let mut generation = Generation {
        shutdown,
        state,
        tracker: TaskTracker::new(),
        board: board.clone(),
        tasks: Vec::with_capacity(prepared_tasks.len()),
        contexts: Vec::with_capacity(prepared_contexts.len()),
        timeouts: limits.timeouts,
        runtime: tokio::runtime::Handle::current(),
        background: false,
    };
    generation = set_up_all(generation, prepared_contexts, exit, limits).await?;

    // 4. Startup is complete: its state readable, then logged before any task runs, so that
    // logs show the real order;
    // 5. the tasks start.
    app.publish_state(generation.state.clone());
    tracing::info!(
        tasks = prepared_tasks.len(),
        contexts = generation.contexts.len(),
        "lifespan startup complete"
    );
    crate::tasks::blocking_watchdog::watch(&board);
    start_tasks(app, &mut generation, prepared_tasks);
    #[cfg(feature = "serde")]
    crate::status::publish::start(&board);
    Ok(generation)
}

/// Evaluates the arguments of every context and task and calls their functions: the contexts
/// in setup order (providers of state first), the tasks' bodies in start order.
fn prepare(
    app: &App,
    plan: &Plan,
    shutdown: &CancellationToken,
    state: &StateMap,
) -> Result<(Vec<PreparedContext>, Vec<BoxFuture>), StartupError> {
    let mut prepared_contexts = Vec::with_capacity(plan.context_count());
    for entry in plan.contexts() {
        let (parts, control) = YieldParts::new();
        let mut cx = InjectCx {
            app,
            shutdown,
            yield_parts: Some(parts),
            state,
            lease: None,
            point: None,
            deps: Deps::default(),
        };
        let body = entry
            .prepare(&mut cx)
            .map_err(|e| argument_error(entry, e))?;
        if cx.yield_parts.is_some() {
            let kind = StartupErrorKind::NoYieldParam {
                name: entry.name.clone(),
            };
            return Err(StartupError::new(kind, Report::default()));
        }
        prepared_contexts.push(PreparedContext {
            name: entry.name.clone(),
            options: entry.options().clone(),
            span: entry.span(),
            body,
            control,
            deps: cx.deps,
        });
    }
    let mut prepared_tasks = Vec::with_capacity(plan.task_count());
    let mut task_deps = Vec::new();
    // A singleton's body prepared here only checks its arguments: it is called anew, with the
    // term's lease, once it holds one; so is a once-per-point task's, with each run's point.
    let placeholder = Lease::new(
        0,
        std::time::SystemTime::UNIX_EPOCH,
        std::sync::Arc::from(""),
        CancellationToken::new(),
    );
    let point = Point::placeholder();
    for entry in plan.tasks() {
        let mut cx = InjectCx {
            app,
            shutdown,
            yield_parts: None,
            state,
            lease: entry.options().singleton.then_some(&placeholder),
            point: entry.options().once_per_point.then_some(&point),
            deps: Deps::default(),
        };
        let body = entry
            .prepare(&mut cx)
            .map_err(|e| argument_error(entry, e))?;
        if !cx.deps.needs.is_empty() {
            task_deps.push((entry.name.clone(), cx.deps));
        }
        prepared_tasks.push(body);
    }
    let prepared_contexts = in_state_order(prepared_contexts, &task_deps)?;
    Ok((prepared_contexts, prepared_tasks))
}

/// Prepares the app's coordinator, within the startup timeout and until a shutdown request.
async fn prepare_coordinator(
    board: &Board,
    exit: &CancellationToken,
    timeout: Option<std::time::Duration>,
) -> Result<(), StartupError> {
    let coordinator = &board.coordination.coordinator;
    let described = coordinator.describe();
    tracing::debug!(coordinator = %described, "preparing the coordinator");
    let limit = async {
        match timeout {
            Some(timeout) => tokio::time::sleep(timeout).await,
            None => std::future::pending().await,
        }
    };
    let prepared = tokio::select! {
        biased;
        () = exit.cancelled() => Prepared::Interrupted,
        () = limit => Prepared::TimedOut,
        prepared = coordinator.prepare() => Prepared::Answered(prepared),
    };
    let source = match prepared {
        Prepared::Answered(Ok(())) => return Ok(()),
        Prepared::Answered(Err(error)) => error,
        Prepared::Interrupted => CoordinatorError::msg(
            "startup was interrupted by a shutdown request while preparing it",
        ),
        Prepared::TimedOut => CoordinatorError::msg(format!(
            "it did not answer within the startup timeout of {:?}",
            timeout.unwrap_or_default()
        )),
    };
    let kind = StartupErrorKind::Coordinator {
        coordinator: described,
        source,
    };
    Err(StartupError::new(kind, Report::default()))
}

/// How preparing the coordinator ended.
enum Prepared {
    /// Shutdown was requested first.
    Interrupted,
    /// The startup timeout ended first.
    TimedOut,
    /// The coordinator answered.
    Answered(Result<(), CoordinatorError>),
}

/// Sets the contexts up one after the other; if one fails, rolls back those set up.
async fn set_up_all(
    mut generation: Generation,
    contexts: Vec<PreparedContext>,
    exit: &CancellationToken,
    limits: Limits,
) -> Result<Generation, StartupError> {
    let board = generation.board.clone();
    let deadline = limits
        .startup_timeout
        .map(|limit| (crate::base::deadline::after(Instant::now(), limit), limit));
    for context in contexts {
        let name = context.name.clone();
        let index = board.context_starting(&name, context.options.display_name);
        match set_up(context, index, exit, deadline).await {
            Ok(running) => {
                tracing::info!(context = %name, "lifespan context set up");
                board.set_context(index, RunState::Running, None);
                generation.contexts.push(running);
            }
            Err(kind) => {
                board.set_context(index, RunState::Failed, Some(chain::text(&kind)));
                // The error is returned, not logged; an interruption is no error, but news.
                if matches!(kind, StartupErrorKind::Interrupted { .. }) {
                    tracing::info!(context = %name, "{kind}");
                }
                if !generation.contexts.is_empty() {
                    tracing::info!("cleaning up the contexts already set up, in reverse order");
                }
                let rollback = shutdown::stop(generation, limits.timeouts, exit).await;
                return Err(StartupError::new(kind, rollback));
            }
        }
    }
    Ok(generation)
}

/// Spawns every task: a plain one as a [`TaskFuture`], one with options under its supervisor.
fn start_tasks(app: &App, generation: &mut Generation, bodies: Vec<BoxFuture>) {
    let board = generation.board.clone();
    let now = board.now();
    crate::status::metrics::describe();
    for (index, body) in bodies.into_iter().enumerate() {
        board.set_running(index, now);
        let entry = board.plan.task(index);
        let handle = if entry.options().is_supervised() {
            let supervised = supervise(
                app.downgrade(),
                board.clone(),
                generation.state.clone(),
                index,
                body,
            );
            spawn::tracked(&generation.tracker, entry.label(), Box::pin(supervised))
        } else {
            let task = TaskFuture::new(board.clone(), index, body);
            spawn::tracked(&generation.tracker, entry.label(), task)
        };
        generation.tasks.push(handle);
    }
}

/// Runs one context's setup until it calls `Yield::ready`. The setup is polled right here, in
/// the startup task, rather than spawned and waited for: one wake-up across threads less per
/// context. Once it has yielded, the body is spawned, so that it keeps being polled while the
/// app runs and its cleanup runs on its own task.
/// `deadline`: when the startup timeout ends, and the timeout.
async fn set_up(
    context: PreparedContext,
    index: usize,
    exit: &CancellationToken,
    deadline: Option<(Instant, std::time::Duration)>,
) -> Result<RunningContext, StartupErrorKind> {
    let PreparedContext {
        name,
        options: _,
        span,
        body,
        control,
        deps: _,
    } = context;
    let YieldControl { mut ready, resume } = control;
    let mut body = body.instrument(span);
    let ended = loop {
        let woken = tokio::select! {
            biased;
            yielded = &mut ready, if !ready.is_terminated() => SetupWoken::Ready(yielded),
            ended = poll_catching(&mut body) => SetupWoken::Ended(ended),
            _ = exit.cancelled() => SetupWoken::Interrupted,
            () = until_deadline(deadline), if deadline.is_some() => SetupWoken::TimedOut,
        };
        match woken {
            SetupWoken::Ready(Ok(())) => {
                let handle = spawn::spawn(&name, body);
                return Ok(RunningContext {
                    name,
                    index,
                    resume,
                    handle,
                });
            }
            // The `Yield` was dropped without `ready`: the body's end says why.
            SetupWoken::Ready(Err(_)) => continue,
            SetupWoken::Ended(ended) => break ended,
            // The setup may have yielded in the very poll that asked for the stop (or in the
            // last one before the startup timeout): then it is set up, and its cleanup runs with
            // the others'.
            SetupWoken::Interrupted | SetupWoken::TimedOut if ready.try_recv().is_ok() => {
                let handle = spawn::spawn(&name, body);
                return Ok(RunningContext {
                    name,
                    index,
                    resume,
                    handle,
                });
            }
            SetupWoken::Interrupted => return Err(StartupErrorKind::Interrupted { name }),
            SetupWoken::TimedOut => {
                let timeout = deadline.expect("guarded").1;
                return Err(StartupErrorKind::SetupTimedOut { name, timeout });
            }
        }
    };
    Err(match ended {
        Ok(Ok(())) => StartupErrorKind::NoYield { name },
        Ok(Err(error)) => StartupErrorKind::SetupFailed {
            name,
            source: TaskError::new(error),
        },
        Err(message) => StartupErrorKind::SetupPanicked { name, message },
    })
}

/// What woke a context's setup.
enum SetupWoken {
    /// It called `Yield::ready`, or dropped its `Yield` without calling it.
    Ready(Result<(), oneshot::error::RecvError>),
    /// Its body ended (or panicked) before yielding.
    Ended(Result<anyhow::Result<()>, String>),
    /// Shutdown was requested.
    Interrupted,
    /// The startup timeout is over.
    TimedOut,
}

/// Completes at the startup deadline; only awaited when there is one.
async fn until_deadline(deadline: Option<(Instant, std::time::Duration)>) {
    sleep_until(deadline.expect("guarded").0).await;
}

/// The error startup fails with when an argument of `entry` could not be given.
fn argument_error(entry: &Entry, error: ArgError) -> StartupError {
    StartupError::new(error.at_startup(entry.kind, &entry.name), Report::default())
}
