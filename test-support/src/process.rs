//! A child process for the process tests: its output read line by line, every wait bounded.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How long to wait for one expected line, or for the exit (the processes answer in
/// milliseconds; this bound only keeps a broken build from hanging the suite).
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A running child process whose stdout and stderr lines are collected as they come. Dropping
/// it kills the process.
///
/// ```no_run
/// let mut process = lifespan_test_support::Process::spawn(std::process::Command::new("my-server"));
/// let port = process.expect("listening on 127.0.0.1:");
/// process.signal("TERM");
/// let (status, output) = process.finish();
/// assert!(status.success(), "{output:?} {port}");
/// ```
pub struct Process {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Process {
    /// Starts `command` with its output piped here and no input.
    pub fn spawn(mut command: Command) -> Self {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
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

    /// Waits for a line containing `text` and returns what follows `text` on it; panics with
    /// the output so far if none comes within [`PATIENCE`].
    pub fn expect(&mut self, text: &str) -> String {
        // One deadline for the whole wait: a process that logs periodically must not extend it.
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let rest = line.split_once(text).map(|(_, rest)| rest.to_owned());
                    self.seen.push(line);
                    if let Some(rest) = rest {
                        return rest;
                    }
                }
                Err(error) => {
                    let _ = self.child.kill();
                    panic!(
                        "no line containing {text:?} ({error}); output:\n{}",
                        self.seen.join("\n")
                    )
                }
            }
        }
    }

    /// Sends `signal` (`"TERM"`, `"HUP"`, ...) to the process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} failed");
    }

    /// The lines read so far.
    pub fn seen(&self) -> &[String] {
        &self.seen
    }

    /// Reads the rest of the output (it ends when the process closes its pipes, at its exit)
    /// and waits for the exit; kills the process and panics if it does not exit within
    /// [`PATIENCE`].
    pub fn finish(mut self) -> (ExitStatus, Vec<String>) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!(
                        "the process did not exit within {PATIENCE:?}; output:\n{}",
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
        let _ = self.child.wait();
    }
}
