//! Liveness: a task whose poll blocks its thread past the stuck limit makes the app not live,
//! named, while it blocks (read from another thread of a multi-thread runtime), and live again
//! once the poll returns; a critical task that failed for good makes it not live until it has
//! shut down; without a stuck limit, a blocked poll changes nothing.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use lifespan_core::{App, Liveness, Restart, Shutdown, TaskOptions};
use lifespan_test_support::{bounded, WAIT_LIMIT};

/// The stuck limit of the apps here.
const STUCK_LIMIT: Duration = Duration::from_millis(200);
/// What a loaded machine may add to a bound.
const SLACK: Duration = Duration::from_secs(2);

/// An app whose task `blocker` says when it blocks its thread, then blocks it until `release`
/// is sent to (or dropped).
fn blocking_app(builder: lifespan_core::AppBuilder) -> (App, mpsc::Receiver<()>, mpsc::Sender<()>) {
    let app = builder.empty().build();
    let (blocking_tx, blocking) = mpsc::channel::<()>();
    let (release, released) = mpsc::channel::<()>();
    let released = std::sync::Mutex::new(Some(released));
    app.register_task("blocker", move |shutdown: Shutdown| {
        let released = released.lock().unwrap().take();
        let blocking_tx = blocking_tx.clone();
        async move {
            tokio::task::yield_now().await;
            let _ = blocking_tx.send(());
            if let Some(released) = released {
                // Blocks the worker thread: no `.await` here.
                let _ = released.recv_timeout(Duration::from_secs(30));
            }
            shutdown.cancelled().await;
        }
    })
    .unwrap();
    (app, blocking, release)
}

/// Asks `app.liveness()` every 10 ms until `want` says yes; fails after `limit`.
async fn liveness_until(app: &App, limit: Duration, want: impl Fn(&Liveness) -> bool) -> Liveness {
    let began = Instant::now();
    loop {
        let liveness = app.liveness();
        if want(&liveness) {
            return liveness;
        }
        assert!(
            began.elapsed() < limit,
            "liveness stayed {liveness} for {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_stuck_past_the_limit_makes_the_app_not_live_until_its_poll_returns() {
    let (app, blocking, release) = blocking_app(App::builder().stuck_limit(STUCK_LIMIT));
    bounded("the app", WAIT_LIMIT, app.start()).await.unwrap();
    blocking
        .recv_timeout(SLACK)
        .expect("the task did not block");
    let blocked_at = Instant::now();
    assert_eq!(app.liveness(), Liveness::Live, "not past the limit yet");
    let stuck = liveness_until(&app, STUCK_LIMIT + SLACK, |l| !l.is_live()).await;
    assert!(
        blocked_at.elapsed() >= STUCK_LIMIT,
        "stuck before the limit"
    );
    match &stuck {
        Liveness::Stuck { task, blocked } => {
            assert_eq!(task, "blocker");
            assert!(*blocked > STUCK_LIMIT, "{blocked:?}");
        }
        other => panic!("not live for another reason: {other:?}"),
    }
    assert!(
        stuck
            .to_string()
            .starts_with("stuck: task `blocker` has blocked its thread for "),
        "{stuck}"
    );
    #[cfg(feature = "axum")]
    {
        let (status, body) = lifespan_core::liveness_handler(Some(app.clone())).await;
        assert_eq!(status.as_u16(), 503);
        assert!(body.starts_with("stuck: task `blocker`"), "{body}");
    }
    release.send(()).unwrap();
    liveness_until(&app, SLACK, Liveness::is_live).await;
    let report = bounded("the shutdown", WAIT_LIMIT, app.shutdown()).await;
    assert!(report.is_clean(), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_stuck_limit_a_blocked_poll_leaves_the_app_live() {
    let (app, blocking, release) = blocking_app(App::builder());
    bounded("the app", WAIT_LIMIT, app.start()).await.unwrap();
    blocking
        .recv_timeout(SLACK)
        .expect("the task did not block");
    // Well past what the limit above would have been.
    std::thread::sleep(STUCK_LIMIT * 2);
    assert_eq!(app.liveness(), Liveness::Live);
    drop(release);
    bounded("the shutdown", WAIT_LIMIT, app.shutdown()).await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_critical_failure_makes_the_app_not_live_until_it_has_shut_down() {
    bounded("the app", WAIT_LIMIT, async {
        let app = App::empty();
        let options = TaskOptions::new().restart(Restart::Never).critical(true);
        app.register_task_with("payments", options, || async {
            Err::<(), _>(anyhow::anyhow!("postgres://admin:S3cret@db refused"))
        })
        .unwrap();
        app.start().await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
        let liveness = app.liveness();
        assert_eq!(
            liveness,
            Liveness::CriticalTaskFailed {
                task: "payments".into()
            }
        );
        assert_eq!(liveness.to_string(), "critical task `payments` failed");
        #[cfg(feature = "axum")]
        {
            let (status, body) = lifespan_core::liveness_handler(Some(app.clone())).await;
            assert_eq!(
                (status.as_u16(), body.as_str()),
                (503, "critical task `payments` failed")
            );
        }
        app.shutdown().await;
        assert_eq!(app.liveness(), Liveness::Live, "shut down");
    })
    .await;
}

#[cfg(feature = "axum")]
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn routed_without_the_app_liveness_answers_200() {
    let (status, body) = lifespan_core::liveness_handler(None).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "alive"));
    let (status, _) = lifespan_core::liveness_handler(Some(App::empty())).await;
    assert_eq!(status.as_u16(), 200);
}
