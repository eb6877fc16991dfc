use lifespan_core::lifespan_task;

#[lifespan_task]
async unsafe fn poll() {}

fn main() {}
