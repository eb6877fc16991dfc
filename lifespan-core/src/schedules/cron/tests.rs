//! The schedule's computation on fixed wall-clock times: daylight-saving changes in
//! Europe/Berlin (in 2025, forward at 01:00 UTC on March 30, back at 01:00 UTC on October 26),
//! and the messages of wrong expressions.

use std::time::{Duration, SystemTime};

use super::{CronError, CronSchedule};

/// `2025-03-30T01:00:00Z` as a `SystemTime`.
fn utc(text: &str) -> SystemTime {
    let date = chrono::DateTime::parse_from_rfc3339(text).unwrap();
    SystemTime::from(date.with_timezone(&chrono::Utc))
}

fn berlin(expression: &str) -> CronSchedule {
    CronSchedule::parse(expression, Some("Europe/Berlin")).unwrap()
}

/// The `count` occurrences after `start`.
fn occurrences(schedule: &CronSchedule, start: &str, count: usize) -> Vec<SystemTime> {
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
    let schedule = CronSchedule::parse("*/2 * * * * *", None).unwrap();
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
    let schedule = CronSchedule::parse("*/5 * * * *", None).unwrap();
    assert_eq!(schedule.next_after(half), Some(utc("2025-01-01T12:05:00Z")));
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

#[test]
fn a_wrong_field_is_named_with_its_range() {
    let message = |expression: &str| {
        CronSchedule::parse(expression, None)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        message("0 61 * * * *"),
        "the cron expression's minutes field `61` is out of range 0–59"
    );
    assert_eq!(
        message("61 * * * *"),
        "the cron expression's minutes field `61` is out of range 0–59"
    );
    assert_eq!(
        message("0 0 1-25 * * *"),
        "the cron expression's hours field `1-25` has `25`, out of range 0–23"
    );
    assert_eq!(
        message("0 0 0 * FOO *"),
        "the cron expression's month field `FOO` is not a name of the field: the field takes 1–12 or JAN–DEC"
    );
    assert_eq!(
        message("0 */0 * * * *"),
        "the cron expression's minutes field `*/0` has a step of 0: a step is at least 1"
    );
    assert_eq!(
        message("0 0 * * *  * 2030"),
        "the cron expression `0 0 * * *  * 2030` has 7 fields: give 6 (second minute hour day-of-month month day-of-week), or 5 without the seconds"
    );
    assert_eq!(
        message("0 0 0 30 2 *"),
        "the cron expression `0 0 0 30 2 *` matches no date"
    );
}

#[test]
fn an_unknown_zone_is_an_error_with_a_suggestion_for_its_case() {
    let error = CronSchedule::parse("* * * * * *", Some("europe/berlin")).unwrap_err();
    assert_eq!(
        error,
        CronError::TimeZone {
            zone: "europe/berlin".into(),
            suggestion: Some("Europe/Berlin".into())
        }
    );
    assert_eq!(
        error.to_string(),
        "unknown time zone `europe/berlin`: give an IANA zone name, as in `Europe/Berlin` or `UTC` (did you mean `Europe/Berlin`?)"
    );
}

/// The shortest gap is looked for from 2024 on, where Auckland has daylight saving time: a
/// daily run at 03:00 is 23 hours after the one before on the day the clocks go forward (from
/// 1916 to 1924 Auckland kept one offset all year, and every gap was 24 hours).
#[test]
fn the_shortest_gap_is_looked_for_from_2024_where_daylight_saving_shortens_a_day() {
    let schedule = CronSchedule::parse("0 0 3 * * *", Some("Pacific/Auckland")).unwrap();
    assert_eq!(
        schedule.shortest_gap(),
        Some(Duration::from_secs(23 * 3600))
    );
}

/// A time before 1970 falls in the second that begins at or before it, as any other time.
#[test]
fn the_next_occurrence_after_a_time_before_1970_is_the_next_second() {
    let schedule = CronSchedule::parse("* * * * * *", None).unwrap();
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
}

fn message(expression: &str) -> String {
    CronSchedule::parse(expression, None)
        .unwrap_err()
        .to_string()
}

/// The bounds of a field's range are in it: the value named is the one past them.
#[test]
fn a_value_past_a_bound_is_named_and_the_bounds_themselves_are_in_range() {
    assert_eq!(
        message("0 0 0 1-31,0 * *"),
        "the cron expression's day-of-month field `1-31,0` has `0`, out of range 1–31"
    );
}

/// A word in a field that takes no names is not valid, with the range the field takes.
#[test]
fn a_word_in_a_field_without_names_is_not_valid_with_the_fields_range() {
    let message = message("0 FOO * * * *");
    assert!(
        message.starts_with(
            "the cron expression's minutes field `FOO` is not valid (the field takes 0–59): "
        ),
        "{message}"
    );
}

/// One field that is no nickname is an expression with too few fields.
#[test]
fn a_single_field_that_is_no_nickname_is_too_few_fields() {
    assert_eq!(
        message("daily"),
        "the cron expression `daily` has 1 field: give 6 (second minute hour day-of-month month day-of-week), or 5 without the seconds"
    );
}

/// A nickname that is none is named as an unknown nickname.
#[test]
fn an_unknown_nickname_is_named_as_one() {
    let message = message("@fortnightly");
    assert!(
        message.starts_with("the cron expression `@fortnightly` is not a known nickname (`@yearly`, `@monthly`, `@weekly`, `@daily`, `@hourly`): "),
        "{message}"
    );
}

/// A range without its end, in a field that takes names, is not valid: the missing end is no
/// name that is wrong.
#[test]
fn a_range_without_its_end_is_not_valid_with_the_fields_range() {
    let message = message("0 0 0 * 1- *");
    assert!(
        message.starts_with(
            "the cron expression's month field `1-` is not valid (the field takes 1–12 or JAN–DEC): "
        ),
        "{message}"
    );
}
