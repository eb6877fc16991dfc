use lifespan_core::{lifespan_context, Yield};

#[lifespan_context]
fn setup_model(lifespan: Yield) {
    drop(lifespan);
}

fn main() {
    // The function is still emitted: no "cannot find function" error below.
    let _ = setup_model;
}
