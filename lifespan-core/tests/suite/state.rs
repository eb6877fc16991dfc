//! Typed state: contexts hand values over at their yield point; tasks and later contexts receive
//! them by type; setup order follows these needs, and errors in them are found before any setup.

use lifespan_core::{
    lifespan_context, lifespan_task, App, ContextOutcome, StartupErrorKind, State, TaskOutcome,
    Yield,
};
use lifespan_test_support::{bounded, Events, WAIT_LIMIT};

/// A stand-in for a connection pool.
#[derive(Debug)]
struct Pool {
    url: String,
}

/// A stand-in for a cache built on the pool.
#[derive(Debug)]
struct Cache {
    entries: usize,
}

mod provided_in_dependency_order {
    use super::*;

    static EVENTS: Events = Events::new();

    // Declared before the pool it needs: the pool must still be set up first.
    #[lifespan_context(events = &EVENTS)]
    async fn cache(events: &'static Events, pool: State<Pool>, lifespan: Yield<Cache>) {
        events.push(format!("cache setup with {}", pool.url));
        lifespan.ready_with(Cache { entries: 3 }).await;
        events.push(format!("cache cleanup, pool {} still there", pool.url));
    }

    #[lifespan_context(events = &EVENTS)]
    async fn pool(events: &'static Events, lifespan: Yield<Pool>) {
        events.push("pool setup");
        lifespan
            .ready_with(Pool {
                url: "postgres://db".into(),
            })
            .await;
        events.push("pool cleanup");
    }

    #[lifespan_task(events = &EVENTS)]
    async fn reader(events: &'static Events, pool: State<Pool>, cache: State<Cache>) {
        events.push(format!(
            "task sees {} and {} entries",
            pool.url, cache.entries
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn providers_are_set_up_first_and_cleaned_up_last_and_tasks_receive_state() {
        let app = App::from_module(module_path!());
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        EVENTS
            .wait_for_within("task sees postgres://db and 3 entries", WAIT_LIMIT)
            .await;
        assert_eq!(app.state::<Cache>().map(|cache| cache.entries), Some(3));
        let report = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
        assert!(report.is_clean(), "{report}");
        assert_eq!(report.task("reader"), Some(&TaskOutcome::Completed));
        assert_eq!(
            EVENTS.take(),
            [
                "pool setup",
                "cache setup with postgres://db",
                "task sees postgres://db and 3 entries",
                "cache cleanup, pool postgres://db still there",
                "pool cleanup",
            ]
        );
        assert!(app.state::<Pool>().is_none(), "no state once shut down");
    }
}

mod missing_provider {
    use super::*;

    static EVENTS: Events = Events::new();

    #[lifespan_context(events = &EVENTS)]
    async fn unrelated(events: &'static Events, lifespan: Yield) {
        events.push("setup");
        lifespan.ready().await;
    }

    #[lifespan_context]
    async fn needs_pool(pool: State<Pool>, lifespan: Yield) {
        let _ = &pool.url;
        lifespan.ready().await;
    }

    #[lifespan_task]
    async fn also_needs_pool(pool: State<Pool>) {
        let _ = &pool.url;
    }

    #[tokio::test(start_paused = true)]
    async fn state_that_no_context_provides_fails_startup_before_any_setup_naming_every_consumer() {
        let app = App::from_module(module_path!());
        let error = bounded("startup", WAIT_LIMIT, app.start())
            .await
            .unwrap_err();
        assert!(
            matches!(error.kind(), StartupErrorKind::MissingState { .. }),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "lifespan context `suite::state::missing_provider::needs_pool` and lifespan task \
             `suite::state::missing_provider::also_needs_pool` take `State<suite::state::Pool>`, but no \
             lifespan context provides a `suite::state::Pool`: add a context that takes a \
             `Yield<suite::state::Pool>` and calls `ready_with`"
        );
        assert_eq!(EVENTS.take(), Vec::<String>::new(), "nothing was set up");
    }
}

mod duplicate_provider {
    use super::*;

    static EVENTS: Events = Events::new();

    #[lifespan_context(events = &EVENTS)]
    async fn primary(events: &'static Events, lifespan: Yield<Pool>) {
        events.push("setup primary");
        lifespan
            .ready_with(Pool {
                url: "primary".into(),
            })
            .await;
    }

    #[lifespan_context(events = &EVENTS)]
    async fn replica(events: &'static Events, lifespan: Yield<Pool>) {
        events.push("setup replica");
        lifespan
            .ready_with(Pool {
                url: "replica".into(),
            })
            .await;
    }

    #[lifespan_context(events = &EVENTS)]
    async fn fallback(events: &'static Events, lifespan: Yield<Pool>) {
        events.push("setup fallback");
        lifespan
            .ready_with(Pool {
                url: "fallback".into(),
            })
            .await;
    }

    #[tokio::test(start_paused = true)]
    async fn several_providers_of_one_type_fail_startup_before_any_setup_naming_each() {
        let app = App::from_module(module_path!());
        let error = bounded("startup", WAIT_LIMIT, app.start())
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "`suite::state::Pool` is provided by 3 lifespan contexts, \
             `suite::state::duplicate_provider::primary`, `suite::state::duplicate_provider::replica` and \
             `suite::state::duplicate_provider::fallback`; state is found by its type, so only one \
             context may provide it"
        );
        assert_eq!(EVENTS.take(), Vec::<String>::new(), "nothing was set up");
    }
}

mod cycle {
    use super::*;

    static EVENTS: Events = Events::new();

    #[lifespan_context(events = &EVENTS)]
    async fn pool(events: &'static Events, _cache: State<Cache>, lifespan: Yield<Pool>) {
        events.push("setup pool");
        lifespan.ready_with(Pool { url: "db".into() }).await;
    }

    #[lifespan_context(events = &EVENTS)]
    async fn cache(events: &'static Events, _pool: State<Pool>, lifespan: Yield<Cache>) {
        events.push("setup cache");
        lifespan.ready_with(Cache { entries: 0 }).await;
    }

    #[tokio::test(start_paused = true)]
    async fn contexts_that_need_each_other_s_state_fail_startup_naming_every_party() {
        let app = App::from_module(module_path!());
        let error = bounded("startup", WAIT_LIMIT, app.start())
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "lifespan contexts need each other's state, so none of them can be set up first: \
             `suite::state::cycle::pool` needs `suite::state::Cache` from `suite::state::cycle::cache`; \
             `suite::state::cycle::cache` needs `suite::state::Pool` from `suite::state::cycle::pool`"
        );
        assert_eq!(EVENTS.take(), Vec::<String>::new(), "nothing was set up");
    }
}

mod reload {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    static EVENTS: Events = Events::new();
    static STARTS: AtomicU32 = AtomicU32::new(0);

    /// Which start of the app built the state.
    struct Built(u32);

    #[lifespan_context(start = STARTS.fetch_add(1, Ordering::SeqCst) + 1)]
    async fn builder(start: u32, lifespan: Yield<Built>) {
        lifespan.ready_with(Built(start)).await;
    }

    #[lifespan_task(events = &EVENTS)]
    async fn observer(events: &'static Events, built: State<Built>) {
        events.push(format!("task sees state of start {}", built.0));
    }

    #[tokio::test(start_paused = true)]
    async fn reload_rebuilds_state_and_nothing_keeps_the_old_value() {
        let app = App::from_module(module_path!());
        bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
        EVENTS
            .wait_for_within("task sees state of start 1", WAIT_LIMIT)
            .await;
        let old = app.state::<Built>().unwrap();
        let report = bounded("reload", WAIT_LIMIT, app.reload()).await.unwrap();
        assert_eq!(report.context("builder"), Some(&ContextOutcome::CleanedUp));
        EVENTS
            .wait_for_within("task sees state of start 2", WAIT_LIMIT)
            .await;
        assert_eq!(app.state::<Built>().map(|built| built.0), Some(2));
        assert_eq!(
            old.0, 1,
            "a handle taken before the reload keeps the value it had"
        );
        bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
    }
}
