use lifespan_core::lifespan_task;

// The renew deadline is 10s unless given.
#[lifespan_task]
#[lifespan(singleton, retry = "10s")]
async fn leader() {}

#[lifespan_task]
#[lifespan(singleton, renew_deadline = "3s", retry = "5s")]
async fn both_given() {}

fn main() {}
