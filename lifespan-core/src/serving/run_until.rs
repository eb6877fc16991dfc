//! Running the app until something asks it to stop: a future, a shutdown request, or a signal.

use std::future::Future;
use std::pin::Pin;

use tokio_util::sync::CancellationToken;

use crate::inject::app_handle::{App, ServerFailure};
use crate::lifecycle::server_slot::{Server, Serving};
use crate::report::errors::{RunError, StartupError, StartupErrorKind};
use crate::report::outcome::Report;
use crate::serving::signals::{Notifier, ReloadSignal, StopSignals};

impl App {
    /// Starts the app, runs it until `stop` completes or [shutdown is
    /// requested](Self::request_shutdown), then shuts it down and returns the report.
    ///
    /// If `stop` completes during startup, startup is interrupted: what was set up is cleaned
    /// up and the rollback's report is returned.
    ///
    /// ```
    /// use lifespan_core::{App, Shutdown};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> anyhow::Result<()> {
    /// # // Bounded: the example fails, rather than hangs, if a start or stop never ends.
    /// # tokio::time::timeout(std::time::Duration::from_secs(3600), async {
    /// use std::sync::Arc;
    /// use tokio::sync::Notify;
    ///
    /// let app = App::empty();
    /// let done = Arc::new(Notify::new());
    /// let worker_done = done.clone();
    /// app.register_task("work", move || {
    ///     let done = worker_done.clone();
    ///     async move { done.notify_one() }
    /// })?;
    /// app.register_task("wait", |shutdown: Shutdown| async move { shutdown.cancelled().await })?;
    /// // Runs until the work is done; a service would rather wait for a signal.
    /// let report = app.run_until(done.notified()).await?;
    /// assert_eq!(report.task("work"), Some(&lifespan_core::TaskOutcome::Completed));
    /// assert_eq!(report.task("wait"), Some(&lifespan_core::TaskOutcome::Cancelled));
    /// # Ok(())
    /// # }).await.expect("the example did not finish within an hour of virtual time")
    /// # }
    /// ```
    pub async fn run_until<F: Future>(&self, stop: F) -> Result<Report, RunError> {
        self.reset_exit();
        self.run(stop, None, None, None).await
    }

    /// Runs the app until SIGINT (Ctrl-C) or SIGTERM, then shuts it down gracefully and returns
    /// the report. A second signal skips the rest of the grace period. In
    /// [dev mode](crate::AppBuilder::dev_mode), SIGHUP [reloads](Self::reload) the app.
    ///
    /// A signal during startup interrupts it: what was set up is cleaned up and the rollback's
    /// report is returned. A failed startup or reload is an error.
    ///
    /// The signals are listened for only while this runs: when it returns, SIGINT, SIGTERM (and
    /// SIGHUP in dev mode) get back the disposition they had before (the default action,
    /// usually), unless another call of this library still listens. Code of your own that
    /// listens for them with `tokio::signal` meanwhile loses them too.
    ///
    /// ```no_run
    /// use lifespan_core::{lifespan_task, App, Shutdown};
    ///
    /// #[lifespan_task]
    /// async fn heartbeat(shutdown: Shutdown) {
    ///     let mut ticks = tokio::time::interval(std::time::Duration::from_secs(30));
    ///     while shutdown.run_until_cancelled(ticks.tick()).await.is_some() {
    ///         tracing::info!("alive");
    ///     }
    /// }
    ///
    /// #[tokio::main]
    /// async fn main() -> anyhow::Result<()> {
    ///     // Until Ctrl-C or SIGTERM; a startup or critical failure ends `main` with an error.
    ///     let report = App::new().run_until_signal().await?;
    ///     tracing::info!(clean = report.is_clean(), "stopped");
    ///     Ok(())
    /// }
    /// ```
    pub async fn run_until_signal(&self) -> Result<Report, RunError> {
        self.run_until_signal_serving(None).await
    }

    /// [`run_until_signal`](Self::run_until_signal), serving with `server` while the app is up.
    pub(crate) async fn run_until_signal_serving(
        &self,
        server: Option<Server>,
    ) -> Result<Report, RunError> {
        self.reset_exit();
        // Installed before startup, so that a signal during a slow setup is handled.
        let mut stop_signals = StopSignals::install()?;
        let reload = if self.config().dev_mode {
            Some(ReloadSignal::install()?)
        } else {
            None
        };
        let app = self.clone();
        let listener = tokio::spawn(async move {
            loop {
                let signal = stop_signals.recv().await;
                tracing::info!(signal, "lifespan: shutdown requested");
                app.request_shutdown();
            }
        });
        let notifier = Notifier::from_env(self);
        let result = self
            .run(
                std::future::pending::<()>(),
                reload,
                server,
                notifier.as_ref(),
            )
            .await;
        if let Some(notifier) = notifier {
            notifier.stopped().await;
        }
        listener.abort();
        // Waited for, so that nothing the run started outlives it.
        let _ = listener.await;
        result
    }

    /// Starts the app; once it is up, launches `server`; runs until `stop` completes or shutdown
    /// is requested; then stops the server (draining it) and shuts the app down.
    pub(crate) async fn run<F: Future>(
        &self,
        stop: F,
        mut reload: Option<ReloadSignal>,
        server: Option<Server>,
        notifier: Option<&Notifier>,
    ) -> Result<Report, RunError> {
        let exit = self.exit_signals().exit;
        let mut stop = std::pin::pin!(stop);
        let (started, stopped) = self.start_unless_stopped(stop.as_mut()).await;
        match started {
            Ok(()) => {}
            // Startup logged the interruption.
            Err(error) if matches!(error.kind(), StartupErrorKind::Interrupted { .. }) => {
                self.reset_exit();
                return Ok(error.rollback().clone());
            }
            Err(error) => return Err(error.into()),
        }
        self.launch_server(server).await;
        if let Some(notifier) = notifier {
            notifier.ready();
        }
        let outcome = self
            .serve_until_exit(stop, stopped, &exit, &mut reload, notifier)
            .await;
        if let Some(notifier) = notifier {
            notifier.stopping();
        }
        if let Err(error) = outcome {
            self.stop_serving().await;
            return Err(error);
        }
        let report = self.shutdown().await;
        self.run_result(report)
    }

    /// Starts the app, or, if `stop` completes first, asks startup to stop and waits for it to
    /// roll back. Says whether `stop` completed.
    async fn start_unless_stopped<F: Future>(
        &self,
        mut stop: Pin<&mut F>,
    ) -> (Result<(), StartupError>, bool) {
        let mut starting = std::pin::pin!(self.start_interruptible());
        let first = tokio::select! {
            started = &mut starting => First::Started(started),
            _ = &mut stop => First::Stopped,
        };
        match first {
            First::Started(started) => (started, false),
            First::Stopped => {
                self.begin_exit();
                (starting.await, true)
            }
        }
    }

    /// Once startup is complete (only then may the server accept connections), launches
    /// `server`. The app keeps it, so that any shutdown (the run's, or `App::shutdown` called
    /// elsewhere) drains it before tasks stop; a reload keeps it serving.
    async fn launch_server(&self, server: Option<Server>) {
        if let Some(launch) = server {
            self.set_serving(Serving::launch(
                launch,
                self.config().drain_timeout,
                self.config().drain_delay,
            ))
            .await;
        }
    }

    /// Serves until `stop` completes (unless it already has: `stopped`) or `exit` is cancelled,
    /// reloading the app on each `reload` signal. A failed reload ends it with its error.
    async fn serve_until_exit<F: Future>(
        &self,
        mut stop: Pin<&mut F>,
        stopped: bool,
        exit: &CancellationToken,
        reload: &mut Option<ReloadSignal>,
        notifier: Option<&Notifier>,
    ) -> Result<(), RunError> {
        loop {
            let woken = tokio::select! {
                // A future is not polled again once it has completed.
                _ = &mut stop, if !stopped => Woken::Stop,
                _ = exit.cancelled() => Woken::Stop,
                _ = next_reload(reload), if reload.is_some() => Woken::Reload,
            };
            match woken {
                Woken::Stop => return Ok(()),
                Woken::Reload => self.reload_on_signal(notifier).await?,
            }
        }
    }

    /// Reloads the app on SIGHUP, telling the service manager.
    async fn reload_on_signal(&self, notifier: Option<&Notifier>) -> Result<(), RunError> {
        tracing::info!(signal = "SIGHUP", "lifespan: reload requested");
        if let Some(notifier) = notifier {
            notifier.reloading();
        }
        self.reload().await?;
        if let Some(notifier) = notifier {
            notifier.ready();
        }
        Ok(())
    }

    /// The run's result once the app is shut down: the report, or the failure of the server or
    /// of a critical task that ended the run, with the report.
    fn run_result(&self, report: Report) -> Result<Report, RunError> {
        match self.take_server_failure() {
            Some(ServerFailure::Failed(error)) => {
                return Err(RunError::ServerFailed { error, report })
            }
            Some(ServerFailure::Panicked(message)) => {
                return Err(RunError::ServerPanicked { message, report })
            }
            None => {}
        }
        match self.take_critical_failure() {
            Some((task, error)) => Err(RunError::CriticalTaskFailed {
                task,
                error,
                report,
            }),
            None => Ok(report),
        }
    }
}

/// What ended startup's race with the run's `stop` future.
enum First {
    Started(Result<(), StartupError>),
    Stopped,
}

/// What woke the serving loop.
enum Woken {
    Stop,
    Reload,
}

/// The next reload signal; only awaited while there is one.
async fn next_reload(reload: &mut Option<ReloadSignal>) {
    reload.as_mut().expect("guarded").recv().await;
}
