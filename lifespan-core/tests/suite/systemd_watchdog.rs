//! systemd's watchdog fed only while the app is live, in a real process: `EXTEND_TIMEOUT_USEC=`
//! comes during a slow setup and a slow cleanup; once a task blocks its thread (`std::thread::sleep`) past the
//! stuck limit, `WATCHDOG=trigger` comes with a `STATUS=` line naming the task, within the limit
//! and a look of the watchdog's thread, and no `WATCHDOG=1` after it. On a current-thread
//! runtime (its only thread blocked) and on a multi-thread one (its other thread runs timers).
//! Without a stuck limit, a current-thread runtime blocked in a poll stops the pings within a
//! watchdog period, since its heartbeat stops, and they resume when the poll returns.
//!
//! The process is this test binary run again with `LIFESPAN_TEST_WATCHDOG_CHILD` (the runtime's
//! flavour) and `NOTIFY_SOCKET` set, running the ignored `child_*` test; the test binds the
//! socket and reads the datagrams (see `systemd_notify`).
#![cfg(unix)]

use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::{Duration, Instant};

use lifespan_core::{App, Shutdown, Yield};
use lifespan_test_support::Process;

use super::systemd_notify::Heard;

const CHILD: &str = "LIFESPAN_TEST_WATCHDOG_CHILD";

/// The watchdog period the child is given: it pings every half of it.
const WATCHDOG: Duration = Duration::from_secs(1);
/// The child's stuck limit: its watchdog thread looks every half of it.
const STUCK_LIMIT: Duration = Duration::from_millis(300);
/// How long the child's context takes to set up.
const SLOW_SETUP: Duration = Duration::from_millis(1500);
/// How long the child's context takes to clean up.
const SLOW_CLEANUP: Duration = Duration::from_millis(1200);
/// How long the child's task runs before it blocks: long enough for pings once running.
const BEFORE_BLOCKING: Duration = Duration::from_millis(1200);
/// How long the child's task blocks its thread.
const BLOCKED: Duration = Duration::from_secs(2);
/// How long it blocks without a stuck limit: three watchdog periods.
const BLOCKED_UNLIMITED: Duration = Duration::from_secs(3);
/// Pings sent before the task blocked may still be read this long after it did.
const READ_LATE: Duration = Duration::from_millis(100);
/// What a loaded machine may add to a bound.
const SLACK: Duration = Duration::from_secs(1);

#[test]
#[ignore = "run as a child process by the other tests of this module"]
fn child_blocks_a_thread_under_systemd() {
    let Some(flavour) = std::env::var_os(CHILD) else {
        return;
    };
    let runtime = if flavour == "multi" {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
    .unwrap();
    let mut builder = App::builder().empty();
    let mut blocked = BLOCKED_UNLIMITED;
    if flavour != "current-unlimited" {
        builder = builder.stuck_limit(STUCK_LIMIT);
        blocked = BLOCKED;
    }
    runtime.block_on(async {
        let app = builder.build();
        app.register_context("slow", |lifespan: Yield| async move {
            tokio::time::sleep(SLOW_SETUP).await;
            lifespan.ready().await;
            tokio::time::sleep(SLOW_CLEANUP).await;
        })
        .unwrap();
        app.register_task("blocker", move |shutdown: Shutdown| async move {
            tokio::time::sleep(BEFORE_BLOCKING).await;
            println!("child: blocking");
            std::thread::sleep(blocked);
            println!("child: unblocked");
            shutdown.cancelled().await;
        })
        .unwrap();
        let report = app.run_until_signal().await.unwrap();
        println!(
            "child: returned: {}",
            report.to_string().replace('\n', " | ")
        );
    });
}

#[test]
fn stuck_on_a_current_thread_runtime_triggers_the_watchdog_naming_the_task() {
    stuck_triggers_the_watchdog("current");
}

#[test]
fn stuck_on_a_multi_thread_runtime_triggers_the_watchdog_naming_the_task() {
    stuck_triggers_the_watchdog("multi");
}

#[test]
fn a_blocked_current_thread_runtime_stops_the_pings_without_a_stuck_limit() {
    let (dir, socket) = notify_socket("unlimited");
    let mut child = spawn_child("current-unlimited", &dir);
    let mut heard = Heard::new(&socket);
    heard.until("STATUS=starting\n");
    heard.until("READY=1\nSTATUS=running\n");
    child.expect("child: blocking");
    let blocking = Instant::now();
    // The pings heard while the runtime's only thread is blocked: only those sent within a
    // watchdog period of the heartbeat's last beat, at most one per half period (sent on,
    // there would be six).
    let mut at = Vec::new();
    while let Some(left) = BLOCKED_UNLIMITED.checked_sub(blocking.elapsed()) {
        socket
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        match super::systemd_notify::receive(&socket) {
            Ok(message) => {
                if message == "WATCHDOG=1\n" {
                    heard.watchdogs += 1;
                    if blocking.elapsed() > READ_LATE {
                        at.push(blocking.elapsed());
                    }
                }
                heard.all.push(message);
            }
            Err(_) => break,
        }
    }
    assert!(
        at.len() <= 3,
        "{} pings while the runtime was blocked for {BLOCKED_UNLIMITED:?}, at {at:?}",
        at.len()
    );
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    child.expect("child: unblocked");
    heard.watchdogs_at_least(heard.watchdogs + 1);
    child.signal("TERM");
    heard.until("STOPPING=1\nSTATUS=stopping\n");
    heard.until("STATUS=stopped\n");
    let (status, output) = child.finish();
    assert!(
        status.success(),
        "the child failed: {status}; output:\n{}",
        output.join("\n")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fresh directory holding the bound notify socket, read with a bound.
fn notify_socket(what: &str) -> (std::path::PathBuf, UnixDatagram) {
    let dir = std::env::temp_dir().join(format!(
        "lifespan-watchdog-{}-{}",
        std::process::id(),
        lifespan_test_support::unique_name(what)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let socket = UnixDatagram::bind(dir.join("notify")).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    (dir, socket)
}

/// The child on a runtime of `flavour`, notifying the socket in `dir`.
fn spawn_child(flavour: &str, dir: &std::path::Path) -> Process {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--exact",
            "systemd_watchdog::child_blocks_a_thread_under_systemd",
        ])
        .args(["--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD, flavour)
        .env("NOTIFY_SOCKET", dir.join("notify"))
        .env("WATCHDOG_USEC", WATCHDOG.as_micros().to_string())
        .env_remove("WATCHDOG_PID");
    Process::spawn(command)
}

fn stuck_triggers_the_watchdog(flavour: &str) {
    let (dir, socket) = notify_socket(flavour);
    let mut child = spawn_child(flavour, &dir);
    let mut heard = Heard::new(&socket);

    heard.until("STATUS=starting\n");
    heard.until("READY=1\nSTATUS=running\n");
    assert!(
        heard.extends >= 1,
        "no EXTEND_TIMEOUT_USEC during a setup of {SLOW_SETUP:?}; heard: {:?}",
        heard.all
    );
    heard.watchdogs_at_least(heard.watchdogs + 1);
    child.expect("child: blocking");
    let blocking = Instant::now();
    let trigger = heard.next_besides_watchdog();
    let took = blocking.elapsed();
    let pings = heard.watchdogs;
    assert!(
        trigger.starts_with(
            "WATCHDOG=trigger\nSTATUS=stuck: task `blocker` has blocked its thread for "
        ),
        "heard: {:?}",
        heard.all
    );
    assert!(
        took <= STUCK_LIMIT + STUCK_LIMIT / 2 + SLACK,
        "the trigger came {took:?} after the task blocked, limit {STUCK_LIMIT:?}"
    );
    child.expect("child: unblocked");
    child.signal("TERM");
    heard.until("STOPPING=1\nSTATUS=stopping\n");
    let extends = heard.extends;
    heard.until("STATUS=stopped\n");
    assert!(
        heard.extends > extends,
        "no EXTEND_TIMEOUT_USEC during a cleanup of {SLOW_CLEANUP:?}; heard: {:?}",
        heard.all
    );
    let (status, output) = child.finish();
    assert!(
        status.success(),
        "the child failed: {status}; output:\n{}",
        output.join("\n")
    );
    assert_eq!(
        heard.watchdogs, pings,
        "fed after the trigger; heard: {:?}",
        heard.all
    );
    let _ = std::fs::remove_dir_all(&dir);
}
