use lifespan_core::lifespan_task;

struct Poller;

impl Poller {
    #[lifespan_task]
    async fn poll() {}
}

fn main() {
    let _ = Poller;
}
