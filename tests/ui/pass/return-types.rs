//! Every accepted return type.
#![deny(warnings)]

use lifespan_core::lifespan_task;

#[lifespan_task]
async fn unit() {}

#[lifespan_task]
async fn explicit_unit() -> () {}

#[lifespan_task]
async fn anyhow_result() -> anyhow::Result<()> {
    Ok(())
}

#[lifespan_task]
async fn io_result() -> std::io::Result<()> {
    Ok(())
}

#[lifespan_task]
async fn boxed_error() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    Ok(())
}

#[lifespan_task]
async fn string_error() -> Result<(), String> {
    Err("a message".to_owned())
}

#[lifespan_task]
async fn str_error() -> Result<(), &'static str> {
    Err("a message")
}

fn main() {}
