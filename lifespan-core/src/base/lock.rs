//! Locking a mutex whose data stays whole even if a panic poisoned it.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, also if a panic poisoned it: nothing panics while holding the library's
/// locks in a way that leaves their data half-written, so the data is still whole.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
