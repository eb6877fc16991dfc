//! The rendered rules, as text: what each task gets, thresholds from its schedule, escaping,
//! options.

use std::time::Duration;

use super::{AlertRules, AlertRulesError, TaskAlerts};
use crate::replicas::LeaseSettings;
use crate::schedules::options::TaskOptions;

fn rules_for(tasks: &[(&str, TaskOptions)]) -> AlertRules {
    let tasks = tasks
        .iter()
        .filter_map(|(name, options)| TaskAlerts::of(name, options, LeaseSettings::DEFAULT))
        .collect();
    AlertRules::new(tasks)
}

fn every(seconds: u64) -> TaskOptions {
    TaskOptions::new().every(Duration::from_secs(seconds))
}

#[test]
fn a_periodic_task_gets_no_recent_success_never_succeeded_and_failed_for_good() {
    let rules = rules_for(&[("sync", every(30))]);
    assert_eq!(
        rules.to_string(),
        r#"groups:
  - name: 'lifespan'
    rules:
      - alert: LifespanTaskNoRecentSuccess
        expr: 'time() - max by (task) (lifespan_task_last_success_timestamp_seconds{task="sync"}) > 60'
        for: 30s
        labels:
          task: 'sync'
        annotations:
          summary: 'Task {{ $labels.task }} has not succeeded for over 60s (2 × its period of 30s)'
      - alert: LifespanTaskNeverSucceeded
        expr: 'absent(lifespan_task_last_success_timestamp_seconds{task="sync"})'
        for: 60s
        labels:
          task: 'sync'
        annotations:
          summary: 'Task {{ $labels.task }} has no success recorded on any replica (its period: 30s)'
      - alert: LifespanTaskFailedForGood
        expr: 'lifespan_task_failed_for_good{task="sync"} == 1'
        labels:
          task: 'sync'
        annotations:
          summary: 'Task {{ $labels.task }} failed for good on {{ $labels.instance }}'
"#
    );
}

#[test]
fn a_singleton_gets_a_lease_rule_for_longer_than_a_handover() {
    let settings = LeaseSettings::new(
        Duration::from_secs(3),
        Duration::from_secs(2),
        Duration::from_millis(500),
    )
    .unwrap();
    let own = TaskOptions::new().singleton(true).lease(settings);
    let rules = rules_for(&[
        ("leader", TaskOptions::new().singleton(true)),
        ("fast", own),
    ]);
    let text = rules.to_string();
    // The app's lease (15 s, retry 2 s): twice 17 s; the task's own (3 s, retry 0.5 s): 7 s.
    assert!(
        text.contains(
            r#"
      - alert: LifespanTaskLeaseNotHeld
        expr: 'sum by (task) (lifespan_task_lease_held{task="leader"}) < 1'
        for: 34s
"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"expr: 'sum by (task) (lifespan_task_lease_held{task="fast"}) < 1'
        for: 7s
"#
        ),
        "{text}"
    );
    // Not periodic: no success rules, but failed for good.
    assert!(!text.contains("LifespanTaskNoRecentSuccess"), "{text}");
    assert_eq!(
        text.matches("LifespanTaskFailedForGood").count(),
        2,
        "{text}"
    );
}

#[test]
fn tasks_neither_periodic_nor_singletons_get_no_rules() {
    let restarted = TaskOptions::new().restart(crate::Restart::Always);
    let rules = rules_for(&[("listener", TaskOptions::new()), ("consumer", restarted)]);
    assert_eq!(rules.tasks().count(), 0);
    assert_eq!(
        rules.to_string(),
        "groups:\n  - name: 'lifespan'\n    rules: []\n"
    );
}

#[test]
fn names_with_quotes_backslashes_and_spaces_are_escaped_in_promql_then_yaml() {
    let rules = rules_for(&[(r#"it's a "sync" \ of 'stock'"#, every(1))]);
    let text = rules.to_string();
    // PromQL: `"` and `\` escaped; YAML (single-quoted): `'` doubled.
    assert!(
        text.contains(
            r#"expr: 'lifespan_task_failed_for_good{task="it''s a \"sync\" \\ of ''stock''"} == 1'"#
        ),
        "{text}"
    );
    let group = AlertRules::new(Vec::new()).group("line\nbreak").unwrap();
    assert!(group.to_string().contains(r#"- name: "line\nbreak""#));
}

#[test]
fn the_initial_delay_lengthens_the_wait_for_a_first_success() {
    let delayed = every(10).initial_delay(Duration::from_secs(45));
    let text = rules_for(&[("warm", delayed)]).to_string();
    assert!(text.contains(
        "expr: 'absent(lifespan_task_last_success_timestamp_seconds{task=\"warm\"})'\n        for: 65s\n"
    ), "{text}");
}

#[test]
fn the_options_set_the_group_the_labels_and_the_multiplier() {
    let rules = rules_for(&[("sync", TaskOptions::new().every(Duration::from_millis(400)))])
        .group("billing")
        .unwrap()
        .label("severity", "warning")
        .unwrap()
        .label("team", "it's ours")
        .unwrap()
        .label("severity", "page")
        .unwrap()
        .multiplier(3.0)
        .unwrap();
    assert_eq!(rules.tasks().collect::<Vec<_>>(), ["sync"]);
    let text = rules.to_string();
    assert!(text.starts_with("groups:\n  - name: 'billing'\n"), "{text}");
    assert!(text.contains("> 1.2'\n        for: 400ms\n        labels:\n          task: 'sync'\n          severity: 'page'\n          team: 'it''s ours'\n"), "{text}");
    assert_eq!(text.matches("severity:").count(), 3, "{text}");
    assert!(
        text.contains("over 1200ms (3 × its period of 400ms)"),
        "{text}"
    );
}

#[test]
fn wrong_options_are_refused() {
    let rules = AlertRules::new(Vec::new());
    for name in ["", "9lives", "sev-erity", "__name", "task", "alertname"] {
        assert_eq!(
            rules.clone().label(name, "x").unwrap_err(),
            AlertRulesError::LabelName { name: name.into() }
        );
    }
    assert!(rules.clone().label("_sev9", "x").is_ok());
    // At least 1: 1 itself is taken.
    assert!(rules.clone().multiplier(1.0).is_ok());
    for multiplier in [0.5, 0.999, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            rules.clone().multiplier(multiplier),
            Err(AlertRulesError::Multiplier { .. })
        ));
    }
    assert_eq!(rules.group("").unwrap_err(), AlertRulesError::EmptyGroup);
}

#[cfg(feature = "cron")]
mod cron {
    use super::*;

    /// The period of a task on `expression` in `zone`, found within 10 s (a search that does
    /// not end fails the test rather than hanging it).
    fn period(expression: &str, zone: Option<&str>) -> Option<Duration> {
        let mut options = TaskOptions::new().cron(expression).unwrap();
        if let Some(zone) = zone {
            options = options.time_zone(zone).unwrap();
        }
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let alerts = TaskAlerts::of("report", &options, LeaseSettings::DEFAULT);
            let _ = sender.send(alerts.unwrap().period);
        });
        match receiver.recv_timeout(Duration::from_secs(10)) {
            Ok(period) => period,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                panic!("the period of `{expression}` was not found within 10 s")
            }
            Err(_) => panic!("finding the period of `{expression}` panicked"),
        }
    }

    const HOUR: u64 = 3600;
    const DAY: u64 = 24 * HOUR;

    #[test]
    fn the_period_of_a_cron_schedule_is_its_longest_gap() {
        let cases: [(&str, Option<&str>, u64); 9] = [
            ("0 */5 * * * *", None, 300),
            // Gaps of 8 and 16 hours: found a probe an hour apart.
            ("0 0 9,17 * * *", None, 16 * HOUR),
            ("*/1 * * * * *", None, 1),
            ("0 0,5 * * * *", None, 55 * 60),
            // Friday 09:00 to Monday 09:00.
            ("0 0 9 * * MON-FRI", None, 3 * DAY),
            // Every second of office hours: Friday 17:59:59 to Monday 09:00:00.
            ("* * 9-17 * * MON-FRI", None, 63 * HOUR + 1),
            // The day the clocks go back has 25 hours.
            ("0 30 2 * * *", Some("Europe/Berlin"), 25 * HOUR),
            // Every 10 s of December: from the last of one to the first of the next (2028 is
            // a leap year).
            ("*/10 * * * 12 *", None, 335 * DAY + 10),
            // Leap days: four years apart.
            ("0 0 0 29 2 *", None, 1461 * DAY),
        ];
        for (expression, zone, seconds) in cases {
            assert_eq!(
                period(expression, zone),
                Some(Duration::from_secs(seconds)),
                "{expression} in {zone:?}"
            );
        }
    }

    #[test]
    fn a_cron_task_is_alerted_on_after_twice_its_longest_gap() {
        let options = TaskOptions::new().cron("0 0 9 * * MON-FRI").unwrap();
        let text = rules_for(&[("digest", options)]).to_string();
        assert!(text.contains("> 518400'\n        for: 259200s\n"), "{text}");
    }
}
