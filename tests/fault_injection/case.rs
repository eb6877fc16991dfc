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

#[derive(Clone, Copy, Debug)]
pub(crate) struct ContextCase {
    pub(crate) setup: Setup,
    /// The setup at the second start, after a reload.
    pub(crate) setup_on_reload: Setup,
    pub(crate) cleanup: Cleanup,
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
}

/// How the case drives the app.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Driver {
    /// `start`, maybe `reload` some time after it, then `shutdown`; both times are counted from
    /// the end of the first startup (`reload_after <= shutdown_after`).
    Manual {
        reload_after: Option<Ms>,
        shutdown_after: Ms,
    },
    /// `run_until` a timer that goes off `stop_after` after the call, maybe during startup.
    RunUntil { stop_after: Ms },
}

#[derive(Clone, Debug)]
pub(crate) struct Case {
    pub(crate) contexts: Vec<ContextCase>,
    pub(crate) tasks: Vec<TaskCase>,
    pub(crate) grace: Ms,
    pub(crate) cleanup_timeout: Ms,
    pub(crate) blocking_threshold: Option<Ms>,
    pub(crate) driver: Driver,
}

/// `range` in steps of 10 ms. The durations that tasks and cleanups take are multiples of
/// 10 ms, the grace period and the cleanup timeout are 5 ms off that grid: "just within" and
/// "just past" a bound never tie.
fn tens(range: std::ops::RangeInclusive<u64>) -> impl Strategy<Value = Ms> {
    range.prop_map(|k| Ms(k * 10))
}

fn setup() -> impl Strategy<Value = Setup> {
    prop_oneof![
        10 => tens(0..=3).prop_map(Setup::Ready),
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

fn context() -> impl Strategy<Value = ContextCase> {
    (setup(), setup(), cleanup()).prop_map(|(setup, setup_on_reload, cleanup)| ContextCase {
        setup,
        setup_on_reload,
        cleanup,
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
    (1..=5u64, 0..=3u64, proptest::option::of(limit)).prop_map(|(start, extra, limit)| Backoff {
        start: Ms(start * 10),
        cap: Ms((start + extra * start) * 10),
        limit,
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

fn task() -> impl Strategy<Value = TaskCase> {
    (behaviour(), supervision(), prop::bool::weighted(0.3)).prop_map(
        |(behaviour, supervision, critical)| TaskCase {
            behaviour,
            supervision,
            critical,
        },
    )
}

fn driver() -> impl Strategy<Value = Driver> {
    let manual = (proptest::option::of(tens(0..=50)), tens(0..=50)).prop_map(
        |(reload_after, shutdown_after)| Driver::Manual {
            reload_after: reload_after.map(|r| r.min(shutdown_after)),
            shutdown_after,
        },
    );
    prop_oneof![
        3 => manual,
        // On and off the grid of setup durations: a stop may go off as a setup completes.
        1 => (0..=120u64).prop_map(|k| Driver::RunUntil { stop_after: Ms(k * 5) }),
    ]
}

pub(crate) fn case() -> impl Strategy<Value = Case> {
    let grace = prop_oneof![Just(5u64), Just(25), Just(55), Just(105), Just(255)].prop_map(Ms);
    let cleanup_timeout = prop_oneof![Just(15u64), Just(25), Just(35)].prop_map(Ms);
    let threshold = prop_oneof![Just(None), Just(Some(Ms(1))), Just(Some(Ms(100)))];
    (
        proptest::collection::vec(context(), 0..=5),
        proptest::collection::vec(task(), 0..=8),
        grace,
        cleanup_timeout,
        threshold,
        driver(),
    )
        .prop_map(
            |(contexts, mut tasks, grace, cleanup_timeout, blocking_threshold, driver)| {
                if matches!(driver, Driver::Manual { .. }) {
                    for task in &mut tasks {
                        task.critical = false;
                    }
                }
                Case {
                    contexts,
                    tasks,
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
            .jitter(false);
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
