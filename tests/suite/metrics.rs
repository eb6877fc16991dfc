//! The metrics example as a real process: `/metrics` on loopback serves the tasks' counters in
//! the Prometheus text format, they move between two scrapes, and the times of a task's last
//! success and next run are near the wall clock.
#![cfg(unix)]

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use lifespan_examples::{bounded, example, http_get, Process, PATIENCE};

/// The task the example runs every 200 ms, failing one run in three.
const TASK: &str = "inventory sync";

/// The value of `metric` for the sync task, from a scrape: `name{task="..."} value`.
fn value(scrape: &str, metric: &str) -> Option<f64> {
    value_of(scrape, metric, TASK)
}

/// The value of `metric` for `task`, from a scrape.
fn value_of(scrape: &str, metric: &str, task: &str) -> Option<f64> {
    let labels = format!("{{task=\"{task}\"}}");
    scrape
        .lines()
        .find(|line| line.starts_with(metric) && line[metric.len()..].starts_with(&labels))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

/// The counters of the task in one scrape: starts, failures, restarts.
fn counters(scrape: &str) -> Option<[f64; 3]> {
    Some([
        value(scrape, "lifespan_task_starts_total")?,
        value(scrape, "lifespan_task_failures_total")?,
        value(scrape, "lifespan_task_restarts_total")?,
    ])
}

/// Scrapes `/metrics` until `done` holds for a scrape, and returns it; at most 200 scrapes,
/// 50 ms apart (10 s: the sync runs 5 times a second, the report every 2 s), each bounded.
fn scrape_until(
    runtime: &tokio::runtime::Runtime,
    addr: SocketAddr,
    done: impl Fn(&str) -> bool,
) -> String {
    let mut last = String::new();
    for _ in 0..200 {
        let (status, body) = runtime
            .block_on(bounded("a scrape", PATIENCE, http_get(addr, "/metrics")))
            .unwrap();
        assert_eq!(status, 200, "{body}");
        if done(&body) {
            return body;
        }
        last = body;
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the counters never got there; last scrape:\n{last}");
}

#[test]
fn the_counters_of_a_periodic_task_that_sometimes_fails_move_between_two_scrapes() {
    let mut command = Command::new(example("metrics"));
    command
        .arg("127.0.0.1:0")
        .env_remove("LISTEN")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1");
    let mut process = Process::spawn(command);
    let served = process.expect("serving metrics on http://");
    let addr: SocketAddr = served.trim_end_matches("/metrics").parse().unwrap();
    assert!(addr.ip().is_loopback());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let first = scrape_until(&runtime, addr, |scrape| {
        counters(scrape).is_some_and(|[starts, _, _]| starts >= 1.0)
    });
    let before = counters(&first).unwrap();
    assert!(
        first.contains("# TYPE lifespan_task_starts_total counter"),
        "{first}"
    );
    assert!(
        first.contains("# TYPE lifespan_tasks_running gauge"),
        "{first}"
    );
    let second = scrape_until(&runtime, addr, |scrape| {
        counters(scrape).is_some_and(|[starts, failures, restarts]| {
            starts > before[0] && failures > before[1] && restarts > before[2]
        })
    });
    let after = counters(&second).unwrap();
    assert!(after[0] > before[0], "{first}\n{second}");
    assert!(
        value(&second, "lifespan_tasks_running") == Some(1.0),
        "{second}"
    );
    assert!(
        second.contains("lifespan_task_run_duration_seconds"),
        "{second}"
    );
    // The report on its cron schedule (every even second) runs too, and its starts move.
    let reports = |scrape: &str| value_of(scrape, "lifespan_task_starts_total", "report");
    let first_reports = reports(&second).unwrap_or(0.0);
    let third = scrape_until(&runtime, addr, |scrape| {
        reports(scrape).is_some_and(|count| count > first_reports)
    });
    assert!(third.contains("task=\"report\""), "{third}");
    // The times alerts are written on: the sync's last success within the last minute, the
    // report's next run within the next few seconds; neither failed for good.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let last_success = value_of(
        &third,
        "lifespan_task_last_success_timestamp_seconds",
        "inventory sync",
    )
    .expect("the sync's last success");
    assert!((now - 60.0..=now + 1.0).contains(&last_success), "{third}");
    let next_run = value_of(&third, "lifespan_task_next_run_timestamp_seconds", "report")
        .expect("the report's next run");
    assert!((now - 5.0..=now + 5.0).contains(&next_run), "{third}");
    assert_eq!(
        value_of(&third, "lifespan_task_failed_for_good", "inventory sync"),
        Some(0.0),
        "{third}"
    );

    process.signal("TERM");
    let (status, lines) = process.finish();
    assert!(
        status.success(),
        "exit status {status}:\n{}",
        lines.join("\n")
    );
}
