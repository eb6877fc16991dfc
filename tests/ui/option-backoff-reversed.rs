use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(restart = on_failure, backoff = "1m..30s")]
async fn poll() {}

fn main() {}
