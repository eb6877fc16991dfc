use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(every = "5s", once_per_point, hold = "5s")]
async fn report() {}

fn main() {}
