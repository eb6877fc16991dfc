use lifespan_core::{lifespan_context, Yield};

#[lifespan_context]
#[lifespan(restart = on_failure, name = "database", every = "5s")]
async fn database(lifespan: Yield) {
    lifespan.ready().await;
}

fn main() {}
