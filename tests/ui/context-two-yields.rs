use lifespan_core::{lifespan_context, Yield};

#[lifespan_context]
async fn setup_model(first: Yield, second: Yield) {
    first.ready().await;
    second.ready().await;
}

fn main() {}
