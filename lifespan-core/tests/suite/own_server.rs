//! A server of the user's run under the app, and the shutdown signal handed to one the app does
//! not run: a server that panics (in its future, or when its closure is called) ends the run
//! with `RunError::ServerPanicked` after a full shutdown in order; a shutdown signal completes
//! when the app is dropped, so that a server waiting on it drains.
//!
//! Each test runs on a runtime of its own under a wall-clock bound: a bug fails it with a
//! message, also if the runtime spins without advancing its paused clock.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lifespan_core::{App, ContextOutcome, Phase, RunError, Shutdown, ShutdownSignal, TaskOutcome};
use lifespan_test_support::{bounded, WAIT_LIMIT};

/// The wall-clock bound on a whole test.
const REAL_LIMIT: Duration = Duration::from_secs(60);

/// Runs `test` on a current-thread runtime of its own (with paused time if `paused`), on a
/// thread of its own, and fails if it has not finished within [`REAL_LIMIT`] of real time.
fn within_real_time<F>(paused: bool, test: impl FnOnce() -> F + Send + 'static)
where
    F: Future<Output = ()>,
{
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let mut runtime = tokio::runtime::Builder::new_current_thread();
        runtime.enable_all();
        if paused {
            runtime.start_paused(true);
        }
        runtime.build().unwrap().block_on(test());
        let _ = done_tx.send(());
    });
    match done_rx.recv_timeout(REAL_LIMIT) {
        Ok(()) => thread.join().unwrap(),
        // The test panicked: its panic, with its message.
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(thread.join().unwrap_err())
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("the test did not finish within {REAL_LIMIT:?} of real time")
        }
    }
}

type Order = Arc<Mutex<Vec<&'static str>>>;

/// An app with a context `pool` and a task `worker` that log their setup, stop and cleanup.
fn app_with_a_pool_and_a_worker() -> (App, Order) {
    let order: Order = Arc::default();
    let app = App::empty();
    let in_context = order.clone();
    app.register_context("pool", move |lifespan: lifespan_core::Yield| {
        let order = in_context.clone();
        async move {
            order.lock().unwrap().push("pool set up");
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
    (app, order)
}

/// The pool was set up, then the worker stopped, then the pool was cleaned up.
fn assert_shut_down_in_order(order: &Order) {
    assert_eq!(
        *order.lock().unwrap(),
        ["pool set up", "worker stopped", "pool cleaned up"]
    );
}

/// Waits, within `limit`, until the background shutdown of a dropped app has cleaned the pool
/// up.
async fn until_cleaned_up(order: &Order, limit: Duration) {
    let cleaned_up = async {
        while order.lock().unwrap().len() < 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    bounded("the background shutdown", limit, cleaned_up).await;
}

/// The run ended with `ServerPanicked` saying `expected`, after a full shutdown in order.
fn assert_panicked_after_a_full_shutdown(
    app: &App,
    order: &Order,
    result: Result<lifespan_core::Report, RunError>,
    expected: &str,
) {
    let Err(RunError::ServerPanicked { message, report }) = &result else {
        panic!("expected RunError::ServerPanicked, got {result:?}")
    };
    assert_eq!(message, expected);
    let error = result.as_ref().unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("the server run by the app panicked: {expected}")
    );
    assert_eq!(report.task("worker"), Some(&TaskOutcome::Cancelled));
    assert_eq!(report.context("pool"), Some(&ContextOutcome::CleanedUp));
    assert_shut_down_in_order(order);
    assert_eq!(app.phase(), Phase::Stopped);
    assert!(!app.is_running());
}

#[test]
fn a_server_that_panics_ends_the_run_with_an_error_after_a_full_shutdown() {
    within_real_time(true, || async {
        let (app, order) = app_with_a_pool_and_a_worker();
        let server = |_stop_accepting: ShutdownSignal| async {
            tokio::task::yield_now().await;
            panic!("lost the listener of postgres://app:hunter2@db.internal/app");
            #[allow(unreachable_code)]
            Ok::<(), std::io::Error>(())
        };
        let run = app.run_server_until(server, std::future::pending::<()>());
        let result = bounded("the run", WAIT_LIMIT, run).await;
        // The password of the URL in the panic's message is masked.
        assert_panicked_after_a_full_shutdown(
            &app,
            &order,
            result,
            "lost the listener of postgres://app:***@db.internal/app",
        );
    });
}

#[test]
fn a_server_that_panics_while_it_drains_ends_the_run_with_an_error() {
    within_real_time(true, || async {
        let (app, order) = app_with_a_pool_and_a_worker();
        let server = |stop_accepting: ShutdownSignal| async move {
            stop_accepting.await;
            panic!("the drain went wrong");
            #[allow(unreachable_code)]
            Ok::<(), std::io::Error>(())
        };
        let stop = tokio::time::sleep(Duration::from_secs(1));
        let run = app.run_server_until(server, stop);
        let result = bounded("the run", WAIT_LIMIT, run).await;
        assert_panicked_after_a_full_shutdown(&app, &order, result, "the drain went wrong");
    });
}

#[test]
fn a_server_closure_that_panics_when_called_shuts_the_app_down_before_the_error_returns() {
    within_real_time(true, || async {
        let (app, order) = app_with_a_pool_and_a_worker();
        let server =
            |_stop_accepting: ShutdownSignal| -> std::future::Ready<Result<(), std::io::Error>> {
                panic!("the configuration names no port")
            };
        // On a task of its own, so that a panic reaching the caller is seen, not unwound here.
        let run = tokio::spawn({
            let app = app.clone();
            async move {
                app.run_server_until(server, std::future::pending::<()>())
                    .await
            }
        });
        let result = match bounded("the run", WAIT_LIMIT, run).await {
            Ok(result) => result,
            Err(join) => panic!(
                "the panic reached the caller with the app in phase {:?}: {join}",
                app.phase()
            ),
        };
        assert_panicked_after_a_full_shutdown(
            &app,
            &order,
            result,
            "the configuration names no port",
        );
    });
}

#[test]
fn the_app_runs_again_after_a_server_panicked() {
    within_real_time(true, || async {
        let (app, order) = app_with_a_pool_and_a_worker();
        let server = |_stop_accepting: ShutdownSignal| async {
            panic!("once");
            #[allow(unreachable_code)]
            Ok::<(), std::io::Error>(())
        };
        let run = app.run_server_until(server, std::future::pending::<()>());
        assert!(bounded("the first run", WAIT_LIMIT, run).await.is_err());
        order.lock().unwrap().clear();
        // A later run does not inherit the panic.
        let server = |stop_accepting: ShutdownSignal| async move {
            stop_accepting.await;
            Ok::<(), std::io::Error>(())
        };
        let stop = tokio::time::sleep(Duration::from_secs(1));
        let run = app.run_server_until(server, stop);
        let report = bounded("the second run", WAIT_LIMIT, run).await.unwrap();
        assert!(report.is_clean(), "{report}");
    });
}

#[test]
fn the_shutdown_signal_completes_when_the_app_is_dropped() {
    within_real_time(true, || async {
        let (app, order) = app_with_a_pool_and_a_worker();
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        let signal = app.shutdown_signal();
        let clone = signal.clone();
        assert!(!signal.has_begun());
        drop(app);
        bounded("the shutdown signal", WAIT_LIMIT, signal).await;
        assert!(clone.has_begun());
        bounded("the clone", WAIT_LIMIT, clone).await;
        // The background shutdown goes through, in order.
        until_cleaned_up(&order, WAIT_LIMIT).await;
        assert_shut_down_in_order(&order);
    });
}

#[test]
fn an_app_with_supervised_tasks_shuts_down_when_dropped_and_its_signal_completes() {
    use lifespan_core::{Restart, TaskOptions};

    within_real_time(true, || async {
        let (app, order) = app_with_a_pool_and_a_worker();
        let periodic = TaskOptions::new().every(Duration::from_secs(1));
        app.register_task_with("tick", periodic, || async {})
            .unwrap();
        let restarted = TaskOptions::new().restart(Restart::Always);
        app.register_task_with("loop", restarted, |shutdown: Shutdown| async move {
            shutdown.cancelled().await;
        })
        .unwrap();
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        let signal = app.shutdown_signal();
        drop(app);
        bounded("the shutdown signal", WAIT_LIMIT, signal).await;
        until_cleaned_up(&order, WAIT_LIMIT).await;
        assert_shut_down_in_order(&order);
    });
}

#[test]
fn the_shutdown_signal_of_an_app_dropped_before_it_ran_completes() {
    within_real_time(true, || async {
        let app = App::empty();
        let signal = app.shutdown_signal();
        assert_eq!(format!("{signal:?}"), "ShutdownSignal { has_begun: false }");
        drop(app);
        assert!(signal.has_begun(), "the app is gone: it will never run");
        assert_eq!(format!("{signal:?}"), "ShutdownSignal { has_begun: true }");
        bounded("the shutdown signal", WAIT_LIMIT, signal).await;
    });
}

#[test]
fn a_server_run_by_the_app_stops_accepting_when_the_app_is_dropped() {
    within_real_time(true, || async {
        let (app, _order) = app_with_a_pool_and_a_worker();
        let (told_tx, told_rx) = tokio::sync::oneshot::channel::<()>();
        let (serving_tx, serving_rx) = tokio::sync::oneshot::channel::<()>();
        let server = move |stop_accepting: ShutdownSignal| async move {
            let _ = serving_tx.send(());
            stop_accepting.await;
            let _ = told_tx.send(());
            Ok::<(), std::io::Error>(())
        };
        let run = tokio::spawn({
            let app = app.clone();
            async move {
                let _ = app
                    .run_server_until(server, std::future::pending::<()>())
                    .await;
            }
        });
        bounded("the server's launch", WAIT_LIMIT, serving_rx)
            .await
            .unwrap();
        // The run is dropped, the app left running; then its last handle is dropped.
        run.abort();
        let _ = run.await;
        drop(app);
        bounded("the server's signal to stop accepting", WAIT_LIMIT, told_rx)
            .await
            .expect("the server was dropped without being told to stop accepting");
    });
}

#[cfg(feature = "axum")]
#[test]
fn an_axum_server_under_the_signal_drains_when_the_app_is_dropped() {
    use axum::{routing::get, Router};
    use tokio::sync::Notify;

    within_real_time(false, || async {
        let limit = Duration::from_secs(30);
        let (app, _order) = app_with_a_pool_and_a_worker();
        bounded("startup", limit, app.start()).await.unwrap();
        let entered = Arc::new(Notify::new());
        let release = Arc::new(Notify::new());
        let (handler_entered, handler_release) = (entered.clone(), release.clone());
        let router = Router::new().route(
            "/slow",
            get(move || async move {
                handler_entered.notify_one();
                handler_release.notified().await;
                "slow"
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let signal = app.shutdown_signal();
        let server = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(signal)
                .await
        });
        let request = tokio::spawn(lifespan_test_support::http_get(addr, "/slow"));
        bounded(
            "the request to reach its handler",
            limit,
            entered.notified(),
        )
        .await;
        drop(app);
        // The request in flight finishes, then the server ends: it drained.
        release.notify_one();
        let (status, body) = bounded("the request", limit, request)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((status, body.as_str()), (200, "slow"));
        bounded("the server's graceful shutdown", limit, server)
            .await
            .unwrap()
            .unwrap();
        assert!(
            lifespan_test_support::http_get(addr, "/slow")
                .await
                .is_err(),
            "nothing listens any more"
        );
    });
}

#[test]
fn a_server_that_ends_on_its_own_before_shutdown_shuts_the_app_down() {
    within_real_time(true, || async {
        let (app, order) = app_with_a_pool_and_a_worker();
        let server = |_stop_accepting: ShutdownSignal| async { Ok::<(), std::io::Error>(()) };
        let run = app.run_server_until(server, std::future::pending::<()>());
        let report = bounded("the run", WAIT_LIMIT, run).await.unwrap();
        assert!(report.is_clean(), "{report}");
        assert_shut_down_in_order(&order);
    });
}

/// The `*_until_signal` form too; no signal is sent: the server's panic ends the run.
#[cfg(unix)]
#[test]
fn under_the_signal_form_a_server_that_panics_ends_the_run_with_an_error() {
    within_real_time(true, || async {
        let (app, order) = app_with_a_pool_and_a_worker();
        let server = |_stop_accepting: ShutdownSignal| async {
            panic!("the listener is gone");
            #[allow(unreachable_code)]
            Ok::<(), std::io::Error>(())
        };
        let run = app.run_server_until_signal(server);
        let result = bounded("the run", WAIT_LIMIT, run).await;
        assert_panicked_after_a_full_shutdown(&app, &order, result, "the listener is gone");
    });
}

/// The app's own axum server (`serve_until`): the run dropped, then the app, the server stops
/// accepting and the port closes.
#[cfg(feature = "axum")]
#[test]
fn the_apps_own_server_closes_its_port_when_the_run_and_the_app_are_dropped() {
    use axum::{routing::get, Router};

    within_real_time(false, || async {
        let limit = Duration::from_secs(30);
        let (app, order) = app_with_a_pool_and_a_worker();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = Router::new().route("/", get(|_app: App| async { "hello" }));
        let mut phases = app.phases();
        let run = tokio::spawn({
            let app = app.clone();
            async move {
                let _ = app
                    .serve_until(listener, router, std::future::pending::<()>())
                    .await;
            }
        });
        assert!(bounded("startup", limit, phases.wait_for(Phase::Running)).await);
        let answer = bounded(
            "a request",
            limit,
            lifespan_test_support::http_get(addr, "/"),
        );
        assert_eq!(answer.await.unwrap(), (200, "hello".to_owned()));
        run.abort();
        let _ = run.await;
        drop(app);
        // Bounded: at most 300 tries, 10 ms apart.
        let mut tries = 0;
        while lifespan_test_support::http_get(addr, "/").await.is_ok() {
            tries += 1;
            assert!(
                tries < 300,
                "the port still answers 3 s after the app was dropped"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        until_cleaned_up(&order, limit).await;
    });
}

#[test]
fn the_server_is_told_to_stop_accepting_once_the_drain_delay_is_over() {
    within_real_time(true, || async {
        let app = App::builder()
            .empty()
            .drain_delay(Duration::from_secs(5))
            .build();
        let (told_tx, told_rx) = tokio::sync::oneshot::channel();
        let server = move |stop_accepting: ShutdownSignal| async move {
            stop_accepting.await;
            let _ = told_tx.send(tokio::time::Instant::now());
            Ok::<(), std::io::Error>(())
        };
        let stop_at = tokio::time::Instant::now() + Duration::from_secs(1);
        let run = app.run_server_until(server, tokio::time::sleep_until(stop_at));
        let report = bounded("the run", WAIT_LIMIT, run).await.unwrap();
        assert!(report.is_clean(), "{report}");
        let told_at = told_rx.await.unwrap();
        assert_eq!(told_at - stop_at, Duration::from_secs(5));
    });
}
