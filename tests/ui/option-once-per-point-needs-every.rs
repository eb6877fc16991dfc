use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(once_per_point)]
async fn report() {}

fn main() {}
