use lifespan_core::lifespan_task;

#[lifespan_task(fo = 1, unknown = 2)]
fn poll<T>(foo: T, label: &str) {
    let _ = (foo, label);
}

fn main() {}
