//! The parts of the diagnosis that the messages do not reach on their own.

use super::{field_error, parser, reason};

/// 5 fields are the last 5 of the 6; more than 6 are no field's fault, and no field has none.
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

/// The parser's settings: the seconds are optional, and there is no year field (the field
/// count is checked before the parser sees 7 fields, so only the parser itself shows it).
#[test]
fn the_parser_takes_5_or_6_fields_and_no_year() {
    assert!(parser().parse("*/5 * * * *").is_ok());
    assert!(parser().parse("0 */5 * * * *").is_ok());
    assert!(parser().parse("0 0 0 * * * 2030").is_err());
}
