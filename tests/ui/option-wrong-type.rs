use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(
    name = poller,
    restart = 1,
    backoff = 100,
    jitter = "no",
    max_restarts = "5",
    within = 60,
    every = Duration::from_secs(5),
    fixed_delay = 1,
)]
async fn poll() {}

fn main() {}
