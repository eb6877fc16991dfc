use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(restart = on_failure, within = "1m")]
async fn poll() {}

fn main() {}
