use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(backoff = "1s..5s", jitter = false, max_restarts = 3, within = "1m")]
async fn poll() {}

#[lifespan_task]
#[lifespan(restart = never, backoff = "1s")]
async fn never_restarted() {}

fn main() {}
