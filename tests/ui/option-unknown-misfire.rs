use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(every = "1m", once_per_point, misfire = Latest)]
async fn report() {}

// A policy given a wrong value is reported once: the options that need it are not.
#[lifespan_task]
#[lifespan(every = "1m", once_per_point, misfire = "catch_up", misfire_limit = 5)]
async fn digest() {}

#[lifespan_task]
#[lifespan(every = "1m", once_per_point, overlap = alow)]
async fn sweep() {}

fn main() {}
