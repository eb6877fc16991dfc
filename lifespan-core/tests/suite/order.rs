//! The order of the link-time registrations across modules: modules by path (never the order
//! they are declared or linked in), source order within a module; and the modules a selection
//! by module path takes.

use lifespan_core::{lifespan_context, lifespan_task, App, Shutdown, Yield};
use lifespan_test_support::{bounded, WAIT_LIMIT};

// Declared in the opposite of their path order; `ab` shares `a`'s first letter, `a::inner` is
// nested in `a`.
mod b {
    use super::*;

    #[lifespan_context]
    async fn b_second(lifespan: Yield) {
        lifespan.ready().await;
    }

    #[lifespan_context]
    async fn b_first(lifespan: Yield) {
        lifespan.ready().await;
    }

    #[lifespan_task]
    async fn b_task(shutdown: Shutdown) {
        shutdown.cancelled().await;
    }
}

mod ab {
    use super::*;

    #[lifespan_context]
    async fn ab_only(lifespan: Yield) {
        lifespan.ready().await;
    }

    #[lifespan_task]
    async fn ab_task(shutdown: Shutdown) {
        shutdown.cancelled().await;
    }
}

mod a {
    use super::*;

    mod inner {
        use super::*;

        #[lifespan_context]
        async fn inner_only(lifespan: Yield) {
            lifespan.ready().await;
        }

        #[lifespan_task]
        async fn inner_task(shutdown: Shutdown) {
            shutdown.cancelled().await;
        }
    }

    #[lifespan_task]
    async fn a_task_z(shutdown: Shutdown) {
        shutdown.cancelled().await;
    }

    #[lifespan_context]
    async fn a_zeta(lifespan: Yield) {
        lifespan.ready().await;
    }

    #[lifespan_task]
    async fn a_task_a(shutdown: Shutdown) {
        shutdown.cancelled().await;
    }

    #[lifespan_context]
    async fn a_alpha(lifespan: Yield) {
        lifespan.ready().await;
    }
}

/// Starts `app`, and returns the contexts in setup order and the tasks in
/// start order (their last path segments).
async fn order_of(app: App) -> (Vec<String>, Vec<String>) {
    bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
    let last = |name: &str| name.rsplit("::").next().unwrap().to_owned();
    let tasks = app.status().tasks.iter().map(|t| last(&t.name)).collect();
    let report = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
    assert!(report.is_clean(), "{report}");
    let mut contexts: Vec<String> = report.contexts.iter().map(|c| last(&c.name)).collect();
    // The report lists contexts in cleanup order: the reverse of setup.
    contexts.reverse();
    (contexts, tasks)
}

#[tokio::test(start_paused = true)]
async fn modules_run_in_path_order_and_registrations_in_source_order_within_one() {
    let (contexts, tasks) = order_of(App::from_module(module_path!())).await;
    let setup = [
        "a_zeta",
        "a_alpha",
        "inner_only",
        "ab_only",
        "b_second",
        "b_first",
    ];
    assert_eq!(contexts, setup);
    assert_eq!(
        tasks,
        ["a_task_z", "a_task_a", "inner_task", "ab_task", "b_task"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_module_selection_takes_the_module_and_those_nested_in_it_only() {
    for prefix in ["a", "a::"] {
        let app = App::from_module(format!("{}::{prefix}", module_path!()));
        let (contexts, tasks) = order_of(app).await;
        assert_eq!(contexts, ["a_zeta", "a_alpha", "inner_only"], "{prefix}");
        assert_eq!(tasks, ["a_task_z", "a_task_a", "inner_task"], "{prefix}");
    }
    let (contexts, tasks) =
        order_of(App::from_module(format!("{}::a::inner", module_path!()))).await;
    assert_eq!(
        (contexts, tasks),
        (vec!["inner_only".to_owned()], vec!["inner_task".to_owned()])
    );
    let (contexts, tasks) = order_of(App::from_module(format!("{}::c", module_path!()))).await;
    assert!(contexts.is_empty() && tasks.is_empty());
}
