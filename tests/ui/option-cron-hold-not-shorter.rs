use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(cron = "0 0,5 * * * *", once_per_point, hold = "6m")]
async fn digest() {}

fn main() {}
