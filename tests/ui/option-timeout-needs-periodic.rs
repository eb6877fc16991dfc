use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(restart = on_failure, timeout = "10s")]
async fn report() {}

fn main() {}
