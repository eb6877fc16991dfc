//! Validation of the options in `#[lifespan(...)]`: each key known and given once, each value of
//! its form (durations parsed here, at compile time), and the options meaningful together.
//!
//! The rules include every rule of the runtime's `TaskOptions::validate`, so that options that
//! compile are never rejected at startup; they also reject options that would have no effect.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Expr, Ident, Lit, LitStr};

use crate::ast::{Errors, Kind, OptionArg};
use crate::duration;
use crate::suggest;

mod rules;
mod values;

use rules::check_together;
use values::*;

/// The options, checked, in the form expansion passes them to `TaskOptions`.
#[derive(Default)]
pub(crate) struct Options {
    pub(crate) name: Option<LitStr>,
    pub(crate) restart: Option<Restart>,
    /// The first and the longest restart delay, in nanoseconds.
    pub(crate) backoff: Option<(u64, u64)>,
    pub(crate) jitter: Option<bool>,
    pub(crate) max_restarts: Option<u32>,
    pub(crate) within: Option<u64>,
    pub(crate) every: Option<u64>,
    pub(crate) fixed_delay: bool,
    pub(crate) at_startup: bool,
    pub(crate) critical: bool,
    /// `Some(true)` or `Some(false)` as given; `None` if not given, or given a wrong value
    /// (reported), so that the options that need it are not reported again.
    pub(crate) singleton: Option<bool>,
    /// As `singleton`.
    pub(crate) once_per_point: Option<bool>,
    /// The lease settings given, each in nanoseconds; the others take their defaults.
    pub(crate) lease: Option<u64>,
    pub(crate) renew_deadline: Option<u64>,
    pub(crate) retry: Option<u64>,
    pub(crate) hold: Option<u64>,
    /// The policies of a once-per-point task, as given.
    pub(crate) overlap: Option<Overlap>,
    pub(crate) misfire: Option<Misfire>,
    /// In nanoseconds, as the other durations.
    pub(crate) misfire_grace: Option<u64>,
    pub(crate) misfire_limit: Option<u32>,
    /// A cron expression and its zone, checked.
    pub(crate) cron: Option<LitStr>,
    pub(crate) time_zone: Option<LitStr>,
    /// In nanoseconds, as the other durations.
    pub(crate) initial_delay: Option<u64>,
    pub(crate) timeout: Option<u64>,
    pub(crate) run_jitter: Option<u64>,
}

/// The defaults of `LeaseSettings` in the runtime, in nanoseconds, for the lease settings that
/// are not given: a lease of 15 s, a renew deadline of 10 s, a retry period of 2 s. (The runtime's
/// tests of the accepted options compare them with `LeaseSettings::DEFAULT`.)
pub(crate) const DEFAULT_LEASE: u64 = 15_000_000_000;
pub(crate) const DEFAULT_RENEW_DEADLINE: u64 = 10_000_000_000;
pub(crate) const DEFAULT_RETRY: u64 = 2_000_000_000;
// In order, as the rules between lease settings take for granted.
const _: () =
    assert!(DEFAULT_RETRY < DEFAULT_RENEW_DEADLINE && DEFAULT_RENEW_DEADLINE < DEFAULT_LEASE);

impl Options {
    /// Whether the task is a singleton.
    pub(crate) fn is_singleton(&self) -> bool {
        self.singleton == Some(true)
    }

    /// Whether each point of the task's schedule runs on one replica.
    pub(crate) fn is_once_per_point(&self) -> bool {
        self.once_per_point == Some(true)
    }

    /// The lease settings, in nanoseconds, if any is given: the lease, the renew deadline and
    /// the retry period, with the defaults for those not given.
    pub(crate) fn lease_settings(&self) -> Option<(u64, u64, u64)> {
        if self.lease.is_none() && self.renew_deadline.is_none() && self.retry.is_none() {
            return None;
        }
        Some((
            self.lease.unwrap_or(DEFAULT_LEASE),
            self.renew_deadline.unwrap_or(DEFAULT_RENEW_DEADLINE),
            self.retry.unwrap_or(DEFAULT_RETRY),
        ))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Restart {
    Never,
    OnFailure,
    Always,
}

const RESTARTS: [(&str, Restart); 3] = [
    ("never", Restart::Never),
    ("on_failure", Restart::OnFailure),
    ("always", Restart::Always),
];

/// Whether a point may start while an earlier run is in flight: the runtime's `Overlap`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Overlap {
    Forbid,
    Allow,
}

const OVERLAPS: [(&str, Overlap); 2] = [("forbid", Overlap::Forbid), ("allow", Overlap::Allow)];

/// What becomes of the points missed: the runtime's `Misfire`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Misfire {
    Skip,
    Latest,
    All,
}

const MISFIRES: [(&str, Misfire); 3] = [
    ("skip", Misfire::Skip),
    ("latest", Misfire::Latest),
    ("all", Misfire::All),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Name,
    Restart,
    Backoff,
    Jitter,
    MaxRestarts,
    Within,
    Every,
    FixedDelay,
    AtStartup,
    Critical,
    Singleton,
    OncePerPoint,
    Lease,
    RenewDeadline,
    Retry,
    Hold,
    Overlap,
    Misfire,
    MisfireGrace,
    MisfireLimit,
    Cron,
    TimeZone,
    InitialDelay,
    Timeout,
    RunJitter,
}

/// Each key as written, what its value is, and an example, for messages.
const KEYS: [(&str, Key, &str, &str); 25] = [
    ("name", Key::Name, "a string", "name = \"poller\""),
    (
        "restart",
        Key::Restart,
        "`never`, `on_failure` or `always`",
        "restart = on_failure",
    ),
    (
        "backoff",
        Key::Backoff,
        "a string: one delay, or a range from the first delay to the longest",
        "backoff = \"100ms..30s\"",
    ),
    ("jitter", Key::Jitter, "`true` or `false`", "jitter = false"),
    (
        "max_restarts",
        Key::MaxRestarts,
        "a whole number",
        "max_restarts = 5",
    ),
    (
        "within",
        Key::Within,
        "a duration as a string",
        "within = \"1m\"",
    ),
    (
        "every",
        Key::Every,
        "a duration as a string",
        "every = \"5s\"",
    ),
    (
        "fixed_delay",
        Key::FixedDelay,
        "`true` or `false`, or stands alone",
        "fixed_delay",
    ),
    (
        "at_startup",
        Key::AtStartup,
        "`true` or `false`, or stands alone",
        "at_startup",
    ),
    (
        "critical",
        Key::Critical,
        "`true` or `false`, or stands alone",
        "critical",
    ),
    (
        "singleton",
        Key::Singleton,
        "`true` or `false`, or stands alone",
        "singleton",
    ),
    (
        "once_per_point",
        Key::OncePerPoint,
        "`true` or `false`, or stands alone",
        "once_per_point",
    ),
    (
        "lease",
        Key::Lease,
        "a duration as a string",
        "lease = \"15s\"",
    ),
    (
        "renew_deadline",
        Key::RenewDeadline,
        "a duration as a string",
        "renew_deadline = \"10s\"",
    ),
    (
        "retry",
        Key::Retry,
        "a duration as a string",
        "retry = \"2s\"",
    ),
    ("hold", Key::Hold, "a duration as a string", "hold = \"1s\""),
    (
        "overlap",
        Key::Overlap,
        "`forbid` or `allow`",
        "overlap = allow",
    ),
    (
        "misfire",
        Key::Misfire,
        "`skip`, `latest` or `all`",
        "misfire = latest",
    ),
    (
        "misfire_grace",
        Key::MisfireGrace,
        "a duration as a string",
        "misfire_grace = \"10m\"",
    ),
    (
        "misfire_limit",
        Key::MisfireLimit,
        "a whole number",
        "misfire_limit = 5",
    ),
    (
        "cron",
        Key::Cron,
        "a cron expression as a string",
        "cron = \"0 */5 * * * *\"",
    ),
    (
        "time_zone",
        Key::TimeZone,
        "an IANA time zone as a string",
        "time_zone = \"Europe/Berlin\"",
    ),
    (
        "initial_delay",
        Key::InitialDelay,
        "a duration as a string",
        "initial_delay = \"30s\"",
    ),
    (
        "timeout",
        Key::Timeout,
        "a duration as a string",
        "timeout = \"10s\"",
    ),
    (
        "run_jitter",
        Key::RunJitter,
        "a duration as a string",
        "run_jitter = \"5s\"",
    ),
];

impl Key {
    fn name(self) -> &'static str {
        self.info().0
    }

    fn info(self) -> (&'static str, Key, &'static str, &'static str) {
        *KEYS.iter().find(|(_, key, _, _)| *key == self).unwrap()
    }

    fn is_flag(self) -> bool {
        matches!(
            self,
            Key::FixedDelay | Key::AtStartup | Key::Critical | Key::Singleton | Key::OncePerPoint
        )
    }

    /// "`every` takes a duration as a string, as in `every = "5s"`"
    fn wrong_value(self) -> String {
        let (name, _, takes, example) = self.info();
        format!("`{name}` takes {takes}, as in `{example}`")
    }
}

/// Where an option was given: its key, and its value (the key again for a flag).
#[derive(Clone, Copy)]
struct Given {
    key: Span,
    value: Span,
}

/// Checks `args`, the options of the function `name` with the named parameters `params`.
pub(crate) fn validate(
    errors: &mut Errors,
    kind: Kind,
    name: &str,
    params: &[&str],
    args: Vec<OptionArg>,
) -> Options {
    let mut options = Options::default();
    // Each option given, even with a wrong value (reported already), so that the checks between
    // options neither miss it nor report it again.
    let mut given: Vec<(Key, Given)> = Vec::new();
    for arg in args {
        let Some(key) = accepted_key(errors, kind, name, params, &given, &arg) else {
            continue;
        };
        let at = Given {
            key: arg.key.span(),
            value: arg.value.as_ref().map_or(arg.key.span(), Spanned::span),
        };
        given.push((key, at));
        if let Some(value) = value_to_check(errors, &mut options, key, at, arg.value) {
            set_option(errors, &mut options, kind, key, at, &value);
        }
    }
    check_together(errors, &options, &given);
    options
}

/// The key of `arg`, if it is one of the options, not given before, and an option of `kind`;
/// otherwise reported at the key.
fn accepted_key(
    errors: &mut Errors,
    kind: Kind,
    name: &str,
    params: &[&str],
    given: &[(Key, Given)],
    arg: &OptionArg,
) -> Option<Key> {
    let key_name = arg.key.unraw().to_string();
    let Some(&(_, key, _, _)) = KEYS.iter().find(|(known, ..)| *known == key_name) else {
        errors.error(
            arg.key.span(),
            unknown_option(kind, name, &key_name, params),
        );
        return None;
    };
    if given.iter().any(|(seen, _)| *seen == key) {
        errors.error(
            arg.key.span(),
            format!(
                "option `{key_name}` of {} `{name}` is given twice",
                kind.noun()
            ),
        );
        return None;
    }
    if kind == Kind::Context && key != Key::Name {
        errors.error(
            arg.key.span(),
            format!(
                "`{key_name}` applies to tasks only: a lifespan context is set up once per start"
            ),
        );
        return None;
    }
    Some(key)
}

/// The value of `key` to check, if one is given. A flag standing alone is set here; any other
/// key without a value is reported.
fn value_to_check(
    errors: &mut Errors,
    options: &mut Options,
    key: Key,
    at: Given,
    value: Option<Expr>,
) -> Option<Expr> {
    match value {
        Some(value) => Some(unwrap_group(value)),
        None if key.is_flag() => {
            set_flag(options, key, true);
            None
        }
        None => {
            let (key_name, _, _, example) = key.info();
            errors.error(
                at.key,
                format!("`{key_name}` needs a value, as in `{example}`"),
            );
            None
        }
    }
}

/// Checks `value` as the value of `key` and sets the option; reported at the value if it is not
/// of the key's form.
fn set_option(
    errors: &mut Errors,
    options: &mut Options,
    kind: Kind,
    key: Key,
    at: Given,
    value: &Expr,
) {
    match key {
        Key::Name => match string(value) {
            Some(lit) => match name_problem(kind, &lit.value()) {
                Some(problem) => errors.error(lit.span(), problem),
                None => options.name = Some(lit.clone()),
            },
            None => errors.error(at.value, key.wrong_value()),
        },
        Key::Restart => options.restart = policy(errors, key, &RESTARTS, value),
        Key::Overlap => options.overlap = policy(errors, key, &OVERLAPS, value),
        Key::Misfire => options.misfire = policy(errors, key, &MISFIRES, value),
        Key::Backoff => options.backoff = backoff(errors, value),
        Key::Jitter => match boolean(value) {
            Some(jitter) => options.jitter = Some(jitter),
            None => errors.error(at.value, key.wrong_value()),
        },
        Key::MaxRestarts => options.max_restarts = count(errors, key, value),
        Key::MisfireLimit => options.misfire_limit = count(errors, key, value),
        Key::Within => options.within = positive_duration(errors, key, value),
        Key::Every => options.every = positive_duration(errors, key, value),
        Key::Lease => options.lease = positive_duration(errors, key, value),
        Key::RenewDeadline => options.renew_deadline = positive_duration(errors, key, value),
        Key::Retry => options.retry = positive_duration(errors, key, value),
        Key::Hold => options.hold = positive_duration(errors, key, value),
        Key::MisfireGrace => options.misfire_grace = positive_duration(errors, key, value),
        Key::InitialDelay => options.initial_delay = positive_duration(errors, key, value),
        Key::Timeout => options.timeout = positive_duration(errors, key, value),
        Key::RunJitter => options.run_jitter = positive_duration(errors, key, value),
        Key::Cron | Key::TimeZone => match string(value) {
            Some(lit) => match cron_problem(key, &lit.value()) {
                Some(problem) => errors.error(lit.span(), problem),
                None if key == Key::Cron => options.cron = Some(lit.clone()),
                None => options.time_zone = Some(lit.clone()),
            },
            None => errors.error(at.value, key.wrong_value()),
        },
        Key::FixedDelay | Key::AtStartup | Key::Critical | Key::Singleton | Key::OncePerPoint => {
            match boolean(value) {
                Some(on) => set_flag(options, key, on),
                None => errors.error(at.value, key.wrong_value()),
            }
        }
    }
}

/// What is wrong with the cron expression or the time zone `text`, if anything; without the
/// feature `cron`, that it needs the feature.
fn cron_problem(key: Key, text: &str) -> Option<String> {
    #[cfg(feature = "cron")]
    return match key {
        Key::Cron => crate::cron::expression_problem(text),
        _ => crate::cron::zone_problem(text),
    };
    #[cfg(not(feature = "cron"))]
    {
        let _ = text;
        Some(format!(
            "`{}` needs the `cron` feature of lifespan-core: enable it in Cargo.toml, as in `lifespan-core = {{ version = \"0.1\", features = [\"cron\"] }}`",
            key.name()
        ))
    }
}

/// What is wrong with the display name `name`, if anything: it is empty, or it holds a
/// character that would forge or garble the log lines it is written into. The runtime's
/// `TaskOptions::validate` refuses the same.
fn name_problem(kind: Kind, name: &str) -> Option<String> {
    if name.is_empty() {
        return Some(format!(
            "`name` cannot be empty: leave it out to show the {} under its path",
            kind.noun()
        ));
    }
    let c = name.chars().find(|&c| {
        c.is_control()
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    })?;
    Some(format!(
        "`name` cannot contain {c:?} (U+{:04X}): a control character, line separator or bidirectional control would forge or garble the log lines the name is written into",
        u32::from(c)
    ))
}

/// A flag: `critical`, or `critical = true`.
fn set_flag(options: &mut Options, key: Key, on: bool) {
    match key {
        Key::FixedDelay => options.fixed_delay = on,
        Key::AtStartup => options.at_startup = on,
        Key::Critical => options.critical = on,
        Key::Singleton => options.singleton = Some(on),
        Key::OncePerPoint => options.once_per_point = Some(on),
        _ => unreachable!("not a flag"),
    }
}

/// An option key that is none of the options: perhaps a keyword argument, perhaps a typo.
fn unknown_option(kind: Kind, name: &str, key: &str, params: &[&str]) -> String {
    if params.contains(&key) {
        return format!(
            "`{key}` is a keyword argument, not an option: it belongs in `#[{}({key} = ...)]`",
            kind.macro_name()
        );
    }
    let noun = kind.noun();
    let known: Vec<&str> = match kind {
        Kind::Task => KEYS.iter().map(|(known, ..)| *known).collect(),
        Kind::Context => vec!["name"],
    };
    let mut message = match kind {
        Kind::Task => {
            let list = known
                .iter()
                .map(|known| format!("`{known}`"))
                .collect::<Vec<_>>()
                .join(", ");
            format!("unknown option `{key}` for {noun} `{name}`; the options are {list}")
        }
        Kind::Context => format!(
            "unknown option `{key}` for {noun} `{name}`; the only option of a context is `name`"
        ),
    };
    suggest::append(&mut message, suggest::did_you_mean(key, &known));
    message
}

#[cfg(test)]
mod tests {
    use super::rules::{
        needs_once_per_point, shown, MISFIRE_GRACE_NEEDS_RUNS, MISFIRE_LIMIT_NEEDS_ALL,
        MISFIRE_LIMIT_ZERO,
    };
    use super::values::listed;
    use super::{Key, Options, DEFAULT_LEASE, DEFAULT_RENEW_DEADLINE, DEFAULT_RETRY};

    const S: u64 = 1_000_000_000;

    #[test]
    fn lease_settings_not_given_take_the_defaults() {
        assert_eq!(Options::default().lease_settings(), None);
        let options = Options {
            lease: Some(30 * S),
            ..Options::default()
        };
        assert_eq!(
            options.lease_settings(),
            Some((30 * S, DEFAULT_RENEW_DEADLINE, DEFAULT_RETRY))
        );
        let options = Options {
            retry: Some(S),
            ..Options::default()
        };
        assert_eq!(
            options.lease_settings(),
            Some((DEFAULT_LEASE, DEFAULT_RENEW_DEADLINE, S))
        );
    }

    /// The runtime's `TaskOptions::validate` refuses the same options in the same words (its
    /// documentation asserts some of them; the root package's `ui` test, all of them, against
    /// the compiler's output).
    #[test]
    fn the_misfire_messages_are_those_of_the_runtime() {
        assert_eq!(
            needs_once_per_point(Key::Overlap),
            "`overlap` applies to once-per-point tasks: add `once_per_point`"
        );
        assert_eq!(
            needs_once_per_point(Key::MisfireLimit),
            "`misfire_limit` applies to once-per-point tasks: add `once_per_point`"
        );
        assert_eq!(
            MISFIRE_GRACE_NEEDS_RUNS,
            "`misfire_grace` applies to `misfire = latest` and `misfire = all`: under `skip`, no missed point runs"
        );
        assert_eq!(
            MISFIRE_LIMIT_NEEDS_ALL,
            "`misfire_limit` applies to `misfire = all`: the other policies run one missed point at most"
        );
        assert_eq!(
            MISFIRE_LIMIT_ZERO,
            "`misfire_limit` must be at least 1; to run no missed point, leave `misfire` at `skip`"
        );
    }

    #[test]
    fn policies_are_listed_as_the_messages_list_them() {
        assert_eq!(
            listed(&["never", "on_failure", "always"]),
            "`never`, `on_failure` and `always`"
        );
        assert_eq!(listed(&["forbid", "allow"]), "`forbid` and `allow`");
    }

    #[test]
    fn durations_are_shown_as_the_runtime_shows_them() {
        assert_eq!(shown(10 * S), "10s");
        assert_eq!(shown(1_500_000_000), "1.5s");
        assert_eq!(shown(250_000_000), "250ms");
    }
}
