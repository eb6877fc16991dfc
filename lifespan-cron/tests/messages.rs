//! Every message of a wrong cron expression or time zone, word for word: the runtime's
//! `CronError` and the macros' compile errors print these.

use lifespan_cron::{check, check_zone, CronError, Schedule};

fn message(expression: &str) -> String {
    check(expression).unwrap_err().to_string()
}

const FIELD_COUNT: &str =
    "give 6 (second minute hour day-of-month month day-of-week), or 5 without the seconds";

#[test]
fn valid_expressions_nicknames_and_zones_pass() {
    for expression in [
        "0 */5 * * * *",
        "*/5 * * * *",
        "@daily",
        " 0 0 3 * * MON-FRI ",
    ] {
        assert_eq!(check(expression), Ok(()), "{expression}");
    }
    assert_eq!(check_zone("Europe/Berlin"), Ok(()));
    assert_eq!(check_zone("UTC"), Ok(()));
}

#[test]
fn an_empty_expression_asks_for_6_fields() {
    for expression in ["", "   "] {
        assert_eq!(
            message(expression),
            format!(
                "the cron expression `{expression}` is empty: give 6 fields, as in `0 */5 * * * *`"
            )
        );
    }
}

#[test]
fn a_wrong_number_of_fields_is_counted() {
    assert_eq!(
        check("0 0 * * *  * 2030"),
        Err(CronError::FieldCount {
            expression: "0 0 * * *  * 2030".into(),
            count: 7
        })
    );
    assert_eq!(
        message("0 0 * * *  * 2030"),
        format!("the cron expression `0 0 * * *  * 2030` has 7 fields: {FIELD_COUNT}")
    );
    assert_eq!(
        message("* * * *"),
        format!("the cron expression `* * * *` has 4 fields: {FIELD_COUNT}")
    );
    // One field that is no nickname: too few fields, in the singular.
    assert_eq!(
        message("daily"),
        format!("the cron expression `daily` has 1 field: {FIELD_COUNT}")
    );
}

#[test]
fn a_value_out_of_range_is_named_with_the_fields_range() {
    assert_eq!(
        check("0 61 * * * *"),
        Err(CronError::Field {
            field: "minutes",
            value: "61".into(),
            reason: "is out of range 0–59".into()
        })
    );
    assert_eq!(
        message("0 61 * * * *"),
        "the cron expression's minutes field `61` is out of range 0–59"
    );
    // Five fields: the first is the minutes.
    assert_eq!(
        message("61 * * * *"),
        "the cron expression's minutes field `61` is out of range 0–59"
    );
    assert_eq!(
        message("60 * * * * *"),
        "the cron expression's seconds field `60` is out of range 0–59"
    );
    assert_eq!(
        message("0 0 1-25 * * *"),
        "the cron expression's hours field `1-25` has `25`, out of range 0–23"
    );
    assert_eq!(
        message("0 0 0 * * 8"),
        "the cron expression's day-of-week field `8` is out of range 0–7 or SUN–SAT, 0 and 7 both Sunday"
    );
    assert_eq!(
        message("0 0 0 * 13 *"),
        "the cron expression's month field `13` is out of range 1–12 or JAN–DEC"
    );
}

/// The bounds of a field's range are in it: the value named is the one past them.
#[test]
fn a_value_past_a_bound_is_named_and_the_bounds_themselves_are_in_range() {
    assert_eq!(
        message("0 0 0 1-31,0 * *"),
        "the cron expression's day-of-month field `1-31,0` has `0`, out of range 1–31"
    );
    assert_eq!(
        message("0 0 0 1-31,32 * *"),
        "the cron expression's day-of-month field `1-31,32` has `32`, out of range 1–31"
    );
}

#[test]
fn a_step_of_0_is_named_as_such() {
    assert_eq!(
        message("0 */0 * * * *"),
        "the cron expression's minutes field `*/0` has a step of 0: a step is at least 1"
    );
    assert_eq!(
        message("0 1,*/0 * * * *"),
        "the cron expression's minutes field `1,*/0` has a step of 0 in `*/0`: a step is at least 1"
    );
}

#[test]
fn a_word_that_is_no_name_of_the_field_is_named_with_the_names() {
    assert_eq!(
        message("0 0 0 * FOO *"),
        "the cron expression's month field `FOO` is not a name of the field: the field takes 1–12 or JAN–DEC"
    );
    assert_eq!(
        message("0 0 0 * FOO-MAR *"),
        "the cron expression's month field `FOO-MAR` has `FOO`, not a name of the field: the field takes 1–12 or JAN–DEC"
    );
    assert_eq!(
        message("0 0 0 * * FUNDAY"),
        "the cron expression's day-of-week field `FUNDAY` is not a name of the field: the field takes 0–7 or SUN–SAT, 0 and 7 both Sunday"
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

/// Neither a number nor a word (`J4N`): not valid, with the names the field takes.
#[test]
fn a_token_neither_number_nor_word_is_not_valid_with_the_fields_names() {
    let message = message("0 0 0 * J4N *");
    assert!(
        message.starts_with(
            "the cron expression's month field `J4N` is not valid (the field takes 1–12 or JAN–DEC): "
        ),
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

/// The first wrong field is named, from the left.
#[test]
fn the_first_wrong_field_is_named() {
    assert_eq!(
        message("0 61 25 * * *"),
        "the cron expression's minutes field `61` is out of range 0–59"
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

/// A pattern that parses but never comes.
#[test]
fn an_expression_that_matches_no_date_says_so() {
    assert_eq!(
        check("0 0 0 30 2 *"),
        Err(CronError::Expression {
            expression: "0 0 0 30 2 *".into(),
            reason: "matches no date".into()
        })
    );
    assert_eq!(
        message("0 0 0 30 2 *"),
        "the cron expression `0 0 0 30 2 *` matches no date"
    );
}

#[test]
fn an_unknown_zone_is_an_error_with_a_suggestion_for_its_case() {
    let error = check_zone("europe/berlin").unwrap_err();
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
    // Around spaces too.
    assert_eq!(
        check_zone(" europe/berlin "),
        Err(CronError::TimeZone {
            zone: " europe/berlin ".into(),
            suggestion: Some("Europe/Berlin".into())
        })
    );
}

#[test]
fn an_unknown_zone_without_a_name_in_another_case_has_no_suggestion() {
    assert_eq!(
        check_zone("Mars/Olympus").unwrap_err().to_string(),
        "unknown time zone `Mars/Olympus`: give an IANA zone name, as in `Europe/Berlin` or `UTC`"
    );
}

/// A schedule's zone is checked before its expression, each with its own message.
#[test]
fn a_schedule_says_what_is_wrong_with_its_zone_then_its_expression() {
    let message = |expression: &str, zone: Option<&str>| {
        Schedule::parse(expression, zone).unwrap_err().to_string()
    };
    assert_eq!(
        message("0 61 * * * *", Some("Mars/Olympus")),
        "unknown time zone `Mars/Olympus`: give an IANA zone name, as in `Europe/Berlin` or `UTC`"
    );
    assert_eq!(
        message("0 61 * * * *", Some("Europe/Berlin")),
        "the cron expression's minutes field `61` is out of range 0–59"
    );
}

#[test]
fn the_zone_names_are_the_iana_names() {
    let names: Vec<&str> = lifespan_cron::zone_names().collect();
    assert!(names.contains(&"Europe/Berlin"));
    assert!(names.contains(&"UTC"));
    assert!(names.iter().all(|name| check_zone(name).is_ok()));
}
