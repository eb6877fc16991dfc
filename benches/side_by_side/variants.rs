//! The variants only the side-by-side benchmark's own process has: the other hand-written
//! baselines, tokio-graceful-shutdown, and the hand-written tasks with a span each.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::measure::{begin, BoxFut, Variant};

/// Hand-written: a `JoinSet`, whose tasks never end by themselves; `abort_all` stops them.
pub struct JoinSetAbort {
    n: usize,
    set: tokio::task::JoinSet<()>,
}

impl JoinSetAbort {
    pub fn new() -> Self {
        JoinSetAbort {
            n: 0,
            set: tokio::task::JoinSet::new(),
        }
    }
}

impl Variant for JoinSetAbort {
    fn register(&mut self, n: usize) {
        self.n = n;
    }

    fn start(&mut self) -> BoxFut<'_, ()> {
        Box::pin(async move {
            for _ in 0..self.n {
                self.set.spawn(async move {
                    begin();
                    std::future::pending::<()>().await;
                });
            }
        })
    }

    fn stop(&mut self) -> BoxFut<'_, ()> {
        Box::pin(async move {
            self.set.abort_all();
            while self.set.join_next().await.is_some() {}
        })
    }
}

/// Hand-written `CancellationToken` + `TaskTracker`, each task instrumented with an INFO span
/// of its own (`.instrument(info_span!(..))`): entered whenever the task is polled.
pub struct TrackerSpan {
    n: usize,
    token: CancellationToken,
    tracker: TaskTracker,
}

impl TrackerSpan {
    pub fn new() -> Self {
        TrackerSpan {
            n: 0,
            token: CancellationToken::new(),
            tracker: TaskTracker::new(),
        }
    }
}

impl Variant for TrackerSpan {
    fn register(&mut self, n: usize) {
        self.n = n;
    }

    fn start(&mut self) -> BoxFut<'_, ()> {
        Box::pin(async move {
            for i in 0..self.n {
                let token = self.token.clone();
                self.tracker.spawn(
                    async move {
                        begin();
                        token.cancelled().await;
                    }
                    .instrument(tracing::info_span!("task", task = i)),
                );
            }
        })
    }

    fn stop(&mut self) -> BoxFut<'_, ()> {
        Box::pin(async move {
            self.token.cancel();
            self.tracker.close();
            self.tracker.wait().await;
        })
    }
}

/// tokio-graceful-shutdown: a toplevel with N subsystems, stopped through its shutdown token.
pub struct GracefulShutdown {
    n: usize,
    token: CancellationToken,
    toplevel: Option<tokio::task::JoinHandle<()>>,
}

impl GracefulShutdown {
    pub fn new() -> Self {
        GracefulShutdown {
            n: 0,
            token: CancellationToken::new(),
            toplevel: None,
        }
    }
}

impl Variant for GracefulShutdown {
    fn register(&mut self, n: usize) {
        self.n = n;
    }

    fn start(&mut self) -> BoxFut<'_, ()> {
        use tokio_graceful_shutdown::{SubsystemBuilder, SubsystemHandle, Toplevel};
        let (n, token) = (self.n, self.token.clone());
        Box::pin(async move {
            let toplevel = Toplevel::new_with_shutdown_token(
                async move |s: &mut SubsystemHandle| {
                    for i in 0..n {
                        s.start(SubsystemBuilder::new(
                            format!("task{i}"),
                            async move |h: &mut SubsystemHandle| {
                                begin();
                                h.on_shutdown_requested().await;
                                Ok::<(), std::convert::Infallible>(())
                            },
                        ));
                    }
                },
                token,
            );
            self.toplevel = Some(tokio::spawn(async move {
                let _ = toplevel
                    .handle_shutdown_requests(Duration::from_secs(60))
                    .await;
            }));
        })
    }

    fn stop(&mut self) -> BoxFut<'_, ()> {
        Box::pin(async move {
            self.token.cancel();
            if let Some(toplevel) = self.toplevel.take() {
                let _ = toplevel.await;
            }
        })
    }
}

/// Hand-written `CancellationToken` + `TaskTracker`, started and stopped from a task of its own
/// (on a worker thread) rather than from the thread that blocks on the runtime: as lifespan's
/// shutdown does, which runs on a task of its own.
pub struct TrackerOnWorker {
    n: usize,
    token: CancellationToken,
    tracker: TaskTracker,
}

impl TrackerOnWorker {
    pub fn new() -> Self {
        TrackerOnWorker {
            n: 0,
            token: CancellationToken::new(),
            tracker: TaskTracker::new(),
        }
    }
}

impl Variant for TrackerOnWorker {
    fn register(&mut self, n: usize) {
        self.n = n;
    }

    fn start(&mut self) -> BoxFut<'_, ()> {
        let (n, token, tracker) = (self.n, self.token.clone(), self.tracker.clone());
        Box::pin(async move {
            tokio::spawn(async move {
                for _ in 0..n {
                    let token = token.clone();
                    tracker.spawn(async move {
                        begin();
                        token.cancelled().await;
                    });
                }
            })
            .await
            .unwrap();
        })
    }

    fn stop(&mut self) -> BoxFut<'_, ()> {
        let (token, tracker) = (self.token.clone(), self.tracker.clone());
        Box::pin(async move {
            tokio::spawn(async move {
                token.cancel();
                tracker.close();
                tracker.wait().await;
            })
            .await
            .unwrap();
        })
    }
}
