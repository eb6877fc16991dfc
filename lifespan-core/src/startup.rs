//! Startup: evaluate every argument, set contexts up in order, then start the tasks.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::error::{ArgCause, ArgError, StartupError, StartupErrorKind};
use crate::inject::{InjectCx, YieldControl, YieldParts};
use crate::name::Name;
use crate::options::TaskOptions;
use crate::register::Plan;
use crate::registry::{BoxFuture, Entry, Kind};
use crate::report::Report;
use crate::running::{panic_message, TaskFuture};
use crate::shutdown::{self, Timeouts};
use crate::state::{self, Deps, StateMap};
use crate::status::{Board, RunState};
use crate::supervise::supervise;
use crate::App;

/// Everything one start of the app set running; [`shutdown::stop`] takes it apart.
pub(crate) struct Generation {
    pub(crate) shutdown: CancellationToken,
    /// The state its contexts provide.
    pub(crate) state: Arc<StateMap>,
    /// Tracks the tasks, so that shutdown learns at once when the last one has ended.
    pub(crate) tracker: TaskTracker,
    /// In start order.
    pub(crate) tasks: Vec<JoinHandle<()>>,
    /// What was started (its tasks, in the order of `tasks`, give their names) and how each
    /// part is doing.
    pub(crate) board: Arc<Board>,
    /// In setup order.
    pub(crate) contexts: Vec<RunningContext>,
}

pub(crate) struct RunningContext {
    pub(crate) name: Name,
    /// Its index on the status board.
    pub(crate) index: usize,
    pub(crate) resume: oneshot::Sender<()>,
    pub(crate) handle: JoinHandle<Result<(), anyhow::Error>>,
}

impl Drop for Generation {
    /// A generation dropped without a shutdown (the app itself was dropped) still tells its tasks
    /// to stop; its contexts' `Yield::ready` return, so their cleanups run too.
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

struct PreparedContext {
    name: Name,
    options: TaskOptions,
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
    let order = state::order(&context_deps, &task_deps).map_err(|kind| {
        tracing::error!("{kind}");
        StartupError::new(kind, Report::default())
    })?;
    let mut slots: Vec<Option<PreparedContext>> = contexts.into_iter().map(Some).collect();
    Ok(order.into_iter().filter_map(|i| slots[i].take()).collect())
}

/// Runs startup of what `plan` lists.
pub(crate) async fn start(
    app: &App,
    plan: &Arc<Plan>,
    exit: &CancellationToken,
    timeouts: Timeouts,
    blocking_threshold: Option<std::time::Duration>,
) -> Result<Generation, StartupError> {
    let shutdown = CancellationToken::new();
    let board = Arc::new(Board::new(
        plan.clone(),
        shutdown.clone(),
        blocking_threshold,
    ));
    app.set_board(board.clone());

    let state = Arc::new(StateMap::default());

    // 1. Every argument, before any side effect; injection learns who provides and needs state.
    let mut prepared_contexts = Vec::with_capacity(plan.context_count());
    for entry in plan.contexts() {
        let (parts, control) = YieldParts::new();
        let mut cx = InjectCx {
            app,
            shutdown: &shutdown,
            yield_parts: Some(parts),
            state: &state,
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
            options: entry.options,
            body,
            control,
            deps: cx.deps,
        });
    }
    let mut prepared_tasks = Vec::with_capacity(plan.task_count());
    let mut task_deps = Vec::new();
    for entry in plan.tasks() {
        let mut cx = InjectCx {
            app,
            shutdown: &shutdown,
            yield_parts: None,
            state: &state,
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

    // 2. Contexts, each to its yield point, providers first.
    let mut generation = Generation {
        shutdown,
        state,
        tracker: TaskTracker::new(),
        board: board.clone(),
        tasks: Vec::with_capacity(prepared_tasks.len()),
        contexts: Vec::with_capacity(prepared_contexts.len()),
    };
    for context in prepared_contexts {
        let name = context.name.clone();
        let index = board.context_starting(&name, context.options.display_name);
        match set_up(context, index, exit).await {
            Ok(running) => {
                tracing::info!(context = %name, "lifespan context set up");
                board.set_context(index, RunState::Running, None);
                generation.contexts.push(running);
            }
            Err(kind) => {
                board.set_context(index, RunState::Failed, Some(kind.to_string()));
                tracing::error!(context = %name, "{kind}");
                if !generation.contexts.is_empty() {
                    tracing::info!("cleaning up the contexts already set up, in reverse order");
                }
                let rollback = shutdown::stop(generation, timeouts, exit).await;
                return Err(StartupError::new(kind, rollback));
            }
        }
    }

    // 3. Startup is complete: its state readable, then logged before any task runs, so that
    // logs show the real order;
    // 4. the tasks start.
    app.publish_state(generation.state.clone());
    tracing::info!(
        tasks = prepared_tasks.len(),
        contexts = generation.contexts.len(),
        "lifespan startup complete"
    );
    let now = board.now();
    for (index, body) in prepared_tasks.into_iter().enumerate() {
        board.set_running(index, now);
        let handle = if plan.task(index).options.is_supervised() {
            let supervised = supervise(
                app.clone(),
                board.clone(),
                generation.state.clone(),
                index,
                body,
            );
            generation.tracker.spawn(Box::pin(supervised))
        } else {
            generation
                .tracker
                .spawn(TaskFuture::new(board.clone(), index, body))
        };
        generation.tasks.push(handle);
    }
    Ok(generation)
}

/// Runs one context's setup until it calls `Yield::ready`. The setup is polled right here, in
/// the startup task, rather than spawned and waited for: one wake-up across threads less per
/// context. Once it has yielded, the body is spawned, so that it keeps being polled while the
/// app runs and its cleanup runs on its own task.
async fn set_up(
    context: PreparedContext,
    index: usize,
    exit: &CancellationToken,
) -> Result<RunningContext, StartupErrorKind> {
    let PreparedContext {
        name,
        options: _,
        body,
        control,
        deps: _,
    } = context;
    let YieldControl { mut ready, resume } = control;
    let span = tracing::info_span!("lifespan_context", context = %name);
    let mut body = body.instrument(span);
    let ended = loop {
        tokio::select! {
            biased;
            ready_result = &mut ready, if !ready.is_terminated() => match ready_result {
                Ok(()) => {
                    let handle = tokio::spawn(body);
                    return Ok(RunningContext { name, index, resume, handle });
                }
                // The `Yield` was dropped without `ready`: the body's end says why.
                Err(_) => continue,
            },
            ended = poll_catching(&mut body) => break ended,
            _ = exit.cancelled() => {
                // The setup may have yielded in the very poll that asked for the stop: then it
                // is set up, and its cleanup runs with the others'.
                if ready.try_recv().is_ok() {
                    let handle = tokio::spawn(body);
                    return Ok(RunningContext { name, index, resume, handle });
                }
                return Err(StartupErrorKind::Interrupted { name });
            }
        }
    };
    Err(match ended {
        Ok(Ok(())) => StartupErrorKind::NoYield { name },
        Ok(Err(error)) => StartupErrorKind::SetupFailed {
            name,
            source: error.into(),
        },
        Err(payload) => StartupErrorKind::SetupPanicked {
            name,
            message: panic_message(&*payload),
        },
    })
}

/// Polls `future` to its end, catching a panic.
async fn poll_catching<F: Future + Unpin>(
    future: &mut F,
) -> Result<F::Output, Box<dyn std::any::Any + Send>> {
    std::future::poll_fn(|cx| {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            std::pin::Pin::new(&mut *future).poll(cx)
        })) {
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Ok(std::task::Poll::Ready(output)) => std::task::Poll::Ready(Ok(output)),
            Err(payload) => std::task::Poll::Ready(Err(payload)),
        }
    })
    .await
}

fn argument_error(entry: &Entry, error: ArgError) -> StartupError {
    let name = entry.name.clone();
    let kind = match error.cause {
        ArgCause::Eval(source) => StartupErrorKind::Argument {
            kind: entry.kind,
            name,
            argument: error.argument,
            source: source.into(),
        },
        ArgCause::Unavailable => {
            debug_assert_eq!(
                entry.kind,
                Kind::Context,
                "only a context's `Yield` runs out"
            );
            StartupErrorKind::SecondYield {
                name,
                argument: error.argument,
            }
        }
    };
    tracing::error!("{kind}");
    StartupError::new(kind, Report::default())
}
