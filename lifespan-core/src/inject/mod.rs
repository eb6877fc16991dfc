//! What a task or context receives besides its keyword arguments: the app handle, the shutdown
//! signal, the yield point, typed state, the readiness checks registered on the app; the
//! compile-time checks of the parameters' types; and the injected values made by hand for tests.
//!
//! It may use: `base`, `replicas`, `report`.

pub(crate) mod app_handle;
pub(crate) mod params;
pub(crate) mod readiness_checks;
pub(crate) mod state;
pub(crate) mod testing;
pub(crate) mod type_checks;
