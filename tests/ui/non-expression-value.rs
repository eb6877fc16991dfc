use lifespan_core::lifespan_task;

#[lifespan_task(foo = struct)]
async fn poll(foo: u32) {
    let _ = foo;
}

fn main() {}
