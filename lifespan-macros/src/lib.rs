// Layering: each module imports only from the modules below it, never upwards or in a circle.
//
//   lib       the entry points
//   expand    runs the stages and generates the registration
//   valid     checks the function and its keyword arguments
//   options   checks `#[lifespan(...)]`
//   duration  parses the options' durations
//   suggest   "did you mean" suggestions
//   ast       parsing, and the `Kind` and `Errors` every stage shares
//
// `suggest` and `ast` depend on no other module of the crate.

//! Attribute macros of `lifespan-core`: `#[lifespan_task]`, `#[lifespan_context]`, and
//! `#[lifespan(...)]` for their options.
//!
//! Depend on `lifespan-core`, which re-exports them, and read their documentation there, where its
//! links lead to the types they name; the generated code refers to `lifespan-core` only. The crate works in three stages: `ast` parses the attributes and the function into a
//! model, `valid` checks it against the rules (`options` checks the options, with `duration`
//! parsing their durations), `expand` generates the registration.

// Links from the macros' documentation to the types of `lifespan-core`: this crate does not
// depend on it, so rustdoc cannot resolve intra-doc links to them, here or where `lifespan-core`
// inlines the macros (it resolves the links of an item where the item is defined). They are
// relative URLs instead, `../lifespan_core/struct.App.html`, which work where users read the
// macros: inlined in `lifespan_core`'s documentation (on docs.rs and from `cargo doc`), and in
// `lifespan_macros`' own pages when both crates are documented together (`cargo doc`); they do not
// on this crate's own docs.rs pages, which hold no `lifespan_core`.

mod ast;
#[cfg(feature = "cron")]
mod cron;
mod duration;
mod expand;
mod options;
mod suggest;
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
/// [`App`](../lifespan_core/struct.App.html) or
/// [`Shutdown`](../lifespan_core/struct.Shutdown.html).
///
/// The function returns `()` or `Result<(), E>`, where `E` is `anyhow::Error`, any
/// `std::error::Error + Send + Sync + 'static`, `Box<dyn Error + Send + Sync>`, `String` or
/// `&'static str`.
/// Its name in reports and logs is its full path, `my_crate::jobs::poll_updates`.
///
/// How it is supervised (restarts, a period, whether its failure stops the app, a display name)
/// is given by a second attribute on the same function, [`#[lifespan(...)]`](macro@lifespan),
/// so that options never collide with keyword arguments:
///
/// ```
/// use lifespan_core::{lifespan_task, Shutdown};
///
/// #[lifespan_task(url = std::env::var("FEED_URL")?)]
/// #[lifespan(restart = on_failure, backoff = "100ms..30s", max_restarts = 5, within = "1m")]
/// async fn poll(url: String, shutdown: Shutdown) -> anyhow::Result<()> {
///     let _ = url;
///     shutdown.cancelled().await;
///     Ok(())
/// }
/// # fn main() {}
/// ```
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
/// [`Yield`](../lifespan_core/struct.Yield.html), injected like
/// [`App`](../lifespan_core/struct.App.html) and
/// [`Shutdown`](../lifespan_core/struct.Shutdown.html):
/// `lifespan.ready().await` is the Python `yield`. Keyword arguments and return types are those
/// of [`lifespan_task`](macro@lifespan_task); of the [options](macro@lifespan), a context takes
/// only `name`, as it is set up once per start.
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

/// Options of a [`#[lifespan_task]`](macro@lifespan_task): whether and how it restarts, whether
/// it runs periodically, whether its failure stops the app, which replicas run it, the name it is
/// shown under; of a [`#[lifespan_context]`](macro@lifespan_context): the name only.
///
/// A separate attribute on the same function, so that options never collide with the keyword
/// arguments of `#[lifespan_task(param = value)]`. It may stand below the task or context
/// attribute, which reads and removes it (`lifespan` then need not be imported), or above it;
/// several are merged. Every option is checked at compile time, durations included, and a
/// mistake is reported at the option to change.
///
/// ```
/// use lifespan_core::{lifespan_task, Shutdown};
///
/// #[lifespan_task(url = String::from("http://localhost:8080/feed"))]
/// #[lifespan(restart = on_failure, backoff = "100ms..30s", max_restarts = 5, within = "1m", critical, name = "poller")]
/// async fn poll(url: String, shutdown: Shutdown) -> anyhow::Result<()> {
///     let _ = url;
///     shutdown.cancelled().await;
///     Ok(())
/// }
/// # fn main() {}
/// ```
///
/// # Options
///
/// Those of [`TaskOptions`](../lifespan_core/struct.TaskOptions.html):
///
/// - `name = "poller"`: the name shown in logs and status, beside the function's full path.
///   The only option of a context.
/// - `restart = on_failure`: run the task again after it returns an error or panics;
///   `restart = always`: after any end before shutdown, `Ok` included, for a task meant to run
///   forever; `restart = never` is the default. A restart evaluates the keyword arguments anew.
///   The policy may also be written as a string, `restart = "on_failure"`.
/// - `backoff = "100ms..30s"`: the delay before a restart, from the first delay, doubling with
///   each consecutive restart, up to the longest (the default); `backoff = "5s"` for a constant
///   delay.
/// - `jitter = false`: take each restart delay as it is. By default it is drawn at random
///   between half of it and all of it.
/// - `max_restarts = 5`: restart at most 5 times, then leave the task failed; with
///   `within = "1m"`, at most 5 times in any minute.
/// - `every = "5s"`: run the task periodically, one run per period on a fixed grid; a run that
///   overruns skips the points it missed. The arguments are evaluated anew for each run.
///   - `fixed_delay`: each run starts one period after the previous one ended instead.
///   - `at_startup`: the first run is at startup rather than one period after it.
/// - `critical`: if the task fails for good (it is not restarted after an error or a panic), the
///   app shuts down and its `run` returns an error.
/// - `singleton`: at most one replica runs the task, among the processes that share the app's
///   coordinator; the others wait as standby and take over when the holder goes. With the
///   default, in-process coordinator the task runs at once, as without the option. A body
///   that returns gives the lease up, and the next replica to take it runs the body again:
///   one-shot work across replicas (a migration, a backfill) belongs in a context's setup,
///   claimed with `lifespan_postgres::claim_once`.
///   - `lease = "15s"`: how long the singleton's lease lasts after it was granted or renewed.
///   - `renew_deadline = "10s"`: how long after its last renewal the holder gives up and stops
///     the task; shorter than the lease.
///   - `retry = "2s"`: how often the holder renews, and a standby asks for the lease; shorter
///     than the renew deadline.
///
///   Any of the three may be given, in place of the app's lease settings; the others take the
///   defaults of [`LeaseSettings`](../lifespan_core/struct.LeaseSettings.html), 15 s, 10 s and
///   2 s.
/// - `once_per_point`, with `every`: each point of the schedule runs on one replica, among the
///   processes that share the app's coordinator.
///   - `hold = "10s"`: a point claimed keeps the next ones from being claimed for at least that
///     long; shorter than the period.
///   - `overlap = allow`: a point starts at its time even while an earlier run is in flight on
///     some replica; `overlap = forbid`, the default: it does not start, and is missed.
///   - `misfire = latest`: what becomes of the points that no replica started at their time
///     (every replica was down, the coordinator did not answer, or a run was in flight):
///
///     | `misfire` | the missed points |
///     |---|---|
///     | `skip` (the default) | none runs: the next run is the next point due |
///     | `latest` | the latest runs once, as soon as a replica can start it |
///     | `all` | each runs, earliest first, one after the other |
///
///   - `misfire_grace = "10m"`, with `latest` or `all`: a missed point older than that is not
///     run; no limit unless given.
///   - `misfire_limit = 5`, with `all`: at most that many missed points run, the latest ones;
///     10 unless given.
///
///   The policies may also be written as strings, `misfire = "latest"`.
///
/// The flags `fixed_delay`, `at_startup`, `critical`, `singleton` and `once_per_point` may also be
/// given a literal boolean: `critical = true`, `critical = false`.
///
/// Durations are strings of one or more segments of a number (whole or decimal) and a unit,
/// `ns`, `us`, `ms`, `s`, `m` or `h`, added up: `"250ms"`, `"1.5s"`, `"1m30s"`, `"5 s"`.
///
/// ```
/// use lifespan_core::{lifespan, lifespan_context, lifespan_task, Yield};
///
/// // Every 5 seconds on a fixed grid, the first time at startup. Above the task attribute,
/// // `lifespan` is imported.
/// #[lifespan(every = "5s", at_startup)]
/// #[lifespan_task]
/// async fn refresh() -> anyhow::Result<()> {
///     Ok(())
/// }
///
/// // 500 ms after the end of each run; a failed run is retried after 1 s.
/// #[lifespan_task]
/// #[lifespan(every = "500ms", fixed_delay, restart = on_failure, backoff = "1s")]
/// async fn sweep() {}
///
/// // One replica runs it; a lease of 30 s, renewed every 5 s, given up 20 s after the last
/// // renewal.
/// #[lifespan_task]
/// #[lifespan(singleton, lease = "30s", renew_deadline = "20s", retry = "5s")]
/// async fn leader() {}
///
/// // Each minute on one replica.
/// #[lifespan_task]
/// #[lifespan(every = "1m", once_per_point, hold = "10s")]
/// async fn report() {}
///
/// // Each hour on one replica; the hours missed within the last day are caught up, at most 5.
/// #[lifespan_task]
/// #[lifespan(every = "1h", once_per_point, misfire = all, misfire_grace = "24h", misfire_limit = 5)]
/// async fn rollup() {}
///
/// // A context's display name.
/// #[lifespan_context]
/// #[lifespan(name = "database")]
/// async fn db(lifespan: Yield) {
///     lifespan.ready().await;
/// }
/// # fn main() {}
/// ```
///
/// # Rules
///
/// Options that would have no effect are errors, as are the combinations that `TaskOptions`
/// rejects at runtime, so that options that compile are never rejected at startup:
///
/// - `backoff`, `jitter`, `max_restarts` and `within` need `restart = on_failure` or
///   `restart = always`; `within` needs `max_restarts`, which is at least 1.
/// - A periodic task runs again after each run that succeeds, so `restart = always` does not go
///   with `every`: use `restart = on_failure` to retry failed runs.
/// - `fixed_delay` and `at_startup` need `every`.
/// - A task is `singleton` or `once_per_point`, not both; `once_per_point` needs `every`.
/// - `lease`, `renew_deadline` and `retry` need `singleton`. The renew deadline is shorter than
///   the lease, and the retry period shorter than the renew deadline, the defaults standing for
///   those not given: `lease = "5s"` alone is an error, as the renew deadline is 10 s unless
///   given.
/// - `hold` needs `once_per_point`, and is shorter than the period `every`.
/// - `overlap`, `misfire`, `misfire_grace` and `misfire_limit` need `once_per_point`;
///   `misfire_grace` needs `misfire = latest` or `misfire = all`, `misfire_limit` needs
///   `misfire = all` and is at least 1.
/// - `every`, `within`, `lease`, `renew_deadline`, `retry`, `hold`, `misfire_grace` and the
///   first delay of `backoff` are longer than zero; the first delay is not longer than the
///   longest.
/// - On a context, only `name`.
///
/// Every rejected form and its message is listed under
/// [`lifespan_task`](macro@lifespan_task#rejected-forms).
///
/// ```compile_fail
/// use lifespan_core::lifespan_task;
///
/// #[lifespan_task]
/// #[lifespan(max_restarts = 3)] // `max_restarts` has no effect without `restart = on_failure` ...
/// async fn poll() {}
/// # fn main() {}
/// ```
///
/// ```compile_fail
/// use lifespan_core::lifespan;
///
/// #[lifespan(restart = on_failure)] // `#[lifespan(...)]` gives options to a `#[lifespan_task]` ...
/// async fn poll() {}
/// # fn main() {}
/// ```
///
/// # What it generates
///
/// Below the task attribute, nothing of its own: the task attribute reads the options and adds
/// them to the registration, calling the builder of `TaskOptions` for each option given (none
/// for a function without options), in `const` context. For `poll` above, the registration of
/// [`lifespan_task`](macro@lifespan_task#what-it-generates) becomes:
///
/// ```
/// # use lifespan_core::Shutdown;
/// # async fn poll(url: String, shutdown: Shutdown) -> anyhow::Result<()> { Ok(()) }
/// # const _: () = {
/// # fn prepare(cx: &mut lifespan::InjectCx<'_>) -> Result<lifespan::BoxFuture, lifespan::ArgError> {
/// #     let url = lifespan::arg("url", || Ok(String::from("http://localhost:8080/feed")))?;
/// #     let shutdown = lifespan::inject_task::<Shutdown>(cx, "shutdown")?;
/// #     Ok(lifespan::boxed(poll(url, shutdown)))
/// # }
/// use lifespan_core::__private as lifespan;
/// use std::time::Duration;
///
/// lifespan::inventory::submit! {
///     lifespan::Registration::new(
///         lifespan::Kind::Task,
///         concat!(module_path!(), "::poll"),
///         module_path!(), file!(), line!(), prepare,
///     )
///     .with_options(
///         lifespan::TaskOptions::new()
///             .display_name("poller")
///             .restart(lifespan::Restart::OnFailure)
///             .backoff(Duration::from_nanos(100_000_000), Duration::from_nanos(30_000_000_000))
///             .max_restarts(5)
///             .within(Duration::from_nanos(60_000_000_000))
///             .critical(true),
///     )
/// }
/// # };
/// # fn main() {}
/// ```
///
/// Lease settings are passed whole, the ones not given filled in with the defaults, as checked at
/// compile time: `#[lifespan(singleton, lease = "30s")]` adds
///
/// ```
/// # use lifespan_core::__private as lifespan;
/// # use std::time::Duration;
/// # let _ = lifespan::TaskOptions::new()
///     .singleton(true)
///     .lease(lifespan::LeaseSettings::checked_by_macro(
///         Duration::from_nanos(30_000_000_000),
///         Duration::from_nanos(10_000_000_000),
///         Duration::from_nanos(2_000_000_000),
///     ))
/// # ;
/// ```
///
/// Above the task attribute, it expands first, to the function with the task attribute moved
/// first and itself right after it.
#[proc_macro_attribute]
pub fn lifespan(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::options_entry(args.into(), item.into()).into()
}
