use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(every = "5")]
async fn refresh() {}

fn main() {}
