//! Telling systemd where the app is (`Type=notify` / `Type=notify-reload` services): when
//! `NOTIFY_SOCKET` is set, `READY=1` once startup is complete, `RELOADING=1` with
//! `MONOTONIC_USEC` during a reload and `READY=1` after it, `STOPPING=1` when shutdown begins,
//! a `STATUS=` line for each, and `WATCHDOG=1` at half of `WATCHDOG_USEC` while the runtime
//! answers. Only the `*_until_signal` forms notify: they are the ones a supervisor runs.

use std::time::Duration;

use sd_notify::NotifyState;
use tokio::task::JoinHandle;

/// The notifications of one run, if the process runs under systemd's notify protocol.
pub(crate) struct Notifier {
    /// Sends `WATCHDOG=1` while the runtime answers; stopped with the run.
    watchdog: Option<JoinHandle<()>>,
}

impl Notifier {
    /// `None` unless `NOTIFY_SOCKET` is set.
    pub(crate) fn from_env() -> Option<Self> {
        std::env::var_os("NOTIFY_SOCKET")?;
        let watchdog = sd_notify::watchdog_enabled().map(|period| {
            let every = (period / 2).max(Duration::from_millis(1));
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(every);
                loop {
                    ticks.tick().await;
                    send(&[NotifyState::Watchdog]);
                }
            })
        });
        send(&[NotifyState::Status("starting")]);
        Some(Notifier { watchdog })
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

    /// Shutdown is over.
    pub(crate) fn stopped(self) {
        send(&[NotifyState::Status("stopped")]);
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        if let Some(watchdog) = self.watchdog.take() {
            watchdog.abort();
        }
    }
}

fn send(states: &[NotifyState<'_>]) {
    if let Err(error) = sd_notify::notify(states) {
        tracing::warn!(%error, "lifespan: could not notify the service manager");
    }
}
