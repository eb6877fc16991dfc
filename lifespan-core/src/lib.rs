//! Register the background tasks and startup/shutdown resources of a tokio backend by annotating
//! plain `async fn`s.
//!
//! - [`#[lifespan_task]`](lifespan_task) on an `async fn`: a task started when the app comes up and
//!   run until it returns or shutdown stops it.
//! - [`#[lifespan_context]`](lifespan_context) on an `async fn`: setup code that runs before the
//!   app is up, then hands control back at its [`Yield`]; the code after runs at shutdown, after
//!   every task has stopped, in reverse setup order.
//! - [`App`] starts them, stops them and reports how each ended.
//!
//! Keyword arguments of the attributes bind to parameters by name and are checked by the
//! compiler; the other parameters are injected by type ([`App`], [`Shutdown`], [`Yield`], and
//! [`State<T>`](State): a value that a context hands over with [`Yield::ready_with`]).
//!
//! ```
//! use lifespan_core::{lifespan_context, lifespan_task, App, ContextOutcome, Shutdown, TaskOutcome, Yield};
//! use std::time::Duration;
//!
//! #[lifespan_task(interval = Duration::from_secs(5), label = std::env::var("LABEL").unwrap_or_default())]
//! async fn poll_updates(interval: Duration, label: String, shutdown: Shutdown) -> anyhow::Result<()> {
//!     let mut ticks = tokio::time::interval(interval);
//!     while shutdown.run_until_cancelled(ticks.tick()).await.is_some() {
//!         tracing::info!(%label, "polling");
//!     }
//!     Ok(())
//! }
//!
//! #[lifespan_context]
//! async fn model(lifespan: Yield) -> anyhow::Result<()> {
//!     tracing::info!("loading the model");
//!     lifespan.ready().await;
//!     tracing::info!("releasing the model");
//!     Ok(())
//! }
//!
//! #[tokio::main]
//! async fn main() -> anyhow::Result<()> {
//! # // Bounded: the example fails, rather than hangs, if a start or stop never ends.
//! # tokio::time::timeout(Duration::from_secs(60), async {
//!     let app = App::builder().grace_period(Duration::from_secs(10)).build();
//!     // A real service calls `app.run_until_signal()`: Ctrl-C or SIGTERM shuts it down.
//!     // Here the app shuts down as soon as it is up.
//!     app.start().await?;
//!     let report = app.shutdown().await;
//!     assert_eq!(report.task("poll_updates"), Some(&TaskOutcome::Cancelled));
//!     assert_eq!(report.context("model"), Some(&ContextOutcome::CleanedUp));
//!     Ok(())
//! # }).await.expect("the example did not finish within a minute")
//! }
//! ```
//!
//! # The lifecycle
//!
//! 1. Startup ([`App::start`]): every argument is evaluated; contexts are set up one at a time, in
//!    a deterministic order (providers of state first, then source order within a module,
//!    modules by path); then tasks start. A failed setup cleans up the contexts already set up,
//!    in reverse, and names the context.
//! 2. Running: a task that fails or panics is logged with its name and recorded; nothing else is
//!    affected, unless the task has options (`#[lifespan(...)]`, [`TaskOptions`]): it may be
//!    restarted with backoff ([`Restart`]), run periodically ([`Schedule`], or a cron schedule
//!    with the `cron` feature: `TaskOptions::cron`), or be critical and
//!    stop the app; it may run on one replica only ([replicas](#replicas)). [`App::status`]
//!    shows what every task and context is doing. An operator may run a periodic task now
//!    ([`App::trigger`]), or pause and resume its schedule ([`App::pause`], [`App::resume`]);
//!    with the `axum` feature, through the admin routes of `control_routes`.
//! 3. Shutdown ([`App::shutdown`]): a server run by the app (`App::serve_until_signal`, feature `axum`) stops
//!    accepting and drains its requests; tasks are signalled, awaited up to the
//!    [grace period](AppBuilder::grace_period), and the rest aborted; then contexts are cleaned
//!    up in reverse setup order, each bounded by the
//!    [cleanup timeout](AppBuilder::cleanup_timeout). The [`Report`] says how each task and
//!    context ended. Settings are given once, to the [`AppBuilder`] from [`App::builder`].
//! 4. Reload ([`App::reload`]): shutdown, then startup again, arguments re-evaluated; on SIGHUP in
//!    [dev mode](AppBuilder::dev_mode).
//!
//! # Replicas
//!
//! A task marked `#[lifespan(singleton)]` runs on at most one of the processes that share the
//! app's [`Coordinator`] ([`AppBuilder::coordinator`]): the others wait in
//! [standby](RunState::Standby) and take over when the holder stops, dies or loses its lease. It
//! receives its [`Lease`], whose fencing token guards its writes. `#[lifespan(every = "1m",
//! once_per_point)]` starts each point of a schedule on one replica at a time, as a leased run
//! that another replica takes over (as its next attempt) if its replica stops renewing it; the
//! body may take its [`Point`]. The default
//! coordinator, [`InProcess`], grants every lease to the one process; `lifespan-postgres`
//! coordinates through PostgreSQL.
//!
//! The ledger of a once-per-point task is visible from every replica: [`App::ledger`] reads
//! from the coordinator the runs of its latest points, whichever replica ran them (instance,
//! attempt, state, outcome, duration), and [`TaskStatus::missed`] counts the points of its
//! schedule that no replica started; the status route (feature `axum`) shows both.
//!
//! ```
//! use lifespan_core::{App, InProcess, Lease, RunState, Shutdown, TaskOptions};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> anyhow::Result<()> {
//! # tokio::time::timeout(std::time::Duration::from_secs(3600), async {
//! // Two apps sharing one coordinator, as two replicas would share a database.
//! let coordinator = InProcess::new();
//! let mut replicas = Vec::new();
//! for instance in ["a", "b"] {
//!     let app = App::builder().empty().coordinator(coordinator.clone()).instance(instance).build();
//!     app.register_task_with("sweep", TaskOptions::new().singleton(true), |lease: Lease, shutdown: Shutdown| async move {
//!         tracing::info!(token = lease.token(), "sweeping");
//!         shutdown.cancelled().await;
//!     })?;
//!     app.start().await?;
//!     replicas.push(app);
//! }
//! tokio::time::sleep(std::time::Duration::from_secs(1)).await;
//! assert_eq!(replicas[0].status().task("sweep").unwrap().state, RunState::Running);
//! assert_eq!(replicas[1].status().task("sweep").unwrap().state, RunState::Standby);
//! for app in &replicas {
//!     app.shutdown().await;
//! }
//! # Ok::<(), anyhow::Error>(())
//! # }).await.expect("the example did not finish within an hour of virtual time")
//! # }
//! ```
//!
//! # Logging
//!
//! The library logs through [`tracing`](https://docs.rs/tracing), in spans `lifespan.task` and
//! `lifespan.context` that name their task or context the same way, in a field `task` or
//! `context`: by its display name if it has one, else by its full name. It never logs argument
//! values. A failure is logged with its error as an error value (field `error`, a
//! [`TaskError`], whose messages have the passwords of URLs masked). Built with
//! `--cfg tokio_unstable`, the spawned tokio tasks carry the names of their tasks and contexts,
//! for tokio-console.
//!
//! ## Spans and traces
//!
//! Each run of a supervised task has a span of its own, closed when the run ends, so that an
//! exporter that sends spans as they close sees each run as it ends. That span is a *root*: with
//! OpenTelemetry (`tracing-opentelemetry`), each run is a short trace of its own, with its
//! outcome, rather than one more child of a task's span that ends only at shutdown. It follows
//! from its task's span ([`Span::follows_from`](tracing::Span::follows_from), a link in
//! OpenTelemetry), and the body is polled in it: what the body logs, and its failure, land in
//! the run's span. The supervisor's own lines (a singleton's lease held, for one) are in the
//! task's span.
//!
//! | span | fields | parent, links |
//! |---|---|---|
//! | `lifespan.task` | `task` | the span current where the app is started: none in a plain `main` (a root) |
//! | `lifespan.run`: a run of a periodic task | `task`, `run` (its number, from 1), `outcome` and `duration_ms` (recorded when it ends), `otel.name`, `otel.kind`, `otel.status_code`, `error.type` | none (a root); follows from its task's `lifespan.task` |
//! | `lifespan.attempt`: an attempt of another supervised task (restarted, critical, singleton) | `task`, `attempt` (from 1), and the others as `lifespan.run` | none (a root); follows from its task's `lifespan.task` |
//!
//! The fields that `tracing-opentelemetry` reads of a run's span:
//! - `otel.name`: `lifespan.run <task>` or `lifespan.attempt <task>`, the span's name in
//!   OpenTelemetry: the kind of span and which task, so that a backend lists the runs of each
//!   task apart.
//! - `otel.kind`: `internal`.
//! - `otel.status_code`, when the run ends: `ok` if it succeeded; `error` if it failed, panicked
//!   or timed out. A run stopped by shutdown leaves it unset: neither a success nor an error.
//! - `error.type`, when the run failed: `failed`, `panicked` or `timed_out`, a fixed word, never
//!   the error's text. The error itself is logged in the run's span as an ERROR event, masked;
//!   `tracing-opentelemetry` copies its message to the span as `exception.message` unless told
//!   not to (`with_error_records_to_exceptions(false)`).
//!
//! A run cut short by the end of the grace period closes without `outcome`, `duration_ms` and
//! a status.
//!
//! A *plain* task (no schedule, no restart, not critical, not a singleton) has no run span: its
//! body runs in its `lifespan.task` span, for as long as the app runs, and what it logs lands
//! there. That span is a root when the app is started outside any span, a trace as long as the
//! app, which is what the task is. For work a plain task does again and again, open a span per
//! unit of work in the body (`parent: None` for a trace of its own).
//!
//! To see runs under a span of your choice again, open a span in the body with an explicit
//! `parent:`: the run's span stays a root, and the work is in yours.
//!
//! ```
//! use std::time::Duration;
//!
//! use lifespan_core::{App, TaskOptions};
//! use tracing::Instrument;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> anyhow::Result<()> {
//! # tokio::time::timeout(Duration::from_secs(3600), async {
//! let app = App::empty();
//! // A span that lives as long as the service: every run's work is seen under it.
//! let service = tracing::info_span!("service");
//! let parent = service.clone();
//! let options = TaskOptions::new().every(Duration::from_secs(60));
//! app.register_task_with("sweep", options, move || {
//!     let parent = parent.clone();
//!     async move {
//!         let work = tracing::info_span!(parent: &parent, "sweep work");
//!         async { tracing::info!("sweeping") }.instrument(work).await;
//!     }
//! })?;
//! app.start().await?;
//! tokio::time::sleep(Duration::from_secs(150)).await;
//! app.shutdown().await;
//! assert_eq!(app.status().task("sweep").unwrap().runs, 2);
//! # Ok::<(), anyhow::Error>(())
//! # }).await.expect("the example did not finish within an hour of virtual time")
//! # }
//! ```
//!
//! [`App::status`] shows each supervised task's run history: [`TaskStatus::runs`],
//! [`TaskStatus::last_run`] and [`TaskStatus::next_run`], the runs of this process; for a
//! once-per-point task, [`TaskStatus::missed`], and [`App::ledger`] the runs of every replica.
//!
//! # Metrics
//!
//! With the feature `metrics`, the library records through the
//! [`metrics`](https://docs.rs/metrics) facade, to whichever recorder the app installs (a
//! Prometheus exporter, ...), labelled with the task's name (`task`: its display name, else its
//! full name) and nothing else but, for the coordinator's, the request's `operation`:
//!
//! | name | type | unit | labels | meaning |
//! |---|---|---|---|---|
//! | `lifespan_task_starts_total` | counter | runs | `task` | runs of a task's body begun: a plain task's one run, each run or attempt of a supervised task |
//! | `lifespan_task_failures_total` | counter | runs | `task` | runs that returned an error (a run cut at its timeout included) |
//! | `lifespan_task_panics_total` | counter | runs | `task` | runs that panicked |
//! | `lifespan_task_restarts_total` | counter | restarts | `task` | restarts after a run ended |
//! | `lifespan_task_run_duration_seconds` | histogram | seconds | `task` | how long each run took that ended on its own (succeeded, failed, panicked or timed out); a run stopped by shutdown or by a lost lease is not timed; a plain task's run is timed from the app's start of its tasks, as its status shows it running |
//! | `lifespan_tasks_running` | gauge | tasks | `task` | tasks started and not ended for good (a periodic task between two runs counts) |
//! | `lifespan_task_last_success_timestamp_seconds` | gauge | seconds since the Unix epoch | `task` | wall-clock time at which a run of the task last ended successfully on this process; absent before the first success |
//! | `lifespan_task_next_run_timestamp_seconds` | gauge | seconds since the Unix epoch | `task` | wall-clock time of the task's next planned run on this process (a scheduled run, or a restart after its delay), as its status shows `next_run`; absent before the first is planned |
//! | `lifespan_task_missed_points_total` | counter | points | `task` | points of a once-per-point task's schedule missed (not run), counted by the replica that started the point after them |
//! | `lifespan_task_timeouts_total` | counter | runs | `task` | runs cut at their [`timeout`](TaskOptions::timeout) |
//! | `lifespan_task_manual_runs_total` | counter | runs | `task` | runs asked for by hand ([`App::trigger`]), counted where they run |
//! | `lifespan_task_failed_for_good` | gauge | 0 or 1 | `task` | 1 once the task ended failed for good (restart limit reached, or failed or panicked with no restart), 0 from each start |
//! | `lifespan_task_lease_held` | gauge | 0 or 1 | `task` | whether this replica holds the singleton task's lease |
//! | `lifespan_task_lease_changes_total` | counter | changes | `task` | times this replica gained or lost (or gave up) the singleton task's lease |
//! | `lifespan_coordinator_request_errors_total` | counter | requests | `task`, `operation` | the task's requests to the coordinator that failed, or went unanswered within the runtime's time limit |
//! | `lifespan_coordinator_request_duration_seconds` | histogram | seconds | `task`, `operation` | how long each of the task's requests to the coordinator took |
//!
//! `operation` is one of `acquire_lease`, `renew_lease`, `release_lease`, `read_clock`,
//! `claim_run`, `renew_run`, `finish_run` (the runtime's), `pause`, `resume`, `request_run`,
//! `recent_runs` (asked for by hand: [`App::pause`], [`App::resume`], [`App::trigger`],
//! [`App::ledger`]). A metric that does not apply to a task (a lease, a timeout) is not
//! registered for it.
//!
//! They are described (`metrics::describe_*`, with their unit and help text) when an app starts.
//! The handles of a task's metrics are made at the task's first start in the process, once per
//! recorder, and kept: a later start of the task registers nothing with the recorder again.
//! Install the recorder before the app starts (a recorder installed later gets handles of its
//! own at the next start). A recorder is told apart by its address: tests that install a
//! recorder per test with `metrics::with_local_recorder` should leak each one
//! (`Box::leak(Box::new(DebuggingRecorder::new()))`), so that a later recorder never takes the
//! address of a dropped one and is handed its handles. Without the feature, none of
//! this is compiled.
//!
//! `App::alert_rules` writes the Prometheus alerting rules on them for the app's periodic and
//! singleton tasks, with thresholds from each task's own schedule and lease (`AlertRules`).
//!
//! One rule decides what is logged and what is returned: an error that a call returns
//! ([`StartupError`] from [`App::start`] and [`App::reload`], [`RunError`] from the `run_*` and
//! `serve*` forms) is *returned, not logged*: print it where you handle it, once (a `main`
//! returning `anyhow::Result` does). What happens while nobody waits for a result is logged: a
//! task failing, panicking or restarting, a cleanup failing, the progress of startup and
//! shutdown.
//!
//! # Stability
//!
//! Every public enum, and every public struct with public fields, is `#[non_exhaustive]`: new
//! outcomes, states and fields can come in a minor release. Match them with a wildcard arm and
//! read their fields; the library builds them.
//!
//! # Errors
//!
//! Every error says what failed in its message and carries the cause as its
//! [`source`](std::error::Error::source), once. Every public error type prints as `anyhow`
//! does: `{}` the message alone, `{:#}` the whole chain, joined by `": "`; so does any reporter
//! that walks the chain:
//!
//! ```
//! use anyhow::Context as _;
//! use lifespan_core::{App, Yield};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let app = App::empty();
//! app.register_context("db", |lifespan: Yield| async move {
//!     Err(std::io::Error::other("connection refused")).context("connecting to the database")?;
//!     lifespan.ready().await;
//!     Ok::<(), anyhow::Error>(())
//! })
//! .unwrap();
//! let error = app.start().await.unwrap_err();
//! assert_eq!(error.to_string(), "setup of lifespan context `db` failed");
//! assert_eq!(
//!     format!("{error:#}"),
//!     "setup of lifespan context `db` failed: connecting to the database: connection refused"
//! );
//! # }
//! ```
//!
//! The error a task or context returned is kept as a [`TaskError`], which
//! can be downcast to its original type. Passwords in URLs (`postgres://user:***@host`) are
//! masked in every text the library logs, serves or returns. The messages of task
//! errors and panics it logs, records and reports have the passwords of URLs masked
//! (`postgres://admin:***@db.internal/prod`). With the `axum` feature, `status_handler` serves
//! the status as JSON without error messages, and `status_handler_with_errors` with them:
//! route either only behind your own authentication.
#![deny(missing_docs)]
// On docs.rs (`--cfg docsrs`, nightly): badge the items of optional features, such as `axum`.
// `doc_cfg` derives the badges from the `#[cfg]`s on its own (it absorbed `doc_auto_cfg`).
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(no_crate_inject, attr(deny(warnings))))]

// The architecture: each folder holds one concern, and its `mod.rs` says what it does and which
// folders it may use. The folders, lowest first: each uses only folders listed before it, and
// the modules within a folder never use each other in a circle (`tests/suite/module_graph.rs` checks
// both, and that each `mod.rs` claims no folder listed after its own):
//
// 1. `base`: names and kinds, error chains, masking, caught panics, deadlines, locks, spawning.
// 2. `replicas`: the coordinator protocol, leases and their settings, the in-process default.
// 3. `report`: how things ended: the report, the API's errors, a task's error as a value.
// 4. `schedules`: what a task's options say, and when its runs are due (periodic and cron).
// 5. `inject`: what a task or context receives: the app handle, shutdown, yield, state.
// 6. `registration`: what an app runs: linked and by-hand registrations, and the plan of a start.
// 7. `status`: how each part is doing: the board, run history, phase, status, metrics.
// 8. `tasks`: running each task: its body, supervision, singleton terms, point claims.
// 9. `lifecycle`: one app from build to stop: builder, calls, startup, shutdown, control by hand.
// 10. `serving`: the app under a server and a supervisor: run-until, servers, probes, admin
//     routes, signals.

mod base;
mod inject;
mod lifecycle;
mod registration;
mod replicas;
mod report;
mod schedules;
mod serving;
mod status;
mod tasks;

pub use base::kind::Kind;
pub use base::name::Name;
pub use base::redact::redact;
pub use inject::app_handle::App;
pub use inject::params::{Cancelled, ContextParam, Shutdown, TaskParam, Yield};
pub use inject::readiness_checks::ReadinessCheck;
pub use inject::state::State;
pub use inject::testing::{ShutdownTrigger, YieldDriver};
pub use lifecycle::builder::AppBuilder;
pub use lifecycle::liveness::Liveness;
pub use lifecycle::readiness::{CheckOutcome, CheckResult, Readiness};
pub use registration::by_hand::{ContextFn, TaskFn};
pub use registration::entry::RegistrationInfo;
pub use registration::returns::TaskReturn;
pub use replicas::{
    point_system_time, point_time, Acquired, Coordinator, CoordinatorError, CoordinatorFuture,
    Holder, InProcess, InvalidLeaseSettings, Lease, LeaseControl, LeaseLost, LeaseRequest,
    LeaseSettings, Misfire, Overlap, Pause, Point, PointRun, PointTime, RecentRuns, ReplicaStatus,
    ReplicaStatuses, RunClaim, RunRecord, RunRequest, Term, FORGET_SILENT_REPLICAS_AFTER,
};
pub use report::control_error::{ControlAction, ControlError};
pub use report::errors::{RegisterError, RunError, StartupError, StartupErrorKind};
pub use report::ledger_error::LedgerError;
pub use report::outcome::{ContextOutcome, ContextReport, Report, TaskOutcome, TaskReport};
pub use report::readiness_error::ReadinessCheckError;
pub use report::task_error::TaskError;
#[cfg(feature = "cron")]
pub use schedules::cron::CronError;
pub use schedules::options::{
    Restart, Schedule, TaskOptions, DEFAULT_BACKOFF_CAP, DEFAULT_BACKOFF_START,
    DEFAULT_MISFIRE_LIMIT,
};
#[cfg(feature = "axum")]
pub use serving::admin_routes::{control_routes, pause_handler, resume_handler, trigger_handler};
#[cfg(feature = "axum")]
pub use serving::dashboard::dashboard_handler;
pub use serving::graceful_shutdown::ShutdownSignal;
#[cfg(feature = "axum")]
pub use serving::probes::{liveness_handler, readiness_handler};
#[cfg(feature = "axum")]
pub use serving::status_route::{status_handler, status_handler_with_errors};
#[cfg(feature = "metrics")]
pub use status::alert_rules::{AlertRules, AlertRulesError};
pub use status::ledger::{LedgerRun, LedgerRunState, TaskLedger};
pub use status::phase::{Phase, Phases};
pub use status::snapshot::{
    ContextStatus, LastRun, LeaseStatus, RunOutcome, RunState, Status, TaskStatus,
};

#[doc(inline)]
pub use lifespan_macros::{lifespan, lifespan_context, lifespan_task};

/// Not public API: what the code generated by the macros refers to.
#[doc(hidden)]
pub mod __private {
    pub use core;
    pub use inventory;

    pub use crate::base::kind::Kind;
    pub use crate::inject::params::{ContextParam, InjectCx, TaskParam};
    pub use crate::inject::type_checks::{
        is_yield, ContextArgumentOfInjected, ContextArgumentOfPlain, Probe, TaskArgumentOfInjected,
        TaskArgumentOfPlain,
    };
    pub use crate::registration::entry::{BoxFuture, PrepareFn, Registration};
    pub use crate::registration::returns::{FnOutput, TaskReturn};
    pub use crate::replicas::{LeaseSettings, Misfire, Overlap};
    pub use crate::report::arg_error::ArgError;
    pub use crate::schedules::options::{Restart, Schedule, TaskOptions};

    /// The error type of an argument expression, so that `?` works on any error.
    pub type Error = anyhow::Error;

    /// Evaluates the argument of parameter `argument`; a panic in the expression is its error.
    #[inline]
    pub fn arg<T>(
        argument: &'static str,
        eval: impl FnOnce() -> Result<T, Error>,
    ) -> Result<T, ArgError> {
        match crate::base::panic::catching(eval) {
            Ok(value) => value.map_err(|error| ArgError::eval(argument, error)),
            Err(message) => Err(ArgError::panicked(argument, message)),
        }
    }

    /// Injects parameter `argument` of a task.
    #[inline]
    pub fn inject_task<T: TaskParam>(
        cx: &mut InjectCx<'_>,
        argument: &'static str,
    ) -> Result<T, ArgError> {
        crate::inject::params::task_param(cx, argument)
    }

    /// Injects parameter `argument` of a context.
    #[inline]
    pub fn inject_context<T: ContextParam>(
        cx: &mut InjectCx<'_>,
        argument: &'static str,
    ) -> Result<T, ArgError> {
        crate::inject::params::context_param(cx, argument)
    }

    /// Boxes the future of a task or context, checking that it returns `()` or `Result<(), E>`.
    #[inline]
    pub fn boxed<F>(future: F) -> BoxFuture
    where
        F: core::future::Future + Send + 'static,
        F::Output: TaskReturn,
    {
        crate::registration::returns::boxed(future)
    }
}
