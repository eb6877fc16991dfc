use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(cron = "0 0 0 1 FOO *")]
async fn report() {}

fn main() {}
