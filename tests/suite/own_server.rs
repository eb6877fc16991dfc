//! A service that keeps its own `axum::serve` call: the app's shutdown signal stops it, for a
//! signal, a request or a critical task failing for good, and a signal taken before the run
//! belongs to that run.

use std::time::Duration;

use axum::{routing::get, Router};
use lifespan_core::{App, RunError, Shutdown, TaskOptions};
use lifespan_examples::{bounded, http_get};

const LIMIT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_critical_failure_stops_a_server_the_app_does_not_run() {
    let app = App::empty();
    let (fail_tx, fail_rx) = tokio::sync::oneshot::channel::<()>();
    let fail_rx = std::sync::Mutex::new(Some(fail_rx));
    app.register_task_with("feed", TaskOptions::new().critical(true), move || {
        let fail = fail_rx.lock().unwrap().take();
        async move {
            if let Some(fail) = fail {
                let _ = fail.await;
            }
            Err::<(), _>("the feed is gone")
        }
    })
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Router::new().route("/", get(|| async { "hello" }));
    // Taken before the run: it belongs to the run.
    let signal = app.shutdown_signal();
    let server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(signal)
            .await
    });
    let run = tokio::spawn({
        let app = app.clone();
        async move { app.run_until(std::future::pending::<()>()).await }
    });
    // The server answers while the app runs.
    let (status, body) = bounded("a request", LIMIT, http_get(addr, "/"))
        .await
        .unwrap();
    assert_eq!((status, body.as_str()), (200, "hello"));
    fail_tx.send(()).unwrap();
    let result = bounded("the run", LIMIT, run).await.unwrap();
    assert!(
        matches!(result, Err(RunError::CriticalTaskFailed { .. })),
        "{result:?}"
    );
    bounded("the server's graceful shutdown", LIMIT, server)
        .await
        .unwrap()
        .unwrap();
    assert!(
        http_get(addr, "/").await.is_err(),
        "nothing listens any more"
    );
}

#[tokio::test(start_paused = true)]
async fn a_signal_completes_on_any_shutdown_and_a_later_run_has_its_own() {
    let app = App::empty();
    app.register_task("worker", |shutdown: Shutdown| async move {
        shutdown.cancelled().await;
    })
    .unwrap();
    let first = app.shutdown_signal();
    assert!(!first.has_begun());
    app.start().await.unwrap();
    let waiting = tokio::spawn(first.clone());
    app.request_shutdown();
    bounded("the first signal", LIMIT, waiting).await.unwrap();
    bounded("shutdown", LIMIT, app.shutdown()).await;
    assert!(first.has_begun());

    // Taken between two runs, a signal belongs to the next one.
    let second = app.shutdown_signal();
    assert!(!second.has_begun(), "the earlier run's shutdown is over");
    app.start().await.unwrap();
    let waiting = tokio::spawn(second);
    bounded("shutdown", LIMIT, app.shutdown()).await;
    bounded("the second signal", LIMIT, waiting).await.unwrap();
}

mod run_server {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tokio::sync::Notify;

    #[tokio::test]
    async fn the_server_drains_before_tasks_stop_and_contexts_clean_up() {
        let order = Arc::new(Mutex::new(Vec::<&'static str>::new()));
        let app = App::empty();
        let in_context = order.clone();
        app.register_context("pool", move |lifespan: lifespan_core::Yield| {
            let order = in_context.clone();
            async move {
                lifespan.ready().await;
                order.lock().unwrap().push("pool cleaned up");
            }
        })
        .unwrap();
        let in_task = order.clone();
        app.register_task("worker", move |shutdown: Shutdown| {
            let order = in_task.clone();
            async move {
                shutdown.cancelled().await;
                order.lock().unwrap().push("worker stopped");
            }
        })
        .unwrap();
        let entered = Arc::new(Notify::new());
        let release = Arc::new(Notify::new());
        let (handler_entered, handler_release, in_handler) =
            (entered.clone(), release.clone(), order.clone());
        let router = Router::new().route(
            "/slow",
            get(move || async move {
                handler_entered.notify_one();
                handler_release.notified().await;
                in_handler.lock().unwrap().push("request finished");
                "slow"
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let run = tokio::spawn({
            let app = app.clone();
            async move {
                let server = move |stop_accepting| async move {
                    axum::serve(listener, router)
                        .with_graceful_shutdown(stop_accepting)
                        .await
                };
                app.run_server_until(server, stop_rx).await
            }
        });
        let request = tokio::spawn(http_get(addr, "/slow"));
        bounded(
            "the request to reach its handler",
            LIMIT,
            entered.notified(),
        )
        .await;
        let mut phases = app.phases();
        stop_tx.send(()).unwrap();
        let draining = phases.wait_for(lifespan_core::Phase::Draining);
        assert!(bounded("the drain", LIMIT, draining).await);
        // The request in flight holds the drain: the order below shows tasks stopped after it.
        release.notify_one();
        let (status, body) = bounded("the request", LIMIT, request)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((status, body.as_str()), (200, "slow"));
        let report = bounded("the run", LIMIT, run).await.unwrap().unwrap();
        assert!(report.is_clean(), "{report}");
        assert_eq!(
            *order.lock().unwrap(),
            ["request finished", "worker stopped", "pool cleaned up"]
        );
    }

    #[tokio::test]
    async fn the_servers_own_error_ends_the_app_with_that_error() {
        let app = App::empty();
        app.register_task("worker", |shutdown: Shutdown| async move {
            shutdown.cancelled().await;
        })
        .unwrap();
        let server =
            |_stop_accepting| async { Err::<(), _>(std::io::Error::other("the port is taken")) };
        let run = app.run_server_until(server, std::future::pending::<()>());
        let result = bounded("the run", LIMIT, run).await;
        let Err(RunError::ServerFailed { error, report }) = result else {
            panic!("expected the server's failure, got {result:?}")
        };
        assert_eq!(
            error
                .downcast_ref::<std::io::Error>()
                .map(ToString::to_string),
            Some("the port is taken".to_owned())
        );
        assert_eq!(
            report.task("worker"),
            Some(&lifespan_core::TaskOutcome::Cancelled)
        );
    }
}

#[cfg(unix)]
#[tokio::test]
async fn serve_takes_a_unix_listener() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let folder = std::env::temp_dir().join(format!("lifespan-unix-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let path = folder.join("app.sock");
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let app = App::empty();
    let router = Router::new().route("/", get(|| async { "over a unix socket" }));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn({
        let app = app.clone();
        async move { app.serve_until(listener, router, stop_rx).await }
    });
    let ask = async {
        let mut stream = tokio::net::UnixStream::connect(&path).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    };
    let response = bounded("a request over the unix socket", LIMIT, ask).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("over a unix socket"), "{response}");
    stop_tx.send(()).unwrap();
    let report = bounded("serving", LIMIT, serving).await.unwrap().unwrap();
    assert!(report.is_clean());
    let _ = std::fs::remove_dir_all(&folder);
}

#[tokio::test]
async fn a_server_under_the_app_can_use_connect_info() {
    use axum::extract::ConnectInfo;
    use std::net::SocketAddr;

    let app = App::empty();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Router::new().route(
        "/",
        get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.ip().to_string() }),
    );
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn({
        let app = app.clone();
        async move {
            let server = move |stop_accepting| async move {
                let service = router.into_make_service_with_connect_info::<SocketAddr>();
                axum::serve(listener, service)
                    .with_graceful_shutdown(stop_accepting)
                    .await
            };
            app.run_server_until(server, stop_rx).await
        }
    });
    let (status, body) = bounded("a request", LIMIT, http_get(addr, "/"))
        .await
        .unwrap();
    assert_eq!((status, body.as_str()), (200, "127.0.0.1"));
    stop_tx.send(()).unwrap();
    let report = bounded("the run", LIMIT, run).await.unwrap().unwrap();
    assert!(report.is_clean());
}

/// The example as a real process whose server panics: the app shuts down in order (the task
/// stops, then the context is cleaned up), `main` returns the error, the process exits non-zero
/// saying that the server panicked.
#[cfg(unix)]
#[test]
fn a_process_whose_server_panics_exits_non_zero_after_a_full_shutdown() {
    use lifespan_examples::{example, Process};

    let mut command = std::process::Command::new(example("own_serve"));
    command
        .env_remove("NOTIFY_SOCKET")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .env("LISTEN", "127.0.0.1:0")
        .env("SERVER_PANIC", "1");
    let (status, lines) = Process::spawn(command).finish();
    let output = lines.join("\n");
    assert_eq!(status.code(), Some(1), "{output}");
    let at = |text: &str| {
        lines
            .iter()
            .position(|line| line.contains(text))
            .unwrap_or_else(|| panic!("no line with {text:?} in:\n{output}"))
    };
    // The log (stdout) shows the shutdown in order; `main`'s error is on stderr, whose lines
    // interleave with stdout's in no fixed order here, so only its presence is checked.
    let panicked = at("the server panicked: shutting the app down");
    let stopped = at("heartbeat stopped");
    let cleaned_up = at("greeting released");
    let complete = at("lifespan shutdown complete");
    assert!(
        panicked < stopped && stopped < cleaned_up && cleaned_up < complete,
        "the server's panic, then the task stops, then the cleanup:\n{output}"
    );
    at("Error: the server run by the app panicked: the server gave up (SERVER_PANIC is set)");
}
