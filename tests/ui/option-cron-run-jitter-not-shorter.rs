use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(cron = "0 0,5 * * * *", run_jitter = "5m")]
async fn report() {}

fn main() {}
