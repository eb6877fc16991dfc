use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(cron = "0 */5 * * * *", fixed_delay)]
async fn report() {}

fn main() {}
