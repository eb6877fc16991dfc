use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(cron = "0 * * * * *", run_jitter = "0ms")]
async fn report() {}

fn main() {}
