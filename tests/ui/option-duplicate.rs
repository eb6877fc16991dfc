use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(restart = on_failure, critical)]
#[lifespan(restart = always, critical = true)]
async fn poll() {}

fn main() {}
