use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan("critical")]
async fn refresh() {}

fn main() {}
