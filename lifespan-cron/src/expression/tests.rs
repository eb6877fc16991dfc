//! The parts of the diagnosis that the messages do not reach on their own.

use super::{field_error, reason};

/// Only 5 or 6 fields are looked at one by one: any other count is no field's fault.
#[test]
fn a_field_is_looked_for_only_among_5_or_6_fields() {
    assert_eq!(field_error(&["*"; 7]), None);
    assert_eq!(field_error(&[]), None);
    assert!(field_error(&["61", "*", "*", "*", "*"]).is_some());
}

/// What the parser said is the reason when no value, step or name explains it.
#[test]
fn the_parsers_word_is_the_reason_of_last_resort() {
    assert_eq!(
        reason("1?", 0, 59, "", "what the parser said"),
        "is not valid (the field takes 0–59): what the parser said"
    );
    assert_eq!(
        reason("JAN?", 1, 12, "JAN–DEC", "said"),
        "is not valid (the field takes 1–12 or JAN–DEC): said"
    );
}
