//! The vocabulary and tools every concern uses: the name and kind of a task or context, error
//! chains printed as `anyhow` prints them, credentials masked in texts, panics caught as
//! messages, deadlines that never overflow, locks that survive poisoning, named spawning, a wall clock
//! that follows tokio's paused time.
//!
//! It may use: nothing else in the crate.

pub(crate) mod chain;
pub(crate) mod deadline;
pub(crate) mod kind;
pub(crate) mod lock;
pub(crate) mod name;
pub(crate) mod panic;
pub(crate) mod redact;
pub(crate) mod spawn;
pub(crate) mod wall_clock;
