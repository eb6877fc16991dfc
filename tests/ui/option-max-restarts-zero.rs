use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(restart = on_failure, max_restarts = 0)]
async fn poll() {}

fn main() {}
