use lifespan_core::lifespan_task;

// The renew deadline is 10s unless given.
#[lifespan_task]
#[lifespan(singleton, lease = "5s")]
async fn leader() {}

fn main() {}
