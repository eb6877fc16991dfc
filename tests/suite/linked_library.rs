//! Registrations made in a library crate, which names `lifespan-core` differently in its
//! Cargo.toml (`crate = runtime`), run in the binary that links the library.

use lifespan_core::{App, ContextOutcome, TaskOutcome};
use lifespan_examples::{bounded, WAIT_LIMIT};

#[tokio::test(start_paused = true)]
async fn a_library_crate_s_registrations_run_in_the_binary_that_links_it() {
    let app = App::from_module(lifespan_test_linked::module());
    bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
    let report = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
    assert_eq!(
        report.task("lifespan_test_linked::library_task"),
        Some(&TaskOutcome::Cancelled),
        "{report}"
    );
    assert_eq!(
        report.context("lifespan_test_linked::library_context"),
        Some(&ContextOutcome::CleanedUp)
    );
    let events = lifespan_test_linked::EVENTS.lock().unwrap().clone();
    assert_eq!(
        events,
        [
            "library setup",
            "library task says hello",
            "library cleanup"
        ]
    );
}
