use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(every = "0s", restart = on_failure, max_restarts = 2, within = "0ms")]
async fn refresh() {}

fn main() {}
