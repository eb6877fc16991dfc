//! How the runs of a periodic task are timed, beyond its period: a cron schedule in place of
//! `every`, a delay before the first run, a time limit per run, and a random delay per run.
//! The options themselves are [`TaskOptions`]; their rules are checked in
//! [`TaskOptions::validate`] through [`TaskOptions::timing_problem`].

#[cfg(feature = "cron")]
use std::borrow::Cow;
use std::time::Duration;

use crate::replicas::PointTime;
#[cfg(feature = "cron")]
use crate::schedules::cron::CronError;
use crate::schedules::options::{Schedule, TaskOptions};

impl TaskOptions {
    /// Runs the task on a cron schedule, in place of [`every`](Self::every): at each
    /// occurrence of `expression`, in UTC unless a [`time_zone`](Self::time_zone) is given.
    /// Feature `cron`.
    ///
    /// The expression has 6 fields, `second minute hour day-of-month month day-of-week`, or 5
    /// without the seconds (which are then 0), as crontab writes them; no year field. Each
    /// field takes numbers, ranges (`1-5`), lists (`1,15`), steps (`*/5`) and, for months and
    /// days of the week, names (`JAN`, `MON-FRI`); the nicknames `@hourly`, `@daily`,
    /// `@weekly`, `@monthly` and `@yearly` are accepted too. When both the day of the month
    /// and the day of the week are given, a day matching either runs, as in crontab.
    ///
    /// Everything else is as for `every`: arguments evaluated anew for each run, shutdown
    /// during the wait ends the task `Cancelled`, a failed run is retried after the restart
    /// delay if it [restarts](Self::restart) on failure (and the schedule goes on from there),
    /// and a run that overruns the next occurrences skips them: the next run is at the first
    /// occurrence after it ended, never a burst.
    ///
    /// The next occurrence is computed on the wall clock and slept for on tokio's clock
    /// (under paused tokio time, the wall clock moves on with tokio's). At daylight-saving
    /// changes:
    /// - a time skipped by the clocks going forward: a schedule at a fixed time of day
    ///   (`0 30 2 * * *`) runs at the first instant after the gap (03:00); a repeating one
    ///   (`0 */15 * * * *`) has no occurrence in the gap;
    /// - a time repeated by the clocks going back: a schedule at a fixed time of day runs
    ///   **once**, at the first of the two; a repeating one runs at each real occurrence, so
    ///   that `0 */15 * * * *` still runs every 15 minutes through the repeated hour.
    ///
    /// With [`once_per_point`](Self::once_per_point), every replica computes the occurrence on
    /// its own clock and claims it by its time: the replicas' clocks must agree within less
    /// than the shortest gap between two occurrences.
    ///
    /// ```
    /// use lifespan_core::TaskOptions;
    ///
    /// // Every five minutes, on the minute, Berlin time.
    /// let options = TaskOptions::new().cron("0 */5 * * * *")?.time_zone("Europe/Berlin")?;
    /// assert_eq!(options.validate(), Ok(()));
    ///
    /// let error = TaskOptions::new().cron("0 */5 24 * * *").unwrap_err();
    /// assert_eq!(error.to_string(), "the cron expression's hours field `24` is out of range 0–23");
    /// # Ok::<(), lifespan_core::CronError>(())
    /// ```
    #[cfg(feature = "cron")]
    pub fn cron(mut self, expression: &str) -> Result<Self, CronError> {
        crate::schedules::cron::check(expression)?;
        self.cron = Some(Cow::Owned(expression.to_owned()));
        Ok(self)
    }

    /// The IANA time zone of the [cron schedule](Self::cron), as in `"Europe/Berlin"`.
    /// Default: UTC. Feature `cron`.
    #[cfg(feature = "cron")]
    pub fn time_zone(mut self, zone: &str) -> Result<Self, CronError> {
        crate::schedules::cron::parse_zone(zone)?;
        self.time_zone = Some(Cow::Owned(zone.to_owned()));
        Ok(self)
    }

    /// A cron schedule and zone checked at compile time by `#[lifespan(cron = "...")]`.
    #[cfg(feature = "cron")]
    #[doc(hidden)]
    pub const fn cron_checked_by_macro(
        mut self,
        expression: &'static str,
        zone: Option<&'static str>,
    ) -> Self {
        // Built on the macro's fresh options, which hold no owned text: nothing is leaked.
        std::mem::forget(self.cron.replace(Cow::Borrowed(expression)));
        let zone = match zone {
            Some(zone) => Some(Cow::Borrowed(zone)),
            None => None,
        };
        std::mem::forget(std::mem::replace(&mut self.time_zone, zone));
        self
    }

    /// Delays a periodic task's first run by `delay` after its start: with `every`, in place
    /// of the first period; with a cron schedule, the first run is at the first occurrence at
    /// least `delay` after the start. It does not go with [`at_startup`](Self::at_startup),
    /// which says the first run is at once. With `once_per_point` and `every`, the replica
    /// claims the first point at least `delay` after its start. Default: none.
    pub const fn initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = Some(delay);
        self
    }

    /// Limits each run of a periodic task to `limit`. A run still going then is cancelled,
    /// dropped where it awaits, as by `tokio::time::timeout` (its destructors run; it is not
    /// first signalled, since its [`Shutdown`](crate::Shutdown) is for the app's shutdown), and
    /// counts as failed with the error "run timed out after 10s": it is then retried or
    /// not by the [restart](Self::restart) rules, as any failed run. Default: none.
    pub const fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    /// Delays each scheduled run of a periodic task by a random time between zero and `jitter`
    /// (drawn anew for each run), so that replicas or tasks on the same schedule do not all
    /// start at the same instant. The schedule itself does not drift: each run is due at its
    /// point or occurrence, and jittered from there. With `every`, it must be shorter than the
    /// period; with a cron schedule, shorter than the shortest gap between two of its
    /// occurrences (looked for over eight years from 2024, or its first 2,000 occurrences).
    /// (Not [`jitter`](Self::jitter), which spreads restart delays.) Default: none.
    ///
    /// ```
    /// # #[cfg(feature = "cron")]
    /// # fn main() -> Result<(), lifespan_core::CronError> {
    /// use lifespan_core::{App, TaskOptions};
    /// use std::time::Duration;
    ///
    /// // At :00 and :05 past each hour: the shortest gap is 5 minutes.
    /// let options = TaskOptions::new().cron("0 0,5 * * * *")?.run_jitter(Duration::from_secs(300));
    /// let error = App::empty().register_task_with("digest", options, || async {}).unwrap_err();
    /// assert!(error.to_string().contains("`run_jitter` (300s) must be shorter than the shortest gap between the occurrences of the cron schedule `0 0,5 * * * *` (300s)"));
    /// # Ok(())
    /// # }
    /// # #[cfg(not(feature = "cron"))]
    /// # fn main() {}
    /// ```
    pub const fn run_jitter(mut self, jitter: Duration) -> Self {
        self.run_jitter = jitter;
        self
    }

    /// Whether the task runs periodically: `every` or a cron schedule.
    pub(crate) fn is_periodic(&self) -> bool {
        self.every.is_some() || self.cron.is_some()
    }

    /// The number of the point of this task's schedule at `point` (µs since the Unix epoch),
    /// as [`Point::number`](crate::Point::number) says: `n` for the point due at `n × every`;
    /// for a cron schedule (feature `cron`), its time in seconds since the Unix epoch.
    pub(crate) fn point_number(&self, point: PointTime) -> i64 {
        let per_number = if cfg!(feature = "cron") && self.cron.is_some() {
            1_000_000
        } else {
            let period = self.every.unwrap_or_default().as_micros();
            i64::try_from(period).unwrap_or(i64::MAX).max(1)
        };
        point.div_euclid(per_number)
    }

    /// What is wrong with the options that time a periodic task's runs, if anything.
    pub(crate) fn timing_problem(&self) -> Option<&'static str> {
        if self.cron.is_some() {
            if self.every.is_some() {
                return Some("a task runs either `every` period or on a `cron` schedule, not both");
            }
            #[cfg(feature = "cron")]
            if let Some(cron) = &self.cron {
                if crate::schedules::cron::CronSchedule::parse(cron, self.time_zone.as_deref())
                    .is_err()
                {
                    return Some("the cron expression or its time zone is not valid");
                }
            }
            if self.schedule != Schedule::FixedRate {
                return Some("the schedule `FixedDelay` applies to `every`: a cron schedule runs at its occurrences");
            }
            if self.once_per_point && self.at_startup {
                return Some("with a cron schedule, `once_per_point` runs each occurrence on one replica: `at_startup` would run outside the occurrences, on every replica");
            }
        } else if self.time_zone.is_some() {
            return Some("`time_zone` applies to cron schedules: give one with `cron`");
        }
        if !self.is_periodic()
            && (self.initial_delay.is_some()
                || self.timeout.is_some()
                || !self.run_jitter.is_zero())
        {
            return Some("`initial_delay`, `timeout` and `run_jitter` apply to periodic tasks: give a period with `every` or a schedule with `cron`");
        }
        if self.initial_delay == Some(Duration::ZERO) {
            return Some("`initial_delay` must be longer than zero");
        }
        if self.initial_delay.is_some() && self.at_startup {
            return Some(
                "`initial_delay` and `at_startup` both say when the first run is: keep one",
            );
        }
        if self.timeout == Some(Duration::ZERO) {
            return Some("`timeout` must be longer than zero");
        }
        if self.every.is_some_and(|period| self.run_jitter >= period) {
            return Some("`run_jitter` must be shorter than the period `every`, or runs would drift into the next period");
        }
        #[cfg(feature = "cron")]
        if let Some((problem, _)) = self.cron_gap_problem() {
            return Some(problem);
        }
        None
    }

    /// What is wrong between the cron schedule's shortest gap between occurrences and
    /// `run_jitter` or `hold`, if anything: the rule, and the message with the values.
    #[cfg(feature = "cron")]
    pub(crate) fn cron_gap_problem(&self) -> Option<(&'static str, String)> {
        if self.run_jitter.is_zero() && self.hold.is_zero() {
            return None;
        }
        let cron = self.cron.as_deref()?;
        let schedule =
            crate::schedules::cron::CronSchedule::parse(cron, self.time_zone.as_deref()).ok()?;
        let gap = schedule.shortest_gap()?;
        let shortest = format!(
            "the shortest gap between the occurrences of the cron schedule `{cron}` ({gap:?})"
        );
        if self.run_jitter >= gap {
            return Some((
                "`run_jitter` must be shorter than the shortest gap between the cron schedule's occurrences, or runs would drift into the next occurrence",
                format!(
                    "`run_jitter` ({:?}) must be shorter than {shortest}, or runs would drift into the next occurrence",
                    self.run_jitter
                ),
            ));
        }
        if self.hold >= gap {
            return Some((
                "`hold` must be shorter than the shortest gap between the cron schedule's occurrences, or occurrences would be skipped",
                format!(
                    "`hold` ({:?}) must be shorter than {shortest}, or occurrences would be skipped",
                    self.hold
                ),
            ));
        }
        None
    }
}
