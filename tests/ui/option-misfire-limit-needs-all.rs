use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(every = "1m", once_per_point, misfire = latest, misfire_limit = 5)]
async fn report() {}

#[lifespan_task]
#[lifespan(every = "1m", once_per_point, misfire_limit = 5)]
async fn digest() {}

fn main() {}
