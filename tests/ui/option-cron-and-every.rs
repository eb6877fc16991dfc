use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(every = "5m", cron = "0 */5 * * * *")]
async fn report() {}

fn main() {}
