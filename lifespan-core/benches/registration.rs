//! Registration and plan costs with nothing linked: `cargo bench -p lifespan-core --bench
//! registration`. See `registration_linked.rs` for the same with a thousand link-time tasks.

#[path = "registration/measure.rs"]
mod measure;

fn main() {
    measure::run(0, None);
}
