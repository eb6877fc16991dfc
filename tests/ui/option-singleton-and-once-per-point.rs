use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(every = "1m", singleton, once_per_point)]
async fn report() {}

fn main() {}
