//! No annotated function linked.

fn main() {
    lifespan_bench_annotated::main(concat!(module_path!(), "::annotated"), 0);
}
