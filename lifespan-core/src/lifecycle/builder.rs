//! The settings of an app and the registrations it selects, built once into an [`App`].

use std::sync::Arc;
use std::time::Duration;

use crate::inject::app_handle::App;
use crate::lifecycle::config::Config;
use crate::registration::entry::RegistrationInfo;
use crate::registration::plan::Selection;
use crate::replicas::{Coordination, Coordinator, InProcess, LeaseSettings};

/// The default [grace period](AppBuilder::grace_period): 5 seconds.
const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(5);
/// The default [cleanup timeout](AppBuilder::cleanup_timeout): 5 seconds.
const DEFAULT_CLEANUP_TIMEOUT: Duration = Duration::from_secs(5);
/// The default drain timeout (`AppBuilder::drain_timeout`): 5 seconds.
const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// The [blocking threshold](AppBuilder::blocking_threshold) when the check is on: 100 ms.
const DEFAULT_BLOCKING_THRESHOLD: Duration = Duration::from_millis(100);
/// The default [readiness timeout](AppBuilder::readiness_timeout): 1 second.
const DEFAULT_READINESS_TIMEOUT: Duration = Duration::from_secs(1);
/// The environment variable that turns dev mode on, read by [`AppBuilder::build`].
/// How often a replica with a coordinator publishes its status, by default.
const DEFAULT_PUBLISH_EVERY: Duration = Duration::from_secs(5);

const DEV_MODE_VAR: &str = "LIFESPAN_DEV";

/// The settings of an app and the registrations it runs, built once into an [`App`] with
/// [`build`](Self::build); start from [`App::builder`].
///
/// The builder holds plain values: changing a clone of it, or the builder after `build`, changes
/// no app already built. The settings of an app never change while it lives.
///
/// ```
/// use lifespan_core::App;
/// use std::time::Duration;
///
/// let app = App::builder()
///     .module(module_path!())
///     .grace_period(Duration::from_secs(10))
///     .cleanup_timeout(Duration::from_secs(2))
///     .build();
/// assert!(!app.is_running());
/// ```
#[derive(Clone)]
pub struct AppBuilder {
    selection: Selection,
    grace_period: Duration,
    cleanup_timeout: Duration,
    drain_timeout: Duration,
    drain_delay: Duration,
    blocking_threshold: Option<Duration>,
    startup_timeout: Option<Duration>,
    readiness_timeout: Duration,
    stuck_limit: Option<Duration>,
    /// `None`: read from `LIFESPAN_DEV` at `build`.
    dev_mode: Option<bool>,
    coordinator: Option<Arc<dyn Coordinator>>,
    /// `None`: `host:pid`, read at `build`.
    instance: Option<String>,
    lease: LeaseSettings,
    /// `None`: every [`DEFAULT_PUBLISH_EVERY`] if a coordinator is set, else never.
    publish_status: Option<Option<Duration>>,
}

impl std::fmt::Debug for AppBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let selection = match &self.selection {
            Selection::All => "all",
            Selection::None => "none",
            Selection::Module(_) => "module",
            Selection::Filter(_) => "filter",
        };
        let mut debug = f.debug_struct("AppBuilder");
        debug.field("selection", &selection);
        if let Selection::Module(prefix) = &self.selection {
            debug.field("module", prefix);
        }
        debug
            .field("grace_period", &self.grace_period)
            .field("cleanup_timeout", &self.cleanup_timeout)
            .field("drain_timeout", &self.drain_timeout)
            .field("drain_delay", &self.drain_delay)
            .field("blocking_threshold", &self.blocking_threshold)
            .field("startup_timeout", &self.startup_timeout)
            .field("readiness_timeout", &self.readiness_timeout)
            .field("stuck_limit", &self.stuck_limit)
            .field("dev_mode", &self.dev_mode)
            .field(
                "coordinator",
                &self.coordinator.as_ref().map(|c| c.describe()),
            )
            .field("instance", &self.instance)
            .field("lease", &self.lease)
            .field("publish_status", &self.publish_status)
            .finish()
    }
}

impl Default for AppBuilder {
    /// Same as [`App::builder`].
    fn default() -> Self {
        App::builder()
    }
}

impl Default for App {
    /// Same as [`App::new`].
    fn default() -> Self {
        App::new()
    }
}

impl App {
    /// Settings and selection for an app, built once: `App::builder().grace_period(..).build()`.
    ///
    /// The builder selects every `#[lifespan_task]` and `#[lifespan_context]` linked into the
    /// program (narrow it with [`empty`](AppBuilder::empty), [`module`](AppBuilder::module) or
    /// [`filter`](AppBuilder::filter)), and starts from the default settings. Dev mode is read
    /// from the environment variable `LIFESPAN_DEV` once, at [`build`](AppBuilder::build), unless
    /// [`dev_mode`](AppBuilder::dev_mode) was called.
    ///
    /// ```
    /// use lifespan_core::App;
    /// use std::time::Duration;
    ///
    /// let app = App::builder().grace_period(Duration::from_secs(10)).build();
    /// # drop(app);
    /// ```
    pub fn builder() -> AppBuilder {
        AppBuilder {
            selection: Selection::All,
            grace_period: DEFAULT_GRACE_PERIOD,
            cleanup_timeout: DEFAULT_CLEANUP_TIMEOUT,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            drain_delay: Duration::ZERO,
            // On where it costs nothing that matters; see `blocking_threshold`.
            blocking_threshold: cfg!(debug_assertions).then_some(DEFAULT_BLOCKING_THRESHOLD),
            startup_timeout: None,
            readiness_timeout: DEFAULT_READINESS_TIMEOUT,
            stuck_limit: None,
            dev_mode: None,
            coordinator: None,
            instance: None,
            lease: LeaseSettings::DEFAULT,
            publish_status: None,
        }
    }

    /// An app that runs every `#[lifespan_task]` and `#[lifespan_context]` linked into the
    /// program, plus what is [registered](Self::register_task) on it by hand, with the default
    /// settings: `App::builder().build()`.
    ///
    /// Dev mode is on if the environment variable `LIFESPAN_DEV` is `1` or `true` when this is
    /// called (it is read once, at [`build`](AppBuilder::build)); to set it in code, or change
    /// another setting, use [`App::builder`].
    pub fn new() -> Self {
        App::builder().build()
    }

    /// An app that runs only what is registered on it by hand, with the default settings:
    /// `App::builder().empty().build()`.
    pub fn empty() -> Self {
        App::builder().empty().build()
    }

    /// An app that runs the macro registrations in module `prefix` and the modules nested in it,
    /// with the default settings: `App::builder().module(prefix).build()`.
    pub fn from_module(prefix: impl Into<String>) -> Self {
        App::builder().module(prefix).build()
    }

    /// An app that runs the macro registrations for which `filter` returns `true`, with the
    /// default settings: `App::builder().filter(filter).build()`.
    pub fn with_filter(
        filter: impl Fn(&RegistrationInfo<'_>) -> bool + Send + Sync + 'static,
    ) -> Self {
        App::builder().filter(filter).build()
    }
}

impl AppBuilder {
    /// Selects no macro registration: the app runs only what is
    /// [registered](App::register_task) on it by hand.
    ///
    /// ```
    /// use lifespan_core::App;
    /// use std::time::Duration;
    ///
    /// let app = App::builder().empty().grace_period(Duration::from_secs(1)).build();
    /// # drop(app);
    /// ```
    pub fn empty(mut self) -> Self {
        self.selection = Selection::None;
        self
    }

    /// Selects the macro registrations in module `prefix` and the modules nested in it, so that
    /// one binary or test file can hold several apps.
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
    /// let billing_only = App::builder()
    ///     .module(concat!(module_path!(), "::billing"))
    ///     .build();
    /// billing_only.start().await?;
    /// let report = billing_only.shutdown().await;
    /// assert_eq!(report.tasks.len(), 1);
    /// assert!(report.tasks[0].name.ends_with("::billing::send_invoices"));
    /// # Ok(())
    /// # }).await.expect("the example did not finish within an hour of virtual time")
    /// # }
    /// ```
    pub fn module(mut self, prefix: impl Into<String>) -> Self {
        self.selection = Selection::Module(prefix.into());
        self
    }

    /// Selects the macro registrations for which `filter` returns `true`.
    ///
    /// ```
    /// use lifespan_core::{App, Kind};
    ///
    /// // Contexts only, no tasks.
    /// let app = App::builder()
    ///     .filter(|registration| registration.kind == Kind::Context)
    ///     .build();
    /// assert!(!app.is_running());
    /// ```
    pub fn filter(
        mut self,
        filter: impl Fn(&RegistrationInfo<'_>) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.selection = Selection::Filter(Arc::new(filter));
        self
    }

    /// How long shutdown waits for tasks to stop after signalling them before it aborts them.
    /// Default: 5 seconds. A second shutdown request (a second Ctrl-C, or
    /// [`request_shutdown`](App::request_shutdown) during shutdown) ends it at once;
    /// `Duration::MAX` waits as long as the tasks take.
    ///
    /// ```
    /// use lifespan_core::App;
    /// use std::time::Duration;
    ///
    /// let app = App::builder().grace_period(Duration::from_secs(30)).build();
    /// # drop(app);
    /// ```
    pub fn grace_period(mut self, grace_period: Duration) -> Self {
        self.grace_period = grace_period;
        self
    }

    /// How long each context's cleanup may take before it is dropped and reported as timed out.
    /// Default: 5 seconds.
    ///
    /// ```
    /// use lifespan_core::App;
    /// use std::time::Duration;
    ///
    /// let app = App::builder().cleanup_timeout(Duration::from_secs(2)).build();
    /// # drop(app);
    /// ```
    pub fn cleanup_timeout(mut self, cleanup_timeout: Duration) -> Self {
        self.cleanup_timeout = cleanup_timeout;
        self
    }

    /// How long a server run by the app ([`App::run_server_until_signal`],
    /// `App::serve_until_signal` with the `axum` feature) may take, once shutdown begins, to
    /// finish the requests in flight before they are dropped; tasks are stopped only after.
    /// Default: 5 seconds.
    ///
    /// ```
    /// use lifespan_core::App;
    /// use std::time::Duration;
    ///
    /// let app = App::builder().drain_timeout(Duration::from_secs(20)).build();
    /// # drop(app);
    /// ```
    pub fn drain_timeout(mut self, drain_timeout: Duration) -> Self {
        self.drain_timeout = drain_timeout;
        self
    }

    /// How long a server run by the app ([`App::run_server_until_signal`],
    /// `App::serve_until_signal` with the `axum` feature) keeps serving once shutdown begins,
    /// before it stops accepting and drains. Default: none.
    ///
    /// Under Kubernetes, a pod being terminated gets SIGTERM while the load balancers still
    /// send it traffic for a few seconds, until they see it removed from the endpoints. With a
    /// drain delay, readiness (`readiness_handler`, feature `axum`) fails at once, so the pod
    /// leaves the endpoints, while requests that still arrive are served rather than refused.
    /// A few
    /// seconds (longer than the readiness probe's period) is typical; keep
    /// `terminationGracePeriodSeconds` above the delay, the drain timeout, the grace period and
    /// the cleanups together. A second shutdown request (a second SIGTERM) cuts it short.
    ///
    /// ```
    /// use lifespan_core::App;
    /// use std::time::Duration;
    ///
    /// let app = App::builder().drain_delay(Duration::from_secs(5)).build();
    /// # drop(app);
    /// ```
    pub fn drain_delay(mut self, drain_delay: Duration) -> Self {
        self.drain_delay = drain_delay;
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
    /// let app = App::builder()
    ///     .blocking_threshold(Some(Duration::from_millis(50)))
    ///     .build();
    /// # drop(app);
    /// ```
    pub fn blocking_threshold(mut self, threshold: Option<Duration>) -> Self {
        self.blocking_threshold = threshold;
        self
    }

    /// How long the setups of all contexts may take together, from the first to the last,
    /// before startup fails with
    /// [`StartupErrorKind::SetupTimedOut`](crate::StartupErrorKind::SetupTimedOut) naming the
    /// context whose setup was running; the contexts already set up are then cleaned up.
    /// Default: no limit.
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
    /// let app = App::builder()
    ///     .empty()
    ///     .startup_timeout(Duration::from_secs(30))
    ///     .build();
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
    pub fn startup_timeout(mut self, startup_timeout: Duration) -> Self {
        self.startup_timeout = Some(startup_timeout);
        self
    }

    /// How long each readiness check ([`App::add_readiness_check`]) may take, per probe,
    /// before it counts as failed (named `timed out` in the verbose answer). Default: 1 second.
    ///
    /// ```
    /// use lifespan_core::App;
    /// use std::time::Duration;
    ///
    /// let app = App::builder().readiness_timeout(Duration::from_millis(500)).build();
    /// # drop(app);
    /// ```
    pub fn readiness_timeout(mut self, timeout: Duration) -> Self {
        self.readiness_timeout = timeout;
        self
    }

    /// How long a task's poll may go without returning (a task stuck in `std::thread::sleep`,
    /// blocking I/O, a deadlock) before the app is not live: [`App::liveness`] says which task
    /// is stuck, the liveness probe (`liveness_handler`, feature `axum`) answers `503`, and
    /// under systemd's watchdog (`WatchdogSec=`) the `*_until_signal` forms send
    /// `WATCHDOG=trigger` with a `STATUS=` line naming the task instead of `WATCHDOG=1`, so
    /// that the service manager restarts the process. The app is live again if the poll
    /// returns (but the watchdog, once triggered, is not fed again). Default: none.
    ///
    /// Only the polls of tasks are timed, not the setups and cleanups of contexts. The start of
    /// each poll is what the [blocking check](Self::blocking_threshold) records: with a stuck
    /// limit and the check off, the check is turned on with the stuck limit as its threshold.
    /// Keep the limit above the longest poll you accept and, under systemd, below `WatchdogSec=`.
    ///
    /// ```
    /// use lifespan_core::App;
    /// use std::time::Duration;
    ///
    /// let app = App::builder().stuck_limit(Duration::from_secs(10)).build();
    /// # drop(app);
    /// ```
    pub fn stuck_limit(mut self, limit: Duration) -> Self {
        self.stuck_limit = Some(limit);
        self
    }

    /// Dev mode: [`run_until_signal`](App::run_until_signal) also [reloads](App::reload) on
    /// SIGHUP. Calling this overrides the environment: without it, [`build`](Self::build) reads
    /// the environment variable `LIFESPAN_DEV` (on if it is `1` or `true`), once.
    ///
    /// ```
    /// use lifespan_core::App;
    ///
    /// // Off whatever `LIFESPAN_DEV` says.
    /// let app = App::builder().dev_mode(false).build();
    /// # drop(app);
    /// ```
    pub fn dev_mode(mut self, on: bool) -> Self {
        self.dev_mode = Some(on);
        self
    }

    /// Where this app's replicas agree on who runs a singleton task and each point of a
    /// once-per-point task: a PostgreSQL database with `lifespan_postgres::PgCoordinator`, say.
    /// Every replica of the app is given a coordinator for the same place. Default: the
    /// [`InProcess`] coordinator, for an app that runs as one process (every lease granted to
    /// it). The coordinator is prepared (connected, its tables created) at every startup of an
    /// app that has a singleton or once-per-point task; if that fails, so does the startup.
    ///
    /// ```
    /// use lifespan_core::{App, InProcess};
    ///
    /// // Two apps sharing one in-process coordinator behave like two replicas.
    /// let coordinator = InProcess::new();
    /// let first = App::builder().empty().coordinator(coordinator.clone()).instance("first").build();
    /// let second = App::builder().empty().coordinator(coordinator).instance("second").build();
    /// # drop((first, second));
    /// ```
    pub fn coordinator(mut self, coordinator: impl Coordinator) -> Self {
        self.coordinator = Some(Arc::new(coordinator));
        self
    }

    /// The name this replica is known by to the coordinator and in the status: unique among the
    /// replicas. Default: `host:pid` (the host name, then the process id). A control character
    /// in it (a newline, say) is replaced by `?`: the name is written into logs.
    pub fn instance(mut self, instance: impl Into<String>) -> Self {
        let instance: String = instance.into();
        self.instance = Some(
            instance
                .chars()
                .map(|c| {
                    if crate::base::name::forbidden(c) {
                        '?'
                    } else {
                        c
                    }
                })
                .collect(),
        );
        self
    }

    /// How often this replica publishes its status (its tasks and contexts, without error
    /// messages) to the [coordinator](Self::coordinator), so that the status route and the
    /// dashboard of every replica show it; `None`: never. The status is kept for 3 periods
    /// (then the replica shows as silent), and forgotten an hour later. Default: every 5 s
    /// when a coordinator is set, never otherwise. Needs the `serde` feature (which `axum`
    /// turns on): without it, nothing is published.
    ///
    /// A publication is one call to the coordinator (one statement with `lifespan-postgres`);
    /// one that fails is logged and tried again at the next period.
    ///
    /// ```
    /// use lifespan_core::{App, InProcess};
    /// use std::time::Duration;
    ///
    /// let app = App::builder()
    ///     .coordinator(InProcess::new())
    ///     .publish_status(Some(Duration::from_secs(10)))
    ///     .build();
    /// # drop(app);
    /// ```
    pub fn publish_status(mut self, every: Option<Duration>) -> Self {
        self.publish_status = Some(every.filter(|every| !every.is_zero()));
        self
    }

    /// The lease settings of the singleton tasks that have none of their own. Default:
    /// [`LeaseSettings::DEFAULT`] (a lease of 15 s, a renew deadline of 10 s, a retry period of
    /// 2 s).
    ///
    /// ```
    /// use lifespan_core::{App, LeaseSettings};
    /// use std::time::Duration;
    ///
    /// let settings = LeaseSettings::new(Duration::from_secs(5), Duration::from_secs(3), Duration::from_secs(1))?;
    /// let app = App::builder().lease(settings).build();
    /// # drop(app);
    /// # Ok::<(), lifespan_core::InvalidLeaseSettings>(())
    /// ```
    pub fn lease(mut self, settings: LeaseSettings) -> Self {
        self.lease = settings;
        self
    }

    /// Builds the app. Its settings are fixed from here on; the builder (or a clone of it) may
    /// build more apps, each with its own registrations and its own run.
    ///
    /// If [`dev_mode`](Self::dev_mode) was not called, dev mode is read here, once, from the
    /// environment variable `LIFESPAN_DEV`: on if it is `1` or `true`.
    ///
    /// ```
    /// use lifespan_core::App;
    /// use std::time::Duration;
    ///
    /// let builder = App::builder().empty().grace_period(Duration::from_secs(1));
    /// let first = builder.clone().build();
    /// let second = builder.build();
    /// assert!(!first.is_running() && !second.is_running());
    /// ```
    pub fn build(self) -> App {
        let dev_mode = self.dev_mode.unwrap_or_else(|| {
            std::env::var(DEV_MODE_VAR).is_ok_and(|value| value == "1" || value == "true")
        });
        let config = Config {
            grace_period: self.grace_period,
            cleanup_timeout: self.cleanup_timeout,
            dev_mode,
            drain_timeout: self.drain_timeout,
            drain_delay: self.drain_delay,
            // A stuck limit needs the start of each poll: it turns the check on if it is off.
            blocking_threshold: self.blocking_threshold.or(self.stuck_limit),
            startup_timeout: self.startup_timeout,
            readiness_timeout: self.readiness_timeout,
            stuck_limit: self.stuck_limit,
        };
        let publish_every = self
            .publish_status
            .unwrap_or_else(|| self.coordinator.is_some().then_some(DEFAULT_PUBLISH_EVERY));
        let coordination = Coordination {
            coordinator: self
                .coordinator
                .unwrap_or_else(|| Arc::new(InProcess::new())),
            instance: self
                .instance
                .unwrap_or_else(crate::replicas::default_instance)
                .into(),
            lease: self.lease,
            publish_every,
        };
        App::from_parts(self.selection, config, coordination)
    }
}
