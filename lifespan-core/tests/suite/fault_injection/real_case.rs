//! The cases of the multi-thread variant: real time, so durations stay a few tens of
//! milliseconds, and every bound an outcome depends on is far (at least [`MARGIN`]) from the
//! durations that meet it, so that scheduling delays cannot change what a case must do.

use std::time::Duration;

use lifespan_core::{Restart, Schedule};
use proptest::prelude::*;

use super::case::*;

/// How far every timing a case's outcome depends on is from the bound it is compared with.
pub(crate) const MARGIN: Duration = Duration::from_millis(80);
/// How late, on real time, an event may come after the instant the model says: the time
/// checks of the variant allow this much (scheduling on a busy machine with two cores).
pub(crate) const SLACK: Duration = Duration::from_millis(60);

const GRACE: Ms = Ms(150);
const CLEANUP_TIMEOUT: Ms = Ms(100);

fn ms(range: std::ops::RangeInclusive<u64>) -> impl Strategy<Value = Ms> {
    range.prop_map(Ms)
}

fn context() -> impl Strategy<Value = ContextCase> {
    let setup = prop_oneof![
        8 => ms(0..=20).prop_map(Setup::Ready),
        1 => ms(0..=20).prop_map(Setup::Fail),
        1 => ms(0..=20).prop_map(Setup::Panic),
        1 => ms(0..=20).prop_map(Setup::NoYield),
    ];
    // Cleanups end well within their timeout, or never.
    let cleanup = prop_oneof![
        4 => ms(0..=20).prop_map(Cleanup::Done),
        1 => ms(0..=20).prop_map(Cleanup::Fail),
        1 => ms(0..=20).prop_map(Cleanup::Panic),
        1 => Just(Cleanup::Hang),
    ];
    context_of(setup, 2, cleanup)
}

fn task() -> impl Strategy<Value = TaskCase> {
    // Cooperative stops end well within the grace period.
    let behaviour = prop_oneof![
        2 => ms(0..=40).prop_map(Behaviour::Complete),
        2 => ms(0..=40).prop_map(Behaviour::Fail),
        1 => ms(0..=40).prop_map(Behaviour::Panic),
        2 => ms(0..=20).prop_map(|stop| Behaviour::Cooperative { stop }),
        1 => Just(Behaviour::IgnoreCancel),
        1 => (0..=2000u64).prop_map(|micros| Behaviour::Block { micros }),
    ];
    // A constant delay (start = cap) and no window: restarts and limits do not depend on how
    // long a run took.
    let backoff = (1..=3u64, proptest::option::of(1..=3u32), any::<bool>()).prop_map(
        |(delay, max, jitter)| Backoff {
            start: Ms(delay * 10),
            cap: Ms(delay * 10),
            limit: max.map(|max| Limit { max, within: None }),
            jitter,
        },
    );
    let policy = prop_oneof![Just(Restart::OnFailure), Just(Restart::Always)];
    let supervision = prop_oneof![
        3 => Just(Supervision::Plain),
        2 => (policy, backoff).prop_map(|(policy, backoff)| Supervision::Restart { policy, backoff }),
        1 => ms(10..=30).prop_map(|every| Supervision::Periodic {
            every,
            schedule: Schedule::FixedDelay,
            at_startup: true,
            retry: None,
        }),
    ];
    (behaviour, supervision, any::<bool>()).prop_map(|(behaviour, supervision, reads_state)| {
        TaskCase {
            behaviour,
            supervision,
            critical: false,
            reads_state,
        }
    })
}

fn run_plan() -> impl Strategy<Value = RunPlan> {
    let second = (2..=6u64).prop_map(|k| Second {
        after: Ms(k * 10 + 5),
        how: SecondHow::RequestShutdown,
    });
    (
        proptest::collection::vec(ms(0..=40), 0..=1),
        ms(0..=60),
        proptest::option::weighted(0.3, second),
    )
        .prop_map(|(reloads, shutdown_after, second)| RunPlan {
            reloads,
            shutdown_after,
            second,
        })
}

pub(crate) fn real_case() -> impl Strategy<Value = Case> {
    (
        proptest::collection::vec(context(), 0..=4),
        proptest::collection::vec(task(), 0..=6),
        proptest::collection::vec(run_plan(), 1..=2),
        (0..=1usize, 0..=2usize, proptest::option::of(0..4usize)),
    )
        .prop_map(|(mut contexts, mut tasks, runs, seed)| {
            let driver = Driver::Manual { runs };
            let shape = shape(&mut contexts, &mut tasks, &driver, seed);
            Case {
                contexts,
                tasks,
                late_contexts: shape.late_contexts,
                late_tasks: shape.late_tasks,
                provider: shape.provider,
                grace: GRACE,
                cleanup_timeout: CLEANUP_TIMEOUT,
                blocking_threshold: None,
                driver,
            }
        })
}
