//! The readiness checks registered on an app (a database ping, a cache warmed), each under a
//! name, for as long as the handle that registered it is kept: what the readiness probe runs.

use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};

use crate::base::lock::lock;
use crate::report::readiness_error::ReadinessCheckError;

/// The name of the app's own line in the verbose answer: whether it runs and has not begun to
/// shut down. No check may take it.
pub(crate) const PHASE_CHECK: &str = "phase";

/// One run of a check: passes with `Ok(())`.
pub(crate) type CheckFuture = Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send>>;

/// A check, called once per probe.
pub(crate) type CheckFn = Arc<dyn Fn() -> CheckFuture + Send + Sync>;

/// The checks of one app, in the order they were added.
#[derive(Default)]
pub(crate) struct ReadinessChecks {
    checks: Mutex<Vec<Registered>>,
    /// The id of the next check added.
    next_id: Mutex<u64>,
}

struct Registered {
    id: u64,
    name: Arc<str>,
    check: CheckFn,
}

impl ReadinessChecks {
    /// The checks registered now, by name, in the order they were added.
    pub(crate) fn current(&self) -> Vec<(Arc<str>, CheckFn)> {
        lock(&self.checks)
            .iter()
            .map(|registered| (registered.name.clone(), registered.check.clone()))
            .collect()
    }

    /// Registers `check` under `name`, until the handle returned is dropped.
    pub(crate) fn add(
        self: &Arc<Self>,
        name: &str,
        check: CheckFn,
    ) -> Result<ReadinessCheck, ReadinessCheckError> {
        if name.trim().is_empty() {
            return Err(ReadinessCheckError::EmptyName);
        }
        if name.chars().any(crate::base::name::forbidden) {
            return Err(ReadinessCheckError::InvalidName { name: name.into() });
        }
        let mut checks = lock(&self.checks);
        if name == PHASE_CHECK || checks.iter().any(|c| &*c.name == name) {
            return Err(ReadinessCheckError::Duplicate { name: name.into() });
        }
        let id = {
            let mut next = lock(&self.next_id);
            *next += 1;
            *next
        };
        let name: Arc<str> = Arc::from(name);
        checks.push(Registered {
            id,
            name: name.clone(),
            check,
        });
        Ok(ReadinessCheck {
            checks: Arc::downgrade(self),
            id,
            name,
        })
    }

    fn remove(&self, id: u64) {
        lock(&self.checks).retain(|registered| registered.id != id);
    }
}

/// A readiness check registered on an app by
/// [`App::add_readiness_check`](crate::App::add_readiness_check): the check stays registered while this handle
/// lives, and is removed when it is dropped, unless it is [kept](Self::keep).
///
/// A context that registers a check during its setup and holds the handle across its yield
/// point has its check removed when its cleanup ends (its body, and the handle, are dropped),
/// so that a reload's new setup registers it again under the same name.
#[must_use = "the check is removed when this handle is dropped: hold it, or call `keep`"]
pub struct ReadinessCheck {
    checks: Weak<ReadinessChecks>,
    id: u64,
    name: Arc<str>,
}

impl ReadinessCheck {
    /// The check's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Keeps the check registered for the app's whole life, rather than until this handle is
    /// dropped. A context should hold its handle instead: a check it kept is still registered
    /// when a reload sets it up again, and registering it again then fails as a duplicate.
    pub fn keep(self) {
        std::mem::forget(self);
    }
}

impl std::fmt::Debug for ReadinessCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadinessCheck")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Drop for ReadinessCheck {
    fn drop(&mut self) {
        if let Some(checks) = self.checks.upgrade() {
            checks.remove(self.id);
        }
    }
}
