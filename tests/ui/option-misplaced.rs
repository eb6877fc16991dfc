use lifespan_core::lifespan;

#[lifespan(restart = on_failure)]
async fn poll() {}

fn main() {
    // The function is still emitted: no "cannot find function" here.
    let _ = poll();
}
