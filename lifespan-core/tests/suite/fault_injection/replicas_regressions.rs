//! Cases of the replicas property (`replicas.rs`) that once failed, kept as plain tests.

use lifespan_core::Restart;

use super::case::Ms;
use super::replicas::run_replicas;
use super::replicas_case::{Body, ReplicasCase, Step};

/// A claim sent just before the coordinator answered at once again waited out its stalled
/// answer (1,050 ms, within the claim's patience of the 1,080 ms renew deadline), and the
/// points due meanwhile passed: the check expected them, since the coordinator had answered at
/// once for three periods. The check now looks back a claim's patience further.
#[test]
fn points_due_while_a_stalled_claim_waits_within_its_patience_may_pass() {
    use Step::{Down, RenewFails, Stall, Start, Vanish};
    let steps = [
        (610, Vanish(false)),
        (190, RenewFails(false)),
        (250, RenewFails(false)),
        (290, Vanish(false)),
        (200, RenewFails(false)),
        (1040, Vanish(false)),
        (580, Vanish(false)),
        (150, Stall(Ms(0))),
        (40, Stall(Ms(10))),
        (270, RenewFails(false)),
        (1490, Down(true)),
        (1310, Stall(Ms(1050))),
        (690, Down(false)),
        (240, Start(0)),
        (900, RenewFails(false)),
        (1410, RenewFails(false)),
    ];
    let case = ReplicasCase {
        bodies: vec![vec![Body::Prompt], vec![Body::Prompt]],
        lease: (Ms(1090), Ms(1080), Ms(310)),
        restart: Restart::Never,
        digest: Some((Ms(210), Ms(0))),
        misfire: lifespan_core::Misfire::Skip,
        grace: Ms(50),
        steps: steps.iter().map(|&(ms, step)| (Ms(ms), step)).collect(),
    };
    if let Err(violation) = run_replicas(&case) {
        panic!("{violation}");
    }
}

/// The answer to a claim stalled (470 ms) past the run's lease (70 ms): another replica took
/// the point over as attempt 2 and ran it; then the stalled answer arrived, and its replica ran
/// attempt 1, after attempt 2. A run whose grant arrives after its lease (reckoned from the claim) is not
/// started.
#[test]
fn a_run_granted_by_an_answer_stalled_past_its_lease_is_not_started() {
    use Step::{Down, RenewFails, Stall, Start, Stop, Vanish};
    let steps = [
        (0, RenewFails(false)),
        (610, RenewFails(false)),
        (1260, RenewFails(false)),
        (310, RenewFails(false)),
        (1350, RenewFails(false)),
        (750, RenewFails(false)),
        (830, RenewFails(false)),
        (360, Down(true)),
        (220, Vanish(false)),
        (490, RenewFails(false)),
        (260, RenewFails(false)),
        (270, RenewFails(false)),
        (760, Vanish(false)),
        (290, RenewFails(false)),
        (440, Stop(1)),
        (1460, Stall(Ms(470))),
        (220, RenewFails(false)),
        (490, Down(false)),
        (810, Start(2)),
        (270, RenewFails(false)),
        (830, RenewFails(false)),
        (1240, Start(1)),
    ];
    let case = ReplicasCase {
        bodies: vec![vec![Body::SlowStop(Ms(10))], vec![Body::Prompt]],
        lease: (Ms(70), Ms(60), Ms(50)),
        restart: Restart::Never,
        digest: Some((Ms(590), Ms(0))),
        misfire: lifespan_core::Misfire::Skip,
        grace: Ms(50),
        steps: steps.iter().map(|&(ms, step)| (Ms(ms), step)).collect(),
    };
    if let Err(violation) = run_replicas(&case) {
        panic!("{violation}");
    }
}

/// A replica shut down while it ran a point (its body outlasting the 50 ms grace period, so
/// that the end of the run was never recorded): the run stayed in flight until its lease
/// expired and another replica took it over as attempt 2, and the point due meanwhile did not
/// start (overlap is forbidden). The check expected that point, the coordinator having answered
/// at once; it now excuses the points a run in flight keeps from starting.
#[test]
fn a_point_due_while_an_interrupted_run_is_in_flight_does_not_start() {
    use Step::{RenewFails, Start, Stop, Vanish};
    let steps = [
        (730, RenewFails(false)),
        (220, RenewFails(false)),
        (320, Stop(3)),
        (570, Start(0)),
        (530, Stop(0)),
        (500, Vanish(false)),
        (70, Stop(2)),
        (0, RenewFails(false)),
    ];
    let case = ReplicasCase {
        bodies: vec![vec![Body::Prompt]; 4],
        lease: (Ms(510), Ms(500), Ms(490)),
        restart: Restart::Never,
        digest: Some((Ms(490), Ms(98))),
        misfire: lifespan_core::Misfire::Skip,
        grace: Ms(50),
        steps: steps.iter().map(|&(ms, step)| (Ms(ms), step)).collect(),
    };
    match run_replicas(&case) {
        Ok(situations) => assert!(
            situations.contains("a point kept from running by a run in flight"),
            "{situations:?}"
        ),
        Err(violation) => panic!("{violation}"),
    }
}
