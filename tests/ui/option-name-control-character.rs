use lifespan_core::{lifespan_context, lifespan_task, Yield};

// A newline in a display name would forge a log line; so would any control character.
#[lifespan_task]
#[lifespan(name = "poller\nINFO lifespan startup complete")]
async fn poll() {}

#[lifespan_context]
#[lifespan(name = "pool\u{1b}[2K")]
async fn pool(lifespan: Yield) {
    lifespan.ready().await;
}

fn main() {}
