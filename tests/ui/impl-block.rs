use lifespan_core::lifespan_task;

struct Poller;

#[lifespan_task]
impl Poller {
    async fn poll() {}
}

fn main() {
    let _ = Poller;
}
