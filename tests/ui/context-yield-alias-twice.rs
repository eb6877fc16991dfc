use lifespan_core::lifespan_context;

type Point = lifespan_core::Yield;

#[lifespan_context]
async fn setup_model(first: Point, second: Point) {
    first.ready().await;
    second.ready().await;
}

fn main() {}
