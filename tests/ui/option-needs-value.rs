use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(restart, critical)]
async fn poll() {}

fn main() {}
