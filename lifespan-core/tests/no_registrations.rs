//! A program into which no `#[lifespan_task]` or `#[lifespan_context]` was linked: startup says
//! so, since link-time collection silently finds nothing on targets where it does not run.

use lifespan_test_support::{bounded, CapturedLogs, WAIT_LIMIT};

#[tokio::test(start_paused = true)]
async fn startup_warns_when_link_time_collection_found_nothing() {
    let logs = CapturedLogs::default();
    let _logging = tracing::subscriber::set_default(logs.subscriber());
    let app = lifespan_core::App::new();
    bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
    let report = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
    assert!(report.tasks.is_empty() && report.contexts.is_empty());
    assert!(
        logs.lines().iter().any(|line| line
            .starts_with("WARN no lifespan tasks or contexts were registered: the link-time collection found none")),
        "{:#?}",
        logs.lines()
    );
}
