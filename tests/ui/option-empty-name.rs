use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(name = "")]
async fn poll() {}

fn main() {}
