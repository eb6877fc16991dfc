use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(singelton, lease = "30s")]
async fn leader() {}

#[lifespan_task]
#[lifespan(every = "1m", once_per_pont)]
async fn report() {}

fn main() {}
