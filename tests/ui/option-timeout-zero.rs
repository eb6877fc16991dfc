use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(every = "1m", timeout = "0s")]
async fn report() {}

fn main() {}
