//! How things ended, as the API returns them: the [`Report`](crate::Report) of a shutdown, the
//! errors of startup, registration and runs, a task's error kept as a value, an argument that
//! could not be given, a task's ledger that could not be read, a readiness check refused, a
//! task that could not be controlled.
//!
//! It may use: `base`, `replicas`.

pub(crate) mod arg_error;
pub(crate) mod control_error;
pub(crate) mod errors;
pub(crate) mod ledger_error;
pub(crate) mod outcome;
pub(crate) mod readiness_error;
pub(crate) mod task_error;
