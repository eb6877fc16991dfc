use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(every = "10s", run_jitter = "10s")]
async fn report() {}

fn main() {}
