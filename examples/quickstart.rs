//! The two examples of Reflex's "Lifespan Tasks" page, in Rust: a task that polls an API until
//! shutdown, and a context that loads a model at startup and releases it at shutdown.
//!
//! ```text
//! BAR_PARAM=hello cargo run --example quickstart
//! ```
//!
//! Stop it with Ctrl-C (or SIGTERM): the task stops, then the model is released. With
//! `LIFESPAN_DEV=1`, SIGHUP reloads it: everything is shut down and started again.

// `foo` and `bar` are the names the reference example uses.
#![allow(clippy::disallowed_names)]

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use lifespan_core::{lifespan_context, lifespan_task, App, Shutdown, Yield};

/// How often the task polls.
const POLL_INTERVAL: Duration = Duration::from_secs(5);

/// A stand-in for a real API client.
struct SomeApi {
    foo: u32,
    polls: u64,
}

impl SomeApi {
    fn new(foo: u32) -> Self {
        SomeApi { foo, polls: 0 }
    }

    fn poll_for_updates(&mut self) -> Vec<String> {
        self.polls += 1;
        vec![format!("update {} from api {}", self.polls, self.foo)]
    }

    fn close(self) {
        tracing::info!(polls = self.polls, "API client closed");
    }
}

/// `foo` and `bar` are keyword arguments, checked by the compiler against the parameters;
/// `shutdown` is injected. `bar` is read from the environment at each start: if `BAR_PARAM` is
/// not set, startup fails with an error that names this task and `bar`.
#[lifespan_task(foo = 42, bar = std::env::var("BAR_PARAM")?)]
async fn long_running_task(foo: u32, bar: String, shutdown: Shutdown) {
    tracing::info!("starting {foo} {bar} task");
    let mut some_api = SomeApi::new(foo);
    let mut ticks = tokio::time::interval(POLL_INTERVAL);
    // Polls until shutdown begins (the Rust form of catching `asyncio.CancelledError`).
    while shutdown.run_until_cancelled(ticks.tick()).await.is_some() {
        for update in some_api.poll_for_updates() {
            tracing::info!(%update, "pushing changes for {bar}");
        }
    }
    some_api.close();
    tracing::info!("task was stopped");
}

fn fake_answer_to_everything_ml_model(x: f64) -> f64 {
    x * 42.0
}

type Model = fn(f64) -> f64;

static ML_MODELS: Mutex<Option<HashMap<&'static str, Model>>> = Mutex::new(None);

/// Loads the model before the app serves; releases it at shutdown, after every task stopped.
#[lifespan_context]
async fn setup_model(app: App, lifespan: Yield) -> anyhow::Result<()> {
    tracing::info!(running = app.is_running(), "loading the ML model");
    let mut models = HashMap::new();
    models.insert(
        "answer_to_everything",
        fake_answer_to_everything_ml_model as Model,
    );
    *ML_MODELS.lock().unwrap() = Some(models);

    lifespan.ready().await;

    tracing::info!("releasing the ML model");
    ML_MODELS.lock().unwrap().take();
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();

    let report = App::new().run_until_signal().await?;
    for line in report.to_string().lines() {
        tracing::info!("{line}");
    }
    Ok(())
}
