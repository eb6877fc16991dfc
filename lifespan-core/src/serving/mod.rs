//! The app under a server and a supervisor: running it until a future, a request or a signal;
//! an axum router it serves (feature `axum`), or the user's own server; the future a server's
//! graceful shutdown waits on; the probes, the status route, the admin routes that operate
//! tasks and the dashboard (feature `axum`); operating-system signals and systemd's notify
//! protocol.
//!
//! It may use: `base`, `replicas`, `report`, `schedules`, `inject`, `registration`, `status`,
//! `tasks`, `lifecycle`.

#[cfg(feature = "axum")]
pub(crate) mod admin_routes;
#[cfg(feature = "axum")]
pub(crate) mod axum_router;
#[cfg(feature = "axum")]
pub(crate) mod dashboard;
#[cfg(feature = "axum")]
pub(crate) mod fleet;
pub(crate) mod graceful_shutdown;
pub(crate) mod own_server;
#[cfg(feature = "axum")]
pub(crate) mod probes;
pub(crate) mod run_until;
pub(crate) mod signals;
#[cfg(feature = "axum")]
pub(crate) mod status_route;
