//! The schedule's computation on fixed wall-clock times: daylight-saving changes in
//! Europe/Berlin (in 2025, forward at 01:00 UTC on March 30, back at 01:00 UTC on October 26),
//! times before 1970, and the shortest gap between occurrences.

use std::time::{Duration, SystemTime};

use lifespan_cron::Schedule;

/// `2025-03-30T01:00:00Z` as a `SystemTime`.
fn utc(text: &str) -> SystemTime {
    let date = chrono::DateTime::parse_from_rfc3339(text).unwrap();
    SystemTime::from(date.with_timezone(&chrono::Utc))
}

fn berlin(expression: &str) -> Schedule {
    Schedule::parse(expression, Some("Europe/Berlin")).unwrap()
}

/// The `count` occurrences after `start`.
fn occurrences(schedule: &Schedule, start: &str, count: usize) -> Vec<SystemTime> {
    let mut at = utc(start);
    (0..count)
        .map(|_| {
            at = schedule.next_after(at).unwrap();
            at
        })
        .collect()
}

#[test]
fn the_next_occurrence_is_strictly_after_the_time_given_in_utc_by_default() {
    let schedule = Schedule::parse("*/2 * * * * *", None).unwrap();
    let start = utc("2025-01-01T12:00:00Z");
    let half = start + Duration::from_millis(500);
    assert_eq!(schedule.next_after(half), Some(utc("2025-01-01T12:00:02Z")));
    assert_eq!(
        schedule.next_after(start),
        Some(utc("2025-01-01T12:00:02Z"))
    );
    assert_eq!(schedule.at_or_after(start), Some(start));
    assert_eq!(
        schedule.at_or_after(half),
        Some(utc("2025-01-01T12:00:02Z"))
    );
    // Five fields: at second 0.
    let schedule = Schedule::parse("*/5 * * * *", None).unwrap();
    assert_eq!(schedule.next_after(half), Some(utc("2025-01-01T12:05:00Z")));
}

#[test]
fn a_time_of_day_is_in_the_schedules_zone() {
    // 03:00 in Berlin is 02:00 UTC in winter.
    let runs = occurrences(&berlin("0 0 3 * * *"), "2025-01-01T12:00:00Z", 1);
    assert_eq!(runs, [utc("2025-01-02T02:00:00Z")]);
}

#[test]
fn a_time_of_day_skipped_by_spring_forward_runs_at_the_end_of_the_gap() {
    // 02:30 does not exist on March 30: the run is at 03:00 CEST, then 02:30 CEST next day.
    let runs = occurrences(&berlin("0 30 2 * * *"), "2025-03-29T12:00:00Z", 2);
    assert_eq!(
        runs,
        [utc("2025-03-30T01:00:00Z"), utc("2025-03-31T00:30:00Z")]
    );
}

#[test]
fn a_repeating_schedule_has_no_occurrence_in_the_spring_forward_gap() {
    // 01:45 CET, then 03:00 CEST: a quarter of an hour later in real time.
    let runs = occurrences(&berlin("0 */15 * * * *"), "2025-03-30T00:40:00Z", 3);
    assert_eq!(
        runs,
        [
            utc("2025-03-30T00:45:00Z"),
            utc("2025-03-30T01:00:00Z"),
            utc("2025-03-30T01:15:00Z"),
        ]
    );
}

#[test]
fn a_time_of_day_repeated_by_fall_back_runs_once() {
    // 02:30 happens twice on October 26 (CEST, then CET): the run is at the first only.
    let runs = occurrences(&berlin("0 30 2 * * *"), "2025-10-25T12:00:00Z", 2);
    assert_eq!(
        runs,
        [utc("2025-10-26T00:30:00Z"), utc("2025-10-27T01:30:00Z")]
    );
}

#[test]
fn a_repeating_schedule_runs_at_each_real_occurrence_through_fall_back() {
    // Every 30 minutes of real time through the repeated hour.
    let runs = occurrences(&berlin("0 */30 * * * *"), "2025-10-25T23:45:00Z", 5);
    assert_eq!(
        runs,
        [
            utc("2025-10-26T00:00:00Z"),
            utc("2025-10-26T00:30:00Z"),
            utc("2025-10-26T01:00:00Z"),
            utc("2025-10-26T01:30:00Z"),
            utc("2025-10-26T02:00:00Z"),
        ]
    );
}

/// A time before 1970 falls in the second that begins at or before it, as any other time.
#[test]
fn the_next_occurrence_after_a_time_before_1970_is_the_next_second() {
    let schedule = Schedule::parse("* * * * * *", None).unwrap();
    let epoch = SystemTime::UNIX_EPOCH;
    let second = Duration::from_secs(1);
    let half = Duration::from_millis(500);
    assert_eq!(
        schedule.next_after(epoch - 2 * second),
        Some(epoch - second)
    );
    assert_eq!(
        schedule.next_after(epoch - second - half),
        Some(epoch - second)
    );
    assert_eq!(schedule.at_or_after(epoch - second), Some(epoch - second));
}

/// The shortest gap is looked for from 2024 on, where Auckland has daylight saving time: a
/// daily run at 03:00 is 23 hours after the one before on the day the clocks go forward (from
/// 1916 to 1924 Auckland kept one offset all year, and every gap was 24 hours).
#[test]
fn the_shortest_gap_is_looked_for_from_2024_where_daylight_saving_shortens_a_day() {
    let schedule = Schedule::parse("0 0 3 * * *", Some("Pacific/Auckland")).unwrap();
    assert_eq!(
        schedule.shortest_gap(),
        Some(Duration::from_secs(23 * 3600))
    );
    let utc = Schedule::parse("0 0 3 * * *", None).unwrap();
    assert_eq!(utc.shortest_gap(), Some(Duration::from_secs(24 * 3600)));
}

#[test]
fn the_shortest_gap_of_a_schedule_every_second_is_a_second() {
    let schedule = Schedule::parse("* * * * * *", None).unwrap();
    assert_eq!(schedule.shortest_gap(), Some(Duration::from_secs(1)));
}

/// Eight years from 2024-01-01 hold the leap days of 2024 and 2028, not that of 2032: one gap
/// of four years; the years after 2032 are not looked at.
#[test]
fn the_shortest_gap_is_looked_for_within_eight_years() {
    let schedule = Schedule::parse("0 0 0 29 2 *", None).unwrap();
    assert_eq!(
        schedule.shortest_gap(),
        Some(Duration::from_secs(1461 * 24 * 3600))
    );
}
