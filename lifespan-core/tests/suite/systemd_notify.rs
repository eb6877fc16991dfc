//! systemd's notify protocol as the runtime speaks it, in a real process: `STATUS=starting`,
//! `READY=1` once startup is complete, `RELOADING=1` with `MONOTONIC_USEC` on SIGHUP in dev mode
//! and `READY=1` after it, `STOPPING=1` on SIGTERM, `STATUS=stopped` at the end, and `WATCHDOG=1`
//! at half of `WATCHDOG_USEC` from the start until the run ends, never after (nor any
//! `EXTEND_TIMEOUT_USEC=`, which `systemd_watchdog` checks).
//!
//! The process is this test binary run again with `LIFESPAN_TEST_CHILD` and `NOTIFY_SOCKET` set
//! (the protocol reads the environment), running the ignored `child_*` test; this test binds the
//! socket and reads the datagrams.
#![cfg(unix)]

use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::{Duration, Instant};

use lifespan_core::{App, Shutdown};
use lifespan_test_support::Process;

const CHILD: &str = "LIFESPAN_TEST_CHILD";

/// The watchdog period the child is given: it notifies every half of it.
const WATCHDOG: Duration = Duration::from_millis(100);

/// How long the child's runtime goes on after the run has returned: a watchdog left running
/// would still notify meanwhile.
const AFTER_THE_RUN: Duration = Duration::from_millis(300);

#[test]
#[ignore = "run as a child process by `systemd_hears_starting_ready_reloading_stopping_and_the_watchdog`"]
fn child_runs_until_signal_under_systemd() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    // One thread: a message sent by the run is never interleaved with the watchdog's.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let app = App::builder().empty().dev_mode(true).build();
        app.register_task("waiter", |shutdown: Shutdown| async move {
            shutdown.cancelled().await;
        })
        .unwrap();
        let report = app.run_until_signal().await.unwrap();
        println!(
            "child: returned: {}",
            report.to_string().replace('\n', " | ")
        );
        tokio::time::sleep(AFTER_THE_RUN).await;
        println!("child: done");
    });
}

#[test]
fn systemd_hears_starting_ready_reloading_stopping_and_the_watchdog() {
    let dir = std::env::temp_dir().join(format!(
        "lifespan-notify-{}-{}",
        std::process::id(),
        lifespan_test_support::unique_name("socket")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("notify");
    let socket = UnixDatagram::bind(&path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();

    let began = Instant::now();
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--exact",
            "systemd_notify::child_runs_until_signal_under_systemd",
        ])
        .args(["--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env("NOTIFY_SOCKET", &path)
        .env("WATCHDOG_USEC", WATCHDOG.as_micros().to_string())
        .env_remove("WATCHDOG_PID");
    let child = Process::spawn(command);
    let mut heard = Heard::new(&socket);

    heard.until("STATUS=starting\n");
    heard.until("READY=1\nSTATUS=running\n");
    heard.watchdogs_at_least(2);
    child.signal("HUP");
    let reloading = heard.next_besides_watchdog();
    assert!(
        reloading.starts_with("RELOADING=1\nMONOTONIC_USEC=")
            && reloading.ends_with("\nSTATUS=reloading\n"),
        "the reload was told as {reloading:?}; heard: {:?}",
        heard.all
    );
    heard.until("READY=1\nSTATUS=running\n");
    child.signal("TERM");
    heard.until("STOPPING=1\nSTATUS=stopping\n");
    heard.until("STATUS=stopped\n");
    let (status, output) = child.finish();
    let lasted = began.elapsed();
    assert!(
        status.success(),
        "the child failed: {status}; output:\n{}",
        output.join("\n")
    );
    assert!(
        output.iter().any(|line| line == "child: done"),
        "{output:#?}"
    );

    // The rest, sent before the child exited: no watchdog once the run has ended.
    socket.set_nonblocking(true).unwrap();
    let after: Vec<String> = std::iter::from_fn(|| receive(&socket).ok()).collect();
    assert!(
        after.is_empty(),
        "notified after `STATUS=stopped`: {after:?}"
    );
    // An interval never runs ahead of its schedule: at most one notification per half period
    // of the child's life, and the first at once.
    let most = lasted.as_millis() / (WATCHDOG / 2).as_millis() + 1;
    assert!(
        (heard.watchdogs as u128) <= most,
        "{} watchdog notifications in {lasted:?}, more than one per {:?}",
        heard.watchdogs,
        WATCHDOG / 2
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The datagrams heard so far, `WATCHDOG=1` and `EXTEND_TIMEOUT_USEC=` counted apart: they come
/// from timers, between the others.
pub(super) struct Heard<'a> {
    socket: &'a UnixDatagram,
    pub(super) all: Vec<String>,
    pub(super) watchdogs: usize,
    pub(super) extends: usize,
}

impl<'a> Heard<'a> {
    pub(super) fn new(socket: &'a UnixDatagram) -> Self {
        Heard {
            socket,
            all: Vec::new(),
            watchdogs: 0,
            extends: 0,
        }
    }

    /// The next message other than `WATCHDOG=1` and `EXTEND_TIMEOUT_USEC=`, failing (bounded by
    /// the read timeout) if none comes.
    pub(super) fn next_besides_watchdog(&mut self) -> String {
        loop {
            let message = receive(self.socket).unwrap_or_else(|error| {
                panic!("no notification came ({error}); heard: {:?}", self.all)
            });
            self.all.push(message.clone());
            if message == "WATCHDOG=1\n" {
                self.watchdogs += 1;
            } else if message.starts_with("EXTEND_TIMEOUT_USEC=") {
                self.extends += 1;
            } else {
                return message;
            }
        }
    }

    /// Waits for `expected` as the next message other than `WATCHDOG=1` and
    /// `EXTEND_TIMEOUT_USEC=`.
    pub(super) fn until(&mut self, expected: &str) {
        let message = self.next_besides_watchdog();
        assert_eq!(message, expected, "heard: {:?}", self.all);
    }

    /// Waits until `count` watchdog notifications have come.
    pub(super) fn watchdogs_at_least(&mut self, count: usize) {
        while self.watchdogs < count {
            let message = receive(self.socket).unwrap_or_else(|error| {
                panic!(
                    "{count} watchdog notifications did not come ({error}); heard: {:?}",
                    self.all
                )
            });
            self.all.push(message.clone());
            if message.starts_with("EXTEND_TIMEOUT_USEC=") {
                self.extends += 1;
                continue;
            }
            assert_eq!(message, "WATCHDOG=1\n", "heard: {:?}", self.all);
            self.watchdogs += 1;
        }
    }
}

pub(super) fn receive(socket: &UnixDatagram) -> std::io::Result<String> {
    let mut buffer = [0u8; 4096];
    let length = socket.recv(&mut buffer)?;
    Ok(String::from_utf8_lossy(&buffer[..length]).into_owned())
}
