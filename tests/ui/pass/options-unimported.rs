//! `#[lifespan(...)]` below the task attribute is read by it, so it needs no import.
#![deny(warnings)]

use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(restart = on_failure)]
async fn poll() {}

fn main() {}
