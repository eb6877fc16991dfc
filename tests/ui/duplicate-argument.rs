use lifespan_core::lifespan_task;

#[lifespan_task(foo = 1, foo = 2)]
async fn poll(foo: u32) {
    let _ = foo;
}

fn main() {}
