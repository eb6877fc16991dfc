//! The generated cases: what each context and task does, the options, the timings, and how
//! the app is driven.

use std::fmt;
use std::time::Duration;

use lifespan_core::{Restart, Schedule, TaskOptions};
use proptest::prelude::*;

/// A virtual duration in milliseconds; printed as `30ms` in shrunk cases.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Ms(pub(crate) u64);

impl Ms {
    pub(crate) fn get(self) -> Duration {
        Duration::from_millis(self.0)
    }
}

impl fmt::Debug for Ms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

/// What a context's setup does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Setup {
    /// Waits, then calls `ready`.
    Ready(Ms),
    /// Waits, then returns an error.
    Fail(Ms),
    /// Waits, then panics.
    Panic(Ms),
    /// Waits, then returns `Ok` without calling `ready`.
    NoYield(Ms),
}

/// What a context's cleanup does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cleanup {
    /// Waits, then returns `Ok`.
    Done(Ms),
    /// Waits, then returns an error.
    Fail(Ms),
    /// Waits, then panics.
    Panic(Ms),
    /// Never ends.
    Hang,
}

#[derive(Clone, Debug)]
pub(crate) struct ContextCase {
    /// The setup at each start of the app: start `k` (counted over the whole case, reloads
    /// included) runs `setups[k % setups.len()]`.
    pub(crate) setups: Vec<Setup>,
    pub(crate) cleanup: Cleanup,
    /// Takes the provider's `State<Token>` (only for a context after the provider).
    pub(crate) reads_state: bool,
}

/// What one run of a task does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Behaviour {
    /// Waits (ignoring shutdown), then returns `Ok`.
    Complete(Ms),
    /// Waits (ignoring shutdown), then returns an error.
    Fail(Ms),
    /// Waits (ignoring shutdown), then panics.
    Panic(Ms),
    /// Waits for shutdown, takes `stop` to stop, then returns `Ok`.
    Cooperative { stop: Ms },
    /// Never ends, whatever happens.
    IgnoreCancel,
    /// Blocks its thread for a moment with `std::thread::sleep`, then waits for shutdown.
    Block { micros: u64 },
}

/// A restart limit: at most `max` restarts, in any `within` window if one is given.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limit {
    pub(crate) max: u32,
    pub(crate) within: Option<Ms>,
}

/// How a task is restarted: first delay, longest delay, limit.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Backoff {
    pub(crate) start: Ms,
    pub(crate) cap: Ms,
    pub(crate) limit: Option<Limit>,
    /// Each delay drawn between half and all of it.
    pub(crate) jitter: bool,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Supervision {
    /// A plain task.
    Plain,
    Restart {
        policy: Restart,
        backoff: Backoff,
    },
    Periodic {
        every: Ms,
        schedule: Schedule,
        at_startup: bool,
        /// Restarted on failure, else a failed run ends the task.
        retry: Option<Backoff>,
    },
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct TaskCase {
    pub(crate) behaviour: Behaviour,
    pub(crate) supervision: Supervision,
    /// Only with `Driver::RunUntil`, the only driver that acts on it.
    pub(crate) critical: bool,
    /// Takes the provider's `State<Token>` (only if a context provides it).
    pub(crate) reads_state: bool,
}

/// How a second shutdown request comes, `after` the first (`shutdown`) was made.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Second {
    /// Off the 10 ms grid, as the grace period: never at the instant a task ends.
    pub(crate) after: Ms,
    pub(crate) how: SecondHow,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SecondHow {
    /// `App::request_shutdown`, as a second Ctrl-C does.
    RequestShutdown,
    /// A second `App::shutdown` call.
    Shutdown,
}

/// One run of the app: `start`, a reload `gap` after each (re)start returned, then `shutdown`
/// `shutdown_after` the last (re)start returned, maybe with a second request during it.
#[derive(Clone, Debug)]
pub(crate) struct RunPlan {
    pub(crate) reloads: Vec<Ms>,
    pub(crate) shutdown_after: Ms,
    pub(crate) second: Option<Second>,
}

/// How the case drives the app.
#[derive(Clone, Debug)]
pub(crate) enum Driver {
    /// One or two runs; the late contexts and tasks are registered between them.
    Manual { runs: Vec<RunPlan> },
    /// `run_until` a timer that goes off `stop_after` after the call, maybe during startup.
    RunUntil { stop_after: Ms },
}

#[derive(Clone, Debug)]
pub(crate) struct Case {
    pub(crate) contexts: Vec<ContextCase>,
    pub(crate) tasks: Vec<TaskCase>,
    /// How many of the last contexts and tasks are registered by hand only after the first run
    /// shut down (with two runs; else none).
    pub(crate) late_contexts: usize,
    pub(crate) late_tasks: usize,
    /// The context that provides a `Token` (the number of its start) with `Yield::ready_with`.
    pub(crate) provider: Option<usize>,
    pub(crate) grace: Ms,
    pub(crate) cleanup_timeout: Ms,
    pub(crate) blocking_threshold: Option<Ms>,
    pub(crate) driver: Driver,
}

impl Case {
    /// An app of no contexts and no tasks, with a grace period and a cleanup timeout of 25 ms,
    /// for the serving cases that must reach one situation: the server alone.
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) fn bare() -> Case {
        Case {
            contexts: Vec::new(),
            tasks: Vec::new(),
            late_contexts: 0,
            late_tasks: 0,
            provider: None,
            grace: Ms(25),
            cleanup_timeout: Ms(25),
            blocking_threshold: None,
            driver: Driver::Manual { runs: Vec::new() },
        }
    }
}

/// `range` in steps of 10 ms. The durations that tasks and cleanups take are multiples of
/// 10 ms, the grace period and the cleanup timeout are 5 ms off that grid: "just within" and
/// "just past" a bound never tie.
pub(crate) fn tens(range: std::ops::RangeInclusive<u64>) -> impl Strategy<Value = Ms> {
    range.prop_map(|k| Ms(k * 10))
}

fn setup() -> impl Strategy<Value = Setup> {
    prop_oneof![
        16 => tens(0..=3).prop_map(Setup::Ready),
        1 => tens(0..=3).prop_map(Setup::Fail),
        1 => tens(0..=3).prop_map(Setup::Panic),
        1 => tens(0..=3).prop_map(Setup::NoYield),
    ]
}

fn cleanup() -> impl Strategy<Value = Cleanup> {
    prop_oneof![
        4 => tens(0..=4).prop_map(Cleanup::Done),
        1 => tens(0..=4).prop_map(Cleanup::Fail),
        1 => tens(0..=4).prop_map(Cleanup::Panic),
        1 => Just(Cleanup::Hang),
    ]
}

pub(crate) fn context() -> impl Strategy<Value = ContextCase> {
    context_of(setup(), 4, cleanup())
}

/// A context with 1 to `max_setups` setups (one per start) drawn from `setup`, and a cleanup.
pub(crate) fn context_of(
    setup: impl Strategy<Value = Setup>,
    max_setups: usize,
    cleanup: impl Strategy<Value = Cleanup>,
) -> impl Strategy<Value = ContextCase> {
    (
        proptest::collection::vec(setup, 1..=max_setups),
        cleanup,
        any::<bool>(),
    )
        .prop_map(|(setups, cleanup, reads_state)| ContextCase {
            setups,
            cleanup,
            reads_state,
        })
}

fn behaviour() -> impl Strategy<Value = Behaviour> {
    prop_oneof![
        2 => tens(0..=20).prop_map(Behaviour::Complete),
        2 => tens(0..=20).prop_map(Behaviour::Fail),
        1 => tens(0..=20).prop_map(Behaviour::Panic),
        2 => tens(0..=12).prop_map(|stop| Behaviour::Cooperative { stop }),
        1 => Just(Behaviour::IgnoreCancel),
        1 => (0..=2000u64).prop_map(|micros| Behaviour::Block { micros }),
    ]
}

fn backoff() -> impl Strategy<Value = Backoff> {
    let limit = (1..=4u32, proptest::option::of(tens(5..=30)))
        .prop_map(|(max, within)| Limit { max, within });
    (
        1..=5u64,
        0..=3u64,
        proptest::option::of(limit),
        prop::bool::weighted(0.3),
    )
        .prop_map(|(start, extra, limit, jitter)| Backoff {
            start: Ms(start * 10),
            cap: Ms((start + extra * start) * 10),
            limit,
            jitter,
        })
}

fn supervision() -> impl Strategy<Value = Supervision> {
    let policy = prop_oneof![Just(Restart::OnFailure), Just(Restart::Always)];
    let schedule = prop_oneof![Just(Schedule::FixedRate), Just(Schedule::FixedDelay)];
    prop_oneof![
        3 => Just(Supervision::Plain),
        2 => (policy, backoff()).prop_map(|(policy, backoff)| Supervision::Restart { policy, backoff }),
        2 => (tens(1..=10), schedule, any::<bool>(), proptest::option::of(backoff())).prop_map(
            |(every, schedule, at_startup, retry)| Supervision::Periodic {
                every,
                schedule,
                at_startup,
                retry,
            }
        ),
    ]
}

pub(crate) fn task() -> impl Strategy<Value = TaskCase> {
    (
        behaviour(),
        supervision(),
        prop::bool::weighted(0.3),
        any::<bool>(),
    )
        .prop_map(|(behaviour, supervision, critical, reads_state)| TaskCase {
            behaviour,
            supervision,
            critical,
            reads_state,
        })
}

fn second() -> impl Strategy<Value = Second> {
    let how = prop_oneof![Just(SecondHow::RequestShutdown), Just(SecondHow::Shutdown)];
    ((0..=10u64).prop_map(|k| Ms(k * 10 + 5)), how).prop_map(|(after, how)| Second { after, how })
}

fn run_plan() -> impl Strategy<Value = RunPlan> {
    (
        proptest::collection::vec(tens(0..=30), 0..=3),
        tens(0..=50),
        proptest::option::weighted(0.3, second()),
    )
        .prop_map(|(reloads, shutdown_after, second)| RunPlan {
            reloads,
            shutdown_after,
            second,
        })
}

fn driver() -> impl Strategy<Value = Driver> {
    prop_oneof![
        3 => proptest::collection::vec(run_plan(), 1..=2).prop_map(|runs| Driver::Manual { runs }),
        // On and off the grid of setup durations: a stop may go off as a setup completes.
        1 => (0..=120u64).prop_map(|k| Driver::RunUntil { stop_after: Ms(k * 5) }),
    ]
}

/// What is registered late, and who reads state, made consistent with the driver.
pub(crate) struct Shape {
    pub(crate) late_contexts: usize,
    pub(crate) late_tasks: usize,
    pub(crate) provider: Option<usize>,
}

pub(crate) fn shape(
    contexts: &mut [ContextCase],
    tasks: &mut [TaskCase],
    driver: &Driver,
    (late_contexts, late_tasks, provider): (usize, usize, Option<usize>),
) -> Shape {
    let two_runs = matches!(driver, Driver::Manual { runs } if runs.len() == 2);
    let mut late_contexts = if two_runs {
        late_contexts.min(contexts.len())
    } else {
        0
    };
    let mut late_tasks = if two_runs {
        late_tasks.min(tasks.len())
    } else {
        0
    };
    // The first start must call something, for the log to tell the starts apart.
    if late_contexts == contexts.len() && late_tasks == tasks.len() {
        (late_contexts, late_tasks) = (0, 0);
    }
    let early = contexts.len() - late_contexts;
    let provider = provider.filter(|_| early > 0).map(|p| p % early.max(1));
    for (index, context) in contexts.iter_mut().enumerate() {
        context.reads_state &= provider.is_some_and(|p| p < index);
    }
    for task in tasks.iter_mut() {
        task.reads_state &= provider.is_some();
        if matches!(driver, Driver::Manual { .. }) {
            task.critical = false;
        }
    }
    Shape {
        late_contexts,
        late_tasks,
        provider,
    }
}

pub(crate) fn case() -> impl Strategy<Value = Case> {
    let grace = prop_oneof![Just(5u64), Just(25), Just(55), Just(105), Just(255)].prop_map(Ms);
    let cleanup_timeout = prop_oneof![Just(15u64), Just(25), Just(35)].prop_map(Ms);
    let threshold = prop_oneof![Just(None), Just(Some(Ms(1))), Just(Some(Ms(100)))];
    let shape_seed = (0..=2usize, 0..=3usize, proptest::option::of(0..5usize));
    (
        proptest::collection::vec(context(), 0..=5),
        proptest::collection::vec(task(), 0..=8),
        (grace, cleanup_timeout, threshold),
        driver(),
        shape_seed,
    )
        .prop_map(
            |(
                mut contexts,
                mut tasks,
                (grace, cleanup_timeout, blocking_threshold),
                driver,
                seed,
            )| {
                let shape = shape(&mut contexts, &mut tasks, &driver, seed);
                Case {
                    contexts,
                    tasks,
                    late_contexts: shape.late_contexts,
                    late_tasks: shape.late_tasks,
                    provider: shape.provider,
                    grace,
                    cleanup_timeout,
                    blocking_threshold,
                    driver,
                }
            },
        )
}

impl Backoff {
    pub(crate) fn apply(&self, options: TaskOptions) -> TaskOptions {
        let options = options
            .backoff(self.start.get(), self.cap.get())
            .jitter(self.jitter);
        match self.limit {
            None => options,
            Some(Limit { max, within: None }) => options.max_restarts(max),
            Some(Limit {
                max,
                within: Some(window),
            }) => options.max_restarts(max).within(window.get()),
        }
    }
}

impl TaskCase {
    pub(crate) fn options(&self) -> TaskOptions {
        let options = TaskOptions::new().critical(self.critical);
        match self.supervision {
            Supervision::Plain => options,
            Supervision::Restart { policy, backoff } => backoff.apply(options.restart(policy)),
            Supervision::Periodic {
                every,
                schedule,
                at_startup,
                retry,
            } => {
                let options = options
                    .every(every.get())
                    .schedule(schedule)
                    .at_startup(at_startup);
                match retry {
                    Some(backoff) => backoff.apply(options.restart(Restart::OnFailure)),
                    None => options,
                }
            }
        }
    }

    pub(crate) fn is_supervised(&self) -> bool {
        self.critical || !matches!(self.supervision, Supervision::Plain)
    }
}

impl Case {
    /// How many contexts and tasks start `run` of the app has registered.
    pub(crate) fn registered(&self, run: usize) -> (usize, usize) {
        if run == 0 {
            (
                self.contexts.len() - self.late_contexts,
                self.tasks.len() - self.late_tasks,
            )
        } else {
            (self.contexts.len(), self.tasks.len())
        }
    }
}

impl ContextCase {
    /// The setup at start `generation` of the app.
    pub(crate) fn setup(&self, generation: usize) -> Setup {
        self.setups[generation % self.setups.len()]
    }
}

/// Whether a second request of this kind during shutdown skips the rest of the grace period.
///
/// A second `shutdown` call does not: it waits for the shutdown in progress, grace period
/// included (`regressions::a_second_shutdown_call_waits_for_the_shutdown_in_progress`); a
/// second `request_shutdown` is the second Ctrl-C.
pub(crate) fn forces(how: SecondHow) -> bool {
    match how {
        SecondHow::RequestShutdown => true,
        SecondHow::Shutdown => false,
    }
}
