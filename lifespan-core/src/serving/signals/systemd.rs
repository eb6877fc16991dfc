//! Telling systemd where the app is (`Type=notify` / `Type=notify-reload` services): when
//! `NOTIFY_SOCKET` is set, `READY=1` once startup is complete, `RELOADING=1` with
//! `MONOTONIC_USEC` during a reload and `READY=1` after it, `STOPPING=1` when shutdown begins,
//! a `STATUS=` line for each, `EXTEND_TIMEOUT_USEC=` while setup or shutdown runs, and
//! `WATCHDOG=1` at half of `WATCHDOG_USEC` while the runtime answers and no task is stuck (see
//! [`watchdog`](super::watchdog)). Only the `*_until_signal` forms notify: they are the ones a
//! supervisor runs.

use std::time::Duration;

use sd_notify::NotifyState;
use tokio::task::JoinHandle;

use crate::inject::app_handle::App;
use crate::status::phase::{Phase, Phases};

use super::watchdog::Watchdog;

/// How often `EXTEND_TIMEOUT_USEC=` is sent while setup or shutdown runs.
const EXTEND_EVERY: Duration = Duration::from_secs(1);
/// How far each `EXTEND_TIMEOUT_USEC=` extends the timeout: a few of its periods, so that one
/// late message is no reason to be killed.
const EXTEND_BY: Duration = Duration::from_secs(5);

/// The notifications of one run, if the process runs under systemd's notify protocol.
pub(crate) struct Notifier {
    /// Feeds systemd's watchdog, if it is on, from a thread of its own; stopped with the run.
    watchdog: Option<Watchdog>,
    /// Sends `EXTEND_TIMEOUT_USEC=` while the app starts, drains or stops.
    extender: JoinHandle<()>,
}

impl Notifier {
    /// `None` unless `NOTIFY_SOCKET` is set.
    pub(crate) fn from_env(app: &App) -> Option<Self> {
        std::env::var_os("NOTIFY_SOCKET")?;
        send(&[NotifyState::Status("starting")]);
        let watchdog = sd_notify::watchdog_enabled().map(|period| Watchdog::start(app, period));
        let extender = tokio::spawn(extend_while_busy(app.phases()));
        Some(Notifier { watchdog, extender })
    }

    /// Startup, or a reload, is complete.
    pub(crate) fn ready(&self) {
        send(&[NotifyState::Ready, NotifyState::Status("running")]);
    }

    /// A reload begins.
    pub(crate) fn reloading(&self) {
        let mut states = vec![NotifyState::Reloading];
        if let Ok(now) = NotifyState::monotonic_usec_now() {
            states.push(now);
        }
        states.push(NotifyState::Status("reloading"));
        send(&states);
    }

    /// Shutdown begins.
    pub(crate) fn stopping(&self) {
        send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
    }

    /// Shutdown is over: nothing is sent after this.
    pub(crate) async fn stopped(mut self) {
        if let Some(watchdog) = self.watchdog.take() {
            watchdog.stop();
        }
        self.extender.abort();
        let _ = (&mut self.extender).await;
        send(&[NotifyState::Status("stopped")]);
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.extender.abort();
        if let Some(watchdog) = self.watchdog.take() {
            watchdog.stop();
        }
    }
}

/// Whether the app is in a phase that systemd bounds with a timeout of its own
/// (`TimeoutStartSec=`, `TimeoutStopSec=`).
fn busy(phase: Phase) -> bool {
    matches!(phase, Phase::Starting | Phase::Draining | Phase::Stopping)
}

/// Sends `EXTEND_TIMEOUT_USEC=` when the app begins to start, drain or stop, and every
/// [`EXTEND_EVERY`] while it does, for as long as the runtime runs this task: a runtime blocked
/// in a setup or a cleanup stops extending, and systemd's own timeout applies again.
async fn extend_while_busy(mut phases: Phases) {
    let micros = u32::try_from(EXTEND_BY.as_micros()).unwrap_or(u32::MAX);
    loop {
        if busy(phases.get()) {
            send(&[NotifyState::ExtendTimeoutUsec(micros)]);
            tokio::select! {
                () = tokio::time::sleep(EXTEND_EVERY) => {}
                changed = phases.changed() => if changed.is_none() { return },
            }
        } else if phases.changed().await.is_none() {
            return;
        }
    }
}

/// Sends `states` to the service manager; a failure is logged.
pub(super) fn send(states: &[NotifyState<'_>]) {
    if let Err(error) = sd_notify::notify(states) {
        tracing::warn!(%error, "lifespan: could not notify the service manager");
    }
}
