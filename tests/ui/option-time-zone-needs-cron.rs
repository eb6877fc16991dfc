use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(every = "1h", time_zone = "Europe/Berlin")]
async fn report() {}

fn main() {}
