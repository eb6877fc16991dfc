use lifespan_core::lifespan_task;

trait Poller {
    #[lifespan_task]
    async fn poll();
}

fn main() {}
