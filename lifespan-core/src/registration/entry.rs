//! Registrations: what the macros submit at link time, and the entries an app runs, whether
//! submitted so or registered by hand.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::base::kind::Kind;
use crate::base::name::Name;
use crate::base::panic::catching;
use crate::inject::params::InjectCx;
use crate::report::arg_error::ArgError;
use crate::schedules::options::TaskOptions;

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
        // The options replaced are the defaults, which own nothing: forgetting them leaks
        // nothing (a `const fn` cannot drop them).
        std::mem::forget(std::mem::replace(&mut self.options, options));
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

/// One thing the app will run: a link-time registration or one made by hand.
///
/// Small, since an app keeps one per task registered by hand: a link-time registration's
/// function and options stay in its static, and a registration by hand keeps its options only
/// if they are not the defaults.
#[derive(Clone)]
pub(crate) struct Entry {
    pub(crate) kind: Kind,
    /// Whether its options are the defaults (most are): then they are not looked up.
    plain: bool,
    pub(crate) name: Name,
    body: Body,
    /// What the metrics keep of the entry (feature `metrics`): see [`Memo`].
    #[cfg(feature = "metrics")]
    pub(crate) memo: Memo,
}

/// The handles of a link-time entry's metrics, kept on the entry once made, so that the starts
/// of every app of the process after the first find them without a lookup by name (the metrics
/// keep none on an entry registered by hand: it belongs to one app). Type-erased: the
/// registrations know nothing of the metrics.
#[cfg(feature = "metrics")]
pub(crate) type Memo = std::sync::OnceLock<&'static (dyn std::any::Any + Send + Sync)>;

/// What an entry calls, and where its options are.
#[derive(Clone)]
enum Body {
    /// A link-time registration, with what a start reads of it copied beside it: the entries
    /// of the process's index sit side by side, while the registrations are statics scattered
    /// through the binary, one read each per start otherwise.
    Linked {
        registration: &'static Registration,
        prepare: PrepareFn,
    },
    ByHand {
        prepare: DynPrepare,
        /// `None`: the defaults.
        options: Option<Arc<TaskOptions>>,
    },
}

/// The options of every entry registered by hand without any.
static DEFAULT_OPTIONS: TaskOptions = TaskOptions::new();

impl Entry {
    /// A task or context registered by hand.
    pub(crate) fn by_hand(
        kind: Kind,
        name: Name,
        prepare: DynPrepare,
        options: TaskOptions,
    ) -> Self {
        let options = (options != DEFAULT_OPTIONS).then(|| Arc::new(options));
        Entry {
            kind,
            plain: options.is_none(),
            name,
            body: Body::ByHand { prepare, options },
            #[cfg(feature = "metrics")]
            memo: Memo::new(),
        }
    }

    /// How the entry is supervised (for a context, only its display name).
    pub(crate) fn options(&self) -> &TaskOptions {
        if self.plain {
            return &DEFAULT_OPTIONS;
        }
        match &self.body {
            Body::Linked { registration, .. } => &registration.options,
            Body::ByHand { options, .. } => options.as_deref().unwrap_or(&DEFAULT_OPTIONS),
        }
    }

    /// The link-time registration the entry was made from, if any.
    pub(crate) fn registration(&self) -> Option<&'static Registration> {
        match self.body {
            Body::Linked { registration, .. } => Some(registration),
            Body::ByHand { .. } => None,
        }
    }

    /// The name logs show: the display name if one was given, else the full name.
    pub(crate) fn label(&self) -> &str {
        self.options().display_name.unwrap_or(&self.name)
    }

    /// The span its runs are in: `lifespan.task` or `lifespan.context`, naming it by its
    /// [label](Self::label) in a field named for its kind.
    pub(crate) fn span(&self) -> tracing::Span {
        match self.kind {
            Kind::Task => tracing::info_span!("lifespan.task", task = %self.label()),
            Kind::Context => tracing::info_span!("lifespan.context", context = %self.label()),
        }
    }

    /// Evaluates the arguments and calls the function. A panic (in an argument's expression, or
    /// in a function registered by hand before it returns its future) is an error, never an
    /// unwind through startup or a supervisor.
    pub(crate) fn prepare(&self, cx: &mut InjectCx<'_>) -> Result<BoxFuture, ArgError> {
        let call = || match &self.body {
            Body::Linked { prepare, .. } => prepare(cx),
            Body::ByHand { prepare, .. } => prepare(cx),
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

    /// The entry an app runs for the registration.
    pub(crate) fn entry(&'static self) -> Entry {
        Entry {
            kind: self.kind,
            plain: self.options == DEFAULT_OPTIONS,
            name: Name::from(self.name),
            body: Body::Linked {
                registration: self,
                prepare: self.prepare,
            },
            #[cfg(feature = "metrics")]
            memo: Memo::new(),
        }
    }

    /// Where the registration is in the source: module, file, line.
    pub(crate) fn place(&self) -> (&'static str, &'static str, u32) {
        (self.module_path, self.file, self.line)
    }

    /// The function's full path.
    pub(crate) fn name(&self) -> &'static str {
        self.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An app keeps an entry per task registered by hand, and the process one per link-time
    /// registration. With the `metrics` feature, it also keeps its task's handles (24 bytes).
    #[test]
    fn an_entry_is_small() {
        let limit = if cfg!(feature = "metrics") { 80 } else { 56 };
        assert!(
            std::mem::size_of::<Entry>() <= limit,
            "{}",
            std::mem::size_of::<Entry>()
        );
    }
}
