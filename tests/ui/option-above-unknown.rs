use lifespan_core::{lifespan, lifespan_task};

// Above the task attribute, each message still points at the option.
#[lifespan(restart = on_failure, backof = "1s")]
#[lifespan_task(foo = 1)]
async fn poll(foo: u32) {
    let _ = foo;
}

fn main() {}
