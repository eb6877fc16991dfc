use lifespan_core::lifespan_task;

#[lifespan_task(label = "poll")]
async fn poll(label: &str) {
    let _ = label;
}

fn main() {}
