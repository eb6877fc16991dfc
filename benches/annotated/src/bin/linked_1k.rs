//! 1,000 annotated functions linked.

mod annotated {
    pub mod m0 {
        include!(concat!(env!("OUT_DIR"), "/m0.rs"));
    }
}

fn main() {
    lifespan_bench_annotated::main(concat!(module_path!(), "::annotated"), 1_000);
}
