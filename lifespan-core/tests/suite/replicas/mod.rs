//! Singleton and once-per-point tasks across replicas: apps in one process sharing a test
//! coordinator, in virtual time (a current-thread runtime with paused time). Every wait is
//! bounded by an hour of virtual time, and every test by 30 s of real time (`real_time.rs`).

/// Tasks operated by hand across replicas: pauses and manual runs.
mod control;
/// Also the coordinator of the replicas property of `fault_injection/`.
pub(crate) mod coordinator;
/// Every replica's status, published through the coordinator and shown by the others' routes.
#[cfg(feature = "axum")]
mod fleet;
/// The run ledger of once-per-point tasks.
mod ledger;
mod point;
/// The bound on real time; also of `schedules.rs`, and `real_time_case` is for the properties
/// of `fault_injection/`.
pub(crate) mod real_time;
/// The ledger seen from every replica: `App::ledger`, the status route, missed points.
mod visible;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use coordinator::{TestCoordinator, VANISHED};
use lifespan_core::{
    App, InProcess, Lease, LeaseSettings, Restart, RunState, Shutdown, StartupErrorKind,
    TaskOptions, TaskOutcome,
};
use lifespan_test_support::{bounded, CapturedLogs, WAIT_LIMIT};
use real_time::{paused, REAL_LIMIT};
use tokio::time::{sleep, Instant};

const MS: Duration = Duration::from_millis(1);
const S: Duration = Duration::from_secs(1);

/// A lease of 3 s, a renew deadline of 2 s, a retry period of 500 ms.
fn fast() -> LeaseSettings {
    LeaseSettings::new(3 * S, 2 * S, 500 * MS).unwrap()
}

/// Events with the virtual time they happened at.
#[derive(Clone)]
struct Log {
    epoch: Instant,
    events: Arc<Mutex<Vec<(Duration, String)>>>,
}

impl Log {
    fn new() -> Self {
        Log {
            epoch: Instant::now(),
            events: Arc::default(),
        }
    }

    fn push(&self, event: String) {
        self.events
            .lock()
            .unwrap()
            .push((self.epoch.elapsed(), event));
    }

    fn events(&self) -> Vec<(Duration, String)> {
        self.events.lock().unwrap().clone()
    }

    fn names(&self) -> Vec<String> {
        self.events().into_iter().map(|(_, event)| event).collect()
    }
}

/// Waits, 10 ms of virtual time at a time, while `condition` holds; fails after an hour.
async fn wait_while(what: &str, condition: impl Fn() -> bool) {
    bounded(what, WAIT_LIMIT, async {
        while condition() {
            sleep(10 * MS).await;
        }
    })
    .await;
}

/// Shuts `apps` down, one after the other.
async fn shut_down(apps: &[&App]) {
    bounded("shutdown", WAIT_LIMIT, async {
        for app in apps {
            app.shutdown().await;
        }
    })
    .await;
}

/// A replica: an app named `instance` on `coordinator`, running the singleton `sweep`, which
/// logs its start and stop with its token and runs until its signal.
/// An app with nothing registered yet, replica `instance` on `coordinator`, with [`fast`]
/// lease settings.
fn bare_replica(coordinator: impl lifespan_core::Coordinator, instance: &str) -> App {
    App::builder()
        .empty()
        .coordinator(coordinator)
        .instance(instance)
        .lease(fast())
        .build()
}

fn replica(instance: &'static str, coordinator: impl lifespan_core::Coordinator, log: &Log) -> App {
    replica_with(instance, coordinator, log, fast())
}

/// A replica as [`replica`] makes, with lease settings `settings`.
fn replica_with(
    instance: &'static str,
    coordinator: impl lifespan_core::Coordinator,
    log: &Log,
    settings: LeaseSettings,
) -> App {
    let app = App::builder()
        .empty()
        .coordinator(coordinator)
        .instance(instance)
        .lease(settings)
        .build();
    let log = log.clone();
    app.register_task_with(
        "sweep",
        TaskOptions::new().singleton(true),
        move |lease: Lease, shutdown: Shutdown| {
            let log = log.clone();
            async move {
                // The lease's instance, not `instance`: it is the app's.
                log.push(format!("{} start {}", lease.instance(), lease.token()));
                shutdown.cancelled().await;
                log.push(format!(
                    "{instance} stop {} lost={}",
                    lease.token(),
                    lease.is_lost()
                ));
            }
        },
    )
    .unwrap();
    app
}

#[test]
fn one_replica_runs_a_singleton_and_a_standby_takes_over_within_a_retry_of_a_shutdown() {
    paused(
        "one_replica_runs_a_singleton_and_a_standby_takes_over_within_a_retry_of_a_shutdown",
        REAL_LIMIT,
        || async {
            let coordinator = InProcess::new();
            let log = Log::new();
            let a = replica("a", coordinator.clone(), &log);
            let b = replica("b", coordinator.clone(), &log);
            bounded("start a", WAIT_LIMIT, a.start()).await.unwrap();
            sleep(10 * MS).await;
            bounded("start b", WAIT_LIMIT, b.start()).await.unwrap();
            sleep(10 * S).await;
            assert_eq!(
                log.names(),
                ["a start 1"],
                "only a runs it, renewing its lease"
            );

            let standby = b.status();
            let task = standby.task("sweep").unwrap();
            assert_eq!(task.state, RunState::Standby);
            let lease = task.lease.as_ref().unwrap();
            assert!(!lease.held_here);
            let holder = lease.holder.as_ref().unwrap();
            assert_eq!((holder.instance.as_str(), holder.token), ("a", 1));
            let held = a.status();
            let lease = held.task("sweep").unwrap().lease.clone().unwrap();
            assert!(lease.held_here && lease.terms == 1);

            let stopped = Instant::now();
            let report = bounded("shutdown a", WAIT_LIMIT, a.shutdown()).await;
            assert_eq!(report.tasks[0].terms, 1);
            wait_while("b takes over", || {
                b.status().task("sweep").unwrap().state != RunState::Running
            })
            .await;
            let handover = stopped.elapsed();
            assert!(
                handover <= 500 * MS + 10 * MS,
                "handover took {handover:?}, more than a retry period"
            );
            sleep(MS).await;
            assert_eq!(
                log.names(),
                ["a start 1", "a stop 1 lost=false", "b start 2"]
            );
            let report = bounded("shutdown b", WAIT_LIMIT, b.shutdown()).await;
            assert_eq!(report.task("sweep"), Some(&TaskOutcome::Cancelled));
            assert_eq!(report.tasks[0].terms, 1);
        },
    );
}

#[test]
fn a_holder_that_cannot_renew_stops_its_task_at_the_renew_deadline_before_the_lease_expires() {
    paused(
        "a_holder_that_cannot_renew_stops_its_task_at_the_renew_deadline_before_the_lease_expires",
        REAL_LIMIT,
        || async {
            for fault in ["fails", "hangs"] {
                let coordinator = TestCoordinator::new();
                let log = Log::new();
                let a = replica("a", coordinator.clone(), &log);
                let b = replica("b", coordinator.clone(), &log);
                bounded("start a", WAIT_LIMIT, a.start()).await.unwrap();
                bounded("start b", WAIT_LIMIT, b.start()).await.unwrap();
                sleep(5 * S + 250 * MS).await;
                // a renewed last at 5 s (every 500 ms): its renew deadline is 7 s, its lease 8 s.
                let flag = match fault {
                    "fails" => &coordinator.faults().renew_fails,
                    _ => &coordinator.faults().renew_hangs,
                };
                flag.store(true, Ordering::Relaxed);
                wait_while("the holder stops", || {
                    !log.names().iter().any(|e| e.starts_with("a stop"))
                })
                .await;
                let (stopped_at, event) = log.events()[1].clone();
                assert_eq!(event, "a stop 1 lost=true", "renewal {fault}");
                assert!(
                    stopped_at <= 7 * S + 10 * MS && stopped_at >= 6 * S,
                    "renewal {fault}: stopped at {stopped_at:?}, not by the renew deadline (7 s)"
                );
                flag.store(false, Ordering::Relaxed);
                wait_while("the next term", || log.events().len() < 3).await;
                let (took_over_at, event) = log.events()[2].clone();
                assert!(event.ends_with("start 2"), "{event}");
                assert!(
            took_over_at >= stopped_at,
            "renewal {fault}: b started at {took_over_at:?} before a stopped at {stopped_at:?}"
        );
                shut_down(&[&a, &b]).await;
            }
        },
    );
}

/// Found by the replicas property: a holder whose renewals fail at once tried again a whole
/// retry period after each failure, and noticed the renew deadline only at its first try past
/// it: up to a retry period late. With a retry period longer than the margin between the renew
/// deadline and the lease, its task still ran after the lease had expired on the coordinator,
/// and another replica held it.
#[test]
fn a_holder_whose_renewals_fail_stops_its_task_at_the_renew_deadline_not_a_retry_later() {
    paused(
        "a_holder_whose_renewals_fail_stops_its_task_at_the_renew_deadline_not_a_retry_later",
        REAL_LIMIT,
        || async {
            // A margin of 100 ms between the renew deadline and the lease, a retry of 600 ms.
            let settings = LeaseSettings::new(1100 * MS, 1000 * MS, 600 * MS).unwrap();
            let coordinator = TestCoordinator::new();
            let log = Log::new();
            let a = replica_with("a", coordinator.clone(), &log, settings);
            let b = replica_with("b", coordinator.clone(), &log, settings);
            bounded("start a", WAIT_LIMIT, a.start()).await.unwrap();
            // a renews at 600 ms, then fails from 700 ms: its renew deadline is 1.6 s, its lease
            // expires at 1.7 s. b asks at 1.15 s, then every 600 ms: at 1.75 s it gets the lease.
            sleep(700 * MS).await;
            coordinator
                .faults()
                .renew_fails
                .store(true, Ordering::Relaxed);
            sleep(450 * MS).await;
            bounded("start b", WAIT_LIMIT, b.start()).await.unwrap();
            bounded("a stops and b holds it", WAIT_LIMIT, async {
                let names = || log.names();
                while !(names().contains(&"b start 2".to_string())
                    && names().contains(&"a stop 1 lost=true".to_string()))
                {
                    sleep(10 * MS).await;
                }
            })
            .await;
            let events = log.events();
            let at = |wanted: &str| {
                events
                    .iter()
                    .find(|(_, event)| event == wanted)
                    .map(|(at, _)| *at)
                    .unwrap_or_else(|| panic!("no {wanted:?} in {events:?}"))
            };
            let (stopped, took_over) = (at("a stop 1 lost=true"), at("b start 2"));
            assert!(
                stopped <= 1600 * MS,
                "a stopped at {stopped:?}, after its renew deadline (1.6 s): {events:?}"
            );
            assert!(
                took_over >= stopped,
                "b started at {took_over:?} while a still ran: {events:?}"
            );
            shut_down(&[&a, &b]).await;
        },
    );
}

#[test]
fn a_refused_renewal_loses_the_lease_and_the_replica_competes_again_with_a_new_token() {
    paused(
        "a_refused_renewal_loses_the_lease_and_the_replica_competes_again_with_a_new_token",
        REAL_LIMIT,
        || async {
            let coordinator = TestCoordinator::new();
            let log = Log::new();
            let a = replica("a", coordinator.clone(), &log);
            bounded("start", WAIT_LIMIT, a.start()).await.unwrap();
            sleep(2 * S + 250 * MS).await;
            // Refused at 2.5 s; asked for again a retry period later, at 3 s, and renewed from then on.
            coordinator
                .faults()
                .renew_refused
                .store(true, Ordering::Relaxed);
            sleep(500 * MS).await;
            coordinator
                .faults()
                .renew_refused
                .store(false, Ordering::Relaxed);
            wait_while("a holds it again", || {
                !log.names().contains(&"a start 2".to_string())
            })
            .await;
            assert_eq!(
                log.names(),
                ["a start 1", "a stop 1 lost=true", "a start 2"]
            );
            let report = bounded("shutdown", WAIT_LIMIT, a.shutdown()).await;
            assert_eq!(report.tasks[0].terms, 2);
            assert_eq!(report.tasks[0].restarts, 0, "a lost lease is no restart");
        },
    );
}

#[test]
fn a_body_that_ignores_its_lost_lease_is_dropped_when_the_lease_expires() {
    paused(
        "a_body_that_ignores_its_lost_lease_is_dropped_when_the_lease_expires",
        REAL_LIMIT,
        || async {
            let coordinator = TestCoordinator::new();
            let app = App::builder()
                .empty()
                .coordinator(coordinator.clone())
                .instance("a")
                .lease(fast())
                .build();
            let dropped = Arc::new(Mutex::new(None));
            let epoch = Instant::now();
            struct OnDrop(Arc<Mutex<Option<Duration>>>, Instant);
            impl Drop for OnDrop {
                fn drop(&mut self) {
                    *self.0.lock().unwrap() = Some(self.1.elapsed());
                }
            }
            let seen = dropped.clone();
            app.register_task_with("stubborn", TaskOptions::new().singleton(true), move || {
                let seen = seen.clone();
                async move {
                    // Made in the body: the body called at startup to check the arguments never runs.
                    let _guard = OnDrop(seen, epoch);
                    std::future::pending::<()>().await;
                }
            })
            .unwrap();
            bounded("start", WAIT_LIMIT, app.start()).await.unwrap();
            sleep(1 * S + 250 * MS).await;
            coordinator
                .faults()
                .renew_fails
                .store(true, Ordering::Relaxed);
            wait_while("the body is dropped", || dropped.lock().unwrap().is_none()).await;
            let at = dropped.lock().unwrap().unwrap();
            // Renewed last at 1 s: the renew deadline is at 3 s, the lease expires at 4 s.
            assert!(
                at <= 4 * S && at > 3 * S,
                "dropped at {at:?}, not when the lease expired (4 s)"
            );
            assert!(coordinator.holder("stubborn").is_none() || at >= 4 * S);
            bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
        },
    );
}

/// Found by the replicas property: a body that ignores its lost lease was dropped *at* the
/// lease's local expiry, the instant at which the coordinator may already grant the lease to
/// another replica (a lease is held until, not through, its expiry). When the coordinator
/// answers at once, the local expiry is the coordinator's own, and a standby asking at that
/// instant started its body while the old one still existed (on several workers, while it may
/// still be polled).
#[test]
fn a_body_that_ignores_its_lost_lease_is_gone_before_a_standby_can_take_the_lease() {
    paused(
        "a_body_that_ignores_its_lost_lease_is_gone_before_a_standby_can_take_the_lease",
        REAL_LIMIT,
        || async {
            let coordinator = TestCoordinator::new();
            let log = Log::new();
            let apps: Vec<App> = ["a", "b"]
                .into_iter()
                .map(|instance| {
                    let app = App::builder()
                        .empty()
                        .coordinator(coordinator.clone())
                        .instance(instance)
                        .lease(fast())
                        .build();
                    let log = log.clone();
                    app.register_task_with(
                        "stubborn",
                        TaskOptions::new().singleton(true),
                        move |lease: Lease| {
                            let log = log.clone();
                            async move {
                                struct OnDrop(Log, String);
                                impl Drop for OnDrop {
                                    fn drop(&mut self) {
                                        self.0.push(std::mem::take(&mut self.1));
                                    }
                                }
                                // The lease's instance, not `instance`: it is the app's.
                                log.push(format!("{} start {}", lease.instance(), lease.token()));
                                let _guard =
                                    OnDrop(log, format!("{instance} dropped {}", lease.token()));
                                std::future::pending::<()>().await;
                            }
                        },
                    )
                    .unwrap();
                    app
                })
                .collect();
            for app in &apps {
                bounded("start", WAIT_LIMIT, app.start()).await.unwrap();
            }
            // a renews every 500 ms, b asks every 500 ms, in step. a renews last at 1 s: its renew
            // deadline is at 3 s, its lease expires at 4 s, and b asks at 4 s.
            sleep(1250 * MS).await;
            coordinator
                .faults()
                .renew_fails
                .store(true, Ordering::Relaxed);
            wait_while("b holds it", || {
                !log.names().contains(&"b start 2".to_string())
            })
            .await;
            let names = log.names();
            let position = |wanted: &str| names.iter().position(|name| name == wanted);
            assert!(
                position("a dropped 1")
                    .is_some_and(|dropped| Some(dropped) < position("b start 2")),
                "b started while a's body still existed: {:?}",
                log.events()
            );
            let (dropped_at, _) = log.events()[1].clone();
            assert!(
                dropped_at < 4 * S && dropped_at > 3 * S,
                "a's body dropped at {dropped_at:?}, not just before its lease expired (4 s)"
            );
            for app in &apps {
                bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
            }
        },
    );
}

/// Found by the replicas property: a singleton whose body ignores the app's shutdown is
/// aborted at the end of the grace period, and its lease was left to expire (up to a lease
/// period) instead of being given up, although the body was gone: a standby waited for the
/// expiry, as after a crash.
#[test]
fn a_singleton_aborted_at_the_end_of_the_grace_period_gives_its_lease_up() {
    paused(
        "a_singleton_aborted_at_the_end_of_the_grace_period_gives_its_lease_up",
        REAL_LIMIT,
        || async {
            let coordinator = TestCoordinator::new();
            let app = App::builder()
                .empty()
                .coordinator(coordinator.clone())
                .instance("a")
                .lease(fast())
                .grace_period(100 * MS)
                .build();
            app.register_task_with("stubborn", TaskOptions::new().singleton(true), || {
                std::future::pending::<()>()
            })
            .unwrap();
            bounded("start", WAIT_LIMIT, app.start()).await.unwrap();
            sleep(S).await;
            assert_eq!(coordinator.holder("stubborn"), Some(("a".to_string(), 1)));
            let report = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
            assert_eq!(report.task("stubborn"), Some(&TaskOutcome::Aborted));
            tokio::task::yield_now().await;
            assert_eq!(
                coordinator.holder("stubborn"),
                None,
                "the lease outlives the app"
            );
            let alive = tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks();
            assert_eq!(alive, 0, "tasks left behind");
        },
    );
}

#[test]
fn a_coordinator_outage_keeps_a_standby_in_standby_and_it_takes_over_when_it_ends() {
    paused(
        "a_coordinator_outage_keeps_a_standby_in_standby_and_it_takes_over_when_it_ends",
        REAL_LIMIT,
        || async {
            let coordinator = TestCoordinator::new();
            let log = Log::new();
            let a = replica("a", coordinator.clone(), &log);
            bounded("start", WAIT_LIMIT, a.start()).await.unwrap();
            sleep(10 * MS).await;
            coordinator.faults().down.store(true, Ordering::Relaxed);
            sleep(10 * S).await;
            assert_eq!(
                log.names(),
                ["a start 1", "a stop 1 lost=true"],
                "never unguarded"
            );
            let status = a.status();
            let task = status.task("sweep").unwrap();
            assert_eq!(task.state, RunState::Standby);
            assert_eq!(task.lease.as_ref().unwrap().holder, None);
            coordinator.faults().down.store(false, Ordering::Relaxed);
            wait_while("it comes back", || {
                a.status().task("sweep").unwrap().state != RunState::Running
            })
            .await;
            sleep(MS).await;
            assert_eq!(log.names().last().unwrap(), "a start 2");
            bounded("shutdown", WAIT_LIMIT, a.shutdown()).await;
        },
    );
}

/// Replicas `instances` on `coordinator`, each running `digest` with `options`; `body` makes
/// a run's future for the replica named.
fn point_replicas<F, Fut>(
    coordinator: &TestCoordinator,
    instances: &[&'static str],
    options: &TaskOptions,
    body: F,
) -> Vec<App>
where
    F: Fn(&'static str) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    instances
        .iter()
        .map(|&instance| {
            let app = App::builder()
                .empty()
                .coordinator(coordinator.clone())
                .instance(instance)
                .build();
            let body = body.clone();
            app.register_task_with("digest", options.clone(), move || body(instance))
                .unwrap();
            app
        })
        .collect()
}

#[test]
fn each_point_of_a_once_per_point_task_runs_on_exactly_one_replica() {
    paused(
        "each_point_of_a_once_per_point_task_runs_on_exactly_one_replica",
        REAL_LIMIT,
        || async {
            let coordinator = TestCoordinator::new();
            let runs = Arc::new(Mutex::new(Vec::new()));
            let epoch = Instant::now();
            let options = TaskOptions::new().every(S).once_per_point(true);
            let log = runs.clone();
            let apps = point_replicas(&coordinator, &["a", "b", "c"], &options, move |instance| {
                let runs = log.clone();
                async move {
                    let at = epoch.elapsed();
                    runs.lock().unwrap().push((at.as_millis() / 1000, instance));
                    Ok(())
                }
            });
            for app in &apps {
                bounded("start", WAIT_LIMIT, app.start()).await.unwrap();
            }
            sleep(20 * S + 500 * MS).await;
            for app in &apps {
                bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
            }
            let runs = runs.lock().unwrap().clone();
            let points: Vec<u128> = runs.iter().map(|(point, _)| *point).collect();
            assert_eq!(
                points,
                (1..=20).collect::<Vec<_>>(),
                "each point once: {runs:?}"
            );
        },
    );
}

#[test]
fn a_failed_run_of_a_point_is_retried_by_the_replica_that_claimed_it() {
    paused(
        "a_failed_run_of_a_point_is_retried_by_the_replica_that_claimed_it",
        REAL_LIMIT,
        || async {
            let coordinator = TestCoordinator::new();
            let runs = Arc::new(Mutex::new(Vec::new()));
            let epoch = Instant::now();
            // Each point's first try fails; the restart 100 ms later, within the point, works.
            let options = TaskOptions::new()
                .every(10 * S)
                .once_per_point(true)
                .restart(Restart::OnFailure)
                .backoff(100 * MS, 100 * MS)
                .jitter(false);
            let log = runs.clone();
            let apps = point_replicas(&coordinator, &["a", "b"], &options, move |instance| {
                let runs = log.clone();
                async move {
                    let mut runs = runs.lock().unwrap();
                    let tries = runs.len();
                    runs.push((epoch.elapsed(), instance));
                    anyhow::ensure!(tries % 2 == 1, "the first try of a point fails");
                    Ok(())
                }
            });
            for app in &apps {
                bounded("start", WAIT_LIMIT, app.start()).await.unwrap();
            }
            sleep(35 * S).await;
            for app in &apps {
                bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
            }
            let runs = runs.lock().unwrap().clone();
            // Points at 10, 20 and 30 s: each tried, failed, and tried again 100 ms later by the
            // replica that claimed it.
            assert_eq!(runs.len(), 6, "{runs:?}");
            for pair in runs.chunks(2) {
                assert_eq!(pair[0].1, pair[1].1, "retried by the claimant: {runs:?}");
                let gap = pair[1].0 - pair[0].0;
                assert!(gap.abs_diff(100 * MS) <= 5 * MS, "{runs:?}");
            }
        },
    );
}

#[test]
fn a_lease_outside_a_singleton_and_an_unreachable_coordinator_fail_the_startup() {
    paused(
        "a_lease_outside_a_singleton_and_an_unreachable_coordinator_fail_the_startup",
        REAL_LIMIT,
        || async {
            let app = App::empty();
            app.register_task("plain", |_lease: Lease| async {})
                .unwrap();
            let error = bounded("start", WAIT_LIMIT, app.start()).await.unwrap_err();
            assert!(matches!(
                error.kind(),
                StartupErrorKind::LeaseOutsideSingleton { .. }
            ));
            assert!(
                error.to_string().contains("add `#[lifespan(singleton)]`"),
                "{error}"
            );

            let coordinator = TestCoordinator::new();
            coordinator.fail_prepare(
                "connecting to postgres://admin:hunter2@db.internal:5432/app: refused",
            );
            let app = App::builder().empty().coordinator(coordinator).build();
            app.register_task_with("sweep", TaskOptions::new().singleton(true), || async {})
                .unwrap();
            let error = bounded("start", WAIT_LIMIT, app.start()).await.unwrap_err();
            let text = format!("{:#}", anyhow::Error::from(error));
            assert!(text.starts_with("the coordinator (the test coordinator) could not be prepared: connecting to postgres://admin:***@db.internal"), "{text}");
            assert!(!text.contains("hunter2"));
        },
    );
}

#[test]
fn a_coordinator_that_stops_answering_holds_up_no_shutdown_of_a_once_per_point_task() {
    paused(
        "a_coordinator_that_stops_answering_holds_up_no_shutdown_of_a_once_per_point_task",
        REAL_LIMIT,
        || async {
            let coordinator = TestCoordinator::new();
            let app = App::builder()
                .empty()
                .coordinator(coordinator.clone())
                .build();
            let options = TaskOptions::new().every(60 * S).once_per_point(true);
            app.register_task_with("digest", options, || async {})
                .unwrap();
            bounded("start", WAIT_LIMIT, app.start()).await.unwrap();
            sleep(S).await;
            // From now on every answer takes ten minutes: the claim at 60 s hangs.
            coordinator
                .faults()
                .delay_ms
                .store(600_000, Ordering::Relaxed);
            sleep(61 * S).await;
            let began = Instant::now();
            let report = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
            assert_eq!(report.task("digest"), Some(&TaskOutcome::Cancelled));
            assert!(
                began.elapsed() < S,
                "shutdown waited {:?} for a claim",
                began.elapsed()
            );
        },
    );
}

#[cfg(feature = "cron")]
#[test]
fn each_occurrence_of_a_cron_schedule_runs_on_exactly_one_replica() {
    paused(
        "each_occurrence_of_a_cron_schedule_runs_on_exactly_one_replica",
        REAL_LIMIT,
        || async {
            let coordinator = TestCoordinator::new();
            let runs = Arc::new(Mutex::new(Vec::new()));
            let epoch = Instant::now();
            let options = TaskOptions::new()
                .cron("*/2 * * * * *")
                .unwrap()
                .once_per_point(true);
            let log = runs.clone();
            let apps = point_replicas(&coordinator, &["a", "b", "c"], &options, move |instance| {
                let runs = log.clone();
                async move {
                    runs.lock().unwrap().push((epoch.elapsed(), instance));
                    Ok(())
                }
            });
            for app in &apps {
                bounded("start", WAIT_LIMIT, app.start()).await.unwrap();
            }
            sleep(20 * S).await;
            for app in &apps {
                bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
            }
            let runs = runs.lock().unwrap().clone();
            // One run per occurrence, 2 s apart, whichever replica won it.
            assert!(runs.len() >= 9, "{runs:?}");
            for pair in runs.windows(2) {
                let gap = pair[1].0 - pair[0].0;
                assert!(
                    gap.abs_diff(2 * S) <= 5 * MS,
                    "each occurrence once: {runs:?}"
                );
            }
            let instances: std::collections::BTreeSet<_> =
                runs.iter().map(|(_, instance)| *instance).collect();
            assert!(!instances.is_empty());
        },
    );
}

#[test]
fn the_lost_signal_of_a_lease_completes_when_it_is_lost_and_not_before() {
    paused("lost signal", REAL_LIMIT, || async {
        let (lease, control) = Lease::pair(3);
        assert_eq!(lease.instance(), "test");
        assert_eq!(
            format!("{lease:?}"),
            "Lease { token: 3, instance: \"test\", lost: false }"
        );
        assert_eq!(format!("{:?}", lease.lost()), "LeaseLost { .. }");
        // Polled once: pending while the lease is held.
        let held = tokio::time::timeout(Duration::ZERO, lease.lost()).await;
        assert!(held.is_err(), "`lost` completed while the lease is held");
        assert!(!lease.is_lost());
        control.lose();
        assert!(lease.is_lost());
        let lost = tokio::time::timeout(Duration::ZERO, lease.lost()).await;
        assert!(lost.is_ok(), "`lost` still pending after the loss");
    });
}

/// Issue 21, defect 8: the release at shutdown was bounded by the retry period, so with a retry
/// of 1 ms against a coordinator that takes 5 ms to answer it always timed out, and the standby
/// waited for the lease to expire. The release has its own bound, and shutdown waits for it.
#[test]
fn a_release_is_not_cut_off_by_a_short_retry_period() {
    paused("release with a short retry", REAL_LIMIT, || async {
        let logs = CapturedLogs::default();
        let _capture = tracing::subscriber::set_default(logs.subscriber());
        let settings = LeaseSettings::new(3 * S, 2 * S, MS).unwrap();
        let coordinator = TestCoordinator::new();
        coordinator.faults().delay_ms.store(5, Ordering::Relaxed);
        let log = Log::new();
        let a = replica_with("a", coordinator.clone(), &log, settings);
        let b = replica_with("b", coordinator.clone(), &log, settings);
        bounded("start a", WAIT_LIMIT, a.start()).await.unwrap();
        wait_while("a holds it", || log.names().is_empty()).await;
        bounded("start b", WAIT_LIMIT, b.start()).await.unwrap();
        sleep(100 * MS).await;
        let stopped = Instant::now();
        bounded("shutdown a", WAIT_LIMIT, a.shutdown()).await;
        // The shutdown waited for the release: the lease is free, and a shows it no more.
        assert_eq!(
            coordinator.holder("sweep"),
            None,
            "released by the end of the shutdown"
        );
        let lease = a.status().task("sweep").unwrap().lease.clone().unwrap();
        assert!(!lease.held_here, "{lease:?}");
        wait_while("b takes over", || {
            !log.names().contains(&"b start 2".to_string())
        })
        .await;
        let handover = stopped.elapsed();
        assert!(
            handover < 100 * MS,
            "handover took {handover:?}: the release was cut off, and b waited for the lease to expire"
        );
        let lines = logs.lines();
        assert!(
            !lines.iter().any(|line| line.contains("could not release")),
            "{lines:#?}"
        );
        shut_down(&[&b]).await;
    });
}

/// The lines of `logs` that contain `text`.
fn lines_with(logs: &CapturedLogs, text: &str) -> Vec<String> {
    logs.lines()
        .into_iter()
        .filter(|line| line.contains(text))
        .collect()
}

/// Issue 21, defect 6: a coordinator's failures were logged with their top message only
/// ("running a statement ..."), never the cause ("relation ... does not exist"), and a lease
/// lost to failed renewals gave no cause at all. Each line of a failure carries its cause, once
/// per outage, and the recovery is logged once.
#[test]
fn coordinator_failures_are_logged_with_their_cause_once_per_outage() {
    paused("failures logged with their cause", REAL_LIMIT, || async {
        let logs = CapturedLogs::default();
        let _capture = tracing::subscriber::set_default(logs.subscriber());
        let coordinator = TestCoordinator::new();
        let log = Log::new();
        let a = replica("a", coordinator.clone(), &log);
        let b = replica("b", coordinator.clone(), &log);
        bounded("start a", WAIT_LIMIT, a.start()).await.unwrap();
        bounded("start b", WAIT_LIMIT, b.start()).await.unwrap();
        sleep(S).await;
        // The tables vanish for 800 ms: b asks and a renews once or twice meanwhile, a having
        // renewed last at 500 ms at the earliest (its renew deadline 2.5 s at the earliest).
        coordinator.faults().vanished.store(true, Ordering::Relaxed);
        sleep(800 * MS).await;
        coordinator
            .faults()
            .vanished
            .store(false, Ordering::Relaxed);
        sleep(2 * S).await;

        let standby = lines_with(&logs, "`sweep` cannot ask for its lease");
        assert_eq!(standby.len(), 1, "once per outage: {standby:#?}");
        assert!(standby[0].contains(VANISHED), "{}", standby[0]);
        let renewal = lines_with(&logs, "`sweep` could not renew its lease");
        assert_eq!(renewal.len(), 1, "once per outage: {renewal:#?}");
        assert!(renewal[0].contains(VANISHED), "{}", renewal[0]);
        assert_eq!(
            lines_with(&logs, "`sweep` renewed its lease again").len(),
            1,
            "{:#?}",
            logs.lines()
        );
        assert_eq!(
            lines_with(
                &logs,
                "the coordinator answers again: lifespan task `sweep`"
            )
            .len(),
            1
        );
        assert_eq!(log.names(), ["a start 1"], "a kept its lease");
        // The standby is announced once, and once again after the outage.
        let standby = lines_with(&logs, "`sweep` is in standby");
        assert_eq!(standby.len(), 2, "{standby:#?}");

        // Now for longer than the renew deadline (2 s): a loses its lease, saying why.
        coordinator.faults().vanished.store(true, Ordering::Relaxed);
        wait_while("a loses its lease", || log.names().len() < 2).await;
        let lost = lines_with(&logs, "`sweep` lost its lease");
        assert_eq!(lost.len(), 1, "{lost:#?}");
        assert!(lost[0].contains(VANISHED), "{}", lost[0]);
        assert!(!lost[0].contains("paused"), "no pause here: {}", lost[0]);
        // A second outage, of several requests each: logged once more by b, once by a.
        sleep(S).await;
        coordinator
            .faults()
            .vanished
            .store(false, Ordering::Relaxed);
        let standby = lines_with(&logs, "`sweep` cannot ask for its lease");
        assert_eq!(
            standby.len(),
            3,
            "once per outage and replica: {standby:#?}"
        );
        shut_down(&[&a, &b]).await;
    });
}

/// A holder that wakes up past its renew deadline, long after it planned to renew, was
/// paused: its lost lease says so. (Paused time: the clock jumps while the holder sleeps.)
#[test]
fn a_holder_woken_past_its_renew_deadline_guesses_it_was_paused() {
    paused("a pause is guessed", REAL_LIMIT, || async {
        let logs = CapturedLogs::default();
        let _capture = tracing::subscriber::set_default(logs.subscriber());
        let coordinator = TestCoordinator::new();
        let log = Log::new();
        let a = replica("a", coordinator.clone(), &log);
        bounded("start a", WAIT_LIMIT, a.start()).await.unwrap();
        sleep(S + 100 * MS).await;
        tokio::time::advance(3 * S).await;
        wait_while("a loses its lease", || log.names().len() < 2).await;
        let lost = lines_with(&logs, "`sweep` lost its lease");
        assert_eq!(lost.len(), 1, "{lost:#?}");
        assert!(lost[0].contains("was this process paused?"), "{}", lost[0]);
        shut_down(&[&a]).await;
    });
}

/// As for leases: a claim that fails is logged with its cause, once per outage, and the
/// recovery once; the points of the outage run nowhere, the next ones run again.
#[test]
fn claim_failures_are_logged_with_their_cause_once_per_outage() {
    paused("claim failures logged", REAL_LIMIT, || async {
        let logs = CapturedLogs::default();
        let _capture = tracing::subscriber::set_default(logs.subscriber());
        let coordinator = TestCoordinator::new();
        let runs = Arc::new(Mutex::new(Vec::new()));
        let epoch = Instant::now();
        let options = TaskOptions::new().every(S).once_per_point(true);
        let log = runs.clone();
        let apps = point_replicas(&coordinator, &["a"], &options, move |_| {
            let runs = log.clone();
            async move {
                runs.lock()
                    .unwrap()
                    .push(epoch.elapsed().as_millis() / 1000);
                Ok(())
            }
        });
        bounded("start", WAIT_LIMIT, apps[0].start()).await.unwrap();
        sleep(2 * S + 500 * MS).await;
        coordinator.faults().vanished.store(true, Ordering::Relaxed);
        sleep(3 * S).await;
        coordinator
            .faults()
            .vanished
            .store(false, Ordering::Relaxed);
        sleep(3 * S).await;
        bounded("shutdown", WAIT_LIMIT, apps[0].shutdown()).await;
        let failed = lines_with(&logs, "`digest` cannot claim its points");
        assert_eq!(failed.len(), 1, "once per outage: {failed:#?}");
        assert!(failed[0].contains(VANISHED), "{}", failed[0]);
        let again = lines_with(
            &logs,
            "the coordinator answers again: lifespan task `digest`",
        );
        assert_eq!(again.len(), 1, "{:#?}", logs.lines());
        let runs = runs.lock().unwrap().clone();
        assert_eq!(runs, [1, 2, 6, 7, 8], "none during the outage");
    });
}

/// Issue 21, defect 7: a claim was cut off after one period, so with a period shorter than the
/// coordinator's answer (5 ms against a real database) no point ever ran. A claim waits for as
/// long as the app's renew deadline at least: a point claimed late is still given once.
#[test]
fn a_coordinator_slower_than_the_period_still_gets_points_claimed() {
    paused(
        "a slow coordinator and a short period",
        REAL_LIMIT,
        || async {
            let coordinator = TestCoordinator::new();
            coordinator.faults().delay_ms.store(50, Ordering::Relaxed);
            let runs = Arc::new(Mutex::new(0_u32));
            let options = TaskOptions::new().every(20 * MS).once_per_point(true);
            let log = runs.clone();
            let apps = point_replicas(&coordinator, &["a", "b"], &options, move |_| {
                let runs = log.clone();
                async move {
                    *runs.lock().unwrap() += 1;
                    Ok(())
                }
            });
            for app in &apps {
                bounded("start", WAIT_LIMIT, app.start()).await.unwrap();
            }
            sleep(2 * S).await;
            for app in &apps {
                bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
            }
            // A claim every 70 ms or so per replica (50 ms to get the next point, then 50 ms to claim it).
            let runs = *runs.lock().unwrap();
            assert!(runs >= 10, "{runs} points ran in 2 s");
        },
    );
}

/// A cron occurrence is claimed with the patience of the time to the next one when that is
/// longer than the app's renew deadline: a coordinator that takes 12 s to answer (past the
/// 10 s renew deadline, within the 15 s lease) still gets each occurrence of a schedule run
/// every minute claimed and started. (An answer past the lease starts nothing: the run's lease
/// may have expired by then.)
#[cfg(feature = "cron")]
#[test]
fn a_coordinator_slower_than_the_renew_deadline_still_gets_minutely_occurrences_claimed() {
    paused(
        "a slow coordinator and a cron schedule",
        REAL_LIMIT,
        || async {
            let coordinator = TestCoordinator::new();
            coordinator
                .faults()
                .delay_ms
                .store(12_000, Ordering::Relaxed);
            let runs = Arc::new(Mutex::new(0_u32));
            let options = TaskOptions::new()
                .cron("0 * * * * *")
                .unwrap()
                .once_per_point(true);
            let log = runs.clone();
            let apps = point_replicas(&coordinator, &["a"], &options, move |_| {
                let runs = log.clone();
                async move {
                    *runs.lock().unwrap() += 1;
                    Ok(())
                }
            });
            bounded("start", WAIT_LIMIT, apps[0].start()).await.unwrap();
            sleep(5 * 60 * S).await;
            bounded("shutdown", WAIT_LIMIT, apps[0].shutdown()).await;
            let runs = *runs.lock().unwrap();
            assert!(runs >= 4, "{runs} occurrences ran in 5 minutes");
        },
    );
}

/// `InProcess`'s docs offer its clones as replicas for tests: its leases keep the coordinator's
/// rules (its run ledger's are in `ledger.rs`).
#[test]
fn the_in_process_coordinator_keeps_the_rules_of_leases_and_points() {
    use lifespan_core::{Acquired, Coordinator, LeaseRequest};
    paused("the in-process coordinator's rules", REAL_LIMIT, || async {
        let coordinator = InProcess::new();
        let replica = coordinator.clone();
        let request = |instance: &str| LeaseRequest::new("sweep", instance, 3 * S);
        let Ok(Acquired::Granted(term)) = coordinator.acquire(&request("a")).await else {
            panic!("a free lease is granted");
        };
        assert_eq!((term.token, term.instance.as_str()), (1, "a"));
        let Ok(Acquired::Held(Some(holder))) = replica.acquire(&request("b")).await else {
            panic!("a held lease is not granted");
        };
        assert_eq!((holder.instance.as_str(), holder.token), ("a", 1));
        // Renewed while current, from now on: held 3 s after the renewal, not the grant.
        sleep(2 * S).await;
        assert!(coordinator.renew(&term, 3 * S).await.unwrap());
        sleep(2 * S).await;
        assert!(matches!(
            replica.acquire(&request("b")).await,
            Ok(Acquired::Held(_))
        ));
        // Expired: neither renewed nor held.
        sleep(S).await;
        assert!(!coordinator.renew(&term, 3 * S).await.unwrap());
        let Ok(Acquired::Granted(next)) = replica.acquire(&request("b")).await else {
            panic!("an expired lease is granted");
        };
        assert_eq!(next.token, 2);
        // A stale term's release and renewal change nothing; the current one's release frees it.
        coordinator.release(&term).await.unwrap();
        assert!(!coordinator.renew(&term, 3 * S).await.unwrap());
        assert!(replica.renew(&next, 3 * S).await.unwrap());
        replica.release(&next).await.unwrap();
        assert!(!replica.renew(&next, 3 * S).await.unwrap());
        assert!(matches!(
            coordinator.acquire(&request("a")).await,
            Ok(Acquired::Granted(term)) if term.token == 3
        ));

        assert_eq!(coordinator.describe(), "the in-process coordinator");
        coordinator.prepare().await.unwrap();
    });
}

#[test]
fn a_lease_too_long_for_a_database_is_refused() {
    let century = Duration::from_millis(i64::MAX as u64 / 2);
    let error = LeaseSettings::new(century, 2 * S, S).unwrap_err();
    assert!(
        error.to_string().ends_with("is too long for a database"),
        "{error}"
    );
    assert!(LeaseSettings::new(century - MS, 2 * S, S).is_ok());
}

/// With `once_per_point` and `every`, the replica claims the first point at least the initial
/// delay after its start.
#[test]
fn a_once_per_point_task_claims_its_first_point_after_its_initial_delay() {
    paused("initial delay of points", REAL_LIMIT, || async {
        let coordinator = TestCoordinator::new();
        // Its points are counted from now on.
        lifespan_core::Coordinator::now(&coordinator).await.unwrap();
        let runs = Arc::new(Mutex::new(Vec::new()));
        let epoch = Instant::now();
        let options = TaskOptions::new()
            .every(S)
            .once_per_point(true)
            .initial_delay(3500 * MS);
        let log = runs.clone();
        let apps = point_replicas(&coordinator, &["a", "b"], &options, move |_| {
            let runs = log.clone();
            async move {
                runs.lock()
                    .unwrap()
                    .push(epoch.elapsed().as_millis() / 1000);
                Ok(())
            }
        });
        for app in &apps {
            bounded("start", WAIT_LIMIT, app.start()).await.unwrap();
        }
        sleep(6 * S + 500 * MS).await;
        for app in &apps {
            bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
        }
        assert_eq!(*runs.lock().unwrap(), [4, 5, 6]);
    });
}
