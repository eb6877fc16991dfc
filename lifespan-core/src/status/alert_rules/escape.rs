//! Text as the rule file needs it: a PromQL string literal, a YAML scalar, a Prometheus
//! duration and a number of seconds.

use std::fmt::Write as _;
use std::time::Duration;

/// Whether `c` is kept as it is in a quoted scalar: not a control character, nor a character
/// that YAML 1.1 (the YAML of Prometheus' rule files) reads as a line break, nor a byte-order
/// mark.
fn printable(c: char) -> bool {
    !c.is_control() && !matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

/// `value` as a PromQL string literal in double quotes: backslashes, double quotes and the
/// characters that are not [printable] escaped, so that the literal holds on one line of
/// printable characters whatever the value.
pub(crate) fn promql_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if !printable(c) => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `value` as a YAML scalar: single-quoted (a quote doubled) if it holds only [printable]
/// characters, else double-quoted with the others escaped, as a PromQL literal escapes them
/// (YAML's double-quoted scalars take the same escapes: `\\`, `\"`, `\n`, `\r`, `\t`,
/// `\uXXXX`).
pub(crate) fn yaml_string(value: &str) -> String {
    if value.chars().all(printable) {
        return format!("'{}'", value.replace('\'', "''"));
    }
    promql_string(value)
}

/// `value` as the text of a Go template that expands to `value`: Prometheus expands the labels
/// and annotations of an alerting rule as templates, so each `{{` is written as the action
/// `{{"{{"}}`, which prints it.
pub(crate) fn template_text(value: &str) -> String {
    value.replace("{{", r#"{{"{{"}}"#)
}

/// `duration` as a Prometheus duration (`for:`), in whole milliseconds rounded up: `90s`,
/// `400ms`.
pub(crate) fn prometheus_duration(duration: Duration) -> String {
    let millis = duration
        .as_millis()
        .saturating_add(u128::from(duration.subsec_nanos() % 1_000_000 != 0));
    if millis % 1000 == 0 {
        format!("{}s", millis / 1000)
    } else {
        format!("{millis}ms")
    }
}

/// `duration` in seconds, as a PromQL number: `6`, `0.4`.
pub(crate) fn seconds(duration: Duration) -> String {
    format!("{}", duration.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_promql_string_escapes_quotes_backslashes_and_control_characters() {
        assert_eq!(promql_string("plain"), r#""plain""#);
        assert_eq!(promql_string(r#"a "b" \c"#), r#""a \"b\" \\c""#);
        assert_eq!(promql_string("a\nb\tc\u{7}"), r#""a\nb\tc\u0007""#);
        assert_eq!(promql_string("l\u{2028}s"), r#""l\u2028s""#);
        assert_eq!(promql_string("café 'x'"), r#""café 'x'""#);
    }

    #[test]
    fn a_yaml_string_is_single_quoted_unless_it_holds_control_characters() {
        assert_eq!(yaml_string("it's"), "'it''s'");
        assert_eq!(yaml_string(r#"a "b" \c"#), r#"'a "b" \c'"#);
        assert_eq!(yaml_string("a\nb\"\\"), r#""a\nb\"\\""#);
        assert_eq!(yaml_string("x\u{85}"), r#""x\u0085""#);
    }

    #[test]
    fn template_text_prints_double_braces_rather_than_running_them() {
        assert_eq!(template_text("plain } {"), "plain } {");
        assert_eq!(template_text("{{ x }}"), r#"{{"{{"}} x }}"#);
        assert_eq!(template_text("{{{"), r#"{{"{{"}}{"#);
    }

    #[test]
    fn durations_are_in_seconds_or_milliseconds_rounded_up() {
        assert_eq!(prometheus_duration(Duration::from_secs(90)), "90s");
        assert_eq!(prometheus_duration(Duration::from_millis(400)), "400ms");
        assert_eq!(prometheus_duration(Duration::from_micros(1500)), "2ms");
        assert_eq!(seconds(Duration::from_millis(400)), "0.4");
        assert_eq!(seconds(Duration::from_secs(6)), "6");
    }
}
