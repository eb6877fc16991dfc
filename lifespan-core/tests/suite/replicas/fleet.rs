//! Every replica's status seen from any replica, on virtual time: each app with a coordinator
//! publishes its tasks and contexts (without error messages), and the status route of every
//! replica shows the others, which ones went silent, and nothing of a coordinator that keeps
//! no statuses.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use lifespan_core::{
    Acquired, App, Coordinator, CoordinatorError, CoordinatorFuture, InProcess, LeaseRequest,
    PointRun, ReplicaStatuses, RunClaim, RunOutcome, RunRequest, TaskOptions, Term, Yield,
};
use lifespan_test_support::{bounded, CapturedLogs, WAIT_LIMIT};
use tokio::time::sleep;

use super::real_time::{paused, REAL_LIMIT};
use super::{MS, S};

/// A replica `instance` on `coordinator` publishing every second, with a task `named` every
/// second that fails with a password in its message, and a context `db`.
fn replica(coordinator: impl Coordinator, instance: &str, named: &'static str) -> App {
    let app = App::builder()
        .empty()
        .coordinator(coordinator)
        .instance(instance)
        .publish_status(Some(S))
        .build();
    let options = TaskOptions::new().every(S);
    app.register_task_with(named, options, || async {
        anyhow::bail!("postgres://admin:hunter2@db.internal/prod refused")
    })
    .unwrap();
    app.register_context("db", |lifespan: Yield| async move {
        lifespan.ready().await;
        Ok::<(), anyhow::Error>(())
    })
    .unwrap();
    app
}

/// Replicas `a` (a task `sync`) and `b` (a task `digest`) on `coordinator`, started.
async fn two_replicas(coordinator: impl Coordinator + Clone) -> (App, App) {
    let a = replica(coordinator.clone(), "a", "sync");
    let b = replica(coordinator, "b", "digest");
    bounded("start a", WAIT_LIMIT, a.start()).await.unwrap();
    bounded("start b", WAIT_LIMIT, b.start()).await.unwrap();
    (a, b)
}

/// The body of `response`.
async fn body(response: axum::response::Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// What `app`'s status route and its route with errors serve.
async fn routes(app: &App) -> (String, String) {
    let hidden = body(lifespan_core::status_handler(app.clone()).await).await;
    let shown = body(lifespan_core::status_handler_with_errors(app.clone()).await).await;
    (hidden, shown)
}

#[test]
fn every_replica_shows_the_tasks_and_contexts_of_the_others() {
    paused("the fleet on the route", REAL_LIMIT, || async {
        let (a, b) = two_replicas(InProcess::starting_at(SystemTime::UNIX_EPOCH)).await;
        sleep(2500 * MS).await;

        let (hidden, shown) = routes(&b).await;
        for json in [&hidden, &shown] {
            assert!(
                json.contains(r#""instance":"b","replicas":{"has_error":false,"#),
                "{json}"
            );
            assert!(
                json.contains(r#""replicas":[{"instance":"a","published_unix_ms":"#),
                "{json}"
            );
            let (_, others) = json.split_once(r#""replicas":["#).unwrap();
            assert!(
                !others.contains(r#""instance":"b""#),
                "b is not among the others: {json}"
            );
            assert!(others.contains(r#""silent":false"#), "{json}");
            for field in [
                r#""name":"sync""#,
                r#""state":"failed""#,
                r#""has_error":true"#,
            ] {
                assert!(others.contains(field), "{field} in {json}");
            }
            assert!(!others.contains("last_error"), "{json}");
            assert!(others.contains(r#""outcome":"failed""#), "{json}");
            assert!(others.contains(r#""contexts":[{"display_name":null,"has_error":false,"in_state_ms":2000,"name":"db""#), "{json}");
            assert!(!others.contains("digest"), "{json}");
            assert!(
                !others.contains("hunter2"),
                "no error text crosses replicas: {json}"
            );
        }
        // b's own error is served only on the route with errors, as before.
        assert!(!hidden.contains("hunter2") && shown.contains("admin:***@db.internal"));
        assert!(
            shown.contains(r#""replicas":{"has_error":false,"error":null,"#),
            "{shown}"
        );

        // a sees b the same way.
        let (hidden, _) = routes(&a).await;
        assert!(
            hidden.contains(r#""replicas":[{"instance":"b""#),
            "{hidden}"
        );
        assert!(hidden.contains(r#""name":"digest""#), "{hidden}");
        bounded("stop a", WAIT_LIMIT, a.shutdown()).await;
        bounded("stop b", WAIT_LIMIT, b.shutdown()).await;
    });
}

#[test]
fn a_replica_that_stops_publishing_turns_silent_then_is_forgotten() {
    paused("a silent replica", REAL_LIMIT, || async {
        let (a, b) = two_replicas(InProcess::starting_at(SystemTime::UNIX_EPOCH)).await;
        sleep(1500 * MS).await;
        bounded("stop a", WAIT_LIMIT, a.shutdown()).await;
        // a last published at 1 s; kept as current for 3 periods.
        sleep(1400 * MS).await;
        let (json, _) = routes(&b).await;
        assert!(json.contains(r#""age_ms":1900,"silent":false"#), "{json}");
        sleep(200 * MS).await;
        let (json, _) = routes(&b).await;
        assert!(json.contains(r#""age_ms":2100,"silent":false"#), "{json}");
        sleep(S).await;
        let (json, _) = routes(&b).await;
        assert!(
            json.contains(r#""instance":"a","#) && json.contains(r#""silent":true"#),
            "{json}"
        );
        // Forgotten an hour after it went silent: at the first publication past that.
        sleep(lifespan_core::FORGET_SILENT_REPLICAS_AFTER).await;
        let (json, _) = routes(&b).await;
        assert!(json.contains(r#""silent":true"#), "not yet: {json}");
        sleep(2 * S).await;
        let (json, _) = routes(&b).await;
        assert!(
            json.ends_with(r#""instance":"b","replicas":{"has_error":false,"replicas":[]}}"#),
            "{json}"
        );
        bounded("stop b", WAIT_LIMIT, b.shutdown()).await;
    });
}

#[test]
fn an_app_that_publishes_nothing_shows_no_replicas() {
    paused("no fleet", REAL_LIMIT, || async {
        let coordinator = InProcess::starting_at(SystemTime::UNIX_EPOCH);
        let quiet = App::builder()
            .empty()
            .coordinator(coordinator.clone())
            .instance("quiet")
            .publish_status(None)
            .build();
        let alone = App::builder().empty().instance("alone").build();
        let other = replica(coordinator.clone(), "other", "sync");
        for app in [&quiet, &alone, &other] {
            bounded("start", WAIT_LIMIT, app.start()).await.unwrap();
        }
        sleep(1500 * MS).await;
        for app in [&quiet, &alone] {
            let (hidden, shown) = routes(app).await;
            assert!(
                !hidden.contains("replicas") && !shown.contains("replicas"),
                "{shown}"
            );
            assert!(!hidden.contains("instance"), "{hidden}");
        }
        // Nor did `quiet` publish its own.
        let statuses = coordinator.replica_statuses().await.unwrap().unwrap();
        let instances: Vec<_> = statuses
            .replicas
            .iter()
            .map(|r| r.instance.as_str())
            .collect();
        assert_eq!(instances, ["other"]);
        for app in [&quiet, &alone, &other] {
            bounded("stop", WAIT_LIMIT, app.shutdown()).await;
        }
    });
}

/// The in-process coordinator, whose statuses can be cut off: publishing and reading them
/// fail while `down` is set, and publishing never answers while `hangs` is.
#[derive(Clone, Default)]
struct Flaky {
    inner: InProcess,
    down: Arc<AtomicBool>,
    hangs: Arc<AtomicBool>,
}

impl Flaky {
    fn unless_down<T: Send + 'static>(
        &self,
        answer: CoordinatorFuture<'static, T>,
    ) -> CoordinatorFuture<'static, T> {
        if self.down.load(Ordering::Relaxed) {
            Box::pin(async {
                Err(CoordinatorError::msg(
                    "the statuses at postgres://admin:hunter2@db are down",
                ))
            })
        } else {
            answer
        }
    }
}

impl Coordinator for Flaky {
    fn describe(&self) -> String {
        "a flaky coordinator".into()
    }

    fn prepare(&self) -> CoordinatorFuture<'_, ()> {
        self.inner.prepare()
    }

    fn acquire<'a>(&'a self, request: &'a LeaseRequest) -> CoordinatorFuture<'a, Acquired> {
        self.inner.acquire(request)
    }

    fn renew<'a>(&'a self, term: &'a Term, lease: Duration) -> CoordinatorFuture<'a, bool> {
        self.inner.renew(term, lease)
    }

    fn release<'a>(&'a self, term: &'a Term) -> CoordinatorFuture<'a, ()> {
        self.inner.release(term)
    }

    fn now(&self) -> CoordinatorFuture<'_, SystemTime> {
        self.inner.now()
    }

    fn claim_run<'a>(&'a self, request: &'a RunRequest) -> CoordinatorFuture<'a, RunClaim> {
        self.inner.claim_run(request)
    }

    fn renew_run<'a>(&'a self, run: &'a PointRun, lease: Duration) -> CoordinatorFuture<'a, bool> {
        self.inner.renew_run(run, lease)
    }

    fn finish_run<'a>(
        &'a self,
        run: &'a PointRun,
        outcome: RunOutcome,
    ) -> CoordinatorFuture<'a, bool> {
        self.inner.finish_run(run, outcome)
    }

    fn publish_status<'a>(
        &'a self,
        instance: &'a str,
        status: &'a str,
        ttl: Duration,
    ) -> CoordinatorFuture<'a, bool> {
        if self.hangs.load(Ordering::Relaxed) {
            return Box::pin(std::future::pending());
        }
        let inner = self.inner.clone();
        let (instance, status) = (instance.to_owned(), status.to_owned());
        self.unless_down(Box::pin(async move {
            inner.publish_status(&instance, &status, ttl).await
        }))
    }

    fn replica_statuses(&self) -> CoordinatorFuture<'_, Option<ReplicaStatuses>> {
        let inner = self.inner.clone();
        self.unless_down(Box::pin(async move { inner.replica_statuses().await }))
    }
}

#[test]
fn a_failing_coordinator_is_logged_once_and_the_rest_of_the_status_is_served() {
    paused(
        "publishing through a flaky coordinator",
        REAL_LIMIT,
        || async {
            let logs = CapturedLogs::default();
            let _capture = tracing::subscriber::set_default(logs.subscriber());
            let flaky = Flaky {
                inner: InProcess::starting_at(SystemTime::UNIX_EPOCH),
                ..Flaky::default()
            };
            let (a, b) = two_replicas(flaky.clone()).await;
            sleep(1500 * MS).await;
            flaky.down.store(true, Ordering::Relaxed);
            sleep(3 * S).await;
            let (hidden, shown) = routes(&b).await;
            assert!(
                hidden.contains(r#""instance":"b","replicas":{"has_error":true,"replicas":[]}}"#),
                "{hidden}"
            );
            assert!(hidden.contains(r#""name":"digest""#) && !hidden.contains("hunter2"));
            assert!(
            shown.contains(r#""replicas":{"has_error":true,"error":"the statuses at postgres://admin:***@db are down","replicas":[]}"#),
            "{shown}"
        );
            let failures = logs
                .lines()
                .into_iter()
                .filter(|line| line.contains("could not publish this replica's status"))
                .collect::<Vec<_>>();
            assert_eq!(failures.len(), 2, "once per replica: {failures:?}");
            assert!(
                failures.iter().all(|line| !line.contains("hunter2")),
                "{failures:?}"
            );
            flaky.down.store(false, Ordering::Relaxed);
            sleep(S).await;
            let again = logs
                .lines()
                .into_iter()
                .filter(|line| line.contains("status is published again"))
                .count();
            assert_eq!(again, 2);
            let (hidden, _) = routes(&b).await;
            assert!(hidden.contains(r#""silent":false"#), "{hidden}");
            bounded("stop a", WAIT_LIMIT, a.shutdown()).await;
            bounded("stop b", WAIT_LIMIT, b.shutdown()).await;
        },
    );
}

/// A publication that never answers is given up after a period, logged once, and tried again
/// at the next period; the replica then shows as silent to the others, until it publishes again.
#[test]
fn a_coordinator_that_does_not_answer_is_given_up_on_after_a_period_and_logged_once() {
    paused("publishing to a silent coordinator", REAL_LIMIT, || async {
        let logs = CapturedLogs::default();
        let _capture = tracing::subscriber::set_default(logs.subscriber());
        let flaky = Flaky {
            inner: InProcess::starting_at(SystemTime::UNIX_EPOCH),
            ..Flaky::default()
        };
        let a = replica(flaky.clone(), "a", "sync");
        let reader = replica(flaky.inner.clone(), "reader", "report");
        bounded("start a", WAIT_LIMIT, a.start()).await.unwrap();
        bounded("start reader", WAIT_LIMIT, reader.start())
            .await
            .unwrap();
        sleep(500 * MS).await;
        flaky.hangs.store(true, Ordering::Relaxed);
        sleep(10 * S).await;
        let gave_up = |logs: &CapturedLogs| {
            logs.lines()
                .into_iter()
                .filter(|line| line.contains("did not take this replica's status within 1s"))
                .count()
        };
        assert_eq!(gave_up(&logs), 1, "once: {:?}", logs.lines());
        let (json, _) = routes(&reader).await;
        assert!(
            json.contains(r#""instance":"a","#) && json.contains(r#""silent":true"#),
            "{json}"
        );
        flaky.hangs.store(false, Ordering::Relaxed);
        sleep(2 * S).await;
        let (json, _) = routes(&reader).await;
        assert!(json.contains(r#""silent":false"#), "{json}");
        assert!(logs
            .lines()
            .iter()
            .any(|line| line.contains("status is published again")));
        assert_eq!(gave_up(&logs), 1);
        bounded("stop a", WAIT_LIMIT, a.shutdown()).await;
        bounded("stop reader", WAIT_LIMIT, reader.shutdown()).await;
    });
}
