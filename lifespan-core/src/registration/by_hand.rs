//! Registration by hand: [`App::register_task`], [`App::register_task_with`] and
//! [`App::register_context`], and the functions they accept ([`TaskFn`], [`ContextFn`]).

use std::future::Future;
use std::sync::Arc;

use crate::base::kind::Kind;
use crate::base::name::{self, Name};
use crate::inject::app_handle::App;
use crate::inject::params::{context_param, task_param, ContextParam, InjectCx, TaskParam};
use crate::registration::entry::BoxFuture;
use crate::registration::returns::{boxed, TaskReturn};
use crate::report::arg_error::ArgError;
use crate::report::errors::RegisterError;
use crate::schedules::options::TaskOptions;

impl App {
    /// Registers a task by hand: the programmatic form of `#[lifespan_task]`, for closures, tests
    /// and generated tasks (Reflex's `app.register_lifespan_task(fn, **kwargs)`).
    ///
    /// `task` is called at each start of the app; its parameters are injected by type, as those of
    /// a `#[lifespan_task]` that have no keyword argument ([`App`], [`Shutdown`](crate::Shutdown)).
    /// What a keyword argument would give, the closure captures. It returns `()` or
    /// `Result<(), E>`.
    ///
    /// Tasks and contexts registered by hand start after the macro-registered ones, in the order
    /// they were registered. Registering while the app runs, under a name already registered,
    /// or under an empty name or one holding a control character such as a newline (names are
    /// written into logs), is an error.
    ///
    /// ```
    /// use lifespan_core::{App, Shutdown};
    /// use std::time::Duration;
    ///
    /// let app = App::empty();
    /// let period = Duration::from_secs(5);
    /// app.register_task("poller", move |shutdown: Shutdown| async move {
    ///     let mut ticks = tokio::time::interval(period);
    ///     while shutdown.run_until_cancelled(ticks.tick()).await.is_some() {
    ///         // poll ...
    ///     }
    ///     Ok::<(), anyhow::Error>(())
    /// })?;
    /// # Ok::<(), lifespan_core::RegisterError>(())
    /// ```
    ///
    /// A name that would forge a log line is refused:
    ///
    /// ```
    /// use lifespan_core::{App, RegisterError};
    ///
    /// let app = App::empty();
    /// let refused = app.register_task("poller\nINFO all good", || async {});
    /// assert!(matches!(refused, Err(RegisterError::InvalidName { .. })));
    /// assert!(refused.unwrap_err().to_string().starts_with(
    ///     r#"cannot register lifespan task "poller\nINFO all good": the name contains '\n'"#
    /// ));
    /// ```
    pub fn register_task<Params, F: TaskFn<Params>>(
        &self,
        name: impl Into<Name>,
        task: F,
    ) -> Result<(), RegisterError> {
        self.register_task_with(name, TaskOptions::new(), task)
    }

    /// [`register_task`](Self::register_task) with options: the programmatic form of
    /// `#[lifespan(...)]` under `#[lifespan_task]`. Options that do not make sense together are
    /// an error (see [`TaskOptions::validate`]).
    ///
    /// ```
    /// use lifespan_core::{App, Restart, TaskOptions};
    /// use std::time::Duration;
    ///
    /// let app = App::empty();
    /// let options = TaskOptions::new().every(Duration::from_secs(5)).restart(Restart::OnFailure);
    /// // Called every 5 seconds until shutdown; a failed run is retried after a backoff.
    /// app.register_task_with("refresh", options, || async {
    ///     // refresh ...
    ///     Ok::<(), anyhow::Error>(())
    /// })?;
    /// # Ok::<(), lifespan_core::RegisterError>(())
    /// ```
    pub fn register_task_with<Params, F: TaskFn<Params>>(
        &self,
        name: impl Into<Name>,
        options: TaskOptions,
        task: F,
    ) -> Result<(), RegisterError> {
        let name = checked(Kind::Task, name.into())?;
        if let Err(reason) = options.validate() {
            #[cfg(feature = "cron")]
            if let Some((rule, detailed)) = options.cron_gap_problem() {
                if rule == reason {
                    return Err(RegisterError::InvalidSchedule {
                        name,
                        reason: detailed,
                    });
                }
            }
            return Err(RegisterError::InvalidOptions { name, reason });
        }
        let prepare = Arc::new(move |cx: &mut InjectCx<'_>| task.call(cx));
        self.registry().register(Kind::Task, name, prepare, options)
    }

    /// Registers a context by hand: the programmatic form of `#[lifespan_context]`.
    ///
    /// `context` is called at each start of the app; its parameters are injected by type
    /// ([`App`], [`Shutdown`](crate::Shutdown), and the [`Yield`](crate::Yield) it must take).
    /// Contexts registered by hand are set up after the macro-registered ones, in the order they
    /// were registered.
    ///
    /// ```
    /// use lifespan_core::{App, Yield};
    ///
    /// let app = App::empty();
    /// app.register_context("cache", |lifespan: Yield| async move {
    ///     // set up ...
    ///     lifespan.ready().await;
    ///     // clean up ...
    /// })?;
    /// # Ok::<(), lifespan_core::RegisterError>(())
    /// ```
    pub fn register_context<Params, F: ContextFn<Params>>(
        &self,
        name: impl Into<Name>,
        context: F,
    ) -> Result<(), RegisterError> {
        let name = checked(Kind::Context, name.into())?;
        let prepare = Arc::new(move |cx: &mut InjectCx<'_>| context.call(cx));
        self.registry()
            .register(Kind::Context, name, prepare, TaskOptions::new())
    }
}

/// `name`, if it may name a task or context: not empty, without a character that would forge
/// or garble a log line.
fn checked(kind: Kind, name: Name) -> Result<Name, RegisterError> {
    match name::problem(&name) {
        None => Ok(name),
        Some(reason) => Err(RegisterError::InvalidName { kind, name, reason }),
    }
}

/// A function that can be [registered as a task](App::register_task): an `Fn` whose parameters
/// (up to four) are all injectable into tasks, returning a `Send` future whose output is `()`
/// or `Result<(), E>`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be registered as a lifespan task",
    label = "not a function that can be a task",
    note = "a task registered by hand is an `Fn` that takes at most four parameters, each injected by its type (`App`, `Shutdown`, `State<T>`), and returns a `Send + 'static` future whose output is `()` or `Result<(), E>`",
    note = "for more values, capture them in the closure, or use `#[lifespan_task]`, whose keyword arguments have no such limit"
)]
pub trait TaskFn<Params>: Send + Sync + 'static {
    #[doc(hidden)]
    fn call(&self, cx: &mut InjectCx<'_>) -> Result<BoxFuture, ArgError>;
}

/// A function that can be [registered as a context](App::register_context): an `Fn` whose
/// parameters (up to four, one of them a [`Yield`](crate::Yield)) are injectable into contexts,
/// returning a `Send` future whose output is `()` or `Result<(), E>`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be registered as a lifespan context",
    label = "not a function that can be a context",
    note = "a context registered by hand is an `Fn` that takes at most four parameters, one of them a `Yield`, each injected by its type (`App`, `Shutdown`, `State<T>`, `Yield<T>`), and returns a `Send + 'static` future whose output is `()` or `Result<(), E>`",
    note = "for more values, capture them in the closure, or use `#[lifespan_context]`, whose keyword arguments have no such limit"
)]
pub trait ContextFn<Params>: Send + Sync + 'static {
    #[doc(hidden)]
    fn call(&self, cx: &mut InjectCx<'_>) -> Result<BoxFuture, ArgError>;
}

macro_rules! impl_fn_traits {
    ($( ($($param:ident $position:literal),*) )*) => {$(
        impl<F, Fut, $($param,)*> TaskFn<($($param,)*)> for F
        where
            F: Fn($($param),*) -> Fut + Send + Sync + 'static,
            Fut: Future + Send + 'static,
            Fut::Output: TaskReturn,
            $($param: TaskParam,)*
        {
            #[allow(non_snake_case, unused_variables)]
            fn call(&self, cx: &mut InjectCx<'_>) -> Result<BoxFuture, ArgError> {
                $(let $param = task_param::<$param>(cx, $position)?;)*
                Ok(boxed(self($($param),*)))
            }
        }

        impl<F, Fut, $($param,)*> ContextFn<($($param,)*)> for F
        where
            F: Fn($($param),*) -> Fut + Send + Sync + 'static,
            Fut: Future + Send + 'static,
            Fut::Output: TaskReturn,
            $($param: ContextParam,)*
        {
            #[allow(non_snake_case, unused_variables)]
            fn call(&self, cx: &mut InjectCx<'_>) -> Result<BoxFuture, ArgError> {
                $(let $param = context_param::<$param>(cx, $position)?;)*
                Ok(boxed(self($($param),*)))
            }
        }
    )*};
}

impl_fn_traits! {
    ()
    (A "#1")
    (A "#1", B "#2")
    (A "#1", B "#2", C "#3")
    (A "#1", B "#2", C "#3", D "#4")
}
