//! A library crate that depends on `lifespan-core` under another name (`runtime`), and whose
//! registrations run in the binaries that link it. Its strict lints show that the generated code
//! adds no warning.
#![deny(warnings, unused, missing_docs, clippy::all)]

use std::sync::Mutex;

use runtime::{lifespan_context, lifespan_task, Shutdown, Yield};

/// What the library's task and context did, in order.
pub static EVENTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn record(event: String) {
    EVENTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(event);
}

/// A context of the library.
#[lifespan_context(crate = runtime)]
pub async fn library_context(lifespan: Yield) {
    record("library setup".to_owned());
    lifespan.ready().await;
    record("library cleanup".to_owned());
}

#[lifespan_task(crate = runtime, greeting = "hello")]
async fn library_task(greeting: &'static str, shutdown: Shutdown) {
    record(format!("library task says {greeting}"));
    shutdown.cancelled().await;
}

/// The module path of this crate's registrations, to build an app that runs only them.
pub fn module() -> &'static str {
    module_path!()
}
