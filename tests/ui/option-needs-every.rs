use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(fixed_delay, at_startup)]
async fn refresh() {}

fn main() {}
