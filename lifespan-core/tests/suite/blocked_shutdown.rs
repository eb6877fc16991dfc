//! A task that blocks its thread when asked to stop, in a real process receiving real signals:
//! shutdown stays bounded (grace period, then one second to see the aborted task go), names the
//! task, and once `run_until_signal` has returned the app no longer holds SIGTERM, so the next
//! SIGTERM ends the process that the blocked thread keeps alive, as it would any program.
//!
//! And a process that runs the app twice: the second run listens for SIGTERM again.
//!
//! The processes are this test binary run again with `LIFESPAN_TEST_CHILD` set, running one of
//! the ignored `child_*` tests.
#![cfg(unix)]

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::{Duration, Instant};

use lifespan_core::{App, Shutdown};
use lifespan_test_support::Process;

const CHILD: &str = "LIFESPAN_TEST_CHILD";

/// The child: a task that, asked to stop, blocks its runtime thread (for a minute at most, so
/// that no process outlives a broken test for long).
#[test]
#[ignore = "run as a child process by `a_blocked_task_is_named_and_the_next_sigterm_ends_the_process`"]
fn child_blocks_a_thread_at_shutdown() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    log_to_stderr();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let app = App::builder()
            .empty()
            .grace_period(Duration::from_millis(100))
            .build();
        app.register_task("stubborn", |shutdown: Shutdown| async move {
            println!("child: running");
            shutdown.cancelled().await;
            std::thread::sleep(Duration::from_secs(60));
        })
        .unwrap();
        let report = app.run_until_signal().await.unwrap();
        println!(
            "child: returned: {}",
            report.to_string().replace('\n', " | ")
        );
    });
    // Dropping the runtime waits for the blocked thread: the process hangs here.
    drop(runtime);
    println!("child: runtime dropped");
}

/// The child that runs the app twice, each run until SIGTERM.
#[test]
#[ignore = "run as a child process by `an_app_run_again_listens_for_sigterm_again`"]
fn child_runs_twice() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    log_to_stderr();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let app = App::empty();
        app.register_task("waiter", |shutdown: Shutdown| async move {
            println!("child: running");
            shutdown.cancelled().await;
        })
        .unwrap();
        for run in 1..=2 {
            let report = app.run_until_signal().await.unwrap();
            println!(
                "child: run {run} returned: {}",
                report.to_string().replace('\n', " | ")
            );
        }
    });
}

fn log_to_stderr() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}

/// Runs the ignored test `child_test` of this binary as a child process.
fn start(child_test: &str) -> Process {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--ignored",
            "--exact",
            child_test,
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env("RUST_LOG", "info");
    Process::spawn(command)
}

#[test]
fn a_blocked_task_is_named_and_the_next_sigterm_ends_the_process() {
    let mut process = start("blocked_shutdown::child_blocks_a_thread_at_shutdown");
    process.expect("child: running");
    let asked = Instant::now();
    process.signal("TERM");
    let named = process.expect("lifespan task `stubborn` ");
    assert!(named.contains("blocking its thread"), "{named}");
    let returned = process.expect("child: returned:");
    // Grace period (100 ms) plus one second to see the aborted task go, and some slack.
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "{:?}",
        asked.elapsed()
    );
    assert!(returned.contains("aborted"), "{returned}");
    // The blocked thread keeps the process alive; a SIGTERM now gets the default action.
    process.signal("TERM");
    let (status, output) = process.finish();
    // SIGTERM is 15 on every Unix this runs on.
    assert_eq!(
        status.signal(),
        Some(15),
        "{status:?}; output:\n{}",
        output.join("\n")
    );
    assert!(!output.iter().any(|l| l.contains("runtime dropped")));
}

#[test]
fn an_app_run_again_listens_for_sigterm_again() {
    let mut process = start("blocked_shutdown::child_runs_twice");
    for run in 1..=2 {
        process.expect("child: running");
        process.signal("TERM");
        let returned = process.expect(&format!("child: run {run} returned:"));
        assert!(returned.contains("stopped on shutdown"), "{returned}");
    }
    let (status, output) = process.finish();
    assert!(
        status.success(),
        "{status:?}; output:\n{}",
        output.join("\n")
    );
}
