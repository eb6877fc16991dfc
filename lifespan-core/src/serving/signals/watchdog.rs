//! Feeding systemd's watchdog (`WatchdogSec=`, seen as `WATCHDOG_USEC`) only while the app is
//! live.
//!
//! The pings come from a thread of their own, not from a timer of the runtime: a timer task on
//! a multi-thread runtime goes on ticking while one of its threads is stuck in a task's poll.
//! The thread sends `WATCHDOG=1` at half of the watchdog period as long as
//! - the runtime runs: a heartbeat task on it stamps the time at the same period, and the thread
//!   pings only while the last stamp is younger than the whole period (a runtime whose threads
//!   are all blocked, a current-thread runtime stuck in one poll, stops the pings); and
//! - no task's poll has run past the app's [stuck limit](crate::AppBuilder::stuck_limit), read
//!   from the start of each poll in progress (as `App::liveness` does). When one has, it sends
//!   `WATCHDOG=trigger` once, with a `STATUS=` line naming the task, so that the service manager
//!   restarts the process now rather than at the end of the period, and pings no more.
//!
//! A critical task that failed for good (not live for `App::liveness`) does not stop the pings:
//! it already ends the run, and a watchdog kill would cut the cleanups of its shutdown short.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use sd_notify::NotifyState;
use tokio::task::JoinHandle;

use crate::base::lock::lock;
use crate::inject::app_handle::{App, WeakApp};
use crate::lifecycle::liveness::Liveness;

use super::systemd::send;

/// The shortest time between two looks of the thread.
const SHORTEST_LOOK: Duration = Duration::from_millis(10);

/// The watchdog of one run: the pinging thread and the runtime's heartbeat.
pub(crate) struct Watchdog {
    stop: Arc<Stop>,
    thread: Option<std::thread::JoinHandle<()>>,
    heartbeat: JoinHandle<()>,
}

/// The last time the runtime ran its heartbeat, in nanoseconds from an epoch.
struct Beat {
    epoch: Instant,
    last: AtomicU64,
}

impl Beat {
    fn stamp(&self) {
        let nanos = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.last.store(nanos, Ordering::Relaxed);
    }

    fn age(&self) -> Duration {
        self.epoch
            .elapsed()
            .saturating_sub(Duration::from_nanos(self.last.load(Ordering::Relaxed)))
    }
}

/// Set when the run ends; the thread waits on it between looks.
#[derive(Default)]
struct Stop {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl Watchdog {
    /// Starts feeding a watchdog of `period` for `app`. Must be called within a tokio runtime.
    pub(crate) fn start(app: &App, period: Duration) -> Self {
        let every = (period / 2).max(Duration::from_millis(1));
        let beat = Arc::new(Beat {
            epoch: Instant::now(),
            last: AtomicU64::new(0),
        });
        let heartbeat = tokio::spawn({
            let beat = beat.clone();
            async move {
                let mut ticks = tokio::time::interval(every);
                loop {
                    ticks.tick().await;
                    beat.stamp();
                }
            }
        });
        let look = app
            .config()
            .stuck_limit
            .map_or(every, |limit| every.min(limit / 2))
            .max(SHORTEST_LOOK);
        let stop = Arc::new(Stop::default());
        let feeder = Feeder {
            app: app.downgrade(),
            beat,
            period,
            every,
            look,
        };
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        let spawned = std::thread::Builder::new()
            .name("lifespan-sd-watchdog".into())
            .spawn({
                let stop = stop.clone();
                move || tracing::dispatcher::with_default(&dispatch, || feeder.run(&stop))
            });
        let thread = match spawned {
            Ok(thread) => Some(thread),
            Err(error) => {
                tracing::warn!(%error, "lifespan: could not start the thread that feeds systemd's watchdog");
                None
            }
        };
        Watchdog {
            stop,
            thread,
            heartbeat,
        }
    }

    /// Stops the pings: none is sent once this returns.
    pub(crate) fn stop(mut self) {
        self.heartbeat.abort();
        *lock(&self.stop.stopped) = true;
        self.stop.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What the pinging thread reads.
struct Feeder {
    app: WeakApp,
    beat: Arc<Beat>,
    /// The watchdog period: the heartbeat is stale past it.
    period: Duration,
    /// How often to ping.
    every: Duration,
    /// How often to look for a stuck task.
    look: Duration,
}

impl Feeder {
    /// Pings at once, then every `every`, until stopped or a task is stuck.
    fn run(&self, stop: &Stop) {
        let mut next_ping = Instant::now();
        let mut stale = false;
        loop {
            if let Some(reason) = self.stuck() {
                tracing::error!("lifespan: {reason}: asking the service manager to restart the process (WATCHDOG=trigger)");
                send(&[NotifyState::WatchdogTrigger, NotifyState::Status(&reason)]);
                return;
            }
            if Instant::now() >= next_ping {
                next_ping = Instant::now() + self.every;
                let age = self.beat.age();
                if age <= self.period {
                    send(&[NotifyState::Watchdog]);
                    stale = false;
                } else if !stale {
                    stale = true;
                    tracing::error!(
                        "lifespan: the runtime has not run for {age:?}: systemd's watchdog is not fed"
                    );
                }
            }
            let wait = self
                .look
                .min(next_ping.saturating_duration_since(Instant::now()));
            if wait_stopped(stop, wait) {
                return;
            }
        }
    }

    /// Why the app is stuck, if a task's poll has run past the stuck limit.
    fn stuck(&self) -> Option<String> {
        let app = self.app.upgrade()?;
        let liveness = app
            .stuck()
            .map(|(task, blocked)| Liveness::Stuck { task, blocked });
        liveness.map(|liveness| liveness.to_string())
    }
}

/// Waits up to `wait` for the stop; whether it came.
fn wait_stopped(stop: &Stop, wait: Duration) -> bool {
    let stopped = lock(&stop.stopped);
    let (stopped, _) = stop
        .wake
        .wait_timeout_while(stopped, wait, |stopped| !*stopped)
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    *stopped
}
