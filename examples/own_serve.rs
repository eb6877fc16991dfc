//! An axum service that keeps its own `axum::serve` call and adds lifespan to it: the app's
//! shutdown signal stops the server, whatever asks for shutdown (Ctrl-C, SIGTERM, a critical
//! task failing for good), and the order still holds: the server drains first, then the tasks
//! stop, then the contexts are cleaned up.
//!
//! ```text
//! cargo run --example own_serve
//! curl http://127.0.0.1:3000/          # hello from the app's own server
//! ```
//!
//! `LISTEN=127.0.0.1:0` picks a free port (the log says which). `SERVER_PANIC=1` makes the server
//! panic as soon as it serves: the app then shuts down in order and `main` ends with the error
//! "the server run by the app panicked: ...", so the process exits non-zero.

use axum::{routing::get, Router};
use lifespan_core::{lifespan_context, lifespan_task, App, Shutdown, State, Yield};

/// A greeting that a context provides and the handler reads.
struct Greeting(String);

#[lifespan_context]
async fn greeting(lifespan: Yield<Greeting>) {
    let greeting = lifespan
        .ready_sharing(Greeting("hello from the app's own server".into()))
        .await;
    tracing::info!(greeting = %greeting.0, "greeting released");
}

/// Background work beside the server.
#[lifespan_task]
async fn heartbeat(shutdown: Shutdown) {
    let mut ticks = tokio::time::interval(std::time::Duration::from_secs(10));
    while shutdown.run_until_cancelled(ticks.tick()).await.is_some() {
        tracing::info!("alive");
    }
    tracing::info!("heartbeat stopped");
}

/// Reads the context's state: handlers reach the app through its `Extension`.
async fn hello(greeting: State<Greeting>) -> String {
    greeting.0.clone()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let addr = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!("listening on {}", listener.local_addr()?);

    let app = App::new();
    let router = Router::new()
        .route("/", get(hello))
        .route("/ready", get(lifespan_core::readiness_handler))
        .layer(axum::Extension(app.clone()));
    // The user's own `axum::serve` call, run under the app: it gets the signal to stop
    // accepting, and shutdown waits for its drain before stopping the tasks.
    let panics = std::env::var_os("SERVER_PANIC").is_some();
    let report = app
        .run_server_until_signal(move |stop_accepting| async move {
            if panics {
                panic!("the server gave up (SERVER_PANIC is set)");
            }
            axum::serve(listener, router)
                .with_graceful_shutdown(stop_accepting)
                .await
        })
        .await?;
    for line in report.to_string().lines() {
        tracing::info!("{line}");
    }
    Ok(())
}
