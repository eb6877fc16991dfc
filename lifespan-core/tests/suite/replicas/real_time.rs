//! A bound on real (wall-clock) time for tests that run on paused tokio time.
//!
//! A bound on virtual time fires only when the runtime has nothing to do and the paused clock
//! jumps ahead: a runtime that spins (a task that is always ready again, a wake-up that is never
//! in the future) never lets it advance, and a loop that does advance it a little at a time may
//! take minutes of real time to reach the virtual bound. So each test runs on a thread of its own
//! and fails, naming itself, if it has not ended within a bound on real time.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// How long a test on paused time may take in real time: each takes well under a second.
pub const REAL_LIMIT: Duration = Duration::from_secs(30);

/// Runs `run` on a thread of its own: its outcome (a panic caught), or `None` if it has not
/// ended within `limit` of real time. The thread is then left behind: a runtime that spins
/// cannot be stopped from outside.
fn on_thread<T: Send + 'static>(
    what: &str,
    limit: Duration,
    run: impl FnOnce() -> T + Send + 'static,
) -> Option<std::thread::Result<T>> {
    let (sender, receiver) = mpsc::channel();
    std::thread::Builder::new()
        .name(what.to_owned())
        .spawn(move || {
            let _ = sender.send(std::panic::catch_unwind(AssertUnwindSafe(run)));
        })
        .unwrap();
    receiver.recv_timeout(limit).ok()
}

/// Runs the future `test` makes on a fresh current-thread runtime with paused time, on a thread
/// of its own, and returns its output; a panic of the test is resumed here. Panics naming
/// `what` if it has not ended within `limit` of real time.
pub fn paused<T, F>(what: &str, limit: Duration, test: impl FnOnce() -> F + Send + 'static) -> T
where
    T: Send + 'static,
    F: Future<Output = T>,
{
    let run = move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(test())
    };
    match on_thread(what, limit, run) {
        Some(Ok(output)) => output,
        Some(Err(panic)) => std::panic::resume_unwind(panic),
        None => panic!(
            "{what} did not end within {limit:?} of real time: the runtime spins without advancing paused time, or is stuck"
        ),
    }
}

/// Whether a case of a property did not end within its bound on real time: its thread still
/// spins, and the cases that proptest then tries while shrinking fail at once rather than each
/// spinning too.
static HUNG: AtomicBool = AtomicBool::new(false);

/// Runs `case`, a case of a property, on a thread of its own: an error if it has not ended
/// within `limit` of real time, and from then on for every case, at once. A panic of the case
/// is resumed here.
pub fn real_time_case<T: Send + 'static>(
    limit: Duration,
    case: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    if HUNG.load(Ordering::Relaxed) {
        return Err(format!(
            "an earlier case did not end within {limit:?} of real time (see above)"
        ));
    }
    match on_thread("a case", limit, case) {
        Some(Ok(outcome)) => outcome,
        Some(Err(panic)) => std::panic::resume_unwind(panic),
        None => {
            HUNG.store(true, Ordering::Relaxed);
            Err(format!(
                "the case did not end within {limit:?} of real time: the runtime spins without advancing paused time, or is stuck"
            ))
        }
    }
}
