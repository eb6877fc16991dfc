use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(cron = "*/0 * * * *")]
async fn report() {}

fn main() {}
