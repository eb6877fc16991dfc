use lifespan_core::{lifespan_task, Shutdown};

#[lifespan_task]
#[lifespan(url = "http://localhost", restart = on_failure)]
async fn poll(url: String, shutdown: Shutdown) {
    let _ = (url, shutdown);
}

fn main() {}
