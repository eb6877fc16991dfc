use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(every = , critical)]
async fn refresh() {}

fn main() {}
