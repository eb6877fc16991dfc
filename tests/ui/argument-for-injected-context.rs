use lifespan_core::{lifespan_context, App, Yield};

#[lifespan_context(app = App::empty())]
async fn setup(app: App, lifespan: Yield) {
    let _ = app;
    lifespan.ready().await;
}

fn main() {}
