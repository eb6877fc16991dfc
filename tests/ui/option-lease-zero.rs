use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(singleton, lease = "0s", renew_deadline = "0ms", retry = "0s")]
async fn leader() {}

#[lifespan_task]
#[lifespan(every = "1m", once_per_point, hold = "0s")]
async fn report() {}

fn main() {}
