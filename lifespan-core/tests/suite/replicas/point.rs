//! What a `Point` tells its body, the ledger's time arithmetic and the outcomes' names.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lifespan_core::{point_system_time, point_time, Point, RunOutcome};

#[test]
fn a_point_tells_its_task_number_time_attempt_token_and_replica() {
    let scheduled = UNIX_EPOCH + Duration::from_secs(3600 * 7);
    let (point, control) = Point::pair("billing::digest", 7, scheduled, 2, 41);
    assert_eq!(point.task(), "billing::digest");
    assert_eq!(point.instance(), "test");
    assert_eq!(
        (
            point.number(),
            point.scheduled(),
            point.attempt(),
            point.token()
        ),
        (7, scheduled, 2, 41)
    );
    assert!(!point.is_lost());
    assert_eq!(
        format!("{point:?}"),
        r#"Point { task: "billing::digest", number: 7, attempt: 2, token: 41, instance: "test", lost: false }"#
    );
    control.lose();
    assert!(point.is_lost());
    assert!(format!("{point:?}").ends_with("lost: true }"));
}

#[test]
fn point_times_are_microseconds_either_side_of_the_epoch() {
    let before = UNIX_EPOCH - Duration::from_micros(1_500_000);
    assert_eq!(point_time(before), -1_500_000);
    assert_eq!(point_system_time(-1_500_000), before);
    let after = UNIX_EPOCH + Duration::from_micros(2_000_001);
    assert_eq!(point_time(after), 2_000_001);
    assert_eq!(point_system_time(2_000_001), after);
    assert_eq!(point_time(UNIX_EPOCH), 0);
    let far = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::MAX / 2_000_000);
    assert!(point_time(far) > 0);
}

#[test]
fn outcomes_have_the_names_of_the_ledger_and_the_status() {
    let names: Vec<(String, &str)> = [
        RunOutcome::Succeeded,
        RunOutcome::Failed,
        RunOutcome::Panicked,
        RunOutcome::Cancelled,
        RunOutcome::TimedOut,
    ]
    .into_iter()
    .map(|outcome| (outcome.to_string(), outcome.as_str()))
    .collect();
    assert_eq!(
        names,
        [
            ("succeeded".to_owned(), "succeeded"),
            ("failed".to_owned(), "failed"),
            ("panicked".to_owned(), "panicked"),
            ("cancelled".to_owned(), "cancelled"),
            ("timed_out".to_owned(), "timed_out"),
        ]
    );
}
