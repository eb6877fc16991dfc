use lifespan_core::lifespan_task;
use std::rc::Rc;

#[lifespan_task]
async fn poll() {
    let shared = Rc::new(1);
    tokio::task::yield_now().await;
    let _ = shared;
}

fn main() {}
