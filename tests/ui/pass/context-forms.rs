//! Contexts: with arguments, every injected type, and the yield point through an alias.
#![deny(warnings)]

use lifespan_core::{lifespan_context, App, Shutdown};

type YieldPoint = lifespan_core::Yield;

#[lifespan_context(path = String::from("model.bin"), retries = 3)]
async fn with_arguments(path: String, retries: u8, lifespan: lifespan_core::Yield) {
    let _ = (path, retries);
    lifespan.ready().await;
}

#[lifespan_context]
async fn through_an_alias(app: App, shutdown: Shutdown, point: YieldPoint) -> anyhow::Result<()> {
    let _ = (app, shutdown);
    point.ready().await;
    Ok(())
}

fn main() {}
