//! `cron = "..."` and `time_zone = "..."`, checked at compile time (feature `cron`) by
//! lifespan-cron, with which the runtime parses them: the same rules and the same messages as
//! the runtime's `CronError`.

use lifespan_cron::{CronError, Schedule};

use crate::suggest;

/// What is wrong with the cron expression `expression`, if anything.
pub(crate) fn expression_problem(expression: &str) -> Option<String> {
    lifespan_cron::check(expression)
        .err()
        .map(|error| error.to_string())
}

/// The shortest gap between two successive occurrences of `expression` in `zone` (UTC if
/// `None`), in nanoseconds, as the runtime finds it (`Schedule::shortest_gap`). `None` if the
/// expression or zone is not valid (reported already), or it has fewer than two occurrences
/// there.
pub(crate) fn shortest_gap(expression: &str, zone: Option<&str>) -> Option<u64> {
    let gap = Schedule::parse(expression, zone).ok()?.shortest_gap()?;
    u64::try_from(gap.as_nanos()).ok()
}

/// What is wrong with the time zone `zone`, if anything, with a suggestion: the zone of the
/// same name in another case, as the runtime suggests, or else the closest name.
pub(crate) fn zone_problem(zone: &str) -> Option<String> {
    let error = match lifespan_cron::check_zone(zone).err()? {
        CronError::TimeZone {
            zone,
            suggestion: None,
        } => {
            let names: Vec<&str> = lifespan_cron::zone_names().collect();
            let suggestion = suggest::did_you_mean(&zone, &names).map(str::to_owned);
            CronError::TimeZone { zone, suggestion }
        }
        error => error,
    };
    Some(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::{expression_problem, zone_problem};

    #[test]
    fn the_messages_are_those_of_the_runtime() {
        assert_eq!(expression_problem("0 */5 * * * *"), None);
        assert_eq!(expression_problem("@daily"), None);
        assert_eq!(
            expression_problem("0 61 * * * *").as_deref(),
            Some("the cron expression's minutes field `61` is out of range 0–59")
        );
        assert_eq!(
            expression_problem("0 0 0 30 2 *").as_deref(),
            Some("the cron expression `0 0 0 30 2 *` matches no date")
        );
    }

    #[test]
    fn an_unknown_zone_gets_a_suggestion() {
        assert_eq!(zone_problem("Europe/Berlin"), None);
        assert_eq!(zone_problem("UTC"), None);
        assert!(zone_problem("Europe/Berln")
            .unwrap()
            .ends_with("(did you mean `Europe/Berlin`?)"));
    }
}
