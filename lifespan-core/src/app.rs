//! The app handle: configuration, and the calls that start, stop and reload it.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::error::{StartupError, StartupErrorKind};
use crate::name::Name;
use crate::register::{Registry, Selection};
use crate::report::Report;
use crate::run::Serving;
use crate::shutdown::{self, Timeouts};
use crate::startup::{self, Generation};
use crate::state::{State, StateMap};
use crate::status::{Board, Status};
use crate::task_error::TaskError;

/// The default [grace period](App::grace_period): 5 seconds.
const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(5);
/// The default [cleanup timeout](App::cleanup_timeout): 5 seconds.
const DEFAULT_CLEANUP_TIMEOUT: Duration = Duration::from_secs(5);
/// The default [drain timeout](App::drain_timeout): 5 seconds.
const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// The [blocking threshold](App::blocking_threshold) when the check is on: 100 ms.
const DEFAULT_BLOCKING_THRESHOLD: Duration = Duration::from_millis(100);
/// The environment variable that turns dev mode on in [`App::new`].
const DEV_MODE_VAR: &str = "LIFESPAN_DEV";

/// A backend's lifespan: its registered tasks and contexts, and the calls that start, stop and
/// reload them.
///
/// `App` is a cheap handle (an `Arc`); clones refer to the same app. Tasks and contexts can take
/// it as a parameter.
///
/// ```no_run
/// use lifespan_core::{lifespan_task, App, Shutdown};
///
/// #[lifespan_task(greeting = "hello")]
/// async fn greeter(greeting: &'static str, shutdown: Shutdown) {
///     tracing::info!("{greeting}");
///     shutdown.cancelled().await;
/// }
///
/// #[tokio::main]
/// async fn main() -> anyhow::Result<()> {
///     let report = App::new().run_until_signal().await?;
///     println!("{report}");
///     Ok(())
/// }
/// ```
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Mutex<Registry>,
    config: Mutex<Config>,
    /// Asked for by `request_shutdown` and stop signals: `exit` first, `force` on the next ask.
    exit: Mutex<ExitSignals>,
    /// What is running now. Start, shutdown and reload take it in turn.
    lifecycle: tokio::sync::Mutex<Option<Generation>>,
    /// The state of what is running now, for readers outside tasks and contexts.
    state: Mutex<Option<Arc<StateMap>>>,
    /// The server run by `serve`, if any. Async, held while the server drains, so that every
    /// shutdown waits for the drain, not only the one that started it.
    serving: tokio::sync::Mutex<Option<Serving>>,
    /// The status of the current (or last) start.
    board: Mutex<Option<Arc<Board>>>,
    /// The critical task that failed for good, and its error, if one did since the run began.
    critical: Mutex<Option<(Name, TaskError)>>,
}

#[derive(Clone, Copy, Debug)]
struct Config {
    grace_period: Duration,
    cleanup_timeout: Duration,
    dev_mode: bool,
    drain_timeout: Duration,
    blocking_threshold: Option<Duration>,
    startup_timeout: Option<Duration>,
}

#[derive(Clone, Default)]
pub(crate) struct ExitSignals {
    pub(crate) exit: CancellationToken,
    pub(crate) force: CancellationToken,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these locks; if something did, the data is still whole.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Marks the app not running when dropped: at the end of a shutdown, and when a start does not
/// complete, also by a panic.
struct NotRunning<'a>(&'a App);

impl Drop for NotRunning<'_> {
    fn drop(&mut self) {
        if let Some(board) = &*lock(&self.0.inner.board) {
            board.startup_failed();
        }
        self.0.registry().end_run();
    }
}

impl Default for App {
    /// Same as [`App::new`].
    fn default() -> Self {
        App::new()
    }
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("config", &*lock(&self.inner.config))
            .finish_non_exhaustive()
    }
}

impl App {
    fn with_selection(selection: Selection) -> Self {
        let dev_mode = std::env::var(DEV_MODE_VAR).is_ok_and(|v| v == "1" || v == "true");
        App {
            inner: Arc::new(Inner {
                registry: Mutex::new(Registry::new(selection)),
                config: Mutex::new(Config {
                    grace_period: DEFAULT_GRACE_PERIOD,
                    cleanup_timeout: DEFAULT_CLEANUP_TIMEOUT,
                    dev_mode,
                    drain_timeout: DEFAULT_DRAIN_TIMEOUT,
                    // On where it costs nothing that matters; see `blocking_threshold`.
                    blocking_threshold: cfg!(debug_assertions)
                        .then_some(DEFAULT_BLOCKING_THRESHOLD),
                    startup_timeout: None,
                }),
                exit: Mutex::new(ExitSignals::default()),
                lifecycle: tokio::sync::Mutex::new(None),
                state: Mutex::new(None),
                serving: tokio::sync::Mutex::new(None),
                board: Mutex::new(None),
                critical: Mutex::new(None),
            }),
        }
    }

    /// An app that runs every `#[lifespan_task]` and `#[lifespan_context]` linked into the
    /// program, plus what is [registered](Self::register_task) on it by hand.
    ///
    /// Dev mode is on if the environment variable `LIFESPAN_DEV` is `1` or `true`
    /// (see [`dev_mode`](Self::dev_mode)).
    pub fn new() -> Self {
        App::with_selection(Selection::All)
    }

    /// An app that runs only what is registered on it by hand.
    pub fn empty() -> Self {
        App::with_selection(Selection::None)
    }

    /// An app that runs the macro registrations in module `prefix` and the modules nested in it,
    /// so that one binary or test file can hold several apps.
    ///
    /// ```
    /// # use lifespan_core::App;
    /// mod billing {
    ///     #[lifespan_core::lifespan_task]
    ///     async fn send_invoices() {}
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), lifespan_core::StartupError> {
    /// # // Bounded: the example fails, rather than hangs, if a start or stop never ends.
    /// # tokio::time::timeout(std::time::Duration::from_secs(3600), async {
    /// let billing_only = App::from_module(concat!(module_path!(), "::billing"));
    /// billing_only.start().await?;
    /// let report = billing_only.shutdown().await;
    /// assert_eq!(report.tasks.len(), 1);
    /// assert!(report.tasks[0].name.ends_with("::billing::send_invoices"));
    /// # Ok(())
    /// # }).await.expect("the example did not finish within an hour of virtual time")
    /// # }
    /// ```
    pub fn from_module(prefix: impl Into<String>) -> Self {
        App::with_selection(Selection::Module(prefix.into()))
    }

    /// An app that runs the macro registrations for which `filter` returns `true`.
    ///
    /// ```
    /// use lifespan_core::{App, Kind};
    ///
    /// // Contexts only, no tasks.
    /// let app = App::with_filter(|registration| registration.kind == Kind::Context);
    /// assert!(!app.is_running());
    /// ```
    pub fn with_filter(
        filter: impl Fn(&crate::RegistrationInfo<'_>) -> bool + Send + Sync + 'static,
    ) -> Self {
        App::with_selection(Selection::Filter(Arc::new(filter)))
    }

    /// How long shutdown waits for tasks to stop after signalling them before it aborts them.
    /// Default: 5 seconds. A second shutdown request (a second Ctrl-C, or
    /// [`request_shutdown`](Self::request_shutdown) during shutdown) ends it at once;
    /// `Duration::MAX` waits as long as the tasks take.
    pub fn grace_period(self, grace_period: Duration) -> Self {
        lock(&self.inner.config).grace_period = grace_period;
        self
    }

    /// How long each context's cleanup may take before it is dropped and reported as timed out.
    /// Default: 5 seconds.
    pub fn cleanup_timeout(self, cleanup_timeout: Duration) -> Self {
        lock(&self.inner.config).cleanup_timeout = cleanup_timeout;
        self
    }

    /// Dev mode: [`run_until_signal`](Self::run_until_signal) also [reloads](Self::reload) on
    /// SIGHUP. Default: on if the environment variable `LIFESPAN_DEV` is `1` or `true`.
    pub fn dev_mode(self, on: bool) -> Self {
        lock(&self.inner.config).dev_mode = on;
        self
    }

    /// How long a server run by the app (`App::serve`, with the `axum` feature) may take, once
    /// shutdown begins, to finish the requests in flight before they are dropped; tasks are
    /// stopped only after. Default: 5 seconds.
    #[cfg(feature = "axum")]
    pub fn drain_timeout(self, drain_timeout: Duration) -> Self {
        lock(&self.inner.config).drain_timeout = drain_timeout;
        self
    }

    /// A task whose single poll takes longer than `threshold` is reported, by name and with the
    /// time it took, in a warning: it blocked its thread (with `std::thread::sleep`, blocking
    /// I/O or a long computation), and every other task on that thread waited. `None` turns the
    /// check off.
    ///
    /// Default: 100 ms in builds with debug assertions (`cargo run`, `cargo test`), off in
    /// release builds. The check reads the clock twice per poll: about 25 ns, a third more
    /// time per poll for a task whose poll does almost nothing (see the benchmarks). Turn it on
    /// in release with `blocking_threshold(Some(..))` where that is worth it.
    ///
    /// A poll that has not returned yet is reported too, while it blocks: while the check is on,
    /// a thread of the app (`lifespan-watchdog`, which sleeps for half the threshold between
    /// looks, and ends with the shutdown) reads when each task's poll in progress began. It
    /// logs to the subscriber that was current where the app was started.
    ///
    /// ```
    /// use lifespan_core::App;
    /// use std::time::Duration;
    ///
    /// let app = App::new().blocking_threshold(Some(Duration::from_millis(50)));
    /// # drop(app);
    /// ```
    pub fn blocking_threshold(self, threshold: Option<Duration>) -> Self {
        lock(&self.inner.config).blocking_threshold = threshold;
        self
    }

    /// How long the setups of all contexts may take together, from the first to the last,
    /// before startup fails with [`StartupErrorKind::SetupTimedOut`] naming the context whose
    /// setup was running; the contexts already set up are then cleaned up. Default: no limit.
    ///
    /// A setup that blocks its thread (rather than awaiting) cannot be interrupted: the
    /// timeout then takes effect when its poll returns.
    ///
    /// ```
    /// use lifespan_core::{App, StartupErrorKind, Yield};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> anyhow::Result<()> {
    /// # // Bounded: the example fails, rather than hangs, if a start or stop never ends.
    /// # tokio::time::timeout(std::time::Duration::from_secs(3600), async {
    /// let app = App::empty().startup_timeout(Duration::from_secs(30));
    /// app.register_context("broker", |lifespan: Yield| async move {
    ///     std::future::pending::<()>().await; // a connection that never comes
    ///     lifespan.ready().await;
    /// })?;
    /// let error = app.start().await.unwrap_err();
    /// assert!(matches!(error.kind(), StartupErrorKind::SetupTimedOut { .. }));
    /// # Ok(())
    /// # }).await.expect("the example did not finish within an hour of virtual time")
    /// # }
    /// ```
    pub fn startup_timeout(self, startup_timeout: Duration) -> Self {
        lock(&self.inner.config).startup_timeout = Some(startup_timeout);
        self
    }

    /// A snapshot of every task and context of the current start of the app, or of the last
    /// one once it has shut down: what each is doing, since when, how many times it restarted,
    /// its last error. Empty before the first start.
    ///
    /// ```
    /// use lifespan_core::{App, RunState, Shutdown};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> anyhow::Result<()> {
    /// # // Bounded: the example fails, rather than hangs, if a start or stop never ends.
    /// # tokio::time::timeout(std::time::Duration::from_secs(3600), async {
    /// let app = App::empty();
    /// app.register_task("worker", |shutdown: Shutdown| async move { shutdown.cancelled().await })?;
    /// app.start().await?;
    /// assert_eq!(app.status().task("worker").unwrap().state, RunState::Running);
    /// app.shutdown().await;
    /// assert_eq!(app.status().task("worker").unwrap().state, RunState::Stopped);
    /// # Ok(())
    /// # }).await.expect("the example did not finish within an hour of virtual time")
    /// # }
    /// ```
    pub fn status(&self) -> Status {
        match &*lock(&self.inner.board) {
            Some(board) => board.snapshot(),
            None => Status::default(),
        }
    }

    /// Makes the state of a start that is complete readable through [`state`](Self::state).
    pub(crate) fn publish_state(&self, state: Arc<StateMap>) {
        *lock(&self.inner.state) = Some(state);
    }

    pub(crate) fn set_board(&self, board: Arc<Board>) {
        *lock(&self.inner.board) = Some(board);
    }

    /// A critical task failed for good: the app is to stop, and its run to end in an error.
    pub(crate) fn fail_critically(&self, task: Name, error: TaskError) {
        lock(&self.inner.critical).get_or_insert((task, error));
        self.begin_exit();
    }

    /// The critical task that failed since the run began, if one did.
    pub(crate) fn take_critical_failure(&self) -> Option<(Name, TaskError)> {
        lock(&self.inner.critical).take()
    }

    pub(crate) fn configured_drain_timeout(&self) -> Duration {
        lock(&self.inner.config).drain_timeout
    }

    pub(crate) async fn set_serving(&self, serving: Serving) {
        *self.inner.serving.lock().await = Some(serving);
    }

    /// Stops the server run by `serve`, if one runs: it stops accepting and drains. Returns when
    /// the drain is over, also to a caller that comes while another one drains.
    pub(crate) async fn stop_serving(&self) {
        let mut serving = self.inner.serving.lock().await;
        if let Some(server) = serving.take() {
            server.stop().await;
        }
    }

    pub(crate) fn is_dev_mode(&self) -> bool {
        lock(&self.inner.config).dev_mode
    }

    fn timeouts(&self) -> Timeouts {
        let config = *lock(&self.inner.config);
        Timeouts {
            grace_period: config.grace_period,
            cleanup_timeout: config.cleanup_timeout,
        }
    }

    pub(crate) fn registry(&self) -> MutexGuard<'_, Registry> {
        lock(&self.inner.registry)
    }

    pub(crate) fn exit_signals(&self) -> ExitSignals {
        lock(&self.inner.exit).clone()
    }

    /// Forgets earlier shutdown requests; called when a new run begins.
    pub(crate) fn reset_exit(&self) {
        *lock(&self.inner.exit) = ExitSignals::default();
        lock(&self.inner.critical).take();
    }

    /// Marks that the app is to stop, without forcing.
    pub(crate) fn begin_exit(&self) {
        lock(&self.inner.exit).exit.cancel();
    }

    /// The state of type `T` that a context of the running app provided, for code that is not a
    /// task or context (an HTTP handler, say). `None` if the app is not running or nothing
    /// provides a `T`. After a [reload](Self::reload), it is the new value.
    ///
    /// ```
    /// use lifespan_core::{App, Yield};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> anyhow::Result<()> {
    /// # // Bounded: the example fails, rather than hangs, if a start or stop never ends.
    /// # tokio::time::timeout(std::time::Duration::from_secs(3600), async {
    /// let app = App::empty();
    /// app.register_context("greeting", |lifespan: Yield<String>| async move {
    ///     lifespan.ready_with(String::from("hello")).await;
    /// })?;
    /// assert!(app.state::<String>().is_none());
    /// app.start().await?;
    /// assert_eq!(app.state::<String>().as_deref().map(String::as_str), Some("hello"));
    /// app.shutdown().await;
    /// # Ok(())
    /// # }).await.expect("the example did not finish within an hour of virtual time")
    /// # }
    /// ```
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<State<T>> {
        lock(&self.inner.state).as_ref()?.get::<T>()
    }

    /// Whether the app is running (started, and not yet shut down).
    pub fn is_running(&self) -> bool {
        self.registry().is_running()
    }

    /// Asks the app to shut down, without waiting; tasks may call it (a task must not await
    /// [`shutdown`](Self::shutdown), which waits for every task, itself included).
    ///
    /// The first request ends [`run_until_signal`](Self::run_until_signal) or
    /// [`run_until`](Self::run_until), or interrupts a startup in progress; a second one during
    /// shutdown skips the rest of the grace period.
    pub fn request_shutdown(&self) {
        let signals = lock(&self.inner.exit);
        if signals.exit.is_cancelled() {
            signals.force.cancel();
        } else {
            signals.exit.cancel();
        }
    }

    /// Starts the app: evaluates every argument, sets every context up in order, then starts
    /// every task. Returns when startup is complete.
    ///
    /// If anything fails, every context already set up is cleaned up, in reverse order, before
    /// the error is returned. Must be called within a tokio runtime.
    pub async fn start(&self) -> Result<(), StartupError> {
        self.reset_exit();
        self.start_interruptible().await
    }

    async fn start_locked(&self) -> Result<Generation, StartupError> {
        let plan = self.registry().begin_run()?;
        // Whatever happens from here, a start that does not complete (an error, or a panic
        // unwinding through it) leaves an app that can start again.
        let unwind = NotRunning(self);
        let exit = self.exit_signals().exit;
        let config = *lock(&self.inner.config);
        let limits = startup::Limits {
            timeouts: self.timeouts(),
            blocking_threshold: config.blocking_threshold,
            startup_timeout: config.startup_timeout,
        };
        let started = startup::start(self, &plan, &exit, limits).await;
        if started.is_ok() {
            // The state was published by startup, before it logged its completion.
            std::mem::forget(unwind);
        }
        started
    }

    /// Shuts the app down and says how every task and context ended: signals every task, waits
    /// up to the [grace period](Self::grace_period), aborts the tasks still running, then cleans
    /// the contexts up in reverse setup order, each bounded by the
    /// [cleanup timeout](Self::cleanup_timeout).
    ///
    /// The sequence runs on a task of its own, so it completes even if this future is dropped.
    /// If the app is not running, the report is empty. A call made while another shutdown is
    /// in progress waits for it (grace period included: to cut that short, call
    /// [`request_shutdown`](Self::request_shutdown)) and gets an empty report.
    pub async fn shutdown(&self) -> Report {
        self.begin_exit();
        let app = self.clone();
        let stopping = tokio::spawn(async move {
            // Connections drain before tasks stop; tasks stop before contexts are cleaned up.
            app.stop_serving().await;
            let mut lifecycle = app.inner.lifecycle.lock().await;
            app.stop_locked(&mut lifecycle).await
        });
        match stopping.await {
            Ok(report) => report,
            Err(join) => std::panic::resume_unwind(join.into_panic()),
        }
    }

    async fn stop_locked(&self, lifecycle: &mut Option<Generation>) -> Report {
        let Some(generation) = lifecycle.take() else {
            return Report::default();
        };
        // Even if the shutdown panics, the app is not left marked running.
        let _stopped = NotRunning(self);
        let force = self.exit_signals().force;
        let report = shutdown::stop(generation, self.timeouts(), &force).await;
        lock(&self.inner.state).take();
        tracing::info!("lifespan shutdown complete");
        report
    }

    /// Reloads the app: the whole shutdown sequence, then the whole startup again, with every
    /// argument evaluated anew. Returns the shutdown's report. If the app was not running, it
    /// is only started.
    ///
    /// The sequence runs on a task of its own, so it completes even if this future is dropped.
    pub async fn reload(&self) -> Result<Report, StartupError> {
        let app = self.clone();
        let reloading = tokio::spawn(async move {
            let mut lifecycle = app.inner.lifecycle.lock().await;
            tracing::info!("lifespan reload: stopping");
            let report = app.stop_locked(&mut lifecycle).await;
            tracing::info!("lifespan reload: starting");
            *lifecycle = Some(app.start_locked().await?);
            Ok(report)
        });
        match reloading.await {
            Ok(result) => result,
            Err(join) => std::panic::resume_unwind(join.into_panic()),
        }
    }

    /// `start` without forgetting a shutdown request made before it.
    pub(crate) async fn start_interruptible(&self) -> Result<(), StartupError> {
        let mut lifecycle = self.inner.lifecycle.lock().await;
        if lifecycle.is_some() {
            return Err(StartupError::new(
                StartupErrorKind::AlreadyRunning,
                Report::default(),
            ));
        }
        *lifecycle = Some(self.start_locked().await?);
        Ok(())
    }
}
