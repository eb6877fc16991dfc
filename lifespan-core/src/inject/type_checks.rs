//! Compile-time checks that the generated code runs on the parameters' types, each failing with
//! a message that says what to change. Not public API.
//!
//! An argument given for an injected parameter is found by autoref specialization: the method
//! `check_*_argument` on `&Probe<T>` resolves to the "injected" trait when `T` is injectable,
//! whose where clause no type satisfies, and otherwise to the "plain" trait on `Probe<T>`.

use std::marker::PhantomData;

use crate::inject::params::{ContextParam, TaskParam};

/// Stands for a parameter's type in the checks.
pub struct Probe<T>(PhantomData<fn() -> T>);

impl<T> Probe<T> {
    /// The probe of `T`.
    pub const NEW: Self = Probe(PhantomData);
}

impl<T> Clone for Probe<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Probe<T> {}

/// Implemented by no type: a parameter the app injects takes no keyword argument.
#[diagnostic::on_unimplemented(
    message = "a parameter of type `{Self}` is injected into lifespan tasks, so it takes no keyword argument",
    label = "remove this argument from the attribute",
    note = "`App`, `Shutdown` and `State<T>` parameters are given by the app; to pass a value of that type yourself, wrap it in a type of your own"
)]
pub trait NoArgumentForInjectedTaskParam {}

/// Implemented by no type: a parameter the app injects takes no keyword argument.
#[diagnostic::on_unimplemented(
    message = "a parameter of type `{Self}` is injected into lifespan contexts, so it takes no keyword argument",
    label = "remove this argument from the attribute",
    note = "`App`, `Shutdown`, `State<T>` and `Yield<T>` parameters are given by the app; to pass a value of that type yourself, wrap it in a type of your own"
)]
pub trait NoArgumentForInjectedContextParam {}

/// Chosen for the argument of an injectable task parameter: fails.
pub trait TaskArgumentOfInjected<T> {
    /// Fails to compile.
    fn check_task_argument(self)
    where
        T: NoArgumentForInjectedTaskParam,
        Self: Sized,
    {
    }
}

impl<T: TaskParam> TaskArgumentOfInjected<T> for &Probe<T> {}

/// Chosen for the argument of any other task parameter: passes.
pub trait TaskArgumentOfPlain {
    /// Compiles.
    fn check_task_argument(self)
    where
        Self: Sized,
    {
    }
}

impl<T> TaskArgumentOfPlain for Probe<T> {}

/// Chosen for the argument of an injectable context parameter: fails.
pub trait ContextArgumentOfInjected<T> {
    /// Fails to compile.
    fn check_context_argument(self)
    where
        T: NoArgumentForInjectedContextParam,
        Self: Sized,
    {
    }
}

impl<T: ContextParam> ContextArgumentOfInjected<T> for &Probe<T> {}

/// Chosen for the argument of any other context parameter: passes.
pub trait ContextArgumentOfPlain {
    /// Compiles.
    fn check_context_argument(self)
    where
        Self: Sized,
    {
    }
}

impl<T> ContextArgumentOfPlain for Probe<T> {}

/// Whether an injected context parameter of type `T` is the yield point.
pub const fn is_yield<T: ContextParam>() -> bool {
    T::IS_YIELD
}
