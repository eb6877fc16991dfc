//! The rules between options: each reported at the option that breaks it.

use super::*;

/// Where `key` was given, if it was.
fn given_at(given: &[(Key, Given)], key: Key) -> Option<Given> {
    given
        .iter()
        .find(|(seen, _)| *seen == key)
        .map(|(_, at)| *at)
}

/// The rules between options, each reported at the option that breaks it.
pub(super) fn check_together(errors: &mut Errors, options: &Options, given: &[(Key, Given)]) {
    let at = |key: Key| given_at(given, key);
    // A restart policy given with a wrong value does not also make these unwanted.
    let restarts = at(Key::Restart).is_some() && options.restart != Some(Restart::Never);
    if !restarts {
        for key in [Key::Backoff, Key::Jitter, Key::MaxRestarts, Key::Within] {
            if let Some(at) = at(key) {
                errors.error(
                    at.key,
                    format!(
                        "`{}` has no effect without `restart = on_failure` or `restart = always`",
                        key.name()
                    ),
                );
            }
        }
    }
    if let (Some(within), None) = (at(Key::Within), at(Key::MaxRestarts)) {
        errors.error(
            within.key,
            "`within` needs `max_restarts`: the number of restarts allowed within it, as in `max_restarts = 5`",
        );
    }
    let periodic = at(Key::Every).or(at(Key::Cron));
    if let (Some(Restart::Always), Some(_), Some(restart)) =
        (options.restart, periodic, at(Key::Restart))
    {
        errors.error(
            restart.value,
            "a periodic task runs again after every run that succeeds: use `restart = on_failure`",
        );
    }
    if periodic.is_none() {
        let flags = [
            (options.fixed_delay, Key::FixedDelay),
            (options.at_startup, Key::AtStartup),
            (options.is_once_per_point(), Key::OncePerPoint),
        ];
        for (on, key) in flags {
            if let (true, Some(at)) = (on, at(key)) {
                errors.error(at.key, needs_periodic(key));
            }
        }
    }
    check_timing(errors, options, given);
    check_replicas(errors, options, given);
}

/// "`timeout` applies to periodic tasks: ..."
fn needs_periodic(key: Key) -> String {
    format!(
        "`{}` applies to periodic tasks: give a period, as in `every = \"5s\"`, or a schedule, as in `cron = \"0 */5 * * * *\"`",
        key.name()
    )
}

/// The rules of the options that time a periodic task's runs, those of the runtime's
/// `TaskOptions::timing_problem`.
fn check_timing(errors: &mut Errors, options: &Options, given: &[(Key, Given)]) {
    let at = |key: Key| given_at(given, key);
    if let (Some(_), Some(_)) = (at(Key::Every), at(Key::Cron)) {
        // Reported at the one given last: the other was there first.
        let last = given
            .iter()
            .rev()
            .find(|(key, _)| matches!(key, Key::Every | Key::Cron))
            .map(|(_, at)| *at);
        let Some(last) = last else { return };
        errors.error(
            last.key,
            "a task runs either `every` period or on a `cron` schedule, not both: keep one",
        );
    }
    if at(Key::Cron).is_some() {
        if let (true, Some(fixed)) = (options.fixed_delay, at(Key::FixedDelay)) {
            errors.error(
                fixed.key,
                "`fixed_delay` applies to `every`: a cron schedule runs at its occurrences",
            );
        }
        if let (true, true, Some(startup)) = (
            options.is_once_per_point(),
            options.at_startup,
            at(Key::AtStartup),
        ) {
            errors.error(startup.key, "with `cron`, `once_per_point` runs each occurrence on one replica: `at_startup` would run outside the occurrences, on every replica; leave it out");
        }
    } else if let Some(zone) = at(Key::TimeZone) {
        errors.error(
            zone.key,
            "`time_zone` applies to cron schedules: give one, as in `cron = \"0 0 3 * * *\"`",
        );
    }
    let periodic = at(Key::Every).is_some() || at(Key::Cron).is_some();
    for key in [Key::InitialDelay, Key::Timeout, Key::RunJitter] {
        match at(key) {
            Some(given) if !periodic => errors.error(given.key, needs_periodic(key)),
            _ => {}
        }
    }
    if let (true, Some(delay)) = (options.at_startup, at(Key::InitialDelay)) {
        errors.error(
            delay.key,
            "`initial_delay` and `at_startup` both say when the first run is: keep one",
        );
    }
    if let (Some(jitter), Some(every), Some(jitter_at)) =
        (options.run_jitter, options.every, at(Key::RunJitter))
    {
        if jitter >= every {
            errors.error(
                jitter_at.value,
                format!(
                    "`run_jitter` ({}) must be shorter than the period `every` ({}), or runs would drift into the next period",
                    shown(jitter),
                    shown(every)
                ),
            );
        }
    }
    #[cfg(feature = "cron")]
    check_cron_gaps(errors, options, given);
}

/// `run_jitter` and `hold` against the shortest gap between a cron schedule's occurrences,
/// those of the runtime's `TaskOptions::cron_gap_problem`.
#[cfg(feature = "cron")]
fn check_cron_gaps(errors: &mut Errors, options: &Options, given: &[(Key, Given)]) {
    let at = |key: Key| given_at(given, key);
    let (Some(cron), true) = (
        &options.cron,
        options.run_jitter.is_some() || options.hold.is_some(),
    ) else {
        return;
    };
    let expression = cron.value();
    let zone = options.time_zone.as_ref().map(LitStr::value);
    let Some(gap) = crate::cron::shortest_gap(&expression, zone.as_deref()) else {
        return;
    };
    let shortest = format!(
        "the shortest gap between the occurrences of the cron schedule `{expression}` ({})",
        shown(gap)
    );
    if let (Some(jitter), Some(jitter_at)) = (options.run_jitter, at(Key::RunJitter)) {
        if jitter >= gap {
            errors.error(
                jitter_at.value,
                format!(
                    "`run_jitter` ({}) must be shorter than {shortest}, or runs would drift into the next occurrence",
                    shown(jitter)
                ),
            );
        }
    }
    if let (Some(hold), Some(hold_at), Some(true)) =
        (options.hold, at(Key::Hold), options.once_per_point)
    {
        if hold >= gap {
            errors.error(
                hold_at.value,
                format!(
                    "`hold` ({}) must be shorter than {shortest}, or occurrences would be skipped",
                    shown(hold)
                ),
            );
        }
    }
}

/// The rules of the options of replicas, those of the runtime's
/// `TaskOptions::coordination_problem`.
fn check_replicas(errors: &mut Errors, options: &Options, given: &[(Key, Given)]) {
    let at = |key: Key| given_at(given, key);
    if options.is_singleton() && options.is_once_per_point() {
        // Reported at the one given last: the other was there first.
        let last = given
            .iter()
            .rev()
            .find(|(key, _)| matches!(key, Key::Singleton | Key::OncePerPoint));
        if let Some((_, last)) = last {
            errors.error(
                last.key,
                "a task is either `singleton` (one replica runs it) or `once_per_point` (one replica runs each point of its schedule), not both: keep one",
            );
        }
    }
    // A flag given a wrong value (reported already) does not also make these unwanted.
    let singleton_off = at(Key::Singleton).is_none() || options.singleton == Some(false);
    if singleton_off {
        for key in [Key::Lease, Key::RenewDeadline, Key::Retry] {
            if let Some(at) = at(key) {
                errors.error(
                    at.key,
                    format!(
                        "`{}` applies to singleton tasks: add `singleton`",
                        key.name()
                    ),
                );
            }
        }
    } else {
        check_lease(errors, options, given);
    }
    // As for `singleton` above.
    let once_per_point_off =
        at(Key::OncePerPoint).is_none() || options.once_per_point == Some(false);
    if let Some(hold_at) = at(Key::Hold) {
        if once_per_point_off {
            errors.error(hold_at.key, needs_once_per_point(Key::Hold));
        } else if let (Some(hold), Some(every)) = (options.hold, options.every) {
            if hold >= every {
                errors.error(
                    hold_at.value,
                    format!(
                        "`hold` ({}) must be shorter than the period `every` ({}), or points would be skipped: give a shorter `hold`",
                        shown(hold),
                        shown(every)
                    ),
                );
            }
        }
    }
    check_misfire(errors, options, given, once_per_point_off);
}

/// "`hold` applies to once-per-point tasks: add `once_per_point`", as the runtime says it.
pub(super) fn needs_once_per_point(key: Key) -> String {
    format!(
        "`{}` applies to once-per-point tasks: add `once_per_point`",
        key.name()
    )
}

/// The messages of the runtime's `TaskOptions::misfire_problem`, word for word (and
/// `needs_once_per_point`, and "`misfire_grace` must be longer than zero" as for any duration).
pub(super) const MISFIRE_LIMIT_ZERO: &str =
    "`misfire_limit` must be at least 1; to run no missed point, leave `misfire` at `skip`";
pub(super) const MISFIRE_GRACE_NEEDS_RUNS: &str = "`misfire_grace` applies to `misfire = latest` and `misfire = all`: under `skip`, no missed point runs";
pub(super) const MISFIRE_LIMIT_NEEDS_ALL: &str =
    "`misfire_limit` applies to `misfire = all`: the other policies run one missed point at most";

/// The overlap and misfire policies: for once-per-point tasks only; the grace period for the
/// policies that run missed points, the limit for `misfire = all`. Those of the runtime's
/// `TaskOptions::misfire_problem`, which refuses a value other than the default where this
/// refuses any value given.
fn check_misfire(
    errors: &mut Errors,
    options: &Options,
    given: &[(Key, Given)],
    once_per_point_off: bool,
) {
    let at = |key: Key| given_at(given, key);
    if once_per_point_off {
        for key in [
            Key::Overlap,
            Key::Misfire,
            Key::MisfireGrace,
            Key::MisfireLimit,
        ] {
            if let Some(at) = at(key) {
                errors.error(at.key, needs_once_per_point(key));
            }
        }
        return;
    }
    // A policy given a wrong value (reported already) does not also make these unwanted.
    if at(Key::Misfire).is_some() && options.misfire.is_none() {
        return;
    }
    let misfire = options.misfire.unwrap_or(Misfire::Skip);
    if let (Misfire::Skip, Some(grace)) = (misfire, at(Key::MisfireGrace)) {
        errors.error(grace.key, MISFIRE_GRACE_NEEDS_RUNS);
    }
    if let (false, Some(limit)) = (misfire == Misfire::All, at(Key::MisfireLimit)) {
        errors.error(limit.key, MISFIRE_LIMIT_NEEDS_ALL);
    }
}

/// One of the lease settings, for the rules between them.
struct Setting {
    key: Key,
    /// How messages call it: "the renew deadline".
    noun: &'static str,
    /// Its value, given or the default, in nanoseconds.
    nanos: u64,
    default: u64,
    at: Option<Given>,
}

/// The lease settings of a singleton: the renew deadline shorter than the lease, the retry period
/// shorter than the renew deadline, the settings not given taking their defaults. (The runtime
/// also refuses a lease too long for a database, over 2^62 milliseconds, longer than any duration
/// written here.)
fn check_lease(errors: &mut Errors, options: &Options, given: &[(Key, Given)]) {
    let Some((lease, renew_deadline, retry)) = options.lease_settings() else {
        return;
    };
    let setting = |key: Key, noun, nanos, default, value: Option<u64>| {
        let at = given_at(given, key);
        // A value given wrong is reported already: no rule is checked against it.
        (at.is_none() || value.is_some()).then_some(Setting {
            key,
            noun,
            nanos,
            default,
            at,
        })
    };
    let (Some(lease), Some(renew_deadline), Some(retry)) = (
        setting(Key::Lease, "the lease", lease, DEFAULT_LEASE, options.lease),
        setting(
            Key::RenewDeadline,
            "the renew deadline",
            renew_deadline,
            DEFAULT_RENEW_DEADLINE,
            options.renew_deadline,
        ),
        setting(
            Key::Retry,
            "the retry period",
            retry,
            DEFAULT_RETRY,
            options.retry,
        ),
    ) else {
        return;
    };
    check_shorter(errors, &renew_deadline, &lease, "");
    check_shorter(
        errors,
        &retry,
        &renew_deadline,
        ", so that the holder can try to renew at least once",
    );
}

/// Reports `shorter` if it is not shorter than `longer`, at the value of the one given, and
/// suggests changing it; if both are given, at `shorter`.
fn check_shorter(errors: &mut Errors, shorter: &Setting, longer: &Setting, why: &str) {
    if shorter.nanos < longer.nanos {
        return;
    }
    let (s, l) = (shorter.key.name(), longer.key.name());
    let (span, fix) = match (shorter.at, longer.at) {
        (Some(at), Some(_)) => (at.value, format!("give a shorter `{s}` or a longer `{l}`")),
        (Some(at), None) => (
            at.value,
            format!(
                "give a shorter `{s}`, or a longer `{l}`, which is {} unless given",
                shown(longer.default)
            ),
        ),
        (None, Some(at)) => (
            at.value,
            format!(
                "give a shorter `{s}`, which is {} unless given",
                shown(shorter.default)
            ),
        ),
        // The defaults are in order.
        (None, None) => return,
    };
    errors.error(
        span,
        format!(
            "{} ({}) must be shorter than {} ({}){why}: {fix}",
            shorter.noun,
            shown(shorter.nanos),
            longer.noun,
            shown(longer.nanos)
        ),
    );
}

/// A duration as the runtime shows it: `10s`, `1.5s`, `250ms`.
pub(super) fn shown(nanos: u64) -> String {
    format!("{:?}", std::time::Duration::from_nanos(nanos))
}
