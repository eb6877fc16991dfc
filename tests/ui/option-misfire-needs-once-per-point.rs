use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(every = "1m", overlap = allow)]
async fn report() {}

// Each policy is reported at its key; the rules between them wait for `once_per_point`.
#[lifespan_task]
#[lifespan(
    every = "1m",
    once_per_point = false,
    misfire = latest,
    misfire_grace = "10m",
    misfire_limit = 5
)]
async fn digest() {}

fn main() {}
