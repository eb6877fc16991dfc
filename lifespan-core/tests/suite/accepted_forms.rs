//! The forms the macros accept, run through `App` to show that each argument reaches its
//! parameter, under the strictest lints a user may set: no warning comes from generated code.
#![deny(warnings, unused, clippy::all)]

use std::sync::atomic::{AtomicU32, Ordering};

use lifespan_core::{lifespan_context, lifespan_task, App, Shutdown, TaskOutcome, Yield};
use lifespan_test_support::{bounded, Events, WAIT_LIMIT};

static EVENTS: Events = Events::new();
const FACTOR: u32 = 2;
static CALLS: AtomicU32 = AtomicU32::new(0);

fn next_call() -> u32 {
    CALLS.fetch_add(1, Ordering::SeqCst) + 1
}

/// A public task with a doc comment and attributes, whose arguments are a block, a call of a
/// closure, an environment read with a fallback, a `?` on a parse, a const and a static.
#[lifespan_task(
    events = &EVENTS,
    block = { let base = 20; base + 1 },
    closure = (1..=3).map(|x| x * FACTOR).sum(),
    env = std::env::var("LIFESPAN_ACCEPTED_FORMS_UNSET").unwrap_or_else(|_| "default".into()),
    parsed = "7".parse::<u8>()?,
    constant = FACTOR,
    call = next_call(),
)]
#[allow(clippy::too_many_arguments)]
pub async fn arguments(
    events: &'static Events,
    block: u32,
    closure: u32,
    env: String,
    parsed: u8,
    constant: u32,
    call: u32,
) {
    events.push(format!(
        "{block} {closure} {env} {parsed} {constant} {call}"
    ));
}

/// A crate-visible task with a `mut` parameter, a `_`-prefixed injected one and a raw
/// identifier.
#[lifespan_task(events = &EVENTS, r#type = "raw", count = 1)]
pub(crate) async fn patterns(
    events: &'static Events,
    r#type: &'static str,
    mut count: u32,
    _shutdown: Shutdown,
) {
    count += 1;
    events.push(format!("{type} {count}", type = r#type));
}

/// Compiled only in tests that are not this one: neither it nor its registration exists here.
#[cfg(any())]
#[lifespan_task]
async fn compiled_out() {}

mod nested {
    pub(super) mod deeper {
        use lifespan_core::{lifespan_context, App, Yield};

        /// A context in a nested module, taking every injectable type.
        #[lifespan_context(events = &super::super::EVENTS)]
        async fn nested_context(
            events: &'static lifespan_test_support::Events,
            app: App,
            _shutdown: lifespan_core::Shutdown,
            lifespan: Yield,
        ) -> anyhow::Result<()> {
            events.push(format!(
                "nested setup registering allowed={}",
                app.register_task("late", || async {}).is_ok()
            ));
            lifespan.ready().await;
            events.push("nested cleanup");
            Ok(())
        }
    }
}

/// A context that returns a `std` error type.
#[lifespan_context]
async fn std_error(lifespan: Yield) -> Result<(), std::io::Error> {
    lifespan.ready().await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn every_accepted_form_compiles_cleanly_and_receives_its_arguments() {
    let app = App::from_module(module_path!());
    bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
    EVENTS
        .wait_for_within("21 12 default 7 2 1", WAIT_LIMIT)
        .await;
    EVENTS.wait_for_within("raw 2", WAIT_LIMIT).await;
    let report = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.task("arguments"), Some(&TaskOutcome::Completed));
    assert_eq!(
        report.tasks.len(),
        2,
        "the `#[cfg(any())]` task is not registered: {report}"
    );
    let events = EVENTS.take();
    assert_eq!(
        events.first().map(String::as_str),
        Some("nested setup registering allowed=false")
    );
    assert_eq!(events.last().map(String::as_str), Some("nested cleanup"));
}
