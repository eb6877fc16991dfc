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
