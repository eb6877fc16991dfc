//! Whether a registration is a task or a context.

use std::fmt;

/// Whether a registration is a task or a context.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// A `#[lifespan_task]`: runs while the app runs.
    Task,
    /// A `#[lifespan_context]`: set up at startup, cleaned up at shutdown.
    Context,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Task => "task",
            Kind::Context => "context",
        })
    }
}
