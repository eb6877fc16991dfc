use lifespan_core::lifespan_task;

#[lifespan_task(mut count = 0)]
async fn poll(mut count: u32) {
    count += 1;
    let _ = count;
}

fn main() {}
