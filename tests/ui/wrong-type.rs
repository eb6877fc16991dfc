use lifespan_core::lifespan_task;

#[lifespan_task(foo = "forty-two")]
async fn poll(foo: u32) {
    let _ = foo;
}

fn main() {}
