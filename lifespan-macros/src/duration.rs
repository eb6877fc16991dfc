//! Durations as the options write them: `"250ms"`, `"1.5s"`, `"1m30s"`, `"5 s"`.

use crate::suggest;

/// The units, with their length in nanoseconds, as listed in messages.
const UNITS: [(&str, u64); 6] = [
    ("ns", 1),
    ("us", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Other spellings of the units, for a suggestion.
const ALIASES: [(&str, &str); 16] = [
    ("nsec", "ns"),
    ("µs", "us"),
    ("μs", "us"),
    ("usec", "us"),
    ("msec", "ms"),
    ("sec", "s"),
    ("secs", "s"),
    ("second", "s"),
    ("seconds", "s"),
    ("min", "m"),
    ("mins", "m"),
    ("minute", "m"),
    ("minutes", "m"),
    ("hr", "h"),
    ("hour", "h"),
    ("hours", "h"),
];

/// Parses `text`: one or more `<number><unit>` segments, the number an integer or a decimal,
/// optionally separated by whitespace. The result is in nanoseconds; the error is a message.
pub(crate) fn parse(text: &str) -> Result<u64, String> {
    let invalid = |reason: String| format!("invalid duration `{text}`: {reason}");
    if text.trim().is_empty() {
        return Err("empty duration: give a number and a unit, as in `5s`".to_owned());
    }
    let mut rest = text.trim_start();
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let whole_len = digits(rest);
        if whole_len == 0 {
            return Err(invalid(format!("expected a number, found `{rest}`")));
        }
        let whole = &rest[..whole_len];
        let mut number_len = whole_len;
        let mut fraction = "";
        if rest[whole_len..].starts_with('.') {
            let after = &rest[whole_len + 1..];
            let fraction_len = digits(after);
            if fraction_len > 0 {
                fraction = &after[..fraction_len];
                number_len += 1 + fraction_len;
            }
        }
        let number = &rest[..number_len];
        rest = rest[number_len..].trim_start();
        let unit_len = rest
            .find(|c: char| !c.is_alphabetic())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = rest[unit_len..].trim_start();
        if unit.is_empty() && rest.is_empty() {
            return Err(invalid(format!("give a unit, as in `{number}s`")));
        }
        if unit.is_empty() {
            return Err(invalid(format!(
                "expected a unit after `{number}`, found `{rest}`"
            )));
        }
        let Some(&(_, nanos)) = UNITS.iter().find(|(name, _)| *name == unit) else {
            return Err(invalid(unknown_unit(unit)));
        };
        let value = segment(whole, fraction, nanos).ok_or_else(|| {
            invalid(format!(
                "`{number}{unit}` is not a whole number of nanoseconds"
            ))
        })?;
        total = total.saturating_add(value);
    }
    u64::try_from(total).map_err(|_| {
        invalid("too long: a duration is at most about 584 years (2^64 nanoseconds)".to_owned())
    })
}

/// The length of the run of ASCII digits that `text` starts with.
fn digits(text: &str) -> usize {
    text.find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len())
}

/// `whole.fraction` units of `nanos` nanoseconds each, saturated at `u128::MAX`; `None` if it
/// is not a whole number of nanoseconds.
fn segment(whole: &str, fraction: &str, nanos: u64) -> Option<u128> {
    let nanos = u128::from(nanos);
    // Beyond 38 digits, the whole part is too long for a duration anyway.
    let whole = whole.parse::<u128>().unwrap_or(u128::MAX);
    let mut value = whole.saturating_mul(nanos);
    let fraction = fraction.trim_end_matches('0');
    if !fraction.is_empty() {
        // An hour is 3.6e12 ns: a fraction of more than 13 significant digits cannot be a whole
        // number of nanoseconds, and 19 digits times a unit still fit in a `u128`.
        if fraction.len() > 19 {
            return None;
        }
        let scale = 10u128.pow(fraction.len() as u32);
        let scaled = fraction.parse::<u128>().ok()? * nanos;
        if scaled % scale != 0 {
            return None;
        }
        value = value.saturating_add(scaled / scale);
    }
    Some(value)
}

/// The message for a unit that is none of [`UNITS`], suggesting the unit it may spell.
fn unknown_unit(unit: &str) -> String {
    let list = UNITS
        .iter()
        .map(|(name, _)| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut message = format!("unknown unit `{unit}`; units are {list}");
    suggest::append(&mut message, meant_unit(unit));
    message
}

/// The unit that `unit` is another spelling of: the same in another case, or an alias.
fn meant_unit(unit: &str) -> Option<&'static str> {
    let lower = unit.to_lowercase();
    UNITS
        .iter()
        .map(|(name, _)| *name)
        .find(|name| *name == lower)
        .or_else(|| {
            ALIASES
                .iter()
                .find(|(alias, _)| *alias == lower)
                .map(|(_, name)| *name)
        })
}

#[cfg(test)]
mod tests {
    use super::parse;

    const S: u64 = 1_000_000_000;

    #[test]
    fn every_unit() {
        assert_eq!(parse("7ns"), Ok(7));
        assert_eq!(parse("7us"), Ok(7_000));
        assert_eq!(parse("250ms"), Ok(250_000_000));
        assert_eq!(parse("5s"), Ok(5 * S));
        assert_eq!(parse("2m"), Ok(120 * S));
        assert_eq!(parse("2h"), Ok(7_200 * S));
    }

    #[test]
    fn decimals() {
        assert_eq!(parse("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse("0.25ms"), Ok(250_000));
        assert_eq!(parse("1.000s"), Ok(S));
        assert_eq!(parse("0.000000001s"), Ok(1));
    }

    #[test]
    fn several_segments_and_whitespace() {
        assert_eq!(parse("1m30s"), Ok(90 * S));
        assert_eq!(parse("1h 1m 1s"), Ok(3_661 * S));
        assert_eq!(parse("5 s"), Ok(5 * S));
        assert_eq!(parse(" 5s "), Ok(5 * S));
        assert_eq!(parse("1s500ms"), Ok(1_500_000_000));
    }

    #[test]
    fn zero_is_a_duration() {
        assert_eq!(parse("0s"), Ok(0));
        assert_eq!(parse("0.0ms"), Ok(0));
    }

    #[test]
    fn a_number_needs_a_unit() {
        assert_eq!(
            parse("5"),
            Err("invalid duration `5`: give a unit, as in `5s`".into())
        );
        assert_eq!(
            parse("1m30"),
            Err("invalid duration `1m30`: give a unit, as in `30s`".into())
        );
    }

    #[test]
    fn unknown_units_are_listed_and_aliases_suggested() {
        assert_eq!(
            parse("5 parsecs"),
            Err("invalid duration `5 parsecs`: unknown unit `parsecs`; units are `ns`, `us`, `ms`, `s`, `m`, `h`".into())
        );
        assert_eq!(
            parse("5sec"),
            Err("invalid duration `5sec`: unknown unit `sec`; units are `ns`, `us`, `ms`, `s`, `m`, `h` (did you mean `s`?)".into())
        );
        assert_eq!(
            parse("5MS"),
            Err("invalid duration `5MS`: unknown unit `MS`; units are `ns`, `us`, `ms`, `s`, `m`, `h` (did you mean `ms`?)".into())
        );
        assert!(parse("3µs").unwrap_err().ends_with("(did you mean `us`?)"));
    }

    #[test]
    fn malformed_numbers() {
        assert_eq!(
            parse(""),
            Err("empty duration: give a number and a unit, as in `5s`".into())
        );
        assert_eq!(
            parse("  "),
            Err("empty duration: give a number and a unit, as in `5s`".into())
        );
        assert_eq!(
            parse("s"),
            Err("invalid duration `s`: expected a number, found `s`".into())
        );
        assert_eq!(
            parse("-5s"),
            Err("invalid duration `-5s`: expected a number, found `-5s`".into())
        );
        assert_eq!(
            parse(".5s"),
            Err("invalid duration `.5s`: expected a number, found `.5s`".into())
        );
        assert_eq!(
            parse("1.s"),
            Err("invalid duration `1.s`: expected a unit after `1`, found `.s`".into())
        );
        assert_eq!(
            parse("5s,"),
            Err("invalid duration `5s,`: expected a number, found `,`".into())
        );
    }

    #[test]
    fn finer_than_a_nanosecond() {
        assert_eq!(
            parse("1.5ns"),
            Err("invalid duration `1.5ns`: `1.5ns` is not a whole number of nanoseconds".into())
        );
        assert!(parse("0.12345678901234567890123h").is_err());
    }

    #[test]
    fn overflow() {
        assert_eq!(parse("18446744073709551615ns"), Ok(u64::MAX));
        let too_long = "invalid duration `18446744073709551616ns`: too long: a duration is at most about 584 years (2^64 nanoseconds)";
        assert_eq!(parse("18446744073709551616ns"), Err(too_long.into()));
        assert!(parse("6000000h").is_err());
        assert!(parse("99999999999999999999999999999999999999999999h").is_err());
        assert!(parse("10000000000000000000s1s").is_err());
    }
}
