//! Accepted forms under `#![deny(warnings)]`: no warning comes from the generated code.
#![deny(warnings, unused, missing_docs)]

use lifespan_core::{lifespan_context, lifespan_task, App, Shutdown, Yield};

const FACTOR: u32 = 2;
static LABEL: &str = "label";

mod jobs {
    use lifespan_core::{lifespan_task, Shutdown};

    /// A private task in a nested module, with a pattern parameter and a raw identifier.
    #[lifespan_task(r#type = "poll", count = 0)]
    pub(crate) async fn poll(r#type: &'static str, mut count: u32, _shutdown: Shutdown) {
        count += 1;
        let _ = (r#type, count);
    }
}

/// A public task with a doc comment and arguments that are blocks, calls and `?`.
#[lifespan_task(
    answer = { 21 * FACTOR },
    scale = (2),
    label = LABEL,
    port = "8080".parse::<u16>()?,
    home = std::env::var("HOME").unwrap_or_default(),
)]
#[allow(clippy::too_many_arguments)]
pub async fn worker(answer: u32, scale: u32, label: &'static str, port: u16, home: String, app: App, shutdown: Shutdown) -> anyhow::Result<()> {
    let _ = (answer * scale, label, port, home, app.is_running());
    shutdown.cancelled().await;
    Ok(())
}

/// A context with an argument, returning a `std` error type.
#[lifespan_context(path = String::from("model.bin"))]
pub async fn model(path: String, lifespan: Yield) -> Result<(), std::io::Error> {
    let _ = path;
    lifespan.ready().await;
    Ok(())
}

/// Only compiled in tests: its registration is too.
#[cfg(test)]
#[lifespan_task]
async fn only_in_tests() {}

/// A singleton with lease settings of its own, the retry period taking its default.
#[lifespan_task]
#[lifespan(singleton, lease = "30s", renew_deadline = "20s")]
pub async fn leader(shutdown: Shutdown) {
    shutdown.cancelled().await;
}

/// Each point of its schedule on one replica.
#[lifespan_task]
#[lifespan(every = "1m", once_per_point, hold = "10s")]
pub async fn report() {}

/// The runtime named by path, as a crate that renames `lifespan-core` would.
mod renamed {
    use lifespan_core as my_lifespan;

    #[my_lifespan::lifespan_task(crate = my_lifespan)]
    async fn through_a_renamed_crate() {}
}

fn main() {}
