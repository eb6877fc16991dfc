//! The builder holds the settings; the built app is the handle its clones share.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use lifespan_core::{App, Shutdown, TaskOutcome};
use tokio::sync::Notify;
use tokio::time::Instant;

/// Longer than any wait here, in paused time: a test fails rather than hangs.
const WAIT_LIMIT: Duration = Duration::from_secs(3600);

async fn bounded<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT_LIMIT, future)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {WAIT_LIMIT:?}"))
}

/// Registers a task that ignores the shutdown signal, starts `app`, waits until the task runs,
/// then shuts down: returns how long the shutdown took, and checks the task was aborted.
async fn shutdown_time_of_a_stubborn_task(app: &App) -> Duration {
    let running = Arc::new(Notify::new());
    let signal = running.clone();
    app.register_task("stubborn", move |_shutdown: Shutdown| {
        let signal = signal.clone();
        async move {
            signal.notify_one();
            std::future::pending::<()>().await;
        }
    })
    .unwrap();
    bounded("startup", app.start()).await.unwrap();
    bounded("the task", running.notified()).await;
    let began = Instant::now();
    let report = bounded("shutdown", app.shutdown()).await;
    assert_eq!(report.task("stubborn"), Some(&TaskOutcome::Aborted));
    began.elapsed()
}

#[tokio::test(start_paused = true)]
async fn the_grace_period_of_the_builder_bounds_the_shutdown() {
    let grace = Duration::from_secs(2);
    let app = App::builder().empty().grace_period(grace).build();
    let took = shutdown_time_of_a_stubborn_task(&app).await;
    // Not the default of 5 seconds: the setting reached the shutdown.
    assert!(
        took >= grace && took < grace + Duration::from_millis(50),
        "took {took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn settings_set_on_a_builder_later_do_not_change_an_app_built_from_a_clone_before() {
    let grace = Duration::from_secs(1);
    let builder = App::builder().empty().grace_period(grace);
    let app = builder.clone().build();
    let debug_before = format!("{app:?}");
    let later = builder.grace_period(Duration::from_secs(600)).build();
    assert_eq!(format!("{app:?}"), debug_before);
    assert!(debug_before.contains("grace_period: 1s"), "{debug_before}");
    assert!(
        format!("{later:?}").contains("grace_period: 600s"),
        "{later:?}"
    );
    let took = shutdown_time_of_a_stubborn_task(&app).await;
    assert!(
        took >= grace && took < grace + Duration::from_millis(50),
        "took {took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn apps_built_from_one_builder_are_apart_and_clones_of_an_app_share_it() {
    let builder = App::builder().empty();
    let first = builder.clone().build();
    let second = builder.build();
    first
        .register_task("only_in_first", |shutdown: Shutdown| async move {
            shutdown.cancelled().await;
        })
        .unwrap();
    let handle = first.clone();
    bounded("startup", handle.start()).await.unwrap();
    assert!(first.is_running());
    assert!(!second.is_running());
    bounded("startup", second.start()).await.unwrap();
    assert!(bounded("shutdown", second.shutdown())
        .await
        .tasks
        .is_empty());
    let report = bounded("shutdown", first.shutdown()).await;
    assert_eq!(report.task("only_in_first"), Some(&TaskOutcome::Cancelled));
    assert!(!handle.is_running());
}
