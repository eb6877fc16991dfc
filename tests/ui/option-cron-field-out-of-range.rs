use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(cron = "0 61 * * * *")]
async fn report() {}

fn main() {}
