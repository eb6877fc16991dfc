use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan = "restart"]
async fn poll() {}

fn main() {}
