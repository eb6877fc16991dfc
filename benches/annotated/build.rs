//! Writes the annotated functions into `OUT_DIR`: `m0.rs` to `m9.rs`, 1,000 functions each.
//! Each function marks that it began, then waits for the shutdown signal.

use std::fmt::Write;

fn main() {
    let out = std::env::var("OUT_DIR").unwrap();
    for module in 0..10 {
        let mut source = String::new();
        for i in 0..1_000 {
            writeln!(
                source,
                "#[lifespan_core::lifespan_task]\n\
                 pub async fn task_{module}_{i}(shutdown: lifespan_core::Shutdown) {{\n    \
                     lifespan_bench_annotated::measure::begin();\n    \
                     shutdown.cancelled().await;\n\
                 }}\n"
            )
            .unwrap();
        }
        std::fs::write(format!("{out}/m{module}.rs"), source).unwrap();
    }
    println!("cargo::rerun-if-changed=build.rs");
}
