//! The alerting rules of an app as Prometheus' own checker reads them: `promtool check rules`
//! accepts the rendered file, and `promtool test rules` fires its alerts on series of tasks
//! with awkward names (quotes, backslashes, braces, spaces, other scripts), so that each
//! matcher selects its own task. promtool is Debian's `prometheus`; without it the test says it
//! was skipped (and fails when `CI` is `true`).
#![cfg(all(feature = "metrics", unix))]

use std::process::Command;
use std::time::Duration;

use lifespan_core::{App, TaskOptions};
use lifespan_test_support::{program, Process, TempFolder};

/// Names a task may have that need escaping in PromQL, in YAML, or both.
const AWKWARD: [&str; 4] = [
    r#"it's a "sync" \ of stock"#,
    r"trailing backslash \",
    "{{ braces }} and $dollar: #1",
    "日本 tâche",
];

/// An app with a task every minute under each awkward name, and a singleton.
fn app() -> App {
    let app = App::builder().empty().build();
    for name in AWKWARD {
        let every = TaskOptions::new().every(Duration::from_secs(60));
        app.register_task_with(name, every, || async {}).unwrap();
    }
    let singleton = TaskOptions::new().singleton(true);
    app.register_task_with("leader's", singleton, || async {})
        .unwrap();
    app
}

/// `value` as a single-quoted YAML scalar (the names hold no control characters).
fn quoted(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// `value` as a PromQL string literal in a series selector of promtool's input.
fn literal(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A promtool unit test of `rules.yml`: each awkward task's last success stays at time 0 and
/// its `failed_for_good` becomes 1 on instance `a`; at 5 minutes, each task has both alerts
/// firing once, under its own name (promtool compares the whole list of each alert).
fn unit_tests() -> String {
    let mut series = String::new();
    let mut no_success = String::new();
    let mut failed = String::new();
    for name in AWKWARD {
        let selector = |metric: &str| {
            quoted(&format!(
                "{metric}{{task={}, instance=\"a\"}}",
                literal(name)
            ))
        };
        series += &format!(
            "      - series: {}\n        values: '0x10'\n      - series: {}\n        values: '0 1x10'\n",
            selector("lifespan_task_last_success_timestamp_seconds"),
            selector("lifespan_task_failed_for_good"),
        );
        let summary =
            format!("Task {name} has not succeeded for over 120s (2 × its period of 60s)");
        no_success += &format!(
            "          - exp_labels:\n              task: {}\n            exp_annotations:\n              summary: {}\n",
            quoted(name),
            quoted(&summary),
        );
        failed += &format!(
            "          - exp_labels:\n              task: {}\n              instance: 'a'\n            exp_annotations:\n              summary: {}\n",
            quoted(name),
            quoted(&format!("Task {name} failed for good on a")),
        );
    }
    let expect = |alert: &str, alerts: &str| {
        format!("      - eval_time: 5m\n        alertname: {alert}\n        exp_alerts:\n{alerts}")
    };
    format!(
        "rule_files:\n  - rules.yml\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n{series}    alert_rule_test:\n{}{}",
        expect("LifespanTaskNoRecentSuccess", &no_success),
        expect("LifespanTaskFailedForGood", &failed),
    )
}

/// Runs `promtool` with `args` in `folder`; its exit status and output.
fn promtool(binary: &std::path::Path, folder: &TempFolder, args: &[&str]) -> (bool, String) {
    let mut command = Command::new(binary);
    command.args(args).current_dir(folder.path());
    let (status, lines) = Process::spawn(command).finish();
    (status.success(), lines.join("\n"))
}

#[test]
fn promtool_accepts_the_rules_and_fires_them_for_tasks_with_awkward_names() {
    let Some(binary) = program(
        "promtool",
        "the alert rules' test needs Debian's `prometheus`",
    ) else {
        return;
    };
    let rules = app()
        .alert_rules()
        .unwrap()
        .label("severity", "page's")
        .unwrap();
    let folder = TempFolder::new("lifespan-alert-rules");
    std::fs::write(folder.path().join("rules.yml"), rules.to_string()).unwrap();
    let (ok, output) = promtool(&binary, &folder, &["check", "rules", "rules.yml"]);
    assert!(ok, "promtool check rules:\n{output}\n{rules}");
    // Three rules for each of the four periodic tasks, two for the singleton.
    assert!(output.contains("SUCCESS: 14 rules found"), "{output}");

    // The severity label is on every alert: promtool compares every label, so without it in
    // the expectations the unit tests would fail; plain rules keep them readable.
    let plain = app().alert_rules().unwrap();
    std::fs::write(folder.path().join("rules.yml"), plain.to_string()).unwrap();
    std::fs::write(folder.path().join("tests.yml"), unit_tests()).unwrap();
    let (ok, output) = promtool(&binary, &folder, &["test", "rules", "tests.yml"]);
    assert!(ok, "promtool test rules:\n{output}\n{}", unit_tests());
}
