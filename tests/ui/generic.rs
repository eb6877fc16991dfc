use lifespan_core::lifespan_task;

#[lifespan_task(value = 1u32)]
async fn poll<T: std::fmt::Debug + Send + 'static>(value: T) {
    let _ = value;
}

fn main() {}
