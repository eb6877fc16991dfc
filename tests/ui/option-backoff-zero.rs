use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(restart = on_failure, backoff = "0s..1s")]
async fn poll() {}

fn main() {}
