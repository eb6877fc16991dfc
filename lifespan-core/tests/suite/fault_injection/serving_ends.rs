//! How a server of the user's can end, while random contexts and tasks run (feature `axum`): an
//! axum server on a loopback listener gets a bounded number of requests, and then
//!
//! - **it panics** (run by `App::run_server_until`), at a random moment, before or after its
//!   drain began: the run ends with `RunError::ServerPanicked` (or with the startup error, if
//!   startup failed and the server never launched);
//! - **the app is dropped** while the server (one the app does not run) waits on
//!   `App::shutdown_signal`: the signal completes, the server drains and ends;
//! - **the run is dropped, then the app** while the app runs the server: the server is told to
//!   stop accepting, drains and ends.
//!
//! From the shared log, each case checks that every context set up is cleaned up once, that no
//! cleanup begins before every run of a task has ended or was dropped, that every request whose
//! handler began was answered 200 (nothing abandons it here), and that nothing answers on the
//! port afterwards. Real time, loopback: durations are tens of milliseconds, every wait is
//! bounded, 10 cases by default (one for every hundred of `PROPTEST_CASES`, at least 10).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use lifespan_core::{App, Phase, RunError, ShutdownSignal};
use lifespan_test_support::http_get;
use proptest::prelude::*;
use tokio::net::TcpListener;
use tokio::time::{sleep, timeout};

use super::build::build_with;
use super::case::*;
use super::check::render;
use super::loopback;
use super::record::*;
use super::serving::{self, Marks, ServeCase};

/// How the server's run ends.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Ending {
    /// The server run by the app panics this long after it began serving; the stop future
    /// completes `stop_after` after startup (so the panic may come during the drain).
    ServerPanics { after: Ms, stop_after: Ms },
    /// A server the app does not run waits on its shutdown signal; the app is dropped this long
    /// after startup.
    AppDropped { after: Ms },
    /// The app runs the server; this long after startup, the run and then the app are dropped.
    RunAndAppDropped { after: Ms },
}

#[derive(Clone, Debug)]
pub(crate) struct EndingCase {
    pub(crate) serve: ServeCase,
    pub(crate) ending: Ending,
}

fn ending() -> impl Strategy<Value = Ending> {
    prop_oneof![
        (tens(0..=10), tens(0..=10))
            .prop_map(|(after, stop_after)| Ending::ServerPanics { after, stop_after }),
        tens(0..=10).prop_map(|after| Ending::AppDropped { after }),
        tens(0..=10).prop_map(|after| Ending::RunAndAppDropped { after }),
    ]
}

pub(crate) fn ending_case() -> impl Strategy<Value = EndingCase> {
    (serving::serve_case(), ending()).prop_map(|(serve, ending)| EndingCase { serve, ending })
}

/// How long any one part of a case may take: a bug fails the case, never hangs it.
const LIMIT: Duration = Duration::from_secs(10);

/// The message of the injected panic.
const PANIC: &str = "injected: the server panics";

/// Runs `case` on a fresh current-thread runtime with real time; returns the situations it
/// went through.
pub(crate) fn run_ending(case: &EndingCase) -> Result<BTreeSet<&'static str>, String> {
    loopback::on_real_time(|| async {
        let log = Arc::new(Log::default());
        let marks = Arc::new(Marks::new(log.clone()));
        let app = build_with(&case.serve.app, &log, |builder| builder);
        let (listener, addr, origin, clients) =
            loopback::listen_and_send(&case.serve.requests).await?;
        let router = serving::router(&marks);
        let mut situations = BTreeSet::new();
        let ended = match case.ending {
            Ending::ServerPanics { after, stop_after } => {
                server_panics(app, listener, router, (after, stop_after), &mut situations).await
            }
            Ending::AppDropped { after } => {
                app_dropped(app, listener, router, after, &mut situations).await
            }
            Ending::RunAndAppDropped { after } => {
                run_and_app_dropped(app, listener, router, after, &mut situations).await
            }
        };
        let answers = loopback::answers(clients).await?;
        let context = || {
            format!(
                "\nanswers: {answers:?}\nlog:\n{}",
                render(&log.records(), origin)
            )
        };
        ended.map_err(|violation| violation + &context())?;
        // The background shutdown of a dropped app ends on its own: wait for it.
        timeout(LIMIT, wait_for_the_app()).await.map_err(|_| {
            format!(
                "tokio tasks still alive after the app's shutdown{}",
                context()
            )
        })?;
        let after = timeout(Duration::from_secs(2), http_get(addr, "/fast/0")).await;
        ensure!(
            matches!(after, Ok(Err(_))),
            "something answers on {addr} after the server ended{}",
            context()
        );
        check_ending(case, &log.records(), &marks, &answers)
            .map_err(|violation| violation + &context())?;
        Ok(situations)
    })
}

/// The server run by the app panics: the run ends with `ServerPanicked`, the app stopped.
async fn server_panics(
    app: App,
    listener: TcpListener,
    router: axum::Router,
    (after, stop_after): (Ms, Ms),
    situations: &mut BTreeSet<&'static str>,
) -> Result<(), String> {
    let server = move |stop_accepting: ShutdownSignal| async move {
        let serving = axum::serve(listener, router).with_graceful_shutdown(stop_accepting);
        // Serves for `after`, or until its drain is over if that comes first; then panics.
        let _ = timeout(after.get(), serving).await;
        panic!("{PANIC}");
        #[allow(unreachable_code)]
        Ok::<(), std::io::Error>(())
    };
    let started = app.phases();
    let stop = async move {
        let mut started = started;
        let _ = timeout(LIMIT, started.wait_for(Phase::Running)).await;
        sleep(stop_after.get()).await;
    };
    let result = timeout(LIMIT, app.run_server_until(server, stop))
        .await
        .map_err(|_| "run_server_until did not return".to_owned())?;
    match &result {
        Err(RunError::ServerPanicked { message, .. }) if message == PANIC => {
            situations.insert("the server panicked");
        }
        Err(RunError::Startup(_)) => {
            situations.insert("startup failed, no server launched");
        }
        other => {
            return Err(format!(
                "the run ended with {other:?}, not the server's panic"
            ))
        }
    }
    ensure!(
        app.phase() == Phase::Stopped,
        "the app is {:?} after the run",
        app.phase()
    );
    Ok(())
}

/// A server the app does not run waits on the shutdown signal; the app is dropped.
async fn app_dropped(
    app: App,
    listener: TcpListener,
    router: axum::Router,
    after: Ms,
    situations: &mut BTreeSet<&'static str>,
) -> Result<(), String> {
    let signal = app.shutdown_signal();
    let server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(signal)
            .await
    });
    if timeout(LIMIT, app.start())
        .await
        .is_ok_and(|started| started.is_ok())
    {
        situations.insert("the app was dropped while running");
    }
    sleep(after.get()).await;
    drop(app);
    timeout(LIMIT, server)
        .await
        .map_err(|_| "the server did not drain after the app was dropped".to_owned())?
        .map_err(|error| format!("the server's task failed: {error}"))?
        .map_err(|error| format!("the server failed: {error}"))
}

/// The app runs the server; the run is dropped, then the app.
async fn run_and_app_dropped(
    app: App,
    listener: TcpListener,
    router: axum::Router,
    after: Ms,
    situations: &mut BTreeSet<&'static str>,
) -> Result<(), String> {
    let (ended_tx, ended_rx) = tokio::sync::oneshot::channel::<()>();
    let server = move |stop_accepting: ShutdownSignal| async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(stop_accepting)
            .await;
        let _ = ended_tx.send(());
        served
    };
    let mut phases = app.phases();
    let run = tokio::spawn({
        let app = app.clone();
        async move {
            let _ = app
                .run_server_until(server, std::future::pending::<()>())
                .await;
        }
    });
    let running = timeout(LIMIT, phases.wait_for(Phase::Running)).await;
    sleep(after.get()).await;
    run.abort();
    let _ = run.await;
    drop(app);
    if running.is_ok_and(|running| running) {
        situations.insert("the run and the app were dropped while serving");
        timeout(LIMIT, ended_rx)
            .await
            .map_err(|_| "the server did not drain after the app was dropped".to_owned())?
            .map_err(|_| "the server was dropped without draining".to_owned())?;
    }
    Ok(())
}

/// Waits until no tokio task is alive: the clients and the server have ended, so this is the
/// end of the app's shutdown (in the background, for a dropped app), cleanups timed out included.
async fn wait_for_the_app() {
    let metrics = tokio::runtime::Handle::current().metrics();
    while metrics.num_alive_tasks() > 0 {
        sleep(Duration::from_millis(5)).await;
    }
}

fn check_ending(
    case: &EndingCase,
    records: &[Record],
    marks: &Marks,
    answers: &[loopback::Answer],
) -> Result<(), String> {
    for c in 0..case.serve.app.contexts.len() {
        let set_up = records
            .iter()
            .filter(|r| r.event == Event::SetupDone(c))
            .count();
        let cleanups = records
            .iter()
            .filter(|r| r.event == Event::CleanupBegan(c))
            .count();
        ensure!(
            set_up == cleanups,
            "context {c}: set up {set_up} times, cleaned up {cleanups} times"
        );
    }
    serving::check_tasks_before_cleanup(records, case.serve.app.tasks.len())?;
    for id in marks.began_ids() {
        ensure!(
            matches!(&answers[id], Some(Ok((200, body))) if body == "done"),
            "request {id}'s handler began, but it was answered {:?}",
            answers[id]
        );
    }
    Ok(())
}

/// One case for every hundred of the current-thread property (10 by default), at least 10.
fn ending_config() -> ProptestConfig {
    super::scaled_config(1, 100)
}

/// On its own runner: the `proptest!` macro would let `PROPTEST_CASES` set its case count.
#[test]
fn servers_that_panic_or_outlive_their_app_end_with_a_full_shutdown() {
    super::run_on_own_runner(ending_config(), ending_case(), |case| {
        run_ending(case).map(drop)
    });
}

/// Each ending, reached on an app that starts: random cases reach them only by chance.
#[test]
fn every_ending_is_reached() {
    let serve = ServeCase {
        app: Case::bare(),
        drain_timeout: Ms(25),
        requests: vec![serving::RequestCase {
            sent_after: Ms(0),
            slow: false,
        }],
        stop_after_begun: 0,
        stop_extra: Ms(0),
    };
    for (ending, expected) in [
        (
            Ending::ServerPanics {
                after: Ms(30),
                stop_after: Ms(100),
            },
            "the server panicked",
        ),
        (
            Ending::ServerPanics {
                after: Ms(0),
                stop_after: Ms(0),
            },
            "the server panicked",
        ),
        (
            Ending::AppDropped { after: Ms(30) },
            "the app was dropped while running",
        ),
        (
            Ending::RunAndAppDropped { after: Ms(30) },
            "the run and the app were dropped while serving",
        ),
    ] {
        let case = EndingCase {
            serve: serve.clone(),
            ending,
        };
        let situations = run_ending(&case).unwrap_or_else(|violation| panic!("{violation}"));
        assert!(
            situations.contains(expected),
            "{case:#?}\nreached {situations:?}, not {expected:?}"
        );
    }
}
