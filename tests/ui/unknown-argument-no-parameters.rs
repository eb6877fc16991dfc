use lifespan_core::lifespan_task;

#[lifespan_task(interval = 5)]
async fn poll() {}

fn main() {}
