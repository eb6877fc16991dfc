//! Every option of `#[lifespan(...)]`, in every accepted form and position, under the strictest
//! lints a user may set: no warning comes from the generated options.
#![deny(warnings, unused, clippy::all)]

use std::sync::Mutex;

use lifespan_core::{lifespan, lifespan_context, lifespan_task, App, Shutdown, Yield};
use lifespan_test_support::{bounded, WAIT_LIMIT};

/// Below the task attribute, beside a keyword argument: restarts, with every restart option.
#[lifespan_task(url = String::from("http://localhost"))]
#[lifespan(
    restart = on_failure,
    backoff = "100ms..30s",
    jitter = false,
    max_restarts = 5,
    within = "1m",
    critical,
    name = "poller",
)]
async fn poll(url: String, shutdown: Shutdown) -> anyhow::Result<()> {
    let _ = url;
    shutdown.cancelled().await;
    Ok(())
}

/// Above the task attribute: `lifespan` moves itself below it.
#[lifespan(every = "5s", at_startup)]
#[lifespan_task]
async fn refresh() -> anyhow::Result<()> {
    Ok(())
}

/// A fixed delay, a decimal duration, flags set with `= true` and `= false`.
#[lifespan_task]
#[lifespan(
    every = "1.5s",
    fixed_delay = true,
    at_startup = false,
    critical = false
)]
async fn sweep() {}

/// Two `#[lifespan]` attributes, merged; a restart policy as a string; a constant backoff; a
/// compound duration.
#[lifespan_task]
#[lifespan(restart = "on_failure", backoff = "5s")]
#[lifespan(every = "1m30s", max_restarts = 3)]
async fn merged() {}

/// The full path, above and below, with another attribute in between; spaces in durations.
#[lifespan_core::lifespan(restart = always, backoff = "1 s..2 m", jitter = true)]
#[allow(clippy::unused_async)]
#[lifespan_core::lifespan_task]
#[lifespan_core::lifespan(name = "forever")]
async fn forever(shutdown: Shutdown) {
    shutdown.cancelled().await;
}

/// `restart = never`, a small unit, a raw string.
#[lifespan_task]
#[lifespan(restart = never, every = "250000us", name = r"ticks")]
async fn ticks() {}

/// Periodic, restarted on failure.
#[lifespan_task]
#[lifespan(
    every = "2h",
    restart = on_failure,
    backoff = "10ms..1s",
    max_restarts = 1
)]
async fn periodic_with_retries() -> Result<(), String> {
    Ok(())
}

/// A context's only option, below and above.
#[lifespan_context]
#[lifespan(name = "database")]
async fn database(lifespan: Yield) {
    lifespan.ready().await;
}

#[lifespan(name = "cache")]
#[lifespan_context]
async fn cache(lifespan: Yield) {
    lifespan.ready().await;
}

/// No options at all.
#[lifespan_task]
#[lifespan()]
async fn no_options() {}

/// The runtime named by path, as a crate that renames `lifespan-core` would: the options are
/// built through it too.
mod renamed {
    use lifespan_core as my_lifespan;

    #[my_lifespan::lifespan_task(crate = my_lifespan)]
    #[my_lifespan::lifespan(restart = on_failure, backoff = "1s")]
    async fn below() {}

    #[my_lifespan::lifespan(every = "1s", critical)]
    #[my_lifespan::lifespan_task(crate = my_lifespan)]
    async fn above() {}
}

/// Whether the options arrive is for the runtime's tests; here, that each function is still
/// registered once, under its path, whatever its display name.
#[tokio::test(start_paused = true)]
async fn every_function_with_options_is_registered_under_its_path() {
    static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let prefix = concat!(module_path!(), "::");
    let app = App::with_filter(move |registration| {
        if let Some(name) = registration.name.strip_prefix(prefix) {
            SEEN.lock().unwrap().push(name.to_owned());
        }
        false
    });
    bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
    let _ = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
    let mut seen = SEEN.lock().unwrap().clone();
    seen.sort();
    seen.dedup();
    assert_eq!(
        seen,
        [
            "cache",
            "database",
            "forever",
            "merged",
            "no_options",
            "periodic_with_retries",
            "poll",
            "refresh",
            "renamed::above",
            "renamed::below",
            "sweep",
            "ticks"
        ]
    );
}
