//! Parsing a cron expression, and saying which field is wrong when it does not parse.

use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;

use crate::CronError;

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

/// Parses `expression`, or says what is wrong with it.
pub(crate) fn parse(expression: &str) -> Result<Cron, CronError> {
    let whole = |reason: String| CronError::Expression {
        expression: expression.to_owned(),
        reason,
    };
    let fields: Vec<&str> = expression.split_whitespace().collect();
    if fields.is_empty() {
        return Err(whole(
            "is empty: give 6 fields, as in `0 */5 * * * *`".to_owned(),
        ));
    }
    let nickname = fields.len() == 1 && fields[0].starts_with('@');
    if !nickname && !(5..=6).contains(&fields.len()) {
        return Err(CronError::FieldCount {
            expression: expression.to_owned(),
            count: fields.len(),
        });
    }
    let cron = match parser().parse(expression) {
        Ok(cron) => cron,
        Err(error) if nickname => {
            return Err(whole(format!(
                "is not a known nickname (`@yearly`, `@monthly`, `@weekly`, `@daily`, `@hourly`): {error}"
            )))
        }
        Err(error) => {
            return Err(field_error(&fields)
                .unwrap_or_else(|| whole(format!("is not valid: {error}"))))
        }
    };
    // A pattern such as February 30th parses, but never comes.
    let start = chrono::DateTime::<chrono::Utc>::from_timestamp(0, 0).unwrap_or_default();
    if cron.find_next_occurrence(&start, false).is_err() {
        return Err(whole("matches no date".to_owned()));
    }
    Ok(cron)
}

/// The first field that is wrong on its own, with every other field `*`; `fields` are the last
/// of the 6 (5 fields: all but the seconds). More than 6 are no field's fault: `None`.
fn field_error(fields: &[&str]) -> Option<CronError> {
    let offset = FIELDS.len().checked_sub(fields.len())?;
    fields.iter().enumerate().find_map(|(at, field)| {
        let position = at + offset;
        let (name, low, high, names) = *FIELDS.get(position)?;
        let mut alone = ["0", "*", "*", "*", "*", "*"];
        *alone.get_mut(position)? = field;
        parser()
            .parse(&alone.join(" "))
            .err()
            .map(|error| CronError::Field {
                field: name,
                value: (*field).to_owned(),
                reason: reason(field, low, high, names, &error.to_string()),
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
mod tests;
