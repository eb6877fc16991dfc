use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(every = "1m", at_startup, initial_delay = "30s")]
async fn report() {}

fn main() {}
