use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(every = "1m", once_per_point, misfire = latest, misfire_grace = "0s")]
async fn report() {}

fn main() {}
