#![deny(warnings)]

use lifespan_core::{lifespan_task, Shutdown};

#[lifespan_task]
#[lifespan(
    cron = "0 */5 * * * *",
    time_zone = "Europe/Berlin",
    initial_delay = "30s",
    timeout = "10s",
    run_jitter = "5s",
    restart = on_failure,
    once_per_point,
    hold = "1s"
)]
async fn report(shutdown: Shutdown) {
    let _ = shutdown;
}

#[lifespan_task]
#[lifespan(cron = "@daily", at_startup, timeout = "1m")]
async fn nightly() {}

#[lifespan_task]
#[lifespan(every = "1m", initial_delay = "5s", run_jitter = "10s")]
async fn poll() {}

fn main() {}
