use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(restat = on_failure)]
async fn poll() {}

fn main() {}
