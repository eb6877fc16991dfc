use lifespan_core::lifespan_task;

#[lifespan_task(foo = , bar = 2)]
async fn poll(foo: u32, bar: u32) {
    let _ = (foo, bar);
}

fn main() {}
