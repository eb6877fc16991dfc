//! The cases of the replicas property (`replicas.rs`): the bodies of each replica's runs, the
//! lease settings, the restart policy, the once-per-point task and the schedule of faults.

use lifespan_core::{LeaseSettings, Misfire, Restart};
use proptest::prelude::*;

use super::case::Ms;

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
    /// The coordinator's tables vanish (every call fails with that cause), or are back.
    Vanish(bool),
    /// Every statement runs at once, and its answer arrives this much later.
    Stall(Ms),
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
    /// What becomes of its missed points (`all` runs at most [`MISFIRE_LIMIT`] of them).
    pub(crate) misfire: Misfire,
    pub(crate) grace: Ms,
    /// Each step with the time since the one before.
    pub(crate) steps: Vec<(Ms, Step)>,
}

impl ReplicasCase {
    pub(crate) fn settings(&self) -> LeaseSettings {
        let (lease, deadline, retry) = self.lease;
        LeaseSettings::new(lease.get(), deadline.get(), retry.get()).unwrap()
    }
}

/// The most missed points `misfire = all` runs in a case: a backlog that drains within two
/// periods (a run takes at most half of one).
pub(crate) const MISFIRE_LIMIT: u32 = 3;

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
        2 => any::<bool>().prop_map(Step::Vanish),
        // Up to 1.5 s: below and above the once-per-point task's period (200 ms to 1 s).
        1 => Just(Step::Stall(Ms(0))),
        1 => ms(1..=150).prop_map(Step::Stall),
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
    let misfire = prop_oneof![
        Just(Misfire::Skip),
        Just(Misfire::Latest),
        Just(Misfire::All)
    ];
    (
        proptest::collection::vec(proptest::collection::vec(body(), 1..=4), 2..=4),
        lease,
        restart,
        (digest, misfire),
        ms(5..=200),
        proptest::collection::vec((ms(0..=150), step()), 0..=30),
    )
        .prop_map(
            |(bodies, lease, restart, (digest, misfire), grace, steps)| ReplicasCase {
                bodies,
                lease,
                restart,
                digest,
                misfire,
                grace,
                steps,
            },
        )
}
