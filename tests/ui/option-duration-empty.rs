use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(every = "")]
async fn refresh() {}

fn main() {}
