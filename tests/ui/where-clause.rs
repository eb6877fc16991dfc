use lifespan_core::lifespan_task;

#[lifespan_task]
async fn poll()
where
    u32: Copy,
{
}

fn main() {}
