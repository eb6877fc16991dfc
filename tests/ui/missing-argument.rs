use lifespan_core::lifespan_task;

#[lifespan_task(foo = 42)]
async fn poll(foo: u32, bar: String) {
    let _ = (foo, bar);
}

fn main() {}
