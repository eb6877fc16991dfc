use lifespan_core::{lifespan_task, Yield};

#[lifespan_task]
async fn poll(lifespan: Yield) {
    lifespan.ready().await;
}

fn main() {}
