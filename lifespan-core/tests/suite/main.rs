//! The integration tests of `lifespan-core`, one module per suite, in one test binary: each
//! binary links the runtime and its dependencies again, so the suites share one where they can.
//! `cargo test -p lifespan-core --test suite lifecycle::` runs one suite.
//!
//! The suites' link-time registrations (`#[lifespan_task]`, `#[lifespan_context]`) are all
//! linked into this binary: each suite that has any builds its apps from its own module
//! (`App::from_module(module_path!())`, `.module(...)`, or a filter on its module path), every
//! other app here is `App::empty()` or `builder().empty()`; names of registrations and of types
//! that tests spell out begin with `suite::`.
//!
//! Separate binaries, each for a reason:
//! - `no_registrations.rs`: checks that no registration at all was linked into its program.
//! - `dev_mode_env.rs`: sets and removes `LIFESPAN_DEV`, which every `build` reads, in the
//!   process's environment.
//!
//! Process-wide things in this one, none of which changes another suite's outcome: the panic
//! hook of `fault_injection` hides only panics whose message begins with "injected" (none
//! elsewhere); `supervision::blocking` installs the global tracing subscriber, which collects the
//! lines logged on threads without a capture of their own (no other suite reads it or installs
//! one); `blocked_shutdown`, `systemd_notify` and `systemd_watchdog` run this binary again as a
//! child process for one ignored test, and signal only that child (the children of the
//! `systemd_*` suites alone have `NOTIFY_SOCKET` in their environment); `own_server` listens for signals only while one of its runs
//! lasts, and no test here signals this process.

mod accepted_forms;
mod accepted_options;
mod alert_rules;
mod blocked_shutdown;
mod builder;
mod control;
mod errors;
mod fault_injection;
mod hardening;
mod lifecycle;
mod liveness;
mod metrics;
mod module_graph;
mod names;
mod observe;
mod order;
mod otel;
mod own_server;
mod readiness;
mod replicas;
mod reruns;
mod schedules;
mod secrets;
mod server;
mod state;
mod supervision;
mod systemd_notify;
mod systemd_watchdog;
mod testing;
mod traces;
