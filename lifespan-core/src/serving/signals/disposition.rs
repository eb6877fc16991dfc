//! Giving the stop and reload signals back when the app no longer listens for them.
//!
//! tokio installs a process-wide handler for a signal the first time anything listens for it,
//! and never removes it: after `run_until_signal` returned, SIGINT and SIGTERM would still be
//! caught and, with nothing listening any more, ignored. A process that hangs after its
//! shutdown (a task blocking a runtime thread keeps the runtime from being dropped) could then
//! be ended only by SIGKILL. So, once the last listener of this library is gone, each signal's
//! disposition goes back to what it was before this library first listened (the default
//! action, usually), and tokio's handler is parked, to be put back when it listens again.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use libc::c_int;

use crate::base::lock::lock;

/// One signal's bookkeeping.
struct Held {
    /// How many listeners of this library hold it now.
    users: usize,
    /// The disposition before this library first listened for the signal.
    original: libc::sigaction,
    /// tokio's handler, taken off while nobody listens.
    parked: Option<libc::sigaction>,
}

static HELD: Mutex<Option<HashMap<c_int, Held>>> = Mutex::new(None);

fn held() -> MutexGuard<'static, Option<HashMap<c_int, Held>>> {
    lock(&HELD)
}

/// Reads the disposition of `signal`, replacing it with `new` if given; `None` if the signal
/// number is refused.
fn swap(signal: c_int, new: Option<&libc::sigaction>) -> Option<libc::sigaction> {
    let new = new.map_or(std::ptr::null(), |new| new as *const libc::sigaction);
    // SAFETY: an all-zero `sigaction` is a valid value of that plain C struct (no handler, no
    // flags, empty mask), only written to by the call below.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: `new` is null or points to a disposition that `sigaction` itself returned before;
    // `old` is writable memory of the right type. The call only changes how the process reacts
    // to `signal`.
    let done = unsafe { libc::sigaction(signal, new, &mut old) };
    (done == 0).then_some(old)
}

/// This library listens for `signal` from now on, until the returned claim is dropped. Called
/// before tokio is asked to listen, so that the disposition tokio replaces is the one recorded.
pub(crate) fn claim(signal: c_int) -> Claim {
    let mut held = held();
    let held = held.get_or_insert_with(HashMap::new);
    match held.get_mut(&signal) {
        Some(entry) => {
            if let Some(handler) = entry.parked.take() {
                swap(signal, Some(&handler));
            }
            entry.users += 1;
        }
        None => {
            if let Some(original) = swap(signal, None) {
                held.insert(
                    signal,
                    Held {
                        users: 1,
                        original,
                        parked: None,
                    },
                );
            }
        }
    }
    Claim { signal }
}

/// A listener's hold on a signal; dropping the last one gives the signal back.
pub(crate) struct Claim {
    signal: c_int,
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut held = held();
        let Some(entry) = held.as_mut().and_then(|held| held.get_mut(&self.signal)) else {
            return;
        };
        entry.users = entry.users.saturating_sub(1);
        if entry.users == 0 && entry.parked.is_none() {
            entry.parked = swap(self.signal, Some(&entry.original));
        }
    }
}
