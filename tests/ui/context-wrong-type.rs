use lifespan_core::{lifespan_context, Yield};

#[lifespan_context(path = 42)]
async fn setup_model(path: String, lifespan: Yield) {
    let _ = path;
    lifespan.ready().await;
}

fn main() {}
