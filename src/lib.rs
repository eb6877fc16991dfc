//! The examples' package: the READMEs' examples as doctests, and the test support of the workspace
//! re-exported for the integration tests that run the examples.
#![deny(missing_docs)]

pub use lifespan_test_support::{bounded, chain, http_get, CapturedLogs, Events, WAIT_LIMIT};
/// A PostgreSQL database for the tests: a throwaway cluster, or `LIFESPAN_TEST_DATABASE_URL`.
pub use lifespan_test_support::{test_database, unique_name, TestDatabase};
#[cfg(unix)]
pub use lifespan_test_support::{Process, PATIENCE};

/// The binary of example `name`, which `cargo test --workspace` builds beside the test binary
/// that calls this; panics, naming the command, if it is not built.
pub fn example(name: &str) -> std::path::PathBuf {
    let test_binary = std::env::current_exe().expect("the test binary's path");
    let profile_dir = test_binary
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test binary is in target/<profile>/deps");
    let path = profile_dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is not built: run the tests with `cargo test --workspace`, which builds the examples",
        path.display()
    );
    path
}

/// The README's examples, compiled as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The example of `lifespan-core`'s own README (its page on crates.io), compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../lifespan-core/README.md")]
pub struct CoreReadmeDoctests;
