//! `cron = "..."` and `time_zone = "..."`, checked at compile time (feature `cron`) with the
//! parser and zone database of the runtime, and the runtime's messages: lifespan-core's
//! `cron` module has the same rules (its `fields` module): change both together.

use croner::parser::{CronParser, Seconds, Year};

use crate::suggest;

/// The fields of a 6-field expression: name, lowest and highest value, and the names a field
/// takes besides numbers.
const FIELDS: [(&str, u32, u32, &str); 6] = [
    ("seconds", 0, 59, ""),
    ("minutes", 0, 59, ""),
    ("hours", 0, 23, ""),
    ("day-of-month", 1, 31, ""),
    ("month", 1, 12, "JAN–DEC"),
    ("day-of-week", 0, 7, "SUN–SAT, 0 and 7 both Sunday"),
];

/// The parser: 6 fields, or 5 without the seconds (then at second 0); no year field.
fn parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
}

/// What is wrong with the cron expression `expression`, if anything.
pub(crate) fn expression_problem(expression: &str) -> Option<String> {
    let fields: Vec<&str> = expression.split_whitespace().collect();
    if fields.is_empty() {
        return Some(format!(
            "the cron expression `{expression}` is empty: give 6 fields, as in `0 */5 * * * *`"
        ));
    }
    let nickname = fields.len() == 1 && fields[0].starts_with('@');
    if !nickname && !(5..=6).contains(&fields.len()) {
        let count = fields.len();
        let s = if count == 1 { "" } else { "s" };
        return Some(format!("the cron expression `{expression}` has {count} field{s}: give 6 (second minute hour day-of-month month day-of-week), or 5 without the seconds"));
    }
    let cron = match parser().parse(expression) {
        Ok(cron) => cron,
        Err(error) if nickname => return Some(format!("the cron expression `{expression}` is not a known nickname (`@yearly`, `@monthly`, `@weekly`, `@daily`, `@hourly`): {error}")),
        Err(error) => {
            return Some(field_problem(&fields).unwrap_or_else(|| {
                format!("the cron expression `{expression}` is not valid: {error}")
            }))
        }
    };
    // A pattern such as February 30th parses, but never comes.
    let start = chrono::DateTime::<chrono::Utc>::from_timestamp(0, 0).unwrap_or_default();
    if cron.find_next_occurrence(&start, false).is_err() {
        return Some(format!(
            "the cron expression `{expression}` matches no date"
        ));
    }
    None
}

/// The shortest gap between two successive occurrences of `expression` in `zone` (UTC if
/// `None`), in nanoseconds, found as the runtime's `CronSchedule::shortest_gap` finds it: among
/// the first 2,000 occurrences from 2024-01-01T00:00:00Z within eight years, a gap of a second
/// ending the search. `None` if the expression or zone is not valid (reported already), or it
/// has fewer than two occurrences there.
pub(crate) fn shortest_gap(expression: &str, zone: Option<&str>) -> Option<u64> {
    let zone: chrono_tz::Tz = match zone {
        Some(zone) => zone.parse().ok()?,
        None => chrono_tz::Tz::UTC,
    };
    let cron = parser().parse(expression).ok()?;
    let start = chrono::DateTime::<chrono::Utc>::from_timestamp(1_704_067_200, 0)?;
    let end = start + chrono::TimeDelta::seconds(8 * 366 * 24 * 3600);
    let mut last = cron
        .find_next_occurrence(&start.with_timezone(&zone), true)
        .ok()?;
    let mut shortest: Option<u64> = None;
    for _ in 0..2_000 {
        let Some(next) = cron
            .find_next_occurrence(&last, false)
            .ok()
            .filter(|next| *next <= end)
        else {
            break;
        };
        let gap = (next - last).to_std().ok()?;
        let gap = u64::try_from(gap.as_nanos()).ok()?;
        shortest = Some(shortest.map_or(gap, |shortest| shortest.min(gap)));
        if gap <= 1_000_000_000 {
            break;
        }
        last = next;
    }
    shortest
}

/// What is wrong with the time zone `zone`, if anything, with a suggestion.
pub(crate) fn zone_problem(zone: &str) -> Option<String> {
    if zone.parse::<chrono_tz::Tz>().is_ok() {
        return None;
    }
    let names: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect();
    let mut message = format!(
        "unknown time zone `{zone}`: give an IANA zone name, as in `Europe/Berlin` or `UTC`"
    );
    let same_case = names
        .iter()
        .find(|known| known.eq_ignore_ascii_case(zone.trim()))
        .copied();
    suggest::append(
        &mut message,
        same_case.or_else(|| suggest::did_you_mean(zone, &names)),
    );
    Some(message)
}

/// The first field that is wrong on its own, with every other field `*`.
fn field_problem(fields: &[&str]) -> Option<String> {
    let offset = 6 - fields.len();
    fields.iter().enumerate().find_map(|(at, field)| {
        let position = at + offset;
        let mut alone = ["0", "*", "*", "*", "*", "*"];
        alone[position] = field;
        parser().parse(&alone.join(" ")).err().map(|error| {
            let (name, low, high, names) = FIELDS[position];
            let why = reason(field, low, high, names, &error.to_string());
            format!("the cron expression's {name} field `{field}` {why}")
        })
    })
}

/// Why `field` is wrong: a number out of range, a step of zero, a name that is none, or what
/// the parser said.
fn reason(field: &str, low: u32, high: u32, names: &str, parsed: &str) -> String {
    let range = if names.is_empty() {
        format!("{low}–{high}")
    } else {
        format!("{low}–{high} or {names}")
    };
    let whole = |token: &str, why: String| {
        if token == field {
            format!("is {why}")
        } else {
            format!("has `{token}`, {why}")
        }
    };
    for part in field.split(',') {
        let (values, step) = part.split_once('/').unwrap_or((part, ""));
        if step.parse::<u64>() == Ok(0) {
            return if part == field {
                "has a step of 0: a step is at least 1".to_owned()
            } else {
                format!("has a step of 0 in `{part}`: a step is at least 1")
            };
        }
        for token in values
            .split('-')
            .filter(|token| !token.is_empty() && *token != "*")
        {
            match token.parse::<u64>() {
                Ok(value) if value < u64::from(low) || value > u64::from(high) => {
                    return whole(token, format!("out of range {range}"));
                }
                Ok(_) => {}
                Err(_) if token.chars().all(|c| c.is_ascii_alphabetic()) && !names.is_empty() => {
                    return whole(
                        token,
                        format!("not a name of the field: the field takes {range}"),
                    );
                }
                Err(_) => {}
            }
        }
    }
    format!("is not valid (the field takes {range}): {parsed}")
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
