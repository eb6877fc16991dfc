//! The measurement loop of the binaries `linked_0`, `linked_1k` and `linked_10k`: hand-written
//! `CancellationToken` + `TaskTracker`, `register_task`, and `#[lifespan_task]` on an app's
//! first start (a fresh `App` per sample), interleaved in rotated order. Built with the
//! feature `metrics`, lifespan-core records its tasks' metrics into a Prometheus recorder that
//! the process installs first.

use lifespan_core::{App, Report};

#[path = "../../side_by_side/measure.rs"]
pub mod measure;

use measure::{BoxFut, Kind, RegisterTask, Tracker, Variant};

/// `#[lifespan_task]`: an app that selects the annotated functions of one module (and those
/// nested in it) with `App::builder().module(..)`, built and started for the first time.
struct Annotated {
    /// The module that holds all the binary's annotated functions, 1,000 per nested module
    /// `m0`, `m1`, ...
    root: &'static str,
    /// How many functions the binary links.
    linked: usize,
    app: Option<App>,
    report: Option<Report>,
}

impl Variant for Annotated {
    fn register(&mut self, n: usize) {
        let module = if n == self.linked {
            self.root.to_owned()
        } else if n == 1_000 {
            format!("{}::m0", self.root)
        } else {
            panic!("{n} tasks: select all {} or 1,000", self.linked)
        };
        self.app = Some(App::builder().module(module).build());
    }

    fn start(&mut self) -> BoxFut<'_, ()> {
        Box::pin(async move { self.app.as_ref().unwrap().start().await.unwrap() })
    }

    fn stop(&mut self) -> BoxFut<'_, ()> {
        Box::pin(async move {
            self.report = Some(self.app.as_ref().unwrap().shutdown().await);
        })
    }
}

/// Runs what `LIFESPAN_BENCH_RUN` says (see [`measure`]); `root` is the module path of the
/// binary's annotated functions, `linked` their number.
pub fn main(root: &'static str, linked: usize) {
    #[cfg(feature = "metrics")]
    {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        metrics::set_global_recorder(recorder).expect("the first recorder of the process");
    }
    let mut kinds = vec![
        Kind::new("tracker", Tracker::new),
        Kind::new("register_task", RegisterTask::new),
    ];
    if linked > 0 {
        kinds.push(Kind {
            key: "annotated",
            make: Box::new(move || {
                Box::new(Annotated {
                    root,
                    linked,
                    app: None,
                    report: None,
                })
            }),
        });
    }
    assert!(
        measure::child(&kinds),
        "run by benches/side_by_side.rs, with {} set",
        measure::RUN
    );
}
