use lifespan_core::lifespan_task;

#[lifespan_task]
async extern "C" fn poll() {}

fn main() {}
