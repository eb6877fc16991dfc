use lifespan_core::lifespan_task;

#[lifespan_task]
#[lifespan(every = "5 parsecs")]
async fn refresh() {}

#[lifespan_task]
#[lifespan(every = "5sec")]
async fn refresh_often() {}

fn main() {}
