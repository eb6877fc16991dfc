//! Attribute macros of [`lifespan-core`](https://docs.rs/lifespan-core): `#[lifespan_task]` and
//! `#[lifespan_context]`.
//!
//! Depend on `lifespan-core`, which re-exports them; the generated code refers to `lifespan-core`
//! only. The crate works in three stages: `ast` parses the attribute and the function into a
//! model, `valid` checks it against the rules, `expand` generates the registration.

mod ast;
mod duration;
mod expand;
mod options;
mod valid;

use proc_macro::TokenStream;

use crate::ast::Kind;

/// Registers an `async fn` as a lifespan task: started when the app comes up, run until it
/// returns or shutdown stops it.
///
/// `#[lifespan_task(name = value, ...)]` binds each keyword argument to the parameter of that
/// name. The value is an expression evaluated at each start of the app (so a reload evaluates it
/// again) in a context where `?` works on any error; its type is checked by the compiler against
/// the parameter's. A parameter without an argument is injected by its type:
/// [`App`](https://docs.rs/lifespan-core/latest/lifespan_core/struct.App.html) or
/// [`Shutdown`](https://docs.rs/lifespan-core/latest/lifespan_core/struct.Shutdown.html).
///
/// The function returns `()` or `Result<(), E>`, where `E` is `anyhow::Error`, any
/// `std::error::Error + Send + Sync + 'static`, `Box<dyn Error + Send + Sync>`, `String` or
/// `&'static str`.
/// Its name in reports and logs is its full path, `my_crate::jobs::poll_updates`.
///
/// ```
/// use lifespan_core::{lifespan_task, Shutdown};
/// use std::time::Duration;
///
/// #[lifespan_task(foo = 42, bar = std::env::var("BAR_PARAM")?)]
/// async fn long_running_task(foo: u32, bar: String, shutdown: Shutdown) -> anyhow::Result<()> {
///     let mut ticks = tokio::time::interval(Duration::from_secs(5));
///     while shutdown.run_until_cancelled(ticks.tick()).await.is_some() {
///         // poll `foo`'s API, push the changes to `bar` ...
///     }
///     // clean up ...
///     Ok(())
/// }
/// # fn main() {}
/// ```
///
/// # What it generates
///
/// The function is kept as written. Next to it, a registration is submitted to the app's
/// link-time registry; for the task above it is equivalent to the code below. The real
/// expansion also checks, at compile time, that no argument is given for a parameter the app
/// injects; its generated names start with `__lifespan_` and are hygienic, so an argument
/// expression can neither see nor shadow them.
///
/// ```
/// # use lifespan_core::Shutdown;
/// # async fn long_running_task(foo: u32, bar: String, shutdown: Shutdown) -> anyhow::Result<()> { Ok(()) }
/// use lifespan_core::__private as lifespan;
///
/// const _: () = {
///     fn prepare(cx: &mut lifespan::InjectCx<'_>) -> Result<lifespan::BoxFuture, lifespan::ArgError> {
///         let foo = lifespan::arg("foo", || {
///             let foo: u32 = 42;
///             Ok(foo)
///         })?;
///         let bar = lifespan::arg("bar", || {
///             let bar: String = std::env::var("BAR_PARAM")?;
///             Ok(bar)
///         })?;
///         let shutdown = lifespan::inject_task::<Shutdown>(cx, "shutdown")?;
///         Ok(lifespan::boxed(long_running_task(foo, bar, shutdown)))
///     }
///     lifespan::inventory::submit! {
///         lifespan::Registration::new(
///             lifespan::Kind::Task,
///             concat!(module_path!(), "::long_running_task"),
///             module_path!(), file!(), line!(), prepare,
///         )
///     }
/// };
/// # fn main() {}
/// ```
///
///
#[doc = include_str!("../forms.md")]
#[proc_macro_attribute]
pub fn lifespan_task(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::entry(Kind::Task, args.into(), item.into()).into()
}

/// Registers an `async fn` as a lifespan context: its setup runs at startup, before any task
/// starts; it hands control back at its yield point; the code after runs at shutdown, after every
/// task has stopped, in reverse setup order.
///
/// The yield point is a parameter of type
/// [`Yield`](https://docs.rs/lifespan-core/latest/lifespan_core/struct.Yield.html), injected like
/// [`App`](https://docs.rs/lifespan-core/latest/lifespan_core/struct.App.html) and
/// [`Shutdown`](https://docs.rs/lifespan-core/latest/lifespan_core/struct.Shutdown.html):
/// `lifespan.ready().await` is the Python `yield`. Keyword arguments, return types and options
/// are those of [`lifespan_task`](macro@lifespan_task).
///
/// A context that fails, panics or returns before `ready()` fails startup: the contexts already
/// set up are cleaned up, in reverse order, and the error names the context.
///
/// ```
/// use lifespan_core::{lifespan_context, App, Yield};
///
/// #[lifespan_context(model_path = std::env::var("MODEL_PATH").unwrap_or("model.bin".into()))]
/// async fn setup_model(model_path: String, app: App, lifespan: Yield) -> anyhow::Result<()> {
///     tracing::info!(%model_path, "loading the model");
///     lifespan.ready().await;
///     tracing::info!("releasing the model");
///     Ok(())
/// }
/// # fn main() {}
/// ```
///
/// It generates what [`lifespan_task`](macro@lifespan_task) does, with `inject_context` and
/// `Kind::Context`, and a check that exactly one injected parameter is the `Yield`.
///
/// The accepted and rejected forms, with the message of each, are listed under
/// [`lifespan_task`](macro@lifespan_task#accepted-forms).
///
/// ```compile_fail
/// use lifespan_core::lifespan_context;
///
/// #[lifespan_context] // lifespan context `setup` takes no `Yield` parameter ...
/// async fn setup() {}
/// # fn main() {}
/// ```
#[proc_macro_attribute]
pub fn lifespan_context(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::entry(Kind::Context, args.into(), item.into()).into()
}

/// Options of a `#[lifespan_task]` or `#[lifespan_context]` function.
#[proc_macro_attribute]
pub fn lifespan(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::options_entry(args.into(), item.into()).into()
}
