use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(every = "1m", timeout = "6000000h")]
async fn report() {}

fn main() {}
