use lifespan_core::{lifespan_context, App, Shutdown};

#[lifespan_context]
async fn setup_model(app: App, shutdown: Shutdown) {
    let _ = (app, shutdown);
}

fn main() {}
