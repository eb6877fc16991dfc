use lifespan_core::{lifespan_context, Yield};

#[lifespan_context]
async fn setup_model(path: String, lifespan: Yield) {
    let _ = path;
    lifespan.ready().await;
}

fn main() {}
