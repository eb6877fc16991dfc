use lifespan_core::lifespan_task;

#[lifespan_task(label = "poll")]
async fn poll(label: impl std::fmt::Display) {
    let _ = label.to_string();
}

fn main() {}
