use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(lease = "30s", renew_deadline = "20s", retry = "5s")]
async fn leader() {}

#[lifespan_task]
#[lifespan(singleton = false, lease = "30s")]
async fn not_a_singleton() {}

fn main() {}
