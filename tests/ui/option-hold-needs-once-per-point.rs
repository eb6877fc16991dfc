use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(every = "1m", hold = "10s")]
async fn report() {}

fn main() {}
