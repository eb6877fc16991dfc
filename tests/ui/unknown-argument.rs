use lifespan_core::lifespan_task;

#[lifespan_task(fo = 42, bar = String::new())]
async fn poll(foo: u32, bar: String) {
    let _ = (foo, bar);
}

fn main() {}
