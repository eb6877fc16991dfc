use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(cron = "0 0 * * * * 2030")]
async fn report() {}

fn main() {}
