use lifespan_core::{App, Shutdown};

async fn five(_a: Shutdown, _b: Shutdown, _c: Shutdown, _d: Shutdown, _e: Shutdown) {}

fn main() {
    let app = App::empty();
    app.register_task("five", five).unwrap();
}
