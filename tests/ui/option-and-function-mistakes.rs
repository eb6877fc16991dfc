use lifespan_core::lifespan_task;

// The options are checked along with the function, and taken off it in any case.
#[lifespan_task]
#[lifespan(every = "5x")]
fn refresh() {}

fn main() {}
