//! What a task or context function may return, and its future boxed with its output turned
//! into a result.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::registration::entry::BoxFuture;

/// What a task or context function may return: `()` or `Result<(), E>` where `E` converts into
/// `Box<dyn std::error::Error + Send + Sync>`: [`anyhow::Error`](https://docs.rs/anyhow), any
/// `std::error::Error + Send + Sync + 'static`, `Box<dyn Error + Send + Sync>` itself, `String`
/// or `&'static str`.
///
/// Sealed: only these types implement it.
#[diagnostic::on_unimplemented(
    message = "a lifespan task or context must return `()` or `Result<(), E>`, not `{Self}`",
    label = "this return type is not accepted",
    note = "`E` may be `anyhow::Error`, any `std::error::Error + Send + Sync + 'static`, `Box<dyn Error + Send + Sync>`, `String` or `&'static str`"
)]
pub trait TaskReturn: sealed::IntoOutcome {}

/// The conversion behind [`TaskReturn`], out of the public API.
mod sealed {
    pub trait IntoOutcome {
        /// The outcome as a result.
        fn into_result(self) -> Result<(), anyhow::Error>;
    }
}

use sealed::IntoOutcome;

impl TaskReturn for () {}

impl IntoOutcome for () {
    #[inline]
    fn into_result(self) -> Result<(), anyhow::Error> {
        Ok(())
    }
}

impl<E> TaskReturn for Result<(), E> where
    E: Into<Box<dyn std::error::Error + Send + Sync + 'static>> + 'static
{
}

impl<E> IntoOutcome for Result<(), E>
where
    E: Into<Box<dyn std::error::Error + Send + Sync + 'static>> + 'static,
{
    #[inline]
    fn into_result(self) -> Result<(), anyhow::Error> {
        self.map_err(|error| {
            // An `anyhow::Error` is kept as it is, so that its own downcasts keep working; any
            // other error is boxed, and `TaskError::downcast_ref` looks inside the box.
            let mut slot = Some(error);
            if let Some(error) = (&mut slot as &mut dyn Any).downcast_mut::<Option<anyhow::Error>>()
            {
                if let Some(error) = error.take() {
                    return error;
                }
            }
            match slot {
                Some(error) => anyhow::Error::from_boxed(error.into()),
                None => anyhow::Error::msg("an error that could not be kept"),
            }
        })
    }
}

/// The never type `!`, named on stable Rust: the output type of a function's `fn() -> !`.
/// Not public API.
#[doc(hidden)]
pub trait FnOutput {
    #[doc(hidden)]
    type Type;
}

impl<T> FnOutput for fn() -> T {
    type Type = T;
}

/// `!`: what a closure whose body ends in `panic!` returns.
type Never = <fn() -> ! as FnOutput>::Type;

/// A task or context that never returns (its body ends in `panic!`, or loops for ever): without
/// this, `|| async { panic!() }` would depend on the never type falling back to `()`, which
/// the compiler refuses.
#[diagnostic::do_not_recommend]
impl TaskReturn for Never {}

impl IntoOutcome for Never {
    #[inline]
    fn into_result(self) -> Result<(), anyhow::Error> {
        self
    }
}

pin_project_lite::pin_project! {
    /// A task's or context's future with its output turned into a result. A plain struct
    /// rather than an `async` block, which would keep the future twice over in its state: the
    /// box that holds it stays the size of the user's future.
    pub(crate) struct IntoResult<F> {
        #[pin]
        future: F,
    }
}

impl<F> IntoResult<F> {
    pub(crate) fn new(future: F) -> Self {
        IntoResult { future }
    }
}

impl<F> Future for IntoResult<F>
where
    F: Future,
    F::Output: TaskReturn,
{
    type Output = Result<(), anyhow::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().future.poll(cx).map(IntoOutcome::into_result)
    }
}

/// Boxes the future of a task or context, its output turned into a result.
#[inline]
pub(crate) fn boxed<F>(future: F) -> BoxFuture
where
    F: Future + Send + 'static,
    F::Output: TaskReturn,
{
    Box::pin(IntoResult::new(future))
}
