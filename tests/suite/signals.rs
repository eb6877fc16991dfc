//! The examples as real processes receiving real signals: in dev mode SIGHUP reloads them;
//! SIGTERM shuts them down gracefully, cleanup runs, and they exit 0 — which is what a
//! restart-on-change watcher (`watchexec -r`, `cargo watch`) relies on.
#![cfg(unix)]

use std::path::PathBuf;
use std::process::Command;

use lifespan_examples::{example, Process, PATIENCE};

use crate::http::{get, request, send};

/// Starts example `name` with a clean environment plus `envs`, logging at info level.
fn start(name: &str, envs: &[(&str, &str)]) -> Process {
    let mut command = Command::new(example(name));
    command
        .env_remove("BAR_PARAM")
        .env_remove("LIFESPAN_DEV")
        .env_remove("MODEL_FACTOR")
        .env_remove("FEED_DOWN")
        .env_remove("STATUS_TOKEN")
        .env_remove("DRAIN_DELAY_MS")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .env("LISTEN", "127.0.0.1:0");
    for (key, value) in envs {
        command.env(key, value);
    }
    Process::spawn(command)
}

/// The cause of the error that `main` printed at line `error`: it follows, once, and the
/// error's own line does not repeat it.
fn assert_cause_once(lines: &[String], error: usize, cause: &str) {
    let printed = &lines[error..];
    let times = printed.iter().filter(|line| line.contains(cause)).count();
    assert_eq!(times, 1, "{}", lines.join("\n"));
    assert!(!printed[0].contains(cause), "{}", lines.join("\n"));
}

fn position(lines: &[String], text: &str) -> usize {
    lines
        .iter()
        .rposition(|line| line.contains(text))
        .unwrap_or_else(|| panic!("no line containing {text:?}:\n{}", lines.join("\n")))
}

#[test]
fn sigterm_stops_the_task_then_cleans_up_and_exits_zero_and_sighup_reloads_in_dev_mode() {
    let mut process = start(
        "quickstart",
        &[("BAR_PARAM", "hello"), ("LIFESPAN_DEV", "1")],
    );
    process.expect("loading the ML model");
    process.expect("lifespan startup complete");
    process.expect("starting 42 hello task");

    process.signal("HUP");
    process.expect("task was stopped");
    process.expect("releasing the ML model");
    process.expect("loading the ML model");
    process.expect("lifespan startup complete");
    process.expect("starting 42 hello task");

    process.signal("TERM");
    let (status, lines) = process.finish();
    assert!(
        status.success(),
        "exit status {status}; output:\n{}",
        lines.join("\n")
    );
    let stopped = position(&lines, "task was stopped");
    let released = position(&lines, "releasing the ML model");
    let complete = position(&lines, "lifespan shutdown complete");
    assert!(
        stopped < released && released < complete,
        "{}",
        lines.join("\n")
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("releasing the ML model"))
            .count(),
        2
    );
    assert!(lines
        .iter()
        .any(|l| l.contains("context quickstart::setup_model: cleaned up")));
}

#[test]
fn a_missing_environment_variable_fails_startup_naming_the_task_and_argument() {
    let process = start("quickstart", &[]);
    let (status, lines) = process.finish();
    assert_eq!(status.code(), Some(1), "{}", lines.join("\n"));
    let error = position(
        &lines,
        "Error: argument `bar` of lifespan task `quickstart::long_running_task` could not be evaluated",
    );
    assert_cause_once(&lines, error, "environment variable not found");
    assert!(
        !lines.iter().any(|l| l.contains("loading the ML model")),
        "nothing is set up"
    );
}

#[test]
fn the_server_example_drains_then_stops_its_task_then_releases_the_model_and_restarts_cleanly() {
    // What a restart-on-change watcher does: SIGTERM, wait for the exit, start again.
    for run in ["first", "restarted"] {
        let mut process = start(
            "server",
            &[("LIFESPAN_DEV", "1"), ("STATUS_TOKEN", "operators-only")],
        );
        let addr = process.expect("listening on ").trim().to_owned();
        process.expect("lifespan startup complete");
        assert_eq!(get(&addr, "/predict?x=2"), "84", "{run} run");
        let (code, _) = request(&addr, "/lifespan/status", "");
        assert_eq!(code, 401, "{run} run: the status needs the token");
        let wrong = "Authorization: Bearer operators-onlY\r\n";
        assert_eq!(request(&addr, "/lifespan/status", wrong).0, 401);
        let token = "Authorization: Bearer operators-only\r\n";
        let (code, status) = request(&addr, "/lifespan/status", token);
        assert_eq!(code, 200, "{status}");
        // The admin routes, behind the same token.
        let pause = "/lifespan/tasks/report_stats/pause";
        assert_eq!(send(&addr, "POST", pause, "").0, 401, "{run} run");
        assert_eq!(send(&addr, "POST", pause, wrong).0, 401, "{run} run");
        let (code, text) = send(&addr, "POST", pause, token);
        assert_eq!(code, 200, "{run} run: {text}");
        assert!(
            text.starts_with("lifespan task `report_stats` is paused by "),
            "{text}"
        );
        let resume = "/lifespan/tasks/report_stats/resume";
        assert_eq!(send(&addr, "POST", resume, token).0, 200, "{run} run");
        // The dashboard, for a browser: basic authentication, user `operator`, the token as
        // its password ("operator:operators-only" in base64).
        assert_eq!(request(&addr, "/lifespan", "").0, 401, "{run} run");
        let basic = "Authorization: Basic b3BlcmF0b3I6b3BlcmF0b3JzLW9ubHk=\r\n";
        let (code, page) = request(&addr, "/lifespan", basic);
        assert_eq!(code, 200, "{run} run");
        assert!(page.starts_with("<!doctype html>"), "{page}");
        assert_eq!(
            request(&addr, "/lifespan/status", basic).0,
            200,
            "{run} run"
        );
        assert!(
            status.contains(
                r#""display_name":"stats reporter","state":"running","restarts":0,"has_error":false,"#
            ),
            "{status}"
        );

        // In dev mode SIGHUP reloads the model while the server keeps its listener.
        process.signal("HUP");
        process.expect("releasing the model");
        process.expect("loading the model");
        process.expect("lifespan startup complete");
        assert_eq!(
            get(&addr, "/predict?x=3"),
            "126",
            "{run} run, after the reload"
        );

        process.signal("TERM");
        let (status, lines) = process.finish();
        assert!(
            status.success(),
            "{run} run: exit status {status}; output:\n{}",
            lines.join("\n")
        );
        let drained = position(&lines, "server drained");
        let stopped = position(&lines, "refresh task stopped");
        let released = position(&lines, "releasing the model");
        assert!(
            drained < stopped && stopped < released,
            "{}",
            lines.join("\n")
        );
    }
}

#[test]
fn the_server_example_serves_no_status_route_without_a_token() {
    let mut process = start("server", &[]);
    let addr = process.expect("listening on ").trim().to_owned();
    process.expect("the status route is off");
    process.expect("lifespan startup complete");
    let (code, _) = request(&addr, "/lifespan/status", "");
    assert_eq!(code, 404);
    let (code, _) = request(&addr, "/lifespan/status", "Authorization: Bearer \r\n");
    assert_eq!(code, 404);
    process.signal("TERM");
    let (status, lines) = process.finish();
    assert!(status.success(), "{}", lines.join("\n"));
}

#[test]
fn the_server_example_exits_non_zero_without_serving_when_startup_fails() {
    let process = start("server", &[("MODEL_FACTOR", "not-a-number")]);
    let (status, lines) = process.finish();
    assert_eq!(status.code(), Some(1), "{}", lines.join("\n"));
    let error = position(
        &lines,
        "Error: argument `factor` of lifespan context `server::load_model` could not be evaluated",
    );
    assert_cause_once(&lines, error, "invalid float literal");
    assert!(
        !lines.iter().any(|l| l.contains("loading the model")),
        "nothing is set up"
    );
}

#[test]
fn a_critical_task_that_fails_for_good_shuts_the_supervised_example_down_with_exit_1() {
    let process = start("supervised", &[("FEED_DOWN", "1")]);
    let (status, lines) = process.finish();
    assert_eq!(status.code(), Some(1), "{}", lines.join("\n"));
    let restarts = lines.iter().filter(|l| l.contains("restarting in")).count();
    assert_eq!(restarts, 3, "{}", lines.join("\n"));
    let gave_up = position(&lines, "reached its restart limit (3 restarts within 60s)");
    let closed = position(&lines, "pool closed");
    // `main` returns the error: the message says what failed, the cause follows once.
    let error = position(
        &lines,
        "Error: critical lifespan task `supervised::consume_feed` failed",
    );
    assert_cause_once(&lines, error, "the feed refused the connection");
    assert!(gave_up < closed && closed < error, "{}", lines.join("\n"));
}

#[test]
fn the_supervised_example_refreshes_on_schedule_and_stops_cleanly_on_sigterm() {
    let mut process = start("supervised", &[]);
    process.expect("feed connected");
    process.expect("cache refreshed");
    process.signal("TERM");
    let (status, lines) = process.finish();
    assert!(status.success(), "{}", lines.join("\n"));
    let disconnected = position(&lines, "feed disconnected");
    let closed = position(&lines, "pool closed");
    assert!(disconnected < closed, "{}", lines.join("\n"));
}

#[test]
fn on_sigterm_readiness_fails_at_once_while_the_server_serves_through_the_drain_delay() {
    let mut process = start("server", &[("DRAIN_DELAY_MS", "3000")]);
    let addr = process.expect("listening on ").trim().to_owned();
    process.expect("lifespan startup complete");
    assert_eq!(request(&addr, "/ready", "").0, 200);
    assert_eq!(request(&addr, "/live", "").0, 200);
    let asked = std::time::Instant::now();
    process.signal("TERM");
    // The signal is handled on the app's own time: ask until readiness fails (bounded).
    let mut polls = 0;
    while request(&addr, "/ready", "").0 == 200 {
        polls += 1;
        assert!(polls < 500, "readiness still 200 after the signal");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let failed_after = asked.elapsed();
    // Within the drain delay: normal routes and liveness still answer.
    assert_eq!(request(&addr, "/stats", "").0, 200);
    assert_eq!(request(&addr, "/live", "").0, 200);
    assert!(
        asked.elapsed() < std::time::Duration::from_millis(3000),
        "the checks took longer than the drain delay ({:?}); readiness failed after {failed_after:?}",
        asked.elapsed()
    );
    process.expect("server stops accepting");
    let (status, lines) = process.finish();
    assert!(status.success(), "{}", lines.join("\n"));
    assert!(
        asked.elapsed() >= std::time::Duration::from_millis(3000),
        "it stopped accepting before the drain delay"
    );
    assert!(
        std::net::TcpStream::connect(&addr).is_err(),
        "nothing listens any more"
    );
}

/// The messages the example sends to a notification socket, watchdog pings and extensions of
/// the start or stop timeout (sent while setup and shutdown run) apart.
struct NotifySocket {
    socket: std::os::unix::net::UnixDatagram,
    folder: PathBuf,
    watchdog_pings: usize,
    extensions: usize,
}

impl NotifySocket {
    fn bind() -> Self {
        let folder = std::env::temp_dir().join(format!("lifespan-notify-{}", std::process::id()));
        std::fs::create_dir_all(&folder).unwrap();
        let path = folder.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        socket.set_read_timeout(Some(PATIENCE)).unwrap();
        NotifySocket {
            socket,
            folder,
            watchdog_pings: 0,
            extensions: 0,
        }
    }

    fn path(&self) -> String {
        self.folder.join("notify.sock").display().to_string()
    }

    /// The next message that is not a watchdog ping nor an extension of the timeout, its lines
    /// joined with `|`.
    fn next(&mut self) -> String {
        let mut buffer = [0u8; 4096];
        loop {
            let length = self
                .socket
                .recv(&mut buffer)
                .unwrap_or_else(|error| panic!("no notification within {PATIENCE:?}: {error}"));
            let message = String::from_utf8_lossy(&buffer[..length])
                .trim()
                .replace('\n', "|");
            if message == "WATCHDOG=1" {
                self.watchdog_pings += 1;
                continue;
            }
            if message.starts_with("EXTEND_TIMEOUT_USEC=") {
                self.extensions += 1;
                continue;
            }
            return message;
        }
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

#[test]
fn under_systemd_the_example_notifies_ready_reloading_stopping_and_the_watchdog() {
    let mut notify = NotifySocket::bind();
    let socket = notify.path();
    let mut process = start(
        "server",
        &[
            ("NOTIFY_SOCKET", socket.as_str()),
            ("WATCHDOG_USEC", "100000"),
            ("LIFESPAN_DEV", "1"),
        ],
    );
    assert_eq!(notify.next(), "STATUS=starting");
    assert_eq!(notify.next(), "READY=1|STATUS=running");
    process.expect("lifespan startup complete");
    process.signal("HUP");
    let reloading = notify.next();
    assert!(
        reloading.starts_with("RELOADING=1|MONOTONIC_USEC="),
        "{reloading}"
    );
    assert!(reloading.ends_with("|STATUS=reloading"), "{reloading}");
    assert_eq!(notify.next(), "READY=1|STATUS=running");
    process.signal("TERM");
    assert_eq!(notify.next(), "STOPPING=1|STATUS=stopping");
    assert_eq!(notify.next(), "STATUS=stopped");
    let (status, lines) = process.finish();
    assert!(status.success(), "{}", lines.join("\n"));
    assert!(
        notify.watchdog_pings > 0,
        "no WATCHDOG=1 at half of WATCHDOG_USEC"
    );
    // At least on entering the setup and the shutdown.
    assert!(
        notify.extensions >= 2,
        "{} EXTEND_TIMEOUT_USEC while starting and stopping",
        notify.extensions
    );
}

#[test]
fn the_own_serve_example_serves_with_its_own_axum_serve_and_stops_in_order_on_sigterm() {
    let mut process = start("own_serve", &[]);
    let addr = process.expect("listening on ").trim().to_owned();
    process.expect("lifespan startup complete");
    assert_eq!(get(&addr, "/"), "hello from the app's own server");
    assert_eq!(request(&addr, "/ready", "").0, 200);
    process.signal("TERM");
    let (status, lines) = process.finish();
    assert!(status.success(), "{}", lines.join("\n"));
    // The server drains, then the task stops, then the context is cleaned up.
    let drained = position(&lines, "server stops accepting");
    let stopped = position(&lines, "heartbeat stopped");
    let released = position(&lines, "greeting released");
    assert!(
        drained < stopped && stopped < released,
        "{}",
        lines.join("\n")
    );
}

/// The service of `examples/grpc.rs`, as its generated client sees it.
mod greeter {
    tonic::include_proto!("greeter");
}

#[test]
fn the_grpc_example_answers_a_generated_client_and_finishes_a_call_in_flight_at_sigterm() {
    use greeter::greeter_client::GreeterClient;
    use greeter::HelloRequest;

    let mut process = start("grpc", &[]);
    let addr = process.expect("listening on ").trim().to_owned();
    process.expect("lifespan startup complete");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    // Timers are made here, outside `block_on`: within the runtime's context.
    let _entered = runtime.enter();
    let mut client = runtime
        .block_on(tokio::time::timeout(
            PATIENCE,
            GreeterClient::connect(format!("http://{addr}")),
        ))
        .expect("connected in time")
        .unwrap();
    let hello = |name: &str, delay_ms| HelloRequest {
        name: name.into(),
        delay_ms,
    };
    let reply = runtime
        .block_on(tokio::time::timeout(
            PATIENCE,
            client.say_hello(hello("test", 0)),
        ))
        .expect("answered in time")
        .unwrap();
    assert_eq!(reply.into_inner().message, "hello, test");

    // A slow call in flight when SIGTERM comes: the drain lets it finish.
    let mut slow_client = client.clone();
    let slow = runtime.spawn(async move {
        tokio::time::timeout(PATIENCE, slow_client.say_hello(hello("drain", 1000))).await
    });
    process.expect("call received name=drain");
    process.signal("TERM");
    let reply = runtime
        .block_on(slow)
        .unwrap()
        .expect("answered in time")
        .unwrap();
    assert_eq!(reply.into_inner().message, "hello, drain");
    let (status, lines) = process.finish();
    assert!(status.success(), "{}", lines.join("\n"));
    let drained = position(&lines, "server stops accepting");
    let stopped = position(&lines, "heartbeat stopped");
    let released = position(&lines, "salutation released");
    assert!(
        drained < stopped && stopped < released,
        "{}",
        lines.join("\n")
    );
}
