//! Prometheus alerting rules for an app's tasks, with thresholds from each task's own schedule
//! (feature `metrics`): the rules watch the metrics this crate records, and the app knows the
//! schedules, so it can write the rules that are otherwise forgotten.

#[cfg(feature = "cron")]
mod cron_gap;
mod escape;
mod render;
#[cfg(test)]
mod tests;

use std::time::Duration;

use crate::replicas::LeaseSettings;
use crate::schedules::options::TaskOptions;

/// Prometheus alerting rules for an app's periodic and singleton tasks, from
/// [`App::alert_rules`](crate::App::alert_rules); its [`Display`](std::fmt::Display) is a rule
/// file (YAML) of one group, for Prometheus' `rule_files`. Feature `metrics`.
///
/// Per task, labelled `task` with the task's name (its display name, else its full name, as in
/// the metrics), a `period` being its `every`, or for a cron schedule (feature `cron`) the
/// longest gap between two consecutive occurrences (over eight years from 2024), and the
/// [multiplier](Self::multiplier) 2 by default:
///
/// | alert | for | fires when |
/// |---|---|---|
/// | `LifespanTaskNoRecentSuccess` | periodic | the latest success on any replica (`max by (task)` of `lifespan_task_last_success_timestamp_seconds`) is older than multiplier × period, for one more period |
/// | `LifespanTaskNeverSucceeded` | periodic | no replica has a success to show (`absent(...)`), for multiplier × period plus its `initial_delay` |
/// | `LifespanTaskFailedForGood` | periodic, singleton | `lifespan_task_failed_for_good` is 1 on a replica |
/// | `LifespanTaskLeaseNotHeld` | singleton | no replica holds its lease (`sum by (task)` of `lifespan_task_lease_held` below 1), for multiplier × (lease + retry period): longer than a handover after a crash |
///
/// The success timestamps are per process: a replica that restarts forgets its own, and the
/// maximum over the replicas falls back to the others' (or to none: then only
/// `LifespanTaskNeverSucceeded` can fire, once no replica has one). A once-per-point task runs
/// each point on one replica: the maximum over the replicas is what counts.
///
/// The thresholds count periods only, while what Prometheus sees lags by up to a scrape and an
/// evaluation interval (and its first scrapes come seconds after its first evaluations): for
/// tasks whose period is not well above those intervals, raise the
/// [multiplier](Self::multiplier).
#[derive(Clone, Debug)]
pub struct AlertRules {
    group: String,
    labels: Vec<(String, String)>,
    multiplier: f64,
    tasks: Vec<TaskAlerts>,
}

/// What is wrong with an option of [`AlertRules`].
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AlertRulesError {
    /// The group name is empty.
    #[error("the rule group's name must not be empty")]
    EmptyGroup,
    /// A label name is not a Prometheus label name, or is one the rules set themselves.
    #[error("`{name}` cannot be a label of the alerts: give a name of letters, digits and `_`, not starting with a digit nor `__`, other than `task` and `alertname`")]
    LabelName {
        /// The name as given.
        name: String,
    },
    /// The app's selection of registrations
    /// ([`AppBuilder::filter`](crate::AppBuilder::filter)) panicked.
    #[error("the app's selection of lifespan tasks and contexts panicked: {message}")]
    SelectionPanicked {
        /// The panic's message.
        message: String,
    },
    /// The multiplier is below 1 or not a finite number.
    #[error("the threshold multiplier must be a finite number of at least 1, not {multiplier}")]
    Multiplier {
        /// The multiplier as given.
        multiplier: f64,
    },
}

/// What the rules of one task are reckoned from.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TaskAlerts {
    /// The `task` label of its metrics.
    pub(crate) task: String,
    /// `every`, or the longest gap of its cron schedule; `None` if it is not periodic (or its
    /// cron schedule has fewer than two occurrences in the years looked at).
    pub(crate) period: Option<Duration>,
    /// Its `initial_delay`, if any.
    pub(crate) initial_delay: Duration,
    /// The settings of its lease, if it is a singleton.
    pub(crate) lease: Option<LeaseSettings>,
}

impl TaskAlerts {
    /// The rules' view of task `task` with `options`, on an app whose leases are `app_lease`
    /// by default; `None` for a task that is neither periodic nor a singleton.
    pub(crate) fn of(task: &str, options: &TaskOptions, app_lease: LeaseSettings) -> Option<Self> {
        if !options.is_periodic() && !options.singleton {
            return None;
        }
        Some(TaskAlerts {
            task: task.to_owned(),
            period: period(options),
            initial_delay: options.initial_delay.unwrap_or_default(),
            lease: options
                .singleton
                .then(|| options.lease.unwrap_or(app_lease)),
        })
    }
}

/// The period of a task's schedule: `every`, or the longest gap of its cron schedule.
fn period(options: &TaskOptions) -> Option<Duration> {
    if let Some(every) = options.every {
        return Some(every);
    }
    #[cfg(feature = "cron")]
    if let Some(cron) = &options.cron {
        let schedule =
            crate::schedules::cron::CronSchedule::parse(cron, options.time_zone.as_deref()).ok()?;
        return cron_gap::longest_gap(&schedule);
    }
    None
}

/// The default rule group's name.
const DEFAULT_GROUP: &str = "lifespan";

impl AlertRules {
    /// Rules for `tasks`, with the default options.
    pub(crate) fn new(tasks: Vec<TaskAlerts>) -> Self {
        AlertRules {
            group: DEFAULT_GROUP.to_owned(),
            labels: Vec::new(),
            multiplier: 2.0,
            tasks,
        }
    }

    /// The rule group's name. Default: `lifespan`; each app of a Prometheus needs its own.
    pub fn group(mut self, name: impl Into<String>) -> Result<Self, AlertRulesError> {
        let name = name.into();
        if name.is_empty() {
            return Err(AlertRulesError::EmptyGroup);
        }
        self.group = name;
        Ok(self)
    }

    /// A label every alert carries, as in `severity = page`; a second value for a name
    /// replaces the first.
    pub fn label(mut self, name: &str, value: impl Into<String>) -> Result<Self, AlertRulesError> {
        if !is_label_name(name) || matches!(name, "task" | "alertname") {
            return Err(AlertRulesError::LabelName {
                name: name.to_owned(),
            });
        }
        let value = value.into();
        match self.labels.iter_mut().find(|(known, _)| known == name) {
            Some((_, known)) => *known = value,
            None => self.labels.push((name.to_owned(), value)),
        }
        Ok(self)
    }

    /// How many periods without a success make an alert, and how many handovers without a
    /// lease holder; at least 1. Default: 2.
    pub fn multiplier(mut self, multiplier: f64) -> Result<Self, AlertRulesError> {
        if !multiplier.is_finite() || multiplier < 1.0 {
            return Err(AlertRulesError::Multiplier { multiplier });
        }
        self.multiplier = multiplier;
        Ok(self)
    }

    /// The names of the tasks the rules watch, in the app's start order.
    pub fn tasks(&self) -> impl Iterator<Item = &str> {
        self.tasks.iter().map(|task| task.task.as_str())
    }

    /// `duration` times the multiplier (saturating).
    fn times(&self, duration: Duration) -> Duration {
        Duration::try_from_secs_f64(duration.as_secs_f64() * self.multiplier)
            .unwrap_or(Duration::MAX)
    }
}

/// Whether `name` is a Prometheus label name that users may set: `[a-zA-Z_][a-zA-Z0-9_]*`,
/// not starting with `__` (reserved for Prometheus itself).
fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}
