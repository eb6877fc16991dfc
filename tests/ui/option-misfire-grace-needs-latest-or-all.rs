use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(every = "1m", once_per_point, misfire_grace = "10m")]
async fn report() {}

#[lifespan_task]
#[lifespan(every = "1m", once_per_point, misfire = skip, misfire_grace = "10m")]
async fn digest() {}

fn main() {}
