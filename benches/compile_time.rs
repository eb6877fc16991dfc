//! Compile-time cost of the macros: a generated crate with 1,000 `#[lifespan_task]` functions
//! against the same crate registering each function by hand with `inventory::submit!` (the code
//! the macro generates, written out). Dependencies are built first; then each crate is built
//! cold (after `cargo clean -p`) and incrementally (after touching its source), medians printed
//! with the ratio macro / by hand.
//!
//! `cargo bench --bench compile_time`; `LIFESPAN_BENCH_QUICK=1` builds once each.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const FUNCTIONS: usize = 1_000;

fn macro_crate() -> String {
    let mut source = String::from("use lifespan_core::{lifespan_task, Shutdown};\n\n");
    for i in 0..FUNCTIONS {
        source.push_str(&format!(
            "#[lifespan_task(factor = {i}u64)]\n\
             pub async fn task_{i}(factor: u64, shutdown: Shutdown) {{\n    \
                 let _ = factor;\n    shutdown.cancelled().await;\n}}\n\n"
        ));
    }
    source
}

fn hand_crate() -> String {
    let mut source =
        String::from("use lifespan_core::Shutdown;\nuse lifespan_core::__private as lifespan;\n\n");
    for i in 0..FUNCTIONS {
        source.push_str(&format!(
            "pub async fn task_{i}(factor: u64, shutdown: Shutdown) {{\n    \
                 let _ = factor;\n    shutdown.cancelled().await;\n}}\n\n\
             const _: () = {{\n    \
                 fn prepare(cx: &mut lifespan::InjectCx<'_>) -> Result<lifespan::BoxFuture, lifespan::ArgError> {{\n        \
                     let factor = lifespan::arg(\"factor\", || Ok({i}u64))?;\n        \
                     let shutdown = lifespan::inject_task::<Shutdown>(cx, \"shutdown\")?;\n        \
                     Ok(lifespan::boxed(task_{i}(factor, shutdown)))\n    \
                 }}\n    \
                 lifespan::inventory::submit! {{\n        \
                     lifespan::Registration::new(lifespan::Kind::Task, concat!(module_path!(), \"::task_{i}\"), module_path!(), file!(), line!(), prepare)\n    \
                 }}\n\
             }};\n\n"
        ));
    }
    source
}

fn write_crate(root: &Path, name: &str, source: &str, core: &Path) {
    let dir = root.join(name);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
             [dependencies]\nlifespan-core = {{ path = {core:?} }}\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("src/lib.rs"), source).unwrap();
}

fn cargo(root: &Path, args: &[&str]) -> Duration {
    let began = Instant::now();
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .current_dir(root)
        .env("CARGO_TARGET_DIR", root.join("target"))
        .env_remove("RUSTFLAGS")
        .status()
        .unwrap();
    assert!(status.success(), "cargo {args:?} failed");
    began.elapsed()
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let quick = std::env::var_os("LIFESPAN_BENCH_QUICK").is_some();
    let reps = if quick { 1 } else { 3 };
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = workspace.join("target").join("compile-bench");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(
        root.join("Cargo.toml"),
        "[workspace]\nmembers = [\"with-macro\", \"by-hand\"]\nresolver = \"2\"\n",
    )
    .unwrap();
    // The same dependency versions as the workspace.
    std::fs::copy(workspace.join("Cargo.lock"), root.join("Cargo.lock")).unwrap();
    let core = workspace.join("lifespan-core");
    write_crate(&root, "with-macro", &macro_crate(), &core);
    write_crate(&root, "by-hand", &hand_crate(), &core);

    println!(
        "## Compile time: {FUNCTIONS} annotated functions against `inventory::submit!` by hand\n"
    );
    // Dependencies first, so that what follows times the generated crates only.
    cargo(&root, &["build", "--quiet", "--workspace"]);
    println!("| crate | cold build | incremental build |");
    println!("|---|---:|---:|");
    let mut rows = Vec::new();
    for name in ["with-macro", "by-hand"] {
        let cold = median(
            (0..reps)
                .map(|_| {
                    cargo(&root, &["clean", "--quiet", "-p", name]);
                    cargo(&root, &["build", "--quiet", "-p", name])
                })
                .collect(),
        );
        let source = root.join(name).join("src/lib.rs");
        let incremental = median(
            (0..reps)
                .map(|i| {
                    let mut text = std::fs::read_to_string(&source).unwrap();
                    text.push_str(&format!("\npub const EDIT_{i}: u32 = {i};\n"));
                    std::fs::write(&source, text).unwrap();
                    cargo(&root, &["build", "--quiet", "-p", name])
                })
                .collect(),
        );
        println!(
            "| {name} | {:.2} s | {:.2} s |",
            cold.as_secs_f64(),
            incremental.as_secs_f64()
        );
        rows.push((cold, incremental));
    }
    println!(
        "\nwith macro / by hand: cold {:.2}x, incremental {:.2}x\n",
        rows[0].0.as_secs_f64() / rows[1].0.as_secs_f64(),
        rows[0].1.as_secs_f64() / rows[1].1.as_secs_f64()
    );
}
