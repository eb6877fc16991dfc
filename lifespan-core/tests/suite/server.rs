//! The server integration, end to end with a real listener on 127.0.0.1 and a real HTTP client:
//! no request is processed before setup completes; at shutdown requests in flight finish, then
//! tasks stop, then contexts are cleaned up; a failed setup never serves; reload swaps state.
//!
//! Needs the `axum` feature (`cargo test --workspace` enables it, through the examples).
#![cfg(feature = "axum")]

use std::net::SocketAddr;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use lifespan_core::{
    lifespan_context, lifespan_task, App, Report, RunError, Shutdown, State, Yield,
};
use lifespan_test_support::{http_get, Events};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

async fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// Serves `router` for `app` on a free port of 127.0.0.1 until shutdown is requested.
async fn serve(app: &App, router: Router) -> (JoinHandle<Result<Report, RunError>>, SocketAddr) {
    let (listener, addr) = listener().await;
    let app = app.clone();
    let serving = tokio::spawn(async move {
        app.serve_until(listener, router, std::future::pending::<()>())
            .await
    });
    (serving, addr)
}

/// Lets the runtime run everything it can, I/O included, before virtual time moves on.
async fn settle() {
    tokio::time::sleep(Duration::from_secs(1)).await;
}

struct Model(&'static str);

mod slow_setup {
    use super::*;

    static EVENTS: Events = Events::new();
    static RELEASE: Notify = Notify::const_new();

    #[lifespan_context(events = &EVENTS, release = &RELEASE)]
    async fn model(events: &'static Events, release: &'static Notify, lifespan: Yield<Model>) {
        release.notified().await;
        events.push("setup done");
        lifespan.ready_with(Model("the model")).await;
    }

    async fn handler(model: State<Model>) -> String {
        EVENTS.push("handled");
        format!("served by {}", model.0)
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_made_during_setup_is_answered_only_after_setup_and_sees_the_state() {
        let app = App::from_module(module_path!());
        let (serving, addr) = serve(&app, Router::new().route("/", get(handler))).await;
        let response = tokio::spawn(http_get(addr, "/"));
        settle().await;
        assert_eq!(
            EVENTS.snapshot(),
            Vec::<String>::new(),
            "nothing served during setup"
        );
        assert!(!response.is_finished());

        RELEASE.notify_one();
        let (status, body) = response.await.unwrap().unwrap();
        assert_eq!((status, body.as_str()), (200, "served by the model"));
        assert_eq!(EVENTS.take(), ["setup done", "handled"]);
        app.request_shutdown();
        serving.await.unwrap().unwrap();
    }
}

mod in_flight_at_shutdown {
    use super::*;

    static EVENTS: Events = Events::new();
    static FINISH: Notify = Notify::const_new();
    /// The two tests share this module's registrations and events: one at a time.
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    #[lifespan_context(events = &EVENTS)]
    async fn resource(events: &'static Events, lifespan: Yield) {
        lifespan.ready().await;
        events.push("cleanup");
    }

    #[lifespan_task(events = &EVENTS)]
    async fn worker(events: &'static Events, shutdown: Shutdown) {
        shutdown.cancelled().await;
        events.push("task stopped");
    }

    async fn slow() -> &'static str {
        EVENTS.push("request started");
        FINISH.notified().await;
        EVENTS.push("request finished");
        "done"
    }

    /// Shuts down with a request in flight, by `begin_shutdown`, and checks the order: the
    /// request finishes, then the task stops, then the context is cleaned up.
    async fn drains_before_stopping(begin_shutdown: impl FnOnce(App) -> JoinHandle<Report>) {
        let _alone = ONE_AT_A_TIME.lock().await;
        let app = App::from_module(module_path!());
        let (serving, addr) = serve(&app, Router::new().route("/slow", get(slow))).await;
        let response = tokio::spawn(http_get(addr, "/slow"));
        EVENTS.wait_for("request started").await;

        let shutdown = begin_shutdown(app.clone());
        settle().await;
        assert_eq!(
            EVENTS.snapshot(),
            ["request started"],
            "the task waits for the request"
        );

        FINISH.notify_one();
        let (status, body) = response.await.unwrap().unwrap();
        assert_eq!((status, body.as_str()), (200, "done"));
        let report = shutdown.await.unwrap();
        let served = serving.await.unwrap().unwrap();
        assert!(report.is_clean() && served.is_clean(), "{report}{served}");
        assert_eq!(
            EVENTS.take(),
            [
                "request started",
                "request finished",
                "task stopped",
                "cleanup"
            ]
        );
        let refused = http_get(addr, "/slow").await;
        assert!(
            refused.is_err(),
            "nothing listens after shutdown: {refused:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_flight_completes_then_tasks_stop_then_contexts_are_cleaned_up() {
        drains_before_stopping(|app| {
            app.request_shutdown();
            // The serve loop shuts the app down; its report comes from `serve_until`.
            tokio::spawn(async { lifespan_core::Report::default() })
        })
        .await;
    }

    #[tokio::test(start_paused = true)]
    async fn app_shutdown_called_elsewhere_also_drains_the_server_before_stopping_tasks() {
        drains_before_stopping(|app| tokio::spawn(async move { app.shutdown().await })).await;
    }
}

mod drain_timeout {
    use super::*;

    static EVENTS: Events = Events::new();

    #[lifespan_context(events = &EVENTS)]
    async fn resource(events: &'static Events, lifespan: Yield) {
        lifespan.ready().await;
        events.push("cleanup");
    }

    async fn hanging() -> &'static str {
        EVENTS.push("request started");
        std::future::pending::<()>().await;
        "never"
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_still_running_after_the_drain_timeout_is_abandoned_and_cleanup_runs() {
        let app = App::builder()
            .module(module_path!())
            .drain_timeout(Duration::from_secs(3))
            .build();
        let (serving, addr) = serve(&app, Router::new().route("/", get(hanging))).await;
        let response = tokio::spawn(http_get(addr, "/"));
        EVENTS.wait_for("request started").await;
        let began = tokio::time::Instant::now();
        app.request_shutdown();
        serving.await.unwrap().unwrap();
        assert_eq!(began.elapsed(), Duration::from_secs(3));
        assert_eq!(EVENTS.take(), ["request started", "cleanup"]);
        let (status, body) = response.await.unwrap().unwrap();
        assert_eq!(
            (status, body.as_str()),
            (503, "the server is shutting down")
        );
    }
}

mod failed_setup {
    use super::*;

    #[lifespan_context]
    async fn broken(lifespan: Yield) -> anyhow::Result<()> {
        anyhow::ensure!(
            std::path::Path::new("no-such-model.bin").exists(),
            "the model file is missing"
        );
        lifespan.ready().await;
        Ok(())
    }

    #[tokio::test]
    async fn a_failing_setup_means_the_server_never_serves() {
        let (listener, addr) = listener().await;
        let app = App::from_module(module_path!());
        let router = Router::new().route("/", get(|| async { "never" }));
        let error = app
            .serve_until(listener, router, std::future::pending::<()>())
            .await
            .unwrap_err();
        assert_eq!(
            format!("{:#}", anyhow::Error::from(error)),
            "setup of lifespan context `suite::server::failed_setup::broken` failed: the model file is missing"
        );
        let refused = http_get(addr, "/").await;
        assert!(refused.is_err(), "nothing listens: {refused:?}");
    }
}

mod reload {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    static STARTS: AtomicU32 = AtomicU32::new(0);

    struct Built(u32);

    #[lifespan_context(start = STARTS.fetch_add(1, Ordering::SeqCst) + 1)]
    async fn builder(start: u32, lifespan: Yield<Built>) {
        lifespan.ready_with(Built(start)).await;
    }

    async fn which(built: State<Built>, app: App) -> String {
        let running = if app.is_running() {
            "running"
        } else {
            "stopped"
        };
        format!("built by start {} ({running})", built.0)
    }

    #[tokio::test]
    async fn reload_swaps_the_state_handlers_see_and_handlers_reach_the_app() {
        let app = App::from_module(module_path!());
        let (serving, addr) = serve(&app, Router::new().route("/", get(which))).await;
        let (status, body) = http_get(addr, "/").await.unwrap();
        assert_eq!((status, body.as_str()), (200, "built by start 1 (running)"));
        app.reload().await.unwrap();
        let (status, body) = http_get(addr, "/").await.unwrap();
        assert_eq!((status, body.as_str()), (200, "built by start 2 (running)"));
        app.request_shutdown();
        serving.await.unwrap().unwrap();
        assert!(app.state::<Built>().is_none());
    }
}

mod status_route {
    use super::*;

    /// An app with a context, a running task with a display name, and a task that failed with a
    /// message quoting a connection string.
    fn app() -> App {
        let app = App::empty();
        app.register_context("pool", |lifespan: Yield| async move {
            lifespan.ready().await;
        })
        .unwrap();
        app.register_task_with(
            "poller",
            lifespan_core::TaskOptions::new().display_name("the poller"),
            |shutdown: Shutdown| async move { shutdown.cancelled().await },
        )
        .unwrap();
        app.register_task("broken", || async {
            Err::<(), _>("no \"config\" at postgres://admin:hunter2@db.internal:5432/prod")
        })
        .unwrap();
        app
    }

    /// Serves `handler` at `/status` for `app` and returns what it answered once every task ran.
    async fn get_status(app: &App, handler: axum::routing::MethodRouter) -> (u16, String) {
        let (serving, addr) = serve(app, Router::new().route("/status", handler)).await;
        settle().await;
        let answer = http_get(addr, "/status").await.unwrap();
        app.request_shutdown();
        serving.await.unwrap().unwrap();
        answer
    }

    #[tokio::test(start_paused = true)]
    async fn the_status_route_serves_every_task_and_context_as_json_without_error_messages() {
        let app = app();
        let (status, body) = get_status(&app, get(lifespan_core::status_handler)).await;
        assert_eq!(status, 200);
        assert_eq!(
            body,
            concat!(
                r#"{"tasks":["#,
                r#"{"name":"poller","display_name":"the poller","state":"running","restarts":0,"has_error":false,"in_state_ms":1000,"runs":0,"last_run":null,"next_run_unix_ms":null},"#,
                r#"{"name":"broken","display_name":null,"state":"failed","restarts":0,"has_error":true,"in_state_ms":1000,"runs":0,"last_run":null,"next_run_unix_ms":null}"#,
                r#"],"contexts":["#,
                r#"{"name":"pool","display_name":null,"state":"running","has_error":false,"in_state_ms":1000}"#,
                r#"]}"#
            )
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_route_with_errors_serves_their_messages_with_the_passwords_of_urls_masked() {
        let app = app();
        let (status, body) = get_status(&app, get(lifespan_core::status_handler_with_errors)).await;
        assert_eq!(status, 200);
        assert_eq!(
            body,
            concat!(
                r#"{"tasks":["#,
                r#"{"name":"poller","display_name":"the poller","state":"running","restarts":0,"has_error":false,"last_error":null,"in_state_ms":1000,"runs":0,"last_run":null,"next_run_unix_ms":null},"#,
                r#"{"name":"broken","display_name":null,"state":"failed","restarts":0,"has_error":true,"last_error":"no \"config\" at postgres://admin:***@db.internal:5432/prod","in_state_ms":1000,"runs":0,"last_run":null,"next_run_unix_ms":null}"#,
                r#"],"contexts":["#,
                r#"{"name":"pool","display_name":null,"state":"running","has_error":false,"last_error":null,"in_state_ms":1000}"#,
                r#"]}"#
            )
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_setup_is_shown_failed_and_its_message_masked_by_the_route_with_errors() {
        let app = App::empty();
        app.register_context("db", |lifespan: Yield| async move {
            let error = "could not connect to mysql://root:toor@10.0.0.5/app";
            Err::<(), _>(error)?;
            lifespan.ready().await;
            Ok::<(), &str>(())
        })
        .unwrap();
        app.start().await.unwrap_err();
        let json = |response: axum::response::Response| async move {
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            String::from_utf8(body.to_vec()).unwrap()
        };
        let hidden = json(lifespan_core::status_handler(app.clone()).await).await;
        assert_eq!(
            hidden,
            r#"{"tasks":[],"contexts":[{"name":"db","display_name":null,"state":"failed","has_error":true,"in_state_ms":0}]}"#
        );
        let shown = json(lifespan_core::status_handler_with_errors(app).await).await;
        assert!(
            shown.contains(r#""has_error":true,"last_error":"setup of lifespan context `db` failed: could not connect to mysql://root:***@10.0.0.5/app""#),
            "{shown}"
        );
    }
}

/// The pattern documented at `readiness_handler`: the app's own listener accepts nothing during
/// setup, so the probes are served on a listener of their own, which answers 503 during setup
/// and 200 once the app runs.
mod probes_during_setup {
    use super::*;
    use axum::Extension;
    use lifespan_core::{liveness_handler, readiness_handler, Phase};
    use lifespan_test_support::bounded;

    #[tokio::test]
    async fn a_separate_probe_listener_answers_503_during_setup_then_200() {
        let limit = Duration::from_secs(30);
        let app = App::empty();
        let release = std::sync::Arc::new(Notify::new());
        let in_setup = release.clone();
        app.register_context("model", move |lifespan: Yield| {
            let release = in_setup.clone();
            async move {
                release.notified().await;
                lifespan.ready().await;
            }
        })
        .unwrap();
        let probes = Router::new()
            .route("/ready", get(readiness_handler))
            .route("/live", get(liveness_handler))
            .layer(Extension(app.clone()));
        let (probe_listener, probe_addr) = listener().await;
        let probing = tokio::spawn(async move { axum::serve(probe_listener, probes).await });
        let (app_listener, _) = listener().await;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let mut phases = app.phases();
        let serving = tokio::spawn({
            let app = app.clone();
            let router = Router::new().route("/", get(|| async { "hello" }));
            async move { app.serve_until(app_listener, router, stop_rx).await }
        });
        assert!(bounded("startup to begin", limit, phases.wait_for(Phase::Starting)).await);
        let during_setup = bounded(
            "a probe during setup",
            limit,
            http_get(probe_addr, "/ready"),
        );
        assert_eq!(during_setup.await.unwrap(), (503, "not ready".to_owned()));
        let live = bounded("a liveness probe", limit, http_get(probe_addr, "/live"));
        assert_eq!(live.await.unwrap(), (200, "alive".to_owned()));
        release.notify_one();
        assert!(bounded("startup", limit, phases.wait_for(Phase::Running)).await);
        let running = bounded(
            "a probe once running",
            limit,
            http_get(probe_addr, "/ready"),
        );
        assert_eq!(running.await.unwrap(), (200, "ready".to_owned()));
        stop_tx.send(()).unwrap();
        let report = bounded("the run", limit, serving).await.unwrap().unwrap();
        assert!(report.is_clean(), "{report}");
        probing.abort();
    }
}
