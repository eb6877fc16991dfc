use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(every = "1.5.0s")]
async fn refresh() {}

fn main() {}
