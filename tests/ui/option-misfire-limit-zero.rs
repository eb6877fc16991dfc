use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(every = "1m", once_per_point, misfire = all, misfire_limit = 0)]
async fn report() {}

fn main() {}
