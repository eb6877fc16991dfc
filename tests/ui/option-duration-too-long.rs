use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(every = "10000000h")]
async fn refresh() {}

fn main() {}
