//! The metrics example's alerting rules in a real Prometheus: the rules it prints pass
//! `promtool check rules`; Prometheus scrapes the example every second and evaluates them every
//! second; the "no recent success" alert of its sync stays quiet while the sync succeeds, and
//! once `POST /fail` makes every sync fail, it shows in `/api/v1/alerts` as pending, then
//! firing. Prometheus and promtool are Debian's `prometheus`; without them the test says it was
//! skipped (and fails when `CI` is `true`). Everything listens on loopback only.
#![cfg(unix)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use lifespan_examples::{example, Process};
use lifespan_test_support::{program, TempFolder};
use serde_json::Value;

/// The task whose alert is watched, and its period here (longer than the scrape interval:
/// the alert fires after twice the period without a success).
const TASK: &str = "inventory sync";
const PERIOD: Duration = Duration::from_secs(4);

/// The bound on each wait for Prometheus: start, first scrape, one state of an alert.
const LIMIT: Duration = Duration::from_secs(20);

/// A port that was free on loopback a moment ago.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `GET path` in HTTP/1.0 (so that Go's server answers in one piece, never chunked), read
/// within [`LIMIT`]; the status and body.
fn get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};

    let mut stream = std::net::TcpStream::connect_timeout(&addr, LIMIT)?;
    stream.set_read_timeout(Some(LIMIT))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok());
    match (status, response.split_once("\r\n\r\n")) {
        (Some(status), Some((_, body))) => Ok((status, body.to_owned())),
        _ => Err(std::io::Error::other(format!(
            "not an HTTP response: {response}"
        ))),
    }
}

/// `text` percent-encoded for a query string.
fn encoded(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// A running Prometheus on loopback (killed when dropped), and its folder.
struct Prometheus {
    _process: Process,
    addr: SocketAddr,
}

impl Prometheus {
    /// Starts `binary` on a free loopback port, scraping `target` every second with the rules
    /// of `folder/rules.yml`, its data in `folder/data`; returns once it is ready.
    fn start(binary: &Path, folder: &TempFolder, target: SocketAddr) -> Prometheus {
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - rules.yml\nscrape_configs:\n  - job_name: lifespan\n    static_configs:\n      - targets: ['{target}']\n"
        );
        std::fs::write(folder.path().join("prometheus.yml"), config).unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let mut command = Command::new(binary);
        command.current_dir(folder.path()).args([
            "--config.file=prometheus.yml".to_owned(),
            "--storage.tsdb.path=data".to_owned(),
            format!("--web.listen-address={addr}"),
        ]);
        let mut process = Process::spawn(command);
        process.expect("Server is ready to receive web requests.");
        Prometheus {
            _process: process,
            addr,
        }
    }

    /// The `data` of an API call's answer; panics with the answer if it failed.
    fn api(&self, path: &str) -> Value {
        let (status, body) = get(self.addr, path).unwrap();
        let answer: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        assert!(
            status == 200 && answer["status"] == "success",
            "{path}: {status} {body}"
        );
        answer["data"].clone()
    }

    /// The result vector of the instant query `query`.
    fn query(&self, query: &str) -> Vec<Value> {
        let data = self.api(&format!("/api/v1/query?query={}", encoded(query)));
        data["result"].as_array().cloned().unwrap_or_default()
    }

    /// The alerts that fire now.
    fn firing(&self) -> Vec<Value> {
        let data = self.api("/api/v1/alerts");
        let alerts = data["alerts"].as_array().cloned().unwrap_or_default();
        alerts
            .into_iter()
            .filter(|alert| alert["state"] == "firing")
            .collect()
    }

    /// Whether every `LifespanTaskNeverSucceeded` rule is inactive: evaluated since each task's
    /// first success was scraped.
    fn every_task_seen(&self) -> bool {
        let data = self.api("/api/v1/rules?type=alert");
        let groups = data["groups"].as_array().cloned().unwrap_or_default();
        let rules: Vec<Value> = groups
            .iter()
            .flat_map(|group| group["rules"].as_array().cloned().unwrap_or_default())
            .filter(|rule| rule["name"] == "LifespanTaskNeverSucceeded")
            .collect();
        !rules.is_empty() && rules.iter().all(|rule| rule["state"] == "inactive")
    }

    /// The state of the "no recent success" alert of [`TASK`] (`pending`, `firing`), and the
    /// alert, if it is active.
    fn no_success_alert(&self) -> Option<(String, Value)> {
        let data = self.api("/api/v1/alerts");
        data["alerts"].as_array()?.iter().find_map(|alert| {
            let labels = &alert["labels"];
            (labels["alertname"] == "LifespanTaskNoRecentSuccess" && labels["task"] == TASK).then(
                || {
                    (
                        alert["state"].as_str().unwrap_or_default().to_owned(),
                        alert.clone(),
                    )
                },
            )
        })
    }
}

/// Polls `check` every 200 ms until it gives a value, for at most `limit`; panics saying
/// `what` did not happen.
fn until<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "{what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The example's rules, as it prints them with the sync's period at [`PERIOD`], checked by
/// promtool and written to `folder/rules.yml`.
fn write_rules(promtool: &Path, folder: &TempFolder) {
    let mut command = Command::new(example("metrics"));
    command
        .arg("--alert-rules")
        .env("SYNC_EVERY_MS", PERIOD.as_millis().to_string());
    let (status, lines) = Process::spawn(command).finish();
    let rules = lines.join("\n") + "\n";
    assert!(status.success(), "{rules}");
    assert!(
        rules.contains(&format!("{{task=\"{TASK}\"}}) > 8'")),
        "{rules}"
    );
    std::fs::write(folder.path().join("rules.yml"), &rules).unwrap();
    let mut check = Command::new(promtool);
    check
        .current_dir(folder.path())
        .args(["check", "rules", "rules.yml"]);
    let (status, lines) = Process::spawn(check).finish();
    assert!(status.success(), "{}\n{rules}", lines.join("\n"));
}

#[test]
fn the_no_success_alert_fires_in_prometheus_once_the_example_s_sync_stops_succeeding() {
    let why = "the Prometheus test needs Debian's `prometheus`";
    let (Some(binary), Some(promtool)) = (program("prometheus", why), program("promtool", why))
    else {
        return;
    };
    let started = Instant::now();
    let folder = TempFolder::new("lifespan-prometheus");
    write_rules(&promtool, &folder);
    let mut command = Command::new(example("metrics"));
    command
        .arg("127.0.0.1:0")
        .env_remove("LISTEN")
        .env("SYNC_EVERY_MS", PERIOD.as_millis().to_string())
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1");
    let mut app = Process::spawn(command);
    let served = app.expect("serving metrics on http://");
    let target: SocketAddr = served.trim_end_matches("/metrics").parse().unwrap();
    let prometheus = Prometheus::start(&binary, &folder, target);

    until("the example scraped as up", LIMIT, || {
        let up = prometheus.query("up{job=\"lifespan\"}");
        (up.first()?["value"][1] == "1").then_some(())
    });
    // The series the sync's rules select: a success, and not failed for good.
    until("a success of the sync scraped", LIMIT, || {
        let success = format!("lifespan_task_last_success_timestamp_seconds{{task=\"{TASK}\"}}");
        let failed = format!("lifespan_task_failed_for_good{{task=\"{TASK}\"}} == 0");
        let scraped = [success, failed].map(|query| prometheus.query(&query).len());
        (scraped == [1, 1]).then_some(())
    });
    // Prometheus evaluates its rules from its start, but scrapes its first targets up to 5 s
    // later: until an evaluation has seen each task's success, `LifespanTaskNeverSucceeded`
    // may be pending, or even firing for the report's 2 s period.
    until("an evaluation that saw every task", LIMIT, || {
        prometheus.every_task_seen().then_some(())
    });
    // Quiet while the sync succeeds: two periods of evaluations, each one second apart; no
    // alert of the example fires.
    let quiet_until = Instant::now() + 2 * PERIOD;
    while Instant::now() < quiet_until {
        assert_eq!(
            prometheus.no_success_alert(),
            None,
            "while the sync succeeds"
        );
        let firing = prometheus.firing();
        assert!(firing.is_empty(), "while every task succeeds: {firing:?}");
        std::thread::sleep(Duration::from_millis(200));
    }

    let (status, body) = super::http::send(&target.to_string(), "POST", "/fail", "");
    assert_eq!(status, 200, "{body}");
    let failing = Instant::now();
    // Pending once the last success is older than twice the period (plus a scrape and an
    // evaluation), firing one period later.
    let pending = until("the alert pending", LIMIT, || {
        prometheus
            .no_success_alert()
            .filter(|(state, _)| state == "pending")
    });
    let pending_after = failing.elapsed();
    let (_, firing) = until("the alert firing", LIMIT, || {
        prometheus
            .no_success_alert()
            .filter(|(state, _)| state == "firing")
    });
    let firing_after = failing.elapsed();
    assert_eq!(firing["labels"]["severity"], "warning", "{firing}");
    assert!(
        firing_after >= pending_after + PERIOD - Duration::from_secs(1),
        "fired {firing_after:?} after the failures began, pending at {pending_after:?}: {pending:?}"
    );
    println!(
        "pending {pending_after:?} and firing {firing_after:?} after the sync began failing; test took {:?}",
        started.elapsed()
    );
}
