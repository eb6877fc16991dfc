//! The quickstart example as a real process receiving real signals: in dev mode SIGHUP reloads
//! it; SIGTERM shuts it down gracefully, cleanup runs, and it exits 0.
#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

/// How long to wait for one expected log line before failing (the example answers in
/// milliseconds; this bound only keeps a broken build from hanging the suite).
const PATIENCE: Duration = Duration::from_secs(60);

/// The quickstart binary, which `cargo test` builds with the other examples.
fn quickstart() -> PathBuf {
    let test_binary = std::env::current_exe().unwrap();
    let profile_dir = test_binary.parent().and_then(|deps| deps.parent()).unwrap();
    let path = profile_dir.join("examples").join("quickstart");
    assert!(
        path.exists(),
        "{} is not built: run the tests with `cargo test --workspace`, which builds the examples",
        path.display()
    );
    path
}

struct Process {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Process {
    fn start(envs: &[(&str, &str)]) -> Self {
        let mut command = Command::new(quickstart());
        command
            .env_remove("BAR_PARAM")
            .env_remove("LIFESPAN_DEV")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in envs {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap();
        let (sender, lines) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let sender = sender.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if sender.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Process {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a line containing `text`; returns the lines read up to it.
    fn expect(&mut self, text: &str) {
        loop {
            match self.lines.recv_timeout(PATIENCE) {
                Ok(line) => {
                    let found = line.contains(text);
                    self.seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(error) => panic!(
                    "no line containing {text:?} ({error}); output:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Reads the rest of the output (it ends when the process closes its pipes, at its exit)
    /// and waits for the exit, killing the process if it does not exit in time.
    fn finish(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let deadline = std::time::Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!(
                        "the process did not exit; output:\n{}",
                        self.seen.join("\n")
                    );
                }
            }
        }
        let status = self.child.wait().unwrap();
        (status, std::mem::take(&mut self.seen))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn position(lines: &[String], text: &str) -> usize {
    lines
        .iter()
        .rposition(|line| line.contains(text))
        .unwrap_or_else(|| panic!("no line containing {text:?}:\n{}", lines.join("\n")))
}

#[test]
fn sigterm_stops_the_task_then_cleans_up_and_exits_zero_and_sighup_reloads_in_dev_mode() {
    let mut process = Process::start(&[("BAR_PARAM", "hello"), ("LIFESPAN_DEV", "1")]);
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
    let process = Process::start(&[]);
    let (status, lines) = process.finish();
    assert_eq!(status.code(), Some(1), "{}", lines.join("\n"));
    assert!(
        lines.iter().any(|l| l.contains(
            "argument `bar` of lifespan task `quickstart::long_running_task` could not be evaluated: environment variable not found"
        )),
        "{}",
        lines.join("\n")
    );
    assert!(
        !lines.iter().any(|l| l.contains("loading the ML model")),
        "nothing is set up"
    );
}
