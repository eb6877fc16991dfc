//! Registrations: what the macros submit at link time, and the entries an app runs, whether
//! submitted so or registered by hand.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::arg_error::ArgError;
use crate::inject::InjectCx;
use crate::kind::Kind;
use crate::name::Name;
use crate::options::TaskOptions;
use crate::panic::catching;

/// A started task's or context's body, type-erased.
#[doc(hidden)]
pub type BoxFuture = Pin<Box<dyn Future<Output = Result<(), anyhow::Error>> + Send + 'static>>;

/// Evaluates the arguments of one registration and calls its function.
#[doc(hidden)]
pub type PrepareFn = fn(&mut InjectCx<'_>) -> Result<BoxFuture, ArgError>;

pub(crate) type DynPrepare =
    Arc<dyn Fn(&mut InjectCx<'_>) -> Result<BoxFuture, ArgError> + Send + Sync>;

/// A registration submitted by `#[lifespan_task]` or `#[lifespan_context]`, collected at link time.
#[doc(hidden)]
pub struct Registration {
    kind: Kind,
    name: &'static str,
    module_path: &'static str,
    file: &'static str,
    line: u32,
    prepare: PrepareFn,
    options: TaskOptions,
}

impl Registration {
    /// `name` is the function's full path (`module_path!()` + `::` + its name); `module_path`,
    /// `file` and `line` place it in the source, which orders registrations.
    pub const fn new(
        kind: Kind,
        name: &'static str,
        module_path: &'static str,
        file: &'static str,
        line: u32,
        prepare: PrepareFn,
    ) -> Self {
        Registration {
            kind,
            name,
            module_path,
            file,
            line,
            prepare,
            options: TaskOptions::new(),
        }
    }

    /// The options given with `#[lifespan(...)]` (for a context, only a display name).
    pub const fn with_options(mut self, options: TaskOptions) -> Self {
        self.options = options;
        self
    }
}

inventory::collect!(Registration);

/// Facts about one registration, for choosing which ones an app runs
/// (see [`App::with_filter`](crate::App::with_filter)).
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct RegistrationInfo<'a> {
    /// Task or context.
    pub kind: Kind,
    /// The full path of the function, e.g. `my_service::jobs::poll_updates`.
    pub name: &'a str,
    /// The module the function is in, e.g. `my_service::jobs`.
    pub module_path: &'a str,
}

impl RegistrationInfo<'_> {
    /// Whether the registration is in module `prefix` or in a module nested in it.
    ///
    /// Whole path segments are compared: `a::b::c` is within `a::b`, `a::bc` is not.
    pub fn is_within(&self, prefix: &str) -> bool {
        let prefix = prefix.trim_end_matches("::");
        match self.module_path.strip_prefix(prefix) {
            Some(rest) => rest.is_empty() || rest.starts_with("::"),
            None => false,
        }
    }
}

#[derive(Clone)]
pub(crate) enum Prepare {
    Static(PrepareFn),
    Dyn(DynPrepare),
}

/// One thing the app will run: a link-time registration or one made by hand.
#[derive(Clone)]
pub(crate) struct Entry {
    pub(crate) kind: Kind,
    pub(crate) name: Name,
    /// Sort key among link-time registrations; hand registrations keep their order after them.
    pub(crate) order: Order,
    pub(crate) prepare: Prepare,
    pub(crate) options: TaskOptions,
}

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Order {
    Static {
        module_path: &'static str,
        file: &'static str,
        line: u32,
    },
    Registered(u64),
}

impl Entry {
    /// The name logs show: the display name if one was given, else the full name.
    pub(crate) fn label(&self) -> &str {
        self.options.display_name.unwrap_or(&self.name)
    }

    /// The span its runs are in: `lifespan_task` or `lifespan_context`, naming it by its
    /// [label](Self::label) in a field named for its kind.
    pub(crate) fn span(&self) -> tracing::Span {
        match self.kind {
            Kind::Task => tracing::info_span!("lifespan_task", task = %self.label()),
            Kind::Context => tracing::info_span!("lifespan_context", context = %self.label()),
        }
    }

    /// Evaluates the arguments and calls the function. A panic (in an argument's expression, or
    /// in a function registered by hand before it returns its future) is an error, never an
    /// unwind through startup or a supervisor.
    pub(crate) fn prepare(&self, cx: &mut InjectCx<'_>) -> Result<BoxFuture, ArgError> {
        let call = || match &self.prepare {
            Prepare::Static(prepare) => prepare(cx),
            Prepare::Dyn(prepare) => prepare(cx),
        };
        catching(call).unwrap_or_else(|message| Err(ArgError::call_panicked(message)))
    }
}

/// Every registration collected at link time, in no particular order.
pub(crate) fn collected() -> impl Iterator<Item = &'static Registration> {
    inventory::iter::<Registration>.into_iter()
}

impl Registration {
    pub(crate) fn info(&self) -> RegistrationInfo<'static> {
        RegistrationInfo {
            kind: self.kind,
            name: self.name,
            module_path: self.module_path,
        }
    }

    pub(crate) fn entry(&self) -> Entry {
        Entry {
            kind: self.kind,
            name: Name::from(self.name),
            order: Order::Static {
                module_path: self.module_path,
                file: self.file,
                line: self.line,
            },
            prepare: Prepare::Static(self.prepare),
            options: self.options,
        }
    }
}
