use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(restart = OnFailure)]
async fn poll() {}

// The backoff is not also reported as having no restart to apply to.
#[lifespan_task]
#[lifespan(restart = "sometimes", backoff = "1s")]
async fn sync() {}

fn main() {}
