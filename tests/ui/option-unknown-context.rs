use lifespan_core::{lifespan_context, Yield};

#[lifespan_context]
#[lifespan(nmae = "database")]
async fn database(lifespan: Yield) {
    lifespan.ready().await;
}

fn main() {}
