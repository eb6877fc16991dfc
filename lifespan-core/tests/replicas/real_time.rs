//! A bound on real (wall-clock) time for tests that run on paused tokio time.
//!
//! A bound on virtual time fires only when the runtime has nothing to do and the paused clock
//! jumps ahead: a runtime that spins (a task that is always ready again, a wake-up that is never
//! in the future) never lets it advance, and a loop that does advance it a little at a time may
//! take minutes of real time to reach the virtual bound. So each test runs on a thread of its own
//! and fails, naming itself, if it has not ended within a bound on real time.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::time::Duration;

/// How long a test on paused time may take in real time: each takes well under a second.
pub const REAL_LIMIT: Duration = Duration::from_secs(30);

/// Runs the future `test` makes on a fresh current-thread runtime with paused time, on a thread
/// of its own, and returns its output; a panic of the test is resumed here. Panics naming
/// `what` if it has not ended within `limit` of real time (the thread is then left behind: a
/// runtime that spins cannot be stopped from outside).
pub fn paused<T, F>(what: &str, limit: Duration, test: impl FnOnce() -> F + Send + 'static) -> T
where
    T: Send + 'static,
    F: Future<Output = T>,
{
    let (sender, receiver) = mpsc::channel();
    std::thread::Builder::new()
        .name(what.to_owned())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .start_paused(true)
                .build()
                .unwrap();
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| runtime.block_on(test())));
            let _ = sender.send(outcome);
        })
        .unwrap();
    match receiver.recv_timeout(limit) {
        Ok(Ok(output)) => output,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!(
            "{what} did not end within {limit:?} of real time: the runtime spins without advancing paused time, or is stuck"
        ),
    }
}
