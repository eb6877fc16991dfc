//! Compile-time cost of the macros: a generated crate with 1,000 `#[lifespan_task]` functions
//! against plain tokio code with the same 1,000 functions, spawned by hand: one function builds
//! a `Vec<Pin<Box<dyn Future>>>` of them and spawns each on a `TaskTracker`, with a
//! `CancellationToken` as the shutdown signal. Dependencies are built first; then, for each
//! repetition, both crates are built cold (after `cargo clean -p`), then both incrementally
//! (after an edit of the source), the two crates alternating and their order swapped each
//! repetition. Dev profile, as `cargo build` does. Prints medians, ranges and the ratio of each
//! repetition's pair.
//!
//! `cargo bench --bench compile_time`; `LIFESPAN_BENCH_QUICK=1` builds once each.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const FUNCTIONS: usize = 1_000;

/// The crates, in the order of the table: the macro's, then plain tokio.
const CRATES: [&str; 2] = ["with-macro", "plain-tokio"];

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

fn plain_crate() -> String {
    let mut source = String::from(
        "use std::future::Future;\nuse std::pin::Pin;\n\n\
         use tokio_util::sync::CancellationToken;\nuse tokio_util::task::TaskTracker;\n\n",
    );
    for i in 0..FUNCTIONS {
        source.push_str(&format!(
            "pub async fn task_{i}(factor: u64, shutdown: CancellationToken) {{\n    \
                 let _ = factor;\n    shutdown.cancelled().await;\n}}\n\n"
        ));
    }
    source.push_str(
        "/// Spawns every task on `tracker`; each stops when `shutdown` is cancelled.\n\
         pub fn spawn_all(tracker: &TaskTracker, shutdown: &CancellationToken) {\n    \
             let tasks: Vec<Pin<Box<dyn Future<Output = ()> + Send>>> = vec![\n",
    );
    for i in 0..FUNCTIONS {
        source.push_str(&format!(
            "        Box::pin(task_{i}({i}u64, shutdown.clone())),\n"
        ));
    }
    source.push_str("    ];\n    for task in tasks {\n        tracker.spawn(task);\n    }\n}\n");
    source
}

fn write_crate(root: &Path, name: &str, source: &str, dependencies: &str) {
    let dir = root.join(name);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
             [dependencies]\n{dependencies}"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("src/lib.rs"), source).unwrap();
}

/// Runs cargo in `root`; returns how long it took, in seconds.
fn cargo(root: &Path, args: &[&str]) -> f64 {
    let began = Instant::now();
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .current_dir(root)
        .env("CARGO_TARGET_DIR", root.join("target"))
        .env_remove("RUSTFLAGS")
        .status()
        .unwrap();
    assert!(status.success(), "cargo {args:?} failed");
    began.elapsed().as_secs_f64()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// `median (min–max)` with `unit` after each number.
fn spread(values: &[f64], unit: &str) -> String {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{:.2}{unit} ({min:.2}–{max:.2})", median(values.to_vec()))
}

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let quick = std::env::var_os("LIFESPAN_BENCH_QUICK").is_some();
    let reps: usize = if quick { 1 } else { 5 };
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = workspace.join("target").join("compile-bench");
    generate(&workspace, &root);
    println!(
        "## Compile time: 1,000 annotated functions against the same functions spawned by hand\n"
    );
    let (cold, incremental) = build_times(&root, reps);
    print_times(reps, &cold, &incremental);
}

/// Writes the two crates, and a workspace holding them, to `root`.
fn generate(workspace: &Path, root: &Path) {
    // What an earlier version of this benchmark generated.
    let _ = std::fs::remove_dir_all(root.join("by-hand"));
    std::fs::create_dir_all(root).unwrap();
    std::fs::write(
        root.join("Cargo.toml"),
        format!(
            "[workspace]\nmembers = [\"{}\", \"{}\"]\nresolver = \"2\"\n",
            CRATES[0], CRATES[1]
        ),
    )
    .unwrap();
    // The same dependency versions as the workspace.
    std::fs::copy(workspace.join("Cargo.lock"), root.join("Cargo.lock")).unwrap();
    let core = workspace.join("lifespan-core");
    write_crate(
        root,
        CRATES[0],
        &macro_crate(),
        &format!("lifespan-core = {{ path = {core:?} }}\n"),
    );
    write_crate(
        root,
        CRATES[1],
        &plain_crate(),
        "tokio = { version = \"1.38\", features = [\"rt\"] }\n\
         tokio-util = { version = \"0.7.11\", features = [\"rt\"] }\n",
    );
}

/// Builds the crates of `root` `reps` times each, alternating; per crate (in the order of
/// [`CRATES`]), the cold and the incremental build times, one per repetition.
fn build_times(root: &Path, reps: usize) -> ([Vec<f64>; 2], [Vec<f64>; 2]) {
    // Dependencies first, so that what follows times the generated crates only.
    cargo(root, &["build", "--quiet", "--workspace"]);
    let mut cold = [Vec::new(), Vec::new()];
    let mut incremental = [Vec::new(), Vec::new()];
    for rep in 0..reps {
        let order = if rep.is_multiple_of(2) {
            [0, 1]
        } else {
            [1, 0]
        };
        for i in order {
            cargo(root, &["clean", "--quiet", "-p", CRATES[i]]);
            cold[i].push(cargo(root, &["build", "--quiet", "-p", CRATES[i]]));
        }
        for i in order {
            let source = root.join(CRATES[i]).join("src/lib.rs");
            let mut text = std::fs::read_to_string(&source).unwrap();
            text.push_str(&format!("\npub const EDIT_{rep}: u32 = {rep};\n"));
            std::fs::write(&source, text).unwrap();
            incremental[i].push(cargo(root, &["build", "--quiet", "-p", CRATES[i]]));
        }
    }
    (cold, incremental)
}

/// Prints the build times, their ratios paired per repetition, and the targets.
fn print_times(reps: usize, cold: &[Vec<f64>; 2], incremental: &[Vec<f64>; 2]) {
    println!("{reps} builds each, alternating; median (range); dev profile\n");
    println!("| crate | cold build | incremental build |");
    println!("|---|---:|---:|");
    let names = [
        "`#[lifespan_task]`",
        "plain tokio, spawned by hand (boxed futures)",
    ];
    for i in 0..2 {
        println!(
            "| {} | {} | {} |",
            names[i],
            spread(&cold[i], " s"),
            spread(&incremental[i], " s")
        );
    }
    let (cold_ratios, incremental_ratios) = (ratios(cold), ratios(incremental));
    println!(
        "| ratio, paired per repetition | {} | {} |",
        spread(&cold_ratios, "x"),
        spread(&incremental_ratios, "x")
    );
    println!("\n| target | measured | |");
    println!("|---|---|---|");
    for (build, ratios) in [("cold", &cold_ratios), ("incremental", &incremental_ratios)] {
        let verdict = if median(ratios.clone()) <= 1.5 {
            "pass"
        } else {
            "miss"
        };
        println!(
            "| 1,000 annotated functions, {build} build: at most 1.50x plain tokio | {} | {verdict} |",
            spread(ratios, "x")
        );
    }
    println!();
}

/// Per repetition, the macro crate's time over plain tokio's.
fn ratios(times: &[Vec<f64>; 2]) -> Vec<f64> {
    times[0]
        .iter()
        .zip(&times[1])
        .map(|(ours, plain)| ours / plain)
        .collect()
}
