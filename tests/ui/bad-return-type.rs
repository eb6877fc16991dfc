use lifespan_core::lifespan_task;

#[lifespan_task]
async fn poll() -> u32 {
    42
}

fn main() {}
