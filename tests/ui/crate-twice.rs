use lifespan_core::lifespan_task;

#[lifespan_task(crate = lifespan_core, crate = lifespan_core)]
async fn poll() {}

fn main() {}
