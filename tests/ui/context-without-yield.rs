use lifespan_core::lifespan_context;

#[lifespan_context(path = String::from("model.bin"))]
async fn setup_model(path: String) {
    let _ = path;
}

fn main() {}
