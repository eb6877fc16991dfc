use lifespan_core::lifespan_task;

// A flag given a wrong value is reported once: the options that need it are not.
#[lifespan_task]
#[lifespan(singleton = "yes", lease = 20s)]
async fn leader() {}

#[lifespan_task]
#[lifespan(every = "1m", once_per_point = 1, hold = "10 seconds")]
async fn report() {}

fn main() {}
