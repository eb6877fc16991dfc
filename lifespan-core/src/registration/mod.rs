//! What an app runs: the registrations linked at build time and those made by hand, what their
//! functions may return, and the plan of a start (which registrations, in which order).
//!
//! It may use: `base`, `replicas`, `report`, `schedules`, `inject`.

pub(crate) mod by_hand;
pub(crate) mod entry;
pub(crate) mod linked;
pub(crate) mod plan;
pub(crate) mod returns;
