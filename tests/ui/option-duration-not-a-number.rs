use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(every = "-5s")]
async fn refresh() {}

fn main() {}
