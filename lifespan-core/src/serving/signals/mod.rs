//! Operating-system signals: SIGINT/SIGTERM ask for shutdown, SIGHUP reloads in dev mode; and
//! systemd's notify protocol, its watchdog fed from a thread of its own.
//!
//! Listened for only while a `*_until_signal` call runs: once the listeners are dropped, the
//! signals get their earlier disposition back (see [`disposition`]).

#[cfg(unix)]
mod disposition;
#[cfg(unix)]
mod systemd;
#[cfg(unix)]
mod watchdog;

#[cfg(unix)]
pub(crate) use systemd::Notifier;

/// Where there is no systemd, nothing to notify.
#[cfg(not(unix))]
pub(crate) struct Notifier;

#[cfg(not(unix))]
impl Notifier {
    pub(crate) fn from_env(_app: &crate::inject::app_handle::App) -> Option<Self> {
        None
    }
    pub(crate) fn ready(&self) {}
    pub(crate) fn reloading(&self) {}
    pub(crate) fn stopping(&self) {}
    pub(crate) async fn stopped(self) {}
}

use crate::report::errors::RunError;

/// Listens for the signals that ask for shutdown: Ctrl-C (SIGINT) and, on Unix, SIGTERM.
pub(crate) struct StopSignals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    /// Dropped after the listeners above (fields drop in order): the signals are given back.
    #[cfg(unix)]
    _claims: [disposition::Claim; 2],
}

impl StopSignals {
    /// Installs the handlers at once, so that a signal sent during startup is not lost.
    pub(crate) fn install() -> Result<Self, RunError> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let claims = [
                disposition::claim(libc::SIGTERM),
                disposition::claim(libc::SIGINT),
            ];
            let install = |kind: SignalKind, signal_name: &'static str| {
                signal(kind).map_err(|source| RunError::Signal {
                    signal: signal_name,
                    source,
                })
            };
            Ok(StopSignals {
                terminate: install(SignalKind::terminate(), "SIGTERM")?,
                interrupt: install(SignalKind::interrupt(), "SIGINT")?,
                _claims: claims,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(StopSignals {})
        }
    }

    /// Waits for the next stop signal; returns its name.
    pub(crate) async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.terminate.recv() => "SIGTERM",
                _ = self.interrupt.recv() => "SIGINT",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

/// Listens for SIGHUP, which reloads the app in dev mode.
pub(crate) struct ReloadSignal {
    #[cfg(unix)]
    hangup: tokio::signal::unix::Signal,
    #[cfg(unix)]
    _claim: disposition::Claim,
}

impl ReloadSignal {
    pub(crate) fn install() -> Result<Self, RunError> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let claim = disposition::claim(libc::SIGHUP);
            let hangup = signal(SignalKind::hangup()).map_err(|source| RunError::Signal {
                signal: "SIGHUP",
                source,
            })?;
            Ok(ReloadSignal {
                hangup,
                _claim: claim,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(ReloadSignal {})
        }
    }

    /// Waits for the next SIGHUP (never returns where there is no SIGHUP).
    pub(crate) async fn recv(&mut self) {
        #[cfg(unix)]
        {
            if self.hangup.recv().await.is_none() {
                std::future::pending::<()>().await;
            }
        }
        #[cfg(not(unix))]
        {
            std::future::pending::<()>().await;
        }
    }
}
