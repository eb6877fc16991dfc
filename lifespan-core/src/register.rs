//! Which registrations an app runs, in which order, and registration by hand.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

use crate::error::{ArgError, RegisterError, StartupError, StartupErrorKind};
use crate::inject::{ContextParam, InjectCx, TaskParam};
use crate::name::{self, Name};
use crate::options::TaskOptions;
use crate::registry::{collected, BoxFuture, Entry, Kind, Order, Prepare, RegistrationInfo};
use crate::report::Report;
use crate::running::TaskReturn;
use crate::App;

/// Which link-time registrations an app runs.
#[derive(Clone)]
pub(crate) enum Selection {
    All,
    None,
    Module(String),
    Filter(Arc<dyn Fn(&RegistrationInfo<'_>) -> bool + Send + Sync>),
}

impl Selection {
    /// Whether the app runs the registration; `Err` with the panic's message if the user's
    /// filter panicked.
    fn selects(&self, info: &RegistrationInfo<'_>) -> Result<bool, String> {
        match self {
            Selection::All => Ok(true),
            Selection::None => Ok(false),
            Selection::Module(prefix) => Ok(info.is_within(prefix)),
            Selection::Filter(filter) => {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| filter(info)))
                    .map_err(|payload| crate::running::panic_message(&*payload))
            }
        }
    }
}

/// What a start runs, in order: contexts in setup order, tasks in start order. The entries
/// registered by hand are shared with the registry, not copied.
pub(crate) struct Plan {
    linked: ByKind,
    by_hand: Arc<ByKind>,
}

/// Entries split by kind, each in its order.
#[derive(Clone, Default)]
pub(crate) struct ByKind {
    contexts: Vec<Entry>,
    tasks: Vec<Entry>,
}

impl ByKind {
    fn push(&mut self, entry: Entry) {
        match entry.kind {
            Kind::Context => self.contexts.push(entry),
            Kind::Task => self.tasks.push(entry),
        }
    }

    fn len(&self) -> usize {
        self.contexts.len() + self.tasks.len()
    }
}

impl Plan {
    /// Contexts, in setup order before state needs are taken into account.
    pub(crate) fn contexts(&self) -> impl Iterator<Item = &Entry> {
        self.linked.contexts.iter().chain(&self.by_hand.contexts)
    }

    pub(crate) fn context_count(&self) -> usize {
        self.linked.contexts.len() + self.by_hand.contexts.len()
    }

    /// Tasks, in start order.
    pub(crate) fn tasks(&self) -> impl Iterator<Item = &Entry> {
        self.linked.tasks.iter().chain(&self.by_hand.tasks)
    }

    /// Task `index`, in start order.
    pub(crate) fn task(&self, index: usize) -> &Entry {
        let linked = self.linked.tasks.len();
        if index < linked {
            &self.linked.tasks[index]
        } else {
            &self.by_hand.tasks[index - linked]
        }
    }

    pub(crate) fn task_count(&self) -> usize {
        self.linked.tasks.len() + self.by_hand.tasks.len()
    }
}

pub(crate) struct Registry {
    selection: Selection,
    /// Registered by hand, in registration order.
    by_hand: Arc<ByKind>,
    /// The names registered by hand, to refuse a second registration under one.
    by_hand_names: HashSet<Name>,
    running: bool,
    /// Built at the first start, and again after a registration by hand.
    plan: Option<Arc<Plan>>,
}

impl Registry {
    pub(crate) fn new(selection: Selection) -> Self {
        Registry {
            selection,
            by_hand: Arc::default(),
            by_hand_names: HashSet::new(),
            running: false,
            plan: None,
        }
    }

    pub(crate) fn is_running(&self) -> bool {
        self.running
    }

    /// Marks the app running and returns what to start.
    pub(crate) fn begin_run(&mut self) -> Result<Arc<Plan>, StartupError> {
        if self.running {
            return Err(StartupError::new(
                StartupErrorKind::AlreadyRunning,
                Report::default(),
            ));
        }
        let plan = match &self.plan {
            Some(plan) => plan.clone(),
            None => {
                let plan = self.build_plan().map_err(|message| {
                    StartupError::new(
                        StartupErrorKind::SelectionPanicked { message },
                        Report::default(),
                    )
                })?;
                let plan = Arc::new(plan);
                self.plan = Some(plan.clone());
                plan
            }
        };
        self.running = true;
        Ok(plan)
    }

    pub(crate) fn end_run(&mut self) {
        self.running = false;
    }

    fn build_plan(&self) -> Result<Plan, String> {
        let mut any_linked = false;
        let mut entries: Vec<Entry> = Vec::new();
        for registration in collected() {
            any_linked = true;
            if self.selection.selects(&registration.info())? {
                entries.push(registration.entry());
            }
        }
        if entries.is_empty() && self.by_hand.len() == 0 {
            if any_linked {
                tracing::warn!("this app's selection matched none of the lifespan tasks and contexts linked into the program: it runs nothing");
            } else {
                tracing::warn!("no lifespan tasks or contexts were registered: the link-time collection found none (it does not run on every target) and none were registered by hand");
            }
        }
        // Never the link-time iteration order: the source order within a module, modules by path.
        entries.sort_by(|a, b| a.order.cmp(&b.order).then_with(|| a.name.cmp(&b.name)));
        let mut linked = ByKind::default();
        for entry in entries {
            linked.push(entry);
        }
        Ok(Plan {
            linked,
            by_hand: self.by_hand.clone(),
        })
    }

    fn register(
        &mut self,
        kind: Kind,
        name: Name,
        prepare: Prepare,
        options: TaskOptions,
    ) -> Result<(), RegisterError> {
        if self.running {
            return Err(RegisterError::AlreadyStarted { kind, name });
        }
        let mut taken = self.by_hand_names.contains(&name);
        for registration in collected().filter(|r| name == r.info().name) {
            if taken {
                break;
            }
            taken = self
                .selection
                .selects(&registration.info())
                .map_err(|message| RegisterError::SelectionPanicked {
                    kind,
                    name: name.clone(),
                    message,
                })?;
        }
        if taken {
            return Err(RegisterError::Duplicate { kind, name });
        }
        let order = Order::Registered(self.by_hand.len() as u64);
        self.by_hand_names.insert(name.clone());
        // Copies the entries only if a plan built before still shares them.
        Arc::make_mut(&mut self.by_hand).push(Entry {
            kind,
            name,
            order,
            prepare,
            options,
        });
        self.plan = None;
        Ok(())
    }
}

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
            return Err(RegisterError::InvalidOptions { name, reason });
        }
        let prepare = Prepare::Dyn(Arc::new(move |cx: &mut InjectCx<'_>| task.call(cx)));
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
        let prepare = Prepare::Dyn(Arc::new(move |cx: &mut InjectCx<'_>| context.call(cx)));
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
                $(let $param = crate::__private::inject_task::<$param>(cx, $position)?;)*
                Ok(crate::__private::boxed(self($($param),*)))
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
                $(let $param = crate::__private::inject_context::<$param>(cx, $position)?;)*
                Ok(crate::__private::boxed(self($($param),*)))
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
