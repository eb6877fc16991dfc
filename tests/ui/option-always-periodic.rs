use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(every = "5s", restart = always)]
async fn refresh() {}

fn main() {}
