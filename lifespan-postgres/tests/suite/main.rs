//! The integration tests of `lifespan-postgres`, one module per suite, in one test binary (each
//! binary links the runtime, the driver and their dependencies again), with the helpers of
//! `common/`. `cargo test -p lifespan-postgres --test suite tables::` runs one suite.
//!
//! The suites share the binary's database (`test_database`) and run in parallel: each test uses
//! task names, instance names or a schema of its own. One test of `statements` locks the table
//! `lifespan_leases` for a fraction of a second; the others' statements on it wait that long.

mod common;

mod app;
mod control;
mod coordinator;
mod effects;
mod fleet;
mod once;
mod recent;
mod runs;
mod statements;
mod tables;
