//! The workspace-level integration tests, one module per suite, in one test binary: each binary
//! links the runtime and its dependencies again. `cargo test --test suite signals::` runs one
//! suite. Most of them run the examples as processes (`lifespan_examples::example`) and signal
//! only those; the apps built here are `App::empty()` or select a module, so the library
//! registrations that `linked_library` links in change no other suite's app.
//!
//! A separate binary: `ui.rs`, whose trybuild cases run cargo to compile about a hundred test
//! crates on every core; beside the suites that time real processes, it would starve them.

mod admin_routes;
mod browser;
mod cluster;
mod control_replicas;
mod dashboard;
mod http;
mod ledger_replicas;
mod linked_library;
/// The metrics example exists with feature `metrics` only.
#[cfg(feature = "metrics")]
mod metrics;
mod own_server;
mod probes;
/// The metrics example exists with feature `metrics` only.
#[cfg(feature = "metrics")]
mod prometheus;
mod replicas;
mod serialize;
mod signals;
