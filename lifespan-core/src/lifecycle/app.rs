//! The app's calls that start, stop and reload it, its status and its state.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio_util::sync::CancellationToken;

use crate::base::lock::lock;
use crate::base::name::Name;
use crate::inject::app_handle::{App, ExitSignals, ServerFailure};
use crate::inject::state::State;
use crate::lifecycle::config::Config;
use crate::lifecycle::generation::Generation;
use crate::lifecycle::server_slot::Serving;
use crate::lifecycle::shutdown;
use crate::lifecycle::startup;
use crate::registration::plan::{Registry, Selection};
use crate::replicas::Coordination;
use crate::report::errors::{StartupError, StartupErrorKind};
use crate::report::outcome::Report;
use crate::report::task_error::TaskError;
use crate::status::board::Board;
use crate::status::phase::{Phase, PhaseCell, Phases};
use crate::status::snapshot::Status;

/// `app`'s own part of an [`App`]: what starts, stops and reloads it.
struct Parts {
    registry: Mutex<Registry>,
    /// Fixed at `build`.
    config: Config,
    /// Fixed at `build`.
    coordination: Coordination,
    /// What is running now. Start, shutdown and reload take it in turn.
    lifecycle: tokio::sync::Mutex<Option<Generation>>,
    /// The server run by `serve_until_signal`, if any. Async, held while the server drains, so that every
    /// shutdown waits for the drain, not only the one that started it.
    serving: tokio::sync::Mutex<Option<Serving>>,
    /// The status of the current (or last) start.
    board: Mutex<Option<Arc<Board>>>,
    /// Where the app is in its lifecycle.
    phase: PhaseCell,
}

/// Marks the app not running when dropped: at the end of a shutdown, and when a start does not
/// complete, also by a panic.
struct NotRunning<'a>(&'a App);

impl Drop for NotRunning<'_> {
    fn drop(&mut self) {
        if let Some(board) = &*lock(&self.0.own().board) {
            board.startup_failed();
        }
        self.0.registry().end_run();
        self.0.own().phase.set(Phase::Stopped);
    }
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("config", &self.own().config)
            .finish_non_exhaustive()
    }
}

impl App {
    /// The app `builder` builds: its selection, and its settings fixed for its whole life.
    pub(crate) fn from_parts(
        selection: Selection,
        config: Config,
        coordination: Coordination,
    ) -> Self {
        App::with_parts(Parts {
            registry: Mutex::new(Registry::new(selection)),
            config,
            coordination,
            lifecycle: tokio::sync::Mutex::new(None),
            serving: tokio::sync::Mutex::new(None),
            board: Mutex::new(None),
            phase: PhaseCell::new(),
        })
    }

    /// The name this replica goes by with its coordinator and in the status: the one given to
    /// [`AppBuilder::instance`](crate::AppBuilder::instance), else `host:pid`.
    ///
    /// ```
    /// use lifespan_core::App;
    ///
    /// let app = App::builder().empty().instance("web-1").build();
    /// assert_eq!(app.instance(), "web-1");
    /// ```
    pub fn instance(&self) -> &str {
        &self.own().coordination.instance
    }

    /// Its coordination: the coordinator, its instance name, its settings.
    #[cfg(feature = "axum")]
    pub(crate) fn coordination(&self) -> &Coordination {
        &self.own().coordination
    }

    /// Where the app is in its lifecycle now.
    ///
    /// ```
    /// use lifespan_core::{App, Phase};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> anyhow::Result<()> {
    /// # tokio::time::timeout(std::time::Duration::from_secs(3600), async {
    /// let app = App::empty();
    /// assert_eq!(app.phase(), Phase::Stopped);
    /// app.start().await?;
    /// assert_eq!(app.phase(), Phase::Running);
    /// app.shutdown().await;
    /// assert_eq!(app.phase(), Phase::Stopped);
    /// # Ok(())
    /// # }).await.expect("the example did not finish within an hour of virtual time")
    /// # }
    /// ```
    pub fn phase(&self) -> Phase {
        self.own().phase.get()
    }

    /// Follows the app's phase: wait for a change, or for a given phase, from other code (a
    /// health check, a supervisor protocol, a metrics exporter).
    ///
    /// ```
    /// use lifespan_core::{App, Phase};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> anyhow::Result<()> {
    /// # tokio::time::timeout(std::time::Duration::from_secs(3600), async {
    /// let app = App::empty();
    /// let mut phases = app.phases();
    /// let running = tokio::spawn(async move { phases.wait_for(Phase::Running).await });
    /// app.start().await?;
    /// assert!(running.await?);
    /// app.shutdown().await;
    /// # Ok(())
    /// # }).await.expect("the example did not finish within an hour of virtual time")
    /// # }
    /// ```
    pub fn phases(&self) -> Phases {
        self.own().phase.follow()
    }

    fn own(&self) -> &Parts {
        self.parts::<Parts>()
    }

    /// The settings the app was built with.
    pub(crate) fn config(&self) -> &Config {
        &self.own().config
    }

    /// The lease settings of its singletons that have none of their own.
    #[cfg(feature = "metrics")]
    pub(crate) fn lease_settings(&self) -> crate::replicas::LeaseSettings {
        self.own().coordination.lease
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
        match &*lock(&self.own().board) {
            Some(board) => board.snapshot(),
            None => Status::default(),
        }
    }

    /// The board of the current (or last) start, if the app has started.
    pub(crate) fn board(&self) -> Option<Arc<Board>> {
        lock(&self.own().board).clone()
    }

    fn set_board(&self, board: Arc<Board>) {
        *lock(&self.own().board) = Some(board);
    }

    /// The critical task that failed since the run began, if one did.
    pub(crate) fn take_critical_failure(&self) -> Option<(Name, TaskError)> {
        lock(&self.shared().critical).take()
    }

    /// A server run by the app failed: the app is to stop, and its run to end in that error
    /// (the first one, if the server fails twice).
    pub(crate) fn fail_server(&self, failure: ServerFailure) {
        lock(&self.shared().server).get_or_insert(failure);
        self.begin_exit();
    }

    /// How a server run by the app failed since the run began, if it did.
    pub(crate) fn take_server_failure(&self) -> Option<ServerFailure> {
        lock(&self.shared().server).take()
    }

    pub(crate) async fn set_serving(&self, serving: Serving) {
        *self.own().serving.lock().await = Some(serving);
    }

    /// Stops the server run by `serve_until_signal`, if one runs: it stops accepting and drains. Returns when
    /// the drain is over, also to a caller that comes while another one drains.
    pub(crate) async fn stop_serving(&self) {
        let mut serving = self.own().serving.lock().await;
        if let Some(server) = serving.take() {
            self.own().phase.set(Phase::Draining);
            server.stop(&self.exit_signals().force).await;
        }
    }

    pub(crate) fn registry(&self) -> MutexGuard<'_, Registry> {
        lock(&self.own().registry)
    }

    pub(crate) fn exit_signals(&self) -> ExitSignals {
        lock(&self.shared().exit).clone()
    }

    /// Forgets the shutdown of an earlier run; called when a run ends and when a new one
    /// begins. Signals that have not fired are kept, so that a
    /// [`shutdown_signal`](Self::shutdown_signal) taken before a run (to hand to a server)
    /// belongs to it.
    pub(crate) fn reset_exit(&self) {
        self.renew_exit();
        lock(&self.shared().critical).take();
        lock(&self.shared().server).take();
    }

    /// Fresh exit signals if the current ones have fired.
    fn renew_exit(&self) {
        let mut exit = lock(&self.shared().exit);
        if exit.exit.is_cancelled() {
            *exit = ExitSignals::default();
        }
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
        lock(&self.shared().state).as_ref()?.get::<T>()
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
    ///
    /// ```
    /// use lifespan_core::{App, Shutdown};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> anyhow::Result<()> {
    /// # // Bounded: the example fails, rather than hangs, if a start or stop never ends.
    /// # tokio::time::timeout(std::time::Duration::from_secs(3600), async {
    /// let app = App::empty();
    /// // A task that decides the app is done.
    /// app.register_task("migrate", |app: App| async move {
    ///     // ... run the migrations ...
    ///     app.request_shutdown();
    /// })?;
    /// app.register_task("worker", |shutdown: Shutdown| async move { shutdown.cancelled().await })?;
    /// // Runs until the request, then shuts down.
    /// let report = app.run_until(std::future::pending::<()>()).await?;
    /// assert!(report.is_clean());
    /// # Ok(())
    /// # }).await.expect("the example did not finish within an hour of virtual time")
    /// # }
    /// ```
    pub fn request_shutdown(&self) {
        let signals = lock(&self.shared().exit);
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
    ///
    /// ```
    /// use lifespan_core::{App, ContextOutcome, Yield};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> anyhow::Result<()> {
    /// # // Bounded: the example fails, rather than hangs, if a start or stop never ends.
    /// # tokio::time::timeout(std::time::Duration::from_secs(3600), async {
    /// let app = App::empty();
    /// app.register_context("pool", |lifespan: Yield| async move {
    ///     // open the pool ...
    ///     lifespan.ready().await;
    ///     // close it ...
    /// })?;
    /// app.start().await?;
    /// assert!(app.is_running());
    /// let report = app.shutdown().await;
    /// assert_eq!(report.context("pool"), Some(&ContextOutcome::CleanedUp));
    /// # Ok(())
    /// # }).await.expect("the example did not finish within an hour of virtual time")
    /// # }
    /// ```
    pub async fn start(&self) -> Result<(), StartupError> {
        self.reset_exit();
        self.start_interruptible().await
    }

    async fn start_locked(&self) -> Result<Generation, StartupError> {
        let plan = self.registry().begin_run()?;
        // Whatever happens from here, a start that does not complete (an error, or a panic
        // unwinding through it) leaves an app that can start again.
        let unwind = NotRunning(self);
        self.own().phase.set(Phase::Starting);
        let exit = self.exit_signals().exit;
        let config = self.config();
        let limits = startup::Limits {
            timeouts: config.timeouts(),
            startup_timeout: config.startup_timeout,
        };
        // The board first, so that the status shows the start from its beginning.
        let board = Board::new(
            plan,
            CancellationToken::new(),
            config.blocking_threshold,
            self.own().coordination.clone(),
        );
        let board = Arc::new(board);
        self.set_board(board.clone());
        let started = startup::start(self, board, &exit, limits).await;
        if started.is_ok() {
            // The state was published by startup, before it logged its completion.
            std::mem::forget(unwind);
            self.own().phase.set(Phase::Running);
        }
        started
    }

    /// Shuts the app down and says how every task and context ended: signals every task, waits
    /// up to the [grace period](crate::AppBuilder::grace_period), aborts the tasks still
    /// running, then cleans the contexts up in reverse setup order, each bounded by the
    /// [cleanup timeout](crate::AppBuilder::cleanup_timeout).
    ///
    /// The sequence runs on a task of its own, so it completes even if this future is dropped.
    /// If the app is not running, the report is empty. A call made while another shutdown is
    /// in progress waits for it (grace period included: to cut that short, call
    /// [`request_shutdown`](Self::request_shutdown)) and gets an empty report.
    ///
    /// ```
    /// use lifespan_core::{App, Shutdown, TaskOutcome};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> anyhow::Result<()> {
    /// # // Bounded: the example fails, rather than hangs, if a start or stop never ends.
    /// # tokio::time::timeout(std::time::Duration::from_secs(3600), async {
    /// let app = App::empty();
    /// app.register_task("worker", |shutdown: Shutdown| async move { shutdown.cancelled().await })?;
    /// app.register_task("stubborn", || std::future::pending::<()>())?;
    /// app.start().await?;
    /// let report = app.shutdown().await;
    /// assert_eq!(report.task("worker"), Some(&TaskOutcome::Cancelled));
    /// // It ignored the signal: dropped after the grace period (5 s of virtual time here).
    /// assert_eq!(report.task("stubborn"), Some(&TaskOutcome::Aborted));
    /// # Ok(())
    /// # }).await.expect("the example did not finish within an hour of virtual time")
    /// # }
    /// ```
    pub async fn shutdown(&self) -> Report {
        self.begin_exit();
        let app = self.clone();
        let stopping = tokio::spawn(async move {
            // Connections drain before tasks stop; tasks stop before contexts are cleaned up.
            app.stop_serving().await;
            let mut lifecycle = app.own().lifecycle.lock().await;
            let report = app.stop_locked(&mut lifecycle).await;
            // The run is over: a shutdown signal taken from now on belongs to the next one (the
            // critical failure, if any, stays for the run to report).
            app.renew_exit();
            report
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
        self.own().phase.set(Phase::Stopping);
        let force = self.exit_signals().force;
        let report = shutdown::stop(generation, self.config().timeouts(), &force).await;
        lock(&self.shared().state).take();
        tracing::info!("lifespan shutdown complete");
        report
    }

    /// Reloads the app: the whole shutdown sequence, then the whole startup again, with every
    /// argument evaluated anew. Returns the shutdown's report. If the app was not running, it
    /// is only started.
    ///
    /// The sequence runs on a task of its own, so it completes even if this future is dropped.
    ///
    /// ```
    /// use lifespan_core::{App, Yield};
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::sync::Arc;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> anyhow::Result<()> {
    /// # // Bounded: the example fails, rather than hangs, if a start or stop never ends.
    /// # tokio::time::timeout(std::time::Duration::from_secs(3600), async {
    /// let app = App::empty();
    /// let setups = Arc::new(AtomicU32::new(0));
    /// let counted = setups.clone();
    /// app.register_context("config", move |lifespan: Yield| {
    ///     counted.fetch_add(1, Ordering::SeqCst); // read the configuration anew ...
    ///     async move { lifespan.ready().await }
    /// })?;
    /// app.start().await?;
    /// app.reload().await?;
    /// assert_eq!(setups.load(Ordering::SeqCst), 2);
    /// app.shutdown().await;
    /// # Ok(())
    /// # }).await.expect("the example did not finish within an hour of virtual time")
    /// # }
    /// ```
    pub async fn reload(&self) -> Result<Report, StartupError> {
        let app = self.clone();
        let reloading = tokio::spawn(async move {
            let mut lifecycle = app.own().lifecycle.lock().await;
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
        let mut lifecycle = self.own().lifecycle.lock().await;
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
