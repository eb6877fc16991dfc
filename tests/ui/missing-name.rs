use lifespan_core::lifespan_task;

#[lifespan_task(= 1)]
async fn poll(foo: u32) {
    let _ = foo;
}

fn main() {}
