use lifespan_core::{lifespan_task, Shutdown};

#[lifespan_task(shutdown = make_shutdown())]
async fn poll(shutdown: Shutdown) {
    shutdown.cancelled().await;
}

fn make_shutdown() -> Shutdown {
    unimplemented!()
}

fn main() {}
