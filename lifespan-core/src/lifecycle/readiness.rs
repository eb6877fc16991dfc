//! Whether the app is ready for traffic: it runs, has not begun to shut down, and every readiness
//! check registered on it passes within the readiness timeout.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use crate::base::panic::{catching, poll_catching};
use crate::base::redact::redact;
use crate::inject::app_handle::App;
use crate::inject::readiness_checks::{CheckFn, CheckFuture, ReadinessCheck, PHASE_CHECK};
use crate::report::readiness_error::ReadinessCheckError;
use crate::status::phase::Phase;

/// What one readiness probe found: whether the app runs and has not begun to shut down, and the
/// result of each [readiness check](App::add_readiness_check), in the order they were added.
///
/// `{}` prints it as Kubernetes' `/readyz?verbose` does: a line per check, `[+]name ok` or
/// `[-]name failed` (`[-]name timed out`), the app's own first (`phase`), then
/// `readyz check passed` or `readyz check failed`. It never holds a check's error.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Readiness {
    /// Whether the app runs and its shutdown has not begun.
    pub running: bool,
    /// Each check's result; empty while the app does not run (the checks are then not run).
    pub checks: Vec<CheckResult>,
}

/// The result of one readiness check in one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckResult {
    /// The check's name.
    pub name: String,
    /// How it ended.
    pub outcome: CheckOutcome,
}

/// How one readiness check ended in one probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckOutcome {
    /// It returned `Ok(())` within the readiness timeout.
    Passed,
    /// It returned an error, or panicked (the message is logged, not kept).
    Failed,
    /// It did not answer within the readiness timeout.
    TimedOut,
}

impl Readiness {
    /// Whether the app is ready: it runs, its shutdown has not begun, and every check passed.
    pub fn is_ready(&self) -> bool {
        self.running
            && self
                .checks
                .iter()
                .all(|check| check.outcome == CheckOutcome::Passed)
    }
}

impl fmt::Display for Readiness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = |ok: bool| if ok { '+' } else { '-' };
        let phase = if self.running { "ok" } else { "failed" };
        writeln!(f, "[{}]{PHASE_CHECK} {phase}", sign(self.running))?;
        for check in &self.checks {
            let (ok, said) = match check.outcome {
                CheckOutcome::Passed => (true, "ok"),
                CheckOutcome::Failed => (false, "failed"),
                CheckOutcome::TimedOut => (false, "timed out"),
            };
            writeln!(f, "[{}]{} {said}", sign(ok), check.name)?;
        }
        let verdict = if self.is_ready() { "passed" } else { "failed" };
        writeln!(f, "readyz check {verdict}")
    }
}

impl App {
    /// Runs the readiness probe: whether the app runs and has not begun to shut down and, if so,
    /// each [readiness check](Self::add_readiness_check), all at once, each bounded by the
    /// [readiness timeout](crate::AppBuilder::readiness_timeout). What `readiness_handler`
    /// (feature `axum`) answers. A check's error is logged (masked), never returned.
    ///
    /// ```
    /// use lifespan_core::{App, CheckOutcome};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> anyhow::Result<()> {
    /// # tokio::time::timeout(std::time::Duration::from_secs(3600), async {
    /// let app = App::empty();
    /// app.add_readiness_check("cache", || async { Ok::<(), std::io::Error>(()) })?.keep();
    /// assert!(!app.readiness().await.is_ready(), "not started");
    /// app.start().await?;
    /// let readiness = app.readiness().await;
    /// assert!(readiness.is_ready());
    /// assert_eq!(readiness.checks[0].outcome, CheckOutcome::Passed);
    /// assert_eq!(readiness.to_string(), "[+]phase ok\n[+]cache ok\nreadyz check passed\n");
    /// app.shutdown().await;
    /// # Ok(())
    /// # }).await.expect("the example did not finish within an hour of virtual time")
    /// # }
    /// ```
    pub async fn readiness(&self) -> Readiness {
        let running = self.phase() == Phase::Running && !self.exit_signals().exit.is_cancelled();
        if !running {
            return Readiness {
                running,
                checks: Vec::new(),
            };
        }
        let checks = run_all(
            self.shared().readiness.current(),
            self.config().readiness_timeout,
        )
        .await;
        Readiness { running, checks }
    }
}

/// Runs every check at once, each on a task of its own (dropped if the probe is), bounded by
/// `timeout`; their results in the checks' order.
async fn run_all(checks: Vec<(Arc<str>, CheckFn)>, timeout: Duration) -> Vec<CheckResult> {
    let mut running = JoinSet::new();
    for (index, (name, check)) in checks.iter().enumerate() {
        let (name, check) = (name.clone(), check.clone());
        running.spawn(async move { (index, run_one(&name, &check, timeout).await) });
    }
    let mut outcomes = vec![CheckOutcome::Failed; checks.len()];
    while let Some(joined) = running.join_next().await {
        // A check's panic is caught in `run_one`: only a runtime shutting down fails a join.
        if let Ok((index, outcome)) = joined {
            outcomes[index] = outcome;
        }
    }
    checks
        .into_iter()
        .zip(outcomes)
        .map(|((name, _), outcome)| CheckResult {
            name: name.to_string(),
            outcome,
        })
        .collect()
}

/// Runs one check, catching its panic, bounded by `timeout`; logs why it failed.
async fn run_one(name: &str, check: &CheckFn, timeout: Duration) -> CheckOutcome {
    let ran = match catching(|| check()) {
        Ok(mut running) => tokio::time::timeout(timeout, poll_catching(&mut running)).await,
        Err(message) => Ok(Err(message)),
    };
    match ran {
        Ok(Ok(Ok(()))) => CheckOutcome::Passed,
        Ok(Ok(Err(error))) => {
            let error = redact(&format!("{error:#}")).into_owned();
            tracing::warn!(check = name, %error, "lifespan readiness check `{name}` failed");
            CheckOutcome::Failed
        }
        Ok(Err(message)) => {
            let message = redact(&message).into_owned();
            tracing::warn!(check = name, panic = %message, "lifespan readiness check `{name}` panicked");
            CheckOutcome::Failed
        }
        Err(_elapsed) => {
            tracing::warn!(check = name, timeout = ?timeout, "lifespan readiness check `{name}` timed out");
            CheckOutcome::TimedOut
        }
    }
}

impl App {
    /// Registers a readiness check under `name`: while the app runs, the readiness probe
    /// (`readiness_handler`, feature `axum`; or [`App::readiness`]) calls `check` once per
    /// request, all checks concurrently, each bounded by the
    /// [readiness timeout](crate::AppBuilder::readiness_timeout) (1 s by default). The app is
    /// ready only if every check returns `Ok(())` in time; a check that fails, panics or takes
    /// longer makes the probe answer `503`. Its error is logged (with the passwords of URLs
    /// masked), never served: the probe names the check only.
    ///
    /// The check stays registered while the returned [`ReadinessCheck`] lives. A context that
    /// registers one in its setup holds the handle until its cleanup; code that registers one
    /// for the app's whole life calls [`ReadinessCheck::keep`]. The name must be unique among
    /// the app's checks, not empty, free of control characters, and not `phase` (the app's own
    /// line: running, and not shutting down).
    ///
    /// ```
    /// use lifespan_core::{App, Yield};
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> anyhow::Result<()> {
    /// # tokio::time::timeout(std::time::Duration::from_secs(3600), async {
    /// let app = App::empty();
    /// let connected = Arc::new(AtomicBool::new(true));
    /// let seen = connected.clone();
    /// app.register_context("database", move |lifespan: Yield, app: App| {
    ///     let seen = seen.clone();
    ///     async move {
    ///         // A ping of the pool opened here; the handle lives until the cleanup.
    ///         let _check = app.add_readiness_check("database", move || {
    ///             let up = seen.load(Ordering::SeqCst);
    ///             async move { if up { Ok(()) } else { Err(anyhow::anyhow!("no connection")) } }
    ///         })?;
    ///         lifespan.ready().await;
    ///         Ok::<(), anyhow::Error>(())
    ///     }
    /// })?;
    /// app.start().await?;
    /// assert!(app.readiness().await.is_ready());
    /// connected.store(false, Ordering::SeqCst);
    /// let readiness = app.readiness().await;
    /// assert!(!readiness.is_ready());
    /// assert_eq!(readiness.to_string(), "[+]phase ok\n[-]database failed\nreadyz check failed\n");
    /// app.shutdown().await;
    /// # Ok(())
    /// # }).await.expect("the example did not finish within an hour of virtual time")
    /// # }
    /// ```
    pub fn add_readiness_check<F, Fut, E>(
        &self,
        name: impl Into<String>,
        check: F,
    ) -> Result<ReadinessCheck, ReadinessCheckError>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<anyhow::Error> + 'static,
    {
        let check: CheckFn = Arc::new(move || {
            let run = check();
            Box::pin(async move { run.await.map_err(Into::into) }) as CheckFuture
        });
        self.shared().readiness.add(&name.into(), check)
    }
}
