use lifespan_core::lifespan_task;

// The lease is 15s unless given.
#[lifespan_task]
#[lifespan(singleton, renew_deadline = "20s")]
async fn leader() {}

#[lifespan_task]
#[lifespan(singleton, lease = "5s", renew_deadline = "5s", retry = "1s")]
async fn both_given() {}

fn main() {}
