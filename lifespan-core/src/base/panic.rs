//! Catching panics: a panic in user code (an argument's expression, a filter, a task's body, a
//! setup) becomes its message, with the passwords of URLs masked, never an unwind through the
//! runtime.

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::Poll;

use crate::base::redact::redact;

/// Calls `f`, catching a panic: `Err` with the panic's message.
#[inline]
pub(crate) fn catching<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => Ok(value),
        Err(payload) => Err(message(&*payload)),
    }
}

/// Polls `future` to its end, catching a panic in any poll: `Err` with the panic's message.
pub(crate) async fn poll_catching<F: Future + Unpin>(future: &mut F) -> Result<F::Output, String> {
    std::future::poll_fn(|cx| match catching(|| Pin::new(&mut *future).poll(cx)) {
        Ok(Poll::Pending) => Poll::Pending,
        Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
        Err(message) => Poll::Ready(Err(message)),
    })
    .await
}

/// A panic payload's message, with the passwords of URLs [masked](redact).
#[cold]
#[inline(never)]
pub(crate) fn message(payload: &(dyn Any + Send)) -> String {
    let message = if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.as_str()
    } else {
        "a panic with a payload that is not a string"
    };
    redact(message).into_owned()
}
