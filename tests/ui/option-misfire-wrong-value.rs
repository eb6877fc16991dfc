use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(every = "1m", once_per_point, overlap = true)]
async fn report() {}

#[lifespan_task]
#[lifespan(every = "1m", once_per_point, misfire = all, misfire_limit = "5")]
async fn digest() {}

#[lifespan_task]
#[lifespan(every = "1m", once_per_point, misfire = all, misfire_grace = 10m)]
async fn sweep() {}

fn main() {}
