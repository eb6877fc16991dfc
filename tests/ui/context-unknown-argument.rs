use lifespan_core::{lifespan_context, Yield};

#[lifespan_context(model_pth = String::new())]
async fn setup_model(model_path: String, lifespan: Yield) {
    let _ = model_path;
    lifespan.ready().await;
}

fn main() {}
