use lifespan_core::lifespan_task;

// The retry period is 2s unless given.
#[lifespan_task]
#[lifespan(singleton, lease = "3s", renew_deadline = "2s")]
async fn leader() {}

fn main() {}
