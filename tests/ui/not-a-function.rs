use lifespan_core::lifespan_task;

#[lifespan_task]
struct Poller {
    interval_secs: u64,
}

fn main() {
    let _ = Poller { interval_secs: 5 }.interval_secs;
}
