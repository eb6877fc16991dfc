//! Periodic runs timed beyond their period, in virtual time (paused tokio time): cron
//! schedules (feature `cron`), the initial delay, the per-run timeout and the run jitter. Each
//! test on paused time is bounded by 30 s of real time too (`replicas/real_time.rs`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use lifespan_core::{App, Restart, RunOutcome, TaskOptions, TaskOutcome};
use lifespan_test_support::{bounded, WAIT_LIMIT};
use tokio::time::{sleep, Instant};

use super::replicas::real_time::{paused, REAL_LIMIT};

const S: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);

/// When each run began, from the test's start.
#[derive(Clone)]
struct Runs {
    epoch: Instant,
    at: Arc<Mutex<Vec<Duration>>>,
}

impl Runs {
    fn new() -> Self {
        Runs {
            epoch: Instant::now(),
            at: Arc::default(),
        }
    }

    fn push(&self) {
        self.at.lock().unwrap().push(self.epoch.elapsed());
    }

    fn at(&self) -> Vec<Duration> {
        self.at.lock().unwrap().clone()
    }

    /// The time between each run and the next (for the cron schedules' tests).
    #[cfg_attr(not(feature = "cron"), allow(dead_code))]
    fn gaps(&self) -> Vec<Duration> {
        self.at().windows(2).map(|w| w[1] - w[0]).collect()
    }
}

/// An app running `options` by hand as `tick`: each run is logged, then takes `lasting`, then
/// fails if `fail` says so for its number.
fn app_with(options: TaskOptions, runs: &Runs, lasting: Duration, fail: fn(usize) -> bool) -> App {
    let app = App::builder().empty().build();
    let runs = runs.clone();
    app.register_task_with("tick", options, move || {
        let runs = runs.clone();
        async move {
            runs.push();
            let number = runs.at().len();
            sleep(lasting).await;
            if fail(number) {
                anyhow::bail!("run {number} failed");
            }
            Ok(())
        }
    })
    .unwrap();
    app
}

/// Starts `app`, lets `running` of virtual time pass, and shuts it down: how `tick` ended.
async fn run_for(app: &App, running: Duration) -> TaskOutcome {
    bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
    sleep(running).await;
    let report = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
    report.task("tick").unwrap().clone()
}

fn never(_: usize) -> bool {
    false
}

fn near(actual: Duration, expected: Duration) -> bool {
    actual.abs_diff(expected) <= 5 * MS
}

#[test]
fn the_first_run_waits_the_initial_delay_in_place_of_the_period() {
    paused(
        "the_first_run_waits_the_initial_delay_in_place_of_the_period",
        REAL_LIMIT,
        || async {
            let runs = Runs::new();
            let options = TaskOptions::new().every(10 * S).initial_delay(S);
            let app = app_with(options, &runs, MS, never);
            run_for(&app, 25 * S).await;
            let at = runs.at();
            assert_eq!(at.len(), 3, "{at:?}");
            assert!(
                near(at[0], S) && near(at[1], 11 * S) && near(at[2], 21 * S),
                "{at:?}"
            );
        },
    );
}

#[test]
fn a_run_over_its_timeout_is_dropped_and_fails_with_the_limit_in_its_error() {
    paused(
        "a_run_over_its_timeout_is_dropped_and_fails_with_the_limit_in_its_error",
        REAL_LIMIT,
        || async {
            let runs = Runs::new();
            let options = TaskOptions::new().every(10 * S).at_startup(true).timeout(S);
            let app = app_with(options, &runs, 5 * S, never);
            let ended = run_for(&app, 30 * S).await;
            // Not restarted: the first run, cut at 1 s, is the last.
            assert_eq!(runs.at().len(), 1);
            match ended {
                TaskOutcome::Failed(error) => {
                    assert_eq!(error.to_string(), "run timed out after 1s")
                }
                other => panic!("ended {other:?}"),
            }
        },
    );
}

#[test]
fn a_timed_out_run_is_retried_by_the_restart_rules_and_the_schedule_goes_on() {
    paused(
        "a_timed_out_run_is_retried_by_the_restart_rules_and_the_schedule_goes_on",
        REAL_LIMIT,
        || async {
            let runs = Runs::new();
            let options = TaskOptions::new()
                .every(10 * S)
                .at_startup(true)
                .timeout(S)
                .restart(Restart::OnFailure)
                .backoff(2 * S, 2 * S)
                .jitter(false);
            // The first run hangs; the others are quick.
            let app = App::builder().empty().build();
            let log = runs.clone();
            app.register_task_with("tick", options, move || {
                let runs = log.clone();
                async move {
                    runs.push();
                    if runs.at().len() == 1 {
                        sleep(3600 * S).await;
                    }
                }
            })
            .unwrap();
            let ended = run_for(&app, 15 * S).await;
            assert_eq!(ended, TaskOutcome::Cancelled);
            let at = runs.at();
            // At 0, cut at 1 s; retried 2 s later, at 3 s; then a period later, at 13 s.
            assert_eq!(at.len(), 3, "{at:?}");
            assert!(near(at[1], 3 * S) && near(at[2], 13 * S), "{at:?}");
        },
    );
}

#[test]
fn a_timed_out_run_shows_as_timed_out_in_the_status_and_its_span() {
    paused(
        "a_timed_out_run_shows_as_timed_out_in_the_status_and_its_span",
        REAL_LIMIT,
        || async {
            let logs = lifespan_test_support::CapturedLogs::default();
            let _capturing = tracing::subscriber::set_default(logs.subscriber());
            let runs = Runs::new();
            let options = TaskOptions::new()
                .every(10 * S)
                .at_startup(true)
                .timeout(S)
                .restart(Restart::OnFailure)
                .backoff(60 * S, 60 * S);
            let app = app_with(options, &runs, 5 * S, never);
            bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
            sleep(2 * S).await;
            let status = app.status();
            let tick = status.task("tick").unwrap();
            let last = tick.last_run.as_ref().expect("the timed-out run");
            assert_eq!((tick.runs, last.outcome), (1, RunOutcome::TimedOut));
            assert_eq!(last.duration, S);
            bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
            let spans = logs.closed_spans();
            let run = spans
                .iter()
                .find(|span| span.name == "lifespan.run")
                .expect("a closed run span");
            assert_eq!(run.field("outcome"), Some("timed_out"));
        },
    );
}

#[test]
fn each_run_is_delayed_by_at_most_its_jitter_and_the_grid_does_not_drift() {
    paused(
        "each_run_is_delayed_by_at_most_its_jitter_and_the_grid_does_not_drift",
        REAL_LIMIT,
        || async {
            let runs = Runs::new();
            let options = TaskOptions::new().every(10 * S).run_jitter(2 * S);
            let app = app_with(options, &runs, MS, never);
            run_for(&app, 105 * S).await;
            let at = runs.at();
            assert_eq!(at.len(), 10, "{at:?}");
            for (index, at) in at.iter().enumerate() {
                let point = 10 * S * (index as u32 + 1);
                assert!(
                    *at >= point && *at <= point + 2 * S,
                    "run {index} at {at:?}"
                );
            }
            // Drawn at random: not all at the same offset.
            let offsets: std::collections::BTreeSet<_> = runs
                .at()
                .iter()
                .enumerate()
                .map(|(index, at)| *at - 10 * S * (index as u32 + 1))
                .collect();
            assert!(offsets.len() > 1, "{offsets:?}");
        },
    );
}

#[test]
fn the_timing_options_are_validated_as_the_macro_checks_them() {
    let periodic = TaskOptions::new().every(10 * S);
    let problem = |options: TaskOptions| options.validate().unwrap_err();
    assert!(problem(TaskOptions::new().timeout(S))
        .starts_with("`initial_delay`, `timeout` and `run_jitter` apply to periodic tasks"));
    assert_eq!(
        problem(periodic.clone().timeout(Duration::ZERO)),
        "`timeout` must be longer than zero"
    );
    assert_eq!(
        problem(periodic.clone().initial_delay(Duration::ZERO)),
        "`initial_delay` must be longer than zero"
    );
    assert_eq!(
        problem(periodic.clone().initial_delay(S).at_startup(true)),
        "`initial_delay` and `at_startup` both say when the first run is: keep one"
    );
    assert!(problem(periodic.clone().run_jitter(10 * S))
        .starts_with("`run_jitter` must be shorter than the period"));
    assert_eq!(
        periodic
            .run_jitter(S)
            .timeout(S)
            .initial_delay(S)
            .validate(),
        Ok(())
    );
}

#[cfg(feature = "cron")]
mod cron {
    use super::*;

    use lifespan_core::{CronError, Schedule};

    #[test]
    fn runs_are_spaced_as_the_cron_expression_says_on_virtual_time() {
        paused(
            "runs_are_spaced_as_the_cron_expression_says_on_virtual_time",
            REAL_LIMIT,
            || async {
                let runs = Runs::new();
                let options = TaskOptions::new().cron("*/2 * * * * *").unwrap();
                let app = app_with(options, &runs, MS, never);
                run_for(&app, 21 * S).await;
                let gaps = runs.gaps();
                assert!(gaps.len() >= 8, "{:?}", runs.at());
                assert!(gaps.iter().all(|gap| near(*gap, 2 * S)), "{gaps:?}");
                // The first run is at the first occurrence: within 2 s of the start.
                assert!(runs.at()[0] <= 2 * S);
            },
        );
    }

    #[test]
    fn a_run_that_overruns_skips_the_missed_occurrences() {
        paused(
            "a_run_that_overruns_skips_the_missed_occurrences",
            REAL_LIMIT,
            || async {
                let runs = Runs::new();
                let options = TaskOptions::new().cron("*/2 * * * * *").unwrap();
                // Each run lasts 5 s: the occurrences 2 and 4 s after its start are skipped, the next
                // run is at the one 6 s after.
                let app = app_with(options, &runs, 5 * S, never);
                run_for(&app, 40 * S).await;
                let gaps = runs.gaps();
                assert!(gaps.len() >= 4, "{:?}", runs.at());
                assert!(gaps.iter().all(|gap| near(*gap, 6 * S)), "{gaps:?}");
            },
        );
    }

    #[test]
    fn a_failed_run_is_retried_after_the_restart_delay_then_the_schedule_goes_on() {
        paused(
            "a_failed_run_is_retried_after_the_restart_delay_then_the_schedule_goes_on",
            REAL_LIMIT,
            || async {
                let runs = Runs::new();
                let options = TaskOptions::new()
                    .cron("*/10 * * * * *")
                    .unwrap()
                    .restart(Restart::OnFailure)
                    .backoff(3 * S, 3 * S)
                    .jitter(false);
                let app = app_with(options, &runs, MS, |number| number == 1);
                let ended = run_for(&app, 25 * S).await;
                assert_eq!(ended, TaskOutcome::Cancelled);
                let at = runs.at();
                assert!(at.len() >= 3, "{at:?}");
                // Retried 3 s after the failure, then at the next occurrence, 10 s after the first.
                assert!(near(at[1] - at[0], 3 * S), "{at:?}");
                assert!(near(at[2] - at[0], 10 * S), "{at:?}");
            },
        );
    }

    #[test]
    fn a_failed_run_without_restart_ends_the_task_failed() {
        paused(
            "a_failed_run_without_restart_ends_the_task_failed",
            REAL_LIMIT,
            || async {
                let runs = Runs::new();
                let options = TaskOptions::new().cron("* * * * * *").unwrap();
                let app = app_with(options, &runs, MS, |_| true);
                let ended = run_for(&app, 10 * S).await;
                assert_eq!(runs.at().len(), 1);
                assert!(matches!(ended, TaskOutcome::Failed(_)), "{ended:?}");
            },
        );
    }

    #[test]
    fn shutdown_during_the_wait_ends_the_task_cancelled_at_once() {
        paused(
            "shutdown_during_the_wait_ends_the_task_cancelled_at_once",
            REAL_LIMIT,
            || async {
                let runs = Runs::new();
                // Yearly: the wait is long.
                let options = TaskOptions::new()
                    .cron("@yearly")
                    .unwrap()
                    .time_zone("Europe/Berlin")
                    .unwrap();
                let app = app_with(options, &runs, MS, never);
                let began = Instant::now();
                let ended = run_for(&app, S).await;
                assert_eq!(ended, TaskOutcome::Cancelled);
                assert!(runs.at().is_empty());
                assert!(began.elapsed() < 2 * S);
            },
        );
    }

    #[test]
    fn the_initial_delay_puts_the_first_run_at_the_first_occurrence_after_it() {
        paused(
            "the_initial_delay_puts_the_first_run_at_the_first_occurrence_after_it",
            REAL_LIMIT,
            || async {
                let runs = Runs::new();
                let options = TaskOptions::new()
                    .cron("*/2 * * * * *")
                    .unwrap()
                    .initial_delay(5 * S);
                let app = app_with(options, &runs, MS, never);
                run_for(&app, 12 * S).await;
                let at = runs.at();
                assert!(at[0] >= 5 * S && at[0] <= 7 * S, "{at:?}");
            },
        );
    }

    #[test]
    fn a_wrong_expression_or_zone_is_a_typed_error_naming_what_is_wrong() {
        let error = TaskOptions::new().cron("0 0 25 * * *").unwrap_err();
        assert_eq!(
            error,
            CronError::Field {
                field: "hours",
                value: "25".into(),
                reason: "is out of range 0–23".into()
            }
        );
        let error = TaskOptions::new().time_zone("Mars/Olympus").unwrap_err();
        assert!(error
            .to_string()
            .starts_with("unknown time zone `Mars/Olympus`"));
    }

    /// A run that ends at the very instant of its occurrence (or within the wall clock's
    /// tolerance of it) does not run that occurrence again: the next run is the next one.
    #[test]
    fn a_run_ending_at_its_occurrence_does_not_run_it_again() {
        paused(
            "a_run_ending_at_its_occurrence_does_not_run_it_again",
            REAL_LIMIT,
            || async {
                let runs = Runs::new();
                let options = TaskOptions::new().cron("*/2 * * * * *").unwrap();
                let app = app_with(options, &runs, Duration::ZERO, never);
                run_for(&app, 21 * S).await;
                let gaps = runs.gaps();
                assert!(gaps.len() >= 8, "{:?}", runs.at());
                assert!(gaps.iter().all(|gap| near(*gap, 2 * S)), "{gaps:?}");
            },
        );
    }

    #[test]
    fn the_cron_options_are_validated_as_the_macro_checks_them() {
        let cron = TaskOptions::new().cron("0 * * * * *").unwrap();
        let problem = |options: TaskOptions| options.validate().unwrap_err();
        assert!(problem(cron.clone().every(S)).contains("not both"));
        assert!(problem(cron.clone().schedule(Schedule::FixedDelay)).contains("applies to `every`"));
        assert!(problem(cron.clone().once_per_point(true).at_startup(true))
            .contains("`at_startup` would run outside the occurrences"));
        assert!(
            problem(TaskOptions::new().every(S).time_zone("UTC").unwrap())
                .starts_with("`time_zone` applies to cron schedules")
        );
        assert!(problem(cron.clone().restart(Restart::Always))
            .starts_with("a periodic task runs again"));
        assert_eq!(
            cron.time_zone("Asia/Tokyo")
                .unwrap()
                .at_startup(true)
                .validate(),
            Ok(())
        );
    }

    /// `#[lifespan(cron = "...", time_zone = "...")]` checks both at compile time and hands
    /// them over as they are: the same options as `cron` and `time_zone` give at run time.
    #[test]
    fn the_cron_options_the_macro_checked_are_the_ones_given_at_run_time() {
        let checked =
            TaskOptions::new().cron_checked_by_macro("0 */5 * * * *", Some("Europe/Berlin"));
        let given = TaskOptions::new()
            .cron("0 */5 * * * *")
            .unwrap()
            .time_zone("Europe/Berlin")
            .unwrap();
        assert_eq!(checked, given);
        let in_utc = TaskOptions::new().cron_checked_by_macro("@hourly", None);
        assert_eq!(in_utc, TaskOptions::new().cron("@hourly").unwrap());
    }

    /// Issue 21, defect 9: a `run_jitter` longer than a cron schedule's shortest gap was
    /// accepted (the same jitter is refused with `every`), and `hold` was not checked against
    /// cron either. Both are refused at registration, naming the task and both values.
    #[test]
    fn a_run_jitter_or_hold_as_long_as_the_shortest_cron_gap_is_refused_with_both_values() {
        use lifespan_core::{App, RegisterError};
        // Every 10 minutes, and at 00:05: the shortest gap is 5 minutes.
        let cron = TaskOptions::new()
            .cron("0 */10,5 0 * * *")
            .unwrap()
            .restart(Restart::OnFailure);
        let app = App::empty();
        let register = |name: &str, options: TaskOptions| {
            app.register_task_with(name.to_owned(), options, || async {})
                .unwrap_err()
        };
        let jitter = register("digest", cron.clone().run_jitter(5 * 60 * S));
        assert!(
            matches!(jitter, RegisterError::InvalidSchedule { .. }),
            "{jitter:?}"
        );
        assert_eq!(
            jitter.to_string(),
            "cannot register lifespan task `digest`: `run_jitter` (300s) must be shorter than the shortest gap between the occurrences of the cron schedule `0 */10,5 0 * * *` (300s), or runs would drift into the next occurrence"
        );
        let hold = register("sweep", cron.clone().once_per_point(true).hold(6 * 60 * S));
        assert_eq!(
            hold.to_string(),
            "cannot register lifespan task `sweep`: `hold` (360s) must be shorter than the shortest gap between the occurrences of the cron schedule `0 */10,5 0 * * *` (300s), or occurrences would be skipped"
        );
        let problem = |options: TaskOptions| options.validate().unwrap_err();
        assert!(problem(cron.clone().run_jitter(10 * 60 * S))
            .starts_with("`run_jitter` must be shorter than the shortest gap"));
        assert!(problem(cron.clone().once_per_point(true).hold(5 * 60 * S))
            .starts_with("`hold` must be shorter than the shortest gap"));
        // Shorter than the gap: accepted.
        let fine = cron.run_jitter(299 * S).once_per_point(true).hold(299 * S);
        assert_eq!(fine.validate(), Ok(()));
        // A gap found only in a year that is not a leap year: Feb 28 to Mar 28, 28 days.
        let yearly = TaskOptions::new()
            .cron("0 0 0 28 2,3 *")
            .unwrap()
            .run_jitter(28 * 24 * 3600 * S);
        assert!(problem(yearly).starts_with("`run_jitter` must be shorter"));
    }
}

/// No input makes the cron parser panic: every expression and zone is a schedule or a
/// `CronError`.
#[cfg(feature = "cron")]
mod any_input {
    use lifespan_core::TaskOptions;
    use proptest::prelude::*;

    /// Fields built from what cron expressions are made of, and some of what they are not.
    fn field() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[0-9*/,\\-LW#?A-Za-z]{1,8}").unwrap()
    }

    proptest! {
        #[test]
        fn an_expression_of_any_fields_is_a_schedule_or_an_error(
            fields in proptest::collection::vec(field(), 0..8),
            zone in "[A-Za-z/_+\\-0-9]{0,20}",
        ) {
            let expression = fields.join(" ");
            let _ = TaskOptions::new().cron(&expression);
            let _ = TaskOptions::new().time_zone(&zone);
        }

        #[test]
        fn any_string_is_a_schedule_or_an_error(expression in any::<String>()) {
            let _ = TaskOptions::new().cron(&expression);
        }
    }
}
