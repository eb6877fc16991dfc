//! Every option of `#[lifespan(...)]`, in every accepted form and position, under the strictest
//! lints a user may set: no warning comes from the generated options. The options built are
//! compared with those of `TaskOptions`' builder.
#![deny(warnings, unused, clippy::all)]

use std::sync::Mutex;
use std::time::Duration;

use lifespan_core::{
    lifespan, lifespan_context, lifespan_task, App, LeaseSettings, Misfire, Overlap, Restart,
    Shutdown, TaskOptions, Yield,
};
use lifespan_test_support::{bounded, WAIT_LIMIT};

/// Below the task attribute, beside a keyword argument: restarts, with every restart option.
#[lifespan_task(url = String::from("http://localhost"))]
#[lifespan(
    restart = on_failure,
    backoff = "100ms..30s",
    jitter = false,
    max_restarts = 5,
    within = "1m",
    critical,
    name = "poller",
)]
async fn poll(url: String, shutdown: Shutdown) -> anyhow::Result<()> {
    let _ = url;
    shutdown.cancelled().await;
    Ok(())
}

/// Above the task attribute: `lifespan` moves itself below it.
#[lifespan(every = "5s", at_startup)]
#[lifespan_task]
async fn refresh() -> anyhow::Result<()> {
    Ok(())
}

/// A fixed delay, a decimal duration, flags set with `= true` and `= false`.
#[lifespan_task]
#[lifespan(
    every = "1.5s",
    fixed_delay = true,
    at_startup = false,
    critical = false
)]
async fn sweep() {}

/// Two `#[lifespan]` attributes, merged; a restart policy as a string; a constant backoff; a
/// compound duration.
#[lifespan_task]
#[lifespan(restart = "on_failure", backoff = "5s")]
#[lifespan(every = "1m30s", max_restarts = 3)]
async fn merged() {}

/// The full path, above and below, with another attribute in between; spaces in durations.
#[lifespan_core::lifespan(restart = always, backoff = "1 s..2 m", jitter = true)]
#[allow(clippy::unused_async)]
#[lifespan_core::lifespan_task]
#[lifespan_core::lifespan(name = "forever")]
async fn forever(shutdown: Shutdown) {
    shutdown.cancelled().await;
}

/// `restart = never`, a small unit, a raw string.
#[lifespan_task]
#[lifespan(restart = never, every = "250000us", name = r"ticks")]
async fn ticks() {}

/// Periodic, restarted on failure.
#[lifespan_task]
#[lifespan(
    every = "2h",
    restart = on_failure,
    backoff = "10ms..1s",
    max_restarts = 1
)]
async fn periodic_with_retries() -> Result<(), String> {
    Ok(())
}

/// A context's only option, below and above.
#[lifespan_context]
#[lifespan(name = "database")]
async fn database(lifespan: Yield) {
    lifespan.ready().await;
}

#[lifespan(name = "cache")]
#[lifespan_context]
async fn cache(lifespan: Yield) {
    lifespan.ready().await;
}

/// No options at all.
#[lifespan_task]
#[lifespan()]
async fn no_options() {}

/// The runtime named by path, as a crate that renames `lifespan-core` would: the options are
/// built through it too.
mod renamed {
    use lifespan_core as my_lifespan;

    #[my_lifespan::lifespan_task(crate = my_lifespan)]
    #[my_lifespan::lifespan(restart = on_failure, backoff = "1s")]
    async fn below() {}

    #[my_lifespan::lifespan(every = "1s", critical)]
    #[my_lifespan::lifespan_task(crate = my_lifespan)]
    async fn above() {}
}

/// One replica runs it, with lease settings of its own; restarted after any end, as a leader
/// loop is.
#[lifespan_task]
#[lifespan(
    singleton,
    lease = "30s",
    renew_deadline = "20s",
    retry = "5s",
    restart = always
)]
async fn leader(shutdown: Shutdown) {
    shutdown.cancelled().await;
}

/// Each point of the schedule on one replica, held for a while; above the task attribute.
#[lifespan(every = "1m", once_per_point, hold = "10s")]
#[lifespan_task]
async fn report() {}

/// The options as built, read back: `crate = path` names this runtime, which is
/// `lifespan_core`'s but for a `Registration` that keeps them, in a registry of its own.
mod keeping {
    pub mod __private {
        pub use lifespan_core::__private::*;

        pub struct Registration {
            pub name: &'static str,
            pub options: TaskOptions,
        }

        impl Registration {
            pub const fn new(
                _kind: Kind,
                name: &'static str,
                _module_path: &'static str,
                _file: &'static str,
                _line: u32,
                _prepare: PrepareFn,
            ) -> Self {
                Registration {
                    name,
                    options: TaskOptions::new(),
                }
            }

            pub const fn with_options(mut self, options: TaskOptions) -> Self {
                // The defaults replaced own nothing; a `const fn` cannot drop them.
                std::mem::forget(std::mem::replace(&mut self.options, options));
                self
            }
        }

        inventory::collect!(Registration);
    }
}

/// Tasks registered through `keeping`, their options compared below.
mod kept {
    use lifespan_core::{lifespan, lifespan_task, Shutdown};

    #[lifespan_task(crate = crate::accepted_options::keeping)]
    #[lifespan(singleton)]
    async fn singleton() {}

    #[lifespan_task(crate = crate::accepted_options::keeping)]
    #[lifespan(
        singleton = true,
        lease = "30s",
        renew_deadline = "20s",
        retry = "5s",
        restart = always,
        critical
    )]
    async fn singleton_with_lease(shutdown: Shutdown) {
        shutdown.cancelled().await;
    }

    #[lifespan_task(crate = crate::accepted_options::keeping)]
    #[lifespan(singleton, lease = "20s")]
    async fn lease_only() {}

    #[lifespan_task(crate = crate::accepted_options::keeping)]
    #[lifespan(singleton, renew_deadline = "5s")]
    async fn renew_deadline_only() {}

    #[lifespan_task(crate = crate::accepted_options::keeping)]
    #[lifespan(singleton, retry = "500ms")]
    async fn retry_only() {}

    #[lifespan(every = "1m", once_per_point, hold = "10s")]
    #[lifespan_task(crate = crate::accepted_options::keeping)]
    async fn once_per_point_with_hold() {}

    #[lifespan_task(crate = crate::accepted_options::keeping)]
    #[lifespan(
        every = "5s",
        once_per_point = true,
        restart = on_failure,
        singleton = false
    )]
    async fn once_per_point() {}

    #[lifespan_task(crate = crate::accepted_options::keeping)]
    #[lifespan(
        every = "1s",
        once_per_point,
        overlap = allow,
        misfire = all,
        misfire_grace = "1m",
        misfire_limit = 3
    )]
    async fn misfire_all() {}

    #[lifespan(misfire = "latest", overlap = forbid)]
    #[lifespan_task(crate = crate::accepted_options::keeping)]
    #[lifespan(every = "5m", once_per_point, misfire_grace = "90s")]
    async fn misfire_latest() {}

    #[lifespan_task(crate = crate::accepted_options::keeping)]
    #[lifespan(restart = on_failure, backoff = "1s..1m", name = "restarted")]
    async fn restarted() {}

    #[lifespan_task(crate = crate::accepted_options::keeping)]
    #[lifespan(every = "1m", initial_delay = "5s", timeout = "10s", run_jitter = "1s")]
    async fn timed() {}
}

/// Each set of options is the one `TaskOptions`' builder makes, which the runtime accepts.
#[test]
fn the_options_are_built_as_by_hand() {
    let prefix = concat!(module_path!(), "::kept::");
    let mut built: Vec<_> =
        lifespan_core::__private::inventory::iter::<keeping::__private::Registration>
            .into_iter()
            .map(|registration| {
                let name = registration.name.strip_prefix(prefix).unwrap();
                (name, registration.options.clone())
            })
            .collect();
    built.sort_by_key(|(name, _)| *name);
    let mut expected = options_by_hand();
    expected.sort_by_key(|(name, _)| *name);
    assert_eq!(built, expected);
    for (name, options) in built {
        assert_eq!(options.validate(), Ok(()), "{name}");
    }
}

/// The options of each function of `kept`, made with `TaskOptions`' builder.
fn options_by_hand() -> Vec<(&'static str, TaskOptions)> {
    let secs = Duration::from_secs;
    let lease =
        |lease, renew_deadline, retry| LeaseSettings::new(lease, renew_deadline, retry).unwrap();
    let default = LeaseSettings::DEFAULT;
    let mut options = vec![
        ("singleton", TaskOptions::new().singleton(true)),
        (
            "singleton_with_lease",
            TaskOptions::new()
                .singleton(true)
                .lease(lease(secs(30), secs(20), secs(5)))
                .restart(Restart::Always)
                .critical(true),
        ),
        (
            "lease_only",
            TaskOptions::new().singleton(true).lease(lease(
                secs(20),
                default.renew_deadline(),
                default.retry(),
            )),
        ),
        (
            "renew_deadline_only",
            TaskOptions::new().singleton(true).lease(lease(
                default.lease(),
                secs(5),
                default.retry(),
            )),
        ),
        (
            "retry_only",
            TaskOptions::new().singleton(true).lease(lease(
                default.lease(),
                default.renew_deadline(),
                Duration::from_millis(500),
            )),
        ),
        (
            "once_per_point_with_hold",
            TaskOptions::new()
                .every(secs(60))
                .once_per_point(true)
                .hold(secs(10)),
        ),
        (
            "once_per_point",
            TaskOptions::new()
                .every(secs(5))
                .once_per_point(true)
                .restart(Restart::OnFailure),
        ),
        (
            "restarted",
            TaskOptions::new()
                .restart(Restart::OnFailure)
                .backoff(secs(1), secs(60))
                .display_name("restarted"),
        ),
        (
            "timed",
            TaskOptions::new()
                .every(secs(60))
                .initial_delay(secs(5))
                .timeout(secs(10))
                .run_jitter(secs(1)),
        ),
    ];
    options.extend(misfire_options_by_hand());
    options
}

/// The options of the once-per-point policies, as written by hand.
fn misfire_options_by_hand() -> Vec<(&'static str, TaskOptions)> {
    let secs = Duration::from_secs;
    vec![
        (
            "misfire_all",
            TaskOptions::new()
                .every(secs(1))
                .once_per_point(true)
                .overlap(Overlap::Allow)
                .misfire(Misfire::All)
                .misfire_grace(secs(60))
                .misfire_limit(3),
        ),
        (
            "misfire_latest",
            TaskOptions::new()
                .every(secs(300))
                .once_per_point(true)
                .overlap(Overlap::Forbid)
                .misfire(Misfire::Latest)
                .misfire_grace(secs(90)),
        ),
    ]
}

/// What the runtime does with the options is for its own tests; here, that each function is still
/// registered once, under its path, whatever its display name.
#[tokio::test(start_paused = true)]
async fn every_function_with_options_is_registered_under_its_path() {
    static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let prefix = concat!(module_path!(), "::");
    let app = App::with_filter(move |registration| {
        if let Some(name) = registration.name.strip_prefix(prefix) {
            SEEN.lock().unwrap().push(name.to_owned());
        }
        false
    });
    bounded("startup", WAIT_LIMIT, app.start()).await.unwrap();
    let _ = bounded("shutdown", WAIT_LIMIT, app.shutdown()).await;
    let mut seen = SEEN.lock().unwrap().clone();
    seen.sort();
    seen.dedup();
    assert_eq!(
        seen,
        [
            "cache",
            "database",
            "forever",
            "leader",
            "merged",
            "no_options",
            "periodic_with_retries",
            "poll",
            "refresh",
            "renamed::above",
            "renamed::below",
            "report",
            "sweep",
            "ticks"
        ]
    );
}
