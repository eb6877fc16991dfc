//! The diagnosis runs on the strings of `#[lifespan(cron = "...", time_zone = "...")]` inside
//! the proc macro, where a panic would be an internal compiler error: no string panics it.

use lifespan_cron::{check, check_zone, Schedule};
use proptest::prelude::*;

/// Strings made of what cron fields are made of, so that most reach the parser's every branch.
fn cron_like() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[0-9*/,\\-A-Za-z@?#LW ]{0,40}").unwrap()
}

proptest! {
    #[test]
    fn no_cron_like_string_panics_the_diagnosis(expression in cron_like()) {
        let _ = check(&expression);
        let _ = Schedule::parse(&expression, None).map(|schedule| schedule.shortest_gap());
    }

    #[test]
    fn no_string_panics_the_diagnosis(expression in any::<String>(), zone in any::<String>()) {
        let _ = check(&expression);
        let _ = check_zone(&zone);
        let _ = Schedule::parse(&expression, Some(&zone));
    }
}
