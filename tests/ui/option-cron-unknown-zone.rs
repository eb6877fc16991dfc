use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(cron = "0 0 3 * * *", time_zone = "Europe/Berln")]
async fn report() {}

fn main() {}
